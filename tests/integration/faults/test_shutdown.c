/*
 * Shutdown under faults (gridhub/shutdown.h): whatever the broker and the
 * databases are doing, the hub and the connector exit within
 * shutdown.timeout.ms + 2 s of SIGTERM, at once on a second signal, and
 * what they could not finish is redone at the next start — the view ends
 * exactly equal to the department table (the oracle of tests/lib/oracle.h),
 * with nothing lost and nothing applied twice.
 *
 * Faults: the broker unreachable (its outage drill, SIGUSR1: connections
 * refused, messages kept), the broker gone (its process stopped: the
 * embedded broker keeps nothing), the hub's PostgreSQL stopped (a cluster
 * of its own), the hub's database session frozen (SIGSTOP: a server that
 * stops answering, which only the watchdog can get out of), a statement
 * of the hub's waiting on a lock (cancelled, so the hub stops by itself).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "harness.h"
#include "oracle.h"
#include "pipeline.h"
#include "stack.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define VIEW_TOPIC "hub.view.test.person"
#define SETTLE_MS 120000
#define TAIL_IDLE_MS 6000
#define BUDGET_MS 3000
/* What the issue allows on top of the budget. */
#define SLACK_MS 2000

static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static char g_slot_opt[64];
static char *g_pgdir;      /* the hub's own cluster (hub_db_stopped) */
static pid_t g_frozen[16]; /* backends to thaw whatever happens */
static int g_nfrozen;

static void shutdown_fini(void) {
    for (int i = 0; i < g_nfrozen; i++)
        kill(g_frozen[i], SIGCONT);
    g_nfrozen = 0;
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
    if (g_pgdir) {
        gh_test_pg_cluster_remove(g_pgdir);
        free(g_pgdir);
        g_pgdir = NULL;
    }
}

TestSuite(shutdown, .timeout = 300, .fini = shutdown_fini);

static gh_test_stack_t *new_stack(void) {
    static int n;
    g_stack = gh_test_stack_new(DDL, MAPPING);
    snprintf(g_slot_opt, sizeof(g_slot_opt), "slot.name=gh_test_down_%d_%d",
             (int)getpid(), ++n);
    return g_stack;
}

/* Connector and hub with a short budget, small batches and a session
 * timeout that lets a restarted hub rejoin its group quickly. `hub_ci`
 * (may be NULL) points the hub at another database. */
static void start_connector(gh_test_stack_t *s, const char *budget) {
    const char *const extra[] = {g_slot_opt, budget, NULL};
    gh_test_stack_start_connector(s, extra);
}

static void start_hub(gh_test_stack_t *s, const char *hub_ci) {
    const char *const extra[] = {"shutdown.timeout.ms=3000",
                                 "batch.max.messages=20",
                                 "retry.backoff.ms=100",
                                 "retry.backoff.max.ms=500",
                                 "kafka.session.timeout.ms=6000",
                                 "kafka.heartbeat.interval.ms=1000",
                                 hub_ci,
                                 NULL};
    gh_test_stack_start_hub(s, extra);
}

static void insert_rows(gh_test_stack_t *s, int from, int n) {
    for (int i = from; i < from + n; i++) {
        char id[19], rk[32], phone[32], birth[32];
        gh_test_make_id18(id, 1960 + i % 40, i % 12 + 1, i % 28 + 1, i);
        snprintf(rk, sizeof(rk), "S%04d", i);
        snprintf(phone, sizeof(phone), "1380000%04d", i);
        snprintf(birth, sizeof(birth), "%d-%02d-%02d", 1960 + i % 40,
                 i % 12 + 1, i % 28 + 1);
        gh_test_insert_row(s->dept, rk, i % 2 ? "停机" : "断网", id, i % 2 + 1,
                           birth, phone, "娄星区乐坪街道", "LP-DT-01");
    }
}

/* A stack whose connector (with shutdown budget `budget`) and hub run,
 * with `rows` department rows already in the view; g_hub connected. */
static gh_test_stack_t *settled_stack(const char *budget, int rows) {
    gh_test_stack_t *s = new_stack();
    start_connector(s, budget);
    start_hub(s, NULL);
    g_hub = gh_test_pg_connect(s->hub_db);
    insert_rows(s, 0, rows);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    return s;
}

/* SIGTERM to each process at once; each must exit within the budget plus
 * the slack. Returns the exit statuses in rc[]. */
static void sigterm_all(gh_test_proc_t **p, const char *const *names, int n,
                        const char *const *logs, int budget_ms, int *rc) {
    int64_t t0 = gh_now_ms();
    for (int i = 0; i < n; i++)
        kill(gh_test_proc_pid(p[i]), SIGTERM);
    for (int i = 0; i < n; i++) {
        int64_t left = t0 + budget_ms + SLACK_MS - gh_now_ms();
        rc[i] = gh_test_proc_wait(p[i], left > 0 ? (int)left : 0);
        if (rc[i] < 0) {
            char *tail = gh_test_file_tail(logs[i], 3000);
            cr_assert_fail("%s still running %d ms after SIGTERM "
                           "(shutdown.timeout.ms=%d); its log ends:\n%s",
                           names[i], budget_ms + SLACK_MS, budget_ms, tail);
        }
        cr_log_info("%s exited %d, %lld ms after SIGTERM", names[i], rc[i],
                    (long long)(gh_now_ms() - t0));
    }
}

/* sigterm_all for the hub alone; its exit status. */
static int sigterm_hub(gh_test_stack_t *s) {
    gh_test_proc_t *p[1] = {s->hub};
    const char *names[1] = {"hub"};
    const char *logs[1] = {gh_test_stack_hub_log(s)};
    int rc[1];
    sigterm_all(p, names, 1, logs, BUDGET_MS, rc);
    return rc[0];
}

static void assert_log_has(const char *log, const char *needle) {
    char *line = gh_test_wait_for_text(log, needle, 2000);
    if (!line) {
        char *tail = gh_test_file_tail(log, 3000);
        cr_assert_fail("%s lacks \"%s\"; it ends:\n%s", log, needle, tail);
    }
    free(line);
}

/* The view on the broker, folded, equals the department table. */
static void assert_view_exact(gh_test_stack_t *s) {
    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, TAIL_IDLE_MS);
    gh_test_check_view_lines(lines);
    json_t *fold = gh_test_fold(lines);
    json_decref(gh_test_check_view_equals_dept(s, fold));
    json_decref(fold);
    json_decref(lines);
}

/* The broker refuses connections while the connector holds changes it
 * cannot deliver and the hub a steward's correction it cannot publish:
 * both give up after their budget, exit 3 saying what they left, and the
 * next start delivers it. */
Test(shutdown, broker_unreachable) {
    gh_test_stack_t *s = settled_stack("shutdown.timeout.ms=3000", 40);

    kill(gh_test_proc_pid(s->broker), SIGUSR1);
    char log[4096];
    snprintf(log, sizeof(log), "%s/broker.log", s->dir);
    assert_log_has(log, "outage drill: brokers down");
    insert_rows(s, 40, 25); /* read by the connector, not deliverable */
    char *pid = gh_test_scalar(g_hub, "SELECT person_id FROM person WHERE "
                                      "active ORDER BY person_id LIMIT 1");
    const char *const choose[] = {"choose",   pid,     "grid_code", "LP-DT-01",
                                  "--reason", "drill", NULL};
    char *out = NULL;
    int src = gh_test_stack_steward(s, choose, &out);
    cr_assert_eq(src, 0, "steward choose: %s", out);
    free(out);
    usleep(1500 * 1000); /* the hub's relay takes the outbox row */

    gh_test_proc_t *p[2] = {s->connector, s->hub};
    const char *names[2] = {"connector", "hub"};
    char clog[4096], hlog[4096];
    snprintf(clog, sizeof(clog), "%s", gh_test_stack_connector_log(s));
    snprintf(hlog, sizeof(hlog), "%s", gh_test_stack_hub_log(s));
    const char *logs[2] = {clog, hlog};
    int rc[2];
    sigterm_all(p, names, 2, logs, BUDGET_MS, rc);
    cr_assert_eq(rc[0], 3, "connector: exit 3 (work left), got %d", rc[0]);
    cr_assert_eq(rc[1], 3, "hub: exit 3 (work left), got %d", rc[1]);
    assert_log_has(clog, "with work left for the next start");
    assert_log_has(hlog, "with work left for the next start");
    cr_assert_geq(gh_test_count(g_hub, "SELECT count(*) FROM outbox"), 1,
                  "the unacknowledged outbox row must stay");

    kill(gh_test_proc_pid(s->broker), SIGUSR2);
    assert_log_has(log, "outage drill over");
    start_connector(s, "shutdown.timeout.ms=3000");
    start_hub(s, NULL);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    assert_view_exact(s);
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM person WHERE person_id = "
                               "'%s' AND provenance::text LIKE '%%steward%%'",
                               pid),
                 1, "the steward's correction reached the hub");
    free(pid);
    gh_test_stop_clean(s);
}

/* The broker process is gone (the demo's old hang): SIGTERM ends the hub
 * within its budget, a second SIGTERM ends the connector at once although
 * its budget is a minute. With a new (empty) broker both carry on and the
 * hub's database ends equal to the department table. */
Test(shutdown, broker_gone_second_signal) {
    gh_test_stack_t *s = settled_stack("shutdown.timeout.ms=60000", 30);

    cr_assert_eq(gh_test_stop(s->broker, 10000), 0, "broker stops cleanly");
    gh_test_proc_free(s->broker);
    s->broker = NULL;
    insert_rows(s, 30, 20);
    usleep(1000 * 1000);

    /* Second signal: the connector would wait 60 s for a broker that is
     * not coming back. */
    int64_t t0 = gh_now_ms();
    kill(gh_test_proc_pid(s->connector), SIGTERM);
    usleep(300 * 1000);
    kill(gh_test_proc_pid(s->connector), SIGTERM);
    int crc = gh_test_proc_wait(s->connector, 2000);
    cr_assert_eq(crc, 128 + SIGTERM,
                 "a second SIGTERM kills the connector at once (got %d after "
                 "%lld ms)",
                 crc, (long long)(gh_now_ms() - t0));
    assert_log_has(gh_test_stack_connector_log(s), "second signal");

    int rc = sigterm_hub(s);
    cr_assert(rc == 0 || rc == 3, "hub exit %d", rc);

    free(s->bootstrap);
    s->broker = gh_test_start_broker(s->dir, &s->bootstrap);
    start_connector(s, "shutdown.timeout.ms=3000");
    start_hub(s, NULL);
    insert_rows(s, 50, 10);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM source_person "
                                      "WHERE NOT deleted"),
                 60);
    gh_test_stop_clean(s);
}

/* The hub's PostgreSQL is shut down under it while changes arrive: the hub
 * stops within its budget, and after the database is back the view is
 * exact. */
Test(shutdown, hub_database_stopped) {
    gh_test_stack_t *s = new_stack();
    char *ci = NULL;
    g_pgdir = gh_test_pg_cluster_new("gh-pg2", NULL, &ci);
    char port[16];
    gh_test_pg_cluster_port(g_pgdir, port);
    char *hub_ci = gh_xasprintf("database.conninfo=%s dbname=hub", ci);

    start_connector(s, "shutdown.timeout.ms=3000");
    start_hub(s, hub_ci);
    g_hub = PQconnectdb(hub_ci + strlen("database.conninfo="));
    cr_assert_eq(PQstatus(g_hub), CONNECTION_OK);
    insert_rows(s, 0, 30);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);

    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_pg_cluster("stop", g_pgdir, NULL);
    insert_rows(s, 30, 30);
    usleep(1500 * 1000); /* the hub meets the closed database */

    int rc = sigterm_hub(s);
    cr_assert(rc == 0 || rc == 3, "hub exit %d", rc);

    gh_test_pg_cluster("start", g_pgdir, port);
    g_hub = PQconnectdb(hub_ci + strlen("database.conninfo="));
    cr_assert_eq(PQstatus(g_hub), CONNECTION_OK);
    start_hub(s, hub_ci);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    assert_view_exact(s);
    gh_test_stop_clean(s);
    free(ci);
    free(hub_ci);
}

/* Freezes every session of the hub (SIGSTOP) at a moment when none is
 * inside a statement or a transaction: a backend stopped inside a commit
 * can hold a lock every session of the cluster needs (the WAL's), and the
 * tests share the cluster; one stopped so stalled every test running
 * beside it, and this one, until its time ran out. */
static void freeze_hub_sessions(void) {
    for (int attempt = 0; attempt < 200; attempt++) {
        PGresult *r = PQexec(g_hub, "SELECT pid FROM pg_stat_activity WHERE "
                                    "datname = current_database() AND pid <> "
                                    "pg_backend_pid() AND application_name = "
                                    "'gridhub'");
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        cr_assert(PQntuples(r) >= 1 && PQntuples(r) <= 16,
                  "the hub's sessions: %d", PQntuples(r));
        char pids[16 * 16] = "";
        for (int i = 0; i < PQntuples(r); i++) {
            g_frozen[g_nfrozen] = (pid_t)atoi(PQgetvalue(r, i, 0));
            cr_assert_eq(kill(g_frozen[g_nfrozen], SIGSTOP), 0);
            snprintf(pids + strlen(pids), sizeof(pids) - strlen(pids), "%s%d",
                     i ? "," : "", (int)g_frozen[g_nfrozen]);
            g_nfrozen++;
        }
        PQclear(r);
        if (!gh_test_count(g_hub,
                           "SELECT count(*) FROM pg_stat_activity WHERE pid "
                           "IN (%s) AND state IS DISTINCT FROM 'idle'",
                           pids))
            return;
        for (int i = 0; i < g_nfrozen; i++)
            kill(g_frozen[i], SIGCONT);
        g_nfrozen = 0;
        usleep(20 * 1000);
    }
    cr_assert_fail("the hub's sessions were never all idle at once");
}

/* The hub's database session stops answering (its backend frozen with
 * SIGSTOP, as a server on a dead network would): the hub is blocked inside
 * libpq, so only the watchdog ends it, with exit 3, within the budget plus
 * one second. Thawed, the database rolls the hub's half-done work back and
 * the restarted hub redoes it exactly. */
Test(shutdown, hub_database_frozen) {
    gh_test_stack_t *s = settled_stack("shutdown.timeout.ms=3000", 30);

    freeze_hub_sessions();
    insert_rows(s, 30, 10);
    usleep(1500 * 1000); /* the hub's next statement never returns */

    char hlog[4096];
    snprintf(hlog, sizeof(hlog), "%s", gh_test_stack_hub_log(s));
    int rc[1] = {sigterm_hub(s)};
    cr_assert_eq(rc[0], 3, "hub exit %d (the watchdog's is 3)", rc[0]);
    assert_log_has(hlog, "a call is blocked");

    for (int i = 0; i < g_nfrozen; i++)
        kill(g_frozen[i], SIGCONT);
    g_nfrozen = 0;
    start_hub(s, NULL);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    assert_view_exact(s);
    gh_test_stop_clean(s);
}

typedef struct lock_wait_arg {
    PGconn *db;
} lock_wait_arg_t;

static int hub_waits_on_lock(void *arg) {
    lock_wait_arg_t *a = arg;
    return gh_test_try_count(a->db,
                             "SELECT count(*) FROM pg_stat_activity WHERE "
                             "datname = current_database() AND "
                             "application_name = 'gridhub' AND "
                             "wait_event_type = 'Lock'") > 0;
}

static int hub_sessions_gone(void *arg) {
    lock_wait_arg_t *a = arg;
    return gh_test_try_count(a->db, "SELECT count(*) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND "
                                    "application_name = 'gridhub'") == 0;
}

/* A batch waits on a lock another session holds (a long statement, as
 * far as the hub can tell): the stop cancels it when the budget is all
 * but used up, so the hub exits by itself, with its closing line, and
 * the server is not left running the statement for a restarted hub to
 * wait on. */
Test(shutdown, hub_statement_cancelled) {
    gh_test_stack_t *s = settled_stack("shutdown.timeout.ms=3000", 30);

    PGconn *locker = gh_test_pg_connect(s->hub_db);
    gh_test_exec(locker, "BEGIN");
    gh_test_exec(locker, "LOCK TABLE source_person IN ACCESS EXCLUSIVE MODE");
    insert_rows(s, 30, 10);
    lock_wait_arg_t a = {g_hub};
    cr_assert(gh_test_wait_until(hub_waits_on_lock, &a, 60000),
              "the hub's batch never waited on the lock");

    char hlog[4096];
    snprintf(hlog, sizeof(hlog), "%s", gh_test_stack_hub_log(s));
    int rc = sigterm_hub(s);
    /* 3 if the statement was a batch's (left for the next start), 0 if
     * it was a refresh between batches (nothing in flight) */
    cr_assert(rc == 0 || rc == 3, "hub exit %d", rc);
    assert_log_has(hlog, "cancelled to stop");
    assert_log_has(hlog, "hub: stopped ");
    char *log = gh_read_file(hlog, NULL);
    cr_assert_not_null(log);
    cr_assert_null(strstr(log, "a call is blocked"),
                   "the watchdog ended the hub: the statement was not "
                   "cancelled");
    free(log);
    cr_assert(gh_test_wait_until(hub_sessions_gone, &a, 5000),
              "a session of the stopped hub is still there");

    gh_test_exec(locker, "ROLLBACK");
    PQfinish(locker);
    start_hub(s, NULL);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    assert_view_exact(s);
    gh_test_stop_clean(s);
}
