/*
 * The fixture the grid suites share (test_grid.c, test_grid_place.c): two
 * departments from their connectors/ files in one department database,
 * their connectors and a hub, and the checks they make on the hub
 * database, the subscriber topics and `gridhub grid`.
 */
#ifndef GH_TEST_GRID_FIXTURE_H
#define GH_TEST_GRID_FIXTURE_H

#include <jansson.h>
#include <libpq-fe.h>

#include "stack.h"

/* The stack, the second department's connector and a connection to the
 * hub database of the running test (set by gf_two_departments). */
extern gh_test_stack_t *gf_stack;
extern gh_test_proc_t *gf_other;
extern PGconn *gf_hub;

/* Stops and frees all of the above (a suite's .fini). */
void gf_fini(void);

/* Runs the SQL file `path` on `c`. */
void gf_run_file(PGconn *c, const char *path);

/* Departments `a` and `b` from their connectors/ files in one department
 * database: a's connector is the stack's, b's the second one (gf_other);
 * then the hub on `topics`, with `extra` (may be NULL) more properties,
 * one to a line.
 * The stack is owned by the fixture (gf_fini). */
gh_test_stack_t *gf_two_departments(const char *a, const char *b,
                                    const char *topics, const char *extra);

/* kill -9 of the hub, and a new one on `topics` with the short session
 * (kafka.session.timeout.ms=6000) the group needs to notice soon: start
 * the stack with it too (gf_two_departments' `extra`). */
void gf_kill9_restart_hub(gh_test_stack_t *s, const char *topics);

/* `gridhub grid VERB OPERAND` (operand may be NULL) against the hub
 * database; returns the exit code and its output in *out (caller
 * frees). */
int gf_cli(gh_test_stack_t *s, const char *verb, const char *operand,
           char **out);

/* Waits until `sql` on the hub returns `want` (fails the test after 60 s
 * with the hub log's tail). */
void gf_wait_hub(const char *what, const char *sql, const char *want);

/* The last value subscriber "test" received on hub.view.test.<entity> for
 * record `id` (found by its pseudonym), NULL if none; new reference. */
json_t *gf_last_sent(gh_test_stack_t *s, const char *entity, const char *id);

/* The same for any subscriber. */
json_t *gf_last_sent_to(gh_test_stack_t *s, const char *subscriber,
                        const char *entity, const char *id);

/* Column `col` of view `view` for one department record (caller frees;
 * fails the test if there is none). */
char *gf_record_value(const char *view, const char *col, const char *dept,
                      const char *key);

/* Waits until the hub publishes a grid view record for every grid of
 * 综治's zz_wg in the department database. */
void gf_wait_grids_published(gh_test_stack_t *s);

/* `gridhub grid recount` finds every published count right, once the
 * noted changes are refreshed (retried for up to 30 s). */
void gf_recount_agrees(gh_test_stack_t *s, const char *when);

#endif
