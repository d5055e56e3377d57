/* Binary COPY both ways; see include/gridhub/pgcopy.h. */
#include "gridhub/pgcopy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/pg.h"
#include "gridhub/util.h"

static const char signature[11] = "PGCOPY\n\377\r\n";

/* 2000-01-01T00:00:00Z, PostgreSQL's epoch, in Unix microseconds. */
#define PG_EPOCH_US INT64_C(946684800000000)

/* ---- Writing --------------------------------------------------------- */

struct gh_pgcopy {
    char *buf;
    size_t len, cap;
    long rows;
    /* While streaming (gh_pgcopy_start): the connection, the step's name
     * and the first failure to send. */
    PGconn *db;
    const char *what;
    int failed;
    char err[256];
};

/* Rows are passed to libpq in slices of about this size while streaming:
 * the server stores one slice while the caller builds the next. */
#define STREAM_SLICE (256 * 1024)

gh_pgcopy_t *gh_pgcopy_new(void) {
    return gh_xcalloc(1, sizeof(gh_pgcopy_t));
}

void gh_pgcopy_destroy(gh_pgcopy_t *c) {
    if (!c) return;
    if (c->db) PQputCopyEnd(c->db, "gridhub: abandoned");
    free(c->buf);
    free(c);
}

static char *reserve(gh_pgcopy_t *c, size_t n) {
    if (c->len + n > c->cap) {
        c->cap = c->cap ? c->cap : 65536;
        while (c->len + n > c->cap)
            c->cap *= 2;
        c->buf = gh_xrealloc(c->buf, c->cap);
    }
    char *p = c->buf + c->len;
    c->len += n;
    return p;
}

static void put_be(char *p, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (char)(v & 0xff);
}

static void put(gh_pgcopy_t *c, const char *p, size_t n) {
    /* libpq takes an int length: large buffers go in slices. */
    for (size_t at = 0; !c->failed && at < n; at += 1 << 20) {
        size_t k = n - at < (size_t)1 << 20 ? n - at : (size_t)1 << 20;
        if (PQputCopyData(c->db, p + at, (int)k) != 1) {
            c->failed = 1;
            snprintf(c->err, sizeof(c->err), "%s", PQerrorMessage(c->db));
        }
    }
}

void gh_pgcopy_row(gh_pgcopy_t *c, int nfields) {
    if (c->db && c->len >= STREAM_SLICE) {
        put(c, c->buf, c->len);
        c->len = 0;
    }
    put_be(reserve(c, 2), (uint64_t)nfields, 2);
    c->rows++;
}

void gh_pgcopy_null(gh_pgcopy_t *c) {
    put_be(reserve(c, 4), UINT32_MAX, 4);
}

void gh_pgcopy_int2(gh_pgcopy_t *c, int16_t v) {
    char *p = reserve(c, 6);
    put_be(p, 2, 4);
    put_be(p + 4, (uint64_t)(uint16_t)v, 2);
}

void gh_pgcopy_int8(gh_pgcopy_t *c, int64_t v) {
    char *p = reserve(c, 12);
    put_be(p, 8, 4);
    put_be(p + 4, (uint64_t)v, 8);
}

void gh_pgcopy_timestamptz(gh_pgcopy_t *c, int64_t unix_us) {
    gh_pgcopy_int8(c, unix_us - PG_EPOCH_US);
}

void gh_pgcopy_bytes(gh_pgcopy_t *c, const void *p, size_t n) {
    char *d = reserve(c, 4 + n);
    put_be(d, (uint64_t)n, 4);
    if (n) memcpy(d + 4, p, n);
}

void gh_pgcopy_text(gh_pgcopy_t *c, const char *s) {
    if (!s)
        gh_pgcopy_null(c);
    else
        gh_pgcopy_bytes(c, s, strlen(s));
}

long gh_pgcopy_rows(const gh_pgcopy_t *c) {
    return c->rows;
}

/* Collects the COPY's final result(s); the first failure is reported. */
static gh_err_t finish(PGconn *db, const char *what, gh_err_t e, char *errstr,
                       size_t errstr_size) {
    PGresult *r;
    while ((r = PQgetResult(db))) {
        if (!e && PQresultStatus(r) != PGRES_COMMAND_OK)
            e = gh_pg_result_error(r, db, what, errstr, errstr_size);
        PQclear(r);
    }
    return e;
}

gh_err_t gh_pgcopy_start(gh_pgcopy_t *c, PGconn *db, const char *sql,
                         const char *what, char *errstr, size_t errstr_size) {
    c->failed = 0;
    c->err[0] = '\0';
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        gh_err_t e = gh_pg_result_error(r, db, what, errstr, errstr_size);
        PQclear(r);
        c->len = 0;
        c->rows = 0;
        return finish(db, what, e, NULL, 0);
    }
    PQclear(r);
    c->db = db;
    c->what = what;
    char head[19];
    memcpy(head, signature, sizeof(signature));
    memset(head + 11, 0, 8); /* flags, header extension length */
    put(c, head, sizeof(head));
    return GH_OK;
}

gh_err_t gh_pgcopy_end(gh_pgcopy_t *c, char *errstr, size_t errstr_size) {
    PGconn *db = c->db;
    if (!db)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "gh_pgcopy_end without gh_pgcopy_start");
    put(c, c->buf, c->len);
    char trailer[2] = {'\xff', '\xff'};
    put(c, trailer, 2);
    c->len = 0;
    c->rows = 0;
    c->db = NULL;
    gh_err_t e = GH_OK;
    if (c->failed) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT,
                      "%s: sending rows: %s", c->what, c->err);
        PQputCopyEnd(db, "gridhub: sending failed");
    } else if (PQputCopyEnd(db, NULL) != 1) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT,
                      "%s: ending the copy: %s", c->what, PQerrorMessage(db));
    }
    return finish(db, c->what, e, errstr, errstr_size);
}

gh_err_t gh_pgcopy_send(gh_pgcopy_t *c, PGconn *db, const char *sql,
                        const char *what, char *errstr, size_t errstr_size) {
    /* The rows built so far stay in the buffer while the COPY starts
     * (which sends only the header). */
    gh_err_t e = gh_pgcopy_start(c, db, sql, what, errstr, errstr_size);
    return e ? e : gh_pgcopy_end(c, errstr, errstr_size);
}

/* ---- Reading --------------------------------------------------------- */

struct gh_pgcopy_reader {
    PGconn *db;
    const char *what;
    char *buf; /* bytes received, not yet parsed from `off` */
    size_t len, off, cap;
    int header_done, trailer_seen, ended;
    int nf, fcap;
    const char **fp;
    size_t *fl;
};

gh_pgcopy_reader_t *gh_pgcopy_reader_new(PGconn *db, const char *sql,
                                         const char *what, char *errstr,
                                         size_t errstr_size) {
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        gh_pg_result_error(r, db, what, errstr, errstr_size);
        PQclear(r);
        finish(db, what, GH_ERR_PG, NULL, 0);
        return NULL;
    }
    PQclear(r);
    gh_pgcopy_reader_t *rd = gh_xcalloc(1, sizeof(*rd));
    rd->db = db;
    rd->what = what;
    return rd;
}

void gh_pgcopy_reader_destroy(gh_pgcopy_reader_t *r) {
    if (!r) return;
    /* The connection serves nothing else until the COPY's data is read
     * to its end. */
    char *msg;
    int n;
    if (!r->ended) {
        /* Stopped early (a bad entry found, a stop requested): ask the
         * server to stop sending rather than read all that is left. */
        PGcancel *cancel = PQgetCancel(r->db);
        char ignore[256];
        if (cancel) PQcancel(cancel, ignore, sizeof(ignore));
        PQfreeCancel(cancel);
    }
    while (!r->ended && (n = PQgetCopyData(r->db, &msg, 0)) >= 0)
        PQfreemem(msg);
    if (!r->ended) finish(r->db, r->what, GH_OK, NULL, 0);
    free(r->buf);
    free(r->fp);
    free(r->fl);
    free(r);
}

static uint64_t get_be(const char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

/* Parses one row at r->off if it is all there: 1 parsed, 0 need more, -1
 * malformed. */
static int parse_row(gh_pgcopy_reader_t *r) {
    const char *p = r->buf + r->off, *end = r->buf + r->len;
    if (!r->header_done) {
        if (end - p < 19) return 0;
        if (memcmp(p, signature, sizeof(signature))) return -1;
        uint64_t ext = get_be(p + 15, 4);
        if ((uint64_t)(end - p) < 19 + ext) return 0;
        p += 19 + ext;
        r->off = (size_t)(p - r->buf);
        r->header_done = 1;
    }
    if (end - p < 2) return 0;
    int16_t nf = (int16_t)get_be(p, 2);
    p += 2;
    if (nf == -1) {
        r->trailer_seen = 1;
        r->off = (size_t)(p - r->buf);
        return 1;
    }
    if (nf < 0) return -1;
    if (nf > r->fcap) {
        r->fcap = nf;
        r->fp = gh_xrealloc(r->fp, (size_t)nf * sizeof(*r->fp));
        r->fl = gh_xrealloc(r->fl, (size_t)nf * sizeof(*r->fl));
    }
    for (int i = 0; i < nf; i++) {
        if (end - p < 4) return 0;
        int32_t l = (int32_t)get_be(p, 4);
        p += 4;
        if (l == -1) {
            r->fp[i] = NULL;
            r->fl[i] = 0;
            continue;
        }
        if (l < 0) return -1;
        if (end - p < l) return 0;
        r->fp[i] = p;
        r->fl[i] = (size_t)l;
        p += l;
    }
    r->nf = nf;
    r->off = (size_t)(p - r->buf);
    return 1;
}

int gh_pgcopy_next(gh_pgcopy_reader_t *r, char *errstr, size_t errstr_size) {
    for (;;) {
        if (r->ended) return 0;
        int got = r->trailer_seen ? 0 : parse_row(r);
        if (got < 0) {
            gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                      "%s: the server's binary COPY stream is malformed at "
                      "byte %zu",
                      r->what, r->off);
            return -1;
        }
        if (got && !r->trailer_seen) return 1;
        /* Keep the unparsed tail, then read the next message. */
        if (r->off) {
            memmove(r->buf, r->buf + r->off, r->len - r->off);
            r->len -= r->off;
            r->off = 0;
        }
        char *msg;
        int n = PQgetCopyData(r->db, &msg, 0);
        if (n == -1) {
            r->ended = 1;
            if (finish(r->db, r->what, GH_OK, errstr, errstr_size)) return -1;
            if (!r->trailer_seen || r->len) {
                gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                          "%s: the server's binary COPY stream ended "
                          "mid-row",
                          r->what);
                return -1;
            }
            return 0;
        }
        if (n < 0) {
            r->ended = 1;
            gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT, "%s: %s", r->what,
                      PQerrorMessage(r->db));
            finish(r->db, r->what, GH_OK, NULL, 0);
            return -1;
        }
        if (r->len + (size_t)n > r->cap) {
            r->cap = r->len + (size_t)n + 65536;
            r->buf = gh_xrealloc(r->buf, r->cap);
        }
        memcpy(r->buf + r->len, msg, (size_t)n);
        r->len += (size_t)n;
        PQfreemem(msg);
    }
}

int gh_pgcopy_nfields(const gh_pgcopy_reader_t *r) {
    return r->nf;
}

const char *gh_pgcopy_field(const gh_pgcopy_reader_t *r, int i, size_t *len) {
    if (i < 0 || i >= r->nf) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = r->fl[i];
    return r->fp[i];
}

int64_t gh_pgcopy_field_int(const gh_pgcopy_reader_t *r, int i) {
    size_t n;
    const char *p = gh_pgcopy_field(r, i, &n);
    if (!p || (n != 2 && n != 4 && n != 8)) return 0;
    uint64_t v = get_be(p, (int)n);
    if (n == 2) return (int16_t)v;
    if (n == 4) return (int32_t)v;
    return (int64_t)v;
}

int64_t gh_pgcopy_field_timestamptz(const gh_pgcopy_reader_t *r, int i) {
    return gh_pgcopy_field_int(r, i) + PG_EPOCH_US;
}
