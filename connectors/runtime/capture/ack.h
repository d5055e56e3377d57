/*
 * Acknowledgement tracking: which source LSN may be confirmed to
 * PostgreSQL. A transaction's end LSN becomes confirmable once the
 * transaction has been read to its COMMIT and Kafka acknowledged every
 * message produced for it (events, tombstones, dead letters) and for every
 * transaction before it. Confirming only then is what makes kill -9 at any
 * moment lose nothing: PostgreSQL resends everything after the confirmed
 * LSN. Single-threaded: delivery reports run inside rd_kafka_poll() on the
 * connector's own thread.
 */
#ifndef GH_ACK_H
#define GH_ACK_H

#include <stdint.h>

#include "gridhub/hist.h"
#include "gridhub/metrics.h"

typedef struct gh_ack_txn gh_ack_txn_t;
typedef struct gh_ack {
    gh_ack_txn_t *head, *tail;
    uint64_t confirmed; /* highest confirmable LSN so far */
    int failed;         /* a message failed permanently: never advance */
    char failure[512];
    long inflight_txns;
    /* Commit (in PostgreSQL) to acknowledgement (by Kafka) of whole
     * transactions, µs: since start, and since the last stats report. */
    gh_hist_t latency_total, latency_window;
    /* The same latencies for the metrics endpoint, in seconds (NULL:
     * none); set by the connector (cn_metrics.h). */
    gh_metrics_series_t *latency_metric;
} gh_ack_t;

/* Opens a transaction at the tail. Borrowed until it completes. */
gh_ack_txn_t *gh_ack_begin(gh_ack_t *a);
/* One more message in flight for txn. */
void gh_ack_add(gh_ack_txn_t *txn);
/* The transaction was read to its end; end_lsn becomes confirmable once all
 * its messages are acknowledged. commit_us (Unix µs, 0 if none) is when it
 * committed at the source, for the latency histograms. */
void gh_ack_close(gh_ack_t *a, gh_ack_txn_t *txn, uint64_t end_lsn,
                  int64_t commit_us);
/* A delivery report for one message of txn; ok == 0 marks the tracker
 * failed with `why` (copied). */
void gh_ack_done(gh_ack_t *a, gh_ack_txn_t *txn, int ok, const char *why);
/* Nothing open or in flight. */
int gh_ack_idle(const gh_ack_t *a);
/* No transaction read to its end still waits for Kafka: everything
 * confirmable is confirmed (a transaction still being read may remain). */
int gh_ack_settled(const gh_ack_t *a);
/* Messages produced and not yet acknowledged, over all transactions. */
long gh_ack_outstanding(const gh_ack_t *a);
/* Frees every pending transaction. */
void gh_ack_clear(gh_ack_t *a);

#endif
