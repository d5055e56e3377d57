/*
 * The body of a steward action over `gridhub api` (gh__api_parse_action,
 * hub/api/resources/body.c): attacker-controlled JSON from any steward token.
 * What it accepts must be what the actions may be given, whatever the bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "util.h"

/* One line of text: nothing a reader of the audit log could be fooled by. */
static int one_line(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gh__api_action_t a;
    const char *field = NULL;
    char err[256];
    gh_err_t e = gh__api_parse_action((const char *)data, size, &a, &field, err,
                                      sizeof(err));
    GH_FUZZ_CHECK(e == GH_OK || e == GH_ERR_PARSE || e == GH_ERR_INVALID_ARG,
                  "unexpected error %d", (int)e);
    GH_FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL,
                  "error message not terminated");
    if (e == GH_ERR_INVALID_ARG)
        GH_FUZZ_CHECK(field != NULL, "invalid member not named: %s", err);
    if (e == GH_OK) {
        GH_FUZZ_CHECK(a.reason && *a.reason && strlen(a.reason) <= 1000 &&
                          one_line(a.reason),
                      "accepted reason of %zu bytes",
                      a.reason ? strlen(a.reason) : 0);
        GH_FUZZ_CHECK(!a.value ||
                          (strlen(a.value) <= 1000 && one_line(a.value)),
                      "accepted value");
        GH_FUZZ_CHECK((a.records != NULL) == (a.nrecords > 0) &&
                          a.nrecords <= 64,
                      "records: %d", a.nrecords);
        for (int i = 0; i < a.nrecords; i++) {
            const char *c = strchr(a.records[i], ':');
            GH_FUZZ_CHECK(c && c != a.records[i] && c[1] &&
                              one_line(a.records[i]),
                          "record %d: %s", i, a.records[i]);
        }
        gh_fuzz_verbose("reason %s, value %s, %d records", a.reason,
                        a.value ? a.value : "(none)", a.nrecords);
    } else {
        gh_fuzz_verbose("refused: %s", err);
    }
    gh__api_action_clear(&a);
    GH_FUZZ_CHECK(!a.reason && !a.value && !a.records && !a.nrecords,
                  "clear left something");
    return 0;
}
