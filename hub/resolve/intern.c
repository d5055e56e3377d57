/*
 * The string arena and interning table of a record set, and the hash the
 * engine uses for strings and keys.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "match_int.h"

/* Big enough that 15 million records need only a few thousand chunks,
 * small enough that a test's set costs little. */
#define CHUNK_SIZE (1u << 20)

uint64_t gh__match_hash(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = gh__mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    return gh__mix64(h ^ w ^ ((uint64_t)n << 56));
}

const char *gh__intern_copy(gh__intern_t *in, const char *s, size_t n) {
    size_t need = n + 1;
    if (!in->nchunks || in->used + need > CHUNK_SIZE) {
        /* Reuse chunks kept by a clear before allocating new ones. */
        if (in->nchunks && in->cur + 1 < in->nchunks) {
            in->cur++;
        } else {
            if (in->nchunks == in->capchunks) {
                in->capchunks = in->capchunks ? 2 * in->capchunks : 16;
                in->chunks = gh_xrealloc(in->chunks,
                                         in->capchunks * sizeof(*in->chunks));
            }
            size_t sz = need > CHUNK_SIZE ? need : CHUNK_SIZE;
            in->chunks[in->nchunks] = gh_xmalloc(sz);
            in->cur = in->nchunks++;
        }
        in->used = 0;
        if (need > CHUNK_SIZE) { /* oversized: a chunk of its own, reused
                                    only by this string */
            free(in->chunks[in->cur]);
            in->chunks[in->cur] = gh_xmalloc(need);
            in->used = CHUNK_SIZE;
            memcpy(in->chunks[in->cur], s, n);
            in->chunks[in->cur][n] = '\0';
            in->bytes += need;
            return in->chunks[in->cur];
        }
    }
    char *d = in->chunks[in->cur] + in->used;
    memcpy(d, s, n);
    d[n] = '\0';
    in->used += need;
    in->bytes += need;
    return d;
}

static void grow(gh__intern_t *in) {
    size_t ncap = in->cap ? 2 * in->cap : 1024;
    gh__intern_slot_t *ns = gh_xcalloc(ncap, sizeof(*ns));
    for (size_t i = 0; i < in->cap; i++) {
        if (!in->slots[i].s) continue;
        size_t j = in->slots[i].hash & (ncap - 1);
        while (ns[j].s)
            j = (j + 1) & (ncap - 1);
        ns[j] = in->slots[i];
    }
    free(in->slots);
    in->slots = ns;
    in->cap = ncap;
}

const char *gh__intern_str(gh__intern_t *in, const char *s, size_t n) {
    if (2 * (in->count + 1) > in->cap) grow(in);
    uint64_t h = gh__match_hash(s, n, 0x5eed);
    size_t j = h & (in->cap - 1);
    while (in->slots[j].s) {
        if (in->slots[j].hash == h && !strncmp(in->slots[j].s, s, n) &&
            in->slots[j].s[n] == '\0')
            return in->slots[j].s;
        j = (j + 1) & (in->cap - 1);
    }
    const char *c = gh__intern_copy(in, s, n);
    in->slots[j].hash = h;
    in->slots[j].s = c;
    in->count++;
    return c;
}

void gh__intern_clear(gh__intern_t *in) {
    if (in->slots) memset(in->slots, 0, in->cap * sizeof(*in->slots));
    in->count = 0;
    in->cur = 0;
    in->used = 0;
    in->bytes = 0;
}

void gh__intern_free(gh__intern_t *in) {
    for (size_t i = 0; i < in->nchunks; i++)
        free(in->chunks[i]);
    free(in->chunks);
    free(in->slots);
    memset(in, 0, sizeof(*in));
}
