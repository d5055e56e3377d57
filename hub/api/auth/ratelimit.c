/* Token buckets by key; see ratelimit.h. */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/util.h"

typedef struct entry {
    char key[GH_RATELIMIT_KEY_MAX + 1];
    int64_t units;       /* in the bucket, period_ms units a request */
    int64_t seen_ms;     /* when `units` was last brought up to date */
    int64_t used_ms;     /* its last request: the eviction order */
    int64_t reported_ms; /* the last reported refusal's window start */
    int has_reported;
    uint64_t unreported;
    int32_t next; /* in its hash chain or the free list; -1 ends */
} entry_t;

struct gh_ratelimit {
    const char *name;
    int64_t rate, period_ms, cap, report_ms;
    size_t max, n;
    entry_t *e;
    int32_t *heads; /* nheads chains of entry indexes */
    size_t nheads;
    int32_t free_list;
    uint64_t seed;
};

gh_ratelimit_t *gh_ratelimit_new(const char *name, int64_t rate,
                                 int64_t period_ms, int64_t burst,
                                 size_t max_keys, int64_t report_ms) {
    gh_ratelimit_t *rl = gh_xcalloc(1, sizeof(*rl));
    rl->name = name;
    rl->rate = rate;
    rl->period_ms = period_ms;
    rl->cap = burst * period_ms;
    rl->report_ms = report_ms;
    rl->max = max_keys;
    rl->e = gh_xcalloc(max_keys, sizeof(*rl->e));
    /* Chains of one or two on average, whatever the keys. */
    rl->nheads = 16;
    while (rl->nheads < 2 * max_keys)
        rl->nheads *= 2;
    rl->heads = gh_xcalloc(rl->nheads, sizeof(*rl->heads));
    for (size_t i = 0; i < rl->nheads; i++)
        rl->heads[i] = -1;
    for (size_t i = 0; i < max_keys; i++)
        rl->e[i].next = i + 1 < max_keys ? (int32_t)(i + 1) : -1;
    rl->free_list = 0;
    /* Keys come from clients (addresses): a seed of this process's own
     * keeps them from choosing colliding ones. */
    rl->seed = (uint64_t)gh_now_us() ^ (uint64_t)(uintptr_t)rl;
    return rl;
}

void gh_ratelimit_destroy(gh_ratelimit_t *rl) {
    if (!rl) return;
    free(rl->e);
    free(rl->heads);
    free(rl);
}

size_t gh_ratelimit_size(const gh_ratelimit_t *rl) {
    return rl ? rl->n : 0;
}

static size_t chain_of(const gh_ratelimit_t *rl, const char *key) {
    uint64_t h = 1469598103934665603ULL ^ rl->seed;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    return (size_t)(h & (rl->nheads - 1));
}

/* Brings e's bucket up to now (a clock that went back adds nothing). */
static void refill(const gh_ratelimit_t *rl, entry_t *e, int64_t now_ms) {
    int64_t dt = now_ms - e->seen_ms;
    if (dt <= 0) return;
    e->seen_ms = now_ms;
    /* Compared before multiplying: idle for days must not overflow. */
    if (dt >= (rl->cap - e->units) / rl->rate + 1)
        e->units = rl->cap;
    else
        e->units += dt * rl->rate;
}

static void unlink_entry(gh_ratelimit_t *rl, int32_t i) {
    int32_t *p = &rl->heads[chain_of(rl, rl->e[i].key)];
    while (*p != i)
        p = &rl->e[*p].next;
    *p = rl->e[i].next;
    rl->e[i].next = rl->free_list;
    rl->free_list = i;
    rl->n--;
}

/* Makes room for one more key: every idle entry goes, else the least
 * recently used. */
static void make_room(gh_ratelimit_t *rl, int64_t now_ms) {
    size_t before = rl->n;
    int32_t lru = -1;
    for (size_t h = 0; h < rl->nheads; h++) {
        for (int32_t i = rl->heads[h], next; i >= 0; i = next) {
            entry_t *e = &rl->e[i];
            next = e->next;
            refill(rl, e, now_ms);
            if (e->units == rl->cap && !e->unreported)
                unlink_entry(rl, i);
            else if (lru < 0 || e->used_ms < rl->e[lru].used_ms)
                lru = i;
        }
    }
    if (rl->n < before || lru < 0) return;
    if (rl->e[lru].unreported)
        gh_log_warn("ratelimit",
                    "%s: %llu refusals of %s not audited: evicted from a full "
                    "table of %zu",
                    rl->name, (unsigned long long)rl->e[lru].unreported,
                    rl->e[lru].key, rl->max);
    unlink_entry(rl, lru);
}

/* key's entry, made (with a full bucket) if there is none. */
static entry_t *entry_of(gh_ratelimit_t *rl, const char *key, int64_t now_ms) {
    char k[GH_RATELIMIT_KEY_MAX + 1];
    snprintf(k, sizeof(k), "%s", key);
    size_t h = chain_of(rl, k);
    for (int32_t i = rl->heads[h]; i >= 0; i = rl->e[i].next)
        if (!strcmp(rl->e[i].key, k)) {
            refill(rl, &rl->e[i], now_ms);
            rl->e[i].used_ms = now_ms;
            return &rl->e[i];
        }
    if (rl->n == rl->max) make_room(rl, now_ms);
    int32_t i = rl->free_list;
    entry_t *e = &rl->e[i];
    rl->free_list = e->next;
    memset(e, 0, sizeof(*e));
    memcpy(e->key, k, sizeof(k));
    e->units = rl->cap;
    e->seen_ms = e->used_ms = now_ms;
    e->next = rl->heads[h];
    rl->heads[h] = i;
    rl->n++;
    return e;
}

static void decide(gh_ratelimit_t *rl, const char *key, int64_t now_ms,
                   int take, gh_ratelimit_verdict_t *v) {
    memset(v, 0, sizeof(*v));
    if (!rl) {
        v->allowed = 1;
        return;
    }
    entry_t *e = entry_of(rl, key, now_ms);
    if (e->units >= rl->period_ms) {
        if (take) e->units -= rl->period_ms;
        v->allowed = 1;
        v->unreported = e->unreported;
        e->unreported = 0;
        return;
    }
    int64_t short_by = rl->period_ms - e->units;
    v->retry_ms = (short_by + rl->rate - 1) / rl->rate;
    if (e->has_reported && now_ms - e->reported_ms < rl->report_ms) {
        e->unreported++;
        return;
    }
    v->report = 1;
    v->unreported = e->unreported;
    e->unreported = 0;
    e->has_reported = 1;
    e->reported_ms = now_ms;
}

void gh_ratelimit_take(gh_ratelimit_t *rl, const char *key, int64_t now_ms,
                       gh_ratelimit_verdict_t *v) {
    decide(rl, key, now_ms, 1, v);
}

void gh_ratelimit_peek(gh_ratelimit_t *rl, const char *key, int64_t now_ms,
                       gh_ratelimit_verdict_t *v) {
    decide(rl, key, now_ms, 0, v);
}

void gh_ratelimit_charge(gh_ratelimit_t *rl, const char *key, int64_t now_ms) {
    if (!rl) return;
    entry_t *e = entry_of(rl, key, now_ms);
    if (e->units >= rl->period_ms) e->units -= rl->period_ms;
}
