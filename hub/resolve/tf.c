/*
 * Term-frequency table of the model: value -> count, for names and pinyin.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "match_int.h"

/* Open addressing; a count that drops to 0 keeps its slot (names come
 * back, and tombstones would complicate probing for no gain). */

static gh__tf_slot_t *find(const gh__tf_t *t, const char *s, uint64_t h) {
    if (!t->cap) return NULL;
    size_t j = h & (t->cap - 1);
    while (t->slots[j].s) {
        if (t->slots[j].hash == h && !strcmp(t->slots[j].s, s))
            return &t->slots[j];
        j = (j + 1) & (t->cap - 1);
    }
    return &t->slots[j];
}

static void grow(gh__tf_t *t) {
    size_t ncap = t->cap ? 2 * t->cap : 256;
    gh__tf_slot_t *ns = gh_xcalloc(ncap, sizeof(*ns));
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].s) continue;
        size_t j = t->slots[i].hash & (ncap - 1);
        while (ns[j].s)
            j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
}

void gh__tf_add(gh__tf_t *t, const char *s, int64_t delta) {
    if (!s || !*s || !delta) return;
    if (2 * (t->used + 1) > t->cap) grow(t);
    uint64_t h = gh__match_hash(s, strlen(s), 0x7f);
    gh__tf_slot_t *e = find(t, s, h);
    if (!e->s) {
        if (delta < 0) return; /* uncounting what was never counted */
        e->s = gh_xstrdup(s);
        e->hash = h;
        t->used++;
    }
    int64_t before = e->count;
    e->count += delta;
    if (e->count < 0) e->count = 0;
    t->total += e->count - before;
}

int64_t gh__tf_count(const gh__tf_t *t, const char *s) {
    if (!s) return 0;
    const gh__tf_slot_t *e = find(t, s, gh__match_hash(s, strlen(s), 0x7f));
    return e && e->s ? e->count : 0;
}

void gh__tf_free(gh__tf_t *t) {
    for (size_t i = 0; i < t->cap; i++)
        free(t->slots[i].s);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}
