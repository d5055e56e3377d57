/* The API's rate limits (api.rate.limit.*; docs/api.md): gh_ratelimit_
 * buckets per token and, for failed authentications, per client address;
 * refusals in the audit log one per key and second. See api_int.h. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "api_int.h"
#include "gridhub/log.h"
#include "gridhub/util.h"

#define LOG "api"

/* A refused key's entries: one a second, the others counted. */
#define REPORT_MS 1000

void gh__api_limits_init(gh_api_t *a, const gh_conf_t *conf) {
    size_t keys = (size_t)gh_conf_get_int(conf, "api.rate.limit.keys");
    a->rate = gh_conf_get_int(conf, "api.rate.limit.per.second");
    a->burst = gh_conf_get_int(conf, "api.rate.limit.burst");
    a->fail_rate =
        gh_conf_get_int(conf, "api.rate.limit.auth.failures.per.minute");
    a->fail_burst = gh_conf_get_int(conf, "api.rate.limit.auth.failures.burst");
    if (a->rate)
        a->per_token = gh_ratelimit_new("api.rate.limit.per.second", a->rate,
                                        1000, a->burst, keys, REPORT_MS);
    if (a->fail_rate)
        a->per_client = gh_ratelimit_new(
            "api.rate.limit.auth.failures.per.minute", a->fail_rate, 60000,
            a->fail_burst, keys, REPORT_MS);
}

void gh__api_limits_free(gh_api_t *a) {
    gh_ratelimit_destroy(a->per_token);
    gh_ratelimit_destroy(a->per_client);
}

/* The client's address as a key: an IPv6 client by its /64, which one
 * machine usually holds whole, so that rotating addresses inside it does
 * not buy new buckets. */
static void client_key(struct MHD_Connection *conn, char *key, size_t n) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(key, n, "?");
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, key,
                  (socklen_t)n);
    } else if (sa && sa->sa_family == AF_INET6) {
        struct in6_addr a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            inet_ntop(AF_INET, &a6.s6_addr[12], key, (socklen_t)n);
            return;
        }
        memset(&a6.s6_addr[8], 0, 8);
        char text[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a6, text, sizeof(text));
        snprintf(key, n, "%s/64", text);
    }
}

/* Writes a rate-limit refusal (v->report) or, when a key passes again
 * after refusals not written one by one, their count. */
static void audit_limit(PGconn *db, const char *method, const char *url,
                        const gh_token_info_t *who, const char *client,
                        const char *why, const gh_ratelimit_verdict_t *v) {
    json_t *body = gh__api_audit_body(method, url, who ? who->id : NULL);
    if (!v->allowed)
        json_object_set_new(body, "why", json_string(why));
    else
        json_object_set_new(
            body, "why",
            json_string("rate limit: the refusals since the last entry, not "
                        "written one by one"));
    if (who) {
        json_object_set_new(body, "subscriber", json_string(who->subscriber));
        json_object_set_new(body, "role",
                            json_string(gh_token_role_name(who->role)));
    }
    if (client) json_object_set_new(body, "client", json_string(client));
    json_object_set_new(body, "unreported",
                        json_integer((json_int_t)v->unreported));
    char err[512];
    if (gh__api_audit_refused(db, body, err, sizeof(err)))
        gh_log_warn(LOG, "audit: %s", err);
}

static void too_many(gh__api_reply_t *r, const gh_ratelimit_verdict_t *v,
                     const char *what) {
    gh__api_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                  "%s; retry after %" PRId64 " ms", what, v->retry_ms);
    r->retry_after = (unsigned)((v->retry_ms + 999) / 1000);
}

int gh__api_client_limited(gh_api_t *a, struct MHD_Connection *conn, PGconn *db,
                           const char *method, const char *url,
                           gh__api_reply_t *r) {
    if (!a->per_client) return 0;
    char key[GH_RATELIMIT_KEY_MAX + 1];
    client_key(conn, key, sizeof(key));
    gh_ratelimit_verdict_t v;
    pthread_mutex_lock(a->lock); /* the buckets are shared */
    gh_ratelimit_peek(a->per_client, key, gh_now_ms(), &v);
    pthread_mutex_unlock(a->lock);
    char why[160];
    snprintf(why, sizeof(why),
             "rate limit: more than %" PRId64 " failed authentications a "
             "minute (%" PRId64 " at once) from %s",
             a->fail_rate, a->fail_burst, key);
    if (v.report) {
        gh_log_warn(LOG, "%s: refused for %" PRId64 " ms", why, v.retry_ms);
        audit_limit(db, method, url, NULL, key, why, &v);
    } else if (v.allowed && v.unreported) {
        audit_limit(db, method, url, NULL, key, why, &v);
    }
    if (v.allowed) return 0;
    too_many(r, &v, "too many failed authentications from this address");
    return 1;
}

void gh__api_auth_failed(gh_api_t *a, struct MHD_Connection *conn) {
    if (!a->per_client) return;
    char key[GH_RATELIMIT_KEY_MAX + 1];
    client_key(conn, key, sizeof(key));
    pthread_mutex_lock(a->lock); /* the buckets are shared */
    gh_ratelimit_charge(a->per_client, key, gh_now_ms());
    pthread_mutex_unlock(a->lock);
}

int gh__api_token_limited(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                          const char *method, const char *url,
                          gh__api_reply_t *r) {
    if (!a->per_token) return 0;
    gh_ratelimit_verdict_t v;
    pthread_mutex_lock(a->lock); /* the buckets are shared */
    gh_ratelimit_take(a->per_token, who->id, gh_now_ms(), &v);
    pthread_mutex_unlock(a->lock);
    char why[160];
    snprintf(why, sizeof(why),
             "rate limit: more than %" PRId64 " requests a second (%" PRId64
             " at once) with token %s",
             a->rate, a->burst, who->id);
    if (v.report) {
        gh_log_warn(LOG, "%s: refused for %" PRId64 " ms", why, v.retry_ms);
        audit_limit(db, method, url, who, NULL, why, &v);
    } else if (v.allowed && v.unreported) {
        audit_limit(db, method, url, who, NULL, why, &v);
    }
    if (v.allowed) return 0;
    too_many(r, &v, "too many requests with this token");
    return 1;
}
