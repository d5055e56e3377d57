/*
 * Ed25519 keys and signed tree heads. See sth.h.
 */
#include "sth.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gridhub/util.h"

struct gh_audit_key {
    EVP_PKEY *pkey;
    int is_private;
    char id[GH_AUDIT_KEYID_LEN + 1];
};

static gh_err_t finish_key(EVP_PKEY *pk, int is_private, const char *path,
                           gh_audit_key_t **out, char *errstr,
                           size_t errstr_size) {
    if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pk);
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: not an Ed25519 key (make one with `gridhub "
                         "audit keygen` or `openssl genpkey -algorithm "
                         "ed25519`)",
                         path);
    }
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pk, &der);
    if (n <= 0) {
        EVP_PKEY_free(pk);
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: cannot encode its public key", path);
    }
    uint8_t h[SHA256_DIGEST_LENGTH];
    SHA256(der, (size_t)n, h);
    OPENSSL_free(der);
    gh_audit_key_t *k = gh_xcalloc(1, sizeof(*k));
    k->pkey = pk;
    k->is_private = is_private;
    gh_hex_encode(h, GH_AUDIT_KEYID_LEN / 2, k->id);
    *out = k;
    return GH_OK;
}

static gh_err_t open_key(const char *path, int is_private, FILE **fp,
                         char *errstr, size_t errstr_size) {
    *fp = fopen(path, "r");
    if (!*fp)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG, "%s: %s", path,
                         strerror(errno));
    struct stat st;
    if (is_private && fstat(fileno(*fp), &st) == 0 &&
        (st.st_mode & (S_IRWXG | S_IRWXO))) {
        fclose(*fp);
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: the signing key is readable by others (mode "
                         "%03o); chmod 600 it",
                         path, (unsigned)(st.st_mode & 0777));
    }
    return GH_OK;
}

gh_err_t gh_audit_key_load_private(const char *path, gh_audit_key_t **out,
                                   char *errstr, size_t errstr_size) {
    FILE *fp;
    gh_err_t e = open_key(path, 1, &fp, errstr, errstr_size);
    if (e) return e;
    EVP_PKEY *pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    ERR_clear_error();
    if (!pk)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: not a PEM private key", path);
    return finish_key(pk, 1, path, out, errstr, errstr_size);
}

gh_err_t gh_audit_key_load_public(const char *path, gh_audit_key_t **out,
                                  char *errstr, size_t errstr_size) {
    FILE *fp;
    gh_err_t e = open_key(path, 0, &fp, errstr, errstr_size);
    if (e) return e;
    EVP_PKEY *pk = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
    fclose(fp);
    ERR_clear_error();
    if (!pk)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: not a PEM public key", path);
    return finish_key(pk, 0, path, out, errstr, errstr_size);
}

static gh_err_t write_pem(const char *path, int mode, EVP_PKEY *pk,
                          int is_private, char *errstr, size_t errstr_size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s", path,
                         strerror(errno));
    FILE *fp = fdopen(fd, "w");
    if (!fp) {
        close(fd);
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s", path,
                         strerror(errno));
    }
    int ok = is_private
                 ? PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_PUBKEY(fp, pk);
    if (fclose(fp) != 0) ok = 0;
    ERR_clear_error();
    if (!ok) {
        unlink(path);
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "%s: could not write the key", path);
    }
    return GH_OK;
}

gh_err_t gh_audit_key_generate(const char *path, const char *pub_path,
                               char *errstr, size_t errstr_size) {
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    if (!c || EVP_PKEY_keygen_init(c) <= 0 || EVP_PKEY_keygen(c, &pk) <= 0) {
        EVP_PKEY_CTX_free(c);
        ERR_clear_error();
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "could not generate an Ed25519 key");
    }
    EVP_PKEY_CTX_free(c);
    gh_err_t e = write_pem(path, 0600, pk, 1, errstr, errstr_size);
    if (!e) {
        e = write_pem(pub_path, 0644, pk, 0, errstr, errstr_size);
        if (e) unlink(path);
    }
    EVP_PKEY_free(pk);
    return e;
}

void gh_audit_key_destroy(gh_audit_key_t *k) {
    if (!k) return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *gh_audit_key_id(const gh_audit_key_t *k) {
    return k->id;
}

static void put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void gh_audit_sth_signed_bytes(const gh_audit_sth_t *h,
                               uint8_t out[GH_AUDIT_STH_SIGNED_LEN]) {
    static const char tag[] = "gridhub-sth-v1"; /* 14 bytes and its NUL */
    memcpy(out, tag, sizeof(tag));
    put_be64(out + 15, h->size);
    put_be64(out + 23, (uint64_t)h->timestamp_ms);
    memcpy(out + 31, h->root, GH_MERKLE_HASH_LEN);
}

gh_err_t gh_audit_sth_sign(const gh_audit_key_t *k, gh_audit_sth_t *h,
                           char *errstr, size_t errstr_size) {
    if (!k->is_private)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "audit: signing needs the private key");
    uint8_t msg[GH_AUDIT_STH_SIGNED_LEN];
    gh_audit_sth_signed_bytes(h, msg);
    size_t siglen = GH_AUDIT_SIG_LEN;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestSignInit(c, NULL, NULL, NULL, k->pkey) > 0 &&
             EVP_DigestSign(c, h->sig, &siglen, msg, sizeof(msg)) > 0 &&
             siglen == GH_AUDIT_SIG_LEN;
    EVP_MD_CTX_free(c);
    ERR_clear_error();
    if (!ok)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "audit: Ed25519 signing failed");
    memcpy(h->key_id, k->id, sizeof(h->key_id));
    return GH_OK;
}

int gh_audit_sth_verify(const gh_audit_key_t *k, const gh_audit_sth_t *h) {
    if (strcmp(h->key_id, k->id) != 0) return 0;
    uint8_t msg[GH_AUDIT_STH_SIGNED_LEN];
    gh_audit_sth_signed_bytes(h, msg);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok =
        c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k->pkey) > 0 &&
        EVP_DigestVerify(c, h->sig, GH_AUDIT_SIG_LEN, msg, sizeof(msg)) == 1;
    EVP_MD_CTX_free(c);
    ERR_clear_error();
    return ok;
}

char *gh_audit_sth_to_json(const gh_audit_sth_t *h) {
    char root[2 * GH_MERKLE_HASH_LEN + 1], sig[2 * GH_AUDIT_SIG_LEN + 1];
    gh_hex_encode(h->root, GH_MERKLE_HASH_LEN, root);
    gh_hex_encode(h->sig, GH_AUDIT_SIG_LEN, sig);
    return gh_xasprintf("{\"size\":%llu,\"timestamp_ms\":%lld,\"root\":\"%s\","
                        "\"key_id\":\"%s\",\"sig\":\"%s\"}",
                        (unsigned long long)h->size, (long long)h->timestamp_ms,
                        root, h->key_id, sig);
}

gh_err_t gh_audit_sth_from_json(const char *json, gh_audit_sth_t *h,
                                char *errstr, size_t errstr_size) {
    json_error_t je;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                         "tree head: not a JSON object (%s)", je.text);
    }
    memset(h, 0, sizeof(*h));
    json_t *size = json_object_get(o, "size");
    json_t *ts = json_object_get(o, "timestamp_ms");
    const char *root = json_string_value(json_object_get(o, "root"));
    const char *kid = json_string_value(json_object_get(o, "key_id"));
    const char *sig = json_string_value(json_object_get(o, "sig"));
    const char *bad = NULL;
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        bad = "size";
    else if (!json_is_integer(ts))
        bad = "timestamp_ms";
    else if (!root || gh_hex_decode(root, h->root, GH_MERKLE_HASH_LEN))
        bad = "root (64 lowercase hex digits)";
    else if (!kid || strlen(kid) != GH_AUDIT_KEYID_LEN ||
             strspn(kid, "0123456789abcdef") != GH_AUDIT_KEYID_LEN)
        bad = "key_id (16 lowercase hex digits)";
    else if (!sig || gh_hex_decode(sig, h->sig, GH_AUDIT_SIG_LEN))
        bad = "sig (128 lowercase hex digits)";
    if (!bad) {
        h->size = (uint64_t)json_integer_value(size);
        h->timestamp_ms = (int64_t)json_integer_value(ts);
        memcpy(h->key_id, kid, GH_AUDIT_KEYID_LEN + 1);
    }
    json_decref(o);
    if (bad)
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                         "tree head: missing or invalid \"%s\"", bad);
    return GH_OK;
}
