/* Internals of hub/crypt: the key ring. */
#ifndef GH_CRYPT_INT_H
#define GH_CRYPT_INT_H

#include <openssl/evp.h>
#include <sys/stat.h>

#include "crypt.h"
#include "gridhub/hmac.h"

typedef struct gh__crypt_key {
    char id[GH_CRYPT_KID_MAX + 1];
    unsigned char enc[32]; /* AES-256 key, derived from the key's secret */
    unsigned char iv[32];  /* HMAC key of the synthetic nonce, likewise */
    /* Made on first use and kept: a fetch and a key schedule per value
     * cost more than the encryption itself. */
    gh_hmac_t *ivmac;
    EVP_CIPHER_CTX *ectx, *dctx;
} gh__crypt_key_t;

typedef struct gh__crypt_ring {
    gh__crypt_key_t *k;
    int n;
    char active[GH_CRYPT_KID_MAX + 1];
    unsigned char index[32];
    int has_index;
    gh_hmac_t *idxmac; /* HMAC under index, made on first use */
} gh__crypt_ring_t;

struct gh_crypt {
    char *path;
    struct stat st; /* of the file as last loaded */
    gh__crypt_ring_t ring;
    EVP_CIPHER *cipher;
};

gh__crypt_key_t *gh__crypt_find(const gh__crypt_ring_t *r, const char *kid);

#endif
