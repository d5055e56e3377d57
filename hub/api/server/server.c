/* The hub's HTTP API over libmicrohttpd; see server.h. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "api_int.h"
#include "pull.h"
#include "route.h"
#include "audit.h"
#include "gridhub/listen.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "gridhub/norm.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "steward.h"
#include "token.h"
#include "view.h"

#define LOG "api"

/* The hub database, (re)connected when needed; NULL with errstr. */
static PGconn *db_of(gh_api_t *a, char *errstr, size_t errstr_size) {
    if (a->db && PQstatus(a->db) == CONNECTION_OK) return a->db;
    if (a->db) PQfinish(a->db);
    a->db = gh_pg_connect(a->conninfo, 0, errstr, errstr_size);
    if (a->db && (gh__api_persons_prepare(a->db, errstr, errstr_size) ||
                  gh__api_views_prepare(a->db, errstr, errstr_size))) {
        PQfinish(a->db);
        a->db = NULL;
    }
    return a->db;
}

/* The worker's database, or NULL with r set to 503 unavailable (the
 * reason logged). */
static PGconn *db_or_reply(gh_api_t *a, gh__api_reply_t *r) {
    char err[1024];
    PGconn *db = db_of(a, err, sizeof(err));
    if (!db) {
        gh_log_warn(LOG, "%s", err);
        gh__api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                      "the hub database cannot be reached; try again later");
    }
    return db;
}

/* Queues `body` (a JSON object, stolen) with `status`, Retry-After when
 * `retry_after` (seconds) is not 0, and Allow: `allow` (NULL: GET) on a
 * 405. */
static enum MHD_Result respond_allow(struct MHD_Connection *conn,
                                     unsigned status, json_t *body,
                                     unsigned retry_after, const char *allow) {
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    size_t len = strlen(text);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"gridhub\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                allow ? allow : "GET");
    if (retry_after) {
        char secs[16];
        snprintf(secs, sizeof(secs), "%u", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* 200 with `text` (JSON, kept by the caller for the daemon's life). */
static enum MHD_Result respond_text(struct MHD_Connection *conn,
                                    const char *text, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)text, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               json_t *body) {
    return respond_allow(conn, status, body, 0, NULL);
}

gh__api_reply_t *gh__api_error(gh__api_reply_t *r, unsigned status,
                               const char *code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->status = status;
    r->body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    return r;
}

int gh__api_int_param(struct MHD_Connection *conn, const char *name,
                      long long lo, long long hi, long long *v,
                      gh__api_reply_t *r) {
    const char *s =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (!s) return 1;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || x < lo || x > hi) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "invalid_parameter",
                      "%s: a number from %lld to %lld", name, lo, hi);
        return 0;
    }
    *v = x;
    return 1;
}

static enum MHD_Result send_reply(struct MHD_Connection *conn,
                                  gh__api_reply_t *r) {
    return respond_allow(conn, r->status, r->body, r->retry_after, NULL);
}

/* A 405 saying which method the endpoint takes. */
static enum MHD_Result send_reply_allow(struct MHD_Connection *conn,
                                        gh__api_reply_t *r, const char *allow) {
    return respond_allow(conn, r->status, r->body, r->retry_after, allow);
}

json_t *gh__api_audit_body(const char *method, const char *url,
                           const char *token_id) {
    return json_pack("{s:s,s:s,s:s,s:s?}", "command", "api", "path", url,
                     "method", method, "token", token_id);
}

/* The body of a GET's audit entry (new reference). */
static json_t *read_body(const char *url, const gh_token_info_t *who,
                         const char *what, const char *why, json_t *extra) {
    json_t *body = gh__api_audit_body("GET", url, who ? who->id : NULL);
    if (extra) json_object_update(body, extra);
    if (what) json_object_set_new(body, "what", json_string(what));
    if (who) {
        json_object_set_new(body, "subscriber", json_string(who->subscriber));
        json_object_set_new(body, "role",
                            json_string(gh_token_role_name(who->role)));
    }
    if (why) json_object_set_new(body, "why", json_string(why));
    return body;
}

gh_err_t gh__api_audit(PGconn *db, const char *kind, const char *entity,
                       const char *url, const gh_token_info_t *who,
                       const char *what, const char *why, json_t *extra,
                       char *errstr, size_t errstr_size) {
    json_t *body = read_body(url, who, what, why, extra);
    gh_err_t e =
        gh_audit_append_one(db, kind, entity, body, errstr, errstr_size);
    json_decref(body);
    return e;
}

gh_err_t gh__api_audit_read(gh_api_t *a, const char *kind, const char *entity,
                            const char *url, const gh_token_info_t *who,
                            const char *what, const char *why, json_t *extra,
                            char *errstr, size_t errstr_size) {
    json_t *body = read_body(url, who, what, why, extra);
    gh_err_t e =
        gh__api_auditq_put(a->auditq, kind, entity, body, errstr, errstr_size);
    json_decref(body);
    return e;
}

gh_err_t gh__api_audit_refused(PGconn *db, json_t *body, char *errstr,
                               size_t errstr_size) {
    gh_err_t e = gh_pg_exec(db, "BEGIN", errstr, errstr_size);
    if (!e)
        e = gh_audit_append_one(db, "refused", NULL, body, errstr, errstr_size);
    json_decref(body);
    char ignore[256];
    if (e) {
        gh_pg_exec(db, "ROLLBACK", ignore, sizeof(ignore));
        return e;
    }
    return gh_pg_exec(db, "COMMIT", errstr, errstr_size);
}

/* A refused request in the audit log (kind refused, docs/audit.md), in a
 * transaction of its own. */
static gh_err_t audit_refusal(PGconn *db, const char *method, const char *url,
                              const char *token_id, const char *why,
                              char *errstr, size_t errstr_size) {
    json_t *body = gh__api_audit_body(method, url, token_id);
    json_object_set_new(body, "why", json_string(why));
    return gh__api_audit_refused(db, body, errstr, errstr_size);
}

/* ---- Endpoints and the roles that may call them --------------------------
 *
 * One row per endpoint: how its path is recognised, the methods it
 * serves and the roles that may call it (docs/api.md, "Roles"). Residents'
 * records are for those who work with residents (a department's systems, a
 * grid worker, a steward comparing records); the audit log is the
 * security officer's alone, and neither reads the other's. */

#define ROLE(r) (1u << (r))
#define ALL_ROLES ((1u << GH_TOKEN__NROLES) - 1)
#define RESIDENT_ROLES                                                         \
    (ROLE(GH_TOKEN_SUBSCRIBER) | ROLE(GH_TOKEN_GRID_WORKER) |                  \
     ROLE(GH_TOKEN_STEWARD))

typedef enum {
    EP_WHOAMI,
    EP_OPENAPI,
    EP_PERSONS,
    EP_GRID, /* the record endpoints, in RECORD_ENTITY's order */
    EP_HOUSEHOLD,
    EP_BUILDING,
    EP_EVENT,
    EP_STEWARD,
    EP_AUDIT,
    EP_FEED
} ep_t;

/* The view entity each record endpoint serves. */
static const char *const RECORD_ENTITY[] = {"grid", "household", "building",
                                            "event"};

typedef struct route {
    const char *pattern; /* '*' matches one path segment, non-empty */
    int prefix;          /* 1: the pattern need only start the path */
    ep_t ep;
    const char *allow; /* the Allow header: GET or POST */
    unsigned roles;
} route_t;

static const route_t ROUTES[] = {
    {"/v1/whoami", 0, EP_WHOAMI, "GET", ALL_ROLES},
    {"/v1/openapi.json", 0, EP_OPENAPI, "GET", ALL_ROLES},
    {"/v1/persons", 0, EP_PERSONS, "GET", RESIDENT_ROLES},
    {"/v1/persons/*/split", 0, EP_STEWARD, "POST", ROLE(GH_TOKEN_STEWARD)},
    {"/v1/grids/", 1, EP_GRID, "GET", RESIDENT_ROLES},
    {"/v1/households/", 1, EP_HOUSEHOLD, "GET", RESIDENT_ROLES},
    {"/v1/buildings/", 1, EP_BUILDING, "GET", RESIDENT_ROLES},
    {"/v1/events/", 1, EP_EVENT, "GET", RESIDENT_ROLES},
    {"/v1/steward/items", 0, EP_STEWARD, "GET", ROLE(GH_TOKEN_STEWARD)},
    {"/v1/steward/items/*", 0, EP_STEWARD, "GET", ROLE(GH_TOKEN_STEWARD)},
    {"/v1/steward/items/*/*", 0, EP_STEWARD, "POST", ROLE(GH_TOKEN_STEWARD)},
    {"/v1/audit/entries", 0, EP_AUDIT, "GET", ROLE(GH_TOKEN_SECURITY_OFFICER)},
    {"/v1/audit/verify", 0, EP_AUDIT, "GET", ROLE(GH_TOKEN_SECURITY_OFFICER)},
    /* A subscriber's whole topic: not for grid workers (scoped to grids)
     * nor stewards (who look at one case at a time). */
    {"/v1/feed/*", 0, EP_FEED, "GET", ROLE(GH_TOKEN_SUBSCRIBER)},
};

static const route_t *route_of(const char *url) {
    for (size_t i = 0; i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++)
        if (gh__api_path_matches(ROUTES[i].pattern, ROUTES[i].prefix, url))
            return &ROUTES[i];
    return NULL;
}

/* A POST whose headers passed every check, while its body arrives, or a
 * pull-feed request while the feeder has it: kept in *con_cls, freed by
 * request_done. */
typedef struct pending {
    gh_token_info_t who;
    const route_t *rt;
    gh_buf_t body;
    int too_big;
    gh__api_feedreq_t *feed; /* NULL: a POST */
} pending_t;

static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    gh_api_t *a = cls;
    (void)conn;
    (void)toe;
    pending_t *p = *con_cls;
    if (!p) return;
    if (p->feed) atomic_fetch_sub(&a->feeds_open, 1);
    gh_token_info_clear(&p->who);
    gh_buf_free(&p->body);
    gh__api_feedreq_free(p->feed);
    free(p);
    *con_cls = NULL;
}

/* Whether the Content-Type is JSON (parameters such as charset=utf-8
 * allowed: JSON is UTF-8 whatever it says). */
static int is_json(const char *ct) {
    if (!ct) return 0;
    while (*ct == ' ')
        ct++;
    static const char mt[] = "application/json";
    if (strncasecmp(ct, mt, sizeof(mt) - 1)) return 0;
    ct += sizeof(mt) - 1;
    while (*ct == ' ')
        ct++;
    return !*ct || *ct == ';';
}

static enum MHD_Result serve(gh_api_t *a, PGconn *db,
                             struct MHD_Connection *conn,
                             const gh_token_info_t *who, const route_t *rt,
                             const char *method, const char *url,
                             const char *body, size_t len) {
    gh__api_reply_t r = {0, NULL, 0};
    switch (rt->ep) {
    case EP_WHOAMI: {
        json_t *grids = json_array();
        /* {A,B} from PostgreSQL: grid codes never hold commas or quotes
         * (they are checked against the hierarchy's codes). */
        char *g = gh_xstrdup(who->grids ? who->grids : "{}"), *save = NULL;
        size_t gl = strlen(g);
        if (gl >= 2) g[gl - 1] = '\0';
        for (char *t = strtok_r(g + 1, ",", &save); t;
             t = strtok_r(NULL, ",", &save))
            json_array_append_new(grids, json_string(t));
        free(g);
        return respond(conn, MHD_HTTP_OK,
                       json_pack("{s:s,s:s,s:s,s:o}", "token", who->id,
                                 "subscriber", who->subscriber, "role",
                                 gh_token_role_name(who->role), "grids",
                                 grids));
    }
    case EP_OPENAPI:
        if (!a->openapi) {
            gh__api_error(&r, MHD_HTTP_SERVICE_UNAVAILABLE, "not_configured",
                          "no OpenAPI document: api.openapi.file could not "
                          "be read at start (see the API's log)");
            break;
        }
        return respond_text(conn, a->openapi, a->openapi_len);
    case EP_PERSONS:
        gh__api_persons(a, db, conn, who, url, &r);
        break;
    case EP_GRID:
    case EP_HOUSEHOLD:
    case EP_BUILDING:
    case EP_EVENT:
        gh__api_record(a, db, who, url, RECORD_ENTITY[rt->ep - EP_GRID],
                       url + strlen(rt->pattern), &r);
        break;
    case EP_STEWARD:
        gh__api_steward(a, db, conn, who, method, url, body, len, &r);
        break;
    case EP_AUDIT:
        gh__api_audit_log(a, db, conn, who, url, &r);
        break;
    case EP_FEED: /* handed to the feeder before serve() */
        gh__api_error(&r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                      "the feed is not served here");
        break;
    }
    return send_reply(conn, &r);
}

/* The body of a POST has come in (or was cut off at the limit). */
static enum MHD_Result finish_post(gh_api_t *a, struct MHD_Connection *conn,
                                   pending_t *p, const char *url) {
    gh__api_reply_t r = {0, NULL, 0};
    PGconn *db = db_or_reply(a, &r);
    if (!db) return send_reply(conn, &r);
    if (p->too_big)
        return send_reply(conn,
                          gh__api_error(&r, MHD_HTTP_CONTENT_TOO_LARGE,
                                        "body_too_large",
                                        "a request body holds at most %d bytes",
                                        GH_API_BODY_MAX));
    return serve(a, db, conn, &p->who, p->rt, "POST", url, p->body.data,
                 p->body.len);
}

/* A pull-feed request: parsed, then handed to the feeder with its
 * connection suspended (pull.h). Takes `who`. */
static enum MHD_Result feed_begin(gh_api_t *a, struct MHD_Connection *conn,
                                  gh_token_info_t *who, const route_t *rt,
                                  const char *url, void **con_cls) {
    gh__api_reply_t r = {0, NULL, 0};
    gh__api_feedreq_t *fr =
        gh__api_feedreq_new(a, conn, who, url + strlen("/v1/feed/"), &r);
    if (!fr) {
        gh_token_info_clear(who);
        return send_reply(conn, &r);
    }
    pending_t *p = gh_xcalloc(1, sizeof(*p));
    p->who = *who;
    p->rt = rt;
    p->feed = fr;
    /* Set before the feeder can resume the connection. */
    *con_cls = p;
    gh_api_t *m = a->main ? a->main : a; /* a: this thread's copy */
    atomic_fetch_add(&m->feeds_open, 1);
    if (!gh__api_feeder_submit(a->feeder, fr, conn)) return MHD_YES;
    *con_cls = NULL;
    request_done(m, conn, (void **)&p, MHD_REQUEST_TERMINATED_COMPLETED_OK);
    return send_reply(
        conn, gh__api_error(&r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down",
                            "the API is stopping; ask again (same "
                            "cursor)"));
}

/* The feeder answered: a read of personal data is audited (committed)
 * before it is sent (an empty answer discloses nothing). If
 * the audit fails the client gets 503 and asks again with the same
 * cursor: nothing is lost. */
static enum MHD_Result feed_end(gh_api_t *a, struct MHD_Connection *conn,
                                pending_t *p, const char *url) {
    gh__api_reply_t r = {0, NULL, 0};
    int n = gh__api_feedreq_answer(p->feed, &r);
    if (r.status != MHD_HTTP_OK || !n) return send_reply(conn, &r);
    char err[1024];
    const char *entity, *topic, *from, *to;
    gh__api_feedreq_span(p->feed, &entity, &topic, &from, &to);
    json_t *extra = json_pack("{s:i,s:s?,s:s}", "messages", n, "cursor", from,
                              "next_cursor", to);
    gh_err_t e = gh__api_audit_read(a, "read", entity, url, &p->who, topic,
                                    NULL, extra, err, sizeof(err));
    json_decref(extra);
    if (!e) return send_reply(conn, &r);
    json_decref(r.body);
    gh_log_warn(LOG, "audit: %s", err);
    return send_reply(
        conn, gh__api_error(&r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                            "the read could not be audited; ask again (same "
                            "cursor)"));
}

static gh_err_t own_state(gh_api_t *a, char *errstr, size_t errstr_size);
static void free_own(gh_api_t *a);

/* The calling thread's worker for the main struct `m` (made on the
 * thread's first request); NULL with errstr when its state cannot be
 * made. */
static __thread gh_api_t *tl_worker;
static gh_api_t *worker_of(gh_api_t *m, char *errstr, size_t errstr_size) {
    if (tl_worker && tl_worker->main == m) return tl_worker;
    gh_api_t *w = gh_xmalloc(sizeof(*w));
    /* The shared pointers (lock_store is not used in a copy), under the
     * lock gh_api_start sets d and url under once the threads run. */
    pthread_mutex_lock(m->lock);
    *w = *m;
    pthread_mutex_unlock(m->lock);
    w->main = m;
    w->workers = NULL;
    w->nworkers = 0;
    w->db = NULL;
    w->crypt = NULL;
    w->view = NULL;
    w->ents = NULL;
    w->nents = 0;
    w->plans_made = 0;
    w->steward = NULL;
    if (own_state(w, errstr, errstr_size)) {
        free_own(w);
        free(w);
        return NULL;
    }
    pthread_mutex_lock(m->lock);
    m->workers = gh_xrealloc(m->workers,
                             (size_t)(m->nworkers + 1) * sizeof(*m->workers));
    m->workers[m->nworkers++] = w;
    pthread_mutex_unlock(m->lock);
    tl_worker = w;
    return w;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    (void)version;
    gh__api_reply_t r = {0, NULL, 0};
    char werr[512];
    gh_api_t *a = worker_of(cls, werr, sizeof(werr));
    if (!a) {
        gh_log_warn(LOG, "%s", werr);
        return send_reply(
            conn, gh__api_error(&r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                "the API cannot serve now; try again later"));
    }
    pending_t *pend = *con_cls;
    if (pend && pend->feed) {
        /* Called again once the feeder resumed the connection; before,
         * only if a request's headers were answered at once. */
        if (!gh__api_feedreq_done(pend->feed)) return MHD_YES;
        return feed_end(a, conn, pend, url);
    }
    if (pend) {
        /* A body in the making: what is past the limit is dropped as it
         * arrives (the answer is 413 whatever follows). */
        if (*upload_size) {
            if (pend->body.len + *upload_size > GH_API_BODY_MAX)
                pend->too_big = 1;
            else
                gh_buf_append(&pend->body, upload, *upload_size);
            *upload_size = 0;
            return MHD_YES;
        }
        return finish_post(a, conn, pend, url);
    }
    PGconn *db = db_or_reply(a, &r);
    if (!db) return send_reply(conn, &r);
    char err[1024];
    if (gh__api_client_limited(a, conn, db, method, url, &r))
        return send_reply(conn, &r);
    const char *auth = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncmp(auth, "Bearer ", 7)) {
        gh__api_auth_failed(a, conn);
        if (audit_refusal(db, method, url, NULL, "no bearer token", err,
                          sizeof(err)))
            gh_log_warn(LOG, "audit: %s", err);
        return send_reply(
            conn,
            gh__api_error(&r, MHD_HTTP_UNAUTHORIZED, "unauthenticated",
                          "send an API token: Authorization: Bearer gh_..."));
    }
    gh_token_info_t who;
    gh_err_t e = gh_token_verify(db, auth + 7, &who, err, sizeof(err));
    if (e == GH_ERR_NOT_FOUND) {
        gh__api_auth_failed(a, conn);
        /* The caller is told one thing; the log why (never the secret). */
        char id[GH_TOKEN_ID_LEN + 1] = "";
        unsigned char h[32];
        char ignore[256];
        int known = !gh_token_parse(auth + 7, id, h, ignore, sizeof(ignore));
        char aerr[512];
        if (audit_refusal(db, method, url, known ? id : NULL, err, aerr,
                          sizeof(aerr)))
            gh_log_warn(LOG, "audit: %s", aerr);
        return send_reply(
            conn, gh__api_error(
                      &r, MHD_HTTP_UNAUTHORIZED, "token_refused",
                      "the token is not valid (unknown, revoked or expired)"));
    }
    if (e) {
        gh_log_warn(LOG, "%s", err);
        return send_reply(
            conn, gh__api_error(&r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                "the hub database failed; try again later"));
    }
    if (gh__api_token_limited(a, db, &who, method, url, &r)) {
        gh_token_info_clear(&who);
        return send_reply(conn, &r);
    }
    enum MHD_Result ret;
    const route_t *rt = route_of(url);
    if (!rt) {
        ret = send_reply(
            conn, gh__api_error(&r, MHD_HTTP_NOT_FOUND, "not_found",
                                "no such endpoint: %s (see docs/api.md)", url));
    } else if (strcmp(method, rt->allow)) {
        ret = send_reply_allow(conn,
                               gh__api_error(&r, MHD_HTTP_METHOD_NOT_ALLOWED,
                                             "method_not_allowed",
                                             "%s is not served at %s; only %s",
                                             method, url, rt->allow),
                               rt->allow);
    } else if (!(rt->roles & ROLE(who.role))) {
        char why[128];
        snprintf(why, sizeof(why), "role %s may not call this endpoint",
                 gh_token_role_name(who.role));
        if (audit_refusal(db, method, url, who.id, why, err, sizeof(err)))
            gh_log_warn(LOG, "audit: %s", err);
        ret = send_reply(
            conn, gh__api_error(&r, MHD_HTTP_FORBIDDEN, "forbidden_role",
                                "a %s token may not call %s %s "
                                "(see docs/api.md, \"Roles\")",
                                gh_token_role_name(who.role), method, url));
    } else if (rt->ep == EP_FEED) {
        return feed_begin(a, conn, &who, rt, url, con_cls);
    } else if (strcmp(method, MHD_HTTP_METHOD_POST)) {
        ret = serve(a, db, conn, &who, rt, method, url, NULL, 0);
    } else {
        /* Checked at the headers, so that nobody can make the API buffer
         * a body it would refuse anyway. */
        const char *ct = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        const char *cl = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (!is_json(ct)) {
            ret = send_reply(conn,
                             gh__api_error(&r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                           "unsupported_media_type",
                                           "send the body as Content-Type: "
                                           "application/json"));
        } else if (cl && strtoull(cl, NULL, 10) > GH_API_BODY_MAX) {
            ret = send_reply(
                conn,
                gh__api_error(&r, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large",
                              "a request body holds at most %d bytes",
                              GH_API_BODY_MAX));
        } else {
            pending_t *p = gh_xcalloc(1, sizeof(*p));
            p->who = who;
            p->rt = rt;
            *con_cls = p;
            return MHD_YES; /* who is the pending request's now */
        }
    }
    gh_token_info_clear(&who);
    return ret;
}

/* What the lookups filter with: the policy, its keys, the view schemas
 * and the sealing key, loaded once (restart to take a new policy). */
static gh_err_t load_policy(gh_api_t *a, const gh_conf_t *conf, char *errstr,
                            size_t errstr_size) {
    gh_err_t e = gh_schemas_load_dir(&a->schemas, gh_schemas_dir(conf), errstr,
                                     errstr_size);
    if (!e)
        e = gh_policy_load_file(gh_conf_get(conf, "policy.file"), a->schemas,
                                &a->policy, errstr, errstr_size);
    if (!e)
        e = gh_policy_keys_load(gh_conf_get(conf, "policy.keys.file"), &a->keys,
                                errstr, errstr_size);
    if (!e) e = gh_policy_keys_check(a->keys, a->policy, errstr, errstr_size);
    const char *ck = gh_conf_get(conf, "crypt.key.file");
    if (ck) a->crypt_file = gh_xstrdup(ck);
    if (e) return e;
    a->person = gh_policy_entity_find(a->policy, "person");
    if (a->person < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "the policy has no person entity");
    /* The main struct's own, made only to fail at start rather than at
     * the first request. */
    e = own_state(a, errstr, errstr_size);
    return e ? e : gh_norm_init(errstr, errstr_size);
}

/* What a worker owns (see struct gh_api): its sealing key, the person
 * view, and per entity a value to fill, a record and the plans. */
static gh_err_t own_state(gh_api_t *a, char *errstr, size_t errstr_size) {
    if (a->crypt_file &&
        !(a->crypt = gh_crypt_new(a->crypt_file, errstr, errstr_size)))
        return GH_ERR_CONFIG;
    a->view = gh_view_new(NULL, gh_policy_entity_schema(a->policy, a->person),
                          "", errstr, errstr_size);
    if (!a->view) return GH_ERR_SCHEMA;
    a->nents = gh_policy_nentities(a->policy);
    a->ents = gh_xcalloc((size_t)a->nents, sizeof(*a->ents));
    for (int i = 0; i < a->nents; i++) {
        gh__api_entity_t *en = &a->ents[i];
        en->schema = gh_policy_entity_schema(a->policy, i);
        en->rec = gh_policy_rec_new(a->policy, i);
        en->plans = gh_xcalloc((size_t)gh_policy_nsubscribers(a->policy) + 1,
                               sizeof(*en->plans));
        /* The person view is filled by a->view; the others from JSON. */
        if (i != a->person &&
            gh_schema_new_value(en->schema, &en->val, errstr, errstr_size))
            return GH_ERR_SCHEMA;
        en->has_val = i != a->person;
    }
    return GH_OK;
}

/* Frees what own_state made, the connection and the steward. */
static void free_own(gh_api_t *a) {
    if (a->db) PQfinish(a->db);
    for (int i = 0; i < a->nents; i++) {
        gh__api_entity_t *en = &a->ents[i];
        for (int s = 0; en->plans && s < gh_policy_nsubscribers(a->policy); s++)
            gh_policy_plan_destroy(en->plans[s]);
        free(en->plans);
        gh_policy_rec_destroy(en->rec);
        if (en->has_val) avro_value_decref(&en->val);
    }
    free(a->ents);
    gh_view_destroy(a->view);
    gh_crypt_destroy(a->crypt);
    gh_steward_destroy(a->steward);
}

static void free_state(gh_api_t *a) {
    for (int i = 0; i < a->nworkers; i++) {
        free_own(a->workers[i]);
        free(a->workers[i]);
    }
    free(a->workers);
    free_own(a);
    pthread_mutex_destroy(&a->lock_store);
    pthread_mutex_destroy(&a->cache_lock);
    json_decref(a->grid_cache);
    free(a->crypt_file);
    gh_policy_keys_destroy(a->keys);
    gh_policy_destroy(a->policy);
    gh_schemas_destroy(a->schemas);
    gh__api_tls_clear(&a->tls);
    gh__api_feeder_destroy(a->feeder);
    gh__api_auditq_destroy(a->auditq);
    gh__api_limits_free(a);
    gh__api_audit_keys_free(a);
    free(a->openapi);
    free(a->conninfo);
    free(a->url);
    free(a);
}

/* Reads api.openapi.file (default: docs/openapi.json beside the schemas
 * of the source tree) into a->openapi. A file named in the properties must
 * be readable JSON; the default may be missing (an installed binary
 * without the source tree): a warning, and the endpoint answers 503. */
static gh_err_t load_openapi(gh_api_t *a, const gh_conf_t *conf, char *errstr,
                             size_t errstr_size) {
    const char *set = gh_conf_get(conf, "api.openapi.file");
    const char *path = set ? set : GH_SCHEMAS_DIR "/../docs/openapi.json";
    size_t len = 0;
    char *text = gh_read_file(path, &len);
    json_error_t je;
    json_t *doc = text ? json_loadb(text, len, 0, &je) : NULL;
    const char *why = !text ? strerror(errno)
                      : !doc || !json_is_string(json_object_get(doc, "openapi"))
                          ? "not an OpenAPI document in JSON"
                          : NULL;
    json_decref(doc);
    if (why) {
        free(text);
        if (set)
            return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                             "api.openapi.file=%s: %s", path, why);
        gh_log_warn(LOG,
                    "%s: %s: GET /v1/openapi.json answers 503 (set "
                    "api.openapi.file)",
                    path, why);
        return GH_OK;
    }
    a->openapi = text;
    a->openapi_len = len;
    return GH_OK;
}

/* Whether only this machine can reach the address (127.0.0.0/8, ::1). */
static int is_loopback(const gh_listen_addr_t *la) {
    if (la->ipv6)
        return IN6_IS_ADDR_LOOPBACK(
            &((const struct sockaddr_in6 *)&la->ss)->sin6_addr);
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&la->ss;
    return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
}

gh_api_t *gh_api_start(const gh_conf_t *conf, char *errstr,
                       size_t errstr_size) {
    const char *listen = gh_conf_get(conf, "api.listen");
    gh_listen_addr_t la;
    char why[256];
    if (gh_listen_parse(listen, &la, why, sizeof(why))) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG, "api.listen: %s", why);
        return NULL;
    }
    gh_api_t *a = gh_xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->lock_store, NULL);
    a->lock = &a->lock_store;
    pthread_mutex_init(&a->cache_lock, NULL);
    a->grid_cache = json_object();
    a->grid_cache_us = gh_conf_get_int(conf, "api.cache.grid.ms") * 1000;
    a->conf = conf;
    a->conninfo = gh_xstrdup(gh_conf_get(conf, "database.conninfo"));
    if (load_policy(a, conf, errstr, errstr_size) ||
        gh__api_audit_keys_load(a, conf, errstr, errstr_size) ||
        load_openapi(a, conf, errstr, errstr_size) ||
        gh__api_tls_load(conf, &a->tls, errstr, errstr_size) ||
        !(a->auditq = gh__api_auditq_new(a->conninfo, errstr, errstr_size)) ||
        !(a->feeder =
              gh__api_feeder_new(conf, a->conninfo, errstr, errstr_size))) {
        free_state(a);
        return NULL;
    }
    gh__api_limits_init(a, conf);
    if (!a->tls.cert && !is_loopback(&la))
        gh_log_warn(LOG,
                    "api.listen=%s is not a loopback address and TLS is not "
                    "configured: API tokens and personal data travel in "
                    "clear (set api.tls.cert.file and api.tls.key.file, or "
                    "put a TLS proxy in front)",
                    listen);
    struct MHD_OptionItem tls[5];
    int nt = 0;
    if (a->tls.cert) {
        tls[nt++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, a->tls.cert};
        tls[nt++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls.key};
        tls[nt++] = (struct MHD_OptionItem){
            MHD_OPTION_HTTPS_PRIORITIES, 0,
            (void *)gh_conf_get(conf, "api.tls.priorities")};
        if (a->tls.password)
            tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_KEY_PASSWORD,
                                                0, a->tls.password};
    }
    tls[nt] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* The HTTP thread must not take the signals meant for the main
     * thread's shutdown handling. */
    sigset_t old;
    gh_shutdown_mask_signals(&old);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME | (la.ipv6 ? MHD_USE_IPv6 : 0) |
            (a->tls.cert ? MHD_USE_TLS : 0),
        (uint16_t)la.port, NULL, NULL, handle, a, MHD_OPTION_EXTERNAL_LOGGER,
        gh_listen_mhd_log, (void *)LOG, MHD_OPTION_NOTIFY_COMPLETED,
        request_done, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&la.ss,
        MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)gh_conf_get_int(conf, "api.threads"),
        MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_ARRAY,
        tls, MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_lock(a->lock);
    a->d = d;
    pthread_mutex_unlock(a->lock);
    if (!a->d) {
        gh_seterr(errstr, errstr_size, GH_ERR_IO,
                  "api.listen=%s: cannot listen (%s): is the port taken?%s",
                  listen, strerror(saved),
                  a->tls.cert ? " Or see libmicrohttpd's TLS warnings above "
                                "(api.tls.priorities?)"
                              : "");
        free_state(a);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    char *url =
        gh_xasprintf("%s://%s:%d", a->tls.cert ? "https" : "http", la.host,
                     info && info->port ? info->port : la.port);
    pthread_mutex_lock(a->lock);
    a->url = url;
    pthread_mutex_unlock(a->lock);
    return a;
}

const char *gh_api_url(const gh_api_t *a) {
    return a ? a->url : NULL;
}

void gh_api_stop(gh_api_t *a) {
    if (!a) return;
    /* No connection may be suspended when the daemon stops: the feeder
     * answers those it holds (503, ask again) and resumes them. Their
     * answers are then let out (up to 2 s) before the daemon stops, so
     * that it does not tear down connections its threads are still
     * resuming (a SIGSEGV once on SIGTERM during a long poll, in a full
     * parallel test run; not reproduced since). */
    gh__api_feeder_stop(a->feeder);
    for (int i = 0; i < 200 && atomic_load(&a->feeds_open) > 0; i++)
        usleep(10 * 1000);
    MHD_stop_daemon(a->d);
    free_state(a);
}
