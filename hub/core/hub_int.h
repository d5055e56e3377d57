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

typedef struct hub {
    const gh_conf_t *conf;
    gh_schemas_t *schemas;
    gh_serde_t *serde;
    const gh_schema_t *view;
    rd_kafka_t *producer;
    PGconn *db;
    gh_apply_t *apply;
    gh_resolver_t *resolver;
    gh_origin_t *origin;
    gh_grid_t *grid; /* the grid hierarchy, refreshed by batches */
    gh_resolve_stats_t rs;
    long long us_apply, us_resolve, us_commit, us_relay; /* per phase */
    long long us_publish; /* of us_resolve: persons published (views()) */
    gh_feed_t *feed;      /* the views under the policy */
    int64_t next_sync_ms;
    int64_t next_views_ms; /* next batch that refreshes the aggregate views */
    /* The last batch left its persons noted (views.person.defer.messages):
     * until the stream is quiet, only a due refresh publishes them. */
    int catching_up;
    gh_audit_key_t *audit_key; /* signs tree heads; NULL: none issued */
    char audited_policy[32];   /* version of the last "policy" entry */
    int64_t next_head_ms;
    long pending; /* producer messages not yet acknowledged */
    int delivery_failed;
    int closing; /* purging at exit: failed reports are expected */
    long long applied, skipped, dead;
    /* What a stop left for the next start (the closing log line). */
    long left_outbox;  /* outbox rows published but not acknowledged */
    long left_offsets; /* applied messages whose offsets are uncommitted */
    /* Outbox ids the cluster refused as too large, to be set aside. */
    int64_t *too_large;
    int ntoo_large, captoo_large;
    /* Gaps accepted with `gridhub resync department` (accepted_gap). */
    struct gap {
        char *topic;
        int32_t part;
        int64_t floor;
    } * gaps;
    int ngaps;
    gh_hub_metrics_t *metrics;
    /* Fingerprints of view schemas this process published to the schemas
     * topic (a literal for `<> ALL($1)`), and whether it was ensured. */
    gh_sqlarr_t published;
    int schema_topic_ready;
    /* Rows applied per entity by this process before the batch being
     * counted, and in it (analyze.c); the analyses it ran. */
    struct seen {
        char *entity;
        long long rows, batch;
    } * seen;
    int nseen;
    long long analyzed, us_analyze;
} hub_t;

/* The producer's delivery report callback (opaque: the hub). */
void gh__hub_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/* Waits until every produced message is acknowledged. Waits as long as it
 * takes (an unreachable cluster is retried) unless a stop is requested:
 * then for what is left of the shutdown budget (GH_ERR_TIMED_OUT). */
gh_err_t gh__hub_drain(hub_t *h, char *errstr, size_t errstr_size);
/* Publishes outbox rows in id order, deleting them once acknowledged. */
gh_err_t gh__hub_relay(hub_t *h, char *errstr, size_t errstr_size);
/* ANALYZE, in the open transaction, the tables the k rows of the batch
 * (ent[i]: each one's entity, borrowed; NULL: none) went to, where an
 * entity brought at least batch.analyze.rows and a tenth of what came of
 * it before (analyze.c). */
gh_err_t gh__hub_analyze(hub_t *h, const char *const *ent, int k, char *errstr,
                         size_t errstr_size);
/* The decision of gh__hub_analyze, without the database: counts the
 * batch's rows per entity (afresh on each attempt) and sets *persons /
 * *rows when the person tables / source_row are due (min: the property). */
void gh__hub_analyze_count(hub_t *h, const char *const *ent, int k, int64_t min,
                           int *persons, int *rows);
/* After the batch's transaction committed: its rows join what came
 * before. */
void gh__hub_analyze_done(hub_t *h);
/* Frees what gh__hub_analyze keeps. */
void gh__hub_analyze_forget(hub_t *h);

#endif
