/* When a catch-up's persons go out (views.person.defer.*): held back while
 * the hub gains on its backlog, so a resident whose records arrive over a
 * whole initial load is published once, at its end; published at the end
 * of a window the hub did not gain in, so a stream it cannot keep up with
 * still reaches subscribers. The decision alone, on the times and
 * backlogs the views thread gives it; docs/grid.md, "Persons first". */
#ifndef GH_HUB_DEFER_H
#define GH_HUB_DEFER_H

#include <stdint.h>

typedef struct gh__defer {
    int64_t since_ms;   /* the first views that left persons noted; 0: none */
    int64_t window_ms;  /* when the current window began */
    int64_t backlog_at; /* the backlog then; -1: not known */
} gh__defer_t;

/* Views left persons noted at `now_ms` with `backlog` messages waiting
 * (-1: not known): the hold begins, unless one is under way. */
void gh__defer_hold(gh__defer_t *d, int64_t now_ms, int64_t backlog);
/* The persons noted were all published: no hold. */
void gh__defer_clear(gh__defer_t *d);
/* Whether views made now publish the persons noted: 1 when the hub is not
 * catching up, or `max_ms` is 0; 0 when no hold has begun yet (a
 * catch-up's first views). A window of `max_ms` over which the backlog
 * went down (from above `backlog`) is followed by another, up to
 * `gaining_max_ms` since the hold began; one it did not go down in, or an
 * unknown backlog, publishes. */
int gh__defer_publish(gh__defer_t *d, int catching_up, int64_t now_ms,
                      int64_t backlog, int64_t max_ms, int64_t gaining_max_ms);

/* Whether the aggregate views are due at `now_ms`, given when they were
 * last made (*last_ms; 0: never): `every_ms` after it, or, while the hub
 * catches up, `catchup_ms` after it if that is longer (a catch-up's
 * batches touch the same households, buildings and residents again and
 * again, and fewer rounds make them fewer times). Due: *last_ms becomes
 * now_ms. *next_ms receives when they are next due, for the caller's
 * timer: from a catch-up's end on, that is `every_ms` after the last,
 * so the end is not kept waiting for a catch-up's interval. */
int gh__defer_views_due(int64_t *last_ms, int64_t *next_ms, int catching_up,
                        int64_t now_ms, int64_t every_ms, int64_t catchup_ms);

#endif
