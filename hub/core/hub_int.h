/* Internals of the hub service, shared by hub.c and relay.c. */
#ifndef GH_HUB_INT_H
#define GH_HUB_INT_H

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>

#include "apply.h"
#include "audit.h"
#include "feed.h"
#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "gridhub/sqlarr.h"
#include "grid.h"
#include "hub_metrics.h"
#include "origin.h"
#include "resolve.h"

/* A producer and what its delivery reports say. The relay's also sends
 * outbox rows (relay.c): its keys and published schemas. */
typedef struct gh__out {
    const gh_conf_t *conf;
    rd_kafka_t *producer;
    long pending; /* messages not yet acknowledged */
    int delivery_failed;
    int closing; /* purging at exit: failed reports are expected */
    /* Outbox ids the cluster refused as too large, to be set aside. */
    int64_t *too_large;
    int ntoo_large, captoo_large;
    /* The relay's alone: the keys that open sealed payloads (borrowed,
     * the relay thread's own, set while it runs), the metrics. */
    gh_crypt_t *crypt;
    gh_hub_metrics_t *metrics;
    long left_outbox; /* a stop left rows published but not acknowledged
                       * (> 0) or not sent (< 0) */
    /* Fingerprints of view schemas this process published to the schemas
     * topic (a literal for `<> ALL($1)`), and whether it was ensured. */
    gh_sqlarr_t published;
    int schema_topic_ready;
} gh__out_t;

typedef struct hub {
    const gh_conf_t *conf;
    gh_schemas_t *schemas;
    gh_serde_t *serde;
    const gh_schema_t *view;
    /* The main thread's producer (dead letters), and the relay's (the
     * views thread's while it runs). */
    gh__out_t dlq, relay;
    PGconn *db;
    gh_apply_t *apply;
    gh_resolver_t *resolver;
    gh_origin_t *origin;
    gh_grid_t *grid; /* the grid hierarchy, refreshed by batches */
    gh_resolve_stats_t rs;
    long long us_apply, us_resolve, us_commit; /* per phase */
    long long us_publish; /* of us_views: persons published (views()) */
    /* of us_views: waiting for the attributes' transaction (views()) */
    long long us_attr_wait;
    /* Outside the batches' transactions: waiting for and decoding
     * messages. */
    long long us_poll, us_decode;
    /* The views thread's (read once it has ended): its views
     * transactions, their commits, following the policy; and its relay
     * thread's, relaying. */
    long long us_views, us_views_commit, us_policy, us_relay;
    struct gh__views *vw;   /* the views thread of the session */
    gh_crypt_t *crypt;      /* the main thread's keys (feed's: the thread's) */
    gh_serde_t *feed_serde; /* the feed's serializer */
    gh_feed_t *feed;        /* the views under the policy */
    int64_t next_sync_ms;
    int64_t next_views_ms; /* next batch that refreshes the aggregate views */
    int64_t views_last_ms; /* when they were last refreshed (0: never) */
    /* The last batch left its persons noted (views.person.defer.messages):
     * the views publish them when the stream is quiet or a smaller batch
     * comes, or after views.person.defer.max.ms (views_thread.c). */
    int catching_up;
    int64_t catch_up_ms;       /* when it began */
    gh_audit_key_t *audit_key; /* signs tree heads; NULL: none issued */
    char audited_policy[32];   /* version of the last "policy" entry */
    int64_t next_head_ms;
    long long applied, skipped, dead;
    /* What a stop left for the next start (the closing log line), besides
     * relay.left_outbox. */
    long left_offsets; /* applied messages whose offsets are uncommitted */
    /* Gaps accepted with `gridhub resync department` (accepted_gap). */
    struct gap {
        char *topic;
        int32_t part;
        int64_t floor;
    } * gaps;
    int ngaps;
    gh_hub_metrics_t *metrics;
    /* Rows applied per entity by this process before the batch being
     * counted, and in it (analyze.c); the analyses it ran. */
    struct seen {
        char *entity;
        long long rows, batch;
        /* known: this process analyzed the entity's table once it had
         * rows of it (analyze.c); due: the open attempt will */
        int known, due;
    } * seen;
    int nseen;
    long long analyzed, us_analyze;
} hub_t;

/* After a failed attempt at one of the hub's transactions on `db`: rolls
 * back and forgets the persons `r` kept. GH_OK when the failure was
 * transient and the back-off (*wait, doubled up to retry.backoff.max.ms)
 * has been waited: try again. Otherwise what the caller returns
 * (GH_ERR_PG_CONNECT: the session reconnects; GH_ERR_STOPPED). `again`
 * says what is tried again, for the log. */
gh_err_t gh__hub_after_failure(const gh_conf_t *conf, PGconn *db,
                               gh_resolver_t *r, gh_err_t e, int attempt,
                               int *wait, const char *again,
                               const char *errstr);

/* The views thread (views_thread.c): starts it for a session, with its own
 * database connection; `wake` (borrowed, outliving the thread) is the
 * consumer whose poll it yields when it fails. From then on h->feed,
 * h->grid's views, the policy following fields and
 * us_views/us_views_commit/us_policy/us_publish are the thread's, and
 * h->relay and us_relay its relay thread's (below), which it starts with
 * it. NULL with errstr if it cannot start. */
typedef struct gh__views gh__views_t;
gh__views_t *gh__hub_views_start(hub_t *h, rd_kafka_t *wake, char *errstr,
                                 size_t errstr_size);
/* A batch committed its notes, or a catch-up ended: the views are made
 * now. */
void gh__hub_views_kick(gh__views_t *v);
/* Whether the hub is catching up (views.person.defer.messages), told
 * before the batch that decides it is applied, with the messages waiting
 * behind that batch (-1: not known): the views hold the persons back
 * while it is and the backlog goes down (defer.h), and views already
 * under way when it began must not publish what its first batch noted
 * (they read each statement at the latest commit). */
void gh__hub_views_catching_up(gh__views_t *v, int on, int64_t backlog);
/* The error the thread or its relay thread ended with, or GH_OK while
 * they run. */
gh_err_t gh__hub_views_check(gh__views_t *v, char *errstr, size_t errstr_size);
/* Stops the thread, once it has made the views of a batch it was told of,
 * then its relay thread, once that has relayed the outbox, and frees both
 * (NULL: nothing). Returns the error a thread ended with (with errstr; the
 * views thread's first), GH_OK if none. */
gh_err_t gh__hub_views_stop(gh__views_t *v, char *errstr, size_t errstr_size);

/* The relay thread (relay_thread.c), started and stopped by the views
 * thread: relays the outbox on a connection of its own with h->relay (its
 * producer, with keys the thread loads to open sealed payloads; both the
 * thread's while it runs) and adds to h->us_relay: what a crash or an
 * earlier session left first, then whenever kicked, and every
 * outbox.poll.ms for others' rows (steward commands; another instance's
 * when this one held the relay lock). `wake` as for the views thread. NULL
 * with errstr if it cannot start (the key file does not load). */
typedef struct gh__relayer gh__relayer_t;
gh__relayer_t *gh__hub_relayer_start(hub_t *h, rd_kafka_t *wake, char *errstr,
                                     size_t errstr_size);
/* Outbox rows were committed: they are relayed now. */
void gh__hub_relayer_kick(gh__relayer_t *r);
/* The error the thread ended with, or GH_OK while it runs. */
gh_err_t gh__hub_relayer_check(gh__relayer_t *r, char *errstr,
                               size_t errstr_size);
/* Relays what is left once (the views thread has ended), stops the thread
 * and frees it (NULL: nothing). Returns its error, GH_OK if none. */
gh_err_t gh__hub_relayer_stop(gh__relayer_t *r, char *errstr,
                              size_t errstr_size);

/* The delivery report callback of both producers (opaque: its gh__out_t). */
void gh__hub_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/* Waits until every message `o` produced is acknowledged. Waits as long
 * as it takes (an unreachable cluster is retried) unless a stop is
 * requested: then for what is left of the shutdown budget
 * (GH_ERR_TIMED_OUT). */
gh_err_t gh__hub_drain(gh__out_t *o, char *errstr, size_t errstr_size);
/* Publishes outbox rows in id order over `db` (borrowed), deleting them
 * once acknowledged. *busy (may be NULL): another relayer (instance) held
 * the relay lock, rows may be left. */
gh_err_t gh__hub_relay(gh__out_t *o, PGconn *db, int *busy, char *errstr,
                       size_t errstr_size);
/* ANALYZE, in the open transaction, the tables the k rows of the batch
 * (ent[i]: each one's entity, borrowed; NULL: none) went to, where an
 * entity brought at least batch.analyze.rows and a tenth of what came of
 * it before (analyze.c). */
gh_err_t gh__hub_analyze(hub_t *h, const char *const *ent, int k, char *errstr,
                         size_t errstr_size);
/* The decision of gh__hub_analyze, without the database: counts the
 * batch's rows per entity (afresh on each attempt) and sets *persons /
 * *rows when the person tables / source_row are due (min: the property):
 * min rows of an entity and a tenth of what came of it before, or the
 * entity's first min/10 rows in this process. */
void gh__hub_analyze_count(hub_t *h, const char *const *ent, int k, int64_t min,
                           int *persons, int *rows);
/* After the batch's transaction committed: its rows join what came
 * before. */
void gh__hub_analyze_done(hub_t *h);
/* Frees what gh__hub_analyze keeps. */
void gh__hub_analyze_forget(hub_t *h);

#endif
