/* Golden records as JSON for the person table, their views for the
 * outbox. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

/* JSON texts of a person's sources, provenance and absorbed ids. */
void gh__res_person_json(gh_resolver_t *r, const comp_t *c,
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
void gh__res_outbox_rows(gh_resolver_t *r, const char *pid, int64_t version,
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

gh_err_t gh__res_write_outbox(PGconn *db, gh_sqlarr_t *topic, gh_sqlarr_t *key,
                              gh_sqlarr_t *pay, gh_sqlarr_t *ver, char *errstr,
                              size_t errstr_size) {
    if (!topic->n) return GH_OK;
    const char *p[4] = {gh_sqlarr_get(topic), gh_sqlarr_get(key),
                        gh_sqlarr_get(pay), gh_sqlarr_get(ver)};
    PGresult *res = gh__res_q(
        db,
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
gh_err_t gh__res_view_row(gh_resolver_t *r, PGresult *res, int i, gh_buf_t *out,
                          char *errstr, size_t errstr_size) {
    if (!r->ntopics) return GH_OK;
    gh_view_person_t v;
    memset(&v, 0, sizeof(v));
    v.person_id = PQgetvalue(res, i, 0);
    v.version = gh__res_ival(res, i, 1, 0);
    v.updated_us = gh__res_ival(res, i, 2, 0);
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++)
        v.value[f] = gh__res_val(res, i, 3 + f);
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
