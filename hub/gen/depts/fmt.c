/* Formatting shared by the department writers: addresses in each
 * department's style, timestamps, numerals, names of people outside the
 * model and the event/task text templates. */
#include <stdio.h>
#include <string.h>

#include "gen_int.h"
#include "places.h"

void gh_gen_dept_rng(gh_gen_t *g, int dept, uint32_t grid) {
    gh_gen_rng_init(&g->rng, g->seed, GH_GEN_STREAM_DEPT + (uint64_t)dept,
                    grid);
}

void gh_gen_addr_of(const gh_gen_city_t *c, uint32_t hh, gh_gen_addr_t *a) {
    const gh_gen_household_t *h = &c->hhs[hh];
    a->grid = h->grid;
    a->bldg = h->bldg;
    a->cbldg = h->cbldg;
    a->room = h->room;
    a->unit = h->unit;
}

void gh_gen_addr_random(const gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t grid,
                        gh_gen_addr_t *a) {
    const gh_gen_grid_t *g = &c->grids[grid];
    const gh_gen_comm_t *cm = &c->comms[g->comm];
    uint32_t nb = g->n_bldg ? g->n_bldg : 1;
    uint32_t k = gh_gen_rng_below(r, nb);
    a->grid = grid;
    a->bldg = (uint16_t)((g->bldg_first ? g->bldg_first : 1) + k);
    a->cbldg = (uint16_t)((g->cbldg_first ? g->cbldg_first : 1) + k);
    if (cm->village) {
        a->unit = 0;
        a->room = (uint16_t)(1 + gh_gen_rng_below(r, 30));
    } else {
        a->unit =
            (uint8_t)(1 + gh_gen_rng_below(r, g->max_units ? g->max_units : 2));
        a->room = (uint16_t)((1 + gh_gen_rng_below(
                                      r, g->max_floors ? g->max_floors : 6)) *
                                 100 +
                             1 + gh_gen_rng_below(r, 2));
    }
}

void gh_gen_addr_old(const gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t grid,
                     gh_gen_addr_t *a) {
    const gh_gen_sub_t *s = &c->subs[c->comms[c->grids[grid].comm].sub];
    const gh_gen_comm_t *first = &c->comms[s->first_comm];
    const gh_gen_comm_t *last = &c->comms[s->first_comm + s->n_comms - 1];
    uint32_t lo = (uint32_t)first->first_grid;
    uint32_t hi = (uint32_t)(last->first_grid + last->n_grids);
    uint32_t g2 = grid;
    for (int t = 0; t < 8; t++) {
        uint32_t k = lo + gh_gen_rng_below(r, hi - lo);
        if (k != grid && c->grids[k].n_bldg) {
            g2 = k;
            break;
        }
    }
    gh_gen_addr_random(c, r, g2, a);
}

void gh_gen_addr_format(const gh_gen_city_t *c, const gh_gen_addr_t *a,
                        int style, char *out, size_t n) {
    const gh_gen_grid_t *g = &c->grids[a->grid];
    const gh_gen_comm_t *cm = &c->comms[g->comm];
    const gh_gen_sub_t *s = &c->subs[cm->sub];
    const char *dist = c->dists[s->district].name;
    char comp[64];
    gh_gen_compound_name(c, a->grid, comp, sizeof(comp));
    if (cm->village) {
        switch (style) {
        case GH_GEN_ADDR_GA:
            snprintf(out, n, "湖南省娄底市%s%s%s%u组%u号", dist, s->name,
                     cm->name, a->bldg, a->room);
            break;
        case GH_GEN_ADDR_JS:
            snprintf(out, n, "%s%u组%u号", cm->name, a->bldg, a->room);
            break;
        case GH_GEN_ADDR_DJ:
            snprintf(out, n, "%s%s%u组%u号", s->name, cm->name, a->bldg,
                     a->room);
            break;
        case GH_GEN_ADDR_SHORT:
            snprintf(out, n, "%s%u组", cm->name, a->bldg);
            break;
        default:
            snprintf(out, n, "%s%s%s%u组%u号", dist, s->name, cm->name, a->bldg,
                     a->room);
        }
        return;
    }
    switch (style) {
    case GH_GEN_ADDR_GA:
        snprintf(out, n, "湖南省娄底市%s%s%s%d号%s%u栋%u单元%u室", dist,
                 s->name, cm->street, cm->door, comp, a->bldg, a->unit,
                 a->room);
        break;
    case GH_GEN_ADDR_JS:
        snprintf(out, n, "%s%u栋%u单元%u", cm->name, a->bldg, a->unit, a->room);
        break;
    case GH_GEN_ADDR_DJ:
        snprintf(out, n, "%s%s%u栋%u", s->name, comp, a->bldg, a->room);
        break;
    case GH_GEN_ADDR_SHORT:
        snprintf(out, n, "%s%u栋", comp, a->bldg);
        break;
    default:
        snprintf(out, n, "%s%s%s%u栋%u单元%u", dist, s->name, cm->name, a->bldg,
                 a->unit, a->room);
    }
}

void gh_gen_addr_code(const gh_gen_city_t *c, const gh_gen_addr_t *a,
                      int room_level, char *out, size_t n) {
    int comm = c->grids[a->grid].comm;
    char stat[16];
    gh_gen_code_stat(c, c->comms[comm].sub, comm, stat, sizeof(stat));
    if (room_level)
        snprintf(out, n, "%s%04u%02u%04u", stat, a->cbldg % 10000u,
                 (unsigned)a->unit % 100u, a->room % 10000u);
    else
        snprintf(out, n, "%s%04u000000", stat, a->cbldg % 10000u);
}

int64_t gh_gen_ts(gh_gen_rng_t *r, int32_t day) {
    /* Beijing 08:00 is 00:00 UTC: office hours are the first ten UTC hours. */
    return (int64_t)day * 86400 + gh_gen_rng_below(r, 10 * 3600);
}

int32_t gh_gen_day_between(gh_gen_rng_t *r, int32_t from, int32_t to) {
    if (to <= from) return from;
    return from + (int32_t)gh_gen_rng_below(r, (uint32_t)(to - from) + 1);
}

void gh_gen_cn_number(int v, char *out, size_t n) {
    static const char *const D[] = {"",   "一", "二", "三", "四",
                                    "五", "六", "七", "八", "九"};
    if (v <= 0 || v > 99) {
        snprintf(out, n, "%d", v);
    } else if (v < 10) {
        snprintf(out, n, "%s", D[v]);
    } else {
        snprintf(out, n, "%s十%s", v / 10 == 1 ? "" : D[v / 10], D[v % 10]);
    }
}

void gh_gen_random_name(gh_gen_rng_t *r, char *out, size_t n) {
    gh_gen_name_t nm;
    int sex = gh_gen_rng_chance(r, 0.5) ? 1 : 2;
    gh_gen_name_draw(r, sex, 1960 + (int)gh_gen_rng_below(r, 40), -1, 0, &nm);
    gh_gen_name_format(&nm, out, n);
}

void gh_gen_landline(gh_gen_rng_t *r, char *out, size_t n) {
    snprintf(out, n, "0738%07u", 8000000 + gh_gen_rng_below(r, 1000000));
}

void gh_gen_template(const char *tpl, const gh_gen_tpl_args_t *a, char *out,
                     size_t n) {
    size_t o = 0;
    if (!n) return;
    for (const char *p = tpl; *p && o + 1 < n;) {
        if (p[0] == '{' && p[1] && p[2] == '}') {
            char v[96];
            v[0] = '\0';
            switch (p[1]) {
            case 'b':
                snprintf(v, sizeof(v), "%d", a->bldg);
                break;
            case 'u':
                snprintf(v, sizeof(v), "%d", a->unit);
                break;
            case 'r':
                snprintf(v, sizeof(v), "%d", a->room);
                break;
            case 'd':
                snprintf(v, sizeof(v), "%d", a->door);
                break;
            case 'c':
                snprintf(v, sizeof(v), "%s", a->compound ? a->compound : "");
                break;
            case 's':
                snprintf(v, sizeof(v), "%s", a->street ? a->street : "");
                break;
            case 'n':
                snprintf(v, sizeof(v), "%s", a->name ? a->name : "");
                break;
            case 'o':
                snprintf(v, sizeof(v), "%s", a->community ? a->community : "");
                break;
            default:
                break;
            }
            size_t l = strlen(v);
            if (o + l >= n) break;
            memcpy(out + o, v, l);
            o += l;
            p += 3;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}
