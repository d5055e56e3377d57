/*
 * Addresses lent by the holders of a foreign number (gridhub/match.h,
 * "Where a foreign number came from"): the rules, and the batch's lending
 * over a whole set. The hub's resolver finds the holders in its database
 * (hub/identity/resolve_lend.c) and applies the same rules.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/util.h"
#include "match_int.h"

/* A record whose own valid number and address can be lent. */
static int holder(const gh_match_rec_t *r) {
    return r->id_status == GH_IDNUM_OK && !r->id_foreign && r->address &&
           !r->address_from_id;
}

int gh_match_borrows_address(const gh_match_rec_t *r) {
    return r->id_foreign && r->id_number[0] &&
           (!r->address || r->address_from_id);
}

int gh_match_holds_number(const gh_match_rec_t *h, const gh_match_rec_t *r) {
    return h != r && holder(h) && r->id_number[0] &&
           !memcmp(h->id_number, r->id_number, 17);
}

/* Numbers borrowed from, by their first 17 characters (open addressing;
 * a NULL id marks an empty slot), each with its best address so far. */
typedef struct slot {
    const char *id;
    const char *best;
} slot_t;

static slot_t *slot_of(slot_t *t, size_t mask, const char *id) {
    size_t h = (size_t)gh__match_hash(id, 17, 0x1e9d) & mask;
    while (t[h].id && memcmp(t[h].id, id, 17))
        h = (h + 1) & mask;
    return &t[h];
}

size_t gh_match_set_lend_addresses(gh_match_set_t *set) {
    size_t n = gh_match_set_count(set), nb = 0, lent = 0;
    /* Borrowers are few (a foreign number is a typing error): the holders
     * of their numbers are found in one pass over the set, by hash. */
    size_t *b = gh_xmalloc((n ? n : 1) * sizeof(*b));
    for (size_t i = 0; i < n; i++)
        if (gh_match_borrows_address(gh_match_set_get(set, i))) {
            gh_match_set_lend_address(set, i, NULL);
            b[nb++] = i;
        }
    if (!nb) {
        free(b);
        return 0;
    }
    size_t cap = 16;
    while (cap < 2 * nb)
        cap *= 2;
    slot_t *t = gh_xcalloc(cap, sizeof(*t));
    for (size_t j = 0; j < nb; j++) {
        const char *id = gh_match_set_get(set, b[j])->id_number;
        slot_t *sl = slot_of(t, cap - 1, id);
        sl->id = id;
    }
    for (size_t i = 0; i < n; i++) {
        const gh_match_rec_t *r = gh_match_set_get(set, i);
        if (!holder(r)) continue;
        slot_t *sl = slot_of(t, cap - 1, r->id_number);
        /* Of several holders the smallest address: the records decide,
         * not their order. */
        if (sl->id && (!sl->best || strcmp(r->address, sl->best) < 0))
            sl->best = r->address;
    }
    for (size_t j = 0; j < nb; j++) {
        const slot_t *sl =
            slot_of(t, cap - 1, gh_match_set_get(set, b[j])->id_number);
        if (!sl->best) continue;
        gh_match_set_lend_address(set, b[j], sl->best);
        lent++;
    }
    free(t);
    free(b);
    return lent;
}
