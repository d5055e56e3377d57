/*
 * Unit tests of the birth date's near levels (issue 14): "one digit off"
 * (a substitution in YYYYMMDD, the year one off) and "placeholder on one
 * side" (YYYY-01-01, the 1st of the month), what must not get them, and
 * the pairs they must and must not link. The helpers are test_match.c's.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/match.h"
#include "gridhub/util.h"
#include "test_match_synth.h"

#define mk synth_rec

#define ID_A "11010519491231002X"

#define level_of synth_level

/* The birth level of two dates. */
static int birth_level(const char *x, const char *y) {
    gh_match_rec_t a = mk("x", "x", NULL, 0, x, NULL, NULL);
    gh_match_rec_t b = mk("x", "x", NULL, 0, y, NULL, NULL);
    int l = level_of(&a, &b, GH_MATCH_F_BIRTH);
    cr_assert_eq(level_of(&b, &a, GH_MATCH_F_BIRTH), l, "symmetric: %s %s", x,
                 y);
    return l;
}

Test(match_levels, birth_near) {
    /* One digit off: one substitution in YYYYMMDD (year, month or day). */
    cr_assert_eq(birth_level("1990-03-05", "1990-03-08"), 3, "day digit");
    cr_assert_eq(birth_level("1990-03-05", "1990-08-05"), 3, "month digit");
    cr_assert_eq(birth_level("1990-03-15", "1990-03-25"), 3, "day tens");
    cr_assert_eq(birth_level("1990-03-05", "1993-03-05"), 3, "year units");
    /* The year one off, the same month and day: also across a decade,
     * where two digits change. */
    cr_assert_eq(birth_level("1989-03-05", "1990-03-05"), 3, "year +1");
    cr_assert_eq(birth_level("1990-03-05", "1991-03-05"), 3, "year +1");
    /* Not one digit off: two substitutions, a different month and day,
     * the year one off with another day, a decade or a century apart. */
    cr_assert_eq(birth_level("1990-03-05", "1990-03-17"), 5, "two digits");
    cr_assert_eq(birth_level("1990-03-05", "1990-07-21"), 5, "month and day");
    cr_assert_eq(birth_level("1990-03-05", "1991-03-06"), 6, "year and day");
    cr_assert_eq(birth_level("1955-03-12", "1985-03-12"), 6, "a generation");
    cr_assert_eq(birth_level("1925-03-12", "2025-03-12"), 6, "a century");
    /* Placeholder on one side: 1 January of the same year, or the 1st of
     * the same month. */
    cr_assert_eq(birth_level("1990-01-01", "1990-07-21"), 4, "year kept");
    cr_assert_eq(birth_level("1990-07-01", "1990-07-25"), 4, "month kept");
    /* ...where one digit off wins: the 1st and the 4th are one typo. */
    cr_assert_eq(birth_level("1990-07-01", "1990-07-04"), 3);
    /* Not a placeholder: another year, another month, not the 1st. */
    cr_assert_eq(birth_level("1990-01-01", "1992-07-21"), 6, "other year");
    cr_assert_eq(birth_level("1990-07-01", "1990-08-21"), 5, "other month");
    cr_assert_eq(birth_level("1990-07-02", "1990-07-21"), 5, "not the 1st");
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_BIRTH, 3), "one digit off");
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_BIRTH, 4), "placeholder");
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_BIRTH, 6), "differ");
    cr_assert_eq(gh_match_field_levels(GH_MATCH_F_BIRTH), 7);
}

/* Each near birth level weighs between "equal" and "differ" (the default
 * model's priors; EM keeps the order on the demo: docs/identity.md). */
Test(match_score, birth_near_levels_weigh_between_equal_and_differ) {
    gh_match_model_t *m = synth_model();
    double w[7];
    for (int l = 1; l < 7; l++)
        w[l] = log2(gh_match_model_m(m, GH_MATCH_F_BIRTH, l) /
                    gh_match_model_u(m, GH_MATCH_F_BIRTH, l));
    for (int l = 3; l <= 4; l++) {
        cr_assert_lt(w[l], w[1], "level %d below equal", l);
        cr_assert_gt(w[l], w[6], "level %d above differ", l);
        cr_assert_gt(w[l], 0, "level %d is evidence for", l);
    }
    gh_match_model_destroy(m);
}

Test(match_score, birth_digit_with_name_linked) {
    gh_match_model_t *m = synth_model();
    /* A 计生 row without an ID number: the same name, sex and phone, the
     * birth day mistyped (1949-12-31 -> 1949-12-34 is no date: 21). */
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 2, "1949-12-31",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_rec_t b = mk("王建国", "wang jian guo", NULL, 2, "1949-12-21",
                          "13807381001", NULL);
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_BIRTH], 3);
    /* The same with a wrong check character on the ID (first 17 equal)
     * and no phone. */
    b = mk("王建国", "wang jian guo", "110105194912310021", 2, "1948-12-31",
           NULL, NULL);
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_BIRTH], 3);
    gh_match_model_destroy(m);
}

Test(match_score, near_birth_namesakes_not_linked) {
    gh_match_model_t *m = synth_model();
    /* Father and son of one name in one household, born the same day 30
     * years apart (one digit of the year): not "one digit off". */
    gh_match_rec_t a = mk("王建国", "wang jian guo", NULL, 1, "1955-03-12",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_rec_t b = mk("王建国", "wang jian guo", NULL, 1, "1985-03-12",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_explain_t ex;
    cr_assert_lt(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_BIRTH], 6);
    /* Namesakes born a year apart on the same day, with their own phones
     * and addresses. */
    a = mk("王建国", "wang jian guo", NULL, 1, "1990-03-12", "13807381001",
           "大塘小区3栋2单元501");
    b = mk("王建国", "wang jian guo", NULL, 1, "1991-03-12", "13907385555",
           "新星小区12栋1单元302");
    cr_assert_lt(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_BIRTH], 3);
    /* Namesakes with only the year in common, one of them a placeholder. */
    b = mk("王建国", "wang jian guo", NULL, 1, "1990-01-01", "13907385555",
           "新星小区12栋1单元302");
    cr_assert_lt(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_BIRTH], 4);
    gh_match_model_destroy(m);
}
