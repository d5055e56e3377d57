/* Persons first (hub/core/lanes.c): when the other entities' topics are
 * paused for a person backlog, and that they are never starved. */
#include <criterion/criterion.h>

#include "lanes.h"

Test(lanes, a_backlog_of_persons_pauses_the_others) {
    /* running, a batch done since the last resume */
    cr_expect_eq(gh_lanes_decide(5000, 1000, -1, 60000, 1), 1);
    cr_expect_eq(gh_lanes_decide(1000, 1000, -1, 60000, 3), 1);
    /* paused, still a backlog, within the longest pause */
    cr_expect_eq(gh_lanes_decide(5000, 1000, 59999, 60000, 0), 1);
    /* paused, under the threshold but not drained (a tenth of it): the
     * last persons go alone, not with a full batch of the others */
    cr_expect_eq(gh_lanes_decide(999, 1000, 2000, 60000, 0), 1);
    cr_expect_eq(gh_lanes_decide(100, 1000, 2000, 60000, 0), 1);
}

Test(lanes, no_backlog_runs_every_topic) {
    cr_expect_eq(gh_lanes_decide(999, 1000, -1, 60000, 5), 0);
    cr_expect_eq(gh_lanes_decide(0, 1000, 2000, 60000, 0), 0);
    cr_expect_eq(gh_lanes_decide(99, 1000, 2000, 60000, 0), 0);
    /* no watermark seen yet: nothing is known to wait */
    cr_expect_eq(gh_lanes_decide(-1, 1000, -1, 60000, 5), 0);
    cr_expect_eq(gh_lanes_decide(-1, 1000, 100, 60000, 0), 0);
    /* 0 turns priority off, whatever waits */
    cr_expect_eq(gh_lanes_decide(1000000, 0, -1, 60000, 5), 0);
}

Test(lanes, the_others_are_never_starved) {
    /* paused as long as allowed: they run, */
    cr_expect_eq(gh_lanes_decide(1000000, 1000, 60000, 60000, 0), 0);
    /* for one batch at least before the next pause */
    cr_expect_eq(gh_lanes_decide(1000000, 1000, -1, 60000, 0), 0);
    cr_expect_eq(gh_lanes_decide(1000000, 1000, -1, 60000, 1), 1);
}
