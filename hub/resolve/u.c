/*
 * What different persons' records agree on by chance, measured on the data
 * at large (training's u, em.c).
 *
 * Exact agreement comes from value frequencies: the sum of c(c-1) over the
 * distinct values, over nn(nn-1) — exact even for 15 million records,
 * where random pairs would almost never share a phone. The other levels
 * come from random pairs, scaled to what exact agreement leaves. Both
 * include the matching pairs; em.c corrects for them once lambda is known.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/norm.h"
#include "gridhub/util.h"
#include "match_int.h"

#define F GH_MATCH_F__COUNT
#define L GH_MATCH_MAX_LEVELS

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* P(two random records agree exactly | both have the value): sum over the
 * distinct values of c(c-1), over nn(nn-1). vals is clobbered. */
static double agree_rate(uint64_t *vals, size_t nn) {
    if (nn < 2) return -1;
    gh__kv_t *kv = gh_xmalloc(nn * sizeof(*kv));
    for (size_t i = 0; i < nn; i++)
        kv[i] = (gh__kv_t){vals[i], 0};
    gh__match_sort_kv(kv, nn);
    double pairs = 0;
    for (size_t i = 0; i < nn;) {
        size_t j = i + 1;
        while (j < nn && kv[j].key == kv[i].key)
            j++;
        pairs += (double)(j - i) * (double)(j - i - 1);
        i = j;
    }
    free(kv);
    return pairs / ((double)nn * (double)(nn - 1));
}

static uint64_t ptr_val(const char *s) {
    return (uint64_t)(uintptr_t)s;
}

/* Exact-agreement rates per field (-1: not computable) and for phone and
 * address together. Relies on the set interning strings: equal values
 * share one pointer. */
static void exact_rates(const gh_match_set_t *set, double p1[F],
                        double *household) {
    size_t n = gh_match_set_count(set);
    uint64_t *vals = gh_xmalloc(n * sizeof(*vals));
    for (int f = 0; f < F; f++) {
        size_t nn = 0, nv = 0;
        uint64_t *valid = f == GH_MATCH_F_ID ? vals : NULL;
        for (size_t i = 0; i < n; i++) {
            const gh_match_rec_t *r = gh_match_set_get(set, i);
            switch (f) {
            case GH_MATCH_F_ID:
                /* Comparable: any number; level 1: valid and equal. */
                if (r->id_number[0]) nn++;
                if (gh_idnum_is_valid(r->id_status))
                    valid[nv++] = gh__match_hash(r->id_number, 18, 1);
                break;
            case GH_MATCH_F_NAME:
                if (r->name) vals[nn++] = ptr_val(r->name);
                break;
            case GH_MATCH_F_BIRTH:
                if (r->birth != GH_MATCH_NO_DATE)
                    vals[nn++] = (uint64_t)(uint32_t)r->birth;
                break;
            case GH_MATCH_F_SEX:
                if (r->sex) vals[nn++] = r->sex;
                break;
            case GH_MATCH_F_PHONE:
                if (r->phone) vals[nn++] = ptr_val(r->phone);
                break;
            case GH_MATCH_F_ADDRESS:
                if (r->address && !r->address_from_id) /* its own */
                    vals[nn++] = ptr_val(r->address);
                break;
            }
        }
        if (f == GH_MATCH_F_ID) {
            double r = agree_rate(vals, nv);
            p1[f] = r < 0 || nn < 2 ? -1
                                    : r * (double)nv * (double)(nv - 1) /
                                          ((double)nn * (double)(nn - 1));
        } else {
            p1[f] = agree_rate(vals, nn);
        }
    }
    /* Households: one phone and one flat (the building/unit/room of the
     * address when it has one, as address level 2 compares them). */
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        const gh_match_rec_t *r = gh_match_set_get(set, i);
        if (!r->phone || !r->address || r->address_from_id) continue;
        int b, u, room;
        uint64_t flat = gh_norm_address_parts(r->address, &b, &u, &room)
                            ? gh__mix64(((uint64_t)(uint32_t)b << 40) ^
                                        ((uint64_t)(uint32_t)u << 24) ^
                                        (uint64_t)(uint32_t)room)
                            : ptr_val(r->address);
        vals[nh++] = gh__mix64(ptr_val(r->phone) * 31 ^ gh__mix64(flat));
    }
    *household = agree_rate(vals, nh);
    free(vals);
}

/* ---- ID numbers one digit off ------------------------------------------ */

/* Open-addressing count table of 64-bit keys (0 marks an empty slot). */
typedef struct body_tab {
    uint64_t *key;
    uint32_t *cnt;
    size_t mask;
} body_tab_t;

static size_t body_slot(const body_tab_t *t, uint64_t k) {
    size_t i = (size_t)gh__mix64(k) & t->mask;
    while (t->key[i] && t->key[i] != k)
        i = (i + 1) & t->mask;
    return i;
}

static uint64_t body_key(const char *id) {
    return gh__match_hash(id, 17, 0x17) | 1;
}

#define NEAR_SAMPLE 200000

/* u of the ID level "one digit off" (compare.c), which random pairs
 * cannot measure: among different persons it is rarer than one pair in
 * 10^7, and the random pairs that hit it are nearly all one person's
 * records (a typo and the true number), which the correction for matches
 * then cancels to the floor, so the level would weigh as much as ID
 * equality. It is measured on pairs known to be different persons
 * instead: two different numbers that both pass the check are two people
 * (ISO 7064), so the share of valid records whose first 17 characters are
 * one substitution or neighbour swap from another valid record's (q) is
 * how often different persons' numbers are one edit apart by chance. The
 * level needs one number failing the check, so u = q times the share of
 * comparable pairs with at least one such number. An overestimate (the
 * check characters would have to agree too), so the weight errs low.
 * -1 when not computable. */
static double id_near_rate(const gh_match_set_t *set) {
    size_t n = gh_match_set_count(set), nn = 0, nv = 0;
    for (size_t i = 0; i < n; i++) {
        const gh_match_rec_t *r = gh_match_set_get(set, i);
        nn += r->id_number[0] != 0;
        nv += gh_idnum_is_valid(r->id_status) != 0;
    }
    if (nv < 2 || nn < 2) return -1;
    body_tab_t t;
    size_t cap = 16;
    while (cap < 2 * nv)
        cap <<= 1;
    t.key = gh_xcalloc(cap, sizeof(*t.key));
    t.cnt = gh_xcalloc(cap, sizeof(*t.cnt));
    t.mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        const gh_match_rec_t *r = gh_match_set_get(set, i);
        if (!gh_idnum_is_valid(r->id_status)) continue;
        uint64_t k = body_key(r->id_number);
        size_t s = body_slot(&t, k);
        t.key[s] = k;
        t.cnt[s]++;
    }
    /* Every valid record when there are few, else an even stride. */
    size_t stride = nv > NEAR_SAMPLE ? nv / NEAR_SAMPLE : 1, seen = 0;
    double sampled = 0, hits = 0;
    for (size_t i = 0; i < n; i++) {
        const gh_match_rec_t *r = gh_match_set_get(set, i);
        if (!gh_idnum_is_valid(r->id_status) || seen++ % stride) continue;
        sampled++;
        char v[18];
        for (int pos = 0; pos < 17; pos++) {
            for (char c = '0'; c <= '9'; c++) {
                if (c == r->id_number[pos]) continue;
                memcpy(v, r->id_number, 17);
                v[pos] = c;
                size_t s = body_slot(&t, body_key(v));
                hits += t.key[s] ? t.cnt[s] : 0;
            }
            if (pos == 16 || r->id_number[pos] == r->id_number[pos + 1])
                continue;
            memcpy(v, r->id_number, 17);
            v[pos] = r->id_number[pos + 1];
            v[pos + 1] = r->id_number[pos];
            size_t s = body_slot(&t, body_key(v));
            hits += t.key[s] ? t.cnt[s] : 0;
        }
    }
    free(t.key);
    free(t.cnt);
    double q = hits / (sampled * (double)(nv - 1));
    double valid = (double)nv / (double)nn;
    return q * (1 - valid * valid);
}

void gh__match_random_levels(const gh_match_set_t *set, double p[F][L],
                             double *household, double *id_near) {
    *id_near = id_near_rate(set);
    size_t n = gh_match_set_count(set);
    double cnt[F][L];
    memset(cnt, 0, sizeof(cnt));
    size_t samples = 20 * n;
    if (samples < 100000) samples = 100000;
    if (samples > 2000000) samples = 2000000;
    uint64_t seed = 0x6a09e667f3bcc908ULL;
    for (size_t s = 0; s < samples; s++) {
        size_t a = splitmix(&seed) % n, b = splitmix(&seed) % n;
        if (a == b) continue;
        int lv[F];
        gh__match_levels(gh_match_set_get(set, a), gh_match_set_get(set, b),
                         lv);
        for (int f = 0; f < F; f++)
            cnt[f][lv[f]]++;
    }
    double p1[F];
    exact_rates(set, p1, household);
    for (int f = 0; f < F; f++) {
        int nl = gh_match_field_levels((gh_match_field_t)f);
        double rest = 0, all = 0;
        for (int l = 1; l < nl; l++) {
            all += cnt[f][l];
            if (l > 1) rest += cnt[f][l];
        }
        p[f][0] = all > 0 || p1[f] >= 0 ? 0 : -1;
        double first = p1[f] >= 0 ? p1[f] : all > 0 ? cnt[f][1] / all : 0;
        p[f][1] = first;
        for (int l = 2; l < nl; l++)
            p[f][l] = rest > 0 ? (1 - first) * cnt[f][l] / rest : 0;
    }
}
