/*
 * PostgreSQL helpers over libpq shared by the connector and the hub.
 * Sessions use DateStyle=ISO and TimeZone=UTC so that the text form of
 * values is the same whatever the server's defaults.
 */
#ifndef GRIDHUB_PG_H
#define GRIDHUB_PG_H

#include <libpq-fe.h>
#include <stdint.h>

#include "gridhub/error.h"

/* Connects once; replication != 0 opens a logical replication connection
 * (replication=database). Gives up after the conninfo's connect_timeout
 * (default 30 s) or as soon as a stop is requested (gh_shutdown_). Returns
 * NULL with errstr filled; the caller decides whether to retry. The caller
 * owns the connection (PQfinish). */
PGconn *gh_pg_connect(const char *conninfo, int replication, char *errstr,
                      size_t errstr_size);

/* Connects, retrying with exponential backoff (backoff_ms doubling up to
 * max_backoff_ms) and a log line per failure, until connected or a stop is
 * requested (then NULL). `what` names the database in log lines. */
PGconn *gh_pg_connect_retry(const char *conninfo, int replication,
                            const char *what, int backoff_ms,
                            int max_backoff_ms);
/* The same, giving up also when stop(ctx) returns non-zero (checked
 * between attempts and every 100 ms of the back-off): for a thread whose
 * owner may end it without a process-wide stop. stop NULL: none. */
PGconn *gh_pg_connect_retry_until(const char *conninfo, int replication,
                                  const char *what, int backoff_ms,
                                  int max_backoff_ms, int (*stop)(void *),
                                  void *ctx);

/* Runs a statement that returns no rows (or whose rows are ignored). Errors
 * carry the server's message, detail and hint. */
gh_err_t gh_pg_exec(PGconn *c, const char *sql, char *errstr,
                    size_t errstr_size);

/* Like gh_pg_exec, for a result the caller inspects: returns the PGresult
 * (caller PQclear()s) or NULL with errstr filled. */
PGresult *gh_pg_query(PGconn *c, const char *sql, int nparams,
                      const char *const *params, char *errstr,
                      size_t errstr_size);

/* As gh_pg_query, naming the statement by `what` ("write persons") in
 * errors rather than by its first characters. */
PGresult *gh_pg_query_what(PGconn *c, const char *sql, int nparams,
                           const char *const *params, const char *what,
                           char *errstr, size_t errstr_size);

/* Prepares `sql` as statement `name` on c (for the life of the
 * connection: prepare again after a reconnect), and runs a prepared
 * statement: for statements run many times a second, whose planning
 * would otherwise cost as much as their execution. Errors as
 * gh_pg_query_what. */
gh_err_t gh_pg_prepare(PGconn *c, const char *name, const char *sql,
                       char *errstr, size_t errstr_size);
PGresult *gh_pg_query_prepared(PGconn *c, const char *name, int nparams,
                               const char *const *params, const char *what,
                               char *errstr, size_t errstr_size);

/* Process-wide: a statement the process still waits for after `ms`, and
 * after each doubling of it, is logged as a warning naming it (its
 * caller's name, or the head of its text). 0: never. Default 60000. */
void gh_pg_set_slow_ms(int64_t ms);

/* Sends `sql` (one or several statements, no parameters: the simple
 * query protocol) without waiting, so the caller can run statements on
 * another connection meanwhile; gh_pg_await_what then waits for it as
 * gh_pg_query_what does (a stop cancels it near the budget) and returns
 * the last statement's result (caller PQclear()s), or NULL with errstr
 * naming `what` and the first statement that failed (the server skips the
 * rest). Exactly one gh_pg_await_what follows each successful send. */
gh_err_t gh_pg_send_what(PGconn *c, const char *sql, const char *what,
                         char *errstr, size_t errstr_size);
PGresult *gh_pg_await_what(PGconn *c, const char *what, char *errstr,
                           size_t errstr_size);

/* As gh_pg_send_what, for one statement with parameters (the extended
 * protocol); `params` are copied before it returns. */
gh_err_t gh_pg_send_params_what(PGconn *c, const char *sql, int nparams,
                                const char *const *params, const char *what,
                                char *errstr, size_t errstr_size);

/* As gh_pg_exec, with parameters and a name for errors (see
 * gh_pg_query_what). GH_ERR_PG_CONNECT when the connection is gone. */
gh_err_t gh_pg_exec_what(PGconn *c, const char *sql, int nparams,
                         const char *const *params, const char *what,
                         char *errstr, size_t errstr_size);

/* Fills errstr from a failed result: "<what>: message [SQLSTATE] DETAIL:
 * ... HINT: ...", and remembers the SQLSTATE (gh_pg_last_sqlstate). */
gh_err_t gh_pg_result_error(const PGresult *r, PGconn *c, const char *what,
                            char *errstr, size_t errstr_size);

/* The error a failed statement on c is: GH_ERR_PG_CONNECT once the
 * session is lost (the caller reconnects), GH_ERR_PG otherwise. */
gh_err_t gh_pg_failure(PGconn *c);

/* The SQLSTATE of the last error gh_pg_result_error reported on this
 * thread, "" if none since gh_pg_clear_sqlstate(). Like errno: read it
 * right after the failure; clear it before the work it is to judge. */
const char *gh_pg_last_sqlstate(void);
void gh_pg_clear_sqlstate(void);

/* Whether a SQLSTATE names a condition that passes by itself — a lost or
 * refused connection, a deadlock or serialization failure, a lock or
 * statement timeout, disk full, out of memory, too many connections, a
 * server shutting down, an I/O error — so the work is to be retried later
 * rather than its data blamed (dead-lettered). */
int gh_pg_sqlstate_transient(const char *state);

#endif
