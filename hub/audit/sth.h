/*
 * Signed tree heads: the audit log's size, the time and the Merkle root,
 * signed with Ed25519 (OpenSSL), as Certificate Transparency logs sign
 * theirs. A head published outside the database (the audit topic, a
 * security officer's copy) pins every entry before it: an entry altered,
 * removed, inserted or reordered afterwards changes the root.
 *
 * The signed bytes (docs/audit.md): the ASCII tag "gridhub-sth-v1", a zero
 * byte, the size and the timestamp (milliseconds since the epoch) as
 * big-endian 64-bit integers, then the 32-byte root: 63 bytes. The key id
 * is the first 8 bytes of SHA-256 of the public key (DER
 * SubjectPublicKeyInfo), in hex, so a verifier holding several public keys
 * (a rotation) picks the right one.
 */
#ifndef GH_AUDIT_STH_H
#define GH_AUDIT_STH_H

#include <stddef.h>
#include <stdint.h>

#include "gridhub/error.h"
#include "merkle.h"

#define GH_AUDIT_SIG_LEN 64
#define GH_AUDIT_KEYID_LEN 16 /* hex digits */
#define GH_AUDIT_STH_SIGNED_LEN 63

typedef struct gh_audit_sth {
    uint64_t size;
    int64_t timestamp_ms;
    uint8_t root[GH_MERKLE_HASH_LEN];
    char key_id[GH_AUDIT_KEYID_LEN + 1];
    uint8_t sig[GH_AUDIT_SIG_LEN];
} gh_audit_sth_t;

/* A private key (for the hub) or a public key (for a verifier). */
typedef struct gh_audit_key gh_audit_key_t;

/* Reads a PEM Ed25519 private key (PKCS#8, as `openssl genpkey -algorithm
 * ed25519` or `gridhub audit keygen` write it). The file must not be
 * readable by group or others. *out is the caller's (gh_audit_key_destroy).
 * Errors name the file, never key material. */
gh_err_t gh_audit_key_load_private(const char *path, gh_audit_key_t **out,
                                   char *errstr, size_t errstr_size);
/* Reads a PEM Ed25519 public key (SubjectPublicKeyInfo). */
gh_err_t gh_audit_key_load_public(const char *path, gh_audit_key_t **out,
                                  char *errstr, size_t errstr_size);
/* Writes a new private key to `path` (mode 0600, never overwriting) and
 * its public key to `pub_path` (mode 0644). */
gh_err_t gh_audit_key_generate(const char *path, const char *pub_path,
                               char *errstr, size_t errstr_size);
void gh_audit_key_destroy(gh_audit_key_t *k);
/* 16 hex digits; borrowed. */
const char *gh_audit_key_id(const gh_audit_key_t *k);

/* The 63 signed bytes of a head. */
void gh_audit_sth_signed_bytes(const gh_audit_sth_t *h,
                               uint8_t out[GH_AUDIT_STH_SIGNED_LEN]);
/* Fills h->key_id and h->sig; `k` must hold a private key. */
gh_err_t gh_audit_sth_sign(const gh_audit_key_t *k, gh_audit_sth_t *h,
                           char *errstr, size_t errstr_size);
/* 1 if h->sig is k's signature of the head and h->key_id is k's id. */
int gh_audit_sth_verify(const gh_audit_key_t *k, const gh_audit_sth_t *h);

/* One line of JSON, the form heads are published and stored in:
 * {"size":N,"timestamp_ms":T,"root":"<hex>","key_id":"<hex>","sig":"<hex>"}.
 * Returns a malloc'd string (caller frees). */
char *gh_audit_sth_to_json(const gh_audit_sth_t *h);
/* Parses that form; GH_ERR_PARSE naming what is wrong. Does not verify. */
gh_err_t gh_audit_sth_from_json(const char *json, gh_audit_sth_t *h,
                                char *errstr, size_t errstr_size);

#endif
