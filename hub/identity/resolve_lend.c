/*
 * The hub's side of the holders' addresses (gridhub/match.h, "Where a
 * foreign number came from"): the batch finds a foreign number's holders
 * in its set, the hub in its database, through the id17 blocking key the
 * holders and the borrower share. Both then apply the engine's rules
 * (gh_match_borrows_address, gh_match_holds_number), so the two lend the
 * same address.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

/* The records of the id17 blocks of $1, as far as lending needs them. */
#define LEND_SQL                                                               \
    "SELECT b.block_key, s.rec_id, s.deleted::int, s.n_address, s.id_clean, "  \
    "s.id_code, s.sex_code, s.birth_date - date '1970-01-01' FROM "            \
    "person_block b JOIN source_person s ON s.rec_id = b.rec_id WHERE "        \
    "b.block_key = ANY($1::bigint[])"
enum { L_KEY, L_REC, L_DELETED, L_ADDR, L_ID, L_IDCODE, L_SEX, L_BIRTH };

/* The blinded id17 key of m, as person_block stores it; 0 if none. */
static int64_t id17_key(gh_resolver_t *r, const gh_match_rec_t *m) {
    uint64_t k = gh_match_block_key(m, "id17");
    return k ? (int64_t)gh_crypt_blind64(r->crypt, "block", k) : 0;
}

/* Row i as a match record (the fields lending looks at). */
static void row_rec(PGresult *res, int i, gh_match_rec_t *m) {
    memset(m, 0, sizeof(*m));
    m->address = gh__res_val(res, i, L_ADDR);
    if (m->address && !*m->address) m->address = NULL;
    const char *id = gh__res_val(res, i, L_ID);
    if (id) snprintf(m->id_number, sizeof(m->id_number), "%s", id);
    m->id_status = (uint8_t)gh__res_ival(res, i, L_IDCODE, 2);
    m->sex = (uint8_t)gh__res_ival(res, i, L_SEX, 0);
    m->birth = (int32_t)gh__res_ival(res, i, L_BIRTH, GH_MATCH_NO_DATE);
    gh_match_fill_from_id(m);
}

static PGresult *read_blocks(gh_resolver_t *r, PGconn *db, gh_sqlarr_t *keys,
                             const char *what, char *errstr,
                             size_t errstr_size) {
    const char *p[1] = {gh_sqlarr_get(keys)};
    PGresult *res =
        gh_pg_query_what(db, LEND_SQL, 1, p, what, errstr, errstr_size);
    if (!res) return NULL;
    static const int cols[] = {L_ADDR, L_ID};
    static const char *const fields[] = {"address", "id_number"};
    if (gh_crypt_open_result(r->crypt, res, cols, fields, 2, errstr,
                             errstr_size)) {
        PQclear(res);
        return NULL;
    }
    return res;
}

gh_err_t gh__res_borrowers(gh_resolver_t *r, PGconn *db, gh_sqlarr_t *scratch,
                           int64_t **out, size_t *nout, char *errstr,
                           size_t errstr_size) {
    *out = NULL;
    *nout = 0;
    gh_sqlarr_reset(scratch);
    for (size_t i = 0; i < r->nw; i++) {
        const gh_match_rec_t *m = gh__res_mrec(r, i);
        /* A deleted holder, or one that lost its address, still had
         * borrowers. */
        if (m->id_status == GH_IDNUM_OK && !m->id_foreign)
            gh_sqlarr_int(scratch, id17_key(r, m));
    }
    if (!scratch->n) return GH_OK;
    PGresult *res = read_blocks(r, db, scratch, "read numbers' borrowers",
                                errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    size_t cap = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t rec = gh__res_ival(res, i, L_REC, 0);
        if (gh__res_find(r, rec) >= 0 || gh__res_ival(res, i, L_DELETED, 0))
            continue;
        gh_match_rec_t m;
        row_rec(res, i, &m);
        if (!gh_match_borrows_address(&m)) continue;
        if (*nout == cap) {
            cap = cap ? cap * 2 : 8;
            *out = gh_xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*nout)++] = rec;
    }
    PQclear(res);
    return GH_OK;
}

gh_err_t gh__res_lend(gh_resolver_t *r, PGconn *db, gh_sqlarr_t *scratch,
                      gh__res_lockset_t *lk, gh_sqlarr_t *lscratch,
                      char *errstr, size_t errstr_size) {
    size_t nb = 0;
    size_t *b = gh_xmalloc((r->nw + 1) * sizeof(*b));
    int64_t *key = gh_xmalloc((r->nw + 1) * sizeof(*key));
    gh_sqlarr_reset(scratch);
    for (size_t i = 0; i < r->nw; i++) {
        const gh_match_rec_t *m = gh__res_mrec(r, i);
        if (r->w[i].deleted || !gh_match_borrows_address(m)) continue;
        key[nb] = id17_key(r, m);
        gh_sqlarr_int(scratch, key[nb]);
        b[nb++] = i;
    }
    gh_err_t e = GH_OK;
    PGresult *res = NULL;
    /* A borrower read as a candidate: the holders' key may be another
     * run's (resolve_locks.c). */
    for (size_t j = 0; lk && j < nb; j++)
        gh__res_lock_want(lk, gh__res_key_lock_id(key[j]));
    if (lk && nb)
        e = gh__res_lock_take(lk, db, GH_RES_LOCK_KEYS, lscratch,
                              "lock numbers' holders", errstr, errstr_size);
    if (nb && !e) {
        res = read_blocks(r, db, scratch, "read numbers' holders", errstr,
                          errstr_size);
        if (!res) e = GH_ERR_PG;
    }
    /* Few borrowers (a foreign number is a typing error): a scan each. */
    for (size_t j = 0; !e && j < nb; j++) {
        const gh_match_rec_t *m = gh__res_mrec(r, b[j]);
        const char *best = NULL;
        for (int i = 0; i < PQntuples(res); i++) {
            if (gh__res_ival(res, i, L_KEY, 0) != key[j] ||
                gh__res_ival(res, i, L_DELETED, 0))
                continue;
            gh_match_rec_t h;
            row_rec(res, i, &h);
            if (gh_match_holds_number(&h, m) &&
                (!best || strcmp(h.address, best) < 0))
                best = h.address;
        }
        gh_match_set_lend_address(r->set, r->w[b[j]].midx, best);
    }
    PQclear(res);
    free(b);
    free(key);
    return e;
}
