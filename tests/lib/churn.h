/*
 * Random department churn for the crash and fail-over tests: a register of
 * residents (test mapping, zz_syrk) changed at random — contact details,
 * grids, new rows (some of them the same resident again), deletes, ID
 * corrections, multi-row transactions — and the check that the subscriber
 * view ends exactly equal to the department and the hub.
 */
#ifndef GH_TEST_CHURN_H
#define GH_TEST_CHURN_H

#include <libpq-fe.h>

#include "stack.h"

typedef struct gh_test_churn {
    char (*rk)[16];
    char (*id)[19];
    int *alive;
    int n, nalive, next_fresh, max;
    unsigned seed;
} gh_test_churn_t;

/* Inserts `rows` residents (K00000...; unique valid IDs, every 97th with
 * a wrong check character) in one statement, with room for `changes`
 * random changes after. Free with gh_test_churn_free. */
void gh_test_churn_load(gh_test_churn_t *k, gh_test_stack_t *s, int rows,
                        int changes, unsigned seed);
void gh_test_churn_free(gh_test_churn_t *k);
/* One random change (sometimes several in one transaction). */
void gh_test_churn_step(gh_test_churn_t *k, gh_test_stack_t *s, int step);
/* The hub (re)started at `ts` (a timestamp as text) has applied at least
 * one row: a predicate for gh_test_wait_until over a gh_test_since_t. */
typedef struct gh_test_since {
    PGconn *hub;
    const char *ts;
} gh_test_since_t;
int gh_test_applied_since(void *arg);
/* After gh_test_wait_settled: the outbox is empty, the folded view topic
 * equals the department table, and the view's last version of every
 * active person is the hub's. Returns the topic's lines (caller decrefs)
 * for further checks. */
json_t *gh_test_check_views_exact(gh_test_stack_t *s, PGconn *hub,
                                  const char *view_topic, int idle_ms);

#endif
