/*
 * Buildings on the subscribers' topic, and each resident's current grid
 * from where they actually live (docs/grid.md, "Buildings", "Current
 * grid").
 *
 * 综治's and 公安's real files in one department database (their houses,
 * standard addresses, residents and residence registrations). Checked:
 * the building view after the snapshot and as records are inserted,
 * updated, deleted and truncated (a building typed two ways is one
 * record with both departments'); a resident whose 公安 residence and 综治
 * record put her in different grids gets the grid of her building, with
 * the registration as provenance and a steward item, until a steward
 * chooses; a resident only 公安 knows gets her building's finer grid; a
 * move of residence moves the resident and both grids' counts.
 */
#include "grid_fixture.h"
#include "pipeline.h"
#include "policy.h"
#include "stack.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

TestSuite(place, .timeout = 240, .fini = gf_fini);

static const char TOPICS[] =
    "gridhub.zongzhi.grid,gridhub.zongzhi.building,gridhub.gongan.building,"
    "gridhub.zongzhi.person,gridhub.gongan.person,gridhub.gongan."
    "residence_registration";

static const char POLICY[] = "subscriber.test.department=test\n"
                             "subscriber.test.role=tests\n"
                             "rows.test.person=all\n"
                             "field.test.person.*=clear\n"
                             "rows.test.grid=all\n"
                             "field.test.grid.*=clear\n"
                             "rows.test.building=all\n"
                             "field.test.building.*=clear\n"
                             "field.test.building.room_no=drop\n"
                             "subscriber.other.department=other\n"
                             "subscriber.other.role=tests\n"
                             "rows.other.person=all\n"
                             "field.other.person.*=clear\n";

static gh_test_stack_t *start(void) {
    gh_test_stack_t *s = gf_two_departments("zongzhi", "gongan", TOPICS, NULL);
    gh_test_stack_set_policy(s, POLICY);
    gf_wait_grids_published(s);
    return s;
}

/* "<grid> <records as department:key, sorted>" of building `id` as
 * subscriber "test" last received it; "gone" for a tombstone, "none" if
 * it never did. */
static char *sent_building(gh_test_stack_t *s, const char *id) {
    char key[33];
    gh_test_pseudonym("test", "building", id, key);
    json_t *lines = gh_test_tail(s, "hub.view.test.building", 3000);
    json_t *last = NULL;
    int seen = 0;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *k = json_string_value(json_object_get(l, "key"));
        if (k && !strcmp(k, key)) {
            last = json_object_get(l, "value");
            seen = 1;
        }
    }
    gh_buf_t b = {0};
    if (!seen || !json_is_object(last)) {
        gh_buf_printf(&b, "%s", seen ? "gone" : "none");
    } else {
        cr_assert_str_eq(
            json_string_value(json_object_get(last, "building_id")), id);
        const char *g = json_string_value(json_object_get(last, "grid_code"));
        gh_buf_printf(&b, "%s", g ? g : "-");
        json_t *r;
        json_array_foreach(json_object_get(last, "records"), i, r)
            gh_buf_printf(&b, " %s:%s",
                          json_string_value(json_object_get(r, "department")),
                          json_string_value(json_object_get(r, "source_key")));
    }
    json_decref(lines);
    return gh_buf_detach(&b);
}

static void expect_sent(gh_test_stack_t *s, const char *id, const char *want,
                        const char *what) {
    gf_wait_hub("the outbox relayed", GH_TEST_UNSENT_SQL, "0");
    char *got = sent_building(s, id);
    cr_assert_str_eq(got, want, "%s: building %s", what, id);
    free(got);
}

/* What the hub holds of building `id`: "<grid> <records>" as sent. */
static void wait_building(const char *id, const char *want, const char *what) {
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT CASE WHEN NOT active THEN 'gone' ELSE concat_ws(' ', "
             "coalesce(body ->> 'grid_code', '-'), (SELECT string_agg(r ->> "
             "'department' || ':' || (r ->> 'source_key'), ' ') FROM "
             "jsonb_array_elements(body -> 'records') r)) END FROM "
             "entity_view WHERE entity = 'building' AND id = '%s'",
             id);
    gf_wait_hub(what, sql, want);
}

/* 公安 registers 童家社区3栋303 with its standard address code. */
static void register_tj303(gh_test_stack_t *s) {
    gh_test_exec(s->dept,
                 "INSERT INTO ga_bzdz (dzbm, xzqhdm, jdxzdm, sqjwhdm, jlxmc, "
                 "mph, xqmc, ldh, dyh, hsh, dzjb, dzqc, pcsdm, zrqdm, zxbz, "
                 "djsj, gxsj) VALUES ('4313020020020003010303', '431302', "
                 "'431302002', '431302002002', '童家路', '26号', '童家新村', "
                 "'3栋', '1单元', '303室', '5', '童家新村3栋1单元303室', "
                 "'431302510000', 'ZRQ-4313020102', '0', now(), now())");
}

Test(place, buildings_snapshot_insert_update_delete_truncate) {
    gh_test_stack_t *s = start();
    /* Snapshot: one view record per golden building: 公安's standard
     * addresses, and 综治's houses with no code of those, but for the one
     * house the sample types without its code (FW0010301, 公安's
     * 3栋301). */
    char *want = gh_test_scalar(
        s->dept, "SELECT (SELECT count(*) FROM ga_bzdz WHERE zxbz = '0') + "
                 "(SELECT count(*) FROM zz_fw f WHERE NOT EXISTS (SELECT 1 "
                 "FROM ga_bzdz b WHERE b.dzbm = f.bzdzbm AND b.zxbz = '0')) "
                 "- 1");
    gf_wait_hub("every building in the view",
                "SELECT count(*) FROM entity_view WHERE entity = 'building' "
                "AND active",
                want);
    free(want);
    /* 童家社区3栋301 typed two ways: one record with both departments'. */
    const char *tj301 = "4313020020020003010301";
    wait_building(tj301,
                  "LP-TJ-01 gongan:4313020020020003010301 "
                  "zongzhi:FW0010301",
                  "a building typed two ways");
    expect_sent(s, tj301,
                "LP-TJ-01 gongan:4313020020020003010301 zongzhi:FW0010301",
                "after the snapshot");
    /* The policy holds for buildings as for persons: test's copy has no
     * room number (dropped), and subscriber other, given persons but no
     * building rule, is sent no building. */
    json_t *last = gf_last_sent(s, "building", tj301);
    cr_assert(json_is_object(last));
    cr_assert_str_eq(json_string_value(json_object_get(last, "building_no")),
                     "3");
    cr_assert_null(json_object_get(last, "room_no"),
                   "room_no was sent despite field.test.building.room_no=drop");
    json_decref(last);
    gf_wait_hub("persons for subscriber other",
                "SELECT count(*) > 0 FROM feed_state WHERE subscriber = "
                "'other' AND entity = 'person' AND digest IS NOT NULL",
                "t");
    cr_assert_eq(gh_test_count(gf_hub, "SELECT count(*) FROM feed_state "
                                       "WHERE subscriber = 'other' AND entity "
                                       "<> 'person' AND digest IS NOT NULL"),
                 0, "subscriber other was sent records it has no rule for");

    /* Insert: a new room, 公安's with its code, 综治's typed without. */
    register_tj303(s);
    gh_test_exec(s->dept, "INSERT INTO zz_fw (fwbh, bzdzbm, fwdz, sqbm, ldh, "
                          "dyh, fh, wgbm, fwyt) VALUES ('FW0010303', NULL, "
                          "'童家社区3栋303', 'LP-TJ', '3', NULL, '303室', "
                          "'LP-TJ-01', '1')");
    const char *tj303 = "4313020020020003010303";
    wait_building(tj303,
                  "LP-TJ-01 gongan:4313020020020003010303 "
                  "zongzhi:FW0010303",
                  "a new room from two departments");

    /* Update: 综治 moves its house to the other grid of the community. */
    gh_test_exec(s->dept, "UPDATE zz_fw SET wgbm = 'LP-TJ-02', gxsj = now() "
                          "WHERE fwbh = 'FW0010303'");
    wait_building(tj303,
                  "LP-TJ-02 gongan:4313020020020003010303 "
                  "zongzhi:FW0010303",
                  "the house's grid changed");

    /* Delete: 公安 cancels the code (the row goes): 综治's house stands
     * alone under its own id, the code's record is tombstoned. */
    gh_test_exec(s->dept,
                 "DELETE FROM ga_bzdz WHERE dzbm = '4313020020020003010303'");
    wait_building(tj303, "gone", "the code's building without records");
    wait_building("B:zongzhi:FW0010303", "LP-TJ-02 zongzhi:FW0010303",
                  "the house on its own");
    expect_sent(s, tj303, "gone", "after the delete");
    expect_sent(s, "B:zongzhi:FW0010303", "LP-TJ-02 zongzhi:FW0010303",
                "after the delete");

    /* 公安 registers the code again: the house joins it, and its own
     * building, left with no record, is tombstoned (it stayed published
     * before migration 019). */
    register_tj303(s);
    wait_building(tj303,
                  "LP-TJ-02 gongan:4313020020020003010303 "
                  "zongzhi:FW0010303",
                  "the code back, the house in it");
    wait_building("B:zongzhi:FW0010303", "gone",
                  "the house's own building, left empty");
    expect_sent(s, "B:zongzhi:FW0010303", "gone", "after the code came back");
    gf_recount_agrees(s, "after the buildings' changes");

    /* Truncate 综治's houses: the buildings only 综治 had go, the others
     * keep 公安's record. */
    gh_test_exec(s->dept, "TRUNCATE zz_fw");
    wait_building("B:zongzhi:FW0010303", "gone", "综治's houses truncated");
    wait_building(tj301, "LP-TJ gongan:4313020020020003010301",
                  "公安's record stays, in its beat's community");
    expect_sent(s, tj301, "LP-TJ gongan:4313020020020003010301",
                "after the truncate");
    cr_assert_eq(gh_test_count(gf_hub, "SELECT count(*) FROM view_link WHERE "
                                       "entity = 'building' AND department = "
                                       "'zongzhi'"),
                 0, "no link to a truncated record is left");
    gh_test_stop_clean(s);
}

/* "<grid> <basis> <building>" of the golden person of a department
 * record. */
static void wait_person(const char *dept, const char *key, const char *want,
                        const char *what) {
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT concat_ws(' ', a.grid_code, a.grid_basis, "
             "coalesce(a.building_id, '-')) FROM person_attr a JOIN "
             "source_person sp USING (person_id) WHERE sp.department = '%s' "
             "AND sp.source_key = '%s'",
             dept, key);
    gf_wait_hub(what, sql, want);
}

static char *person_of(const char *dept, const char *key) {
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT person_id FROM source_person WHERE department = '%s' AND "
             "source_key = '%s'",
             dept, key);
    return gh_test_scalar(gf_hub, "%s", sql);
}

static const char OPEN_ITEM[] =
    "SELECT coalesce(string_agg(item_id::text, ','), 'none') FROM "
    "steward_item WHERE kind = 'grid_conflict' AND status = 'open' AND "
    "person_a = '%s'";

static char *open_item(const char *pid) {
    return gh_test_scalar(gf_hub, OPEN_ITEM, pid);
}

Test(place, current_grid_from_the_residence) {
    gh_test_stack_t *s = start();
    gf_wait_hub("every resident resolved",
                "SELECT count(*) FROM source_person WHERE person_id IS NULL",
                "0");
    /* 张伟: 综治 and his 公安 residence agree (LP-DT-01): the records'. */
    wait_person("zongzhi", "ZZ0001", "LP-DT-01 RECORDS 4313020020010001010101",
                "张伟: building and records agree");
    /* 王丽, only in 公安 (whose beat gives the community LP-DT): her
     * building's grid is finer and agrees. */
    wait_person("gongan", "hjrk/R43130200010002",
                "LP-DT-01 BUILDING 4313020020010001010101",
                "王丽: the building's finer grid");
    char *wl = person_of("gongan", "hjrk/R43130200010002");
    gf_wait_hub("the outbox relayed", GH_TEST_UNSENT_SQL, "0");
    json_t *v = gf_last_sent(s, "person", wl);
    cr_assert(json_is_object(v), "王丽 reached the subscriber");
    cr_assert_str_eq(json_string_value(json_object_get(v, "grid_code")),
                     "LP-DT-01");
    cr_assert_str_eq(json_string_value(json_object_get(v, "grid_basis")),
                     "BUILDING");
    cr_assert_str_eq(json_string_value(json_object_get(v, "room_no")), "101");
    int prov = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(v, "provenance"), i, p) {
        if (strcmp(json_string_value(json_object_get(p, "field")), "grid_code"))
            continue;
        prov++;
        cr_assert_str_eq(json_string_value(json_object_get(p, "department")),
                         "gongan");
        cr_assert_str_eq(json_string_value(json_object_get(p, "source_key")),
                         "hjrk/R43130200010002",
                         "the registration naming the building");
    }
    cr_assert_eq(prov, 1, "one provenance entry for grid_code");
    json_decref(v);
    free(wl);

    /* 王芳: 综治 now records her in 童家 (LP-TJ-01), 公安 still at 大塘
     * 2栋201 (LP-DT-02). Her building decides, and a steward looks. */
    long dt2 = gh_test_count(gf_hub, "SELECT (body ->> 'residents')::int "
                                     "FROM entity_view WHERE entity = "
                                     "'grid' AND id = 'LP-DT-02'");
    long tj1 = gh_test_count(gf_hub, "SELECT (body ->> 'residents')::int "
                                     "FROM entity_view WHERE entity = "
                                     "'grid' AND id = 'LP-TJ-01'");
    gh_test_exec(s->dept, "UPDATE zz_syrk SET wgbm = 'LP-TJ-01', gxsj = now() "
                          "WHERE rkbh = 'ZZ0003'");
    char *wf = person_of("zongzhi", "ZZ0003");
    gf_wait_hub("her records' grid",
                "SELECT grid_code FROM person WHERE "
                "person_id = (SELECT person_id FROM "
                "source_person WHERE source_key = "
                "'ZZ0003')",
                "LP-TJ-01");
    wait_person("zongzhi", "ZZ0003", "LP-DT-02 BUILDING 4313020020010002010201",
                "王芳: her residence's building, against her records");
    char *item = open_item(wf);
    cr_assert_neq(strcmp(item, "none"), 0, "a grid_conflict item for %s", wf);
    char *ev = gh_test_scalar(gf_hub,
                              "SELECT evidence ->> 'chosen' || ' ' || "
                              "(evidence -> 'values' -> 1 ->> 'value') FROM "
                              "steward_item WHERE item_id = %s",
                              item);
    cr_assert_str_eq(ev, "LP-DT-02 LP-TJ-01", "the evidence names both");
    free(ev);
    gf_recount_agrees(s, "with a conflicting resident");
    cr_assert_eq(gh_test_count(gf_hub, "SELECT (body ->> 'residents')::int "
                                       "FROM entity_view WHERE entity = "
                                       "'grid' AND id = 'LP-TJ-01'"),
                 tj1, "LP-TJ-01 does not count her");

    /* The steward sides with 综治's visit. */
    const char *const choose[] = {"choose",   item,       "LP-TJ-01",
                                  "--reason", "上门核实", NULL};
    char *out = NULL;
    int rc = gh_test_stack_steward(s, choose, &out);
    cr_assert_eq(rc, 0, "steward choose: %s", out);
    free(out);
    wait_person("zongzhi", "ZZ0003", "LP-TJ-01 STEWARD 4313020020010002010201",
                "王芳: the steward's choice");
    char sql[256];
    snprintf(sql, sizeof(sql), OPEN_ITEM, wf);
    gf_wait_hub("王芳's item closed", sql, "none");
    free(item);
    char want[64];
    snprintf(want, sizeof(want), "%ld %ld", dt2 - 1, tj1 + 1);
    gf_wait_hub("both grids' counts",
                "SELECT string_agg(body ->> 'residents', ' ' ORDER BY id) "
                "FROM entity_view WHERE entity = 'grid' AND id IN "
                "('LP-DT-02', 'LP-TJ-01')",
                want);

    /* 陈静 moves: 公安 records her residence at 大塘1栋102 (LP-DT-01)
     * while 综治 still has her at 童家 (LP-TJ-01): her current grid moves
     * with her building. */
    gh_test_exec(s->dept,
                 "UPDATE ga_hjrk SET sjjzdzbm = '4313020020010001010102', "
                 "gxsj = now() WHERE rybh = 'R43130200020043'");
    wait_person("zongzhi", "ZZ0005", "LP-DT-01 BUILDING 4313020020010001010102",
                "陈静 moved to 大塘1栋102");
    char *cj = person_of("zongzhi", "ZZ0005");
    char *cji = open_item(cj);
    cr_assert_neq(strcmp(cji, "none"), 0, "her records disagree: an item");
    free(cji);
    /* 综治 catches up: the item closes, the records' grid stands. */
    gh_test_exec(s->dept, "UPDATE zz_syrk SET wgbm = 'LP-DT-01', gxsj = now() "
                          "WHERE rkbh = 'ZZ0005'");
    wait_person("zongzhi", "ZZ0005", "LP-DT-01 RECORDS 4313020020010001010102",
                "综治 agrees with her building");
    snprintf(sql, sizeof(sql), OPEN_ITEM, cj);
    gf_wait_hub("陈静's item closed", sql, "none");
    free(cj);
    free(wf);
    gf_recount_agrees(s, "after the moves");
    gh_test_stop_clean(s);
}
