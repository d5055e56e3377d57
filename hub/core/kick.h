/* A worker thread's wake-ups: a count of kicks (work was committed for
 * it), a stop, and bounded waits for either. Shared by the views thread
 * and the relay thread. */
#ifndef GH_HUB_KICK_H
#define GH_HUB_KICK_H

#include <pthread.h>
#include <stdint.h>

typedef struct gh__kick {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t kicked; /* under mu */
    int stop;        /* under mu */
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

#endif
