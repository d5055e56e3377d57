/*
 * Encryption at rest end to end (docs/encryption.md): residents through
 * connector, broker and a hub with crypt.key.file; a plain-text pg_dump of
 * the hub database holds none of their ID numbers or phone numbers while
 * the subscriber still receives them; `gridhub keys rotate` with the hub
 * running re-seals everything under a new key; after a restart every value
 * opens, a change is applied under the new key and resolution is what it
 * was; a hub given another index key refuses the database.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypt.h"
#include "gridhub/util.h"
#include "harness.h"
#include "pipeline.h"
#include "stack.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define SETTLE_MS 120000
#define NRES 150
#define NDUP (NRES / 10)

static gh_test_stack_t *g_stack;
static PGconn *g_hub;

static void crypt_fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(crypt, .timeout = 600, .fini = crypt_fini);

static void resident(int i, char id[19], char phone[16]) {
    gh_test_make_id18(id, 1950 + i % 60, 3, 15, 100 + i);
    snprintf(phone, 16, "139%08d", 4000 + i);
}

static void insert(const char *prefix, int i) {
    char id[19], phone[16], rk[16], name[32], addr[64], birth[16];
    resident(i, id, phone);
    snprintf(rk, sizeof(rk), "%s%03d", prefix, i);
    snprintf(name, sizeof(name), "居民%03d", i);
    snprintf(addr, sizeof(addr), "乐坪街道%d栋%d号", i % 7 + 1, i);
    /* The birth date the number carries (docs/identity.md: a number whose
     * date is not the record's is someone else's). */
    snprintf(birth, sizeof(birth), "%04d-03-15", 1950 + i % 60);
    gh_test_insert_row(g_stack->dept, rk, name, id, i % 2 ? 1 : 2, birth, phone,
                       addr, "LP-DT-01");
}

static long g_expect_rows;

/* Every department row applied and the outbox published. (The harness's
 * digest compares clear columns, which are sealed here.) */
static void wait_settled(void) {
    cr_assert(gh_test_wait_live(g_hub, g_expect_rows, SETTLE_MS),
              "the hub did not apply %ld rows; hub log: %s", g_expect_rows,
              gh_test_stack_hub_log(g_stack));
}

static int keys(const char *const *args, char **out) {
    return gh_test_stack_cli(g_stack, "keys", g_stack->hub_db, args, out);
}

/* source_key=person_id of the first rows, in order: what resolution
 * decided. */
static char *resolution(void) {
    return gh_test_scalar(g_hub,
                          "SELECT string_agg(source_key || '=' || person_id, "
                          "',' ORDER BY source_key) FROM source_person WHERE "
                          "NOT deleted AND source_key LIKE 'R%%'");
}

static char *dump(const char *name) {
    char *ci = gh_test_conninfo(g_stack->hub_db);
    char *file = gh_xasprintf("%s/%s.sql", g_stack->dir, name);
    char *log = gh_xasprintf("%s/%s.log", g_stack->dir, name);
    const char *argv[] = {"pg_dump", "--no-owner", "-f", file, "-d", ci, NULL};
    cr_assert_eq(gh_test_run(argv, log, 120000), 0, "pg_dump failed: %s",
                 gh_test_file_tail(log, 4096));
    char *text = gh_test_file_tail(file, 256 << 20);
    free(ci);
    free(file);
    free(log);
    return text;
}

static void assert_dump_clean(const char *name) {
    char *d = dump(name);
    cr_assert(strstr(d, "gh1:"), "the dump holds no sealed value");
    cr_assert(strstr(d, "居民001"), "the dump lacks the residents' rows");
    for (int i = 1; i <= NRES; i++) {
        char id[19], phone[16];
        resident(i, id, phone);
        cr_assert_null(strstr(d, id), "%s: ID number %s in clear", name, id);
        cr_assert_null(strstr(d, phone), "%s: phone %s in clear", name, phone);
        id[17] = '\0'; /* the first 17 digits (blocking) neither */
        cr_assert_null(strstr(d, id), "%s: ID digits %s in clear", name, id);
    }
    free(d);
}

Test(crypt, dump_reveals_nothing_rotation_online_restart_resolves_same) {
    g_stack = gh_test_stack_new(DDL, MAPPING);
    for (int i = 1; i <= NRES; i++)
        insert("R", i);
    /* The same residents again in other rows: resolution merges them. */
    for (int i = 1; i <= NDUP; i++)
        insert("S", i * 10);
    g_expect_rows = NRES + NDUP;
    char *kf = gh_xasprintf("%s/hub.keys", g_stack->dir);
    const char *gen[] = {"generate", "--crypt-key-file", kf, NULL};
    cr_assert_eq(keys(gen, NULL), 0, "keys generate");
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_crypt_%d", (int)getpid());
    const char *const cx[] = {slot, NULL};
    gh_test_stack_start_connector(g_stack, cx);
    char *ckx = gh_xasprintf("crypt.key.file=%s", kf);
    const char *const hx[] = {ckx, NULL};
    gh_test_stack_start_hub(g_stack, hx);
    g_hub = gh_test_pg_connect(g_stack->hub_db);
    wait_settled();

    /* Sealed where stored; duplicates merged; the subscriber gets clear
     * values (its policy shows everything). */
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM person WHERE "
                                      "active AND id_number NOT LIKE "
                                      "'gh1:k1:%%'"),
                 0);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM person WHERE "
                                      "active"),
                 NRES, "duplicates were not merged");
    char id1[19], ph1[16];
    resident(7, id1, ph1);
    json_t *msgs = gh_test_tail_all(g_stack, "hub.view.test.person", 3000);
    char *all = json_dumps(msgs, 0);
    json_decref(msgs);
    cr_assert(strstr(all, id1) && strstr(all, ph1),
              "the subscriber did not get resident 7's ID and phone");
    cr_assert_null(strstr(all, "gh1:"), "a sealed value reached a subscriber");
    free(all);
    assert_dump_clean("dump1");
    /* The sealed form as documented, opened by an implementation of its
     * own (python3-cryptography). */
    char *rows = gh_xasprintf("%s/persons.jsonl", g_stack->dir);
    char *opened = gh_xasprintf("%s/persons.open.jsonl", g_stack->dir);
    char *ci = gh_test_conninfo(g_stack->hub_db);
    char *cmd = gh_xasprintf(
        "psql -tAd '%s' -c 'SELECT row_to_json(p) FROM (SELECT person_id, "
        "id_number, phone, address FROM person) p' > '%s' && "
        "/usr/bin/python3 " GH_SOURCE_DIR "/tests/tools/unseal.py --keys "
        "'%s' < '%s' > '%s'",
        ci, rows, kf, rows, opened);
    const char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    char *shlog = gh_xasprintf("%s/unseal.log", g_stack->dir);
    cr_assert_eq(gh_test_run(sh, shlog, 60000), 0, "unseal.py: %s",
                 gh_test_file_tail(shlog, 4096));
    char *text = gh_test_file_tail(opened, 1 << 22);
    cr_assert(strstr(text, id1) && strstr(text, ph1),
              "unseal.py did not open resident 7's ID and phone");
    cr_assert_null(strstr(text, "gh1:"));
    free(text);
    free(shlog);
    free(cmd);
    free(ci);
    free(rows);
    free(opened);
    char *before = resolution();

    /* Rotation while the hub runs and applies new rows. */
    for (int i = 1; i <= 20; i++)
        insert("N", i + 500);
    g_expect_rows += 20;
    char *out = NULL;
    const char *rot[] = {"rotate", "--crypt-key-file", kf, NULL};
    cr_assert_eq(keys(rot, &out), 0, "keys rotate: %s", out);
    cr_assert(strstr(out, "under key k2"), "%s", out);
    free(out);
    wait_settled();
    char *line = gh_test_wait_for_text(gh_test_stack_hub_log(g_stack),
                                       "new values sealed under key k2", 10000);
    cr_assert(line, "the hub did not re-read the key file");
    free(line);
    const char *st[] = {"status", "--crypt-key-file", kf, NULL};
    cr_assert_eq(keys(st, &out), 0, "keys status: %s", out);
    cr_assert_null(strstr(out, " k1 "), "values left under k1:\n%s", out);
    cr_assert(strstr(out, " k2 "), "%s", out);
    free(out);
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM source_person WHERE "
                               "left(n_phone, 7) = 'gh1:k1:' OR "
                               "left(id_clean, 7) = 'gh1:k1:'"),
                 0);

    /* Restart: everything opens, a change is applied, resolution holds. */
    gh_test_stack_start_hub(g_stack, hx);
    gh_test_exec(g_stack->dept,
                 "UPDATE zz_syrk SET lxdh = '13712345678', gxsj = "
                 "clock_timestamp() WHERE rkbh = 'R003'");
    char err[512];
    gh_crypt_t *c = gh_crypt_new(kf, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    char *want = gh_crypt_seal(c, "phone", "13712345678", 11);
    gh_crypt_destroy(c);
    char *q = gh_xasprintf("SELECT count(*) FROM source_person WHERE "
                           "source_key = 'R003' AND n_phone = '%s'",
                           want);
    int applied = 0;
    for (int t = 0; t < 600 && !applied; t++) {
        applied = gh_test_try_count(g_hub, q) == 1;
        if (!applied) usleep(100000);
    }
    cr_assert(applied, "R003's new phone not stored under k2; hub log: %s",
              gh_test_stack_hub_log(g_stack));
    free(q);
    free(want);
    wait_settled();
    char *after = resolution();
    cr_assert_str_eq(after, before, "resolution changed across the rotation");
    free(before);
    free(after);
    char *pid = gh_test_scalar(g_hub, "SELECT person_id FROM source_person "
                                      "WHERE source_key = 'R003'");
    const char *show[] = {"show", pid, "--crypt-key-file", kf, NULL};
    cr_assert_eq(gh_test_stack_steward(g_stack, show, &out), 0, "%s", out);
    char id3[19], ph3[16];
    resident(3, id3, ph3);
    cr_assert(strstr(out, id3) && strstr(out, "13712345678"),
              "steward show did not open the golden record:\n%s", out);
    free(out);
    /* The read is in the audit log, with the role; a refused one too. */
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'read' AND entry LIKE '%%\"what\":\"%s\"%%' "
                               "AND entry LIKE '%%\"db_role\":%%'",
                               pid),
                 1);
    /* Everything about that person, from the audit log: what the
     * subscriber was sent under its pseudonym, and the read. */
    const char *qv[] = {
        "query",         "--person",           pid,           "--policy-file",
        g_stack->policy, "--policy-keys-file", g_stack->keys, NULL};
    char *qout = NULL;
    cr_assert_eq(
        gh_test_stack_cli(g_stack, "audit", g_stack->hub_db, qv, &qout), 0,
        "audit query: %s", qout);
    cr_assert(strstr(qout, "\"kind\":\"disclosure\"") &&
                  strstr(qout, "\"kind\":\"read\""),
              "audit query --person:\n%s", qout);
    free(qout);
    const char *nope[] = {"show", "P999999999", "--crypt-key-file", kf, NULL};
    cr_assert_neq(gh_test_stack_steward(g_stack, nope, &out), 0);
    free(out);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM audit_log WHERE "
                                      "kind = 'refused' AND entry LIKE "
                                      "'%%P999999999%%'"),
                 1);
    free(pid);
    assert_dump_clean("dump2");

    /* Another index key: the hub refuses the database, saying why. */
    char *other = gh_xasprintf("%s/other.keys", g_stack->dir);
    const char *gen2[] = {"generate", "--crypt-key-file", other, NULL};
    cr_assert_eq(keys(gen2, NULL), 0);
    char *okx = gh_xasprintf("crypt.key.file=%s", other);
    const char *const ox[] = {okx, NULL};
    gh_test_stack_start_hub(g_stack, ox);
    int rc = gh_test_proc_wait(g_stack->hub, 60000);
    cr_assert_eq(rc, 2, "a hub with another index key exited %d", rc);
    line = gh_test_wait_for_text(gh_test_stack_hub_log(g_stack), "index key",
                                 1000);
    cr_assert(line, "no reason given: %s", gh_test_stack_hub_log(g_stack));
    free(line);
    gh_test_assert_no_sanitizer_reports(g_stack->dir);
    free(okx);
    free(other);
    free(ckx);
    free(kf);
}
