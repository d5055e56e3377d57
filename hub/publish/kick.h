/* A worker thread's wake-ups: a count of kicks (work was committed for
 * it), a stop, and bounded waits for either; and the error it ended on,
 * for the thread that started it. Shared by the views thread and the
 * relay thread. */
#ifndef GH_HUB_KICK_H
#define GH_HUB_KICK_H

#include <pthread.h>
#include <stdint.h>

#include "gridhub/error.h"

typedef struct gh__kick {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t kicked; /* under mu */
    int stop;        /* under mu */
    gh_err_t err;    /* under mu: the worker's failure, GH_OK while none */
    char errstr[1024];
} gh__kick_t;

void gh__kick_init(gh__kick_t *k);
void gh__kick_destroy(gh__kick_t *k);
/* Work is waiting: wakes the waiter. */
void gh__kick(gh__kick_t *k);
/* Asks the worker to finish: wakes the waiter. */
void gh__kick_stop(gh__kick_t *k);
/* Whether gh__kick_stop was called. */
int gh__kick_stopped(gh__kick_t *k);
/* Kicks so far. */
uint64_t gh__kick_count(gh__kick_t *k);
/* Waits until a kick after the first `taken`, a stop, `until` (monotonic
 * ms) or, with `on_signal`, a signal's stop request (which wakes no
 * condition variable: looked at every 100 ms). Returns the kicks so far. */
uint64_t gh__kick_wait(gh__kick_t *k, int64_t until, uint64_t taken,
                       int on_signal);
/* The worker failed with `e` (not GH_OK) and `errstr` (copied); the first
 * failure is kept. */
void gh__kick_fail(gh__kick_t *k, gh_err_t e, const char *errstr);
/* The worker's failure into the caller's errstr, or GH_OK if none. */
gh_err_t gh__kick_failed(gh__kick_t *k, char *errstr, size_t errstr_size);

#endif
