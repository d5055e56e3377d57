/*
 * API tokens (gh_token_): who may call the hub's HTTP API, as whom and
 * with which role (docs/api.md, "Tokens").
 *
 * A token reads gh_<id>_<secret>: id is 8 hex characters, the public
 * handle lists and revocations name; secret is 32 random bytes in
 * base64url (43 characters). The hub database keeps the SHA-256 of the
 * secret, never the secret: it is shown once, when the token is created.
 * (256 random bits need no slow key derivation; a stolen table gives
 * nothing to guess.) Each token is bound to a subscriber of the access
 * policy, whose rules filter what it reads, and to a role; a grid worker's
 * token is also bound to the grids it may see.
 */
#ifndef GH_API_TOKEN_H
#define GH_API_TOKEN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "gridhub/error.h"

typedef enum gh_token_role {
    GH_TOKEN_SUBSCRIBER,       /* a department's systems reading its feed */
    GH_TOKEN_GRID_WORKER,      /* a grid worker: only their own grids */
    GH_TOKEN_STEWARD,          /* resolves identity conflicts */
    GH_TOKEN_SECURITY_OFFICER, /* reads the audit log */
    GH_TOKEN_LEADERSHIP,       /* reads consolidated indicators */
    GH_TOKEN__NROLES
} gh_token_role_t;

#define GH_TOKEN_ID_LEN 8
#define GH_TOKEN_LEN (3 + GH_TOKEN_ID_LEN + 1 + 43) /* gh_<id>_<secret> */

/* The role's name as in `gridhub token` and docs/api.md (static). */
const char *gh_token_role_name(gh_token_role_t r);

/* The role named `name`; -1 if there is none. */
int gh_token_role_parse(const char *name);

/* Splits a presented token into its id (GH_TOKEN_ID_LEN + 1 bytes) and the
 * SHA-256 of its secret. GH_ERR_PARSE with errstr saying what is wrong;
 * the secret never appears in errstr. */
gh_err_t gh_token_parse(const char *token, char *id, unsigned char hash[32],
                        char *errstr, size_t errstr_size);

/* What a new token is for; every pointer is borrowed. */
typedef struct gh_token_spec {
    const char *subscriber; /* a subscriber of the policy */
    gh_token_role_t role;
    const char *const *grids; /* grid codes (grid workers only) */
    int ngrids;
    int64_t expires_s;      /* lifetime in seconds; 0 = none */
    const char *note;       /* what it is for (may be NULL) */
    const char *created_by; /* who made it (OS user; may be NULL) */
} gh_token_spec_t;

/* Creates a token in the hub database and writes it to `token`
 * (GH_TOKEN_LEN + 1 bytes), its id to `id` (GH_TOKEN_ID_LEN + 1 bytes).
 * The caller shows the token once and forgets it. A grid worker needs at
 * least one grid, the other roles take none (GH_ERR_INVALID_ARG). Runs in
 * a transaction of its own (db must not be in one) with a `token` audit
 * entry naming what the token is bound to, never its secret. */
gh_err_t gh_token_create(PGconn *db, const gh_token_spec_t *spec, char *token,
                         char *id, char *errstr, size_t errstr_size);

/* What a valid token is bound to. */
typedef struct gh_token_info {
    char id[GH_TOKEN_ID_LEN + 1];
    char subscriber[128];
    gh_token_role_t role;
    char *grids; /* grid codes as a PostgreSQL array literal ({A,B});
                    owned: gh_token_info_clear */
} gh_token_info_t;

void gh_token_info_clear(gh_token_info_t *info);

/* Checks a presented token: GH_OK and *info filled, or GH_ERR_NOT_FOUND
 * with errstr saying why it is refused (malformed, unknown id, wrong
 * secret, revoked, expired — the same to the caller, told apart in
 * errstr for the audit log), or GH_ERR_PG. Compares in constant time;
 * records when the token was last used (to the minute). */
gh_err_t gh_token_verify(PGconn *db, const char *token, gh_token_info_t *info,
                         char *errstr, size_t errstr_size);

/* Revokes token `id` with a reason, `by` whom (may be NULL):
 * GH_ERR_NOT_FOUND if there is no such token or it was revoked already.
 * Like create, in a transaction of its own with a `token` audit entry
 * (docs/audit.md); db must not be in a transaction. */
gh_err_t gh_token_revoke(PGconn *db, const char *id, const char *reason,
                         const char *by, char *errstr, size_t errstr_size);

#endif
