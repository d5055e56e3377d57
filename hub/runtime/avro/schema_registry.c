/*
 * Confluent Schema Registry client; see schema_registry.h.
 *
 * One curl easy handle per request: requests happen once per subject and
 * schema and once per unknown id, so reusing connections buys nothing and
 * a fresh handle keeps the client free of shared curl state. The lock is
 * never held across a request; two threads missing the cache at once both
 * ask, and the registry answers both with the same id.
 */
#include "schema_registry.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/shutdown.h"
#include "gridhub/util.h"

#define REG_CONNECT_TIMEOUT_MS 5000L
#define REG_TOTAL_TIMEOUT_MS 10000L
/* Bodies longer than this are not schemas we could use. */
#define REG_MAX_BODY (16u * 1024 * 1024)
#define REG_CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

typedef struct subject_id {
    char *subject;
    uint64_t fp;
    int32_t id;
} subject_id_t;

typedef struct id_schema {
    int32_t id;
    char *json;
} id_schema_t;

/* How long an id the registry said it does not know is answered from
 * memory: each unknown id would otherwise cost a request per message. */
#define REG_UNKNOWN_TTL_MS 60000

typedef struct unknown_id {
    int32_t id;
    int64_t until_ms;
} unknown_id_t;

struct gh_registry {
    char *url;     /* without user:password, safe to print */
    char *userpwd; /* "user:password" from the configured URL, or NULL */
    unknown_id_t *unknown;
    size_t nunknown;
    pthread_mutex_t lock;
    subject_id_t *ids;
    size_t nids;
    id_schema_t *schemas;
    size_t nschemas;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

gh_registry_t *gh_registry_new(const char *url) {
    /* curl_global_init is not thread-safe; do it once, before any handle. */
    pthread_once(&curl_once, curl_init);
    gh_registry_t *reg = gh_xcalloc(1, sizeof(*reg));
    /* Credentials in the URL (https://user:pass@host) go to curl apart, so
     * that no error message, log line or dead-letter header carries them. */
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    if (at && (!slash || at < slash)) {
        reg->userpwd = gh_xstrndup(host, (size_t)(at - host));
        reg->url = gh_xasprintf("%.*s%s", (int)(host - url), url, at + 1);
    } else {
        reg->url = gh_xstrdup(url);
    }
    size_t n = strlen(reg->url);
    while (n > 0 && reg->url[n - 1] == '/')
        reg->url[--n] = '\0';
    pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

void gh_registry_destroy(gh_registry_t *reg) {
    if (!reg) return;
    for (size_t i = 0; i < reg->nids; i++)
        free(reg->ids[i].subject);
    for (size_t i = 0; i < reg->nschemas; i++)
        free(reg->schemas[i].json);
    free(reg->ids);
    free(reg->schemas);
    pthread_mutex_destroy(&reg->lock);
    free(reg->url);
    free(reg->userpwd);
    free(reg->unknown);
    free(reg);
}

const char *gh_registry_url(const gh_registry_t *reg) {
    return reg->url;
}

/* ---- HTTP ---------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
    gh_buf_t *b = arg;
    size_t n = size * nmemb;
    if (b->len + n > REG_MAX_BODY) return 0; /* makes curl fail the transfer */
    gh_buf_append(b, data, n);
    return n;
}

/* Performs one request; *status gets the HTTP status and body the response.
 * Transport failures (no connection, timeout) are GH_ERR_HTTP here; HTTP
 * statuses are for the caller to judge. */
/* A request still running when the shutdown budget is used up is given
 * up (curl reports CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un) {
    (void)p;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return gh_shutdown_expired();
}

static gh_err_t http(const gh_registry_t *reg, const char *method,
                     const char *url, const char *body, long *status,
                     gh_buf_t *resp, char *errstr, size_t errstr_size) {
    CURL *h = curl_easy_init();
    if (!h)
        return gh_seterr(errstr, errstr_size, GH_ERR_HTTP,
                         "schema registry %s %s: cannot create a curl handle",
                         method, url);
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    hdrs = curl_slist_append(hdrs,
                             "Accept: " REG_CONTENT_TYPE ", application/json");
    if (body) hdrs = curl_slist_append(hdrs, "Content-Type: " REG_CONTENT_TYPE);
    /* Schemas are a few kB; waiting for "100 Continue" only adds latency. */
    if (body) hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (reg->userpwd) {
        curl_easy_setopt(h, CURLOPT_USERPWD, reg->userpwd);
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, REG_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REG_TOTAL_TIMEOUT_MS);
    /* Timeouts must not use signals: the hub is multi-threaded. */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return gh_seterr(errstr, errstr_size, GH_ERR_HTTP,
                         "schema registry %s %s failed: %s (curl error %d); "
                         "check schema.registry.url and that the registry "
                         "is up",
                         method, url,
                         curl_err[0] ? curl_err : curl_easy_strerror(rc),
                         (int)rc);
    return GH_OK;
}

/* An error for a non-2xx answer: status and the start of the body, which
 * is where the registry says what it disliked. */
static gh_err_t http_status_err(gh_err_t code, const char *method,
                                const char *url, long status,
                                const gh_buf_t *resp, char *errstr,
                                size_t errstr_size) {
    return gh_seterr(errstr, errstr_size, code,
                     "schema registry %s %s: HTTP %ld: %.300s", method, url,
                     status, resp->data ? resp->data : "(empty body)");
}

/* ---- Register ------------------------------------------------------------ */

static const char *cached_schema_locked(gh_registry_t *reg, int32_t id) {
    for (size_t i = 0; i < reg->nschemas; i++)
        if (reg->schemas[i].id == id) return reg->schemas[i].json;
    return NULL;
}

gh_err_t gh_registry_register(gh_registry_t *reg, const char *subject,
                              const char *schema_json, uint64_t fp,
                              int32_t *id_out, char *errstr,
                              size_t errstr_size) {
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->nids; i++)
        if (reg->ids[i].fp == fp && strcmp(reg->ids[i].subject, subject) == 0) {
            *id_out = reg->ids[i].id;
            pthread_mutex_unlock(&reg->lock);
            return GH_OK;
        }
    pthread_mutex_unlock(&reg->lock);

    char *esc = curl_easy_escape(NULL, subject, 0);
    if (!esc)
        return gh_seterr(errstr, errstr_size, GH_ERR_HTTP,
                         "cannot URL-encode subject %s", subject);
    char *url = gh_xasprintf("%s/subjects/%s/versions", reg->url, esc);
    curl_free(esc);
    json_t *req = json_pack("{s:s}", "schema", schema_json);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        free(url);
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "schema text for subject %s is not valid UTF-8",
                         subject);
    }
    gh_buf_t resp = {0};
    long status = 0;
    gh_err_t err =
        http(reg, "POST", url, body, &status, &resp, errstr, errstr_size);
    free(body);
    json_int_t id = -1;
    if (!err && (status < 200 || status > 299))
        err = http_status_err(GH_ERR_HTTP, "POST", url, status, &resp, errstr,
                              errstr_size);
    if (!err) {
        json_t *r = json_loads(resp.data ? resp.data : "", 0, NULL);
        json_t *jid = json_object_get(r, "id");
        if (json_is_integer(jid)) id = json_integer_value(jid);
        json_decref(r);
        if (id < 0 || id > INT32_MAX)
            err = gh_seterr(errstr, errstr_size, GH_ERR_PROTOCOL,
                            "schema registry POST %s: HTTP %ld but no usable "
                            "\"id\" in the answer: %.300s",
                            url, status, resp.data ? resp.data : "");
    }
    gh_buf_free(&resp);
    free(url);
    if (err) return err;

    pthread_mutex_lock(&reg->lock);
    reg->ids = gh_xrealloc(reg->ids, (reg->nids + 1) * sizeof(*reg->ids));
    reg->ids[reg->nids++] =
        (subject_id_t){gh_xstrdup(subject), fp, (int32_t)id};
    /* The registry just vouched that this text is schema `id`, so decoding
     * our own messages needs no GET. */
    if (!cached_schema_locked(reg, (int32_t)id)) {
        reg->schemas = gh_xrealloc(reg->schemas,
                                   (reg->nschemas + 1) * sizeof(*reg->schemas));
        reg->schemas[reg->nschemas++] =
            (id_schema_t){(int32_t)id, gh_xstrdup(schema_json)};
    }
    pthread_mutex_unlock(&reg->lock);
    *id_out = (int32_t)id;
    return GH_OK;
}

/* ---- Fetch by id --------------------------------------------------------- */

gh_err_t gh_registry_schema_by_id(gh_registry_t *reg, int32_t id,
                                  const char **json_out, char *errstr,
                                  size_t errstr_size) {
    *json_out = NULL;
    pthread_mutex_lock(&reg->lock);
    const char *hit = cached_schema_locked(reg, id);
    pthread_mutex_unlock(&reg->lock);
    if (hit) {
        *json_out = hit;
        return GH_OK;
    }

    char *url = gh_xasprintf("%s/schemas/ids/%" PRId32, reg->url, id);
    pthread_mutex_lock(&reg->lock);
    int64_t now = gh_now_ms();
    for (size_t i = 0; i < reg->nunknown; i++)
        if (reg->unknown[i].id == id && reg->unknown[i].until_ms > now) {
            pthread_mutex_unlock(&reg->lock);
            gh_seterr(errstr, errstr_size, GH_ERR_UNKNOWN_SCHEMA,
                      "schema registry GET %s: HTTP 404 (asked less than %d "
                      "s ago)",
                      url, REG_UNKNOWN_TTL_MS / 1000);
            free(url);
            return GH_ERR_UNKNOWN_SCHEMA;
        }
    pthread_mutex_unlock(&reg->lock);
    gh_buf_t resp = {0};
    long status = 0;
    gh_err_t err =
        http(reg, "GET", url, NULL, &status, &resp, errstr, errstr_size);
    char *schema = NULL;
    if (!err && status == 404) {
        err = http_status_err(GH_ERR_UNKNOWN_SCHEMA, "GET", url, status, &resp,
                              errstr, errstr_size);
        pthread_mutex_lock(&reg->lock);
        size_t k = 0;
        while (k < reg->nunknown && reg->unknown[k].id != id &&
               reg->unknown[k].until_ms > now)
            k++;
        if (k == reg->nunknown)
            reg->unknown = gh_xrealloc(reg->unknown,
                                       ++reg->nunknown * sizeof(*reg->unknown));
        reg->unknown[k] = (unknown_id_t){id, now + REG_UNKNOWN_TTL_MS};
        pthread_mutex_unlock(&reg->lock);
    } else if (!err && (status < 200 || status > 299))
        err = http_status_err(GH_ERR_HTTP, "GET", url, status, &resp, errstr,
                              errstr_size);
    if (!err) {
        json_t *r = json_loads(resp.data ? resp.data : "", 0, NULL);
        json_t *js = json_object_get(r, "schema");
        if (json_is_string(js)) schema = gh_xstrdup(json_string_value(js));
        json_decref(r);
        if (!schema)
            err = gh_seterr(errstr, errstr_size, GH_ERR_PROTOCOL,
                            "schema registry GET %s: HTTP %ld but no "
                            "\"schema\" string in the answer: %.300s",
                            url, status, resp.data ? resp.data : "");
    }
    gh_buf_free(&resp);
    free(url);
    if (err) return err;

    pthread_mutex_lock(&reg->lock);
    hit = cached_schema_locked(reg, id);
    if (hit) {
        free(schema);
    } else {
        reg->schemas = gh_xrealloc(reg->schemas,
                                   (reg->nschemas + 1) * sizeof(*reg->schemas));
        reg->schemas[reg->nschemas++] = (id_schema_t){id, schema};
        hit = schema;
    }
    pthread_mutex_unlock(&reg->lock);
    *json_out = hit;
    return GH_OK;
}
