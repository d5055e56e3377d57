/*
 * Avro values from natural JSON (gh_avro_from_json), with the real view
 * schemas: what the hub derives in SQL must come out as gh_avro_to_json
 * would print it, and a body that does not fit the schema must be refused
 * naming the field.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "gridhub/avro.h"

static gh_schemas_t *g_set;
static const gh_schema_t *g_grid, *g_event;
static avro_value_t g_gv, g_ev;

static void setup(void) {
    char err[1024];
    cr_assert_eq(
        gh_schemas_load_dir(&g_set, GH_SOURCE_DIR "/schemas", err, sizeof(err)),
        GH_OK, "%s", err);
    g_grid = gh_schemas_get(g_set, "gridhub.view.Grid");
    g_event = gh_schemas_get(g_set, "gridhub.view.Event");
    cr_assert(g_grid && g_event);
    cr_assert_eq(gh_schema_new_value(g_grid, &g_gv, err, sizeof(err)), GH_OK);
    cr_assert_eq(gh_schema_new_value(g_event, &g_ev, err, sizeof(err)), GH_OK);
}

static void teardown(void) {
    avro_value_decref(&g_gv);
    avro_value_decref(&g_ev);
    gh_schemas_destroy(g_set);
}

TestSuite(avro_from_json, .init = setup, .fini = teardown);

static const char GRID[] =
    "{\"grid_code\":\"LP-DT-01\",\"name\":\"大塘社区第一网格\",\"level\":"
    "\"GRID\",\"parent_code\":\"LP-DT\",\"path\":[\"LX\",\"LP\",\"LP-DT\","
    "\"LP-DT-01\"],\"path_names\":[\"娄星区\",\"乐坪街道\",\"大塘社区\","
    "\"大塘社区第一网格\"],\"staff\":[{\"person_id\":\"P000000002\",\"role\":"
    "\"GRID_LEADER\",\"name\":\"李娜\",\"department\":\"zongzhi\","
    "\"organization\":null},{\"person_id\":null,\"role\":\"LIAISON\","
    "\"name\":null,\"department\":\"zuzhi\",\"organization\":\"财政局\"}],"
    "\"meets_1_1_n\":false,\"residents\":120,\"registered\":80,\"floating\":"
    "30,\"households\":41,\"party_members\":9,\"volunteers\":4,"
    "\"open_events\":2,\"version\":7,\"updated_at\":1796314200123456}";

Test(avro_from_json, grid_round_trip) {
    char err[512];
    json_t *in = json_loads(GRID, 0, NULL);
    cr_assert_not_null(in);
    cr_assert_eq(gh_avro_from_json(g_grid, in, &g_gv, err, sizeof(err)), GH_OK,
                 "%s", err);
    json_t *out = gh_avro_to_json(g_grid, &g_gv);
    /* Timestamps come back as ISO text; everything else as it went in. */
    cr_assert_str_eq(json_string_value(json_object_get(out, "updated_at")),
                     "2026-12-03T16:10:00.123456Z");
    json_object_del(out, "updated_at");
    json_object_del(in, "updated_at");
    cr_assert(json_equal(in, out), "in %s\nout %s",
              json_dumps(in, JSON_COMPACT), json_dumps(out, JSON_COMPACT));
    json_decref(in);
    json_decref(out);
}

Test(avro_from_json, missing_nullable_is_null_dates_from_text) {
    char err[512];
    json_t *in =
        json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:I}", "event_id",
                  "zongzhi:grid_event:SJ1", "kind", "GRID_EVENT", "department",
                  "zongzhi", "open", 1, "reported_at_ignored", "x", "version",
                  (json_int_t)1, "updated_at", (json_int_t)0);
    cr_assert_eq(gh_avro_from_json(g_event, in, &g_ev, err, sizeof(err)), GH_OK,
                 "%s", err);
    json_t *out = gh_avro_to_json(g_event, &g_ev);
    cr_assert(json_is_null(json_object_get(out, "grid_code")));
    cr_assert_eq(json_array_size(json_object_get(out, "grid_path")), 0);
    cr_assert(json_is_true(json_object_get(out, "open")));
    json_decref(in);
    json_decref(out);
}

/* Each body is refused with the path of the value that does not fit. */
Test(avro_from_json, refusals_name_the_field) {
    static const char *const cases[][2] = {
        {"{\"grid_code\":null}", "grid_code must be text"},
        {"{\"grid_code\":\"X\",\"residents\":\"many\"}",
         "residents must be a 32-bit integer"},
        {"{\"grid_code\":\"X\",\"staff\":[{\"role\":\"GRID_LEADER\","
         "\"department\":7}]}",
         "staff[0].department must be text"},
        {"{\"grid_code\":\"X\",\"path\":\"LX\"}", "path must be an array"},
        {"[1]", "(record) must be an object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char err[512] = "";
        json_t *in = json_loads(cases[i][0], 0, NULL);
        cr_assert_not_null(in, "%s", cases[i][0]);
        cr_assert_eq(gh_avro_from_json(g_grid, in, &g_gv, err, sizeof(err)),
                     GH_ERR_SCHEMA, "%s was accepted", cases[i][0]);
        cr_assert_not_null(strstr(err, cases[i][1]), "%s: %s", cases[i][0],
                           err);
        json_decref(in);
    }
    json_t *ev = json_pack("{s:s,s:s,s:s}", "event_id", "e", "kind", "FIRE",
                           "department", "zongzhi");
    char err[512];
    cr_assert_eq(gh_avro_from_json(g_event, ev, &g_ev, err, sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_assert_not_null(strstr(err, "kind must be a symbol of its enum"), "%s",
                       err);
    json_decref(ev);
}
