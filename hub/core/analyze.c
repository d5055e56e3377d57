/* Statistics for the rows a batch wrote, before the queries that read
 * them (batch.analyze.rows).
 *
 * PostgreSQL plans with the statistics autovacuum last gathered, a
 * minute or more ago at best, which know nothing of the rows the open
 * transaction wrote. When a catch-up batch brings the first households,
 * say, the views' joins are planned for a handful of rows and run as
 * nested loops over thousands: a refresh of 20,000 households took
 * minutes instead of 5 s. ANALYZE in the transaction samples its own
 * uncommitted rows as well.
 *
 * An entity's first rows are analyzed however they come. A table analyzed
 * before any row of an entity came (source_row while persons go first,
 * with only the grids and buildings in) leaves each partial index of that
 * entity counted as empty (reltuples 0) whatever size it grows to, and
 * PostgreSQL then scans such an index whole for each row of a nested loop:
 * the person attributes of 3,000 residents ran over 5 minutes against
 * 3.7 s for all 38,717 once analyzed (a demo's hub database, the
 * statistics taken with only grids and buildings in). Entities that come
 * in batches of fewer than batch.analyze.rows each never met the rule
 * above; autovacuum came a minute later, or after the refresh had
 * started. */
#include <string.h>

#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "hub_int.h"

/* What this process counts of entity `ent` (a new entity is added). */
static struct seen *seen_of(hub_t *h, const char *ent) {
    for (int i = 0; i < h->nseen; i++)
        if (!strcmp(h->seen[i].entity, ent)) return &h->seen[i];
    h->seen = gh_xrealloc(h->seen, (size_t)(h->nseen + 1) * sizeof(*h->seen));
    struct seen *x = &h->seen[h->nseen++];
    x->entity = gh_xstrdup(ent);
    x->rows = x->batch = 0;
    x->known = x->due = 0;
    return x;
}

void gh__hub_analyze_forget(hub_t *h) {
    for (int i = 0; i < h->nseen; i++)
        free(h->seen[i].entity);
    free(h->seen);
    h->seen = NULL;
    h->nseen = 0;
}

void gh__hub_analyze_count(hub_t *h, const char *const *ent, int k, int64_t min,
                           int *persons, int *rows) {
    *persons = *rows = 0;
    /* An attempt counts afresh: a batch tried again after a transient
     * failure is the same rows, and what it brings joins what came before
     * only once it commits (gh__hub_analyze_done). */
    for (int j = 0; j < h->nseen; j++)
        h->seen[j].batch = h->seen[j].due = 0;
    for (int i = 0; i < k; i++)
        if (ent[i]) seen_of(h, ent[i])->batch++;
    /* An entity's rows count when they are many, and many next to what
     * came of it before: the first households of a catch-up, not the
     * hundredth batch of them (the sample would hardly move, and each
     * ANALYZE reads ~30,000 pages of a large table). Its first tenth of
     * that many count once per process (see the top): at most one more
     * analysis an entity, and none for a trickle of changes later. */
    int64_t first = min / 10 > 0 ? min / 10 : 1;
    for (int j = 0; min && j < h->nseen; j++) {
        const struct seen *x = &h->seen[j];
        int many = x->batch >= min && x->batch >= x->rows / 10;
        int fresh = x->batch && !x->known && x->rows + x->batch >= first;
        if (!many && !fresh) continue;
        if (!strcmp(x->entity, "person"))
            *persons = 1;
        else
            *rows = 1;
    }
    /* What an analysis that commits will have seen enough of. */
    for (int j = 0; j < h->nseen; j++) {
        struct seen *x = &h->seen[j];
        int person = !strcmp(x->entity, "person");
        if (x->rows + x->batch >= first && (person ? *persons : *rows))
            x->due = 1;
    }
}

void gh__hub_analyze_done(hub_t *h) {
    for (int j = 0; j < h->nseen; j++) {
        struct seen *x = &h->seen[j];
        x->rows += x->batch;
        x->batch = 0;
        if (x->due) x->known = 1;
        x->due = 0;
    }
}

gh_err_t gh__hub_analyze(hub_t *h, const char *const *ent, int k, char *errstr,
                         size_t errstr_size) {
    int64_t min = gh_conf_get_int(h->conf, "batch.analyze.rows");
    int persons, rows;
    if (!min) return GH_OK;
    gh__hub_analyze_count(h, ent, k, min, &persons, &rows);
    if (!persons && !rows) return GH_OK;
    /* SKIP_LOCKED: another instance's analysis (or autovacuum's) is as
     * good, and waiting for it would serialize the instances' batches
     * (the lock is held to the end of the transaction). Skipping is
     * expected, so its WARNING is not sent (libpq would print it raw); RESET
     * goes back to the connection's own level (gh_pg_connect). */
    const char *sql =
        persons && rows
            ? "ANALYZE (SKIP_LOCKED) source_person, person_block, source_row"
        : persons ? "ANALYZE (SKIP_LOCKED) source_person, person_block"
                  : "ANALYZE (SKIP_LOCKED) source_row";
    int64_t t0 = gh_now_us();
    gh_err_t e = gh_pg_exec(h->db, "SET LOCAL client_min_messages = error",
                            errstr, errstr_size);
    if (!e)
        e = gh_pg_exec_what(h->db, sql, 0, NULL, "analyze the batch's rows",
                            errstr, errstr_size);
    if (!e)
        e = gh_pg_exec(h->db, "RESET client_min_messages", errstr, errstr_size);
    h->us_analyze += gh_now_us() - t0;
    h->analyzed++;
    return e;
}
