/*
 * Token buckets by key (gh_ratelimit_): the API's limits per token and
 * per client address (docs/api.md). Each key has a bucket holding up to
 * `burst` requests, refilled at `rate` requests per `period_ms`; a request
 * takes one, and an empty bucket refuses it and says when one would pass.
 *
 * Refusals are dampened for the audit log: of a key's refusals, one per
 * `report_ms` window is to be reported, carrying the count of those that
 * were not since; a key's next passing request carries the count left
 * over, so that every refusal is counted somewhere.
 *
 * The table is bounded: a new key when it is full first drops every idle
 * entry (bucket full again, nothing left to report: indistinguishable from
 * a fresh one), else the least recently used one, whose unreported
 * refusals are then logged as a warning. A flood of distinct keys costs
 * memory for `max_keys` entries and no more.
 *
 * Integer arithmetic throughout (a request is `period_ms` units, the refill
 * `rate` units per ms), so the buckets do not drift. Not thread-safe: the
 * API's one polling thread owns its limiters. Time is the caller's
 * (monotonic milliseconds, gh_now_ms()), so that tests can step it.
 */
#ifndef GH_API_RATELIMIT_H
#define GH_API_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/* The longest key kept; longer keys are cut (token ids and addresses fit
 * in far less). */
#define GH_RATELIMIT_KEY_MAX 63

typedef struct gh_ratelimit gh_ratelimit_t;

typedef struct gh_ratelimit_verdict {
    int allowed;
    /* Refused: milliseconds until one request of the key passes (>= 1). */
    int64_t retry_ms;
    /* Refused: this refusal is the first of its window, to be reported. */
    int report;
    /* Refusals of the key not reported before this one (when report) or
     * before this passing request: the caller reports the count. */
    uint64_t unreported;
} gh_ratelimit_verdict_t;

/* `rate` requests per `period_ms` (both >= 1), up to `burst` (>= 1) at
 * once, for at most `max_keys` (>= 1) keys; `report_ms` (>= 1) the window
 * of refusals reported once; `name` (borrowed, static) names the limiter
 * in log lines. Aborts on out of memory. */
gh_ratelimit_t *gh_ratelimit_new(const char *name, int64_t rate,
                                 int64_t period_ms, int64_t burst,
                                 size_t max_keys, int64_t report_ms);

/* NULL: no-op. */
void gh_ratelimit_destroy(gh_ratelimit_t *rl);

/* One request of `key` (borrowed) at `now_ms`: takes one from its bucket
 * if it holds one, else refuses it. rl NULL (no limit): always allowed. */
void gh_ratelimit_take(gh_ratelimit_t *rl, const char *key, int64_t now_ms,
                       gh_ratelimit_verdict_t *v);

/* As gh_ratelimit_take, but a request that passes takes nothing: for
 * limits charged afterwards (gh_ratelimit_charge), on failures only. */
void gh_ratelimit_peek(gh_ratelimit_t *rl, const char *key, int64_t now_ms,
                       gh_ratelimit_verdict_t *v);

/* Takes one from `key`'s bucket if it holds one (nothing is refused). */
void gh_ratelimit_charge(gh_ratelimit_t *rl, const char *key, int64_t now_ms);

/* How many keys the table holds (for tests). */
size_t gh_ratelimit_size(const gh_ratelimit_t *rl);

#endif
