/*
 * Test harness for the Criterion integration tests (gh_integration_tests).
 *
 * PostgreSQL: a throwaway cluster started by ops/pg-cluster.sh, found through
 * GH_TEST_PGHOST / GH_TEST_PGPORT / GH_TEST_PGUSER (falling back to PGHOST /
 * PGPORT / PGUSER, then libpq's defaults). Each test creates its own database
 * with gh_test_create_db() and drops it with gh_test_drop_db(), so tests do
 * not see each other's tables or replication slots.
 *
 * Processes: gh_test_spawn() runs a program (usually GH_BINARY) in its own
 * process group with stdout and stderr appended to a log file; the child is
 * SIGKILLed by the kernel if the test process dies, so nothing outlives the
 * test binary. Tests synchronise with it by polling the log
 * (gh_test_wait_for_line) or a condition (gh_test_wait_until).
 *
 * Failure policy: every helper that can fail aborts the current test with a
 * Criterion assertion naming what failed (SQL, error message, log tail), so
 * callers never check return values for errors. NULL returns mean "no value"
 * or "timed out", as documented per function.
 *
 * The build defines GH_BINARY (path of the gridhub executable), GH_SOURCE_DIR
 * and GH_TEST_DATA_DIR as string literals.
 */
#ifndef GH_TEST_HARNESS_H
#define GH_TEST_HARNESS_H

#include <libpq-fe.h>
#include <sys/types.h>

#define GH_TEST_PRINTF(fmt_idx, va_idx)                                        \
    __attribute__((format(printf, fmt_idx, va_idx)))

/* ---- PostgreSQL ---------------------------------------------------------- */

/* A libpq conninfo string for database `dbname` on the test cluster
 * (NULL: the server's default database for the user). Caller frees. */
char *gh_test_conninfo(const char *dbname);

/* Connects to `dbname` on the test cluster; asserts success. Caller owns the
 * connection and closes it with PQfinish(). */
PGconn *gh_test_pg_connect(const char *dbname);

/* Creates a fresh, uniquely named database "<prefix>_<pid>_<n>" (prefix
 * lower-cased, non-alphanumerics replaced by '_') and returns its name.
 * Caller frees the name and drops the database with gh_test_drop_db(). */
char *gh_test_create_db(const char *prefix);
/* As gh_test_create_db, in `encoding` (e.g. "EUC_CN", "SQL_ASCII"; NULL:
 * the cluster's UTF8). */
char *gh_test_create_db_encoded(const char *prefix, const char *encoding);

/* Drops database `name` if it exists: first terminates the walsenders of and
 * drops every replication slot in it, then DROP DATABASE ... WITH (FORCE),
 * which also ends any remaining sessions. NULL is a no-op. */
void gh_test_drop_db(const char *name);

/* Formats and runs SQL (may hold several statements); asserts success. The
 * format does no quoting: quote literals yourself (or use PQescapeLiteral). */
void gh_test_exec(PGconn *c, const char *sql_fmt, ...) GH_TEST_PRINTF(2, 3);

/* Runs a query and returns the first column of the first row as a new string
 * (caller frees); NULL when there is no row or the value is SQL NULL.
 * Asserts that the query succeeds. */
char *gh_test_scalar(PGconn *c, const char *sql_fmt, ...) GH_TEST_PRINTF(2, 3);

/* Runs a query returning one integer, typically "SELECT count(*) FROM ...",
 * and returns it. Asserts exactly one row with one non-NULL integer column,
 * so a query that returns rows instead of a count fails loudly. */
long gh_test_count(PGconn *c, const char *sql_fmt, ...) GH_TEST_PRINTF(2, 3);

/* A cluster of the test's own (ops/pg-cluster.sh VERB DIR [PORT]): for what
 * the shared one must not suffer (stopped, reconfigured). Asserts success. */
void gh_test_pg_cluster(const char *verb, const char *dir, const char *port);

/* The port of the cluster started in `dir` (its env file), as text into
 * out[16]. */
void gh_test_pg_cluster_port(const char *dir, char out[16]);

/* A cluster of the test's own in a new directory /tmp/<prefix>.XXXXXX
 * (returned; caller removes it with gh_test_pg_cluster_remove and frees
 * it), with `settings` ("name = value", NULL-terminated; may be NULL) set
 * by ALTER SYSTEM before a restart, and a database "hub". *conninfo
 * receives the cluster's libpq conninfo without a dbname (caller frees). */
char *gh_test_pg_cluster_new(const char *prefix, const char *const *settings,
                             char **conninfo);

/* Stops the cluster in `dir` and removes it with the log of the calls
 * (`dir`.log). */
void gh_test_pg_cluster_remove(const char *dir);

/* ---- Processes ----------------------------------------------------------- */

typedef struct gh_test_proc gh_test_proc_t;

/* Starts argv[0] (looked up in $PATH if it has no '/') with the NULL-
 * terminated argv, stdin from /dev/null, stdout and stderr appended to
 * log_path (created if needed). The child leads its own process group and
 * gets SIGKILL when the spawning thread exits. Asserts that exec succeeded.
 * Caller owns the handle: gh_test_proc_free() (which kills a live child). */
gh_test_proc_t *gh_test_spawn(const char *const argv[], const char *log_path);

/* The child's pid (also its process group id). */
pid_t gh_test_proc_pid(const gh_test_proc_t *p);

/* SIGKILLs the child's whole process group and reaps the child: a crash.
 * No-op if it has already exited. */
void gh_test_kill9(gh_test_proc_t *p);

/* Graceful stop: SIGTERM to the child, wait up to timeout_ms, then SIGKILL
 * to its process group; leftover group members are killed too. Returns the
 * exit code, or 128 + signal number if it died by a signal (as a shell
 * reports it). If it had already exited, returns that status. */
int gh_test_stop(gh_test_proc_t *p, int timeout_ms);

/* Waits up to timeout_ms for the child to exit by itself. Returns its exit
 * status as gh_test_stop() does, or -1 on timeout (the child keeps running).
 */
int gh_test_proc_wait(gh_test_proc_t *p, int timeout_ms);

/* 1 while the child runs, 0 once it has exited (reaping it). */
int gh_test_proc_alive(gh_test_proc_t *p);

/* Kills the child if still alive (as gh_test_kill9) and frees the handle.
 * NULL is a no-op. */
void gh_test_proc_free(gh_test_proc_t *p);

/* Runs a command to completion (spawn + wait), killing it after timeout_ms.
 * Returns the exit status as gh_test_stop() does; asserts it did not time
 * out. Output is appended to log_path. */
int gh_test_run(const char *const argv[], const char *log_path, int timeout_ms);

/* ---- Logs, files and polling --------------------------------------------- */

/* Polls log_path (every 50 ms; it may not exist yet) until a complete line
 * starting with `prefix` appears; returns the rest of that line without the
 * newline (caller frees), or NULL on timeout. Always finds the first such
 * line in the file, so use distinct prefixes for successive events. */
char *gh_test_wait_for_line(const char *log_path, const char *prefix,
                            int timeout_ms);

/* As gh_test_wait_for_line(), but for a line containing `needle` anywhere;
 * returns the whole line (caller frees) or NULL on timeout. */
char *gh_test_wait_for_text(const char *log_path, const char *needle,
                            int timeout_ms);

/* The last `max_bytes` of a file as a new string (caller frees); "" if it
 * cannot be read. For failure messages. */
char *gh_test_file_tail(const char *path, size_t max_bytes);

/* Creates a fresh directory under $TMPDIR (default /tmp) and returns its
 * path; caller frees the string and may remove the tree (gh_test_rmtree). */
char *gh_test_tmpdir(void);

/* Removes a file or directory tree; missing paths are ignored. */
void gh_test_rmtree(const char *path);

/* Writes (truncating) a file from a printf format; asserts success. */
void gh_test_write_file(const char *path, const char *fmt, ...)
    GH_TEST_PRINTF(2, 3);

/* Calls pred(arg) now and then every 100 ms until it returns non-zero or
 * timeout_ms passes. Returns 1 if the predicate came true, 0 on timeout. */
int gh_test_wait_until(int (*pred)(void *), void *arg, int timeout_ms);

/* The URL a component writes to its *.listen.file once it listens (port
 * 0: a free one), waited for up to timeout_ms; fails the test with the end
 * of `log` if it never comes. Caller frees. */
char *gh_test_listen_url(const char *file, const char *log, int timeout_ms);

/* ---- Broker -------------------------------------------------------------- */

/* Starts `GH_BINARY broker --bootstrap-file <dir>/bootstrap` (log in
 * <dir>/broker.log) and waits up to 15 s for the bootstrap file to be
 * written. *bootstrap_out receives the bootstrap servers string, trimmed
 * (caller frees). Asserts the broker came up. Caller owns the process: stop
 * it with gh_test_stop() and free it with gh_test_proc_free(). */
gh_test_proc_t *gh_test_start_broker(const char *dir, char **bootstrap_out);
/* As gh_test_start_broker, creating `topics` (the broker's --topics value,
 * e.g. "gridhub.test.person:1"; NULL: none) at start. */
gh_test_proc_t *gh_test_start_broker_with(const char *dir, const char *topics,
                                          char **bootstrap_out);

#endif
