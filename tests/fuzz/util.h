/*
 * Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * A target states what must hold of the code's output with GH_FUZZ_CHECK:
 * a violated invariant aborts, which libFuzzer records as a crash with the
 * input saved, exactly like a sanitizer report.
 */
#ifndef GH_FUZZ_UTIL_H
#define GH_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "gridhub/avro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GH_FUZZ_CHECK(cond, ...)                                               \
    do {                                                                       \
        if (!(cond)) gh_fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
    } while (0)

void gh_fuzz_fail(const char *file, int line, const char *cond, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5), noreturn));

/* With GH_FUZZ_VERBOSE=1 in the environment, prints a line to stderr:
 * what a target made of an input, when replaying one by hand. */
void gh_fuzz_verbose(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The project's schemas/ (of the source tree the target was built from),
 * loaded on first call and kept for the life of the process. */
gh_schemas_t *gh_fuzz_schemas(void);

/* Writes data to `name` in a private temporary directory (created on first
 * call, removed at exit) and returns the file's path (static storage,
 * valid until the next call). */
const char *gh_fuzz_write_file(const char *name, const void *data, size_t size);

/* End of the COPY text field that starts at s[i] (a tab, or len): a
 * backslash escapes the next byte, a tab included, as PostgreSQL reads
 * it. */
size_t gh_fuzz_copy_field_end(const uint8_t *s, size_t i, size_t len);

/* 1 if s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF). Written apart from the product's decoder so
 * that it checks it rather than repeats it. */
int gh_fuzz_utf8_ok(const char *s, size_t len);

#endif
