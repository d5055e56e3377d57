#include "gridhub/pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

/* "host=h port=p dbname=d user=u" of a conninfo: what a log line needs to
 * say where, never the password or other secrets. */
static void describe(const char *conninfo, char *out, size_t outsz) {
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    out[0] = '\0';
    if (!opts) {
        snprintf(out, outsz, "unparsable connection string");
        return;
    }
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        static const char *const shown[] = {"host",   "hostaddr", "port",
                                            "dbname", "user",     NULL};
        for (int i = 0; shown[i]; i++)
            if (!strcmp(o->keyword, shown[i]) && o->val && *o->val && n < outsz)
                n += (size_t)snprintf(out + n, outsz - n, "%s%s=%s",
                                      n ? " " : "", o->keyword, o->val);
    }
    PQconninfoFree(opts);
}

/* libpq's own connect_timeout applies only to its blocking connect; ours
 * polls so that a stop request is noticed while a server does not answer,
 * and honours connect_timeout from the conninfo (default below). */
#define CONNECT_TIMEOUT_DEFAULT_S 30

static int connect_timeout_s(const char *conninfo) {
    int t = CONNECT_TIMEOUT_DEFAULT_S;
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (!strcmp(o->keyword, "connect_timeout") && o->val && *o->val)
            t = atoi(o->val) > 0 ? atoi(o->val) : CONNECT_TIMEOUT_DEFAULT_S;
    PQconninfoFree(opts);
    return t;
}

/* Drives PQconnectPoll until the connection is made or fails, a stop is
 * requested (GH_ERR_STOPPED) or timeout_s passes. */
static gh_err_t poll_connect(PGconn *c, int timeout_s, char *why,
                             size_t why_size) {
    int64_t deadline = gh_now_ms() + (int64_t)timeout_s * 1000;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (st == PGRES_POLLING_OK) return GH_OK;
        if (st == PGRES_POLLING_FAILED)
            return gh_seterr(why, why_size, GH_ERR_PG_CONNECT, "%s",
                             PQerrorMessage(c));
        if (gh_shutdown_requested())
            return gh_seterr(why, why_size, GH_ERR_STOPPED,
                             "stopped while connecting");
        if (gh_now_ms() >= deadline)
            return gh_seterr(why, why_size, GH_ERR_PG_CONNECT,
                             "no answer within %d s (connect_timeout)",
                             timeout_s);
        struct pollfd pfd = {PQsocket(c),
                             st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        int r = poll(&pfd, 1, 100);
        if (r < 0 && errno != EINTR)
            return gh_seterr(why, why_size, GH_ERR_IO, "poll: %s",
                             strerror(errno));
        if (r > 0) st = PQconnectPoll(c);
    }
}

PGconn *gh_pg_connect(const char *conninfo, int replication, char *errstr,
                      size_t errstr_size) {
    /* expand_dbname: the first dbname is the whole conninfo; later keys
     * override it. */
    /* client_encoding=UTF8: the server converts from the database's own
     * encoding (EUC_CN, GBK...) for queries, COPY and the replication
     * stream alike, so text is UTF-8 from the first byte we read (a
     * SQL_ASCII database is the exception, see
     * connectors/runtime/capture/encoding.h). */
    const char *keys[] = {"dbname",
                          "options",
                          "client_encoding",
                          "application_name",
                          replication ? "replication" : NULL,
                          NULL};
    const char *vals[] = {
        conninfo,
        "-c datestyle=ISO -c timezone=UTC -c intervalstyle=iso_8601 "
        "-c client_min_messages=warning",
        "UTF8",
        "gridhub",
        "database",
        NULL};
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    char msg[512];
    gh_err_t e = GH_ERR_PG_CONNECT;
    if (!c)
        snprintf(msg, sizeof(msg), "out of memory");
    else if (PQstatus(c) == CONNECTION_BAD)
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
    else
        e = poll_connect(c, connect_timeout_s(conninfo), msg, sizeof(msg));
    if (e) {
        char where[512];
        describe(conninfo, where, sizeof(where));
        /* libpq's messages span lines; a log entry is one line. */
        for (char *p = msg; *p; p++)
            if (*p == '\n') *p = ' ';
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
        gh_seterr(errstr, errstr_size,
                  e == GH_ERR_STOPPED ? e : GH_ERR_PG_CONNECT,
                  "cannot connect to PostgreSQL (%s): %s", where, msg);
        PQfinish(c);
        return NULL;
    }
    /* No JIT: our statements are short and set-based, and a misestimate
     * (tables that grew since their last ANALYZE, during a catch-up) puts
     * one over jit_optimize_above_cost; compiling and optimizing its ~300
     * expressions then takes seconds (measured: 3.9 s for an 80 ms
     * derivation of 1,000 residents' attributes, docs/benchmarks.md).
     * Set after connecting, and only where the server has JIT (11+): a
     * department's older server would refuse the setting in options. */
    if (!replication && PQserverVersion(c) >= 110000) {
        PGresult *r = PQexec(c, "SET jit = off");
        PQclear(r);
    }
    return c;
}

PGconn *gh_pg_connect_retry(const char *conninfo, int replication,
                            const char *what, int backoff_ms,
                            int max_backoff_ms) {
    return gh_pg_connect_retry_until(conninfo, replication, what, backoff_ms,
                                     max_backoff_ms, NULL, NULL);
}

PGconn *gh_pg_connect_retry_until(const char *conninfo, int replication,
                                  const char *what, int backoff_ms,
                                  int max_backoff_ms, int (*stop)(void *),
                                  void *ctx) {
    int wait = backoff_ms;
    for (int attempt = 1; !gh_shutdown_requested() && !(stop && stop(ctx));
         attempt++) {
        char err[1024];
        PGconn *c = gh_pg_connect(conninfo, replication, err, sizeof(err));
        if (c) {
            if (attempt > 1)
                gh_log_info("pg", "%s: connected after %d attempts", what,
                            attempt);
            return c;
        }
        gh_log_warn("pg", "%s: %s; retrying in %d ms", what, err, wait);
        if (!stop)
            gh_shutdown_sleep_ms(wait);
        else
            for (int64_t end = gh_now_ms() + wait;
                 gh_now_ms() < end && !stop(ctx);)
                gh_shutdown_sleep_ms(100);
        wait = wait * 2 > max_backoff_ms ? max_backoff_ms : wait * 2;
    }
    return NULL;
}

static __thread char last_state[6];

const char *gh_pg_last_sqlstate(void) {
    return last_state;
}

void gh_pg_clear_sqlstate(void) {
    last_state[0] = '\0';
}

gh_err_t gh_pg_failure(PGconn *c) {
    return PQstatus(c) == CONNECTION_OK ? GH_ERR_PG : GH_ERR_PG_CONNECT;
}

int gh_pg_sqlstate_transient(const char *s) {
    if (!s || strlen(s) != 5) return 0;
    static const char *const classes[] = {"08", "40", "53", "57", "58", NULL};
    for (int i = 0; classes[i]; i++)
        if (!strncmp(s, classes[i], 2)) return 1;
    /* lock_not_available, object_in_use, idle-in-transaction timeout */
    return !strcmp(s, "55P03") || !strcmp(s, "55006") || !strcmp(s, "25P03");
}

gh_err_t gh_pg_result_error(const PGresult *r, PGconn *c, const char *what,
                            char *errstr, size_t errstr_size) {
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail =
        r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *hint = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : NULL;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!msg) msg = PQerrorMessage(c);
    /* A lost connection has no SQLSTATE of its own: 08006 says so. */
    snprintf(last_state, sizeof(last_state), "%s",
             state                          ? state
             : PQstatus(c) != CONNECTION_OK ? "08006"
                                            : "");
    return gh_seterr(errstr, errstr_size, gh_pg_failure(c),
                     "%s: %s%s%s%s%s%s%s%s", what, msg, state ? " [" : "",
                     state ? state : "", state ? "]" : "",
                     detail ? " DETAIL: " : "", detail ? detail : "",
                     hint ? " HINT: " : "", hint ? hint : "");
}

static _Atomic int64_t slow_ms = 60000;

void gh_pg_set_slow_ms(int64_t ms) {
    slow_ms = ms;
}

/* A statement that outlasts slow_ms, and then each doubling of it, is
 * named in a warning: a plan gone wrong (a table analyzed before its rows
 * came) otherwise shows only as a thread that went quiet. `what` names
 * the statement (the caller's name for it, or its text: the head is
 * printed, only when it is slow). */
static void say_slow(const char *what, int64_t t0, int64_t *next) {
    int64_t ms = gh_now_ms() - t0;
    if (*next <= 0 || ms < *next) return;
    gh_log_warn("pg",
                "%.150s: still running after %.1f s (pg_stat_activity on the "
                "server shows it: a large catch-up, or a plan made from "
                "stale statistics)",
                what ? what : "a statement", (double)ms / 1000);
    *next *= 2;
}

/* Waits until the statement sent on c has a result ready (or the
 * connection fails: PQgetResult then says so). A stop whose budget is all
 * but used up cancels a statement still running: the server stops it at
 * once and drops its locks, where a client that exits leaves it running
 * until it next writes to the socket (a restarted hub would wait for it),
 * and the stop ends with its own closing line, not the watchdog's. */
static void await_ready(PGconn *c, const char *what) {
    int cancelled = 0, waited = 0;
    int64_t t0 = gh_now_ms(), next = slow_ms;
    while (PQisBusy(c)) {
        say_slow(what, t0, &next);
        if (!cancelled && waited && gh_shutdown_requested() &&
            gh_shutdown_left_ms() <= GH_SHUTDOWN_GRACE_MS) {
            PGcancel *cn = PQgetCancel(c);
            char why[256];
            if (cn && PQcancel(cn, why, sizeof(why)))
                gh_log_info("pg", "a statement still running is cancelled "
                                  "to stop within the budget");
            else
                gh_log_warn("pg", "cancelling a statement to stop: %s",
                            cn ? why : "no connection");
            PQfreeCancel(cn);
            cancelled = 1;
        }
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        if (pfd.fd < 0) return;
        int n = poll(&pfd, 1, 100);
        if (n < 0 && errno != EINTR) return;
        waited = 1;
        if (n > 0 && !PQconsumeInput(c)) return;
    }
}

/* PQexec / PQexecParams, waiting as above. As PQexec: the last result,
 * or the first error (the server skips what follows it), or a COPY state
 * at once. NULL if the statement could not be sent. */
static PGresult *await_results(PGconn *c, const char *what);

static PGresult *exec_await(PGconn *c, const char *sql, int nparams,
                            const char *const *params, const char *what) {
    int sent = nparams ? PQsendQueryParams(c, sql, nparams, NULL, params, NULL,
                                           NULL, 0)
                       : PQsendQuery(c, sql);
    return sent ? await_results(c, what) : NULL;
}

/* The results of what was sent, as exec_await describes. */
static PGresult *await_results(PGconn *c, const char *what) {
    PGresult *last = NULL;
    for (;;) {
        await_ready(c, what);
        PGresult *r = PQgetResult(c);
        if (!r) break;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
            st == PGRES_COPY_BOTH) {
            PQclear(last);
            return r;
        }
        ExecStatusType ls = last ? PQresultStatus(last) : PGRES_EMPTY_QUERY;
        if (last && ls != PGRES_COMMAND_OK && ls != PGRES_TUPLES_OK &&
            ls != PGRES_EMPTY_QUERY) {
            PQclear(r); /* keep the first error */
            continue;
        }
        PQclear(last);
        last = r;
    }
    return last;
}

PGresult *gh_pg_query_what(PGconn *c, const char *sql, int nparams,
                           const char *const *params, const char *what,
                           char *errstr, size_t errstr_size) {
    PGresult *r = exec_await(c, sql, nparams, params, what ? what : sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char head[160];
        snprintf(head, sizeof(head), "%.150s", sql);
        gh_pg_result_error(r, c, what ? what : head, errstr, errstr_size);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* The statement's result, or NULL with errstr. */
static PGresult *checked(PGconn *c, PGresult *r, const char *what, char *errstr,
                         size_t errstr_size) {
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        gh_pg_result_error(r, c, what, errstr, errstr_size);
        PQclear(r);
        return NULL;
    }
    return r;
}

gh_err_t gh_pg_prepare(PGconn *c, const char *name, const char *sql,
                       char *errstr, size_t errstr_size) {
    PGresult *r =
        PQsendPrepare(c, name, sql, 0, NULL) ? await_results(c, name) : NULL;
    r = checked(c, r, name, errstr, errstr_size);
    if (!r) return gh_pg_failure(c);
    PQclear(r);
    return GH_OK;
}

PGresult *gh_pg_query_prepared(PGconn *c, const char *name, int nparams,
                               const char *const *params, const char *what,
                               char *errstr, size_t errstr_size) {
    PGresult *r = PQsendQueryPrepared(c, name, nparams, params, NULL, NULL, 0)
                      ? await_results(c, what ? what : name)
                      : NULL;
    return checked(c, r, what ? what : name, errstr, errstr_size);
}

PGresult *gh_pg_query(PGconn *c, const char *sql, int nparams,
                      const char *const *params, char *errstr,
                      size_t errstr_size) {
    return gh_pg_query_what(c, sql, nparams, params, NULL, errstr, errstr_size);
}

/* A send that libpq refused: the error naming `what`. */
static gh_err_t send_failed(PGconn *c, const char *what, char *errstr,
                            size_t errstr_size) {
    gh_err_t e = gh_pg_failure(c);
    return gh_seterr(errstr, errstr_size, e, "%s: %s", what, PQerrorMessage(c));
}

gh_err_t gh_pg_send_what(PGconn *c, const char *sql, const char *what,
                         char *errstr, size_t errstr_size) {
    return PQsendQuery(c, sql) ? GH_OK
                               : send_failed(c, what, errstr, errstr_size);
}

gh_err_t gh_pg_send_params_what(PGconn *c, const char *sql, int nparams,
                                const char *const *params, const char *what,
                                char *errstr, size_t errstr_size) {
    return PQsendQueryParams(c, sql, nparams, NULL, params, NULL, NULL, 0)
               ? GH_OK
               : send_failed(c, what, errstr, errstr_size);
}

PGresult *gh_pg_await_what(PGconn *c, const char *what, char *errstr,
                           size_t errstr_size) {
    return checked(c, await_results(c, what), what, errstr, errstr_size);
}

gh_err_t gh_pg_exec_what(PGconn *c, const char *sql, int nparams,
                         const char *const *params, const char *what,
                         char *errstr, size_t errstr_size) {
    PGresult *r =
        gh_pg_query_what(c, sql, nparams, params, what, errstr, errstr_size);
    if (!r) return gh_pg_failure(c);
    PQclear(r);
    return GH_OK;
}

gh_err_t gh_pg_exec(PGconn *c, const char *sql, char *errstr,
                    size_t errstr_size) {
    return gh_pg_exec_what(c, sql, 0, NULL, NULL, errstr, errstr_size);
}
