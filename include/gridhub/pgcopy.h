/*
 * PostgreSQL's binary COPY format, both ways (`gh_pgcopy_`): rows built in
 * memory and sent with one COPY ... FROM STDIN, and rows streamed from
 * COPY ... TO STDOUT. For bulk paths (the audit log) where INSERT ...
 * unnest(array literals) costs the server a parse of every value and the
 * client an escape of every byte: binary COPY carries lengths and raw
 * bytes, so text needs no quoting and bytea no hex.
 *
 * The format is the one PostgreSQL documents under "COPY, Binary Format":
 * a signature header, then per row a 16-bit field count and per field a
 * 32-bit length (-1 for NULL) and that many bytes, then -1 as trailer.
 * Integers are big-endian; timestamptz is microseconds since
 * 2000-01-01 UTC (servers built with integer datetimes, every supported
 * release).
 */
#ifndef GRIDHUB_PGCOPY_H
#define GRIDHUB_PGCOPY_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "gridhub/error.h"

/* ---- Writing --------------------------------------------------------- */

typedef struct gh_pgcopy gh_pgcopy_t;

/* An empty row buffer; the caller owns it (gh_pgcopy_destroy). */
gh_pgcopy_t *gh_pgcopy_new(void);
void gh_pgcopy_destroy(gh_pgcopy_t *c);

/* Starts a row of nfields fields; the caller then adds exactly that many. */
void gh_pgcopy_row(gh_pgcopy_t *c, int nfields);
void gh_pgcopy_null(gh_pgcopy_t *c);
void gh_pgcopy_int2(gh_pgcopy_t *c, int16_t v);
void gh_pgcopy_int8(gh_pgcopy_t *c, int64_t v);
/* timestamptz from microseconds since the Unix epoch. */
void gh_pgcopy_timestamptz(gh_pgcopy_t *c, int64_t unix_us);
/* text (s NULL: a NULL field); s is UTF-8, copied. */
void gh_pgcopy_text(gh_pgcopy_t *c, const char *s);
/* bytea, or text of known length; p is copied. */
void gh_pgcopy_bytes(gh_pgcopy_t *c, const void *p, size_t n);
/* Rows added since the last send. */
long gh_pgcopy_rows(const gh_pgcopy_t *c);

/* Streaming: starts `sql` (a COPY ... FROM STDIN (FORMAT binary)) on db;
 * from then on rows are passed to the server in slices as they are added,
 * so it stores them while the caller builds the next ones, and
 * gh_pgcopy_end sends the rest and ends the copy (errors of either are
 * reported there, the server's included). Until the end, db is in COPY
 * state and serves nothing else; destroying the buffer first abandons the
 * copy (the server discards it). `what` names the step in errors. */
gh_err_t gh_pgcopy_start(gh_pgcopy_t *c, PGconn *db, const char *sql,
                         const char *what, char *errstr, size_t errstr_size);
gh_err_t gh_pgcopy_end(gh_pgcopy_t *c, char *errstr, size_t errstr_size);

/* Buffered: runs `sql` on db, sends the rows built so far and ends the
 * copy; the buffer is emptied either way. */
gh_err_t gh_pgcopy_send(gh_pgcopy_t *c, PGconn *db, const char *sql,
                        const char *what, char *errstr, size_t errstr_size);

/* ---- Reading --------------------------------------------------------- */

typedef struct gh_pgcopy_reader gh_pgcopy_reader_t;

/* Runs `sql` (a COPY ... TO STDOUT (FORMAT binary)); NULL with errstr
 * filled if the server refuses it. The caller owns the reader and must
 * read it to the end or destroy it (which drains what is left, so the
 * connection is usable again). */
gh_pgcopy_reader_t *gh_pgcopy_reader_new(PGconn *db, const char *sql,
                                         const char *what, char *errstr,
                                         size_t errstr_size);
void gh_pgcopy_reader_destroy(gh_pgcopy_reader_t *r);

/* The next row: 1 and its fields readable until the next call, 0 at the
 * end of the data (the COPY's result checked), or -1 with errstr filled
 * (a server error, a connection lost, or a malformed stream). */
int gh_pgcopy_next(gh_pgcopy_reader_t *r, char *errstr, size_t errstr_size);
int gh_pgcopy_nfields(const gh_pgcopy_reader_t *r);
/* Field i of the current row: its bytes (not NUL-terminated) and length,
 * or NULL for a NULL field; borrowed until the next gh_pgcopy_next. */
const char *gh_pgcopy_field(const gh_pgcopy_reader_t *r, int i, size_t *len);
/* Field i decoded as int8 / int2 / timestamptz (Unix microseconds); 0 for
 * NULL or a field of another width. */
int64_t gh_pgcopy_field_int(const gh_pgcopy_reader_t *r, int i);
int64_t gh_pgcopy_field_timestamptz(const gh_pgcopy_reader_t *r, int i);

#endif
