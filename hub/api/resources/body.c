/* The body of a steward action: strict JSON, only the members an action
 * takes. Kept apart from libmicrohttpd so that it can be fuzzed
 * (tests/fuzz/fuzz_api_action.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "body.h"
#include "gridhub/util.h"

/* Bounds a person of the office can reach; a longer text is a mistake or
 * an attack, not a reason. */
#define REASON_MAX 1000
#define VALUE_MAX 1000
#define RECORDS_MAX 64
#define RECORD_MAX 256

void gh__api_action_clear(gh__api_action_t *a) {
    free(a->reason);
    free(a->value);
    for (int i = 0; i < a->nrecords; i++)
        free(a->records[i]);
    free(a->records);
    memset(a, 0, sizeof(*a));
}

/* Whether s (len bytes) holds a control character: a reason or value is
 * one line of text people read in the audit log, and a newline or escape
 * there could forge what a reader sees. */
static int has_control(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 1;
    return 0;
}

static gh_err_t bad(const char **bad_field, const char *field, char *err,
                    size_t errsz, const char *why) {
    if (bad_field) *bad_field = field;
    return gh_seterr(err, errsz, GH_ERR_INVALID_ARG, "%s: %s", field, why);
}

gh_err_t gh__api_parse_action(const char *body, size_t len,
                              gh__api_action_t *out, const char **bad_field,
                              char *err, size_t errsz) {
    memset(out, 0, sizeof(*out));
    if (bad_field) *bad_field = NULL;
    json_error_t je;
    json_t *o = json_loadb(body ? body : "", body ? len : 0,
                           JSON_REJECT_DUPLICATES, &je);
    if (!o)
        return gh_seterr(err, errsz, GH_ERR_PARSE,
                         "line %d, column %d (byte %d): %s", je.line, je.column,
                         je.position, je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return gh_seterr(err, errsz, GH_ERR_PARSE,
                         "byte 0: the body must be a JSON object");
    }
    gh_err_t e = GH_OK;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!strcmp(k, "reason")) {
            size_t n = json_string_length(v);
            if (!json_is_string(v))
                e = bad(bad_field, "reason", err, errsz, "must be a string");
            else if (!n || n > REASON_MAX ||
                     has_control(json_string_value(v), n))
                e = bad(bad_field, "reason", err, errsz,
                        "must be 1 to 1000 bytes of text on one line");
            else
                out->reason = gh_xstrndup(json_string_value(v), n);
        } else if (!strcmp(k, "value")) {
            size_t n = json_string_length(v);
            if (json_is_null(v))
                out->value = gh_xstrdup("");
            else if (!json_is_string(v))
                e = bad(bad_field, "value", err, errsz,
                        "must be a string, or null to clear the field");
            else if (n > VALUE_MAX || has_control(json_string_value(v), n))
                e = bad(bad_field, "value", err, errsz,
                        "must be at most 1000 bytes of text on one line");
            else
                out->value = gh_xstrndup(json_string_value(v), n);
        } else if (!strcmp(k, "records")) {
            size_t n = json_array_size(v), i;
            json_t *r;
            if (!json_is_array(v) || !n || n > RECORDS_MAX) {
                e = bad(bad_field, "records", err, errsz,
                        "must be an array of 1 to 64 \"department:source_key\" "
                        "strings");
                break;
            }
            out->records = gh_xcalloc(n, sizeof(*out->records));
            json_array_foreach(v, i, r) {
                const char *t = json_string_value(r);
                size_t tl = json_string_length(r);
                const char *colon = t ? memchr(t, ':', tl) : NULL;
                if (!t || !colon || colon == t || colon + 1 == t + tl ||
                    tl > RECORD_MAX || memchr(t, '\0', tl) ||
                    has_control(t, tl)) {
                    e = bad(bad_field, "records", err, errsz,
                            "each must be \"department:source_key\"");
                    break;
                }
                out->records[out->nrecords++] = gh_xstrndup(t, tl);
            }
        } else {
            /* Named in the answer, so a misspelt member is not silently
             * dropped; the name is the caller's own, bounded. */
            if (bad_field) *bad_field = "(unknown)";
            e = gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                          "%.64s: no such member (reason, value, records)", k);
        }
        if (e) break;
    }
    if (!e && !out->reason)
        e = bad(bad_field, "reason", err, errsz, "required");
    json_decref(o);
    return e;
}
