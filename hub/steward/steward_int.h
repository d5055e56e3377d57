/* Internals shared by steward.c (reading) and steward_act.c (actions). */
#ifndef GH_HUB_STEWARD_INT_H
#define GH_HUB_STEWARD_INT_H

#include <libpq-fe.h>

#include "gridhub/avro.h"
#include "resolve.h"
#include "steward.h"

struct gh_steward {
    const gh_conf_t *conf;
    PGconn *db;
    gh_schemas_t *schemas;
    gh_serde_t *serde;
    gh_feed_t *feed;
    gh_resolver_t *resolver;
    int apart_max;
    char *token;      /* API token acting, or NULL (gh_steward_set_token) */
    char *subscriber; /* its subscriber */
    gh_steward_result_t last;
};

#endif
