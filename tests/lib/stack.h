/*
 * A whole gridhub pipeline for one integration test: a fresh department
 * database (DDL from a file), a fresh hub database, the embedded broker,
 * and on demand the connector and the hub as child processes of the real
 * `gridhub` binary. Logs go to the stack's directory.
 */
#ifndef GH_TEST_STACK_H
#define GH_TEST_STACK_H

#include <jansson.h>
#include <libpq-fe.h>

#include "harness.h"

typedef struct gh_test_stack {
    char *dir;        /* scratch directory (logs, state) */
    char *bootstrap;  /* embedded broker */
    char *dept_db;    /* department database name */
    char *hub_db;     /* hub database name */
    char *mapping;    /* mapping file path */
    char *subscriber; /* "test" */
    char *policy;     /* policy file: GH_TEST_POLICY unless rewritten */
    char *keys;       /* its key file (tests/lib/policy.h) */
    gh_test_proc_t *broker, *connector, *hub;
    int connector_runs, hub_runs; /* log files are connector.<n>.log */
    PGconn *dept;                 /* connection to the department database */
} gh_test_stack_t;

/* Creates the databases (running `ddl_path` in the department one), starts
 * the broker. mapping_path: the department's mapping file. Owned by the
 * caller (gh_test_stack_free). */
gh_test_stack_t *gh_test_stack_new(const char *ddl_path,
                                   const char *mapping_path);
/* As gh_test_stack_new, with the department database in `encoding`
 * (EUC_CN, SQL_ASCII, ...; NULL: UTF8). */
gh_test_stack_t *gh_test_stack_new_encoded(const char *ddl_path,
                                           const char *mapping_path,
                                           const char *encoding);

/* Starts (or restarts) the connector / hub. Extra `-X key=value` pairs as a
 * NULL-terminated list of "key=value" strings (may be NULL). */
void gh_test_stack_start_connector(gh_test_stack_t *s,
                                   const char *const *extra);
void gh_test_stack_start_hub(gh_test_stack_t *s, const char *const *extra);
/* Starts the connector with replication slot `<slot_prefix>_<pid>` and
 * waits (up to 90 s; asserts) until it has published its snapshot. */
void gh_test_stack_snapshot(gh_test_stack_t *s, const char *slot_prefix);
/* Another instance of the stack's hub (same group, database and topics),
 * logging to <dir>/<name>.1.log. Caller owns the handle: gh_test_stop and
 * gh_test_proc_free. */
gh_test_proc_t *gh_test_stack_spawn_hub(gh_test_stack_t *s, const char *name,
                                        const char *const *extra);
/* Starts another department's connector on the stack's department
 * database (whose tables it must hold too), with mapping file `mapping`
 * and connector name `name` (its state directory, slot and log are its
 * own). The caller owns the process (gh_test_stop, gh_test_proc_free). */
gh_test_proc_t *gh_test_stack_start_other_connector(gh_test_stack_t *s,
                                                    const char *mapping,
                                                    const char *name);
/* Rewrites the stack's policy file (the running hub picks it up within
 * policy.check.interval.ms) and its key file. */
void gh_test_stack_set_policy(gh_test_stack_t *s, const char *text);

/* Runs `gridhub steward` against the stack's hub database with the hub's
 * properties, `--by tester` and `args` (NULL-terminated, e.g. {"merge",
 * "P000000001", "P000000002", "--reason", "why", NULL}). Returns the exit
 * code; *output (may be NULL; caller frees) gets stdout and stderr. */
int gh_test_stack_steward(gh_test_stack_t *s, const char *const *args,
                          char **output);
/* Runs `gridhub <cmd>` to completion with `-X database.conninfo=` of
 * database `db` (NULL: none) and `args` (NULL-terminated), its output in
 * the stack's directory. Returns the exit code; *output (may be NULL;
 * caller frees) gets stdout and stderr. */
int gh_test_stack_cli(gh_test_stack_t *s, const char *cmd, const char *db,
                      const char *const *args, char **output);
/* Log path of the current (last started) connector / hub run; static buffer
 * valid until the next call. */
const char *gh_test_stack_connector_log(gh_test_stack_t *s);
const char *gh_test_stack_hub_log(gh_test_stack_t *s);

/* Reads `topic` from the beginning with `gridhub tail` until idle_ms pass
 * without a message; returns a JSON array of the tail lines (objects with
 * topic, partition, offset, key, headers, value, schema). New reference. */
json_t *gh_test_tail(gh_test_stack_t *s, const char *topic, int idle_ms);

/* All the topics (comma-separated) hold, read with gh_test_tail. Tail stops
 * after idle_ms without a message, which can also happen while it is still
 * joining its group, so this compares with the watermarks and reads again
 * (three attempts) if short; asserts it read at least what they hold. The
 * connectors' end-of-snapshot markers (key "__snapshot__:...") are left
 * out. */
json_t *gh_test_tail_all(gh_test_stack_t *s, const char *topics, int idle_ms);

/* Folds tail lines into the latest value per key (null value = deleted):
 * returns an object key -> value. View records (values with a person_id)
 * are folded by person id rather than by their pseudonymous key, and a
 * tombstone deletes the person its key was seen with. New reference.
 * Asserts that every line was decoded (a line tail could not decode has no
 * "value"). */
json_t *gh_test_fold(const json_t *lines);

/* Stops all processes, drops the databases, removes the directory unless
 * the test failed (kept for diagnosis). */
void gh_test_stack_free(gh_test_stack_t *s);

#endif
