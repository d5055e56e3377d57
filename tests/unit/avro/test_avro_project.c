/*
 * Unit tests for gh_avro_project(): reading a value written with one
 * schema version through another, per the Avro spec's resolution rules
 * plus the reader's defaults.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "gridhub/avro.h"

static const char *WRITER =
    "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"int\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"gone\",\"type\":\"string\"},"
    "{\"name\":\"color\",\"type\":{\"type\":\"enum\",\"name\":\"Color\","
    "\"symbols\":[\"RED\",\"GREEN\",\"BLUE\"]}},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
    "{\"name\":\"text\",\"type\":\"string\"},"
    "{\"name\":\"raw\",\"type\":\"bytes\"}]}";

/* n int->long, f float->double, gone removed, BLUE unknown to the reader
 * (enum default OTHER), opt ["null","int"] -> ["null","long"], tags and
 * attrs widened inside, text string->bytes, raw bytes->string, and new
 * fields with defaults of every kind. */
static const char *READER =
    "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"double\"},"
    "{\"name\":\"color\",\"type\":{\"type\":\"enum\",\"name\":\"Color\","
    "\"symbols\":[\"OTHER\",\"GREEN\",\"RED\"],\"default\":\"OTHER\"}},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":\"double\"}},"
    "{\"name\":\"text\",\"type\":\"bytes\"},"
    "{\"name\":\"raw\",\"type\":\"string\"},"
    "{\"name\":\"s_new\",\"type\":\"string\",\"default\":\"dflt\"},"
    "{\"name\":\"i_new\",\"type\":\"int\",\"default\":42},"
    "{\"name\":\"nu_new\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"rec_new\",\"type\":{\"type\":\"record\",\"name\":\"Sub\","
    "\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\","
    "\"type\":\"string\",\"default\":\"bee\"}]},\"default\":{\"a\":7}},"
    "{\"name\":\"enum_new\",\"type\":{\"type\":\"enum\",\"name\":\"Level\","
    "\"symbols\":[\"LOW\",\"HIGH\"]},\"default\":\"HIGH\"},"
    "{\"name\":\"arr_new\",\"type\":{\"type\":\"array\",\"items\":\"string\"},"
    "\"default\":[\"x\",\"y\"]},"
    "{\"name\":\"map_new\",\"type\":{\"type\":\"map\",\"values\":\"Sub\"},"
    "\"default\":{\"k\":{\"a\":1,\"b\":\"c\"}}},"
    "{\"name\":\"bytes_new\",\"type\":\"bytes\",\"default\":\"\\u00ffA\"},"
    "{\"name\":\"fixed_new\",\"type\":{\"type\":\"fixed\",\"name\":\"F2\","
    "\"size\":2},\"default\":\"\\u0001\\u00e9\"},"
    "{\"name\":\"u_new\",\"type\":[\"int\",\"null\"],\"default\":5},"
    "{\"name\":\"d_new\",\"type\":\"double\",\"default\":1},"
    "{\"name\":\"b_new\",\"type\":\"boolean\",\"default\":true}]}";

typedef struct fixture {
    gh_schemas_t *set;
    const gh_schema_t *w, *r;
} fixture_t;

static const gh_schema_t *add(gh_schemas_t *set, const char *json) {
    const gh_schema_t *s = NULL;
    char err[512] = "";
    gh_err_t rc = gh_schemas_add_json(set, json, 0, &s, err, sizeof(err));
    cr_assert_eq(rc, GH_OK, "%s", err);
    return s;
}

static avro_value_t field(avro_value_t *rec, const char *name) {
    avro_value_t f;
    cr_assert_eq(avro_value_get_by_name(rec, name, &f, NULL), 0, "%s", name);
    return f;
}

/* The writer value: id "abc", n 5, f 1.5, gone "bye", color as given,
 * opt 3, tags [1,2], attrs {"k": 2}, text "hi", raw "\x01z". */
static void writer_value(const gh_schema_t *w, int color, avro_value_t *v) {
    char err[256];
    cr_assert_eq(gh_schema_new_value(w, v, err, sizeof(err)), GH_OK);
    avro_value_t f = field(v, "id"), e, b;
    avro_value_set_string(&f, "abc");
    f = field(v, "n");
    avro_value_set_int(&f, 5);
    f = field(v, "f");
    avro_value_set_float(&f, 1.5f);
    f = field(v, "gone");
    avro_value_set_string(&f, "bye");
    f = field(v, "color");
    avro_value_set_enum(&f, color);
    f = field(v, "opt");
    avro_value_set_branch(&f, 1, &b);
    avro_value_set_int(&b, 3);
    f = field(v, "tags");
    avro_value_append(&f, &e, NULL);
    avro_value_set_int(&e, 1);
    avro_value_append(&f, &e, NULL);
    avro_value_set_int(&e, 2);
    f = field(v, "attrs");
    avro_value_add(&f, "k", &e, NULL, NULL);
    avro_value_set_int(&e, 2);
    f = field(v, "text");
    avro_value_set_string(&f, "hi");
    f = field(v, "raw");
    avro_value_set_bytes(&f, "\x01z", 2);
}

static json_t *project_json(const gh_schema_t *w, avro_value_t *src,
                            const gh_schema_t *r, gh_err_t want, char *err,
                            size_t errn) {
    avro_value_t dst;
    char e2[256];
    cr_assert_eq(gh_schema_new_value(r, &dst, e2, sizeof(e2)), GH_OK);
    err[0] = '\0';
    gh_err_t rc = gh_avro_project(w, src, r, &dst, err, errn);
    cr_expect_eq(rc, want, "want %d got %d: %s", want, rc, err);
    json_t *j = rc == GH_OK ? gh_avro_to_json(r, &dst) : NULL;
    avro_value_decref(&dst);
    return j;
}

static const char *EXPECTED =
    "{\"id\":\"abc\",\"n\":5,\"f\":1.5,\"color\":null,\"opt\":3,"
    "\"tags\":[1,2],\"attrs\":{\"k\":2.0},\"text\":\"hi\",\"raw\":\"\\u0001z\","
    "\"s_new\":\"dflt\",\"i_new\":42,\"nu_new\":null,"
    "\"rec_new\":{\"a\":7,\"b\":\"bee\"},\"enum_new\":\"HIGH\","
    "\"arr_new\":[\"x\",\"y\"],\"map_new\":{\"k\":{\"a\":1,\"b\":\"c\"}},"
    "\"bytes_new\":\"\\u00ffA\",\"fixed_new\":\"\\u0001\\u00e9\","
    "\"u_new\":5,\"d_new\":1.0,\"b_new\":true}";

static void expect_json(json_t *got, const char *color) {
    json_error_t je;
    json_t *want = json_loads(EXPECTED, 0, &je);
    cr_assert_not_null(want, "bad expectation: %s", je.text);
    json_object_set_new(want, "color", json_string(color));
    char *dump = json_dumps(got, JSON_COMPACT);
    cr_expect(json_equal(got, want), "got %s", dump);
    free(dump);
    json_decref(want);
}

Test(avro_project, defaults_promotions_and_removed_fields) {
    gh_schemas_t *set = gh_schemas_new();
    const gh_schema_t *w = add(set, WRITER), *r = add(set, READER);
    char err[512];
    for (int color = 0; color < 3; color++) {
        avro_value_t v;
        writer_value(w, color, &v);
        json_t *j = project_json(w, &v, r, GH_OK, err, sizeof(err));
        /* RED and GREEN map by symbol (positions differ); BLUE is unknown
         * to the reader and becomes its enum default. */
        expect_json(j, color == 0 ? "RED" : color == 1 ? "GREEN" : "OTHER");
        json_decref(j);
        avro_value_decref(&v);
    }
    gh_schemas_destroy(set);
}

Test(avro_project, through_serde_decode) {
    gh_schemas_t *set = gh_schemas_new();
    const gh_schema_t *w = add(set, WRITER), *r = add(set, READER);
    gh_serde_t *sd = gh_serde_new(set, NULL);
    avro_value_t v, out;
    writer_value(w, 1, &v);
    gh_buf_t msg = {0};
    char err[512] = "";
    cr_assert_eq(gh_serde_encode(sd, "t", w, &v, &msg, err, sizeof(err)), GH_OK,
                 "%s", err);
    const gh_schema_t *got = NULL;
    cr_assert_eq(
        gh_serde_decode(sd, msg.data, msg.len, r, &out, &got, err, sizeof(err)),
        GH_OK, "%s", err);
    cr_expect_eq(got, r);
    json_t *j = gh_avro_to_json(r, &out);
    expect_json(j, "GREEN");
    json_decref(j);
    avro_value_decref(&out);
    avro_value_decref(&v);
    gh_buf_free(&msg);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
}

/* Projects the WRITER value onto `reader_json` and expects failure. */
static void expect_fail(const char *reader_json, const char *needle1,
                        const char *needle2) {
    gh_schemas_t *set = gh_schemas_new();
    const gh_schema_t *w = add(set, WRITER), *r = add(set, reader_json);
    avro_value_t v;
    writer_value(w, 2, &v);
    char err[1024];
    json_t *j = project_json(w, &v, r, GH_ERR_SCHEMA, err, sizeof(err));
    cr_expect_null(j);
    cr_expect(strstr(err, needle1) != NULL, "\"%s\" lacks \"%s\"", err,
              needle1);
    if (needle2)
        cr_expect(strstr(err, needle2) != NULL, "\"%s\" lacks \"%s\"", err,
                  needle2);
    avro_value_decref(&v);
    gh_schemas_destroy(set);
}

#define READER_WITH(fields)                                                    \
    "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"t\",\"fields\":"      \
    "[" fields "]}"

Test(avro_project, reader_field_without_default_names_the_field) {
    expect_fail(READER_WITH("{\"name\":\"id\",\"type\":\"string\"},"
                            "{\"name\":\"needed\",\"type\":\"string\"}"),
                "needed", "no default");
    /* Nested: the path names the record field too. */
    expect_fail(READER_WITH("{\"name\":\"sub\",\"type\":{\"type\":\"record\","
                            "\"name\":\"S\",\"fields\":[{\"name\":\"inner\","
                            "\"type\":\"int\"}]},\"default\":{}}"),
                ".sub", "inner");
}

Test(avro_project, unknown_enum_symbol_without_default_fails) {
    expect_fail(READER_WITH("{\"name\":\"color\",\"type\":{\"type\":\"enum\","
                            "\"name\":\"Color\",\"symbols\":[\"RED\","
                            "\"GREEN\"]}}"),
                "BLUE", "color");
}

Test(avro_project, incompatible_types_fail) {
    expect_fail(READER_WITH("{\"name\":\"id\",\"type\":\"int\"}"), ".id",
                "string cannot be read as int");
    /* No demotion: long cannot become int. */
    expect_fail(READER_WITH("{\"name\":\"tags\",\"type\":{\"type\":\"array\","
                            "\"items\":\"float\"}},"
                            "{\"name\":\"f\",\"type\":\"int\"}"),
                ".f", "float cannot be read as int");
    /* A writer int branch finds no place in a reader union of strings. */
    expect_fail(
        READER_WITH("{\"name\":\"opt\",\"type\":[\"null\",\"string\"]}"),
        ".opt", "no branch");
    /* Record names must match. */
    expect_fail("{\"type\":\"record\",\"name\":\"Other\",\"fields\":[]}",
                "Other", NULL);
    /* A default of the wrong type is reported with the field. */
    expect_fail(READER_WITH("{\"name\":\"bad\",\"type\":\"int\","
                            "\"default\":\"x\"}"),
                ".bad", "32-bit");
    expect_fail(READER_WITH("{\"name\":\"bad\",\"type\":[\"null\",\"int\"],"
                            "\"default\":3}"),
                ".bad", "null");
    expect_fail(READER_WITH("{\"name\":\"bad\",\"type\":\"bytes\","
                            "\"default\":\"\\u0100\"}"),
                ".bad", "U+00FF");
}

Test(avro_project, unions_by_branch_name_and_writer_union_to_plain) {
    gh_schemas_t *set = gh_schemas_new();
    const gh_schema_t *w = add(
        set, "{\"type\":\"record\",\"name\":\"U\",\"fields\":["
             "{\"name\":\"x\",\"type\":[\"null\",{\"type\":\"record\","
             "\"name\":\"A\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"}]},"
             "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"v\","
             "\"type\":\"string\"}]}]},"
             "{\"name\":\"y\",\"type\":[\"null\",\"string\"]},"
             "{\"name\":\"z\",\"type\":\"int\"}]}");
    /* Reader: branches reordered (matched by name), y no longer nullable,
     * z now a union that prefers the exact int over long. */
    const gh_schema_t *r = add(
        set, "{\"type\":\"record\",\"name\":\"U\",\"fields\":["
             "{\"name\":\"x\",\"type\":[{\"type\":\"record\",\"name\":\"B\","
             "\"fields\":[{\"name\":\"v\",\"type\":\"string\"}]},"
             "{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"v\","
             "\"type\":\"long\"}]},\"null\"]},"
             "{\"name\":\"y\",\"type\":\"string\"},"
             "{\"name\":\"z\",\"type\":[\"long\",\"int\"]}]}");
    char err[512];
    avro_value_t v, f, b, g;
    cr_assert_eq(gh_schema_new_value(w, &v, err, sizeof(err)), GH_OK);
    avro_value_get_by_name(&v, "x", &f, NULL);
    avro_value_set_branch(&f, 1, &b);
    avro_value_get_by_name(&b, "v", &g, NULL);
    avro_value_set_int(&g, 9);
    avro_value_get_by_name(&v, "y", &f, NULL);
    avro_value_set_branch(&f, 1, &b);
    avro_value_set_string(&b, "yes");
    avro_value_get_by_name(&v, "z", &f, NULL);
    avro_value_set_int(&f, 4);

    avro_value_t dst;
    cr_assert_eq(gh_schema_new_value(r, &dst, err, sizeof(err)), GH_OK);
    cr_assert_eq(gh_avro_project(w, &v, r, &dst, err, sizeof(err)), GH_OK, "%s",
                 err);
    int disc = -1;
    avro_value_get_by_name(&dst, "x", &f, NULL);
    avro_value_get_discriminant(&f, &disc);
    cr_expect_eq(disc, 1, "record A is the reader's branch 1");
    avro_value_get_by_name(&dst, "z", &f, NULL);
    avro_value_get_discriminant(&f, &disc);
    cr_expect_eq(disc, 1, "exact int branch preferred to promotion");
    json_t *j = gh_avro_to_json(r, &dst);
    json_t *want =
        json_loads("{\"x\":{\"v\":9},\"y\":\"yes\",\"z\":4}", 0, NULL);
    cr_expect(json_equal(j, want));
    json_decref(want);
    json_decref(j);
    avro_value_decref(&dst);

    /* A writer null cannot go into the reader's non-null y. */
    avro_value_get_by_name(&v, "y", &f, NULL);
    avro_value_set_branch(&f, 0, &b);
    avro_value_set_null(&b);
    cr_assert_eq(gh_schema_new_value(r, &dst, err, sizeof(err)), GH_OK);
    cr_expect_eq(gh_avro_project(w, &v, r, &dst, err, sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_expect(strstr(err, ".y") != NULL, "%s", err);
    avro_value_decref(&dst);
    avro_value_decref(&v);
    gh_schemas_destroy(set);
}

Test(avro_project, field_alias_reads_a_renamed_field) {
    gh_schemas_t *set = gh_schemas_new();
    const gh_schema_t *w = add(set, WRITER);
    const gh_schema_t *r =
        add(set, READER_WITH("{\"name\":\"ident\",\"aliases\":[\"id\"],"
                             "\"type\":\"string\"}"));
    avro_value_t v;
    writer_value(w, 0, &v);
    char err[512];
    json_t *j = project_json(w, &v, r, GH_OK, err, sizeof(err));
    cr_expect_str_eq(json_string_value(json_object_get(j, "ident")), "abc");
    json_decref(j);
    avro_value_decref(&v);
    gh_schemas_destroy(set);
}
