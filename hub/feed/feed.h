/*
 * Per-subscriber feeds: the hub's views made under the access policy
 * (docs/policy.md, "Enforcement").
 *
 * The writers of the hub (the apply loop's resolver, steward commands,
 * resync) hand the feed each record that changed as its full view value;
 * at flush, inside the writer's transaction, the feed decides for every
 * subscriber whether the record is in its view, transforms and encodes it
 * with the subscriber's schema, and compares the result with what the
 * subscriber last received (table feed_state): only differences reach the
 * outbox — a new or changed record under its pseudonym, or a tombstone
 * when the record left the view.
 *
 * The feed also follows the policy over time (gh_feed_tick): the policy
 * and key files are re-read when they change, and grants starting or
 * lapsing and the date (for age()) recompile the plans. A subscriber
 * whose plan changed is swept: every record re-evaluated, page by page
 * (gh_feed_sweep_step), between the stream's batches. Table feed_plan
 * records the plan each subscriber is materialized with, so a sweep cut
 * short by a crash starts again.
 */
#ifndef GH_FEED_H
#define GH_FEED_H

#include <avro.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "gridhub/error.h"
#include "crypt.h"
#include "policy.h"

typedef struct gh_feed gh_feed_t;

extern const gh_conf_prop_t gh_feed_own_props[];
/* The feed's properties (policy.*, view.topic.prefix) for a component's
 * table: `GH_FEED_PROPS,` inside it. */
#define GH_FEED_PROPS GH_CONF_INCLUDE_TABLE(gh_feed_own_props)

/* Loads policy.file and policy.keys.file against the view schemas of `set`
 * and compiles the plans for now. `set` and `serde` are borrowed and must
 * outlive the feed (derived schemas are added to the set). NULL with every
 * error in errstr. */
gh_feed_t *gh_feed_new(const gh_conf_t *conf, gh_schemas_t *set,
                       gh_serde_t *serde, char *errstr, size_t errstr_size);
void gh_feed_destroy(gh_feed_t *f);

/* The encryption keys (crypt.key.file; docs/encryption.md), re-read with
 * the policy files; NULL when not configured (values stored in clear).
 * Borrowed: lives as long as the feed. */
gh_crypt_t *gh_feed_crypt(const gh_feed_t *f);

/* The policy in force (borrowed: valid until the next gh_feed_tick). */
const gh_policy_t *gh_feed_policy(const gh_feed_t *f);
/* The index of an entity ("person"), or -1. */
int gh_feed_entity(const gh_feed_t *f, const char *name);
/* `<view.topic.prefix>.<subscriber>.<entity>` (borrowed). */
const char *gh_feed_topic(const gh_feed_t *f, int sub, int entity);

/* ---- Writing, inside the caller's transaction ---------------------------
 */

/* A record of `entity` that may have changed: its id, version and full
 * view value (borrowed for the call: evaluated and encoded at once). */
gh_err_t gh_feed_put(gh_feed_t *f, int entity, const char *id, int64_t version,
                     avro_value_t *full, char *errstr, size_t errstr_size);
/* A record that no longer exists (a retired id): every subscriber that
 * holds it gets a tombstone. */
void gh_feed_gone(gh_feed_t *f, int entity, const char *id, int64_t version);
/* Compares what was put with feed_state and writes the differences to the
 * outbox and feed_state. *written (may be NULL) receives the outbox rows
 * written. Before writing, checks that feed_plan holds the plans this feed
 * runs (GH_ERR_CONFIG otherwise: another process materializes another
 * policy version). */
gh_err_t gh_feed_flush(gh_feed_t *f, PGconn *db, long *written, char *errstr,
                       size_t errstr_size);
/* Forgets what was put since the last flush (the transaction rolled back). */
void gh_feed_discard(gh_feed_t *f);

/* ---- Following the policy ------------------------------------------------
 */

/* Re-reads the policy and key files if they changed (at most every
 * policy.check.interval.ms) and recompiles the plans if the files, a
 * grant's start or end, or the date (for age()) changed anything.
 * *changed = 1 if some plan did: call gh_feed_sync next. A file that no
 * longer loads is logged with its error and the running policy stays. */
gh_err_t gh_feed_tick(gh_feed_t *f, int64_t now_us, int *changed, char *errstr,
                      size_t errstr_size);

/* Brings feed_plan in line with the plans (in the caller's transaction):
 * every subscriber whose recorded plan differs or whose sweep did not end
 * is queued for a sweep; a subscriber that left the policy gets a
 * tombstone for everything it holds. For the hub only (one writer of
 * feed_plan). *sweeps (may be NULL) receives the number queued. */
gh_err_t gh_feed_sync(gh_feed_t *f, PGconn *db, int *sweeps, char *errstr,
                      size_t errstr_size);

/* Re-sends subscriber `sub`'s whole view (gridhub resync view): queues a
 * sweep of it that writes every record and tombstone again. */
gh_err_t gh_feed_resend(gh_feed_t *f, PGconn *db, int sub, char *errstr,
                        size_t errstr_size);

/* Reads a page of records of `entity` after id `after` ("" = the first),
 * in id order, putting each into the feed (gh_feed_put, or gh_feed_gone
 * for a retired one). *last receives the last id read (the caller's to
 * free; NULL if none), *n how many. */
typedef gh_err_t(gh_feed_source_cb)(void *ctx, gh_feed_t *f, PGconn *db,
                                    int entity, const char *after, int limit,
                                    char **last, int *n, char *errstr,
                                    size_t errstr_size);

/* 1 while a sweep is queued. */
int gh_feed_sweeping(const gh_feed_t *f);
/* One page of the queued sweeps, in the caller's transaction (which must
 * hold the resolution lock, like every writer of persons): reads a page
 * through `source`, flushes it for the subscribers being swept, and marks
 * their sweep done in feed_plan when the entity's records are exhausted.
 * *rows (may be NULL) receives the outbox rows written. */
gh_err_t gh_feed_sweep_step(gh_feed_t *f, PGconn *db, gh_feed_source_cb *source,
                            void *ctx, long *rows, char *errstr,
                            size_t errstr_size);
/* The sweep's progress is only kept once its transaction committed: call
 * after a rollback so the page is read again. */
void gh_feed_sweep_rewind(gh_feed_t *f);

#endif
