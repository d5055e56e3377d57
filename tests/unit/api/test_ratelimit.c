/*
 * gh_ratelimit_ (hub/api/auth/ratelimit.c) on a stepped clock: the bucket
 * arithmetic (burst, refill, when a refused request would pass), one
 * reported refusal per window with the count of the rest, and a table that
 * stays within its bound whatever the keys.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit.h"

static gh_ratelimit_verdict_t take(gh_ratelimit_t *rl, const char *key,
                                   int64_t now) {
    gh_ratelimit_verdict_t v;
    gh_ratelimit_take(rl, key, now, &v);
    return v;
}

Test(ratelimit, a_burst_then_the_refill_rate) {
    /* 2 a second, 3 at once. */
    gh_ratelimit_t *rl = gh_ratelimit_new("t", 2, 1000, 3, 16, 1000);
    for (int i = 0; i < 3; i++)
        cr_assert(take(rl, "a", 1000).allowed, "request %d of the burst", i);
    gh_ratelimit_verdict_t v = take(rl, "a", 1000);
    cr_assert_not(v.allowed, "the fourth at once");
    cr_assert_eq(v.retry_ms, 500, "one request every 500 ms: %lld",
                 (long long)v.retry_ms);
    v = take(rl, "a", 1499);
    cr_assert_not(v.allowed);
    cr_assert_eq(v.retry_ms, 1);
    cr_assert(take(rl, "a", 1500).allowed, "one refilled after 500 ms");
    cr_assert_not(take(rl, "a", 1500).allowed, "and only one");
    /* Another key has its own bucket. */
    cr_assert(take(rl, "b", 1500).allowed);
    /* Idle far longer than a refill: the burst again, not more, and no
     * overflow however long. */
    int64_t later = (int64_t)1 << 60;
    for (int i = 0; i < 3; i++)
        cr_assert(take(rl, "a", later).allowed, "after idling: %d", i);
    cr_assert_not(take(rl, "a", later).allowed, "the burst is the cap");
    /* A clock that goes back refills nothing. */
    cr_assert_not(take(rl, "a", later - 5000).allowed);
    gh_ratelimit_destroy(rl);
}

Test(ratelimit, slower_than_one_a_second) {
    /* 6 a minute, 2 at once: one every 10 s once the burst is spent. */
    gh_ratelimit_t *rl = gh_ratelimit_new("t", 6, 60000, 2, 16, 1000);
    gh_ratelimit_verdict_t v;
    gh_ratelimit_peek(rl, "ip", 0, &v);
    cr_assert(v.allowed);
    gh_ratelimit_peek(rl, "ip", 0, &v);
    cr_assert(v.allowed, "a peek that passes takes nothing");
    gh_ratelimit_charge(rl, "ip", 0);
    gh_ratelimit_charge(rl, "ip", 0);
    gh_ratelimit_charge(rl, "ip", 0); /* an empty bucket stays empty */
    gh_ratelimit_peek(rl, "ip", 0, &v);
    cr_assert_not(v.allowed, "two failures spend the burst");
    cr_assert_eq(v.retry_ms, 10000, "%lld", (long long)v.retry_ms);
    gh_ratelimit_peek(rl, "ip", 9999, &v);
    cr_assert_not(v.allowed);
    gh_ratelimit_peek(rl, "ip", 10000, &v);
    cr_assert(v.allowed);
    gh_ratelimit_destroy(rl);
}

Test(ratelimit, one_refusal_reported_per_window) {
    gh_ratelimit_t *rl = gh_ratelimit_new("t", 1, 1000, 1, 16, 1000);
    cr_assert(take(rl, "a", 0).allowed);
    gh_ratelimit_verdict_t v = take(rl, "a", 10);
    cr_assert_not(v.allowed);
    cr_assert(v.report, "the first refusal is reported");
    cr_assert_eq(v.unreported, 0);
    for (int i = 0; i < 4; i++) {
        v = take(rl, "a", 20 + i);
        cr_assert_not(v.allowed);
        cr_assert_not(v.report, "refusal %d in the same window", i);
    }
    /* Refilled, the next request carries the four not reported. */
    v = take(rl, "a", 1010);
    cr_assert(v.allowed, "refilled after a second");
    cr_assert_eq(v.unreported, 4,
                 "the pass carries what was not reported: "
                 "%llu",
                 (unsigned long long)v.unreported);
    v = take(rl, "a", 1020);
    cr_assert_not(v.allowed);
    cr_assert(v.report, "a new window");
    cr_assert_eq(v.unreported, 0);
    v = take(rl, "a", 1500);
    cr_assert_not(v.report);
    v = take(rl, "a", 2020);
    cr_assert(v.allowed);
    cr_assert_eq(v.unreported, 1);
    cr_assert(take(rl, "a", 2020).allowed == 0);
    v = take(rl, "a", 3030);
    cr_assert(v.allowed);
    cr_assert_eq(v.unreported, 0, "nothing left over");
    gh_ratelimit_destroy(rl);
}

Test(ratelimit, the_table_stays_bounded) {
    gh_ratelimit_t *rl = gh_ratelimit_new("t", 1, 1000, 2, 4, 1000);
    char k[32];
    /* Four keys, each with a spent bucket: nothing idle to drop. */
    for (int i = 0; i < 4; i++) {
        snprintf(k, sizeof(k), "key%d", i);
        take(rl, k, 100 + i);
        take(rl, k, 100 + i);
    }
    cr_assert_eq(gh_ratelimit_size(rl), 4);
    /* A fifth: the least recently used (key0) goes. */
    cr_assert(take(rl, "key4", 200).allowed);
    cr_assert_eq(gh_ratelimit_size(rl), 4);
    cr_assert_not(take(rl, "key1", 200).allowed, "key1 still limited");
    cr_assert(take(rl, "key0", 200).allowed,
              "key0 was dropped: it starts again with a full bucket");
    cr_assert_eq(gh_ratelimit_size(rl), 4);
    /* Long after, all are idle: one new key drops them all. */
    take(rl, "new", 100000);
    cr_assert_eq(gh_ratelimit_size(rl), 1, "idle keys dropped: %zu",
                 gh_ratelimit_size(rl));
    /* A flood of distinct keys never grows the table. */
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof(k), "flood%d", i);
        take(rl, k, 100000 + i / 100);
        take(rl, k, 100000 + i / 100);
        cr_assert_leq(gh_ratelimit_size(rl), 4);
    }
    gh_ratelimit_destroy(rl);
}

Test(ratelimit, keys_and_no_limit) {
    gh_ratelimit_verdict_t v;
    gh_ratelimit_take(NULL, "a", 0, &v);
    cr_assert(v.allowed, "NULL: no limit");
    gh_ratelimit_t *rl = gh_ratelimit_new("t", 1, 1000, 1, 4, 1000);
    char longer[200];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    cr_assert(take(rl, longer, 0).allowed);
    longer[150] = 'y'; /* past the kept length: the same key */
    cr_assert_not(take(rl, longer, 0).allowed);
    gh_ratelimit_destroy(rl);
}
