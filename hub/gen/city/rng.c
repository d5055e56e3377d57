#include "rng.h"

uint64_t gh_gen_mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void gh_gen_rng_init(gh_gen_rng_t *r, uint64_t seed, uint64_t stream,
                     uint64_t index) {
    uint64_t x = gh_gen_mix(seed) ^ gh_gen_mix(stream * 0x632be59bd9b4e019ULL) ^
                 gh_gen_mix(index + 0x2545f4914f6cdd1dULL);
    for (int i = 0; i < 4; i++) {
        x = gh_gen_mix(x);
        r->s[i] = x;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t gh_gen_rng_next(gh_gen_rng_t *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t gh_gen_rng_below(gh_gen_rng_t *r, uint32_t n) {
    if (n == 0) return 0;
    /* Lemire's multiply-shift with rejection. */
    uint64_t m = (uint64_t)(uint32_t)(gh_gen_rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (low < t) {
            m = (uint64_t)(uint32_t)(gh_gen_rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

int gh_gen_rng_range(gh_gen_rng_t *r, int lo, int hi) {
    if (hi <= lo) return lo;
    return lo + (int)gh_gen_rng_below(r, (uint32_t)(hi - lo) + 1);
}

double gh_gen_rng_unit(gh_gen_rng_t *r) {
    return (double)(gh_gen_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

int gh_gen_rng_chance(gh_gen_rng_t *r, double p) {
    double u = gh_gen_rng_unit(r);
    return u < p;
}

size_t gh_gen_rng_pick(gh_gen_rng_t *r, const uint16_t *weights, size_t n) {
    uint32_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    if (total == 0) return gh_gen_rng_below(r, (uint32_t)n);
    uint32_t x = gh_gen_rng_below(r, total);
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i]) return i;
        x -= weights[i];
    }
    return n - 1;
}
