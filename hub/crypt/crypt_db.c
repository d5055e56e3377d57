/* The hub database's side of encryption at rest: which index key its
 * blind indexes were made with (crypt_state, migration 008). */
#include <stdio.h>
#include <string.h>

#include "crypt.h"
#include "gridhub/pg.h"

gh_err_t gh_crypt_check_db(gh_crypt_t *c, PGconn *db, char *errstr,
                           size_t errstr_size) {
    char fp[17] = "none";
    if (c) gh_crypt_index_fingerprint(c, fp);
    /* A database that kept blocking keys before it knew of crypt_state
     * made them unkeyed. */
    const char *p[1] = {fp};
    gh_err_t e = gh_pg_exec_what(
        db,
        "INSERT INTO crypt_state (index_key) SELECT CASE WHEN EXISTS "
        "(SELECT 1 FROM person_block) THEN 'none' ELSE $1 END ON CONFLICT "
        "(one) DO NOTHING",
        1, p, "record the index key", errstr, errstr_size);
    if (e) return e;
    PGresult *r =
        gh_pg_query_what(db, "SELECT index_key FROM crypt_state", 0, NULL,
                         "read crypt_state", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    char stored[64];
    snprintf(stored, sizeof(stored), "%s",
             PQntuples(r) ? PQgetvalue(r, 0, 0) : "none");
    PQclear(r);
    if (!strcmp(stored, fp)) return GH_OK;
    if (!strcmp(stored, "none"))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "the hub database's blocking keys were made without "
                         "encryption keys, and crypt.key.file is now set: "
                         "keyed ones would find none of them. Start the hub "
                         "with crypt.key.file on an empty database (it "
                         "re-reads the department topics), see "
                         "docs/encryption.md");
    return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                     "the hub database's blocking keys were made with index "
                     "key %s, and %s: the index key of a hub database never "
                     "changes (docs/encryption.md)",
                     stored,
                     c ? "crypt.key.file holds another one"
                       : "crypt.key.file is not set");
}
