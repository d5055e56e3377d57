#include "hub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "gridhub/avro.h"
#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/schema_topic.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "hub_metrics.h"
#include "migrate.h"
#include "origin.h"
#include "hub_int.h"
#include "lanes.h"

#define LOG "hub"

/* `class` is the reason's class for the metrics (GH_DL_* of
 * hub_metrics.h), `reason` the sentence in the gh.error.reason header. */
static gh_err_t dead_letter(hub_t *h, const rd_kafka_message_t *m,
                            const char *class, const char *reason, char *errstr,
                            size_t errstr_size) {
    gh_err_t e = gh_kafka_produce_dead_letter(
        h->dlq.producer, gh_conf_get(h->conf, "dlq.topic"), m->key, m->key_len,
        m->payload, m->len, "hub", reason, rd_kafka_topic_name(m->rkt),
        m->partition, m->offset, NULL, errstr, errstr_size);
    if (!e) h->dlq.pending++;
    h->dead++;
    gh_hub_metrics_dead_letter(h->metrics, class);
    gh_log_warn(LOG, "dead letter %s[%d]@%" PRId64 ": %s",
                rd_kafka_topic_name(m->rkt), (int)m->partition, m->offset,
                reason);
    return e;
}

/* Whether a failed database step is worth retrying as it is (see
 * gh_pg_sqlstate_transient) rather than blaming the data. */
static int transient(PGconn *db, gh_err_t e) {
    /* GH_ERR_HTTP: the Schema Registry, asked while encoding a view. */
    return e == GH_ERR_PG_CONNECT || e == GH_ERR_RETRY || e == GH_ERR_HTTP ||
           PQstatus(db) != CONNECTION_OK ||
           (e == GH_ERR_PG && gh_pg_sqlstate_transient(gh_pg_last_sqlstate()));
}

/* A batch read from Kafka: the messages and, for those that decoded and
 * passed the origin checks, their envelopes. */
typedef struct batch {
    rd_kafka_message_t **msgs;
    int n;
    int decoded; /* env/of hold the decoded batch; its dead letters are out */
    avro_value_t *env;
    const char **ent;        /* entity of env[i] (borrowed from origin) */
    rd_kafka_message_t **of; /* message of env[i] */
    int k;
    /* Dead letters of the current attempt, produced once it committed (a
     * retried attempt must not produce them twice). */
    rd_kafka_message_t **dl_of;
    char **dl_why;
    const char **dl_class; /* GH_DL_* of hub_metrics.h */
    int ndl, ndecode_dl;   /* the first ndecode_dl are the decoder's */
    /* End-of-snapshot markers, applied after the batch's events. */
    struct marker {
        const char *dept, *entity;
        char *table;
        int64_t lsn;
        int part, parts;
    } * mk;
    int nmk;
    /* Messages waiting behind the batch in the assigned partitions when it
     * was taken (gh_lanes_backlog; -1: not known). */
    int64_t backlog;
    int alone; /* its neighbourhood did not fit PostgreSQL's lock table */
} batch_t;

/* Forgets the dead letters found after the first `keep`. */
static void batch_forget_dead(batch_t *b, int keep) {
    for (int i = keep; i < b->ndl; i++)
        free(b->dl_why[i]);
    b->ndl = keep;
}

static void batch_clear(batch_t *b) {
    for (int i = 0; i < b->k; i++)
        avro_value_decref(&b->env[i]);
    b->k = 0;
    for (int i = 0; i < b->nmk; i++)
        free(b->mk[i].table);
    b->nmk = 0;
    b->decoded = 0;
    b->alone = 0;
    batch_forget_dead(b, 0);
    b->ndecode_dl = 0;
}

static void defer_dead_letter(batch_t *b, rd_kafka_message_t *m,
                              const char *class, const char *why) {
    b->dl_of[b->ndl] = m;
    b->dl_class[b->ndl] = class;
    b->dl_why[b->ndl++] = gh_xstrdup(why ? why : "rejected");
}

/* Header `name` of m as a NUL-terminated copy in out; 0 if present. */
static int header(const rd_kafka_message_t *m, const char *name, char *out,
                  size_t size) {
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    if (rd_kafka_message_headers(m, &h) || !h ||
        rd_kafka_header_get_last(h, name, &v, &n) || !v || n >= size)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

/* An end-of-snapshot marker (see gh_apply_snapshot_marker): kept for the
 * apply phase if well-formed and plausible, else a dead letter. */
static void read_marker(hub_t *h, batch_t *b, rd_kafka_message_t *m) {
    char table[256], lsn[32], parts[16], why[512];
    const char *dept = NULL;
    if (header(m, "gh.snapshot.table", table, sizeof(table)) ||
        header(m, "gh.snapshot.lsn", lsn, sizeof(lsn)) ||
        header(m, "gh.snapshot.partitions", parts, sizeof(parts)) ||
        atoi(parts) < 1 || m->partition >= atoi(parts)) {
        defer_dead_letter(b, m, GH_DL_UNTRUSTED,
                          "malformed end-of-snapshot marker");
        return;
    }
    int64_t l = strtoll(lsn, NULL, 10);
    if (gh_origin_check_position(h->origin, rd_kafka_topic_name(m->rkt), l,
                                 &dept, why, sizeof(why))) {
        defer_dead_letter(b, m, GH_DL_UNTRUSTED, why);
        return;
    }
    /* Records keep the table name without its schema. */
    const char *dot = strrchr(table, '.');
    b->mk[b->nmk++] = (struct marker){
        dept,
        gh_origin_entity(h->origin, rd_kafka_topic_name(m->rkt), NULL),
        gh_xstrdup(dot ? dot + 1 : table),
        l,
        (int)m->partition,
        atoi(parts)};
}

/* Decodes the batch once, before any database work: an undecodable or
 * untrusted message is a dead letter; a Schema Registry that cannot be
 * reached is not the message's fault (GH_ERR_RETRY: the whole batch waits
 * and is decoded again). */
static gh_err_t decode_batch(hub_t *h, batch_t *b, char *errstr,
                             size_t errstr_size) {
    batch_clear(b);
    gh_err_t e = GH_OK;
    b->decoded = 1;
    for (int i = 0; i < b->n && !e; i++) {
        rd_kafka_message_t *m = b->msgs[i];
        if (!m->payload) { /* tombstone after a delete, or a marker */
            if (m->key_len > 13 && !memcmp(m->key, "__snapshot__:", 13))
                read_marker(h, b, m);
            continue;
        }
        char reason[1024];
        avro_value_t *v = &b->env[b->k];
        const gh_schema_t *reader = NULL;
        const char *ent =
            gh_origin_entity(h->origin, rd_kafka_topic_name(m->rkt), &reader);
        if (!ent) {
            snprintf(reason, sizeof(reason),
                     "topic %s is not a configured source",
                     rd_kafka_topic_name(m->rkt));
            defer_dead_letter(b, m, GH_DL_UNTRUSTED, reason);
            continue;
        }
        gh_err_t de = gh_serde_decode(h->serde, m->payload, m->len, reader, v,
                                      NULL, reason, sizeof(reason));
        if (de == GH_ERR_HTTP) {
            batch_clear(b); /* nothing dead-lettered yet may be sent twice */
            return gh_seterr(errstr, errstr_size, GH_ERR_RETRY, "%s", reason);
        }
        if (de) {
            defer_dead_letter(b, m, GH_DL_DECODE, reason);
            continue;
        }
        if (gh_origin_check(h->origin, rd_kafka_topic_name(m->rkt), v, reason,
                            sizeof(reason))) {
            avro_value_decref(v);
            defer_dead_letter(b, m, GH_DL_UNTRUSTED, reason);
            continue;
        }
        b->ent[b->k] = ent;
        b->of[b->k++] = m;
    }
    b->ndecode_dl = b->ndl;
    return e;
}

/* Applies one envelope on its own (the fallback path), dead-lettering it
 * if its data cannot be applied; a transient failure ends the attempt. */
static gh_err_t apply_one(hub_t *h, batch_t *b, int i, char *errstr,
                          size_t errstr_size) {
    char why[1024], ignore[256];
    gh_err_t e = gh_pg_exec(h->db, "SAVEPOINT ev", errstr, errstr_size);
    if (e) return e;
    int applied = 0;
    gh_pg_clear_sqlstate();
    e = gh_apply_event(h->apply, &b->env[i], b->ent[i], &applied, why,
                       sizeof(why));
    if (e && transient(h->db, e))
        return gh_seterr(errstr, errstr_size,
                         e == GH_ERR_PG_CONNECT ? e : GH_ERR_RETRY, "%s", why);
    if (e) {
        gh_pg_exec(h->db, "ROLLBACK TO SAVEPOINT ev", ignore, sizeof(ignore));
        defer_dead_letter(b, b->of[i], GH_DL_APPLY, why);
        return GH_OK;
    }
    gh_pg_exec(h->db, "RELEASE SAVEPOINT ev", ignore, sizeof(ignore));
    if (applied)
        h->applied++;
    else
        h->skipped++;
    return GH_OK;
}

/* Applies the decoded envelopes inside the open transaction, set-based
 * and, if that fails on data, one by one so that a failing one is
 * isolated. GH_ERR_RETRY or GH_ERR_PG_CONNECT when the database failed
 * for reasons of its own: the caller rolls back and tries again. */
static gh_err_t apply_batch(hub_t *h, batch_t *b, char *errstr,
                            size_t errstr_size) {
    int k = b->k;
    if (!k) return GH_OK;
    int *status = gh_xcalloc((size_t)k, sizeof(int));
    char **why = gh_xcalloc((size_t)k, sizeof(char *));
    char ignore[256], err[1024];
    gh_err_t e = gh_pg_exec(h->db, "SAVEPOINT batch", errstr, errstr_size);
    gh_pg_clear_sqlstate();
    gh_err_t be = e ? e
                    : gh_apply_batch(h->apply, b->env, b->ent, k, status, why,
                                     err, sizeof(err));
    long long applied = 0, skipped = 0;
    if (!e && !be) {
        gh_pg_exec(h->db, "RELEASE SAVEPOINT batch", ignore, sizeof(ignore));
        for (int i = 0; i < k && !e; i++) {
            if (status[i] < 0)
                defer_dead_letter(b, b->of[i], GH_DL_APPLY, why[i]);
            else if (status[i])
                applied++;
            else
                skipped++;
        }
    } else if (!e && transient(h->db, be)) {
        e = gh_seterr(errstr, errstr_size,
                      be == GH_ERR_PG_CONNECT ? be : GH_ERR_RETRY, "%s", err);
    } else if (!e) {
        if (be != GH_ERR_INVALID_ARG)
            gh_log_warn(LOG, "batch of %d applied one by one after: %s", k,
                        err);
        gh_pg_exec(h->db, "ROLLBACK TO SAVEPOINT batch", ignore,
                   sizeof(ignore));
        gh_apply_discard(h->apply);
        gh_resolver_publish_discard(h->resolver);
        /* One by one, a TRUNCATE may delete persons: the lock alone first,
         * while the batch holds no row (the rolled back ones are
         * released); held already if the batch resolves (advisory locks
         * nest), or held shared (two such upgrades at once are a deadlock
         * PostgreSQL breaks: the batch is tried again). */
        e = gh_resolver_lock_run(h->resolver, h->db, 0, errstr, errstr_size);
        for (int i = 0; i < k && !e; i++)
            e = apply_one(h, b, i, errstr, errstr_size);
    }
    /* Counted once the attempt's outcome is known: apply_one counts its
     * own. */
    if (!e) {
        h->applied += applied;
        h->skipped += skipped;
    }
    for (int i = 0; i < k; i++)
        free(why[i]);
    free(status);
    free(why);
    return e;
}

/* After a failed attempt at one of the hub's transactions: rolls back and
 * forgets the persons the resolver kept. GH_OK when the failure was
 * transient and the back-off (*wait, doubled up to retry.backoff.max.ms)
 * has been waited: try again. Otherwise what the caller returns
 * (GH_ERR_PG_CONNECT: the session reconnects; GH_ERR_STOPPED). `again`
 * says what is tried again, for the log. */
gh_err_t gh__hub_after_failure(const gh_conf_t *conf, PGconn *db,
                               gh_resolver_t *r, gh_err_t e, int attempt,
                               int *wait, const char *again,
                               const char *errstr) {
    char ignore[256];
    if (PQtransactionStatus(db) != PQTRANS_IDLE)
        gh_pg_exec(db, "ROLLBACK", ignore, sizeof(ignore));
    gh_resolver_publish_discard(r);
    if (e == GH_ERR_PG_CONNECT || PQstatus(db) != CONNECTION_OK)
        return GH_ERR_PG_CONNECT;
    if (e != GH_ERR_RETRY && !transient(db, e)) return e;
    if (gh_shutdown_requested()) return GH_ERR_STOPPED;
    gh_log_warn(LOG, "transient failure (attempt %d), %s in %d ms: %s", attempt,
                again, *wait, errstr);
    gh_shutdown_sleep_ms(*wait);
    int wmax = (int)gh_conf_get_int(conf, "retry.backoff.max.ms");
    *wait = *wait * 2 > wmax ? wmax : *wait * 2;
    return GH_OK;
}

/* Whether the hub is catching up (views.person.defer.messages): a large
 * batch, or a backlog behind it; the views thread holds the persons'
 * publication back meanwhile. The end of a long catch-up is logged. */
static void catch_up(hub_t *h, int on, int64_t backlog) {
    int64_t now = gh_now_ms();
    if (on && !h->catching_up) h->catch_up_ms = now;
    if (!on && h->catching_up && now - h->catch_up_ms >= 10000)
        gh_log_info(LOG, "caught up after a catch-up of %.1f s",
                    (double)(now - h->catch_up_ms) / 1000);
    h->catching_up = on;
    gh__hub_views_catching_up(h->vw, on, backlog);
}

enum { LOCK_NONE, LOCK_SHARED, LOCK_ALONE };

/* Whether a batch may write what resolution writes or reads, and so
 * takes the resolution lock: person records, the grid hierarchy (its
 * refresh rewrites the shared grid table) and snapshot markers (a marker
 * deletes what the whole table no longer has, persons among them). The
 * lock alone for the last two and for more person records than
 * batch.neighbourhood.max.records; shared otherwise, the run then locking
 * the keys and persons it works on (gh_resolver_lock_run). A
 * batch of other entities only (households, registrations, events, ...)
 * upserts its own partitions' source rows and notes them under its own
 * transaction id (migration 025), which no other batch and no views
 * transaction waits for: it applies beside another instance's resolution
 * instead of queueing behind it (docs/scaling.md). A TRUNCATE can touch
 * persons too; it goes through the one-by-one path, which takes the lock
 * first (apply_batch). */
static int batch_lock(const hub_t *h, const batch_t *b) {
    if (b->nmk || b->alone) return LOCK_ALONE;
    int64_t persons = 0;
    for (int i = 0; i < b->k; i++) {
        if (!strcmp(b->ent[i], "grid") || !strcmp(b->ent[i], "grid_staff"))
            return LOCK_ALONE;
        persons += !strcmp(b->ent[i], "person");
    }
    if (!persons) return LOCK_NONE;
    return persons <=
                   gh_conf_get_int(h->conf, "batch.neighbourhood.max.records")
               ? LOCK_SHARED
               : LOCK_ALONE;
}

/* One transaction over the batch: apply, resolve, commit. Transient
 * database failures are retried here with back-off (the hub stays up and
 * no message is blamed); dead letters of an attempt that fails are not
 * produced again, because their messages are left out of the retry. */
static gh_err_t commit_batch(hub_t *h, batch_t *b, char *errstr,
                             size_t errstr_size) {
    int wait = (int)gh_conf_get_int(h->conf, "retry.backoff.ms");
    /* Told before the batch's notes can be read (catch_up). */
    int64_t defer = gh_conf_get_int(h->conf, "views.person.defer.messages");
    catch_up(h, defer && (b->n >= defer || b->backlog >= defer), b->backlog);
    for (int attempt = 1;; attempt++) {
        int64_t t0 = gh_now_us();
        gh_err_t e =
            b->decoded ? GH_OK : decode_batch(h, b, errstr, errstr_size);
        h->us_decode += gh_now_us() - t0;
        t0 = gh_now_us();
        if (!e) e = gh_pg_exec(h->db, "BEGIN", errstr, errstr_size);
        /* The resolution lock, when the batch needs it, before the first
         * row is written, not after: a batch that resolves takes row
         * locks (source rows, persons) another resolving batch may need,
         * and taken in between they made instances deadlock, which fails
         * a whole batch (three instances measured 113-206 s against 85 s
         * for one, docs/performance.md). */
        int lock = e ? LOCK_NONE : batch_lock(h, b);
        if (lock)
            e = gh_resolver_lock_run(h->resolver, h->db, lock == LOCK_SHARED,
                                     errstr, errstr_size);
        if (!e) e = apply_batch(h, b, errstr, errstr_size);
        for (int i = 0; !e && i < b->nmk; i++) {
            long swept = 0;
            e = gh_apply_snapshot_marker(
                h->apply, b->mk[i].dept, b->mk[i].entity, b->mk[i].table,
                b->mk[i].lsn, b->mk[i].part, b->mk[i].parts, &swept, errstr,
                errstr_size);
            if (!e && swept)
                gh_log_info(LOG,
                            "snapshot of %s.%s complete: %ld records the "
                            "department no longer has are deleted",
                            b->mk[i].dept, b->mk[i].table, swept);
        }
        /* The grid hierarchy follows the rows it is made of, in the same
         * transaction. */
        if (!e && (gh_apply_touched(h->apply, "grid") ||
                   gh_apply_touched(h->apply, "grid_staff")))
            e = gh_grid_refresh(h->grid, h->db, errstr, errstr_size);
        int64_t t1 = gh_now_us();
        gh_pg_clear_sqlstate();
        if (!e) e = gh_apply_flush(h->apply, &h->rs, errstr, errstr_size);
        if (!e) e = gh__hub_analyze(h, b->ent, b->k, errstr, errstr_size);
        /* The persons written are noted; the views follow from the notes
         * in a transaction of their own (the views thread,
         * views_thread.c), so that the next batch, or another instance's,
         * is resolved meanwhile. */
        if (!e)
            e = gh_resolver_publish_later(h->resolver, h->db, NULL, errstr,
                                          errstr_size);
        int64_t t2 = gh_now_us();
        if (!e) e = gh_pg_exec(h->db, "COMMIT", errstr, errstr_size);
        if (!e) gh__hub_analyze_done(h);
        h->us_apply += t1 - t0;
        h->us_resolve += t2 - t1;
        h->us_commit += gh_now_us() - t2;
        for (int i = 0; !e && i < b->ndl; i++)
            e = dead_letter(h, b->dl_of[i], b->dl_class[i], b->dl_why[i],
                            errstr, errstr_size);
        if (!e) {
            gh__hub_views_kick(h->vw);
            return GH_OK;
        }
        /* The lock table full (out of shared memory, 53200): the batch
         * is tried again alone rather than again and again. */
        if (lock == LOCK_SHARED && !strcmp(gh_pg_last_sqlstate(), "53200"))
            b->alone = 1;
        gh_apply_discard(h->apply);
        batch_forget_dead(b, b->ndecode_dl);
        char again[64];
        snprintf(again, sizeof(again),
                 "the batch of %d messages is tried again", b->n);
        e = gh__hub_after_failure(h->conf, h->db, h->resolver, e, attempt,
                                  &wait, again, errstr);
        if (e) return e;
    }
}

static void forget_gaps(hub_t *h) {
    for (int i = 0; i < h->ngaps; i++)
        free(h->gaps[i].topic);
    free(h->gaps);
    h->gaps = NULL;
    h->ngaps = 0;
}

static gh_err_t load_gaps(hub_t *h, char *errstr, size_t errstr_size) {
    forget_gaps(h);
    PGresult *r =
        gh_pg_query_what(h->db, "SELECT topic, part, floor FROM accepted_gap",
                         0, NULL, "read accepted gaps", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    h->ngaps = PQntuples(r);
    h->gaps = gh_xcalloc((size_t)h->ngaps + 1, sizeof(*h->gaps));
    for (int i = 0; i < h->ngaps; i++)
        h->gaps[i] = (struct gap){gh_xstrdup(PQgetvalue(r, i, 0)),
                                  (int32_t)atoi(PQgetvalue(r, i, 1)),
                                  strtoll(PQgetvalue(r, i, 2), NULL, 10)};
    PQclear(r);
    return GH_OK;
}

/* gh_kafka_floor_cb over the accepted gaps. */
static int64_t gap_floor(void *ctx, const char *topic, int32_t part) {
    hub_t *h = ctx;
    for (int i = 0; i < h->ngaps; i++)
        if (h->gaps[i].part == part && !strcmp(h->gaps[i].topic, topic))
            return h->gaps[i].floor;
    return -1;
}

/* One session: a consumer that resumes at the committed offsets, a
 * database connection; ends on any error, the caller reconnects. */
static gh_err_t session(hub_t *h, char *errstr, size_t errstr_size) {
    const gh_conf_t *conf = h->conf;
    int b0 = (int)gh_conf_get_int(conf, "retry.backoff.ms");
    int bmax = (int)gh_conf_get_int(conf, "retry.backoff.max.ms");
    h->db = gh_pg_connect_retry(gh_conf_get(conf, "database.conninfo"), 0,
                                "hub database", b0, bmax);
    if (!h->db) return GH_ERR_STOPPED;
    /* A new session re-reads from the committed offsets, and its views
     * thread relays the outbox first: what an earlier one left is taken
     * care of. */
    h->relay.left_outbox = h->left_offsets = 0;
    gh_err_t e = gh_migrate_apply(h->db, errstr, errstr_size);
    if (!e) e = gh_crypt_check_db(h->crypt, h->db, errstr, errstr_size);
    if (e) goto out;
    /* A fresh resolver per session: its term frequencies and model are
     * learnt from the database as it is now. */
    gh_apply_destroy(h->apply);
    gh_resolver_destroy(h->resolver);
    h->apply = NULL;
    /* Without the feed, which is the views thread's: its persons are
     * noted, and published there. */
    h->resolver = gh_resolver_new(conf, NULL, h->view, errstr, errstr_size);
    if (!h->resolver) {
        e = GH_ERR_CONFIG;
        goto out;
    }
    gh_resolver_use_crypt(h->resolver, h->crypt);
    gh_resolver_defer_feed(h->resolver, 1);
    e = gh_resolver_prepare(h->resolver, h->db, errstr, errstr_size);
    if (!e) e = gh_origin_load(h->origin, h->db, errstr, errstr_size);
    if (!e) e = load_gaps(h, errstr, errstr_size);
    /* The crosswalk files may have changed since the last session. */
    if (!e) e = gh_pg_exec(h->db, "BEGIN", errstr, errstr_size);
    if (!e) e = gh_resolver_lock(h->db, errstr, errstr_size);
    if (!e) e = gh_grid_sync(h->grid, h->db, errstr, errstr_size);
    if (!e) e = gh_pg_exec(h->db, "COMMIT", errstr, errstr_size);
    if (e) goto out;
    h->apply = gh_apply_new(h->db, h->resolver, h->schemas);

    rd_kafka_t *c = gh_kafka_consumer_new(conf, gh_conf_get(conf, "group.id"),
                                          "gridhub-hub", 1, gap_floor, h,
                                          errstr, errstr_size);
    if (!c) {
        e = GH_ERR_KAFKA;
        goto out;
    }
    /* The views as the policy now gives them (what changed while the hub
     * was down is queued for a sweep), and those of every batch. */
    h->vw = gh__hub_views_start(h, c, errstr, errstr_size);
    if (!h->vw) {
        e = GH_ERR_CONFIG;
        gh_kafka_consumer_close(c, 0);
        goto out;
    }
    char **topics = gh_conf_get_list(conf, "source.topics");
    int nt = 0;
    while (topics[nt])
        nt++;
    rd_kafka_topic_partition_list_t *sub =
        rd_kafka_topic_partition_list_new(nt);
    for (int i = 0; i < nt; i++)
        rd_kafka_topic_partition_list_add(sub, topics[i],
                                          RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t kerr = rd_kafka_subscribe(c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    gh_conf_list_free(topics);
    if (kerr) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_KAFKA, "subscribe: %s",
                      rd_kafka_err2str(kerr));
        gh_kafka_consumer_close(c, 0);
        goto out;
    }
    gh_lanes_t *lanes = gh_lanes_new(conf, h->origin);
    int max_persons = (int)gh_conf_get_int(conf, "batch.max.messages");
    int max_others = (int)gh_conf_get_int(conf, "batch.max.entity.messages");
    int max_msgs = max_persons + max_others;
    int max_ms = (int)gh_conf_get_int(conf, "batch.max.ms");
    int linger_ms = (int)gh_conf_get_int(conf, "batch.linger.ms");
    rd_kafka_message_t **batch = gh_xcalloc((size_t)max_msgs, sizeof(*batch));
    batch_t b = {0};
    b.msgs = batch;
    b.env = gh_xcalloc((size_t)max_msgs, sizeof(avro_value_t));
    b.ent = gh_xcalloc((size_t)max_msgs, sizeof(char *));
    b.of = gh_xcalloc((size_t)max_msgs, sizeof(rd_kafka_message_t *));
    b.dl_of = gh_xcalloc((size_t)max_msgs, sizeof(rd_kafka_message_t *));
    b.dl_why = gh_xcalloc((size_t)max_msgs, sizeof(char *));
    b.dl_class = gh_xcalloc((size_t)max_msgs, sizeof(char *));
    b.mk = gh_xcalloc((size_t)max_msgs, sizeof(*b.mk));
    int64_t last_stats = gh_now_ms();
    while (!e && !gh_shutdown_requested()) {
        gh_hub_metrics_tick(h->metrics, h->db, c);
        int64_t tl = gh_now_us();
        gh_lanes_update(lanes, c);
        int n = 0, npersons = 0;
        int64_t deadline = gh_now_ms() + max_ms;
        /* A stop request ends the batch: what was polled is applied, nothing
         * more is taken. */
        while (npersons < max_persons && n - npersons < max_others &&
               !gh_shutdown_requested()) {
            int64_t left = deadline - gh_now_ms();
            if (left <= 0) break;
            /* The views thread yields the poll when it fails. */
            if ((e = gh__hub_views_check(h->vw, errstr, errstr_size))) break;
            int wait = left > 100 ? 100 : (int)left;
            if (n > 0 && linger_ms < wait) wait = linger_ms;
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c, wait);
            if (!m && n > 0 && wait == linger_ms) break; /* a pause */
            if (!m) continue;
            if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
                /* The hub needs every event: a gap stops it, loudly. */
                e = gh_kafka_check_gap(c, m, errstr, errstr_size);
                rd_kafka_message_destroy(m);
                if (e) break;
                continue;
            }
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    gh_log_warn(LOG, "consumer: %s",
                                rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                continue;
            }
            const char *ent =
                gh_origin_entity(h->origin, rd_kafka_topic_name(m->rkt), NULL);
            npersons += ent && !strcmp(ent, "person");
            batch[n++] = m;
        }
        if (e) { /* nothing of this batch is applied or committed */
            for (int i = 0; i < n; i++)
                rd_kafka_message_destroy(batch[i]);
            break;
        }
        h->us_poll += gh_now_us() - tl;
        rd_kafka_poll(h->dlq.producer, 0);
        if (n == 0) {
            /* Quiet: what the last batches left noted is published now. */
            int was = h->catching_up;
            catch_up(h, 0, -1);
            if (was) gh__hub_views_kick(h->vw);
            continue;
        }
        b.n = n;
        b.backlog = gh_lanes_backlog(c);
        int64_t t0 = gh_now_us();
        e = commit_batch(h, &b, errstr, errstr_size);
        gh_hub_metrics_batch(h->metrics, n, gh_now_us() - t0, h->applied,
                             h->skipped, &h->rs);
        batch_clear(&b);
        /* Offsets only after the database committed and dead letters are
         * acknowledged: a crash before this point replays the batch, and
         * replays are no-ops thanks to the per-row positions. */
        if (!e) e = gh__hub_drain(&h->dlq, errstr, errstr_size);
        if (e) h->left_offsets = n;
        if (!e) {
            rd_kafka_topic_partition_list_t *offs =
                rd_kafka_topic_partition_list_new(n);
            for (int i = 0; i < n; i++) {
                rd_kafka_topic_partition_t *tp =
                    rd_kafka_topic_partition_list_find(
                        offs, rd_kafka_topic_name(batch[i]->rkt),
                        batch[i]->partition);
                if (!tp)
                    tp = rd_kafka_topic_partition_list_add(
                        offs, rd_kafka_topic_name(batch[i]->rkt),
                        batch[i]->partition);
                tp->offset = batch[i]->offset + 1;
            }
            /* Asynchronous: a cluster that is down must not hold the loop
             * (or a shutdown); a commit that fails is logged by
             * commit_cb, and a later one supersedes it. */
            kerr = rd_kafka_commit(c, offs, 1);
            rd_kafka_topic_partition_list_destroy(offs);
            if (kerr)
                gh_log_warn(
                    LOG,
                    "offset commit failed (%s): the batch will be re-read "
                    "and skipped as a replay",
                    rd_kafka_err2str(kerr));
        }
        for (int i = 0; i < n; i++)
            rd_kafka_message_destroy(batch[i]);
        if (gh_now_ms() - last_stats >= 30000) {
            gh_log_info(LOG,
                        "%lld applied, %lld skipped as replays, %lld dead "
                        "letters; resolution: %lld pairs scored, %lld "
                        "linked, %lld for review, %lld records left "
                        "ambiguous, %lld persons written, %lld ids retired",
                        h->applied, h->skipped, h->dead, h->rs.pairs,
                        h->rs.links, h->rs.reviews, h->rs.ambiguous,
                        h->rs.persons, h->rs.retired);
            last_stats = gh_now_ms();
        }
    }
    /* The views of the last batch are made and relayed before the thread
     * ends. */
    if (!e)
        e = gh__hub_views_stop(h->vw, errstr, errstr_size);
    else
        gh__hub_views_stop(h->vw, NULL, 0);
    h->vw = NULL;
    gh_lanes_destroy(lanes);
    free(batch);
    free(b.env);
    free(b.ent);
    free(b.of);
    free(b.dl_of);
    free(b.dl_why);
    free(b.dl_class);
    free(b.mk);
    /* Stopping, leave half of what is left of the budget to what follows
     * (the producer's flush, destroying both clients): a cluster that does
     * not answer must not take it all and leave the watchdog to end the
     * process without its closing line. */
    int close_ms = 10000;
    if (gh_shutdown_requested()) {
        int64_t left = gh_shutdown_left_ms();
        close_ms = left > 0 ? (int)(left / 2) : 0;
    }
    gh_kafka_consumer_close(c, close_ms);
out:
    PQfinish(h->db);
    h->db = NULL;
    if (!e && gh_shutdown_requested()) e = GH_ERR_STOPPED;
    return e;
}

/* The one line a stop ends with: what was left for the next start, if
 * anything. Returns GH_ERR_TIMED_OUT if work was left; otherwise
 * GH_ERR_STOPPED, unless the run ended in an error a restart cannot cure
 * (a database or the cluster being down while stopping is no such error). */
static gh_err_t stopped_line(const hub_t *h, long unacked, gh_err_t e) {
    if (!h->relay.left_outbox && !h->left_offsets && !unacked) {
        gh_log_info(LOG, "stopped cleanly: nothing left in flight");
        return e == GH_OK || e == GH_ERR_TIMED_OUT || e == GH_ERR_PG ||
                       e == GH_ERR_PG_CONNECT || e == GH_ERR_KAFKA
                   ? GH_ERR_STOPPED
                   : e;
    }
    char outbox[160] = "", offsets[160] = "";
    if (h->relay.left_outbox > 0)
        snprintf(outbox, sizeof(outbox),
                 "; %ld outbox rows sent but not acknowledged stay in the "
                 "outbox and are sent again",
                 h->relay.left_outbox);
    else if (h->relay.left_outbox < 0)
        snprintf(outbox, sizeof(outbox),
                 "; outbox rows not yet sent stay in the outbox");
    if (h->left_offsets)
        snprintf(offsets, sizeof(offsets),
                 "; the offsets of the last %ld messages were not committed: "
                 "they are read again and skipped as replays",
                 h->left_offsets);
    gh_log_warn(LOG,
                "stopped after shutdown.timeout.ms=%lld with work left for the "
                "next start: %ld Kafka messages unacknowledged%s%s",
                gh_conf_get_int(h->conf, "shutdown.timeout.ms"), unacked,
                outbox, offsets);
    return GH_ERR_TIMED_OUT;
}

gh_err_t gh_hub_run(const gh_conf_t *conf, char *errstr, size_t errstr_size) {
    hub_t h;
    memset(&h, 0, sizeof(h));
    h.conf = conf;
    gh_pg_set_slow_ms(gh_conf_get_int(conf, "database.slow.statement.ms"));
    gh_err_t e = gh_schemas_load_dir(&h.schemas, gh_schemas_dir(conf), errstr,
                                     errstr_size);
    if (e) return e;
    h.view = gh_schemas_get(h.schemas, "gridhub.view.Person");
    if (!h.view) {
        gh_schemas_destroy(h.schemas);
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "schemas.dir %s lacks the person view schema",
                         gh_schemas_dir(conf));
    }
    h.serde = gh_serde_new(h.schemas, gh_conf_get(conf, "schema.registry.url"));
    /* The feed, its keys and its serializer are the views thread's; the
     * main thread decodes with h.serde and seals and opens with h.crypt
     * (neither a serializer nor a gh_crypt_t is shared between threads). */
    h.feed_serde =
        gh_serde_new(h.schemas, gh_conf_get(conf, "schema.registry.url"));
    h.feed = gh_feed_new(conf, h.schemas, h.feed_serde, errstr, errstr_size);
    const char *ck = gh_conf_get(conf, "crypt.key.file");
    if (h.feed && ck && !(h.crypt = gh_crypt_new(ck, errstr, errstr_size))) {
        e = GH_ERR_CONFIG;
        goto out;
    }
    if (!h.feed) {
        e = GH_ERR_CONFIG;
        goto out;
    }
    if (!gh_feed_crypt(h.feed))
        gh_log_warn(LOG, "crypt.key.file is not set: ID numbers, phone "
                         "numbers and addresses are stored in clear in the "
                         "hub database (docs/encryption.md)");
    else
        gh_log_info(LOG, "personal data stored sealed under key %s",
                    gh_crypt_active(gh_feed_crypt(h.feed)));
    const char *akey = gh_conf_get(conf, "audit.signing.key.file");
    if (akey) {
        e = gh_audit_key_load_private(akey, &h.audit_key, errstr, errstr_size);
        if (e) goto out;
    } else {
        gh_log_warn(LOG, "audit.signing.key.file is not set: the audit log is "
                         "written, but no signed tree head pins it");
    }
    h.origin = gh_origin_new(conf, h.schemas, errstr, errstr_size);
    if (!h.origin) {
        e = GH_ERR_CONFIG;
        goto out;
    }
    e = gh_lanes_check(conf, h.schemas, errstr, errstr_size);
    if (e) goto out;
    h.grid = gh_grid_new(conf, errstr, errstr_size);
    if (h.grid && gh_grid_use_views(h.grid, h.schemas, errstr, errstr_size)) {
        gh_grid_destroy(h.grid);
        h.grid = NULL;
    }
    if (!h.grid) {
        e = GH_ERR_CONFIG;
        goto out;
    }
    h.metrics = gh_hub_metrics_new(conf, errstr, errstr_size);
    if (!h.metrics) {
        e = GH_ERR_IO;
        goto out;
    }
    /* Two producers: the relay waits for its pages' acknowledgements in
     * a thread of its own (with keys of its own), the main thread for its
     * dead letters'. */
    h.dlq.conf = h.relay.conf = conf;
    h.relay.metrics = h.metrics;
    h.dlq.producer = gh_kafka_producer_new(conf, "gridhub-hub", gh__hub_dr_cb,
                                           &h.dlq, errstr, errstr_size);
    if (h.dlq.producer)
        h.relay.producer =
            gh_kafka_producer_new(conf, "gridhub-hub-relay", gh__hub_dr_cb,
                                  &h.relay, errstr, errstr_size);
    if (!h.relay.producer) {
        e = GH_ERR_KAFKA;
        goto out;
    }
    gh_log_info(LOG,
                "hub started: group %s, sources %s, policy %s version %s (%d "
                "subscribers)",
                gh_conf_get(conf, "group.id"),
                gh_conf_get(conf, "source.topics"),
                gh_conf_get(conf, "policy.file"),
                gh_policy_version(gh_feed_policy(h.feed)),
                gh_policy_nsubscribers(gh_feed_policy(h.feed)));
    int wait = (int)gh_conf_get_int(conf, "retry.backoff.ms");
    int wmax = (int)gh_conf_get_int(conf, "retry.backoff.max.ms");
    for (;;) {
        e = session(&h, errstr, errstr_size);
        if (e == GH_ERR_STOPPED || e == GH_ERR_TIMED_OUT ||
            gh_shutdown_requested())
            break;
        /* A registry that cannot be reached (GH_ERR_HTTP) passes too. */
        if (e != GH_ERR_PG_CONNECT && e != GH_ERR_PG && e != GH_ERR_KAFKA &&
            e != GH_ERR_RETRY && e != GH_ERR_HTTP)
            break;
        gh_log_warn(LOG, "%s; restarting in %d ms", errstr, wait);
        gh_hub_metrics_degraded(h.metrics, errstr);
        h.dlq.delivery_failed = h.relay.delivery_failed = 0;
        gh_shutdown_sleep_ms(wait);
        wait = wait * 2 > wmax ? wmax : wait * 2;
    }
    if (gh_shutdown_requested() && e && e != GH_ERR_STOPPED &&
        e != GH_ERR_TIMED_OUT)
        gh_log_warn(LOG, "while stopping: %s", errstr);
    gh_log_info(
        LOG,
        "stopping: %lld applied, %lld skipped as replays, %lld dead letters",
        h.applied, h.skipped, h.dead);
    gh_log_info(LOG,
                "time (ms): poll %lld, decode %lld, apply %lld, resolve "
                "%lld, commit %lld; "
                "resolution time per step (ms): load %lld, block %lld, score "
                "%lld, persons %lld, cluster %lld, ids %lld, write %lld, "
                "retire %lld, golden %lld, queue %lld",
                h.us_poll / 1000, h.us_decode / 1000, h.us_apply / 1000,
                h.us_resolve / 1000, h.us_commit / 1000, h.rs.us[0] / 1000,
                h.rs.us[1] / 1000, h.rs.us[2] / 1000, h.rs.us[3] / 1000,
                h.rs.us[4] / 1000, h.rs.us[5] / 1000, h.rs.us[6] / 1000,
                h.rs.us[7] / 1000, h.rs.us[8] / 1000, h.rs.us[9] / 1000);
    long long vus[GH_GRID_NTIMES];
    gh_grid_times(h.grid, vus);
    gh_log_info(LOG,
                "views thread time (ms): views %lld, their commits %lld, "
                "following the policy %lld; relay thread %lld",
                h.us_views / 1000, h.us_views_commit / 1000, h.us_policy / 1000,
                h.us_relay / 1000);
    gh_log_info(LOG,
                "views time (ms, within views): buildings %lld, person "
                "attributes %lld beside the others (waited for %lld), "
                "grids/events/households %lld, their feed %lld, persons "
                "published %lld; %lld analyses of the batches' tables, %lld ms",
                vus[0] / 1000, vus[1] / 1000, h.us_attr_wait / 1000,
                vus[2] / 1000, vus[3] / 1000, h.us_publish / 1000, h.analyzed,
                h.us_analyze / 1000);
out:
    gh_apply_destroy(h.apply);
    gh_resolver_destroy(h.resolver);
    gh_origin_destroy(h.origin);
    gh_grid_destroy(h.grid);
    h.dlq.closing = h.relay.closing = 1;
    long unacked = gh_kafka_producer_close(h.dlq.producer, 5000) +
                   gh_kafka_producer_close(h.relay.producer, 5000);
    if (gh_shutdown_requested()) {
        e = stopped_line(&h, unacked, e);
        if (e == GH_ERR_TIMED_OUT)
            gh_seterr(errstr, errstr_size, e,
                      "work left for the next start (see the line above)");
    }
    free(h.dlq.too_large);
    free(h.relay.too_large);
    forget_gaps(&h);
    gh_hub_metrics_destroy(h.metrics);
    gh_feed_destroy(h.feed);
    gh_crypt_destroy(h.crypt);
    gh_serde_destroy(h.feed_serde);
    gh_audit_key_destroy(h.audit_key);
    gh_serde_destroy(h.serde);
    gh_sqlarr_free(&h.relay.published);
    gh__hub_analyze_forget(&h);
    gh_schemas_destroy(h.schemas);
    return e;
}
