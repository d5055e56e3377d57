#include "pgoutput.h"

#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "gridhub/util.h"

typedef struct rd {
    const unsigned char *p, *end;
    int bad;
} rd_t;

static int need(rd_t *r, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint8_t u8(rd_t *r) {
    return need(r, 1) ? *r->p++ : 0;
}

static uint16_t u16(rd_t *r) {
    if (!need(r, 2)) return 0;
    uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return v;
}

static uint32_t u32(rd_t *r) {
    if (!need(r, 4)) return 0;
    uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
                 (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return v;
}

static uint64_t u64(rd_t *r) {
    uint64_t hi = u32(r);
    return hi << 32 | u32(r);
}

static const char *cstr(rd_t *r) {
    if (r->bad) return "";
    const unsigned char *z = memchr(r->p, '\0', (size_t)(r->end - r->p));
    if (!z) {
        r->bad = 1;
        return "";
    }
    const char *s = (const char *)r->p;
    r->p = z + 1;
    return s;
}

static gh_pgo_value_t *vals_alloc(gh_pgo_msg_t *m, size_t used, size_t n) {
    /* Also for n == 0 (a table without columns): offsets are added to the
     * store, which must not be NULL then. */
    if (!m->vals_store || used + n > m->vals_cap) {
        size_t cap = m->vals_cap ? m->vals_cap : 64;
        while (cap < used + n)
            cap *= 2;
        m->vals_store =
            gh_xrealloc(m->vals_store, cap * sizeof(*m->vals_store));
        m->vals_cap = cap;
    }
    return m->vals_store + used;
}

/* Tuples reference vals_store by offset until decoding ends, because a
 * second tuple may realloc the store. */
static int tuple(rd_t *r, gh_pgo_msg_t *m, size_t *used, size_t *off,
                 int *ncols) {
    int n = u16(r);
    if (r->bad) return -1;
    vals_alloc(m, *used, (size_t)n);
    *off = *used;
    gh_pgo_value_t *v = m->vals_store + *used;
    for (int i = 0; i < n; i++) {
        char k = (char)u8(r);
        v[i].kind = k;
        v[i].data = NULL;
        v[i].len = 0;
        if (k == 't' || k == 'b') {
            uint32_t len = u32(r);
            if (!need(r, len)) return -1;
            v[i].kind = 't';
            v[i].data = (const char *)r->p;
            v[i].len = len;
            r->p += len;
        } else if (k != 'n' && k != 'u') {
            r->bad = 1;
            return -1;
        }
    }
    *used += (size_t)n;
    *ncols = n;
    return r->bad ? -1 : 0;
}

/* PostgreSQL's microseconds since 2000 as Unix microseconds. A time near
 * INT64_MAX (PostgreSQL's `infinity`, never a commit time) would overflow
 * the shift: it saturates. */
static int64_t pg_time(uint64_t v) {
    int64_t t = (int64_t)v;
    return t > INT64_MAX - GH_PG_EPOCH_OFFSET_US ? INT64_MAX
                                                 : t + GH_PG_EPOCH_OFFSET_US;
}

gh_err_t gh_pgo_decode(const char *buf, size_t len, gh_pgo_msg_t *m,
                       char *errstr, size_t errstr_size) {
    rd_t r = {(const unsigned char *)buf, (const unsigned char *)buf + len, 0};
    m->kind = (char)u8(&r);
    m->old_kind = 0;
    m->old_tuple.ncols = m->new_tuple.ncols = 0;
    m->old_tuple.key_only = m->new_tuple.key_only = 0;
    m->old_tuple.cols = m->new_tuple.cols = NULL;
    size_t used = 0, old_off = 0, new_off = 0;
    switch (m->kind) {
    case 'B':
        m->final_lsn = u64(&r);
        m->commit_time_us = pg_time(u64(&r));
        m->xid = u32(&r);
        break;
    case 'C':
        u8(&r); /* flags, unused */
        m->commit_lsn = u64(&r);
        m->end_lsn = u64(&r);
        m->commit_time_us = pg_time(u64(&r));
        break;
    case 'O':
        u64(&r);
        cstr(&r);
        break;
    case 'R': {
        m->relid = u32(&r);
        m->nspname = cstr(&r);
        m->relname = cstr(&r);
        m->replident = (char)u8(&r);
        int n = u16(&r);
        if (r.bad) break;
        if ((size_t)n > m->cols_cap) {
            m->cols_store =
                gh_xrealloc(m->cols_store, (size_t)n * sizeof(*m->cols_store));
            m->cols_cap = (size_t)n;
        }
        for (int i = 0; i < n && !r.bad; i++) {
            m->cols_store[i].key = u8(&r) & 1;
            m->cols_store[i].name = cstr(&r);
            m->cols_store[i].type_oid = u32(&r);
            m->cols_store[i].typmod = (int32_t)u32(&r);
        }
        m->ncolumns = n;
        m->columns = m->cols_store;
        break;
    }
    case 'Y':
        u32(&r);
        cstr(&r);
        cstr(&r);
        break;
    case 'I':
        m->relid = u32(&r);
        if (u8(&r) != 'N')
            r.bad = 1;
        else
            tuple(&r, m, &used, &new_off, &m->new_tuple.ncols);
        break;
    case 'U': {
        m->relid = u32(&r);
        char k = (char)u8(&r);
        if (k == 'K' || k == 'O') {
            m->old_kind = k;
            m->old_tuple.key_only = k == 'K';
            if (tuple(&r, m, &used, &old_off, &m->old_tuple.ncols)) break;
            k = (char)u8(&r);
        }
        if (k != 'N')
            r.bad = 1;
        else
            tuple(&r, m, &used, &new_off, &m->new_tuple.ncols);
        break;
    }
    case 'D': {
        m->relid = u32(&r);
        char k = (char)u8(&r);
        if (k != 'K' && k != 'O')
            r.bad = 1;
        else {
            m->old_kind = k;
            m->old_tuple.key_only = k == 'K';
            tuple(&r, m, &used, &old_off, &m->old_tuple.ncols);
        }
        break;
    }
    case 'T': {
        int n = (int)u32(&r);
        m->truncate_options = u8(&r);
        if (r.bad || n < 0 || (size_t)n > (size_t)(r.end - r.p) / 4) {
            r.bad = 1;
            break;
        }
        if ((size_t)n > m->relids_cap) {
            m->relids_store =
                gh_xrealloc(m->relids_store, (size_t)n * sizeof(uint32_t));
            m->relids_cap = (size_t)n;
        }
        for (int i = 0; i < n; i++)
            m->relids_store[i] = u32(&r);
        m->nrelids = n;
        m->relids = m->relids_store;
        break;
    }
    case 'M':
        /* Logical decoding messages are not requested; tolerate them. */
        break;
    default:
        return gh_seterr(errstr, errstr_size, GH_ERR_PROTOCOL,
                         "unknown pgoutput message type 0x%02x",
                         (unsigned char)m->kind);
    }
    if (r.bad)
        return gh_seterr(
            errstr, errstr_size, GH_ERR_PROTOCOL,
            "truncated or malformed pgoutput '%c' message (%zu bytes)", m->kind,
            len);
    if (m->old_tuple.ncols) m->old_tuple.cols = m->vals_store + old_off;
    if (m->new_tuple.ncols) m->new_tuple.cols = m->vals_store + new_off;
    return GH_OK;
}

void gh_pgo_msg_free(gh_pgo_msg_t *m) {
    free(m->vals_store);
    free(m->cols_store);
    free(m->relids_store);
    memset(m, 0, sizeof(*m));
}

void gh_lsn_format(uint64_t lsn, char out[18]) {
    snprintf(out, 18, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32),
             (uint32_t)lsn);
}

int gh_lsn_parse(const char *s, uint64_t *out) {
    unsigned int hi, lo;
    int n = 0;
    if (sscanf(s, "%X/%X%n", &hi, &lo, &n) != 2 || s[n] != '\0') return -1;
    *out = (uint64_t)hi << 32 | lo;
    return 0;
}
