/*
 * Unit tests for the identity-matching engine (gridhub/match.h): the
 * comparators and their levels, scoring and decisions (deterministic ID
 * link, ID conflict, homophones, term frequencies), blocking keys,
 * configuration pins, EM and the batch resolution on a synthetic
 * population (test_match_synth.c). Clustering: test_match_cluster.c;
 * near levels: test_match_birth.c, test_match_near.c.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/conf.h"
#include "gridhub/idnum.h"
#include "gridhub/match.h"
#include "gridhub/util.h"
#include "test_match_synth.h"

#define mk synth_rec

/* 11010519491231002X and the others are hand-checked in test_idnum.c. */
#define ID_A "11010519491231002X"
#define ID_A15 "110105491231002"
#define ID_B "110101199003074477"

/* ---- Jaro-Winkler -------------------------------------------------------- */

Test(match_jw, classic_vectors) {
    /* Winkler's examples (p = 0.1, prefix up to 4). */
    cr_assert_float_eq(gh_match_jaro_winkler("MARTHA", "MARHTA"), 0.9611, 1e-4);
    cr_assert_float_eq(gh_match_jaro_winkler("DWAYNE", "DUANE"), 0.84, 1e-4);
    cr_assert_float_eq(gh_match_jaro_winkler("DIXON", "DICKSONX"), 0.8133,
                       1e-4);
    cr_assert_float_eq(gh_match_jaro_winkler("abc", "abc"), 1.0, 1e-12);
    cr_assert_float_eq(gh_match_jaro_winkler("", ""), 1.0, 1e-12);
    cr_assert_float_eq(gh_match_jaro_winkler("abc", ""), 0.0, 1e-12);
    cr_assert_float_eq(gh_match_jaro_winkler("abc", "xyz"), 0.0, 1e-12);
    cr_assert_float_eq(gh_match_jaro_winkler(NULL, "abc"), 0.0, 1e-12);
}

Test(match_jw, counts_code_points_not_bytes) {
    /* 张三丰 / 张三风: 2 of 3 characters match, no transposition, common
     * prefix 2: jaro = (2/3 + 2/3 + 1) / 3 = 7/9, jw = 7/9 + 0.2 * 2/9. */
    cr_assert_float_eq(gh_match_jaro_winkler("张三丰", "张三风"),
                       7.0 / 9 + 0.2 * 2.0 / 9, 1e-9);
    /* Invalid UTF-8 is compared byte by byte, never read past the NUL. */
    cr_assert_float_eq(gh_match_jaro_winkler("\xe5\xbc", "\xe5\xbc"), 1.0,
                       1e-12);
    cr_assert(gh_match_jaro_winkler("\xff\xfe", "ab") < 0.5);
}

/* ---- levels ---------------------------------------------------------------
 */

#define level_of synth_level

Test(match_levels, every_field) {
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 1, "1949-12-31",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_rec_t b = a;
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 1);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 1);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_BIRTH), 1);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_SEX), 1);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_PHONE), 1);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ADDRESS), 1);

    /* ID: legacy upgraded = equal; wrong check = first 17; other = differ;
     * missing = 0. */
    b = mk("王建国", "wang jian guo", ID_A15, 1, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 1);
    b = mk("王建国", "wang jian guo", "110105194912310021", 1, NULL, NULL,
           NULL);
    cr_assert_eq(b.id_status, GH_IDNUM_BAD_CHECK);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 2);
    b = mk("王建国", "wang jian guo", ID_B, 1, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 5);
    b = mk("王建国", "wang jian guo", NULL, 1, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 0);

    /* Name: homophone; one character; two-character names never "one
     * character differs"; missing. */
    b = mk("王建帼", "wang jian guo", NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 2);
    b = mk("王建华", "wang jian hua", NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 4);
    b = mk("王建", "wang jian", NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 4, "a deletion");
    gh_match_rec_t c = mk("张伟", "zhang wei", NULL, 0, NULL, NULL, NULL);
    b = mk("张军", "zhang jun", NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&c, &b, GH_MATCH_F_NAME), 5);
    b = mk("李秀兰", "li xiu lan", NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 5);
    b = mk(NULL, NULL, NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 0);

    /* Birth: swapped day/month, same year, differ (the near levels:
     * test_match_birth.c). */
    gh_match_rec_t d = mk("x", "x", NULL, 0, "1990-03-05", NULL, NULL);
    b = mk("x", "x", NULL, 0, "1990-05-03", NULL, NULL);
    cr_assert_eq(level_of(&d, &b, GH_MATCH_F_BIRTH), 2);
    b = mk("x", "x", NULL, 0, "1990-05-04", NULL, NULL);
    cr_assert_eq(level_of(&d, &b, GH_MATCH_F_BIRTH), 5);
    b = mk("x", "x", NULL, 0, "1985-07-20", NULL, NULL);
    cr_assert_eq(level_of(&d, &b, GH_MATCH_F_BIRTH), 6);

    /* Sex and phone (one digit off: match_levels.phone_one_digit). */
    b = mk("x", "x", NULL, 2, NULL, "13907381662", NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_SEX), 2);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_PHONE), 3);
    b = mk("x", "x", NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_SEX), 0);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_PHONE), 0);

    /* Address: similar text; unrelated. */
    b = mk("x", "x", NULL, 0, NULL, NULL, "大塘小区3栋2单元502");
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ADDRESS), 3);
    b = mk("x", "x", NULL, 0, NULL, NULL, "长沙市岳麓区麓山南路1号");
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ADDRESS), 4);
}

Test(match_levels, names) {
    cr_assert_str_eq(gh_match_field_name(GH_MATCH_F_BIRTH), "birth");
    cr_assert_eq(gh_match_field_levels(GH_MATCH_F_NAME), 6);
    cr_assert_eq(gh_match_field_levels(GH_MATCH_F_SEX), 3);
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_NAME, 2), "same pinyin");
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_NAME, 3), "fuzzy pinyin");
    cr_assert_eq(gh_match_field_levels(GH_MATCH_F_ID), 6);
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_ID, 3), "one digit off");
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_ID, 4),
                     "another area code");
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_ID, 5), "differ");
    cr_assert_eq(gh_match_field_levels(GH_MATCH_F_PHONE), 4);
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_PHONE, 2), "one digit off");
    cr_assert_str_eq(gh_match_decision_name(GH_MATCH_TWO_IDS), "two-ids");
    cr_assert_str_eq(gh_match_level_name(GH_MATCH_F_SEX, 5), "?");
    cr_assert_str_eq(gh_match_decision_name(GH_MATCH_ID_CONFLICT),
                     "id-conflict");
    cr_assert_str_eq(gh_match_decision_name(GH_MATCH_LINK_ID), "link-id");
}

/* ID_A with one sequence digit mistyped (the 15th, 0 -> 5), with two
 * neighbours swapped (the 16th and 17th, 02 -> 20), and with two digits
 * mistyped: all three fail the check. */
#define ID_A_DIGIT "11010519491231502X"
#define ID_A_SWAP "11010519491231020X"
#define ID_A_TWO "11010519491231532X"

/* ID_A's twin: the same first 14 digits, the next sequence number of the
 * same sex (002 -> 004), its own check character: valid. */
static void twin_id(char out[19]) {
    memcpy(out, ID_A, 17);
    out[16] = '4';
    out[17] = gh_idnum_check_char(out);
    out[18] = '\0';
}

Test(match_levels, id_one_digit_off) {
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 2, NULL, NULL, NULL);
    gh_match_rec_t b =
        mk("王建国", "wang jian guo", ID_A_DIGIT, 2, NULL, NULL, NULL);
    cr_assert_eq(b.id_status, GH_IDNUM_BAD_CHECK);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 3, "one substitution");
    cr_assert_eq(level_of(&b, &a, GH_MATCH_F_ID), 3, "symmetric");
    b = mk("王建国", "wang jian guo", ID_A_SWAP, 2, NULL, NULL, NULL);
    cr_assert_eq(b.id_status, GH_IDNUM_BAD_CHECK);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 3, "neighbours swapped");
    /* Both failing the check, one edit apart. */
    gh_match_rec_t c =
        mk("王建国", "wang jian guo", ID_A_DIGIT, 2, NULL, NULL, NULL);
    b = mk("王建国", "wang jian guo", ID_A_TWO, 2, NULL, NULL, NULL);
    cr_assert_eq(b.id_status, GH_IDNUM_BAD_CHECK);
    cr_assert_eq(level_of(&c, &b, GH_MATCH_F_ID), 3);
    /* Two substitutions are no typo of one number. */
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 5, "two substitutions");
    /* A wrong check character alone stays "first 17 equal". */
    b = mk("王建国", "wang jian guo", "110105194912310021", 2, NULL, NULL,
           NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 2);
    /* Two valid numbers one digit apart in the body are two numbers. */
    char tw[19];
    twin_id(tw);
    b = mk("王建国", "wang jian guo", tw, 2, NULL, NULL, NULL);
    cr_assert_eq(b.id_status, GH_IDNUM_OK);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 5, "both valid");
}

/* ---- decisions ------------------------------------------------------------
 */

Test(match_score, deterministic_link_on_valid_agreeing_id) {
    gh_match_model_t *m = synth_model();
    /* Nothing but the ID in common, and a name a character apart. */
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 0, NULL, NULL,
                          "大塘小区3栋2单元501");
    gh_match_rec_t b =
        mk("王建华", "wang jian hua", ID_A15, 0, NULL, "13807381001", NULL);
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK_ID);
    cr_assert_eq(ex.level[GH_MATCH_F_ID], 1);
    /* A wrong check character is no deterministic link. */
    b = mk("王建国", "wang jian guo", "110105194912310021", 0, NULL, NULL,
           NULL);
    cr_assert_neq(gh_match_score(m, &a, &b, NULL), GH_MATCH_LINK_ID);
    gh_match_model_destroy(m);
}

Test(match_score, id_conflict_when_everything_else_differs) {
    gh_match_model_t *m = synth_model();
    gh_match_rec_t a =
        mk("王建国", "wang jian guo", ID_A, 1, "1949-12-31", NULL, NULL);
    gh_match_rec_t b =
        mk("李秀兰", "li xiu lan", ID_A, 2, "1975-06-01", NULL, NULL);
    cr_assert_eq(gh_match_score(m, &a, &b, NULL), GH_MATCH_ID_CONFLICT);
    /* A typo in the birth date alone is no conflict. */
    b = mk("王建国", "wang jian guo", ID_A, 1, "1975-06-01", NULL, NULL);
    cr_assert_eq(gh_match_score(m, &a, &b, NULL), GH_MATCH_LINK_ID);
    gh_match_model_destroy(m);
}

Test(match_score, homophone_pair_linked) {
    gh_match_model_t *m = synth_model();
    gh_match_rec_t a = mk("王建国", "wang jian guo", NULL, 1, "1962-04-18",
                          NULL, "大塘小区3栋2单元501");
    gh_match_rec_t b = mk("王建帼", "wang jian guo", NULL, 1, "1962-04-18",
                          NULL, "大塘小区3栋2单元501");
    gh_match_explain_t ex;
    gh_match_decision_t d = gh_match_score(m, &a, &b, &ex);
    cr_assert_eq(d, GH_MATCH_LINK, "total %.2f", ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_NAME], 2);
    cr_assert(ex.weight[GH_MATCH_F_NAME] > 0);
    double sum = ex.prior;
    for (int f = 0; f < GH_MATCH_F__COUNT; f++)
        sum += ex.weight[f];
    cr_assert_float_eq(sum, ex.total, 1e-9, "the waterfall adds up");
    cr_assert(ex.probability > 0.99);
    gh_match_model_destroy(m);
}

Test(match_score, twins_not_linked_without_id) {
    gh_match_model_t *m = synth_model();
    /* Same surname, birth, sex, phone and flat; names a character apart. */
    gh_match_rec_t a = mk("刘子浩", "liu zi hao", NULL, 1, "2012-07-01",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_rec_t b = mk("刘子涵", "liu zi han", NULL, 1, "2012-07-01",
                          "13807381001", "大塘小区3栋2单元501");
    cr_assert_lt(gh_match_score(m, &a, &b, NULL), GH_MATCH_LINK);
    gh_match_model_destroy(m);
}

Test(match_score, id_typo_with_name_and_birth_linked) {
    gh_match_model_t *m = synth_model();
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 2, "1949-12-31",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_rec_t b =
        mk("王建国", "wang jian guo", ID_A_DIGIT, 2, "1949-12-31", NULL, NULL);
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_ID], 3);
    cr_assert_gt(ex.weight[GH_MATCH_F_ID], 0);
    cr_assert_lt(ex.weight[GH_MATCH_F_ID],
                 log2(gh_match_model_m(m, GH_MATCH_F_ID, 1) /
                      gh_match_model_u(m, GH_MATCH_F_ID, 1)),
                 "below ID equality");
    cr_assert_str_eq(
        gh_match_level_name(GH_MATCH_F_ID, ex.level[GH_MATCH_F_ID]),
        "one digit off");
    b = mk("王建国", "wang jian guo", ID_A_SWAP, 2, "1949-12-31", NULL, NULL);
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_ID], 3);
    gh_match_model_destroy(m);
}

Test(match_score, twins_with_valid_ids_one_digit_apart_not_linked) {
    gh_match_model_t *m = synth_model();
    /* Everything agrees, the name too (the worst case); the numbers are
     * both valid and one sequence digit apart: two people. */
    char tw[19];
    twin_id(tw);
    gh_match_rec_t a = mk("刘子涵", "liu zi han", ID_A, 2, "1949-12-31",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_rec_t b = mk("刘子涵", "liu zi han", tw, 2, "1949-12-31",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_TWO_IDS, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_ID], 5);
    /* Twins' names differ: with one number mistyped (one digit off the
     * other twin's), the twin rule still holds the pair back. */
    b = mk("刘子浩", "liu zi hao", ID_A_DIGIT, 2, "1949-12-31", "13807381001",
           "大塘小区3栋2单元501");
    cr_assert_lt(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_ID], 3);
    gh_match_model_destroy(m);
}

Test(match_score, common_name_weighs_less_than_rare_name) {
    gh_match_model_t *m = synth_model();
    char name[32];
    for (int i = 0; i < 1000; i++) {
        gh_match_rec_t r = mk("王伟", "wang wei", NULL, 0, NULL, NULL, NULL);
        gh_match_model_tf_add(m, &r, +1);
    }
    for (int i = 0; i < 99000; i++) {
        snprintf(name, sizeof(name), "测%d", i);
        gh_match_rec_t r = mk(name, name, NULL, 0, NULL, NULL, NULL);
        gh_match_model_tf_add(m, &r, +1);
    }
    gh_match_rec_t r =
        mk("欧阳子涵", "ou yang zi han", NULL, 0, NULL, NULL, NULL);
    gh_match_model_tf_add(m, &r, +1);
    gh_match_model_tf_add(m, &r, +1);

    gh_match_explain_t common, rare;
    gh_match_rec_t a = mk("王伟", "wang wei", NULL, 1, "1985-03-12", NULL,
                          "大塘小区3栋2单元501");
    gh_match_rec_t b = mk("王伟", "wang wei", NULL, 1, "1991-08-30", NULL,
                          "童家新村12栋1单元302");
    cr_assert_eq(gh_match_score(m, &a, &b, &common), GH_MATCH_NONE);
    gh_match_rec_t c = mk("欧阳子涵", "ou yang zi han", NULL, 1, "1985-03-12",
                          NULL, "大塘小区3栋2单元501");
    gh_match_rec_t d = mk("欧阳子涵", "ou yang zi han", NULL, 1, "1991-08-30",
                          NULL, "童家新村12栋1单元302");
    gh_match_score(m, &c, &d, &rare);
    cr_assert_gt(rare.weight[GH_MATCH_F_NAME],
                 common.weight[GH_MATCH_F_NAME] + 5);
    cr_assert_gt(rare.total, common.total + 5);

    /* Uncounting restores the balance. */
    for (int i = 0; i < 1000; i++) {
        gh_match_rec_t x = mk("王伟", "wang wei", NULL, 0, NULL, NULL, NULL);
        gh_match_model_tf_add(m, &x, -1);
    }
    gh_match_explain_t after;
    gh_match_score(m, &a, &b, &after);
    cr_assert_gt(after.weight[GH_MATCH_F_NAME],
                 common.weight[GH_MATCH_F_NAME] + 5);
    gh_match_model_destroy(m);
}

/* ---- blocking -------------------------------------------------------------
 */

static int share_key(const gh_match_rec_t *a, const gh_match_rec_t *b) {
    uint64_t ka[16], kb[16];
    size_t na = gh_match_block_keys(a, ka, 16),
           nb = gh_match_block_keys(b, kb, 16);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (ka[i] == kb[j]) return 1;
    return 0;
}

Test(match_block, swapped_birth_shares_a_key) {
    /* Homophones (different characters: no name+year key) with day and
     * month swapped: only pinyin+sorted birth pairs them. */
    gh_match_rec_t a =
        mk("张伟", "zhang wei", NULL, 0, "1990-03-05", NULL, NULL);
    gh_match_rec_t b =
        mk("张威", "zhang wei", NULL, 0, "1990-05-03", NULL, NULL);
    cr_assert(share_key(&a, &b));
    b = mk("张威", "zhang wei", NULL, 0, "1990-05-04", NULL, NULL);
    cr_assert(!share_key(&a, &b));
}

Test(match_block, keys_per_field) {
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 1, "1949-12-31",
                          "13807381001", "大塘小区3栋2单元501");
    uint64_t k[16];
    cr_assert_eq(gh_match_block_keys(&a, k, 16), 7);
    cr_assert_eq(gh_match_block_keys(&a, k, 2), 2);
    for (int i = 0; i < 7; i++)
        cr_assert_neq(k[i], 0);
    /* A wrong check character keeps the ID key; a phone alone pairs. */
    gh_match_rec_t b =
        mk(NULL, NULL, "110105194912310021", 0, NULL, NULL, NULL);
    cr_assert(share_key(&a, &b));
    b = mk(NULL, NULL, NULL, 0, NULL, "13807381001", NULL);
    cr_assert(share_key(&a, &b));
    b = mk(NULL, NULL, NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(gh_match_block_keys(&b, k, 16), 0);
}

Test(match_block, one_key_by_kind) {
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 1, "1949-12-31",
                          "13807381001", "大塘小区3栋2单元501");
    uint64_t k[16];
    cr_assert_eq(gh_match_block_keys(&a, k, 16), 7);
    /* In the order the matcher lists them. */
    static const char *const kinds[] = {
        "id17",  "pinyin+birth", "surname+birth+sex", "name+year",
        "phone", "name+address", "pinyin+month+day"};
    for (int i = 0; i < 7; i++)
        cr_assert_eq(gh_match_block_key(&a, kinds[i]), k[i], "%s", kinds[i]);
    cr_assert_eq(gh_match_block_key(&a, "birth"), 0, "no such kind");
    /* A search by name and birth date alone keys as the record does: a
     * homophone with day and month swapped too. */
    gh_match_rec_t q =
        mk("汪建国", "wang jian guo", NULL, 0, "1949-12-31", NULL, NULL);
    cr_assert_eq(gh_match_block_key(&q, "pinyin+birth"), k[1]);
    cr_assert_eq(gh_match_block_key(&q, "phone"), 0);
}

/* ---- sets ------------------------------------------------------------------
 */

Test(match_set, raw_fields_and_id_fill_in) {
    gh_match_set_t *s = gh_match_set_new();
    gh_match_raw_t raw = {"zongzhi", "R1", "王建国", ID_A15, NULL,
                          NULL,      NULL, NULL,     "H1"};
    size_t i = gh_match_set_add_raw(s, &raw);
    const gh_match_rec_t *r = gh_match_set_get(s, i);
    cr_assert_str_eq(r->id_number, ID_A);
    cr_assert_eq(r->id_status, GH_IDNUM_UPGRADED);
    int64_t d;
    gh_date_parse_iso("1949-12-31", &d, NULL);
    cr_assert_eq(r->birth, (int32_t)d, "birth date from the ID");
    cr_assert_eq(r->sex, 2, "sex from the ID (17th digit 2)");
    cr_assert_str_eq(r->household_key, "H1");
    cr_assert_null(r->phone);

    /* The record's own values win over the ID's. */
    gh_match_raw_t raw2 = {"gongan",   "R2", "王建国",   ID_A, "男",
                           "19500101", "",   "大塘小区", NULL};
    r = gh_match_set_get(s, gh_match_set_add_raw(s, &raw2));
    cr_assert_eq(r->sex, 1);
    gh_date_parse_iso("1950-01-01", &d, NULL);
    cr_assert_eq(r->birth, (int32_t)d);
    cr_assert_null(r->phone, "empty means absent");
    cr_assert_null(r->household_key);
    /* Interned: one copy of a repeated value. */
    cr_assert_eq(gh_match_set_get(s, 0)->name, gh_match_set_get(s, 1)->name);

    gh_match_raw_t raw3 = {"chuangwen", "R3", NULL, "123", "Ｆ",
                           "00000000",  NULL, NULL, NULL};
    r = gh_match_set_get(s, gh_match_set_add_raw(s, &raw3));
    cr_assert_eq(r->sex, 2);
    cr_assert_eq(r->birth, GH_MATCH_NO_DATE);
    cr_assert_str_eq(r->id_number, "");
    cr_assert_eq(r->id_status, GH_IDNUM_BAD_LENGTH);
    cr_assert_eq(gh_match_set_count(s), 3);

    /* Copying normalized records in, e.g. from the hub's database. */
    gh_match_rec_t copy = *gh_match_set_get(s, 0);
    size_t j = gh_match_set_add(s, gh_match_set_get(s, 0));
    cr_assert_eq(gh_match_set_get(s, j)->name, gh_match_set_get(s, 0)->name);
    cr_assert_str_eq(gh_match_set_get(s, j)->id_number, copy.id_number);
    gh_match_set_clear(s);
    cr_assert_eq(gh_match_set_count(s), 0);
    gh_match_set_add_raw(s, &raw);
    cr_assert_eq(gh_match_set_count(s), 1);
    cr_assert_str_eq(gh_match_set_get(s, 0)->source_key, "R1");
    gh_match_set_destroy(s);
    gh_match_set_destroy(NULL);
}

Test(match_set, sex_and_date_spellings) {
    gh_match_set_t *s = gh_match_set_new();
    const char *sexes[][2] = {
        {"1", "1"},    {"2", "2"},  {"M", "1"},      {"f", "2"}, {"男", "1"},
        {"女性", "2"}, {"Ｍ", "1"}, {"female", "2"}, {"9", "0"}, {"", "0"}};
    for (size_t i = 0; i < sizeof(sexes) / sizeof(sexes[0]); i++) {
        gh_match_raw_t raw = {"d",  "k",  NULL, NULL, sexes[i][0],
                              NULL, NULL, NULL, NULL};
        const gh_match_rec_t *r =
            gh_match_set_get(s, gh_match_set_add_raw(s, &raw));
        cr_assert_eq(r->sex, sexes[i][1][0] - '0', "sex \"%s\"", sexes[i][0]);
    }
    const char *dates[] = {"1990-03-05", "19900305", "1990/03/05",
                           " 1990-03-05 "};
    int64_t want;
    gh_date_parse_iso("1990-03-05", &want, NULL);
    for (size_t i = 0; i < 4; i++) {
        gh_match_raw_t raw = {"d",      "k",  NULL, NULL, NULL,
                              dates[i], NULL, NULL, NULL};
        cr_assert_eq(gh_match_set_get(s, gh_match_set_add_raw(s, &raw))->birth,
                     (int32_t)want, "date \"%s\"", dates[i]);
    }
    /* 1900-01-01 is the forms' "unknown" (docs/identity.md). */
    const char *bad[] = {"1990-02-30", "1990-3-5",   "yesterday",
                         "0000-01-01", "1900-01-01", "19000101"};
    for (size_t i = 0; i < 6; i++) {
        gh_match_raw_t raw = {"d",    "k",  NULL, NULL, NULL,
                              bad[i], NULL, NULL, NULL};
        cr_assert_eq(gh_match_set_get(s, gh_match_set_add_raw(s, &raw))->birth,
                     GH_MATCH_NO_DATE, "date \"%s\"", bad[i]);
    }
    gh_match_set_destroy(s);
}

/* ---- configuration and pins ---------------------------------------------- */

static const gh_conf_prop_t PROPS[] = {GH_MATCH_CONF_PROPS, GH_CONF_END};

static void set(gh_conf_t *c, const char *k, const char *v) {
    char err[512];
    cr_assert_eq(gh_conf_set(c, "test", k, v, err, sizeof(err)), GH_OK, "%s",
                 err);
}

Test(match_conf, pins_validated_and_applied) {
    char err[512];
    gh_conf_t *c = gh_conf_new("test", PROPS);
    cr_assert_neq(
        gh_conf_set(c, NULL, "match.pin.m.nosuch.1", "0.5", err, sizeof(err)),
        GH_OK);
    cr_assert_neq(
        gh_conf_set(c, NULL, "match.pin.m.sex.3", "0.5", err, sizeof(err)),
        GH_OK, "sex has levels 1 and 2 only");
    cr_assert_neq(
        gh_conf_set(c, NULL, "match.pin.u.name.1", "1.5", err, sizeof(err)),
        GH_OK);
    cr_assert(strstr(err, "probability"), "%s", err);
    cr_assert_neq(
        gh_conf_set(c, NULL, "match.link.threshold", "high", err, sizeof(err)),
        GH_OK);
    set(c, "match.pin.m.name.1", "0.5");
    set(c, "match.pin.u.phone.1", "0.001");
    set(c, "match.pin.lambda", "0.001");
    set(c, "match.link.threshold", "12.5");
    gh_match_model_t *m = gh_match_model_new(c, err, sizeof(err));
    cr_assert_not_null(m, "%s", err);
    cr_assert_float_eq(gh_match_model_m(m, GH_MATCH_F_NAME, 1), 0.5, 1e-12);
    double sum = 0;
    for (int l = 1; l < 6; l++)
        sum += gh_match_model_m(m, GH_MATCH_F_NAME, l);
    cr_assert_float_eq(sum, 1.0, 1e-9, "the other levels share the rest");
    cr_assert_float_eq(gh_match_model_u(m, GH_MATCH_F_PHONE, 1), 0.001, 1e-12);
    cr_assert_float_eq(gh_match_model_lambda(m), 0.001, 1e-12);

    /* EM leaves pinned values alone. */
    synth_t s;
    synth_build(&s, 400, 3);
    cr_assert_eq(gh_match_model_train(m, s.set, NULL, err, sizeof(err)), GH_OK,
                 "%s", err);
    cr_assert_float_eq(gh_match_model_m(m, GH_MATCH_F_NAME, 1), 0.5, 1e-12);
    cr_assert_float_eq(gh_match_model_u(m, GH_MATCH_F_PHONE, 1), 0.001, 1e-12);
    cr_assert_float_eq(gh_match_model_lambda(m), 0.001, 1e-12);
    synth_free(&s);
    gh_match_model_destroy(m);

    set(c, "match.review.threshold", "20");
    cr_assert_null(gh_match_model_new(c, err, sizeof(err)));
    cr_assert(strstr(err, "match.review.threshold"), "%s", err);
    gh_conf_destroy(c);
}

Test(match_conf, written_model_loads_back_as_pins) {
    char err[512];
    gh_match_model_t *m = synth_model();
    synth_t s;
    synth_build(&s, 400, 4);
    cr_assert_eq(gh_match_model_train(m, s.set, NULL, err, sizeof(err)), GH_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gh_match_model_write(m, f);
    fclose(f);
    gh_conf_t *c = gh_conf_new("test", PROPS);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *eq = strchr(line, '=');
        cr_assert_not_null(eq, "%s", line);
        *eq = '\0';
        set(c, line, eq + 1);
    }
    free(text);
    gh_match_model_t *m2 = gh_match_model_new(c, err, sizeof(err));
    cr_assert_not_null(m2, "%s", err);
    for (int fld = 0; fld < GH_MATCH_F__COUNT; fld++)
        for (int l = 1; l < gh_match_field_levels(fld); l++) {
            double a = gh_match_model_m(m, fld, l),
                   b = gh_match_model_m(m2, fld, l);
            cr_assert(fabs(a - b) <= 1e-15 * a, "m %d %d", fld, l);
            a = gh_match_model_u(m, fld, l);
            b = gh_match_model_u(m2, fld, l);
            cr_assert(fabs(a - b) <= 1e-15 * a, "u %d %d", fld, l);
        }
    cr_assert_float_eq(gh_match_model_lambda(m2), gh_match_model_lambda(m),
                       1e-12, "%.12g %.12g", gh_match_model_lambda(m2),
                       gh_match_model_lambda(m));
    gh_match_model_destroy(m2);
    gh_match_model_destroy(m);
    gh_conf_destroy(c);
    synth_free(&s);
}

/* ---- training and batch ----------------------------------------------------
 */

Test(match_em, converges_and_recovers_id_agreement) {
    char err[512];
    synth_t s;
    synth_build(&s, 1500, 1);
    cr_assert_gt(s.n, 3000);
    gh_match_model_t *m = synth_model();
    cr_assert_eq(gh_match_model_train(m, s.set, NULL, err, sizeof(err)), GH_OK,
                 "%s", err);
    int converged = 0;
    int it = gh_match_model_iterations(m, &converged);
    cr_assert(converged, "EM ran %d iterations", it);
    cr_assert_lt(it, 100);
    cr_assert_gt(gh_match_model_m(m, GH_MATCH_F_ID, 1), 0.9);
    cr_assert_gt(gh_match_model_m(m, GH_MATCH_F_NAME, 1), 0.9);
    cr_assert_lt(gh_match_model_u(m, GH_MATCH_F_BIRTH, 1), 1e-3);
    /* About 2900 matching pairs among 6.6 million. */
    double lambda = gh_match_model_lambda(m);
    cr_assert(lambda > 1e-4 && lambda < 1e-3, "lambda %g", lambda);
    cr_log_info("EM: %d iterations, lambda %g, m(id equal) %.4f", it, lambda,
                gh_match_model_m(m, GH_MATCH_F_ID, 1));

    gh_match_set_t *few = gh_match_set_new();
    for (int i = 0; i < 50; i++)
        gh_match_set_add(few, gh_match_set_get(s.set, (size_t)i));
    cr_assert_eq(gh_match_model_train(m, few, NULL, err, sizeof(err)),
                 GH_ERR_INVALID_ARG);
    gh_match_set_destroy(few);
    gh_match_model_destroy(m);
    synth_free(&s);
}

Test(match_batch, resolves_synthetic_population) {
    char err[512];
    synth_t s;
    synth_build(&s, 3000, 2);
    gh_match_model_t *m = synth_model();
    for (size_t i = 0; i < s.n; i++)
        gh_match_model_tf_add(m, gh_match_set_get(s.set, i), +1);
    cr_assert_eq(gh_match_model_train(m, s.set, NULL, err, sizeof(err)), GH_OK,
                 "%s", err);
    uint32_t *c = malloc(s.n * sizeof(*c));
    gh_match_batch_stats_t st;
    cr_assert_eq(gh_match_resolve(m, s.set, c, &st, err, sizeof(err)), GH_OK);
    cr_assert_eq(st.records, s.n);
    cr_assert_gt(st.links_id, 0);
    cr_assert_gt(st.links, 0);
    gh_match_eval_t ev;
    gh_match_evaluate(s.n, c, s.truth, s.kinds, &ev);
    cr_log_info("synthetic: %zu records, %zu persons -> %zu clusters; "
                "precision %.5f recall %.5f; %zu pairs scored",
                s.n, s.persons, st.clusters, ev.precision, ev.recall,
                st.candidate_pairs);
    for (int k = 0; k < SYNTH_E__COUNT; k++)
        cr_log_info("  kind %d: %zu records, recall %.4f, %.0f false pairs", k,
                    ev.kind[k].records,
                    ev.kind[k].true_pairs
                        ? ev.kind[k].found_pairs / ev.kind[k].true_pairs
                        : 1,
                    ev.kind[k].false_pairs);
    cr_assert_geq(ev.precision, 0.999);
    cr_assert_geq(ev.recall, 0.99);
    cr_assert_eq(ev.true_clusters, s.persons);
    cr_assert_eq(st.clusters, ev.predicted_clusters);
    free(c);
    gh_match_model_destroy(m);
    synth_free(&s);
}

Test(match_batch, oversize_blocks_skipped_and_counted) {
    char err[512];
    gh_conf_t *c = gh_conf_new("test", PROPS);
    set(c, "match.block.max.size", "3");
    gh_match_model_t *m = gh_match_model_new(c, err, sizeof(err));
    gh_match_set_t *s = gh_match_set_new();
    /* Five records sharing one phone and nothing else: one block of 5. */
    for (int i = 0; i < 5; i++) {
        char key[8], name[16];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(name, sizeof(name), "名%d", i);
        gh_match_raw_t raw = {"d",  key,           name, NULL, NULL,
                              NULL, "13807381001", NULL, NULL};
        gh_match_set_add_raw(s, &raw);
    }
    uint32_t cl[5];
    gh_match_batch_stats_t st;
    cr_assert_eq(gh_match_resolve(m, s, cl, &st, err, sizeof(err)), GH_OK);
    cr_assert_eq(st.oversize_blocks, 1);
    cr_assert_eq(st.candidate_pairs, 0);
    cr_assert_eq(st.clusters, 5);
    gh_match_set_destroy(s);
    gh_match_model_destroy(m);
    gh_conf_destroy(c);
}

Test(match_batch, empty_and_tiny_sets) {
    char err[256];
    gh_match_model_t *m = synth_model();
    gh_match_set_t *s = gh_match_set_new();
    uint32_t c[2];
    gh_match_batch_stats_t st;
    cr_assert_eq(gh_match_resolve(m, s, c, &st, err, sizeof(err)), GH_OK);
    cr_assert_eq(st.clusters, 0);
    gh_match_raw_t raw = {"d",  "k",  "王建国", ID_A, NULL,
                          NULL, NULL, NULL,     NULL};
    gh_match_set_add_raw(s, &raw);
    cr_assert_eq(gh_match_resolve(m, s, c, &st, err, sizeof(err)), GH_OK);
    cr_assert_eq(st.clusters, 1);
    cr_assert_eq(c[0], 0);
    cr_assert_eq(gh_match_model_train(m, s, NULL, err, sizeof(err)),
                 GH_ERR_INVALID_ARG);
    cr_assert(strstr(err, "too few"), "%s", err);
    gh_match_set_destroy(s);
    gh_match_model_destroy(m);
}

Test(match_eval, contingency_counts) {
    /* Clusters {0,1,2} {3}; persons {0,1} {2,3}: one correct pair of
     * three predicted, of two true. Record 1 has error kind 0. */
    uint32_t cl[] = {0, 0, 0, 3, 4};
    uint32_t truth[] = {0, 0, 1, 1, UINT32_MAX};
    uint32_t kinds[] = {0, 1, 0, 0, 1};
    gh_match_eval_t ev;
    gh_match_evaluate(5, cl, truth, kinds, &ev);
    cr_assert_eq(ev.records, 4);
    cr_assert_float_eq(ev.correct_pairs, 1, 1e-12);
    cr_assert_float_eq(ev.predicted_pairs, 3, 1e-12);
    cr_assert_float_eq(ev.true_pairs, 2, 1e-12);
    cr_assert_float_eq(ev.precision, 1.0 / 3, 1e-12);
    cr_assert_float_eq(ev.recall, 0.5, 1e-12);
    cr_assert_eq(ev.true_clusters, 2);
    cr_assert_eq(ev.predicted_clusters, 2);
    cr_assert_eq(ev.kind[0].records, 1, "the unlabelled record not counted");
    cr_assert_float_eq(ev.kind[0].true_pairs, 1, 1e-12);  /* 0-1 */
    cr_assert_float_eq(ev.kind[0].found_pairs, 1, 1e-12); /* 0-1 */
    cr_assert_float_eq(ev.kind[0].false_pairs, 1, 1e-12); /* 1-2 */
}

/* A record normalized elsewhere (the hub's, read back from its database)
 * gets its birth date and sex from its ID number as the batch's
 * normalization gives them, and nothing it has of its own is replaced. */
Test(match_fill, birth_and_sex_from_the_id) {
    gh_match_rec_t r;
    memset(&r, 0, sizeof(r));
    /* 110105 1980-03-04 042: an even 17th digit, a woman. */
    static const char *const valid = "11010519800304042X";
    snprintf(r.id_number, sizeof(r.id_number), "%s", valid);
    r.id_status = GH_IDNUM_OK;
    r.birth = GH_MATCH_NO_DATE;
    gh_match_fill_from_id(&r);
    cr_assert_eq(r.birth, (int32_t)gh_days_from_civil(1980, 3, 4));
    cr_assert_eq(r.sex, 2);

    /* The same through the batch's normalization. */
    gh_match_raw_t raw = {.department = "d",
                          .source_key = "k",
                          .name = "周秀英",
                          .id_number = valid};
    char buf[GH_MATCH_NORM_BUF];
    gh_match_rec_t b;
    gh_match_normalize(&raw, &b, buf);
    cr_assert_eq(b.birth, r.birth);
    cr_assert_eq(b.sex, r.sex);

    /* Its own values stay. */
    r.birth = (int32_t)gh_days_from_civil(1981, 1, 1);
    r.sex = 1;
    gh_match_fill_from_id(&r);
    cr_assert_eq(r.birth, (int32_t)gh_days_from_civil(1981, 1, 1));
    cr_assert_eq(r.sex, 1);

    /* Only the check character wrong: the date passed its check. */
    memset(&r, 0, sizeof(r));
    snprintf(r.id_number, sizeof(r.id_number), "%.17s1", valid);
    r.id_status = GH_IDNUM_BAD_CHECK;
    r.birth = GH_MATCH_NO_DATE;
    gh_match_fill_from_id(&r);
    cr_assert_eq(r.birth, (int32_t)gh_days_from_civil(1980, 3, 4));

    /* No usable number: nothing. */
    memset(&r, 0, sizeof(r));
    r.id_status = GH_IDNUM_EMPTY;
    r.birth = GH_MATCH_NO_DATE;
    gh_match_fill_from_id(&r);
    cr_assert_eq(r.birth, GH_MATCH_NO_DATE);
    cr_assert_eq(r.sex, 0);
}
