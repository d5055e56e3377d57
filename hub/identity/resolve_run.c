/* One resolution run (resolve.h, steps 1-6), step by step over a shared
 * context. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

#define LOG "resolve"

typedef struct run {
    gh_resolver_t *r;
    PGconn *db;
    gh_resolve_stats_t *st;
    char *errstr;
    size_t errstr_size;
    gh_sqlarr_t a[4]; /* scratch parameter arrays */
    pair_t *pairs;
    size_t npairs;
    fresh_t *fr; /* scored pairs worth keeping */
    size_t nfr;
    char **touched; /* persons involved, sorted, unique */
    size_t ntouched, cap_touched;
    size_t *members; /* w indexes of the records to cluster */
    size_t nm;
    size_t *mi_of; /* w index -> member index */
    gh_match_edge_t *edges;
    size_t ne, cap_e;
    uint32_t (*apart)[2];
    size_t na, cap_a;
    comp_t *comps;
    size_t ncomp;
    size_t *mem; /* storage of comps[].mem */
    char **ret;  /* retired ids and what absorbed them */
    const char **into;
    size_t nret;
    item_t *items; /* attribute conflicts found by survivorship */
    size_t nitems;
    long long oversize;
    gh__res_lockset_t lk, lp; /* neighbourhood: keys, persons */
} run_t;

static gh_err_t pgerr(run_t *x) {
    return gh_pg_failure(x->db);
}

static void touch(run_t *x, const char *pid) {
    if (x->ntouched == x->cap_touched) {
        x->cap_touched = x->cap_touched ? x->cap_touched * 2 : 16;
        x->touched = gh_xrealloc(x->touched, x->cap_touched * sizeof(char *));
    }
    x->touched[x->ntouched++] = (char *)pid;
}

/* A link's score as match_edge keeps it (real, written with 4 decimals):
 * a link found in this run weighs in clustering exactly what it will weigh
 * when a later run reads it back. */
static float stored_score(double total) {
    char t[32];
    snprintf(t, sizeof(t), "%.4f", total);
    return strtof(t, NULL);
}

/* An edge between two members (w indexes). */
static void edge(run_t *x, long wa, long wb, int kind, float score) {
    if (x->ne == x->cap_e) {
        x->cap_e = x->cap_e ? x->cap_e * 2 : 64;
        x->edges = gh_xrealloc(x->edges, x->cap_e * sizeof(*x->edges));
    }
    gh_match_edge_t *e = &x->edges[x->ne++];
    e->a = (uint32_t)x->mi_of[wa];
    e->b = (uint32_t)x->mi_of[wb];
    e->kind = (uint8_t)kind;
    e->score = score;
}

static void keep_apart(run_t *x, long wa, long wb) {
    if (x->na == x->cap_a) {
        x->cap_a = x->cap_a ? x->cap_a * 2 : 16;
        x->apart = gh_xrealloc(x->apart, x->cap_a * sizeof(*x->apart));
    }
    x->apart[x->na][0] = (uint32_t)x->mi_of[wa];
    x->apart[x->na][1] = (uint32_t)x->mi_of[wb];
    x->na++;
}

/* Under a shared resolution lock: the blocking keys of working records
 * [from, nw), old (`old`, as they were stored) and new, locked before
 * anything is read or written under them. Their old keys' rows may go
 * first: only a record's own batch writes them. */
static gh_err_t lock_keys(run_t *x, size_t from, PGresult *old) {
    gh_resolver_t *r = x->r;
    for (int i = 0; i < PQntuples(old); i++)
        gh__res_lock_want(&x->lk,
                          gh__res_key_lock_id(gh__res_ival(old, i, 0, 0)));
    for (size_t i = from; i < r->nw; i++) {
        int64_t k[16];
        size_t nk = gh__res_rec_keys(r, i, k);
        for (size_t j = 0; j < nk; j++)
            gh__res_lock_want(&x->lk, gh__res_key_lock_id(k[j]));
    }
    return gh__res_lock_take(&x->lk, x->db, GH_RES_LOCK_KEYS, &x->a[3],
                             "lock blocking keys", x->errstr, x->errstr_size);
}

/* 1. The changed records in; their old blocking keys and pairs out. */
static gh_err_t step_changed(run_t *x, const int64_t *recs, size_t n) {
    if (!n) return GH_OK;
    gh_sqlarr_reset(&x->a[0]);
    for (size_t i = 0; i < n; i++)
        gh_sqlarr_int(&x->a[0], recs[i]);
    const char *p[1] = {gh_sqlarr_get(&x->a[0])};
    size_t from = x->r->nw;
    gh_err_t e = gh__res_load_rows(
        x->r, x->db,
        "SELECT " REC_COLS " FROM source_person WHERE rec_id = "
        "ANY($1::bigint[])",
        p[0], 1, "read changed records", x->errstr, x->errstr_size);
    if (!e && x->r->shared) {
        PGresult *old = gh_pg_query_what(
            x->db,
            "DELETE FROM person_block WHERE rec_id = ANY($1::bigint[]) "
            "RETURNING block_key",
            1, p, "drop blocking keys", x->errstr, x->errstr_size);
        if (!old) return pgerr(x);
        e = lock_keys(x, from, old);
        PQclear(old);
    } else if (!e) {
        e = gh_pg_exec_what(
            x->db, "DELETE FROM person_block WHERE rec_id = ANY($1::bigint[])",
            1, p, "drop blocking keys", x->errstr, x->errstr_size);
    }
    /* Its pairs are written by runs that hold a key of both records. */
    if (!e)
        e = gh_pg_exec_what(
            x->db,
            "DELETE FROM match_edge WHERE a = ANY($1::bigint[]) OR b = "
            "ANY($1::bigint[])",
            1, p, "drop scored pairs", x->errstr, x->errstr_size);
    return e;
}

/* 1b. A changed holder of a number changes what its borrowers borrow:
 * they are changed records too. */
static gh_err_t step_borrowers(run_t *x) {
    int64_t *extra = NULL;
    size_t n = 0;
    gh_err_t e = gh__res_borrowers(x->r, x->db, &x->a[0], &extra, &n, x->errstr,
                                   x->errstr_size);
    if (!e) e = step_changed(x, extra, n);
    free(extra);
    x->st->records += (long long)x->r->nw;
    return e;
}

/* 2. Blocking keys in, candidate pairs and their records out. */
static gh_err_t step_candidates(run_t *x) {
    gh_resolver_t *r = x->r;
    gh_err_t e = gh__res_block_and_pair(r, x->db, &x->a[1], &x->a[2], &x->pairs,
                                        &x->npairs, &x->oversize, x->errstr,
                                        x->errstr_size);
    if (e) return e;
    gh_sqlarr_reset(&x->a[0]);
    for (size_t i = 0; i < x->npairs; i++) {
        if (gh__res_find(r, x->pairs[i].a) < 0)
            gh_sqlarr_int(&x->a[0], x->pairs[i].a);
        if (gh__res_find(r, x->pairs[i].b) < 0)
            gh_sqlarr_int(&x->a[0], x->pairs[i].b);
    }
    if (x->a[0].n)
        e = gh__res_load_rows(r, x->db,
                              "SELECT " REC_COLS " FROM source_person WHERE "
                              "rec_id = ANY($1::bigint[])",
                              gh_sqlarr_get(&x->a[0]), 0, "read candidates",
                              x->errstr, x->errstr_size);
    if (!e)
        e = gh__res_lend(r, x->db, &x->a[0], r->shared ? &x->lk : NULL,
                         &x->a[3], x->errstr, x->errstr_size);
    return e;
}

/* 3. Score the candidate pairs. A link to a deleted record only names an
 * heir id (a resident entered again takes their old id back). */
static void step_score(run_t *x) {
    gh_resolver_t *r = x->r;
    x->fr = gh_xcalloc(x->npairs + 1, sizeof(*x->fr));
    for (size_t i = 0; i < x->npairs; i++) {
        long wa = gh__res_find(r, x->pairs[i].a),
             wb = gh__res_find(r, x->pairs[i].b);
        if (wa < 0 || wb < 0 || (r->w[wa].deleted && r->w[wb].deleted))
            continue;
        gh_match_explain_t ex;
        gh_match_decision_t d =
            gh_match_score(r->model, gh__res_mrec(r, (size_t)wa),
                           gh__res_mrec(r, (size_t)wb), &ex);
        x->st->pairs++;
        int link = d == GH_MATCH_LINK || d == GH_MATCH_LINK_ID;
        if (r->w[wa].deleted || r->w[wb].deleted) {
            wrec_t *live = &r->w[r->w[wa].deleted ? wb : wa];
            const wrec_t *dead = &r->w[r->w[wa].deleted ? wa : wb];
            if (link && dead->old_pid &&
                (!live->heir || strcmp(dead->old_pid, live->heir) < 0))
                live->heir = dead->old_pid;
            continue;
        }
        if (d == GH_MATCH_NONE) continue;
        fresh_t *f = &x->fr[x->nfr++];
        f->a = x->pairs[i].a;
        f->b = x->pairs[i].b;
        f->kind = d;
        f->score = ex.total;
        if (link) {
            x->st->links++;
            r->w[wa].member = r->w[wb].member = 1;
        } else {
            x->st->reviews++;
            f->evidence =
                gh__res_evidence_json(r->crypt, gh__res_mrec(r, (size_t)wa),
                                      gh__res_mrec(r, (size_t)wb), d, &ex);
        }
    }
}

/* 3b. Under a shared resolution lock: the persons the run reads, locked
 * before their records are read. A record read as a candidate may have
 * been moved to another person by a run that held its person (not its
 * keys) and committed since: read again, it brings that person into the
 * neighbourhood, until nothing moves. */
static gh_err_t step_lock_persons(run_t *x, const char *const *persons,
                                  size_t npersons) {
    gh_resolver_t *r = x->r;
    if (!r->shared) return GH_OK;
    for (size_t i = 0; i < r->nw; i++) {
        if (r->w[i].old_pid)
            gh__res_lock_want(&x->lp, gh__res_person_lock_id(r->w[i].old_pid));
        if (r->w[i].heir)
            gh__res_lock_want(&x->lp, gh__res_person_lock_id(r->w[i].heir));
    }
    for (size_t i = 0; i < npersons; i++)
        gh__res_lock_want(&x->lp, gh__res_person_lock_id(persons[i]));
    gh_sqlarr_reset(&x->a[0]);
    for (size_t i = 0; i < r->nw; i++) /* borrowers too: not ours */
        gh_sqlarr_int(&x->a[0], r->w[i].rec_id);
    const char *p[1] = {gh_sqlarr_get(&x->a[0])};
    for (int round = 0;; round++) {
        gh_err_t e =
            gh__res_lock_take(&x->lp, x->db, GH_RES_LOCK_PERSONS, &x->a[3],
                              "lock persons", x->errstr, x->errstr_size);
        if (e || !x->a[0].n) return e;
        PGresult *res = gh_pg_query_what(
            x->db,
            "SELECT rec_id, person_id FROM source_person WHERE rec_id = "
            "ANY($1::bigint[])",
            1, p, "read candidates' persons again", x->errstr, x->errstr_size);
        if (!res) return pgerr(x);
        gh__res_keep(r, res);
        int moved = 0;
        for (int i = 0; i < PQntuples(res); i++) {
            long w = gh__res_find(r, gh__res_ival(res, i, 0, 0));
            const char *now = gh__res_val(res, i, 1);
            const char *was = w < 0 ? NULL : r->w[w].old_pid;
            if (w < 0 || (!now && !was) || (now && was && !strcmp(now, was)))
                continue;
            r->w[w].old_pid = now;
            if (now) gh__res_lock_want(&x->lp, gh__res_person_lock_id(now));
            moved++;
        }
        if (!moved) return GH_OK;
        gh_log_debug(LOG,
                     "%d candidates moved to another person meanwhile "
                     "(round %d)",
                     moved, round + 1);
    }
}

static int would_be_member(const run_t *x, const wrec_t *w) {
    return !w->deleted &&
           (w->member || w->changed ||
            gh__res_in_strs(x->touched, x->ntouched, w->old_pid));
}

/* 4. The persons involved and all their live records: the members. */
static gh_err_t step_persons(run_t *x, const char *const *persons,
                             size_t npersons) {
    gh_resolver_t *r = x->r;
    for (size_t i = 0; i < r->nw; i++) {
        wrec_t *w = &r->w[i];
        if (w->changed && !w->deleted) w->member = 1;
        if ((w->changed || w->member) && w->old_pid) touch(x, w->old_pid);
    }
    for (size_t i = 0; i < npersons; i++)
        touch(x, persons[i]);
    x->ntouched = gh__res_uniq_strs(x->touched, x->ntouched);
    if (x->ntouched) {
        gh_sqlarr_reset(&x->a[0]);
        for (size_t i = 0; i < x->ntouched; i++)
            gh_sqlarr_text(&x->a[0], x->touched[i]);
        gh_err_t e = gh__res_load_rows(
            r, x->db,
            "SELECT " REC_COLS " FROM source_person WHERE person_id = "
            "ANY($1::text[]) AND NOT deleted",
            gh_sqlarr_get(&x->a[0]), 0, "read persons' records", x->errstr,
            x->errstr_size);
        if (e) return e;
    }
    x->members = gh_xcalloc(r->nw + 1, sizeof(size_t));
    x->mi_of = gh_xcalloc(r->nw + 1, sizeof(size_t));
    for (size_t i = 0; i < r->nw; i++) {
        wrec_t *w = &r->w[i];
        w->member = would_be_member(x, w);
        if (w->member) {
            x->mi_of[i] = x->nm;
            x->members[x->nm++] = i;
        }
    }
    return GH_OK;
}

/* 5. Cluster the members with the fresh links, the links kept from earlier
 * runs and the stewards' constraints. */
static gh_err_t step_cluster(run_t *x) {
    gh_resolver_t *r = x->r;
    for (size_t i = 0; i < x->nfr; i++)
        if (x->fr[i].kind == GH_MATCH_LINK || x->fr[i].kind == GH_MATCH_LINK_ID)
            edge(x, gh__res_find(r, x->fr[i].a), gh__res_find(r, x->fr[i].b),
                 x->fr[i].kind, stored_score(x->fr[i].score));
    if (x->nm) {
        gh_sqlarr_reset(&x->a[0]);
        for (size_t i = 0; i < x->nm; i++)
            gh_sqlarr_int(&x->a[0], r->w[x->members[i]].rec_id);
        const char *p[1] = {gh_sqlarr_get(&x->a[0])};
        PGresult *links = gh_pg_query_what(
            x->db,
            "SELECT a, b, kind, score FROM match_edge WHERE kind IN "
            "(2, 3) AND a = ANY($1::bigint[]) AND b = "
            "ANY($1::bigint[])",
            1, p, "read links", x->errstr, x->errstr_size);
        if (!links) return pgerr(x);
        gh__res_keep(r, links);
        PGresult *cons = gh_pg_query_what(
            x->db,
            "SELECT a, b, kind FROM steward_constraint WHERE a = "
            "ANY($1::bigint[]) OR b = ANY($1::bigint[])",
            1, p, "read steward constraints", x->errstr, x->errstr_size);
        if (!cons) return pgerr(x);
        gh__res_keep(r, cons);
        for (int i = 0; i < PQntuples(links) + PQntuples(cons); i++) {
            int is_link = i < PQntuples(links);
            PGresult *res = is_link ? links : cons;
            int row = is_link ? i : i - PQntuples(links);
            long wa = gh__res_find(r, gh__res_ival(res, row, 0, 0)),
                 wb = gh__res_find(r, gh__res_ival(res, row, 1, 0));
            if (wa < 0 || wb < 0 || !r->w[wa].member || !r->w[wb].member)
                continue;
            if (is_link)
                edge(x, wa, wb, (int)gh__res_ival(res, row, 2, 2),
                     strtof(PQgetvalue(res, row, 3), NULL));
            else if (!strcmp(PQgetvalue(res, row, 2), "merge"))
                edge(x, wa, wb, GH_MATCH_FORCED, 0);
            else
                keep_apart(x, wa, wb);
        }
    }
    /* The batch's clustering (gridhub resolve): two different valid ID
     * numbers are two people, never joined unless a steward forced it, and
     * a record fitting two of them equally well is left alone. */
    uint32_t *cl = gh_xcalloc(x->nm + 1, sizeof(uint32_t));
    uint64_t *anchor = gh_xcalloc(x->nm + 1, sizeof(uint64_t));
    for (size_t i = 0; i < x->nm; i++)
        anchor[i] = gh_match_anchor(gh__res_mrec(r, x->members[i]));
    gh_match_cluster_stats_t cs;
    gh_match_cluster(x->nm, x->edges, &x->ne, (const uint32_t(*)[2])x->apart,
                     x->na, anchor, cl, &cs);
    x->st->ambiguous += (long long)cs.ambiguous;
    free(anchor);
    /* clusters, members sorted by (department, source_key) */
    size_t *comp_of_root = gh_xcalloc(x->nm + 1, sizeof(size_t));
    size_t *count = gh_xcalloc(x->nm + 1, sizeof(size_t));
    for (size_t i = 0; i < x->nm; i++)
        comp_of_root[i] = SIZE_MAX;
    for (size_t i = 0; i < x->nm; i++) {
        if (comp_of_root[cl[i]] == SIZE_MAX) comp_of_root[cl[i]] = x->ncomp++;
        count[comp_of_root[cl[i]]]++;
    }
    x->comps = gh_xcalloc(x->ncomp + 1, sizeof(*x->comps));
    x->mem = gh_xcalloc(x->nm + 1, sizeof(size_t));
    size_t off = 0;
    for (size_t c = 0; c < x->ncomp; c++) {
        x->comps[c].mem = x->mem + off;
        off += count[c];
    }
    for (size_t i = 0; i < x->nm; i++) {
        comp_t *c = &x->comps[comp_of_root[cl[i]]];
        c->mem[c->n++] = x->members[i];
        r->w[x->members[i]].comp = (int)comp_of_root[cl[i]];
    }
    for (size_t c = 0; c < x->ncomp; c++)
        qsort_r(x->comps[c].mem, x->comps[c].n, sizeof(size_t),
                gh__res_cmp_member, r);
    free(cl);
    free(comp_of_root);
    free(count);
    return GH_OK;
}

/* 6. Person ids: old ones kept, emptied ones taken back, new ones drawn. */
static gh_err_t step_ids(run_t *x) {
    gh_resolver_t *r = x->r;
    char **dormant = NULL;
    size_t ndormant = 0;
    gh_sqlarr_reset(&x->a[0]);
    for (size_t i = 0; i < x->nm; i++) {
        const char *h = r->w[x->members[i]].heir;
        if (h && !gh__res_in_strs(x->touched, x->ntouched, h))
            gh_sqlarr_text(&x->a[0], h);
    }
    if (x->a[0].n) {
        const char *p[1] = {gh_sqlarr_get(&x->a[0])};
        PGresult *res = gh_pg_query_what(
            x->db,
            "SELECT person_id FROM person WHERE person_id = "
            "ANY($1::text[]) AND NOT active AND merged_into IS NULL "
            "ORDER BY person_id COLLATE \"C\"",
            1, p, "read emptied persons", x->errstr, x->errstr_size);
        if (!res) return pgerr(x);
        gh__res_keep(r, res);
        ndormant = (size_t)PQntuples(res);
        dormant = gh_xcalloc(ndormant + 1, sizeof(char *));
        for (size_t i = 0; i < ndormant; i++)
            dormant[i] = PQgetvalue(res, (int)i, 0);
    }
    size_t need =
        gh__res_assign_ids(r, x->comps, x->ncomp, x->touched, x->ntouched,
                           dormant, ndormant, &x->ret, &x->into, &x->nret);
    free(dormant);
    x->st->retired += (long long)x->nret;
    if (!need) return GH_OK;
    char k[32];
    snprintf(k, sizeof(k), "%zu", need);
    const char *p[1] = {k};
    PGresult *res = gh_pg_query_what(
        x->db,
        "SELECT 'P' || lpad(nextval('person_id_seq')::text, 9, '0') FROM "
        "generate_series(1, $1::int)",
        1, p, "allocate person ids", x->errstr, x->errstr_size);
    if (!res) return pgerr(x);
    gh__res_keep(r, res);
    int j = 0;
    for (size_t c = 0; c < x->ncomp; c++)
        if (x->comps[c].new_id) x->comps[c].pid = PQgetvalue(res, j++, 0);
    return GH_OK;
}

/* 7. The scored pairs and the records' persons. Deleted records keep
 * their last person (see heir). */
static gh_err_t step_write(run_t *x) {
    gh_resolver_t *r = x->r;
    gh_err_t e = GH_OK;
    if (x->nfr) {
        gh_sqlarr_t col[5];
        memset(col, 0, sizeof(col));
        for (int k = 0; k < 5; k++)
            gh_sqlarr_reset(&col[k]);
        for (size_t i = 0; i < x->nfr; i++) {
            char sc[32];
            snprintf(sc, sizeof(sc), "%.4f", x->fr[i].score);
            gh_sqlarr_int(&col[0], x->fr[i].a);
            gh_sqlarr_int(&col[1], x->fr[i].b);
            gh_sqlarr_int(&col[2], x->fr[i].kind);
            gh_sqlarr_text(&col[3], sc);
            gh_sqlarr_text(&col[4], x->fr[i].evidence);
        }
        const char *p[5];
        for (int k = 0; k < 5; k++)
            p[k] = gh_sqlarr_get(&col[k]);
        e = gh_pg_exec_what(
            x->db,
            "INSERT INTO match_edge (a, b, kind, score, evidence) SELECT "
            "* FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], "
            "$4::real[], $5::jsonb[]) ON CONFLICT (a, b) DO UPDATE SET "
            "kind = EXCLUDED.kind, score = EXCLUDED.score, evidence = "
            "EXCLUDED.evidence",
            5, p, "write scored pairs", x->errstr, x->errstr_size);
        for (int k = 0; k < 5; k++)
            gh_sqlarr_free(&col[k]);
        if (e) return e;
    }
    gh_sqlarr_reset(&x->a[0]);
    gh_sqlarr_reset(&x->a[1]);
    for (size_t i = 0; i < x->nm; i++) {
        const wrec_t *w = &r->w[x->members[i]];
        const char *now = x->comps[w->comp].pid;
        if (w->old_pid && !strcmp(now, w->old_pid)) continue;
        gh_sqlarr_int(&x->a[0], w->rec_id);
        gh_sqlarr_text(&x->a[1], now);
    }
    if (!x->a[0].n) return GH_OK;
    const char *p[2] = {gh_sqlarr_get(&x->a[0]), gh_sqlarr_get(&x->a[1])};
    return gh_pg_exec_what(
        x->db,
        "UPDATE source_person s SET person_id = u.pid FROM "
        "unnest($1::bigint[], $2::text[]) AS u(rec, pid) WHERE "
        "s.rec_id = u.rec",
        2, p, "assign persons", x->errstr, x->errstr_size);
}

/* 8. Retired ids: a steward's choices move to the survivor; tombstones. */
static gh_err_t step_retire(run_t *x) {
    if (!x->nret) return GH_OK;
    gh_sqlarr_reset(&x->a[0]);
    gh_sqlarr_reset(&x->a[1]);
    for (size_t i = 0; i < x->nret; i++) {
        gh_sqlarr_text(&x->a[0], x->ret[i]);
        gh_sqlarr_text(&x->a[1], x->into[i]);
    }
    const char *p[2] = {gh_sqlarr_get(&x->a[0]), gh_sqlarr_get(&x->a[1])};
    gh_err_t e = gh_pg_exec_what(
        x->db,
        "WITH m AS (DELETE FROM person_override o USING unnest($1::text[], "
        "$2::text[]) AS u(pid, into_pid) WHERE o.person_id = u.pid RETURNING "
        "u.into_pid, o.field, o.value, o.decision_id, o.chosen_at) INSERT "
        "INTO person_override SELECT * FROM m WHERE into_pid IS NOT NULL ON "
        "CONFLICT DO NOTHING",
        2, p, "move steward choices", x->errstr, x->errstr_size);
    if (e) return e;
    PGresult *res = gh_pg_query_what(
        x->db,
        "UPDATE person p SET active = false, merged_into = u.into_pid, "
        "version = p.version + 1, sources = '[]', provenance = '[]', "
        "updated_at = now() FROM unnest($1::text[], $2::text[]) AS u(pid, "
        "into_pid) WHERE p.person_id = u.pid AND p.active RETURNING "
        "p.person_id, p.version",
        2, p, "retire persons", x->errstr, x->errstr_size);
    if (!res) return pgerr(x);
    /* Deferred like the golden records (gh_resolver_defer_feed): the
     * tombstones go out with whatever publishes the notes, under the
     * views lock, never beside a publication of the same person. */
    for (int i = 0; (x->r->feed || x->r->defer_feed) && i < PQntuples(res);
         i++) {
        if (x->r->defer_feed)
            gh_sqlarr_text(&x->r->written, PQgetvalue(res, i, 0));
        else
            gh_feed_gone(x->r->feed, x->r->feed_entity, PQgetvalue(res, i, 0),
                         gh__res_ival(res, i, 1, 0));
    }
    PQclear(res);
    return GH_OK;
}

/* 9. Golden records; the persons that changed get a version and go to the
 * feed. */
static gh_err_t step_golden(run_t *x) {
    gh_resolver_t *r = x->r;
    if (!x->ncomp) return GH_OK;
    gh_sqlarr_reset(&x->a[0]);
    for (size_t c = 0; c < x->ncomp; c++)
        gh_sqlarr_text(&x->a[0], x->comps[c].pid);
    const char *p[1] = {gh_sqlarr_get(&x->a[0])};
    PGresult *ovr = gh_pg_query_what(
        x->db,
        "SELECT person_id, field, value, floor(extract(epoch from chosen_at) "
        "* 1000000)::bigint FROM person_override WHERE person_id = "
        "ANY($1::text[]) ORDER BY person_id COLLATE \"C\"",
        1, p, "read steward choices", x->errstr, x->errstr_size);
    if (!ovr) return pgerr(x);
    gh__res_keep(r, ovr);
    static const int ovcol[1] = {2};
    static const char *const ovfield[1] = {"override"};
    gh_err_t oe = gh_crypt_open_result(r->crypt, ovr, ovcol, ovfield, 1,
                                       x->errstr, x->errstr_size);
    if (oe) return oe;
    PGresult *cur =
        gh_pg_query_what(x->db,
                         "SELECT person_id, absorbed_ids::text FROM "
                         "person WHERE person_id = ANY($1::text[]) ORDER "
                         "BY person_id COLLATE \"C\"",
                         1, p, "read persons", x->errstr, x->errstr_size);
    if (!cur) return pgerr(x);
    gh__res_keep(r, cur);
    gh__res_golden_t g;
    gh__res_golden_begin(&g);
    for (size_t c = 0; c < x->ncomp; c++)
        gh__res_golden_add(r, &g, &x->comps[c], ovr, cur, x->ret, x->into,
                           x->nret, &x->items, &x->nitems);
    PGresult *res = NULL;
    gh_err_t e = gh__res_golden_write(x->db, &g, r->defer_feed, &res, x->errstr,
                                      x->errstr_size);
    if (e) return e;
    gh__res_keep(r, res);
    if (!r->defer_feed)
        e = gh__res_open_person(r, res, x->errstr, x->errstr_size);
    for (int i = 0; i < PQntuples(res) && !e; i++) {
        if (r->defer_feed)
            gh_sqlarr_text(&r->written, PQgetvalue(res, i, 0));
        else
            e = gh__res_feed_row(r, res, i, x->errstr, x->errstr_size);
    }
    if (!e && !r->defer_feed && r->feed && PQntuples(res))
        e = gh__res_mark_published(x->db, res, x->errstr, x->errstr_size);
    x->st->persons += PQntuples(res);
    return e;
}

/* Adds the time since *t to the total of step k (0-based). */
static void phase(gh_resolve_stats_t *st, int64_t *t, int k) {
    int64_t now = gh_now_us();
    st->us[k] += now - *t;
    *t = now;
}

gh_err_t gh_resolver_run(gh_resolver_t *r, PGconn *db, const int64_t *recs,
                         size_t nrecs, const char *const *persons,
                         size_t npersons, gh_resolve_stats_t *st, char *errstr,
                         size_t errstr_size) {
    gh_resolve_stats_t local;
    memset(&local, 0, sizeof(local));
    run_t x;
    memset(&x, 0, sizeof(x));
    x.r = r;
    x.db = db;
    x.st = st ? st : &local;
    x.errstr = errstr;
    x.errstr_size = errstr_size;
    gh__res_reset_run(r);
    /* Deferring, the feed is left alone: it may be another thread's. */
    gh_feed_t *feed = r->defer_feed ? NULL : r->feed;
    if (feed) gh_feed_discard(feed);
    int64_t t = gh_now_us();
    gh_err_t e = step_changed(&x, recs, nrecs);
    if (!e) e = step_borrowers(&x);
    phase(x.st, &t, 0);
    if (!e) e = step_candidates(&x);
    phase(x.st, &t, 1);
    if (!e) step_score(&x);
    phase(x.st, &t, 2);
    if (!e) e = step_lock_persons(&x, persons, npersons);
    if (!e) e = step_persons(&x, persons, npersons);
    phase(x.st, &t, 3);
    if (!e) e = step_cluster(&x);
    phase(x.st, &t, 4);
    if (!e) e = step_ids(&x);
    phase(x.st, &t, 5);
    if (!e) e = step_write(&x);
    phase(x.st, &t, 6);
    if (!e) e = step_retire(&x);
    phase(x.st, &t, 7);
    if (!e) e = step_golden(&x);
    if (!e && feed) e = gh_feed_flush(feed, db, NULL, errstr, errstr_size);
    if (feed) gh_feed_discard(feed); /* what a failed run left */
    phase(x.st, &t, 8);
    if (!e)
        e = gh__res_refresh_items(r, db, x.members, x.nm, x.touched, x.ntouched,
                                  x.ret, x.nret, x.comps, x.ncomp, x.items,
                                  x.nitems, x.st, errstr, errstr_size);
    phase(x.st, &t, 9);
    if (x.oversize)
        gh_log_debug(LOG, "%lld blocks over match.block.max.size skipped",
                     x.oversize);
    for (size_t i = 0; i < x.nfr; i++)
        free(x.fr[i].evidence);
    for (size_t i = 0; i < x.nitems; i++)
        free(x.items[i].evidence);
    free(x.items);
    free(x.fr);
    free(x.pairs);
    free(x.touched);
    free(x.ret);
    free(x.into);
    free(x.members);
    free(x.mi_of);
    free(x.mem);
    free(x.comps);
    free(x.edges);
    free(x.apart);
    for (int k = 0; k < 4; k++) {
        gh_sqlarr_free(&x.a[k]);
    }
    gh__res_lock_free(&x.lk);
    gh__res_lock_free(&x.lp);
    return e;
}
