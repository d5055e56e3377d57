#include "gridhub/pg.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/log.h"
#include "gridhub/signals.h"

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

PGconn *gh_pg_connect(const char *conninfo, int replication, char *errstr,
                      size_t errstr_size) {
    /* expand_dbname: the first dbname is the whole conninfo; later keys
     * override it. */
    const char *keys[] = {"dbname", "options", "application_name",
                          replication ? "replication" : NULL, NULL};
    const char *vals[] = {
        conninfo,
        "-c datestyle=ISO -c timezone=UTC -c intervalstyle=iso_8601 "
        "-c client_min_messages=warning",
        "gridhub", "database", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s",
                 c ? PQerrorMessage(c) : "out of memory");
        char where[512];
        describe(conninfo, where, sizeof(where));
        /* libpq's messages span lines; a log entry is one line. */
        for (char *p = msg; *p; p++)
            if (*p == '\n') *p = ' ';
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
        gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT,
                  "cannot connect to PostgreSQL (%s): %s", where, msg);
        PQfinish(c);
        return NULL;
    }
    return c;
}

PGconn *gh_pg_connect_retry(const char *conninfo, int replication,
                            const char *what, int backoff_ms,
                            int max_backoff_ms) {
    int wait = backoff_ms;
    for (int attempt = 1; !gh_stop_requested(); attempt++) {
        char err[1024];
        PGconn *c = gh_pg_connect(conninfo, replication, err, sizeof(err));
        if (c) {
            if (attempt > 1)
                gh_log_info("pg", "%s: connected after %d attempts", what,
                            attempt);
            return c;
        }
        gh_log_warn("pg", "%s: %s; retrying in %d ms", what, err, wait);
        gh_sleep_ms_interruptible(wait);
        wait = wait * 2 > max_backoff_ms ? max_backoff_ms : wait * 2;
    }
    return NULL;
}

gh_err_t gh_pg_result_error(const PGresult *r, PGconn *c, const char *what,
                            char *errstr, size_t errstr_size) {
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail =
        r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *hint = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : NULL;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!msg) msg = PQerrorMessage(c);
    return gh_seterr(
        errstr, errstr_size,
        PQstatus(c) == CONNECTION_OK ? GH_ERR_PG : GH_ERR_PG_CONNECT,
        "%s: %s%s%s%s%s%s%s%s", what, msg, state ? " [" : "",
        state ? state : "", state ? "]" : "", detail ? " DETAIL: " : "",
        detail ? detail : "", hint ? " HINT: " : "", hint ? hint : "");
}

PGresult *gh_pg_query_what(PGconn *c, const char *sql, int nparams,
                           const char *const *params, const char *what,
                           char *errstr, size_t errstr_size) {
    PGresult *r =
        nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0)
                : PQexec(c, sql);
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

PGresult *gh_pg_query(PGconn *c, const char *sql, int nparams,
                      const char *const *params, char *errstr,
                      size_t errstr_size) {
    return gh_pg_query_what(c, sql, nparams, params, NULL, errstr, errstr_size);
}

gh_err_t gh_pg_exec_what(PGconn *c, const char *sql, int nparams,
                         const char *const *params, const char *what,
                         char *errstr, size_t errstr_size) {
    PGresult *r =
        gh_pg_query_what(c, sql, nparams, params, what, errstr, errstr_size);
    if (!r) return PQstatus(c) == CONNECTION_OK ? GH_ERR_PG : GH_ERR_PG_CONNECT;
    PQclear(r);
    return GH_OK;
}

gh_err_t gh_pg_exec(PGconn *c, const char *sql, char *errstr,
                    size_t errstr_size) {
    return gh_pg_exec_what(c, sql, 0, NULL, NULL, errstr, errstr_size);
}

void gh_sleep_ms_interruptible(int ms) {
    while (ms > 0 && !gh_stop_requested()) {
        int step = ms > 100 ? 100 : ms;
        usleep((useconds_t)step * 1000);
        ms -= step;
    }
}
