/*
 * HMAC-SHA256 with its key set up once, for many messages (`gh_hmac_`).
 * OpenSSL 3's one-shot HMAC() looks the algorithms up and prepares the
 * key for every call, which costs more than hashing a short value; the
 * hub makes a keyed hash per value it seals, per blind index and per
 * pseudonym. Not thread-safe: one context per thread.
 */
#ifndef GRIDHUB_HMAC_H
#define GRIDHUB_HMAC_H

#include <stddef.h>

#define GH_HMAC_LEN 32

typedef struct gh_hmac gh_hmac_t;

/* A context holding a copy of key; NULL only if OpenSSL cannot make one.
 * The caller owns it (gh_hmac_destroy). */
gh_hmac_t *gh_hmac_new(const unsigned char *key, size_t keylen);
void gh_hmac_destroy(gh_hmac_t *h);

/* out = HMAC-SHA256(key, a || b); b may be NULL with bn 0. Returns 0, or
 * -1 if OpenSSL failed (it only does when it cannot allocate). */
int gh_hmac_sha256(gh_hmac_t *h, const void *a, size_t an, const void *b,
                   size_t bn, unsigned char out[GH_HMAC_LEN]);

#endif
