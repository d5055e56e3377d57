/* Re-materialization: feed_plan against the plans in force, and sweeps
 * that re-evaluate every record for the subscribers whose plan changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_int.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"

#define LOG "feed"

/* Tombstones everything a subscriber that left the policy holds, and
 * forgets it. */
static gh_err_t retire(gh_feed_t *f, PGconn *db, const char *sub,
                       const char *entity, char *errstr, size_t errstr_size) {
    char *topic = gh_xasprintf(
        "%s.%s.%s", gh_conf_get(f->conf, "view.topic.prefix"), sub, entity);
    const char *p[3] = {sub, entity, topic};
    PGresult *r = gh_pg_query_what(
        db,
        "WITH gone AS (DELETE FROM feed_state WHERE subscriber = $1 AND "
        "entity = $2 RETURNING msg_key, record_id, digest) INSERT INTO outbox "
        "(topic, msg_key, payload, person_id, version) SELECT $3, msg_key, "
        "NULL, record_id, NULL FROM gone WHERE digest IS NOT NULL RETURNING 1",
        3, p, "tombstone a former subscriber's view", errstr, errstr_size);
    free(topic);
    if (!r) return GH_ERR_PG;
    long n = PQntuples(r);
    PQclear(r);
    gh_err_t e = gh_pg_exec_what(
        db, "DELETE FROM feed_plan WHERE subscriber = $1 AND entity = $2", 2, p,
        "forget a former subscriber", errstr, errstr_size);
    if (!e)
        gh_log_warn(LOG,
                    "subscriber %s is no longer in the policy: %ld tombstones "
                    "empty its %s view",
                    sub, n, entity);
    return e;
}

gh_err_t gh_feed_sync(gh_feed_t *f, PGconn *db, int *sweeps, char *errstr,
                      size_t errstr_size) {
    if (sweeps) *sweeps = 0;
    PGresult *r = gh_pg_query_what(
        db, "SELECT subscriber, entity, digest, swept, force FROM feed_plan", 0,
        NULL, "read feed plans", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    int n = f->nsubs * f->nents, queued = 0;
    int *row = gh_xcalloc((size_t)n + 1, sizeof(int));
    gh_err_t e = GH_OK;
    for (int i = 0; i < n; i++)
        row[i] = -1;
    for (int i = 0; i < PQntuples(r) && !e; i++) {
        int s = gh_policy_subscriber_find(f->policy, PQgetvalue(r, i, 0));
        int en = gh_policy_entity_find(f->policy, PQgetvalue(r, i, 1));
        if (s >= 0 && en >= 0)
            row[s * f->nents + en] = i;
        else
            e = retire(f, db, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), errstr,
                       errstr_size);
    }
    for (int pi = 0; pi < n && !e; pi++) {
        const char *digest = gh_policy_plan_digest(f->plans[pi]);
        int i = row[pi];
        int same = i >= 0 && !strcmp(PQgetvalue(r, i, 2), digest);
        int done = same && PQgetvalue(r, i, 3)[0] == 't';
        int force = same && PQgetvalue(r, i, 4)[0] == 't';
        if (done) {
            f->sweep[pi] = f->force[pi] = 0;
            continue;
        }
        if (f->sweep[pi] && f->force[pi] == force && same) continue;
        gh_policy_subscriber_t sb;
        gh_policy_subscriber(f->policy, pi / f->nents, &sb);
        const char *en = gh_policy_entity_name(f->policy, pi % f->nents);
        const char *p[5] = {sb.name, en, digest, gh_policy_version(f->policy),
                            force ? "true" : "false"};
        e = gh_pg_exec_what(
            db,
            "INSERT INTO feed_plan (subscriber, entity, digest, "
            "policy_version, swept, force) VALUES ($1, $2, $3, $4, false, $5) "
            "ON CONFLICT (subscriber, entity) DO UPDATE SET digest = $3, "
            "policy_version = $4, swept = false, force = $5, updated_at = "
            "now()",
            5, p, "record a feed plan", errstr, errstr_size);
        if (e) break;
        f->sweep[pi] = 1;
        f->force[pi] = force;
        free(f->cursor[pi % f->nents]);
        f->cursor[pi % f->nents] = NULL;
        queued++;
        gh_log_info(LOG, "subscriber %s: %s view %s (plan %.12s)", sb.name, en,
                    force   ? "queued for a full re-send"
                    : i < 0 ? "to be materialized"
                            : "to be re-materialized",
                    digest);
    }
    memcpy(f->sweep_prev, f->sweep, (size_t)n * sizeof(int));
    memcpy(f->force_prev, f->force, (size_t)n * sizeof(int));
    for (int en = 0; en < f->nents; en++) {
        free(f->cursor_prev[en]);
        f->cursor_prev[en] = f->cursor[en] ? gh_xstrdup(f->cursor[en]) : NULL;
    }
    free(row);
    PQclear(r);
    if (sweeps) *sweeps = queued;
    return e;
}

gh_err_t gh_feed_resend(gh_feed_t *f, PGconn *db, int sub, char *errstr,
                        size_t errstr_size) {
    gh_policy_subscriber_t sb;
    gh_policy_subscriber(f->policy, sub, &sb);
    const char *p[1] = {sb.name};
    PGresult *r = gh_pg_query_what(
        db,
        "UPDATE feed_plan SET swept = false, force = true, updated_at = now() "
        "WHERE subscriber = $1 RETURNING 1",
        1, p, "queue a re-send", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    int n = PQntuples(r);
    PQclear(r);
    if (!n)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "the hub has not materialized subscriber %s yet (it "
                         "does at its next start)",
                         sb.name);
    return GH_OK;
}

int gh_feed_sweeping(const gh_feed_t *f) {
    for (int i = 0; i < f->nsubs * f->nents; i++)
        if (f->sweep[i]) return 1;
    return 0;
}

void gh_feed_sweep_rewind(gh_feed_t *f) {
    int n = f->nsubs * f->nents;
    memcpy(f->sweep, f->sweep_prev, (size_t)n * sizeof(int));
    memcpy(f->force, f->force_prev, (size_t)n * sizeof(int));
    for (int en = 0; en < f->nents; en++) {
        free(f->cursor[en]);
        f->cursor[en] =
            f->cursor_prev[en] ? gh_xstrdup(f->cursor_prev[en]) : NULL;
    }
    gh__feed_clear(f);
}

/* Marks entity en's sweeps done: in feed_plan (if the plan is still the
 * one recorded) and here. */
static gh_err_t finish(gh_feed_t *f, PGconn *db, int en, char *errstr,
                       size_t errstr_size) {
    for (int s = 0; s < f->nsubs; s++) {
        int pi = s * f->nents + en;
        if (!f->sweep[pi]) continue;
        gh_policy_subscriber_t sb;
        gh_policy_subscriber(f->policy, s, &sb);
        const char *p[3] = {sb.name, gh_policy_entity_name(f->policy, en),
                            gh_policy_plan_digest(f->plans[pi])};
        gh_err_t e = gh_pg_exec_what(
            db,
            "UPDATE feed_plan SET swept = true, force = false, updated_at = "
            "now() WHERE subscriber = $1 AND entity = $2 AND digest = $3",
            3, p, "record a finished sweep", errstr, errstr_size);
        if (e) return e;
        f->sweep[pi] = f->force[pi] = 0;
        gh_log_info(LOG, "subscriber %s: %s view materialized (plan %.12s)",
                    sb.name, p[1], p[2]);
    }
    free(f->cursor[en]);
    f->cursor[en] = NULL;
    return GH_OK;
}

gh_err_t gh_feed_sweep_step(gh_feed_t *f, PGconn *db, gh_feed_source_cb *source,
                            void *ctx, long *rows, char *errstr,
                            size_t errstr_size) {
    if (rows) *rows = 0;
    int n = f->nsubs * f->nents, en = -1;
    for (int pi = 0; pi < n && en < 0; pi++)
        if (f->sweep[pi]) en = pi % f->nents;
    if (en < 0) return GH_OK;
    /* What to go back to if the transaction does not commit. */
    memcpy(f->sweep_prev, f->sweep, (size_t)n * sizeof(int));
    memcpy(f->force_prev, f->force, (size_t)n * sizeof(int));
    for (int k = 0; k < f->nents; k++) {
        free(f->cursor_prev[k]);
        f->cursor_prev[k] = f->cursor[k] ? gh_xstrdup(f->cursor[k]) : NULL;
    }
    int limit = (int)gh_conf_get_int(f->conf, "policy.sweep.page");
    char *last = NULL;
    int got = 0;
    gh__feed_clear(f);
    f->only_sweep = 1;
    gh_err_t e = source(ctx, f, db, en, f->cursor[en] ? f->cursor[en] : "",
                        limit, &last, &got, errstr, errstr_size);
    f->only_sweep = 0;
    if (!e) e = gh_feed_flush(f, db, rows, errstr, errstr_size);
    gh__feed_clear(f);
    if (e) {
        free(last);
        return e;
    }
    if (last) {
        free(f->cursor[en]);
        f->cursor[en] = last;
    }
    if (got < limit) e = finish(f, db, en, errstr, errstr_size);
    return e;
}
