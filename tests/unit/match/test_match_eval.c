/*
 * The share of found pairs that the ID number alone decides
 * (gh_match_evaluate_id, printed by `gridhub resolve --truth`), counted on
 * hand-made clusterings where the pairs can be listed.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "gridhub/match.h"
#include "gridhub/norm.h"

/* The key of a raw ID number after the batch's normalization. */
static uint64_t key_of(const char *id) {
    char err[256];
    cr_assert_eq(gh_norm_init(err, sizeof(err)), GH_OK, "%s", err);
    gh_match_set_t *s = gh_match_set_new();
    gh_match_raw_t raw = {
        .department = "d", .source_key = "k", .id_number = id};
    uint64_t k =
        gh_match_id_key(gh_match_set_get(s, gh_match_set_add_raw(s, &raw)));
    gh_match_set_destroy(s);
    return k;
}

Test(match_eval, id_key_only_for_valid_numbers) {
    uint64_t k = key_of("431302197504040017");
    cr_assert_eq(k, 43130219750404001ULL + 1);
    /* A legacy 15-digit number is upgraded to the same number. */
    cr_assert_eq(key_of("431302750404001"), k);
    cr_assert_eq(key_of(" 431302 19750404 0017"), k);
    cr_assert_eq(key_of("431302197504040018"), 0, "bad check");
    cr_assert_eq(key_of("431302197513040017"), 0, "bad date");
    cr_assert_eq(key_of(""), 0);
    cr_assert_eq(key_of(NULL), 0);
}

Test(match_eval, pairs_decided_by_id) {
    /* Person 0: records 0-3, all in cluster 0; 0, 1 and 2 carry number A,
     * 3 none. Person 1: records 4-6 in cluster 1 with number B on 4 and 5
     * and C (its second number) on 6; record 7, number B, is in cluster 2
     * (missed). Record 8 has no truth. Found pairs: 6 of person 0, 3 of
     * person 1; by ID: 0-1, 0-2, 1-2 and 4-5. */
    uint32_t cl[] = {0, 0, 0, 0, 1, 1, 1, 2, 1};
    uint32_t truth[] = {0, 0, 0, 0, 1, 1, 1, 1, UINT32_MAX};
    uint64_t id[] = {11, 11, 11, 0, 22, 22, 33, 22, 22};
    /* Kind 0 on record 2 (pairs 0-2, 1-2 by ID, 2-3 not); kind 1 on
     * record 6 (no pair by ID). */
    uint32_t kinds[] = {0, 0, 1, 0, 0, 0, 2, 0, 0};
    gh_match_eval_t ev;
    gh_match_evaluate(9, cl, truth, kinds, &ev);
    cr_assert_eq(ev.correct_pairs, 9);
    gh_match_evaluate_id(9, cl, truth, kinds, id, &ev);
    cr_assert_eq(ev.id_pairs, 4);
    cr_assert_eq(ev.kind[0].found_pairs, 3);
    cr_assert_eq(ev.kind[0].id_pairs, 2);
    cr_assert_eq(ev.kind[1].found_pairs, 2);
    cr_assert_eq(ev.kind[1].id_pairs, 0);
    /* Without kinds: the overall count alone. */
    gh_match_evaluate_id(9, cl, truth, NULL, id, &ev);
    cr_assert_eq(ev.id_pairs, 4);
    /* A wrong pair with one number is not counted: records of two
     * persons sharing a number (a foreign ID) in one cluster. */
    uint32_t cl2[] = {0, 0};
    uint32_t truth2[] = {0, 1};
    uint64_t id2[] = {11, 11};
    gh_match_evaluate(2, cl2, truth2, NULL, &ev);
    gh_match_evaluate_id(2, cl2, truth2, NULL, id2, &ev);
    cr_assert_eq(ev.id_pairs, 0);
}
