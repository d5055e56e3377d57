/* Internal to hub/api: the server's state and what its endpoints share. */
#ifndef GH_API_INT_H
#define GH_API_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

#include "body.h"
#include "crypt.h"
#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "policy.h"
#include "ratelimit.h"
#include "server.h"
#include "token.h"
#include "view.h"

struct MHD_Connection;
typedef struct gh__api_feeder gh__api_feeder_t; /* pull.h */
typedef struct gh__api_auditq gh__api_auditq_t; /* auditq.c */

/* What the API knows of one entity of the policy (person, grid,
 * household, ...): a value of its full view schema to fill, the record
 * the plans evaluate, and each subscriber's plan, made on first use. */
typedef struct gh__api_entity {
    const gh_schema_t *schema; /* borrowed from the policy's set */
    avro_value_t val;
    int has_val;
    gh_policy_rec_t *rec;
    gh_policy_plan_t **plans; /* per subscriber */
} gh__api_entity_t;

/* The TLS material libmicrohttpd is given (PEM text, owned); all NULL
 * when the API serves plain HTTP. */
typedef struct gh__api_tls {
    char *cert;
    char *key;
    size_t key_len;
    char *password; /* NULL: the key is not encrypted */
    size_t password_len;
} gh__api_tls_t;

/* Reads and checks api.tls.cert.file, api.tls.key.file (closed to group
 * and others) and api.tls.key.password.file into *t: both or neither,
 * parseable, the key the certificate's. Nothing set: GH_OK with t all
 * NULL. On error errstr names the property and *t holds nothing. */
gh_err_t gh__api_tls_load(const gh_conf_t *conf, gh__api_tls_t *t, char *errstr,
                          size_t errstr_size);

/* Wipes the key and passphrase and frees all of *t. */
void gh__api_tls_clear(gh__api_tls_t *t);

struct gh_api {
    struct MHD_Daemon *d;
    const gh_conf_t *conf; /* borrowed: the caller keeps it until stop */
    char *conninfo;
    char *url;
    gh__api_tls_t tls; /* kept until stop: libmicrohttpd borrows it */
    int64_t rate, burst, fail_rate, fail_burst; /* as configured */
    /* libmicrohttpd's threads each serve requests with a worker: a copy
     * of the main struct sharing what is read-only (the policy, its keys,
     * the schemas, the rate limits under `lock`) and owning its database
     * connection, sealing key, views, plans and steward (made on its
     * first request). In the main struct: the workers. */
    struct gh_api *main;   /* NULL in the main struct */
    pthread_mutex_t *lock; /* the main struct's lock_store */
    pthread_mutex_t lock_store;
    struct gh_api **workers;
    int nworkers;
    char *crypt_file; /* crypt.key.file, for each worker's own gh_crypt_t */
    /* Each worker's own. */
    PGconn *db;
    gh_schemas_t *schemas;
    gh_policy_t *policy;
    gh_policy_keys_t *keys;
    gh_crypt_t *crypt;      /* NULL: values are stored in clear */
    gh_view_t *view;        /* fills the full person view from a row */
    gh__api_entity_t *ents; /* per policy entity */
    int nents;
    int person;                 /* the person entity's index in the policy */
    int64_t plans_made;         /* wall clock (us) the plans were made at */
    gh_ratelimit_t *per_token;  /* requests per token; NULL: no limit */
    gh_ratelimit_t *per_client; /* failed authentications per client
                                   address; NULL: no limit */
    struct gh_steward *steward; /* made on the first steward action */
    struct gh_audit_key **audit_keys; /* api.audit.public.key */
    int naudit_keys;
    gh__api_feeder_t *feeder; /* the pull feed's thread (pull.h) */
    /* Pull-feed requests handed to the feeder and not yet completed: the
     * daemon stops once those the stopping feeder answered are sent. */
    atomic_int feeds_open;
    gh__api_auditq_t *auditq; /* the reads' audit writer (auditq.c) */
    /* Grid answers kept for api.cache.grid.ms (persons.c), shared by the
     * workers under cache_lock; in the main struct only. */
    pthread_mutex_t cache_lock;
    json_t *grid_cache;
    int64_t grid_cache_us; /* 0: nothing kept */
    char *openapi; /* api.openapi.file's text, served read-only; NULL: not
                      readable at start (503 not_configured) */
    size_t openapi_len;
};

/* An answer: status and JSON body (owned); Retry-After in seconds when
 * not 0. */
typedef struct gh__api_reply {
    unsigned status;
    json_t *body;
    unsigned retry_after;
} gh__api_reply_t;

/* An integer query parameter `name` in [lo, hi] into *v (untouched when
 * absent): 1, or 0 with r set to 400 invalid_parameter. */
int gh__api_int_param(struct MHD_Connection *conn, const char *name,
                      long long lo, long long hi, long long *v,
                      gh__api_reply_t *r);

/* Sets r to the error {"error": {"code", "message"}}; returns r. */
gh__api_reply_t *gh__api_error(gh__api_reply_t *r, unsigned status,
                               const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The members every API request's audit entry has: command, path,
 * method and token (`token_id`, may be NULL). New reference. */
json_t *gh__api_audit_body(const char *method, const char *url,
                           const char *token_id);

/* The audit writer of the reads (auditq.c): a thread with its own
 * connection committing the entries queued meanwhile in one transaction.
 * NULL with errstr if it cannot start. */
gh__api_auditq_t *gh__api_auditq_new(const char *conninfo, char *errstr,
                                     size_t errstr_size);
/* Writes what is queued, stops the thread, frees. NULL is a no-op. */
void gh__api_auditq_destroy(gh__api_auditq_t *q);
/* Appends an entry (kind, entity may be NULL, `body` borrowed: it gets
 * db_role) and returns once it is committed: GH_OK, or the error of its
 * transaction (nothing of it written). */
gh_err_t gh__api_auditq_put(gh__api_auditq_t *q, const char *kind,
                            const char *entity, json_t *body, char *errstr,
                            size_t errstr_size);

/* As gh__api_audit, for a read: the entry is committed through the audit
 * writer (with the others queued at the same moment) before this returns,
 * outside the caller's transaction. The answer may leave once it
 * returned GH_OK. */
gh_err_t gh__api_audit_read(gh_api_t *a, const char *kind, const char *entity,
                            const char *url, const gh_token_info_t *who,
                            const char *what, const char *why, json_t *extra,
                            char *errstr, size_t errstr_size);

/* A refusal in the audit log (kind refused) in a transaction of its own;
 * takes `body` (from gh__api_audit_body, with why). */
gh_err_t gh__api_audit_refused(PGconn *db, json_t *body, char *errstr,
                               size_t errstr_size);

/* A read or a refusal in the audit log (kind read or refused), in db's
 * open transaction, for a GET of `url` about `entity` (person, grid,
 * ...). `why` may be NULL (reads); `extra` (may be NULL, borrowed) holds
 * further members for the entry. */
gh_err_t gh__api_audit(PGconn *db, const char *kind, const char *entity,
                       const char *url, const gh_token_info_t *who,
                       const char *what, const char *why, json_t *extra,
                       char *errstr, size_t errstr_size);

/* Prepare the statements persons.c and views.c run on every lookup, on
 * a new connection. */
gh_err_t gh__api_persons_prepare(PGconn *db, char *err, size_t errsz);
gh_err_t gh__api_views_prepare(PGconn *db, char *err, size_t errsz);

/* The plan of the token's subscriber for policy entity `entity`; NULL
 * with err when the subscriber left the policy. Plans are remade a minute
 * after they were made, so a grant or an age() condition takes effect
 * within a minute, as in the hub. Borrowed from a. */
gh_policy_plan_t *gh__api_plan(gh_api_t *a, int entity, const char *subscriber,
                               char *err, size_t errsz);

/* Applies `pl` to the record set in a->ents[entity].rec: *out is the JSON
 * of the record as the subscriber receives it (new reference), or NULL
 * when the record is outside the subscriber's rows. */
gh_err_t gh__api_apply(gh_api_t *a, int entity, gh_policy_plan_t *pl,
                       json_t **out, char *err, size_t errsz);

/* A derived record of the views (entity_view: "grid", "household",
 * "building", "event") by id, as the token's subscriber receives it:
 * *out (new reference) or NULL when there is no such active record, the
 * policy has no such entity or the record is outside the subscriber's
 * rows. `raw` (may be NULL) receives the full record before the policy
 * (new reference, NULL with *out). */
gh_err_t gh__api_view(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                      const char *entity, const char *id, json_t **out,
                      json_t **raw, char *err, size_t errsz);

/* A record endpoint (/v1/grids/{code}, /v1/households/{id},
 * /v1/buildings/{id}, /v1/events/{id}): record `id` of view `entity`
 * into r. */
void gh__api_record(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                    const char *url, const char *entity, const char *id,
                    gh__api_reply_t *r);

/* GET /v1/persons?id_number= | ?phone= | ?name=&birth_date=: the
 * residents found, each as the token's subscriber receives them, with
 * their grid (path, staff and their phones) and household as it may see
 * them. */
void gh__api_persons(gh_api_t *a, PGconn *db, struct MHD_Connection *conn,
                     const gh_token_info_t *who, const char *url,
                     gh__api_reply_t *r);

/* The steward endpoints (/v1/steward/items..., POST
 * /v1/persons/{id}/split) into r; `body` is the request's body (POST; may
 * be NULL for GET), `len` its length. */
void gh__api_steward(gh_api_t *a, PGconn *db, struct MHD_Connection *conn,
                     const gh_token_info_t *who, const char *method,
                     const char *url, const char *body, size_t len,
                     gh__api_reply_t *r);

/* GET /v1/audit/entries and /v1/audit/verify into r. */
void gh__api_audit_log(gh_api_t *a, PGconn *db, struct MHD_Connection *conn,
                       const gh_token_info_t *who, const char *url,
                       gh__api_reply_t *r);

/* Loads api.audit.public.key into a (none set: none loaded). */
gh_err_t gh__api_audit_keys_load(gh_api_t *a, const gh_conf_t *conf,
                                 char *errstr, size_t errstr_size);
void gh__api_audit_keys_free(gh_api_t *a);

/* The limits api.rate.limit.* asks for, made in a (its state unlimited
 * before). */
void gh__api_limits_init(gh_api_t *a, const gh_conf_t *conf);

/* Frees the limiters of a (none made: nothing). */
void gh__api_limits_free(gh_api_t *a);

/* Before authentication: 1 and *r the 429 if the client's address has
 * spent its failed authentications, the first refusal of each second in
 * the audit log; else 0. */
int gh__api_client_limited(gh_api_t *a, struct MHD_Connection *conn, PGconn *db,
                           const char *method, const char *url,
                           gh__api_reply_t *r);

/* After an authentication failed: counts it against the client's
 * address. */
void gh__api_auth_failed(gh_api_t *a, struct MHD_Connection *conn);

/* After the token is verified: 1 and *r the 429 if `who` is over its
 * rate, as gh__api_client_limited; else 0. */
int gh__api_token_limited(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                          const char *method, const char *url,
                          gh__api_reply_t *r);

#endif
