/*
 * A soak with random faults: while a writer keeps changing the department
 * table, the pipeline is hit every few seconds by one of kill -9 of the hub
 * or the connector, a graceful restart, a broker outage, the hub's database
 * sessions cut or frozen, the department database's sessions cut (what a
 * restart of it looks like to the connector). At the end the subscriber's view
 * must equal the department table exactly — nothing lost, no phantom, no
 * (person, version) published with two contents.
 *
 * GH_SOAK_SECONDS sets how long the faults go on (default 40, the CI run);
 * `ops/soak.sh --minutes N` runs it for as long as you like. The seed is
 * logged so a failing run can be repeated (GH_SOAK_SEED).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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
#define KEYS 300

static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static pid_t g_frozen[16];
static int g_nfrozen;
static pthread_t g_thawer;
static int g_thawing;

static void thaw(void) {
    for (int i = 0; i < g_nfrozen; i++)
        kill(g_frozen[i], SIGCONT);
    if (g_thawing) pthread_join(g_thawer, NULL);
    g_thawing = 0;
    g_nfrozen = 0;
}

static void soak_fini(void) {
    thaw();
    if (g_stack && g_stack->broker)
        kill(gh_test_proc_pid(g_stack->broker), SIGUSR2);
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(soak, .timeout = 100000, .fini = soak_fini);

static char g_slot[64];

static void start_connector(gh_test_stack_t *s) {
    const char *const extra[] = {g_slot, "shutdown.timeout.ms=3000", NULL};
    gh_test_stack_start_connector(s, extra);
}

static void start_hub(gh_test_stack_t *s) {
    const char *const extra[] = {"kafka.session.timeout.ms=6000",
                                 "kafka.heartbeat.interval.ms=1000",
                                 "shutdown.timeout.ms=3000",
                                 "retry.backoff.ms=100",
                                 "retry.backoff.max.ms=1000",
                                 "batch.max.messages=50",
                                 NULL};
    gh_test_stack_start_hub(s, extra);
}

/* One random change of the department table: insert, update or delete. */
static void change(gh_test_stack_t *s, unsigned *seed) {
    int k = (int)(rand_r(seed) % KEYS), what = (int)(rand_r(seed) % 10);
    char id[19];
    gh_test_make_id18(id, 1950 + k % 50, k % 12 + 1, k % 28 + 1, k);
    if (what < 6)
        gh_test_exec(s->dept,
                     "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, "
                     "jzdz, wgbm, gxsj) VALUES ('K%03d', '居民%d', '%s', '%d', "
                     "'%.4s-%.2s-%.2s', '1390000%04d', '地址%u', 'G%d', "
                     "clock_timestamp()) ON CONFLICT (rkbh) DO UPDATE SET "
                     "lxdh = EXCLUDED.lxdh, jzdz = EXCLUDED.jzdz, gxsj = "
                     "clock_timestamp()",
                     k, k, id, k % 2 + 1, id + 6, id + 10, id + 12, k,
                     rand_r(seed) % 1000, k % 7);
    else if (what < 9)
        gh_test_exec(s->dept,
                     "UPDATE zz_syrk SET wgbm = 'G%u', gxsj = "
                     "clock_timestamp() WHERE rkbh = 'K%03d'",
                     rand_r(seed) % 7, k);
    else
        gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh = 'K%03d'", k);
}

/* A backend stopped while it holds a shared lock blocks every session of the
 * cluster, the test's own changes included, so the thaw cannot wait for the
 * test's thread: a thread of its own resumes them after at most 2.5 s. */
static void *thaw_later(void *arg) {
    (void)arg;
    usleep(2500 * 1000);
    for (int i = 0; i < g_nfrozen; i++)
        kill(g_frozen[i], SIGCONT);
    return NULL;
}

static void freeze_hub_sessions(gh_test_stack_t *s) {
    PGresult *r = PQexec(g_hub, "SELECT pid FROM pg_stat_activity WHERE "
                                "datname = current_database() AND pid <> "
                                "pg_backend_pid() AND application_name = "
                                "'gridhub'");
    for (int i = 0; i < PQntuples(r) && g_nfrozen < 16; i++) {
        g_frozen[g_nfrozen] = (pid_t)atoi(PQgetvalue(r, i, 0));
        if (!kill(g_frozen[g_nfrozen], SIGSTOP)) g_nfrozen++;
    }
    PQclear(r);
    g_thawing = !pthread_create(&g_thawer, NULL, thaw_later, NULL);
    cr_assert(g_thawing, "cannot start the thread that thaws the hub");
    (void)s;
}

Test(soak, random_faults) {
    const char *env = getenv("GH_SOAK_SECONDS");
    int seconds = env ? atoi(env) : 40;
    const char *se = getenv("GH_SOAK_SEED");
    unsigned seed = se ? (unsigned)strtoul(se, NULL, 10)
                       : (unsigned)time(NULL) ^ (unsigned)getpid();
    const unsigned seed0 = seed; /* rand_r moves seed on */
    cr_log_info("soak: %d s of faults, seed %u (GH_SOAK_SEED)", seconds, seed);

    gh_test_stack_t *s = g_stack = gh_test_stack_new(DDL, MAPPING);
    snprintf(g_slot, sizeof(g_slot), "slot.name=gh_test_soak_%d",
             (int)getpid());
    for (int i = 0; i < 100; i++)
        change(s, &seed);
    start_connector(s);
    start_hub(s);
    g_hub = gh_test_pg_connect(s->hub_db);
    gh_test_wait_streaming(s);

    static const char *const names[] = {
        "kill -9 hub",         "kill -9 connector",      "restart hub",
        "restart connector",   "broker outage",          "hub sessions cut",
        "hub sessions frozen", "department sessions cut"};
    enum { NFAULTS = sizeof(names) / sizeof(names[0]) };
    int count[NFAULTS] = {0};
    int64_t end = gh_now_ms() + (int64_t)seconds * 1000;
    int64_t next_fault = gh_now_ms() + 2000 + rand_r(&seed) % 3000;
    while (gh_now_ms() < end) {
        change(s, &seed);
        usleep((useconds_t)(rand_r(&seed) % 40) * 1000);
        if (gh_now_ms() < next_fault) continue;
        int f = (int)(rand_r(&seed) % NFAULTS);
        count[f]++;
        switch (f) {
        case 0:
            gh_test_kill9(s->hub);
            start_hub(s);
            break;
        case 1:
            gh_test_kill9(s->connector);
            start_connector(s);
            break;
        case 2:
            start_hub(s); /* SIGTERM, then a new one */
            break;
        case 3:
            start_connector(s);
            break;
        case 4:
            kill(gh_test_proc_pid(s->broker), SIGUSR1);
            for (int i = 0; i < 20; i++) {
                change(s, &seed);
                usleep(100 * 1000);
            }
            kill(gh_test_proc_pid(s->broker), SIGUSR2);
            break;
        case 5:
            gh_test_exec(g_hub, "SELECT pg_terminate_backend(pid) FROM "
                                "pg_stat_activity WHERE datname = "
                                "current_database() AND pid <> "
                                "pg_backend_pid()");
            break;
        case 7: /* as a department database restart looks to the connector */
            gh_test_exec(s->dept, "SELECT pg_terminate_backend(pid) FROM "
                                  "pg_stat_activity WHERE datname = "
                                  "current_database() AND pid <> "
                                  "pg_backend_pid()");
            break;
        default:
            freeze_hub_sessions(s);
            for (int i = 0; i < 20; i++) {
                change(s, &seed);
                usleep(100 * 1000);
            }
            thaw();
            break;
        }
        next_fault = gh_now_ms() + 2000 + rand_r(&seed) % 4000;
    }
    for (int f = 0; f < NFAULTS; f++)
        cr_log_info("soak: %s x%d", names[f], count[f]);

    /* Whatever state the last fault left: both running, then exact. */
    if (!gh_test_proc_alive(s->connector)) start_connector(s);
    if (!gh_test_proc_alive(s->hub)) start_hub(s);
    gh_test_wait_settled(s, g_hub, 300000);
    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, 6000);
    int dups = gh_test_check_view_lines(lines);
    json_t *fold = gh_test_fold(lines);
    json_decref(gh_test_check_view_equals_dept(s, fold));
    cr_log_info("soak: %zu view messages, %d repeated identically, seed %u",
                json_array_size(lines), dups, seed0);
    json_decref(fold);
    json_decref(lines);
    gh_test_stop_clean(s);
}
