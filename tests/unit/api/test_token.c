/*
 * gh_token_ (hub/api/auth/token.c) without a database: the token's form, what
 * a malformed one is told, the roles' names.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "token.h"

static const char GOOD[] = "gh_0a1b2c3d_"
                           "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

Test(token, parses_a_well_formed_token) {
    char id[GH_TOKEN_ID_LEN + 1], err[256];
    unsigned char h1[32], h2[32];
    cr_assert_eq(strlen(GOOD), GH_TOKEN_LEN);
    cr_assert_eq(gh_token_parse(GOOD, id, h1, err, sizeof(err)), GH_OK, "%s",
                 err);
    cr_assert_str_eq(id, "0a1b2c3d");
    /* Another secret, another hash; the same, the same. */
    char other[sizeof(GOOD)];
    memcpy(other, GOOD, sizeof(GOOD));
    other[GH_TOKEN_LEN - 1] = 'f';
    cr_assert_eq(gh_token_parse(other, id, h2, err, sizeof(err)), GH_OK);
    cr_assert_neq(memcmp(h1, h2, 32), 0);
    cr_assert_eq(gh_token_parse(GOOD, id, h2, err, sizeof(err)), GH_OK);
    cr_assert_eq(memcmp(h1, h2, 32), 0);
}

static void refused(const char *tok, const char *why) {
    char id[GH_TOKEN_ID_LEN + 1], err[256];
    unsigned char h[32];
    cr_assert_eq(gh_token_parse(tok, id, h, err, sizeof(err)), GH_ERR_PARSE,
                 "%s accepted", tok ? tok : "(null)");
    cr_assert(strstr(err, why), "%s: \"%s\" lacks \"%s\"", tok, err, why);
    /* The secret never reaches a message (the audit log). */
    if (tok && strlen(tok) > 12)
        cr_assert_null(strstr(err, tok + 12), "%s", err);
}

Test(token, malformed_tokens_are_told_what_is_wrong) {
    refused(NULL, "begin with gh_");
    refused("Bearer gh_0a1b2c3d_x", "begin with gh_");
    refused("gh_0a1b2c3d_short", "55 characters, this one 17");
    char t[sizeof(GOOD)];
    memcpy(t, GOOD, sizeof(GOOD));
    t[5] = 'G';
    refused(t, "8 lowercase hex digits");
    memcpy(t, GOOD, sizeof(GOOD));
    t[11] = '.';
    refused(t, "no '_' after");
    memcpy(t, GOOD, sizeof(GOOD));
    t[30] = '+';
    refused(t, "not base64url");
}

Test(token, role_names_round_trip) {
    for (int r = 0; r < GH_TOKEN__NROLES; r++)
        cr_assert_eq(gh_token_role_parse(gh_token_role_name(r)), r);
    cr_assert_eq(gh_token_role_parse("admin"), -1);
    cr_assert_eq(gh_token_role_parse(NULL), -1);
    cr_assert_str_eq(gh_token_role_name(GH_TOKEN_GRID_WORKER), "grid_worker");
}
