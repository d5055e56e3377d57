/*
 * The access policy end to end (docs/policy.md): a department's residents
 * through connector, broker and hub to four subscribers under one policy,
 * each subscriber topic read back with standard tools only and checked
 * record by record by an evaluator written apart from the hub
 * (tests/tools/policy_oracle.py: its own parser, its own decoder reading
 * the schemas topic):
 *   - leakage: zero fields or rows outside the policy, masks exactly as
 *     ruled, pseudonyms that differ across subscribers and equal HMACs
 *     computed here;
 *   - re-materialization without stopping the stream: after a policy
 *     change (a field newly denied vanishes from the schema), after a
 *     grant lapses (phones masked again), after residents move out of a
 *     subscriber's grids (tombstones) and back in.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "harness.h"
#include "pipeline.h"
#include "policy.h"
#include "stack.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define ORACLE GH_SOURCE_DIR "/tests/tools/policy_oracle.py"
#define PY "/usr/bin/python3" /* Debian's, with python3-confluent-kafka */
#define SETTLE_MS 120000
#define NRES 120

static gh_test_stack_t *g_stack;
static PGconn *g_hub;

static void policy_fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(policy, .timeout = 600, .fini = policy_fini);

/* Four subscribers as in ops/policy/city.policy, the department being
 * `test`; %s: the epidemic grant's until. */
#define POLICY_FMT                                                             \
    "subscriber.ga.department=gongan\n"                                        \
    "subscriber.ga.role=public-security\n"                                     \
    "rows.ga.person=all\n"                                                     \
    "field.ga.person.*=clear\n"                                                \
    "field.ga.person.person_id=hash\n"                                         \
    "field.ga.person.absorbed_ids=hash\n"                                      \
    "field.ga.person.provenance=drop\n"                                        \
    "\n"                                                                       \
    "subscriber.cw.department=chuangwen\n"                                     \
    "subscriber.cw.role=civilization-campaign\n"                               \
    "rows.cw.person=grid_code under 'LP'\n"                                    \
    "deny.cw.person=age(birth_date) < 14\n"                                    \
    "field.cw.person.person_id=hash\n"                                         \
    "field.cw.person.id_number=mask 6 4\n"                                     \
    "field.cw.person.name=clear\n"                                             \
    "field.cw.person.birth_date=year\n"                                        \
    "field.cw.person.phone=mask 3 4\n"                                         \
    "field.cw.person.grid_code=clear\n"                                        \
    "field.cw.person.sources=own\n"                                            \
    "field.cw.person.version=clear\n"                                          \
    "deny.cw.person.address=all\n"                                             \
    "%s"                                                                       \
    "grant.epi.subscriber=cw\n"                                                \
    "grant.epi.entity=person\n"                                                \
    "grant.epi.fields=phone\n"                                                 \
    "grant.epi.action=clear\n"                                                 \
    "grant.epi.rows=grid_code under 'LP-DT'\n"                                 \
    "grant.epi.purpose=epidemic response\n"                                    \
    "grant.epi.until=%s\n"                                                     \
    "\n"                                                                       \
    "subscriber.js.department=test\n"                                          \
    "subscriber.js.role=family-planning\n"                                     \
    "rows.js.person=sex = 'FEMALE' and age(birth_date) between 15 and 49\n"    \
    "field.js.person.id_number=clear\n"                                        \
    "field.js.person.name=clear\n"                                             \
    "field.js.person.birth_date=clear\n"                                       \
    "field.js.person.phone=hash\n"                                             \
    "field.js.person.grid_code=clear\n"                                        \
    "field.js.person.sources=own\n"                                            \
    "\n"                                                                       \
    "subscriber.zz.department=zongzhi\n"                                       \
    "subscriber.zz.role=grid-management\n"                                     \
    "rows.zz.person=grid_code is not null\n"                                   \
    "field.zz.person.*=clear\n"                                                \
    "field.zz.person.person_id=hash\n"                                         \
    "field.zz.person.absorbed_ids=hash\n"                                      \
    "field.zz.person.id_number=mask 6 4\n"                                     \
    "field.zz.person.provenance.at=year\n"                                     \
    "deny.*.person.provenance.source_key=all\n"

/* The policy text with `extra` rules for cw and the grant's until. */
static char *policy_text(const char *extra, const char *until) {
    return gh_xasprintf(POLICY_FMT, extra, until);
}

static void version_of(const char *text, char out[17]) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), md);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void iso_utc(time_t t, char out[32]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Resident i: ages 5..84 (born 15 March, so the age is plain arithmetic
 * until next March), both sexes, grids in and out of LP and LP-DT. */
static void insert_residents(gh_test_stack_t *s, int from, int to) {
    static const char *const grids[] = {"LP-DT-01", "LP-DT-02", "LP-TJ-01",
                                        "QT-01", "QT-02"};
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int year = tm.tm_year + 1900 - (tm.tm_mon < 2 ? 1 : 0);
    for (int i = from; i <= to; i++) {
        int age = (i * 7) % 80 + 5;
        char id[19], rk[16], name[32], birth[24], phone[16], addr[64];
        gh_test_make_id18(id, year - age, 3, 15, 100 + i);
        snprintf(rk, sizeof(rk), "R%03d", i);
        snprintf(name, sizeof(name), "居民%03d", i);
        snprintf(birth, sizeof(birth), "%04d-03-15", year - age);
        snprintf(phone, sizeof(phone), "139%08d", i);
        snprintf(addr, sizeof(addr), "乐坪街道%d栋%d号", i % 9 + 1, i);
        gh_test_insert_row(s->dept, rk, name, id, i % 2 ? 1 : 2, birth, phone,
                           addr, grids[i % 5]);
    }
}

typedef struct feeds {
    PGconn *hub;
    const char *version; /* NULL: any */
    const char *sub;     /* with version: whose plan must be under it; NULL:
                            every subscriber's (a first materialization) */
    int nsubs;
} feeds_t;

/* Every subscriber's view materialized and published, `sub`'s (or
 * everyone's) under `version`. A plan whose rules did not change keeps the
 * version it was made under. */
static int feeds_settled(void *arg) {
    feeds_t *f = arg;
    if (gh_test_try_count(f->hub, "SELECT count(*) FROM feed_plan WHERE "
                                  "entity = 'person' AND swept AND NOT "
                                  "force") != f->nsubs ||
        gh_test_try_count(f->hub, GH_TEST_UNSENT_SQL) != 0)
        return 0;
    if (!f->version) return 1;
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM feed_plan WHERE entity = 'person' AND "
             "policy_version = '%s'%s%s%s",
             f->version, f->sub ? " AND subscriber = '" : "",
             f->sub ? f->sub : "", f->sub ? "'" : "");
    return gh_test_try_count(f->hub, q) == (f->sub ? 1 : f->nsubs);
}

static void wait_feeds(const char *version, const char *sub) {
    feeds_t f = {g_hub, version, sub, 4};
    cr_assert(gh_test_wait_until(feeds_settled, &f, SETTLE_MS),
              "the subscribers' views were not materialized under policy "
              "version %s within %d ms; hub log: %s",
              version ? version : "(any)", SETTLE_MS,
              gh_test_stack_hub_log(g_stack));
}

/* The golden persons as the oracle reads them. */
static char *write_persons(const char *dir, int n) {
    char *path = gh_xasprintf("%s/persons.%d.jsonl", dir, n);
    char *sql =
        gh_read_file(GH_SOURCE_DIR "/tests/tools/persons_as_sent.sql", NULL);
    cr_assert_not_null(sql);
    PGresult *r = PQexec(g_hub, sql);
    free(sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s",
                 PQerrorMessage(g_hub));
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(f, "%s\n", PQgetvalue(r, i, 0));
    fclose(f);
    PQclear(r);
    return path;
}

/* Dumps every subscriber topic with the oracle's standard-tools reader and
 * checks it against the policy now in s->policy (old_policies: the files
 * in force before, NULL-terminated, may be NULL: earlier messages may hold
 * what they allowed); fails with the oracle's report on any violation.
 * Returns the messages file (caller frees). */
static char *oracle_check(gh_test_stack_t *s, const char *const *old_policies) {
    static int n;
    ++n;
    char *msgs = gh_xasprintf("%s/messages.%d.jsonl", s->dir, n);
    char *log = gh_xasprintf("%s/oracle.%d.log", s->dir, n);
    const char *dump[] = {PY,           ORACLE,  "dump", "--bootstrap",
                          s->bootstrap, "--out", msgs,   NULL};
    int rc = gh_test_run(dump, log, 120000);
    char *out = gh_test_file_tail(log, 1 << 16);
    cr_assert_eq(rc, 0, "policy_oracle.py dump exited %d:\n%s", rc, out);
    free(out);
    char *persons = write_persons(s->dir, n);
    char now[32];
    iso_utc(time(NULL), now);
    const char *check[32] = {PY,        ORACLE,       "check", "--policy",
                             s->policy, "--keys",     s->keys, "--persons",
                             persons,   "--messages", msgs,    "--now",
                             now,       NULL};
    for (int i = 0, k = 13; old_policies && old_policies[i] && k < 29; i++) {
        check[k++] = "--old-policy";
        check[k++] = old_policies[i];
        check[k] = NULL;
    }
    rc = gh_test_run(check, log, 120000);
    out = gh_test_file_tail(log, 1 << 16);
    cr_assert_eq(rc, 0, "the independent evaluator found violations:\n%s", out);
    free(out);
    free(persons);
    free(log);
    return msgs;
}

/* The last message of `topic` under `key` in the oracle's dump: its value
 * (JSON null: a tombstone), or NULL if there is none. New reference. */
static json_t *last_of(const char *msgs, const char *topic, const char *key) {
    FILE *f = fopen(msgs, "r");
    cr_assert_not_null(f);
    char *line = NULL;
    size_t cap = 0;
    json_t *last = NULL;
    while (getline(&line, &cap, f) > 0) {
        json_t *m = json_loads(line, 0, NULL);
        if (!m) continue;
        if (!strcmp(json_string_value(json_object_get(m, "topic")), topic) &&
            json_is_string(json_object_get(m, "key")) &&
            !strcmp(json_string_value(json_object_get(m, "key")), key)) {
            json_decref(last);
            last = json_incref(json_object_get(m, "value"));
        }
        json_decref(m);
    }
    free(line);
    fclose(f);
    return last;
}

static char *person_of(const char *rkbh) {
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT person_id FROM source_person WHERE source_key = '%s' AND "
             "NOT deleted",
             rkbh);
    char *pid = gh_test_try_scalar(g_hub, q);
    cr_assert_not_null(pid, "no person for %s", rkbh);
    return pid;
}

static gh_test_stack_t *start(const char *text) {
    static int n;
    g_stack = gh_test_stack_new(DDL, MAPPING);
    gh_test_stack_set_policy(g_stack, text);
    insert_residents(g_stack, 1, NRES);
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_policy_%d_%d",
             (int)getpid(), ++n);
    const char *const extra[] = {slot, NULL};
    gh_test_stack_start_connector(g_stack, extra);
    gh_test_stack_start_hub(g_stack, NULL);
    g_hub = gh_test_pg_connect(g_stack->hub_db);
    gh_test_wait_settled(g_stack, g_hub, SETTLE_MS);
    return g_stack;
}

Test(policy, every_record_within_the_policy_pseudonyms_differ) {
    char *text = policy_text("", "2099-12-31T23:59:59+08:00");
    gh_test_stack_t *s = start(text);
    char v[17];
    version_of(text, v);
    wait_feeds(v, NULL);
    char *msgs = oracle_check(s, NULL);

    /* Resident 2: a woman in LP-DT-02... every subscriber but the family
     * planning one if she is outside 15-49. Resident 10: a woman aged 75
     * in LP-DT-01 (i*7 % 80 + 5 = 75). */
    char *pid = person_of("R010");
    char kga[33], kcw[33], kjs[33], kzz[33];
    gh_test_pseudonym("ga", "person", pid, kga);
    gh_test_pseudonym("cw", "person", pid, kcw);
    gh_test_pseudonym("js", "person", pid, kjs);
    gh_test_pseudonym("zz", "person", pid, kzz);
    cr_assert(strcmp(kga, kcw) && strcmp(kga, kzz) && strcmp(kcw, kzz),
              "pseudonyms must differ across subscribers");
    json_t *ga = last_of(msgs, "hub.view.ga.person", kga);
    json_t *cw = last_of(msgs, "hub.view.cw.person", kcw);
    json_t *js = last_of(msgs, "hub.view.js.person", kjs);
    cr_assert(json_is_object(ga) && json_is_object(cw),
              "R010 (%s) must be in ga's and cw's views", pid);
    cr_assert_null(js, "a woman of 75 is outside family planning's rows");
    cr_assert_str_eq(json_string_value(json_object_get(ga, "person_id")), kga,
                     "a hashed person_id equals the message key");
    cr_assert_null(last_of(msgs, "hub.view.ga.person", pid),
                   "no raw person id as a key");
    const char *idc = json_string_value(json_object_get(cw, "id_number"));
    cr_assert(idc && strlen(idc) == 18 && !strncmp(idc + 6, "********", 8),
              "cw's ID number is masked 6+4: %s", idc ? idc : "(null)");
    cr_assert_str_eq(json_string_value(json_object_get(cw, "phone")),
                     "13900000010", "the epidemic grant shows LP-DT phones");
    cr_assert_null(json_object_get(cw, "address"),
                   "a field denied with `all` is not in the record at all");
    json_decref(ga);
    json_decref(cw);

    /* `gridhub policy explain --person` evaluates the same golden record
     * from the hub database and prints it as cw receives it. */
    char *ci = gh_test_conninfo(s->hub_db);
    char *cix = gh_xasprintf("database.conninfo=%s", ci);
    char *log = gh_xasprintf("%s/explain.log", s->dir);
    const char *explain[] = {
        GH_BINARY, "policy",   "explain", s->policy, "--subscriber",
        "cw",      "--person", pid,       "--keys",  s->keys,
        "-X",      cix,        NULL};
    int rc = gh_test_run(explain, log, 30000);
    char *out = gh_test_file_tail(log, 1 << 16);
    cr_assert_eq(rc, 0, "policy explain --person exited %d:\n%s", rc, out);
    cr_assert(strstr(out, "139****0010") || strstr(out, "13900000010"),
              "explain shows R010's phone as cw sees it:\n%s", out);
    cr_assert(strstr(out, "epi"), "explain names the grant:\n%s", out);
    cr_assert_null(strstr(out, "乐坪街道"),
                   "explain --person must not print the denied address:\n%s",
                   out);
    free(out);
    free(log);
    free(cix);
    free(ci);
    free(pid);
    free(msgs);
    free(text);
    gh_test_stop_clean(s);
}

Test(policy, rematerializes_on_change_lapse_and_move) {
    char *text = policy_text("", "2099-12-31T23:59:59+08:00");
    gh_test_stack_t *s = start(text);
    char v[17];
    version_of(text, v);
    wait_feeds(v, NULL);
    char *p0 = gh_xasprintf("%s/policy.0", s->dir);
    gh_test_write_file(p0, "%s", text);
    free(text);

    /* 1. A policy change: cw's names are newly denied. The running hub
     * re-reads the file, sweeps cw's view, and its new schema has no name;
     * the stream goes on (a resident added meanwhile arrives). */
    text =
        policy_text("deny.cw.person.name=all\n", "2099-12-31T23:59:59+08:00");
    gh_test_stack_set_policy(s, text);
    insert_residents(s, NRES + 1, NRES + 5);
    version_of(text, v);
    wait_feeds(v, "cw");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    const char *olds[3] = {p0, NULL, NULL};
    char *msgs = oracle_check(s, olds);
    char *pid = person_of("R010");
    char kcw[33];
    gh_test_pseudonym("cw", "person", pid, kcw);
    json_t *cw = last_of(msgs, "hub.view.cw.person", kcw);
    cr_assert(json_is_object(cw) && !json_object_get(cw, "name"),
              "after the change cw's record of R010 has no name field");
    json_decref(cw);
    free(msgs);
    char *p1 = gh_xasprintf("%s/policy.1", s->dir);
    gh_test_write_file(p1, "%s", text);
    olds[1] = p1;
    free(text);

    /* 2. The grant lapses by itself: a few seconds from now, with nothing
     * touching the file afterwards. */
    char until[32];
    iso_utc(time(NULL) + 4, until);
    text = policy_text("deny.cw.person.name=all\n", until);
    gh_test_stack_set_policy(s, text);
    version_of(text, v);
    char *needle = gh_xasprintf("loaded: version %s", v);
    char *line =
        gh_test_wait_for_text(gh_test_stack_hub_log(s), needle, SETTLE_MS);
    cr_assert_not_null(line, "the hub did not load policy version %s", v);
    free(line);
    free(needle);
    sleep(5);
    /* Lapsed: cw's plans were swept again after `until`. */
    char q[256];
    snprintf(q, sizeof(q),
             "SELECT count(*) FROM feed_plan WHERE subscriber = 'cw' AND "
             "entity = 'person' AND swept AND NOT force AND updated_at > '%s'",
             until);
    feeds_t f = {g_hub, NULL, NULL, 4};
    for (int i = 0; i < 600 && gh_test_try_count(g_hub, q) != 1; i++)
        usleep(100000);
    cr_assert_eq(gh_test_try_count(g_hub, q), 1,
                 "cw's view was not re-materialized after the grant lapsed");
    cr_assert(gh_test_wait_until(feeds_settled, &f, SETTLE_MS));
    msgs = oracle_check(s, olds);
    cw = last_of(msgs, "hub.view.cw.person", kcw);
    cr_assert_str_eq(json_string_value(json_object_get(cw, "phone")),
                     "139****0010",
                     "the lapsed grant's phones are masked again");
    json_decref(cw);
    free(msgs);

    /* 3. Residents move out of LP (cw's grids) and one moves in: tombstones
     * for the first, a record for the other. */
    gh_test_exec(s->dept, "UPDATE zz_syrk SET wgbm = 'QT-09', gxsj = "
                          "clock_timestamp() WHERE rkbh IN ('R010', 'R020')");
    gh_test_exec(s->dept, "UPDATE zz_syrk SET wgbm = 'LP-TJ-02', gxsj = "
                          "clock_timestamp() WHERE rkbh = 'R003'");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    cr_assert(gh_test_wait_until(feeds_settled, &f, SETTLE_MS));
    msgs = oracle_check(s, olds);
    cw = last_of(msgs, "hub.view.cw.person", kcw);
    cr_assert(json_is_null(cw), "R010 moved out of LP: cw holds a tombstone");
    json_decref(cw);
    char *p3 = person_of("R003");
    char k3[33];
    gh_test_pseudonym("cw", "person", p3, k3);
    cw = last_of(msgs, "hub.view.cw.person", k3);
    cr_assert(json_is_object(cw), "R003 moved into LP: cw receives it");
    json_decref(cw);
    free(p3);
    free(msgs);
    free(pid);
    free(text);
    free(p0);
    free(p1);
    gh_test_stop_clean(s);
}
