/*
 * COPY text rows (connectors/runtime/capture/copy_text.c), as the snapshot
 * reads them: the input is one line. A row splits at every tab that no
 * backslash escapes (as PostgreSQL reads it), into exactly that many values,
 * each unescaped in place within its own field.
 */
#include <stdlib.h>
#include <string.h>

#include "copy_text.h"
#include "util.h"

/* Splits a fresh copy of the line into ncols values. */
static int split(const uint8_t *data, size_t size, int ncols, char **line,
                 gh_pgo_value_t *vals) {
    *line = malloc(size ? size : 1);
    memcpy(*line, data, size);
    return gh_copy_text_split(*line, size, vals, ncols);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return -1; /* rows are short; keep the target fast */
    size_t len = size && data[size - 1] == '\n' ? size - 1 : size;
    int n = 1;
    for (size_t i = gh_fuzz_copy_field_end(data, 0, len); i < len;
         i = gh_fuzz_copy_field_end(data, i + 1, len))
        n++;

    gh_pgo_value_t *vals = calloc((size_t)n + 1, sizeof(*vals));
    char *line;
    int rc = split(data, size, n + 1, &line, vals);
    GH_FUZZ_CHECK(rc == -1, "%d fields accepted as %d", n, n + 1);
    free(line);
    if (n > 1) {
        rc = split(data, size, n - 1, &line, vals);
        GH_FUZZ_CHECK(rc == -1, "%d fields accepted as %d", n, n - 1);
        free(line);
    }

    rc = split(data, size, n, &line, vals);
    GH_FUZZ_CHECK(rc == 0, "%d fields rejected", n);
    /* Field i of the raw line starts at start[i]: values stay inside. */
    size_t start = 0;
    for (int i = 0; i < n; i++) {
        size_t end = gh_fuzz_copy_field_end(data, start, len);
        int is_null = end - start == 2 && !memcmp(data + start, "\\N", 2);
        const gh_pgo_value_t *v = &vals[i];
        GH_FUZZ_CHECK((v->kind == GH_PGO_NULL) == is_null,
                      "field %d: kind '%c'", i, v->kind);
        if (v->kind == GH_PGO_TEXT)
            GH_FUZZ_CHECK(v->data == line + start && v->len <= end - start,
                          "field %d: %u bytes at offset %td, field is "
                          "[%zu, %zu)",
                          i, v->len, v->data - line, start, end);
        start = end + 1;
    }
    free(line);
    free(vals);
    return 0;
}
