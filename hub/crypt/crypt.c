/* The key ring and sealing (see crypt.h): AES-256-GCM with a synthetic
 * nonce, keyed blind indexes, over OpenSSL. */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypt.h"
#include "crypt_int.h"
#include "gridhub/conf.h"
#include "gridhub/util.h"

#define NONCE 12
#define TAG 16

/* AES-GCM with a valid key and nonce fails only when OpenSSL cannot
 * allocate: treated as out of memory is everywhere else. */
static void die(const char *what) {
    fprintf(stderr, "gridhub: OpenSSL: %s failed; aborting\n", what);
    abort();
}

static void derive(const unsigned char master[32], const char *label,
                   unsigned char out[32]) {
    unsigned int len = 32;
    HMAC(EVP_sha256(), master, 32, (const unsigned char *)label, strlen(label),
         out, &len);
}

/* An HMAC-SHA256 context holding `key`, reused for every message. */
static gh_hmac_t *mac_new(const unsigned char key[32]) {
    gh_hmac_t *x = gh_hmac_new(key, 32);
    if (!x) die("HMAC-SHA256 setup");
    return x;
}

/* HMAC of a || b under the context's key. */
static void mac(gh_hmac_t *x, const void *a, size_t an, const void *b,
                size_t bn, unsigned char out[32]) {
    if (gh_hmac_sha256(x, a, an, b, bn, out)) die("HMAC-SHA256");
}

static void ring_free(gh__crypt_ring_t *r) {
    for (int i = 0; i < r->n; i++) {
        gh_hmac_destroy(r->k[i].ivmac);
        EVP_CIPHER_CTX_free(r->k[i].ectx);
        EVP_CIPHER_CTX_free(r->k[i].dctx);
        OPENSSL_cleanse(&r->k[i], sizeof(r->k[i]));
    }
    gh_hmac_destroy(r->idxmac);
    free(r->k);
    OPENSSL_cleanse(r, sizeof(*r));
}

static int valid_kid(const char *s) {
    size_t n = strlen(s);
    if (!n || n > GH_CRYPT_KID_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

static gh_err_t secret(const char *origin, const char *key, const char *value,
                       unsigned char out[32], char *errstr,
                       size_t errstr_size) {
    if (strlen(value) != 64 || gh_hex_decode(value, out, 32))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: %.64s: a key is 64 lowercase hex digits (32 "
                         "bytes; gridhub keys generate writes them)",
                         origin, key);
    return GH_OK;
}

static gh_err_t key_line(const char *origin, const char *key, const char *value,
                         void *opaque, char *errstr, size_t errstr_size) {
    gh__crypt_ring_t *r = opaque;
    if (!strcmp(key, "active")) {
        if (!valid_kid(value))
            return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                             "%s: active: \"%.64s\" is not a key id "
                             "([A-Za-z0-9_-], 1 to 32 characters)",
                             origin, value);
        snprintf(r->active, sizeof(r->active), "%s", value);
        return GH_OK;
    }
    if (!strcmp(key, "index")) {
        r->has_index = 1;
        return secret(origin, key, value, r->index, errstr, errstr_size);
    }
    if (strncmp(key, "key.", 4) || !valid_kid(key + 4))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: %.64s: unknown entry (key.<id>, active and "
                         "index are; ids are [A-Za-z0-9_-], 1 to 32 "
                         "characters)",
                         origin, key);
    unsigned char master[32];
    gh_err_t e = secret(origin, key, value, master, errstr, errstr_size);
    if (e) return e;
    r->k = gh_xrealloc(r->k, (size_t)(r->n + 1) * sizeof(*r->k));
    gh__crypt_key_t *k = &r->k[r->n++];
    memset(k, 0, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "%s", key + 4);
    derive(master, "gridhub aes-256-gcm key", k->enc);
    derive(master, "gridhub synthetic nonce key", k->iv);
    OPENSSL_cleanse(master, sizeof(master));
    return GH_OK;
}

gh__crypt_key_t *gh__crypt_find(const gh__crypt_ring_t *r, const char *kid) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->k[i].id, kid)) return &r->k[i];
    return NULL;
}

/* Reads and checks the key file into r (zeroed first). */
static gh_err_t ring_load(const char *path, gh__crypt_ring_t *r,
                          struct stat *st, char *errstr, size_t errstr_size) {
    memset(r, 0, sizeof(*r));
    if (stat(path, st))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: cannot read the encryption key file: %s", path,
                         strerror(errno));
    if (st->st_mode & (S_IRWXG | S_IRWXO))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: the encryption key file is open to group or "
                         "others (mode %03o): chmod 600 it",
                         path, (unsigned)(st->st_mode & 0777));
    gh_err_t e = gh_props_parse_file(path, key_line, r, errstr, errstr_size);
    if (!e && !r->n)
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "%s: no key.<id>= entry", path);
    if (!e && !r->active[0])
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "%s: no active= entry naming the key to seal with", path);
    if (!e && !gh__crypt_find(r, r->active))
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "%s: active=%s names no key.%s= entry", path, r->active,
                      r->active);
    if (!e && !r->has_index)
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "%s: no index= entry (the blind-index key)", path);
    if (e) ring_free(r);
    return e;
}

gh_crypt_t *gh_crypt_new(const char *path, char *errstr, size_t errstr_size) {
    gh_crypt_t *c = gh_xcalloc(1, sizeof(*c));
    if (ring_load(path, &c->ring, &c->st, errstr, errstr_size)) {
        free(c);
        return NULL;
    }
    c->path = gh_xstrdup(path);
    c->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (!c->cipher) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                  "OpenSSL offers no AES-256-GCM");
        gh_crypt_destroy(c);
        return NULL;
    }
    return c;
}

void gh_crypt_destroy(gh_crypt_t *c) {
    if (!c) return;
    ring_free(&c->ring);
    EVP_CIPHER_free(c->cipher);
    free(c->path);
    free(c);
}

int gh_crypt_refresh(gh_crypt_t *c, char *errstr, size_t errstr_size) {
    struct stat st;
    if (stat(c->path, &st)) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                  "%s: cannot read the encryption key file: %s", c->path,
                  strerror(errno));
        return -1;
    }
    if (st.st_size == c->st.st_size && st.st_ino == c->st.st_ino &&
        st.st_mtim.tv_sec == c->st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == c->st.st_mtim.tv_nsec)
        return 0;
    gh__crypt_ring_t r;
    if (ring_load(c->path, &r, &st, errstr, errstr_size)) return -1;
    const char *why = NULL;
    if (CRYPTO_memcmp(r.index, c->ring.index, 32))
        why = "the index key changed (stored blocking keys were made with the "
              "old one)";
    for (int i = 0; !why && i < c->ring.n; i++)
        if (!gh__crypt_find(&r, c->ring.k[i].id))
            why = "a key in use was removed";
    if (why) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                  "%s: %s: the keys in use are kept", c->path, why);
        ring_free(&r);
        c->st = st; /* reported once, not at every check */
        return -1;
    }
    ring_free(&c->ring);
    c->ring = r;
    c->st = st;
    return 1;
}

const char *gh_crypt_active(const gh_crypt_t *c) {
    return c->ring.active;
}

void gh_crypt_index_fingerprint(const gh_crypt_t *c, char out[17]) {
    unsigned char md[32];
    unsigned int len = 32;
    static const char label[] = "gridhub index key fingerprint";
    HMAC(EVP_sha256(), c->ring.index, 32, (const unsigned char *)label,
         sizeof(label) - 1, md, &len);
    gh_hex_encode(md, 8, out);
}

int gh_crypt_is_sealed(const char *s, size_t n) {
    size_t p = sizeof(GH_CRYPT_PREFIX) - 1;
    return s && n > p && !memcmp(s, GH_CRYPT_PREFIX, p);
}

int gh_crypt_kid_of(const char *s, size_t n, char *kid) {
    if (!gh_crypt_is_sealed(s, n)) return -1;
    size_t p = sizeof(GH_CRYPT_PREFIX) - 1, i = p;
    while (i < n && s[i] != ':' && i - p < GH_CRYPT_KID_MAX)
        i++;
    if (i == p || i >= n || s[i] != ':') return -1;
    memcpy(kid, s + p, i - p);
    kid[i - p] = '\0';
    return 0;
}

static void nonce_of(gh__crypt_key_t *k, const char *field, const void *plain,
                     size_t n, unsigned char out[NONCE]) {
    unsigned char md[32];
    if (!k->ivmac) k->ivmac = mac_new(k->iv);
    /* The field's NUL separates field and value. */
    mac(k->ivmac, field, strlen(field) + 1, plain, n, md);
    memcpy(out, md, NONCE);
}

/* k's cipher context for one direction, keyed once; per value only the
 * nonce is set. */
static EVP_CIPHER_CTX *cipher_ctx(gh_crypt_t *c, gh__crypt_key_t *k, int enc) {
    EVP_CIPHER_CTX **x = enc ? &k->ectx : &k->dctx;
    if (!*x) {
        *x = EVP_CIPHER_CTX_new();
        if (!*x ||
            !(enc ? EVP_EncryptInit_ex2(*x, c->cipher, k->enc, NULL, NULL)
                  : EVP_DecryptInit_ex2(*x, c->cipher, k->enc, NULL, NULL)))
            die("AES-256-GCM setup");
    }
    return *x;
}

static char *seal_key(gh_crypt_t *c, gh__crypt_key_t *k, const char *field,
                      const void *plain, size_t n) {
    size_t raw_len = NONCE + n + TAG;
    unsigned char *raw = gh_xmalloc(raw_len);
    nonce_of(k, field, plain, n, raw);
    EVP_CIPHER_CTX *x = cipher_ctx(c, k, 1);
    int ok = EVP_EncryptInit_ex2(x, NULL, NULL, raw, NULL);
    int len = 0;
    ok = ok && EVP_EncryptUpdate(x, NULL, &len, (const unsigned char *)field,
                                 (int)strlen(field));
    ok = ok && EVP_EncryptUpdate(x, raw + NONCE, &len, plain, (int)n);
    ok = ok && EVP_EncryptFinal_ex(x, raw + NONCE + len, &len);
    ok = ok &&
         EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, TAG, raw + NONCE + n);
    if (!ok) die("AES-256-GCM encryption");
    size_t kl = strlen(k->id), pl = sizeof(GH_CRYPT_PREFIX) - 1;
    char *out = gh_xmalloc(pl + kl + 1 + 4 * ((raw_len + 2) / 3) + 1);
    memcpy(out, GH_CRYPT_PREFIX, pl);
    memcpy(out + pl, k->id, kl);
    out[pl + kl] = ':';
    EVP_EncodeBlock((unsigned char *)out + pl + kl + 1, raw, (int)raw_len);
    free(raw);
    return out;
}

char *gh_crypt_seal(gh_crypt_t *c, const char *field, const void *plain,
                    size_t n) {
    if (!c) {
        char *s = gh_xmalloc(n + 1);
        if (n) memcpy(s, plain, n);
        s[n] = '\0';
        return s;
    }
    return seal_key(c, gh__crypt_find(&c->ring, c->ring.active), field, plain,
                    n);
}

char *gh_crypt_seal_with(gh_crypt_t *c, const char *kid, const char *field,
                         const void *plain, size_t n) {
    gh__crypt_key_t *k = gh__crypt_find(&c->ring, kid);
    return k ? seal_key(c, k, field, plain, n) : NULL;
}

/* Base64 (with padding) into out; the byte count, or -1. Only the one
 * canonical text of the bytes is taken: the spare bits of a last group are
 * zero, or one sealed value would have several spellings. */
static long unbase64(const char *s, size_t n, unsigned char *out) {
    if (!n || n % 4) return -1;
    int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (len < 0) return -1;
    if (s[n - 1] == '=') len--;
    if (s[n - 2] == '=') len--;
    char *again = gh_xmalloc(n + 1);
    EVP_EncodeBlock((unsigned char *)again, out, len);
    int same = !memcmp(again, s, n);
    free(again);
    return same ? len : -1;
}

gh_err_t gh_crypt_open(gh_crypt_t *c, const char *field, const char *s,
                       size_t n, char **out, size_t *outlen, char *errstr,
                       size_t errstr_size) {
    *out = NULL;
    *outlen = 0;
    char kid[GH_CRYPT_KID_MAX + 1];
    if (gh_crypt_kid_of(s, n, kid)) {
        if (gh_crypt_is_sealed(s, n))
            return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                             "%s: a sealed value without a key id", field);
        *out = gh_xmalloc(n + 1);
        if (n) memcpy(*out, s, n);
        (*out)[n] = '\0';
        *outlen = n;
        return GH_OK;
    }
    if (!c)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: the value is sealed under key %s and no "
                         "encryption key file is configured",
                         field, kid);
    gh__crypt_key_t *k = gh__crypt_find(&c->ring, kid);
    if (!k) {
        /* Another process may have added it (gridhub keys rotate). */
        char ignore[256];
        if (gh_crypt_refresh(c, ignore, sizeof(ignore)) == 1)
            k = gh__crypt_find(&c->ring, kid);
        if (!k)
            return gh_seterr(errstr, errstr_size, GH_ERR_NOT_FOUND,
                             "%s: the value is sealed under key %s, which "
                             "%s lacks",
                             field, kid, c->path);
    }
    size_t off = sizeof(GH_CRYPT_PREFIX) - 1 + strlen(kid) + 1;
    unsigned char *raw = gh_xmalloc((n - off) / 4 * 3 + 3);
    long rl = unbase64(s + off, n - off, raw);
    if (rl < NONCE + TAG) {
        free(raw);
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                         "%s: a sealed value (key %s) is not well formed",
                         field, kid);
    }
    size_t pn = (size_t)rl - NONCE - TAG;
    unsigned char *plain = gh_xmalloc(pn + 1);
    EVP_CIPHER_CTX *x = cipher_ctx(c, k, 0);
    int len = 0;
    int ok = EVP_DecryptInit_ex2(x, NULL, NULL, raw, NULL);
    ok = ok && EVP_DecryptUpdate(x, NULL, &len, (const unsigned char *)field,
                                 (int)strlen(field));
    ok = ok && EVP_DecryptUpdate(x, plain, &len, raw + NONCE, (int)pn);
    ok = ok &&
         EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, TAG, raw + NONCE + pn);
    ok = ok && EVP_DecryptFinal_ex(x, plain + len, &len) > 0;
    free(raw);
    if (!ok) {
        OPENSSL_cleanse(plain, pn);
        free(plain);
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                         "%s: a value sealed under key %s does not "
                         "authenticate (altered, or sealed for another "
                         "field)",
                         field, kid);
    }
    plain[pn] = '\0';
    *out = (char *)plain;
    *outlen = pn;
    return GH_OK;
}

uint64_t gh_crypt_blind64(gh_crypt_t *c, const char *purpose, uint64_t v) {
    if (!c) return v;
    unsigned char msg[64 + 9], md[32];
    size_t pl = strlen(purpose);
    if (pl > 64) pl = 64;
    memcpy(msg, purpose, pl);
    msg[pl] = 0;
    for (int i = 0; i < 8; i++)
        msg[pl + 1 + i] = (unsigned char)(v >> (8 * i));
    gh__crypt_ring_t *r = &c->ring;
    if (!r->idxmac) r->idxmac = mac_new(r->index);
    mac(r->idxmac, msg, pl + 9, NULL, 0, md);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)md[i] << (8 * i);
    return h ? h : 1;
}
