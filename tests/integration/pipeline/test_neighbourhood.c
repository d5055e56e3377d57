/*
 * Several resolutions at once (docs/scaling.md, "Several resolvers"): a
 * batch of few person records holds the resolution lock shared and locks
 * the blocking keys and persons its records reach.
 *
 * - Beside another neighbourhood: while another session holds the lock
 *   shared and one resident's person, a new resident is resolved; a
 *   second record of that resident waits for its person and, once let go,
 *   joins it.
 * - Three hub instances resolve residents each entered three times under
 *   different keys (so that each record is another partition's, often
 *   another instance's) at the same moment: every
 *   resident ends as one person, none split between two that two
 *   instances created at once.
 * - A neighbourhood larger than PostgreSQL's lock table (a cluster of the
 *   test's own, max_locks_per_transaction at its least): the batch fails
 *   with "out of shared memory" once, and is resolved alone, not retried
 *   for ever.
 */
#include "pipeline.h"
#include "stack.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"

#define GONGAN GH_SOURCE_DIR "/connectors/gongan/"
#define PERSON_TOPIC "source.topics=gridhub.gongan.person"

/* hub/identity/resolve_locks.c, the lock a person's resolution takes. */
int32_t gh__res_person_lock_id(const char *pid);

static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static gh_test_proc_t *g_extra[2];
static char *g_pgdir; /* a cluster of the test's own (lock table) */

static void neighbourhood_fini(void) {
    for (int i = 0; i < 2; i++) {
        gh_test_proc_free(g_extra[i]);
        g_extra[i] = NULL;
    }
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

TestSuite(neighbourhood, .timeout = 400, .fini = neighbourhood_fini);

static void insert_resident(PGconn *dept, const char *rybh, const char *name,
                            const char *id, const char *phone) {
    gh_test_exec(dept,
                 "INSERT INTO ga_hjrk (rybh, hh, yhzgx, xm, xb, csrq, gmsfhm, "
                 "lxdh, zrqdm) VALUES ('%s', '109800001', '01', '%s', '1', "
                 "'%.4s-%.2s-%.2s', '%s', '%s', 'ZRQ-4313020101')",
                 rybh, name, id + 6, id + 10, id + 12, id, phone);
}

#define RESOLVED_SQL                                                           \
    "SELECT count(*) FROM source_person WHERE person_id IS NOT NULL"

/* Enters a resident and waits until `want` records are resolved. */
static void resolve_one(gh_test_stack_t *s, const char *rybh, const char *name,
                        const char *id, const char *phone, long want) {
    insert_resident(s->dept, rybh, name, id, phone);
    cr_assert(gh_test_wait_count(g_hub, RESOLVED_SQL, want, 90000),
              "%s was not resolved (%ld of %ld records); log ends:\n%s", rybh,
              gh_test_try_count(g_hub, RESOLVED_SQL), want,
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));
}

Test(neighbourhood, a_resident_resolves_beside_another_neighbourhood) {
    g_stack =
        gh_test_stack_new(GONGAN "schema.sql", GONGAN "mapping.properties");
    gh_test_stack_t *s = g_stack;
    gh_test_stack_snapshot(s, "gh_test_nbh");
    const char *const extra[] = {PERSON_TOPIC, NULL};
    gh_test_stack_start_hub(s, extra);
    g_hub = gh_test_pg_connect(s->hub_db);

    char id1[19], id2[19];
    gh_test_make_id18(id1, 1985, 3, 12, 1);
    gh_test_make_id18(id2, 1992, 7, 28, 2);
    resolve_one(s, "R10000001", "邻里甲", id1, "13907430001", 1);
    char *pid1 = gh_test_scalar(g_hub, "SELECT person_id FROM source_person");

    /* Another resolution in progress, as another instance's would be: the
     * lock shared and the first resident's person. */
    PGconn *lk = gh_test_pg_connect(s->hub_db);
    gh_test_exec(lk,
                 "BEGIN; SELECT pg_advisory_xact_lock_shared(7274001); "
                 "SELECT pg_advisory_xact_lock(7274011, %d)",
                 (int)gh__res_person_lock_id(pid1));
    insert_resident(s->dept, "R10000002", "邻里乙", id2, "13907430002");
    cr_assert(gh_test_wait_count(g_hub, RESOLVED_SQL, 2, 60000),
              "a resident of another neighbourhood was not resolved while "
              "the first resident's person was locked; log ends:\n%s",
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));

    /* The first resident entered again: its batch waits for the person. */
    insert_resident(s->dept, "R10000003", "邻里甲", id1, "13907430001");
    const char *w_sql = "SELECT count(*) FROM pg_locks WHERE locktype = "
                        "'advisory' AND classid = 7274011 AND NOT granted";
    cr_assert(gh_test_wait_count(g_hub, w_sql, 1, 60000),
              "no batch waits for the locked person; log ends:\n%s",
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));
    cr_assert_eq(gh_test_count(g_hub, "%s", RESOLVED_SQL), 2,
                 "a record of a locked person was resolved");
    gh_test_exec(lk, "COMMIT");
    PQfinish(lk);
    cr_assert(gh_test_wait_count(g_hub, RESOLVED_SQL, 3, 60000),
              "the second record was not resolved once the person was let "
              "go; log ends:\n%s",
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));
    char *pid3 = gh_test_scalar(
        g_hub, "SELECT person_id FROM source_person WHERE source_key LIKE "
               "'%%R10000003%%'");
    cr_assert_str_eq(pid3, pid1, "the resident entered again is %s, not %s",
                     pid3, pid1);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(DISTINCT person_id) FROM "
                                      "source_person"),
                 2);
    free(pid1);
    free(pid3);
    gh_test_stop_clean(s);
}

#define RESIDENTS 240
#define COPIES 3

/* Residents split between persons, and records not yet resolved. */
#define SPLIT_SQL                                                              \
    "SELECT (SELECT count(*) FROM (SELECT id_clean FROM source_person WHERE "  \
    "NOT deleted GROUP BY id_clean HAVING count(DISTINCT person_id) > 1) "     \
    "x) * 1000000 + (SELECT count(*) FROM source_person WHERE person_id IS "   \
    "NULL)"

Test(neighbourhood, three_hubs_resolve_each_resident_once) {
    g_stack =
        gh_test_stack_new(GONGAN "schema.sql", GONGAN "mapping.properties");
    gh_test_stack_t *s = g_stack;
    gh_test_stack_snapshot(s, "gh_test_nbh3");
    /* Small batches, so that the three resolve beside one another. */
    const char *const small[] = {PERSON_TOPIC, "batch.max.messages=8",
                                 "batch.linger.ms=0", NULL};
    gh_test_stack_start_hub(s, small);
    g_extra[0] = gh_test_stack_spawn_hub(s, "hub2", small);
    g_extra[1] = gh_test_stack_spawn_hub(s, "hub3", small);
    g_hub = gh_test_pg_connect(s->hub_db);
    char *log2 = gh_xasprintf("%s/hub2.1.log", s->dir);
    char *log3 = gh_xasprintf("%s/hub3.1.log", s->dir);
    const char *logs[3] = {gh_test_stack_hub_log(s), log2, log3};
    for (int i = 0; i < 3; i++) {
        char *line =
            gh_test_wait_for_text(logs[i], "partitions assigned", 90000);
        cr_assert_not_null(line, "%s: no partitions assigned", logs[i]);
        free(line);
    }

    /* A resident's copies in one statement: they reach the hub at the
     * same moment, in different partitions, while it is idle. */
    for (int i = 0; i < RESIDENTS; i++) {
        int y = 1950 + i % 50, m = 1 + i % 12, d = 1 + i % 28;
        char id[19];
        gh_test_make_id18(id, y, m, d, i);
        gh_buf_t sql = {0};
        gh_buf_printf(&sql, "INSERT INTO ga_hjrk (rybh, hh, yhzgx, xm, xb, "
                            "csrq, gmsfhm, lxdh, zrqdm) VALUES ");
        for (int c = 0; c < COPIES; c++)
            gh_buf_printf(&sql,
                          "%s('N%d%06d', '109800001', '01', '居民%c%c', '1', "
                          "'%04d-%02d-%02d', '%s', '139%08d', "
                          "'ZRQ-4313020101')",
                          c ? ", " : "", c, i, 'A' + i % 26, 'a' + i / 26, y, m,
                          d, id, i);
        gh_test_exec(s->dept, "%s", sql.data);
        gh_buf_free(&sql);
        usleep(20 * 1000);
    }
    cr_assert(
        gh_test_wait_count(g_hub, RESOLVED_SQL, RESIDENTS * COPIES, 180000),
        "%ld of %d records resolved; log ends:\n%s",
        gh_test_try_count(g_hub, RESOLVED_SQL), RESIDENTS * COPIES,
        gh_test_file_tail(gh_test_stack_hub_log(s), 3000));
    long split = gh_test_count(g_hub, SPLIT_SQL);
    cr_assert_eq(split, 0,
                 "%ld residents split between persons, %ld records "
                 "unresolved",
                 split / 1000000, split % 1000000);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(DISTINCT person_id) FROM "
                                      "source_person"),
                 RESIDENTS);
    /* A deadlock (docs/scaling.md) fails one batch, which is tried again:
     * told, not failed. */
    for (int i = 0; i < 3; i++) {
        char *text = gh_test_file_tail(logs[i], 1 << 22);
        if (strstr(text, "deadlock detected"))
            cr_log_info("%s: a batch was tried again after a deadlock",
                        logs[i]);
        free(text);
    }
    /* No resident was ever given two persons, not even for a while (a
     * second one would be retired by a merge, not deleted). */
    long persons = gh_test_count(g_hub, "SELECT count(*) FROM person");
    cr_assert_eq(persons, RESIDENTS, "%ld persons made for %d residents",
                 persons, RESIDENTS);
    cr_assert_eq(gh_test_stop(g_extra[0], 15000), 0, "hub2 did not stop");
    cr_assert_eq(gh_test_stop(g_extra[1], 15000), 0, "hub3 did not stop");
    gh_test_stop_clean(s);
    free(log2);
    free(log3);
}

#define CROWD 600

Test(neighbourhood, a_neighbourhood_beyond_the_lock_table_resolves_alone) {
    g_stack =
        gh_test_stack_new(GONGAN "schema.sql", GONGAN "mapping.properties");
    gh_test_stack_t *s = g_stack;
    /* ~10 x (20 + background processes) lock slots: ~1,300 advisory
     * locks fit, measured. */
    const char *const small_table[] = {"max_locks_per_transaction = 10",
                                       "max_connections = 20", NULL};
    char *ci = NULL;
    g_pgdir = gh_test_pg_cluster_new("gh-pg-nbh", small_table, &ci);

    gh_test_stack_snapshot(s, "gh_test_nbhl");
    char *hub_ci = gh_xasprintf("database.conninfo=%s dbname=hub", ci);
    /* One batch of all the residents, in a neighbourhood (~6 keys each). */
    const char *const extra[] = {PERSON_TOPIC,
                                 hub_ci,
                                 "batch.neighbourhood.max.records=1000",
                                 "batch.linger.ms=2000",
                                 "batch.max.ms=3000",
                                 "retry.backoff.ms=100",
                                 NULL};
    gh_test_stack_start_hub(s, extra);
    g_hub = PQconnectdb(hub_ci + strlen("database.conninfo="));
    cr_assert_eq(PQstatus(g_hub), CONNECTION_OK);
    char *line = gh_test_wait_for_text(gh_test_stack_hub_log(s),
                                       "partitions assigned", 90000);
    cr_assert_not_null(line, "the hub was not assigned its partitions");
    free(line);

    /* The snapshot's end markers first (a batch with them holds the lock
     * alone): a first resident resolved after them. */
    char id0[19];
    gh_test_make_id18(id0, 1949, 10, 1, 999);
    resolve_one(s, "L9999999", "先到", id0, "13807430000", 1);

    gh_buf_t sql = {0};
    gh_buf_printf(&sql, "INSERT INTO ga_hjrk (rybh, hh, yhzgx, xm, xb, csrq, "
                        "gmsfhm, lxdh, zrqdm) VALUES ");
    for (int i = 0; i < CROWD; i++) {
        int y = 1950 + i % 50, m = 1 + i % 12, d = 1 + i % 28;
        char id[19];
        gh_test_make_id18(id, y, m, d, i);
        gh_buf_printf(&sql,
                      "%s('L%06d', '109800001', '01', '人群%c%c', '1', "
                      "'%04d-%02d-%02d', '%s', '138%08d', 'ZRQ-4313020101')",
                      i ? ", " : "", i, 'A' + i % 26, 'a' + i / 26, y, m, d, id,
                      i);
    }
    gh_test_exec(s->dept, "%s", sql.data);
    gh_buf_free(&sql);

    cr_assert(gh_test_wait_count(g_hub, RESOLVED_SQL, CROWD + 1, 90000),
              "%ld of %d residents resolved; log ends:\n%s",
              gh_test_try_count(g_hub, RESOLVED_SQL), CROWD + 1,
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));
    /* The path under test was taken: the lock table did overflow. */
    char *text = gh_test_file_tail(gh_test_stack_hub_log(s), 1 << 22);
    cr_assert_not_null(strstr(text, "out of shared memory"),
                       "the neighbourhood fitted the lock table; log ends:"
                       "\n%s",
                       gh_test_file_tail(gh_test_stack_hub_log(s), 3000));
    free(text);
    gh_test_stop_clean(s);
    free(hub_ci);
    free(ci);
}
