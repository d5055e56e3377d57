/*
 * Unit tests of the near levels and rules of issue 14 beyond the birth
 * date (test_match_birth.c): the ID levels "another area code" and the
 * TWO_IDS decision (一人多号), foreign ID numbers (a valid number whose
 * embedded birth date is not the record's), the phone's "one digit off"
 * and the name's "fuzzy pinyin"; each with a pair that must link or reach
 * the steward and a near pair that must not link.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/match.h"
#include "gridhub/util.h"
#include "test_match_synth.h"

#define mk synth_rec
#define level_of synth_level

/* 11010519491231002X: 北京东城, born 1949-12-31, a woman (hand-checked in
 * test_idnum.c). */
#define ID_A "11010519491231002X"

/* A valid number from an area code, YYYYMMDD and a 3-digit sequence. */
static void make_id(const char *area, const char *ymd, const char *seq,
                    char out[19]) {
    snprintf(out, 19, "%s%s%s", area, ymd, seq);
    out[17] = gh_idnum_check_char(out);
    out[18] = '\0';
}

/* ---- ID: another area code, two valid numbers ------------------------- */

Test(match_near, id_another_area_code) {
    char old_code[19], other_seq[19];
    make_id("432501", "19491231", "002", old_code); /* 娄底地区's code */
    make_id("110105", "19491231", "004", other_seq);
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 2, NULL, NULL, NULL);
    gh_match_rec_t b =
        mk("王建国", "wang jian guo", old_code, 2, NULL, NULL, NULL);
    cr_assert_eq(b.id_status, GH_IDNUM_OK);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 4);
    cr_assert_eq(level_of(&b, &a, GH_MATCH_F_ID), 4, "symmetric");
    /* Another sequence number in the same area: another person. */
    b = mk("王建国", "wang jian guo", other_seq, 2, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 5);
    /* Another area code and a wrong check character: not two valid
     * numbers, so not this level. */
    char bad[19];
    memcpy(bad, old_code, 19);
    bad[17] = bad[17] == '0' ? '1' : '0';
    b = mk("王建国", "wang jian guo", bad, 2, NULL, NULL, NULL);
    cr_assert_eq(b.id_status, GH_IDNUM_BAD_CHECK);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 5);
}

Test(match_near, two_valid_ids_go_to_the_steward) {
    gh_match_model_t *m = synth_model();
    char old_code[19];
    make_id("432501", "19491231", "002", old_code);
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 2, "1949-12-31",
                          "13807381001", "大塘小区3栋2单元501");
    gh_match_rec_t b = mk("王建国", "wang jian guo", old_code, 2, "1949-12-31",
                          "13807381001", NULL);
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_TWO_IDS, "total %.2f",
                 ex.total);
    /* Never joined by clustering: two anchors. */
    gh_match_edge_t e[1] = {{0, 1, (float)ex.total, GH_MATCH_TWO_IDS}};
    size_t ne = 1;
    uint64_t anchor[2] = {gh_match_anchor(&a), gh_match_anchor(&b)};
    uint32_t cl[2];
    gh_match_cluster(2, e, &ne, NULL, 0, anchor, cl, NULL);
    cr_assert_neq(cl[0], cl[1]);
    /* Two people of one name and birth date in two counties, nothing else
     * in common, another sequence number: not even a question for the
     * steward. */
    char other[19];
    make_id("432501", "19491231", "013", other);
    b = mk("王建国", "wang jian guo", other, 2, "1949-12-31", "13907380000",
           "长沙市岳麓区麓山南路1号");
    cr_assert_lt(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    gh_match_model_destroy(m);
}

/* ---- foreign ID numbers ---------------------------------------------------
 */

static gh_match_rec_t filled(const char *name, const char *py, const char *id,
                             int sex, const char *birth, const char *phone) {
    gh_match_rec_t r = mk(name, py, id, sex, birth, phone, NULL);
    gh_match_fill_from_id(&r);
    return r;
}

Test(match_near, foreign_id_flag) {
    /* Another resident's number: born 26 years apart. */
    gh_match_rec_t r =
        filled("刘子涵", "liu zi han", ID_A, 1, "1975-06-18", NULL);
    cr_assert_eq(r.id_foreign, 1);
    cr_assert_eq(gh_match_anchor(&r), 0, "a foreign number anchors nothing");
    gh_match_rec_t o = filled("王建国", "wang jian guo", ID_A, 2, NULL, NULL);
    cr_assert_eq(o.id_foreign, 0, "a missing date is filled, not foreign");
    cr_assert_eq(level_of(&r, &o, GH_MATCH_F_ID), 0, "not compared");
    /* The holder's own number with the typos the birth levels forgive. */
    static const char *const own[] = {
        "1949-12-31", "1949-12-21", /* one digit */
        "1950-12-31",               /* the year one off */
        "1949-12-13",               /* the day's digits swapped */
        "1949-01-01", "1949-12-01", /* placeholders */
        "1979-12-31",               /* one digit of the decade */
        "1949-31-12",               /* unparsable: absent, filled */
    };
    for (size_t i = 0; i < sizeof(own) / sizeof(*own); i++) {
        r = filled("王建国", "wang jian guo", ID_A, 2, own[i], NULL);
        cr_assert_eq(r.id_foreign, 0, "%s", own[i]);
    }
    /* A wrong check character does not make the date less someone
     * else's; a number without a date is never foreign. */
    r = filled("刘子涵", "liu zi han", "110105194912310021", 1, "1975-06-18",
               NULL);
    cr_assert_eq(r.id_status, GH_IDNUM_BAD_CHECK);
    cr_assert_eq(r.id_foreign, 1);
    r = filled("刘子涵", "liu zi han", "1101051949", 1, "1975-06-18", NULL);
    cr_assert_eq(r.id_foreign, 0);
    /* gh_match_normalize sets it too. */
    gh_match_raw_t raw = {"zongzhi",    "k",  NULL, ID_A, "男",
                          "1975-06-18", NULL, NULL, NULL};
    char buf[GH_MATCH_NORM_BUF];
    gh_match_normalize(&raw, &r, buf);
    cr_assert_eq(r.id_foreign, 1);
}

Test(match_near, foreign_id_links_to_its_holder_not_its_owner) {
    gh_match_model_t *m = synth_model();
    char own[19];
    make_id("431302", "19750618", "013", own);
    gh_match_set_t *set = gh_match_set_new();
    gh_match_rec_t holder =
        filled("刘子涵", "liu zi han", own, 1, "1975-06-18", "13807381001");
    gh_match_rec_t typed =
        filled("刘子涵", "liu zi han", ID_A, 1, "1975-06-18", "13807381001");
    gh_match_rec_t owner =
        filled("王建国", "wang jian guo", ID_A, 2, "1949-12-31", "13807380000");
    cr_assert_eq(typed.id_foreign, 1);
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &holder, &typed, &ex), GH_MATCH_LINK,
                 "total %.2f", ex.total);
    /* Not linked to the number's owner; the number on both goes to the
     * steward as one number on two people. */
    cr_assert_eq(gh_match_score(m, &typed, &owner, &ex), GH_MATCH_ID_CONFLICT,
                 "total %.2f", ex.total);
    cr_assert_eq(ex.level[GH_MATCH_F_ID], 0);
    /* The same through the batch: the holder's person gets the record. */
    gh_match_set_add(set, &holder);
    gh_match_set_add(set, &typed);
    gh_match_set_add(set, &owner);
    uint32_t cl[3];
    gh_match_batch_stats_t st;
    char err[256];
    cr_assert_eq(gh_match_resolve(m, set, cl, &st, err, sizeof(err)), GH_OK);
    cr_assert_eq(cl[0], cl[1]);
    cr_assert_neq(cl[1], cl[2]);
    cr_assert_eq(st.foreign_ids, 1);
    gh_match_set_destroy(set);
    gh_match_model_destroy(m);
}

/* ---- phone: one digit off ---------------------------------------------- */

Test(match_near, phone_one_digit) {
    gh_match_rec_t a = mk("x", "x", NULL, 0, NULL, "13807381001", NULL);
    gh_match_rec_t b = mk("x", "x", NULL, 0, NULL, "13807381007", NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_PHONE), 2);
    b = mk("x", "x", NULL, 0, NULL, "13807381010", NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_PHONE), 3, "a swap: two digits");
    b = mk("x", "x", NULL, 0, NULL, "1380738100", NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_PHONE), 3, "another length");
    b = mk("x", "x", NULL, 0, NULL, "13907391001", NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_PHONE), 3);
    /* Short numbers (an extension) are never "one digit off". */
    a = mk("x", "x", NULL, 0, NULL, "8101", NULL);
    b = mk("x", "x", NULL, 0, NULL, "8102", NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_PHONE), 3);
}

/* ---- name: fuzzy pinyin -------------------------------------------------- */

Test(match_near, fuzzy_pinyin_merges) {
    static const char *const pairs[][4] = {
        {"刘兰", "liu lan", "刘南", "liu nan"},    /* n/l */
        {"黄伟", "huang wei", "方伟", "fang wei"}, /* h/f */
        {"刘辉", "liu hui", "刘飞", "liu fei"},    /* hu/f */
        {"刘荣", "liu rong", "刘龙", "liu long"},  /* r/l */
        {"王刚", "wang gang", "王甘", "wang gan"}, /* ang/an */
        {"李湘", "li xiang", "李仙", "li xian"},   /* iang/ian */
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
        gh_match_rec_t a =
            mk(pairs[i][0], pairs[i][1], NULL, 0, NULL, NULL, NULL);
        gh_match_rec_t b =
            mk(pairs[i][2], pairs[i][3], NULL, 0, NULL, NULL, NULL);
        cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 3, "%s/%s", pairs[i][0],
                     pairs[i][2]);
    }
    /* Not merges: another syllable, another number of syllables. */
    gh_match_rec_t a = mk("刘兰", "liu lan", NULL, 0, NULL, NULL, NULL);
    gh_match_rec_t b = mk("刘伟", "liu wei", NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 5);
    b = mk("刘兰芳", "liu lan fang", NULL, 0, NULL, NULL, NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_NAME), 4, "a character added");
}

Test(match_near, fuzzy_name_links_but_not_a_sibling) {
    gh_match_model_t *m = synth_model();
    /* Without ID: a Xiang clerk's 刘南 for 刘兰, same birth date and
     * phone. */
    gh_match_rec_t a =
        mk("刘兰", "liu lan", NULL, 2, "1962-04-09", "13807381001", NULL);
    gh_match_rec_t b =
        mk("刘南", "liu nan", NULL, 2, "1962-04-09", "13807381001", NULL);
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    /* A sister of another name on one phone, born another day: no. */
    b = mk("刘芳", "liu fang", NULL, 2, "1965-08-21", "13807381001", NULL);
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_NONE, "total %.2f",
                 ex.total);
    /* Twins 刘兰 and 刘南 differ only by that merge; with their own valid
     * numbers they reach the steward, never a link. */
    char ta[19], tb[19];
    make_id("431302", "19620409", "022", ta);
    make_id("431302", "19620409", "024", tb);
    a = mk("刘兰", "liu lan", ta, 2, "1962-04-09", "13807381001", NULL);
    b = mk("刘南", "liu nan", tb, 2, "1962-04-09", "13807381001", NULL);
    cr_assert_neq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK);
    cr_assert_neq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK_ID);
    gh_match_model_destroy(m);
}

/* ---- model files name their levels ----------------------------------------
 */

Test(match_near, model_file_for_other_levels_refused) {
    static const gh_conf_prop_t props[] = {GH_MATCH_CONF_PROPS, GH_CONF_END};
    gh_match_model_t *m = synth_model();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gh_match_model_write(m, f);
    fclose(f);
    char *line = strstr(text, "\nmatch.pin.levels=");
    cr_assert_not_null(line, "%s", text);
    char sig[9] = {0};
    memcpy(sig, line + strlen("\nmatch.pin.levels="), 8);
    char err[512];
    gh_conf_t *c = gh_conf_new("test", props);
    cr_assert_eq(gh_conf_set(c, "m.properties:3", "match.pin.levels", sig, err,
                             sizeof(err)),
                 GH_OK, "%s", err);
    /* A file written when the levels were others (the pins of 2026-12-04
     * morning numbered ID "differ" 4). */
    cr_assert_neq(gh_conf_set(c, "old.properties:3", "match.pin.levels",
                              "0badc0de", err, sizeof(err)),
                  GH_OK);
    cr_assert(strstr(err, "other agreement levels"), "%s", err);
    cr_assert(strstr(err, sig), "names this binary's levels: %s", err);
    gh_conf_destroy(c);
    free(text);
    gh_match_model_destroy(m);
}

/* ---- legacy numbers: no check character -------------------------------- */

Test(match_near, legacy_number_typo_is_one_digit_off) {
    /* ID_A's 15-digit form with one digit mistyped (the sequence 002 ->
     * 003): upgraded, it gets a check character computed from the typo and
     * passes, so only "one digit off" in the first 17 can see it. */
    gh_match_rec_t a = mk("王建国", "wang jian guo", ID_A, 2, "1949-12-31",
                          "13807381001", NULL);
    gh_match_rec_t b = mk("王建国", "wang jian guo", "110105491231003", 2,
                          "1949-12-31", "13807381001", NULL);
    cr_assert_eq(b.id_status, GH_IDNUM_UPGRADED);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 3);
    cr_assert_eq(gh_match_anchor(&b), 0);
    gh_match_model_t *m = synth_model();
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK, "total %.2f",
                 ex.total);
    /* Two checked numbers one digit apart are two people (twins). */
    char tw[19];
    make_id("110105", "19491231", "004", tw);
    b = mk("王建国", "wang jian guo", tw, 2, "1949-12-31", "13807381001", NULL);
    cr_assert_eq(level_of(&a, &b, GH_MATCH_F_ID), 5);
    cr_assert_neq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK);
    gh_match_model_destroy(m);
}

/* ---- a birth date taken from the number proves nothing ------------------ */

Test(match_near, dateless_row_with_a_relatives_number_is_a_conflict) {
    gh_match_model_t *m = synth_model();
    char father[19];
    make_id("431302", "19970911", "543", father);
    gh_match_rec_t a =
        filled("郭磊俊", "guo lei jun", father, 1, "1997-09-11", "18865624425");
    /* 计生's row of his son: no birth date, the father's number. */
    gh_match_rec_t b = filled("郭浩文", "guo hao wen", father, 1, NULL, NULL);
    cr_assert_eq(b.birth_from_id, 1);
    cr_assert_eq(b.id_foreign, 0, "nothing to tell the number by");
    gh_match_explain_t ex;
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_ID_CONFLICT,
                 "total %.2f", ex.total);
    /* The father's own dateless row (his name, a homophone of it) still
     * links on the number. */
    b = filled("郭磊君", "guo lei jun", father, 1, NULL, NULL);
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK_ID);
    b = filled("郭磊俊", "guo lei jun", father, 0, NULL, NULL);
    cr_assert_eq(gh_match_score(m, &a, &b, &ex), GH_MATCH_LINK_ID);
    gh_match_model_destroy(m);
}
