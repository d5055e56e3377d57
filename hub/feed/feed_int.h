/* Internals of the feed, shared by its files. */
#ifndef GH_FEED_INT_H
#define GH_FEED_INT_H

#include <sys/stat.h>

#include <jansson.h>

#include "audit.h"
#include "feed.h"
#include "gridhub/util.h"

/* One output of a put or gone, for one subscriber, until the flush. */
typedef struct cand {
    int plan; /* index in plans */
    char *id;
    int64_t version;
    int in_scope; /* 0: tombstone if the subscriber holds the record */
    char key[33];
    char digest[33];  /* of the payload (in scope) */
    gh_buf_t payload; /* framed encoding (in scope) */
    uint64_t fingerprint;
    char *disclosed; /* JSON: field -> {as, from} (in scope), for the audit */
} cand_t;

/* A file the feed follows: re-read when its identity or time changes. */
typedef struct watched {
    char *path;
    struct stat st;
} watched_t;

struct gh_feed {
    const gh_conf_t *conf;
    gh_schemas_t *set;
    gh_serde_t *serde;
    watched_t pfile, kfile;
    gh_policy_t *policy;
    gh_policy_keys_t *keys;
    gh_crypt_t *crypt; /* NULL: personal data stored in clear */
    char sealing[GH_CRYPT_KID_MAX + 1]; /* active key id, as last logged */
    int nsubs, nents;
    gh_policy_plan_t **plans; /* [sub * nents + entity] */
    char **topics;            /* same index */
    gh_policy_rec_t **recs;   /* per entity */
    int64_t next_check_ms, next_change_us, hour;
    /* Candidates since the last flush. */
    cand_t *c;
    int nc, capc;
    /* Sweeps: per plan, queued (1) and re-sending everything (force). */
    int *sweep, *force;
    int *sweep_prev, *force_prev; /* as before the open transaction */
    char **cursor, **cursor_prev; /* per entity: the last id swept */
    int only_sweep;               /* puts evaluate swept plans only */
    gh_audit_batch_t *audit;      /* the disclosures of the open flush */
    gh_buf_t audit_body;          /* scratch for one entry's body */
};

/* Loads policy and keys from the watched files and compiles plans for
 * now_us into f (replacing what it held). On error f is unchanged. */
gh_err_t gh__feed_load(gh_feed_t *f, int64_t now_us, char *errstr,
                       size_t errstr_size);
/* Writes the candidates (flush.c). */
gh_err_t gh__feed_write(gh_feed_t *f, PGconn *db, long *written, char *errstr,
                        size_t errstr_size);
void gh__feed_clear(gh_feed_t *f);

/* disclose.c: the departments behind each field of a full record (field ->
 * [departments], from its provenance; caller decrefs), and what a record
 * as sent under plan pl (just applied) discloses: each field with a value,
 * {"as": its action, "from": its departments (the record's own
 * `sources`/`provenance` items for those fields, else by_field's)}, as
 * compact JSON text (caller frees). */
json_t *gh__feed_sources_of(avro_value_t *full);
char *gh__feed_disclosed(const gh_policy_plan_t *pl, avro_value_t *sent,
                         const json_t *by_field);

#endif
