#include "city.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/util.h"
#include "places.h"

/* ---- dates
 * --------------------------------------------------------------------- */

int32_t gh_gen_days(int y, int m, int d) {
    return (int32_t)gh_days_from_civil(y, m, d);
}

void gh_gen_civil(int32_t day, int *y, int *m, int *d) {
    int64_t z = (int64_t)day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int gh_gen_age(int32_t birth, int32_t day) {
    int y1, m1, d1, y2, m2, d2;
    gh_gen_civil(birth, &y1, &m1, &d1);
    gh_gen_civil(day, &y2, &m2, &d2);
    return y2 - y1 - (m2 < m1 || (m2 == m1 && d2 < d1));
}

/* ---- ID numbers
 * ---------------------------------------------------------------- */

static uint64_t id_key(const gh_gen_person_t *p) {
    int y, m, d;
    gh_gen_civil(p->birth, &y, &m, &d);
    return (uint64_t)p->region * 100000000000ULL +
           (uint64_t)(y * 10000 + m * 100 + d) * 1000ULL + p->seq;
}

static int ids_insert(gh_gen_city_t *c, uint64_t key) {
    if ((c->n_ids + 1) * 2 > c->ids_mask + 1) {
        uint64_t old_mask = c->ids_mask, *old = c->ids;
        c->ids_mask = old_mask ? old_mask * 2 + 1 : (1u << 16) - 1;
        c->ids = gh_xcalloc(c->ids_mask + 1, sizeof(uint64_t));
        for (uint64_t i = 0; old && i <= old_mask; i++)
            if (old[i]) {
                uint64_t h = gh_gen_mix(old[i]) & c->ids_mask;
                while (c->ids[h])
                    h = (h + 1) & c->ids_mask;
                c->ids[h] = old[i];
            }
        free(old);
    }
    uint64_t h = gh_gen_mix(key) & c->ids_mask;
    while (c->ids[h]) {
        if (c->ids[h] == key) return 0;
        h = (h + 1) & c->ids_mask;
    }
    c->ids[h] = key;
    c->n_ids++;
    return 1;
}

/* Draws the sequence (odd for men, even for women) so that the ID number
 * is unique in the city; moves the birth date a day if a date is full. */
static void assign_id(gh_gen_city_t *c, gh_gen_rng_t *r, gh_gen_person_t *p) {
    for (int tries = 0;; tries++) {
        p->seq = (uint16_t)(gh_gen_rng_below(r, 500) * 2 + (p->sex == 1));
        if (ids_insert(c, id_key(p))) return;
        if (tries % 64 == 63) p->birth++;
    }
}

void gh_gen_person_id(const gh_gen_person_t *p, char out[19]) {
    int y, m, d;
    gh_gen_civil(p->birth, &y, &m, &d);
    /* The modulo bounds tell the compiler each field's width. */
    snprintf(out, 19, "%06u%04u%02u%02u%03u", p->region % 1000000u,
             (unsigned)y % 10000u, (unsigned)m % 100u, (unsigned)d % 100u,
             (unsigned)p->seq % 1000u);
    out[17] = gh_idnum_check_char(out);
    out[18] = '\0';
}

int gh_gen_person_current(const gh_gen_person_t *p) {
    return !(p->flags & (GH_GEN_P_DEAD | GH_GEN_P_LEFT));
}

int gh_gen_person_lives_here(const gh_gen_city_t *c, const gh_gen_person_t *p) {
    (void)c;
    return !(p->flags & (GH_GEN_P_DEAD | GH_GEN_P_LEFT | GH_GEN_P_AWAY));
}

/* ---- building the hierarchy
 * ------------------------------------------------------ */

static int code_taken(const gh_gen_city_t *c, const char *code) {
    for (int i = 0; i < c->n_dists; i++)
        if (!strcmp(c->dists[i].abbr, code)) return 1;
    for (int i = 0; i < c->n_subs; i++)
        if (!strcmp(c->subs[i].zz, code)) return 1;
    return 0;
}

static int dj_taken(const gh_gen_city_t *c, const char *code) {
    for (int i = 0; i < c->n_subs; i++)
        if (!strcmp(c->subs[i].dj, code)) return 1;
    return 0;
}

static gh_gen_comm_t *add_comm(gh_gen_city_t *c, int sub, const char *stem,
                               const char *abbr, int village) {
    c->comms =
        gh_xrealloc(c->comms, (size_t)(c->n_comms + 1) * sizeof(*c->comms));
    gh_gen_comm_t *cm = &c->comms[c->n_comms];
    memset(cm, 0, sizeof(*cm));
    gh_gen_sub_t *s = &c->subs[sub];
    cm->sub = sub;
    cm->index = c->n_comms - s->first_comm + 1;
    cm->village = village;
    snprintf(cm->stem, sizeof(cm->stem), "%s", stem);
    snprintf(cm->name, sizeof(cm->name), "%s%s", stem, village ? "村" : "社区");
    /* Codes unique within the sub-district: a second 石门 gets SM2. */
    for (int k = 1;; k++) {
        char zz[48], dj[48];
        if (k == 1) {
            snprintf(zz, sizeof(zz), "%s-%s", s->zz, abbr);
            snprintf(dj, sizeof(dj), "%s%s", abbr, village ? "C" : "SQ");
        } else {
            snprintf(zz, sizeof(zz), "%s-%s%d", s->zz, abbr, k % 100);
            snprintf(dj, sizeof(dj), "%s%s%d", abbr, village ? "C" : "SQ",
                     k % 100);
        }
        int taken = 0;
        for (int i = s->first_comm; i < c->n_comms; i++)
            if (!strcmp(c->comms[i].zz, zz) || !strcmp(c->comms[i].dj, dj))
                taken = 1;
        if (!taken && strlen(zz) < sizeof(cm->zz) &&
            strlen(dj) < sizeof(cm->dj)) {
            memcpy(cm->zz, zz, strlen(zz) + 1);
            memcpy(cm->dj, dj, strlen(dj) + 1);
            break;
        }
    }
    cm->first_grid = (int)c->n_grids;
    c->n_comms++;
    s->n_comms++;
    return cm;
}

/* Appends the community's grids with each department's division of them:
 * 党建 grids pair 综治 grids 2 and 3 where a community has three or more
 * (大塘社区: two party grids for three 综治 grids); a 创文 area runs along
 * the street between the last two grids of a community with an even number
 * of grids (童家路片区 spans LP-TJ-01 and LP-TJ-02). */
static void add_grids(gh_gen_city_t *c, gh_gen_rng_t *r, gh_gen_comm_t *cm,
                      int n, int *next_area) {
    c->grids =
        gh_xrealloc(c->grids, (c->n_grids + (uint32_t)n) * sizeof(*c->grids));
    cm->n_grids = n;
    cm->n_party = n >= 3 ? n - 1 : n;
    int shared_area = n >= 2 && n % 2 == 0;
    for (int i = 1; i <= n; i++) {
        gh_gen_grid_t *g = &c->grids[c->n_grids++];
        memset(g, 0, sizeof(*g));
        g->comm = (int)(cm - c->comms);
        g->index = (uint16_t)i;
        g->party = (uint16_t)(n >= 3 ? (i == 1 ? 1 : i <= 3 ? 2 : i - 1) : i);
        if (shared_area && i == n)
            g->area = (uint16_t)(*next_area - 1);
        else
            g->area = (uint16_t)(*next_area)++;
        g->compound = (uint8_t)(cm->village ? 0 : (i - 1) / 3);
        double t = GH_GEN_RESIDENTS_PER_GRID * c->scale *
                   (0.7 + 0.6 * gh_gen_rng_unit(r));
        g->target = (uint16_t)(t < 1 ? 1 : t > 60000 ? 60000 : t + 0.5);
        g->leader = g->fulltime = g->liaison = g->cadre = GH_GEN_NONE;
    }
}

static void street_for(gh_gen_rng_t *r, gh_gen_comm_t *cm) {
    snprintf(cm->street, sizeof(cm->street), "%s%s", cm->stem,
             gh_gen_place_street_suffix(gh_gen_rng_below(r, 5)));
    cm->door = gh_gen_rng_range(r, 1, 399);
}

/* Cuts a sub-district's grids into communities and villages. */
static void add_communities(gh_gen_city_t *c, gh_gen_rng_t *r, int sub,
                            int grids) {
    gh_gen_sub_t *s = &c->subs[sub];
    int next_area = 1;
    if (s->district == 0 && s->index == GH_GEN_LEPING_INDEX + 1) {
        size_t n;
        const gh_gen_place_comm_t *lp = gh_gen_place_leping(&n);
        for (size_t i = 0; i < n; i++) {
            gh_gen_comm_t *cm = add_comm(c, sub, lp[i].stem, lp[i].abbr, 0);
            if (lp[i].street) {
                snprintf(cm->street, sizeof(cm->street), "%s", lp[i].street);
                cm->door = lp[i].door;
                snprintf(cm->compound0, sizeof(cm->compound0), "%s",
                         lp[i].compound);
            } else {
                street_for(r, cm);
            }
            add_grids(c, r, cm, lp[i].grids, &next_area);
        }
        return;
    }
    size_t nstems;
    const gh_gen_stem_t *stems = gh_gen_place_stems(&nstems);
    uint32_t *order = gh_xmalloc(nstems * sizeof(uint32_t));
    for (size_t i = 0; i < nstems; i++)
        order[i] = (uint32_t)i;
    for (size_t i = nstems - 1; i > 0; i--) {
        size_t j = gh_gen_rng_below(r, (uint32_t)i + 1);
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    int left = grids, k = 0;
    while (left > 0) {
        int towns = s->kind == GH_GEN_SUB_ZHEN ? 2 : 1;
        int village = s->kind != GH_GEN_SUB_JIEDAO && k >= towns;
        int size = s->kind == GH_GEN_SUB_JIEDAO ? gh_gen_rng_range(r, 9, 16)
                   : !village                   ? gh_gen_rng_range(r, 6, 12)
                                                : gh_gen_rng_range(r, 3, 9);
        if (size > left || left - size < 3) size = left;
        const gh_gen_stem_t *st = &stems[order[(size_t)k % nstems]];
        gh_gen_comm_t *cm = add_comm(c, sub, st->stem, st->abbr, village);
        street_for(r, cm);
        add_grids(c, r, cm, size, &next_area);
        left -= size;
        k++;
    }
    free(order);
}

static void add_sub(gh_gen_city_t *c, gh_gen_rng_t *r, int dist,
                    const gh_gen_place_sub_t *ps, int index, int grids) {
    c->subs = gh_xrealloc(c->subs, (size_t)(c->n_subs + 1) * sizeof(*c->subs));
    gh_gen_sub_t *s = &c->subs[c->n_subs];
    memset(s, 0, sizeof(*s));
    s->name = ps->name;
    s->stem = ps->stem;
    s->district = dist;
    s->index = index;
    /* 乐坪派出所 is station 01 of 娄星区 (ZRQ-43130201xx). */
    s->station = dist == 0 && index <= 2 ? 3 - index : index;
    s->kind = ps->kind;
    const char *kind = ps->kind == GH_GEN_SUB_JIEDAO ? "JD"
                       : ps->kind == GH_GEN_SUB_ZHEN ? "Z"
                                                     : "X";
    for (int k = 1;; k++) {
        char zz[32];
        if (k == 1)
            snprintf(zz, sizeof(zz), "%s", ps->abbr);
        else
            snprintf(zz, sizeof(zz), "%s%d", ps->abbr, k % 100);
        if (!code_taken(c, zz) && strlen(zz) < sizeof(s->zz)) {
            memcpy(s->zz, zz, strlen(zz) + 1);
            break;
        }
    }
    for (int k = 1;; k++) {
        char dj[32];
        if (k == 1)
            snprintf(dj, sizeof(dj), "%s%s", ps->abbr, kind);
        else
            snprintf(dj, sizeof(dj), "%s%s%d", ps->abbr, kind, k % 100);
        if (!dj_taken(c, dj) && strlen(dj) < sizeof(s->dj)) {
            memcpy(s->dj, dj, strlen(dj) + 1);
            break;
        }
    }
    s->first_comm = c->n_comms;
    c->n_subs++;
    c->dists[dist].n_subs++;
    add_communities(c, r, c->n_subs - 1, grids);
}

gh_gen_city_t *gh_gen_city_new(int preset, uint64_t seed, double scale) {
    gh_gen_city_t *c = gh_xcalloc(1, sizeof(*c));
    c->seed = seed;
    c->scale = scale;
    c->preset = preset;
    c->ref_day = gh_gen_days(GH_GEN_REF_Y, GH_GEN_REF_M, GH_GEN_REF_D);
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, seed, GH_GEN_STREAM_CITY, 0);
    size_t nd;
    const gh_gen_place_district_t *pd = gh_gen_place_districts(&nd);
    if (preset == GH_GEN_PRESET_DEMO) nd = 1;
    c->dists = gh_xcalloc(nd, sizeof(*c->dists));
    for (size_t d = 0; d < nd; d++) {
        gh_gen_district_t *gd = &c->dists[c->n_dists++];
        gd->name = pd[d].name;
        gd->code = pd[d].code;
        gd->abbr = pd[d].abbr;
        gd->first_sub = c->n_subs;
        if (preset == GH_GEN_PRESET_DEMO) {
            size_t n;
            gh_gen_place_leping(&n);
            add_sub(c, &r, 0, &pd[0].subs[GH_GEN_LEPING_INDEX],
                    GH_GEN_LEPING_INDEX + 1, 0);
            continue;
        }
        /* Share the district's grids among its sub-districts: 街道 are
         * denser than towns, towns than townships. 乐坪街道 keeps its 131. */
        int total = pd[d].grids, fixed = 0, wsum = 0;
        int alloc[64] = {0};
        double want[64];
        for (size_t i = 0; i < pd[d].n_subs; i++) {
            if (d == 0 && i == GH_GEN_LEPING_INDEX) {
                size_t n;
                const gh_gen_place_comm_t *lp = gh_gen_place_leping(&n);
                for (size_t k = 0; k < n; k++)
                    alloc[i] += lp[k].grids;
                fixed += alloc[i];
                continue;
            }
            wsum += pd[d].subs[i].kind == GH_GEN_SUB_JIEDAO ? 16
                    : pd[d].subs[i].kind == GH_GEN_SUB_ZHEN ? 10
                                                            : 6;
        }
        int rest = total - fixed, given = 0;
        for (size_t i = 0; i < pd[d].n_subs; i++) {
            if (d == 0 && i == GH_GEN_LEPING_INDEX) continue;
            int w = pd[d].subs[i].kind == GH_GEN_SUB_JIEDAO ? 16
                    : pd[d].subs[i].kind == GH_GEN_SUB_ZHEN ? 10
                                                            : 6;
            want[i] = (double)rest * w / wsum;
            alloc[i] = (int)want[i];
            given += alloc[i];
        }
        while (given < rest) { /* largest remainder */
            size_t best = 0;
            double bestf = -1;
            for (size_t i = 0; i < pd[d].n_subs; i++) {
                if (d == 0 && i == GH_GEN_LEPING_INDEX) continue;
                double f = want[i] - alloc[i];
                if (f > bestf) {
                    bestf = f;
                    best = i;
                }
            }
            alloc[best]++;
            given++;
        }
        for (size_t i = 0; i < pd[d].n_subs; i++)
            add_sub(c, &r, (int)d, &pd[d].subs[i], (int)i + 1, alloc[i]);
    }
    return c;
}

void gh_gen_city_destroy(gh_gen_city_t *c) {
    if (!c) return;
    free(c->dists);
    free(c->subs);
    free(c->comms);
    free(c->grids);
    free(c->persons);
    free(c->hhs);
    free(c->dw);
    free(c->bl);
    free(c->scratch);
    free(c->ids);
    free(c);
}

/* ---- residents
 * ----------------------------------------------------------------------- */

static uint32_t district_region(const gh_gen_city_t *c, uint32_t g) {
    const gh_gen_comm_t *cm = &c->comms[c->grids[g].comm];
    return (uint32_t)atoi(c->dists[c->subs[cm->sub].district].code);
}

uint32_t gh_gen_city_add_household(gh_gen_city_t *c, gh_gen_rng_t *r,
                                   uint32_t g, int kind) {
    if (c->n_hh == c->cap_hh) {
        c->cap_hh = c->cap_hh ? c->cap_hh * 2 : 4096;
        c->hhs = gh_xrealloc(c->hhs, c->cap_hh * sizeof(*c->hhs));
    }
    gh_gen_household_t *h = &c->hhs[c->n_hh];
    memset(h, 0, sizeof(*h));
    h->first = c->n_persons;
    h->grid = (uint16_t)g;
    h->kind = (uint8_t)kind;
    if (kind == GH_GEN_HH_FLOAT || kind == GH_GEN_HH_LEFT) {
        uint16_t w[32];
        size_t n = gh_gen_origin_count();
        for (size_t i = 0; i < n && i < 32; i++)
            w[i] = gh_gen_origin(i)->weight;
        h->origin = (uint8_t)gh_gen_rng_pick(r, w, n < 32 ? n : 32);
    }
    return c->n_hh++;
}

static int32_t birth_for_age(gh_gen_city_t *c, gh_gen_rng_t *r, int age) {
    if (age < 0) age = 0;
    if (age > 100) age = 100;
    /* A birthday in the 365 days that give this age on REF. */
    int y, m, d;
    gh_gen_civil(c->ref_day, &y, &m, &d);
    int32_t latest = gh_gen_days(y - age, m, d > 28 && m == 2 ? 28 : d);
    return latest - (int32_t)gh_gen_rng_below(r, 365);
}

static uint64_t draw_phone(gh_gen_rng_t *r) {
    static const uint16_t prefix[] = {
        130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151,
        152, 153, 155, 156, 157, 158, 159, 166, 173, 176, 177, 180,
        181, 182, 183, 185, 186, 187, 188, 189, 191, 198, 199};
    uint64_t p =
        prefix[gh_gen_rng_below(r, sizeof(prefix) / sizeof(prefix[0]))];
    return p * 100000000ULL + gh_gen_rng_below(r, 100000000);
}

static int draw_edu(gh_gen_rng_t *r, int birth_year, int age) {
    if (age < 7) return GH_GEN_EDU_NONE;
    if (age <= 12) return GH_GEN_EDU_PRIMARY;
    if (age <= 15) return GH_GEN_EDU_JUNIOR;
    if (age <= 18) return GH_GEN_EDU_SENIOR;
    static const uint16_t w[5][8] = {{20, 45, 25, 8, 1, 1, 0, 0},
                                     {5, 30, 40, 17, 4, 3, 1, 0},
                                     {1, 12, 45, 22, 8, 7, 5, 0},
                                     {0, 4, 30, 20, 12, 17, 15, 2},
                                     {0, 2, 18, 15, 15, 25, 22, 3}};
    int k = birth_year < 1950   ? 0
            : birth_year < 1965 ? 1
            : birth_year < 1980 ? 2
            : birth_year < 1995 ? 3
                                : 4;
    return (int)gh_gen_rng_pick(r, w[k], 8);
}

static int draw_employer(gh_gen_city_t *c, gh_gen_rng_t *r,
                         const gh_gen_person_t *p, int age, int village) {
    (void)c;
    int retire = p->sex == 1 ? 60 : 55;
    if (age < 20 || age >= retire || !gh_gen_rng_chance(r, 0.82)) return 0;
    size_t units = gh_gen_unit_count(), n = gh_gen_employer_count();
    if (p->edu >= GH_GEN_EDU_COLLEGE && gh_gen_rng_chance(r, 0.2))
        return 1 + (int)gh_gen_rng_below(r, (uint32_t)units);
    if (village && gh_gen_rng_chance(r, 0.5)) return (int)n - 1; /* 务农 */
    return (int)(units + 1 + gh_gen_rng_below(r, (uint32_t)(n - units - 1)));
}

uint32_t gh_gen_city_add_person(gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t hh,
                                int sex, int32_t birth, uint32_t region,
                                int rel, int eth, int surname) {
    if (c->n_persons == c->cap_persons) {
        c->cap_persons = c->cap_persons ? c->cap_persons * 2 : 8192;
        c->persons =
            gh_xrealloc(c->persons, c->cap_persons * sizeof(*c->persons));
    }
    uint32_t idx = c->n_persons++;
    gh_gen_person_t *p = &c->persons[idx];
    memset(p, 0, sizeof(*p));
    gh_gen_household_t *h = &c->hhs[hh];
    if (h->first + h->n == idx)
        h->n++;
    else
        h->extra++; /* a household's first n members stay contiguous */
    p->hh = hh;
    p->grid = h->grid;
    p->sex = (uint8_t)sex;
    p->birth = birth;
    p->region = region;
    p->rel = (uint8_t)rel;
    p->eth = (uint8_t)eth;
    int y, m, d;
    gh_gen_civil(birth, &y, &m, &d);
    gh_gen_name_draw(r, sex, y, surname, eth == GH_GEN_ETH_UYGHUR, &p->name);
    assign_id(c, r, p);
    int age = gh_gen_age(p->birth, c->ref_day);
    if (age >= 16 && gh_gen_rng_chance(r, age >= 75 ? 0.5 : 0.95))
        p->phone = draw_phone(r);
    p->edu = (uint8_t)draw_edu(r, y, age);
    p->employer = (uint8_t)draw_employer(
        c, r, p, age, c->comms[c->grids[h->grid].comm].village);
    p->marital = age < 22 ? 10 : 20;
    return idx;
}

/* Household compositions (local and floating), weights per 100. */
enum {
    T_SINGLE_ELDER,
    T_ELDER_COUPLE,
    T_SINGLE_YOUNG,
    T_COUPLE,
    T_NUCLEAR,
    T_THREE_GEN,
    T_GRAND_HEAD,
    T_SINGLE_PARENT,
    T_ADULT_KIDS,
    T__COUNT
};
static const uint16_t LOCAL_TYPES[T__COUNT] = {11, 10, 9, 6, 33, 15, 5, 4, 7};
static const uint16_t FLOAT_TYPES[T__COUNT] = {0, 0, 50, 20, 30, 0, 0, 0, 0};

typedef struct hh_ctx {
    gh_gen_city_t *c;
    gh_gen_rng_t *r;
    uint32_t hh;
    uint32_t region; /* of the household's own members */
    int eth;
    int kind;
    int counted; /* living (non-ghost) members */
} hh_ctx_t;

/* Region of a spouse born elsewhere (another county of Loudi or Hunan). */
static uint32_t spouse_region(hh_ctx_t *x) {
    if (x->kind == GH_GEN_HH_FLOAT || gh_gen_rng_chance(x->r, 0.65))
        return x->region;
    if (gh_gen_rng_chance(x->r, 0.55)) {
        size_t nd;
        const gh_gen_place_district_t *pd = gh_gen_place_districts(&nd);
        return (uint32_t)atoi(pd[gh_gen_rng_below(x->r, (uint32_t)nd)].code);
    }
    size_t n = gh_gen_origin_count();
    return (uint32_t)atoi(
        gh_gen_origin(1 + gh_gen_rng_below(x->r, (uint32_t)n - 1))->code);
}

static uint32_t member(hh_ctx_t *x, int sex, int age, int rel, int surname,
                       uint32_t region, int eth) {
    int32_t b = birth_for_age(x->c, x->r, age);
    uint32_t p = gh_gen_city_add_person(x->c, x->r, x->hh, sex, b, region, rel,
                                        eth, surname);
    x->counted++;
    if (x->kind == GH_GEN_HH_AWAY) x->c->persons[p].flags |= GH_GEN_P_AWAY;
    return p;
}

static int surname_of(hh_ctx_t *x, uint32_t p) {
    return x->c->persons[p].name.pool == GH_GEN_POOL_MINORITY
               ? -1
               : x->c->persons[p].name.sur;
}

/* A member who died in the last six years (公安 cancels, 计生 cancels,
 * 组织部 marks 死亡; 综治 sometimes never notices). */
static void ghost(hh_ctx_t *x, int sex, int age_now, int rel, int surname) {
    int32_t death = x->c->ref_day - gh_gen_rng_range(x->r, 30, 6 * 365);
    int32_t b = birth_for_age(x->c, x->r, age_now);
    uint32_t p = gh_gen_city_add_person(x->c, x->r, x->hh, sex, b, x->region,
                                        rel, x->eth, surname);
    gh_gen_person_t *gp = &x->c->persons[p];
    gp->flags |= GH_GEN_P_DEAD;
    gp->eday = death;
    gp->marital = 20;
    gp->employer = 0;
}

/* Children of a mother aged `mother_age`, oldest first, ages within
 * [0, max_age]; sets their order among same-sex siblings. */
static void children(hh_ctx_t *x, int n, int mother_age, int max_age,
                     int min_age, int rel_son, int surname, double p_away) {
    int ages[4], sexes[4];
    for (int i = 0; i < n; i++) {
        int a = mother_age - gh_gen_rng_range(x->r, 21, 36);
        if (a > max_age) a = max_age - (int)gh_gen_rng_below(x->r, 3);
        if (a < min_age) a = min_age;
        if (a < 0) a = 0;
        ages[i] = a;
        sexes[i] = gh_gen_rng_chance(x->r, 0.53) ? 1 : 2;
    }
    for (int i = 1; i < n; i++) /* oldest first */
        for (int j = i; j > 0 && ages[j] > ages[j - 1]; j--) {
            int t = ages[j];
            ages[j] = ages[j - 1];
            ages[j - 1] = t;
            t = sexes[j];
            sexes[j] = sexes[j - 1];
            sexes[j - 1] = t;
        }
    int sons = 0, daughters = 0;
    for (int i = 0; i < n; i++) {
        int boy = sexes[i] == 1;
        int rel = rel_son == GH_GEN_REL_SON
                      ? (boy ? GH_GEN_REL_SON : GH_GEN_REL_DAUGHTER)
                      : (boy ? GH_GEN_REL_GRANDSON : GH_GEN_REL_GRANDDAUGHTER);
        uint32_t p =
            member(x, sexes[i], ages[i], rel, surname, x->region, x->eth);
        gh_gen_person_t *pp = &x->c->persons[p];
        pp->order = (uint8_t)(n == 1 ? 0 : boy ? ++sons : ++daughters);
        pp->marital = 10; /* children living with their parents are single */
        if (x->kind == GH_GEN_HH_LOCAL && ages[i] >= 18 &&
            gh_gen_rng_chance(x->r, p_away))
            pp->flags |= GH_GEN_P_AWAY;
    }
}

static int kids_count(gh_gen_rng_t *r) {
    static const uint16_t w[3] = {45, 45, 10};
    return 1 + (int)gh_gen_rng_pick(r, w, 3);
}

/* Creates one household; returns its living members. */
static int make_household(gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t g,
                          int kind) {
    hh_ctx_t x = {c, r, 0, 0, 0, kind, 0};
    x.hh = gh_gen_city_add_household(c, r, g, kind);
    gh_gen_household_t *h = &c->hhs[x.hh];
    int float_like = kind == GH_GEN_HH_FLOAT || kind == GH_GEN_HH_LEFT;
    if (float_like) {
        x.region = (uint32_t)atoi(gh_gen_origin(h->origin)->code);
        x.eth = h->origin == GH_GEN_ORIGIN_XINJIANG ? GH_GEN_ETH_UYGHUR
                                                    : gh_gen_eth_draw(r);
    } else {
        x.region = district_region(c, g);
        x.eth = gh_gen_eth_draw(r);
    }
    if (kind == GH_GEN_HH_LEFT) {
        /* One or two floating residents who registered and left. */
        int n = gh_gen_rng_chance(r, 0.7) ? 1 : 2;
        for (int i = 0; i < n; i++) {
            int sex = gh_gen_rng_chance(r, 0.6) ? 1 : 2;
            uint32_t p =
                member(&x, sex, gh_gen_rng_range(r, 19, 45),
                       i ? (sex == 1 ? GH_GEN_REL_HUSBAND : GH_GEN_REL_WIFE)
                         : GH_GEN_REL_HEAD,
                       -1, x.region, x.eth);
            c->persons[p].flags |= GH_GEN_P_LEFT;
            c->persons[p].eday = c->ref_day - gh_gen_rng_range(r, 20, 3 * 365);
        }
        return 0;
    }
    int type = (int)gh_gen_rng_pick(r, float_like ? FLOAT_TYPES : LOCAL_TYPES,
                                    T__COUNT);
    if (x.eth == GH_GEN_ETH_UYGHUR && type == T_NUCLEAR) type = T_COUPLE;
    uint32_t head;
    int ha, wa, sur;
    switch (type) {
    case T_SINGLE_ELDER: {
        int sex = gh_gen_rng_chance(r, 0.65) ? 2 : 1;
        ha = gh_gen_rng_range(r, 65, 92);
        head = member(&x, sex, ha, GH_GEN_REL_HEAD, -1, x.region, x.eth);
        c->persons[head].marital = 30;
        if (gh_gen_rng_chance(r, 0.3))
            ghost(&x, 3 - sex, ha + gh_gen_rng_range(r, -2, 5),
                  sex == 1 ? GH_GEN_REL_WIFE : GH_GEN_REL_HUSBAND, -1);
        break;
    }
    case T_ELDER_COUPLE:
        ha = gh_gen_rng_range(r, 62, 88);
        member(&x, 1, ha, GH_GEN_REL_HEAD, -1, x.region, x.eth);
        wa = ha - gh_gen_rng_range(r, 0, 5);
        member(&x, 2, wa < 55 ? 55 : wa, GH_GEN_REL_WIFE, -1, spouse_region(&x),
               x.eth);
        break;
    case T_SINGLE_YOUNG: {
        int sex = gh_gen_rng_chance(r, 0.55) ? 1 : 2;
        head = member(&x, sex, gh_gen_rng_range(r, 19, 40), GH_GEN_REL_HEAD, -1,
                      x.region, x.eth);
        c->persons[head].marital = 10;
        if (kind == GH_GEN_HH_LOCAL && gh_gen_rng_chance(r, 0.15))
            c->persons[head].flags |= GH_GEN_P_AWAY;
        break;
    }
    case T_COUPLE:
        ha = gh_gen_rng_range(r, 23, 40);
        member(&x, 1, ha, GH_GEN_REL_HEAD, -1, x.region, x.eth);
        wa = ha - gh_gen_rng_range(r, -1, 4);
        member(&x, 2, wa < 20 ? 20 : wa, GH_GEN_REL_WIFE, -1, spouse_region(&x),
               x.eth);
        break;
    case T_NUCLEAR:
        ha = gh_gen_rng_range(r, 26, 55);
        head = member(&x, 1, ha, GH_GEN_REL_HEAD, -1, x.region, x.eth);
        wa = ha - gh_gen_rng_range(r, -1, 5);
        if (wa < 22) wa = 22;
        member(&x, 2, wa, GH_GEN_REL_WIFE, -1, spouse_region(&x), x.eth);
        sur = gh_gen_rng_chance(r, 0.95) ? surname_of(&x, head) : -1;
        children(&x, kids_count(r), wa, float_like ? 15 : 24, 0, GH_GEN_REL_SON,
                 sur, 0.3);
        if (kind == GH_GEN_HH_LOCAL && gh_gen_rng_chance(r, 0.04)) {
            int male = gh_gen_rng_chance(r, 0.5);
            ghost(&x, male ? 1 : 2, ha + gh_gen_rng_range(r, 24, 34),
                  male ? GH_GEN_REL_FATHER : GH_GEN_REL_MOTHER,
                  male ? surname_of(&x, head) : -1);
        }
        break;
    case T_THREE_GEN: {
        ha = gh_gen_rng_range(r, 30, 55);
        head = member(&x, 1, ha, GH_GEN_REL_HEAD, -1, x.region, x.eth);
        wa = ha - gh_gen_rng_range(r, -1, 5);
        if (wa < 22) wa = 22;
        member(&x, 2, wa, GH_GEN_REL_WIFE, -1, spouse_region(&x), x.eth);
        children(&x, gh_gen_rng_chance(r, 0.5) ? 1 : 2, wa, 20, 0,
                 GH_GEN_REL_SON, surname_of(&x, head), 0.3);
        int fa = ha + gh_gen_rng_range(r, 22, 32),
            ma = ha + gh_gen_rng_range(r, 20, 30);
        int both = gh_gen_rng_chance(r, 0.55),
            father = gh_gen_rng_chance(r, 0.4);
        if (both || father) {
            uint32_t f = member(&x, 1, fa > 95 ? 95 : fa, GH_GEN_REL_FATHER,
                                surname_of(&x, head), x.region, x.eth);
            c->persons[f].marital = both ? 20 : 30;
        }
        if (both || !father) {
            uint32_t m = member(&x, 2, ma > 95 ? 95 : ma, GH_GEN_REL_MOTHER, -1,
                                spouse_region(&x), x.eth);
            c->persons[m].marital = both ? 20 : 30;
        }
        if (!both && gh_gen_rng_chance(r, 0.35))
            ghost(&x, father ? 2 : 1, father ? ma : fa,
                  father ? GH_GEN_REL_MOTHER : GH_GEN_REL_FATHER,
                  father ? -1 : surname_of(&x, head));
        break;
    }
    case T_GRAND_HEAD: {
        ha = gh_gen_rng_range(r, 55, 75);
        head = member(&x, 1, ha, GH_GEN_REL_HEAD, -1, x.region, x.eth);
        wa = ha - gh_gen_rng_range(r, 0, 5);
        member(&x, 2, wa, GH_GEN_REL_WIFE, -1, spouse_region(&x), x.eth);
        int sa = wa - gh_gen_rng_range(r, 22, 30);
        if (sa < 24) sa = 24;
        uint32_t son = member(&x, 1, sa, GH_GEN_REL_SON, surname_of(&x, head),
                              x.region, x.eth);
        int da = sa - gh_gen_rng_range(r, -1, 4);
        if (da < 22) da = 22;
        member(&x, 2, da, GH_GEN_REL_DIL, -1, spouse_region(&x), x.eth);
        children(&x, gh_gen_rng_chance(r, 0.55) ? 1 : 2, da, 17, 0,
                 GH_GEN_REL_GRANDSON, surname_of(&x, son), 0);
        break;
    }
    case T_SINGLE_PARENT: {
        int sex = gh_gen_rng_chance(r, 0.7) ? 2 : 1;
        ha = gh_gen_rng_range(r, 28, 50);
        head = member(&x, sex, ha, GH_GEN_REL_HEAD, -1, x.region, x.eth);
        c->persons[head].marital = 40;
        children(&x, gh_gen_rng_chance(r, 0.7) ? 1 : 2, sex == 2 ? ha : ha - 2,
                 20, 0, GH_GEN_REL_SON, sex == 1 ? surname_of(&x, head) : -1,
                 0.2);
        break;
    }
    case T_ADULT_KIDS:
    default:
        ha = gh_gen_rng_range(r, 45, 65);
        head = member(&x, 1, ha, GH_GEN_REL_HEAD, -1, x.region, x.eth);
        wa = ha - gh_gen_rng_range(r, -1, 5);
        member(&x, 2, wa, GH_GEN_REL_WIFE, -1, spouse_region(&x), x.eth);
        children(&x, gh_gen_rng_chance(r, 0.6) ? 1 : 2, wa, 30, 18,
                 GH_GEN_REL_SON, surname_of(&x, head), 0.35);
        break;
    }
    return x.counted;
}

/* ---- dwellings
 * ----------------------------------------------------------------------- */

static void push_building(gh_gen_city_t *c, gh_gen_building_t b) {
    if (c->n_bl == c->cap_bl) {
        c->cap_bl = c->cap_bl ? c->cap_bl * 2 : 64;
        c->bl = gh_xrealloc(c->bl, c->cap_bl * sizeof(*c->bl));
    }
    c->bl[c->n_bl++] = b;
}

static void push_dwelling(gh_gen_city_t *c, gh_gen_dwelling_t d) {
    if (c->n_dw == c->cap_dw) {
        c->cap_dw = c->cap_dw ? c->cap_dw * 2 : 1024;
        c->dw = gh_xrealloc(c->dw, c->cap_dw * sizeof(*c->dw));
    }
    c->dw[c->n_dw++] = d;
}

static uint32_t *scratch(gh_gen_city_t *c, uint32_t n) {
    if (n > c->cap_scratch) {
        c->cap_scratch = n * 2;
        c->scratch = gh_xrealloc(c->scratch, c->cap_scratch * sizeof(uint32_t));
    }
    return c->scratch;
}

/* Builds enough buildings (or village houses) for the grid's households
 * and moves every household into one. */
static void place_households(gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t gi) {
    gh_gen_grid_t *g = &c->grids[gi];
    gh_gen_comm_t *cm = &c->comms[g->comm];
    c->n_dw = c->n_bl = 0;
    if (g->index == 1 || (!cm->village && (g->index - 1) % 3 == 0))
        cm->next_bldg = 1; /* a new compound numbers its buildings from 1 */
    if (!cm->next_cbldg) cm->next_cbldg = 1;
    uint32_t homes = 0;
    for (uint32_t h = g->first_hh; h < c->n_hh; h++)
        if (c->hhs[h].kind != GH_GEN_HH_LEFT) homes++;
    uint32_t need = homes + homes / 10 + 1;
    g->bldg_first = cm->next_bldg;
    g->cbldg_first = cm->next_cbldg;
    uint32_t have = 0;
    while (have < need) {
        gh_gen_building_t b = {cm->next_bldg++, cm->next_cbldg++, 0, 0, 0};
        uint32_t left = need - have;
        if (cm->village) {
            b.units = 0;
            b.floors =
                (uint8_t)gh_gen_rng_range(r, 18, 40); /* houses in the 组 */
            if (b.floors > left + left / 4 + 1)
                b.floors = (uint8_t)(left + left / 4 + 1);
            for (int k = 1; k <= b.floors; k++)
                push_dwelling(c,
                              (gh_gen_dwelling_t){GH_GEN_NONE, b.bldg, b.cbldg,
                                                  (uint16_t)k, 0, 3});
            have += b.floors;
        } else {
            b.units = (uint8_t)gh_gen_rng_range(r, 1, 3);
            b.floors = (uint8_t)(gh_gen_rng_chance(r, 0.75)
                                     ? gh_gen_rng_range(r, 5, 7)
                                     : gh_gen_rng_range(r, 9, 18));
            while (b.units * b.floors * 2u > left + left / 3 + 2 &&
                   b.floors > 1)
                b.floors--;
            while (b.units * b.floors * 2u > left + left / 3 + 2 && b.units > 1)
                b.units--;
            for (int u = 1; u <= b.units; u++)
                for (int f = 1; f <= b.floors; f++)
                    for (int k = 1; k <= 2; k++)
                        push_dwelling(
                            c, (gh_gen_dwelling_t){GH_GEN_NONE, b.bldg, b.cbldg,
                                                   (uint16_t)(f * 100 + k),
                                                   (uint8_t)u, 3});
            have += b.units * b.floors * 2u;
            if (b.units > g->max_units) g->max_units = b.units;
            if (b.floors > g->max_floors) g->max_floors = b.floors;
        }
        push_building(c, b);
    }
    g->n_bldg = (uint16_t)(cm->next_bldg - g->bldg_first);
    if (cm->village) g->max_floors = 40;
    /* Shuffle the dwellings' order of assignment. */
    uint32_t *order = scratch(c, c->n_dw);
    for (uint32_t i = 0; i < c->n_dw; i++)
        order[i] = i;
    for (uint32_t i = c->n_dw - 1; i > 0; i--) {
        uint32_t j = gh_gen_rng_below(r, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    uint32_t next = 0;
    for (uint32_t h = g->first_hh; h < c->n_hh; h++) {
        gh_gen_household_t *hh = &c->hhs[h];
        gh_gen_dwelling_t *d;
        if (hh->kind == GH_GEN_HH_LEFT) {
            d = &c->dw[gh_gen_rng_below(r, c->n_dw)];
        } else {
            d = &c->dw[order[next++]];
            d->hh = h;
            d->use = hh->kind == GH_GEN_HH_LOCAL   ? 1
                     : hh->kind == GH_GEN_HH_FLOAT ? 2
                                                   : 3;
        }
        hh->bldg = d->bldg;
        hh->cbldg = d->cbldg;
        hh->room = d->room;
        hh->unit = d->unit;
    }
    /* Empty ground-floor flats along the street are shops (门面). */
    for (uint32_t i = 0; i < c->n_dw; i++)
        if (c->dw[i].hh == GH_GEN_NONE && c->dw[i].unit &&
            c->dw[i].room < 200 && gh_gen_rng_chance(r, 0.4))
            c->dw[i].use = 4;
    /* Now and then a building was demolished; only 公安 still lists it. */
    if (gh_gen_rng_chance(r, 0.05))
        push_building(
            c, (gh_gen_building_t){cm->next_bldg++, cm->next_cbldg++, 0, 0, 1});
}

/* ---- roles
 * ------------------------------------------------------------------------------
 */

static double p_party(const gh_gen_person_t *p, int age) {
    if (age < 18) return 0;
    double b = age <= 30   ? (p->sex == 1 ? 0.05 : 0.045)
               : age <= 60 ? (p->sex == 1 ? 0.11 : 0.05)
                           : (p->sex == 1 ? 0.13 : 0.045);
    if (p->edu >= GH_GEN_EDU_COLLEGE) b *= 1.6;
    if (p->edu <= GH_GEN_EDU_PRIMARY) b *= 0.5;
    if (p->employer && p->employer <= gh_gen_unit_count()) b *= 3;
    return b;
}

static double p_volunteer(const gh_gen_person_t *p, int age) {
    if (age < 16 || age > 75) return 0;
    double b = age < 18 ? 0.03 : age <= 30 ? 0.05 : age < 60 ? 0.022 : 0.04;
    if (p->flags & GH_GEN_P_PARTY) b *= 1.8;
    return b;
}

/* Picks a random element of cand[0..n) that passes ok(); GH_GEN_NONE if
 * none does. */
static uint32_t pick(gh_gen_city_t *c, gh_gen_rng_t *r, const uint32_t *cand,
                     uint32_t n, int lo, int hi, int want_party) {
    if (!n) return GH_GEN_NONE;
    uint32_t start = gh_gen_rng_below(r, n);
    for (int pass = want_party ? 0 : 1; pass < 2; pass++)
        for (uint32_t k = 0; k < n; k++) {
            uint32_t i = cand[(start + k) % n];
            gh_gen_person_t *p = &c->persons[i];
            int age = gh_gen_age(p->birth, c->ref_day);
            if (age < lo || age > hi) continue;
            if (p->flags & (GH_GEN_P_STAFF | GH_GEN_P_CADRE)) continue;
            if (pass == 0 && !(p->flags & GH_GEN_P_PARTY)) continue;
            return i;
        }
    return GH_GEN_NONE;
}

static void assign_roles(gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t gi) {
    gh_gen_grid_t *g = &c->grids[gi];
    uint32_t n = c->n_persons - g->first_person;
    uint32_t *cand = scratch(c, n + 1);
    uint32_t nc = 0;
    for (uint32_t i = g->first_person; i < c->n_persons; i++) {
        gh_gen_person_t *p = &c->persons[i];
        int dead = (p->flags & GH_GEN_P_DEAD) != 0;
        int age = gh_gen_age(p->birth, dead ? p->eday : c->ref_day);
        double pp = p_party(p, age);
        if (p->flags & GH_GEN_P_LEFT) pp = 0;
        if (c->hhs[p->hh].kind == GH_GEN_HH_FLOAT) pp *= 0.4;
        if (p->flags & GH_GEN_P_AWAY) pp *= 0.5;
        if (gh_gen_rng_chance(r, pp)) {
            p->flags |= GH_GEN_P_PARTY;
            int y, m, d;
            gh_gen_civil(p->birth, &y, &m, &d);
            int join = y + gh_gen_rng_range(r, 19, 40);
            if (join > GH_GEN_REF_Y - 1) join = GH_GEN_REF_Y - 1;
            if (!dead && gh_gen_rng_chance(r, 0.03)) {
                join = GH_GEN_REF_Y;
                p->flags |= GH_GEN_P_PROB;
            }
            if (join < 1950) join = 1950;
            p->joined = (uint16_t)(join - 1950);
            if (!dead && gh_gen_rng_chance(r, 0.01))
                p->flags |= GH_GEN_P_SUSPENDED;
            else if (!dead && gh_gen_rng_chance(r, 0.005))
                p->flags |= GH_GEN_P_EXPELLED;
        }
        if (!gh_gen_person_lives_here(c, p)) continue;
        if (gh_gen_rng_chance(r, p_volunteer(p, age))) {
            p->flags |= GH_GEN_P_VOL;
            if (gh_gen_rng_chance(r, 0.05)) p->flags |= GH_GEN_P_DEREG;
        }
        if (age >= 18 && c->hhs[p->hh].kind == GH_GEN_HH_LOCAL) cand[nc++] = i;
    }
    /* A cadre sent down by a city unit (下沉干部), in about half the grids. */
    if (gh_gen_rng_chance(r, 0.45)) {
        uint32_t k = pick(c, r, cand, nc, 28, 58, 1);
        if (k != GH_GEN_NONE) {
            gh_gen_person_t *p = &c->persons[k];
            p->flags |= GH_GEN_P_CADRE;
            if (!p->employer || p->employer > gh_gen_unit_count())
                p->employer =
                    (uint8_t)(1 + gh_gen_rng_below(
                                      r, (uint32_t)gh_gen_unit_count()));
            static const uint16_t w[4] = {40, 25, 20, 15};
            g->cadre = k;
            g->cadre_role = (uint8_t)(1 + gh_gen_rng_pick(r, w, 4));
            g->cadre_recalled = (uint8_t)gh_gen_rng_chance(r, 0.1);
        }
    }
    /* 1+1+N: the leader is the cadre where the cadre leads the grid. */
    if (g->cadre != GH_GEN_NONE && g->cadre_role == GH_GEN_CADRE_LEADER &&
        !g->cadre_recalled)
        g->leader = g->cadre;
    else
        g->leader = pick(c, r, cand, nc, 30, 58, 1);
    if (g->leader != GH_GEN_NONE) c->persons[g->leader].flags |= GH_GEN_P_STAFF;
    g->rzrq_leader = (uint16_t)gh_gen_rng_range(r, 30, 1500);
    g->fulltime = pick(c, r, cand, nc, 23, 50, 0);
    if (g->fulltime != GH_GEN_NONE)
        c->persons[g->fulltime].flags |= GH_GEN_P_STAFF;
    int np = gh_gen_rng_range(r, 2, 5);
    for (int i = 0; i < np; i++) {
        static const uint16_t w[5] = {40, 15, 20, 15, 10};
        int kind = 1 + (int)gh_gen_rng_pick(r, w, 5);
        uint32_t k = pick(c, r, cand, nc, kind == GH_GEN_PART_RETIRED ? 58 : 25,
                          72, kind == GH_GEN_PART_PARTY);
        if (k == GH_GEN_NONE) break;
        c->persons[k].flags |= GH_GEN_P_STAFF;
        g->part[g->n_part] = k;
        g->part_kind[g->n_part++] = (uint8_t)kind;
    }
    if (gh_gen_rng_chance(r, 0.3)) {
        for (uint32_t k = 0; k < nc; k++) {
            gh_gen_person_t *p = &c->persons[cand[k]];
            if (p->employer && p->employer <= gh_gen_unit_count() &&
                !(p->flags & (GH_GEN_P_STAFF | GH_GEN_P_CADRE))) {
                p->flags |= GH_GEN_P_STAFF;
                g->liaison = cand[k];
                break;
            }
        }
    }
}

void gh_gen_city_grid(gh_gen_city_t *c, uint32_t gi) {
    gh_gen_grid_t *g = &c->grids[gi];
    const gh_gen_comm_t *cm = &c->comms[g->comm];
    const gh_gen_sub_t *sb = &c->subs[cm->sub];
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, c->seed, GH_GEN_STREAM_GRID, gi);
    g->first_hh = c->n_hh;
    g->first_person = c->n_persons;
    double p_float = sb->kind == GH_GEN_SUB_JIEDAO ? 0.13 : 0.04;
    uint32_t residents = 0, floating = 0;
    while (residents < g->target) {
        int kind = gh_gen_rng_chance(&r, p_float) ? GH_GEN_HH_FLOAT
                   : gh_gen_rng_chance(&r, 0.06)  ? GH_GEN_HH_AWAY
                                                  : GH_GEN_HH_LOCAL;
        residents += (uint32_t)make_household(c, &r, gi, kind);
        floating += kind == GH_GEN_HH_FLOAT;
    }
    for (uint32_t i = 0; i < floating; i++)
        if (gh_gen_rng_chance(&r, 0.25))
            make_household(c, &r, gi, GH_GEN_HH_LEFT);
    g->n_hh = c->n_hh - g->first_hh;
    g->n_persons = c->n_persons - g->first_person;
    place_households(c, &r, gi);
    assign_roles(c, &r, gi);
    g->households = g->population = 0;
    for (uint32_t h = g->first_hh; h < c->n_hh; h++) {
        const gh_gen_household_t *hh = &c->hhs[h];
        if (hh->kind != GH_GEN_HH_LOCAL && hh->kind != GH_GEN_HH_FLOAT)
            continue;
        uint32_t living = 0;
        for (uint32_t p = hh->first; p < hh->first + hh->n; p++)
            living += gh_gen_person_lives_here(c, &c->persons[p]);
        g->households += living > 0;
        g->population += living;
    }
}

/* ---- codes
 * ----------------------------------------------------------------------------
 */

void gh_gen_code_zz_grid(const gh_gen_city_t *c, uint32_t g, char *out,
                         size_t n) {
    snprintf(out, n, "%s-%02d", c->comms[c->grids[g].comm].zz,
             (int)c->grids[g].index);
}

void gh_gen_code_beat(const gh_gen_city_t *c, int comm, char *out, size_t n) {
    const gh_gen_comm_t *cm = &c->comms[comm];
    const gh_gen_sub_t *s = &c->subs[cm->sub];
    snprintf(out, n, "ZRQ-%s%02d%02d", c->dists[s->district].code,
             s->station % 100, cm->index % 100);
}

void gh_gen_code_station(const gh_gen_city_t *c, int sub, char *out, size_t n) {
    const gh_gen_sub_t *s = &c->subs[sub];
    snprintf(out, n, "%s5%02d000", c->dists[s->district].code,
             (s->station + 9) % 100);
}

void gh_gen_code_stat(const gh_gen_city_t *c, int sub, int comm, char *out,
                      size_t n) {
    const gh_gen_sub_t *s = &c->subs[sub];
    if (comm < 0)
        snprintf(out, n, "%s%03d", c->dists[s->district].code, s->index % 1000);
    else
        snprintf(out, n, "%s%03d%03d", c->dists[s->district].code,
                 s->index % 1000, c->comms[comm].index % 1000);
}

void gh_gen_code_dj(const gh_gen_city_t *c, int sub, int comm, int party,
                    char *out, size_t n) {
    const gh_gen_sub_t *s = &c->subs[sub];
    if (comm < 0)
        snprintf(out, n, "DJ-%s", s->dj);
    else if (party < 1)
        snprintf(out, n, "DJ-%s-%s", s->dj, c->comms[comm].dj);
    else
        snprintf(out, n, "DJ-%s-%s-%02d", s->dj, c->comms[comm].dj,
                 party % 100);
}

void gh_gen_code_branch(const gh_gen_city_t *c, int sub, int comm, int party,
                        char *out, size_t n) {
    char stat[16];
    if (comm < 0) {
        gh_gen_code_stat(c, sub, -1, stat, sizeof(stat));
        snprintf(out, n, "D%s00", stat);
    } else {
        gh_gen_code_stat(c, sub, comm, stat, sizeof(stat));
        snprintf(out, n, "D%s%d", stat, party < 1 ? 0 : party);
    }
}

void gh_gen_code_cw(const gh_gen_city_t *c, int sub, int area, char *out,
                    size_t n) {
    if (area < 1)
        snprintf(out, n, "CW-%s", c->subs[sub].zz);
    else
        snprintf(out, n, "CW-%s-%03d", c->subs[sub].zz, area % 1000);
}

void gh_gen_code_dj_target(const gh_gen_city_t *c, int comm, int party,
                           char *out, size_t n) {
    const gh_gen_comm_t *cm = &c->comms[comm];
    if (cm->n_grids >= 3 && party == 2) {
        snprintf(out, n, "%s", cm->zz);
        return;
    }
    int grid = cm->n_grids >= 3 && party >= 3 ? party + 1 : party;
    snprintf(out, n, "%s-%02d", cm->zz, grid);
}

uint32_t gh_gen_cw_area_grids(const gh_gen_city_t *c, int sub, int area,
                              uint32_t *count) {
    const gh_gen_sub_t *s = &c->subs[sub];
    uint32_t first = GH_GEN_NONE, k = 0;
    for (int cm = s->first_comm; cm < s->first_comm + s->n_comms; cm++) {
        const gh_gen_comm_t *co = &c->comms[cm];
        for (int g = co->first_grid; g < co->first_grid + co->n_grids; g++)
            if (c->grids[g].area == area) {
                if (first == GH_GEN_NONE) first = (uint32_t)g;
                k++;
            }
    }
    *count = k;
    return first;
}

void gh_gen_code_cw_target(const gh_gen_city_t *c, int sub, int area, char *out,
                           size_t n) {
    uint32_t count, g = gh_gen_cw_area_grids(c, sub, area, &count);
    if (g == GH_GEN_NONE) {
        snprintf(out, n, "%s", c->subs[sub].zz);
    } else if (count == 1) {
        gh_gen_code_zz_grid(c, g, out, n);
    } else {
        snprintf(out, n, "%s", c->comms[c->grids[g].comm].zz);
    }
}

void gh_gen_compound_name(const gh_gen_city_t *c, uint32_t g, char *out,
                          size_t n) {
    const gh_gen_grid_t *gr = &c->grids[g];
    const gh_gen_comm_t *cm = &c->comms[gr->comm];
    if (cm->village) {
        snprintf(out, n, "%s", "");
    } else if (gr->compound == 0 && cm->compound0[0]) {
        snprintf(out, n, "%s", cm->compound0);
    } else {
        snprintf(out, n, "%s%s", cm->stem,
                 gh_gen_place_compound_suffix(gr->compound));
    }
}
