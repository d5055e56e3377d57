/*
 * Department mapping files (gh_mapping_load,
 * connectors/runtime/mapping/mapping.c) against the project's schemas. The
 * input is a mapping.properties, in a directory that also holds a
 * grid_crosswalk.csv for `codes.*.file`. A mapping that loads must bind to its
 * own column list and map rows of sample values without a crash; what it maps
 * is checked in detail by fuzz_mapping_row.c.
 */
#include <stdlib.h>
#include <string.h>

#include "mapping_int.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const char csv[] = "# from,to\nDJ-LPJD,LP\nDJ-LPJD-DTSQ,LP-DT\n"
                              "DJ-LPJD-DTSQ-01,LP-DT-01\n";
    gh_fuzz_schemas();
    gh_fuzz_write_file("grid_crosswalk.csv", csv, sizeof(csv) - 1);
    (void)argc;
    (void)argv;
    return 0;
}

/* Sample column values; row r gives column c sample (r + c) % NSAMPLES. */
static const char *const g_samples[] = {NULL,
                                        "",
                                        "1",
                                        "2024-05-01 08:30:00",
                                        "  王建国  ",
                                        "１２３ ＡＢＣ",
                                        "UNCHANGED",
                                        "20240501",
                                        "DJ-LPJD-DTSQ-01",
                                        "f"};
#define NSAMPLES (sizeof(g_samples) / sizeof(g_samples[0]))

static void map_samples(gh_map_table_t *t, int ncols) {
    char err[1024];
    avro_value_t env, after, row;
    if (gh_schema_new_value(gh_map_table_envelope(t), &env, err, sizeof(err)))
        gh_fuzz_fail(__FILE__, __LINE__, "new value", "%s", err);
    avro_value_get_by_name(&env, "after", &after, NULL);
    avro_value_set_branch(&after, 1, &row);
    gh_pgo_value_t *vals = calloc((size_t)ncols + 1, sizeof(*vals));
    for (size_t r = 0; r < NSAMPLES; r++) {
        for (int c = 0; c < ncols; c++) {
            const char *s = g_samples[(r + (size_t)c) % NSAMPLES];
            vals[c].kind = !s                        ? GH_PGO_NULL
                           : !strcmp(s, "UNCHANGED") ? GH_PGO_UNCHANGED
                                                     : GH_PGO_TEXT;
            vals[c].data = vals[c].kind == GH_PGO_TEXT ? s : NULL;
            vals[c].len = vals[c].data ? (uint32_t)strlen(s) : 0;
        }
        gh_buf_t key = {0};
        gh_err_t rc = gh_map_row(t, vals, ncols, (int)(r & 1), &row, &key, err,
                                 sizeof(err));
        GH_FUZZ_CHECK(!rc || rc == GH_ERR_MAPPING, "gh_map_row: %d: %s", rc,
                      err);
        GH_FUZZ_CHECK(rc || key.data, "mapped without a key");
        gh_map_row_matches(t, vals, ncols);
        gh_buf_free(&key);
    }
    free(vals);
    avro_value_decref(&env);
}

static void check_table(const gh_mapping_t *m, gh_map_table_t *t) {
    char err[1024];
    GH_FUZZ_CHECK(gh_map_table_id(t) && gh_map_table_schema(t) &&
                      gh_map_table_name(t) && gh_map_table_entity(t) &&
                      gh_map_table_envelope(t),
                  "table with a hole");
    gh_map_table_t *all[64];
    int n = gh_mapping_find_all(m, gh_map_table_schema(t), gh_map_table_name(t),
                                all, 64);
    int found = 0;
    for (int i = 0; i < n && i < 64; i++)
        found |= all[i] == t;
    GH_FUZZ_CHECK(found || n > 64, "table %s not found by its source",
                  gh_map_table_id(t));

    int ncols;
    const char *const *cols = gh_map_table_columns(t, &ncols);
    for (int i = 0; i < ncols; i++)
        for (int k = 0; k < i; k++)
            GH_FUZZ_CHECK(strcmp(cols[i], cols[k]), "column %s twice", cols[i]);
    gh_err_t rc = gh_map_table_bind(t, 0, NULL, err, sizeof(err));
    GH_FUZZ_CHECK(!rc == !ncols, "bound to no column: %d", rc);
    rc = gh_map_table_bind(t, ncols, cols, err, sizeof(err));
    GH_FUZZ_CHECK(!rc, "does not bind to its own columns: %s", err);
    map_samples(t, ncols);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    if (size > 16384) return -1;
    const char *path = gh_fuzz_write_file("mapping.properties", data, size);
    gh_mapping_t *m =
        gh_mapping_load(path, gh_fuzz_schemas(), err, sizeof(err));
    if (!m) {
        GH_FUZZ_CHECK(err[0], "failed without a message");
        gh_fuzz_verbose("%s", err);
        return 0;
    }
    GH_FUZZ_CHECK(!memchr(data, '\0', size), "loaded past a NUL byte");
    const char *dept = gh_mapping_department(m);
    GH_FUZZ_CHECK(dept && *dept &&
                      strspn(dept, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
                          strlen(dept),
                  "department \"%s\"", dept ? dept : "(null)");
    GH_FUZZ_CHECK(gh_mapping_table_count(m) > 0, "no table");
    for (int i = 0; i < gh_mapping_table_count(m); i++)
        check_table(m, gh_mapping_table(m, i));
    gh_mapping_destroy(m);
    return 0;
}
