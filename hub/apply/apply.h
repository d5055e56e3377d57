/*
 * Applying department change events to the hub database, idempotently.
 *
 * Every source row carries the position (lsn, seq) of the event that last
 * wrote it; an event at or before that position is a replay or a reordered
 * older event and changes nothing. A TRUNCATE sets a per-table watermark
 * below which every event of that table is stale. Each applied change
 * stores the raw values and their normalized copies (for matching) and
 * remembers the record; gh_apply_flush() then resolves all the records the
 * batch changed at once (resolve.h), in the same transaction, so what
 * subscribers see can never disagree with hub state.
 */
#ifndef GH_HUB_APPLY_H
#define GH_HUB_APPLY_H

#include <avro.h>
#include <libpq-fe.h>

#include "gridhub/avro.h"
#include "gridhub/error.h"
#include "resolve.h"

typedef struct gh_apply gh_apply_t;

/* `db`, `resolver` and `schemas` (whose entity envelopes the events were
 * decoded to) are borrowed. */
gh_apply_t *gh_apply_new(PGconn *db, gh_resolver_t *resolver,
                         const gh_schemas_t *schemas);
void gh_apply_destroy(gh_apply_t *a);
/* Re-targets to a new connection after a reconnect (forgetting the open
 * batch). */
void gh_apply_set_conn(gh_apply_t *a, PGconn *db);

/* Applies one decoded change envelope of `entity` ("person", "grid",
 * "household_member", ...: the entity of the topic it came from, never
 * what the message says) inside the caller's transaction. GH_ERR_PG /
 * GH_ERR_PG_CONNECT on database errors (the caller rolls back to its
 * savepoint); GH_ERR_SCHEMA if the envelope is not one of the entity's.
 * *applied (may be NULL) is 0 for a skipped stale event. */
gh_err_t gh_apply_event(gh_apply_t *a, avro_value_t *env, const char *entity,
                        int *applied, char *errstr, size_t errstr_size);

/* Applies n decoded envelopes (in their order; envs[i] of entity[i])
 * set-based, inside the caller's transaction. status[i]: 1 applied, 0
 * skipped (replay, older than a truncate), -1 rejected — why[i] (caller
 * frees) says why, for a dead letter. Returns GH_OK, or an error after
 * which nothing of the batch must be kept (the caller rolls back to a
 * savepoint taken before and applies the envelopes one by one with
 * gh_apply_event, which isolates a failing one): GH_ERR_PG /
 * GH_ERR_PG_CONNECT, or GH_ERR_INVALID_ARG when the batch holds a
 * TRUNCATE. */
gh_err_t gh_apply_batch(gh_apply_t *a, avro_value_t *envs,
                        const char *const *entity, int n, int *status,
                        char **why, char *errstr, size_t errstr_size);

/* Records that the snapshot of `table` (of department `dept`) into the
 * topic of `entity`, taken at source position `lsn`, has ended on
 * partition `part` of `parts`; when all have, marks deleted every live
 * record of that entity and table still older than the snapshot (the
 * source deleted it while its events were lost) and queues persons for
 * resolution. *swept (may be NULL) receives how many. Inside the caller's
 * transaction, after the batch's events. */
gh_err_t gh_apply_snapshot_marker(gh_apply_t *a, const char *dept,
                                  const char *entity, const char *table,
                                  int64_t lsn, int part, int parts, long *swept,
                                  char *errstr, size_t errstr_size);

/* Resolves every record changed since the last flush, in the caller's
 * transaction, under the resolution lock as the caller took it
 * (gh_resolver_lock_run; taken again, advisory locks nest). `st` may be
 * NULL. */
gh_err_t gh_apply_flush(gh_apply_t *a, gh_resolve_stats_t *st, char *errstr,
                        size_t errstr_size);
/* Non-zero if the open batch (since the last flush or discard) changed
 * rows of `entity` (not persons: those go to resolution). */
int gh_apply_touched(const gh_apply_t *a, const char *entity);

/* Forgets the batch's changed records (after a rollback). */
void gh_apply_discard(gh_apply_t *a);

#endif
