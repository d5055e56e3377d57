/*
 * Writes seeds for the avro fuzz target: framed messages (single-object
 * encoding, as the connector and the hub publish them) of every schema in
 * schemas/ (current, history and composed envelopes), two values each,
 * plus a Confluent-framed one and truncated ones.
 *
 *   build-fuzz/tests/fuzz/avro_seeds DIR
 *
 * The seeds' fingerprints are those of today's schemas: after a schema
 * change, run it again into tests/fuzz/corpus/avro/ (README.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/avro.h"
#include "gridhub/util.h"

static avro_schema_t deref(avro_schema_t s) {
    while (is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

/* Fills v from the counter *k; `variant` 0 takes the last union branch
 * (a value rather than null), 1 varies branches, sizes and symbols. */
static void fill(avro_value_t *v, unsigned *k, int variant, int depth) {
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
        avro_value_set_int(v, variant ? -(int32_t)x : 19000 + (int32_t)x);
        break;
    case AVRO_INT64:
        avro_value_set_long(v, variant ? -(int64_t)x
                                       : INT64_C(1714550000000000) + x);
        break;
    case AVRO_FLOAT:
        avro_value_set_float(v, (float)x / 4);
        break;
    case AVRO_DOUBLE:
        avro_value_set_double(v, (double)x * 1.5);
        break;
    case AVRO_STRING: {
        static const char *const text[] = {
            "王建国", "LP-DT-01", "", "大塘小区3栋2单元501", "13800138000"};
        avro_value_set_string(v, text[x % 5]);
        break;
    }
    case AVRO_BYTES:
        avro_value_set_bytes(v, "\x00\xff\x80", x % 4);
        break;
    case AVRO_FIXED: {
        size_t n = (size_t)avro_schema_fixed_size(s);
        char *b = gh_xcalloc(1, n + 1);
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
        int idx = depth > 6 ? 0 : variant ? (int)(x % n) : (int)n - 1;
        /* The last branch of a row field is Unchanged: take the value. */
        if (!variant && n > 2) idx = 1;
        avro_value_set_branch(v, idx, &b);
        fill(&b, k, variant, depth + 1);
        break;
    }
    case AVRO_RECORD: {
        size_t n = 0;
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_t f;
            avro_value_get_by_index(v, i, &f, NULL);
            fill(&f, k, variant, depth + 1);
        }
        break;
    }
    case AVRO_ARRAY:
        for (unsigned i = 0; depth < 6 && i < 1 + x % 2; i++) {
            avro_value_t e;
            avro_value_append(v, &e, NULL);
            fill(&e, k, variant, depth + 1);
        }
        break;
    case AVRO_MAP:
        for (unsigned i = 0; depth < 6 && i < 1 + x % 2; i++) {
            avro_value_t e;
            char key[16];
            snprintf(key, sizeof(key), "k%u", i);
            avro_value_add(v, key, &e, NULL, NULL);
            fill(&e, k, variant, depth + 1);
        }
        break;
    default:
        break;
    }
}

static void write_seed(const char *dir, const char *name, const void *data,
                       size_t len) {
    char *path = gh_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
        perror(path);
        exit(1);
    }
    free(path);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    char err[512];
    gh_schemas_t *set = NULL;
    if (gh_schemas_load_dir(&set, GH_SCHEMAS_DIR, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    gh_serde_t *sd = gh_serde_new(set, NULL);
    for (size_t i = 0; i < gh_schemas_count(set); i++) {
        const gh_schema_t *s = gh_schemas_at(set, i);
        for (int variant = 0; variant < 2; variant++) {
            avro_value_t v;
            gh_buf_t out = {0};
            unsigned k = (unsigned)i;
            if (gh_schema_new_value(s, &v, err, sizeof(err))) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            fill(&v, &k, variant, 0);
            if (gh_serde_encode(sd, NULL, s, &v, &out, err, sizeof(err))) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            char *name =
                gh_xasprintf("%02zu-%s-%d", i, gh_schema_fullname(s), variant);
            write_seed(argv[1], name, out.data, out.len);
            if (!strcmp(gh_schema_fullname(s),
                        "gridhub.change.PersonEnvelope") &&
                !variant) {
                char *cut = gh_xasprintf("%s-cut", name);
                write_seed(argv[1], cut, out.data, out.len / 2);
                free(cut);
                /* The same body behind a Confluent header (id 1). */
                gh_buf_t cf = {0};
                gh_buf_append(&cf, "\0\0\0\0\1", 5);
                gh_buf_append(&cf, out.data + 10, out.len - 10);
                write_seed(argv[1], "confluent-person", cf.data, cf.len);
                gh_buf_free(&cf);
            }
            free(name);
            gh_buf_free(&out);
            avro_value_decref(&v);
        }
    }
    write_seed(argv[1], "header-only", "\xc3\x01", 2);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
    return 0;
}
