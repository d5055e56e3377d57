/*
 * Unit tests for the generated residents' ID numbers (hub/gen/city/city.c,
 * errors/errors.c): every true ID is a valid GB 11643 number (check character
 * recomputed here independently: ISO 7064 MOD 11-2), unique, and agrees
 * with the resident's sex and birth date; typed copies are valid unless an
 * error was injected, and each injected error is the one intended.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "city.h"
#include "errors.h"
#include "gridhub/idnum.h"

static char check_char(const char *id17) {
    static const int w[17] = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                              3, 7, 9,  10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (id17[i] - '0') * w[i];
    return "10X98765432"[sum % 11];
}

static gh_gen_city_t *demo_city(double scale) {
    gh_gen_city_t *c = gh_gen_city_new(GH_GEN_PRESET_DEMO, 7, scale);
    for (uint32_t g = 0; g < c->n_grids; g++)
        gh_gen_city_grid(c, g);
    return c;
}

static int cmp_id(const void *a, const void *b) {
    return memcmp(a, b, 18);
}

Test(gen_ids, true_ids_are_valid_unique_and_consistent) {
    gh_gen_city_t *c = demo_city(0.3);
    cr_assert_gt(c->n_persons, 5000);
    char *all = malloc((size_t)c->n_persons * 18);
    for (uint32_t i = 0; i < c->n_persons; i++) {
        const gh_gen_person_t *p = &c->persons[i];
        char id[19], out[19];
        gh_gen_person_id(p, id);
        cr_assert_eq(strlen(id), 18);
        cr_assert_eq(id[17], check_char(id),
                     "person %u: %s has a wrong check character", i, id);
        gh_idnum_info_t info;
        cr_assert_eq(gh_idnum_normalize(id, out, &info), GH_IDNUM_OK, "%s", id);
        int y, m, d;
        gh_gen_civil(p->birth, &y, &m, &d);
        cr_assert_eq(info.birth_year, y);
        cr_assert_eq(info.birth_month, m);
        cr_assert_eq(info.birth_day, d);
        cr_assert_eq((int)info.sex,
                     p->sex == 1 ? GH_IDNUM_MALE : GH_IDNUM_FEMALE,
                     "%s: sequence parity does not match the sex", id);
        memcpy(all + (size_t)i * 18, id, 18);
    }
    qsort(all, c->n_persons, 18, cmp_id);
    for (uint32_t i = 1; i < c->n_persons; i++)
        cr_assert_neq(
            memcmp(all + (size_t)(i - 1) * 18, all + (size_t)i * 18, 18), 0,
            "duplicate ID %.18s", all + (size_t)i * 18);
    free(all);
    gh_gen_city_destroy(c);
}

/* Types every resident of the demo city with one error kind forced on. */
static void type_all(gh_gen_city_t *c, int kind, double rate, int dept,
                     void (*check)(const gh_gen_person_t *, const char *typed,
                                   const char *truth, int *counts),
                     int *counts) {
    gh_gen_errors_t e;
    memset(&e, 0, sizeof(e));
    if (kind >= 0) e.rate[kind] = rate;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 3, GH_GEN_STREAM_TEST, (uint64_t)kind + 100);
    for (uint32_t i = 0; i < c->n_persons; i++) {
        char typed[96], truth[19];
        gh_gen_type_id(&e, &r, dept, &c->persons[i], typed, sizeof(typed));
        gh_gen_person_id(&c->persons[i], truth);
        check(&c->persons[i], typed, truth, counts);
    }
}

static void check_clean(const gh_gen_person_t *p, const char *typed,
                        const char *truth, int *counts) {
    (void)p;
    cr_assert_str_eq(typed, truth, "no error configured, yet typed %s", typed);
    counts[0]++;
}

static void check_legacy(const gh_gen_person_t *p, const char *typed,
                         const char *truth, int *counts) {
    int y, m, d;
    gh_gen_civil(p->birth, &y, &m, &d);
    char out[19];
    gh_idnum_status_t st = gh_idnum_normalize(typed, out, NULL);
    if (y < 2000) {
        cr_assert_eq(strlen(typed), 15, "born %d: %s is not a legacy ID", y,
                     typed);
        cr_assert_eq(st, GH_IDNUM_UPGRADED);
        cr_assert_str_eq(out, truth, "legacy %s does not upgrade to %s", typed,
                         truth);
        counts[0]++;
    } else {
        cr_assert_str_eq(typed, truth, "born %d cannot have a 15-digit ID", y);
        counts[1]++;
    }
}

static void check_bad(const gh_gen_person_t *p, const char *typed,
                      const char *truth, int *counts) {
    (void)p;
    char out[19];
    cr_assert_eq(strlen(typed), 18);
    cr_assert_eq(memcmp(typed, truth, 17), 0,
                 "only the check character may change");
    cr_assert_neq(typed[17], truth[17]);
    cr_assert_eq(gh_idnum_normalize(typed, out, NULL), GH_IDNUM_BAD_CHECK, "%s",
                 typed);
    counts[0]++;
}

static void check_cosmetic(const gh_gen_person_t *p, const char *typed,
                           const char *truth, int *counts) {
    (void)p;
    char out[19];
    cr_assert_str_neq(typed, truth, "the error was not applied");
    cr_assert_eq(gh_idnum_normalize(typed, out, NULL), GH_IDNUM_OK, "\"%s\"",
                 typed);
    cr_assert_str_eq(out, truth, "\"%s\" normalizes to %s, not %s", typed, out,
                     truth);
    counts[0]++;
}

Test(gen_ids, typed_ids_valid_unless_an_error_was_injected) {
    gh_gen_city_t *c = demo_city(0.1);
    int n[2] = {0, 0};
    type_all(c, -1, 0, GH_GEN_ZONGZHI, check_clean, n);
    cr_assert_eq(n[0], (int)c->n_persons);
    memset(n, 0, sizeof(n));
    type_all(c, GH_GEN_ERR_LEGACY_ID, 1, GH_GEN_ZONGZHI, check_legacy, n);
    cr_assert_gt(n[0], 100, "no legacy ID produced");
    cr_assert_gt(n[1], 10, "nobody born since 2000?");
    memset(n, 0, sizeof(n));
    type_all(c, GH_GEN_ERR_BAD_CHECK, 1, GH_GEN_ZONGZHI, check_bad, n);
    cr_assert_eq(n[0], (int)c->n_persons);
    memset(n, 0, sizeof(n));
    type_all(c, GH_GEN_ERR_FULLWIDTH, 1, GH_GEN_ZONGZHI, check_cosmetic, n);
    memset(n, 0, sizeof(n));
    type_all(c, GH_GEN_ERR_SPACE, 1, GH_GEN_ZONGZHI, check_cosmetic, n);
    cr_assert_eq(n[0], (int)c->n_persons);
    gh_gen_city_destroy(c);
}

/* 公安's ID columns are varchar(18): it must never get a legacy ID, a
 * space or a full-width digit, whatever the base rates. */
Test(gen_ids, gongan_ids_fit_its_columns) {
    gh_gen_city_t *c = demo_city(0.05);
    gh_gen_errors_t e;
    memset(&e, 0, sizeof(e));
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++)
        e.rate[k] = 1;
    /* A number not recorded is NULL, not a value of the column. */
    e.rate[GH_GEN_ERR_ID_MISSING] = 0;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 5, GH_GEN_STREAM_TEST, 0);
    for (uint32_t i = 0; i < c->n_persons; i++) {
        char typed[96];
        gh_gen_type_id(&e, &r, GH_GEN_GONGAN, &c->persons[i], typed,
                       sizeof(typed));
        cr_assert_eq(strlen(typed), 18, "公安 typed \"%s\"", typed);
    }
    gh_gen_city_destroy(c);
}

Test(gen_ids, mutations) {
    char out[64];
    gh_gen_id_legacy("431302197504040017", out);
    cr_assert_str_eq(out, "431302750404001");
    gh_gen_fullwidth("4313X+", out, sizeof(out));
    cr_assert_str_eq(out, "４３１３Ｘ＋");
    gh_gen_insert_space("43130219", 6, out, sizeof(out));
    cr_assert_str_eq(out, "431302 19");
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 1, GH_GEN_STREAM_TEST, 9);
    for (int i = 0; i < 200; i++) {
        char bad[19];
        gh_gen_id_bad_check(&r, "431302197504040017", bad);
        cr_assert_neq(bad[17], '7');
        cr_assert_eq(memcmp(bad, "43130219750404001", 17), 0);
    }
}
