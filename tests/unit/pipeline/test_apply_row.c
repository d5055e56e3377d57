/*
 * How an entity row is written for source_row (hub/apply/apply_row_json.c),
 * without a database: the JSON text, logical types, fields a change left
 * Unchanged (TOAST), and the rows no database column could hold (a NUL,
 * bytes that are not UTF-8), which must be refused with the field named.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "apply_int.h"

static gh_schemas_t *g_set;
static gh_apply_t *g_apply;
static avro_value_t g_env, g_row;

static void setup(void) {
    char err[1024];
    cr_assert_eq(
        gh_schemas_load_dir(&g_set, GH_SOURCE_DIR "/schemas", err, sizeof(err)),
        GH_OK, "%s", err);
    g_apply = gh_apply_new(NULL, NULL, g_set);
    const gh_schema_t *env = NULL;
    cr_assert_not_null(
        gh_schemas_entity(g_set, "residence_registration", &env));
    cr_assert_eq(gh_schema_new_value(env, &g_env, err, sizeof(err)), GH_OK,
                 "%s", err);
    avro_value_t after;
    cr_assert_eq(avro_value_get_by_name(&g_env, "after", &after, NULL), 0);
    cr_assert_eq(avro_value_set_branch(&after, 1, &g_row), 0);
}

static void teardown(void) {
    avro_value_decref(&g_env);
    gh_apply_destroy(g_apply);
    gh_schemas_destroy(g_set);
}

TestSuite(apply_row, .init = setup, .fini = teardown);

/* The branch of a row field's union whose type is `type` (an Avro type
 * or, for AVRO_ENUM, the enum named `enum_name`). */
static avro_value_t branch(const char *field, avro_type_t type,
                           const char *enum_name) {
    avro_value_t fv, v;
    cr_assert_eq(avro_value_get_by_name(&g_row, field, &fv, NULL), 0, "%s",
                 field);
    if (avro_value_get_type(&fv) != AVRO_UNION) return fv;
    avro_schema_t u = avro_value_get_schema(&fv);
    for (size_t b = 0; b < avro_schema_union_size(u); b++) {
        avro_schema_t bs = avro_schema_union_branch(u, (int)b);
        /* A named type used again is a link to its definition. */
        if (is_avro_link(bs)) bs = avro_schema_link_target(bs);
        if (avro_typeof(bs) != type) continue;
        if (enum_name && strcmp(avro_schema_type_name(bs), enum_name)) continue;
        cr_assert_eq(avro_value_set_branch(&fv, (int)b, &v), 0);
        return v;
    }
    cr_assert_fail("field %s has no such branch", field);
    return fv;
}

static void set_str(const char *field, const char *s, size_t n) {
    avro_value_t v = branch(field, AVRO_STRING, NULL);
    cr_assert_eq(avro_value_set_string_len(&v, s, n + 1), 0);
}

static void set_unchanged(const char *field) {
    avro_value_t v = branch(field, AVRO_ENUM, "Unchanged");
    cr_assert_eq(avro_value_set_enum(&v, 0), 0);
}

/* A plain row: registration HUKOU of 张三, born 1990-03-03. */
static void fill_row(void) {
    set_str("source_key", "hjrk/R1", strlen("hjrk/R1"));
    avro_value_t v = branch("registration_type", AVRO_ENUM, "RegistrationType");
    avro_value_set_enum(
        &v, avro_schema_enum_get_by_name(avro_value_get_schema(&v), "HUKOU"));
    set_str("name", "张三", strlen("张三"));
    v = branch("birth_date", AVRO_INT32, NULL);
    avro_value_set_int(&v, 7366); /* 1990-03-03 */
    v = branch("updated_at", AVRO_INT64, NULL);
    avro_value_set_long(&v, INT64_C(1672531200000000) + 42);
    v = branch("id_number", AVRO_NULL, NULL);
    avro_value_set_null(&v);
    set_str("current_address", "乐坪街道1号", strlen("乐坪街道1号"));
}

Test(apply_row, plain_row_as_json) {
    fill_row();
    gh_apply_ev_t ev;
    memset(&ev, 0, sizeof(ev));
    char why[256] = "";
    cr_assert_eq(gh_apply_row_render(g_apply, "residence_registration", &g_row,
                                     &ev, why, sizeof(why)),
                 0, "%s", why);
    json_error_t je;
    json_t *j = json_loads(ev.text, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %s", je.text, ev.text);
    json_t *want =
        json_pack("{s:s, s:s, s:n, s:s, s:s, s:s, s:s}", "source_key",
                  "hjrk/R1", "registration_type", "HUKOU", "id_number", "name",
                  "张三", "birth_date", "1990-03-03", "current_address",
                  "乐坪街道1号", "updated_at", "2023-01-01T00:00:00.000042Z");
    cr_assert(json_equal(j, want), "got %s", ev.text);
    cr_assert_eq(ev.partial, 0);
    cr_assert_eq(ev.id_key, 0, "no resolver, no ID: no key");
    json_decref(j);
    json_decref(want);
    gh_apply_ev_free(&ev);
}

Test(apply_row, unchanged_field_left_out) {
    fill_row();
    set_unchanged("current_address");
    set_unchanged("id_number");
    gh_apply_ev_t ev;
    memset(&ev, 0, sizeof(ev));
    char why[256] = "";
    cr_assert_eq(gh_apply_row_render(g_apply, "residence_registration", &g_row,
                                     &ev, why, sizeof(why)),
                 0, "%s", why);
    cr_assert_eq(ev.partial, 1);
    cr_assert_eq(ev.id_key, -1, "an Unchanged ID keeps the stored key");
    cr_assert_null(strstr(ev.text, "current_address"), "%s", ev.text);
    cr_assert_null(strstr(ev.text, "id_number"), "%s", ev.text);
    cr_assert_not_null(strstr(ev.text, "\"name\":\"张三\""), "%s", ev.text);
    gh_apply_ev_free(&ev);
}

Test(apply_row, nul_is_refused_with_the_field) {
    fill_row();
    set_str("name", "张\0三", sizeof("张\0三") - 1);
    gh_apply_ev_t ev;
    memset(&ev, 0, sizeof(ev));
    char why[256] = "";
    cr_assert_eq(gh_apply_row_render(g_apply, "residence_registration", &g_row,
                                     &ev, why, sizeof(why)),
                 -1);
    cr_assert_null(ev.text);
    cr_assert_not_null(strstr(why, "field name holds a NUL character"), "%s",
                       why);
}

Test(apply_row, invalid_utf8_is_refused_with_the_field) {
    fill_row();
    set_str("current_address", "\xd2\xbb\xba\xc5", 4); /* GBK, not UTF-8 */
    gh_apply_ev_t ev;
    memset(&ev, 0, sizeof(ev));
    char why[256] = "";
    cr_assert_eq(gh_apply_row_render(g_apply, "residence_registration", &g_row,
                                     &ev, why, sizeof(why)),
                 -1);
    cr_assert_not_null(strstr(why, "field current_address is not valid UTF-8"),
                       "%s", why);
}
