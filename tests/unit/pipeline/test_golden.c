/* Survivorship (hub/identity/golden.c) and the array literals the hub sends
 * batches in (hub/runtime/pg/sqlarr.c). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "golden.h"
#include "gridhub/conf.h"
#include "gridhub/sqlarr.h"

static gh_golden_src_t src(const char *dept, const char *key, int64_t at,
                           const char *grid, const char *phone) {
    gh_golden_src_t s;
    memset(&s, 0, sizeof(s));
    s.department = dept;
    s.source_key = key;
    s.updated_us = at;
    s.position = at;
    s.rec_id = at;
    s.value[GH_GOLDEN_GRID] = grid;
    s.value[GH_GOLDEN_PHONE] = phone;
    s.value[GH_GOLDEN_NAME] = dept;
    return s;
}

Test(golden, trust_order_then_recency) {
    gh_golden_t *g = gh_golden_new(NULL);
    gh_golden_src_t s[3] = {
        src("gongan", "g1", 300, "LP-DT", "13800000003"),
        src("zongzhi", "z1", 100, "LP-DT-01", "13800000001"),
        src("jisheng", "j1", 200, NULL, "13800000002"),
    };
    gh_golden_pick_t pk;
    gh_golden_choose(g, s, 3, NULL, &pk);
    cr_assert_eq(pk.src[GH_GOLDEN_GRID], 1, "综治 is trusted first for grids");
    cr_assert_eq(pk.src[GH_GOLDEN_NAME], 0, "公安 is trusted first for names");
    cr_assert_eq(pk.src[GH_GOLDEN_PHONE], 0, "phone: the most recent wins");
    cr_assert_eq(pk.src[GH_GOLDEN_ID], -1, "nobody knows the ID");
    gh_golden_destroy(g);
}

Test(golden, configured_order_and_override) {
    gh_conf_prop_t props[] = {GH_GOLDEN_CONF_PROPS, GH_CONF_END};
    gh_conf_t *conf = gh_conf_new("test", props);
    char err[256];
    cr_assert_eq(gh_conf_set(conf, NULL, "survivorship.grid_code",
                             "jisheng,gongan", err, sizeof(err)),
                 GH_OK, "%s", err);
    gh_golden_t *g = gh_golden_new(conf);
    gh_golden_src_t s[2] = {src("zongzhi", "z1", 100, "LP-DT-01", NULL),
                            src("gongan", "g1", 50, "LP-DT", NULL)};
    gh_golden_pick_t pk;
    gh_golden_choose(g, s, 2, NULL, &pk);
    cr_assert_eq(pk.src[GH_GOLDEN_GRID], 1, "listed departments come first");
    const char *ov[GH_GOLDEN_NFIELDS] = {0};
    ov[GH_GOLDEN_GRID] = "LP-DT-09";
    gh_golden_choose(g, s, 2, ov, &pk);
    cr_assert_eq(pk.src[GH_GOLDEN_GRID], -2, "a steward's choice wins");
    gh_golden_destroy(g);
    gh_conf_destroy(conf);
}

Test(golden, conflicts) {
    gh_golden_t *g = gh_golden_new(NULL);
    gh_golden_pick_t pk;
    /* 综治 (trusted, older) says LP-DT-01; 创文 (newer) says LP-TJ-03. */
    gh_golden_src_t a[2] = {src("zongzhi", "z1", 100, "LP-DT-01", NULL),
                            src("chuangwen", "c1", 200, "LP-TJ-03", NULL)};
    gh_golden_choose(g, a, 2, NULL, &pk);
    cr_assert(gh_golden_conflict(g, a, 2, &pk, GH_GOLDEN_GRID));
    /* A newer community code of the same grid is no contradiction. */
    gh_golden_src_t b[2] = {src("zongzhi", "z1", 100, "LP-DT-01", NULL),
                            src("gongan", "g1", 200, "LP-DT", NULL)};
    gh_golden_choose(g, b, 2, NULL, &pk);
    cr_assert_not(gh_golden_conflict(g, b, 2, &pk, GH_GOLDEN_GRID));
    /* LP-D is not the parent of LP-DT-01. */
    gh_golden_src_t c[2] = {src("zongzhi", "z1", 100, "LP-DT-01", NULL),
                            src("gongan", "g1", 200, "LP-D", NULL)};
    gh_golden_choose(g, c, 2, NULL, &pk);
    cr_assert(gh_golden_conflict(g, c, 2, &pk, GH_GOLDEN_GRID));
    /* An older disagreeing value is just outdated. */
    gh_golden_src_t d[2] = {src("zongzhi", "z1", 300, "LP-DT-01", NULL),
                            src("chuangwen", "c1", 200, "LP-TJ-03", NULL)};
    gh_golden_choose(g, d, 2, NULL, &pk);
    cr_assert_not(gh_golden_conflict(g, d, 2, &pk, GH_GOLDEN_GRID));
    gh_golden_destroy(g);
}

Test(sqlarr, literals) {
    gh_sqlarr_t a = {0};
    cr_assert_str_eq(gh_sqlarr_get(&a), "{}");
    gh_sqlarr_reset(&a);
    gh_sqlarr_int(&a, 1);
    gh_sqlarr_int(&a, -9223372036854775807LL - 1);
    cr_assert_str_eq(gh_sqlarr_get(&a), "{1,-9223372036854775808}");
    gh_sqlarr_reset(&a);
    gh_sqlarr_text(&a, "王\"伟\\");
    gh_sqlarr_text(&a, NULL);
    gh_sqlarr_text(&a, "");
    cr_assert_str_eq(gh_sqlarr_get(&a), "{\"王\\\"伟\\\\\",NULL,\"\"}");
    gh_sqlarr_text(&a, "x");
    cr_assert_str_eq(gh_sqlarr_get(&a), "{\"王\\\"伟\\\\\",NULL,\"\",\"x\"}",
                     "appending after get continues the literal");
    cr_assert_eq(a.n, 4);
    gh_sqlarr_free(&a);
}
