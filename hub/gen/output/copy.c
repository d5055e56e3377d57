#include "copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "city.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

gh_err_t gh_gen_copy_open(gh_gen_copy_t *c, const char *conninfo,
                          const char *table, const char *columns, size_t buffer,
                          char *errstr, size_t errstr_size) {
    memset(c, 0, sizeof(*c));
    c->table = table;
    c->conn = gh_pg_connect(conninfo, 0, errstr, errstr_size);
    if (!c->conn) return GH_ERR_PG_CONNECT;
    /* Bulk load: no need to wait for each commit to reach the disk. */
    gh_err_t e = gh_pg_exec(c->conn, "SET synchronous_commit = off", errstr,
                            errstr_size);
    if (e) {
        PQfinish(c->conn);
        c->conn = NULL;
        return e;
    }
    char sql[512];
    snprintf(sql, sizeof(sql), "COPY %s (%s) FROM STDIN", table, columns);
    PGresult *r = PQexec(c->conn, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        char what[64];
        snprintf(what, sizeof(what), "COPY %s", table);
        e = gh_pg_result_error(r, c->conn, what, errstr, errstr_size);
        PQclear(r);
        PQfinish(c->conn);
        c->conn = NULL;
        return e;
    }
    PQclear(r);
    c->cap = buffer + 65536;
    c->flush_at = buffer;
    c->buf = gh_xmalloc(c->cap);
    return GH_OK;
}

void gh_gen_copy_open_null(gh_gen_copy_t *c, const char *table) {
    memset(c, 0, sizeof(*c));
    c->table = table;
    c->null_sink = 1;
}

static void fail(gh_gen_copy_t *c, const char *what) {
    if (c->failed) return;
    c->failed = 1;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", c->conn ? PQerrorMessage(c->conn) : "");
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    snprintf(c->err, sizeof(c->err), "%s %s: %s", what, c->table, msg);
}

static void send_buf(gh_gen_copy_t *c) {
    if (!c->len) return;
    if (!c->failed && PQputCopyData(c->conn, c->buf, (int)c->len) != 1)
        fail(c, "sending rows to");
    c->len = 0;
}

static inline void reserve(gh_gen_copy_t *c, size_t n) {
    if (c->len + n + 2 > c->cap) {
        c->cap = (c->len + n + 2) * 2;
        c->buf = gh_xrealloc(c->buf, c->cap);
    }
}

static inline void sep(gh_gen_copy_t *c) {
    if (c->col++) c->buf[c->len++] = '\t';
}

void gh_gen_copy_str(gh_gen_copy_t *c, const char *s) {
    if (c->null_sink) return;
    if (!s) {
        gh_gen_copy_null(c);
        return;
    }
    size_t n = strlen(s);
    reserve(c, 2 * n + 1);
    sep(c);
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        switch (ch) {
        case '\\':
            c->buf[c->len++] = '\\';
            c->buf[c->len++] = '\\';
            break;
        case '\t':
            c->buf[c->len++] = '\\';
            c->buf[c->len++] = 't';
            break;
        case '\n':
            c->buf[c->len++] = '\\';
            c->buf[c->len++] = 'n';
            break;
        case '\r':
            c->buf[c->len++] = '\\';
            c->buf[c->len++] = 'r';
            break;
        default:
            c->buf[c->len++] = ch;
        }
    }
}

void gh_gen_copy_null(gh_gen_copy_t *c) {
    if (c->null_sink) return;
    reserve(c, 3);
    sep(c);
    c->buf[c->len++] = '\\';
    c->buf[c->len++] = 'N';
}

void gh_gen_copy_opt(gh_gen_copy_t *c, const char *s) {
    if (!s || !*s)
        gh_gen_copy_null(c);
    else
        gh_gen_copy_str(c, s);
}

void gh_gen_copy_int(gh_gen_copy_t *c, long long v) {
    if (c->null_sink) return;
    char tmp[24];
    int n = 0;
    unsigned long long u =
        v < 0 ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    reserve(c, (size_t)n + 2);
    sep(c);
    if (v < 0) c->buf[c->len++] = '-';
    while (n)
        c->buf[c->len++] = tmp[--n];
}

static inline char *put2(char *p, int v) {
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static inline char *put4(char *p, int v) {
    p = put2(p, v / 100);
    return put2(p, v % 100);
}

void gh_gen_format_date(int32_t day, char *out) {
    int y, m, d;
    gh_gen_civil(day, &y, &m, &d);
    char *p = put4(out, y);
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p = '\0';
}

void gh_gen_format_ts(int64_t secs, char *out) {
    int64_t local = secs + 8 * 3600;
    int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int64_t sod = local - day * 86400;
    gh_gen_format_date((int32_t)day, out);
    char *p = out + 10;
    *p++ = ' ';
    p = put2(p, (int)(sod / 3600));
    *p++ = ':';
    p = put2(p, (int)(sod / 60 % 60));
    *p++ = ':';
    p = put2(p, (int)(sod % 60));
    memcpy(p, "+08", 4);
}

void gh_gen_copy_date(gh_gen_copy_t *c, int32_t day) {
    if (c->null_sink) return;
    reserve(c, 12);
    sep(c);
    gh_gen_format_date(day, c->buf + c->len);
    c->len += 10;
}

void gh_gen_copy_date_text(gh_gen_copy_t *c, int32_t day, char sepc) {
    if (c->null_sink) return;
    int y, m, d;
    gh_gen_civil(day, &y, &m, &d);
    reserve(c, 12);
    sep(c);
    char *p = put4(c->buf + c->len, y);
    if (sepc) *p++ = sepc;
    p = put2(p, m);
    if (sepc) *p++ = sepc;
    p = put2(p, d);
    c->len = (size_t)(p - c->buf);
}

void gh_gen_copy_ts(gh_gen_copy_t *c, int64_t secs) {
    if (c->null_sink) return;
    reserve(c, 32);
    sep(c);
    gh_gen_format_ts(secs, c->buf + c->len);
    c->len += 22;
}

void gh_gen_copy_end_row(gh_gen_copy_t *c) {
    if (c->null_sink) {
        c->rows++;
        return;
    }
    reserve(c, 1);
    c->buf[c->len++] = '\n';
    c->col = 0;
    c->rows++;
    if (c->len >= c->flush_at) send_buf(c);
}

int gh_gen_copy_failed(const gh_gen_copy_t *c) {
    return c->failed;
}

gh_err_t gh_gen_copy_finish(gh_gen_copy_t *c, char *errstr,
                            size_t errstr_size) {
    gh_err_t e = GH_OK;
    if (!c->conn) goto out;
    send_buf(c);
    if (!c->failed && PQputCopyEnd(c->conn, NULL) != 1)
        fail(c, "ending COPY of");
    PGresult *r;
    while ((r = PQgetResult(c->conn))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && !c->failed) {
            char what[64];
            snprintf(what, sizeof(what), "COPY %s", c->table);
            gh_pg_result_error(r, c->conn, what, c->err, sizeof(c->err));
            c->failed = 1;
        }
        PQclear(r);
    }
    if (c->failed) e = gh_seterr(errstr, errstr_size, GH_ERR_PG, "%s", c->err);
    PQfinish(c->conn);
    c->conn = NULL;
out:
    free(c->buf);
    c->buf = NULL;
    return e;
}

void gh_gen_copy_abort(gh_gen_copy_t *c) {
    if (c->conn) {
        PQputCopyEnd(c->conn, "generator stopped");
        PGresult *r;
        while ((r = PQgetResult(c->conn)))
            PQclear(r);
        PQfinish(c->conn);
        c->conn = NULL;
    }
    free(c->buf);
    c->buf = NULL;
}
