#include "ack.h"

#include <stdio.h>
#include <stdlib.h>

#include "gridhub/util.h"

struct gh_ack_txn {
    uint64_t end_lsn;
    int64_t commit_us;
    long outstanding, produced;
    int closed;
    gh_ack_txn_t *next;
};

static void advance(gh_ack_t *a) {
    while (a->head && a->head->closed && a->head->outstanding == 0) {
        gh_ack_txn_t *t = a->head;
        if (!a->failed && t->end_lsn > a->confirmed) a->confirmed = t->end_lsn;
        if (t->commit_us > 0 && t->produced > 0) {
            int64_t lat = gh_wallclock_us() - t->commit_us;
            gh_hist_record(&a->latency_total, lat);
            gh_hist_record(&a->latency_window, lat);
            gh_metrics_observe(a->latency_metric, (double)lat / 1e6);
        }
        a->head = t->next;
        if (!a->head) a->tail = NULL;
        free(t);
        a->inflight_txns--;
    }
}

gh_ack_txn_t *gh_ack_begin(gh_ack_t *a) {
    gh_ack_txn_t *t = gh_xcalloc(1, sizeof(*t));
    if (a->tail)
        a->tail->next = t;
    else
        a->head = t;
    a->tail = t;
    a->inflight_txns++;
    return t;
}

void gh_ack_add(gh_ack_txn_t *txn) {
    txn->outstanding++;
    txn->produced++;
}

void gh_ack_close(gh_ack_t *a, gh_ack_txn_t *txn, uint64_t end_lsn,
                  int64_t commit_us) {
    txn->closed = 1;
    txn->commit_us = commit_us;
    txn->end_lsn = end_lsn;
    advance(a);
}

void gh_ack_done(gh_ack_t *a, gh_ack_txn_t *txn, int ok, const char *why) {
    txn->outstanding--;
    if (!ok && !a->failed) {
        a->failed = 1;
        snprintf(a->failure, sizeof(a->failure), "%s",
                 why ? why : "delivery failed");
    }
    advance(a);
}

int gh_ack_idle(const gh_ack_t *a) {
    return a->head == NULL;
}

int gh_ack_settled(const gh_ack_t *a) {
    /* Transactions close in order, so only the tail can still be open. */
    return a->head == NULL || !a->head->closed;
}

long gh_ack_outstanding(const gh_ack_t *a) {
    long n = 0;
    for (const gh_ack_txn_t *t = a->head; t; t = t->next)
        n += t->outstanding;
    return n;
}

void gh_ack_clear(gh_ack_t *a) {
    while (a->head) {
        gh_ack_txn_t *t = a->head;
        a->head = t->next;
        free(t);
    }
    a->tail = NULL;
    a->inflight_txns = 0;
}
