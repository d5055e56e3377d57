/*
 * Neighbourhood locks (docs/scaling.md, "Several resolvers"). A run whose
 * transaction holds the resolution lock shared (gh_resolver_lock_run)
 * locks each blocking key before it reads or writes the records under it
 * and each person before it reads the person's records, so that two runs
 * that share no key and no person resolve at once and two that do, one
 * after the other, the second reading what the first committed. A run
 * holding the lock alone needs none of this: every run that locks
 * neighbourhoods holds it shared.
 *
 * The locks are transaction-level advisory locks of two classes (their
 * first int4); the second int4 is the key's low half or a hash of the
 * person id, so two unrelated keys may share a lock now and then (a wait,
 * never a missed conflict).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

int32_t gh__res_key_lock_id(int64_t block_key) {
    uint64_t k = (uint64_t)block_key;
    return (int32_t)(uint32_t)(k ^ (k >> 32));
}

int32_t gh__res_person_lock_id(const char *pid) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)pid; *p; p++)
        h = (h ^ *p) * 16777619u;
    return (int32_t)h;
}

void gh__res_lock_want(gh__res_lockset_t *s, int32_t id) {
    if (s->nwant == s->capwant) {
        s->capwant = s->capwant ? s->capwant * 2 : 64;
        s->want = gh_xrealloc(s->want, s->capwant * sizeof(*s->want));
    }
    s->want[s->nwant++] = id;
}

static int cmp_i32(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return a < b ? -1 : a > b;
}

static int held(const gh__res_lockset_t *s, int32_t id) {
    return s->nheld &&
           bsearch(&id, s->held, s->nheld, sizeof(int32_t), cmp_i32) != NULL;
}

gh_err_t gh__res_lock_take(gh__res_lockset_t *s, PGconn *db, int cls,
                           gh_sqlarr_t *scratch, const char *what, char *errstr,
                           size_t errstr_size) {
    if (!s->nwant) return GH_OK;
    qsort(s->want, s->nwant, sizeof(int32_t), cmp_i32);
    size_t n = 0;
    for (size_t i = 0; i < s->nwant; i++)
        if ((!n || s->want[i] != s->want[n - 1]) && !held(s, s->want[i]))
            s->want[n++] = s->want[i];
    s->nwant = 0;
    if (!n) return GH_OK;
    /* One statement, in ascending order: two runs wanting some of the same
     * locks take them in one order and cannot wait for each other on
     * them. (A run's second round, for records found through its first,
     * can; PostgreSQL then fails one transaction and its batch is tried
     * again.) The function scan yields the array in its order. */
    gh_sqlarr_reset(scratch);
    for (size_t i = 0; i < n; i++)
        gh_sqlarr_int(scratch, s->want[i]);
    char c[16];
    snprintf(c, sizeof(c), "%d", cls);
    const char *p[2] = {c, gh_sqlarr_get(scratch)};
    gh_err_t e =
        gh_pg_exec_what(db,
                        "SELECT count(pg_advisory_xact_lock($1::int, k)) FROM "
                        "unnest($2::int[]) AS k",
                        2, p, what, errstr, errstr_size);
    gh_log_debug("resolve", "%s: %zu taken", what, n);
    if (e) return e;
    if (s->nheld + n > s->capheld) {
        s->capheld = (s->nheld + n) * 2;
        s->held = gh_xrealloc(s->held, s->capheld * sizeof(*s->held));
    }
    memcpy(s->held + s->nheld, s->want, n * sizeof(int32_t));
    s->nheld += n;
    qsort(s->held, s->nheld, sizeof(int32_t), cmp_i32);
    return GH_OK;
}

void gh__res_lock_free(gh__res_lockset_t *s) {
    free(s->held);
    free(s->want);
    memset(s, 0, sizeof(*s));
}
