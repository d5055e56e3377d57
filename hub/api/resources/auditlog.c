/* The audit log over HTTP (role security_officer): its entries, paged by
 * seq, and the verification `gridhub audit verify` runs, against the
 * heads in audit_sth and the keys of api.audit.public.key. Each reading is
 * itself an entry (kind read, entity audit). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "api_int.h"
#include "audit.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

#define LOG "api"

gh_err_t gh__api_audit_keys_load(gh_api_t *a, const gh_conf_t *conf,
                                 char *errstr, size_t errstr_size) {
    char **list = gh_conf_get_list(conf, "api.audit.public.key");
    gh_err_t e = GH_OK;
    for (int i = 0; list[i] && !e; i++) {
        const char *t = list[i];
        a->audit_keys =
            gh_xrealloc(a->audit_keys,
                        (size_t)(a->naudit_keys + 1) * sizeof(*a->audit_keys));
        char why[512];
        e = gh_audit_key_load_public(t, &a->audit_keys[a->naudit_keys], why,
                                     sizeof(why));
        if (e)
            gh_seterr(errstr, errstr_size, e, "api.audit.public.key: %s", why);
        else
            a->naudit_keys++;
    }
    gh_conf_list_free(list);
    return e;
}

void gh__api_audit_keys_free(gh_api_t *a) {
    for (int i = 0; i < a->naudit_keys; i++)
        gh_audit_key_destroy(a->audit_keys[i]);
    free(a->audit_keys);
    a->audit_keys = NULL;
    a->naudit_keys = 0;
}

static gh__api_reply_t *db_failed(gh__api_reply_t *r, const char *err) {
    gh_log_warn(LOG, "%s", err);
    return gh__api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                         "the hub database failed; try again later");
}

static void rollback(PGconn *db) {
    char ignore[256];
    gh_pg_exec(db, "ROLLBACK", ignore, sizeof(ignore));
}

/* GET /v1/audit/entries?since_seq=&kind=&token=&limit= */
static void entries(PGconn *db, struct MHD_Connection *conn,
                    const gh_token_info_t *who, const char *url,
                    gh__api_reply_t *r) {
    long long since = -1, limit = 100;
    if (!gh__api_int_param(conn, "since_seq", 0, INT64_MAX, &since, r) ||
        !gh__api_int_param(conn, "limit", 1, 1000, &limit, r))
        return;
    const char *kind =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "kind");
    const char *token =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    if (kind && (!*kind || strlen(kind) > 32 ||
                 strspn(kind, "abcdefghijklmnopqrstuvwxyz_") != strlen(kind))) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_parameter",
                      "kind: a kind of entry (docs/audit.md), e.g. read");
        return;
    }
    if (token && (strlen(token) != GH_TOKEN_ID_LEN ||
                  strspn(token, "0123456789abcdef") != GH_TOKEN_ID_LEN)) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_parameter",
                      "token: a token's id (%d hex digits)", GH_TOKEN_ID_LEN);
        return;
    }
    char ss[24], ls[24];
    snprintf(ss, sizeof(ss), "%lld", since);
    snprintf(ls, sizeof(ls), "%lld", limit);
    const char *p[4] = {ss, kind, token, ls};
    char err[1024];
    json_t *extra = json_pack(
        "{s:I,s:s?,s:s?,s:I}", "since_seq", (json_int_t)since, "kind_filter",
        kind, "token_filter", token, "limit", (json_int_t)limit);
    gh_err_t e = gh_pg_exec(db, "BEGIN", err, sizeof(err));
    PGresult *res = NULL;
    /* Read first, then record the reading: an entry does not page itself
     * into its own answer. */
    if (!e &&
        !(res = gh_pg_query_what(
              db,
              "SELECT seq, entry FROM audit_log WHERE seq > $1::bigint AND "
              "($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR "
              "entry::jsonb ->> 'token' = $3) ORDER BY seq LIMIT $4::int",
              4, p, "read the audit log", err, sizeof(err))))
        e = GH_ERR_PG;
    if (!e)
        e = gh__api_audit(db, "read", "audit", url, who, "entries", NULL, extra,
                          err, sizeof(err));
    if (!e) e = gh_pg_exec(db, "COMMIT", err, sizeof(err));
    json_decref(extra);
    if (e) {
        PQclear(res);
        rollback(db);
        db_failed(r, err);
        return;
    }
    json_t *list = json_array();
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        json_t *en = json_loads(PQgetvalue(res, i, 1), 0, NULL);
        /* An entry that is not JSON (altered) is shown as its text, for
         * the officer to see rather than to be hidden. */
        json_array_append_new(list,
                              en ? en : json_string(PQgetvalue(res, i, 1)));
    }
    r->status = MHD_HTTP_OK;
    r->body = json_pack(
        "{s:o,s:o}", "entries", list, "next_since_seq",
        n == limit ? json_integer(strtoll(PQgetvalue(res, n - 1, 0), NULL, 10))
                   : json_null());
    PQclear(res);
}

/* GET /v1/audit/verify */
static void verify(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                   const char *url, gh__api_reply_t *r) {
    if (!a->naudit_keys) {
        gh__api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_configured",
                      "set api.audit.public.key (the public keys the "
                      "signed heads verify with) to verify over the API");
        return;
    }
    char err[1024];
    /* The reading is recorded before it is made (in a transaction of its
     * own: the verification reads in a snapshot of its own). */
    gh_err_t e = gh_pg_exec(db, "BEGIN", err, sizeof(err));
    if (!e)
        e = gh__api_audit(db, "read", "audit", url, who, "verify", NULL, NULL,
                          err, sizeof(err));
    if (!e) e = gh_pg_exec(db, "COMMIT", err, sizeof(err));
    if (e) {
        rollback(db);
        db_failed(r, err);
        return;
    }
    uint64_t n = 0;
    uint8_t root[GH_MERKLE_HASH_LEN];
    gh_audit_verify_opts_t o = {a->audit_keys, a->naudit_keys, NULL, &n, root};
    char *summary = NULL;
    size_t slen = 0;
    FILE *m = open_memstream(&summary, &slen);
    e = gh_audit_verify(db, &o, m, err, sizeof(err));
    if (m) fclose(m);
    if (e && e != GH_ERR_DATA_LOSS) {
        free(summary);
        db_failed(r, err);
        return;
    }
    char hex[2 * GH_MERKLE_HASH_LEN + 1];
    gh_hex_encode(root, GH_MERKLE_HASH_LEN, hex);
    if (summary && slen && summary[slen - 1] == '\n') summary[slen - 1] = '\0';
    json_t *problems = json_array();
    if (e) json_array_append_new(problems, json_string(err));
    r->status = MHD_HTTP_OK;
    r->body = json_pack("{s:b,s:I,s:s,s:s?,s:o}", "ok", !e, "entries",
                        (json_int_t)n, "root", hex, "summary",
                        !e && summary ? summary : NULL, "problems", problems);
    free(summary);
}

void gh__api_audit_log(gh_api_t *a, PGconn *db, struct MHD_Connection *conn,
                       const gh_token_info_t *who, const char *url,
                       gh__api_reply_t *r) {
    if (!strcmp(url, "/v1/audit/entries"))
        entries(db, conn, who, url, r);
    else
        verify(a, db, who, url, r);
}
