/* Statistics for the rows a batch wrote, before the queries that read
 * them (batch.analyze.rows).
 *
 * PostgreSQL plans with the statistics autovacuum last gathered, a
 * minute or more ago at best, which know nothing of the rows the open
 * transaction wrote. When a catch-up batch brings the first households,
 * say, the views' joins are planned for a handful of rows and run as
 * nested loops over thousands: a refresh of 20,000 households took
 * minutes instead of 5 s. ANALYZE in the transaction samples its own
 * uncommitted rows as well. */
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "hub_int.h"

#define LOG "hub"

/* The rows of entity `ent` this process applied before (a new entity
 * is added). */
static long long *seen_of(hub_t *h, const char *ent) {
    for (int i = 0; i < h->nseen; i++)
        if (!strcmp(h->seen[i].entity, ent)) return &h->seen[i].rows;
    h->seen = gh_xrealloc(h->seen, (size_t)(h->nseen + 1) * sizeof(*h->seen));
    h->seen[h->nseen].entity = gh_xstrdup(ent);
    h->seen[h->nseen].rows = 0;
    return &h->seen[h->nseen++].rows;
}

void gh__hub_analyze_forget(hub_t *h) {
    for (int i = 0; i < h->nseen; i++)
        free(h->seen[i].entity);
    free(h->seen);
    h->seen = NULL;
    h->nseen = 0;
}

gh_err_t gh__hub_analyze(hub_t *h, const char *const *ent, int k, char *errstr,
                         size_t errstr_size) {
    int64_t min = gh_conf_get_int(h->conf, "batch.analyze.rows");
    int persons = 0, rows = 0;
    if (!min) return GH_OK;
    /* The batch's rows per entity (a handful of entities). */
    struct {
        const char *ent;
        int n;
    } c[32];
    int nc = 0;
    for (int i = 0; i < k; i++) {
        if (!ent[i]) continue;
        int j = 0;
        while (j < nc && strcmp(c[j].ent, ent[i]))
            j++;
        if (j == nc) {
            if (nc == (int)(sizeof(c) / sizeof(c[0]))) continue;
            c[nc].ent = ent[i];
            c[nc++].n = 0;
        }
        c[j].n++;
    }
    /* An entity's rows count when they are many, and many next to what
     * came of it before: the first households of a catch-up, not the
     * hundredth batch of them (the sample would hardly move, and each
     * ANALYZE reads ~30,000 pages of a large table). A batch tried again
     * counts twice: its second attempt may skip an analysis. */
    for (int j = 0; j < nc; j++) {
        long long *seen = seen_of(h, c[j].ent);
        int many = c[j].n >= min && c[j].n >= *seen / 10;
        *seen += c[j].n;
        if (!many) continue;
        if (!strcmp(c[j].ent, "person"))
            persons = 1;
        else
            rows = 1;
    }
    if (!persons && !rows) return GH_OK;
    /* SKIP_LOCKED: another instance's analysis (or autovacuum's) is as
     * good, and waiting for it would serialize the instances' batches
     * (the lock is held to the end of the transaction). Skipping is
     * expected, so its WARNING is not sent (libpq would print it raw). */
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
        e = gh_pg_exec(h->db, "SET LOCAL client_min_messages = warning", errstr,
                       errstr_size);
    h->us_analyze += gh_now_us() - t0;
    h->analyzed++;
    return e;
}
