/*
 * Incremental identity resolution in the hub database: the streaming side
 * of the matching engine (gridhub/match.h), shared by the hub's apply loop
 * and the steward commands.
 *
 * Given the source records that changed in a transaction (and, for steward
 * actions, persons to re-examine), gh_resolver_run():
 *  1. replaces the changed records' blocking keys and scored pairs (a
 *     changed holder of an ID number makes the records that borrow its
 *     address, gh_match_set_lend_addresses, changed records too);
 *  2. scores each changed record against the records sharing a blocking
 *     key with it (the same gh_match_score as `gridhub resolve`, with the
 *     holders' addresses lent as the batch lends them);
 *  3. loads every record of the persons involved (the changed records'
 *     persons and those they now link to), with the links kept from
 *     earlier batches and the stewards' constraints, and re-clusters them
 *     (gh_match_cluster, as `gridhub resolve` does: forced links first,
 *     kept-apart pairs and two valid IDs never joined, a record fitting
 *     two of them left alone);
 *  4. gives each cluster a person id: the oldest id among its records'
 *     persons, where a person split in two stays with the part holding its
 *     oldest record; the other part gets a new id; an id absorbed by a
 *     merge (or left without records) is retired, never reused;
 *  5. recomputes the golden records (golden.h), writing a new version
 *     for each person that changed and handing it to the feed (feed.h),
 *     which writes what each subscriber's policy gives it, and retired
 *     ids as gone;
 *  6. refreshes the steward queue for the persons involved.
 * Everything happens in the caller's transaction, so a crash leaves either
 * all of it or none.
 */
#ifndef GH_HUB_RESOLVE_H
#define GH_HUB_RESOLVE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "gridhub/error.h"
#include "gridhub/match.h"
#include "feed.h"
#include "golden.h"

typedef struct gh_resolver gh_resolver_t;

/* Property entries of the resolver (match.*, survivorship.*, steward.*)
 * for a component's table: `GH_RESOLVER_PROPS,` inside the table. */
extern const gh_conf_prop_t gh_resolver_own_props[];
#define GH_RESOLVER_PROPS                                                      \
    GH_MATCH_CONF_PROPS, GH_GOLDEN_CONF_PROPS,                                 \
        GH_CONF_INCLUDE_TABLE(gh_resolver_own_props)

typedef struct gh_resolve_stats {
    long long records;   /* changed records resolved */
    long long pairs;     /* pairs scored */
    long long links;     /* of which linked (incl. by ID) */
    long long reviews;   /* of which sent to review (incl. ID conflicts) */
    long long ambiguous; /* records left unlinked (counted per run that
                            clusters them): they fit two persons with
                            different valid IDs equally well */
    long long persons;   /* persons written (new version) */
    long long retired;   /* person ids retired (merged or emptied) */
    long long items;     /* steward items opened or refreshed */
    long long us[10];    /* time spent per step (1..10 above) */
} gh_resolve_stats_t;

/* `conf` (holding the resolver properties), `feed` and `view` (the full
 * person view schema) are borrowed and must outlive the resolver; feed
 * NULL writes no views. NULL with errstr on a bad configuration. */
gh_resolver_t *gh_resolver_new(const gh_conf_t *conf, gh_feed_t *feed,
                               const gh_schema_t *view, char *errstr,
                               size_t errstr_size);
void gh_resolver_destroy(gh_resolver_t *r);
/* The encryption keys of the resolver's feed (borrowed), or NULL. */
gh_crypt_t *gh_resolver_crypt(const gh_resolver_t *r);
/* Seals and opens with `crypt` (borrowed, outliving the resolver; NULL:
 * in clear) instead of the feed's keys: a resolver without a feed, in a
 * thread other than the feed's (a gh_crypt_t is not shared between
 * threads). */
void gh_resolver_use_crypt(gh_resolver_t *r, gh_crypt_t *crypt);

/* Loads term frequencies from the database (and, with match.em.on.start,
 * trains the model on a sample of its records). Call once per connection
 * before the first run. */
gh_err_t gh_resolver_prepare(gh_resolver_t *r, PGconn *db, char *errstr,
                             size_t errstr_size);

/* Takes the resolution lock alone for the caller's transaction (every
 * writer of persons' records and links holds it, alone or shared; see
 * docs/identity.md). */
gh_err_t gh_resolver_lock(PGconn *db, char *errstr, size_t errstr_size);

/* Takes the resolution lock for the caller's transaction, shared or alone,
 * and tells r's runs which: held shared, each run also locks the blocking
 * keys and persons it works on (its neighbourhood), so that several
 * transactions, of this process or of other instances, resolve at once
 * when their records share no key and no person (docs/scaling.md). Asked
 * for alone while held shared, it can deadlock with another transaction
 * doing the same: PostgreSQL fails one of them, which its caller retries. */
gh_err_t gh_resolver_lock_run(gh_resolver_t *r, PGconn *db, int shared,
                              char *errstr, size_t errstr_size);

/* Whether r's runs lock their neighbourhoods (the last
 * gh_resolver_lock_run). */
int gh_resolver_shared(const gh_resolver_t *r);

/* Resolves `nrecs` changed source records (rec_id; deleted ones too) and
 * re-examines `npersons` persons, inside the caller's transaction (which
 * must hold gh_resolver_lock or gh_resolver_lock_run). Arrays are borrowed.
 * `st` may be NULL (counts are added to it otherwise). */
gh_err_t gh_resolver_run(gh_resolver_t *r, PGconn *db, const int64_t *recs,
                         size_t nrecs, const char *const *persons,
                         size_t npersons, gh_resolve_stats_t *st, char *errstr,
                         size_t errstr_size);

/* Keeps the term frequencies right when a record's name changes: call with
 * the old normalized name (delta -1) and the new one (+1). */
void gh_resolver_count_name(gh_resolver_t *r, const char *n_name,
                            const char *n_pinyin, int delta);

/* The hub's order for a batch: identity resolution writes persons (and
 * notes them, gh_resolver_publish_later) and commits; then, in a
 * transaction under the views lock, the views derive their attributes
 * from the other entities (hub/grid), and every person noted or whose
 * attributes changed is published once, with them. With deferral on,
 * gh_resolver_run keeps the persons it writes or retires instead of
 * putting them into the feed, and never touches the feed (which may be
 * another thread's). Resets what is kept. */
void gh_resolver_defer_feed(gh_resolver_t *r, int on);

/* Takes the views lock for the caller's transaction: every writer of the
 * subscriber feeds (feed_state, outbox, their audit entries, the derived
 * views) holds it, so two never publish one record at once. A
 * transaction needing both locks takes the resolution lock first; one
 * holding this one never asks for the resolution lock. The persons'
 * attributes lock (hub/grid/grid_view.c) comes after both. */
gh_err_t gh_resolver_lock_views(PGconn *db, char *errstr, size_t errstr_size);

/* Puts into the feed and flushes, in the caller's transaction under the
 * views lock, the persons noted to publish by transaction `xid` (its
 * pg_current_xact_id, as text: the notes of gh_grid_attributes_send),
 * taking those notes (others of the same persons stay noted). An active
 * one goes out with its version unless that version went out already
 * (then with a new one: one version, one record; migration 026); one
 * whose row another transaction holds is noted again instead; a retired
 * one goes as a tombstone. *n (may be NULL) receives how many were put. */
gh_err_t gh_resolver_publish_noted(gh_resolver_t *r, PGconn *db,
                                   const char *xid, long *n, char *errstr,
                                   size_t errstr_size);
/* Forgets the persons kept (the transaction rolled back). */
void gh_resolver_publish_discard(gh_resolver_t *r);
/* Leaves the persons written since the last call, and those in `changed`
 * (a PostgreSQL text[] literal; NULL or "{}": none), to a later
 * publication (of this instance or another): noted in the hub
 * database (view_dirty, kind 'publish') in the caller's transaction, so a
 * crash loses none of them. Forgets what was kept. */
gh_err_t gh_resolver_publish_later(gh_resolver_t *r, PGconn *db,
                                   const char *changed, char *errstr,
                                   size_t errstr_size);

/* The feed's source of persons (gh_feed_source_cb, ctx = the resolver):
 * a page of persons in id order, active ones put, retired ones gone. */
gh_err_t gh_resolver_feed_page(void *ctx, gh_feed_t *f, PGconn *db, int entity,
                               const char *after, int limit, char **last,
                               int *n, char *errstr, size_t errstr_size);

/* The key that finds the records of a resident by ID number: the keyed
 * "id17" blocking key (person_block.block_key) of `raw_id` as a department
 * typed it, normalized as records' IDs are (a legacy 15-digit ID
 * upgraded, a wrong check character tolerated). 0 when raw_id gives no
 * ID. Lets rows of other entities (grid staff, household members) be
 * linked to golden persons without storing the ID in clear. */
uint64_t gh_resolver_id_key(const gh_resolver_t *r, const char *raw_id);
/* The same under crypt `c` (NULL: none), for readers without a resolver
 * (the API's lookup by ID number). */
uint64_t gh_id_key(gh_crypt_t *c, const char *raw_id);
/* The keyed blocking key of `kind` ("pinyin+birth", "phone", ...; see
 * gh_match_block_key) of a record holding only what a searcher typed
 * (`raw`, normalized as records are), under crypt `c`: the key that finds
 * the records the matcher would pair with it. 0 when raw lacks the kind's
 * fields. */
uint64_t gh_search_key(gh_crypt_t *c, const char *kind,
                       const gh_match_raw_t *raw);

/* The model, for scoring outside a run (steward evidence); borrowed. */
const struct gh_match_model *gh_resolver_model(const gh_resolver_t *r);

#endif
