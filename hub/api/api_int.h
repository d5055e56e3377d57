/* Internal to hub/api: the server's state and what its endpoints share. */
#ifndef GH_API_INT_H
#define GH_API_INT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "crypt.h"
#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "policy.h"
#include "ratelimit.h"
#include "server.h"
#include "token.h"
#include "view.h"

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
    char *conninfo;
    char *url;
    gh__api_tls_t tls; /* kept until stop: libmicrohttpd borrows it */
    /* Everything below is used by MHD's one polling thread only. */
    PGconn *db;
    gh_schemas_t *schemas;
    gh_policy_t *policy;
    gh_policy_keys_t *keys;
    gh_crypt_t *crypt; /* NULL: values are stored in clear */
    gh_view_t *view;   /* the full person view */
    gh_policy_rec_t *rec;
    gh_policy_plan_t **plans; /* per subscriber, made on first use */
    int person;               /* the person entity's index in the policy */
};

/* An answer: status and JSON body (owned). */
typedef struct gh__api_reply {
    unsigned status;
    json_t *body;
} gh__api_reply_t;

/* Sets r to the error {"error": {"code", "message"}}; returns r. */
gh__api_reply_t *gh__api_error(gh__api_reply_t *r, unsigned status,
                               const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A read or a refusal in the audit log (kind read or refused), in db's
 * open transaction. `why` may be NULL (reads). */
gh_err_t gh__api_audit(PGconn *db, const char *kind, const char *method,
                       const char *url, const gh_token_info_t *who,
                       const char *what, const char *why, char *errstr,
                       size_t errstr_size);

/* GET /v1/persons?id_number=ID: the residents holding the ID, each as the
 * token's subscriber receives it on its topic. */
void gh__api_persons(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                     const char *url, const char *id_number,
                     gh__api_reply_t *r);

#endif
