/* Flushing the feed: what each subscriber holds (feed_state) against what
 * the policy now gives it; the differences go to the outbox. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_int.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/sqlarr.h"

#define LOG "feed"

/* Whether feed_plan holds the plans this feed runs (a process with
 * another policy version must not write the views). */
static gh_err_t check_plans(gh_feed_t *f, PGconn *db, char *errstr,
                            size_t errstr_size) {
    PGresult *r = gh_pg_query_what(
        db, "SELECT subscriber, entity, digest, policy_version FROM feed_plan",
        0, NULL, "read feed plans", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    gh_err_t e = GH_OK;
    for (int i = 0; i < PQntuples(r) && !e; i++) {
        int s = gh_policy_subscriber_find(f->policy, PQgetvalue(r, i, 0));
        int en = gh_policy_entity_find(f->policy, PQgetvalue(r, i, 1));
        const char *mine =
            s < 0 || en < 0
                ? NULL
                : gh_policy_plan_digest(f->plans[s * f->nents + en]);
        if (!mine || strcmp(mine, PQgetvalue(r, i, 2)))
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "the hub materializes policy version %s for "
                          "subscriber %s, and this process loaded version %s "
                          "(%s)%s: run it with the hub's policy and key files",
                          PQgetvalue(r, i, 3), PQgetvalue(r, i, 0),
                          gh_policy_version(f->policy),
                          gh_policy_name(f->policy),
                          mine ? "" : ", which lacks that subscriber");
    }
    PQclear(r);
    return e;
}

static void hex_bytea(gh_buf_t *out, const gh_buf_t *in) {
    char *hex = gh_xmalloc(2 * in->len + 1);
    gh_hex_encode(in->data, in->len, hex);
    gh_buf_reset(out);
    gh_buf_puts(out, "\\x");
    gh_buf_append(out, hex, 2 * in->len);
    free(hex);
}

typedef struct held {
    const char *key;    /* msg_key */
    const char *digest; /* hex, NULL: a tombstone was sent last */
} held_t;

/* Reads feed_state for the candidates' records into map "plan|id" ->
 * held_t index; returns the result (kept for the strings). */
static PGresult *read_state(gh_feed_t *f, PGconn *db, json_t *map,
                            held_t **held, char *errstr, size_t errstr_size) {
    gh_sqlarr_t ids = {0}, ents = {0};
    gh_sqlarr_reset(&ids);
    gh_sqlarr_reset(&ents);
    json_t *seen = json_object();
    for (int i = 0; i < f->nc; i++) {
        const cand_t *c = &f->c[i];
        const char *en = gh_policy_entity_name(f->policy, c->plan % f->nents);
        char k[512];
        snprintf(k, sizeof(k), "%s|%s", en, c->id);
        if (json_object_get(seen, k)) continue;
        json_object_set_new(seen, k, json_true());
        gh_sqlarr_text(&ents, en);
        gh_sqlarr_text(&ids, c->id);
    }
    json_decref(seen);
    const char *p[2] = {gh_sqlarr_get(&ents), gh_sqlarr_get(&ids)};
    /* One index probe per record whatever the statistics say (a lateral
     * subquery fenced by OFFSET): as a join, the planner sorted the whole
     * table, spilling to disk, for each page of 10,000 records while it
     * was small (175 ms a call, 30 calls over a demo load). */
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT s.subscriber, s.entity, s.record_id, s.msg_key, "
        "encode(s.digest, 'hex') FROM unnest($1::text[], $2::text[]) AS "
        "u(entity, record_id) CROSS JOIN LATERAL (SELECT * FROM feed_state x "
        "WHERE x.entity = u.entity AND x.record_id = u.record_id OFFSET 0) s",
        2, p, "read what subscribers hold", errstr, errstr_size);
    gh_sqlarr_free(&ids);
    gh_sqlarr_free(&ents);
    if (!r) return NULL;
    int n = PQntuples(r);
    *held = gh_xcalloc((size_t)n + 1, sizeof(held_t));
    for (int i = 0; i < n; i++) {
        int s = gh_policy_subscriber_find(f->policy, PQgetvalue(r, i, 0));
        int en = gh_policy_entity_find(f->policy, PQgetvalue(r, i, 1));
        if (s < 0 || en < 0) continue;
        char k[512];
        snprintf(k, sizeof(k), "%d|%s", s * f->nents + en, PQgetvalue(r, i, 2));
        (*held)[i].key = PQgetvalue(r, i, 3);
        (*held)[i].digest = PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4);
        json_object_set_new(map, k, json_integer(i));
    }
    return r;
}

/* The outbox and feed_state rows being built. */
typedef struct rows {
    gh_sqlarr_t box[5]; /* topic, key, payload, record id, version */
    gh_sqlarr_t st[5];  /* subscriber, entity, record id, key, digest */
    json_t *schemas;    /* fingerprint hex -> 1, for view_schema */
    gh_buf_t hex;
    long n;
} rows_t;

/* The audit entry of one outbox row: what the subscriber is told, under
 * which policy, plan and purpose. */
static void audit_row(gh_feed_t *f, const cand_t *c, const char *key,
                      int tombstone) {
    gh_policy_subscriber_t sb;
    gh_policy_subscriber(f->policy, c->plan / f->nents, &sb);
    gh_buf_t *b = &f->audit_body;
    gh_buf_reset(b);
    gh_buf_printf(b, "{\"op\":\"%s\"", tombstone ? "remove" : "put");
    if (!tombstone && c->disclosed)
        gh_buf_printf(b, ",\"fields\":%s", c->disclosed);
    gh_buf_printf(b, ",\"policy\":\"%s\",\"plan\":\"%s\",\"purpose\":",
                  gh_policy_version(f->policy),
                  gh_policy_plan_digest(f->plans[c->plan]));
    gh_buf_json_string(b, sb.purpose ? sb.purpose : sb.role);
    gh_buf_printf(b, ",\"record_version\":%" PRId64 "}", c->version);
    gh_audit_batch_add(f->audit, "disclosure", sb.name,
                       gh_policy_entity_name(f->policy, c->plan % f->nents),
                       key, b->data);
}

static void out_row(gh_feed_t *f, rows_t *w, const cand_t *c, const char *key,
                    int tombstone) {
    audit_row(f, c, key, tombstone);
    char ver[32];
    snprintf(ver, sizeof(ver), "%" PRId64, c->version);
    gh_sqlarr_text(&w->box[0], f->topics[c->plan]);
    gh_sqlarr_text(&w->box[1], key);
    if (!tombstone && f->crypt) {
        /* Sealed text has no backslash: bytea takes it as it is. */
        char *sealed =
            gh_crypt_seal(f->crypt, "payload", c->payload.data, c->payload.len);
        gh_buf_reset(&w->hex);
        gh_buf_puts(&w->hex, sealed);
        free(sealed);
    } else if (!tombstone) {
        hex_bytea(&w->hex, &c->payload);
    }
    gh_sqlarr_text(&w->box[2], tombstone ? NULL : w->hex.data);
    gh_sqlarr_text(&w->box[3], c->id);
    gh_sqlarr_text(&w->box[4], ver);
    w->n++;
}

static void state_row(gh_feed_t *f, rows_t *w, const cand_t *c,
                      const char *digest) {
    gh_policy_subscriber_t sb;
    gh_policy_subscriber(f->policy, c->plan / f->nents, &sb);
    gh_sqlarr_text(&w->st[0], sb.name);
    gh_sqlarr_text(&w->st[1],
                   gh_policy_entity_name(f->policy, c->plan % f->nents));
    gh_sqlarr_text(&w->st[2], c->id);
    gh_sqlarr_text(&w->st[3], c->key);
    gh_sqlarr_text(&w->st[4], digest);
}

/* Decides one candidate against what the subscriber holds. */
static void decide(gh_feed_t *f, rows_t *w, const cand_t *c, const held_t *h) {
    int force = f->force[c->plan];
    if (c->in_scope) {
        if (h && h->digest && !force && !strcmp(h->digest, c->digest) &&
            !strcmp(h->key, c->key))
            return; /* it holds exactly this */
        if (h && h->digest && strcmp(h->key, c->key))
            out_row(f, w, c, h->key, 1); /* re-keyed: the old key goes */
        out_row(f, w, c, c->key, 0);
        state_row(f, w, c, c->digest);
        char fp[17];
        snprintf(fp, sizeof(fp), "%016" PRIx64, c->fingerprint);
        json_object_set_new(w->schemas, fp, json_true());
        return;
    }
    if (!h || (!h->digest && !force)) return; /* it holds nothing */
    out_row(f, w, c, h->key, 1);
    state_row(f, w, c, NULL);
}

static gh_err_t write_rows(gh_feed_t *f, PGconn *db, rows_t *w, char *errstr,
                           size_t errstr_size) {
    if (json_object_size(w->schemas)) {
        gh_sqlarr_t fp = {0}, name = {0}, js = {0};
        gh_sqlarr_reset(&fp);
        gh_sqlarr_reset(&name);
        gh_sqlarr_reset(&js);
        const char *k;
        json_t *v;
        json_object_foreach(w->schemas, k, v) {
            const gh_schema_t *s =
                gh_schemas_by_fingerprint(f->set, strtoull(k, NULL, 16));
            if (!s) continue;
            gh_sqlarr_text(&fp, k);
            gh_sqlarr_text(&name, gh_schema_fullname(s));
            gh_sqlarr_text(&js, gh_schema_json(s));
        }
        const char *p[3] = {gh_sqlarr_get(&fp), gh_sqlarr_get(&name),
                            gh_sqlarr_get(&js)};
        gh_err_t e = gh_pg_exec_what(
            db,
            "INSERT INTO view_schema (fingerprint, name, schema) SELECT * "
            "FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO "
            "NOTHING",
            3, p, "record view schemas", errstr, errstr_size);
        gh_sqlarr_free(&fp);
        gh_sqlarr_free(&name);
        gh_sqlarr_free(&js);
        if (e) return e;
    }
    if (w->box[0].n) {
        const char *p[5];
        for (int k = 0; k < 5; k++)
            p[k] = gh_sqlarr_get(&w->box[k]);
        gh_err_t e = gh_pg_exec_what(
            db,
            "INSERT INTO outbox (topic, msg_key, payload, person_id, version) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], "
            "$4::text[], $5::bigint[])",
            5, p, "write outbox", errstr, errstr_size);
        if (!e) e = gh_audit_append(db, f->audit, errstr, errstr_size);
        if (e) return e;
    }
    if (w->st[0].n) {
        const char *p[5];
        for (int k = 0; k < 5; k++)
            p[k] = gh_sqlarr_get(&w->st[k]);
        gh_err_t e = gh_pg_exec_what(
            db,
            "INSERT INTO feed_state AS s (subscriber, entity, record_id, "
            "msg_key, digest) SELECT u.s, u.e, u.r, u.k, decode(u.d, 'hex') "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
            "$5::text[]) AS u(s, e, r, k, d) ON CONFLICT (entity, record_id, "
            "subscriber) DO UPDATE SET msg_key = EXCLUDED.msg_key, digest = "
            "EXCLUDED.digest",
            5, p, "record what subscribers hold", errstr, errstr_size);
        if (e) return e;
    }
    return GH_OK;
}

gh_err_t gh__feed_write(gh_feed_t *f, PGconn *db, long *written, char *errstr,
                        size_t errstr_size) {
    json_t *map = json_object(), *last = json_object();
    held_t *held = NULL;
    gh_audit_batch_clear(f->audit); /* what a failed attempt queued */
    PGresult *st = read_state(f, db, map, &held, errstr, errstr_size);
    if (!st) {
        json_decref(map);
        json_decref(last);
        return GH_ERR_PG;
    }
    /* The last candidate of a (plan, record) is the one that counts. */
    char k[512];
    for (int i = 0; i < f->nc; i++) {
        snprintf(k, sizeof(k), "%d|%s", f->c[i].plan, f->c[i].id);
        json_object_set_new(last, k, json_integer(i));
    }
    rows_t w;
    memset(&w, 0, sizeof(w));
    for (int j = 0; j < 5; j++) {
        gh_sqlarr_reset(&w.box[j]);
        gh_sqlarr_reset(&w.st[j]);
    }
    w.schemas = json_object();
    for (int i = 0; i < f->nc; i++) {
        const cand_t *c = &f->c[i];
        snprintf(k, sizeof(k), "%d|%s", c->plan, c->id);
        if (json_integer_value(json_object_get(last, k)) != i) continue;
        json_t *hi = json_object_get(map, k);
        decide(f, &w, c, hi ? &held[json_integer_value(hi)] : NULL);
    }
    gh_err_t e = write_rows(f, db, &w, errstr, errstr_size);
    if (!e && written) *written = w.n;
    for (int j = 0; j < 5; j++) {
        gh_sqlarr_free(&w.box[j]);
        gh_sqlarr_free(&w.st[j]);
    }
    gh_buf_free(&w.hex);
    json_decref(w.schemas);
    json_decref(map);
    json_decref(last);
    free(held);
    PQclear(st);
    return e;
}

gh_err_t gh_feed_flush(gh_feed_t *f, PGconn *db, long *written, char *errstr,
                       size_t errstr_size) {
    if (written) *written = 0;
    if (!f->nc) return GH_OK;
    gh_err_t e = check_plans(f, db, errstr, errstr_size);
    if (!e) e = gh__feed_write(f, db, written, errstr, errstr_size);
    gh__feed_clear(f);
    return e;
}
