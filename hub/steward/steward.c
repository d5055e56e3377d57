#include "audit.h"
#include "steward.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/avro.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "migrate.h"
#include "resolve.h"
#include "steward_int.h"

gh_steward_t *gh_steward_new(const gh_conf_t *conf, char *errstr,
                             size_t errstr_size) {
    gh_steward_t *s = gh_xcalloc(1, sizeof(*s));
    s->conf = conf;
    s->apart_max = (int)gh_conf_get_int(conf, "steward.apart.max.pairs");
    if (gh_schemas_load_dir(&s->schemas, gh_schemas_dir(conf), errstr,
                            errstr_size))
        goto fail;
    const gh_schema_t *view = gh_schemas_get(s->schemas, "gridhub.view.Person");
    if (!view) {
        gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                  "schemas.dir %s lacks gridhub.view.Person",
                  gh_schemas_dir(conf));
        goto fail;
    }
    s->serde =
        gh_serde_new(s->schemas, gh_conf_get(conf, "schema.registry.url"));
    /* The same policy as the hub: the feed refuses to write views if the
     * hub materializes another version. */
    s->feed = gh_feed_new(conf, s->schemas, s->serde, errstr, errstr_size);
    if (!s->feed) goto fail;
    s->resolver = gh_resolver_new(conf, s->feed, view, errstr, errstr_size);
    if (!s->resolver) goto fail;
    s->db = gh_pg_connect(gh_conf_get(conf, "database.conninfo"), 0, errstr,
                          errstr_size);
    if (!s->db) goto fail;
    if (gh_migrate_apply(s->db, errstr, errstr_size)) goto fail;
    return s;
fail:
    gh_steward_destroy(s);
    return NULL;
}

void gh_steward_destroy(gh_steward_t *s) {
    if (!s) return;
    if (s->db) PQfinish(s->db);
    gh_resolver_destroy(s->resolver);
    gh_feed_destroy(s->feed);
    gh_serde_destroy(s->serde);
    gh_schemas_destroy(s->schemas);
    free(s->token);
    free(s->subscriber);
    free(s);
}

const gh_steward_result_t *gh_steward_last(const gh_steward_t *s) {
    return &s->last;
}

void gh_steward_set_token(gh_steward_t *s, const char *token_id,
                          const char *subscriber) {
    free(s->token);
    free(s->subscriber);
    s->token = token_id ? gh_xstrdup(token_id) : NULL;
    s->subscriber = subscriber ? gh_xstrdup(subscriber) : NULL;
}

/* ---- reading ----------------------------------------------------------- */

gh_err_t gh_steward_list(gh_steward_t *s, FILE *out, const char *status,
                         const char *kind, long limit, char *errstr,
                         size_t errstr_size) {
    char lim[32];
    snprintf(lim, sizeof(lim), "%ld", limit > 0 ? limit : 50);
    const char *p[3] = {status && *status ? status : "open",
                        kind && *kind ? kind : NULL, lim};
    PGresult *r = gh_pg_query_what(
        s->db,
        "SELECT item_id, kind, status, person_a, "
        "coalesce(person_b, ''), coalesce(field, ''), "
        "coalesce(to_char(score, 'FM990.00'), ''), "
        "to_char(created_at, 'YYYY-MM-DD HH24:MI'), "
        "(SELECT count(*) FROM steward_item WHERE status = $1 AND "
        "($2::text IS NULL OR kind = $2)) FROM steward_item WHERE "
        "status = $1 AND ($2::text IS NULL OR kind = $2) ORDER BY "
        "item_id DESC LIMIT $3::int",
        3, p, "list items", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    int n = PQntuples(r);
    fprintf(out, "%-6s  %-18s  %-8s  %-10s  %-10s  %-10s  %6s  %s\n", "item",
            "kind", "status", "person", "other", "field", "score", "created");
    for (int i = 0; i < n; i++)
        fprintf(out, "%-6s  %-18s  %-8s  %-10s  %-10s  %-10s  %6s  %s\n",
                PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
                PQgetvalue(r, i, 6), PQgetvalue(r, i, 7));
    fprintf(out, "(%d shown of %s %s item%s)\n", n,
            n ? PQgetvalue(r, 0, 8) : "0", p[0],
            n && strcmp(PQgetvalue(r, 0, 8), "1") ? "s" : "");
    PQclear(r);
    return GH_OK;
}

static const char *jstr(json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "-";
}

static void show_pair(FILE *out, json_t *ev) {
    fprintf(out, "  a: %s %s\n  b: %s %s\n",
            jstr(json_object_get(ev, "a"), "department"),
            jstr(json_object_get(ev, "a"), "source_key"),
            jstr(json_object_get(ev, "b"), "department"),
            jstr(json_object_get(ev, "b"), "source_key"));
    fprintf(out, "  decision %s, match probability %.4f\n\n",
            jstr(ev, "decision"),
            json_real_value(json_object_get(ev, "probability")));
    fprintf(out, "  %-8s %-22s %8s   %-24s %s\n", "field", "agreement",
            "weight", "a", "b");
    fprintf(out, "  %-8s %-22s %+8.2f\n", "prior", "",
            json_number_value(json_object_get(ev, "prior")));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(ev, "fields"), i, f) {
        fprintf(out, "  %-8s %-22s %+8.2f   %-24s %s\n", jstr(f, "field"),
                jstr(f, "level"),
                json_number_value(json_object_get(f, "weight")), jstr(f, "a"),
                jstr(f, "b"));
    }
    fprintf(out, "  %-8s %-22s %+8.2f\n", "total", "",
            json_number_value(json_object_get(ev, "score")));
}

static void show_conflict(FILE *out, json_t *ev) {
    fprintf(out, "  field %s, survivorship chose \"%s\"\n\n", jstr(ev, "field"),
            jstr(ev, "chosen"));
    fprintf(out, "  %-10s %-24s %-20s %s\n", "department", "source key",
            "updated (UTC)", "value");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(ev, "values"), i, v) {
        char when[32] = "-";
        json_t *at = json_object_get(v, "updated_at");
        if (json_is_integer(at)) {
            int64_t us = (int64_t)json_integer_value(at);
            int64_t days = us / 86400000000LL;
            if (us < 0 && us % 86400000000LL) days--;
            int64_t sod = (us - days * 86400000000LL) / 1000000;
            char d[11];
            gh_date_format(days, d);
            snprintf(when, sizeof(when), "%s %02d:%02d", d, (int)(sod / 3600),
                     (int)(sod / 60 % 60));
        }
        fprintf(out, "  %-10s %-24s %-20s %s\n", jstr(v, "department"),
                jstr(v, "source_key"), when, jstr(v, "value"));
    }
}

static gh_err_t show_person(gh_steward_t *s, FILE *out, const char *pid,
                            char *errstr, size_t errstr_size) {
    const char *p[1] = {pid};
    PGresult *r =
        gh_pg_query_what(s->db,
                         "SELECT active, coalesce(merged_into, ''), version, "
                         "coalesce(id_number, ''), coalesce(name, ''), "
                         "coalesce(sex, ''), coalesce(birth_date::text, ''), "
                         "coalesce(phone, ''), coalesce(address, ''), "
                         "coalesce(grid_code, ''), provenance::text, "
                         "absorbed_ids::text FROM person WHERE person_id = $1",
                         1, p, "read person", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    if (!PQntuples(r)) {
        PQclear(r);
        return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND, "no person %s",
                         pid);
    }
    static const int pcols[] = {3, 7, 8};
    static const char *const pfields[] = {"id_number", "phone", "address"};
    gh_crypt_t *c = gh_feed_crypt(s->feed);
    gh_err_t e =
        gh_crypt_open_result(c, r, pcols, pfields, 3, errstr, errstr_size);
    if (e) {
        PQclear(r);
        return e;
    }
    fprintf(out, "person %s  version %s  %s%s\n", pid, PQgetvalue(r, 0, 2),
            PQgetvalue(r, 0, 0)[0] == 't' ? "active" : "retired",
            PQgetvalue(r, 0, 1)[0] ? " (merged into " : "");
    if (PQgetvalue(r, 0, 1)[0]) fprintf(out, "%s)\n", PQgetvalue(r, 0, 1));
    json_t *prov = json_loads(PQgetvalue(r, 0, 10), 0, NULL);
    static const char *const names[] = {"id_number",  "name",  "sex",
                                        "birth_date", "phone", "address",
                                        "grid_code"};
    for (int f = 0; f < 7; f++) {
        const char *from = "";
        char buf[160] = "";
        size_t i;
        json_t *o;
        json_array_foreach(prov, i, o) {
            if (!strcmp(jstr(o, "field"), names[f])) {
                snprintf(buf, sizeof(buf), "%s %s", jstr(o, "department"),
                         json_is_string(json_object_get(o, "source_key"))
                             ? jstr(o, "source_key")
                             : "");
                from = buf;
            }
        }
        fprintf(out, "  %-10s %-32s %s\n", names[f], PQgetvalue(r, 0, 3 + f),
                from);
    }
    json_decref(prov);
    if (strcmp(PQgetvalue(r, 0, 11), "[]"))
        fprintf(out, "  absorbed   %s\n", PQgetvalue(r, 0, 11));
    PQclear(r);
    r = gh_pg_query_what(
        s->db,
        "SELECT department, source_key, coalesce(name, ''), "
        "coalesce(id_number_raw, ''), coalesce(birth_date::text, ''), "
        "coalesce(grid_code, '') FROM source_person WHERE person_id = $1 "
        "AND NOT deleted ORDER BY department, source_key",
        1, p, "read records", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    static const int rcols[] = {3};
    static const char *const rfields[] = {"id_number"};
    if ((e = gh_crypt_open_result(c, r, rcols, rfields, 1, errstr,
                                  errstr_size))) {
        PQclear(r);
        return e;
    }
    fprintf(out, "  records (%d):\n", PQntuples(r));
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "    %-10s %-26s %-10s %-20s %-10s %s\n",
                PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
    PQclear(r);
    r = gh_pg_query_what(
        s->db,
        "SELECT item_id, kind, coalesce(person_b, field, '') FROM "
        "steward_item WHERE status = 'open' AND (person_a = $1 OR person_b "
        "= $1) ORDER BY item_id",
        1, p, "read items", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "  open item %s: %s %s\n", PQgetvalue(r, i, 0),
                PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    PQclear(r);
    return GH_OK;
}

static gh_err_t show_item(gh_steward_t *s, FILE *out, const char *what,
                          char *errstr, size_t errstr_size);

/* What is shown holds personal data: it is read in one transaction with
 * its audit entry (kind "read": command, what, database role) and printed
 * only once both committed. */
gh_err_t gh_steward_show(gh_steward_t *s, FILE *out, const char *what,
                         char *errstr, size_t errstr_size) {
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return gh_seterr(errstr, errstr_size, GH_ERR_NOMEM,
                         "no memory for the output");
    gh_err_t e = gh_pg_exec(s->db, "BEGIN", errstr, errstr_size);
    if (!e) {
        json_t *b = json_pack("{s:s,s:s}", "command", "steward show", "what",
                              what ? what : "");
        e = gh_audit_append_one(s->db, "read",
                                what && (what[0] == 'P' || what[0] == 'p')
                                    ? "person"
                                    : "steward_item",
                                b, errstr, errstr_size);
        json_decref(b);
    }
    if (!e)
        e = what && (what[0] == 'P' || what[0] == 'p')
                ? show_person(s, m, what, errstr, errstr_size)
                : show_item(s, m, what, errstr, errstr_size);
    if (!e) e = gh_pg_exec(s->db, "COMMIT", errstr, errstr_size);
    fclose(m);
    if (e) {
        char ignore[256];
        gh_pg_exec(s->db, "ROLLBACK", ignore, sizeof(ignore));
        /* A refused request is recorded too (the database permitting). */
        if (e != GH_ERR_PG && e != GH_ERR_PG_CONNECT &&
            !gh_pg_exec(s->db, "BEGIN", ignore, sizeof(ignore))) {
            json_t *b = json_pack("{s:s,s:s,s:s}", "command", "steward show",
                                  "what", what ? what : "", "why", errstr);
            if (gh_audit_append_one(s->db, "refused", NULL, b, ignore,
                                    sizeof(ignore)) ||
                gh_pg_exec(s->db, "COMMIT", ignore, sizeof(ignore)))
                gh_pg_exec(s->db, "ROLLBACK", ignore, sizeof(ignore));
            json_decref(b);
        }
    } else {
        fwrite(text, 1, len, out);
    }
    gh_free_secret(text, len);
    return e;
}

static gh_err_t show_item(gh_steward_t *s, FILE *out, const char *what,
                          char *errstr, size_t errstr_size) {
    const char *p[1] = {what};
    if (!what || !*what || strspn(what, "0123456789") != strlen(what))
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "\"%s\" is neither an item number nor a person id",
                         what ? what : "");
    PGresult *r = gh_pg_query_what(
        s->db,
        "SELECT kind, status, person_a, coalesce(person_b, ''), "
        "coalesce(field, ''), coalesce(score::text, ''), "
        "evidence::text, to_char(created_at, 'YYYY-MM-DD "
        "HH24:MI'), coalesce((SELECT action || ' by ' || "
        "decided_by || ' at ' || to_char(decided_at, 'YYYY-MM-DD "
        "HH24:MI') || ': ' || reason FROM steward_decision d "
        "WHERE d.decision_id = i.decision_id), '') FROM "
        "steward_item i WHERE item_id = $1::bigint",
        1, p, "read item", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    if (!PQntuples(r)) {
        PQclear(r);
        return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND, "no item %s",
                         what);
    }
    fprintf(out, "item %s  %s  %s  (opened %s)\n", what, PQgetvalue(r, 0, 0),
            PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 7));
    fprintf(out, "  persons %s %s\n", PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
    if (PQgetvalue(r, 0, 8)[0])
        fprintf(out, "  decision: %s\n", PQgetvalue(r, 0, 8));
    char *opened = gh_crypt_open_json(gh_feed_crypt(s->feed),
                                      PQgetvalue(r, 0, 6), errstr, errstr_size);
    if (!opened) {
        PQclear(r);
        return GH_ERR_PARSE;
    }
    json_t *ev = json_loads(opened, 0, NULL);
    gh_free_secret(opened, strlen(opened));
    if (!strcmp(PQgetvalue(r, 0, 0), "attribute_conflict"))
        show_conflict(out, ev);
    else
        show_pair(out, ev);
    json_decref(ev);
    PQclear(r);
    return GH_OK;
}

gh_err_t gh_steward_item_persons(gh_steward_t *s, const char *item, char pa[32],
                                 char pb[32], char field[32], char *errstr,
                                 size_t errstr_size) {
    const char *p[1] = {item};
    if (!item || !*item || strspn(item, "0123456789") != strlen(item))
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "\"%s\" is not an item number", item ? item : "");
    PGresult *r = gh_pg_query_what(
        s->db,
        "SELECT person_a, coalesce(person_b, ''), coalesce(field, "
        "''), status FROM steward_item WHERE item_id = $1::bigint",
        1, p, "read item", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    if (!PQntuples(r)) {
        PQclear(r);
        return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND, "no item %s",
                         item);
    }
    if (strcmp(PQgetvalue(r, 0, 3), "open")) {
        gh_err_t e =
            gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                      "item %s is %s, not open", item, PQgetvalue(r, 0, 3));
        PQclear(r);
        return e;
    }
    snprintf(pa, 32, "%s", PQgetvalue(r, 0, 0));
    snprintf(pb, 32, "%s", PQgetvalue(r, 0, 1));
    snprintf(field, 32, "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return GH_OK;
}
