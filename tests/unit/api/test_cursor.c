/*
 * The pull feed's cursor (hub/api/pull/cursor.c): what the feed gives comes
 * back as the same offsets, and what a client may send instead (anything)
 * is refused with a reason, never taken for another feed's position.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

static gh_err_t parse(const char *text, const char *entity, int64_t **offs,
                      int *n, char *err) {
    return gh__api_cursor_parse(text, entity, offs, n, err, 256);
}

Test(cursor, round_trip) {
    const int64_t offs[] = {0, 12, INT64_MAX, 7};
    char *c = gh__api_cursor_make("person", offs, 4);
    cr_assert_str_eq(c, "v1.person.0-12-9223372036854775807-7");
    int64_t *got;
    int n;
    char err[256];
    cr_assert_eq(parse(c, "person", &got, &n, err), GH_OK, "%s", err);
    cr_assert_eq(n, 4);
    cr_assert_arr_eq(got, offs, sizeof(offs));
    free(got);
    free(c);

    /* A topic with no partition yet. */
    c = gh__api_cursor_make("grid", NULL, 0);
    cr_assert_str_eq(c, "v1.grid.");
    cr_assert_eq(parse(c, "grid", &got, &n, err), GH_OK, "%s", err);
    cr_assert_eq(n, 0);
    cr_assert_null(got);
    free(c);
}

Test(cursor, refuses_what_the_feed_did_not_give) {
    static const char *const bad[] = {
        "",
        "garbage",
        "v2.person.0",                    /* another version */
        "v1.grid.0",                      /* another feed */
        "v1.personx.0",                   /* an entity that only starts alike */
        "v1.person",                      /* no offsets part */
        "v1.person.-1",                   /* negative */
        "v1.person.1--2",                 /* empty field */
        "v1.person.1-",                   /* trailing separator */
        "v1.person.-",                    /* nothing but a separator */
        "v1.person.12a",                  /* not a number */
        "v1.person. 1",                   /* spaces */
        "v1.person.+1",                   /* a sign */
        "v1.person.9223372036854775808",  /* past int64 */
        "v1.person.00000000000000000001", /* 20 digits */
        "v1.person.01",                   /* not the form the feed writes */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        int64_t *got = (int64_t *)1;
        int n = -1;
        char err[256] = "";
        cr_assert_eq(parse(bad[i], "person", &got, &n, err), GH_ERR_INVALID_ARG,
                     "accepted \"%s\"", bad[i]);
        cr_assert_null(got, "\"%s\": nothing handed out", bad[i]);
        cr_assert_eq(n, 0);
        cr_assert(strstr(err, "cursor"), "\"%s\": %s", bad[i], err);
    }
}

Test(cursor, bounded) {
    /* More partitions than allowed: refused before anything is made. */
    size_t cap = GH_API_CURSOR_MAX_LEN + 16;
    char *c = malloc(cap);
    strcpy(c, "v1.person.0");
    size_t len = strlen(c);
    for (int i = 0; i < GH_API_CURSOR_MAX_PARTITIONS; i++) {
        memcpy(c + len, "-0", 3);
        len += 2;
    }
    int64_t *got;
    int n;
    char err[256];
    cr_assert_eq(parse(c, "person", &got, &n, err), GH_ERR_INVALID_ARG);
    cr_assert(strstr(err, "partitions"), "%s", err);
    /* Exactly the most: taken. */
    c[strlen(c) - 2] = '\0';
    cr_assert_eq(parse(c, "person", &got, &n, err), GH_OK, "%s", err);
    cr_assert_eq(n, GH_API_CURSOR_MAX_PARTITIONS);
    free(got);
    /* Longer than any cursor: refused on its length. */
    memset(c, '1', cap - 1);
    c[cap - 1] = '\0';
    memcpy(c, "v1.person.", 10);
    cr_assert_eq(parse(c, "person", &got, &n, err), GH_ERR_INVALID_ARG);
    cr_assert(strstr(err, "longer"), "%s", err);
    free(c);
}
