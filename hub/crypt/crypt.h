/*
 * Encryption at rest in the hub database (docs/encryption.md).
 *
 * ID numbers, phone numbers, precise addresses and outbox payloads are
 * stored sealed: AES-256-GCM under a key named by an id, so that keys can
 * be rotated while values sealed under older ones still open. A sealed
 * value is text, so it fits the columns and JSON documents that held the
 * clear one:
 *
 *     gh1:<key id>:<base64 of nonce (12) || ciphertext || tag (16)>
 *
 * The nonce is synthetic (the first 12 bytes of HMAC-SHA256 under a key
 * derived from the same secret, over the field name and the value): equal
 * values of one field seal to equal text under one key, as for a blind
 * index, so that "did it change?" stays a comparison in SQL and a
 * re-sealing writer can compare-and-set. The field name is the GCM
 * additional data: a phone's ciphertext copied into the ID column does not
 * open. Keyed blind indexes (HMAC-SHA256 under the index key) stand in for
 * values where the hub needs equality: blocking keys.
 *
 * The key file (mode 0600 or 0400; never in logs or argv):
 *
 *     key.<id>=<64 hex digits>     one or more; ids [A-Za-z0-9_-]{1,32}
 *     active=<id>                  the key new values are sealed under
 *     index=<64 hex digits>        the blind-index key (never rotated:
 *                                  blocking keys are made with it)
 *
 * A handle is used by one thread at a time.
 */
#ifndef GH_CRYPT_H
#define GH_CRYPT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "gridhub/error.h"

#define GH_CRYPT_PREFIX "gh1:"
#define GH_CRYPT_KID_MAX 32
/* The field of values sealed inside JSON documents (evidence, decisions):
 * one for all, since a member name ("a", "value") does not say what the
 * value is. */
#define GH_CRYPT_JSON "json"

typedef struct gh_crypt gh_crypt_t;

/* Loads the key file at `path` (copied). NULL, with errstr naming the file
 * and line (never a secret), if it cannot be read, is open to group or
 * others, or is malformed. */
gh_crypt_t *gh_crypt_new(const char *path, char *errstr, size_t errstr_size);
void gh_crypt_destroy(gh_crypt_t *c);

/* Reads the key file again if it changed (size, time or inode) since the
 * last load: returns 1 if it did and loaded, 0 if unchanged, -1 (errstr
 * set, the keys in use kept) if it changed and does not load or drops the
 * index key or a key that was in use. */
int gh_crypt_refresh(gh_crypt_t *c, char *errstr, size_t errstr_size);

/* The id of the active key (borrowed, valid until the next refresh). */
const char *gh_crypt_active(const gh_crypt_t *c);
/* A 16-hex-digit fingerprint of the index key (to tell whether stored
 * blind indexes were made with it): out gets 17 bytes. */
void gh_crypt_index_fingerprint(const gh_crypt_t *c, char out[17]);

/* 1 if s (n bytes) has the form of a sealed value. */
int gh_crypt_is_sealed(const char *s, size_t n);

/* Seals n bytes of `plain` for field `field` under the active key.
 * Returns a NUL-terminated text the caller frees. With c == NULL
 * (encryption off) returns a copy of the bytes, NUL-terminated. */
char *gh_crypt_seal(gh_crypt_t *c, const char *field, const void *plain,
                    size_t n);
/* The same under key `kid` (a rotation's target); NULL if c lacks it. */
char *gh_crypt_seal_with(gh_crypt_t *c, const char *kid, const char *field,
                         const void *plain, size_t n);

/* Opens `s` (n bytes) sealed for `field`: *out (caller frees; NUL after
 * the *outlen bytes) is the clear value. Text that is not sealed comes back
 * as it is (written before encryption was turned on). A key id the handle
 * lacks makes it read the key file again once. Errors name the field and
 * the key id, never the value: GH_ERR_NOT_FOUND (no such key),
 * GH_ERR_CONFIG (sealed, but c == NULL), GH_ERR_PARSE (altered, or sealed
 * for another field). */
gh_err_t gh_crypt_open(gh_crypt_t *c, const char *field, const char *s,
                       size_t n, char **out, size_t *outlen, char *errstr,
                       size_t errstr_size);
/* The key id a sealed value names, into kid (GH_CRYPT_KID_MAX + 1 bytes);
 * 0, or -1 if s is not sealed. */
int gh_crypt_kid_of(const char *s, size_t n, char *kid);

/* Opens, in place, columns cols[0..n) of every row of a query result, each
 * sealed for fields[i] (values not sealed stay). On error errstr names the
 * column and row; the result is then partly opened. */
gh_err_t gh_crypt_open_result(gh_crypt_t *c, PGresult *r, const int *cols,
                              const char *const *fields, int n, char *errstr,
                              size_t errstr_size);

/* A JSON string of v (NULL: null) for a document such as steward
 * evidence, sealed for field GH_CRYPT_JSON when `seal` and c is not
 * NULL. Caller decrefs. */
json_t *gh_crypt_json_string(gh_crypt_t *c, int seal, const char *v);
/* Opens every sealed string of a JSON document, whatever its member; a
 * new compact text (caller frees), or NULL with errstr set. */
char *gh_crypt_open_json(gh_crypt_t *c, const char *json, char *errstr,
                         size_t errstr_size);
/* Re-seals every sealed string of a JSON document under key `kid`; a new
 * compact text, or NULL with errstr set. */
char *gh_crypt_reseal_json(gh_crypt_t *c, const char *kid, const char *json,
                           char *errstr, size_t errstr_size);

/* A keyed blind index of a 64-bit value for `purpose`: the first 8 bytes
 * of HMAC-SHA256(index key, purpose || 0x00 || v, little-endian). With
 * c == NULL returns v. Never 0 (0 means "no key" to callers). */
uint64_t gh_crypt_blind64(gh_crypt_t *c, const char *purpose, uint64_t v);

/* Checks, in the hub database (migration 008 applied), that its stored
 * blind indexes were made with c's index key (or without one if c is
 * NULL), recording it on first use. GH_ERR_CONFIG, saying what to do, if
 * not. */
gh_err_t gh_crypt_check_db(gh_crypt_t *c, PGconn *db, char *errstr,
                           size_t errstr_size);

/* Re-seals every sealed value of the hub database under key `kid` (and
 * seals clear ID numbers, phones and addresses), in passes until one finds
 * nothing, at most max_passes; *rows: rows rewritten. Safe while hubs
 * run (compare-and-set per row). GH_ERR_STOPPED on a stop request. */
gh_err_t gh_crypt_rotate_db(gh_crypt_t *c, PGconn *db, const char *kid,
                            int max_passes, long *rows, char *errstr,
                            size_t errstr_size);
/* Prints, per table and column, how many values each key id seals
 * ("clear": not sealed). */
gh_err_t gh_crypt_count_db(PGconn *db, FILE *out, char *errstr,
                           size_t errstr_size);

/* Writes a new key file at path (mode 0600, never overwriting) with one
 * key, "k1", active, and an index key. */
gh_err_t gh_crypt_generate(const char *path, char *errstr, size_t errstr_size);
/* Adds a fresh key to the key file and makes it active, replacing the file
 * atomically (same mode); the new id goes to kid_out (GH_CRYPT_KID_MAX + 1
 * bytes). Older keys stay: values sealed under them still open until a
 * rotation re-seals them. */
gh_err_t gh_crypt_add_key(const char *path, char *kid_out, char *errstr,
                          size_t errstr_size);

#endif
