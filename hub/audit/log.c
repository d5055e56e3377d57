/*
 * Appending to the audit log, reading its tree, issuing signed heads. See
 * audit.h; the tables are hub/migrations/007_audit.sql.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "audit_int.h"
#include "gridhub/pg.h"
#include "gridhub/pgcopy.h"
#include "gridhub/util.h"

/* A queued entry: offsets of its NUL-terminated strings in the batch's
 * arena (NO_STR for a NULL), so queuing one costs no allocation. */
#define NO_STR ((size_t)-1)
enum { P_KIND, P_SUB, P_ENT, P_KEY, P_BODY, P_N };

typedef struct pending {
    size_t at[P_N];
} pending_t;

struct gh_audit_batch {
    pending_t *e;
    int n, cap;
    gh_buf_t arena;
};

gh_audit_batch_t *gh_audit_batch_new(void) {
    return gh_xcalloc(1, sizeof(gh_audit_batch_t));
}

void gh_audit_batch_clear(gh_audit_batch_t *b) {
    b->n = 0;
    gh_buf_reset(&b->arena);
}

void gh_audit_batch_destroy(gh_audit_batch_t *b) {
    if (!b) return;
    free(b->e);
    gh_buf_free(&b->arena);
    free(b);
}

static size_t keep(gh_audit_batch_t *b, const char *s) {
    if (!s) return NO_STR;
    size_t at = b->arena.len;
    gh_buf_append(&b->arena, s, strlen(s) + 1);
    return at;
}

static const char *str_at(const gh_audit_batch_t *b, const pending_t *p,
                          int k) {
    return p->at[k] == NO_STR ? NULL : b->arena.data + p->at[k];
}

void gh_audit_batch_add(gh_audit_batch_t *b, const char *kind,
                        const char *subscriber, const char *entity,
                        const char *key, const char *body) {
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->e = gh_xrealloc(b->e, (size_t)b->cap * sizeof(pending_t));
    }
    pending_t *p = &b->e[b->n++];
    p->at[P_KIND] = keep(b, kind);
    p->at[P_SUB] = keep(b, subscriber);
    p->at[P_ENT] = keep(b, entity);
    p->at[P_KEY] = keep(b, key);
    p->at[P_BODY] = keep(b, body ? body : "{}");
}

int gh_audit_batch_count(const gh_audit_batch_t *b) {
    return b->n;
}

/* PostgreSQL's bytea hex form, "\\x" and lowercase digits: out holds
 * 2n + 3 bytes. */
static void hex_bytea(const uint8_t *h, size_t n, char *out) {
    out[0] = '\\';
    out[1] = 'x';
    gh_hex_encode(h, n, out + 2);
}

static int unhex_bytea(const char *s, uint8_t *out, size_t max, size_t *n) {
    if (strncmp(s, "\\x", 2)) return -1;
    s += 2;
    size_t len = strlen(s);
    if (len % 2 || len / 2 > max || gh_hex_decode(s, out, len / 2)) return -1;
    *n = len / 2;
    return 0;
}

/* The frontier stored in audit_head: the peaks of the set bits of size,
 * lowest level first. */
static gh_err_t frontier_from_row(PGresult *r, gh_merkle_frontier_t *f,
                                  char *errstr, size_t errstr_size) {
    gh_merkle_frontier_init(f);
    uint64_t size = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    uint8_t buf[GH_MERKLE_MAX_PROOF * GH_MERKLE_HASH_LEN];
    size_t n = 0;
    if (unhex_bytea(PQgetvalue(r, 0, 1), buf, sizeof(buf), &n) ||
        n != (size_t)__builtin_popcountll(size) * GH_MERKLE_HASH_LEN)
        return gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS,
                         "audit_head: its frontier does not fit a tree of "
                         "%" PRIu64 " entries (altered?)",
                         size);
    size_t at = 0;
    for (int level = 0; level < 64; level++)
        if (size >> level & 1) {
            memcpy(f->peak[level], buf + at, GH_MERKLE_HASH_LEN);
            at += GH_MERKLE_HASH_LEN;
        }
    f->size = size;
    return GH_OK;
}

static void frontier_to_hex(const gh_merkle_frontier_t *f, char *out) {
    uint8_t buf[GH_MERKLE_MAX_PROOF * GH_MERKLE_HASH_LEN];
    size_t n = 0;
    for (int level = 0; level < 64; level++)
        if (f->size >> level & 1) {
            memcpy(buf + n, f->peak[level], GH_MERKLE_HASH_LEN);
            n += GH_MERKLE_HASH_LEN;
        }
    hex_bytea(buf, n, out);
}

void gh__audit_utc_micros(int64_t us, char out[40]) {
    time_t s = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%06dZ", (int)(us % 1000000));
}

void gh__audit_entry_head(gh_buf_t *b, uint64_t seq, const char *at,
                          const char *kind, const char *subscriber,
                          const char *entity, const char *key) {
    gh_buf_printf(b, "{\"seq\":%" PRIu64 ",\"at\":\"%s\",\"kind\":", seq, at);
    gh_buf_json_string(b, kind);
    const char *names[3] = {",\"subscriber\":", ",\"entity\":", ",\"key\":"};
    const char *vals[3] = {subscriber, entity, key};
    for (int k = 0; k < 3; k++) {
        gh_buf_puts(b, names[k]);
        if (vals[k])
            gh_buf_json_string(b, vals[k]);
        else
            gh_buf_puts(b, "null");
    }
}

static void on_node(void *opaque, int level, uint64_t index,
                    const uint8_t hash[GH_MERKLE_HASH_LEN]) {
    gh_pgcopy_t *nodes = opaque;
    if (level < GH_AUDIT_NODE_LEVEL) return;
    gh_pgcopy_row(nodes, 3);
    gh_pgcopy_int2(nodes, (int16_t)level);
    gh_pgcopy_int8(nodes, (int64_t)index);
    gh_pgcopy_bytes(nodes, hash, GH_MERKLE_HASH_LEN);
}

/* The batch's rows: each entry's text and leaf, the tree advanced over
 * them; subtrees the batch completes go to `nodes`. */
static void build_rows(gh_audit_batch_t *b, gh_merkle_frontier_t *f,
                       int64_t now_us, gh_pgcopy_t *rows, gh_pgcopy_t *nodes) {
    char at[40];
    gh__audit_utc_micros(now_us, at);
    gh_buf_t entry = {0};
    for (int i = 0; i < b->n; i++) {
        const pending_t *p = &b->e[i];
        const char *kind = str_at(b, p, P_KIND), *sub = str_at(b, p, P_SUB),
                   *ent = str_at(b, p, P_ENT), *key = str_at(b, p, P_KEY),
                   *body = str_at(b, p, P_BODY);
        uint64_t seq = f->size;
        gh_buf_reset(&entry);
        gh__audit_entry_head(&entry, seq, at, kind, sub, ent, key);
        /* The body's members follow: its text without the braces. */
        const char *bt = body + 1;
        size_t bl = strlen(bt);
        if (bl && bt[bl - 1] == '}') bl--;
        if (bl) {
            gh_buf_puts(&entry, ",");
            gh_buf_append(&entry, bt, bl);
        }
        gh_buf_puts(&entry, "}");
        uint8_t leaf[GH_MERKLE_HASH_LEN];
        gh_merkle_leaf_hash(entry.data, entry.len, leaf);
        gh_merkle_frontier_append(f, leaf, on_node, nodes);
        gh_pgcopy_row(rows, 8);
        gh_pgcopy_int8(rows, (int64_t)seq);
        gh_pgcopy_timestamptz(rows, now_us);
        gh_pgcopy_text(rows, kind);
        gh_pgcopy_text(rows, sub);
        gh_pgcopy_text(rows, ent);
        gh_pgcopy_text(rows, key);
        gh_pgcopy_bytes(rows, entry.data, entry.len);
        gh_pgcopy_bytes(rows, leaf, GH_MERKLE_HASH_LEN);
    }
    gh_buf_free(&entry);
}

gh_err_t gh_audit_append(PGconn *db, gh_audit_batch_t *b, char *errstr,
                         size_t errstr_size) {
    if (!b->n) return GH_OK;
    PGresult *r = gh_pg_query_what(
        db, "SELECT size, frontier FROM audit_head WHERE id = 1 FOR UPDATE", 0,
        NULL, "lock the audit log", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS,
                         "audit_head has no row: the audit log was tampered "
                         "with or not migrated");
    }
    gh_merkle_frontier_t f;
    gh_err_t e = frontier_from_row(r, &f, errstr, errstr_size);
    PQclear(r);
    if (e) return e;

    /* Binary COPY: the entries' text goes as it is, with no quoting for
     * an array literal and no parse of one on the server's side; streamed,
     * so the server stores entries while the next ones are hashed. */
    gh_pgcopy_t *rows = gh_pgcopy_new(), *nodes = gh_pgcopy_new();
    e = gh_pgcopy_start(rows, db,
                        "COPY audit_log (seq, at, kind, subscriber, entity, "
                        "msg_key, entry, leaf) FROM STDIN (FORMAT binary)",
                        "append to the audit log", errstr, errstr_size);
    if (!e) {
        build_rows(b, &f, gh_wallclock_us(), rows, nodes);
        e = gh_pgcopy_end(rows, errstr, errstr_size);
    }
    if (!e && gh_pgcopy_rows(nodes))
        e = gh_pgcopy_send(nodes, db,
                           "COPY audit_node (level, idx, hash) FROM STDIN "
                           "(FORMAT binary)",
                           "store audit subtrees", errstr, errstr_size);
    gh_pgcopy_destroy(rows);
    gh_pgcopy_destroy(nodes);
    if (!e) {
        char size[24], fr[2 * GH_MERKLE_MAX_PROOF * GH_MERKLE_HASH_LEN + 3];
        snprintf(size, sizeof(size), "%" PRIu64, f.size);
        frontier_to_hex(&f, fr);
        const char *hp[2] = {size, fr};
        e = gh_pg_exec_what(
            db, "UPDATE audit_head SET size = $1, frontier = $2 WHERE id = 1",
            2, hp, "advance the audit head", errstr, errstr_size);
    }
    if (!e) gh_audit_batch_clear(b);
    return e;
}

/* ---- Reading ------------------------------------------------------------- */

gh_err_t gh_audit_get_node(void *opaque, int level, uint64_t index,
                           uint8_t out[GH_MERKLE_HASH_LEN], char *errstr,
                           size_t errstr_size) {
    PGconn *db = opaque;
    char a[24], b[24];
    if (level >= GH_AUDIT_NODE_LEVEL) {
        snprintf(a, sizeof(a), "%d", level);
        snprintf(b, sizeof(b), "%" PRIu64, index);
        const char *p[2] = {a, b};
        PGresult *r = gh_pg_query_what(
            db, "SELECT hash FROM audit_node WHERE level = $1 AND idx = $2", 2,
            p, "read an audit subtree", errstr, errstr_size);
        if (!r) return GH_ERR_PG;
        size_t n = 0;
        int bad =
            PQntuples(r) != 1 ||
            unhex_bytea(PQgetvalue(r, 0, 0), out, GH_MERKLE_HASH_LEN, &n) ||
            n != GH_MERKLE_HASH_LEN;
        PQclear(r);
        if (bad)
            return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                             "audit_node holds no subtree %d/%" PRIu64, level,
                             index);
        return GH_OK;
    }
    uint64_t first = index << level, count = (uint64_t)1 << level;
    snprintf(a, sizeof(a), "%" PRIu64, first);
    snprintf(b, sizeof(b), "%" PRIu64, first + count);
    const char *p[2] = {a, b};
    PGresult *r =
        gh_pg_query_what(db,
                         "SELECT seq, leaf FROM audit_log WHERE seq "
                         ">= $1 AND seq < $2 ORDER BY seq",
                         2, p, "read audit leaves", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    gh_merkle_frontier_t f;
    gh_merkle_frontier_init(&f);
    gh_err_t e = GH_OK;
    if ((uint64_t)PQntuples(r) != count)
        e = gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                      "audit_log lacks entries of %" PRIu64 "..%" PRIu64, first,
                      first + count - 1);
    for (int i = 0; !e && i < PQntuples(r); i++) {
        uint8_t leaf[GH_MERKLE_HASH_LEN];
        size_t n = 0;
        if (strtoull(PQgetvalue(r, i, 0), NULL, 10) != first + (uint64_t)i ||
            unhex_bytea(PQgetvalue(r, i, 1), leaf, sizeof(leaf), &n) ||
            n != sizeof(leaf))
            e = gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS,
                          "audit_log entry %" PRIu64 " is missing or its "
                          "leaf is malformed",
                          first + (uint64_t)i);
        else
            gh_merkle_frontier_append(&f, leaf, NULL, NULL);
    }
    PQclear(r);
    if (!e) memcpy(out, f.peak[level], GH_MERKLE_HASH_LEN);
    return e;
}

gh_err_t gh_audit_root(PGconn *db, uint64_t *size,
                       uint8_t root[GH_MERKLE_HASH_LEN], char *errstr,
                       size_t errstr_size) {
    PGresult *r = gh_pg_query_what(
        db, "SELECT size, frontier FROM audit_head WHERE id = 1", 0, NULL,
        "read the audit head", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    gh_err_t e = PQntuples(r) == 1
                     ? GH_OK
                     : gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS,
                                 "audit_head has no row");
    gh_merkle_frontier_t f;
    if (!e) e = frontier_from_row(r, &f, errstr, errstr_size);
    PQclear(r);
    if (!e) {
        *size = f.size;
        gh_merkle_frontier_root(&f, root);
    }
    return e;
}

/* ---- Signed heads ----------------------------------------------------------
 */

gh_err_t gh_audit_issue_head(PGconn *db, const gh_audit_key_t *key,
                             const char *topic, int64_t now_ms, int *issued,
                             gh_audit_sth_t *out, char *errstr,
                             size_t errstr_size) {
    if (issued) *issued = 0;
    gh_err_t e = gh_pg_exec(db, "BEGIN", errstr, errstr_size);
    if (e) return e;
    /* Appenders wait for the head row; a share lock keeps the size still
     * while the head is signed and stored. */
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT h.size, h.frontier, (SELECT head FROM audit_sth ORDER BY "
        "size DESC LIMIT 1) FROM audit_head h WHERE id = 1 FOR SHARE",
        0, NULL, "read the audit head", errstr, errstr_size);
    if (!r) {
        gh_pg_exec(db, "ROLLBACK", NULL, 0);
        return GH_ERR_PG;
    }
    gh_audit_sth_t h = {0};
    gh_merkle_frontier_t f;
    e = PQntuples(r) == 1 ? frontier_from_row(r, &f, errstr, errstr_size)
                          : gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS,
                                      "audit_head has no row");
    int have_last = !e && !PQgetisnull(r, 0, 2);
    if (have_last)
        e = gh_audit_sth_from_json(PQgetvalue(r, 0, 2), &h, errstr,
                                   errstr_size);
    PQclear(r);
    if (e || (have_last && h.size == f.size) || !f.size) {
        gh_pg_exec(db, "ROLLBACK", NULL, 0);
        if (!e && out) *out = h;
        return e;
    }
    memset(&h, 0, sizeof(h));
    h.size = f.size;
    h.timestamp_ms = now_ms;
    gh_merkle_frontier_root(&f, h.root);
    e = gh_audit_sth_sign(key, &h, errstr, errstr_size);
    char *json = e ? NULL : gh_audit_sth_to_json(&h);
    if (!e) {
        char size[24], ts[24], root[2 * GH_MERKLE_HASH_LEN + 3],
            sig[2 * GH_AUDIT_SIG_LEN + 3];
        snprintf(size, sizeof(size), "%" PRIu64, h.size);
        snprintf(ts, sizeof(ts), "%" PRId64, h.timestamp_ms);
        hex_bytea(h.root, GH_MERKLE_HASH_LEN, root);
        hex_bytea(h.sig, GH_AUDIT_SIG_LEN, sig);
        const char *p[7] = {size, ts, root, h.key_id, sig, json, topic};
        e = gh_pg_exec_what(
            db,
            "WITH s AS (INSERT INTO audit_sth (size, timestamp_ms, root, "
            "key_id, sig, head) VALUES ($1, $2, $3, $4, $5, $6)) INSERT INTO "
            "outbox (topic, msg_key, payload) VALUES ($7, $1, "
            "convert_to($6, 'UTF8'))",
            7, p, "store the signed tree head", errstr, errstr_size);
    }
    free(json);
    if (!e)
        e = gh_pg_exec(db, "COMMIT", errstr, errstr_size);
    else
        gh_pg_exec(db, "ROLLBACK", NULL, 0);
    if (!e) {
        if (issued) *issued = 1;
        if (out) *out = h;
    }
    return e;
}

gh_err_t gh_audit_append_one(PGconn *db, const char *kind, const char *entity,
                             json_t *body, char *errstr, size_t errstr_size) {
    PGresult *r =
        gh_pg_query_what(db, "SELECT current_user", 0, NULL,
                         "read the database role", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    json_t *o = body ? json_deep_copy(body) : json_object();
    json_object_set_new(o, "db_role", json_string(PQgetvalue(r, 0, 0)));
    PQclear(r);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    gh_audit_batch_t *b = gh_audit_batch_new();
    gh_audit_batch_add(b, kind, NULL, entity, NULL, text);
    free(text);
    gh_err_t e = gh_audit_append(db, b, errstr, errstr_size);
    gh_audit_batch_destroy(b);
    return e;
}
