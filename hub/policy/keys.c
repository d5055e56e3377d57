/* Pseudonym keys: the key file (docs/policy.md, "Keys and pseudonyms") and
 * HMAC-SHA256 over OpenSSL. Secrets never reach a log line: errors name
 * the file, the line and the key name only. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gridhub/conf.h"
#include "plan_int.h"
#include "policy_int.h"

typedef struct pkey {
    char *name;
    unsigned char *secret;
    size_t len;
} pkey_t;

struct gh_policy_keys {
    pkey_t *k;
    int n;
};

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static gh_err_t key_line(const char *origin, const char *key, const char *value,
                         void *opaque, char *errstr, size_t errstr_size) {
    gh_policy_keys_t *k = opaque;
    size_t n = strlen(value);
    if (n < 64 || n % 2)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: %.64s: a key is 64 or more hex digits (32 "
                         "bytes), an even number of them",
                         origin, key);
    unsigned char *sec = gh_xcalloc(n / 2, 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(value[2 * i]), lo = hexval(value[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            OPENSSL_cleanse(sec, n / 2);
            free(sec);
            return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                             "%s: %.64s: not a hex digit in the key", origin,
                             key);
        }
        sec[i] = (unsigned char)(hi << 4 | lo);
    }
    k->k = gh_xrealloc(k->k, (size_t)(k->n + 1) * sizeof(pkey_t));
    k->k[k->n++] = (pkey_t){gh_xstrdup(key), sec, n / 2};
    return GH_OK;
}

void gh_policy_keys_destroy(gh_policy_keys_t *k) {
    if (!k) return;
    for (int i = 0; i < k->n; i++) {
        OPENSSL_cleanse(k->k[i].secret, k->k[i].len);
        free(k->k[i].secret);
        free(k->k[i].name);
    }
    free(k->k);
    free(k);
}

gh_err_t gh_policy_keys_load(const char *path, gh_policy_keys_t **out,
                             char *errstr, size_t errstr_size) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: cannot read the key file: %s", path,
                         strerror(errno));
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: the key file is open to group or others (mode "
                         "%03o): chmod 600 it",
                         path, (unsigned)(st.st_mode & 0777));
    gh_policy_keys_t *k = gh_xcalloc(1, sizeof(*k));
    gh_err_t e = gh_props_parse_file(path, key_line, k, errstr, errstr_size);
    if (e) {
        gh_policy_keys_destroy(k);
        return e;
    }
    *out = k;
    return GH_OK;
}

/* The secret of key `name`, or NULL. */
static const pkey_t *find(const gh_policy_keys_t *k, const char *name) {
    for (int i = 0; k && i < k->n; i++)
        if (!strcmp(k->k[i].name, name)) return &k->k[i];
    return NULL;
}

gh_err_t gh_policy_keys_check(const gh_policy_keys_t *k, const gh_policy_t *p,
                              char *errstr, size_t errstr_size) {
    for (int i = 0; i < p->nsubs; i++)
        if (!find(k, p->subs[i].key))
            return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                             "subscriber %s (%s) uses key %s, which the key "
                             "file lacks (gridhub policy keys --generate "
                             "writes a key file for a policy)",
                             p->subs[i].name, p->subs[i].origin,
                             p->subs[i].key);
    return GH_OK;
}

gh_err_t gh__policy_key(const gh_policy_keys_t *k, const char *name,
                        const unsigned char **secret, size_t *len) {
    const pkey_t *x = find(k, name);
    if (!x) return GH_ERR_CONFIG;
    *secret = x->secret;
    *len = x->len;
    return GH_OK;
}

gh_err_t gh_policy_keys_generate(const char *path, const gh_policy_t *p,
                                 char *errstr, size_t errstr_size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s%s", path,
                         strerror(errno),
                         errno == EEXIST ? " (a key file is never overwritten: "
                                           "its keys are the pseudonyms)"
                                         : "");
    gh_buf_t b = {0};
    gh_buf_printf(&b,
                  "# gridhub pseudonym keys for %s (version %s).\n"
                  "# Keep private: anyone holding a key can link that "
                  "subscriber's pseudonyms to hub ids.\n",
                  p->name, p->version);
    gh_err_t e = GH_OK;
    for (int i = 0; i < p->nsubs && !e; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= !strcmp(p->subs[j].key, p->subs[i].key);
        if (dup) continue;
        unsigned char sec[32];
        if (RAND_bytes(sec, sizeof(sec)) != 1) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                          "no random bytes from OpenSSL");
            break;
        }
        gh_buf_printf(&b, "%s=", p->subs[i].key);
        for (size_t j = 0; j < sizeof(sec); j++)
            gh_buf_printf(&b, "%02x", sec[j]);
        gh_buf_puts(&b, "\n");
        OPENSSL_cleanse(sec, sizeof(sec));
    }
    if (!e && write(fd, b.data, b.len) != (ssize_t)b.len)
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s", path,
                      strerror(errno));
    if (b.data) OPENSSL_cleanse(b.data, b.len);
    gh_buf_free(&b);
    if (close(fd) && !e)
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s", path,
                      strerror(errno));
    if (e) unlink(path);
    return e;
}

void gh_policy_hmac_hex(const unsigned char *key, size_t keylen,
                        const char *msg, size_t msglen, char out[33]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen, md,
         &mdlen);
    gh_hex_encode(md, 16, out); /* the first 16 bytes */
}

void gh__plan_hmac_hex(const gh_policy_plan_t *pl, const char *msg,
                       size_t msglen, char out[33]) {
    unsigned char md[GH_HMAC_LEN];
    /* A plan makes a pseudonym per record: through its context. */
    if (pl->mac && !gh_hmac_sha256(pl->mac, msg, msglen, NULL, 0, md)) {
        gh_hex_encode(md, 16, out); /* the first 16 bytes */
        return;
    }
    gh_policy_hmac_hex(pl->key, pl->keylen, msg, msglen, out);
}
