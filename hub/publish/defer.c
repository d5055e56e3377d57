/* When a catch-up's persons go out (defer.h). The backlog is the
 * consumer's (gh_lanes_backlog): topics the lanes pause count with the
 * high watermarks of their last fetches, so it can rise when they resume
 * and learn what arrived meanwhile; over a window of minutes a load the
 * hub works through still shows as a gain. */
#include "defer.h"

void gh__defer_hold(gh__defer_t *d, int64_t now_ms, int64_t backlog) {
    if (d->since_ms) return;
    d->since_ms = d->window_ms = now_ms ? now_ms : 1;
    d->backlog_at = backlog;
}

void gh__defer_clear(gh__defer_t *d) {
    d->since_ms = d->window_ms = 0;
    d->backlog_at = -1;
}

int gh__defer_publish(gh__defer_t *d, int catching_up, int64_t now_ms,
                      int64_t backlog, int64_t max_ms, int64_t gaining_max_ms) {
    if (!catching_up || !max_ms) return 1;
    if (!d->since_ms) return 0;
    if (now_ms - d->window_ms < max_ms) return 0;
    int gained = backlog >= 0 && d->backlog_at >= 0 && backlog < d->backlog_at;
    if (!gained || now_ms - d->since_ms >= gaining_max_ms) return 1;
    /* Gaining: the load ends, and its persons go out once then. */
    d->window_ms = now_ms;
    d->backlog_at = backlog;
    return 0;
}

int gh__defer_views_due(int64_t *last_ms, int64_t *next_ms, int catching_up,
                        int64_t now_ms, int64_t every_ms, int64_t catchup_ms) {
    int64_t gap = catching_up && catchup_ms > every_ms ? catchup_ms : every_ms;
    int due = !*last_ms || now_ms - *last_ms >= gap;
    if (due) *last_ms = now_ms;
    *next_ms = *last_ms + gap;
    return due;
}
