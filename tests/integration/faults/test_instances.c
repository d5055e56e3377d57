/*
 * Several hub instances in one consumer group over one hub database
 * (docs/scaling.md): three instances share the partitions of a department
 * under random churn; one is killed with SIGKILL mid-stream; the others
 * take its partitions over and the subscriber view ends exactly equal to
 * the department and to the hub.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "churn.h"
#include "gridhub/util.h"
#include "harness.h"
#include "pipeline.h"
#include "stack.h"
#include "topics.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define SRC_TOPIC "gridhub.test.person"
#define VIEW_TOPIC "hub.view.test.person"
#define ROWS 1500
#define CHANGES 1200

static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static gh_test_proc_t *g_extra[2];

static void instances_fini(void) {
    for (int i = 0; i < 2; i++) {
        gh_test_proc_free(g_extra[i]);
        g_extra[i] = NULL;
    }
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(instances, .timeout = 400, .fini = instances_fini);

/* The number of partitions in the last "N partitions assigned" line of a
 * hub log (the hub logs every assignment), or -1 if there is none. */
static int last_assigned(const char *log) {
    char *text = gh_test_file_tail(log, 1 << 20);
    int n = -1;
    for (char *p = text; (p = strstr(p, " partitions assigned"));
         p += strlen(" partitions assigned")) {
        char *q = p;
        while (q > text && q[-1] >= '0' && q[-1] <= '9')
            q--;
        if (q < p) n = atoi(q);
    }
    free(text);
    return n;
}

typedef struct spread {
    const char *log[3];
    int parts;
} spread_t;

/* Each instance holds some partitions, together all of them. */
static int spread(void *arg) {
    const spread_t *sp = arg;
    int sum = 0;
    for (int i = 0; i < 3; i++) {
        int n = last_assigned(sp->log[i]);
        if (n <= 0) return 0;
        sum += n;
    }
    return sum == sp->parts;
}

static int partitions_of(const char *bootstrap, const char *topic) {
    rd_kafka_t *rk = gh_test_raw_consumer(bootstrap);
    int n = gh_test_partitions(rk, topic);
    rd_kafka_destroy(rk);
    return n;
}

Test(instances, three_hubs_one_killed_views_exact) {
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    cr_log_info("three_hubs_one_killed_views_exact: seed %u", seed);
    gh_test_stack_t *s = g_stack = gh_test_stack_new(DDL, MAPPING);
    gh_test_churn_t k;
    gh_test_churn_load(&k, s, ROWS, CHANGES, seed);
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_inst_%d", (int)getpid());
    const char *const copts[] = {slot, NULL};
    gh_test_stack_start_connector(s, copts);
    /* Small batches, so that all three apply some; a short session, so
     * that the dead member's partitions move in seconds. */
    const char *const small[] = {"batch.max.messages=20",
                                 "kafka.session.timeout.ms=6000",
                                 "kafka.heartbeat.interval.ms=1000", NULL};
    gh_test_stack_start_hub(s, small);
    g_extra[0] = gh_test_stack_spawn_hub(s, "hub2", small);
    g_extra[1] = gh_test_stack_spawn_hub(s, "hub3", small);
    g_hub = gh_test_pg_connect(s->hub_db);
    gh_test_wait_streaming(s);
    char *log1 = gh_xstrdup(gh_test_stack_hub_log(s));
    char *log2 = gh_xasprintf("%s/hub2.1.log", s->dir);
    char *log3 = gh_xasprintf("%s/hub3.1.log", s->dir);
    int parts = partitions_of(s->bootstrap, SRC_TOPIC);
    cr_assert_gt(parts, 1, "%s: %d partitions", SRC_TOPIC, parts);

    /* The group has formed: the partitions are spread over all three. */
    spread_t sp = {{log1, log2, log3}, parts};
    cr_assert(gh_test_wait_until(spread, &sp, 60000),
              "the three instances never shared the %d partitions: %d, %d, %d",
              parts, last_assigned(log1), last_assigned(log2),
              last_assigned(log3));

    int kill_at = 200 + (int)(rand_r(&k.seed) % 400);
    for (int step = 0; step < CHANGES; step++) {
        gh_test_churn_step(&k, s, step);
        if (step == kill_at) {
            cr_assert(gh_test_proc_alive(g_extra[0]), "hub2 died by itself");
            gh_test_kill9(g_extra[0]);
        }
        if (step % 100 == 0) usleep(200 * 1000); /* a stream, not a burst */
    }
    gh_test_wait_settled(s, g_hub, 180000);
    json_t *lines =
        gh_test_check_views_exact(s, g_hub, VIEW_TOPIC, 6000 /* idle ms */);
    /* The survivors hold every partition now. */
    int a = last_assigned(log1), c = last_assigned(log3);
    cr_assert_eq(a + c, parts, "after the kill: %d + %d of %d partitions", a, c,
                 parts);
    cr_log_info("three_hubs_one_killed_views_exact: %d rows, %d alive, %zu "
                "view messages",
                k.n, k.nalive, json_array_size(lines));
    json_decref(lines);

    /* The instances take the resolution lock before they write a row, so
     * batches do not fail in deadlocks with each other (a deadlock throws
     * a whole batch away; applying before the lock, 14 were seen in one
     * load, docs/performance.md). Small batches resolving at once under
     * neighbourhood locks can still meet in one now and then (a merge
     * re-assigning a record another instance is applying,
     * docs/scaling.md): a few are told, more fail. */
    const char *const logs[] = {log1, log2, log3};
    int deadlocks = 0;
    for (int i = 0; i < 3; i++) {
        char *text = gh_test_file_tail(logs[i], 1 << 22);
        for (char *p = text; (p = strstr(p, "deadlock detected")); p++)
            deadlocks++;
        free(text);
    }
    if (deadlocks)
        cr_log_info("three_hubs_one_killed_views_exact: %d batches tried "
                    "again after a deadlock",
                    deadlocks);
    cr_expect_leq(deadlocks, 3, "%d batches failed in deadlocks", deadlocks);

    cr_assert_eq(gh_test_stop(g_extra[1], 15000), 0,
                 "hub3 did not stop cleanly");
    gh_test_stop_clean(s);
    free(log1);
    free(log2);
    free(log3);
    gh_test_churn_free(&k);
}
