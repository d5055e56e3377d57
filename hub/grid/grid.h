/*
 * The shared grid hierarchy (docs/grid.md).
 *
 * Each department divides the city its own way. One division is the
 * reference (grid.reference.department, 综治 by default): its grid rows
 * make the hierarchy city -> district -> sub-district -> community ->
 * grid. Every other department's division is kept unit by unit and placed
 * in the reference through its crosswalk (grid.crosswalks); what cannot
 * be placed (a unit no crosswalk knows, a unit that maps to two grids, a
 * crosswalk naming a grid the reference lacks) is listed in grid_issue
 * for stewards rather than dropped. Grid staff of every department make
 * each grid's roster, checked against "1+1+N" (a grid leader and a
 * full-time member in every level-2 grid).
 *
 * Everything is derived from source_row in the caller's transaction: a
 * batch that changed grid or grid_staff rows refreshes it before it
 * commits, so the hierarchy never disagrees with the rows it came from.
 */
#ifndef GH_HUB_GRID_H
#define GH_HUB_GRID_H

#include <libpq-fe.h>
#include <stdio.h>

#include "feed.h"
#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "gridhub/error.h"

typedef struct gh_grid gh_grid_t;

/* grid.reference.department and grid.crosswalks, for the hub's table. */
extern const gh_conf_prop_t gh_grid_props[];

/* Reads the configured crosswalk files now. NULL with errstr naming the
 * file and line of a bad one (or the list element that is not
 * department:file). `conf` is borrowed for the call. Owned by the
 * caller. */
gh_grid_t *gh_grid_new(const gh_conf_t *conf, char *errstr, size_t errstr_size);
void gh_grid_destroy(gh_grid_t *g);

/* Replaces the crosswalks stored in the hub database with the configured
 * ones and refreshes everything, in the caller's transaction (at the start
 * of a session: the files may have changed). */
gh_err_t gh_grid_sync(gh_grid_t *g, PGconn *db, char *errstr,
                      size_t errstr_size);

/* Recomputes the hierarchy, the divisions, the rosters and the issues
 * from source_row, in the caller's transaction. */
gh_err_t gh_grid_refresh(gh_grid_t *g, PGconn *db, char *errstr,
                         size_t errstr_size);

/* ---- Subscriber views (docs/grid.md, "Subscriber views") --------------
 *
 * Grids (with staff and counts over their subtree) and grid events are
 * kept in entity_view and published through the feed like persons. Each
 * is refreshed when what it is made of changes: triggers on person and
 * source_row note the persons, ID keys, grid codes and events a
 * statement touched (view_dirty), and the refresh takes the notes in the
 * same transaction. Counts are kept per grid code (grid_tally) and added
 * up along the hierarchy, so a move recounts two codes and their
 * ancestors, not the city. */

/* Takes the view schemas (gridhub.view.Grid, gridhub.view.Event) from
 * `set` (borrowed; must outlive g). A schema the set lacks leaves its
 * views kept but not published. */
gh_err_t gh_grid_use_views(gh_grid_t *g, const gh_schemas_t *set, char *errstr,
                           size_t errstr_size);

/* The time the view refreshes below spent so far, in microseconds, per
 * step: [0] buildings, [1] person attributes (their transaction's wall
 * time, beside the others'), [2] grids, events and households, [3] the
 * feed's flushes of their records. */
enum { GH_GRID_NTIMES = 4 };
void gh_grid_times(const gh_grid_t *g, long long us[GH_GRID_NTIMES]);

/* The views of what was noted since they were last made. Every record
 * whose body changed is put into `f` (may be NULL: kept only) and flushed,
 * in the caller's transaction (under the views lock); *changed (may be
 * NULL) has how many changed added. The notes wait in the database until
 * a call takes them, so the caller can make views once for many batches.
 *
 * gh_grid_buildings: the building records noted, placed and linked anew;
 * the residents of the buildings concerned noted for their attributes (a
 * resident's current grid follows their building), so it runs, and
 * commits, before the attributes are derived. */
gh_err_t gh_grid_buildings(gh_grid_t *g, PGconn *db, gh_feed_t *f,
                           long *changed, char *errstr, size_t errstr_size);

/* gh_grid_attributes_send: the persons' attributes derived anew, under
 * the attributes lock, in a transaction of their own on `adb` (a
 * connection of the caller's beside the views', idle), or with `in_tx` in
 * the transaction `adb` has open; sent without waiting, so the caller
 * makes the other views meanwhile on its other connection: those whose
 * records or ID-keyed rows changed; their grids and the households they
 * head noted. Those whose attributes changed are noted to publish under
 * the transaction's id; with `publish_max` >= 0 so are the persons already
 * noted to publish, taken in the same snapshot (up to publish_max of them;
 * 0: all), so that a person goes out with the attributes of every batch
 * that noted it, and every note to publish of those whose attributes
 * changed (each then goes out once, with what all its notes stood for).
 * gh_grid_attributes_finish waits for it (one call after each successful
 * send, always, with the same `in_tx`) and, without `in_tx`, commits it
 * (rolled back on failure; with `in_tx` the caller ends its transaction):
 * `xid` receives the transaction's id, for the caller to publish the
 * persons noted under it (gh_resolver_publish_noted); *changed how many
 * persons' attributes changed, *taken how many persons' notes to publish
 * it took within publish_max. On failure xid is "". */
enum { GH_GRID_XID_LEN = 32 };
gh_err_t gh_grid_attributes_send(gh_grid_t *g, PGconn *adb, int in_tx,
                                 long publish_max, char *errstr,
                                 size_t errstr_size);
gh_err_t gh_grid_attributes_finish(gh_grid_t *g, PGconn *adb, int in_tx,
                                   char xid[GH_GRID_XID_LEN], long *changed,
                                   long *taken, char *errstr,
                                   size_t errstr_size);

/* gh_grid_aggregates: the event and household records noted, and with
 * `grids` the grids (without, their notes stay: a catch-up holding its
 * persons back holds the grids that count them too). */
gh_err_t gh_grid_aggregates(gh_grid_t *g, PGconn *db, gh_feed_t *f, int grids,
                            long *changed, char *errstr, size_t errstr_size);

/* After gh_grid_aggregates, in the same transaction, once the attributes
 * derived beside it are committed (gh_grid_attributes_finish): the
 * members of the household records whose links moved noted for their
 * attributes, but for those whose attributes already name the household
 * (migration 031). Without this call the aggregates' notes of moved
 * records ('hmember') would be committed unread and wait for the next
 * round's call. */
gh_err_t gh_grid_household_members(gh_grid_t *g, PGconn *db, char *errstr,
                                   size_t errstr_size);

/* A stored entity_view record (`body`, the JSON text of its body, with
 * its version and updated_at in microseconds) as the view record of
 * schema `s`: filled into `val`, and, if `record` is not NULL, as JSON
 * (new reference). GH_ERR_SCHEMA naming `entity` and `id` when the body
 * is not an object or does not fit the schema. */
gh_err_t gh_grid_view_fill(const gh_schema_t *s, const char *entity,
                           const char *id, const char *body, int64_t version,
                           int64_t updated_us, avro_value_t *val,
                           json_t **record, char *errstr, size_t errstr_size);

/* gh_feed_source_cb over entity_view for the grid and event entities
 * (ctx: the gh_grid_t). */
gh_err_t gh_grid_view_page(void *ctx, gh_feed_t *f, PGconn *db, int entity,
                           const char *after, int limit, char **last, int *n,
                           char *errstr, size_t errstr_size);

/* Recounts every grid from the hub's tables, deriving the residents'
 * attributes afresh, and compares with the grid records published:
 * prints each difference (and grids missing or left over) and a summary.
 * *mismatches (may be NULL) receives how many differences. */
gh_err_t gh_grid_recount(PGconn *db, FILE *out, long *mismatches, char *errstr,
                         size_t errstr_size);

/* ---- reports (`gridhub grid`) ------------------------------------------ */

/* One grid as a subscriber or steward would look it up: path, level,
 * roster with roles and linked persons, the 1+1+N verdict, the other
 * departments' units placed in it, and its counts. GH_ERR_NOT_FOUND if
 * the reference has no such grid. */
gh_err_t gh_grid_show(PGconn *db, FILE *out, const char *code, char *errstr,
                      size_t errstr_size);

/* The 1+1+N check over every level-2 grid: prints each failing grid and
 * what it lacks; *failing (may be NULL) receives how many fail. */
gh_err_t gh_grid_check(PGconn *db, FILE *out, long *failing, char *errstr,
                       size_t errstr_size);

/* The golden household `id` (H...), or those person `id` (P...) heads or
 * is a member of: each department's record of it and its members as
 * golden persons with their relation per department. GH_ERR_NOT_FOUND if
 * none. */
gh_err_t gh_grid_household(PGconn *db, FILE *out, const char *id, char *errstr,
                           size_t errstr_size);

/* The golden building (standard address) `id` — a standard address code,
 * a golden id, or one department's record as department:key — with each
 * department's record of it and the grid it is in (the finest any record
 * gives). GH_ERR_NOT_FOUND if none. */
gh_err_t gh_grid_building(PGconn *db, FILE *out, const char *id, char *errstr,
                          size_t errstr_size);

/* Lists grid_issue; *n (may be NULL) receives how many. */
gh_err_t gh_grid_issues(PGconn *db, FILE *out, long *n, char *errstr,
                        size_t errstr_size);

#endif
