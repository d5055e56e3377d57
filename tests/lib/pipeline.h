/*
 * Helpers of the pipeline suites (hub, identity) built on the test stack
 * (stack.h) with the test department schema (tests/data/dept): resident ID
 * numbers computed independently of gridhub, department rows, waiting for
 * the hub to settle, clean stops, view lines.
 */
#ifndef GH_TEST_PIPELINE_H
#define GH_TEST_PIPELINE_H

#include <jansson.h>
#include <libpq-fe.h>

#include "stack.h"

/* ISO 7064 MOD 11-2 check character of the first 17 digits. */
char gh_test_id_check(const char *first17);
/* The 18-character ID of a person born y-m-d with sequence number seq
 * (region 110105). */
void gh_test_make_id18(char out[19], int y, int m, int d, int seq);
/* The legacy 15-digit form of the same person (year 19YY). */
void gh_test_make_id15(char out[16], int y, int m, int d, int seq);
/* Test-side normalization of the forms these tests write (spaces, x, 15
 * digits); 1 and out filled for a valid ID, else 0. */
int gh_test_norm_id(const char *raw, char out[19]);

/* First column of the first row (caller frees), or NULL on any error. */
char *gh_test_try_scalar(PGconn *c, const char *sql);
/* A count, or -1 on any error. */
long gh_test_try_count(PGconn *c, const char *sql);

/* Inserts a zz_syrk row (gxsj = clock_timestamp()). */
void gh_test_insert_row(PGconn *c, const char *rkbh, const char *name,
                        const char *id, int sex, const char *birth,
                        const char *phone, const char *addr, const char *grid);

/* What the hub has yet to send: outbox rows, and the notes the views are
 * still to be made from (made in a transaction after the batch's,
 * migration 025). One statement, one snapshot: a views transaction that
 * commits moves its notes into the outbox at once. */
#define GH_TEST_UNSENT_SQL                                                     \
    "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM "            \
    "view_dirty)"

/* State of the "settled" poll: the hub database mirrors the department
 * table (digests equal), nothing is left noted for the views (they are
 * made in a transaction after the batch's, migration 025) and the outbox
 * is empty. */
typedef struct gh_test_settle {
    gh_test_stack_t *s;
    PGconn *hub;
    char *dept_digest, *hub_digest; /* last seen, caller frees */
    long outbox;                    /* and notes: GH_TEST_UNSENT_SQL */
} gh_test_settle_t;
/* Predicate for gh_test_wait_until over a gh_test_settle_t. */
int gh_test_settled(void *arg);

/* Waits until the hub database mirrors the department table and the
 * outbox is empty; fails with the hub's log otherwise. */
void gh_test_wait_settled(gh_test_stack_t *s, PGconn *hub, int timeout_ms);
/* The same when personal data is sealed at rest (the digests above compare
 * values in clear): `want` live rows in source_person, each with its
 * person (applied and resolved in one transaction), and the outbox empty.
 * 1 if reached within timeout_ms. */
int gh_test_wait_live(PGconn *hub, long want, int timeout_ms);
/* Until `sql` (a count, tried through gh_test_try_count) returns `want`;
 * 1 if reached within timeout_ms. */
int gh_test_wait_count(PGconn *c, const char *sql, long want, int timeout_ms);
/* Fails if a .log file in dir holds a sanitizer report. */
void gh_test_assert_no_sanitizer_reports(const char *dir);
/* Stops connector and hub with SIGTERM: both must exit 0 and leave no
 * sanitizer report. */
void gh_test_stop_clean(gh_test_stack_t *s);
/* Waits until the connector streams (its snapshot, if any, is done). */
void gh_test_wait_streaming(gh_test_stack_t *s);

/* Lines of one key in topic order (new reference). */
json_t *gh_test_lines_of(const json_t *lines, const char *key);
/* The "version" of person pid in a fold. */
long long gh_test_version_of(const json_t *fold, const char *pid);

#endif
