#include "gridhub/hist.h"

#include <string.h>

/* Values below 16 get one bucket each; above, each power of two is split
 * into 16 linear sub-buckets. */
static int bucket_of(uint64_t v) {
    if (v < 16) return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int sub = (int)((v >> (msb - 4)) & 15);
    int b = (msb - 3) * 16 + sub;
    return b < GH_HIST_BUCKETS ? b : GH_HIST_BUCKETS - 1;
}

static int64_t upper_of(int b) {
    if (b < 16) return b;
    int msb = b / 16 + 3;
    int sub = b % 16;
    return (int64_t)(((uint64_t)(16 + sub + 1) << (msb - 4)) - 1);
}

void gh_hist_reset(gh_hist_t *h) {
    memset(h, 0, sizeof(*h));
}

void gh_hist_record(gh_hist_t *h, int64_t us) {
    if (us < 0) us = 0;
    h->count[bucket_of((uint64_t)us)]++;
    h->n++;
    if (us > h->max) h->max = us;
}

int64_t gh_hist_quantile(const gh_hist_t *h, double q) {
    if (!h->n) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n);
    if (rank >= h->n) rank = h->n - 1;
    uint64_t seen = 0;
    for (int b = 0; b < GH_HIST_BUCKETS; b++) {
        seen += h->count[b];
        if (seen > rank) {
            if (b == GH_HIST_BUCKETS - 1) return h->max; /* clamped values */
            int64_t u = upper_of(b);
            return u < h->max ? u : h->max;
        }
    }
    return h->max;
}
