/* API tokens: format, storage of the secret's hash, checks; see token.h. */
#include "token.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "gridhub/pg.h"
#include "gridhub/sqlarr.h"
#include "gridhub/util.h"

static const char *const role_names[GH_TOKEN__NROLES] = {
    "subscriber", "grid_worker", "steward", "security_officer", "leadership"};

const char *gh_token_role_name(gh_token_role_t r) {
    return r >= 0 && r < GH_TOKEN__NROLES ? role_names[r] : "?";
}

int gh_token_role_parse(const char *name) {
    for (int r = 0; name && r < GH_TOKEN__NROLES; r++)
        if (!strcmp(name, role_names[r])) return r;
    return -1;
}

#define SECRET_LEN 43 /* 32 bytes in base64url, unpadded */

static int is_b64url(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

gh_err_t gh_token_parse(const char *token, char *id, unsigned char hash[32],
                        char *errstr, size_t errstr_size) {
    if (!token || strncmp(token, "gh_", 3))
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                         "not a gridhub token (they begin with gh_)");
    size_t len = strlen(token);
    if (len != GH_TOKEN_LEN)
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                         "a token has %d characters, this one %zu",
                         GH_TOKEN_LEN, len);
    for (int i = 0; i < GH_TOKEN_ID_LEN; i++) {
        char c = token[3 + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                             "the token's id is not 8 lowercase hex digits");
    }
    if (token[3 + GH_TOKEN_ID_LEN] != '_')
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                         "no '_' after the token's id");
    const char *secret = token + 3 + GH_TOKEN_ID_LEN + 1;
    for (int i = 0; i < SECRET_LEN; i++)
        if (!is_b64url(secret[i]))
            return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                             "the token's secret is not base64url");
    memcpy(id, token + 3, GH_TOKEN_ID_LEN);
    id[GH_TOKEN_ID_LEN] = '\0';
    SHA256((const unsigned char *)secret, SECRET_LEN, hash);
    return GH_OK;
}

/* A new token in `token`, its id in `id`. */
static gh_err_t make_token(char *token, char *id, char *errstr,
                           size_t errstr_size) {
    unsigned char idb[GH_TOKEN_ID_LEN / 2], sec[32];
    if (RAND_bytes(idb, sizeof(idb)) != 1 || RAND_bytes(sec, sizeof(sec)) != 1)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "no random bytes from OpenSSL");
    for (size_t i = 0; i < sizeof(idb); i++)
        snprintf(id + 2 * i, 3, "%02x", idb[i]);
    unsigned char b64[48];
    EVP_EncodeBlock(b64, sec, sizeof(sec)); /* 44 characters, one '=' */
    OPENSSL_cleanse(sec, sizeof(sec));
    for (int i = 0; i < SECRET_LEN; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    snprintf(token, GH_TOKEN_LEN + 1, "gh_%s_%.*s", id, SECRET_LEN,
             (const char *)b64);
    OPENSSL_cleanse(b64, sizeof(b64));
    return GH_OK;
}

/* Commits `e == GH_OK` work, rolls back otherwise; returns the error. */
static gh_err_t finish(PGconn *db, gh_err_t e, char *errstr,
                       size_t errstr_size) {
    if (!e) return gh_pg_exec(db, "COMMIT", errstr, errstr_size);
    char ignore[256];
    gh_pg_exec(db, "ROLLBACK", ignore, sizeof(ignore));
    return e;
}

static void hex32(const unsigned char *h, char *out) {
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

gh_err_t gh_token_create(PGconn *db, const gh_token_spec_t *spec, char *token,
                         char *id, char *errstr, size_t errstr_size) {
    if (!spec->subscriber || !*spec->subscriber)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "a token needs a subscriber");
    if ((spec->role == GH_TOKEN_GRID_WORKER) != (spec->ngrids > 0))
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         spec->ngrids
                             ? "only a grid_worker token is bound to grids"
                             : "a grid_worker token needs at least one grid");
    gh_sqlarr_t grids = {0};
    for (int i = 0; i < spec->ngrids; i++)
        gh_sqlarr_text(&grids, spec->grids[i]);
    char expires[32] = "";
    if (spec->expires_s > 0)
        snprintf(expires, sizeof(expires), "%lld", (long long)spec->expires_s);
    gh_err_t e = GH_OK;
    /* A new id may meet an old one (2^32 of them): try another. */
    for (int attempt = 0; attempt < 5; attempt++) {
        e = make_token(token, id, errstr, errstr_size);
        if (e) break;
        unsigned char h[32];
        char hx[65];
        gh_token_parse(token, id, h, errstr, errstr_size);
        hex32(h, hx);
        e = gh_pg_exec(db, "BEGIN", errstr, errstr_size);
        if (e) break;
        const char *p[8] = {id,
                            hx,
                            spec->subscriber,
                            gh_token_role_name(spec->role),
                            gh_sqlarr_get(&grids),
                            spec->note,
                            spec->created_by,
                            *expires ? expires : NULL};
        PGresult *r = PQexecParams(
            db,
            "INSERT INTO api_token (id, secret_sha256, subscriber, role, "
            "grids, note, created_by, expires_at) VALUES ($1, decode($2, "
            "'hex'), $3, $4, $5::text[], $6, $7, now() + make_interval(secs "
            "=> $8::bigint)) ON CONFLICT (id) DO NOTHING",
            8, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            e = gh_pg_result_error(r, db, "store the token", errstr,
                                   errstr_size);
            PQclear(r);
            finish(db, e, NULL, 0);
            break;
        }
        int stored = atoi(PQcmdTuples(r)) == 1;
        PQclear(r);
        if (stored) {
            json_t *g = json_array();
            for (int i = 0; i < spec->ngrids; i++)
                json_array_append_new(g, json_string(spec->grids[i]));
            json_t *body = json_pack(
                "{s:s,s:s,s:s,s:s,s:o,s:o,s:s?,s:s?}", "action", "create",
                "token", id, "subscriber", spec->subscriber, "role",
                gh_token_role_name(spec->role), "grids", g, "expires_days",
                spec->expires_s > 0 ? json_integer(spec->expires_s / 86400)
                                    : json_null(),
                "note", spec->note, "by", spec->created_by);
            e = gh_audit_append_one(db, "token", NULL, body, errstr,
                                    errstr_size);
            json_decref(body);
            e = finish(db, e, errstr, errstr_size);
            break;
        }
        finish(db, GH_ERR_IO, NULL, 0);
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                      "five new token ids were all taken");
    }
    if (e) OPENSSL_cleanse(token, GH_TOKEN_LEN + 1);
    gh_sqlarr_free(&grids);
    return e;
}

void gh_token_info_clear(gh_token_info_t *info) {
    free(info->grids);
    memset(info, 0, sizeof(*info));
}

gh_err_t gh_token_verify(PGconn *db, const char *token, gh_token_info_t *info,
                         char *errstr, size_t errstr_size) {
    memset(info, 0, sizeof(*info));
    char id[GH_TOKEN_ID_LEN + 1];
    unsigned char h[32];
    char why[256];
    if (gh_token_parse(token, id, h, why, sizeof(why)))
        return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                         "token refused: %s", why);
    const char *p[1] = {id};
    PGresult *r = PQexecParams(
        db,
        "SELECT secret_sha256, subscriber, role, grids::text, revoked_at IS "
        "NOT NULL, coalesce(expires_at <= now(), false), last_used_at IS "
        "NULL OR last_used_at < now() - interval '1 minute' FROM api_token "
        "WHERE id = $1",
        1, NULL, p, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        gh_err_t e =
            gh_pg_result_error(r, db, "look up a token", errstr, errstr_size);
        PQclear(r);
        return e;
    }
    gh_err_t e = GH_OK;
    if (PQntuples(r) == 0)
        e = gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                      "token %s refused: no such token", id);
    else if (PQgetlength(r, 0, 0) != 32 ||
             CRYPTO_memcmp(PQgetvalue(r, 0, 0), h, 32))
        e = gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                      "token %s refused: wrong secret", id);
    else if (*PQgetvalue(r, 0, 4))
        e = gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                      "token %s refused: revoked", id);
    else if (*PQgetvalue(r, 0, 5))
        e = gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                      "token %s refused: expired", id);
    if (!e) {
        snprintf(info->id, sizeof(info->id), "%s", id);
        snprintf(info->subscriber, sizeof(info->subscriber), "%.*s",
                 PQgetlength(r, 0, 1), PQgetvalue(r, 0, 1));
        char *role =
            gh_xstrndup(PQgetvalue(r, 0, 2), (size_t)PQgetlength(r, 0, 2));
        info->role = (gh_token_role_t)gh_token_role_parse(role);
        free(role);
        info->grids =
            gh_xstrndup(PQgetvalue(r, 0, 3), (size_t)PQgetlength(r, 0, 3));
    }
    int stale = !e && *PQgetvalue(r, 0, 6);
    PQclear(r);
    if (e || !stale) return e;
    /* To the minute: a write (and a commit to wait for) on every request
     * would cost the API more than the lookup it serves, and so would the
     * statement alone: it is sent only when the minute is over. */
    PGresult *u = PQexecParams(
        db,
        "UPDATE api_token SET last_used_at = now() WHERE id = $1 AND "
        "(last_used_at IS NULL OR last_used_at < now() - interval '1 "
        "minute')",
        1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(u) != PGRES_COMMAND_OK)
        e = gh_pg_result_error(u, db, "note a token's use", errstr,
                               errstr_size);
    PQclear(u);
    if (e) gh_token_info_clear(info);
    return e;
}

gh_err_t gh_token_revoke(PGconn *db, const char *id, const char *reason,
                         const char *by, char *errstr, size_t errstr_size) {
    gh_err_t e = gh_pg_exec(db, "BEGIN", errstr, errstr_size);
    if (e) return e;
    const char *p[2] = {id, reason};
    PGresult *r = PQexecParams(
        db,
        "UPDATE api_token SET revoked_at = now(), revoked_reason = $2 WHERE "
        "id = $1 AND revoked_at IS NULL",
        2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        e = gh_pg_result_error(r, db, "revoke a token", errstr, errstr_size);
        PQclear(r);
        return finish(db, e, errstr, errstr_size);
    }
    int n = atoi(PQcmdTuples(r));
    PQclear(r);
    if (n != 1)
        return finish(db,
                      gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                                "no token %s that is not revoked already", id),
                      errstr, errstr_size);
    json_t *body = json_pack("{s:s,s:s,s:s,s:s?}", "action", "revoke", "token",
                             id, "reason", reason, "by", by);
    e = gh_audit_append_one(db, "token", NULL, body, errstr, errstr_size);
    json_decref(body);
    return finish(db, e, errstr, errstr_size);
}
