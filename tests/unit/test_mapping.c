/*
 * Unit tests for department mappings (connectors/runtime/mapping.h):
 * files the fuzz target (tests/fuzz/fuzz_mapping.c) found mishandled,
 * loaded against schemas/ and mapped on hand-made rows.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
