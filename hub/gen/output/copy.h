/*
 * One `COPY <table> (<columns>) FROM STDIN` per table, on a connection of
 * its own, fed row by row from the generator's walk over the city: the
 * rows are formatted straight into a large buffer (COPY text format) that
 * is handed to PQputCopyData whenever it fills. Tables of every department
 * are loading at once, each by its own server backend, so PostgreSQL parses
 * and indexes in parallel with the generator.
 *
 * Field appenders never fail: the first error is kept in the stream and
 * returned by gh_gen_copy_finish() (gh_gen_copy_failed() lets the walk stop
 * early).
 *
 * A null stream (gh_gen_copy_open_null(), for records.only) only counts
 * rows: the appenders return at once.
 */
#ifndef GH_GEN_COPY_H
#define GH_GEN_COPY_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "gridhub/error.h"

typedef struct gh_gen_copy {
    PGconn *conn;
    const char *table; /* borrowed, static */
    char *buf;
    size_t len, cap, flush_at;
    int col; /* fields in the current row */
    long long rows;
    int null_sink; /* rows are counted, not formatted nor sent */
    int failed;
    char err[768];
} gh_gen_copy_t;

/* Connects with `conninfo` and starts the COPY. `buffer` is the flush size
 * in bytes. On failure the stream is left closed and errstr says why. */
gh_err_t gh_gen_copy_open(gh_gen_copy_t *c, const char *conninfo,
                          const char *table, const char *columns, size_t buffer,
                          char *errstr, size_t errstr_size);

/* A stream that goes nowhere: rows are counted and dropped. */
void gh_gen_copy_open_null(gh_gen_copy_t *c, const char *table);

/* Field appenders, in column order. */
void gh_gen_copy_str(gh_gen_copy_t *c, const char *s); /* NULL or "" kept as
                                                           given: NULL -> \N */
void gh_gen_copy_null(gh_gen_copy_t *c);
/* "" -> NULL, else the string (for optional text typed by a department). */
void gh_gen_copy_opt(gh_gen_copy_t *c, const char *s);
void gh_gen_copy_int(gh_gen_copy_t *c, long long v);
/* A date (days since 1970-01-01) as YYYY-MM-DD. */
void gh_gen_copy_date(gh_gen_copy_t *c, int32_t day);
/* A date as text in a department's format: "YYYYMMDD" (sep 0) or with the
 * separator between the parts ('/' or '-'). */
void gh_gen_copy_date_text(gh_gen_copy_t *c, int32_t day, char sep);
/* A timestamp (seconds since the epoch) as Beijing time
 * "YYYY-MM-DD HH:MM:SS+08". */
void gh_gen_copy_ts(gh_gen_copy_t *c, int64_t secs);
/* Ends the row; sends the buffer when it is full. */
void gh_gen_copy_end_row(gh_gen_copy_t *c);

int gh_gen_copy_failed(const gh_gen_copy_t *c);

/* Sends the rest, ends the COPY and closes the connection. Returns the
 * first error of the stream, if any. Safe on a stream that never opened. */
gh_err_t gh_gen_copy_finish(gh_gen_copy_t *c, char *errstr, size_t errstr_size);
/* Cancels the COPY (nothing of it is committed) and closes. */
void gh_gen_copy_abort(gh_gen_copy_t *c);

/* Formatting shared with live mode. out: 11 bytes. */
void gh_gen_format_date(int32_t day, char *out);
/* out: 32 bytes. */
void gh_gen_format_ts(int64_t secs, char *out);

#endif
