/*
 * The audit log end to end (docs/audit.md): residents through connector,
 * broker and hub; every record a subscriber was sent has its audit entry;
 * signed tree heads reach the audit topic; `gridhub audit verify` passes on
 * the log and, on copies of the hub database altered the ways an insider
 * would, fails naming what was done; proofs from `gridhub audit prove` are
 * accepted by `check-proof` and by tests/tools/rfc6962.py, written apart
 * from the hub.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "harness.h"
#include "pipeline.h"
#include "stack.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define RFC6962 GH_SOURCE_DIR "/tests/tools/rfc6962.py"
#define DUMP GH_SOURCE_DIR "/tests/tools/dump_topic.py"
#define PY "/usr/bin/python3"
#define SETTLE_MS 120000
#define NRES 300

static gh_test_stack_t *g_stack;
static PGconn *g_hub;
static char *g_key, *g_pub;

static void audit_fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
    free(g_key);
    free(g_pub);
    g_key = g_pub = NULL;
}

TestSuite(audit, .timeout = 600, .fini = audit_fini);

/* Runs gridhub audit with args (NULL-terminated, after "audit") against
 * database db (NULL: none); returns the exit code, *out (may be NULL) its
 * output. */
static int audit(const char *db, const char *const *args, char **out) {
    return gh_test_stack_cli(g_stack, "audit", db, args, out);
}

static int heads_cover_log(void *arg) {
    (void)arg;
    return gh_test_try_count(g_hub, GH_TEST_UNSENT_SQL) == 0 &&
           gh_test_try_count(g_hub, "SELECT count(*) FROM audit_log") > 0 &&
           gh_test_try_count(g_hub,
                             "SELECT count(*) FROM audit_log WHERE seq >= "
                             "(SELECT coalesce(max(size), 0) FROM "
                             "audit_sth)") == 0;
}

static void start(void) {
    g_stack = gh_test_stack_new(DDL, MAPPING);
    for (int i = 1; i <= NRES; i++) {
        char id[19], rk[16], name[32], phone[16], birth[16];
        gh_test_make_id18(id, 1950 + i % 60, 3, 15, 100 + i);
        snprintf(rk, sizeof(rk), "R%03d", i);
        snprintf(name, sizeof(name), "居民%03d", i);
        snprintf(phone, sizeof(phone), "139%08d", i);
        /* The birth date the number carries (docs/identity.md: a number
         * whose date is not the record's is someone else's). */
        snprintf(birth, sizeof(birth), "%04d-03-15", 1950 + i % 60);
        gh_test_insert_row(g_stack->dept, rk, name, id, i % 2 ? 1 : 2, birth,
                           phone, "乐坪街道1栋1号", "LP-DT-01");
    }
    g_key = gh_xasprintf("%s/audit.key", g_stack->dir);
    g_pub = gh_xasprintf("%s/audit.pub", g_stack->dir);
    const char *kg[] = {"keygen", "--key", g_key, "--public-key", g_pub, NULL};
    cr_assert_eq(audit(NULL, kg, NULL), 0, "audit keygen");
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_audit_%d", (int)getpid());
    const char *const cx[] = {slot, NULL};
    gh_test_stack_start_connector(g_stack, cx);
    char *k = gh_xasprintf("audit.signing.key.file=%s", g_key);
    const char *const hx[] = {k, "audit.head.interval.ms=300", NULL};
    gh_test_stack_start_hub(g_stack, hx);
    free(k);
    g_hub = gh_test_pg_connect(g_stack->hub_db);
    gh_test_wait_settled(g_stack, g_hub, SETTLE_MS);
    cr_assert(gh_test_wait_until(heads_cover_log, NULL, SETTLE_MS),
              "no signed head came to cover the audit log; hub log: %s",
              gh_test_stack_hub_log(g_stack));
}

/* The heads the audit topic carries, written to a file; their count. */
static int heads_from_topic(const char *path) {
    const char *argv[] = {PY,   DUMP, g_stack->bootstrap, "hub.audit.heads",
                          "30", NULL};
    int rc = gh_test_run(argv, path, 60000);
    cr_assert_eq(rc, 0, "dump_topic.py exited %d", rc);
    char *text = gh_test_file_tail(path, 1 << 20);
    int n = 0;
    for (char *p = text; (p = strstr(p, "\"sig\"")); p++)
        n++;
    free(text);
    return n;
}

Test(audit, every_disclosure_is_logged_heads_published_proofs_check) {
    start();
    /* Every message of the subscriber topic has its entry, and no more. */
    json_t *msgs = gh_test_tail_all(g_stack, "hub.view.test.person", 3000);
    long sent = (long)json_array_size(msgs);
    json_decref(msgs);
    cr_assert_gt(sent, NRES - 1, "the subscriber got %ld records", sent);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM audit_log WHERE "
                                      "kind = 'disclosure' AND subscriber = "
                                      "'test'"),
                 sent, "one audit entry per record published");
    /* An entry names fields and the departments behind them, and the
     * subscriber's pseudonym, never the person id. */
    char *e = gh_test_scalar(g_hub, "SELECT entry FROM audit_log WHERE kind "
                                    "= 'disclosure' ORDER BY seq LIMIT 1");
    cr_assert(
        strstr(e, "\"fields\":{") &&
            strstr(e, "\"name\":{\"as\":\"clear\",\"from\":[\"test\"]}") &&
            strstr(e, "\"policy\":\"") && !strstr(e, "\"P0"),
        "first disclosure: %s", e);
    free(e);
    /* The policy the hub put in force comes first, with the role that
     * loaded it. */
    e = gh_test_scalar(g_hub, "SELECT kind || ' ' || entry FROM audit_log "
                              "WHERE seq = 0");
    cr_assert(!strncmp(e, "policy ", 7) && strstr(e, "\"version\":\"") &&
                  strstr(e, "\"db_role\":\""),
              "entry 0: %s", e);
    free(e);

    /* The hub's role cannot rewrite the log. */
    PGresult *r =
        PQexec(g_hub, "UPDATE audit_log SET kind = 'x' WHERE seq = 0");
    cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR);
    cr_assert(strstr(PQerrorMessage(g_hub), "append-only"), "%s",
              PQerrorMessage(g_hub));
    PQclear(r);
    r = PQexec(g_hub, "DELETE FROM audit_log WHERE seq = 0");
    cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "DELETE refused");
    PQclear(r);

    char *heads = gh_xasprintf("%s/heads.jsonl", g_stack->dir);
    int nheads = heads_from_topic(heads);
    cr_assert_eq(nheads, gh_test_count(g_hub, "SELECT count(*) FROM audit_sth"),
                 "every signed head reached the audit topic");
    char *out;
    const char *v[] = {"verify", "--public-key", g_pub, "--heads", heads, NULL};
    int rc = audit(g_stack->hub_db, v, &out);
    cr_assert_eq(rc, 0, "verify on an intact log: %s", out);
    cr_assert(strstr(out, "audit log intact"), "%s", out);
    free(out);

    /* An inclusion proof, checked by check-proof and by the independent
     * implementation. */
    long size = gh_test_count(g_hub, "SELECT max(size) FROM audit_sth");
    long seq = size / 2;
    char seqs[24];
    snprintf(seqs, sizeof(seqs), "%ld", seq);
    const char *pv[] = {"prove", "--seq", seqs, NULL};
    rc = audit(g_stack->hub_db, pv, &out);
    cr_assert_eq(rc, 0, "prove: %s", out);
    char *proof = gh_xasprintf("%s/proof.json", g_stack->dir);
    gh_test_write_file(proof, "%s", out);
    json_t *doc = json_loads(out, 0, NULL);
    cr_assert_not_null(doc, "prove printed no JSON: %s", out);
    free(out);
    const char *cp[] = {"check-proof", proof, "--public-key", g_pub, NULL};
    rc = audit(NULL, cp, &out);
    cr_assert_eq(rc, 0, "check-proof: %s", out);
    cr_assert(strstr(out, "proven"), "%s", out);
    free(out);

    json_t *path = json_object_get(doc, "path"),
           *head = json_object_get(doc, "head");
    gh_buf_t ps = {0};
    size_t i;
    json_t *x;
    json_array_foreach(path, i, x) {
        if (i) gh_buf_puts(&ps, ",");
        gh_buf_puts(&ps, json_string_value(x));
    }
    char sizes[24];
    snprintf(sizes, sizeof(sizes), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(head, "size")));
    const char *py[] = {PY,
                        RFC6962,
                        "verify-inclusion",
                        "--leaf-hash",
                        json_string_value(json_object_get(doc, "leaf_hash")),
                        "--index",
                        seqs,
                        "--size",
                        sizes,
                        "--path",
                        ps.data ? ps.data : "",
                        "--root",
                        json_string_value(json_object_get(head, "root")),
                        NULL};
    char *pylog = gh_xasprintf("%s/rfc6962.log", g_stack->dir);
    rc = gh_test_run(py, pylog, 60000);
    out = gh_test_file_tail(pylog, 4096);
    cr_assert_eq(rc, 0, "rfc6962.py refused the hub's proof: %s", out);
    free(out);
    /* The leaf is the entry's hash: the hub's word is not taken for it. */
    const char *lh[] = {PY, RFC6962, "leaf-hash", NULL, NULL};
    const char *entry = json_string_value(json_object_get(doc, "entry"));
    gh_buf_t hex = {0};
    for (const unsigned char *p = (const unsigned char *)entry; *p; p++)
        gh_buf_printf(&hex, "%02x", *p);
    lh[3] = hex.data;
    rc = gh_test_run(lh, pylog, 60000);
    out = gh_test_file_tail(pylog, 4096);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(out, json_string_value(json_object_get(doc, "leaf_hash"))),
              "rfc6962.py hashes the entry to %s", out);
    free(out);

    /* A consistency proof from the first head to the latest. */
    char *first = gh_test_scalar(g_hub, "SELECT min(size) FROM audit_sth");
    const char *pc[] = {"prove", "--old-size", first, NULL};
    rc = audit(g_stack->hub_db, pc, &out);
    cr_assert_eq(rc, 0, "prove --old-size: %s", out);
    gh_test_write_file(proof, "%s", out);
    free(out);
    rc = audit(NULL, cp, &out);
    cr_assert_eq(rc, 0, "check-proof (consistency): %s", out);
    free(out);

    /* A forged proof: the entry altered. */
    json_object_set_new(doc, "entry", json_string("{\"forged\":true}"));
    json_dump_file(doc, proof, 0);
    rc = audit(NULL, cp, &out);
    cr_assert_eq(rc, 1, "a forged entry must not be proven: %s", out);
    cr_assert(strstr(out, "NOT proven"), "%s", out);
    free(out);

    /* Who received what from whom. */
    const char *rp[] = {"report", NULL};
    rc = audit(g_stack->hub_db, rp, &out);
    cr_assert_eq(rc, 0, "report: %s", out);
    char want[64];
    snprintf(want, sizeof(want), "%ld", sent);
    cr_assert(strstr(out, "test         test         name           clear") &&
                  strstr(out, "id_number"),
              "the access matrix: %s", out);
    free(out);

    free(first);
    free(pylog);
    gh_buf_free(&hex);
    gh_buf_free(&ps);
    json_decref(doc);
    free(proof);
    free(heads);
    gh_test_stop_clean(g_stack); /* and no sanitizer report in any log */
}

/* A copy of the hub database, altered by `sql` as a superuser with the
 * append-only triggers bypassed; verify must fail naming `needle`. */
static void tampered(PGconn *admin, const char *name, const char *sql,
                     const char *heads, const char *needle) {
    gh_test_exec(admin, "CREATE DATABASE %s TEMPLATE %s", name,
                 g_stack->hub_db);
    PGconn *c = gh_test_pg_connect(name);
    gh_test_exec(c, "SET session_replication_role = replica; %s", sql);
    PQfinish(c);
    char *out;
    const char *v[] = {"verify", "--public-key", g_pub, "--heads", heads, NULL};
    int rc = audit(name, v, &out);
    gh_test_drop_db(name);
    cr_assert_eq(rc, 1, "%s: verify must fail: %s", name, out);
    cr_assert(strstr(out, "FAILED") && strstr(out, needle),
              "%s: verify must say \"%s\": %s", name, needle, out);
    free(out);
}

#define LEAF_OF(expr) "sha256('\\x00'::bytea || convert_to(" expr ", 'UTF8'))"

Test(audit, verify_names_every_tamper) {
    start();
    char *heads = gh_xasprintf("%s/heads.jsonl", g_stack->dir);
    cr_assert_gt(heads_from_topic(heads), 0);
    long n = gh_test_count(g_hub, "SELECT count(*) FROM audit_log");
    cr_assert_gt(n, 256, "enough entries for a stored subtree: %ld", n);
    PQfinish(g_hub);
    g_hub = NULL;
    cr_assert_eq(gh_test_stop(g_stack->hub, 30000), 0);
    PGconn *admin = gh_test_pg_connect("postgres");
    char sql[1024], needle[128];

    /* 1. One entry's text changed. */
    tampered(admin, "gh_tamper_modify",
             "UPDATE audit_log SET entry = replace(entry, '\"op\":\"put\"', "
             "'\"op\":\"remove\"') WHERE seq = 5",
             heads, "entry 5 was modified");
    /* 2. Changed with its leaf recomputed: the signed heads and the stored
     * subtree no longer match. */
    tampered(admin, "gh_tamper_releaf",
             "UPDATE audit_log SET entry = replace(entry, '\"op\":\"put\"', "
             "'\"op\":\"remove\"') WHERE seq = 5; UPDATE audit_log SET leaf "
             "= " LEAF_OF("entry") " WHERE seq = 5",
             heads, "no longer match the head signed over them");
    /* 3. One entry deleted. */
    tampered(admin, "gh_tamper_delete", "DELETE FROM audit_log WHERE seq = 7",
             heads, "entry 7 is missing");
    /* 4. An entry inserted, the ones after renumbered. */
    tampered(admin, "gh_tamper_insert",
             "UPDATE audit_log SET seq = -seq - 1 WHERE seq >= 10; UPDATE "
             "audit_log SET seq = -seq WHERE seq < 0; INSERT INTO audit_log "
             "SELECT 10, at, kind, subscriber, entity, msg_key, e, " LEAF_OF(
                 "e") " FROM (SELECT at, kind, subscriber, entity, msg_key, "
                      "replace(entry, '\"seq\":9,', '\"seq\":10,') e FROM "
                      "audit_log WHERE seq = 9) x",
             heads, "an entry was inserted at 10");
    /* 5. Two entries swapped. */
    tampered(admin, "gh_tamper_reorder",
             "UPDATE audit_log SET seq = CASE seq WHEN 3 THEN -4 ELSE -3 END "
             "WHERE seq IN (3, 4); UPDATE audit_log SET seq = -seq WHERE seq "
             "< 0",
             heads, "entry 3 was reordered");
    /* 6. The tail cut off, with the heads in the database that covered it
     * deleted too and the head row put back: only the copies outside the
     * database (the audit topic) still know. */
    snprintf(sql, sizeof(sql),
             "DELETE FROM audit_log WHERE seq >= %ld; DELETE FROM audit_sth "
             "WHERE size > %ld",
             n - 3, n - 3);
    snprintf(needle, sizeof(needle), "holds %ld entries", n - 3);
    tampered(admin, "gh_tamper_truncate", sql, heads, needle);
    /* 7. A head forged in the database (signed with another key). */
    tampered(admin, "gh_tamper_head",
             "INSERT INTO audit_sth SELECT size + 1, timestamp_ms, root, "
             "key_id, sig, replace(head, '\"size\":' || size, '\"size\":' || "
             "(size + 1)) FROM audit_sth ORDER BY size DESC LIMIT 1",
             heads, "does not verify");
    /* 8. A column changed, the text and its leaf left alone: queries
     * would lie, so verify holds every column against the text. */
    tampered(admin, "gh_tamper_column",
             "UPDATE audit_log SET entity = 'forged' WHERE seq = 6", heads,
             "entry 6 was altered: its entity column");
    PQfinish(admin);
    free(heads);
    gh_test_assert_no_sanitizer_reports(g_stack->dir);
}
