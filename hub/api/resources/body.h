/* The body of a POST to gridhub api: its limit and the reading of a
 * steward action's JSON, apart from libmicrohttpd and the database so that
 * it can be fuzzed and unit tested (hub/api/resources/body.c). */
#ifndef GH_API_BODY_H
#define GH_API_BODY_H

#include <stddef.h>

#include "gridhub/error.h"

/* The most a request body may hold: a decision's reason and value fit
 * many times over; more is refused (413) before it is buffered. */
#define GH_API_BODY_MAX (16 * 1024)

/* The body of a steward action (POST), as gh__api_parse_action reads it.
 * Strings are owned (gh__api_action_clear). */
typedef struct gh__api_action {
    char *reason;   /* required: why, kept with the decision */
    char *value;    /* choose: the value; "" for null (clears); NULL: absent */
    char **records; /* split: "department:source_key", nrecords of them */
    int nrecords;
} gh__api_action_t;

/* Reads `len` bytes of `body` (need not be NUL-terminated) into *out
 * (zeroed first; the caller clears it whatever the result). GH_ERR_PARSE
 * when it is not one JSON object (err names the line, column and byte);
 * GH_ERR_INVALID_ARG when a member is unknown, of the wrong type or out of
 * bounds (err starts with the member's name and *bad_field, if not NULL,
 * points at a static copy of it). No I/O: what the fuzz target runs. */
gh_err_t gh__api_parse_action(const char *body, size_t len,
                              gh__api_action_t *out, const char **bad_field,
                              char *err, size_t errsz);
void gh__api_action_clear(gh__api_action_t *a);

#endif
