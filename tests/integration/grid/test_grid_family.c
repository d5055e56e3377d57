/*
 * Family-planning records (计生) in the person view (docs/grid.md, "Person
 * attributes"), and only where the policy grants them.
 *
 * 计生's and 公安's real files in one department database. Checked: each
 * record goes with the golden person the department's own person record
 * (person_key) resolved to — a birth registration, which has no ID number,
 * with the child — and one naming no person record by its ID number; the
 * subscriber granted the field receives the records, the one denied it
 * does not; inserts, updates that move a record to another resident,
 * deletes, a kill -9 of the hub while 2,000 records are applied and a
 * truncate follow, and `gridhub grid recount` agrees.
 */
#include "grid_fixture.h"
#include "pipeline.h"
#include "stack.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

TestSuite(family, .timeout = 240, .fini = gf_fini);

static const char TOPICS[] =
    "gridhub.gongan.person,gridhub.jisheng.person,gridhub.jisheng."
    "family_planning";

static const char POLICY[] = "subscriber.test.department=test\n"
                             "subscriber.test.role=tests\n"
                             "rows.test.person=all\n"
                             "field.test.person.*=clear\n"
                             "subscriber.other.department=other\n"
                             "subscriber.other.role=tests\n"
                             "rows.other.person=all\n"
                             "field.other.person.*=clear\n"
                             "field.other.person.family_planning=drop\n";

/* The golden person of 计生's member record `cybh`. */
static char *person_of(const char *cybh) {
    return gh_test_scalar(gf_hub,
                          "SELECT person_id FROM source_person WHERE "
                          "department = 'jisheng' AND source_key = '%s'",
                          cybh);
}

/* "<type>@<date> ..." of person `pid`'s family-planning records as the
 * hub holds them ('-' for none). */
static char *fp_sql(const char *pid) {
    return gh_xasprintf(
        "SELECT coalesce((SELECT string_agg(concat(r ->> 'record_type', '@', "
        "r ->> 'event_date', '/', r ->> 'source_key'), ' ' ORDER BY o) FROM "
        "jsonb_array_elements(a.family_planning) WITH ORDINALITY x(r, o)), "
        "'-') FROM person_attr a WHERE a.person_id = '%s'",
        pid);
}

static void wait_fp(const char *pid, const char *want, const char *what) {
    char *sql = fp_sql(pid);
    gf_wait_hub(what, sql, want);
    free(sql);
}

/* The same as subscriber `sub` last received it (`gridhub tail` writes
 * dates as text): "absent" when its record has no such field. */
static char *sent_fp(gh_test_stack_t *s, const char *sub, const char *pid) {
    json_t *last = gf_last_sent_to(s, sub, "person", pid);
    cr_assert(json_is_object(last), "%s received person %s", sub, pid);
    json_t *arr = json_object_get(last, "family_planning");
    gh_buf_t b = {0};
    if (!arr) gh_buf_printf(&b, "absent");
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        const char *t = json_string_value(json_object_get(r, "record_type"));
        const char *d = json_string_value(json_object_get(r, "event_date"));
        gh_buf_printf(&b, "%s%s@%s/%s", i ? " " : "", t ? t : "-", d ? d : "-",
                      json_string_value(json_object_get(r, "source_key")));
    }
    if (!b.len && arr) gh_buf_printf(&b, "-");
    json_decref(last);
    return gh_buf_detach(&b);
}

static void expect_sent(gh_test_stack_t *s, const char *sub, const char *pid,
                        const char *want, const char *what) {
    gf_wait_hub("the outbox relayed", GH_TEST_UNSENT_SQL, "0");
    char *got = sent_fp(s, sub, pid);
    cr_assert_str_eq(got, want, "%s: %s's copy of %s", what, sub, pid);
    free(got);
}

Test(family, records_follow_persons_and_policy) {
    /* A short session: the hub is killed -9 below, and its successor
     * waits for the group to notice. */
    gh_test_stack_t *s = gf_two_departments("gongan", "jisheng", TOPICS,
                                            "kafka.session.timeout.ms=6000");
    gh_test_stack_set_policy(s, POLICY);
    char *want = gh_test_scalar(
        s->dept, "SELECT (SELECT count(*) FROM ga_hjrk WHERE zxbz = '0') + "
                 "(SELECT count(*) FROM ga_ldrk WHERE zxbz = '0') + (SELECT "
                 "count(*) FROM js_jtcy WHERE zxbz = '0') || '/15'");
    gf_wait_hub("both departments' persons and 计生's family-planning records",
                "SELECT (SELECT count(*) FROM source_person) || '/' || (SELECT "
                "count(*) FROM source_row WHERE entity = 'family_planning')",
                want);
    free(want);
    char *wangli = person_of("431302002001000102");
    char *xinyi = person_of("431302002001000104");
    char *lina = person_of("431302002001000201");
    /* 王丽 is one person across both departments. */
    cr_assert_eq(gh_test_count(gf_hub,
                               "SELECT count(DISTINCT department) FROM "
                               "source_person WHERE person_id = '%s'",
                               wangli),
                 2, "王丽 is held by 公安 and 计生 as one person");

    /* Her card and three contraception measures, oldest first; the birth
     * of her daughter (no ID number) with the daughter. */
    const char *wangli_fp = "WCBA@2009-01-10/yfn/YF431302002001000102 "
                            "CONTRACEPTION@2011-03-05/jycs/JY2011030500021 "
                            "CONTRACEPTION@2020-04-15/jycs/JY2020041500008 "
                            "CONTRACEPTION@2021-06-10/jycs/JY2021061000016";
    wait_fp(wangli, wangli_fp, "王丽's records");
    wait_fp(xinyi, "BIRTH@2021-03-12/csdj/CS2021431302000045",
            "张欣怡's birth registration");
    wait_fp(lina, "WCBA@2012-03-20/yfn/YF431302002001000201", "李娜's card");

    /* The subscriber granted the field gets it, the other none of it. */
    expect_sent(s, "test", xinyi, "BIRTH@2021-03-12/csdj/CS2021431302000045",
                "the birth");
    expect_sent(s, "other", xinyi, "absent", "the birth");
    expect_sent(s, "other", wangli, "absent", "王丽's records");

    /* A new measure for 王丽; one record moved from her to 李娜 (its
     * person record changed); one deleted. */
    gh_test_exec(s->dept,
                 "INSERT INTO js_jycs (jlbh, yfnbh, cybh, jtbh, xm, sfzh, "
                 "cslx, csrq, ssdw, czy, czsj) VALUES ('JY2024090100001', "
                 "'YF431302002001000102', '431302002001000102', "
                 "'4313020020010001', '王丽', '43130219830715022X', '01', "
                 "'20240901', '乐坪街道计生服务站', 'jsy_dt01', now())");
    gh_test_exec(s->dept, "UPDATE js_jycs SET cybh = '431302002001000201', "
                          "xm = '李娜', sfzh = '431302198502020025', czsj = "
                          "now() WHERE jlbh = 'JY2011030500021'");
    gh_test_exec(s->dept, "DELETE FROM js_jycs WHERE jlbh = 'JY2020041500008'");
    wait_fp(wangli,
            "WCBA@2009-01-10/yfn/YF431302002001000102 "
            "CONTRACEPTION@2021-06-10/jycs/JY2021061000016 "
            "CONTRACEPTION@2024-09-01/jycs/JY2024090100001",
            "王丽's records after insert, move and delete");
    wait_fp(lina,
            "CONTRACEPTION@2011-03-05/jycs/JY2011030500021 "
            "WCBA@2012-03-20/yfn/YF431302002001000201",
            "李娜 gets the moved record");
    expect_sent(s, "test", lina,
                "CONTRACEPTION@2011-03-05/jycs/JY2011030500021 "
                "WCBA@2012-03-20/yfn/YF431302002001000201",
                "the moved record");

    /* A birth registered to the wrong child is corrected: it has no ID
     * number, so only its member record says whose it is. */
    char *zihan = person_of("431302002001000103");
    gh_test_exec(s->dept, "UPDATE js_csdj SET cybh = '431302002001000103', "
                          "czsj = now() WHERE csdjbh = 'CS2021431302000045'");
    wait_fp(zihan,
            "BIRTH@2010-09-01/csdj/CS2010431302000123 "
            "BIRTH@2021-03-12/csdj/CS2021431302000045",
            "张子涵 gets the corrected birth");
    wait_fp(xinyi, "-", "张欣怡 has none left");
    expect_sent(s, "test", xinyi, "-", "the corrected birth");
    free(zihan);

    /* A card naming no member record goes by its ID number. */
    gh_test_exec(s->dept,
                 "INSERT INTO js_yfn (yfnbh, cybh, jtbh, xm, sfzh, csrq, "
                 "hyzk, xyzns, djrq, zxbz, czy, czsj) VALUES "
                 "('YF-NOMEMBER-01', NULL, NULL, '陈静', '431302200005050020', "
                 "'20000505', '10', 0, '20240102', '0', 'jsy_tj01', now())");
    char *chenjing = person_of("431302002002000203");
    wait_fp(chenjing,
            "WCBA@2015-05-05/yfn/YF431302002002000203 "
            "WCBA@2024-01-02/yfn/YF-NOMEMBER-01",
            "陈静's second card, by ID");

    /* kill -9 while 2,000 measures of 王丽 and 李娜 are applied: what the
     * hub holds comes out as a fresh derivation, and the subscriber's last
     * copy as the hub holds it. */
    gh_test_exec(s->dept,
                 "INSERT INTO js_jycs (jlbh, cybh, xm, cslx, csrq, czy, czsj) "
                 "SELECT 'K' || lpad(i::text, 6, '0'), CASE WHEN i %% 2 = 0 "
                 "THEN '431302002001000102' ELSE '431302002001000201' END, "
                 "'批量', '01', to_char(date '2000-01-01' + i, 'YYYYMMDD'), "
                 "'jsy_dt01', now() FROM generate_series(1, 2000) i");
    gf_wait_hub("some of the 2,000 applied",
                "SELECT count(*) > 0 FROM source_row WHERE source_key LIKE "
                "'jycs/K%'",
                "t");
    gf_kill9_restart_hub(s, TOPICS);
    char *n_lina = gh_xasprintf("SELECT jsonb_array_length(family_planning) "
                                "FROM person_attr WHERE person_id = '%s'",
                                lina);
    gf_wait_hub("李娜's 1,000 measures after kill -9", n_lina, "1002");
    free(n_lina);
    gf_recount_agrees(s, "after kill -9");
    gf_wait_hub("the outbox relayed", GH_TEST_UNSENT_SQL, "0");
    json_t *last = gf_last_sent_to(s, "test", "person", lina);
    cr_assert_eq(json_array_size(json_object_get(last, "family_planning")),
                 1002, "the subscriber's last copy of 李娜 after kill -9");
    json_decref(last);

    /* 计生 empties its contraception table: what is left are the cards. */
    gh_test_exec(s->dept, "TRUNCATE js_jycs");
    wait_fp(wangli, "WCBA@2009-01-10/yfn/YF431302002001000102",
            "王丽 after the truncate");
    wait_fp(lina, "WCBA@2012-03-20/yfn/YF431302002001000201",
            "李娜 after the truncate");
    expect_sent(s, "test", wangli, "WCBA@2009-01-10/yfn/YF431302002001000102",
                "after the truncate");
    gf_recount_agrees(s, "after the family-planning changes");
    free(wangli);
    free(xinyi);
    free(lina);
    free(chenjing);
    gh_test_stop_clean(s);
}
