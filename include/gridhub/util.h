/*
 * Small shared helpers: the out-of-memory policy and a growable byte buffer.
 *
 * Out-of-memory policy: gridhub is a long-running service whose every
 * allocation is small relative to the machine; running out of memory means
 * the process can no longer make progress safely, so the gh_x* allocators
 * log and abort(). Crash-safety of the pipeline (nothing acknowledged before
 * it is durable) makes an abort lose nothing. Callers never NULL-check them.
 */
#ifndef GRIDHUB_UTIL_H
#define GRIDHUB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gridhub/error.h"

void *gh_xmalloc(size_t n);
void *gh_xcalloc(size_t nmemb, size_t size);
void *gh_xrealloc(void *p, size_t n);
char *gh_xstrdup(const char *s);
char *gh_xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *gh_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable buffer; zero-initialise ({0}) before use. `data` is always
 * NUL-terminated after any append so it can be used as a C string. */
typedef struct gh_buf {
    char *data;
    size_t len, cap;
} gh_buf_t;

void gh_buf_append(gh_buf_t *b, const void *p, size_t n);
void gh_buf_puts(gh_buf_t *b, const char *s);
void gh_buf_printf(gh_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void gh_buf_reset(gh_buf_t *b);
/* Appends s as a JSON string literal: quoted, with `"`, `\` and control
 * characters escaped and each byte that does not start a valid UTF-8
 * sequence replaced by U+FFFD, so the result is valid JSON and valid UTF-8
 * whatever s holds (log lines, error messages from peers). */
void gh_buf_json_string(gh_buf_t *b, const char *s);
/* Returns the data (caller frees; never NULL) and empties the buffer. */
char *gh_buf_detach(gh_buf_t *b);
void gh_buf_free(gh_buf_t *b);

/* Lowercase hex of the n bytes at p into out, NUL-terminated: out holds
 * 2n + 1 bytes. */
void gh_hex_encode(const void *p, size_t n, char *out);
/* Decodes s, exactly 2n lowercase hex digits, into the n bytes at out: 0,
 * or -1 for anything else (out may then be partly written). */
int gh_hex_decode(const char *s, void *out, size_t n);

/* Wipes n bytes at p (a value opened from its sealed form, a key) and
 * frees p; NULL is fine. */
void gh_free_secret(void *p, size_t n);

/* Trims ASCII whitespace in place: returns a pointer into s and writes a
 * NUL after the last non-space character. */
char *gh_str_trim(char *s);

/* Monotonic clock in milliseconds / microseconds. */
int64_t gh_now_ms(void);
int64_t gh_now_us(void);
/* Wall clock, microseconds since the Unix epoch. */
int64_t gh_wallclock_us(void);

/* Reads a whole file into a new NUL-terminated string (caller frees);
 * NULL with errno set on failure. *len_out may be NULL. */
char *gh_read_file(const char *path, size_t *len_out);

/* Called per `from,to` line by gh_read_pairs_file: `where` is "path:line";
 * a non-GH_OK return (errstr set) stops the reading. */
typedef gh_err_t gh_pairs_cb(void *ctx, const char *where, const char *from,
                             const char *to, char *errstr, size_t errstr_size);
/* Reads a two-column file of `from,to` lines (no quoting; blank lines and
 * `#` comments skipped; both sides trimmed), as code tables and grid
 * crosswalks are written. GH_ERR_IO if it cannot be opened or read,
 * GH_ERR_PARSE ("path:line: expected from,to") on a line without a comma,
 * or what cb returned. */
gh_err_t gh_read_pairs_file(const char *path, gh_pairs_cb *cb, void *ctx,
                            char *errstr, size_t errstr_size);

/* UTF-8, the one decoder of the project: decodes the character at s (at
 * most n bytes available) into *cp and returns its length, or -1 if the
 * bytes are not well-formed UTF-8 (overlong forms, surrogates, code points
 * past U+10FFFF and truncated sequences included). */
int gh_utf8_next(const unsigned char *s, size_t n, uint32_t *cp);
/* gh_utf8_next on a NUL-terminated string: the terminating NUL decodes as
 * U+0000 of length 1 (a NUL is never a continuation byte, so it never looks
 * past the string). */
int gh_utf8_next_z(const unsigned char *s, uint32_t *cp);
/* Whether s[0..n) is well-formed UTF-8; *bad_at (may be NULL) receives the
 * offset of the first bad byte. */
int gh_utf8_valid(const char *s, size_t n, size_t *bad_at);
/* Appends s[0..n) to b as JSON-safe text: well-formed UTF-8 as is, every
 * other byte as the escape \xHH, so bytes of an unknown encoding reach a
 * dead letter readable and unchanged. Returns the number of bytes escaped. */
size_t gh_utf8_escape(gh_buf_t *b, const char *s, size_t n);

/* Opens path for writing with mode 0600, never following a symbolic link
 * (O_NOFOLLOW): an output that holds personal data or the temporary file
 * of an atomic replace. replace == 0 never reuses an existing file
 * (O_EXCL); replace != 0 truncates an existing regular file and narrows
 * its mode to 0600, and leaves anything else (/dev/null, a FIFO) as it
 * is. NULL with errno set on failure. */
FILE *gh_fopen_private(const char *path, int replace);

/* Writes `text` and a newline to path through a temporary file renamed
 * over it, so that a reader sees the old content or the new, never a
 * part (the URL and bootstrap files scripts wait for). 0, or -1 with
 * errno set. */
int gh_write_file_atomic(const char *path, const char *text);

/* Dates as days since 1970-01-01 (Avro's `date`), proleptic Gregorian.
 * gh_date_parse_iso accepts "YYYY-MM-DD" (validated; rest may be NULL to
 * require the end of string, else receives what follows) and returns 0. */
int64_t gh_days_from_civil(int y, int m, int d);
int gh_date_parse_iso(const char *s, int64_t *days, const char **rest);
/* Writes "YYYY-MM-DD" (11 bytes with NUL). */
void gh_date_format(int64_t days, char out[11]);
/* Writes microseconds since the Unix epoch (before it too) as
 * "YYYY-MM-DD<sep>HH:MM:SS.ffffff<zone>" in UTC, e.g. sep 'T' and zone "Z"
 * for ISO 8601, ' ' and "+00" for PostgreSQL. out holds 48 bytes; zone at
 * most 8 characters. */
void gh_micros_format(int64_t us, char sep, const char *zone, char out[48]);

#endif
