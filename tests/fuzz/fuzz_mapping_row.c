/*
 * Rows through a mapping (gh_map_row,
 * connectors/runtime/mapping/mapping_row.c): every transform and every kind of
 * canonical field, on a fixed mapping of three tables. The input is one byte
 * choosing the table (and, with its high bit, a key-only old tuple) and then a
 * row in COPY text format. A row that maps must carry its key as source_key,
 * encode, and decode to the same record.
 */
#include <stdlib.h>
#include <string.h>

#include "copy_text.h"
#include "mapping.h"
#include "util.h"

static const char g_mapping[] =
    "department=fuzz\n"
    "tables=p,h,v\n"
    "table.p.source=public.p\n"
    "table.p.entity=person\n"
    "table.p.filter=zt in ('1','3')\n"
    "table.p.field.source_key='p/' + id | trim\n"
    "table.p.field.name=xm | fullwidth | collapse | trim\n"
    "table.p.field.id_number=sfzh | trim | upper | nullif:\n"
    "table.p.field.sex=xb | trim | code:xb\n"
    "table.p.field.birth_date=csrq | trim | nullif: | "
    "date:YYYYMMDD;YYYY.MM.DD;YYYY年MM月DD日\n"
    "table.p.field.phone=dh | fullwidth | trim | nullif:'-'\n"
    "table.p.field.address=dz | collapse\n"
    "table.p.field.grid_code=wg | trim | crosswalk:grid | nullif:\n"
    "table.p.field.household_key='h/' + hh\n"
    "table.p.field.remark=bz | lower\n"
    "table.p.field.updated_at=gxsj | trim\n"
    "table.h.source=public.h\n"
    "table.h.entity=household\n"
    "table.h.filter=zt != '0'\n"
    "table.h.field.source_key='h/' + hh\n"
    "table.h.field.member_count=n | trim | nullif:\n"
    "table.h.field.address=dz\n"
    "table.h.field.updated_at=gxsj | trim\n"
    "table.v.source=public.v\n"
    "table.v.entity=volunteer\n"
    "table.v.filter=zt is not null\n"
    "table.v.field.source_key=id + '/' + xm\n"
    "table.v.field.sex=xb | upper | code:xb\n"
    "table.v.field.service_hours=hours | trim | nullif:\n"
    "table.v.field.updated_at=gxsj | trim | nullif:\n"
    "codes.xb.1=MALE\n"
    "codes.xb.2=FEMALE\n"
    "codes.xb.男=MALE\n"
    "codes.xb.*=UNKNOWN\n"
    "codes.grid.file=grid_crosswalk.csv\n"
    "codes.grid.*=\n";

static gh_mapping_t *g_map;
static gh_serde_t *g_serde;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const char csv[] = "DJ-LPJD,LP\nDJ-LPJD-DTSQ-01,LP-DT-01\n";
    char err[1024];
    gh_fuzz_write_file("grid_crosswalk.csv", csv, sizeof(csv) - 1);
    const char *path =
        gh_fuzz_write_file("mapping.properties", g_mapping, strlen(g_mapping));
    g_map = gh_mapping_load(path, gh_fuzz_schemas(), err, sizeof(err));
    if (!g_map) {
        fprintf(stderr, "fuzz_mapping_row: %s\n", err);
        exit(2);
    }
    for (int i = 0; i < gh_mapping_table_count(g_map); i++) {
        gh_map_table_t *t = gh_mapping_table(g_map, i);
        int n;
        const char *const *cols = gh_map_table_columns(t, &n);
        if (gh_map_table_bind(t, n, cols, err, sizeof(err))) {
            fprintf(stderr, "fuzz_mapping_row: %s\n", err);
            exit(2);
        }
    }
    g_serde = gh_serde_new(gh_fuzz_schemas(), NULL);
    (void)argc;
    (void)argv;
    return 0;
}

static void set_str(avro_value_t *rec, const char *name, const char *s) {
    avro_value_t f;
    avro_value_get_by_name(rec, name, &f, NULL);
    avro_value_set_string(&f, s);
}

/* The envelope fields gh_map_row does not fill, as the connector sets
 * them. */
static void fill_envelope(avro_value_t *env, const gh_map_table_t *t) {
    avro_value_t f, b, src;
    avro_value_get_by_name(env, "op", &f, NULL);
    avro_value_set_enum(&f, 0);
    avro_value_get_by_name(env, "before", &f, NULL);
    avro_value_set_branch(&f, 0, &b);
    avro_value_set_null(&b);
    avro_value_get_by_name(env, "source", &src, NULL);
    set_str(&src, "department", "fuzz");
    set_str(&src, "connector", "fuzz-1");
    set_str(&src, "database", "fuzz");
    set_str(&src, "schema", gh_map_table_schema(t));
    set_str(&src, "table", gh_map_table_name(t));
    avro_value_get_by_name(&src, "lsn", &f, NULL);
    avro_value_set_long(&f, 1);
    avro_value_get_by_name(&src, "seq", &f, NULL);
    avro_value_set_long(&f, 1);
    avro_value_get_by_name(&src, "txid", &f, NULL);
    avro_value_set_branch(&f, 0, &b);
    avro_value_set_null(&b);
    avro_value_get_by_name(&src, "commit_time", &f, NULL);
    avro_value_set_branch(&f, 0, &b);
    avro_value_set_null(&b);
    avro_value_get_by_name(&src, "snapshot", &f, NULL);
    avro_value_set_enum(&f, 0);
    avro_value_get_by_name(env, "ts", &f, NULL);
    avro_value_set_long(&f, 0);
}

static void check_mapped(gh_map_table_t *t, avro_value_t *env,
                         const gh_buf_t *key) {
    char err[1024];
    const gh_schema_t *s = gh_map_table_envelope(t);
    fill_envelope(env, t);
    json_t *j = gh_avro_to_json(s, env);
    const char *sk = json_string_value(
        json_object_get(json_object_get(j, "after"), "source_key"));
    /* JSON shows invalid UTF-8 as U+FFFD (a UTF8 database sends none). */
    GH_FUZZ_CHECK(
        sk && (!strcmp(sk, key->data) || !gh_fuzz_utf8_ok(key->data, key->len)),
        "key \"%s\", source_key %s", key->data, sk ? sk : "(none)");
    gh_buf_t out = {0};
    gh_err_t rc = gh_serde_encode(g_serde, "t", s, env, &out, err, sizeof(err));
    GH_FUZZ_CHECK(!rc, "a mapped row does not encode: %s", err);
    avro_value_t back;
    rc = gh_serde_decode(g_serde, out.data, out.len, s, &back, NULL, err,
                         sizeof(err));
    GH_FUZZ_CHECK(!rc, "a mapped row does not decode: %s", err);
    json_t *j2 = gh_avro_to_json(s, &back);
    GH_FUZZ_CHECK(json_equal(j, j2), "the row changed through Avro");
    json_decref(j);
    json_decref(j2);
    avro_value_decref(&back);
    gh_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return -1;
    char err[1024];
    gh_map_table_t *t = gh_mapping_table(
        g_map, (data[0] & 0x7f) % gh_mapping_table_count(g_map));
    int key_only = data[0] >> 7, ncols;
    gh_map_table_columns(t, &ncols);
    const uint8_t *row = data + 1;
    size_t len = size - 1;

    int n = 1;
    for (size_t i = gh_fuzz_copy_field_end(row, 0, len); i < len;
         i = gh_fuzz_copy_field_end(row, i + 1, len))
        n++;
    char *line = malloc(len ? len : 1);
    memcpy(line, row, len);
    gh_pgo_value_t *vals = calloc((size_t)n, sizeof(*vals));
    GH_FUZZ_CHECK(!gh_copy_text_split(line, len, vals, n), "split");
    int nvals = n < ncols ? n : ncols;

    avro_value_t env, after, rec;
    if (gh_schema_new_value(gh_map_table_envelope(t), &env, err, sizeof(err)))
        gh_fuzz_fail(__FILE__, __LINE__, "new value", "%s", err);
    avro_value_get_by_name(&env, "after", &after, NULL);
    avro_value_set_branch(&after, 1, &rec);
    gh_buf_t key = {0};
    gh_err_t rc =
        gh_map_row(t, vals, nvals, key_only, &rec, &key, err, sizeof(err));
    GH_FUZZ_CHECK(!rc || rc == GH_ERR_MAPPING, "gh_map_row: %d: %s", rc, err);
    GH_FUZZ_CHECK(!rc || err[0], "failed without a message");
    gh_fuzz_verbose("%s: %s", gh_map_table_id(t), rc ? err : "mapped");
    gh_map_row_matches(t, vals, nvals);
    if (!rc) check_mapped(t, &env, &key);
    gh_buf_free(&key);
    avro_value_decref(&env);
    free(vals);
    free(line);
    return 0;
}
