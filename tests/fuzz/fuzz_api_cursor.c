/*
 * The pull feed's cursor (gh__api_cursor_parse, hub/api/pull/cursor.c): any
 * bytes a client sends as ?cursor=. What it accepts must be a cursor the
 * feed could have given: making it again from the offsets read gives the
 * same text.
 */
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t *offs = NULL;
    int n = -1;
    char err[256];
    gh_err_t e =
        gh__api_cursor_parse(text, "person", &offs, &n, err, sizeof(err));
    GH_FUZZ_CHECK(e == GH_OK || e == GH_ERR_INVALID_ARG, "unexpected error %d",
                  (int)e);
    GH_FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL,
                  "error message not terminated");
    if (e == GH_OK) {
        GH_FUZZ_CHECK(n >= 0 && n <= GH_API_CURSOR_MAX_PARTITIONS &&
                          (n == 0) == (offs == NULL),
                      "%d partitions", n);
        for (int i = 0; i < n; i++)
            GH_FUZZ_CHECK(offs[i] >= 0, "negative offset %d", i);
        char *again = gh__api_cursor_make("person", offs, n);
        GH_FUZZ_CHECK(!strcmp(again, text), "accepted %s, which reads as %s",
                      text, again);
        free(again);
    } else {
        GH_FUZZ_CHECK(offs == NULL && n == 0, "refused but handed out %d", n);
        gh_fuzz_verbose("refused: %s", err);
    }
    free(offs);
    free(text);
    return 0;
}
