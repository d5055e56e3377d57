/* One signed POST with libcurl. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gridhub/shutdown.h"
#include "webhook_int.h"

/* What of a refusal's body goes into the log and webhook_offset. */
#define REPLY_KEEP 200

typedef struct reply {
    char text[REPLY_KEEP + 1];
    size_t len;
} reply_t;

static size_t on_body(char *p, size_t sz, size_t n, void *opaque) {
    reply_t *r = opaque;
    size_t take = sz * n;
    if (take > REPLY_KEEP - r->len) take = REPLY_KEEP - r->len;
    memcpy(r->text + r->len, p, take);
    r->len += take;
    r->text[r->len] = '\0';
    return sz * n;
}

/* A stop ends the transfer at once: the batch is not recorded as
 * delivered, so the next start sends it again. */
static int on_progress(void *opaque, curl_off_t dt, curl_off_t dn,
                       curl_off_t ut, curl_off_t un) {
    (void)opaque;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return gh_shutdown_requested() ? 1 : 0;
}

gh_err_t gh__webhook_post(gh_webhook_t *w, wh_target_t *t, const char *body,
                          size_t len, const char *delivery_id, long *status,
                          int64_t *retry_after_ms, char *errstr,
                          size_t errstr_size) {
    *status = 0;
    *retry_after_ms = -1;
    if (!t->curl && !(t->curl = curl_easy_init()))
        return gh_seterr(errstr, errstr_size, GH_ERR_HTTP,
                         "webhook %s: cannot create a libcurl handle",
                         t->subscriber);
    CURL *h = t->curl;
    int64_t ts = (int64_t)time(NULL);
    char sig[GH_WEBHOOK_SIG_HEX];
    if (gh_webhook_sign(t->secret, t->secret_len, ts, body, len, sig))
        return gh_seterr(errstr, errstr_size, GH_ERR_HTTP,
                         "webhook %s: cannot compute the signature",
                         t->subscriber);
    char h_ts[64], h_sig[96], h_id[512];
    snprintf(h_ts, sizeof(h_ts), "X-Gridhub-Timestamp: %lld", (long long)ts);
    snprintf(h_sig, sizeof(h_sig), "X-Gridhub-Signature: v1=%s", sig);
    snprintf(h_id, sizeof(h_id), "X-Gridhub-Delivery: %s", delivery_id);
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, h_ts);
    hd = curl_slist_append(hd, h_sig);
    hd = curl_slist_append(hd, h_id);
    /* A batch is small; waiting for "100 Continue" only adds latency. */
    hd = curl_slist_append(hd, "Expect:");
    reply_t reply = {"", 0};
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, t->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gridhub-webhook/" GH_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
    /* Timeouts must not use signals: librdkafka's threads share the
     * process. */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* Redirects are not followed: the endpoint is configuration, and a
     * redirect would send personal data where nobody configured it. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(hd);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                         "webhook %s: POST cut short by the stop",
                         t->subscriber);
    if (rc != CURLE_OK)
        return gh_seterr(
            errstr, errstr_size, GH_ERR_HTTP,
            "webhook %s: POST failed: %s (curl error %d)", t->subscriber,
            curl_err[0] ? curl_err : curl_easy_strerror(rc), (int)rc);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (*status >= 200 && *status < 300) return GH_OK;
    curl_off_t ra = -1;
    if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        *retry_after_ms = (int64_t)ra * 1000;
    for (char *c = reply.text; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    return gh_seterr(errstr, errstr_size, GH_ERR_HTTP,
                     "webhook %s: the receiver answered %ld%s%s", t->subscriber,
                     *status, reply.len ? ": " : "", reply.text);
}
