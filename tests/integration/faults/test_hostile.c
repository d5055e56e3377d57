/*
 * Hostile rows end to end (tests/data/hostile/rows.sql): SQL metacharacters
 * and injection attempts in every text field, printf formats, control and
 * bidirectional characters, IDs in every wrong shape, extreme dates, a 100 KB
 * remark. Every row reaches the hub intact, byte for byte, and becomes one
 * resident of the subscriber's view, except the two that do not fit the
 * mapping, which become dead letters naming their column; the department's
 * table is never touched and nothing crashes.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "harness.h"
#include "oracle.h"
#include "pipeline.h"
#include "stack.h"
#include "topics.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define DLQ_TOPIC "gridhub.dlq"
#define VIEW_TOPIC "hub.view.test.person"

static gh_test_stack_t *g_stack;
static PGconn *g_hub;

static void hostile_fini(void) {
    PQfinish(g_hub);
    g_hub = NULL;
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(hostile, .timeout = 240, .fini = hostile_fini);

Test(hostile, rows_end_to_end) {
    gh_test_stack_t *s = g_stack = gh_test_stack_new(DDL, MAPPING);
    char *sql = gh_read_file(GH_TEST_DATA_DIR "/hostile/rows.sql", NULL);
    cr_assert_not_null(sql);
    /* Half before the connector starts (snapshot), half streamed. */
    gh_test_exec(s->dept, "%s", sql);
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_hostile_%d", (int)getpid());
    const char *const extra[] = {slot, NULL};
    gh_test_stack_start_connector(s, extra);
    gh_test_stack_start_hub(s, NULL);
    g_hub = gh_test_pg_connect(s->hub_db);
    gh_test_wait_streaming(s);
    gh_test_exec(s->dept, "UPDATE zz_syrk SET rkbh = rkbh || '_S', gxsj = "
                          "CASE WHEN gxsj = 'infinity' THEN gxsj ELSE "
                          "clock_timestamp() END");
    free(sql);

    /* BAD_CODE and BAD_TIME: snapshot and streamed, four dead letters. */
    cr_assert(gh_test_wait_topics_size(s->bootstrap, DLQ_TOPIC, 4, 60000),
              "four dead letters expected; connector log:\n%s",
              gh_test_file_tail(gh_test_stack_connector_log(s), 3000));
    json_t *dl = gh_test_read_raw(s->bootstrap, DLQ_TOPIC);
    size_t i;
    json_t *l;
    int code = 0, time = 0;
    json_array_foreach(dl, i, l) {
        const char *r = json_string_value(
            json_object_get(json_object_get(l, "headers"), "gh.error.reason"));
        cr_assert_not_null(r);
        code += strstr(r, "column xb") != NULL;
        time += strstr(r, "column gxsj") != NULL;
        const char *v = json_string_value(json_object_get(l, "value"));
        json_t *doc = v ? json_loads(v, 0, NULL) : NULL;
        cr_assert_not_null(doc, "dead letter body is not JSON: %s",
                           v ? v : "(none)");
        json_decref(doc);
    }
    json_decref(dl);
    cr_assert(code == 2 && time == 2, "reasons: %d for xb, %d for gxsj", code,
              time);
    cr_assert(gh_test_proc_alive(s->connector) && gh_test_proc_alive(s->hub));

    /* Without the two rows that could not be mapped, the hub holds every
     * row with every hostile value byte for byte (the settle check compares
     * all mapped columns), and each is one resident of the view (whose
     * golden values are normalized: phones, spaces in names). */
    gh_test_exec(s->dept, "DELETE FROM zz_syrk WHERE rkbh LIKE 'BAD%%'");
    gh_test_wait_settled(s, g_hub, 120000);
    cr_assert_eq(gh_test_count(s->dept, "SELECT count(*) FROM zz_syrk"), 8,
                 "the department's table was touched");
    json_t *lines = gh_test_tail_all(s, VIEW_TOPIC, 6000);
    gh_test_check_view_lines(lines);
    json_t *fold = gh_test_fold(lines);
    cr_assert_eq(json_object_size(fold), 8, "%zu residents in the view",
                 json_object_size(fold));
    const char *pid;
    json_t *v;
    json_object_foreach(fold, pid, v) {
        cr_assert_not_null(json_string_value(json_object_get(v, "name")),
                           "%s has no name", pid);
        cr_assert_eq(json_array_size(json_object_get(v, "sources")), 1, "%s",
                     pid);
    }
    json_decref(fold);
    json_decref(lines);
    gh_test_stop_clean(s);
}
