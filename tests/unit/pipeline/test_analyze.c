/* When a batch's rows call for an analysis (hub/core/analyze.c,
 * batch.analyze.rows): many rows of an entity, and many next to what came
 * of it before; an entity's first tenth of that many, once; a batch tried
 * again decides as its first attempt did. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "hub_int.h"

static const char **rows_of(const char *entity, int n) {
    const char **ent = calloc((size_t)n, sizeof(*ent));
    for (int i = 0; i < n; i++)
        ent[i] = entity;
    return ent;
}

Test(analyze, many_rows_and_a_tenth_of_what_came_before) {
    hub_t h = {0};
    const char **p = rows_of("person", 1000);
    int persons, rows;
    gh__hub_analyze_count(&h, p, 99, 1000, &persons, &rows);
    cr_expect_eq(persons + rows, 0, "99 rows are neither many nor a tenth");
    gh__hub_analyze_done(&h);
    gh__hub_analyze_count(&h, p, 900, 1000, &persons, &rows);
    cr_expect(persons && !rows, "the first 100 persons: analyzed");
    gh__hub_analyze_done(&h);
    gh__hub_analyze_count(&h, p, 999, 1000, &persons, &rows);
    cr_expect_eq(persons + rows, 0, "999 rows are not many, nor first");
    gh__hub_analyze_done(&h);
    gh__hub_analyze_count(&h, p, 1000, 1000, &persons, &rows);
    cr_expect(persons && !rows, "1,000 persons after 1,998: analyzed");
    gh__hub_analyze_done(&h);
    /* 10,000 have come: 1,000 more is a tenth, still due; then no more. */
    for (int i = 0; i < 7; i++) {
        gh__hub_analyze_count(&h, p, 1000, 1000, &persons, &rows);
        gh__hub_analyze_done(&h);
    }
    gh__hub_analyze_count(&h, p, 1000, 1000, &persons, &rows);
    cr_expect(persons, "1,000 next to 9,998 before is a tenth");
    gh__hub_analyze_done(&h);
    gh__hub_analyze_count(&h, p, 1000, 1000, &persons, &rows);
    cr_expect(!persons, "1,000 next to 10,998 before is less than a tenth");
    gh__hub_analyze_forget(&h);
    free(p);
}

Test(analyze, a_retried_batch_decides_as_its_first_attempt) {
    hub_t h = {0};
    const char **r = rows_of("household", 10000);
    int persons, rows;
    for (int i = 0; i < 9; i++) { /* 90,000 households committed */
        gh__hub_analyze_count(&h, r, 10000, 10000, &persons, &rows);
        gh__hub_analyze_done(&h);
    }
    /* 10,000 more is a tenth of 90,000: due, on every attempt until one
     * commits (counted twice, the retry would see 10,000 of 100,000). */
    for (int attempt = 1; attempt <= 3; attempt++) {
        gh__hub_analyze_count(&h, r, 10000, 10000, &persons, &rows);
        cr_expect(rows && !persons, "attempt %d analyzes source_row", attempt);
    }
    gh__hub_analyze_done(&h);
    gh__hub_analyze_count(&h, r, 0, 10000, &persons, &rows);
    gh__hub_analyze_done(&h);
    cr_expect_eq(h.seen[0].rows, 100000, "the retried batch counted once");
    gh__hub_analyze_forget(&h);
    free(r);
}

Test(analyze, entities_counted_apart_and_gaps_skipped) {
    hub_t h = {0};
    const char *ent[6] = {"person", NULL, "grid", "person", NULL, "grid"};
    int persons, rows;
    gh__hub_analyze_count(&h, ent, 6, 2, &persons, &rows);
    cr_expect(persons && rows);
    gh__hub_analyze_done(&h);
    gh__hub_analyze_count(&h, ent, 6, 3, &persons, &rows);
    cr_expect(!persons && !rows, "two of each is not three");
    gh__hub_analyze_count(&h, ent, 6, 0, &persons, &rows);
    cr_expect(!persons && !rows, "0 turns the analysis off");
    gh__hub_analyze_forget(&h);
}

/* Statistics taken before an entity's first rows count its partial
 * indexes as empty; rows that come a few at a time never make a batch of
 * `min`. Their first tenth of it is analyzed once, in the attempt that
 * commits. */
Test(analyze, the_first_rows_of_an_entity_once) {
    hub_t h = {0};
    const char *hh[50], *mix[60];
    for (int i = 0; i < 50; i++)
        hh[i] = "household";
    for (int i = 0; i < 60; i++)
        mix[i] = i < 40 ? "household_member" : "volunteer";
    int persons, rows;
    gh__hub_analyze_count(&h, hh, 50, 1000, &persons, &rows);
    cr_expect(!persons && !rows, "50 households: not yet a tenth of 1,000");
    gh__hub_analyze_done(&h);
    gh__hub_analyze_count(&h, hh, 50, 1000, &persons, &rows);
    cr_expect(rows && !persons, "the hundredth household: analyzed");
    /* The attempt failed: the next one is still due. */
    gh__hub_analyze_count(&h, hh, 50, 1000, &persons, &rows);
    cr_expect(rows, "a failed attempt leaves the analysis due");
    gh__hub_analyze_done(&h);
    for (int i = 0; i < 5; i++) {
        gh__hub_analyze_count(&h, hh, 50, 1000, &persons, &rows);
        cr_expect(!rows, "households after their first analysis: batch %d", i);
        gh__hub_analyze_done(&h);
    }
    /* 40 members and 20 volunteers a batch: the members pass 100 in the
     * third, the volunteers in the fifth; each is analyzed once. */
    const int due[6] = {0, 0, 1, 0, 1, 0};
    for (int i = 0; i < 6; i++) {
        gh__hub_analyze_count(&h, mix, 60, 1000, &persons, &rows);
        cr_expect_eq(rows, due[i], "batch %d of members and volunteers", i + 1);
        cr_expect(!persons);
        gh__hub_analyze_done(&h);
    }
    gh__hub_analyze_forget(&h);
}
