#include "resolve.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "sqlarr.h"
#include "view.h"

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

/* Columns of a source record as the resolver reads them. */
#define REC_COLS                                                               \
    "rec_id, department, source_key, person_id, deleted::int, n_name, "        \
    "n_pinyin, n_phone, n_address, id_clean, id_code, sex_code, "              \
    "birth_date - date '1970-01-01', household_key, id_number, name, sex, "    \
    "birth_date::text, phone, address, grid_code, "                            \
    "floor(extract(epoch from source_updated_at) * 1000000)::bigint, "         \
    "pos_lsn, pos_seq"
enum {
    C_REC,
    C_DEPT,
    C_KEY,
    C_PID,
    C_DELETED,
    C_NNAME,
    C_PINYIN,
    C_NPHONE,
    C_NADDR,
    C_IDCLEAN,
    C_IDCODE,
    C_SEX,
    C_BIRTH,
    C_HH,
    C_ID,
    C_NAME,
    C_SEXTXT,
    C_BIRTHTXT,
    C_PHONE,
    C_ADDR,
    C_GRID,
    C_UPDATED,
    C_LSN,
    C_SEQ
};

/* A record of the working set. Strings point into kept PGresults. */
typedef struct wrec {
    int64_t rec_id;
    const char *dept, *key, *old_pid;
    int changed, deleted, member;
    const char *heir; /* person id of a deleted record this one links to */
    int sex_unknown;  /* the department recorded sex as UNKNOWN */
    uint32_t midx;    /* index in the match set */
    int comp;         /* member: cluster (index of its root member) */
    gh_golden_src_t g;
} wrec_t;

struct gh_resolver {
    const gh_conf_t *conf;
    gh_match_model_t *model;
    gh_golden_t *golden;
    gh_view_t **views;
    char **topics;
    int ntopics;
    long long block_max;
    int apart_max;
    int conflict_field[GH_GOLDEN_NFIELDS];
    /* per run */
    gh_match_set_t *set;
    wrec_t *w;
    size_t nw, capw;
    int64_t *hkeys; /* rec_id -> w index + 1, open addressing */
    uint32_t *hvals;
    size_t hmask;
    PGresult **keep;
    size_t nkeep, capkeep;
    gh_buf_t buf;
};

/* ---- small helpers ---------------------------------------------------- */

static PGresult *q(PGconn *db, const char *sql, int n, const char *const *p,
                   const char *what, char *errstr, size_t errstr_size) {
    PGresult *r = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) return r;
    gh_pg_result_error(r, db, what, errstr, errstr_size);
    PQclear(r);
    return NULL;
}

static const char *val(PGresult *r, int i, int c) {
    return PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
}

static int64_t ival(PGresult *r, int i, int c, int64_t dflt) {
    return PQgetisnull(r, i, c) ? dflt : strtoll(PQgetvalue(r, i, c), NULL, 10);
}

static void keep(gh_resolver_t *r, PGresult *res) {
    if (r->nkeep == r->capkeep) {
        r->capkeep = r->capkeep ? r->capkeep * 2 : 16;
        r->keep = gh_xrealloc(r->keep, r->capkeep * sizeof(*r->keep));
    }
    r->keep[r->nkeep++] = res;
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static void hash_grow(gh_resolver_t *r) {
    size_t old = r->hmask ? r->hmask + 1 : 0;
    int64_t *ok = r->hkeys;
    uint32_t *ov = r->hvals;
    size_t cap = old ? old * 2 : 1024;
    r->hkeys = gh_xcalloc(cap, sizeof(int64_t));
    r->hvals = gh_xcalloc(cap, sizeof(uint32_t));
    r->hmask = cap - 1;
    for (size_t i = 0; i < old; i++)
        if (ov[i]) {
            size_t h = mix((uint64_t)ok[i]) & r->hmask;
            while (r->hvals[h])
                h = (h + 1) & r->hmask;
            r->hkeys[h] = ok[i];
            r->hvals[h] = ov[i];
        }
    free(ok);
    free(ov);
}

/* w index of rec_id, or -1. */
static long find(const gh_resolver_t *r, int64_t rec_id) {
    if (!r->hmask) return -1;
    size_t h = mix((uint64_t)rec_id) & r->hmask;
    while (r->hvals[h]) {
        if (r->hkeys[h] == rec_id) return (long)r->hvals[h] - 1;
        h = (h + 1) & r->hmask;
    }
    return -1;
}

/* Adds row i of res to the working set unless present; returns its index. */
static size_t add_row(gh_resolver_t *r, PGresult *res, int i, int changed) {
    int64_t id = ival(res, i, C_REC, 0);
    long have = find(r, id);
    if (have >= 0) {
        r->w[have].changed |= changed;
        return (size_t)have;
    }
    if ((r->nw + 1) * 2 > (r->hmask ? r->hmask + 1 : 0)) hash_grow(r);
    if (r->nw == r->capw) {
        r->capw = r->capw ? r->capw * 2 : 256;
        r->w = gh_xrealloc(r->w, r->capw * sizeof(*r->w));
    }
    wrec_t *x = &r->w[r->nw];
    memset(x, 0, sizeof(*x));
    x->rec_id = id;
    x->dept = val(res, i, C_DEPT);
    x->key = val(res, i, C_KEY);
    x->old_pid = val(res, i, C_PID);
    x->changed = changed;
    x->deleted = ival(res, i, C_DELETED, 0) != 0;
    x->comp = -1;
    gh_match_rec_t m;
    memset(&m, 0, sizeof(m));
    m.department = x->dept;
    m.source_key = x->key;
    m.name = val(res, i, C_NNAME);
    m.pinyin = val(res, i, C_PINYIN);
    m.phone = val(res, i, C_NPHONE);
    m.address = val(res, i, C_NADDR);
    m.household_key = val(res, i, C_HH);
    const char *idc = val(res, i, C_IDCLEAN);
    if (idc) snprintf(m.id_number, sizeof(m.id_number), "%s", idc);
    m.id_status = (uint8_t)ival(res, i, C_IDCODE, 2);
    m.sex = (uint8_t)ival(res, i, C_SEX, 0);
    m.birth = (int32_t)ival(res, i, C_BIRTH, GH_MATCH_NO_DATE);
    x->midx = (uint32_t)gh_match_set_add(r->set, &m);
    gh_golden_src_t *g = &x->g;
    g->department = x->dept;
    g->source_key = x->key;
    g->value[GH_GOLDEN_ID] = val(res, i, C_ID);
    g->value[GH_GOLDEN_NAME] =
        val(res, i, C_NNAME) ? val(res, i, C_NNAME) : val(res, i, C_NAME);
    const char *sx = val(res, i, C_SEXTXT);
    g->value[GH_GOLDEN_SEX] = sx && strcmp(sx, "UNKNOWN") ? sx : NULL;
    x->sex_unknown = sx && !strcmp(sx, "UNKNOWN");
    g->value[GH_GOLDEN_BIRTH] = val(res, i, C_BIRTHTXT);
    const char *np = val(res, i, C_NPHONE);
    g->value[GH_GOLDEN_PHONE] = np && *np ? np : val(res, i, C_PHONE);
    g->value[GH_GOLDEN_ADDRESS] = val(res, i, C_ADDR);
    g->value[GH_GOLDEN_GRID] = val(res, i, C_GRID);
    g->updated_us = ival(res, i, C_UPDATED, INT64_MIN);
    g->position = ival(res, i, C_LSN, 0) * 4096 + ival(res, i, C_SEQ, 0);
    g->rec_id = id;
    size_t hh = mix((uint64_t)id) & r->hmask;
    while (r->hvals[hh])
        hh = (hh + 1) & r->hmask;
    r->hkeys[hh] = id;
    r->hvals[hh] = (uint32_t)(r->nw + 1);
    return r->nw++;
}

static const gh_match_rec_t *mrec(const gh_resolver_t *r, size_t wi) {
    return gh_match_set_get(r->set, r->w[wi].midx);
}

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
    PGresult *res = q(db,
                      "SELECT n_name, min(n_pinyin), count(*) FROM "
                      "source_person WHERE NOT deleted AND n_name IS NOT NULL "
                      "GROUP BY n_name",
                      0, NULL, "read name frequencies", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    for (int i = 0; i < PQntuples(res); i++)
        gh_resolver_count_name(r, val(res, i, 0), val(res, i, 1),
                               (int)ival(res, i, 2, 1));
    int n = PQntuples(res);
    PQclear(res);
    if (r->conf && !gh_conf_get_bool(r->conf, "match.em.on.start"))
        return GH_OK;
    res = q(db, "SELECT count(*) FROM source_person WHERE NOT deleted", 0, NULL,
            "count source records", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    long long total = ival(res, 0, 0, 0);
    PQclear(res);
    if (total < 1000) return GH_OK;
    /* A sample of whole blocks would be better for m; a random sample of
     * records is what EM over blocked pairs needs to stay unbiased for u. */
    char lim[32];
    snprintf(lim, sizeof(lim), "%d", 200000);
    const char *p[1] = {lim};
    res = q(db,
            "SELECT " REC_COLS " FROM source_person WHERE NOT deleted "
            "ORDER BY rec_id LIMIT $1",
            1, p, "sample source records", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    gh_match_set_clear(r->set);
    r->nw = 0;
    memset(r->hvals, 0, r->hmask ? (r->hmask + 1) * sizeof(uint32_t) : 0);
    for (int i = 0; i < PQntuples(res); i++)
        add_row(r, res, i, 0);
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

/* ---- one run ------------------------------------------------------------ */

/* The first row of `r` (sorted by column 0 in byte order) whose column 0
 * is `key`, or the row where it would be. */
static int first_row(PGresult *r, const char *key) {
    int lo = 0, hi = PQntuples(r);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (strcmp(PQgetvalue(r, mid, 0), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Adds the time since *t to phase k's total (the step before marker k). */
static void phase(gh_resolve_stats_t *st, int64_t *t, int k) {
    int64_t now = gh_now_us();
    if (k > 0) st->us[k - 1] += now - *t;
    *t = now;
}

typedef struct pair {
    int64_t a, b;
} pair_t;

typedef struct fresh {
    int64_t a, b;
    int kind;
    double score;
    char *evidence; /* JSON, review and ID-conflict pairs only */
} fresh_t;

typedef struct comp {
    size_t *mem; /* w indexes, sorted by (department, source_key) */
    size_t n;
    const char *pid; /* final id (borrowed: an old pid or a new-id result) */
    int new_id;
} comp_t;

typedef struct item {
    const char *kind, *pa, *pb, *field;
    int64_t ra, rb;
    double score;
    char *evidence;
} item_t;

static int cmp_pair(const void *x, const void *y) {
    const pair_t *a = x, *b = y;
    if (a->a != b->a) return a->a < b->a ? -1 : 1;
    return a->b < b->b ? -1 : a->b > b->b;
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int in_strs(char **v, size_t n, const char *s) {
    return s && n && bsearch(&s, v, n, sizeof(char *), cmp_str) != NULL;
}

static size_t uniq_strs(char **v, size_t n) {
    if (!n) return 0;
    qsort(v, n, sizeof(char *), cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i], v[k - 1])) v[k++] = v[i];
    return k;
}

static void reset_run(gh_resolver_t *r) {
    gh_match_set_clear(r->set);
    r->nw = 0;
    if (r->hmask) memset(r->hvals, 0, (r->hmask + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < r->nkeep; i++)
        PQclear(r->keep[i]);
    r->nkeep = 0;
}

static void date_text(int32_t d, char out[11]) {
    if (d == GH_MATCH_NO_DATE)
        out[0] = '\0';
    else
        gh_date_format(d, out);
}

static const char *field_value(const gh_match_rec_t *m, int f, char *tmp) {
    switch (f) {
    case GH_MATCH_F_ID:
        return m->id_number[0] ? m->id_number : NULL;
    case GH_MATCH_F_NAME:
        return m->name;
    case GH_MATCH_F_BIRTH:
        date_text(m->birth, tmp);
        return tmp[0] ? tmp : NULL;
    case GH_MATCH_F_SEX:
        return m->sex == 1 ? "MALE" : m->sex == 2 ? "FEMALE" : NULL;
    case GH_MATCH_F_PHONE:
        return m->phone;
    case GH_MATCH_F_ADDRESS:
        return m->address;
    default:
        return NULL;
    }
}

/* The evidence of a scored pair as JSON: the waterfall of the score and
 * the compared values side by side (caller frees). */
static char *evidence_json(const gh_match_rec_t *a, const gh_match_rec_t *b,
                           gh_match_decision_t d,
                           const gh_match_explain_t *ex) {
    json_t *o = json_object(), *fs = json_array();
    json_object_set_new(o, "decision", json_string(gh_match_decision_name(d)));
    json_object_set_new(o, "score", json_real(ex->total));
    json_object_set_new(o, "probability", json_real(ex->probability));
    json_object_set_new(o, "prior", json_real(ex->prior));
    for (int f = 0; f < GH_MATCH_F__COUNT; f++) {
        char ta[11], tb[11];
        const char *va = field_value(a, f, ta), *vb = field_value(b, f, tb);
        json_t *e = json_object();
        json_object_set_new(e, "field", json_string(gh_match_field_name(f)));
        json_object_set_new(e, "level",
                            json_string(gh_match_level_name(f, ex->level[f])));
        json_object_set_new(e, "weight", json_real(ex->weight[f]));
        json_object_set_new(e, "a", va ? json_string(va) : json_null());
        json_object_set_new(e, "b", vb ? json_string(vb) : json_null());
        json_array_append_new(fs, e);
    }
    json_object_set_new(o, "fields", fs);
    json_t *ra = json_object(), *rb = json_object();
    json_object_set_new(ra, "department", json_string(a->department));
    json_object_set_new(ra, "source_key", json_string(a->source_key));
    json_object_set_new(rb, "department", json_string(b->department));
    json_object_set_new(rb, "source_key", json_string(b->source_key));
    json_object_set_new(o, "a", ra);
    json_object_set_new(o, "b", rb);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    return s;
}

static int cmp_member(const void *x, const void *y, void *ctx) {
    const gh_resolver_t *r = ctx;
    const wrec_t *a = &r->w[*(const size_t *)x], *b = &r->w[*(const size_t *)y];
    int c = strcmp(a->dept, b->dept);
    return c ? c : strcmp(a->key, b->key);
}

/* Steps 1-2: replaces the blocking keys of the changed records and finds
 * the candidate pairs. */
static gh_err_t block_and_pair(gh_resolver_t *r, PGconn *db, gh_sqlarr_t *a1,
                               gh_sqlarr_t *a2, pair_t **pairs_out,
                               size_t *npairs_out, long long *oversize,
                               char *errstr, size_t errstr_size) {
    size_t nchanged = r->nw;
    gh_sqlarr_reset(a1);
    gh_sqlarr_reset(a2);
    uint64_t *all = NULL;
    size_t nall = 0, capall = 0;
    for (size_t i = 0; i < nchanged; i++) {
        /* A deleted record keeps its keys: a resident deleted and entered
         * again (a table reloaded) finds their old person id through it. */
        uint64_t k[16];
        size_t nk = gh_match_block_keys(mrec(r, i), k, 16);
        for (size_t j = 0; j < nk; j++) {
            gh_sqlarr_int(a1, (int64_t)k[j]);
            gh_sqlarr_int(a2, r->w[i].rec_id);
            if (r->w[i].deleted) continue;
            if (nall == capall) {
                capall = capall ? capall * 2 : 256;
                all = gh_xrealloc(all, capall * sizeof(*all));
            }
            all[nall++] = k[j];
        }
    }
    *pairs_out = NULL;
    *npairs_out = 0;
    if (!a1->n) return GH_OK;
    const char *p[2] = {gh_sqlarr_get(a1), gh_sqlarr_get(a2)};
    PGresult *res = q(db,
                      "INSERT INTO person_block SELECT unnest($1::bigint[]), "
                      "unnest($2::bigint[]) ON CONFLICT DO NOTHING",
                      2, p, "write blocking keys", errstr, errstr_size);
    if (!res) {
        free(all);
        return GH_ERR_PG;
    }
    PQclear(res);
    if (!nall) {
        free(all);
        return GH_OK;
    }
    gh_sqlarr_reset(a1);
    for (size_t i = 0; i < nall; i++)
        gh_sqlarr_int(a1, (int64_t)all[i]);
    p[0] = gh_sqlarr_get(a1);
    res = q(db,
            "SELECT b.block_key, b.rec_id FROM (SELECT DISTINCT k FROM "
            "unnest($1::bigint[]) AS k) u JOIN person_block b ON b.block_key "
            "= u.k ORDER BY b.block_key",
            1, p, "read blocks", errstr, errstr_size);
    free(all);
    if (!res) return GH_ERR_PG;
    int n = PQntuples(res);
    pair_t *pairs = NULL;
    size_t np = 0, cap = 0;
    for (int i = 0; i < n;) {
        int j = i;
        const char *k = PQgetvalue(res, i, 0);
        while (j < n && !strcmp(PQgetvalue(res, j, 0), k))
            j++;
        if (j - i > r->block_max) {
            (*oversize)++;
            i = j;
            continue;
        }
        for (int x = i; x < j; x++) {
            int64_t rx = ival(res, x, 1, 0);
            long wx = find(r, rx);
            if (wx < 0 || !r->w[wx].changed || r->w[wx].deleted) continue;
            for (int y = i; y < j; y++) {
                int64_t ry = ival(res, y, 1, 0);
                if (ry == rx) continue;
                long wy = find(r, ry);
                /* Two changed records: one pair, from the smaller id. */
                if (wy >= 0 && r->w[wy].changed && !r->w[wy].deleted && ry < rx)
                    continue;
                if (np == cap) {
                    cap = cap ? cap * 2 : 256;
                    pairs = gh_xrealloc(pairs, cap * sizeof(*pairs));
                }
                pairs[np].a = rx < ry ? rx : ry;
                pairs[np].b = rx < ry ? ry : rx;
                np++;
            }
        }
        i = j;
    }
    PQclear(res);
    if (np) qsort(pairs, np, sizeof(*pairs), cmp_pair);
    size_t k = 0;
    for (size_t i = 0; i < np; i++)
        if (!k || cmp_pair(&pairs[i], &pairs[k - 1])) pairs[k++] = pairs[i];
    *pairs_out = pairs;
    *npairs_out = k;
    return GH_OK;
}

static gh_err_t load_rows(gh_resolver_t *r, PGconn *db, const char *sql,
                          const char *param, int changed, const char *what,
                          char *errstr, size_t errstr_size) {
    const char *p[1] = {param};
    PGresult *res = q(db, sql, 1, p, what, errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    keep(r, res);
    for (int i = 0; i < PQntuples(res); i++)
        add_row(r, res, i, changed);
    return GH_OK;
}

/* Gives each cluster its person id (see resolve.h, step 4). Fills
 * comps[].pid for clusters that own an old id and returns how many need a
 * new one; retired ids and what absorbed them go to ret/into. */
static size_t assign_ids(gh_resolver_t *r, comp_t *comps, size_t ncomp,
                         char **touched, size_t ntouched, char **dormant,
                         size_t ndormant, char ***ret, const char ***into,
                         size_t *nret) {
    /* owner of an old id: the cluster holding its oldest live record */
    size_t *owner = gh_xcalloc(ntouched ? ntouched : 1, sizeof(size_t));
    int64_t *oldest = gh_xcalloc(ntouched ? ntouched : 1, sizeof(int64_t));
    for (size_t t = 0; t < ntouched; t++)
        owner[t] = SIZE_MAX;
    for (size_t c = 0; c < ncomp; c++)
        for (size_t i = 0; i < comps[c].n; i++) {
            const wrec_t *x = &r->w[comps[c].mem[i]];
            if (!x->old_pid) continue;
            char **hit = bsearch(&x->old_pid, touched, ntouched, sizeof(char *),
                                 cmp_str);
            if (!hit) continue;
            size_t t = (size_t)(hit - touched);
            if (owner[t] == SIZE_MAX || x->rec_id < oldest[t]) {
                owner[t] = c;
                oldest[t] = x->rec_id;
            }
        }
    size_t need = 0;
    for (size_t c = 0; c < ncomp; c++) {
        comps[c].pid = NULL;
        for (size_t t = 0; t < ntouched; t++) /* touched is sorted: oldest */
            if (owner[t] == c) {
                comps[c].pid = touched[t];
                break;
            }
    }
    /* A cluster without an id of its own takes back the id of a person
     * emptied by deletes (now or before) that one of its records links to:
     * a resident deleted and entered again stays who they were. */
    char *taken = gh_xcalloc(ndormant + 1, 1);
    for (size_t c = 0; c < ncomp; c++) {
        for (size_t i = 0; i < comps[c].n && !comps[c].pid; i++) {
            const char *h = r->w[comps[c].mem[i]].heir;
            if (!h) continue;
            char **hit = ntouched ? bsearch(&h, touched, ntouched,
                                            sizeof(char *), cmp_str)
                                  : NULL;
            if (hit && owner[hit - touched] == SIZE_MAX) {
                owner[hit - touched] = c;
                comps[c].pid = *hit;
                continue;
            }
            hit = ndormant
                      ? bsearch(&h, dormant, ndormant, sizeof(char *), cmp_str)
                      : NULL;
            if (hit && !taken[hit - dormant]) {
                taken[hit - dormant] = 1;
                comps[c].pid = *hit;
            }
        }
        if (!comps[c].pid) {
            comps[c].new_id = 1;
            need++;
        }
    }
    free(taken);
    *ret = gh_xcalloc(ntouched ? ntouched : 1, sizeof(char *));
    *into = gh_xcalloc(ntouched ? ntouched : 1, sizeof(char *));
    *nret = 0;
    for (size_t t = 0; t < ntouched; t++) {
        if (owner[t] != SIZE_MAX && comps[owner[t]].pid == touched[t]) continue;
        (*ret)[*nret] = touched[t];
        (*into)[*nret] = owner[t] == SIZE_MAX ? NULL : comps[owner[t]].pid;
        (*nret)++;
    }
    free(owner);
    free(oldest);
    return need;
}

/* JSON texts of a person's sources, provenance and absorbed ids. */
static void person_json(gh_resolver_t *r, const comp_t *c,
                        const gh_golden_pick_t *pk, const char *const *ov,
                        const int64_t *ov_at, const char *absorbed_old,
                        char **ret, const char **into, size_t nret,
                        char **sources, char **prov, char **absorbed) {
    json_t *s = json_array(), *p = json_array(), *ab;
    for (size_t i = 0; i < c->n; i++) {
        const wrec_t *x = &r->w[c->mem[i]];
        json_t *o = json_object();
        json_object_set_new(o, "department", json_string(x->dept));
        json_object_set_new(o, "source_key", json_string(x->key));
        json_array_append_new(s, o);
    }
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++) {
        if (pk->src[f] == -1) continue;
        json_t *o = json_object();
        json_object_set_new(o, "field", json_string(gh_golden_field_name(f)));
        if (pk->src[f] == -2) {
            json_object_set_new(o, "department", json_string("steward"));
            json_object_set_new(o, "source_key", json_null());
            json_object_set_new(o, "at", json_integer(ov_at[f]));
        } else {
            const wrec_t *x = &r->w[c->mem[pk->src[f]]];
            json_object_set_new(o, "department", json_string(x->dept));
            json_object_set_new(o, "source_key", json_string(x->key));
            json_object_set_new(o, "at",
                                x->g.updated_us == INT64_MIN
                                    ? json_null()
                                    : json_integer(x->g.updated_us));
        }
        json_array_append_new(p, o);
        (void)ov;
    }
    ab = absorbed_old ? json_loads(absorbed_old, 0, NULL) : NULL;
    if (!json_is_array(ab)) {
        json_decref(ab);
        ab = json_array();
    }
    for (size_t i = 0; i < nret; i++)
        if (into[i] && !strcmp(into[i], c->pid))
            json_array_append_new(ab, json_string(ret[i]));
    *sources = json_dumps(s, JSON_COMPACT);
    *prov = json_dumps(p, JSON_COMPACT);
    *absorbed = json_dumps(ab, JSON_COMPACT);
    json_decref(s);
    json_decref(p);
    json_decref(ab);
}

/* Appends one outbox row per subscriber topic to the arrays. */
static void outbox_rows(gh_resolver_t *r, const char *pid, int64_t version,
                        const gh_buf_t *payload, gh_sqlarr_t *topic,
                        gh_sqlarr_t *key, gh_sqlarr_t *pay, gh_sqlarr_t *ver) {
    gh_buf_t hex = {0};
    if (payload) {
        static const char dig[] = "0123456789abcdef";
        gh_buf_puts(&hex, "\\x");
        for (size_t i = 0; i < payload->len; i++) {
            unsigned char c = (unsigned char)payload->data[i];
            char two[2] = {dig[c >> 4], dig[c & 15]};
            gh_buf_append(&hex, two, 2);
        }
    }
    for (int t = 0; t < r->ntopics; t++) {
        gh_sqlarr_text(topic, r->topics[t]);
        gh_sqlarr_text(key, pid);
        gh_sqlarr_text(pay, payload ? hex.data : NULL);
        gh_sqlarr_int(ver, version);
    }
    gh_buf_free(&hex);
}

static gh_err_t write_outbox(PGconn *db, gh_sqlarr_t *topic, gh_sqlarr_t *key,
                             gh_sqlarr_t *pay, gh_sqlarr_t *ver, char *errstr,
                             size_t errstr_size) {
    if (!topic->n) return GH_OK;
    const char *p[4] = {gh_sqlarr_get(topic), gh_sqlarr_get(key),
                        gh_sqlarr_get(pay), gh_sqlarr_get(ver)};
    PGresult *res =
        q(db,
          "INSERT INTO outbox (topic, msg_key, payload, person_id, version) "
          "SELECT t, k, p, k, v FROM unnest($1::text[], $2::text[], "
          "$3::bytea[], $4::bigint[]) AS u(t, k, p, v)",
          4, p, "write outbox", errstr, errstr_size);
    if (!res) return GH_ERR_PG;
    PQclear(res);
    return GH_OK;
}

/* Encodes the view of a person from a row of the person upsert's
 * RETURNING list into out (all subscribers get the same bytes for now;
 * per-subscriber policy will encode per topic here). */
static gh_err_t view_row(gh_resolver_t *r, PGresult *res, int i, gh_buf_t *out,
                         char *errstr, size_t errstr_size) {
    if (!r->ntopics) return GH_OK;
    gh_view_person_t v;
    memset(&v, 0, sizeof(v));
    v.person_id = PQgetvalue(res, i, 0);
    v.version = ival(res, i, 1, 0);
    v.updated_us = ival(res, i, 2, 0);
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++)
        v.value[f] = val(res, i, 3 + f);
    json_t *s = json_loads(PQgetvalue(res, i, 10), 0, NULL);
    json_t *pr = json_loads(PQgetvalue(res, i, 11), 0, NULL);
    json_t *ab = json_loads(PQgetvalue(res, i, 12), 0, NULL);
    size_t ns = json_array_size(s), np = json_array_size(pr),
           na = json_array_size(ab);
    const char **sd = gh_xcalloc(ns + 1, sizeof(char *));
    const char **sk = gh_xcalloc(ns + 1, sizeof(char *));
    const char **pf = gh_xcalloc(np + 1, sizeof(char *));
    const char **pd = gh_xcalloc(np + 1, sizeof(char *));
    const char **pk = gh_xcalloc(np + 1, sizeof(char *));
    int64_t *pa = gh_xcalloc(np + 1, sizeof(int64_t));
    const char **av = gh_xcalloc(na + 1, sizeof(char *));
    for (size_t k = 0; k < ns; k++) {
        json_t *o = json_array_get(s, k);
        sd[k] = json_string_value(json_object_get(o, "department"));
        sk[k] = json_string_value(json_object_get(o, "source_key"));
    }
    for (size_t k = 0; k < np; k++) {
        json_t *o = json_array_get(pr, k), *at = json_object_get(o, "at");
        pf[k] = json_string_value(json_object_get(o, "field"));
        pd[k] = json_string_value(json_object_get(o, "department"));
        pk[k] = json_string_value(json_object_get(o, "source_key"));
        pa[k] =
            json_is_integer(at) ? (int64_t)json_integer_value(at) : INT64_MIN;
    }
    for (size_t k = 0; k < na; k++)
        av[k] = json_string_value(json_array_get(ab, k));
    v.nsources = (int)ns;
    v.src_department = sd;
    v.src_key = sk;
    v.nprov = (int)np;
    v.prov_field = pf;
    v.prov_department = pd;
    v.prov_key = pk;
    v.prov_at = pa;
    v.nabsorbed = (int)na;
    v.absorbed = av;
    gh_err_t e = gh_view_encode(r->views[0], &v, out, errstr, errstr_size);
    free(sd);
    free(sk);
    free(pf);
    free(pd);
    free(pk);
    free(pa);
    free(av);
    json_decref(s);
    json_decref(pr);
    json_decref(ab);
    return e;
}

static int cmp_item(const void *x, const void *y) {
    const item_t *a = x, *b = y;
    int c = strcmp(a->kind, b->kind);
    if (!c) c = strcmp(a->pa, b->pa);
    if (!c) c = strcmp(a->pb ? a->pb : "", b->pb ? b->pb : "");
    if (!c) c = strcmp(a->field ? a->field : "", b->field ? b->field : "");
    return c;
}

/* Step 10: the open items about the persons of this run become exactly
 * the ones the current state supports: pairs scored for review (or one ID
 * on two people) that sit in two persons not kept apart, and attribute
 * conflicts found by survivorship. */
static gh_err_t refresh_items(gh_resolver_t *r, PGconn *db,
                              const size_t *members, size_t nm, char **touched,
                              size_t ntouched, char **ret, size_t nret,
                              const comp_t *comps, size_t ncomp,
                              item_t *conflicts, size_t nconflicts,
                              gh_resolve_stats_t *st, char *errstr,
                              size_t errstr_size) {
    gh_sqlarr_t a[9];
    memset(a, 0, sizeof(a));
    item_t *items = NULL;
    size_t n = 0;
    gh_err_t e = GH_OK;
    const char *p[9];
    PGresult *res;
    gh_sqlarr_reset(&a[0]);
    for (size_t i = 0; i < nm; i++)
        gh_sqlarr_int(&a[0], r->w[members[i]].rec_id);
    p[0] = gh_sqlarr_get(&a[0]);
    res = nm ? q(db,
                 "SELECT e.a, e.b, e.kind, e.score, e.evidence::text, "
                 "sa.person_id, sb.person_id FROM match_edge e JOIN "
                 "source_person sa ON sa.rec_id = e.a JOIN source_person sb "
                 "ON sb.rec_id = e.b WHERE e.kind IN (1, 4) AND (e.a = "
                 "ANY($1::bigint[]) OR e.b = ANY($1::bigint[])) AND NOT "
                 "sa.deleted AND NOT sb.deleted AND sa.person_id IS "
                 "DISTINCT FROM sb.person_id AND NOT EXISTS (SELECT 1 FROM "
                 "steward_constraint c WHERE c.kind = 'apart' AND c.a = e.a "
                 "AND c.b = e.b)",
                 1, p, "read review pairs", errstr, errstr_size)
             : NULL;
    if (nm && !res) {
        e = GH_ERR_PG;
        goto out;
    }
    int nres = res ? PQntuples(res) : 0;
    if (res) keep(r, res);
    items = gh_xcalloc((size_t)nres + nconflicts + 1, sizeof(*items));
    for (int i = 0; i < nres; i++) {
        const char *pa = val(res, i, 5), *pb = val(res, i, 6);
        if (!pa || !pb) continue;
        item_t *it = &items[n++];
        int swap = strcmp(pa, pb) > 0;
        it->kind = ival(res, i, 2, 1) == GH_MATCH_ID_CONFLICT
                       ? "shared_id"
                       : "possible_duplicate";
        it->pa = swap ? pb : pa;
        it->pb = swap ? pa : pb;
        it->ra = ival(res, i, swap ? 1 : 0, 0);
        it->rb = ival(res, i, swap ? 0 : 1, 0);
        it->score = strtod(PQgetvalue(res, i, 3), NULL);
        it->evidence = (char *)val(res, i, 4);
    }
    for (size_t i = 0; i < nconflicts; i++)
        items[n++] = conflicts[i];
    if (n) qsort(items, n, sizeof(*items), cmp_item);
    size_t k = 0; /* one item per key: the best-scored pair */
    for (size_t i = 0; i < n; i++) {
        if (k && !cmp_item(&items[i], &items[k - 1])) {
            if (items[i].score > items[k - 1].score) items[k - 1] = items[i];
            continue;
        }
        items[k++] = items[i];
    }
    n = k;

    /* open items of these persons that no longer hold */
    gh_sqlarr_reset(&a[1]);
    for (size_t i = 0; i < ntouched; i++)
        gh_sqlarr_text(&a[1], touched[i]);
    for (size_t i = 0; i < nret; i++)
        gh_sqlarr_text(&a[1], ret[i]);
    for (size_t i = 0; i < ncomp; i++)
        gh_sqlarr_text(&a[1], comps[i].pid);
    p[0] = gh_sqlarr_get(&a[1]);
    res = q(db,
            "SELECT item_id, kind, person_a, coalesce(person_b, ''), "
            "coalesce(field, '') FROM steward_item WHERE status = 'open' AND "
            "(person_a = ANY($1::text[]) OR person_b = ANY($1::text[]))",
            1, p, "read open items", errstr, errstr_size);
    if (!res) {
        e = GH_ERR_PG;
        goto out;
    }
    gh_sqlarr_reset(&a[2]);
    for (int i = 0; i < PQntuples(res); i++) {
        item_t key = {PQgetvalue(res, i, 1),
                      PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3),
                      PQgetvalue(res, i, 4),
                      0,
                      0,
                      0,
                      NULL};
        if (!key.pb[0]) key.pb = NULL;
        if (!key.field[0]) key.field = NULL;
        if (!n || !bsearch(&key, items, n, sizeof(*items), cmp_item))
            gh_sqlarr_int(&a[2], ival(res, i, 0, 0));
    }
    PQclear(res);
    if (a[2].n) {
        p[0] = gh_sqlarr_get(&a[2]);
        res = q(db,
                "UPDATE steward_item SET status = 'obsolete', updated_at = "
                "now() WHERE item_id = ANY($1::bigint[])",
                1, p, "close items", errstr, errstr_size);
        if (!res) {
            e = GH_ERR_PG;
            goto out;
        }
        PQclear(res);
    }
    if (!n) goto out;
    for (int j = 0; j < 8; j++)
        gh_sqlarr_reset(&a[j]);
    for (size_t i = 0; i < n; i++) {
        gh_sqlarr_text(&a[0], items[i].kind);
        gh_sqlarr_text(&a[1], items[i].pa);
        gh_sqlarr_text(&a[2], items[i].pb);
        gh_sqlarr_text(&a[3], items[i].field);
        if (items[i].ra)
            gh_sqlarr_int(&a[4], items[i].ra);
        else
            gh_sqlarr_text(&a[4], NULL);
        if (items[i].rb)
            gh_sqlarr_int(&a[5], items[i].rb);
        else
            gh_sqlarr_text(&a[5], NULL);
        char sc[32];
        snprintf(sc, sizeof(sc), "%.4f", items[i].score);
        gh_sqlarr_text(&a[6], items[i].ra ? sc : NULL);
        gh_sqlarr_text(&a[7], items[i].evidence ? items[i].evidence : "{}");
    }
    for (int j = 0; j < 8; j++)
        p[j] = gh_sqlarr_get(&a[j]);
    res = q(db,
            "INSERT INTO steward_item AS s (kind, person_a, person_b, field, "
            "rec_a, rec_b, score, evidence) SELECT * FROM unnest($1::text[], "
            "$2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], "
            "$7::real[], $8::jsonb[]) ON CONFLICT (kind, person_a, "
            "(coalesce(person_b, '')), (coalesce(field, ''))) WHERE status = "
            "'open' DO UPDATE SET rec_a = EXCLUDED.rec_a, rec_b = "
            "EXCLUDED.rec_b, score = EXCLUDED.score, evidence = "
            "EXCLUDED.evidence, updated_at = now() WHERE (s.rec_a, s.rec_b, "
            "s.evidence) IS DISTINCT FROM (EXCLUDED.rec_a, EXCLUDED.rec_b, "
            "EXCLUDED.evidence)",
            8, p, "write items", errstr, errstr_size);
    if (!res) {
        e = GH_ERR_PG;
        goto out;
    }
    st->items += atoll(PQcmdTuples(res));
    PQclear(res);
out:
    free(items);
    for (int j = 0; j < 9; j++)
        gh_sqlarr_free(&a[j]);
    return e;
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
    reset_run(r);
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
        e = load_rows(r, db,
                      "SELECT " REC_COLS " FROM source_person WHERE rec_id = "
                      "ANY($1::bigint[])",
                      p[0], 1, "read changed records", errstr, errstr_size);
        if (e) goto out;
        res = q(db, "DELETE FROM person_block WHERE rec_id = ANY($1::bigint[])",
                1, p, "drop blocking keys", errstr, errstr_size);
        if (!res) goto pgerr;
        PQclear(res);
        res = q(db,
                "DELETE FROM match_edge WHERE a = ANY($1::bigint[]) OR b = "
                "ANY($1::bigint[])",
                1, p, "drop scored pairs", errstr, errstr_size);
        if (!res) goto pgerr;
        PQclear(res);
    }
    st->records += (long long)r->nw;

    phase(st, &t_phase, 1);

    /* 2. blocking keys in, candidates out */
    e = block_and_pair(r, db, &a[1], &a[2], &pairs, &npairs, &oversize, errstr,
                       errstr_size);
    if (e) goto out;
    gh_sqlarr_reset(&a[0]);
    for (size_t i = 0; i < npairs; i++) {
        if (find(r, pairs[i].a) < 0) gh_sqlarr_int(&a[0], pairs[i].a);
        if (find(r, pairs[i].b) < 0) gh_sqlarr_int(&a[0], pairs[i].b);
    }
    if (a[0].n) {
        e = load_rows(r, db,
                      "SELECT " REC_COLS " FROM source_person WHERE rec_id = "
                      "ANY($1::bigint[])",
                      gh_sqlarr_get(&a[0]), 0, "read candidates", errstr,
                      errstr_size);
        if (e) goto out;
    }

    phase(st, &t_phase, 2);

    /* 3. score */
    fr = gh_xcalloc(npairs ? npairs : 1, sizeof(*fr));
    size_t cap_t = 16;
    touched = gh_xcalloc(cap_t, sizeof(char *));
    for (size_t i = 0; i < npairs; i++) {
        long wa = find(r, pairs[i].a), wb = find(r, pairs[i].b);
        if (wa < 0 || wb < 0 || (r->w[wa].deleted && r->w[wb].deleted))
            continue;
        gh_match_explain_t ex;
        gh_match_decision_t d = gh_match_score(r->model, mrec(r, (size_t)wa),
                                               mrec(r, (size_t)wb), &ex);
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
                evidence_json(mrec(r, (size_t)wa), mrec(r, (size_t)wb), d, &ex);
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
    ntouched = uniq_strs(touched, ntouched);
    if (ntouched) {
        gh_sqlarr_reset(&a[0]);
        for (size_t i = 0; i < ntouched; i++)
            gh_sqlarr_text(&a[0], touched[i]);
        e = load_rows(r, db,
                      "SELECT " REC_COLS " FROM source_person WHERE person_id "
                      "= ANY($1::text[]) AND NOT deleted",
                      gh_sqlarr_get(&a[0]), 0, "read persons' records", errstr,
                      errstr_size);
        if (e) goto out;
    }
    /* Strings of later results may alias touched[]: keep them; touched
     * itself points into results kept for the run or into `persons`. */
    size_t nm = 0;
    members = gh_xcalloc(r->nw ? r->nw : 1, sizeof(size_t));
    for (size_t i = 0; i < r->nw; i++) {
        wrec_t *x = &r->w[i];
        if (!x->deleted &&
            (x->member || x->changed || in_strs(touched, ntouched, x->old_pid)))
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
        long wa = find(r, fr[i].a), wb = find(r, fr[i].b);
        edges[ne].a = (uint32_t)mi_of[wa];
        edges[ne].b = (uint32_t)mi_of[wb];
        edges[ne].score = (float)fr[i].score;
        edges[ne].kind = (uint8_t)fr[i].kind;
        ne++;
    }
    if (nm) {
        res = q(db,
                "SELECT a, b, kind, score FROM match_edge WHERE kind IN (2, 3) "
                "AND a = ANY($1::bigint[]) AND b = ANY($1::bigint[])",
                1, p, "read links", errstr, errstr_size);
        if (!res) {
            free(mi_of);
            goto pgerr;
        }
        for (int i = 0; i < PQntuples(res); i++) {
            long wa = find(r, ival(res, i, 0, 0)),
                 wb = find(r, ival(res, i, 1, 0));
            if (wa < 0 || wb < 0 || !r->w[wa].member || !r->w[wb].member)
                continue;
            if (ne == cap_e) {
                cap_e *= 2;
                edges = gh_xrealloc(edges, cap_e * sizeof(*edges));
            }
            edges[ne].a = (uint32_t)mi_of[wa];
            edges[ne].b = (uint32_t)mi_of[wb];
            edges[ne].kind = (uint8_t)ival(res, i, 2, 2);
            edges[ne].score = (float)strtod(PQgetvalue(res, i, 3), NULL);
            ne++;
        }
        PQclear(res);
        res = q(db,
                "SELECT a, b, kind FROM steward_constraint WHERE a = "
                "ANY($1::bigint[]) OR b = ANY($1::bigint[])",
                1, p, "read steward constraints", errstr, errstr_size);
        if (!res) {
            free(mi_of);
            goto pgerr;
        }
        for (int i = 0; i < PQntuples(res); i++) {
            long wa = find(r, ival(res, i, 0, 0)),
                 wb = find(r, ival(res, i, 1, 0));
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
        qsort_r(comps[c].mem, comps[c].n, sizeof(size_t), cmp_member, r);

    phase(st, &t_phase, 5);

    /* 6. person ids */
    char **dormant = NULL;
    size_t ndormant = 0;
    gh_sqlarr_reset(&a[0]);
    for (size_t i = 0; i < nm; i++) {
        const char *h = r->w[members[i]].heir;
        if (h && !in_strs(touched, ntouched, h)) gh_sqlarr_text(&a[0], h);
    }
    if (a[0].n) {
        p[0] = gh_sqlarr_get(&a[0]);
        res = q(db,
                "SELECT DISTINCT person_id FROM person WHERE person_id = "
                "ANY($1::text[]) AND NOT active AND merged_into IS NULL "
                "ORDER BY person_id COLLATE \"C\"",
                1, p, "read emptied persons", errstr, errstr_size);
        if (!res) goto pgerr;
        keep(r, res);
        ndormant = (size_t)PQntuples(res);
        dormant = gh_xcalloc(ndormant + 1, sizeof(char *));
        for (size_t i = 0; i < ndormant; i++)
            dormant[i] = PQgetvalue(res, (int)i, 0);
    }
    size_t need = assign_ids(r, comps, ncomp, touched, ntouched, dormant,
                             ndormant, &ret, &into, &nret);
    free(dormant);
    if (need) {
        char k[32];
        snprintf(k, sizeof(k), "%zu", need);
        p[0] = k;
        res = q(db,
                "SELECT 'P' || lpad(nextval('person_id_seq')::text, 9, '0') "
                "FROM generate_series(1, $1::int)",
                1, p, "allocate person ids", errstr, errstr_size);
        if (!res) goto pgerr;
        keep(r, res);
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
        res = q(db,
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
        res = q(db,
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
        res = q(db,
                "WITH m AS (DELETE FROM person_override o USING "
                "unnest($1::text[], $2::text[]) AS u(pid, into_pid) WHERE "
                "o.person_id = u.pid RETURNING u.into_pid, o.field, o.value, "
                "o.decision_id, o.chosen_at) INSERT INTO person_override "
                "SELECT * FROM m WHERE into_pid IS NOT NULL ON CONFLICT DO "
                "NOTHING",
                2, p, "move steward choices", errstr, errstr_size);
        if (!res) goto pgerr;
        PQclear(res);
        res = q(db,
                "UPDATE person p SET active = false, merged_into = u.into_pid, "
                "version = p.version + 1, sources = '[]', provenance = '[]', "
                "updated_at = now() FROM unnest($1::text[], $2::text[]) AS "
                "u(pid, into_pid) WHERE p.person_id = u.pid AND p.active "
                "RETURNING p.person_id, p.version",
                2, p, "retire persons", errstr, errstr_size);
        if (!res) goto pgerr;
        for (int i = 0; i < PQntuples(res); i++)
            outbox_rows(r, PQgetvalue(res, i, 0), ival(res, i, 1, 0), NULL,
                        &a[4], &a[5], &a[6], &a[7]);
        PQclear(res);
    }

    phase(st, &t_phase, 8);

    /* 9. golden records */
    if (ncomp) {
        gh_sqlarr_reset(&a[0]);
        for (size_t c = 0; c < ncomp; c++)
            gh_sqlarr_text(&a[0], comps[c].pid);
        p[0] = gh_sqlarr_get(&a[0]);
        PGresult *ovr =
            q(db,
              "SELECT person_id, field, value, floor(extract(epoch from "
              "chosen_at) * 1000000)::bigint FROM person_override WHERE "
              "person_id = ANY($1::text[]) ORDER BY person_id COLLATE \"C\"",
              1, p, "read steward choices", errstr, errstr_size);
        if (!ovr) goto pgerr;
        keep(r, ovr);
        PGresult *cur = q(db,
                          "SELECT person_id, absorbed_ids::text FROM person "
                          "WHERE person_id = ANY($1::text[]) ORDER BY "
                          "person_id COLLATE \"C\"",
                          1, p, "read persons", errstr, errstr_size);
        if (!cur) goto pgerr;
        keep(r, cur);
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
            for (int i = first_row(ovr, cp->pid);
                 i < PQntuples(ovr) && !strcmp(PQgetvalue(ovr, i, 0), cp->pid);
                 i++) {
                int f = gh_golden_field_index(PQgetvalue(ovr, i, 1));
                if (f < 0) continue;
                ov[f] = PQgetisnull(ovr, i, 2) ? "" : PQgetvalue(ovr, i, 2);
                ov_at[f] = ival(ovr, i, 3, 0);
            }
            gh_golden_pick_t pk;
            gh_golden_choose(r->golden, srcs, (int)cp->n, ov, &pk);
            const char *absorbed_old = NULL;
            int ci = first_row(cur, cp->pid);
            if (ci < PQntuples(cur) && !strcmp(PQgetvalue(cur, ci, 0), cp->pid))
                absorbed_old = PQgetvalue(cur, ci, 1);
            char *sj, *pj, *aj;
            person_json(r, cp, &pk, ov, ov_at, absorbed_old, ret, into, nret,
                        &sj, &pj, &aj);
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
        res = q(db,
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
        keep(r, res);
        for (int i = 0; i < PQntuples(res) && !e; i++) {
            e = view_row(r, res, i, &r->buf, errstr, errstr_size);
            if (!e)
                outbox_rows(r, PQgetvalue(res, i, 0), ival(res, i, 1, 0),
                            &r->buf, &a[4], &a[5], &a[6], &a[7]);
        }
        if (e) goto out;
        st->persons += PQntuples(res);
    }
    e = write_outbox(db, &a[4], &a[5], &a[6], &a[7], errstr, errstr_size);
    if (e) goto out;

    phase(st, &t_phase, 9);

    /* 10. the steward queue */
    e = refresh_items(r, db, members, nm, touched, ntouched, ret, nret, comps,
                      ncomp, items, nitems, st, errstr, errstr_size);
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
