/*
 * Seeded random numbers for the generator: xoshiro256** seeded through
 * splitmix64. Every part of the city draws from its own stream, derived
 * from (seed, stream, index), so that changing how one department or one
 * grid is generated never shifts the numbers another one sees, and the
 * output depends on the seed and the properties only.
 */
#ifndef GH_GEN_RNG_H
#define GH_GEN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct gh_gen_rng {
    uint64_t s[4];
} gh_gen_rng_t;

/* Stream identifiers (the `stream` argument of gh_gen_rng_init). Values are
 * part of the output contract: renumbering them changes every city. */
enum {
    GH_GEN_STREAM_CITY = 1,  /* structure: districts, communities, grids */
    GH_GEN_STREAM_GRID = 2,  /* residents of one grid (index = grid) */
    GH_GEN_STREAM_DEPT = 16, /* + department: its copy of one grid */
    GH_GEN_STREAM_LIVE = 32, /* live mode */
    GH_GEN_STREAM_GUID = 33, /* 组织部 GUIDs (index = person) */
    /* Issue 14's errors: seed = the first 17 digits of the true ID number
     * (index = department, or GH_GEN_NDEPT for the person's own draws) or
     * the phone number (index = department). */
    GH_GEN_STREAM_REAL = 34,
    GH_GEN_STREAM_REAL_PHONE = 35,
    GH_GEN_STREAM_TEST = 99 /* unit tests */
};

/* Seeds `r` for the stream (seed, stream, index). */
void gh_gen_rng_init(gh_gen_rng_t *r, uint64_t seed, uint64_t stream,
                     uint64_t index);

/* The splitmix64 finalizer: a bijective 64-bit hash. */
uint64_t gh_gen_mix(uint64_t x);

uint64_t gh_gen_rng_next(gh_gen_rng_t *r);
/* Uniform in [0, n); n == 0 gives 0. Unbiased. */
uint32_t gh_gen_rng_below(gh_gen_rng_t *r, uint32_t n);
/* Uniform in [lo, hi] (inclusive); hi < lo gives lo. */
int gh_gen_rng_range(gh_gen_rng_t *r, int lo, int hi);
/* Uniform in [0, 1), 53 bits. */
double gh_gen_rng_unit(gh_gen_rng_t *r);
/* 1 with probability p (clamped to [0, 1]). Always consumes one draw, so a
 * changed probability never shifts later draws. */
int gh_gen_rng_chance(gh_gen_rng_t *r, double p);
/* An index in [0, n) drawn with the given non-negative weights (all zero:
 * uniform). Linear in n: for small tables. */
size_t gh_gen_rng_pick(gh_gen_rng_t *r, const uint16_t *weights, size_t n);

#endif
