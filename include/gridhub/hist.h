/*
 * A log-linear latency histogram (HdrHistogram-like, 1/16 relative
 * precision) for microsecond values up to about 2^40 µs. Fixed size, no
 * allocation after init, O(1) record, percentiles by a single pass.
 */
#ifndef GRIDHUB_HIST_H
#define GRIDHUB_HIST_H

#include <stdint.h>

#define GH_HIST_BUCKETS (41 * 16)

typedef struct gh_hist {
    uint64_t count[GH_HIST_BUCKETS];
    uint64_t n;
    int64_t max;
} gh_hist_t;

void gh_hist_reset(gh_hist_t *h);
void gh_hist_record(gh_hist_t *h, int64_t us);
/* The value at quantile q (0..1), as the upper bound of its bucket; 0 when
 * empty. */
int64_t gh_hist_quantile(const gh_hist_t *h, double q);

#endif
