/*
 * Unit tests of the holders' addresses (gridhub/match.h, "Where a foreign
 * number came from"): which records borrow, from whom, what a borrowed
 * address is worth, and a pair that links through it next to near pairs
 * that must not (a household member, a father and son of one name).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/match.h"
#include "test_match_synth.h"

static size_t add(gh_match_set_t *s, const char *key, const char *name,
                  const char *id, const char *sex, const char *birth,
                  const char *phone, const char *address) {
    gh_match_raw_t raw = {"test", key,   name,    id,  sex,
                          birth,  phone, address, NULL};
    return gh_match_set_add_raw(s, &raw);
}

#define REC(i) gh_match_set_get(s, (i))

/* A family in one flat: the daughter X (born 2023) and her father P, whose
 * 计生 row carries X's number, an old phone and no address. */
typedef struct family {
    char x_id[19], p_id[19];
    size_t x_gongan, p_gongan, p_jisheng;
} family_t;

static void family(gh_match_set_t *s, family_t *f) {
    synth_id("43130220230818342", f->x_id);
    synth_id("43130219951201079", f->p_id);
    f->x_gongan = add(s, "x", "陈欣然", f->x_id, "女", "2023-08-18", NULL,
                      "娄星区乐坪街道新星路74号新星花园7栋2单元101室");
    f->p_gongan = add(s, "p", "陈伟", f->p_id, "男", "1995-12-01",
                      "13983499035", "娄星区乐坪街道新星社区7栋2单元101");
    f->p_jisheng =
        add(s, "pj", "陈伟", f->x_id, "男", "1995-12-01", "13701813675", NULL);
}

Test(match_lend, who_borrows_from_whom) {
    gh_match_set_t *s = gh_match_set_new();
    family_t f;
    family(s, &f);
    cr_assert_eq(REC(f.p_jisheng)->id_foreign, 1);
    cr_assert(gh_match_borrows_address(REC(f.p_jisheng)));
    cr_assert_not(gh_match_borrows_address(REC(f.x_gongan)), "her own");
    cr_assert(gh_match_holds_number(REC(f.x_gongan), REC(f.p_jisheng)));
    cr_assert_not(gh_match_holds_number(REC(f.p_gongan), REC(f.p_jisheng)));
    /* A second holder record with another address: the smaller one, in
     * whatever order the records came. */
    size_t x2 = add(s, "x2", "陈欣然", f.x_id, "女", "2023-08-18", NULL,
                    "娄星区乐坪街道新星社区7栋2单元101");
    cr_assert_eq(gh_match_set_lend_addresses(s), 1);
    const gh_match_rec_t *r = REC(f.p_jisheng);
    cr_assert_eq(r->address_from_id, 1);
    const char *a1 = REC(f.x_gongan)->address, *a2 = REC(x2)->address;
    cr_assert_str_eq(r->address, strcmp(a1, a2) < 0 ? a1 : a2);
    /* Lending again changes nothing; the holder's record is untouched. */
    cr_assert_eq(gh_match_set_lend_addresses(s), 1);
    cr_assert_eq(REC(f.x_gongan)->address_from_id, 0);
    /* No blocking key on a borrowed address (the hub keys a record before
     * its number's holders may have come). */
    cr_assert_eq(gh_match_block_key(REC(f.p_jisheng), "name+address"), 0);
    cr_assert_neq(gh_match_block_key(REC(f.p_gongan), "name+address"), 0);
    gh_match_set_destroy(s);
}

Test(match_lend, no_holder_no_loan) {
    gh_match_set_t *s = gh_match_set_new();
    char x_id[19];
    synth_id("43130220230818342", x_id);
    /* The holder's only record has no address; another record with the
     * number is itself foreign: nothing to lend. */
    add(s, "x", "陈欣然", x_id, "女", "2023-08-18", NULL, NULL);
    size_t o = add(s, "o", "李四", x_id, "男", "1960-02-02", NULL, "某地1号");
    size_t p = add(s, "p", "陈伟", x_id, "男", "1995-12-01", NULL, NULL);
    cr_assert_eq(REC(o)->id_foreign, 1);
    cr_assert_eq(gh_match_set_lend_addresses(s), 0);
    cr_assert_null(REC(p)->address);
    cr_assert_eq(REC(p)->address_from_id, 0);
    /* Its own address is never replaced. */
    cr_assert_str_eq(REC(o)->address, "某地1号");
    gh_match_set_destroy(s);
}

Test(match_lend, bad_check_borrower_and_levels) {
    gh_match_set_t *s = gh_match_set_new();
    family_t f;
    family(s, &f);
    /* The number also with its check character wrong: the same holder. */
    char bad[19];
    memcpy(bad, f.x_id, 19);
    bad[17] = bad[17] == '1' ? '2' : '1';
    size_t b = add(s, "pb", "陈伟", bad, "男", "1995-12-01", NULL, NULL);
    cr_assert_eq(REC(b)->id_status, GH_IDNUM_BAD_CHECK);
    cr_assert_eq(REC(b)->id_foreign, 1);
    cr_assert_eq(gh_match_set_lend_addresses(s), 2);
    /* The same flat: "same building/unit/room", never "equal". */
    cr_assert_eq(
        synth_level(REC(f.p_jisheng), REC(f.p_gongan), GH_MATCH_F_ADDRESS), 2);
    cr_assert_eq(
        synth_level(REC(f.p_gongan), REC(f.p_jisheng), GH_MATCH_F_ADDRESS), 2,
        "symmetric");
    cr_assert_eq(
        synth_level(REC(f.p_jisheng), REC(f.x_gongan), GH_MATCH_F_ADDRESS), 2,
        "an equal string too");
    /* Two borrowed addresses say nothing; nor does another flat. */
    cr_assert_eq(synth_level(REC(f.p_jisheng), REC(b), GH_MATCH_F_ADDRESS), 0);
    size_t q = add(s, "q", "陈伟", NULL, "男", "1995-12-01", NULL,
                   "娄星区乐坪街道月塘社区3栋2单元401");
    cr_assert_eq(synth_level(REC(f.p_jisheng), REC(q), GH_MATCH_F_ADDRESS), 0);
    gh_match_set_destroy(s);
}

Test(match_lend, the_holders_flat_links_the_father) {
    gh_match_model_t *m = synth_model();
    gh_match_set_t *s = gh_match_set_new();
    family_t f;
    family(s, &f);
    gh_match_explain_t ex;
    /* Without the loan: name, a near birth date and sex are not enough. */
    cr_assert_neq(gh_match_score(m, REC(f.p_jisheng), REC(f.p_gongan), &ex),
                  GH_MATCH_LINK, "total %.2f", ex.total);
    double before = ex.total;
    gh_match_set_lend_addresses(s);
    cr_assert_eq(gh_match_score(m, REC(f.p_jisheng), REC(f.p_gongan), &ex),
                 GH_MATCH_LINK, "total %.2f (was %.2f)", ex.total, before);
    /* Near pairs that must not link: the daughter (another name, another
     * birth date, in the flat); the father's father of the same name
     * living there. */
    cr_assert_neq(gh_match_score(m, REC(f.p_jisheng), REC(f.x_gongan), &ex),
                  GH_MATCH_LINK, "total %.2f", ex.total);
    char g_id[19];
    synth_id("43130219680304101", g_id);
    size_t g = add(s, "g", "陈伟", g_id, "男", "1968-03-04", "13900000001",
                   "娄星区乐坪街道新星社区7栋2单元101");
    gh_match_decision_t d = gh_match_score(m, REC(f.p_jisheng), REC(g), &ex);
    cr_assert(d != GH_MATCH_LINK && d != GH_MATCH_LINK_ID, "total %.2f",
              ex.total);
    /* The batch: the father's two records in one person, the daughter and
     * the grandfather in theirs. */
    uint32_t cl[4];
    gh_match_batch_stats_t st;
    char err[256];
    cr_assert_eq(gh_match_resolve(m, s, cl, &st, err, sizeof(err)), GH_OK, "%s",
                 err);
    cr_assert_eq(cl[f.p_jisheng], cl[f.p_gongan]);
    cr_assert_neq(cl[f.p_jisheng], cl[f.x_gongan]);
    cr_assert_neq(cl[f.p_jisheng], cl[g]);
    gh_match_set_destroy(s);
    gh_match_model_destroy(m);
}
