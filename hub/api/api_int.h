/* Internal to hub/api: the server's state and what its endpoints share. */
#ifndef GH_API_INT_H
#define GH_API_INT_H

#include <jansson.h>
#include <libpq-fe.h>

#include "crypt.h"
#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "policy.h"
#include "server.h"
#include "token.h"
#include "view.h"

struct gh_api {
    struct MHD_Daemon *d;
    char *conninfo;
    char *url;
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
