/*
 * Self-test of the integration harness (tests/lib/harness.c) against the
 * real test cluster and real child processes.
 */
#include "harness.h"

#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(harness, .timeout = 60);

static long db_exists(PGconn *c, const char *name) {
    return gh_test_count(c,
                         "SELECT count(*) FROM pg_database "
                         "WHERE datname = '%s'",
                         name);
}

Test(harness, pg_helpers) {
    char *db = gh_test_create_db("Harness-Self.Test");
    cr_assert(strncmp(db, "harness_self_test_", 18) == 0, "name %s", db);

    char *db2 = gh_test_create_db("harness");
    cr_assert(strcmp(db, db2) != 0, "names must be unique");
    gh_test_drop_db(db2);
    free(db2);

    PGconn *c = gh_test_pg_connect(db);
    gh_test_exec(c,
                 "CREATE TABLE t (id int PRIMARY KEY, v text);"
                 "INSERT INTO t VALUES (1, 'a'), (2, NULL), (%d, '%s')",
                 3, "c''d");
    cr_assert_eq(gh_test_count(c, "SELECT count(*) FROM t"), 3);

    char *v = gh_test_scalar(c, "SELECT v FROM t WHERE id = %d", 3);
    cr_assert_str_eq(v, "c'd");
    free(v);
    cr_assert_null(gh_test_scalar(c, "SELECT v FROM t WHERE id = 2"));
    cr_assert_null(gh_test_scalar(c, "SELECT v FROM t WHERE id = 99"));
    cr_assert_null(gh_test_scalar(c, "SET application_name = 'x'"));

    char *cur = gh_test_scalar(c, "SELECT current_database()");
    cr_assert_str_eq(cur, db);
    free(cur);
    PQfinish(c);

    char *ci = gh_test_conninfo(db);
    cr_assert(strstr(ci, db) != NULL, "conninfo %s", ci);
    free(ci);

    PGconn *admin = gh_test_pg_connect("postgres");
    cr_assert_eq(db_exists(admin, db), 1);
    gh_test_drop_db(db);
    cr_assert_eq(db_exists(admin, db), 0);
    gh_test_drop_db(db); /* already gone: no-op */
    gh_test_drop_db(NULL);
    PQfinish(admin);
    free(db);
}

/* The database has a logical slot held by an active walsender: dropping
 * must end the walsender, drop the slot and then the database. */
Test(harness, drop_db_with_active_slot) {
    char *db = gh_test_create_db("harness_slot");
    char *ci = gh_test_conninfo(db);
    char repl_ci[1024];
    snprintf(repl_ci, sizeof repl_ci, "%s replication=database", ci);
    PGconn *repl = PQconnectdb(repl_ci);
    cr_assert_eq(PQstatus(repl), CONNECTION_OK, "%s", PQerrorMessage(repl));

    PGresult *r = PQexec(repl, "CREATE_REPLICATION_SLOT harness_s LOGICAL "
                               "test_decoding");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s",
                 PQresultErrorMessage(r));
    PQclear(r);
    r = PQexec(repl, "START_REPLICATION SLOT harness_s LOGICAL 0/0");
    cr_assert_eq(PQresultStatus(r), PGRES_COPY_BOTH, "%s",
                 PQresultErrorMessage(r));
    PQclear(r);

    PGconn *admin = gh_test_pg_connect("postgres");
    cr_assert_eq(gh_test_count(admin,
                               "SELECT count(*) FROM pg_replication_slots "
                               "WHERE database = '%s' AND active",
                               db),
                 1);
    gh_test_drop_db(db);
    cr_assert_eq(gh_test_count(admin,
                               "SELECT count(*) FROM pg_replication_slots "
                               "WHERE slot_name = 'harness_s'"),
                 0);
    cr_assert_eq(db_exists(admin, db), 0);

    PQfinish(admin);
    PQfinish(repl);
    free(ci);
    free(db);
}

static int group_gone(void *arg) {
    return kill(-*(pid_t *)arg, 0) == -1;
}

Test(harness, spawn_wait_kill9) {
    char *dir = gh_test_tmpdir();
    char log[512];
    snprintf(log, sizeof log, "%s/sh.log", dir);

    const char *argv[] = {"/bin/sh", "-c",
                          "echo ready; echo port=4242; "
                          "sleep 30",
                          NULL};
    gh_test_proc_t *p = gh_test_spawn(argv, log);
    char *rest = gh_test_wait_for_line(log, "ready", 5000);
    cr_assert_not_null(rest);
    cr_assert_str_eq(rest, "");
    free(rest);
    rest = gh_test_wait_for_line(log, "port=", 5000);
    cr_assert_str_eq(rest, "4242");
    free(rest);
    char *line = gh_test_wait_for_text(log, "rt=42", 1000);
    cr_assert_str_eq(line, "port=4242");
    free(line);
    cr_assert_null(gh_test_wait_for_line(log, "never", 200));

    cr_assert_eq(getpgid(gh_test_proc_pid(p)), gh_test_proc_pid(p));
    cr_assert_eq(gh_test_proc_alive(p), 1);
    gh_test_kill9(p);
    cr_assert_eq(gh_test_proc_alive(p), 0);
    /* The whole group died: the sleep as well as the shell (the orphaned
     * sleep is reaped by init, so give that a moment). */
    pid_t pgid = gh_test_proc_pid(p);
    cr_assert_eq(gh_test_wait_until(group_gone, &pgid, 5000), 1);
    cr_assert_eq(gh_test_stop(p, 100), 128 + SIGKILL);
    gh_test_proc_free(p);

    gh_test_rmtree(dir);
    struct stat st;
    cr_assert_eq(stat(dir, &st), -1);
    free(dir);
}

Test(harness, stop_wait_run) {
    char *dir = gh_test_tmpdir();
    char log[512];
    snprintf(log, sizeof log, "%s/p.log", dir);

    /* SIGTERM honoured. */
    const char *sleeper[] = {"sleep", "30", NULL};
    gh_test_proc_t *p = gh_test_spawn(sleeper, log);
    cr_assert_eq(gh_test_proc_wait(p, 100), -1);
    cr_assert_eq(gh_test_stop(p, 5000), 128 + SIGTERM);
    gh_test_proc_free(p);

    /* SIGTERM ignored: escalates to SIGKILL after the timeout. */
    const char *stubborn[] = {"/bin/sh", "-c",
                              "trap '' TERM; echo armed; "
                              "while :; do sleep 1; done",
                              NULL};
    p = gh_test_spawn(stubborn, log);
    free(gh_test_wait_for_line(log, "armed", 5000));
    cr_assert_eq(gh_test_stop(p, 300), 128 + SIGKILL);
    gh_test_proc_free(p);

    /* Exit codes and output capture. */
    const char *exit3[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3",
                           NULL};
    cr_assert_eq(gh_test_run(exit3, log, 5000), 3);
    char *rest = gh_test_wait_for_line(log, "er", 0);
    cr_assert_str_eq(rest, "r");
    free(rest);

    /* Free on a live process kills it. */
    p = gh_test_spawn(sleeper, log);
    pid_t pid = gh_test_proc_pid(p);
    gh_test_proc_free(p);
    cr_assert_eq(kill(pid, 0), -1);

    gh_test_rmtree(dir);
    free(dir);
}

static int file_exists(void *arg) {
    return access((const char *)arg, F_OK) == 0;
}

Test(harness, files_and_polling) {
    char *dir = gh_test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/sub.conf", dir);

    cr_assert_eq(gh_test_wait_until(file_exists, path, 150), 0);
    gh_test_write_file(path, "a = %d\npartial", 1);
    cr_assert_eq(gh_test_wait_until(file_exists, path, 1000), 1);

    char *rest = gh_test_wait_for_line(path, "a = ", 0);
    cr_assert_str_eq(rest, "1");
    free(rest);
    /* An unterminated last line is not yet a line. */
    cr_assert_null(gh_test_wait_for_line(path, "partial", 100));

    char *tail = gh_test_file_tail(path, 7);
    cr_assert_str_eq(tail, "partial");
    free(tail);

    gh_test_rmtree(dir);
    cr_assert_eq(file_exists(dir), 0);
    free(dir);
}
