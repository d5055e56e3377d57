/*
 * The connector's internals, shared by its files: connector.c (setup, the
 * session and its lifecycle), cn_event.c (events, produce, dead letters),
 * cn_snapshot.c (the consistent snapshot and its end markers),
 * cn_stream.c (the replication stream) and cn_schemas.c (the schemas
 * topic, before any event). The public contract is
 * connector.h. Everything here runs on the connector's one thread.
 */
#ifndef GH_CN_INT_H
#define GH_CN_INT_H

#include <avro.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "ack.h"
#include "cn_metrics.h"
#include "encoding.h"
#include "gridhub/conf.h"
#include "gridhub/error.h"
#include "gridhub/hist.h"
#include "gridhub/util.h"
#include "mapping.h"
#include "pgoutput.h"

typedef struct tstate {
    gh_map_table_t *t;
    avro_value_t env;
    char *topic;
    int op_idx[5];   /* c u d r t */
    int snap_idx[3]; /* false true last */
} tstate_t;

typedef struct relinfo {
    uint32_t relid;
    tstate_t **ts; /* the mappings of this table (none: not captured) */
    int nts;
    char *nsp, *rel;
    char **colnames; /* current column layout, for dead letters */
    int ncols;
    /* Per mapping: why it cannot read the current layout (a mapped column
     * dropped or renamed), NULL if it can. Its rows become dead letters
     * until the table or the mapping is fixed; the rest streams on. */
    char **bind_err;
} relinfo_t;

typedef struct cn {
    const gh_conf_t *conf;
    const char *name, *dept, *dlq, *hb_topic;
    char *slot, *pub, *dbname, *state_path;
    gh_schemas_t *schemas;
    gh_serde_t *serde;
    gh_mapping_t *map;
    rd_kafka_t *rk;
    gh_ack_t ack;
    tstate_t *ts;
    int nts;
    relinfo_t *rels;
    int nrels;
    gh_buf_t key, val, key2;
    uint64_t received;
    /* current transaction */
    gh_ack_txn_t *txn;
    uint64_t final_lsn;
    int64_t seq, commit_us;
    uint32_t xid;
    long long events, dead_letters;
    int closing;        /* purging at exit: failed reports are expected */
    size_t max_msg;     /* largest message Kafka takes (gh_kafka_max_message) */
    int snapshot_taken; /* snapshot.mode=always: once per process */
    gh_enc_t *enc;
    /* The current change's tuples could not be read as text: each mapping
     * of the table dead-letters it for this reason. */
    int enc_bad;
    char enc_why[512];
    gh_cn_metrics_t *metrics;
    PGconn *db; /* the session's normal connection, idle while streaming */
    /* Schema records (cn_schemas.c): delivery reports of the current
     * attempt, and why the last one failed. */
    const char *schema_topic;
    int schema_acked, schema_failed;
    char schema_why[256];
} cn_t;

enum { OP_C, OP_U, OP_D, OP_R, OP_T };
extern const char *const gh__cn_op_syms[5];

/* ---- cn_event.c ---------------------------------------------------------- */

/* Produces one message (bytes copied) tracked in `txn`, waiting while the
 * producer queue is full (until the shutdown budget runs out). */
gh_err_t gh__cn_produce(cn_t *c, const char *topic, const void *key,
                        size_t klen, const void *val, size_t vlen,
                        gh_ack_txn_t *txn, char *errstr, size_t errstr_size);

/* The dead letter of a row that cannot be an event (reason, its `class`
 * for the metrics: mapping, encoding, layout, oversized), tracked in `txn`
 * like an event so that the LSN is never confirmed before Kafka has it.
 * The key is c->key as it stands (reset it when unknown). */
gh_err_t gh__cn_dead_letter(cn_t *c, tstate_t *ts, const char *class, char op,
                            const gh_pgo_tuple_t *tup,
                            const char *const *colnames, const char *reason,
                            uint64_t lsn, gh_ack_txn_t *txn, char *errstr,
                            size_t errstr_size);

/* Fills ts->env with one event (op OP_*) and c->key with its key;
 * GH_ERR_MAPPING when a row does not fit the mapping. */
gh_err_t gh__cn_build_event(cn_t *c, tstate_t *ts, int op,
                            const gh_pgo_tuple_t *before,
                            const gh_pgo_tuple_t *after, uint64_t lsn,
                            int64_t seq, int snapshot, char *errstr,
                            size_t errstr_size);

/* One row change published: the event (and a tombstone after a delete),
 * or its dead letter. */
gh_err_t gh__cn_emit(cn_t *c, tstate_t *ts, int op,
                     const gh_pgo_tuple_t *before, const gh_pgo_tuple_t *after,
                     const char *const *colnames, uint64_t lsn, int64_t seq,
                     int snapshot, gh_ack_txn_t *txn, char *errstr,
                     size_t errstr_size);

/* ---- cn_snapshot.c ------------------------------------------------------- */

/* Reads every mapped table inside the exported snapshot `snapname`, ending
 * each with its markers, and returns once Kafka acknowledged all of it. */
gh_err_t gh__cn_snapshot(cn_t *c, PGconn *db, const char *snapname,
                         uint64_t lsn, char *errstr, size_t errstr_size);

/* ---- cn_stream.c --------------------------------------------------------- */

/* Streams from the replication connection until an error or a stop
 * (GH_ERR_STOPPED after confirming what Kafka acknowledged). */
gh_err_t gh__cn_stream(cn_t *c, PGconn *repl, char *errstr, size_t errstr_size);

/* ---- cn_schemas.c -------------------------------------------------------- */

/* Before any event: makes sure the schemas topic exists and publishes on
 * it every schema the connector writes with, then waits until Kafka
 * acknowledged them. Failures are retried with backoff, as a broker outage
 * (an event must never precede its schema); returns GH_OK, or
 * GH_ERR_STOPPED once a stop is requested. */
gh_err_t gh__cn_publish_schemas(cn_t *c, char *errstr, size_t errstr_size);

/* The delivery report of a schema record (a message without opaque). */
void gh__cn_schema_report(cn_t *c, const rd_kafka_message_t *m);

/* ---- connector.c --------------------------------------------------------- */

/* The `stats:` line: what flowed in the window and commit-to-ack latency. */
void gh__cn_log_stats(cn_t *c, const char *what, const gh_hist_t *h,
                      long long events, int64_t window_ms);

#endif
