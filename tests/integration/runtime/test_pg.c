/* The PostgreSQL helpers (include/gridhub/pg.h) against a real server:
 * a statement that outlasts the slow threshold is named in a warning, once
 * at the threshold and once at each doubling, whichever way it was sent. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "harness.h"

/* How many lines of `text` hold `needle`. */
static int lines_with(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

Test(pg, a_slow_statement_is_named) {
    char *name = gh_test_create_db("gh_pg");
    PGconn *db = gh_test_pg_connect(name);
    char *dir = gh_test_tmpdir();
    char *path = gh_xasprintf("%s/stderr.log", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0, "%s", path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    gh_pg_set_slow_ms(400);
    char err[512];
    /* 1.3 s: warned at 0.4 and 0.8 s, not at 1.6. */
    gh_err_t e = gh_pg_exec_what(db, "SELECT pg_sleep(1.3)", 0, NULL,
                                 "a long nap", err, sizeof(err));
    cr_assert_eq(gh_pg_send_what(db, "SELECT pg_sleep(0.7)", "a short nap", err,
                                 sizeof(err)),
                 GH_OK, "%s", err);
    PGresult *r = gh_pg_await_what(db, "a short nap", err, sizeof(err));
    PQclear(r);
    /* 0.7 s: warned at 0.4 s. Under the threshold: nothing. */
    gh_err_t e2 = gh_pg_exec_what(db, "SELECT pg_sleep(0.1)", 0, NULL,
                                  "a quick one", err, sizeof(err));
    gh_pg_set_slow_ms(0);
    gh_err_t e3 = gh_pg_exec_what(db, "SELECT pg_sleep(0.5)", 0, NULL,
                                  "unwatched", err, sizeof(err));
    gh_pg_set_slow_ms(60000);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *log = gh_test_file_tail(path, 1 << 16);
    gh_test_rmtree(dir);
    free(path);
    free(dir);
    cr_assert_eq(e, GH_OK, "%s", err);
    cr_assert_eq(e2, GH_OK, "%s", err);
    cr_assert_eq(e3, GH_OK, "%s", err);
    cr_assert_not_null(r, "the sent statement's result");
    cr_assert_eq(lines_with(log, "a long nap: still running after"), 2,
                 "the 1.3 s statement is named at 0.4 and 0.8 s:\n%s", log);
    cr_assert_eq(lines_with(log, "a short nap: still running after"), 1,
                 "a sent statement is watched as it is awaited:\n%s", log);
    cr_assert_eq(lines_with(log, "a quick one"), 0, "%s", log);
    cr_assert_eq(lines_with(log, "unwatched"), 0, "0 turns it off:\n%s", log);
    free(log);
    PQfinish(db);
    gh_test_drop_db(name);
    free(name);
}
