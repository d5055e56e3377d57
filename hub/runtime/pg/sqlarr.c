#include "gridhub/sqlarr.h"

#include <inttypes.h>
#include <string.h>

void gh_sqlarr_reset(gh_sqlarr_t *a) {
    gh_buf_reset(&a->buf);
    gh_buf_puts(&a->buf, "{");
    a->n = 0;
}

static void sep(gh_sqlarr_t *a) {
    if (!a->buf.len) gh_buf_puts(&a->buf, "{");
    if (a->n++) gh_buf_puts(&a->buf, ",");
}

void gh_sqlarr_int(gh_sqlarr_t *a, int64_t v) {
    sep(a);
    gh_buf_printf(&a->buf, "%" PRId64, v);
}

void gh_sqlarr_text(gh_sqlarr_t *a, const char *s) {
    sep(a);
    if (!s) {
        gh_buf_puts(&a->buf, "NULL");
        return;
    }
    gh_buf_puts(&a->buf, "\"");
    for (const char *p = s; *p;) {
        size_t run = strcspn(p, "\"\\");
        gh_buf_append(&a->buf, p, run);
        p += run;
        if (*p) {
            char esc[2] = {'\\', *p++};
            gh_buf_append(&a->buf, esc, 2);
        }
    }
    gh_buf_puts(&a->buf, "\"");
}

const char *gh_sqlarr_get(gh_sqlarr_t *a) {
    if (!a->buf.len) gh_buf_puts(&a->buf, "{");
    gh_buf_puts(&a->buf, "}");
    a->buf.len--; /* the closing brace is not part of the running literal */
    return a->buf.data;
}

void gh_sqlarr_free(gh_sqlarr_t *a) {
    gh_buf_free(&a->buf);
    a->n = 0;
}
