#include "encoding.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gridhub/util.h"

struct gh_enc {
    char *name;
    iconv_t cd; /* (iconv_t)-1: check only */
    gh_buf_t store;
    size_t *off; /* per converted value: start and end in store */
    int cap;
};

gh_enc_t *gh_enc_new(const char *from, char *errstr, size_t errstr_size) {
    gh_enc_t *e = gh_xcalloc(1, sizeof(*e));
    e->cd = (iconv_t)-1;
    if (!from || !*from || !strcasecmp(from, "UTF-8") ||
        !strcasecmp(from, "UTF8")) {
        e->name = gh_xstrdup("UTF-8");
        return e;
    }
    e->cd = iconv_open("UTF-8", from);
    if (e->cd == (iconv_t)-1) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                  "source.encoding: \"%s\" is not an encoding this system "
                  "can convert (iconv: %s); try GBK, GB18030 or BIG5",
                  from, strerror(errno));
        free(e);
        return NULL;
    }
    e->name = gh_xstrdup(from);
    return e;
}

void gh_enc_destroy(gh_enc_t *e) {
    if (!e) return;
    if (e->cd != (iconv_t)-1) iconv_close(e->cd);
    gh_buf_free(&e->store);
    free(e->off);
    free(e->name);
    free(e);
}

const char *gh_enc_name(const gh_enc_t *e) {
    return e->name;
}

/* Appends the UTF-8 form of in[0..n) to the store; -1 with *bad_at on an
 * invalid or incomplete sequence. */
static int convert(gh_enc_t *e, const char *in, size_t n, size_t *bad_at) {
    iconv(e->cd, NULL, NULL, NULL, NULL);
    char *src = (char *)in;
    size_t left = n;
    while (left > 0) {
        char chunk[4096], *dst = chunk;
        size_t room = sizeof(chunk);
        size_t r = iconv(e->cd, &src, &left, &dst, &room);
        gh_buf_append(&e->store, chunk, (size_t)(dst - chunk));
        if (r == (size_t)-1 && errno != E2BIG) {
            *bad_at = (size_t)(src - in);
            return -1;
        }
    }
    return 0;
}

void gh_enc_reset(gh_enc_t *e) {
    e->store.len = 0;
}

gh_err_t gh_enc_values(gh_enc_t *e, gh_pgo_value_t *vals, int n, int *bad_col,
                       char *errstr, size_t errstr_size) {
    if (e->cd != (iconv_t)-1 && n > e->cap) {
        e->off = gh_xrealloc(e->off, (size_t)n * 2 * sizeof(*e->off));
        e->cap = n;
    }
    int converted = 0;
    gh_err_t err = GH_OK;
    for (int i = 0; i < n; i++) {
        gh_pgo_value_t *v = &vals[i];
        if (v->kind != GH_PGO_TEXT) continue;
        size_t bad_at = 0;
        int ok;
        if (e->cd == (iconv_t)-1) {
            ok = gh_utf8_valid(v->data, v->len, &bad_at);
        } else {
            e->off[2 * i] = e->store.len;
            ok = convert(e, v->data, v->len, &bad_at) == 0;
            e->off[2 * i + 1] = e->store.len;
        }
        if (!ok) {
            *bad_col = i;
            err = gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                            "bytes that are not well-formed %s at byte %zu "
                            "of a value of %u bytes%s",
                            e->name, bad_at, v->len,
                            e->cd == (iconv_t)-1
                                ? " (a SQL_ASCII database holding another "
                                  "encoding? set source.encoding)"
                                : "");
            break;
        }
        if (e->cd != (iconv_t)-1) converted = i + 1;
    }
    /* Pointers only now: the store may have moved while it grew. */
    for (int i = 0; i < converted; i++) {
        gh_pgo_value_t *v = &vals[i];
        if (v->kind != GH_PGO_TEXT) continue;
        v->data = e->store.data ? e->store.data + e->off[2 * i] : "";
        v->len = (uint32_t)(e->off[2 * i + 1] - e->off[2 * i]);
    }
    return err;
}
