#include "resolve_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
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

gh_crypt_t *gh_resolver_crypt(const gh_resolver_t *r) {
    return r->crypt;
}

void gh_resolver_use_crypt(gh_resolver_t *r, gh_crypt_t *crypt) {
    r->crypt = crypt;
}

uint64_t gh_resolver_id_key(const gh_resolver_t *r, const char *raw_id) {
    return gh_id_key(r->crypt, raw_id);
}

uint64_t gh_id_key(gh_crypt_t *c, const char *raw_id) {
    gh_match_rec_t m;
    memset(&m, 0, sizeof(m));
    m.birth = GH_MATCH_NO_DATE;
    gh_idnum_status_t st = gh_idnum_normalize(raw_id, m.id_number, NULL);
    if (st != GH_IDNUM_OK && st != GH_IDNUM_UPGRADED &&
        st != GH_IDNUM_BAD_CHECK)
        return 0;
    m.id_status = (uint8_t)st;
    uint64_t k[16];
    size_t nk = gh_match_block_keys(&m, k, 16);
    /* Only the ID is set, so the ID's key is the only one. */
    return nk == 1 ? gh_crypt_blind64(c, "block", k[0]) : 0;
}

uint64_t gh_search_key(gh_crypt_t *c, const char *kind,
                       const gh_match_raw_t *raw) {
    gh_match_rec_t m;
    char buf[GH_MATCH_NORM_BUF];
    gh_match_normalize(raw, &m, buf);
    uint64_t k = gh_match_block_key(&m, kind);
    return k ? gh_crypt_blind64(c, "block", k) : 0;
}

gh_resolver_t *gh_resolver_new(const gh_conf_t *conf, gh_feed_t *feed,
                               const gh_schema_t *view, char *errstr,
                               size_t errstr_size) {
    gh_resolver_t *r = gh_xcalloc(1, sizeof(*r));
    gh_sqlarr_reset(&r->written);
    r->conf = conf;
    r->model = gh_match_model_new(conf, errstr, errstr_size);
    if (!r->model) {
        free(r);
        return NULL;
    }
    r->golden = gh_golden_new(conf);
    r->feed = feed;
    r->crypt = feed ? gh_feed_crypt(feed) : NULL;
    if (feed) {
        r->feed_entity = gh_feed_entity(feed, "person");
        r->view = gh_view_new(NULL, view, "", errstr, errstr_size);
        if (r->feed_entity < 0 || !r->view) {
            if (r->feed_entity < 0)
                gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                          "no view schema for entity person");
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
    if (r->set) gh__res_reset_run(r); /* the last run's results */
    gh_match_model_destroy(r->model);
    gh_golden_destroy(r->golden);
    gh_view_destroy(r->view);
    gh_match_set_destroy(r->set);
    free(r->w);
    free(r->hkeys);
    free(r->hvals);
    free(r->keep);
    gh_buf_free(&r->buf);
    gh_sqlarr_free(&r->written);
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
     * time (hub batches, steward actions), or by several holding it
     * shared, each within its neighbourhood (gh_resolver_lock_run). */
    return gh_pg_exec(db, "SELECT pg_advisory_xact_lock(7274001)", errstr,
                      errstr_size);
}

gh_err_t gh_resolver_lock_run(gh_resolver_t *r, PGconn *db, int shared,
                              char *errstr, size_t errstr_size) {
    r->shared = shared;
    if (!shared) return gh_resolver_lock(db, errstr, errstr_size);
    return gh_pg_exec(db, "SELECT pg_advisory_xact_lock_shared(7274001)",
                      errstr, errstr_size);
}

int gh_resolver_shared(const gh_resolver_t *r) {
    return r->shared;
}

gh_err_t gh_resolver_lock_views(PGconn *db, char *errstr, size_t errstr_size) {
    /* Another arbitrary constant, beside the resolution lock's. */
    return gh_pg_exec(db, "SELECT pg_advisory_xact_lock(7274002)", errstr,
                      errstr_size);
}

gh_err_t gh_resolver_prepare(gh_resolver_t *r, PGconn *db, char *errstr,
                             size_t errstr_size) {
    PGresult *res = gh_pg_query_what(
        db,
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
    res = gh_pg_query_what(
        db, "SELECT count(*) FROM source_person WHERE NOT deleted", 0, NULL,
        "count source records", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    long long total = gh__res_ival(res, 0, 0, 0);
    PQclear(res);
    if (total < 1000) return GH_OK;
    /* A random sample of table pages (not the oldest records, which are
     * one district of the first snapshot): records of one page were
     * written together, so duplicates within the sample are common enough
     * for EM to see matches, and the pages are spread over the city. */
    char pct[32], lim[32];
    double share = 100.0 * 200000.0 / (double)total;
    snprintf(pct, sizeof(pct), "%.4f", share > 100 ? 100.0 : share);
    snprintf(lim, sizeof(lim), "%d", 200000);
    const char *p[2] = {pct, lim};
    res = gh_pg_query_what(db,
                           "SELECT " REC_COLS " FROM source_person TABLESAMPLE "
                           "SYSTEM ($1::real) REPEATABLE (7) WHERE NOT deleted "
                           "LIMIT $2",
                           2, p, "sample source records", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    gh_err_t oe = gh__res_open_recs(r, res, errstr, errstr_size);
    if (oe) {
        PQclear(res);
        return oe;
    }
    gh_match_set_clear(r->set);
    r->nw = 0;
    if (r->hmask) memset(r->hvals, 0, (r->hmask + 1) * sizeof(uint32_t));
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
    if (r->hmask) memset(r->hvals, 0, (r->hmask + 1) * sizeof(uint32_t));
    PQclear(res);
    return GH_OK;
}
