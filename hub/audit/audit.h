/*
 * The audit log in the hub database (docs/audit.md): entries appended in
 * the caller's transaction, leaves of one RFC 6962 tree whose frontier is
 * kept in audit_head; signed tree heads issued over it; verification of
 * the whole log against the heads; proofs.
 *
 * An entry is one line of JSON without spaces, its members in a fixed
 * order: "seq", "at" (UTC, microseconds), "kind", "subscriber", "entity",
 * "key" (those three when given), then the kind's own members as the
 * writer gave them. Its bytes are the leaf; the row's other columns repeat
 * parts of it for queries.
 */
#ifndef GH_AUDIT_H
#define GH_AUDIT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>

#include "gridhub/error.h"
#include "merkle.h"
#include "sth.h"

/* Perfect subtrees from this level up are stored in audit_node; lower ones
 * are rebuilt from at most 2^GH_AUDIT_NODE_LEVEL leaves. */
#define GH_AUDIT_NODE_LEVEL 8

/* ---- Appending ----------------------------------------------------------- */

typedef struct gh_audit_batch gh_audit_batch_t;

gh_audit_batch_t *gh_audit_batch_new(void);
void gh_audit_batch_destroy(gh_audit_batch_t *b);
/* Queues one entry. `kind` is required; `subscriber`, `entity` and `key`
 * (the subscriber's pseudonym of the record) may be NULL; `body` (copied,
 * may be NULL) is a compact JSON object holding the kind's other members,
 * none of them named like the members above. Bodies are kept as text: a
 * batch of a hundred thousand disclosures stays small. */
void gh_audit_batch_add(gh_audit_batch_t *b, const char *kind,
                        const char *subscriber, const char *entity,
                        const char *key, const char *body);
int gh_audit_batch_count(const gh_audit_batch_t *b);
/* Drops what is queued (a transaction that rolled back). */
void gh_audit_batch_clear(gh_audit_batch_t *b);

/* Appends the queued entries in db's open transaction (locking
 * audit_head: appends are ordered by it), then clears the batch. On error
 * the caller rolls back and may append the same batch again: it is kept. */
gh_err_t gh_audit_append(PGconn *db, gh_audit_batch_t *b, char *errstr,
                         size_t errstr_size);

/* Appends, in db's open transaction, one entry of `kind` whose body is
 * `body` (a JSON object, borrowed; may be NULL) with "db_role", the
 * session's database role, added: for records of what a person did (a
 * read through the command line, a policy load). */
gh_err_t gh_audit_append_one(PGconn *db, const char *kind, const char *entity,
                             json_t *body, char *errstr, size_t errstr_size);

/* ---- Reading the tree ------------------------------------------------------
 */

/* A gh_merkle_get_fn over the hub database; opaque is the PGconn. */
gh_err_t gh_audit_get_node(void *db, int level, uint64_t index,
                           uint8_t out[GH_MERKLE_HASH_LEN], char *errstr,
                           size_t errstr_size);
/* The tree's size and root now (read in db's transaction or snapshot). */
gh_err_t gh_audit_root(PGconn *db, uint64_t *size,
                       uint8_t root[GH_MERKLE_HASH_LEN], char *errstr,
                       size_t errstr_size);

/* ---- Signed tree heads ------------------------------------------------------
 */

/* In its own transaction: if the log grew since the last head, signs a
 * head over it, stores it in audit_sth and queues it in the outbox for
 * `topic`. *issued (may be NULL) is 1 if a head was issued, and *out (may
 * be NULL) the newest head either way (size 0 if none). */
gh_err_t gh_audit_issue_head(PGconn *db, const gh_audit_key_t *key,
                             const char *topic, int64_t now_ms, int *issued,
                             gh_audit_sth_t *out, char *errstr,
                             size_t errstr_size);

/* ---- Verification ---------------------------------------------------------
 */

typedef struct gh_audit_verify_opts {
    /* Public keys whose heads are accepted (borrowed); at least one. */
    gh_audit_key_t *const *keys;
    int nkeys;
    /* Heads from outside the database (the audit topic, a security
     * officer's copy), one JSON line each; NULL: only audit_sth. */
    const char *heads_file;
    /* If not NULL: the entries read (up to the first bad one) and the
     * root over them, for callers that report them (the API). */
    uint64_t *entries_out;
    uint8_t *root_out; /* GH_MERKLE_HASH_LEN bytes */
} gh_audit_verify_opts_t;

/* Reads the whole log in one snapshot and checks every entry against its
 * leaf, the numbering, the stored subtrees and every signed head. Prints a
 * summary to `out`. GH_OK if the log is intact; GH_ERR_DATA_LOSS with
 * errstr naming the first bad entry (or the first head the log no longer
 * matches) if not; other errors if it could not be read. */
gh_err_t gh_audit_verify(PGconn *db, const gh_audit_verify_opts_t *o, FILE *out,
                         char *errstr, size_t errstr_size);

#endif
