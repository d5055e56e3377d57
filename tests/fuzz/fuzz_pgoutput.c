/*
 * pgoutput decoder (connectors/runtime/capture/pgoutput.c): the input is one
 * message as the server sends it in XLogData. The decoder promises never
 * to read past the buffer and to point every name and value into it.
 */
#include <string.h>

#include "pgoutput.h"
#include "util.h"

static const char *g_buf;
static size_t g_len;

static int inside(const char *p, size_t n) {
    return p >= g_buf && n <= g_len && (size_t)(p - g_buf) <= g_len - n;
}

static void check_name(const char *s, const char *what) {
    GH_FUZZ_CHECK(inside(s, 0), "%s points outside the message", what);
    size_t left = g_len - (size_t)(s - g_buf);
    GH_FUZZ_CHECK(memchr(s, '\0', left), "%s is not terminated", what);
}

static void check_tuple(const gh_pgo_tuple_t *t) {
    GH_FUZZ_CHECK(t->ncols >= 0 && t->ncols <= 0xFFFF, "ncols %d", t->ncols);
    GH_FUZZ_CHECK(!t->ncols == !t->cols, "%d columns, cols %p", t->ncols,
                  (void *)t->cols);
    for (int i = 0; i < t->ncols; i++) {
        const gh_pgo_value_t *v = &t->cols[i];
        GH_FUZZ_CHECK(v->kind == GH_PGO_NULL || v->kind == GH_PGO_UNCHANGED ||
                          v->kind == GH_PGO_TEXT,
                      "column %d has kind 0x%02x", i, (unsigned char)v->kind);
        if (v->kind == GH_PGO_TEXT)
            GH_FUZZ_CHECK(inside(v->data, v->len),
                          "column %d (%u bytes) is outside the message", i,
                          v->len);
    }
}

static void check(const gh_pgo_msg_t *m) {
    GH_FUZZ_CHECK(m->kind == g_buf[0], "kind '%c' for a '%c' message", m->kind,
                  g_buf[0]);
    switch (m->kind) {
    case GH_PGO_RELATION:
        check_name(m->nspname, "namespace");
        check_name(m->relname, "relation name");
        for (int i = 0; i < m->ncolumns; i++)
            check_name(m->columns[i].name, "column name");
        break;
    case GH_PGO_INSERT:
    case GH_PGO_UPDATE:
    case GH_PGO_DELETE:
        check_tuple(&m->old_tuple);
        check_tuple(&m->new_tuple);
        GH_FUZZ_CHECK(m->kind != GH_PGO_INSERT || !m->old_tuple.ncols,
                      "an insert with an old tuple");
        GH_FUZZ_CHECK(m->kind != GH_PGO_DELETE || !m->new_tuple.ncols,
                      "a delete with a new tuple");
        break;
    case GH_PGO_TRUNCATE:
        GH_FUZZ_CHECK((size_t)m->nrelids * 4 <= g_len,
                      "%d relation ids in %zu bytes", m->nrelids, g_len);
        break;
    default:
        break;
    }
}

/* The LSN text written to the offsets file must read back. */
static void check_lsn(uint64_t lsn) {
    char text[18];
    uint64_t back = 0;
    gh_lsn_format(lsn, text);
    GH_FUZZ_CHECK(!gh_lsn_parse(text, &back) && back == lsn,
                  "LSN %s does not read back", text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    gh_pgo_msg_t m;
    memset(&m, 0, sizeof(m));
    g_buf = (const char *)data;
    g_len = size;
    gh_err_t rc = gh_pgo_decode(g_buf, size, &m, err, sizeof(err));
    if (!rc) check(&m);
    /* The connector reuses one message's storage for every message: a
     * second decode into it must give the same verdict. */
    gh_err_t again = gh_pgo_decode(g_buf, size, &m, err, sizeof(err));
    GH_FUZZ_CHECK(again == rc, "decoded %d, then %d", rc, again);
    if (!again) {
        check(&m);
        check_lsn(m.final_lsn);
        check_lsn(m.commit_lsn);
    }
    gh_pgo_msg_free(&m);
    return 0;
}
