/*
 * The notes views are made from (view_dirty, migration 025) and the two
 * locks around them (docs/scaling.md): a batch commits its resolution
 * and notes under the resolution lock, and the views are made from the
 * notes in another transaction under the views lock. Real PostgreSQL,
 * three sessions.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"
#include "gridhub/util.h"
#include "harness.h"
#include "migrate.h"

/* From hub/identity/resolve.h, which cannot be included here: its feed.h
 * includes "policy.h", and the tests' own tests/lib/policy.h comes first
 * on their include path. */
gh_err_t gh_resolver_lock(PGconn *db, char *errstr, size_t errstr_size);
gh_err_t gh_resolver_lock_views(PGconn *db, char *errstr, size_t errstr_size);
typedef struct gh_resolver gh_resolver_t;
gh_resolver_t *gh_resolver_new(const void *conf, void *feed, const void *view,
                               char *errstr, size_t errstr_size);
void gh_resolver_destroy(gh_resolver_t *r);
gh_err_t gh_resolver_publish_noted(gh_resolver_t *r, PGconn *db,
                                   const char *xid, long *n, char *errstr,
                                   size_t errstr_size);
/* From hub/grid/grid.h, likewise. */
typedef struct gh_grid gh_grid_t;
extern const gh_conf_prop_t gh_grid_props[];
gh_grid_t *gh_grid_new(const gh_conf_t *conf, char *errstr, size_t errstr_size);
void gh_grid_destroy(gh_grid_t *g);
gh_err_t gh_grid_attributes_send(gh_grid_t *g, PGconn *adb, int in_tx,
                                 long publish_max, char *errstr,
                                 size_t errstr_size);
gh_err_t gh_grid_attributes_finish(gh_grid_t *g, PGconn *adb, int in_tx,
                                   char xid[32], long *changed, long *taken,
                                   char *errstr, size_t errstr_size);

static char *g_db;
static PGconn *g_c[3];

static void notes_fini(void) {
    for (int i = 0; i < 3; i++) {
        if (g_c[i]) PQfinish(g_c[i]);
        g_c[i] = NULL;
    }
    gh_test_drop_db(g_db);
    free(g_db);
    g_db = NULL;
}

static void notes_init(void) {
    g_db = gh_test_create_db("notes");
    for (int i = 0; i < 3; i++)
        g_c[i] = gh_test_pg_connect(g_db);
    char err[512];
    cr_assert_eq(gh_migrate_apply(g_c[0], err, sizeof(err)), GH_OK, "%s", err);
}

TestSuite(notes, .init = notes_init, .fini = notes_fini, .timeout = 60);

/* A resolver (r) notes person P1 while P1's note from an earlier batch is
 * still there, and a view refresh (v) takes the notes before the resolver
 * commits. The refresh takes the earlier note only; the resolver's own
 * stays for the next refresh. Keyed by (kind, key) alone, the resolver's
 * note merged into the earlier one and the refresh deleted it: the change
 * would never be published. */
Test(notes, a_note_outlives_a_refresh_that_began_before_its_commit) {
    PGconn *r = g_c[0], *v = g_c[1];
    gh_test_exec(r, "INSERT INTO view_dirty SELECT 'publish', 'P1'");
    gh_test_exec(r, "BEGIN; INSERT INTO view_dirty SELECT 'publish', 'P1' "
                    "ON CONFLICT DO NOTHING");
    cr_assert_eq(gh_test_count(v, "WITH d AS (DELETE FROM view_dirty WHERE "
                                  "kind = 'publish' RETURNING key) SELECT "
                                  "count(*) FROM d"),
                 1, "the refresh takes the committed note");
    gh_test_exec(r, "COMMIT");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_dirty WHERE "
                                  "kind = 'publish' AND key = 'P1'"),
                 1, "the resolver's note is left for the next refresh");
    /* Within one transaction a key is noted once. */
    gh_test_exec(r, "BEGIN; INSERT INTO view_dirty SELECT 'grid', g FROM "
                    "(VALUES ('G1'), ('G1'), ('G2')) x(g) ON CONFLICT DO "
                    "NOTHING; INSERT INTO view_dirty SELECT 'grid', 'G1' ON "
                    "CONFLICT DO NOTHING; COMMIT");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_dirty WHERE "
                                  "kind = 'grid'"),
                 2);
}

/* The locks are two: views are made while a batch resolves, and two
 * makers of views exclude each other. */
Test(notes, views_lock_beside_the_resolution_lock) {
    char err[512];
    gh_test_exec(g_c[0], "BEGIN");
    cr_assert_eq(gh_resolver_lock(g_c[0], err, sizeof(err)), GH_OK, "%s", err);
    gh_test_exec(g_c[1], "BEGIN; SET LOCAL lock_timeout = '2s'");
    cr_assert_eq(gh_resolver_lock_views(g_c[1], err, sizeof(err)), GH_OK,
                 "the views lock waited for the resolution lock: %s", err);
    gh_test_exec(g_c[2], "BEGIN; SET LOCAL lock_timeout = '300ms'");
    cr_assert_neq(gh_resolver_lock_views(g_c[2], err, sizeof(err)), GH_OK,
                  "a second maker of views got the lock");
    gh_test_exec(g_c[2], "ROLLBACK");
    gh_test_exec(g_c[1], "COMMIT");
    gh_test_exec(g_c[2], "BEGIN; SET LOCAL lock_timeout = '2s'");
    cr_assert_eq(gh_resolver_lock_views(g_c[2], err, sizeof(err)), GH_OK, "%s",
                 err);
    gh_test_exec(g_c[2], "COMMIT");
    gh_test_exec(g_c[0], "COMMIT");
}

/* What a views thread uses to derive attributes and publish: a grid
 * module (for its timings) and a resolver without a feed. */
static void views_parts(gh_conf_t **conf, gh_grid_t **g, gh_resolver_t **res) {
    char err[512];
    *conf = gh_conf_new("test", gh_grid_props);
    *g = gh_grid_new(*conf, err, sizeof(err));
    cr_assert_not_null(*g, "%s", err);
    *res = gh_resolver_new(NULL, NULL, NULL, err, sizeof(err));
    cr_assert_not_null(*res, "%s", err);
}

static void views_parts_free(gh_conf_t *conf, gh_grid_t *g,
                             gh_resolver_t *res) {
    gh_resolver_destroy(res);
    gh_grid_destroy(g);
    gh_conf_destroy(conf);
}

/* The attributes derived on `c` (in its open transaction with `in_tx`,
 * else in one of their own, committed), taking up to `max` persons'
 * notes to publish (-1: none; 0: all): gh_grid_attributes_send, then
 * _finish, both asserted to succeed. */
static void derive(gh_grid_t *g, PGconn *c, int in_tx, long max, char xid[32],
                   long *changed, long *taken) {
    char err[512];
    cr_assert_eq(gh_grid_attributes_send(g, c, in_tx, max, err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_assert_eq(gh_grid_attributes_finish(g, c, in_tx, xid, changed, taken,
                                           err, sizeof(err)),
                 GH_OK, "%s", err);
}

/* One round of the views' publishing, in `v`'s open transaction: the
 * attributes derived on `a` (`v` itself: in that transaction; another
 * session: in one of their own, committed, as the views thread does beside
 * aggregate views), taking the notes to publish (up to `max`; 0: all) and
 * noting them again under its id, then the persons noted under that id
 * published (gh_resolver_publish_noted). Returns how many were put;
 * *changed and *taken (each may be NULL) how many persons' attributes
 * changed and how many persons' notes it took. */
static long publish_round(gh_grid_t *g, gh_resolver_t *res, PGconn *v,
                          PGconn *a, long max, long *changed, long *taken) {
    char err[512], xid[32];
    long ch = -1, took = -1, n = -1;
    derive(g, a, a == v, max, xid, &ch, &took);
    cr_assert_eq(gh_resolver_publish_noted(res, v, xid, &n, err, sizeof(err)),
                 GH_OK, "the views waited for no row: %s", err);
    if (changed) *changed = ch;
    if (taken) *taken = took;
    return n;
}

/* The notes to publish on `c`: all of them, or with `xid` those noted
 * under that transaction id. */
static long publish_notes(PGconn *c, const char *xid) {
    if (!xid)
        return gh_test_count(c, "SELECT count(*) FROM view_dirty WHERE kind "
                                "= 'publish'");
    return gh_test_count(c,
                         "SELECT count(*) FROM view_dirty WHERE kind = "
                         "'publish' AND xid = '%s'::xid8",
                         xid);
}

static long version_of(PGconn *c, const char *col) {
    return gh_test_count(c, "SELECT %s FROM person WHERE person_id = 'P1'",
                         col);
}

/* Publishing while a resolution writes the same person (migration 026).
 * The views must not wait for the resolution's row (each could be
 * waiting for the other's), so the person is noted again; once the
 * resolution committed, the person goes out with the version it gave,
 * and publishing it again (its attributes changed) takes a new one. Before,
 * the views bumped the version on top of the resolution's and then
 * published the resolution's notes with that same version: one version,
 * two records. Before each round another session notes P1 to publish,
 * as a batch does for a person it changed. */
Test(notes, one_version_one_record) {
    PGconn *r = g_c[0], *v = g_c[1];
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    gh_test_exec(r, "INSERT INTO person (person_id, active, version, "
                    "published_version, grid_code) VALUES ('P1', true, 1, 1, "
                    "'G0')");
    /* A resolution writing P1, not yet committed. */
    gh_test_exec(r, "BEGIN; UPDATE person SET version = version + 1, "
                    "grid_code = 'G3' WHERE person_id = 'P1'; INSERT INTO "
                    "view_dirty SELECT 'publish', 'P1'");
    /* Views for P1, whose attributes changed. */
    const char *p1 = "INSERT INTO view_dirty SELECT 'publish', 'P1' ON "
                     "CONFLICT DO NOTHING";
    gh_test_exec(v, "BEGIN; SET LOCAL lock_timeout = '2s'");
    gh_test_exec(g_c[2], "%s", p1);
    cr_assert_eq(publish_round(g, res, v, v, 0, NULL, NULL), 0,
                 "P1 is left to the next views");
    gh_test_exec(v, "COMMIT");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_dirty WHERE "
                                  "kind = 'publish' AND key = 'P1'"),
                 1, "P1 is noted again");
    gh_test_exec(r, "COMMIT");
    gh_test_exec(v, "BEGIN");
    gh_test_exec(g_c[2], "%s", p1);
    cr_assert_eq(publish_round(g, res, v, v, 0, NULL, NULL), 1);
    gh_test_exec(v, "COMMIT");
    cr_assert_eq(version_of(v, "version"), 2,
                 "published with the resolution's version");
    cr_assert_eq(version_of(v, "published_version"), 2);
    cr_assert_eq(publish_notes(v, NULL), 0, "both notes taken");
    gh_test_exec(v, "BEGIN");
    gh_test_exec(g_c[2], "%s", p1);
    cr_assert_eq(publish_round(g, res, v, v, 0, NULL, NULL), 1);
    gh_test_exec(v, "COMMIT");
    cr_assert_eq(version_of(v, "version"), 3,
                 "published again: a version of its own");
    cr_assert_eq(version_of(v, "published_version"), 3);
    views_parts_free(conf, g, res);
}

/* Persons <prefix><i, zero-padded to width> for i in 1..n, active, never
 * published; the first `noted` noted to publish by `times` transactions. */
static void persons_noted(PGconn *c, const char *prefix, int width, int n,
                          int noted, int times) {
    gh_test_exec(c,
                 "INSERT INTO person (person_id, active, version, "
                 "published_version) SELECT '%s' || lpad(i::text, %d, '0'), "
                 "true, 1, 0 FROM generate_series(1, %d) i",
                 prefix, width, n);
    for (int t = 0; t < times; t++)
        gh_test_exec(c,
                     "INSERT INTO view_dirty (kind, key) SELECT 'publish', "
                     "'%s' || lpad(i::text, %d, '0') FROM generate_series(1, "
                     "%d) i",
                     prefix, width, noted);
}

/* The end of a catch-up publishes every person it held back in one views
 * transaction, in chunks of 10,000 (hub/identity/resolve_out.c), each
 * chunk's statement sent before the one before it is put: 25,001
 * new persons (their attributes all derived and changed), 12,001 of them
 * noted to publish twice, by two transactions, and 13,001 once, by a
 * third; all go out once. */
Test(notes, a_large_publication_goes_in_chunks) {
    PGconn *v = g_c[1];
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    persons_noted(v, "Q", 6, 25001, 12001, 2);
    gh_test_exec(v, "INSERT INTO view_dirty (kind, key) SELECT 'publish', "
                    "'Q' || lpad(i::text, 6, '0') FROM generate_series(12001, "
                    "25001) i");
    gh_test_exec(v, "BEGIN");
    long taken = -1;
    cr_assert_eq(publish_round(g, res, v, v, 0, NULL, &taken), 25001,
                 "each person once");
    gh_test_exec(v, "COMMIT");
    cr_assert_eq(taken, 25001, "every person noted taken");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person WHERE "
                                  "person_id LIKE 'Q%%' AND published_version "
                                  "= version AND version = 1"),
                 25001, "every one published with its version");
    cr_assert_eq(publish_notes(v, NULL), 0, "every note taken");
    views_parts_free(conf, g, res);
}

/* views.person.publish.max: a transaction publishes at most that many
 * persons noted and leaves the others noted for the next one. 25
 * persons noted (20 by one transaction, 5 by another; their attributes
 * already derived), at most 10 a transaction, on the attributes' own
 * session beside the views transaction, as the end of a catch-up does:
 * 10, 10 and 5, each once; the views thread follows at once while a
 * round takes as many as the most (views_thread.c). */
Test(notes, a_publication_spans_transactions_of_at_most_max) {
    PGconn *v = g_c[1], *a = g_c[2];
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    persons_noted(v, "M", 3, 25, 20, 1);
    gh_test_exec(v, "INSERT INTO view_dirty (kind, key) SELECT 'publish', "
                    "'M' || lpad(i::text, 3, '0') FROM generate_series(21, "
                    "25) i; DELETE FROM view_dirty WHERE kind <> 'publish'");
    const long want[] = {10, 10, 5};
    for (int t = 0; t < 3; t++) {
        long changed = -1, taken = -1, n = -1;
        gh_test_exec(v, "BEGIN; SELECT pg_advisory_xact_lock(7274002)");
        n = publish_round(g, res, v, a, 10, &changed, &taken);
        gh_test_exec(v, "COMMIT");
        cr_assert_eq(changed, 0, "no attributes to derive");
        cr_assert_eq(taken, want[t], "transaction %d took %ld", t + 1, taken);
        cr_assert_eq(n, want[t], "transaction %d published %ld", t + 1, n);
        cr_assert_eq(publish_notes(v, NULL),
                     25 - 10 * (t + 1) > 0 ? 25 - 10 * (t + 1) : 0,
                     "the rest stays noted");
    }
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person WHERE "
                                  "person_id LIKE 'M%%' AND published_version "
                                  "= version AND version = 1"),
                 25, "every one published once, with its version");
    views_parts_free(conf, g, res);
}

/* The attributes' transaction (hub/grid/grid_view.c), on a session of its
 * own beside the views transaction, notes the persons whose attributes
 * changed to publish under its own id; publishing, it also takes the
 * notes to publish and notes them again so, and it commits before the
 * views transaction publishes them (gh_resolver_publish_noted). A views
 * transaction that fails after it leaves them noted: the next round
 * takes and publishes them. A round that defers publication takes none. */
Test(notes, the_attributes_notes_outlive_a_failed_views_transaction) {
    PGconn *v = g_c[1], *a = g_c[2];
    char err[512], xid[32];
    long changed = -1, taken = -1, n = -1;
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    /* A01, A02 noted to publish; all three noted (by the person table's
     * trigger) for their attributes. */
    persons_noted(v, "A", 2, 3, 2, 1);
    /* Publication deferred (a catch-up): the attributes are derived, the
     * persons whose attributes changed noted under its id (the notes they
     * had taken and noted again so), none published. */
    derive(g, a, 0, -1, xid, &changed, &taken);
    cr_assert_eq(taken, 0);
    cr_assert_eq(changed, 3, "attributes of A01..A03 derived");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_dirty WHERE "
                                  "kind = 'publish' AND key LIKE 'A%%'"),
                 3, "one note a person");
    cr_assert_eq(publish_notes(v, xid), 3, "under the attributes' transaction");
    /* Publishing: the views transaction holds the views lock while the
     * attributes' transaction takes the notes; then it fails. */
    gh_test_exec(v, "BEGIN; SELECT pg_advisory_xact_lock(7274002)");
    derive(g, a, 0, 0, xid, &changed, &taken);
    cr_assert_eq(taken, 3);
    cr_assert_eq(changed, 0, "no attribute notes left");
    cr_assert(xid[0], "the attributes' transaction id is given");
    gh_test_exec(v, "ROLLBACK");
    cr_assert_eq(publish_notes(v, xid), 3,
                 "noted under the attributes' transaction, committed");
    cr_assert_eq(publish_notes(v, NULL), 3, "and only so");
    /* The next round takes them again and publishes them. */
    derive(g, a, 0, 0, xid, &changed, &taken);
    cr_assert_eq(taken, 3);
    gh_test_exec(v, "BEGIN; SELECT pg_advisory_xact_lock(7274002)");
    cr_assert_eq(gh_resolver_publish_noted(res, v, xid, &n, err, sizeof(err)),
                 GH_OK, "%s", err);
    gh_test_exec(v, "COMMIT");
    cr_assert_eq(n, 3);
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person WHERE "
                                  "person_id LIKE 'A%%' AND published_version "
                                  "= version"),
                 3, "A01..A03 published");
    cr_assert_eq(publish_notes(v, NULL), 0, "every note taken");
    views_parts_free(conf, g, res);
}

/* Without aggregate views to make beside them, the attributes are derived
 * in the views transaction itself (in_tx): rolled back, it leaves every
 * note as it was; committed, the persons are published once. */
Test(notes, the_attributes_in_the_views_transaction) {
    PGconn *v = g_c[1];
    char err[512], xid[32];
    long changed = -1, taken = -1, n = -1;
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    persons_noted(v, "B", 2, 2, 2, 1);
    long notes = gh_test_count(v, "SELECT count(*) FROM view_dirty");
    for (int commit = 0; commit < 2; commit++) {
        gh_test_exec(v, "BEGIN; SELECT pg_advisory_xact_lock(7274002)");
        derive(g, v, 1, 0, xid, &changed, &taken);
        cr_assert_eq(taken, 2);
        cr_assert_eq(changed, 2);
        cr_assert_eq(
            gh_resolver_publish_noted(res, v, xid, &n, err, sizeof(err)), GH_OK,
            "%s", err);
        cr_assert_eq(n, 2);
        gh_test_exec(v, commit ? "COMMIT" : "ROLLBACK");
        if (!commit)
            cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_dirty"),
                         notes, "rolled back: every note as it was");
    }
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person WHERE "
                                  "person_id LIKE 'B%%' AND published_version "
                                  "= version"),
                 2);
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_dirty WHERE "
                                  "kind IN ('publish', 'person')"),
                 0, "every note taken");
    views_parts_free(conf, g, res);
}

/* A person whose attributes changed goes out once, with every note to
 * publish it had, even those beyond views.person.publish.max: five
 * persons, new (their attributes all change), each noted to publish by
 * two transactions, at most two notes' persons a round. Before, the
 * round published all five (their attributes changed) and left three
 * noted, and the next rounds published those three again: at the end of
 * a tenth of the city's catch-up, 315,866 of 415,866 residents twice. */
Test(notes, a_person_published_for_its_attributes_takes_all_its_notes) {
    PGconn *v = g_c[1], *a = g_c[2];
    char xid[32];
    long changed = -1, taken = -1;
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    persons_noted(v, "X", 1, 5, 5, 2);
    gh_test_exec(v, "BEGIN; SELECT pg_advisory_xact_lock(7274002)");
    long n = publish_round(g, res, v, a, 2, &changed, &taken);
    gh_test_exec(v, "COMMIT");
    cr_assert_eq(changed, 5);
    cr_assert_eq(taken, 2, "two persons' notes taken within the limit");
    cr_assert_eq(n, 5, "all five published");
    cr_assert_eq(publish_notes(v, NULL), 0, "none left noted to go out again");
    /* A deferred round (a catch-up) leaves one note a person. */
    gh_test_exec(v, "UPDATE person SET grid_code = 'G9' WHERE person_id LIKE "
                    "'X%%'; INSERT INTO view_dirty (kind, key) SELECT "
                    "'publish', person_id FROM person WHERE person_id LIKE "
                    "'X%%'");
    derive(g, a, 0, -1, xid, &changed, &taken);
    cr_assert_eq(taken, 0);
    cr_assert_eq(publish_notes(v, xid), changed,
                 "those whose attributes changed, under its id");
    cr_assert_eq(publish_notes(v, NULL), 5, "one note a person");
    views_parts_free(conf, g, res);
}

/* Person P1 with one record (d:p1, ID key 42) and the source rows
 * `rows` (a VALUES list of (department, entity, source_key, row, id_key)),
 * then only P1 noted, as a new person. */
static void p1_with_rows(PGconn *v, const char *rows) {
    gh_test_exec(v, "INSERT INTO person (person_id, active, version, "
                    "published_version) VALUES ('P1', true, 1, 1)");
    gh_test_exec(v, "INSERT INTO source_person (department, source_key, "
                    "source_table, pos_lsn, pos_seq, person_id, id_key) "
                    "VALUES ('d', 'p1', 't', 1, 1, 'P1', 42)");
    gh_test_exec(v,
                 "INSERT INTO source_row (department, entity, source_key, "
                 "source_table, pos_lsn, pos_seq, row, id_key) SELECT d, e, "
                 "k, 't', 1, 1, r::jsonb, i FROM (VALUES %s) x(d, e, k, r, i)",
                 rows);
    gh_test_exec(v, "DELETE FROM view_dirty; INSERT INTO view_dirty (kind, "
                    "key) VALUES ('person', 'P1')");
}

/* Whose refresh notes the households it heads (migration 029): P1 heads
 * household d:h1 (its record's ID key is P1's). Derived for a row naming
 * its ID (noted 'idkey': what the households' refresh notes for every
 * member it links), with its attributes unchanged, P1 notes no household
 * and no grid; noted 'person' (a golden write: who P1 is may have moved),
 * it notes them whatever its attributes did. Before, every refresh noted
 * them, and at the end of a catch-up the households' refresh and the
 * attributes' noted each other's rows for two more rounds of views that
 * changed nothing. */
Test(notes, households_noted_when_a_head_may_have_moved) {
    PGconn *v = g_c[1];
    char xid[32];
    long changed = -1, taken = -1;
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    p1_with_rows(v, "('d', 'household', 'h1', '{\"grid_code\": \"G1\"}', "
                    "42)");
    static const char HOUSEHOLD[] = "SELECT count(*) FROM view_dirty WHERE "
                                    "kind = 'household' AND key = 'd:h1'";
    static const char GRID[] = "SELECT count(*) FROM view_dirty WHERE kind = "
                               "'grid' AND key = 'G1'";
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(changed, 1, "P1's first attributes");
    cr_assert_eq(gh_test_count(v, HOUSEHOLD), 1, "the new head's household");

    gh_test_exec(v, "DELETE FROM view_dirty");
    gh_test_exec(v, "INSERT INTO view_dirty (kind, key) VALUES ('idkey', "
                    "'42')");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(changed, 0, "nothing of P1's attributes moved");
    cr_assert_eq(gh_test_count(v, HOUSEHOLD), 0,
                 "a row naming P1's ID noted its household again");
    cr_assert_eq(gh_test_count(v, GRID), 0,
                 "a row naming P1's ID noted its household's grid again");

    gh_test_exec(v, "DELETE FROM view_dirty; INSERT INTO view_dirty (kind, "
                    "key) VALUES ('person', "
                    "'P1')");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(changed, 0, "nothing of P1's attributes moved");
    cr_assert_eq(gh_test_count(v, HOUSEHOLD), 1,
                 "P1 rewritten: the household it heads is noted");
    cr_assert_eq(gh_test_count(v, GRID), 1, "and its grid");
    views_parts_free(conf, g, res);
}

/* A corrected ID number (migration 030): P1's record names ID key 42, a
 * registration names 43. The register corrects the record's number to the
 * registration's, the record staying with P1 (so no golden write notes
 * it): P1's attributes are derived again and take the registration, and
 * the household P1 heads by its old number is noted. Before, nothing noted
 * P1 and it kept the old number's attributes until something else did. */
Test(notes, an_id_number_corrected_derives_the_attributes_again) {
    PGconn *v = g_c[1];
    char xid[32];
    long changed = -1, taken = -1;
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    p1_with_rows(v, "('d', 'residence_registration', 'r1', "
                    "'{\"registration_type\": \"REGISTERED\"}', 43), ('d', "
                    "'household', 'h1', '{}', 42)");
    /* As the households' refresh links it: named after its head. */
    gh_test_exec(v, "INSERT INTO view_link VALUES ('household', 'd', 'h1', "
                    "'H1')");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(changed, 1, "P1's first attributes");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person_attr WHERE "
                                  "person_id = 'P1' AND registration_type IS "
                                  "NULL"),
                 1, "no registration names 42");

    gh_test_exec(v, "DELETE FROM view_dirty");
    gh_test_exec(v, "UPDATE source_person SET person_id = 'P1'");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_dirty"), 0,
                 "an assignment left as it was is no change of the ID");
    /* As the batch's upsert (hub/apply/apply_batch.c) writes a change. */
    gh_test_exec(v, "INSERT INTO source_person (department, source_key, "
                    "source_table, pos_lsn, pos_seq, id_key) VALUES ('d', "
                    "'p1', 't', 2, 1, 43) ON CONFLICT (department, "
                    "source_key) DO UPDATE SET pos_lsn = EXCLUDED.pos_lsn, "
                    "id_key = EXCLUDED.id_key");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(changed, 1, "P1's attributes derived again");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person_attr WHERE "
                                  "person_id = 'P1' AND registration_type = "
                                  "'REGISTERED'"),
                 1, "the corrected number's registration");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_dirty WHERE "
                                  "kind = 'household' AND key = 'd:h1'"),
                 1, "the household P1 headed by its old number");
    views_parts_free(conf, g, res);
}

/* P1 (p1_with_rows) and household d:h1, whose head's ID key (99) is
 * nobody's, with member row m1 naming ID key 43, P2's record's. */
static void member_p2_of_h1(PGconn *v) {
    p1_with_rows(v, "('d', 'household', 'h1', '{}', 99), ('d', "
                    "'household_member', 'm1', '{\"household_key\": "
                    "\"h1\"}', 43)");
    gh_test_exec(v, "INSERT INTO person (person_id, active, version, "
                    "published_version) VALUES ('P2', true, 1, 1)");
    gh_test_exec(v, "INSERT INTO source_person (department, source_key, "
                    "source_table, pos_lsn, pos_seq, person_id, id_key) "
                    "VALUES ('e', 'p2', 't', 1, 1, 'P2', 43)");
}

/* A member's person merged into another (migration 029): household d:h1
 * (its head unknown) lists the member of row m1, whose ID key is P2's
 * record's. The resolution moves that record to P1 and retires P2; the
 * member row does not change, so only the persons' refresh can note the
 * household, which would list the retired P2 until its rows changed.
 * A refresh for a row naming the ID alone (noted 'idkey') notes it not. */
Test(notes, a_merged_member_notes_its_household) {
    PGconn *v = g_c[1];
    char xid[32];
    long changed = -1, taken = -1;
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    member_p2_of_h1(v);
    gh_test_exec(v, "INSERT INTO view_link VALUES ('household', 'd', 'h1', "
                    "'H:d:h1')");
    gh_test_exec(v, "DELETE FROM view_dirty; INSERT INTO view_dirty (kind, "
                    "key) VALUES ('person', 'P1'), ('person', 'P2')");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person_attr WHERE "
                                  "person_id = 'P2' AND household_id = "
                                  "'H:d:h1'"),
                 1, "P2 is the member");
    static const char HOUSEHOLD[] = "SELECT count(*) FROM view_dirty WHERE "
                                    "kind = 'household' AND key = 'd:h1'";

    gh_test_exec(v, "UPDATE source_person SET person_id = 'P1' WHERE "
                    "source_key = 'p2'; UPDATE person SET active = false "
                    "WHERE person_id = 'P2'");
    gh_test_exec(v, "DELETE FROM view_dirty; INSERT INTO view_dirty (kind, "
                    "key) VALUES ('person', 'P1'), ('person', 'P2')");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(changed, 2, "P1 a member now, P2 gone");
    cr_assert_eq(gh_test_count(v, HOUSEHOLD), 1,
                 "the household of the merged member is noted");

    gh_test_exec(v, "DELETE FROM view_dirty; INSERT INTO view_dirty (kind, "
                    "key) VALUES ('idkey', '43')");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(changed, 0);
    cr_assert_eq(gh_test_count(v, HOUSEHOLD), 0,
                 "a row naming the member's ID notes no household");
    views_parts_free(conf, g, res);
}

/* A household record whose link moved notes its members for their
 * attributes only if they do not already name it (migration 031): the
 * refresh notes the record ('hmember'), and household_members_note(),
 * run once the attributes derived beside it are committed, notes the
 * members' ID keys but for those whose every person names the record's
 * view id. Member P2 (ID key 43) of d:h1, whose head (key 99) is nobody
 * yet: P2's attributes name H:d:h1 before the record is first linked, so
 * its first link notes no one (at the end of a catch-up this was every
 * member, derived again for nothing); the head resolved to P3 moves the
 * link to H3, which P2 does not name: its key is noted. */
Test(notes, a_household_notes_the_members_its_link_moved) {
    PGconn *v = g_c[1];
    char xid[32];
    long changed = -1, taken = -1;
    gh_conf_t *conf;
    gh_grid_t *g;
    gh_resolver_t *res;
    views_parts(&conf, &g, &res);
    member_p2_of_h1(v);
    gh_test_exec(v, "DELETE FROM view_dirty; INSERT INTO view_dirty (kind, "
                    "key) VALUES ('person', 'P2')");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person_attr WHERE "
                                  "person_id = 'P2' AND household_id = "
                                  "'H:d:h1'"),
                 1, "P2 is a member of H:d:h1");
    static const char MOVED[] = "SELECT count(*) FROM view_dirty WHERE kind "
                                "= 'hmember' AND key = 'd:h1'";
    static const char MEMBER[] = "SELECT count(*) FROM view_dirty WHERE kind "
                                 "= 'idkey' AND key = '43'";

    gh_test_exec(v, "DELETE FROM view_dirty");
    gh_test_count(v, "SELECT count(*) FROM household_refresh('{d:h1}')");
    cr_assert_eq(gh_test_count(v, MOVED), 1, "the new link is noted");
    cr_assert_eq(gh_test_count(v, MEMBER), 0, "not its members yet");
    cr_assert_eq(gh_test_count(v, "SELECT household_members_note()"), 0);
    cr_assert_eq(gh_test_count(v, MEMBER), 0,
                 "P2 already names H:d:h1, yet was noted");
    cr_assert_eq(gh_test_count(v, MOVED), 0, "the record's note is taken");

    gh_test_exec(v, "INSERT INTO person (person_id, active, version, "
                    "published_version) VALUES ('P3', true, 1, 1)");
    gh_test_exec(v, "INSERT INTO source_person (department, source_key, "
                    "source_table, pos_lsn, pos_seq, person_id, id_key) "
                    "VALUES ('f', 'p3', 't', 1, 1, 'P3', 99)");
    gh_test_exec(v, "DELETE FROM view_dirty");
    gh_test_count(v, "SELECT count(*) FROM household_refresh('{d:h1}')");
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM view_link WHERE "
                                  "source_key = 'h1' AND view_id = 'H3'"),
                 1, "the head's person names the household");
    cr_assert_eq(gh_test_count(v, "SELECT household_members_note()"), 1);
    cr_assert_eq(gh_test_count(v, MEMBER), 1,
                 "P2 names H:d:h1, not H3: its key is noted");
    derive(g, v, 0, -1, xid, &changed, &taken);
    cr_assert_eq(gh_test_count(v, "SELECT count(*) FROM person_attr WHERE "
                                  "person_id = 'P2' AND household_id = 'H3'"),
                 1, "P2's household follows its head");
    views_parts_free(conf, g, res);
}
