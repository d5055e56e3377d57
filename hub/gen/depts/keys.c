/* Each department's keys for the residents' rows, rebuilt the same way by
 * the writers, the ground truth and live mode. */
#include <stdio.h>

#include "gen_int.h"

void gh_gen_key_zz(uint32_t no, char *out, size_t n) {
    snprintf(out, n, "ZZ%08u", no);
}

void gh_gen_key_rybh(const char *district, uint32_t no, char *out, size_t n) {
    snprintf(out, n, "R%s%09u", district, no);
}

void gh_gen_key_ldrybh(const char *district, int year, uint32_t no, char *out,
                       size_t n) {
    snprintf(out, n, "LD%s%04d%07u", district, year % 10000, no);
}

int32_t gh_gen_ldrk_day(const gh_gen_t *g, uint32_t person) {
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, g->seed, GH_GEN_STREAM_GUID,
                    (uint64_t)person + (1ULL << 40));
    const gh_gen_person_t *p = &g->city->persons[person];
    int32_t to = p->eday ? p->eday - 30 : g->city->ref_day - 10;
    int32_t from = to - 4 * 365;
    int32_t adult = p->birth + 16 * 365;
    if (from < adult) from = adult < to ? adult : to;
    return gh_gen_day_between(&r, from, to);
}

void gh_gen_key_jtbh(const gh_gen_t *g, uint32_t hh, char *out, size_t n) {
    const gh_gen_city_t *c = g->city;
    const gh_gen_household_t *h = &c->hhs[hh];
    int comm = c->grids[h->grid].comm;
    char stat[16];
    gh_gen_code_stat(c, c->comms[comm].sub, comm, stat, sizeof(stat));
    snprintf(out, n, "%s%04u", stat, (unsigned)h->js_fam % 10000u);
}

void gh_gen_key_cybh(const gh_gen_t *g, uint32_t person, char *out, size_t n) {
    char jtbh[24];
    const gh_gen_person_t *p = &g->city->persons[person];
    gh_gen_key_jtbh(g, p->hh, jtbh, sizeof(jtbh));
    snprintf(out, n, "%s%02u", jtbh, p->dept_no[GH_GEN_JISHENG] % 100u);
}

void gh_gen_key_dyid(const gh_gen_t *g, uint32_t person, char out[33]) {
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, g->seed, GH_GEN_STREAM_GUID, person);
    uint64_t a = gh_gen_rng_next(&r), b = gh_gen_rng_next(&r);
    snprintf(out, 33, "%016llX%016llX", (unsigned long long)a,
             (unsigned long long)b);
}
