#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"

/* An arbitrary constant: the advisory lock that serialises migrations. */
#define GH_MIGRATE_LOCK 7263540131LL

gh_err_t gh_migrate_apply(PGconn *c, char *errstr, size_t errstr_size) {
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock(%lld)",
             GH_MIGRATE_LOCK);
    gh_err_t e = gh_pg_exec(c, sql, errstr, errstr_size);
    if (e) return e;
    e = gh_pg_exec(c,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version int PRIMARY KEY, name text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   errstr, errstr_size);
    int current = 0;
    if (!e) {
        PGresult *r = gh_pg_query(
            c, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0,
            NULL, errstr, errstr_size);
        if (!r)
            e = GH_ERR_PG;
        else {
            current = atoi(PQgetvalue(r, 0, 0));
            PQclear(r);
        }
    }
    for (const gh_migration_t *m = gh_migrations; !e && m->sql; m++) {
        if (m->version <= current) continue;
        e = gh_pg_exec(c, "BEGIN", errstr, errstr_size);
        if (!e) e = gh_pg_exec(c, m->sql, errstr, errstr_size);
        if (!e) {
            char ver[16];
            snprintf(ver, sizeof(ver), "%d", m->version);
            const char *p[2] = {ver, m->name};
            PGresult *r =
                gh_pg_query(c,
                            "INSERT INTO schema_migrations (version, name) "
                            "VALUES ($1, $2)",
                            2, p, errstr, errstr_size);
            if (!r) e = GH_ERR_PG;
            PQclear(r);
        }
        if (!e) e = gh_pg_exec(c, "COMMIT", errstr, errstr_size);
        if (e) {
            char ignore[128];
            gh_pg_exec(c, "ROLLBACK", ignore, sizeof(ignore));
            char msg[1024];
            snprintf(msg, sizeof(msg), "%s", errstr);
            gh_seterr(errstr, errstr_size, e, "migration %s failed: %s",
                      m->name, msg);
        } else {
            gh_log_info("hub", "applied migration %s", m->name);
        }
    }
    snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%lld)",
             GH_MIGRATE_LOCK);
    char ignore[128];
    gh_pg_exec(c, sql, ignore, sizeof(ignore));
    return e;
}
