/* The pull feed's cursor; see cursor.h. */
#include "cursor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

char *gh__api_cursor_make(const char *entity, const int64_t *offs, int n) {
    gh_buf_t b = {0};
    gh_buf_printf(&b, "v1.%s.", entity);
    for (int i = 0; i < n; i++)
        gh_buf_printf(&b, "%s%" PRId64, i ? "-" : "", offs[i]);
    gh_buf_append(&b, "", 1);
    return b.data;
}

gh_err_t gh__api_cursor_parse(const char *text, const char *entity,
                              int64_t **offs, int *n, char *errstr,
                              size_t errstr_size) {
    *offs = NULL;
    *n = 0;
    size_t len = strlen(text);
    if (len > GH_API_CURSOR_MAX_LEN)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "cursor: %zu characters is longer than any cursor "
                         "this feed gives",
                         len);
    if (strncmp(text, "v1.", 3))
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "cursor: not a cursor of this feed (send back the "
                         "\"cursor\" of its last answer, unchanged)");
    const char *p = text + 3;
    size_t el = strlen(entity);
    if (strncmp(p, entity, el) || p[el] != '.')
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "cursor: it belongs to another feed than %s", entity);
    p += el + 1;
    if (!*p) return GH_OK; /* the topic had no partition yet */
    /* Counted first, so that nothing is allocated for a refused one. */
    int count = 1;
    for (const char *q = p; *q; q++)
        count += *q == '-';
    if (count > GH_API_CURSOR_MAX_PARTITIONS)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "cursor: %d partitions is more than any topic of "
                         "the hub has",
                         count);
    int64_t *v = gh_xcalloc((size_t)count, sizeof(*v));
    for (int i = 0; i < count; i++) {
        const char *start = p;
        int64_t x = 0;
        while (*p >= '0' && *p <= '9') {
            int d = *p++ - '0';
            if (x > (INT64_MAX - d) / 10) {
                free(v);
                return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                                 "cursor: partition %d: offset out of range",
                                 i);
            }
            x = x * 10 + d;
        }
        /* Only the form the feed writes (no leading zero), so that one
         * position has one cursor. */
        if (p == start || p - start > 19 || (*start == '0' && p - start > 1) ||
            (*p && *p != '-') || (*p == '-' && i == count - 1)) {
            free(v);
            return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                             "cursor: partition %d: not an offset (send back "
                             "the \"cursor\" of the last answer, unchanged)",
                             i);
        }
        v[i] = x;
        if (*p == '-') p++;
    }
    *offs = v;
    *n = count;
    return GH_OK;
}
