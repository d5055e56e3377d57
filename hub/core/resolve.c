#include "resolve_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

#define LOG "resolve"

const gh_conf_prop_t gh_resolver_own_props[] = {
    {"match.em.on.start", GH_CONF_BOOL, "true", 0, 0, 0, NULL, NULL,
     "Train the match model by EM on a sample of the hub's source records "
     "at start (when there are at least 1000); pinned values stay."},
    {"steward.conflict.fields", GH_CONF_LIST, "grid_code", 0, 0, 0, NULL, NULL,
     "Golden fields for which a disagreement between departments opens an "
     "attribute_conflict item: when a department other than the chosen one "
     "holds a different, more recent value."},
    {"steward.apart.max.pairs", GH_CONF_INT, "400", 0, 1, 100000, NULL, NULL,
     "Most record pairs a keep-apart or split decision records."},
    GH_CONF_END};

/* ---- lifecycle -------------------------------------------------------- */

gh_resolver_t *gh_resolver_new(const gh_conf_t *conf, gh_serde_t *serde,
                               const gh_schema_t *view,
                               const char *const *topics, char *errstr,
                               size_t errstr_size) {
    gh_resolver_t *r = gh_xcalloc(1, sizeof(*r));
    r->conf = conf;
    r->model = gh_match_model_new(conf, errstr, errstr_size);
    if (!r->model) {
        free(r);
        return NULL;
    }
    r->golden = gh_golden_new(conf);
    while (topics && topics[r->ntopics])
        r->ntopics++;
    r->topics = gh_xcalloc((size_t)r->ntopics + 1, sizeof(char *));
    r->views = gh_xcalloc((size_t)r->ntopics + 1, sizeof(gh_view_t *));
    for (int i = 0; i < r->ntopics; i++) {
        r->topics[i] = gh_xstrdup(topics[i]);
        r->views[i] = gh_view_new(serde, view, topics[i], errstr, errstr_size);
        if (!r->views[i]) {
            gh_resolver_destroy(r);
            return NULL;
        }
    }
    r->block_max = conf ? gh_conf_get_int(conf, "match.block.max.size") : 0;
    if (r->block_max <= 0) r->block_max = 1000;
    r->apart_max =
        conf ? (int)gh_conf_get_int(conf, "steward.apart.max.pairs") : 400;
    if (r->apart_max <= 0) r->apart_max = 400;
    const char *cf = conf ? gh_conf_get(conf, "steward.conflict.fields") : NULL;
    char *copy = gh_xstrdup(cf ? cf : "grid_code"), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t;
         t = strtok_r(NULL, ", ", &save)) {
        int f = gh_golden_field_index(t);
        if (f < 0) {
            gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "steward.conflict.fields: \"%s\" is not a golden field "
                      "(id_number, name, sex, birth_date, phone, address, "
                      "grid_code)",
                      t);
            free(copy);
            gh_resolver_destroy(r);
            return NULL;
        }
        r->conflict_field[f] = 1;
    }
    free(copy);
    r->set = gh_match_set_new();
    return r;
}

void gh_resolver_destroy(gh_resolver_t *r) {
    if (!r) return;
    gh_match_model_destroy(r->model);
    gh_golden_destroy(r->golden);
    for (int i = 0; i < r->ntopics; i++) {
        free(r->topics[i]);
        gh_view_destroy(r->views[i]);
    }
    free(r->topics);
    free(r->views);
    gh_match_set_destroy(r->set);
    free(r->w);
    free(r->hkeys);
    free(r->hvals);
    free(r->keep);
    gh_buf_free(&r->buf);
    free(r);
}

const struct gh_match_model *gh_resolver_model(const gh_resolver_t *r) {
    return r->model;
}

void gh_resolver_count_name(gh_resolver_t *r, const char *n_name,
                            const char *n_pinyin, int delta) {
    if (!n_name || !*n_name) return;
    gh_match_rec_t m;
    memset(&m, 0, sizeof(m));
    m.name = n_name;
    m.pinyin = n_pinyin;
    m.birth = GH_MATCH_NO_DATE;
    gh_match_model_tf_add(r->model, &m, delta);
}

gh_err_t gh_resolver_lock(PGconn *db, char *errstr, size_t errstr_size) {
    /* An arbitrary constant: persons are written by one transaction at a
     * time (hub batches, steward actions). */
    return gh_pg_exec(db, "SELECT pg_advisory_xact_lock(7274001)", errstr,
                      errstr_size);
}

gh_err_t gh_resolver_prepare(gh_resolver_t *r, PGconn *db, char *errstr,
                             size_t errstr_size) {
    PGresult *res =
        gh__res_q(db,
                  "SELECT n_name, min(n_pinyin), count(*) FROM "
                  "source_person WHERE NOT deleted AND n_name IS NOT NULL "
                  "GROUP BY n_name",
                  0, NULL, "read name frequencies", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    for (int i = 0; i < PQntuples(res); i++)
        gh_resolver_count_name(r, gh__res_val(res, i, 0),
                               gh__res_val(res, i, 1),
                               (int)gh__res_ival(res, i, 2, 1));
    int n = PQntuples(res);
    PQclear(res);
    if (r->conf && !gh_conf_get_bool(r->conf, "match.em.on.start"))
        return GH_OK;
    res = gh__res_q(db, "SELECT count(*) FROM source_person WHERE NOT deleted",
                    0, NULL, "count source records", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    long long total = gh__res_ival(res, 0, 0, 0);
    PQclear(res);
    if (total < 1000) return GH_OK;
    /* A sample of whole blocks would be better for m; a random sample of
     * records is what EM over blocked pairs needs to stay unbiased for u. */
    char lim[32];
    snprintf(lim, sizeof(lim), "%d", 200000);
    const char *p[1] = {lim};
    res = gh__res_q(db,
                    "SELECT " REC_COLS " FROM source_person WHERE NOT deleted "
                    "ORDER BY rec_id LIMIT $1",
                    1, p, "sample source records", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    gh_match_set_clear(r->set);
    r->nw = 0;
    memset(r->hvals, 0, r->hmask ? (r->hmask + 1) * sizeof(uint32_t) : 0);
    for (int i = 0; i < PQntuples(res); i++)
        gh__res_add_row(r, res, i, 0);
    char why[256];
    gh_err_t e = gh_match_model_train(r->model, r->set, NULL, why, sizeof(why));
    if (e)
        gh_log_warn(LOG, "model not trained: %s", why);
    else {
        int conv = 0, it = gh_match_model_iterations(r->model, &conv);
        gh_log_info(LOG,
                    "model trained by EM on %d of %lld records (%d names): "
                    "%d iterations, %s; lambda %.4f",
                    PQntuples(res), total, n, it,
                    conv ? "converged" : "not converged",
                    gh_match_model_lambda(r->model));
    }
    gh_match_set_clear(r->set);
    r->nw = 0;
    memset(r->hvals, 0, r->hmask ? (r->hmask + 1) * sizeof(uint32_t) : 0);
    PQclear(res);
    return GH_OK;
}

/* Adds the time since *t to phase k's total (the step before marker k). */
static void phase(gh_resolve_stats_t *st, int64_t *t, int k) {
    int64_t now = gh_now_us();
    if (k > 0) st->us[k - 1] += now - *t;
    *t = now;
}

gh_err_t gh_resolver_run(gh_resolver_t *r, PGconn *db, const int64_t *recs,
                         size_t nrecs, const char *const *persons,
                         size_t npersons, gh_resolve_stats_t *st, char *errstr,
                         size_t errstr_size) {
    gh_resolve_stats_t local;
    if (!st) {
        memset(&local, 0, sizeof(local));
        st = &local;
    }
    gh__res_reset_run(r);
    int64_t t_phase = gh_now_us();
    gh_err_t e = GH_OK;
    gh_sqlarr_t a[8];
    memset(a, 0, sizeof(a));
    pair_t *pairs = NULL;
    size_t npairs = 0;
    fresh_t *fr = NULL;
    size_t nfr = 0;
    char **touched = NULL, **ret = NULL, **newids = NULL;
    const char **into = NULL;
    size_t ntouched = 0, nret = 0, ncomp = 0, nitems = 0;
    size_t *mem = NULL, *members = NULL;
    uint32_t *cl = NULL;
    comp_t *comps = NULL;
    item_t *items = NULL;
    gh_match_edge_t *edges = NULL;
    uint32_t(*apart)[2] = NULL;
    long long oversize = 0;
    const char *p[8];
    PGresult *res;

    phase(st, &t_phase, 0);

    /* 1. the changed records, old blocking keys and pairs out */
    gh_sqlarr_reset(&a[0]);
    for (size_t i = 0; i < nrecs; i++)
        gh_sqlarr_int(&a[0], recs[i]);
    p[0] = gh_sqlarr_get(&a[0]);
    if (nrecs) {
        e = gh__res_load_rows(
            r, db,
            "SELECT " REC_COLS " FROM source_person WHERE rec_id = "
            "ANY($1::bigint[])",
            p[0], 1, "read changed records", errstr, errstr_size);
        if (e) goto out;
        res = gh__res_q(
            db, "DELETE FROM person_block WHERE rec_id = ANY($1::bigint[])", 1,
            p, "drop blocking keys", errstr, errstr_size);
        if (!res) goto pgerr;
        PQclear(res);
        res = gh__res_q(
            db,
            "DELETE FROM match_edge WHERE a = ANY($1::bigint[]) OR b = "
            "ANY($1::bigint[])",
            1, p, "drop scored pairs", errstr, errstr_size);
        if (!res) goto pgerr;
        PQclear(res);
    }
    st->records += (long long)r->nw;

    phase(st, &t_phase, 1);

    /* 2. blocking keys in, candidates out */
    e = gh__res_block_and_pair(r, db, &a[1], &a[2], &pairs, &npairs, &oversize,
                               errstr, errstr_size);
    if (e) goto out;
    gh_sqlarr_reset(&a[0]);
    for (size_t i = 0; i < npairs; i++) {
        if (gh__res_find(r, pairs[i].a) < 0) gh_sqlarr_int(&a[0], pairs[i].a);
        if (gh__res_find(r, pairs[i].b) < 0) gh_sqlarr_int(&a[0], pairs[i].b);
    }
    if (a[0].n) {
        e = gh__res_load_rows(
            r, db,
            "SELECT " REC_COLS " FROM source_person WHERE rec_id = "
            "ANY($1::bigint[])",
            gh_sqlarr_get(&a[0]), 0, "read candidates", errstr, errstr_size);
        if (e) goto out;
    }

    phase(st, &t_phase, 2);

    /* 3. score */
    fr = gh_xcalloc(npairs ? npairs : 1, sizeof(*fr));
    size_t cap_t = 16;
    touched = gh_xcalloc(cap_t, sizeof(char *));
    for (size_t i = 0; i < npairs; i++) {
        long wa = gh__res_find(r, pairs[i].a), wb = gh__res_find(r, pairs[i].b);
        if (wa < 0 || wb < 0 || (r->w[wa].deleted && r->w[wb].deleted))
            continue;
        gh_match_explain_t ex;
        gh_match_decision_t d =
            gh_match_score(r->model, gh__res_mrec(r, (size_t)wa),
                           gh__res_mrec(r, (size_t)wb), &ex);
        st->pairs++;
        if (r->w[wa].deleted || r->w[wb].deleted) {
            /* A link to a deleted record names an heir id, nothing more. */
            long live = r->w[wa].deleted ? wb : wa;
            const wrec_t *dead = &r->w[r->w[wa].deleted ? wa : wb];
            if ((d == GH_MATCH_LINK || d == GH_MATCH_LINK_ID) &&
                dead->old_pid &&
                (!r->w[live].heir ||
                 strcmp(dead->old_pid, r->w[live].heir) < 0))
                r->w[live].heir = dead->old_pid;
            continue;
        }
        if (d == GH_MATCH_NONE) continue;
        fresh_t *f = &fr[nfr++];
        f->a = pairs[i].a;
        f->b = pairs[i].b;
        f->kind = d;
        f->score = ex.total;
        if (d == GH_MATCH_REVIEW || d == GH_MATCH_ID_CONFLICT) {
            st->reviews++;
            f->evidence =
                gh__res_evidence_json(gh__res_mrec(r, (size_t)wa),
                                      gh__res_mrec(r, (size_t)wb), d, &ex);
        } else {
            st->links++;
            r->w[wa].member = r->w[wb].member = 1;
        }
    }

    phase(st, &t_phase, 3);

    /* 4. the persons involved, all their records */
    for (size_t i = 0; i < r->nw; i++) {
        wrec_t *x = &r->w[i];
        if (x->changed && !x->deleted) x->member = 1;
        if ((x->changed || x->member) && x->old_pid) {
            if (ntouched == cap_t) {
                cap_t *= 2;
                touched = gh_xrealloc(touched, cap_t * sizeof(char *));
            }
            touched[ntouched++] = (char *)x->old_pid;
        }
    }
    for (size_t i = 0; i < npersons; i++) {
        if (ntouched == cap_t) {
            cap_t *= 2;
            touched = gh_xrealloc(touched, cap_t * sizeof(char *));
        }
        touched[ntouched++] = (char *)persons[i];
    }
    ntouched = gh__res_uniq_strs(touched, ntouched);
    if (ntouched) {
        gh_sqlarr_reset(&a[0]);
        for (size_t i = 0; i < ntouched; i++)
            gh_sqlarr_text(&a[0], touched[i]);
        e = gh__res_load_rows(r, db,
                              "SELECT " REC_COLS
                              " FROM source_person WHERE person_id "
                              "= ANY($1::text[]) AND NOT deleted",
                              gh_sqlarr_get(&a[0]), 0, "read persons' records",
                              errstr, errstr_size);
        if (e) goto out;
    }
    /* Strings of later results may alias touched[]: keep them; touched
     * itself points into results kept for the run or into `persons`. */
    size_t nm = 0;
    members = gh_xcalloc(r->nw ? r->nw : 1, sizeof(size_t));
    for (size_t i = 0; i < r->nw; i++) {
        wrec_t *x = &r->w[i];
        if (!x->deleted && (x->member || x->changed ||
                            gh__res_in_strs(touched, ntouched, x->old_pid)))
            x->member = 1;
        else
            x->member = 0;
        if (x->member) members[nm++] = i;
    }

    phase(st, &t_phase, 4);

    /* 5. cluster the members: kept links, fresh links, constraints */
    size_t *mi_of = gh_xcalloc(r->nw ? r->nw : 1, sizeof(size_t));
    gh_sqlarr_reset(&a[0]);
    for (size_t i = 0; i < nm; i++) {
        mi_of[members[i]] = i;
        gh_sqlarr_int(&a[0], r->w[members[i]].rec_id);
    }
    p[0] = gh_sqlarr_get(&a[0]);
    size_t ne = 0, cap_e = nfr + 16, na = 0, cap_a = 16;
    edges = gh_xcalloc(cap_e, sizeof(*edges));
    apart = gh_xcalloc(cap_a, sizeof(*apart));
    for (size_t i = 0; i < nfr; i++) {
        if (fr[i].kind != GH_MATCH_LINK && fr[i].kind != GH_MATCH_LINK_ID)
            continue;
        long wa = gh__res_find(r, fr[i].a), wb = gh__res_find(r, fr[i].b);
        edges[ne].a = (uint32_t)mi_of[wa];
        edges[ne].b = (uint32_t)mi_of[wb];
        edges[ne].score = (float)fr[i].score;
        edges[ne].kind = (uint8_t)fr[i].kind;
        ne++;
    }
    if (nm) {
        res = gh__res_q(
            db,
            "SELECT a, b, kind, score FROM match_edge WHERE kind IN (2, 3) "
            "AND a = ANY($1::bigint[]) AND b = ANY($1::bigint[])",
            1, p, "read links", errstr, errstr_size);
        if (!res) {
            free(mi_of);
            goto pgerr;
        }
        for (int i = 0; i < PQntuples(res); i++) {
            long wa = gh__res_find(r, gh__res_ival(res, i, 0, 0)),
                 wb = gh__res_find(r, gh__res_ival(res, i, 1, 0));
            if (wa < 0 || wb < 0 || !r->w[wa].member || !r->w[wb].member)
                continue;
            if (ne == cap_e) {
                cap_e *= 2;
                edges = gh_xrealloc(edges, cap_e * sizeof(*edges));
            }
            edges[ne].a = (uint32_t)mi_of[wa];
            edges[ne].b = (uint32_t)mi_of[wb];
            edges[ne].kind = (uint8_t)gh__res_ival(res, i, 2, 2);
            edges[ne].score = (float)strtod(PQgetvalue(res, i, 3), NULL);
            ne++;
        }
        PQclear(res);
        res = gh__res_q(db,
                        "SELECT a, b, kind FROM steward_constraint WHERE a = "
                        "ANY($1::bigint[]) OR b = ANY($1::bigint[])",
                        1, p, "read steward constraints", errstr, errstr_size);
        if (!res) {
            free(mi_of);
            goto pgerr;
        }
        for (int i = 0; i < PQntuples(res); i++) {
            long wa = gh__res_find(r, gh__res_ival(res, i, 0, 0)),
                 wb = gh__res_find(r, gh__res_ival(res, i, 1, 0));
            if (wa < 0 || wb < 0 || !r->w[wa].member || !r->w[wb].member)
                continue;
            if (!strcmp(PQgetvalue(res, i, 2), "merge")) {
                if (ne == cap_e) {
                    cap_e *= 2;
                    edges = gh_xrealloc(edges, cap_e * sizeof(*edges));
                }
                edges[ne].a = (uint32_t)mi_of[wa];
                edges[ne].b = (uint32_t)mi_of[wb];
                edges[ne].kind = GH_MATCH_FORCED;
                edges[ne].score = 0;
                ne++;
            } else {
                if (na == cap_a) {
                    cap_a *= 2;
                    apart = gh_xrealloc(apart, cap_a * sizeof(*apart));
                }
                apart[na][0] = (uint32_t)mi_of[wa];
                apart[na][1] = (uint32_t)mi_of[wb];
                na++;
            }
        }
        PQclear(res);
    }
    cl = gh_xcalloc(nm ? nm : 1, sizeof(uint32_t));
    gh_match_cluster(nm, edges, ne, (const uint32_t(*)[2])apart, na, cl);
    free(mi_of);
    /* clusters, members sorted by (department, source_key) */
    size_t *root_comp = gh_xcalloc(nm ? nm : 1, sizeof(size_t));
    for (size_t i = 0; i < nm; i++)
        root_comp[i] = SIZE_MAX;
    comps = gh_xcalloc(nm ? nm : 1, sizeof(*comps));
    mem = gh_xcalloc(nm ? nm : 1, sizeof(size_t));
    size_t *count = gh_xcalloc(nm ? nm : 1, sizeof(size_t));
    for (size_t i = 0; i < nm; i++) {
        if (root_comp[cl[i]] == SIZE_MAX) root_comp[cl[i]] = ncomp++;
        count[root_comp[cl[i]]]++;
    }
    size_t off = 0;
    for (size_t c = 0; c < ncomp; c++) {
        comps[c].mem = mem + off;
        off += count[c];
    }
    for (size_t i = 0; i < nm; i++) {
        comp_t *c = &comps[root_comp[cl[i]]];
        c->mem[c->n++] = members[i];
        r->w[members[i]].comp = (int)root_comp[cl[i]];
    }
    free(count);
    free(root_comp);
    for (size_t c = 0; c < ncomp; c++)
        qsort_r(comps[c].mem, comps[c].n, sizeof(size_t), gh__res_cmp_member,
                r);

    phase(st, &t_phase, 5);

    /* 6. person ids */
    char **dormant = NULL;
    size_t ndormant = 0;
    gh_sqlarr_reset(&a[0]);
    for (size_t i = 0; i < nm; i++) {
        const char *h = r->w[members[i]].heir;
        if (h && !gh__res_in_strs(touched, ntouched, h))
            gh_sqlarr_text(&a[0], h);
    }
    if (a[0].n) {
        p[0] = gh_sqlarr_get(&a[0]);
        res =
            gh__res_q(db,
                      "SELECT person_id FROM person WHERE person_id = "
                      "ANY($1::text[]) AND NOT active AND merged_into IS NULL "
                      "ORDER BY person_id COLLATE \"C\"",
                      1, p, "read emptied persons", errstr, errstr_size);
        if (!res) goto pgerr;
        gh__res_keep(r, res);
        ndormant = (size_t)PQntuples(res);
        dormant = gh_xcalloc(ndormant + 1, sizeof(char *));
        for (size_t i = 0; i < ndormant; i++)
            dormant[i] = PQgetvalue(res, (int)i, 0);
    }
    size_t need = gh__res_assign_ids(r, comps, ncomp, touched, ntouched,
                                     dormant, ndormant, &ret, &into, &nret);
    free(dormant);
    if (need) {
        char k[32];
        snprintf(k, sizeof(k), "%zu", need);
        p[0] = k;
        res = gh__res_q(
            db,
            "SELECT 'P' || lpad(nextval('person_id_seq')::text, 9, '0') "
            "FROM generate_series(1, $1::int)",
            1, p, "allocate person ids", errstr, errstr_size);
        if (!res) goto pgerr;
        gh__res_keep(r, res);
        int j = 0;
        for (size_t c = 0; c < ncomp; c++)
            if (comps[c].new_id) comps[c].pid = PQgetvalue(res, j++, 0);
    }
    st->retired += (long long)nret;

    phase(st, &t_phase, 6);

    /* 7. write pairs and memberships */
    if (nfr) {
        for (int k = 0; k < 5; k++)
            gh_sqlarr_reset(&a[k]);
        for (size_t i = 0; i < nfr; i++) {
            gh_sqlarr_int(&a[0], fr[i].a);
            gh_sqlarr_int(&a[1], fr[i].b);
            gh_sqlarr_int(&a[2], fr[i].kind);
            char sc[32];
            snprintf(sc, sizeof(sc), "%.4f", fr[i].score);
            gh_sqlarr_text(&a[3], sc);
            gh_sqlarr_text(&a[4], fr[i].evidence);
        }
        for (int k = 0; k < 5; k++)
            p[k] = gh_sqlarr_get(&a[k]);
        res = gh__res_q(
            db,
            "INSERT INTO match_edge (a, b, kind, score, evidence) SELECT * "
            "FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], "
            "$4::real[], $5::jsonb[]) ON CONFLICT (a, b) DO UPDATE SET "
            "kind = EXCLUDED.kind, score = EXCLUDED.score, evidence = "
            "EXCLUDED.evidence",
            5, p, "write scored pairs", errstr, errstr_size);
        if (!res) goto pgerr;
        PQclear(res);
    }
    gh_sqlarr_reset(&a[0]);
    gh_sqlarr_reset(&a[1]);
    for (size_t i = 0; i < r->nw; i++) {
        wrec_t *x = &r->w[i];
        /* Deleted records keep their last person (see heir). */
        if (!x->member) continue;
        const char *now = comps[x->comp].pid;
        if ((now == NULL) == (x->old_pid == NULL) &&
            (!now || !strcmp(now, x->old_pid)))
            continue;
        gh_sqlarr_int(&a[0], x->rec_id);
        gh_sqlarr_text(&a[1], now);
    }
    if (a[0].n) {
        p[0] = gh_sqlarr_get(&a[0]);
        p[1] = gh_sqlarr_get(&a[1]);
        res = gh__res_q(db,
                        "UPDATE source_person s SET person_id = u.pid FROM "
                        "unnest($1::bigint[], $2::text[]) AS u(rec, pid) WHERE "
                        "s.rec_id = u.rec",
                        2, p, "assign persons", errstr, errstr_size);
        if (!res) goto pgerr;
        PQclear(res);
    }

    phase(st, &t_phase, 7);

    /* 8. retired ids: overrides move to the survivor, tombstones out */
    for (int k = 0; k < 8; k++)
        gh_sqlarr_reset(&a[k]);
    if (nret) {
        for (size_t i = 0; i < nret; i++) {
            gh_sqlarr_text(&a[0], ret[i]);
            gh_sqlarr_text(&a[1], into[i]);
        }
        p[0] = gh_sqlarr_get(&a[0]);
        p[1] = gh_sqlarr_get(&a[1]);
        res = gh__res_q(
            db,
            "WITH m AS (DELETE FROM person_override o USING "
            "unnest($1::text[], $2::text[]) AS u(pid, into_pid) WHERE "
            "o.person_id = u.pid RETURNING u.into_pid, o.field, o.value, "
            "o.decision_id, o.chosen_at) INSERT INTO person_override "
            "SELECT * FROM m WHERE into_pid IS NOT NULL ON CONFLICT DO "
            "NOTHING",
            2, p, "move steward choices", errstr, errstr_size);
        if (!res) goto pgerr;
        PQclear(res);
        res = gh__res_q(
            db,
            "UPDATE person p SET active = false, merged_into = u.into_pid, "
            "version = p.version + 1, sources = '[]', provenance = '[]', "
            "updated_at = now() FROM unnest($1::text[], $2::text[]) AS "
            "u(pid, into_pid) WHERE p.person_id = u.pid AND p.active "
            "RETURNING p.person_id, p.version",
            2, p, "retire persons", errstr, errstr_size);
        if (!res) goto pgerr;
        for (int i = 0; i < PQntuples(res); i++)
            gh__res_outbox_rows(r, PQgetvalue(res, i, 0),
                                gh__res_ival(res, i, 1, 0), NULL, &a[4], &a[5],
                                &a[6], &a[7]);
        PQclear(res);
    }

    phase(st, &t_phase, 8);

    /* 9. golden records */
    if (ncomp) {
        gh_sqlarr_reset(&a[0]);
        for (size_t c = 0; c < ncomp; c++)
            gh_sqlarr_text(&a[0], comps[c].pid);
        p[0] = gh_sqlarr_get(&a[0]);
        PGresult *ovr = gh__res_q(
            db,
            "SELECT person_id, field, value, floor(extract(epoch from "
            "chosen_at) * 1000000)::bigint FROM person_override WHERE "
            "person_id = ANY($1::text[]) ORDER BY person_id COLLATE \"C\"",
            1, p, "read steward choices", errstr, errstr_size);
        if (!ovr) goto pgerr;
        gh__res_keep(r, ovr);
        PGresult *cur =
            gh__res_q(db,
                      "SELECT person_id, absorbed_ids::text FROM person "
                      "WHERE person_id = ANY($1::text[]) ORDER BY "
                      "person_id COLLATE \"C\"",
                      1, p, "read persons", errstr, errstr_size);
        if (!cur) goto pgerr;
        gh__res_keep(r, cur);
        gh_sqlarr_t g[14];
        memset(g, 0, sizeof(g));
        for (int k = 0; k < 14; k++)
            gh_sqlarr_reset(&g[k]);
        gh_golden_src_t *srcs = NULL;
        size_t cap_s = 0;
        for (size_t c = 0; c < ncomp; c++) {
            comp_t *cp = &comps[c];
            if (cp->n > cap_s) {
                cap_s = cp->n * 2;
                srcs = gh_xrealloc(srcs, cap_s * sizeof(*srcs));
            }
            for (size_t i = 0; i < cp->n; i++)
                srcs[i] = r->w[cp->mem[i]].g;
            const char *ov[GH_GOLDEN_NFIELDS] = {0};
            int64_t ov_at[GH_GOLDEN_NFIELDS] = {0};
            for (int i = gh__res_first_row(ovr, cp->pid);
                 i < PQntuples(ovr) && !strcmp(PQgetvalue(ovr, i, 0), cp->pid);
                 i++) {
                int f = gh_golden_field_index(PQgetvalue(ovr, i, 1));
                if (f < 0) continue;
                ov[f] = PQgetisnull(ovr, i, 2) ? "" : PQgetvalue(ovr, i, 2);
                ov_at[f] = gh__res_ival(ovr, i, 3, 0);
            }
            gh_golden_pick_t pk;
            gh_golden_choose(r->golden, srcs, (int)cp->n, ov, &pk);
            const char *absorbed_old = NULL;
            int ci = gh__res_first_row(cur, cp->pid);
            if (ci < PQntuples(cur) && !strcmp(PQgetvalue(cur, ci, 0), cp->pid))
                absorbed_old = PQgetvalue(cur, ci, 1);
            char *sj, *pj, *aj;
            gh__res_person_json(r, cp, &pk, ov, ov_at, absorbed_old, ret, into,
                                nret, &sj, &pj, &aj);
            gh_sqlarr_text(&g[0], cp->pid);
            for (int f = 0; f < GH_GOLDEN_NFIELDS; f++) {
                const char *v = pk.src[f] >= 0 ? srcs[pk.src[f]].value[f]
                                : pk.src[f] == -2 && ov[f][0] ? ov[f]
                                                              : NULL;
                /* A department that says "unknown" still says something
                 * when no other one knows better. */
                for (size_t i = 0; !v && f == GH_GOLDEN_SEX && i < cp->n; i++)
                    if (r->w[cp->mem[i]].sex_unknown) v = "UNKNOWN";
                gh_sqlarr_text(&g[1 + f], v);
            }
            gh_sqlarr_text(&g[8], sj);
            gh_sqlarr_text(&g[9], pj);
            gh_sqlarr_text(&g[10], aj);
            free(sj);
            free(pj);
            free(aj);
            /* attribute conflicts worth a steward's look */
            for (int f = 0; f < GH_GOLDEN_NFIELDS; f++) {
                if (!r->conflict_field[f] ||
                    !gh_golden_conflict(r->golden, srcs, (int)cp->n, &pk, f))
                    continue;
                json_t *o = json_object(), *vs = json_array();
                json_object_set_new(o, "field",
                                    json_string(gh_golden_field_name(f)));
                json_object_set_new(o, "chosen",
                                    json_string(srcs[pk.src[f]].value[f]));
                for (size_t i = 0; i < cp->n; i++) {
                    if (!srcs[i].value[f]) continue;
                    json_t *x = json_object();
                    json_object_set_new(x, "department",
                                        json_string(srcs[i].department));
                    json_object_set_new(x, "source_key",
                                        json_string(srcs[i].source_key));
                    json_object_set_new(x, "value",
                                        json_string(srcs[i].value[f]));
                    json_object_set_new(x, "updated_at",
                                        srcs[i].updated_us == INT64_MIN
                                            ? json_null()
                                            : json_integer(srcs[i].updated_us));
                    json_array_append_new(vs, x);
                }
                json_object_set_new(o, "values", vs);
                items = gh_xrealloc(items, (nitems + 1) * sizeof(*items));
                item_t *it = &items[nitems++];
                memset(it, 0, sizeof(*it));
                it->kind = "attribute_conflict";
                it->pa = cp->pid;
                it->field = gh_golden_field_name(f);
                it->evidence = json_dumps(o, JSON_COMPACT);
                json_decref(o);
            }
        }
        free(srcs);
        const char *gp[11];
        for (int k = 0; k < 11; k++)
            gp[k] = gh_sqlarr_get(&g[k]);
        res = gh__res_q(
            db,
            "INSERT INTO person AS p (person_id, active, version, "
            "id_number, name, sex, birth_date, phone, address, grid_code, "
            "sources, provenance, absorbed_ids, merged_into) SELECT "
            "pid, true, 1, v0, v1, v2, v3::date, v4, v5, v6, s::jsonb, "
            "pr::jsonb, ab::jsonb, NULL FROM unnest($1::text[], "
            "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
            "$7::text[], $8::text[], $9::text[], $10::text[], "
            "$11::text[]) AS u(pid, v0, v1, v2, v3, v4, v5, v6, s, pr, "
            "ab) ON CONFLICT (person_id) DO UPDATE SET active = true, "
            "version = p.version + 1, id_number = EXCLUDED.id_number, "
            "name = EXCLUDED.name, sex = EXCLUDED.sex, birth_date = "
            "EXCLUDED.birth_date, phone = EXCLUDED.phone, address = "
            "EXCLUDED.address, grid_code = EXCLUDED.grid_code, sources = "
            "EXCLUDED.sources, provenance = EXCLUDED.provenance, "
            "absorbed_ids = EXCLUDED.absorbed_ids, merged_into = NULL, "
            "updated_at = now() WHERE (p.active, p.id_number, p.name, "
            "p.sex, p.birth_date, p.phone, p.address, p.grid_code, "
            "p.sources, p.provenance, p.absorbed_ids) IS DISTINCT FROM "
            "(true, EXCLUDED.id_number, EXCLUDED.name, EXCLUDED.sex, "
            "EXCLUDED.birth_date, EXCLUDED.phone, EXCLUDED.address, "
            "EXCLUDED.grid_code, EXCLUDED.sources, EXCLUDED.provenance, "
            "EXCLUDED.absorbed_ids) RETURNING person_id, version, "
            "floor(extract(epoch from updated_at) * 1000000)::bigint, "
            "id_number, name, sex, birth_date::text, phone, address, "
            "grid_code, sources::text, provenance::text, "
            "absorbed_ids::text",
            11, gp, "write persons", errstr, errstr_size);
        for (int k = 0; k < 14; k++)
            gh_sqlarr_free(&g[k]);
        if (!res) goto pgerr;
        gh__res_keep(r, res);
        for (int i = 0; i < PQntuples(res) && !e; i++) {
            e = gh__res_view_row(r, res, i, &r->buf, errstr, errstr_size);
            if (!e)
                gh__res_outbox_rows(r, PQgetvalue(res, i, 0),
                                    gh__res_ival(res, i, 1, 0), &r->buf, &a[4],
                                    &a[5], &a[6], &a[7]);
        }
        if (e) goto out;
        st->persons += PQntuples(res);
    }
    e = gh__res_write_outbox(db, &a[4], &a[5], &a[6], &a[7], errstr,
                             errstr_size);
    if (e) goto out;

    phase(st, &t_phase, 9);

    /* 10. the steward queue */
    e = gh__res_refresh_items(r, db, members, nm, touched, ntouched, ret, nret,
                              comps, ncomp, items, nitems, st, errstr,
                              errstr_size);
    phase(st, &t_phase, 10);
    goto out;
pgerr:
    e = PQstatus(db) == CONNECTION_OK ? GH_ERR_PG : GH_ERR_PG_CONNECT;
out:
    if (oversize)
        gh_log_debug(LOG, "%lld blocks over match.block.max.size skipped",
                     oversize);
    for (size_t i = 0; i < nfr; i++)
        free(fr[i].evidence);
    for (size_t i = 0; i < nitems; i++)
        free(items[i].evidence);
    free(items);
    free(fr);
    free(pairs);
    free(touched);
    free(ret);
    free(into);
    free(newids);
    free(members);
    free(mem);
    free(comps);
    free(cl);
    free(edges);
    free(apart);
    for (int k = 0; k < 8; k++)
        gh_sqlarr_free(&a[k]);
    return e;
}
