/*
 * Applying department change events to the hub database, idempotently.
 *
 * Every source row carries the position (lsn, seq) of the event that last
 * wrote it; an event at or before that position is a replay or a reordered
 * older event and changes nothing. A TRUNCATE sets a per-table watermark
 * below which every event of that table is stale. Each applied change
 * recomputes the golden person of the affected match key(s) and, if the
 * person changed, writes one outbox row per subscriber in the same
 * transaction: what subscribers see can never disagree with hub state.
 *
 * Golden rule for now (real identity resolution is a later issue): records
 * whose ID number normalizes to a valid 18-character ID share the person
 * of that ID; any other record is a person of its own. Per field, the most
 * recently changed source record with a non-null value wins.
 */
#ifndef GH_HUB_APPLY_H
#define GH_HUB_APPLY_H

#include <avro.h>
#include <libpq-fe.h>

#include "gridhub/avro.h"
#include "gridhub/error.h"

typedef struct gh_apply gh_apply_t;

/* `db`, `serde` and `view` are borrowed. subscribers: NULL-terminated
 * array of names, copied; view topics are "<view_prefix>.<name>.person". */
gh_apply_t *gh_apply_new(PGconn *db, gh_serde_t *serde, const gh_schema_t *view,
                         const char *const *subscribers,
                         const char *view_prefix);
void gh_apply_destroy(gh_apply_t *a);
/* Re-targets to a new connection after a reconnect. */
void gh_apply_set_conn(gh_apply_t *a, PGconn *db);

/* Applies one decoded person change envelope inside the caller's
 * transaction. GH_ERR_PG / GH_ERR_PG_CONNECT on database errors (the caller
 * rolls back to its savepoint); GH_ERR_SCHEMA if the envelope is not a
 * person envelope. *applied (may be NULL) is 0 for a skipped stale event. */
gh_err_t gh_apply_person_event(gh_apply_t *a, avro_value_t *env, int *applied,
                               char *errstr, size_t errstr_size);

#endif
