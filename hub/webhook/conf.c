/* The webhook.* properties and the receivers they configure. */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gridhub/hmac.h"
#include "gridhub/log.h"
#include "webhook_int.h"

/* Shorter secrets are guessable offline from one signed body. */
#define SECRET_MIN 16
#define SECRET_MAX 4096

static int valid_sub_key(const char *key, const char *value, char *err,
                         size_t errsz);

/* The exact names come before the `webhook.` prefix entry: the table is
 * searched in order and the prefix would otherwise take them. */
const gh_conf_prop_t gh_webhook_own_props[] = {
    {"webhook.retry.backoff.ms", GH_CONF_INT, "1000", 0, 10, 600000, NULL, NULL,
     "First wait before a failed POST of a partition is tried again; "
     "doubles per failure, with jitter (a random half of it less)."},
    {"webhook.retry.backoff.max.ms", GH_CONF_INT, "60000", 0, 10, 3600000, NULL,
     NULL,
     "Longest wait between two attempts of the same batch. Attempts never "
     "stop: a batch is retried until the receiver takes it."},
    {"webhook.timeout.ms", GH_CONF_INT, "10000", 0, 100, 600000, NULL, NULL,
     "Longest one POST may take, connecting included; a POST that takes "
     "longer counts as failed."},
    {"webhook.batch.max", GH_CONF_INT, "100", 0, 1, 10000, NULL, NULL,
     "Most messages of one partition in one POST (1: one message per "
     "POST)."},
    {"webhook.entities", GH_CONF_LIST, "person", 0, 0, 0, NULL, NULL,
     "Entities whose subscriber topics are delivered "
     "(`<view.topic.prefix>.<subscriber>.<entity>`)."},
    {"webhook.partitions.refresh.ms", GH_CONF_INT, "10000", 0, 100, 3600000,
     NULL, NULL,
     "How often topics are looked up again for partitions (and topics) that "
     "appeared since start."},
    {"webhook.", GH_CONF_PREFIX, NULL, 0, 0, 0, NULL, valid_sub_key,
     "Per subscriber of the policy: `webhook.<subscriber>.url` (http:// or "
     "https://; where its feed is POSTed) and "
     "`webhook.<subscriber>.secret.file` (required with a url; a file of "
     "mode 0600 whose first line, at least 16 bytes, is the HMAC-SHA256 key "
     "of the `X-Gridhub-Signature` header; read at start). docs/api.md, "
     "\"Webhooks\"."},
    GH_CONF_END};

/* Splits `webhook.<sub>.<what>` (the prefix optional); 0 if well formed. */
static int split_key(const char *key, char *sub, size_t subsz,
                     const char **what) {
    if (!strncmp(key, "webhook.", 8)) key += 8;
    const char *dot = strchr(key, '.');
    if (!dot || dot == key || (size_t)(dot - key) >= subsz) return -1;
    for (const char *c = key; c < dot; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-') return -1;
    memcpy(sub, key, (size_t)(dot - key));
    sub[dot - key] = '\0';
    *what = dot + 1;
    return strcmp(*what, "url") && strcmp(*what, "secret.file") ? -1 : 0;
}

static int valid_sub_key(const char *key, const char *value, char *err,
                         size_t errsz) {
    char sub[128];
    const char *what;
    if (split_key(key, sub, sizeof(sub), &what)) {
        snprintf(err, errsz,
                 "expected webhook.<subscriber>.url or "
                 "webhook.<subscriber>.secret.file (or one of the global "
                 "webhook.* properties)");
        return -1;
    }
    if (!strcmp(what, "url") && strncmp(value, "http://", 7) &&
        strncmp(value, "https://", 8)) {
        snprintf(err, errsz, "\"%s\" is not an http:// or https:// URL", value);
        return -1;
    }
    return 0;
}

static int find_target(const gh_webhook_t *w, const char *sub) {
    for (int i = 0; i < w->ntargets; i++)
        if (!strcmp(w->targets[i].subscriber, sub)) return i;
    return -1;
}

typedef struct collect {
    gh_webhook_t *w;
    char *secret_files[256];
} collect_t;

static void collect_cb(const char *subkey, const char *value, void *opaque) {
    collect_t *c = opaque;
    gh_webhook_t *w = c->w;
    char sub[128];
    const char *what;
    if (split_key(subkey, sub, sizeof(sub), &what)) return; /* global */
    int i = find_target(w, sub);
    if (i < 0) {
        if (w->ntargets == 256) return; /* reported by the caller */
        w->targets = gh_xrealloc(w->targets, (size_t)(w->ntargets + 1) *
                                                 sizeof(*w->targets));
        i = w->ntargets++;
        memset(&w->targets[i], 0, sizeof(w->targets[i]));
        w->targets[i].subscriber = gh_xstrdup(sub);
        c->secret_files[i] = NULL;
    }
    if (!strcmp(what, "url")) {
        free(w->targets[i].url);
        w->targets[i].url = gh_xstrdup(value);
    } else {
        free(c->secret_files[i]);
        c->secret_files[i] = gh_xstrdup(value);
    }
}

/* The key: the file's first line without its line end and trailing blanks,
 * from a file only its owner can read (as the policy and crypt key files). */
static gh_err_t read_secret(const char *sub, const char *path, wh_target_t *t,
                            char *errstr, size_t errstr_size) {
    struct stat st;
    if (stat(path, &st))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "webhook.%s.secret.file: cannot read %s: %s", sub,
                         path, strerror(errno));
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "webhook.%s.secret.file: %s is open to group or "
                         "others (mode %03o): chmod 600 it",
                         sub, path, (unsigned)(st.st_mode & 0777));
    FILE *f = fopen(path, "rb");
    if (!f)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "webhook.%s.secret.file: cannot read %s: %s", sub,
                         path, strerror(errno));
    unsigned char buf[SECRET_MAX + 2];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    size_t len = 0;
    while (len < n && buf[len] != '\n' && buf[len] != '\r')
        len++;
    while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        len--;
    gh_err_t e = GH_OK;
    if (len < SECRET_MIN || len > SECRET_MAX)
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "webhook.%s.secret.file: %s: the secret (its first "
                      "line) has %zu bytes, needs %d to %d (e.g. `openssl "
                      "rand -hex 32`)",
                      sub, path, len, SECRET_MIN, SECRET_MAX);
    else {
        t->secret = gh_xmalloc(len);
        memcpy(t->secret, buf, len);
        t->secret_len = len;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return e;
}

gh_err_t gh__webhook_targets_load(gh_webhook_t *w, char *errstr,
                                  size_t errstr_size) {
    collect_t c = {w, {0}};
    gh_conf_foreach_prefix(w->conf, "webhook.", collect_cb, &c);
    gh_err_t e = GH_OK;
    if (w->ntargets == 0)
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "no webhook configured: set webhook.<subscriber>.url "
                      "and webhook.<subscriber>.secret.file (docs/api.md, "
                      "\"Webhooks\")");
    if (!e && w->ntargets == 256)
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "more than 255 webhooks configured");
    for (int i = 0; !e && i < w->ntargets; i++) {
        wh_target_t *t = &w->targets[i];
        if (!t->url)
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "webhook.%s.secret.file is set but not "
                          "webhook.%s.url",
                          t->subscriber, t->subscriber);
        else if (!c.secret_files[i])
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "webhook.%s.url needs webhook.%s.secret.file: "
                          "receivers must be able to tell the hub's POSTs "
                          "from anyone's",
                          t->subscriber, t->subscriber);
        else
            e = read_secret(t->subscriber, c.secret_files[i], t, errstr,
                            errstr_size);
    }
    for (int i = 0; i < w->ntargets && i < 256; i++)
        free(c.secret_files[i]);
    return e;
}

void gh__webhook_targets_free(gh_webhook_t *w) {
    for (int i = 0; i < w->ntargets; i++) {
        wh_target_t *t = &w->targets[i];
        if (t->secret) OPENSSL_cleanse(t->secret, t->secret_len);
        free(t->secret);
        free(t->subscriber);
        free(t->url);
        if (t->curl) curl_easy_cleanup(t->curl);
    }
    free(w->targets);
    w->targets = NULL;
    w->ntargets = 0;
}

int gh_webhook_sign(const void *secret, size_t secret_len, int64_t timestamp,
                    const void *body, size_t body_len,
                    char out[GH_WEBHOOK_SIG_HEX]) {
    char ts[32];
    int n = snprintf(ts, sizeof(ts), "%lld.", (long long)timestamp);
    gh_hmac_t *h = gh_hmac_new(secret, secret_len);
    unsigned char mac[GH_HMAC_LEN];
    int rc = h ? gh_hmac_sha256(h, ts, (size_t)n, body, body_len, mac) : -1;
    gh_hmac_destroy(h);
    if (rc) return -1;
    gh_hex_encode(mac, sizeof(mac), out);
    out[GH_WEBHOOK_SIG_HEX - 1] = '\0';
    return 0;
}
