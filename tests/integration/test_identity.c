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
