/* The steward's actions: each one transaction that records the decision,
 * turns it into constraints and re-resolves the persons concerned. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "gridhub/sqlarr.h"
#include "steward_int.h"

static gh_err_t begin(gh_steward_t *s, const char *by, const char *reason,
                      char *errstr, size_t errstr_size) {
    if (!by || !*by)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "a decision needs the steward's name (--by NAME)");
    if (!reason || !*reason)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "a decision needs a reason (--reason TEXT)");
    gh_err_t e = gh_pg_exec(s->db, "BEGIN", errstr, errstr_size);
    if (!e) e = gh_resolver_lock(s->db, errstr, errstr_size);
    /* A decision publishes the persons it changes at once. */
    if (!e) e = gh_resolver_lock_views(s->db, errstr, errstr_size);
    return e;
}

static void rollback(gh_steward_t *s) {
    char ignore[256];
    gh_pg_exec(s->db, "ROLLBACK", ignore, sizeof(ignore));
}

/* Records the decision, and its audit entry (kind "steward": the
 * database role that made it, the name given with --by, the reason, the
 * item, the details, and the API token when one acts) in the same
 * transaction; its id goes to id_out
 * (32 bytes). */
static gh_err_t decide(gh_steward_t *s, const char *action, const char *by,
                       const char *reason, const char *item, json_t *details,
                       char id_out[32], char *errstr, size_t errstr_size) {
    char *dj = json_dumps(details, JSON_COMPACT);
    const char *p[5] = {action, by, reason, item && *item ? item : NULL, dj};
    PGresult *r = gh_pg_query_what(
        s->db,
        "INSERT INTO steward_decision (action, decided_by, reason, item_id, "
        "details) VALUES ($1, $2, $3, $4::bigint, $5::jsonb) RETURNING "
        "decision_id, db_role",
        5, p, "record decision", errstr, errstr_size);
    free(dj);
    if (!r) return GH_ERR_PG;
    snprintf(id_out, 32, "%s", PQgetvalue(r, 0, 0));
    json_t *body = json_pack(
        "{s:I,s:s,s:s,s:s,s:s,s:o?,s:O}", "decision",
        (json_int_t)strtoll(id_out, NULL, 10), "action", action, "db_role",
        PQgetvalue(r, 0, 1), "by", by, "reason", reason, "item",
        item && *item ? json_integer(strtoll(item, NULL, 10)) : NULL, "details",
        details);
    PQclear(r);
    if (s->token) {
        json_object_set_new(body, "token", json_string(s->token));
        if (s->subscriber)
            json_object_set_new(body, "api_subscriber",
                                json_string(s->subscriber));
    }
    char *bj = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    gh_audit_batch_t *b = gh_audit_batch_new();
    gh_audit_batch_add(b, "steward", NULL, "person", NULL, bj);
    free(bj);
    gh_err_t e = gh_audit_append(s->db, b, errstr, errstr_size);
    gh_audit_batch_destroy(b);
    return e;
}

/* Live records of a person, oldest first, as a bigint[] literal. */
static gh_err_t person_recs(gh_steward_t *s, const char *pid, gh_sqlarr_t *out,
                            char *errstr, size_t errstr_size) {
    const char *p[1] = {pid};
    PGresult *r = gh_pg_query_what(
        s->db,
        "SELECT rec_id FROM source_person WHERE person_id = $1 "
        "AND NOT deleted ORDER BY rec_id",
        1, p, "read person records", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    gh_sqlarr_reset(out);
    for (int i = 0; i < PQntuples(r); i++)
        gh_sqlarr_int(out, strtoll(PQgetvalue(r, i, 0), NULL, 10));
    int n = PQntuples(r);
    PQclear(r);
    if (!n)
        return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                         "person %s has no live records (unknown or retired "
                         "id?)",
                         pid);
    return GH_OK;
}

/* Re-resolves the persons, closes the item, commits, and says where each
 * person's records went. */
static gh_err_t finish(gh_steward_t *s, FILE *out, const char *item,
                       const char *decision, const char *const *pids, int n,
                       const char *action, char *errstr, size_t errstr_size) {
    gh_resolve_stats_t st;
    memset(&st, 0, sizeof(st));
    gh_err_t e = gh_resolver_run(s->resolver, s->db, NULL, 0, pids, (size_t)n,
                                 &st, errstr, errstr_size);
    if (!e && item && *item) {
        const char *p[2] = {item, decision};
        e = gh_pg_exec_what(
            s->db,
            "UPDATE steward_item SET status = 'resolved', decision_id = "
            "$2::bigint, updated_at = now() WHERE item_id = $1::bigint",
            2, p, "resolve item", errstr, errstr_size);
    }
    if (!e) e = gh_pg_exec(s->db, "COMMIT", errstr, errstr_size);
    if (e) {
        rollback(s);
        return e;
    }
    snprintf(s->last.decision, sizeof(s->last.decision), "%s", decision);
    s->last.persons = st.persons;
    s->last.retired = st.retired;
    fprintf(out,
            "%s: decision %s recorded; %lld person%s rewritten, %lld id%s "
            "retired\n",
            action, decision, st.persons, st.persons == 1 ? "" : "s",
            st.retired, st.retired == 1 ? "" : "s");
    return GH_OK;
}

/* A star of forced links from the oldest record holds the merged person
 * together whatever its records later say; kept-apart pairs between the
 * two go. */
static gh_err_t forced(gh_steward_t *s, gh_sqlarr_t *x, gh_sqlarr_t *y,
                       const char *dec, char *errstr, size_t errstr_size) {
    const char *p[3] = {gh_sqlarr_get(x), gh_sqlarr_get(y), dec};
    return gh_pg_exec_what(
        s->db,
        "WITH r AS (SELECT unnest($1::bigint[] || $2::bigint[]) AS rec), "
        "c AS (SELECT min(rec) AS hub FROM r), del AS (DELETE FROM "
        "steward_constraint WHERE kind = 'apart' AND ((a = "
        "ANY($1::bigint[]) "
        "AND b = ANY($2::bigint[])) OR (a = ANY($2::bigint[]) AND b = "
        "ANY($1::bigint[])))) INSERT INTO steward_constraint SELECT "
        "c.hub, r.rec, 'merge', $3::bigint FROM r, c WHERE r.rec <> c.hub "
        "ON CONFLICT DO NOTHING",
        3, p, "record merge", errstr, errstr_size);
}

/* Keeps the records of set x and set y apart (pairs a < b) and drops the
 * forced links between them. */
static gh_err_t apart(gh_steward_t *s, gh_sqlarr_t *x, gh_sqlarr_t *y,
                      const char *dec, char *errstr, size_t errstr_size) {
    char lim[32];
    snprintf(lim, sizeof(lim), "%d", s->apart_max);
    const char *p[4] = {gh_sqlarr_get(x), gh_sqlarr_get(y), dec, lim};
    return gh_pg_exec_what(
        s->db,
        "WITH del AS (DELETE FROM steward_constraint WHERE kind = 'merge' AND "
        "((a = ANY($1::bigint[]) AND b = ANY($2::bigint[])) OR (a = "
        "ANY($2::bigint[]) AND b = ANY($1::bigint[])))) INSERT INTO "
        "steward_constraint SELECT least(x, y), greatest(x, y), 'apart', "
        "$3::bigint FROM unnest($1::bigint[]) x, unnest($2::bigint[]) y "
        "WHERE x <> y LIMIT $4::int ON CONFLICT DO NOTHING",
        4, p, "record keep-apart", errstr, errstr_size);
}

/* merge and keep-apart: a decision about two persons, turned into
 * constraints between their records by `constrain`. */
static gh_err_t
pair_action(gh_steward_t *s, FILE *out, const char *action,
            gh_err_t (*constrain)(gh_steward_t *, gh_sqlarr_t *, gh_sqlarr_t *,
                                  const char *, char *, size_t),
            const char *item, const char *pa, const char *pb, const char *by,
            const char *reason, char *errstr, size_t errstr_size) {
    if (!pa || !pb || !strcmp(pa, pb))
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "%s needs two different persons%s", action,
                         strcmp(action, "merge")
                             ? " (to divide one person, use split)"
                             : "");
    gh_err_t e = begin(s, by, reason, errstr, errstr_size);
    if (e) return e;
    gh_sqlarr_t ra = {0}, rb = {0};
    char dec[32];
    json_t *d = json_pack("{s:[s,s]}", "persons", pa, pb);
    e = person_recs(s, pa, &ra, errstr, errstr_size);
    if (!e) e = person_recs(s, pb, &rb, errstr, errstr_size);
    if (!e)
        e = decide(s, action, by, reason, item, d, dec, errstr, errstr_size);
    if (!e) e = constrain(s, &ra, &rb, dec, errstr, errstr_size);
    json_decref(d);
    gh_sqlarr_free(&ra);
    gh_sqlarr_free(&rb);
    if (e) {
        rollback(s);
        return e;
    }
    const char *pids[2] = {pa, pb};
    return finish(s, out, item, dec, pids, 2, action, errstr, errstr_size);
}

gh_err_t gh_steward_merge(gh_steward_t *s, FILE *out, const char *item,
                          const char *pa, const char *pb, const char *by,
                          const char *reason, char *errstr,
                          size_t errstr_size) {
    return pair_action(s, out, "merge", forced, item, pa, pb, by, reason,
                       errstr, errstr_size);
}

gh_err_t gh_steward_keep_apart(gh_steward_t *s, FILE *out, const char *item,
                               const char *pa, const char *pb, const char *by,
                               const char *reason, char *errstr,
                               size_t errstr_size) {
    return pair_action(s, out, "keep-apart", apart, item, pa, pb, by, reason,
                       errstr, errstr_size);
}

gh_err_t gh_steward_split(gh_steward_t *s, FILE *out, const char *pid,
                          const char *const *recs, int n, const char *by,
                          const char *reason, char *errstr,
                          size_t errstr_size) {
    if (!pid || n < 1)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "split needs a person and at least one record "
                         "(department:source_key) to take out of it");
    gh_err_t e = begin(s, by, reason, errstr, errstr_size);
    if (e) return e;
    gh_sqlarr_t all = {0}, out_set = {0}, rest = {0};
    char dec[32];
    json_t *d = json_pack("{s:s,s:[]}", "person", pid, "records");
    e = person_recs(s, pid, &all, errstr, errstr_size);
    gh_sqlarr_reset(&out_set);
    for (int i = 0; i < n && !e; i++) {
        const char *colon = strchr(recs[i], ':');
        if (!colon) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                          "\"%s\": expected department:source_key", recs[i]);
            break;
        }
        char *dept = gh_xstrndup(recs[i], (size_t)(colon - recs[i]));
        const char *p[3] = {dept, colon + 1, pid};
        PGresult *r = gh_pg_query_what(
            s->db,
            "SELECT rec_id, coalesce(person_id, '') FROM "
            "source_person WHERE department = $1 AND source_key = "
            "$2 AND NOT deleted",
            2, p, "find record", errstr, errstr_size);
        free(dept);
        if (!r) {
            e = GH_ERR_PG;
            break;
        }
        if (!PQntuples(r) || strcmp(PQgetvalue(r, 0, 1), pid))
            e = gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                          "record %s is not a live record of person %s",
                          recs[i], pid);
        else {
            gh_sqlarr_int(&out_set, strtoll(PQgetvalue(r, 0, 0), NULL, 10));
            json_array_append_new(json_object_get(d, "records"),
                                  json_string(recs[i]));
        }
        PQclear(r);
    }
    if (!e) {
        const char *p[2] = {gh_sqlarr_get(&all), gh_sqlarr_get(&out_set)};
        PGresult *r = gh_pg_query_what(
            s->db,
            "SELECT x FROM unnest($1::bigint[]) x WHERE x <> ALL "
            "($2::bigint[])",
            2, p, "divide records", errstr, errstr_size);
        if (!r)
            e = GH_ERR_PG;
        else {
            gh_sqlarr_reset(&rest);
            for (int i = 0; i < PQntuples(r); i++)
                gh_sqlarr_int(&rest, strtoll(PQgetvalue(r, i, 0), NULL, 10));
            if (!rest.n)
                e = gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                              "those are all of %s's records: nothing would "
                              "be left to split from",
                              pid);
            PQclear(r);
        }
    }
    if (!e)
        e = decide(s, "split", by, reason, NULL, d, dec, errstr, errstr_size);
    if (!e) e = apart(s, &out_set, &rest, dec, errstr, errstr_size);
    json_decref(d);
    gh_sqlarr_free(&all);
    gh_sqlarr_free(&out_set);
    gh_sqlarr_free(&rest);
    if (e) {
        rollback(s);
        return e;
    }
    const char *pids[1] = {pid};
    return finish(s, out, NULL, dec, pids, 1, "split", errstr, errstr_size);
}

gh_err_t gh_steward_choose(gh_steward_t *s, FILE *out, const char *item,
                           const char *pid, const char *field,
                           const char *value, const char *by,
                           const char *reason, char *errstr,
                           size_t errstr_size) {
    if (gh_golden_field_index(field) < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "\"%s\" is not a golden field (id_number, name, sex, "
                         "birth_date, phone, address, grid_code)",
                         field ? field : "");
    gh_err_t e = begin(s, by, reason, errstr, errstr_size);
    if (e) return e;
    gh_sqlarr_t ra = {0};
    char dec[32];
    /* Every chosen value is sealed: which fields hold personal data is the
     * policy's to say, not this command's. The decision (append-only, in
     * the audit log too) names the field; the value is the override's. */
    gh_crypt_t *c = gh_feed_crypt(s->feed);
    char *sv = value && *value && c
                   ? gh_crypt_seal(c, "override", value, strlen(value))
                   : NULL;
    json_t *d = json_pack("{s:s,s:s,s:b}", "person", pid, "field", field,
                          "cleared", !(value && *value));
    e = person_recs(s, pid, &ra, errstr, errstr_size);
    if (!e)
        e = decide(s, "choose", by, reason, item, d, dec, errstr, errstr_size);
    if (!e) {
        const char *p[4] = {pid, field,
                            sv                ? sv
                            : value && *value ? value
                                              : NULL,
                            dec};
        e = gh_pg_exec_what(
            s->db,
            "INSERT INTO person_override (person_id, field, value, "
            "decision_id) VALUES ($1, $2, $3, $4::bigint) ON CONFLICT "
            "(person_id, field) DO UPDATE SET value = $3, decision_id = "
            "$4::bigint, chosen_at = now()",
            4, p, "record choice", errstr, errstr_size);
    }
    json_decref(d);
    free(sv);
    gh_sqlarr_free(&ra);
    if (e) {
        rollback(s);
        return e;
    }
    const char *pids[1] = {pid};
    return finish(s, out, item, dec, pids, 1, "choose", errstr, errstr_size);
}
