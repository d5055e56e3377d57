/*
 * Unit tests for department mappings (connectors/runtime/mapping/mapping.h):
 * files the fuzz target (tests/fuzz/fuzz_mapping.c) found mishandled,
 * loaded against schemas/ and mapped on hand-made rows; and rows of the
 * test department's mapping (tests/data/dept): timestamps read strictly
 * and never past their end, errors that do not quote the value.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/avro.h"
#include "mapping.h"

typedef struct fixture {
    gh_schemas_t *set;
    char path[64];
} fixture_t;

/* Writes `text` to a temporary mapping file and loads it; NULL with the
 * error in err when it does not load. */
static gh_mapping_t *load(fixture_t *fx, const char *text, char *err,
                          size_t errsz) {
    cr_assert_eq(
        gh_schemas_load_dir(&fx->set, GH_SOURCE_DIR "/schemas", err, errsz),
        GH_OK, "%s", err);
    snprintf(fx->path, sizeof(fx->path), "/tmp/gh-mapping-XXXXXX");
    int fd = mkstemp(fx->path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return gh_mapping_load(fx->path, fx->set, err, errsz);
}

static void done(fixture_t *fx, gh_mapping_t *m) {
    gh_mapping_destroy(m);
    gh_schemas_destroy(fx->set);
    unlink(fx->path);
}

static gh_pgo_value_t text(const char *s) {
    return (gh_pgo_value_t){GH_PGO_TEXT, s, (uint32_t)strlen(s)};
}

/* A code table of only a fallback has no entries: it was sorted and
 * searched as a NULL array (UBSan). */
Test(mapping, code_table_of_only_a_fallback) {
    fixture_t fx;
    char err[512] = "";
    gh_mapping_t *m = load(&fx,
                           "department=t\n"
                           "tables=p\n"
                           "table.p.source=public.p\n"
                           "table.p.entity=person\n"
                           "table.p.field.source_key=id\n"
                           "table.p.field.sex=xb | code:sex\n"
                           "codes.sex.*=UNKNOWN\n",
                           err, sizeof(err));
    cr_assert_not_null(m, "%s", err);
    gh_map_table_t *t = gh_mapping_table(m, 0);
    const char *const cols[] = {"id", "xb"};
    cr_assert_eq(gh_map_table_bind(t, 2, cols, err, sizeof(err)), GH_OK, "%s",
                 err);
    avro_value_t env, after, row, f, b;
    cr_assert_eq(
        gh_schema_new_value(gh_map_table_envelope(t), &env, err, sizeof(err)),
        GH_OK);
    avro_value_get_by_name(&env, "after", &after, NULL);
    avro_value_set_branch(&after, 1, &row);
    gh_pgo_value_t vals[] = {text("k1"), text("男")};
    gh_buf_t key = {0};
    cr_assert_eq(gh_map_row(t, vals, 2, 0, &row, &key, err, sizeof(err)), GH_OK,
                 "%s", err);
    cr_expect_str_eq(key.data, "k1");
    avro_value_get_by_name(&row, "sex", &f, NULL);
    avro_value_get_current_branch(&f, &b);
    int sym = -1;
    avro_value_get_enum(&b, &sym);
    cr_expect_str_eq(avro_schema_enum_get(avro_value_get_schema(&b), sym),
                     "UNKNOWN");
    gh_buf_free(&key);
    avro_value_decref(&env);
    done(&fx, m);
}

/* An empty department loaded: topics and slots would be named after "". */
Test(mapping, empty_department) {
    fixture_t fx;
    char err[512] = "";
    gh_mapping_t *m = load(&fx,
                           "department=\n"
                           "tables=p\n"
                           "table.p.source=public.p\n"
                           "table.p.entity=person\n"
                           "table.p.field.source_key=id\n",
                           err, sizeof(err));
    cr_expect_null(m);
    cr_expect(strstr(err, ":1: department is empty"), "%s", err);
    done(&fx, m);
}

/* codes.x.file naming a directory loaded as an empty code table. */
Test(mapping, code_table_file_that_cannot_be_read) {
    fixture_t fx;
    char err[512] = "";
    gh_mapping_t *m = load(&fx,
                           "department=t\n"
                           "tables=p\n"
                           "table.p.source=public.p\n"
                           "table.p.entity=person\n"
                           "table.p.field.source_key=id\n"
                           "codes.grid.file=/\n",
                           err, sizeof(err));
    cr_expect_null(m);
    cr_expect(strstr(err, ":6: code table grid: cannot read /"), "%s", err);
    done(&fx, m);
}

/* ---- the test department's mapping ---- */

static gh_schemas_t *g_set;
static gh_mapping_t *g_map;
static gh_map_table_t *g_t;
static avro_value_t g_env, g_row;

static const char *const cols[] = {"rkbh", "xm",   "gmsfhm", "xb", "csrq",
                                   "lxdh", "jzdz", "wgbm",   "bz", "gxsj"};
#define NCOLS 10

static void setup(void) {
    char err[1024];
    cr_assert_eq(
        gh_schemas_load_dir(&g_set, GH_SOURCE_DIR "/schemas", err, sizeof(err)),
        GH_OK, "%s", err);
    g_map = gh_mapping_load(GH_TEST_DATA_DIR "/dept/mapping.properties", g_set,
                            err, sizeof(err));
    cr_assert_not_null(g_map, "%s", err);
    g_t = gh_mapping_table(g_map, 0);
    cr_assert_eq(gh_map_table_bind(g_t, NCOLS, cols, err, sizeof(err)), GH_OK,
                 "%s", err);
    cr_assert_eq(gh_schema_new_value(gh_map_table_envelope(g_t), &g_env, err,
                                     sizeof(err)),
                 GH_OK);
    avro_value_t after;
    avro_value_get_by_name(&g_env, "after", &after, NULL);
    avro_value_set_branch(&after, 1, &g_row);
}

static void teardown(void) {
    avro_value_decref(&g_env);
    gh_mapping_destroy(g_map);
    gh_schemas_destroy(g_set);
}

/* Maps one row whose gxsj is `ts`, held in a buffer of exactly its length
 * (no terminating NUL in reach), so that ASan sees any read past it. */
static gh_err_t map_ts(const char *ts, int64_t *us, char *err, size_t n) {
    size_t len = strlen(ts);
    char *exact = malloc(len ? len : 1);
    memcpy(exact, ts, len);
    gh_pgo_value_t v[NCOLS];
    for (int i = 0; i < NCOLS; i++)
        v[i] =
            (gh_pgo_value_t){GH_PGO_TEXT, cols[i], (uint32_t)strlen(cols[i])};
    v[1] = (gh_pgo_value_t){GH_PGO_TEXT, "张伟", 6};
    v[3] = (gh_pgo_value_t){GH_PGO_TEXT, "1", 1};
    v[4] = (gh_pgo_value_t){GH_PGO_TEXT, "1980-01-02", 10};
    v[9] = (gh_pgo_value_t){GH_PGO_TEXT, exact, (uint32_t)len};
    gh_buf_t key = {0};
    gh_err_t e = gh_map_row(g_t, v, NCOLS, 0, &g_row, &key, err, n);
    if (!e) {
        avro_value_t f, br;
        avro_value_get_by_name(&g_row, "updated_at", &f, NULL);
        avro_value_get_current_branch(&f, &br);
        avro_value_get_long(&br, us);
    }
    gh_buf_free(&key);
    free(exact);
    return e;
}

Test(mapping, timestamps, .init = setup, .fini = teardown) {
    struct {
        const char *text;
        int64_t us; /* -1: must be rejected */
    } cases[] = {
        {"2024-01-02 03:04:05+00", 1704164645000000},
        {"2024-01-02 03:04:05.5+00", 1704164645500000},
        {"2024-01-02 11:04:05+08", 1704164645000000},
        {"2024-01-02 11:04:05+08:00", 1704164645000000},
        {"2024-01-02 08:34:05+0530", 1704164645000000},
        {"2024-01-02T03:04:05Z", 1704164645000000},
        {"2024-01-02", 1704153600000000},
        {"1969-12-31 23:59:59+00", -1000000},
        {"2024-01-02 03:04:05+8", -1}, /* one-digit offset */
        {"2024-01-02 03:04:05+", -1},
        {"2024-01-02 03:04:0", -1},
        {"2024-01-02 03:04", -1},
        {"2024-01-02 03", -1},
        {"2024-01-02 ", -1},
        {"2024-01-02 25:00:00+00", -1},
        {"2024-01-02 03:04:05.", -1},
        {"2024-01-02 03:04:05+08:5", -1},
        {"2024-01-02 03:04:05 +08", -1},
        {"2024-13-02 03:04:05+00", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[512];
        int64_t us = 0;
        gh_err_t e = map_ts(cases[i].text, &us, err, sizeof(err));
        if (cases[i].us == -1) {
            cr_assert_eq(e, GH_ERR_MAPPING, "\"%s\" accepted as %lld",
                         cases[i].text, (long long)us);
            cr_assert(strstr(err, "gxsj") && strstr(err, "updated_at"), "%s",
                      err);
            cr_assert_null(strstr(err, cases[i].text),
                           "the value is quoted: %s", err);
        } else {
            cr_assert_eq(e, GH_OK, "\"%s\": %s", cases[i].text, err);
            cr_assert_eq(us, cases[i].us, "\"%s\" read as %lld", cases[i].text,
                         (long long)us);
        }
    }
}
