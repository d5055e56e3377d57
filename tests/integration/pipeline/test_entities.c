/*
 * Every entity a department publishes reaches the hub (source_row), not
 * only persons.
 *
 * 公安's real files (connectors/gongan/schema.sql, sample.sql,
 * mapping.properties) feed five topics: person, building, household,
 * household_member and residence_registration, the last two and person
 * from one table (ga_hjrk). The hub consumes all five with encryption at
 * rest on. The oracle is the department database itself: after every step
 * the live rows the hub holds per (entity, key), with one field each,
 * equal what the department's tables hold under the mapping's filters.
 * Steps: the snapshot; inserts, updates, deletes and a row leaving the
 * filter; the hub killed -9 while it applies 20,000 streamed inserts and
 * started again; a TRUNCATE. Sensitive fields are stored sealed, names in
 * clear; the hub dead-letters nothing.
 *
 * Persons first (hub/core/lanes.h): given a backlog of every topic, the
 * hub applies the person records before the other entities' rows.
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
#define SETTLE_MS 90000

static gh_test_stack_t *g_stack;
static PGconn *g_hub;

static void entities_fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(entities, .timeout = 300, .fini = entities_fini);

/* What the department holds, under the mapping's filters and keys: one
 * line "entity|key|field" per live row, in a fixed order. */
static const char DEPT_SQL[] =
    "WITH t(e, k, v) AS ("
    " SELECT 'building', btrim(dzbm), nullif(btrim(ldh), '') FROM ga_bzdz "
    "  WHERE zxbz = '0'"
    " UNION ALL SELECT 'household', btrim(hh), nullif(btrim(hzxm), '') "
    "  FROM ga_hu WHERE zxbz = '0'"
    " UNION ALL SELECT 'household_member', btrim(rybh), btrim(xm) "
    "  FROM ga_hjrk WHERE zxbz = '0'"
    " UNION ALL SELECT 'residence_registration', 'hjrk/' || rybh, btrim(xm) "
    "  FROM ga_hjrk WHERE zxbz = '0'"
    " UNION ALL SELECT 'residence_registration', 'ldrk/' || ldrybh, "
    "  btrim(xm) FROM ga_ldrk WHERE zxbz = '0'"
    " UNION ALL SELECT 'person', 'hjrk/' || rybh, btrim(xm) FROM ga_hjrk "
    "  WHERE zxbz = '0'"
    " UNION ALL SELECT 'person', 'ldrk/' || ldrybh, btrim(xm) FROM ga_ldrk "
    "  WHERE zxbz = '0') "
    "SELECT coalesce(string_agg(e || '|' || k || '|' || coalesce(v, '-'), "
    "E'\\n' ORDER BY e COLLATE \"C\", k COLLATE \"C\"), '') FROM t";

/* The same, from the hub's tables. */
static const char HUB_SQL[] =
    "WITH t(e, k, v) AS ("
    " SELECT entity, source_key, row ->> CASE entity WHEN 'building' THEN "
    "  'building_no' WHEN 'household' THEN 'head_name' ELSE 'name' END "
    "  FROM source_row WHERE department = 'gongan' AND NOT deleted"
    " UNION ALL SELECT 'person', source_key, name FROM source_person "
    "  WHERE department = 'gongan' AND NOT deleted) "
    "SELECT coalesce(string_agg(e || '|' || k || '|' || coalesce(v, '-'), "
    "E'\\n' ORDER BY e COLLATE \"C\", k COLLATE \"C\"), '') FROM t";

typedef struct same_arg {
    gh_test_stack_t *s;
    char *dept, *hub;
} same_arg_t;

static int hub_equals_dept(void *arg) {
    same_arg_t *a = arg;
    free(a->dept);
    free(a->hub);
    a->dept = gh_test_scalar(a->s->dept, "%s", DEPT_SQL);
    a->hub = gh_test_try_scalar(g_hub, HUB_SQL);
    return a->dept && a->hub && !strcmp(a->dept, a->hub);
}

/* The first line where two listings differ, for the failure message. */
static void first_difference(const char *a, const char *b, char *out,
                             size_t size) {
    size_t i = 0, line = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '\n') line = i + 1;
        i++;
    }
    snprintf(out, size, "department: \"%.120s\" / hub: \"%.120s\"", a + line,
             b + line);
}

/* Waits until the hub holds exactly what the department does. */
static void wait_same(gh_test_stack_t *s, const char *step) {
    same_arg_t a = {s, NULL, NULL};
    int ok = gh_test_wait_until(hub_equals_dept, &a, SETTLE_MS);
    if (!ok) {
        char diff[512];
        first_difference(a.dept ? a.dept : "", a.hub ? a.hub : "", diff,
                         sizeof(diff));
        char *tail = gh_test_file_tail(gh_test_stack_hub_log(s), 3000);
        cr_assert_fail("%s: the hub's entity rows differ from the "
                       "department's after %d ms; first difference: %s\n"
                       "hub log ends:\n%s",
                       step, SETTLE_MS, diff, tail);
    }
    size_t lines = a.dept[0] ? 1 : 0;
    for (const char *p = a.dept; *p; p++)
        lines += *p == '\n';
    cr_log_info("%s: %zu live rows agree", step, lines);
    free(a.dept);
    free(a.hub);
}

static void start_hub(gh_test_stack_t *s, const char *keyfile) {
    char *ck = gh_xasprintf("crypt.key.file=%s", keyfile);
    const char *const extra[] = {
        "source.topics=gridhub.gongan.person,gridhub.gongan.building,"
        "gridhub.gongan.household,gridhub.gongan.household_member,"
        "gridhub.gongan.residence_registration",
        ck,
        /* A short session: the hub is killed -9 below, and on the embedded
         * broker its successor's join waits out the dead member's session
         * (45 s by default), which left too little of the wait to apply
         * the rest of the 20,000 rows under ASan. */
        "kafka.session.timeout.ms=6000", "kafka.heartbeat.interval.ms=1000",
        NULL};
    gh_test_stack_start_hub(s, extra);
    free(ck);
}

typedef struct grown_arg {
    long from;
} grown_arg_t;

static int buildings_growing(void *arg) {
    grown_arg_t *g = arg;
    long n = gh_test_try_count(g_hub, "SELECT count(*) FROM source_row WHERE "
                                      "entity = 'building' AND NOT deleted");
    return n > g->from;
}

Test(entities, every_entity_reaches_the_hub) {
    g_stack =
        gh_test_stack_new(GONGAN "schema.sql", GONGAN "mapping.properties");
    gh_test_stack_t *s = g_stack;
    char *rows = gh_read_file(GONGAN "sample.sql", NULL);
    cr_assert_not_null(rows);
    gh_test_exec(s->dept, "%s", rows);
    free(rows);
    /* Replication slots are cluster-wide: a name of this test's own. */
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_entities_%d",
             (int)getpid());
    const char *const cextra[] = {slot, NULL};
    gh_test_stack_start_connector(s, cextra);

    char *kf = gh_xasprintf("%s/crypt.keys", s->dir);
    const char *const gen[] = {"generate", "--crypt-key-file", kf, NULL};
    cr_assert_eq(gh_test_stack_cli(s, "keys", NULL, gen, NULL), 0);
    start_hub(s, kf);
    g_hub = gh_test_pg_connect(s->hub_db);

    /* 1. The snapshot of every table. */
    wait_same(s, "snapshot");
    cr_assert_gt(gh_test_count(g_hub, "SELECT count(DISTINCT entity) FROM "
                                      "source_row WHERE NOT deleted"),
                 3, "buildings, households, members and registrations");

    /* 2. Streamed inserts, updates, deletes; a resident leaving the filter
     * (deregistered: zxbz = '1') leaves the three topics ga_hjrk feeds. */
    gh_test_exec(s->dept,
                 "INSERT INTO ga_hu (hh, hzxm, hzgmsfhm, hjdz, zrqdm) VALUES "
                 "('109900001', '新户主', '431302199001010011', "
                 "'乐坪街道新地址1号', 'ZRQ-4313020101')");
    gh_test_exec(s->dept, "UPDATE ga_bzdz SET ldh = '99', gxsj = now() WHERE "
                          "dzbm = (SELECT min(dzbm) FROM ga_bzdz WHERE zxbz "
                          "= '0')");
    gh_test_exec(s->dept, "DELETE FROM ga_hu WHERE hh = (SELECT max(hh) FROM "
                          "ga_hu WHERE hh <> '109900001')");
    gh_test_exec(s->dept, "UPDATE ga_hjrk SET zxbz = '1', gxsj = now() WHERE "
                          "rybh = (SELECT min(rybh) FROM ga_hjrk WHERE zxbz "
                          "= '0')");
    wait_same(s, "inserts, updates, deletes");
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM source_row WHERE entity "
                               "= 'household' AND deleted"),
                 1, "the deleted household is kept as deleted");

    /* Sealed at rest: ID numbers and addresses; names stay searchable. */
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM source_row WHERE "
                               "source_key = '109900001' AND row ->> "
                               "'head_id_number' LIKE 'gh1:%%' AND row ->> "
                               "'address' LIKE 'gh1:%%' AND row ->> "
                               "'head_name' = '新户主'"),
                 1, "head_id_number and address sealed, head_name clear");
    cr_assert_eq(
        gh_test_count(g_hub, "SELECT count(*) FROM source_row WHERE row::text "
                             "LIKE '%%431302199001010011%%'"),
        0, "an ID number in clear in source_row");

    /* 3. kill -9 while 20,000 streamed inserts are being applied. */
    long before = gh_test_count(g_hub, "SELECT count(*) FROM source_row WHERE "
                                       "entity = 'building' AND NOT deleted");
    gh_test_exec(s->dept,
                 "INSERT INTO ga_bzdz (dzbm, xzqhdm, dzjb, dzqc, ldh, zrqdm) "
                 "SELECT 'K' || lpad(i::text, 8, '0'), '431302', '5', "
                 "'批量地址' || i, (i %% 30)::text, 'ZRQ-4313020101' FROM "
                 "generate_series(1, 20000) i");
    grown_arg_t g = {before};
    cr_assert(gh_test_wait_until(buildings_growing, &g, SETTLE_MS),
              "the hub applied none of the 20,000 inserts");
    long at_kill = gh_test_count(g_hub, "SELECT count(*) FROM source_row WHERE "
                                        "entity = 'building' AND NOT deleted");
    gh_test_kill9(s->hub);
    cr_log_info("hub killed with %ld of %ld buildings applied", at_kill,
                before + 20000);
    start_hub(s, kf);
    wait_same(s, "after kill -9");

    /* 4. TRUNCATE: every building goes, whatever topic partition it was
     * on; the other tables are untouched. */
    gh_test_exec(s->dept, "TRUNCATE ga_bzdz");
    wait_same(s, "truncate");
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM source_row WHERE "
                                      "entity = 'building' AND NOT deleted"),
                 0);

    gh_test_stop_clean(s);
    for (int run = 1; run <= s->hub_runs; run++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/hub.%d.log", s->dir, run);
        char *log = gh_read_file(path, NULL);
        cr_assert_not_null(log, "%s", path);
        cr_assert_null(strstr(log, "hub: dead letter "),
                       "the hub dead-lettered: %s",
                       strstr(log, "hub: dead letter "));
        free(log);
    }
    free(kf);
}

typedef struct held_arg {
    long persons, rows;
} held_arg_t;

static int holds_all(void *arg) {
    held_arg_t *h = arg;
    return gh_test_try_count(g_hub, "SELECT count(*) FROM source_person") ==
               h->persons &&
           gh_test_try_count(g_hub, "SELECT count(*) FROM source_row") ==
               h->rows;
}

/* A backlog of 2,000 residents (a person, a household member and a
 * registration each) and 2,000 buildings, read by a hub whose batches
 * take 5 persons and 100 rows of the others: the other topics wait while
 * 50 or more person messages do, so nearly every household member and
 * registration commits after the last person, while the buildings, in
 * priority.person.lane by default, are read beside the persons and are
 * done in a twentieth of the persons' batches. (The persons must outlast
 * the consumer's first fetch of the buildings' partitions: with 100 a
 * batch they once did not, two tests running, and with 20 a batch, after
 * resolution got cheaper, 2,000 persons were applied in 554 ms and again
 * 0 buildings before the last one. Measured before the lane: 100 of the
 * 6,000 other rows before the last person, those of the first batch, read
 * before any watermark was known; read alike, priority.person.lag=0,
 * 4,000.) A paused topic gets at most the first batch's 100 in; read
 * beside the persons, the buildings share the persons' batches as the
 * fetches bring them: 777, 805 and 2,000 of 2,000 in three runs of the
 * sanitizer build, hence more than 400 rather than more than half. Once,
 * two tests running, 0 again: a partition's fetch brings up to 1 MiB, all
 * of its persons at once, so the hub reads them in small fetches (8 KiB a
 * partition) that bring the buildings beside them however fast it goes. */
Test(entities, persons_first_during_a_backlog) {
    g_stack =
        gh_test_stack_new(GONGAN "schema.sql", GONGAN "mapping.properties");
    gh_test_stack_t *s = g_stack;
    gh_test_exec(s->dept,
                 "INSERT INTO ga_hjrk (rybh, hh, yhzgx, xm, zrqdm) SELECT "
                 "'Q' || lpad(i::text, 8, '0'), '1098' || lpad(i::text, 5, "
                 "'0'), '02', '积压' || i, 'ZRQ-4313020101' FROM "
                 "generate_series(1, 2000) i");
    gh_test_exec(s->dept,
                 "INSERT INTO ga_bzdz (dzbm, xzqhdm, dzjb, dzqc, ldh, zrqdm) "
                 "SELECT 'K' || lpad(i::text, 8, '0'), '431302', '5', "
                 "'积压地址' || i, (i %% 30)::text, 'ZRQ-4313020101' FROM "
                 "generate_series(1, 2000) i");
    gh_test_stack_snapshot(s, "gh_test_lanes");

    const char *const extra[] = {
        "source.topics=gridhub.gongan.person,gridhub.gongan.building,"
        "gridhub.gongan.household,gridhub.gongan.household_member,"
        "gridhub.gongan.residence_registration",
        "batch.max.messages=5",
        "batch.max.entity.messages=100",
        "priority.person.lag=50",
        "kafka.max.partition.fetch.bytes=8192",
        NULL};
    gh_test_stack_start_hub(s, extra);
    g_hub = gh_test_pg_connect(s->hub_db);
    held_arg_t h = {2000, 6000};
    cr_assert(gh_test_wait_until(holds_all, &h, 150000),
              "the hub does not hold the backlog; log ends:\n%s",
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));

    const char *last = "xmin::text::bigint < (SELECT "
                       "max(xmin::text::bigint) FROM source_person)";
    long before = gh_test_count(g_hub,
                                "SELECT count(*) FROM source_row WHERE "
                                "entity <> 'building' AND %s",
                                last);
    long buildings = gh_test_count(g_hub,
                                   "SELECT count(*) FROM source_row WHERE "
                                   "entity = 'building' AND %s",
                                   last);
    cr_log_info("%ld of 4000 household members and registrations, %ld of "
                "2000 buildings committed before the last person",
                before, buildings);
    cr_assert_lt(before, 400,
                 "%ld household members and registrations were applied "
                 "before the last person: the person topics did not go first",
                 before);
    cr_assert_gt(buildings, 400,
                 "only %ld of 2000 buildings were applied before the last "
                 "person: the buildings' topic (priority.person.lane) was "
                 "paused with the others",
                 buildings);
    char *line = gh_test_wait_for_text(gh_test_stack_hub_log(s),
                                       "the other entities' topics are "
                                       "paused",
                                       1000);
    cr_assert_not_null(line, "the hub did not say it paused the others");
    free(line);
    gh_test_stop_clean(s);
}

/* Only a batch that resolves takes the resolution lock (hub/core/hub.c,
 * batch_lock): while another session holds it, as another instance
 * resolving does, 30 buildings streamed in are applied, and a resident
 * (a person, a household member and a registration from one row) waits,
 * its batch queued on the lock, until the lock is let go. Before, every
 * batch took the lock and the buildings waited too. */
Test(entities, other_entities_apply_beside_a_resolution) {
    g_stack =
        gh_test_stack_new(GONGAN "schema.sql", GONGAN "mapping.properties");
    gh_test_stack_t *s = g_stack;
    gh_test_stack_snapshot(s, "gh_test_beside");
    const char *const extra[] = {
        "source.topics=gridhub.gongan.person,gridhub.gongan.building,"
        "gridhub.gongan.household,gridhub.gongan.household_member,"
        "gridhub.gongan.residence_registration",
        NULL};
    gh_test_stack_start_hub(s, extra);
    g_hub = gh_test_pg_connect(s->hub_db);
    char *line = gh_test_wait_for_text(gh_test_stack_hub_log(s),
                                       "partitions assigned", 90000);
    cr_assert_not_null(line, "the hub was not assigned its partitions");
    free(line);
    /* The snapshot's end markers first: a batch with them takes the lock
     * (they may delete persons), and taken now by the hub's first batch
     * it would wait behind this test's (seen once in a clean-clone CI).
     * A first resident resolved is a batch after them. */
    gh_test_exec(s->dept,
                 "INSERT INTO ga_hjrk (rybh, hh, yhzgx, xm, zrqdm) VALUES "
                 "('R00000000', '109800000', '01', '先来', "
                 "'ZRQ-4313020101')");
    const char *p_sql = "SELECT count(*) FROM source_person WHERE person_id IS "
                        "NOT NULL";
    cr_assert(gh_test_wait_count(g_hub, p_sql, 1, 90000),
              "the first resident was not resolved; log ends:\n%s",
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));

    PGconn *lk = gh_test_pg_connect(s->hub_db);
    gh_test_exec(lk, "BEGIN; SELECT pg_advisory_xact_lock(7274001)");
    gh_test_exec(s->dept,
                 "INSERT INTO ga_bzdz (dzbm, xzqhdm, dzjb, dzqc, ldh, zrqdm) "
                 "SELECT 'B' || lpad(i::text, 8, '0'), '431302', '5', "
                 "'旁边地址' || i, (i %% 5)::text, 'ZRQ-4313020101' FROM "
                 "generate_series(1, 30) i");
    const char *b_sql = "SELECT count(*) FROM source_row WHERE entity = "
                        "'building' AND NOT deleted";
    cr_assert(gh_test_wait_count(g_hub, b_sql, 30, 60000),
              "the buildings were not applied while a resolution held its "
              "lock (%ld of 30); log ends:\n%s",
              gh_test_try_count(g_hub, b_sql),
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));

    gh_test_exec(s->dept,
                 "INSERT INTO ga_hjrk (rybh, hh, yhzgx, xm, zrqdm) VALUES "
                 "('R00000001', '109800001', '01', '旁边', "
                 "'ZRQ-4313020101')");
    const char *w_sql = "SELECT count(*) FROM pg_locks WHERE locktype = "
                        "'advisory' AND objid = 7274001 AND NOT granted";
    cr_assert(gh_test_wait_count(g_hub, w_sql, 1, 60000),
              "no batch waits for the resolution lock after a resident was "
              "inserted; log ends:\n%s",
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM source_person"), 1,
                 "a person was applied while another session held the "
                 "resolution lock");
    gh_test_exec(lk, "COMMIT");
    PQfinish(lk);
    cr_assert(gh_test_wait_count(g_hub, p_sql, 2, 60000),
              "the resident was not resolved once the lock was let go; log "
              "ends:\n%s",
              gh_test_file_tail(gh_test_stack_hub_log(s), 3000));
    gh_test_stop_clean(s);
}
