/*
 * Versioned hub-database migrations, compiled into the binary from
 * hub/migrations/NNN_name.sql (see ops/cmake/embed_migrations.cmake).
 */
#ifndef GH_HUB_MIGRATE_H
#define GH_HUB_MIGRATE_H

#include <libpq-fe.h>

#include "gridhub/error.h"

typedef struct gh_migration {
    int version;
    const char *name;
    const char *sql;
} gh_migration_t;

/* Terminated by {0, NULL, NULL}; ascending by version. */
extern const gh_migration_t gh_migrations[];

/* Applies every migration newer than the database's recorded version, each in
 * its own transaction, under an advisory lock so concurrent hub instances
 * starting together do not race. */
gh_err_t gh_migrate_apply(PGconn *conn, char *errstr, size_t errstr_size);

#endif
