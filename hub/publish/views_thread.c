/* The views thread: what a hub process writes to the subscriber feeds,
 * beside the batches. The main thread consumes, applies and resolves, and
 * commits each batch with notes (view_dirty); this thread, on
 * connections of its own, makes the views from the notes (grid, event,
 * household and building records, the persons' attributes, the persons
 * published), follows the policy (syncs, sweeps) and issues audit heads.
 * The two overlap: PostgreSQL works on a batch's resolution and the last
 * batch's views at once (docs/scaling.md). The feed (with its keys,
 * policy and serializer), the grid module's view values and a resolver for
 * publishing are this thread's alone while it runs. The rows it writes to
 * the outbox go out as soon as they are committed, by the relay thread it
 * starts and stops (relay_thread.c), while the main thread applies the
 * next batch and this one makes the next views. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "defer.h"
#include "hub_int.h"
#include "kick.h"

#define LOG "hub"

struct gh__views {
    hub_t *h;           /* conf, schemas, grid views, audit key; its timings */
    gh_resolver_t *res; /* publishes persons and pages them for sweeps */
    PGconn *db;
    PGconn *adb;      /* the attributes' transactions, beside db's */
    rd_kafka_t *wake; /* the main thread's consumer */
    pthread_t th;
    gh__kick_t k;      /* kicks: batches told of */
    gh__relayer_t *rl; /* relays what this thread writes */
    /* The main thread's: whether the hub is catching up, from before the
     * batch that decided it is applied. */
    atomic_int catching_up;
    /* The main thread's: messages waiting behind its last batch (-1: not
     * known), told with catching_up. */
    _Atomic int64_t backlog;
    /* The persons noted since they were last published, held back during
     * a catch-up. */
    gh__defer_t defer;
    /* The last views published views.person.publish.max persons and
     * more may be noted: the next views follow at once. */
    int more;
};

/* Whether the aggregate views are due (and when they are next): at most
 * every views.refresh.interval.ms, whether batches come (a catching-up hub
 * commits batch after batch, each touching every grid) or the stream is
 * quiet, and during a catch-up at most every
 * views.refresh.catchup.interval.ms (defer.h). */
static int views_due(hub_t *h, int catching_up) {
    return gh__defer_views_due(
        &h->views_last_ms, &h->next_views_ms, catching_up, gh_now_ms(),
        gh_conf_get_int(h->conf, "views.refresh.interval.ms"),
        gh_conf_get_int(h->conf, "views.refresh.catchup.interval.ms"));
}

/* Whether the persons go out with these views. Not during a catch-up
 * the hub gains on (defer.h): a resident's records arrive over the whole
 * catch-up (five departments' person, registration and household topics
 * read side by side), and each round of views published every resident
 * again with what had arrived so far, 2.6 times each over a demo load; a
 * window of views.person.defer.max.ms that published at a tenth of the
 * city's load sent 93% of the residents mid-load, and again at its end. */
static int publish_now(gh__views_t *v, int catching_up) {
    const gh_conf_t *conf = v->h->conf;
    return gh__defer_publish(
        &v->defer, catching_up, gh_now_ms(), atomic_load(&v->backlog),
        gh_conf_get_int(conf, "views.person.defer.max.ms"),
        gh_conf_get_int(conf, "views.person.defer.gaining.max.ms"));
}

/* The views of what the notes name, in the caller's transaction under the
 * views lock: the event and household views (hub/grid) with `aggregates`,
 * the grid views too unless the persons are held back, and the persons'
 * attributes derived beside them in a transaction of their own on the second
 * connection (`attributes`), which notes those whose attributes changed to
 * publish, then, with `publish`, every person so noted published once (else
 * they stay noted). The two connections are two database sessions, so
 * PostgreSQL makes the aggregate views and the attributes at once, on both
 * cores, where one session made them one after the other (docs/performance.md).
 * Without aggregates there is nothing to make beside them: the attributes are
 * derived in this transaction, with one commit less in a live stream's
 * path. */
static gh_err_t views(gh__views_t *v, int aggregates, int attributes,
                      int *publish, char *errstr, size_t errstr_size) {
    hub_t *h = v->h;
    long max = gh_conf_get_int(h->conf, "views.person.publish.max");
    v->more = 0;
    /* A catch-up that began since these views did: its first batch may be
     * committed by now, and the attributes' statement would read its
     * notes. Publishing needs the attributes. */
    if (*publish &&
        (!attributes || !publish_now(v, atomic_load(&v->catching_up))))
        *publish = 0;
    gh_err_t e = GH_OK;
    int sent = 0;
    /* The views lock before the attributes lock, as everywhere. */
    int in_tx = !aggregates;
    PGconn *ac = in_tx ? v->db : v->adb;
    if (attributes) {
        e = gh_grid_attributes_send(h->grid, ac, in_tx, *publish ? max : -1,
                                    errstr, errstr_size);
        sent = !e;
    }
    /* A grid's view counts persons: while they are held back, so is it
     * (a tenth of the city's load sent each grid four to five times). */
    if (!e && aggregates)
        e = gh_grid_aggregates(h->grid, v->db, h->feed, *publish, NULL, errstr,
                               errstr_size);
    char xid[GH_GRID_XID_LEN] = "";
    long changed = 0, taken = 0;
    if (sent) {
        /* Always waited for, even after a failure here: the connection is
         * left idle, its transaction committed or rolled back. */
        char ferr[1024];
        int64_t t0 = gh_now_us();
        gh_err_t fe = gh_grid_attributes_finish(
            h->grid, ac, in_tx, xid, &changed, &taken, ferr, sizeof(ferr));
        h->us_attr_wait += gh_now_us() - t0;
        if (!e && fe) e = gh_seterr(errstr, errstr_size, fe, "%s", ferr);
    }
    /* Read now, the attributes committed: a member they already put in
     * its household's moved record is not derived again next round. */
    if (!e && aggregates)
        e = gh_grid_household_members(h->grid, v->db, errstr, errstr_size);
    int64_t t0 = gh_now_us();
    if (!e && sent && *publish) {
        e = gh_resolver_publish_noted(v->res, v->db, xid, NULL, errstr,
                                      errstr_size);
        v->more = max > 0 && taken >= max;
    }
    h->us_publish += gh_now_us() - t0;
    return e;
}

/* The building views, in a transaction of their own committed before the
 * attributes are derived: a resident's current grid follows their
 * building, and the attributes' transaction sees only what is committed. */
static gh_err_t buildings_tx(gh__views_t *v, char *errstr, size_t errstr_size) {
    hub_t *h = v->h;
    gh_err_t e = gh_pg_exec(v->db, "BEGIN", errstr, errstr_size);
    if (!e) e = gh_resolver_lock_views(v->db, errstr, errstr_size);
    if (!e)
        e = gh_grid_buildings(h->grid, v->db, h->feed, NULL, errstr,
                              errstr_size);
    if (!e) e = gh_pg_exec(v->db, "COMMIT", errstr, errstr_size);
    return e;
}

/* The notes vacuumed once a catch-up's persons are all published: the
 * table held every note of the catch-up, now dead rows that each round's
 * statements taking notes walk until a vacuum removes them (230 and 315 ms
 * a round after a tenth of the city, 0.03 ms vacuumed), and autovacuum
 * may be minutes away, its workers on the large tables the catch-up wrote
 * (migration 027). SKIP_LOCKED: a vacuum under way is as good. A failure
 * is only logged: the notes stay right, and a lost connection is seen by
 * the next statement. */
static void vacuum_notes(gh__views_t *v) {
    char errstr[512], ignore[256];
    int64_t t0 = gh_now_ms();
    /* Skipping is expected, so its WARNING is not sent (libpq would print
     * it raw, as for the batches' ANALYZE); VACUUM runs outside a
     * transaction, so the setting is the session's until RESET. */
    gh_err_t e = gh_pg_exec(v->db, "SET client_min_messages = error", errstr,
                            sizeof(errstr));
    if (!e)
        e = gh_pg_exec(v->db, "VACUUM (SKIP_LOCKED) view_dirty", errstr,
                       sizeof(errstr));
    gh_pg_exec(v->db, "RESET client_min_messages", ignore, sizeof(ignore));
    if (e)
        gh_log_warn(LOG, "views: vacuuming the notes after a catch-up: %s",
                    errstr);
    else
        gh_log_info(LOG, "views: notes vacuumed after a catch-up (%lld ms)",
                    (long long)(gh_now_ms() - t0));
}

/* One round of views at debug level: what it made and where its time went
 * (the closing lines give the totals; a catch-up's tail is read from
 * these). */
static void log_round(hub_t *h, const long long before[GH_GRID_NTIMES],
                      long long wait0, long long pub0, int64_t us,
                      int catching_up, int aggregates, int attributes,
                      int publish) {
    long long now[GH_GRID_NTIMES];
    gh_grid_times(h->grid, now);
    gh_log_debug(LOG,
                 "views: round of %lld ms (catching up %d, aggregates %d, "
                 "attributes %d, publish %d): buildings %lld, attributes "
                 "%lld (waited for %lld), grids/events/households %lld, "
                 "their feed %lld, persons published %lld",
                 (long long)us / 1000, catching_up, aggregates, attributes,
                 publish, (now[0] - before[0]) / 1000,
                 (now[1] - before[1]) / 1000, (h->us_attr_wait - wait0) / 1000,
                 (now[2] - before[2]) / 1000, (now[3] - before[3]) / 1000,
                 (h->us_publish - pub0) / 1000);
}

/* The views in a transaction of their own under the views lock. Transient
 * failures are tried again here; the notes stay until a transaction that
 * took them commits, so nothing is lost in between (migration 025). */
static gh_err_t views_tx(gh__views_t *v, char *errstr, size_t errstr_size) {
    hub_t *h = v->h;
    int catching_up = atomic_load(&v->catching_up);
    int wait = (int)gh_conf_get_int(h->conf, "retry.backoff.ms");
    int aggregates = views_due(h, catching_up);
    int publish = publish_now(v, catching_up);
    int attributes = !catching_up || aggregates;
    int deferred = v->defer.since_ms != 0;
    for (int attempt = 1;; attempt++) {
        int64_t t0 = gh_now_us();
        long long before[GH_GRID_NTIMES];
        gh_grid_times(h->grid, before);
        long long wait0 = h->us_attr_wait, pub0 = h->us_publish;
        gh_err_t e = aggregates ? buildings_tx(v, errstr, errstr_size) : GH_OK;
        if (!e) e = gh_pg_exec(v->db, "BEGIN", errstr, errstr_size);
        if (!e) e = gh_resolver_lock_views(v->db, errstr, errstr_size);
        if (!e)
            e = views(v, aggregates, attributes, &publish, errstr, errstr_size);
        int64_t t1 = gh_now_us();
        if (!e) e = gh_pg_exec(v->db, "COMMIT", errstr, errstr_size);
        h->us_views += t1 - t0;
        h->us_views_commit += gh_now_us() - t1;
        if (!e && gh_log_enabled(GH_LOG_DEBUG))
            log_round(h, before, wait0, pub0, gh_now_us() - t0, catching_up,
                      aggregates, attributes, publish);
        if (!e && attributes && publish && !v->more)
            gh__defer_clear(&v->defer);
        else if (!e && attributes)
            gh__defer_hold(&v->defer, gh_now_ms(), atomic_load(&v->backlog));
        if (!e && deferred && !v->defer.since_ms) vacuum_notes(v);
        if (!e) return GH_OK;
        e = gh__hub_after_failure(h->conf, v->db, v->res, e, attempt, &wait,
                                  "the views are made again", errstr);
        if (e) return e;
    }
}

/* gh_feed_source_cb for every entity: persons from the resolver, the
 * derived views from the grid module. */
static gh_err_t view_page(void *ctx, gh_feed_t *f, PGconn *db, int entity,
                          const char *after, int limit, char **last, int *n,
                          char *errstr, size_t errstr_size) {
    gh__views_t *v = ctx;
    if (entity == gh_feed_entity(f, "person"))
        return gh_resolver_feed_page(v->res, f, db, entity, after, limit, last,
                                     n, errstr, errstr_size);
    return gh_grid_view_page(v->h->grid, f, db, entity, after, limit, last, n,
                             errstr, errstr_size);
}

/* One step of following the policy, in its own transaction under the
 * views lock (as every writer of the feeds). */
typedef enum { FP_SYNC, FP_SWEEP } fp_step_t;

static gh_err_t policy_tx(gh__views_t *v, fp_step_t step, long *rows,
                          char *errstr, size_t errstr_size) {
    hub_t *h = v->h;
    int sweeps = 0;
    gh_err_t e = gh_pg_exec(v->db, "BEGIN", errstr, errstr_size);
    if (!e) e = gh_resolver_lock_views(v->db, errstr, errstr_size);
    if (!e && step == FP_SYNC)
        e = gh_feed_sync(h->feed, v->db, &sweeps, errstr, errstr_size);
    /* Each policy this process puts in force has its audit entry (kind
     * "policy"), with the plans it syncs. */
    const gh_policy_t *pol = gh_feed_policy(h->feed);
    int record =
        step == FP_SYNC && strcmp(h->audited_policy, gh_policy_version(pol));
    if (!e && record) {
        json_t *b = json_pack("{s:s,s:s?,s:s,s:i}", "version",
                              gh_policy_version(pol), "previous",
                              h->audited_policy[0] ? h->audited_policy : NULL,
                              "file", gh_conf_get(h->conf, "policy.file"),
                              "subscribers", gh_policy_nsubscribers(pol));
        e = gh_audit_append_one(v->db, "policy", NULL, b, errstr, errstr_size);
        json_decref(b);
    }
    if (!e && step == FP_SWEEP)
        e = gh_feed_sweep_step(h->feed, v->db, view_page, v, rows, errstr,
                               errstr_size);
    if (!e) e = gh_pg_exec(v->db, "COMMIT", errstr, errstr_size);
    if (!e && record)
        snprintf(h->audited_policy, sizeof(h->audited_policy), "%s",
                 gh_policy_version(pol));
    if (!e) return GH_OK;
    char ignore[256];
    if (PQtransactionStatus(v->db) != PQTRANS_IDLE)
        gh_pg_exec(v->db, "ROLLBACK", ignore, sizeof(ignore));
    gh_feed_sweep_rewind(h->feed);
    return e;
}

/* Outbox rows were committed: the relay thread sends them. */
static void wrote_outbox(gh__views_t *v) {
    gh__hub_relayer_kick(v->rl);
}

/* Follows the policy: re-reads and recompiles it when its files or the
 * clock call for it (gh_feed_tick); brings feed_plan in line when
 * something changed and every policy.check.interval.ms (a `gridhub resync
 * view` queues its re-send there); sweeps changed views for up to a
 * quarter of a second, so notes wait no longer; issues a signed tree head
 * when due. */
static gh_err_t follow_policy(gh__views_t *v, int sync_now, char *errstr,
                              size_t errstr_size) {
    hub_t *h = v->h;
    int changed = 0;
    int64_t t0 = gh_now_us();
    gh_err_t e =
        gh_feed_tick(h->feed, gh_wallclock_us(), &changed, errstr, errstr_size);
    if (!e && (changed || sync_now || gh_now_ms() >= h->next_sync_ms)) {
        h->next_sync_ms =
            gh_now_ms() + gh_conf_get_int(h->conf, "policy.check.interval.ms");
        e = policy_tx(v, FP_SYNC, NULL, errstr, errstr_size);
    }
    int64_t until = gh_now_ms() + 250;
    int swept = 0;
    while (!e && gh_feed_sweeping(h->feed) && gh_now_ms() < until &&
           !gh_shutdown_requested()) {
        long rows = 0;
        e = policy_tx(v, FP_SWEEP, &rows, errstr, errstr_size);
        swept = 1;
    }
    if (!e && swept) wrote_outbox(v);
    if (!e && h->audit_key && gh_now_ms() >= h->next_head_ms) {
        h->next_head_ms =
            gh_now_ms() + gh_conf_get_int(h->conf, "audit.head.interval.ms");
        int issued = 0;
        gh_audit_sth_t sth;
        e = gh_audit_issue_head(
            v->db, h->audit_key, gh_conf_get(h->conf, "audit.topic"),
            gh_wallclock_us() / 1000, &issued, &sth, errstr, errstr_size);
        if (!e && issued) {
            gh_log_info(LOG, "audit: signed tree head of %" PRIu64 " entries",
                        sth.size);
            wrote_outbox(v);
        }
    }
    h->us_policy += gh_now_us() - t0;
    return e;
}

static int stopping(gh__views_t *v) {
    return gh__kick_stopped(&v->k) || gh_shutdown_requested();
}

/* gh_pg_connect_retry_until's stop: the session ends too. */
static int stopping_cb(void *ctx) {
    return stopping(ctx);
}

static void *run(void *arg) {
    gh__views_t *v = arg;
    hub_t *h = v->h;
    const gh_conf_t *conf = h->conf;
    int b0 = (int)gh_conf_get_int(conf, "retry.backoff.ms");
    int bmax = (int)gh_conf_get_int(conf, "retry.backoff.max.ms");
    char errstr[1024];
    int sync_now = 1;
    uint64_t taken = 0, done = 0; /* batches told of; their views made */
    for (;;) {
        /* Stopping, the views of a batch committed last are still made
         * (and relayed once this thread has ended, by the relay thread);
         * nothing else is started. */
        int stop = stopping(v);
        if (stop) taken = gh__kick_count(&v->k);
        if (!v->db && stop && taken == done) break; /* the next session */
        if (!v->db) {
            v->db = gh_pg_connect_retry_until(
                gh_conf_get(conf, "database.conninfo"), 0,
                "hub database (views)", b0, bmax, stopping_cb, v);
            if (v->db)
                v->adb = gh_pg_connect_retry_until(
                    gh_conf_get(conf, "database.conninfo"), 0,
                    "hub database (attributes)", b0, bmax, stopping_cb, v);
            if (!v->adb) break; /* stopped */
            sync_now = 1;
        }
        /* The views when a batch left notes or the aggregates are due
         * (the stream is quiet: what steward commands changed, and what
         * catching-up batches left, are published then). */
        gh_err_t e =
            stop ? GH_OK : follow_policy(v, sync_now, errstr, sizeof(errstr));
        if (!e && !stop) sync_now = 0;
        if (!e && (taken > done || v->more ||
                   (!stop && gh_now_ms() >= h->next_views_ms))) {
            uint64_t upto = taken;
            e = views_tx(v, errstr, sizeof(errstr));
            if (!e) {
                wrote_outbox(v);
                done = upto;
            }
        }
        if (e == GH_ERR_STOPPED) break;
        if (e && !stop &&
            (e == GH_ERR_PG_CONNECT || PQstatus(v->db) != CONNECTION_OK ||
             PQstatus(v->adb) != CONNECTION_OK)) {
            gh_log_warn(LOG, "views: %s; connecting again", errstr);
            PQfinish(v->db);
            PQfinish(v->adb);
            v->db = v->adb = NULL;
            continue;
        }
        if (e) {
            gh__kick_fail(&v->k, e, errstr);
            rd_kafka_yield(v->wake);
            break;
        }
        if (stop) break;
        /* A sweep goes on at once; otherwise until a batch comes or the
         * next timer (at least 100 ms apart when the refresh interval is
         * 0, which refreshes with every batch). */
        int64_t until = h->next_views_ms;
        if (h->next_sync_ms < until) until = h->next_sync_ms;
        if (h->audit_key && h->next_head_ms < until) until = h->next_head_ms;
        if (until < gh_now_ms() + 100) until = gh_now_ms() + 100;
        /* The policy files are looked at twice a second (a reload is
         * seen as soon as it was before the views had a thread). */
        if (until > gh_now_ms() + 500) until = gh_now_ms() + 500;
        if (gh_feed_sweeping(h->feed) || v->more) until = 0;
        taken = gh__kick_wait(&v->k, until, taken, 1);
    }
    PQfinish(v->db);
    PQfinish(v->adb);
    v->db = v->adb = NULL;
    return NULL;
}

gh__views_t *gh__hub_views_start(hub_t *h, rd_kafka_t *wake, char *errstr,
                                 size_t errstr_size) {
    gh__views_t *v = gh_xcalloc(1, sizeof(*v));
    v->h = h;
    v->wake = wake;
    atomic_init(&v->backlog, -1);
    gh__defer_clear(&v->defer);
    v->res = gh_resolver_new(h->conf, h->feed, h->view, errstr, errstr_size);
    if (!v->res) {
        free(v);
        return NULL;
    }
    v->rl = gh__hub_relayer_start(h, wake, errstr, errstr_size);
    if (!v->rl) {
        gh_resolver_destroy(v->res);
        free(v);
        return NULL;
    }
    gh__kick_init(&v->k);
    if (pthread_create(&v->th, NULL, run, v)) {
        gh_seterr(errstr, errstr_size, GH_ERR_IO,
                  "cannot start the views thread");
        gh__kick_destroy(&v->k);
        gh__hub_relayer_stop(v->rl, NULL, 0);
        gh_resolver_destroy(v->res);
        free(v);
        return NULL;
    }
    return v;
}

void gh__hub_views_kick(gh__views_t *v) {
    gh__kick(&v->k);
}

void gh__hub_views_catching_up(gh__views_t *v, int on, int64_t backlog) {
    if (!v) return;
    atomic_store(&v->backlog, backlog);
    atomic_store(&v->catching_up, on);
}

gh_err_t gh__hub_views_check(gh__views_t *v, char *errstr, size_t errstr_size) {
    gh_err_t e = gh__kick_failed(&v->k, errstr, errstr_size);
    return e ? e : gh__hub_relayer_check(v->rl, errstr, errstr_size);
}

gh_err_t gh__hub_views_stop(gh__views_t *v, char *errstr, size_t errstr_size) {
    if (!v) return GH_OK;
    gh__kick_stop(&v->k);
    pthread_join(v->th, NULL);
    /* The views thread's error first; the relay still sends what it
     * committed. */
    char rerr[1024];
    gh_err_t e = gh__kick_failed(&v->k, errstr, errstr_size);
    gh_err_t re = gh__hub_relayer_stop(v->rl, rerr, sizeof(rerr));
    if (!e && re) e = gh_seterr(errstr, errstr_size, re, "%s", rerr);
    gh__kick_destroy(&v->k);
    gh_resolver_destroy(v->res);
    free(v);
    return e;
}
