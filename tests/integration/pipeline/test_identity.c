/*
 * Identity resolution and stewardship end to end (hub/identity/resolve.c,
 * hub/steward/steward*.c, `gridhub steward`): a real department database,
 * connector and hub processes, the embedded broker, and what a subscriber
 * reads from hub.view.test.person.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/conf.h"
#include "gridhub/match.h"
#include "gridhub/util.h"
#include "harness.h"
#include "pipeline.h"
#include "stack.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define VIEW_TOPIC "hub.view.test.person"
#define SETTLE_MS 120000

static gh_test_stack_t *g_stack;
static PGconn *g_hub;

static void fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(identity, .timeout = 240, .fini = fini);

/* A pipeline whose hub runs with `extra` properties. */
static gh_test_stack_t *start(const char *const *extra) {
    static int n;
    static char slot[64];
    g_stack = gh_test_stack_new(DDL, MAPPING);
    snprintf(slot, sizeof(slot), "slot.name=gh_test_id_%d_%d", (int)getpid(),
             ++n);
    const char *const copts[] = {slot, NULL};
    gh_test_stack_start_connector(g_stack, copts);
    gh_test_stack_start_hub(g_stack, extra);
    g_hub = gh_test_pg_connect(g_stack->hub_db);
    gh_test_wait_streaming(g_stack);
    return g_stack;
}

/* The person of a department row (deleted rows keep their last one). */
static char *pid_of(const char *rkbh) {
    return gh_test_scalar(g_hub,
                          "SELECT person_id FROM source_person WHERE "
                          "source_key = '%s'",
                          rkbh);
}

static json_t *view(gh_test_stack_t *s) {
    json_t *lines = gh_test_tail(s, VIEW_TOPIC, 5000);
    json_t *fold = gh_test_fold(lines);
    json_decref(lines);
    return fold;
}

/* Runs `gridhub steward`, asserting exit code `want`; returns its output
 * (caller frees). */
static char *steward(gh_test_stack_t *s, int want, const char *const *args) {
    char *out = NULL;
    int rc = gh_test_stack_steward(s, args, &out);
    cr_assert_eq(rc, want, "gridhub steward %s exited %d, expected %d:\n%s",
                 args[0], rc, want, out);
    return out;
}

Test(identity, homophone_linked_common_name_not) {
    gh_test_stack_t *s = start(NULL);
    char id[19];
    gh_test_make_id18(id, 1970, 3, 4, 11);
    /* 王建国 with a valid ID; 王建帼 (a homophone typo) without one, same
     * birth date, sex, phone and flat: one resident. */
    gh_test_insert_row(s->dept, "H1", "王建国", id, 1, "1970-03-04",
                       "13800000001", "大塘小区3栋2单元501", "G1");
    gh_test_insert_row(s->dept, "H2", "王建帼", NULL, 1, "1970-03-04",
                       "13800000001", "大塘小区3栋2单元501室", "G1");
    /* A traditional-character, full-width copy of another resident. */
    char id2[19];
    gh_test_make_id18(id2, 1981, 7, 9, 22);
    gh_test_insert_row(s->dept, "T1", "刘德华", id2, 1, "1981-07-09",
                       "13900000002", "童家社区5栋101", "G2");
    gh_test_insert_row(s->dept, "T2", "劉德華", NULL, 1, "1981-07-09",
                       "+86 139 0000 0002", "童家社区五栋一零一", "G2");
    /* 王伟 twice: the commonest name, different births, flats, phones. */
    gh_test_insert_row(s->dept, "C1", "王伟", NULL, 1, "1985-01-01",
                       "13700000001", "新化县上梅镇1号", "G3");
    gh_test_insert_row(s->dept, "C2", "王伟", NULL, 1, "1990-02-02",
                       "13700000002", "冷水江市2号", "G4");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);

    char *h1 = pid_of("H1"), *h2 = pid_of("H2"), *t1 = pid_of("T1"),
         *t2 = pid_of("T2"), *c1 = pid_of("C1"), *c2 = pid_of("C2");
    cr_assert_str_eq(h1, h2, "a homophone typo of the same resident links");
    cr_assert_str_eq(t1, t2, "traditional/full-width copy links");
    cr_assert_str_neq(c1, c2, "two different 王伟 must not link");
    json_t *fold = view(s);
    cr_assert_eq(json_object_size(fold), 4, "%s",
                 json_dumps(fold, JSON_COMPACT));
    json_t *p = json_object_get(fold, h1);
    cr_assert_str_eq(json_string_value(json_object_get(p, "id_number")), id);
    cr_assert_eq(json_array_size(json_object_get(p, "sources")), 2);
    cr_assert(json_array_size(json_object_get(p, "provenance")) >= 5,
              "every golden field carries its provenance: %s",
              json_dumps(p, JSON_COMPACT));
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(fold, t1), "name")),
        "刘德华", "golden name is normalized (simplified)");
    gh_test_stop_clean(s);
    json_decref(fold);
    free(h1);
    free(h2);
    free(t1);
    free(t2);
    free(c1);
    free(c2);
}

Test(identity, shared_id_goes_to_review) {
    gh_test_stack_t *s = start(NULL);
    char id[19];
    gh_test_make_id18(id, 1975, 5, 6, 33);
    gh_test_insert_row(s->dept, "S1", "李秀兰", id, 2, "1975-05-06",
                       "13600000001", "大塘小区1栋101", "G1");
    /* The same ID typed on someone else: other name, sex, birth date. */
    gh_test_insert_row(s->dept, "S2", "赵志强", id, 1, "2001-11-12",
                       "13600000009", "童家社区9栋909", "G2");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    char *p1 = pid_of("S1"), *p2 = pid_of("S2");
    cr_assert_str_neq(p1, p2, "one ID on two people is not a link");
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM steward_item WHERE "
                                      "kind = 'shared_id' AND status = 'open'"),
                 1);
    const char *const list[] = {"list", NULL};
    char *out = steward(s, 0, list);
    cr_assert(strstr(out, "shared_id"), "%s", out);
    free(out);
    char *item = gh_test_scalar(g_hub, "SELECT item_id FROM steward_item "
                                       "WHERE kind = 'shared_id'");
    const char *const show[] = {"show", item, NULL};
    out = steward(s, 0, show);
    cr_assert(strstr(out, "李秀兰") && strstr(out, "赵志强") &&
                  strstr(out, "total"),
              "evidence lists both records field by field:\n%s", out);
    free(out);
    gh_test_stop_clean(s);
    free(item);
    free(p1);
    free(p2);
}

/* 一人多号: the same resident under two valid numbers (the second issued
 * under 娄底地区's old area code, same birth date and sequence number).
 * Clustering never joins two numbers, so the steward is told, with the
 * evidence, and a merge joins them; a record carrying another resident's
 * number (its date is not the record's) joins its holder, not the
 * number's owner, and the number on two people is reported. */
Test(identity, two_ids_and_foreign_id_reach_the_steward) {
    gh_test_stack_t *s = start(NULL);
    char id[19], old_code[19], other[19];
    gh_test_make_id18(id, 1958, 4, 9, 51);
    memcpy(old_code, "432501", 6);
    memcpy(old_code + 6, id + 6, 11);
    old_code[17] = gh_test_id_check(old_code);
    old_code[18] = '\0';
    gh_test_make_id18(other, 1984, 10, 2, 62);
    gh_test_insert_row(s->dept, "N1", "曾国华", id, 1, "1958-04-09",
                       "13700000051", "大塘小区5栋501", "G1");
    gh_test_insert_row(s->dept, "N2", "曾国华", old_code, 1, "1958-04-09",
                       "13700000051", "大塘小区5栋501", "G1");
    /* 李小梅's own number is `other`; a clerk typed 曾国华's on her row. */
    gh_test_insert_row(s->dept, "F1", "李小梅", other, 2, "1984-10-02",
                       "13700000062", "童家社区2栋202", "G2");
    gh_test_insert_row(s->dept, "F2", "李小梅", id, 2, "1984-10-02",
                       "13700000062", "童家社区2栋202", "G2");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    char *n1 = pid_of("N1"), *n2 = pid_of("N2"), *f1 = pid_of("F1"),
         *f2 = pid_of("F2");
    cr_assert_str_neq(n1, n2, "two valid numbers are never joined alone");
    cr_assert_str_eq(f1, f2,
                     "a foreign number does not keep its record from "
                     "its holder");
    cr_assert_str_neq(f2, n1, "nor joins it to the number's owner");
    json_t *fold = view(s);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(fold, f2), "id_number")),
                     other, "the holder's golden number is her own");
    json_decref(fold);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM steward_item WHERE "
                                      "kind = 'two_ids' AND status = 'open'"),
                 1);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM steward_item WHERE "
                                      "kind = 'shared_id' AND status = 'open'"),
                 1, "the number on two people is reported");
    char *item = gh_test_scalar(g_hub, "SELECT item_id FROM steward_item "
                                       "WHERE kind = 'two_ids'");
    const char *const show[] = {"show", item, NULL};
    char *out = steward(s, 0, show);
    cr_assert(strstr(out, "another area code") && strstr(out, "two-ids"),
              "evidence names the level and the decision:\n%s", out);
    free(out);
    const char *const merge[] = {"merge", item, "--reason", "一人多号, 已核实",
                                 NULL};
    free(steward(s, 0, merge));
    char *m1 = pid_of("N1"), *m2 = pid_of("N2");
    cr_assert_str_eq(m1, m2, "the steward's merge joins the two numbers");
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM steward_item WHERE "
                                      "kind = 'two_ids' AND status = 'open'"),
                 0);
    gh_test_stop_clean(s);
    free(item);
    free(m1);
    free(m2);
    free(n1);
    free(n2);
    free(f1);
    free(f2);
}

/* Merge, then the records change: the merge holds; split, then a record
 * changes to agree completely: they stay apart, also after a restart. */
Test(identity, steward_merge_split_respected, .timeout = 300) {
    gh_test_stack_t *s = start(NULL);
    char id[19];
    gh_test_make_id18(id, 1966, 6, 16, 41);
    gh_test_insert_row(s->dept, "M1", "张三丰", id, 1, "1966-06-16",
                       "13500000001", "大塘小区7栋701", "G1");
    gh_test_insert_row(s->dept, "M2", "张君宝", NULL, 1, "1976-01-02",
                       "13500000002", "武当山1号", "G9");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    char *a = pid_of("M1"), *b = pid_of("M2");
    cr_assert_str_neq(a, b);
    const char *older = strcmp(a, b) < 0 ? a : b;
    const char *newer = strcmp(a, b) < 0 ? b : a;

    /* A merge needs a reason. */
    const char *const noreason[] = {"merge", a, b, NULL};
    free(steward(s, 2, noreason));
    const char *const merge[] = {
        "merge", a, b, "--reason", "同一人, 已电话核实", NULL};
    char *out = steward(s, 0, merge);
    free(out);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(DISTINCT person_id) FROM "
                                      "source_person WHERE source_key IN "
                                      "('M1', 'M2')"),
                 1);
    char *m = pid_of("M2");
    cr_assert_str_eq(m, older, "a merge keeps the older id");
    free(m);
    gh_test_wait_settled(s, g_hub, SETTLE_MS); /* outbox published */
    json_t *fold = view(s);
    cr_assert(json_is_null(json_object_get(fold, newer)) ||
                  !json_object_get(fold, newer),
              "the absorbed id %s is tombstoned", newer);
    json_t *sv = json_object_get(fold, older);
    cr_assert_not_null(sv);
    cr_assert_eq(json_array_size(json_object_get(sv, "sources")), 2);
    cr_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(sv, "absorbed_ids"), 0)),
                     newer);
    json_decref(fold);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM steward_decision "
                                      "WHERE action = 'merge' AND decided_by "
                                      "= 'tester' AND db_role = "
                                      "current_user"),
                 1);
    /* The decision is in the audit log, with the database role that made
     * it, and cannot be rewritten. */
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'steward' AND entry LIKE '%%\"action\":"
                               "\"merge\"%%' AND entry LIKE "
                               "'%%\"db_role\":\"%%' AND entry LIKE "
                               "'%%\"by\":\"tester\"%%'"),
                 1);
    PGresult *ur = PQexec(g_hub, "UPDATE steward_decision SET reason = 'x'");
    cr_assert_eq(PQresultStatus(ur), PGRES_FATAL_ERROR,
                 "steward_decision took an UPDATE");
    cr_assert(strstr(PQresultErrorMessage(ur), "append-only"), "%s",
              PQresultErrorMessage(ur));
    PQclear(ur);

    /* M2 changes (new phone, new address): the manual merge holds. */
    gh_test_exec(s->dept, "UPDATE zz_syrk SET lxdh = '13511111111', jzdz = "
                          "'别处', gxsj = clock_timestamp() WHERE rkbh = 'M2'");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    m = pid_of("M2");
    cr_assert_str_eq(m, older, "a manual merge is never auto-split");
    free(m);

    /* Split M2 out again. */
    const char *const split[] = {"split",    older,          "test:M2",
                                 "--reason", "两个不同的人", NULL};
    free(steward(s, 0, split));
    char *m1 = pid_of("M1"), *m2 = pid_of("M2");
    /* Records reach the hub in any order (several partitions): the keeper
     * is whichever record the hub saw first. */
    char *first =
        gh_test_scalar(g_hub, "SELECT source_key FROM source_person WHERE "
                              "source_key IN ('M1', 'M2') ORDER BY rec_id "
                              "LIMIT 1");
    int m1_first = !strcmp(first, "M1");
    free(first);
    cr_assert_str_eq(m1_first ? m1 : m2, older,
                     "the part with the oldest record keeps the id");
    cr_assert_str_neq(m1_first ? m2 : m1, older,
                      "the other part is a new person");
    cr_assert_str_neq(m1, m2);
    cr_assert_str_neq(m1_first ? m2 : m1, newer,
                      "a retired id is never reused");
    /* Now M2 takes M1's ID, name and birth: it would link by ID, but the
     * steward said otherwise. */
    gh_test_exec(s->dept,
                 "UPDATE zz_syrk SET gmsfhm = '%s', xm = '张三丰', csrq = "
                 "'1966-06-16', gxsj = clock_timestamp() WHERE rkbh = 'M2'",
                 id);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    char *m2b = pid_of("M2");
    cr_assert_str_eq(m2b, m2, "kept apart despite agreeing IDs");
    /* ... and after a restart of the hub and one more change. */
    cr_assert_eq(gh_test_stop(s->hub, 20000), 0);
    gh_test_stack_start_hub(s, NULL);
    gh_test_exec(s->dept, "UPDATE zz_syrk SET lxdh = '13500000001', gxsj = "
                          "clock_timestamp() WHERE rkbh = 'M2'");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    char *m2c = pid_of("M2");
    cr_assert_str_eq(m2c, m2, "decisions survive a restart");
    json_t *fold2 = view(s);
    cr_assert_not_null(json_object_get(fold2, m2));
    cr_assert_not_null(json_object_get(fold2, older));
    json_decref(fold2);
    gh_test_stop_clean(s);
    free(m1);
    free(m2);
    free(m2b);
    free(m2c);
    free(a);
    free(b);
}

/* With review-only thresholds, a likely duplicate waits for a steward;
 * keep-apart resolves it for good; choose overrides a golden value. */
Test(identity, review_keep_apart_choose) {
    const char *const review[] = {"match.link.threshold=60",
                                  "match.review.threshold=-20", NULL};
    gh_test_stack_t *s = start(review);
    gh_test_insert_row(s->dept, "R1", "欧阳子涵", NULL, 2, "2010-04-05",
                       "13400000001", "大塘小区2栋201", "G1");
    gh_test_insert_row(s->dept, "R2", "欧阳子涵", NULL, 2, "2010-04-05",
                       "13400000001", "大塘小区2栋201", "G1");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    char *p1 = pid_of("R1"), *p2 = pid_of("R2");
    cr_assert_str_neq(p1, p2, "below the link threshold: not linked");
    char *item = gh_test_scalar(g_hub, "SELECT item_id FROM steward_item "
                                       "WHERE kind = 'possible_duplicate' AND "
                                       "status = 'open'");
    cr_assert_not_null(item, "a review item for the pair");
    const char *const apart[] = {"keep-apart", item, "--reason", "双胞胎",
                                 NULL};
    free(steward(s, 0, apart));
    cr_assert_eq(gh_test_count(g_hub,
                               "SELECT count(*) FROM steward_item "
                               "WHERE item_id = %s AND status = "
                               "'resolved'",
                               item),
                 1);
    /* R2 changes: the pair is re-scored but not queued again. */
    gh_test_exec(s->dept, "UPDATE zz_syrk SET lxdh = '13400000002', gxsj = "
                          "clock_timestamp() WHERE rkbh = 'R2'");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    cr_assert_eq(gh_test_count(g_hub, "SELECT count(*) FROM steward_item "
                                      "WHERE kind = 'possible_duplicate' AND "
                                      "status = 'open'"),
                 0, "a kept-apart pair is not queued again");

    const char *const choose[] = {
        "choose", p1, "phone", "13499999999", "--reason", "本人来电", NULL};
    free(steward(s, 0, choose));
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    json_t *fold = view(s);
    json_t *v = json_object_get(fold, p1);
    cr_assert_str_eq(json_string_value(json_object_get(v, "phone")),
                     "13499999999", "the steward's value wins");
    int from_steward = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(v, "provenance"), i, e) {
        if (!strcmp(json_string_value(json_object_get(e, "field")), "phone"))
            from_steward = !strcmp(
                json_string_value(json_object_get(e, "department")), "steward");
    }
    cr_assert(from_steward, "provenance says steward: %s",
              json_dumps(v, JSON_COMPACT));
    const char *const bad[] = {"choose",   p1,  "shoe_size", "42",
                               "--reason", "x", NULL};
    char *out = steward(s, 2, bad);
    cr_assert(strstr(out, "shoe_size"), "%s", out);
    free(out);
    json_decref(fold);
    gh_test_stop_clean(s);
    free(item);
    free(p1);
    free(p2);
}

/* ---- the hub clusters as `gridhub resolve` does --------------------------
 */

/* A department row as this test writes it; NULL columns are NULL. */
typedef struct row {
    const char *key, *name;
    char id[19]; /* "" for none */
    const char *sex, *birth, *phone, *addr;
} row_t;

static void insert(gh_test_stack_t *s, const row_t *r) {
    char id[24], phone[40], addr[256], birth[24];
    snprintf(id, sizeof(id), r->id[0] ? "'%s'" : "NULL", r->id);
    snprintf(birth, sizeof(birth), r->birth ? "'%s'" : "NULL", r->birth);
    snprintf(phone, sizeof(phone), r->phone ? "'%s'" : "NULL", r->phone);
    snprintf(addr, sizeof(addr), r->addr ? "'%s'" : "NULL", r->addr);
    gh_test_exec(s->dept,
                 "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, "
                 "wgbm, bz, gxsj) VALUES ('%s', '%s', %s, '%s', %s, %s, %s, "
                 "'G1', 'remark', clock_timestamp())",
                 r->key, r->name, id, r->sex, birth, phone, addr);
}

/* The model both sides use, pinned: every m, u and lambda of the built-in
 * priors as match.pin.* properties, no EM in the hub and no term
 * frequencies (the hub counts names as records arrive, so a pair scored
 * early weighs its names differently from the batch, which counts the
 * whole input first). A difference in the clusters can then only come
 * from the clustering. Returns a NULL-terminated list of key=value
 * strings (free with free_props). */
static char **pinned_model_props(void) {
    char err[256];
    gh_match_model_t *m = gh_match_model_new(NULL, err, sizeof(err));
    cr_assert_not_null(m, "%s", err);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gh_match_model_write(m, f);
    fclose(f);
    gh_match_model_destroy(m);
    size_t n = 0;
    char **props = gh_xcalloc(64, sizeof(char *));
    props[n++] = gh_xstrdup("match.em.on.start=false");
    props[n++] = gh_xstrdup("match.tf.enabled=false");
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save))
        if (l[0] != '#') {
            cr_assert_lt(n, 63);
            props[n++] = gh_xstrdup(l);
        }
    free(text);
    return props;
}

static void free_props(char **props) {
    for (size_t i = 0; props[i]; i++)
        free(props[i]);
    free(props);
}

/* The batch engine (gh_match_resolve) on `rows` with the model of
 * `props`: cluster_of per row. Returns the number of ambiguous records. */
static size_t batch_clusters(char *const *props, const row_t *rows, size_t n,
                             uint32_t *cluster_of) {
    static const gh_conf_prop_t table[] = {GH_MATCH_CONF_PROPS, GH_CONF_END};
    char err[256];
    gh_conf_t *c = gh_conf_new("test", table);
    for (size_t i = 0; props[i]; i++) {
        char *kv = gh_xstrdup(props[i]), *eq = strchr(kv, '=');
        *eq = '\0';
        if (strcmp(kv, "match.em.on.start") &&
            strcmp(kv, "crypt.key.file")) /* hub properties */
            cr_assert_eq(gh_conf_set(c, "test", kv, eq + 1, err, sizeof(err)),
                         GH_OK, "%s", err);
        free(kv);
    }
    gh_match_model_t *m = gh_match_model_new(c, err, sizeof(err));
    cr_assert_not_null(m, "%s", err);
    gh_match_set_t *set = gh_match_set_new();
    for (size_t i = 0; i < n; i++) {
        /* As the test mapping gives them to the hub: codes.xb. */
        gh_match_raw_t raw = {
            .department = "test",
            .source_key = rows[i].key,
            .name = rows[i].name,
            .id_number = rows[i].id[0] ? rows[i].id : NULL,
            .sex = !strcmp(rows[i].sex, "1")   ? "MALE"
                   : !strcmp(rows[i].sex, "2") ? "FEMALE"
                                               : "UNKNOWN",
            .birth_date = rows[i].birth,
            .phone = rows[i].phone,
            .address = rows[i].addr,
        };
        gh_match_set_add_raw(set, &raw);
    }
    gh_match_batch_stats_t st;
    cr_assert_eq(gh_match_resolve(m, set, cluster_of, &st, err, sizeof(err)),
                 GH_OK, "%s", err);
    gh_match_set_destroy(set);
    gh_match_model_destroy(m);
    gh_conf_destroy(c);
    return st.ambiguous;
}

/* Asserts that the hub's persons partition `rows` as the batch's clusters
 * do: two rows share a person exactly when they share a cluster. */
static void assert_same_partition(const char *stage, const row_t *rows,
                                  size_t n, const uint32_t *cluster_of) {
    char **pid = gh_xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        pid[i] = pid_of(rows[i].key);
        cr_assert_not_null(pid[i], "%s: %s has no person", stage, rows[i].key);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            int hub = !strcmp(pid[i], pid[j]);
            int batch = cluster_of[i] == cluster_of[j];
            cr_assert_eq(hub, batch,
                         "%s: the hub puts %s and %s %s, the batch %s", stage,
                         rows[i].key, rows[j].key, hub ? "together" : "apart",
                         batch ? "together" : "apart");
        }
    for (size_t i = 0; i < n; i++)
        free(pid[i]);
    free(pid);
}

/*
 * The same records, the same pinned model: the hub's persons are the
 * batch's clusters. The records hold a 计生 row of a boy without ID (J)
 * whose name, sex and birth date fit two boys with valid IDs (A, B) equally
 * well: both paths leave it alone, also after J itself changes.
 */
Test(identity, hub_clusters_as_batch, .timeout = 300) {
    row_t rows[] = {
        /* Two boys of one name born the same day, twice each. */
        {"A1", "张铭宸", "", "1", "2012-07-06", NULL, "大塘小区6栋1单元502"},
        {"A2", "张铭宸", "", "1", "2012-07-06", "13800000012",
         "大塘小区6栋1单元502"},
        {"B1", "张铭宸", "", "1", "2012-07-06", NULL, "牛角村27组20号"},
        {"B2", "张铭宸", "", "1", "2012-07-06", NULL, "牛角村27组20号"},
        /* ... and the 计生 row that fits both. */
        {"J", "张铭宸", "", "1", "2012-07-06", NULL, NULL},
        /* A girl without ID who fits one of two namesakes far better
         * (phone and flat): linked to her. */
        {"D1", "李梓萱", "", "2", "2015-03-02", "13700008888",
         "童家社区8栋302"},
        {"E1", "李梓萱", "", "2", "2015-03-02", "13700009999",
         "冷水江市锡矿山2号"},
        {"K", "李梓萱", "", "2", "2015-03-02", "13700008888", "童家社区8栋302"},
        /* Ordinary duplicates: a homophone typo without ID, a
         * traditional, full-width copy; two different 王伟. */
        {"H1", "王建国", "", "1", "1970-03-04", "13800000001",
         "大塘小区3栋2单元501"},
        {"H2", "王建帼", "", "1", "1970-03-04", "13800000001",
         "大塘小区3栋2单元501室"},
        {"T1", "刘德华", "", "1", "1981-07-09", "13900000002",
         "童家社区5栋101"},
        {"T2", "劉德華", "", "1", "1981-07-09", "+86 139 0000 0002",
         "童家社区五栋一零一"},
        {"C1", "王伟", "", "1", "1985-01-01", "13700000001", "新化县上梅镇1号"},
        {"C2", "王伟", "", "1", "1990-02-02", "13700000002", "冷水江市2号"},
        /* A record with a valid ID but no birth date or sex (F1), and one
         * without ID (F2): the batch takes F1's date and sex from its
         * number, so must the hub, or the two score them apart. */
        {"F1", "周秀英", "", "9", NULL, NULL, "石井社区4栋201"},
        {"F2", "周秀英", "", "2", "1980-03-04", NULL, "石井社区4栋201"},
    };
    const size_t n = sizeof(rows) / sizeof(rows[0]);
    gh_test_make_id18(rows[0].id, 2012, 7, 6, 11); /* A */
    memcpy(rows[1].id, rows[0].id, 19);
    gh_test_make_id18(rows[2].id, 2012, 7, 6, 13); /* B */
    memcpy(rows[3].id, rows[2].id, 19);
    gh_test_make_id18(rows[5].id, 2015, 3, 2, 22); /* D */
    gh_test_make_id18(rows[6].id, 2015, 3, 2, 24); /* E */
    gh_test_make_id18(rows[8].id, 1970, 3, 4, 11);
    gh_test_make_id18(rows[10].id, 1981, 7, 9, 21);
    gh_test_make_id18(rows[14].id, 1980, 3, 4, 42); /* F1: a woman */

    char **props = pinned_model_props();
    uint32_t cl[sizeof(rows) / sizeof(rows[0])];
    size_t ambiguous = batch_clusters(props, rows, n, cl);
    /* The batch itself does what the test is about. */
    cr_assert_eq(ambiguous, 1, "J is the one ambiguous record");
    cr_assert(cl[4] == 4 && cl[1] == 0 && cl[3] == 2, "J alone, A and B");
    cr_assert(cl[7] == cl[5] && cl[6] != cl[5], "K with D only");
    cr_assert(cl[9] == cl[8] && cl[11] == cl[10] && cl[12] != cl[13]);
    cr_assert(cl[15] == cl[14], "F2 with F1 (its date and sex from its ID)");

    gh_test_stack_t *s = start((const char *const *)props);
    for (size_t i = 0; i < n; i++)
        insert(s, &rows[i]);
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    assert_same_partition("all rows", rows, n, cl);

    /* Not checked: A1 alone changing. The hub then re-clusters A's person
     * and J without B's (which did not change), so it cannot see J's
     * rival and joins J to A where the batch leaves J alone. Loading the
     * rivals of every record without a valid ID into each run fixed it,
     * but stalled the hub's household views on the demo (docs/identity.md,
     * "Clustering"); a cheaper way is left to do. */
    /* ... and J changes too. */
    rows[4].phone = "13800000099";
    gh_test_exec(s->dept, "UPDATE zz_syrk SET lxdh = '13800000099', gxsj = "
                          "clock_timestamp() WHERE rkbh = 'J'");
    gh_test_wait_settled(s, g_hub, SETTLE_MS);
    batch_clusters(props, rows, n, cl);
    assert_same_partition("after J changed", rows, n, cl);
    gh_test_stop_clean(s);
    free_props(props);
}

/* Settled with sealed data (gh_test_wait_live). */
static void wait_live(gh_test_stack_t *s, long want) {
    cr_assert(gh_test_wait_live(g_hub, want, SETTLE_MS),
              "the hub did not settle on %ld rows; hub log: %s", want,
              gh_test_stack_hub_log(s));
}

/*
 * A foreign number's holder lends their flat (gridhub/match.h, "Where a
 * foreign number came from") in the hub as in the batch, also when the
 * holder comes after the borrower and its candidate, and when the holder
 * goes. PJ is P's 计生 row with his daughter X's number and no address.
 */
Test(identity, holders_flat_as_batch, .timeout = 300) {
    row_t rows[] = {
        {"P", "陈伟", "", "1", "1995-12-01", "13983499035",
         "新星社区7栋2单元101"},
        {"PJ", "陈伟", "", "1", "1995-12-01", "13701813675", NULL},
        {"X", "陈欣然", "", "2", "2023-08-18", NULL,
         "新星路74号新星花园7栋2单元101室"},
    };
    gh_test_make_id18(rows[0].id, 1995, 12, 1, 79);
    gh_test_make_id18(rows[2].id, 2023, 8, 18, 342);
    memcpy(rows[1].id, rows[2].id, 19);

    char **props = pinned_model_props();
    /* Encryption at rest on: the hub opens the holders' sealed numbers and
     * addresses it reads through the id17 blocks. */
    char *dir = gh_test_tmpdir(), *kf = gh_xasprintf("%s/hub.keys", dir),
         *log = gh_xasprintf("%s/keys.log", dir);
    const char *gen[] = {GH_BINARY,          "keys", "generate",
                         "--crypt-key-file", kf,     NULL};
    cr_assert_eq(gh_test_run(gen, log, 60000), 0, "%s",
                 gh_test_file_tail(log, 2000));
    size_t np = 0;
    while (props[np])
        np++;
    cr_assert_lt(np, 63);
    props[np] = gh_xasprintf("crypt.key.file=%s", kf);
    uint32_t cl[3];
    /* The batch itself does what the test is about: without X, PJ is
     * nobody's; with X, PJ is P's. */
    batch_clusters(props, rows, 2, cl);
    cr_assert_neq(cl[0], cl[1], "without the holder: apart");
    batch_clusters(props, rows, 3, cl);
    cr_assert(cl[0] == cl[1] && cl[2] != cl[0], "with the holder: PJ is P's");

    gh_test_stack_t *s = start((const char *const *)props);
    insert(s, &rows[0]);
    insert(s, &rows[1]);
    wait_live(s, 2);
    batch_clusters(props, rows, 2, cl);
    assert_same_partition("before the holder", rows, 2, cl);

    /* X alone changes: PJ's pairs are scored again with her flat. */
    insert(s, &rows[2]);
    wait_live(s, 3);
    batch_clusters(props, rows, 3, cl);
    assert_same_partition("the holder came", rows, 3, cl);

    /* ... and goes: nothing to lend any more. */
    gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh = 'X'");
    wait_live(s, 2);
    batch_clusters(props, rows, 2, cl);
    assert_same_partition("the holder went", rows, 2, cl);
    gh_test_stop_clean(s);
    free_props(props);
    gh_test_rmtree(dir);
    free(dir);
    free(kf);
    free(log);
}
