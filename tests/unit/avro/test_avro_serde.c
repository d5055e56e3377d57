/*
 * Unit tests for the schema set and the framed serde of gridhub/avro.h:
 * loading schemas/ with envelope composition, round trips of every schema,
 * hostile bytes, history lookup, JSON rendering, and Confluent framing
 * against tests/tools/fake_schema_registry.py.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gridhub/avro.h"

extern char **environ;

#define SCHEMAS_DIR GH_SOURCE_DIR "/schemas"

static gh_schemas_t *load(const char *dir) {
    char err[512] = "";
    gh_schemas_t *set = NULL;
    gh_err_t rc = gh_schemas_load_dir(&set, dir, err, sizeof(err));
    cr_assert_eq(rc, GH_OK, "loading %s: %s", dir, err);
    return set;
}

static const gh_schema_t *get(const gh_schemas_t *set, const char *name) {
    const gh_schema_t *s = gh_schemas_get(set, name);
    cr_assert_not_null(s, "schema %s not in set", name);
    return s;
}

static avro_schema_t deref(avro_schema_t s) {
    while (is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

/* Fills v with data derived from *k, which advances at every node, so that
 * successive seeds pick different union branches, enum symbols, sizes. */
static void fill(avro_value_t *v, unsigned *k, int depth) {
    unsigned x = (*k)++;
    avro_schema_t s = deref(avro_value_get_schema(v));
    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        avro_value_set_null(v);
        break;
    case AVRO_BOOLEAN:
        avro_value_set_boolean(v, x & 1);
        break;
    case AVRO_INT32:
        avro_value_set_int(v, (int32_t)(x * 2654435761u));
        break;
    case AVRO_INT64:
        avro_value_set_long(v, (int64_t)((uint64_t)x * 0x9e3779b97f4a7c15ULL));
        break;
    case AVRO_FLOAT:
        avro_value_set_float(v, (float)x * 0.5f - 3.0f);
        break;
    case AVRO_DOUBLE:
        avro_value_set_double(v, (double)x * 1.25e10 - 7);
        break;
    case AVRO_STRING: {
        char buf[64];
        snprintf(buf, sizeof(buf), "s%u-网格-%s", x,
                 x % 3 ? "" : "longer text");
        avro_value_set_string(v, buf);
        break;
    }
    case AVRO_BYTES: {
        unsigned char b[5] = {0, 0xff, (unsigned char)x, 0x80, 'a'};
        avro_value_set_bytes(v, b, x % 6);
        break;
    }
    case AVRO_FIXED: {
        size_t n = (size_t)avro_schema_fixed_size(s);
        char *b = gh_xcalloc(1, n + 1);
        for (size_t i = 0; i < n; i++)
            b[i] = (char)(x + i);
        avro_value_set_fixed(v, b, n);
        free(b);
        break;
    }
    case AVRO_ENUM:
        avro_value_set_enum(
            v, (int)(x % (unsigned)avro_schema_enum_number_of_symbols(s)));
        break;
    case AVRO_UNION: {
        avro_value_t b;
        size_t n = avro_schema_union_size(s);
        /* Deep values take the first branch (null in our schemas) so that
         * recursion always ends. */
        int idx = depth > 6 ? 0 : (int)(x % n);
        cr_assert_eq(avro_value_set_branch(v, idx, &b), 0);
        fill(&b, k, depth + 1);
        break;
    }
    case AVRO_RECORD: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_t f;
            avro_value_get_by_index(v, i, &f, NULL);
            fill(&f, k, depth + 1);
        }
        break;
    }
    case AVRO_ARRAY:
        for (unsigned i = 0; depth < 6 && i < x % 3; i++) {
            avro_value_t e;
            avro_value_append(v, &e, NULL);
            fill(&e, k, depth + 1);
        }
        break;
    case AVRO_MAP:
        for (unsigned i = 0; depth < 6 && i < x % 3; i++) {
            avro_value_t e;
            char key[16];
            snprintf(key, sizeof(key), "k%u", i);
            avro_value_add(v, key, &e, NULL, NULL);
            fill(&e, k, depth + 1);
        }
        break;
    default:
        cr_assert_fail("unexpected type");
    }
}

static void encode(gh_serde_t *sd, const char *topic, const gh_schema_t *s,
                   avro_value_t *v, gh_buf_t *out) {
    char err[512] = "";
    gh_err_t rc = gh_serde_encode(sd, topic, s, v, out, err, sizeof(err));
    cr_assert_eq(rc, GH_OK, "encode %s: %s", gh_schema_fullname(s), err);
}

/* Encodes v (of s) with single-object framing into *out. */
static void encode_so(gh_schemas_t *set, const gh_schema_t *s, avro_value_t *v,
                      gh_buf_t *out) {
    gh_serde_t *sd = gh_serde_new(set, NULL);
    encode(sd, "t", s, v, out);
    gh_serde_destroy(sd);
}

/* ---- The schema set ------------------------------------------------------ */

Test(avro_schemas, loads_schemas_dir_and_composes_envelopes) {
    gh_schemas_t *set = load(SCHEMAS_DIR);
    const char *names[] = {
        "gridhub.change.Envelope",     "gridhub.canonical.Person",
        "gridhub.canonical.Grid",      "gridhub.canonical.GridEvent",
        "gridhub.view.Person",         "gridhub.change.PersonEnvelope",
        "gridhub.change.GridEnvelope", "gridhub.change.GridEventEnvelope"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const gh_schema_t *s = get(set, names[i]);
        cr_expect_str_eq(gh_schema_fullname(s), names[i]);
        const char *pcf = gh_schema_canonical(s);
        cr_expect_eq(gh_schema_fingerprint(s), gh_avro_crc64(pcf, strlen(pcf)));
        cr_expect_eq(gh_schemas_by_fingerprint(set, gh_schema_fingerprint(s)),
                     s);
    }
    cr_expect_null(gh_schemas_get(set, "gridhub.change.ViewPersonEnvelope"),
                   "the view is not an entity");
    cr_expect_null(gh_schemas_by_fingerprint(set, 0x1234));

    /* PersonEnvelope: before/after are ["null", PersonRow], and every row
     * field admits Unchanged as its last branch. */
    const gh_schema_t *env = get(set, "gridhub.change.PersonEnvelope");
    const gh_schema_t *person = get(set, "gridhub.canonical.Person");
    const json_t *fields = json_object_get(gh_schema_jsonv(env), "fields");
    const json_t *before = json_object_get(json_array_get(fields, 1), "type");
    const json_t *after = json_object_get(json_array_get(fields, 2), "type");
    cr_assert(json_is_array(before) && json_array_size(before) == 2);
    const json_t *row = gh_schema_resolve_json(env, json_array_get(before, 1));
    cr_assert_not_null(row);
    cr_expect_str_eq(json_string_value(json_object_get(row, "name")),
                     "gridhub.change.PersonRow");
    cr_expect_str_eq(json_string_value(json_array_get(after, 1)),
                     "gridhub.change.PersonRow");
    const json_t *pf = json_object_get(gh_schema_jsonv(person), "fields");
    const json_t *rf = json_object_get(row, "fields");
    cr_assert_eq(json_array_size(rf), json_array_size(pf));
    for (size_t i = 0; i < json_array_size(rf); i++) {
        const json_t *t = json_object_get(json_array_get(rf, i), "type");
        cr_assert(json_is_array(t));
        const json_t *last = gh_schema_resolve_json(
            env, json_array_get(t, json_array_size(t) - 1));
        cr_expect_str_eq(json_string_value(json_object_get(last, "name")),
                         "gridhub.change.Unchanged");
    }
    /* source_key was "string", now ["string", Unchanged]; the nullable
     * fields keep null first so their default stays valid. */
    cr_expect_str_eq(json_string_value(json_array_get(
                         json_object_get(json_array_get(rf, 0), "type"), 0)),
                     "string");
    const json_t *sex = json_object_get(json_array_get(rf, 3), "type");
    cr_expect_eq(json_array_size(sex), 3);
    cr_expect_str_eq(
        json_string_value(json_object_get(
            gh_schema_resolve_json(env, json_array_get(sex, 1)), "name")),
        "gridhub.canonical.Sex");
    cr_expect(json_is_null(json_object_get(json_array_get(rf, 3), "default")));

    /* Every schema has a doc on every field (the house rule). */
    for (size_t i = 0; i < gh_schemas_count(set); i++) {
        const gh_schema_t *s = gh_schemas_at(set, i);
        const json_t *fs = json_object_get(gh_schema_jsonv(s), "fields");
        for (size_t j = 0; j < json_array_size(fs); j++)
            cr_expect(
                json_is_string(json_object_get(json_array_get(fs, j), "doc")),
                "%s field %zu has no doc", gh_schema_fullname(s), j);
    }
    cr_expect_null(gh_schemas_at(set, gh_schemas_count(set)));
    gh_schemas_destroy(set);
}

Test(avro_schemas, add_json_dedups_by_fingerprint) {
    gh_schemas_t *set = gh_schemas_new();
    const gh_schema_t *a = NULL, *b = NULL;
    char err[256] = "";
    cr_assert_eq(gh_schemas_add_json(
                     set,
                     "{\"type\":\"record\",\"name\":\"R\",\"namespace\":"
                     "\"n\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}",
                     0, &a, err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_expect_null(gh_schemas_get(set, "n.R"), "not current yet");
    /* Same canonical form, different text and doc: the same schema. */
    cr_assert_eq(gh_schemas_add_json(
                     set,
                     "{\"name\":\"n.R\",\"type\":\"record\",\"doc\":\"d\","
                     "\"fields\":[{\"type\":\"int\",\"name\":\"x\"}]}",
                     1, &b, err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_expect_eq(a, b);
    cr_expect_eq(gh_schemas_count(set), 1);
    cr_expect_eq(gh_schemas_get(set, "n.R"), a);
    cr_expect_eq(gh_schemas_add_json(set, "{\"type\":\"nope\"}", 1, &b, err,
                                     sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_expect(strstr(err, "nope") != NULL, "%s", err);
    gh_schemas_destroy(set);
    gh_schemas_destroy(NULL);
}

/* Writes files into a fresh temporary directory; returns its path. */
static char *temp_dir_with(const char *const *files) {
    char tmpl[] = "/tmp/gh-avro-test-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    for (size_t i = 0; files[i]; i += 2) {
        char *path = gh_xasprintf("%s/%s", tmpl, files[i]);
        if (strchr(files[i], '/')) {
            char *d = gh_xasprintf("%s/history", tmpl);
            mkdir(d, 0700);
            free(d);
        }
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f, "%s", path);
        fputs(files[i + 1], f);
        fclose(f);
        free(path);
    }
    return gh_xstrdup(tmpl);
}

static void remove_dir(char *dir, const char *const *files) {
    for (size_t i = 0; files[i]; i += 2) {
        char *path = gh_xasprintf("%s/%s", dir, files[i]);
        unlink(path);
        free(path);
    }
    char *h = gh_xasprintf("%s/history", dir);
    rmdir(h);
    free(h);
    rmdir(dir);
    free(dir);
}

static void expect_load_error(const char *const *files, gh_err_t want,
                              const char *needle1, const char *needle2) {
    char *dir = temp_dir_with(files);
    char err[1024] = "";
    gh_schemas_t *set = (gh_schemas_t *)1;
    gh_err_t rc = gh_schemas_load_dir(&set, dir, err, sizeof(err));
    cr_expect_eq(rc, want, "got %d: %s", rc, err);
    cr_expect_null(set);
    cr_expect(strstr(err, needle1) != NULL, "\"%s\" lacks \"%s\"", err,
              needle1);
    cr_expect(strstr(err, needle2) != NULL, "\"%s\" lacks \"%s\"", err,
              needle2);
    remove_dir(dir, files);
}

Test(avro_schemas, load_errors_name_the_file) {
    char err[512] = "";
    gh_schemas_t *set = NULL;
    cr_expect_eq(gh_schemas_load_dir(&set, "/nonexistent/gh", err, sizeof(err)),
                 GH_ERR_IO);
    cr_expect(strstr(err, "/nonexistent/gh") != NULL, "%s", err);

    const char *bad_json[] = {"a.avsc", "{\"type\": ", NULL};
    expect_load_error(bad_json, GH_ERR_PARSE, "a.avsc", "line");
    const char *bad_ref[] = {
        "b.avsc",
        "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"x\","
        "\"type\":\"Nowhere\"}]}",
        NULL};
    expect_load_error(bad_ref, GH_ERR_SCHEMA, "b.avsc", "Nowhere");
    const char *twice[] = {"one.avsc", "\"string\"", "two.avsc",
                           "{\"type\":\"string\"}", NULL};
    expect_load_error(twice, GH_ERR_SCHEMA, "one.avsc", "two.avsc");
    const char *no_template[] = {
        "e.avsc",
        "{\"type\":\"record\",\"name\":\"x.E\",\"gridhub.entity\":true,"
        "\"fields\":[]}",
        NULL};
    expect_load_error(no_template, GH_ERR_SCHEMA, "e.avsc", "envelope");
    const char *bad_history[] = {"history/h.v1.avsc", "[\"null\",", NULL};
    expect_load_error(bad_history, GH_ERR_PARSE, "history/h.v1.avsc", "JSON");
}

/* ---- Round trips --------------------------------------------------------- */

Test(avro_serde, single_object_round_trip_of_every_schema) {
    gh_schemas_t *set = load(SCHEMAS_DIR);
    gh_serde_t *sd = gh_serde_new(set, "");
    size_t n = gh_schemas_count(set);
    cr_assert_geq(n, 8);
    for (size_t i = 0; i < n; i++) {
        const gh_schema_t *s = gh_schemas_at(set, i);
        for (unsigned seed = 0; seed < 12; seed++) {
            avro_value_t v, back;
            char err[512] = "";
            cr_assert_eq(gh_schema_new_value(s, &v, err, sizeof(err)), GH_OK);
            unsigned k = seed * 7919;
            fill(&v, &k, 0);
            gh_buf_t out = {0};
            encode(sd, "topic", s, &v, &out);

            const unsigned char *b = (const unsigned char *)out.data;
            cr_assert_geq(out.len, 10);
            cr_expect_eq(b[0], 0xc3);
            cr_expect_eq(b[1], 0x01);
            uint64_t fp = 0;
            for (int j = 0; j < 8; j++)
                fp |= (uint64_t)b[2 + j] << (8 * j);
            cr_expect_eq(fp, gh_schema_fingerprint(s));

            const gh_schema_t *got = NULL;
            gh_err_t rc = gh_serde_decode(sd, out.data, out.len, NULL, &back,
                                          &got, err, sizeof(err));
            cr_assert_eq(rc, GH_OK, "%s seed %u: %s", gh_schema_fullname(s),
                         seed, err);
            cr_expect_eq(got, s);
            cr_expect(avro_value_equal(&v, &back), "%s seed %u differs",
                      gh_schema_fullname(s), seed);
            json_t *j1 = gh_avro_to_json(s, &v),
                   *j2 = gh_avro_to_json(s, &back);
            cr_expect(json_equal(j1, j2));
            json_decref(j1);
            json_decref(j2);
            avro_value_decref(&back);

            /* Decoding with itself as the reader is the same. */
            rc = gh_serde_decode(sd, out.data, out.len, s, &back, &got, err,
                                 sizeof(err));
            cr_assert_eq(rc, GH_OK, "%s", err);
            cr_expect(avro_value_equal(&v, &back));
            avro_value_decref(&back);
            avro_value_decref(&v);
            gh_buf_free(&out);
        }
    }
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
}

Test(avro_serde, encode_rejects_mismatched_or_incomplete_values) {
    gh_schemas_t *set = load(SCHEMAS_DIR);
    gh_serde_t *sd = gh_serde_new(set, NULL);
    const gh_schema_t *grid = get(set, "gridhub.canonical.Grid");
    const gh_schema_t *person = get(set, "gridhub.canonical.Person");
    avro_value_t v;
    char err[512] = "";
    gh_buf_t out = {0};
    cr_assert_eq(gh_schema_new_value(grid, &v, err, sizeof(err)), GH_OK);
    cr_expect_eq(gh_serde_encode(sd, "t", person, &v, &out, err, sizeof(err)),
                 GH_ERR_INVALID_ARG);
    cr_expect(strstr(err, "gridhub.canonical.Person") != NULL, "%s", err);
    /* Unions left without a branch cannot be written. */
    cr_expect_eq(gh_serde_encode(sd, "t", grid, &v, &out, err, sizeof(err)),
                 GH_ERR_SERDE);
    cr_expect_eq(out.len, 0, "nothing appended on failure");
    avro_value_decref(&v);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
}

/* ---- Hostile bytes ------------------------------------------------------- */

/* A PersonEnvelope message with every branch set. */
static void person_message(gh_schemas_t *set, unsigned seed, gh_buf_t *out) {
    const gh_schema_t *env = get(set, "gridhub.change.PersonEnvelope");
    avro_value_t v;
    char err[256];
    cr_assert_eq(gh_schema_new_value(env, &v, err, sizeof(err)), GH_OK);
    unsigned k = seed;
    fill(&v, &k, 0);
    encode_so(set, env, &v, out);
    avro_value_decref(&v);
}

static gh_err_t try_decode(gh_serde_t *sd, const void *b, size_t n,
                           const gh_schema_t *reader, char *err, size_t errn) {
    avro_value_t v;
    gh_err_t rc = gh_serde_decode(sd, b, n, reader, &v, NULL, err, errn);
    if (rc == GH_OK) avro_value_decref(&v);
    return rc;
}

Test(avro_serde, truncated_messages_fail_cleanly) {
    gh_schemas_t *set = load(SCHEMAS_DIR);
    gh_serde_t *sd = gh_serde_new(set, NULL);
    for (unsigned seed = 1; seed < 6; seed++) {
        gh_buf_t msg = {0};
        person_message(set, seed * 31, &msg);
        char err[512];
        cr_assert_eq(try_decode(sd, msg.data, msg.len, NULL, err, sizeof(err)),
                     GH_OK, "%s", err);
        for (size_t n = 0; n < msg.len; n++) {
            /* A copy of exactly n bytes, so ASan sees any over-read. */
            char *cut = gh_xmalloc(n ? n : 1);
            memcpy(cut, msg.data, n);
            err[0] = '\0';
            gh_err_t rc = try_decode(sd, cut, n, NULL, err, sizeof(err));
            cr_expect_eq(rc, GH_ERR_SERDE, "truncated to %zu of %zu: %d %s", n,
                         msg.len, rc, err);
            cr_expect_neq(err[0], '\0', "no error message at %zu", n);
            free(cut);
        }
        gh_buf_free(&msg);
    }
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
}

Test(avro_serde, random_corruption_never_crashes) {
    gh_schemas_t *set = load(SCHEMAS_DIR);
    gh_serde_t *sd = gh_serde_new(set, NULL);
    const gh_schema_t *reader = get(set, "gridhub.change.PersonEnvelope");
    gh_buf_t msg = {0};
    person_message(set, 12345, &msg);
    srand(20261128);
    size_t ok = 0, serde = 0, unknown = 0;
    for (int iter = 0; iter < 3000; iter++) {
        char *b = gh_xmalloc(msg.len);
        memcpy(b, msg.data, msg.len);
        int flips = 1 + rand() % 4;
        for (int f = 0; f < flips; f++) {
            /* Mostly the body: header flips only test the magic checks. */
            size_t pos = iter % 10 == 0 ? (size_t)rand() % msg.len
                                        : 10 + (size_t)rand() % (msg.len - 10);
            b[pos] ^= (char)(1 + rand() % 255);
        }
        char err[512];
        gh_err_t rc = try_decode(sd, b, msg.len, iter % 2 ? reader : NULL, err,
                                 sizeof(err));
        cr_assert(rc == GH_OK || rc == GH_ERR_SERDE ||
                      rc == GH_ERR_UNKNOWN_SCHEMA,
                  "iteration %d: unexpected %d: %s", iter, rc, err);
        ok += rc == GH_OK;
        serde += rc == GH_ERR_SERDE;
        unknown += rc == GH_ERR_UNKNOWN_SCHEMA;
        free(b);
    }
    cr_expect_gt(serde, 0);
    cr_expect_gt(unknown, 0);
    /* Random bodies behind a valid header. */
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = 10 + (size_t)rand() % 200;
        char *b = gh_xmalloc(n);
        memcpy(b, msg.data, 10);
        for (size_t i = 10; i < n; i++)
            b[i] = (char)rand();
        char err[512];
        gh_err_t rc = try_decode(sd, b, n, NULL, err, sizeof(err));
        cr_assert(rc == GH_OK || rc == GH_ERR_SERDE, "random body: %d %s", rc,
                  err);
        free(b);
    }
    gh_buf_free(&msg);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
}

/* A small schema to hand-craft bodies for. */
static const char *CRAFT_SCHEMA =
    "{\"type\":\"record\",\"name\":\"C\",\"fields\":["
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"u\",\"type\":[\"null\",\"long\"]},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":"
    "[\"A\",\"B\"]}},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}";

/* Frames body with the single-object header of s and decodes it. */
static gh_err_t decode_body(gh_serde_t *sd, const gh_schema_t *s,
                            const unsigned char *body, size_t n, char *err,
                            size_t errn) {
    unsigned char *b = gh_xmalloc(n + 10);
    uint64_t fp = gh_schema_fingerprint(s);
    b[0] = 0xc3;
    b[1] = 0x01;
    for (int i = 0; i < 8; i++)
        b[2 + i] = (unsigned char)(fp >> (8 * i));
    memcpy(b + 10, body, n);
    err[0] = '\0';
    gh_err_t rc = try_decode(sd, b, n + 10, NULL, err, errn);
    free(b);
    return rc;
}

#define BODY(...)                                                              \
    (const unsigned char[]){__VA_ARGS__},                                      \
        sizeof((const unsigned char[]){__VA_ARGS__})

static void expect_body(gh_serde_t *sd, const gh_schema_t *s,
                        const unsigned char *body, size_t n, gh_err_t want,
                        const char *needle) {
    char err[512];
    gh_err_t rc = decode_body(sd, s, body, n, err, sizeof(err));
    cr_expect_eq(rc, want, "want %d got %d: %s", want, rc, err);
    if (needle)
        cr_expect(strstr(err, needle) != NULL, "\"%s\" lacks \"%s\"", err,
                  needle);
}

Test(avro_serde, crafted_bodies) {
    gh_schemas_t *set = gh_schemas_new();
    const gh_schema_t *s = NULL;
    char err[512];
    cr_assert_eq(
        gh_schemas_add_json(set, CRAFT_SCHEMA, 1, &s, err, sizeof(err)), GH_OK,
        "%s", err);
    gh_serde_t *sd = gh_serde_new(set, NULL);
    /* s="hi", u=long 5, e=B, b=true, i=-1, a=[null,null] */
    expect_body(sd, s, BODY(4, 'h', 'i', 2, 10, 2, 1, 1, 4, 0), GH_OK, NULL);
    /* The same array as one sized block: count -2, size 0. */
    expect_body(sd, s, BODY(4, 'h', 'i', 2, 10, 2, 1, 1, 3, 0, 0), GH_OK, NULL);
    expect_body(sd, s, BODY(4, 'h', 'i', 2, 10, 2, 1, 1, 3, 2, 0), GH_ERR_SERDE,
                "block");
    expect_body(sd, s, BODY(4, 'h', 'i', 2, 10, 2, 1, 1, 4, 0, 0), GH_ERR_SERDE,
                "trailing");
    /* A string claiming 2^40 bytes. */
    expect_body(sd, s, BODY(0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 'x'),
                GH_ERR_SERDE, "string");
    expect_body(sd, s, BODY(0x7f, 'x'), GH_ERR_SERDE, "negative");
    expect_body(sd, s, BODY(0, 4, 2, 1, 1, 0), GH_ERR_SERDE, "union branch 2");
    expect_body(sd, s, BODY(0, 3, 2, 1, 1, 0), GH_ERR_SERDE, "union branch -2");
    expect_body(sd, s, BODY(0, 0, 4, 1, 1, 0), GH_ERR_SERDE, "enum index 2");
    expect_body(sd, s, BODY(0, 0, 2, 7, 1, 0), GH_ERR_SERDE, "boolean");
    /* An int beyond 32 bits, then an 11-byte varint. */
    expect_body(sd, s, BODY(0, 0, 2, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0),
                GH_ERR_SERDE, "int value");
    expect_body(sd, s,
                BODY(0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                     0xff, 0x01, 2, 1, 1, 0),
                GH_ERR_SERDE, "varint");
    expect_body(sd, s,
                BODY(0, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                     0x02, 2, 1, 1, 0),
                GH_ERR_SERDE, "64 bits");
    /* 2^40 nulls cost no bytes; they must still be refused. */
    expect_body(sd, s,
                BODY(0, 0, 2, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0),
                GH_ERR_SERDE, "zero-length");

    /* Framing errors. */
    unsigned char empty[1] = {0};
    cr_expect_eq(try_decode(sd, empty, 0, NULL, err, sizeof(err)),
                 GH_ERR_SERDE);
    unsigned char bad[12] = {0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    cr_expect_eq(try_decode(sd, bad, sizeof(bad), NULL, err, sizeof(err)),
                 GH_ERR_SERDE);
    cr_expect(strstr(err, "0x42") != NULL, "%s", err);
    bad[0] = 0xc3;
    bad[1] = 0x02;
    cr_expect_eq(try_decode(sd, bad, sizeof(bad), NULL, err, sizeof(err)),
                 GH_ERR_SERDE);
    bad[1] = 0x01;
    cr_expect_eq(try_decode(sd, bad, sizeof(bad), NULL, err, sizeof(err)),
                 GH_ERR_UNKNOWN_SCHEMA);
    cr_expect(strstr(err, "0908070605040302") != NULL, "%s", err);
    unsigned char confluent[6] = {0, 0, 0, 0, 7, 0};
    cr_expect_eq(
        try_decode(sd, confluent, sizeof(confluent), NULL, err, sizeof(err)),
        GH_ERR_UNKNOWN_SCHEMA);
    cr_expect(strstr(err, "schema.registry.url") != NULL, "%s", err);
    cr_expect_eq(try_decode(sd, confluent, 3, NULL, err, sizeof(err)),
                 GH_ERR_SERDE);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
}

/* ---- History ------------------------------------------------------------- */

#define EVOLVE GH_TEST_DATA_DIR "/avro/evolve"

/* A WidgetEnvelope (v1) update event of row {source_key "w-1", size 3}. */
static void widget_v1_message(gh_buf_t *out, uint64_t *fp_out) {
    gh_schemas_t *v1 = load(EVOLVE "/v1");
    const gh_schema_t *env = get(v1, "gridhub.change.WidgetEnvelope");
    avro_value_t v, f, b, row, col;
    char err[256];
    cr_assert_eq(gh_schema_new_value(env, &v, err, sizeof(err)), GH_OK);
    unsigned k = 3;
    fill(&v, &k, 0);
    cr_assert_eq(avro_value_get_by_name(&v, "after", &f, NULL), 0);
    cr_assert_eq(avro_value_set_branch(&f, 1, &row), 0);
    cr_assert_eq(avro_value_get_by_name(&row, "source_key", &col, NULL), 0);
    cr_assert_eq(avro_value_set_branch(&col, 0, &b), 0);
    cr_assert_eq(avro_value_set_string(&b, "w-1"), 0);
    cr_assert_eq(avro_value_get_by_name(&row, "size", &col, NULL), 0);
    cr_assert_eq(avro_value_set_branch(&col, 0, &b), 0);
    cr_assert_eq(avro_value_set_int(&b, 3), 0);
    encode_so(v1, env, &v, out);
    *fp_out = gh_schema_fingerprint(env);
    avro_value_decref(&v);
    gh_schemas_destroy(v1);
}

Test(avro_serde, old_version_from_history_decodes_with_defaults) {
    gh_buf_t msg = {0};
    uint64_t v1_fp;
    widget_v1_message(&msg, &v1_fp);

    gh_schemas_t *v2 = load(EVOLVE "/v2");
    const gh_schema_t *reader = get(v2, "gridhub.change.WidgetEnvelope");
    cr_assert_neq(gh_schema_fingerprint(reader), v1_fp);
    const gh_schema_t *old = gh_schemas_by_fingerprint(v2, v1_fp);
    cr_assert_not_null(old, "history/ did not provide the v1 envelope");
    cr_expect_str_eq(gh_schema_fullname(old), "gridhub.change.WidgetEnvelope");
    cr_expect_neq(gh_schemas_get(v2, "gridhub.change.WidgetEnvelope"), old);

    gh_serde_t *sd = gh_serde_new(v2, NULL);
    avro_value_t v;
    const gh_schema_t *got = NULL;
    char err[512] = "";
    cr_assert_eq(gh_serde_decode(sd, msg.data, msg.len, reader, &v, &got, err,
                                 sizeof(err)),
                 GH_OK, "%s", err);
    cr_expect_eq(got, reader);
    json_t *j = gh_avro_to_json(reader, &v);
    json_t *after = json_object_get(j, "after");
    json_t *want = json_loads("{\"source_key\":\"w-1\",\"size\":3,"
                              "\"color\":null,\"label\":\"none\","
                              "\"weight\":10,\"dims\":{\"w\":1,\"h\":1}}",
                              0, NULL);
    char *dump = json_dumps(after, JSON_COMPACT);
    cr_expect(json_equal(after, want), "after = %s", dump);
    free(dump);
    json_decref(want);
    json_decref(j);
    avro_value_decref(&v);

    /* Without a reader the value comes back in the writer's (v1) shape. */
    cr_assert_eq(gh_serde_decode(sd, msg.data, msg.len, NULL, &v, &got, err,
                                 sizeof(err)),
                 GH_OK, "%s", err);
    cr_expect_eq(got, old);
    avro_value_decref(&v);
    gh_serde_destroy(sd);

    /* A set without the history cannot read the old message. */
    gh_schemas_t *bare = gh_schemas_new();
    const gh_schema_t *cur = NULL;
    cr_assert_eq(gh_schemas_add_json(bare, gh_schema_json(reader), 1, &cur, err,
                                     sizeof(err)),
                 GH_OK, "%s", err);
    sd = gh_serde_new(bare, NULL);
    cr_expect_eq(
        gh_serde_decode(sd, msg.data, msg.len, cur, &v, NULL, err, sizeof(err)),
        GH_ERR_UNKNOWN_SCHEMA);
    cr_expect(strstr(err, "history") != NULL, "%s", err);
    gh_serde_destroy(sd);
    gh_schemas_destroy(bare);
    gh_schemas_destroy(v2);
    gh_buf_free(&msg);
}

/* ---- JSON rendering ------------------------------------------------------ */

static void set_union(avro_value_t *rec, const char *field, int branch,
                      avro_value_t *out) {
    avro_value_t f;
    cr_assert_eq(avro_value_get_by_name(rec, field, &f, NULL), 0, "%s", field);
    cr_assert_eq(avro_value_set_branch(&f, branch, out), 0, "%s", field);
}

Test(avro_json, renders_logical_types_and_unchanged) {
    gh_schemas_t *set = load(SCHEMAS_DIR);
    const gh_schema_t *env = get(set, "gridhub.change.PersonEnvelope");
    avro_value_t v, row, b;
    char err[256];
    cr_assert_eq(gh_schema_new_value(env, &v, err, sizeof(err)), GH_OK);
    unsigned k = 0;
    fill(&v, &k, 0);
    set_union(&v, "after", 1, &row);
    /* Row unions: [type..., Unchanged] */
    set_union(&row, "source_key", 0, &b);
    avro_value_set_string(&b, "k1");
    set_union(&row, "id_number", 1, &b);
    avro_value_set_string(&b, "43130219900307447X");
    set_union(&row, "name", 0, &b);
    avro_value_set_null(&b);
    set_union(&row, "sex", 1, &b);
    avro_value_set_enum(&b, 1);
    set_union(&row, "birth_date", 1, &b);
    avro_value_set_int(&b, -1);
    set_union(&row, "remark", 2, &b);
    avro_value_set_enum(&b, 0);
    set_union(&row, "updated_at", 1, &b);
    avro_value_set_long(&b, 1700000000123456LL);
    set_union(&row, "phone", 1, &b);
    avro_value_set_string(&b, "bad \xff utf8");
    avro_value_t ts;
    cr_assert_eq(avro_value_get_by_name(&v, "ts", &ts, NULL), 0);
    avro_value_set_long(&ts, -1);

    json_t *j = gh_avro_to_json(env, &v);
    json_t *after = json_object_get(j, "after");
    cr_expect_str_eq(json_string_value(json_object_get(after, "source_key")),
                     "k1");
    cr_expect(json_is_null(json_object_get(after, "name")));
    cr_expect_str_eq(json_string_value(json_object_get(after, "sex")),
                     "FEMALE");
    cr_expect_str_eq(json_string_value(json_object_get(after, "birth_date")),
                     "1969-12-31");
    cr_expect_str_eq(json_string_value(json_object_get(after, "remark")),
                     "__unchanged__");
    cr_expect_str_eq(json_string_value(json_object_get(after, "updated_at")),
                     "2023-11-14T22:13:20.123456Z");
    cr_expect_str_eq(json_string_value(json_object_get(after, "phone")),
                     "bad \xef\xbf\xbd utf8");
    cr_expect_str_eq(json_string_value(json_object_get(j, "ts")),
                     "1969-12-31T23:59:59.999999Z");
    /* Without a schema, no logical types: plain numbers. */
    json_t *plain = gh_avro_to_json(NULL, &v);
    cr_expect(json_is_integer(json_object_get(plain, "ts")));
    json_decref(plain);
    json_decref(j);

    /* Bytes render as code points U+0000-U+00FF. */
    gh_schemas_t *bs = gh_schemas_new();
    const gh_schema_t *s = NULL;
    cr_assert_eq(gh_schemas_add_json(bs, "{\"type\":\"bytes\"}", 0, &s, err,
                                     sizeof(err)),
                 GH_OK);
    avro_value_t bv;
    cr_assert_eq(gh_schema_new_value(s, &bv, err, sizeof(err)), GH_OK);
    avro_value_set_bytes(&bv, "\x00\x41\xff", 3);
    json_t *bj = gh_avro_to_json(s, &bv);
    cr_expect_eq(json_string_length(bj), 4); /* 00, 41, C3 BF */
    cr_expect_eq(memcmp(json_string_value(bj), "\x00\x41\xc3\xbf", 4), 0);
    json_decref(bj);
    avro_value_decref(&bv);
    gh_schemas_destroy(bs);

    avro_value_decref(&v);
    gh_schemas_destroy(set);
}

/* The earliest timestamp-micros overflowed while its seconds were
 * computed (UBSan, tests/fuzz/crashes/avro/ts-long-min). */
Test(avro_json, renders_extreme_timestamps) {
    gh_schemas_t *set = load(SCHEMAS_DIR);
    const gh_schema_t *env = get(set, "gridhub.change.PersonEnvelope");
    avro_value_t v, ts;
    char err[256];
    cr_assert_eq(gh_schema_new_value(env, &v, err, sizeof(err)), GH_OK);
    unsigned k = 0;
    fill(&v, &k, 0);
    cr_assert_eq(avro_value_get_by_name(&v, "ts", &ts, NULL), 0);
    avro_value_set_long(&ts, INT64_MIN);
    json_t *j = gh_avro_to_json(env, &v);
    const char *text = json_string_value(json_object_get(j, "ts"));
    cr_assert_not_null(text);
    cr_expect(strlen(text) > 8 && !strcmp(text + strlen(text) - 8, ".224192Z"),
              "%s", text);
    json_decref(j);
    avro_value_set_long(&ts, -1000001);
    j = gh_avro_to_json(env, &v);
    cr_expect_str_eq(json_string_value(json_object_get(j, "ts")),
                     "1969-12-31T23:59:58.999999Z");
    json_decref(j);
    avro_value_decref(&v);
    gh_schemas_destroy(set);
}

/* ---- Confluent framing through a registry -------------------------------- */

typedef struct fake_registry {
    pid_t pid;
    int stdin_fd;
    char url[64];
} fake_registry_t;

/* Starts tests/tools/fake_schema_registry.py; 0 on success. */
static int registry_start(fake_registry_t *r) {
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    char *argv[] = {"python3",
                    GH_SOURCE_DIR "/tests/tools/fake_schema_registry.py",
                    "--lifetime", "50", NULL};
    int rc = posix_spawnp(&r->pid, "python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc) {
        close(in[1]);
        close(out[0]);
        return -1;
    }
    r->stdin_fd = in[1];
    char line[64] = "";
    size_t n = 0;
    while (n + 1 < sizeof(line)) {
        ssize_t k = read(out[0], line + n, 1);
        if (k <= 0 || line[n] == '\n') break;
        n++;
    }
    line[n] = '\0';
    close(out[0]);
    int port = 0;
    if (sscanf(line, "PORT %d", &port) != 1) return -1;
    snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/", port);
    return 0;
}

/* How many schemas the fake registry was asked for by id (GET /_stats). */
static size_t on_stats(char *d, size_t sz, size_t n, void *arg) {
    gh_buf_append(arg, d, sz * n);
    return sz * n;
}

static long registry_gets(const fake_registry_t *r) {
    char url[96];
    snprintf(url, sizeof(url), "%s_stats", r->url);
    CURL *h = curl_easy_init();
    gh_buf_t b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stats);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    cr_assert_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    gh_buf_append(&b, "", 1);
    json_t *j = json_loads(b.data, 0, NULL);
    long n = (long)json_integer_value(json_object_get(j, "get_ids"));
    json_decref(j);
    gh_buf_free(&b);
    return n;
}

static void registry_stop(fake_registry_t *r) {
    /* Closing its stdin is the script's signal to exit. */
    close(r->stdin_fd);
    int status;
    waitpid(r->pid, &status, 0);
}

Test(avro_serde, confluent_framing_through_registry, .timeout = 60) {
    fake_registry_t reg;
    if (registry_start(&reg) != 0)
        cr_skip_test("python3 or the fake registry could not be started");

    gh_schemas_t *set = load(SCHEMAS_DIR);
    gh_serde_t *sd = gh_serde_new(set, reg.url);
    const gh_schema_t *env = get(set, "gridhub.change.PersonEnvelope");
    avro_value_t v, back;
    char err[1024] = "";
    cr_assert_eq(gh_schema_new_value(env, &v, err, sizeof(err)), GH_OK);
    unsigned k = 99;
    fill(&v, &k, 0);

    gh_buf_t m1 = {0}, m2 = {0};
    encode(sd, "zongzhi.person", env, &v, &m1);
    encode(sd, "zongzhi.person", env, &v, &m2);
    const unsigned char *b = (const unsigned char *)m1.data;
    cr_assert_geq(m1.len, 5);
    cr_expect_eq(b[0], 0);
    uint32_t id = ((uint32_t)b[1] << 24) | ((uint32_t)b[2] << 16) |
                  ((uint32_t)b[3] << 8) | b[4];
    cr_expect_gt(id, 0);
    cr_expect_eq(m1.len, m2.len);
    cr_expect_eq(memcmp(m1.data, m2.data, m1.len), 0);

    const gh_schema_t *got = NULL;
    cr_assert_eq(gh_serde_decode(sd, m1.data, m1.len, env, &back, &got, err,
                                 sizeof(err)),
                 GH_OK, "%s", err);
    cr_expect(avro_value_equal(&v, &back));
    avro_value_decref(&back);

    /* A process that has never seen the schema fetches it by id. */
    gh_schemas_t *empty = gh_schemas_new();
    gh_serde_t *sd2 = gh_serde_new(empty, reg.url);
    cr_assert_eq(gh_serde_decode(sd2, m1.data, m1.len, NULL, &back, &got, err,
                                 sizeof(err)),
                 GH_OK, "%s", err);
    cr_expect_eq(gh_schema_fingerprint(got), gh_schema_fingerprint(env));
    cr_expect_eq(gh_schemas_count(empty), 1);
    json_t *j1 = gh_avro_to_json(env, &v), *j2 = gh_avro_to_json(got, &back);
    cr_expect(json_equal(j1, j2));
    json_decref(j1);
    json_decref(j2);
    avro_value_decref(&back);
    /* Single-object messages still decode on a registry serde. */
    gh_buf_t so = {0};
    encode_so(set, env, &v, &so);
    cr_expect_eq(gh_serde_decode(sd2, so.data, so.len, NULL, &back, NULL, err,
                                 sizeof(err)),
                 GH_OK, "%s", err);
    avro_value_decref(&back);
    gh_buf_free(&so);

    /* An id the registry does not know; asked again, it is answered from
     * memory (a flood of forged ids must not cost a request each). */
    unsigned char unknown[6] = {0, 0, 0, 0x03, 0xe7, 0};
    long asked = registry_gets(&reg);
    cr_expect_eq(
        try_decode(sd2, unknown, sizeof(unknown), NULL, err, sizeof(err)),
        GH_ERR_UNKNOWN_SCHEMA);
    cr_expect(strstr(err, "404") != NULL && strstr(err, "/schemas/ids/999"),
              "%s", err);
    for (int i = 0; i < 5; i++)
        cr_expect_eq(
            try_decode(sd2, unknown, sizeof(unknown), NULL, err, sizeof(err)),
            GH_ERR_UNKNOWN_SCHEMA);
    cr_expect_eq(registry_gets(&reg), asked + 1,
                 "six lookups of one unknown id asked the registry %ld times",
                 registry_gets(&reg) - asked);

    /* A registry error names the URL, the status and the body. */
    gh_buf_t m3 = {0};
    cr_expect_eq(
        gh_serde_encode(sd, "fail-topic", env, &v, &m3, err, sizeof(err)),
        GH_ERR_HTTP);
    cr_expect(strstr(err, "HTTP 500") && strstr(err, "injected failure") &&
                  strstr(err, "/subjects/fail-topic-value/versions"),
              "%s", err);
    cr_expect_eq(m3.len, 0);

    gh_serde_destroy(sd2);
    gh_schemas_destroy(empty);
    avro_value_decref(&v);
    gh_buf_free(&m1);
    gh_buf_free(&m2);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
    registry_stop(&reg);
}

/* A loopback port that was free a moment ago: nothing listens there. */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Credentials in the registry URL are used, never shown. */
Test(avro_serde, registry_credentials_are_not_printed, .timeout = 30) {
    char url[96];
    snprintf(url, sizeof(url), "http://hub:s3cr3t-pw@127.0.0.1:%d/",
             free_port());
    gh_schemas_t *empty = gh_schemas_new();
    gh_serde_t *sd = gh_serde_new(empty, url);
    unsigned char framed[6] = {0, 0, 0, 0, 5, 0};
    char err[1024] = "";
    cr_expect_eq(try_decode(sd, framed, sizeof(framed), NULL, err, sizeof(err)),
                 GH_ERR_HTTP, "%s", err);
    cr_expect(strstr(err, "127.0.0.1") && !strstr(err, "s3cr3t") &&
                  !strstr(err, "hub:"),
              "%s", err);
    gh_serde_destroy(sd);
    gh_schemas_destroy(empty);
}

Test(avro_serde, unreachable_registry_is_a_clear_error, .timeout = 30) {
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", free_port());

    gh_schemas_t *set = load(SCHEMAS_DIR);
    gh_serde_t *sd = gh_serde_new(set, url);
    const gh_schema_t *grid = get(set, "gridhub.canonical.Grid");
    avro_value_t v;
    char err[1024] = "";
    cr_assert_eq(gh_schema_new_value(grid, &v, err, sizeof(err)), GH_OK);
    unsigned k = 1;
    fill(&v, &k, 0);
    gh_buf_t out = {0};
    cr_expect_eq(gh_serde_encode(sd, "grid", grid, &v, &out, err, sizeof(err)),
                 GH_ERR_HTTP);
    cr_expect(strstr(err, url) != NULL, "%s", err);
    avro_value_decref(&v);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
}
