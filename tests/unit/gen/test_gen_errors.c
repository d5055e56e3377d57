/*
 * Unit tests for the generator's error model (hub/gen/errors/errors.c,
 * city/names.c): each kind of error happens at its configured rate times the
 * department's factor (100,000 draws, within five standard deviations), the
 * realized effect on typed values follows, and the name mutations do what they
 * say.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "city.h"
#include "errors.h"
#include "gen.h"
#include "gridhub/idnum.h"
#include "names.h"

#define N 100000

static void assert_rate(long hits, double p, const char *what) {
    double f = (double)hits / N, sd = sqrt(p * (1 - p) / N);
    cr_assert(fabs(f - p) <= 5 * sd + 1e-12, "%s: expected %.4f, drew %.4f",
              what, p, f);
}

Test(gen_errors, draw_rates_within_tolerance) {
    gh_gen_errors_t e;
    gh_gen_errors_defaults(&e);
    for (int d = 0; d < GH_GEN_NDEPT; d++)
        for (int k = 0; k < GH_GEN_ERR__COUNT; k++) {
            gh_gen_rng_t r;
            gh_gen_rng_init(&r, 1, GH_GEN_STREAM_TEST, (uint64_t)(d * 100 + k));
            long hits = 0;
            for (int i = 0; i < N; i++)
                hits += gh_gen_err_draw(&e, &r, d, k);
            double p = e.rate[k] * gh_gen_err_factor(d, k);
            char what[96];
            snprintf(what, sizeof(what), "%s error.%s", gh_gen_dept_name(d),
                     gh_gen_err_name(k));
            assert_rate(hits, p, what);
            cr_assert(fabs(gh_gen_err_rate(&e, d, k) - (p > 1 ? 1 : p)) <
                      1e-12);
        }
}

Test(gen_errors, rates_follow_the_configuration) {
    gh_gen_errors_t e;
    memset(&e, 0, sizeof(e));
    e.rate[GH_GEN_ERR_SPACE] = 0.25;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 2, GH_GEN_STREAM_TEST, 0);
    long hits = 0, none = 0;
    for (int i = 0; i < N; i++) {
        hits += gh_gen_err_draw(&e, &r, GH_GEN_CHUANGWEN, GH_GEN_ERR_SPACE);
        none += gh_gen_err_draw(&e, &r, GH_GEN_CHUANGWEN, GH_GEN_ERR_HOMOPHONE);
    }
    /* 创文's factor for stray spaces is 2. */
    assert_rate(hits, 0.5, "chuangwen error.space 0.25 x 2");
    cr_assert_eq(none, 0, "a zero rate must never fire");
    e.rate[GH_GEN_ERR_SPACE] = 0.9; /* x 2, clamped to 1 */
    cr_assert(fabs(gh_gen_err_rate(&e, GH_GEN_CHUANGWEN, GH_GEN_ERR_SPACE) -
                   1) < 1e-12);
}

/* Typing many residents with the defaults: the share of copies that show
 * an error matches the configured rate where the error always shows. */
Test(gen_errors, realized_rates_on_typed_values) {
    gh_gen_city_t *c = gh_gen_city_new(GH_GEN_PRESET_DEMO, 5, 1.0);
    for (uint32_t g = 0; g < c->n_grids; g++)
        gh_gen_city_grid(c, g);
    cr_assert_gt(c->n_persons, (uint32_t)N / 4);
    gh_gen_errors_t e;
    memset(&e, 0, sizeof(e));
    e.rate[GH_GEN_ERR_FULLWIDTH] = 0.02;
    e.rate[GH_GEN_ERR_MISSING_PHONE] = 0.10;
    e.rate[GH_GEN_ERR_BAD_CHECK] = 0.01;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 4, GH_GEN_STREAM_TEST, 0);
    long wide = 0, bad = 0, missing = 0, phones = 0;
    for (int i = 0; i < N; i++) {
        const gh_gen_person_t *p = &c->persons[(uint32_t)i % c->n_persons];
        gh_gen_typed_t t;
        gh_gen_type_person(&e, &r, GH_GEN_ZONGZHI, p, &t);
        wide += strstr(t.id, "\xef\xbc") != NULL; /* U+FFxx: full width */
        char out[19];
        bad += gh_idnum_normalize(t.id, out, NULL) == GH_IDNUM_BAD_CHECK;
        if (p->phone) {
            phones++;
            missing += t.phone[0] == '\0';
        }
    }
    assert_rate(wide, 0.02, "full-width ID numbers");
    assert_rate(bad, 0.01, "wrong check characters");
    double f = (double)missing / phones, p = 0.10;
    cr_assert(fabs(f - p) <= 5 * sqrt(p * (1 - p) / phones),
              "missing phones %.4f", f);
    gh_gen_city_destroy(c);
}

Test(gen_errors, traditional_and_homophones) {
    char out[64];
    cr_assert_eq(gh_gen_to_traditional("张伟", out, sizeof(out)), 2);
    cr_assert_str_eq(out, "張偉");
    gh_gen_to_traditional("王芳", out, sizeof(out));
    cr_assert_str_eq(out, "王芳", "王 and 芳 have no other traditional form");
    gh_gen_to_traditional("陈静", out, sizeof(out));
    cr_assert_str_eq(out, "陳靜");
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 1, GH_GEN_STREAM_TEST, 1);
    int saw_sur = 0, saw_given = 0;
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(gh_gen_homophone(&r, "张琳", out, sizeof(out)), 1);
        cr_assert(!strcmp(out, "章琳") || !strcmp(out, "张林"), "got %s", out);
        saw_sur |= !strcmp(out, "章琳");
        saw_given |= !strcmp(out, "张林");
    }
    cr_assert(saw_sur && saw_given, "either character may be the one mistyped");
    cr_assert_eq(gh_gen_homophone(&r, "买买提", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "买买提");
}

Test(gen_errors, names_are_well_formed_utf8) {
    for (int pool = 0; pool < GH_GEN_POOL__COUNT; pool++)
        cr_assert_gt(gh_gen_pool_size(pool), 5);
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 8, GH_GEN_STREAM_TEST, 8);
    int dots = 0;
    for (int i = 0; i < 20000; i++) {
        gh_gen_name_t n;
        char s[96];
        gh_gen_name_draw(&r, 1 + i % 2, 1930 + i % 90, -1, i % 97 == 0, &n);
        gh_gen_name_format(&n, s, sizeof(s));
        size_t len = strlen(s);
        cr_assert(len >= 6 && len <= 40, "odd name \"%s\"", s);
        dots += strstr(s, "·") != NULL;
    }
    cr_assert_gt(dots, 100, "Uyghur names carry the middle dot");
}

/* The property table and errors.c must agree on the default rates. */
Test(gen_errors, property_defaults_match) {
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++) {
        char key[64];
        snprintf(key, sizeof(key), "error.%s", gh_gen_err_name(k));
        const gh_conf_prop_t *p = gh_gen_props;
        while (p->name && strcmp(p->name, key))
            p++;
        cr_assert_not_null(p->name, "no property %s", key);
        cr_assert_str_eq(p->defval, gh_gen_err_default(k), "%s", key);
    }
}
