/* Shared by the `gridhub audit` command's files. */
#ifndef GH_CLI_AUDIT_H
#define GH_CLI_AUDIT_H

#include <libpq-fe.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"

/* `gridhub audit bench` (cmd_audit_bench.c): prints figures to stdout. */
gh_err_t gh_cli_audit_bench(const gh_conf_t *conf, PGconn *db, char *err,
                            size_t errsz);

#endif
