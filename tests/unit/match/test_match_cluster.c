/*
 * Unit tests of the engine's one clustering (gh_match_cluster, the batch's
 * and the hub's): kept-apart and forced edges, anchors (which numbers hold
 * records apart), the ambiguity filter, and a record fitting two persons
 * through the batch. Split from test_match.c.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/match.h"
#include "gridhub/util.h"
#include "test_match_synth.h"

#define mk synth_rec

/* Hand-checked in test_idnum.c. */
#define ID_A "11010519491231002X"
#define ID_A15 "110105491231002"

/* ---- clustering ------------------------------------------------------------
 */

Test(match_cluster, kept_apart_and_forced) {
    gh_match_edge_t e[] = {
        {0, 1, 10.0f, GH_MATCH_LINK},    {1, 2, 5.0f, GH_MATCH_LINK},
        {3, 4, -50.0f, GH_MATCH_FORCED}, {5, 6, 30.0f, GH_MATCH_REVIEW},
        {6, 7, 20.0f, GH_MATCH_LINK_ID}, {7, 8, 1.0f, GH_MATCH_ID_CONFLICT},
    };
    /* 0 and 2 are kept apart: 0-1 (stronger) holds, 1-2 is refused. 3 and
     * 4 are kept apart too, but the steward forced them together. */
    const uint32_t apart[][2] = {{0, 2}, {4, 3}};
    uint32_t c[9];
    size_t ne = 6;
    gh_match_cluster_stats_t st;
    gh_match_cluster(9, e, &ne, apart, 2, NULL, c, &st);
    cr_assert_eq(st.kept_apart, 1);
    cr_assert_eq(ne, 6, "nothing filtered without anchors");
    uint32_t want[9] = {0, 0, 2, 3, 3, 5, 6, 6, 8};
    for (int i = 0; i < 9; i++)
        cr_assert_eq(c[i], want[i], "record %d", i);

    /* Without the kept-apart pairs everything linked joins. */
    gh_match_cluster(9, e, &ne, NULL, 0, NULL, c, &st);
    cr_assert_eq(st.kept_apart, 0);
    cr_assert_eq(c[2], 0);
}

Test(match_cluster, transitive_apart_through_a_cluster) {
    /* 0-1 and 2-3 are clusters; 1 and 2 are kept apart, so 0-3 (joining
     * the two clusters) is refused although neither end is in the pair. */
    gh_match_edge_t e[] = {{0, 1, 9.0f, GH_MATCH_LINK},
                           {2, 3, 9.0f, GH_MATCH_LINK},
                           {0, 3, 8.0f, GH_MATCH_LINK}};
    const uint32_t apart[][2] = {{1, 2}};
    uint32_t c[4];
    size_t ne = 3;
    gh_match_cluster_stats_t st;
    gh_match_cluster(4, e, &ne, apart, 1, NULL, c, &st);
    cr_assert_eq(st.kept_apart, 1);
    cr_assert_eq(c[1], 0);
    cr_assert_eq(c[3], 2);
}

Test(match_cluster, anchors_keep_two_valid_ids_apart) {
    /* 0 and 3 carry different valid IDs; 1-2 has none. 0-1 (strongest),
     * 1-2, then 2-3 would join the IDs and is refused. */
    gh_match_edge_t e[] = {{2, 3, 10.0f, GH_MATCH_LINK},
                           {0, 1, 20.0f, GH_MATCH_LINK},
                           {1, 2, 15.0f, GH_MATCH_LINK}};
    const uint64_t anchor[4] = {11, 0, 0, 22};
    uint32_t c[4];
    size_t ne = 3;
    gh_match_cluster_stats_t st;
    gh_match_cluster(4, e, &ne, NULL, 0, anchor, c, &st);
    cr_assert_eq(st.kept_apart, 1);
    cr_assert_eq(st.ambiguous, 0, "1 links to one anchor only");
    cr_assert_eq(c[1], 0);
    cr_assert_eq(c[2], 0);
    cr_assert_eq(c[3], 3);
    /* A forced edge holds regardless. */
    gh_match_edge_t f[] = {{0, 3, 0.0f, GH_MATCH_FORCED}};
    ne = 1;
    gh_match_cluster(4, f, &ne, NULL, 0, anchor, c, &st);
    cr_assert_eq(st.kept_apart, 0);
    cr_assert_eq(c[3], 0);

    gh_match_rec_t r = mk("x", "x", ID_A15, 0, NULL, NULL, NULL);
    gh_match_rec_t q = mk("x", "x", ID_A, 0, NULL, NULL, NULL);
    cr_assert_neq(gh_match_anchor(&q), 0);
    cr_assert_eq(gh_match_anchor(&r), 0,
                 "an upgraded 15-digit number had no check character to catch "
                 "a typo: it anchors nothing");
    q = mk("x", "x", "110105194912310021", 0, NULL, NULL, NULL);
    cr_assert_eq(gh_match_anchor(&q), 0,
                 "a wrong check character anchors "
                 "nothing");
}

/* The ambiguity filter, the part of gh_match_cluster that the batch and
 * the hub once did differently. Records: 0-1 one person (anchor 11), 2-3
 * another (anchor 22), 4 without an ID. */
Test(match_cluster, ambiguous_record_cut_loose) {
    const uint64_t anchor[5] = {11, 11, 22, 22, 0};
    /* 4 links to both persons within 2 bits (20.0 and 18.5): a coin toss.
     * Its links to anchored records go, the others stay. */
    gh_match_edge_t e[] = {
        {0, 1, 40.0f, GH_MATCH_LINK_ID}, {2, 3, 40.0f, GH_MATCH_LINK_ID},
        {0, 4, 20.0f, GH_MATCH_LINK},    {2, 4, 18.5f, GH_MATCH_LINK},
        {3, 4, 17.0f, GH_MATCH_LINK},
    };
    size_t ne = 5;
    uint32_t c[5];
    gh_match_cluster_stats_t st;
    gh_match_cluster(5, e, &ne, NULL, 0, anchor, c, &st);
    cr_assert_eq(st.ambiguous, 1);
    cr_assert_eq(st.kept_apart, 0);
    cr_assert_eq(ne, 2, "the three links of 4 are dropped, in place");
    cr_assert_eq(e[0].a, 0);
    cr_assert_eq(e[1].a, 2, "the others keep their order");
    uint32_t want[5] = {0, 0, 2, 2, 4};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(c[i], want[i], "record %d", i);

    /* Without anchors there is nothing to be ambiguous between: the
     * strongest link wins and the other is refused... by nothing, so all
     * join (this is what the hub did before it shared the filter). */
    gh_match_edge_t g[] = {
        {0, 4, 20.0f, GH_MATCH_LINK},
        {2, 4, 18.5f, GH_MATCH_LINK},
    };
    ne = 2;
    gh_match_cluster(5, g, &ne, NULL, 0, NULL, c, &st);
    cr_assert_eq(st.ambiguous, 0);
    cr_assert_eq(ne, 2);
    cr_assert_eq(c[2], 0);
}

Test(match_cluster, clearly_better_link_kept) {
    const uint64_t anchor[5] = {11, 11, 22, 22, 0};
    /* 20.0 against 17.9: more than 2 bits apart, 4 goes with 0; its link
     * to 2 is refused by the anchors (counted), not by the filter. */
    gh_match_edge_t e[] = {
        {0, 1, 40.0f, GH_MATCH_LINK_ID},
        {2, 3, 40.0f, GH_MATCH_LINK_ID},
        {2, 4, 17.9f, GH_MATCH_LINK},
        {0, 4, 20.0f, GH_MATCH_LINK},
    };
    size_t ne = 4;
    uint32_t c[5];
    gh_match_cluster_stats_t st;
    gh_match_cluster(5, e, &ne, NULL, 0, anchor, c, &st);
    cr_assert_eq(st.ambiguous, 0);
    cr_assert_eq(ne, 4);
    cr_assert_eq(st.kept_apart, 1);
    cr_assert_eq(c[4], 0);
    cr_assert_eq(c[2], 2);
    /* Two links to the same anchor are no competition. */
    gh_match_edge_t f[] = {{0, 4, 20.0f, GH_MATCH_LINK},
                           {1, 4, 20.0f, GH_MATCH_LINK}};
    ne = 2;
    gh_match_cluster(5, f, &ne, NULL, 0, anchor, c, &st);
    cr_assert_eq(st.ambiguous, 0);
    cr_assert_eq(c[4], 0);
}

Test(match_cluster, forced_edges_survive_the_filter) {
    const uint64_t anchor[5] = {11, 11, 22, 22, 0};
    /* 4 is ambiguous between 0 and 2, but a steward merged it with 3: the
     * forced edge is neither dropped nor a candidate, and it holds. */
    gh_match_edge_t e[] = {
        {0, 4, 20.0f, GH_MATCH_LINK},
        {2, 4, 20.0f, GH_MATCH_LINK},
        {3, 4, 0.0f, GH_MATCH_FORCED},
    };
    size_t ne = 3;
    uint32_t c[5];
    gh_match_cluster_stats_t st;
    gh_match_cluster(5, e, &ne, NULL, 0, anchor, c, &st);
    cr_assert_eq(st.ambiguous, 1);
    cr_assert_eq(ne, 1);
    cr_assert_eq(e[0].kind, GH_MATCH_FORCED);
    cr_assert_eq(c[4], 3);
    cr_assert_eq(c[0], 0);

    /* A forced edge alone does not make a record ambiguous: 4 links to 0,
     * and was merged with 2 by hand (score high, to tempt a comparison). */
    gh_match_edge_t f[] = {
        {0, 4, 20.0f, GH_MATCH_LINK},
        {2, 4, 20.0f, GH_MATCH_FORCED},
    };
    ne = 2;
    gh_match_cluster(5, f, &ne, NULL, 0, anchor, c, &st);
    cr_assert_eq(st.ambiguous, 0);
    cr_assert_eq(ne, 2);
    cr_assert_eq(c[4], 2, "the manual merge wins");
    cr_assert_eq(c[0], 0, "and 0 stays a person of its own");
    cr_assert_eq(st.kept_apart, 1);

    /* A link the steward ruled out (4 kept apart from 2) is no rival:
     * 4 goes with 0. */
    gh_match_edge_t g[] = {
        {0, 4, 20.0f, GH_MATCH_LINK},
        {2, 4, 20.0f, GH_MATCH_LINK},
    };
    const uint32_t apart[][2] = {{4, 2}};
    ne = 2;
    gh_match_cluster(5, g, &ne, apart, 1, anchor, c, &st);
    cr_assert_eq(st.ambiguous, 0);
    cr_assert_eq(c[4], 0);
    cr_assert_eq(c[2], 2);
}

Test(match_batch, record_fitting_two_persons_left_alone) {
    char err[256];
    gh_match_model_t *m = synth_model();
    gh_match_set_t *s = gh_match_set_new();
    /* Two boys of one name born the same day, each with his ID in two
     * departments, and a 计生 row without ID that fits both equally. */
    const char *rows[][5] = {
        {"gongan", "g1", "431302201207065559", "大塘小区6栋1单元502", "1"},
        {"zongzhi", "z1", "431302201207065559", "大塘小区6栋1单元502", "1"},
        {"gongan", "g2", "431322201207066450", "牛角村27组20号", "2"},
        {"zongzhi", "z2", "431322201207066450", "牛角村27组20号", "2"},
        {"jisheng", "j", NULL, NULL, "?"},
    };
    for (int i = 0; i < 5; i++) {
        gh_match_rec_t r = mk("张铭宸", "zhang ming chen", rows[i][2], 1,
                              "2012-07-06", NULL, rows[i][3]);
        r.department = rows[i][0];
        r.source_key = rows[i][1];
        gh_match_set_add(s, &r);
    }
    cr_assert_eq(
        gh_match_score(m, gh_match_set_get(s, 4), gh_match_set_get(s, 0), NULL),
        GH_MATCH_LINK, "the 计生 row links to each on its own");
    uint32_t c[5];
    gh_match_batch_stats_t st;
    cr_assert_eq(gh_match_resolve(m, s, c, &st, err, sizeof(err)), GH_OK);
    cr_assert_eq(st.ambiguous, 1);
    cr_assert_eq(c[1], 0);
    cr_assert_eq(c[3], 2);
    cr_assert_eq(c[4], 4, "not merged into either boy");
    cr_assert_eq(st.clusters, 3);
    gh_match_set_destroy(s);
    gh_match_model_destroy(m);
}
