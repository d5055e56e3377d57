/* HMAC-SHA256 with a reusable key; see include/gridhub/hmac.h. */
#include "gridhub/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdlib.h>

struct gh_hmac {
    EVP_MAC_CTX *x;
};

gh_hmac_t *gh_hmac_new(const unsigned char *key, size_t keylen) {
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *x = m ? EVP_MAC_CTX_new(m) : NULL;
    EVP_MAC_free(m); /* the context holds its own reference */
    OSSL_PARAM p[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                        (char *)"SHA256", 0),
                       OSSL_PARAM_construct_end()};
    gh_hmac_t *h = x ? malloc(sizeof(*h)) : NULL;
    if (!h || !EVP_MAC_init(x, key, keylen, p)) {
        EVP_MAC_CTX_free(x);
        free(h);
        return NULL;
    }
    h->x = x;
    return h;
}

void gh_hmac_destroy(gh_hmac_t *h) {
    if (!h) return;
    EVP_MAC_CTX_free(h->x);
    free(h);
}

int gh_hmac_sha256(gh_hmac_t *h, const void *a, size_t an, const void *b,
                   size_t bn, unsigned char out[GH_HMAC_LEN]) {
    size_t len = 0;
    /* Re-initialized with no key: the one set up at gh_hmac_new. */
    if (!EVP_MAC_init(h->x, NULL, 0, NULL) || !EVP_MAC_update(h->x, a, an) ||
        (bn && !EVP_MAC_update(h->x, b, bn)) ||
        !EVP_MAC_final(h->x, out, &len, GH_HMAC_LEN) || len != GH_HMAC_LEN)
        return -1;
    return 0;
}
