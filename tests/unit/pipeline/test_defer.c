/* When a catch-up's persons go out (hub/publish/defer.c): at once outside a
 * catch-up; held while the backlog goes down window after window, up to
 * the gaining limit; published at the end of a window it did not go down
 * in, or when it is not known. Times in ms; a window of 100, a gaining
 * limit of 1,000. */
#include <criterion/criterion.h>

#include "defer.h"

#define MAX 100
#define GAINING 1000

static gh__defer_t held(int64_t at, int64_t backlog) {
    gh__defer_t d;
    gh__defer_clear(&d);
    gh__defer_hold(&d, at, backlog);
    return d;
}

Test(defer, outside_a_catch_up_the_persons_go_out_at_once) {
    gh__defer_t d = held(1000, 50000);
    cr_expect_eq(gh__defer_publish(&d, 0, 1001, 50000, MAX, GAINING), 1);
    gh__defer_t none;
    gh__defer_clear(&none);
    cr_expect_eq(gh__defer_publish(&none, 0, 1, -1, MAX, GAINING), 1);
    /* views.person.defer.max.ms=0: never held. */
    cr_expect_eq(gh__defer_publish(&d, 1, 1001, 50000, 0, GAINING), 1);
}

Test(defer, a_catch_up_holds_them_until_its_window_ends) {
    gh__defer_t none;
    gh__defer_clear(&none);
    cr_expect_eq(gh__defer_publish(&none, 1, 5000, 9000, MAX, GAINING), 0,
                 "the first views of a catch-up publish nothing");
    gh__defer_t d = held(1000, 50000);
    cr_expect_eq(gh__defer_publish(&d, 1, 1099, 60000, MAX, GAINING), 0);
    cr_expect_eq(gh__defer_publish(&d, 1, 1100, 60000, MAX, GAINING), 1,
                 "a window the backlog went up in publishes");
    d = held(1000, 50000);
    cr_expect_eq(gh__defer_publish(&d, 1, 1100, 50000, MAX, GAINING), 1,
                 "so does one it stayed level in");
    d = held(1000, 50000);
    cr_expect_eq(gh__defer_publish(&d, 1, 1100, -1, MAX, GAINING), 1,
                 "and one whose backlog is not known");
    d = held(1000, -1);
    cr_expect_eq(gh__defer_publish(&d, 1, 1100, 10, MAX, GAINING), 1);
}

Test(defer, a_catch_up_the_hub_gains_on_holds_them_to_its_end) {
    gh__defer_t d = held(1000, 50000);
    int64_t backlog = 50000, now = 1000;
    for (int w = 1; w <= 9; w++) {
        now += MAX;
        backlog -= 1000;
        cr_assert_eq(gh__defer_publish(&d, 1, now, backlog, MAX, GAINING), 0,
                     "window %d: gained, held", w);
        /* Within the next window: still held, the window restarted. */
        cr_assert_eq(gh__defer_publish(&d, 1, now + MAX - 1, backlog + 5000,
                                       MAX, GAINING),
                     0);
    }
    cr_expect_eq(
        gh__defer_publish(&d, 1, now + MAX, backlog - 1000, MAX, GAINING), 1,
        "at the gaining limit they go out, gained or not");
    /* Gained, then lost in the next window: published then. */
    d = held(1000, 50000);
    cr_expect_eq(gh__defer_publish(&d, 1, 1100, 40000, MAX, GAINING), 0);
    cr_expect_eq(gh__defer_publish(&d, 1, 1200, 40001, MAX, GAINING), 1);
}

Test(defer, a_gaining_limit_under_the_window_is_one_window) {
    gh__defer_t d = held(1000, 50000);
    cr_expect_eq(gh__defer_publish(&d, 1, 1100, 100, MAX, 0), 1);
    d = held(1000, 50000);
    cr_expect_eq(gh__defer_publish(&d, 1, 1100, 100, MAX, MAX - 1), 1);
}

Test(defer, a_hold_under_way_keeps_its_start_and_clearing_ends_it) {
    gh__defer_t d = held(1000, 50000);
    gh__defer_hold(&d, 1050, 10);
    cr_expect_eq(d.since_ms, 1000);
    cr_expect_eq(d.backlog_at, 50000);
    gh__defer_clear(&d);
    cr_expect_eq(d.since_ms, 0);
    cr_expect_eq(gh__defer_publish(&d, 1, 5000, 10, MAX, GAINING), 0);
    gh__defer_hold(&d, 5000, 10);
    cr_expect_eq(d.since_ms, 5000);
}

/* When the aggregate views are due: every 100 ms, every 1,000 while
 * catching up. */
Test(defer, views_due_every_interval_and_less_often_in_a_catch_up) {
    int64_t last = 0, next = 0;
    cr_expect_eq(gh__defer_views_due(&last, &next, 1, 5000, 100, 1000), 1,
                 "never made: due at once, catching up or not");
    cr_expect_eq(last, 5000);
    cr_expect_eq(next, 6000);
    cr_expect_eq(gh__defer_views_due(&last, &next, 1, 5100, 100, 1000), 0,
                 "a catch-up waits its own interval");
    cr_expect_eq(gh__defer_views_due(&last, &next, 1, 6000, 100, 1000), 1);
    cr_expect_eq(last, 6000);
    cr_expect_eq(gh__defer_views_due(&last, &next, 0, 6050, 100, 1000), 0);
    cr_expect_eq(next, 6100,
                 "the catch-up's end waits the stream's interval, not its own");
    cr_expect_eq(gh__defer_views_due(&last, &next, 0, 6100, 100, 1000), 1);
    cr_expect_eq(next, 6200);
}

Test(defer, a_shorter_or_zero_catch_up_interval_is_the_streams) {
    int64_t last = 1000, next = 0;
    cr_expect_eq(gh__defer_views_due(&last, &next, 1, 1100, 100, 0), 1);
    cr_expect_eq(gh__defer_views_due(&last, &next, 1, 1150, 100, 50), 0);
    cr_expect_eq(next, 1200);
    last = 1000;
    cr_expect_eq(gh__defer_views_due(&last, &next, 0, 1000, 0, 1000), 1,
                 "views.refresh.interval.ms=0: with every batch");
    cr_expect_eq(gh__defer_views_due(&last, &next, 0, 1000, 0, 0), 1);
}
