/*
 * `gridhub audit verify`: the whole log, in one snapshot, against its own
 * leaves, numbering and stored subtrees and against every signed head
 * known (audit_sth and, better, copies from outside the database).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_int.h"
#include "gridhub/pgcopy.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

typedef struct heads {
    gh_audit_sth_t *h;
    int n, cap;
} heads_t;

static gh_err_t add_head(heads_t *hs, const gh_audit_verify_opts_t *o,
                         const char *json, const char *where, char *errstr,
                         size_t errstr_size) {
    gh_audit_sth_t h;
    char err[256];
    if (gh_audit_sth_from_json(json, &h, err, sizeof(err)))
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE, "%s: %s", where,
                         err);
    int ok = 0;
    for (int k = 0; k < o->nkeys && !ok; k++)
        ok = gh_audit_sth_verify(o->keys[k], &h);
    if (!ok)
        return gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS,
                         "%s: the signed head of size %" PRIu64
                         " does not verify with any key given (key id %s): "
                         "forged or altered",
                         where, h.size, h.key_id);
    for (int i = 0; i < hs->n; i++)
        if (hs->h[i].size == h.size) {
            if (memcmp(hs->h[i].root, h.root, GH_MERKLE_HASH_LEN))
                return gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS,
                                 "%s: two validly signed heads of size %" PRIu64
                                 " with different roots: the log was forked",
                                 where, h.size);
            return GH_OK;
        }
    if (hs->n == hs->cap) {
        hs->cap = hs->cap ? 2 * hs->cap : 16;
        hs->h = gh_xrealloc(hs->h, (size_t)hs->cap * sizeof(*hs->h));
    }
    hs->h[hs->n++] = h;
    return GH_OK;
}

static int by_size(const void *a, const void *b) {
    const gh_audit_sth_t *x = a, *y = b;
    return x->size < y->size ? -1 : x->size > y->size;
}

static gh_err_t load_heads(PGconn *db, const gh_audit_verify_opts_t *o,
                           heads_t *hs, int *outside, char *errstr,
                           size_t errstr_size) {
    PGresult *r =
        gh_pg_query_what(db, "SELECT head FROM audit_sth", 0, NULL,
                         "read the signed heads", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    gh_err_t e = GH_OK;
    for (int i = 0; !e && i < PQntuples(r); i++)
        e = add_head(hs, o, PQgetvalue(r, i, 0), "audit_sth", errstr,
                     errstr_size);
    PQclear(r);
    *outside = 0;
    if (!e && o->heads_file) {
        size_t len;
        char *text = gh_read_file(o->heads_file, &len);
        if (!text)
            return gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: cannot read",
                             o->heads_file);
        int line = 0;
        for (char *s = text, *nl; !e && *s; s = nl ? nl + 1 : s + strlen(s)) {
            nl = strchr(s, '\n');
            if (nl) *nl = '\0';
            line++;
            char *t = gh_str_trim(s);
            if (!*t || *t == '#') continue;
            char where[512];
            snprintf(where, sizeof(where), "%s:%d", o->heads_file, line);
            e = add_head(hs, o, t, where, errstr, errstr_size);
            (*outside)++;
        }
        free(text);
    }
    if (!e && hs->n) qsort(hs->h, (size_t)hs->n, sizeof(*hs->h), by_size);
    return e;
}

typedef struct stored {
    PGresult *r;          /* level, idx, hash ordered */
    int start[64], n[64]; /* rows of each level */
    uint64_t first_bad;
    int bad;
} stored_t;

static void index_levels(stored_t *s) {
    for (int i = PQntuples(s->r) - 1; i >= 0; i--) {
        int level = atoi(PQgetvalue(s->r, i, 0));
        if (level < 0 || level > 63) continue;
        s->start[level] = i;
        s->n[level]++;
    }
}

/* Compares each subtree the stream completes with audit_node. */
static void on_node(void *opaque, int level, uint64_t index,
                    const uint8_t hash[GH_MERKLE_HASH_LEN]) {
    stored_t *s = opaque;
    if (level < GH_AUDIT_NODE_LEVEL || s->bad) return;
    char want[2 * GH_MERKLE_HASH_LEN + 3] = "\\x";
    gh_hex_encode(hash, GH_MERKLE_HASH_LEN, want + 2);
    /* Each level's subtrees are numbered 0, 1, ...: a missing or
     * misplaced row is as bad as a wrong hash. */
    int i = s->start[level] + (int)index;
    if (index >= (uint64_t)s->n[level] ||
        strtoull(PQgetvalue(s->r, i, 1), NULL, 10) != index ||
        strcmp(PQgetvalue(s->r, i, 2), want)) {
        s->bad = 1;
        s->first_bad = index << level;
    }
}

/* The current row's columns, as the binary COPY gives them. */
enum { C_SEQ, C_AT, C_KIND, C_SUB, C_ENT, C_KEY, C_ENTRY, C_LEAF, C_N };

/* The text columns an entry's head repeats: kind, subscriber, entity,
 * msg_key. */
#define C_TEXT 4

typedef struct row {
    gh_pgcopy_reader_t *rd;
    gh_buf_t head; /* the head rebuilt from the columns */
    int64_t at_us; /* the last `at` formatted, and its text */
    char at[40];
    char *col[C_TEXT]; /* the current row's text columns, NUL-terminated
                          (NULL for NULL) */
} row_t;

/* Copies the current row's text columns into w->col. */
static void text_columns(row_t *w) {
    for (int c = 0; c < C_TEXT; c++) {
        size_t n;
        const char *p = gh_pgcopy_field(w->rd, C_KIND + c, &n);
        free(w->col[c]);
        w->col[c] = p ? gh_xstrndup(p, n) : NULL;
    }
}

/* The slow path, for an entry whose text does not start with the head its
 * columns give (an altered column, or an entry written before every
 * column was placed at a fixed place): parses the entry and names what
 * disagrees. */
static const char *check_members(row_t *w, uint64_t seq, const char *entry,
                                 size_t len, char *why, size_t whysz) {
    json_error_t je;
    json_t *o = json_loadb(entry, len, 0, &je);
    const char *cols[C_TEXT] = {"kind", "subscriber", "entity", "key"};
    const char *bad = NULL;
    if (!json_is_object(o) || !json_is_integer(json_object_get(o, "seq")) ||
        (uint64_t)json_integer_value(json_object_get(o, "seq")) != seq)
        bad = "seq";
    else if (strcmp(json_string_value(json_object_get(o, "at")) ?: "", w->at))
        bad = "at";
    for (int c = 0; !bad && c < C_TEXT; c++) {
        const char *j = json_string_value(json_object_get(o, cols[c]));
        const char *v = w->col[c];
        if ((!j) != (!v) || (j && strcmp(j, v))) bad = cols[c];
    }
    if (bad && !strcmp(bad, "seq") &&
        json_is_integer(json_object_get(o, "seq"))) {
        uint64_t says = (uint64_t)json_integer_value(json_object_get(o, "seq"));
        json_decref(o);
        if (says < seq)
            snprintf(why, whysz,
                     "an entry was inserted at %" PRIu64 ": entry %" PRIu64
                     " says it is entry %" PRIu64 " (the ones after were "
                     "renumbered)",
                     says, seq, says);
        else
            snprintf(why, whysz,
                     "entry %" PRIu64 " was reordered or entries before it "
                     "removed: it says it is entry %" PRIu64,
                     seq, says);
        return why;
    }
    json_decref(o);
    if (bad) {
        snprintf(why, whysz,
                 "entry %" PRIu64 " was altered: its %s column does not "
                 "match its text%s",
                 seq, bad,
                 !strcmp(bad, "seq") ? " (inserted, moved or reordered)" : "");
        return why;
    }
    return NULL;
}

/* Checks the current row; returns a non-NULL reason if the entry is bad. */
static const char *check_row(row_t *w, uint64_t expect,
                             uint8_t leaf[GH_MERKLE_HASH_LEN], char *why,
                             size_t whysz) {
    uint64_t seq = (uint64_t)gh_pgcopy_field_int(w->rd, C_SEQ);
    if (seq != expect) {
        snprintf(why, whysz,
                 "entry %" PRIu64
                 " is missing (the next one present is %" PRIu64 "): deleted",
                 expect, seq);
        return why;
    }
    size_t len, ll;
    const char *entry = gh_pgcopy_field(w->rd, C_ENTRY, &len);
    const char *stored = gh_pgcopy_field(w->rd, C_LEAF, &ll);
    if (!entry) entry = "", len = 0;
    gh_merkle_leaf_hash(entry, len, leaf);
    if (!stored || ll != GH_MERKLE_HASH_LEN ||
        memcmp(leaf, stored, GH_MERKLE_HASH_LEN)) {
        snprintf(why, whysz,
                 "entry %" PRIu64 " was modified: its text no longer hashes "
                 "to the leaf recorded with it",
                 seq);
        return why;
    }
    int64_t at = gh_pgcopy_field_timestamptz(w->rd, C_AT);
    if (at != w->at_us || !w->at[0]) {
        gh__audit_utc_micros(at, w->at);
        w->at_us = at;
    }
    /* The fast path: the text starts with exactly the head the columns
     * give, so it agrees with every one of them. */
    text_columns(w);
    gh_buf_reset(&w->head);
    gh__audit_entry_head(&w->head, seq, w->at, w->col[0], w->col[1], w->col[2],
                         w->col[3]);
    if (len > w->head.len && !memcmp(entry, w->head.data, w->head.len) &&
        (entry[w->head.len] == ',' || entry[w->head.len] == '}'))
        return NULL;
    return check_members(w, seq, entry, len, why, whysz);
}

gh_err_t gh_audit_verify(PGconn *db, const gh_audit_verify_opts_t *o, FILE *out,
                         char *errstr, size_t errstr_size) {
    if (!o->nkeys)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "audit verify: no public key given");
    gh_err_t e =
        gh_pg_exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                   errstr, errstr_size);
    if (e) return e;
    heads_t hs = {0};
    int outside = 0;
    stored_t st = {0};
    e = load_heads(db, o, &hs, &outside, errstr, errstr_size);
    if (!e) {
        st.r = gh_pg_query_what(
            db, "SELECT level, idx, hash FROM audit_node ORDER BY level, idx",
            0, NULL, "read audit subtrees", errstr, errstr_size);
        if (!st.r)
            e = GH_ERR_PG;
        else
            index_levels(&st);
    }
    row_t w = {0};
    if (!e) {
        /* Binary COPY: the rows stream in one request, timestamps and
         * leaves as raw bytes, nothing for the server to format. */
        w.rd = gh_pgcopy_reader_new(
            db,
            "COPY (SELECT seq, at, kind, subscriber, entity, msg_key, entry, "
            "leaf FROM audit_log ORDER BY seq) TO STDOUT (FORMAT binary)",
            "read the audit log", errstr, errstr_size);
        if (!w.rd) e = GH_ERR_PG;
    }
    gh_merkle_frontier_t f;
    gh_merkle_frontier_init(&f);
    int next_head = 0;
    char why[512] = "";
    while (!e && !why[0]) {
        int got = gh_pgcopy_next(w.rd, errstr, errstr_size);
        if (got < 0) e = GH_ERR_PG;
        if (got <= 0) break;
        if (gh_pgcopy_nfields(w.rd) != C_N) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                          "read the audit log: %d columns, not %d",
                          gh_pgcopy_nfields(w.rd), C_N);
            break;
        }
        uint8_t leaf[GH_MERKLE_HASH_LEN];
        if (check_row(&w, f.size, leaf, why, sizeof(why))) break;
        gh_merkle_frontier_append(&f, leaf, on_node, &st);
        while (next_head < hs.n && hs.h[next_head].size == f.size) {
            uint8_t root[GH_MERKLE_HASH_LEN];
            gh_merkle_frontier_root(&f, root);
            if (memcmp(root, hs.h[next_head].root, GH_MERKLE_HASH_LEN)) {
                int k = snprintf(
                    why, sizeof(why),
                    "the first %" PRIu64 " entries no longer match the "
                    "head signed over them (at %" PRId64
                    " ms): an entry among them was altered, removed, "
                    "inserted or reordered",
                    f.size, hs.h[next_head].timestamp_ms);
                if (st.bad && k > 0 && (size_t)k < sizeof(why))
                    snprintf(why + k, sizeof(why) - (size_t)k,
                             "; the first altered subtree starts at "
                             "entry %" PRIu64,
                             st.first_bad);
                break;
            }
            next_head++;
        }
    }
    gh_pgcopy_reader_destroy(w.rd);
    gh_buf_free(&w.head);
    for (int c = 0; c < C_TEXT; c++)
        free(w.col[c]);
    if (!e && !why[0] && next_head < hs.n)
        snprintf(why, sizeof(why),
                 "the log holds %" PRIu64
                 " entries, and a head of size %" PRIu64
                 " was signed: entries %" PRIu64 "..%" PRIu64
                 " were cut off (tail truncated)",
                 f.size, hs.h[hs.n - 1].size, f.size, hs.h[hs.n - 1].size - 1);
    if (!e && !why[0]) {
        uint64_t size;
        uint8_t root[GH_MERKLE_HASH_LEN], mine[GH_MERKLE_HASH_LEN];
        char err[256];
        if (gh_audit_root(db, &size, root, err, sizeof(err)))
            snprintf(why, sizeof(why), "%s", err);
        else {
            gh_merkle_frontier_root(&f, mine);
            if (size != f.size || memcmp(root, mine, sizeof(root)))
                snprintf(why, sizeof(why),
                         "audit_head says %" PRIu64 " entries with another "
                         "root than the %" PRIu64 " entries read: altered",
                         size, f.size);
        }
    }
    if (!e && !why[0] && st.bad)
        snprintf(why, sizeof(why),
                 "the stored subtree starting at entry %" PRIu64
                 " does not match the entries (altered after the fact)",
                 st.first_bad);
    if (o->entries_out) *o->entries_out = f.size;
    if (o->root_out) gh_merkle_frontier_root(&f, o->root_out);
    if (!e && why[0])
        e = gh_seterr(errstr, errstr_size, GH_ERR_DATA_LOSS, "%s", why);
    if (!e && out) {
        const gh_audit_sth_t *last = hs.n ? &hs.h[hs.n - 1] : NULL;
        fprintf(out,
                "audit log intact: %" PRIu64 " entries; %d signed heads "
                "checked (%d from outside the database)",
                f.size, hs.n, outside);
        if (last)
            fprintf(out,
                    "; the latest covers %" PRIu64
                    " entries (signed at %" PRId64 " ms, key %s); %" PRIu64
                    " entries since, not yet signed",
                    last->size, last->timestamp_ms, last->key_id,
                    f.size - last->size);
        fputc('\n', out);
    }
    gh_pg_exec(db, "ROLLBACK", NULL, 0);
    PQclear(st.r);
    free(hs.h);
    return e;
}
