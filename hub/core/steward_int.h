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
    gh_resolver_t *resolver;
    int apart_max;
};

/* Runs a statement; the result (caller PQclear()s) or NULL with errstr. */
PGresult *gh_steward_q(gh_steward_t *s, const char *sql, int n,
                       const char *const *p, const char *what, char *errstr,
                       size_t errstr_size);

#endif
