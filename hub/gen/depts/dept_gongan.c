/* 公安 public security: the standard-address register (every building and
 * flat, demolished ones cancelled), hukou households and their members
 * (nearly every registered resident, including those who live away; the
 * dead cancelled with zxbz='1'), and the floating population that
 * registered (those who left cancelled). The cleanest copy: 18-digit IDs,
 * national codes. Keys per connectors/gongan/schema.sql. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"
#include "places.h"

#define D GH_GEN_GONGAN

typedef struct place_codes {
    char beat[32], station[16], stat9[16], stat12[16];
    const char *district;
    int dist;
} place_codes_t;

static void codes_of(const gh_gen_city_t *c, uint32_t gi, place_codes_t *pc) {
    int comm = c->grids[gi].comm, sub = c->comms[comm].sub;
    gh_gen_code_beat(c, comm, pc->beat, sizeof(pc->beat));
    gh_gen_code_station(c, sub, pc->station, sizeof(pc->station));
    gh_gen_code_stat(c, sub, -1, pc->stat9, sizeof(pc->stat9));
    gh_gen_code_stat(c, sub, comm, pc->stat12, sizeof(pc->stat12));
    pc->dist = c->subs[sub].district;
    pc->district = c->dists[pc->dist].code;
}

static void address_rows(gh_gen_t *g, uint32_t gi, const place_codes_t *pc) {
    gh_gen_city_t *c = g->city;
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_GA_BZDZ];
    const gh_gen_comm_t *cm = &c->comms[c->grids[gi].comm];
    char comp[64], door[16];
    gh_gen_compound_name(c, gi, comp, sizeof(comp));
    snprintf(door, sizeof(door), "%d号", cm->door);
    /* Buildings (dzjb 4), then flats (5) or village houses (3). */
    for (uint32_t i = 0; i < c->n_bl; i++) {
        const gh_gen_building_t *b = &c->bl[i];
        if (cm->village && !b->demolished) continue;
        gh_gen_addr_t a = {gi, b->bldg, b->cbldg, 0, 0};
        char code[32], full[256], ldh[16];
        gh_gen_addr_code(c, &a, 0, code, sizeof(code));
        gh_gen_addr_format(c, &a, GH_GEN_ADDR_GA, full, sizeof(full));
        char *cut = strstr(full, cm->village ? "组" : "栋");
        if (cut) cut[3] = '\0';
        if (b->demolished)
            strncat(full, "(已拆除)", sizeof(full) - strlen(full) - 1);
        snprintf(ldh, sizeof(ldh), "%u%s", b->bldg, cm->village ? "组" : "栋");
        int32_t reg =
            gh_gen_days(2016, 3, 1) + (int32_t)gh_gen_rng_below(&g->rng, 300);
        gh_gen_copy_str(t, code);
        gh_gen_copy_str(t, pc->district);
        gh_gen_copy_str(t, pc->stat9);
        gh_gen_copy_str(t, pc->stat12);
        gh_gen_copy_str(t, cm->village ? NULL : cm->street);
        gh_gen_copy_str(t, cm->village ? NULL : door);
        gh_gen_copy_opt(t, comp);
        gh_gen_copy_str(t, ldh);
        gh_gen_copy_null(t);
        gh_gen_copy_null(t);
        gh_gen_copy_str(t, "4");
        gh_gen_copy_str(t, full);
        gh_gen_copy_str(t, pc->station);
        gh_gen_copy_str(t, pc->beat);
        gh_gen_copy_str(t, b->demolished ? "1" : "0");
        int64_t ts = gh_gen_ts(&g->rng, reg);
        gh_gen_copy_ts(t, ts);
        gh_gen_copy_ts(
            t, b->demolished ? gh_gen_ts(&g->rng, reg + 1500 +
                                                      (int32_t)gh_gen_rng_below(
                                                          &g->rng, 500))
                             : ts);
        gh_gen_copy_end_row(t);
    }
    for (uint32_t i = 0; i < c->n_dw; i++) {
        const gh_gen_dwelling_t *d = &c->dw[i];
        gh_gen_addr_t a = {gi, d->bldg, d->cbldg, d->room, d->unit};
        char code[32], full[256], ldh[16], dyh[16], hsh[24], mph[16];
        gh_gen_addr_code(c, &a, 1, code, sizeof(code));
        gh_gen_addr_format(c, &a, GH_GEN_ADDR_GA, full, sizeof(full));
        snprintf(ldh, sizeof(ldh), "%u%s", d->bldg, cm->village ? "组" : "栋");
        snprintf(dyh, sizeof(dyh), "%u单元", d->unit);
        if (d->use == 4)
            snprintf(hsh, sizeof(hsh), "%u号门面", d->room);
        else
            snprintf(hsh, sizeof(hsh), "%u室", d->room);
        snprintf(mph, sizeof(mph), "%u号", d->room);
        int32_t reg =
            gh_gen_days(2016, 3, 1) + (int32_t)gh_gen_rng_below(&g->rng, 300);
        gh_gen_copy_str(t, code);
        gh_gen_copy_str(t, pc->district);
        gh_gen_copy_str(t, pc->stat9);
        gh_gen_copy_str(t, pc->stat12);
        gh_gen_copy_str(t, cm->village ? NULL : cm->street);
        gh_gen_copy_str(t, cm->village ? mph : door);
        gh_gen_copy_opt(t, comp);
        gh_gen_copy_str(t, ldh);
        gh_gen_copy_str(t, d->unit ? dyh : NULL);
        gh_gen_copy_str(t, d->unit ? hsh : NULL);
        gh_gen_copy_str(t, d->unit ? "5" : "3");
        gh_gen_copy_str(t, full);
        gh_gen_copy_str(t, pc->station);
        gh_gen_copy_str(t, pc->beat);
        gh_gen_copy_str(t, "0");
        int64_t ts = gh_gen_ts(&g->rng, reg);
        gh_gen_copy_ts(t, ts);
        gh_gen_copy_ts(t, ts);
        gh_gen_copy_end_row(t);
    }
}

/* GB/T 4761 与户主关系. */
static const char *relation_code(const gh_gen_person_t *p) {
    static const char *const son[] = {"21", "22", "23", "24", "25"};
    static const char *const dau[] = {"31", "32", "33", "34", "35"};
    switch (p->rel) {
    case GH_GEN_REL_HEAD:
        return "02";
    case GH_GEN_REL_HUSBAND:
        return "11";
    case GH_GEN_REL_WIFE:
        return "12";
    case GH_GEN_REL_SON:
        return son[p->order > 4 ? 4 : p->order];
    case GH_GEN_REL_DAUGHTER:
        return dau[p->order > 4 ? 4 : p->order];
    case GH_GEN_REL_FATHER:
        return "51";
    case GH_GEN_REL_MOTHER:
        return "52";
    case GH_GEN_REL_GRANDSON:
        return "41";
    case GH_GEN_REL_GRANDDAUGHTER:
        return "42";
    case GH_GEN_REL_DIL:
        return "28";
    default:
        return "99";
    }
}

/* GB/T 4658 文化程度: graduates (21 大学本科毕业, 71 初中毕业, ...), pupils
 * at the level they are in (80 小学, 70 初中, 60 普通高中). */
static const char *edu_code(int edu, int age) {
    static const char *const done[] = {NULL, "81", "71", "61",
                                       "41", "31", "21", "14"};
    static const char *const going[] = {NULL, "80", "70", "60",
                                        "40", "30", "20", "10"};
    if (edu <= 0 || edu > 7) return NULL;
    return age < 19 ? going[edu] : done[edu];
}

static int32_t settled_day(gh_gen_t *g, const gh_gen_person_t *p) {
    /* Children are registered at birth, others when they married in or the
     * household was set up; nobody before the 1984 register. */
    int32_t floor = gh_gen_days(1984, 1, 1);
    int age = gh_gen_age(p->birth, g->city->ref_day);
    int32_t d = p->rel == GH_GEN_REL_SON || p->rel == GH_GEN_REL_DAUGHTER ||
                        p->rel == GH_GEN_REL_GRANDSON ||
                        p->rel == GH_GEN_REL_GRANDDAUGHTER
                    ? p->birth + 10 + (int32_t)gh_gen_rng_below(&g->rng, 60)
                    : p->birth + (age > 24 ? 22 : age) * 365 +
                          (int32_t)gh_gen_rng_below(&g->rng, 2000);
    if (d > g->city->ref_day - 1) d = g->city->ref_day - 1;
    return d < floor ? floor + (int32_t)gh_gen_rng_below(&g->rng, 300) : d;
}

static void hukou(gh_gen_t *g, uint32_t gi, const place_codes_t *pc) {
    gh_gen_city_t *c = g->city;
    const gh_gen_grid_t *gr = &c->grids[gi];
    for (uint32_t h = gr->first_hh; h < gr->first_hh + gr->n_hh; h++) {
        gh_gen_household_t *hh = &c->hhs[h];
        if (hh->kind != GH_GEN_HH_LOCAL && hh->kind != GH_GEN_HH_AWAY) continue;
        gh_gen_addr_t home;
        gh_gen_addr_of(c, h, &home);
        char hjdzbm[32], hjdz[256], hh_no[16];
        gh_gen_addr_code(c, &home, 1, hjdzbm, sizeof(hjdzbm));
        gh_gen_addr_format(c, &home, GH_GEN_ADDR_GA, hjdz, sizeof(hjdz));
        hh->hu_no = ++g->ga_hu;
        snprintf(hh_no, sizeof(hh_no), "%010u", 1000000000u + hh->hu_no);
        const gh_gen_person_t *head = &c->persons[hh->first];
        int32_t lhrq = settled_day(g, head);
        {
            gh_gen_copy_t *t = &g->copy[GH_GEN_T_GA_HU];
            char name[96], id[96];
            gh_gen_type_name(&g->errs, &g->rng, D, head, name, sizeof(name));
            gh_gen_type_id(&g->errs, &g->rng, D, head, id, sizeof(id));
            gh_gen_copy_str(t, hh_no);
            gh_gen_copy_str(t, "1");
            gh_gen_copy_str(t, name);
            gh_gen_copy_opt(t, id);
            gh_gen_copy_str(t, hjdzbm);
            gh_gen_copy_str(t, hjdz);
            gh_gen_copy_str(t, pc->station);
            gh_gen_copy_str(t, pc->beat);
            gh_gen_copy_date(t, lhrq);
            gh_gen_copy_str(t, "0");
            gh_gen_copy_ts(
                t, gh_gen_ts(&g->rng,
                             gh_gen_day_between(&g->rng, lhrq, c->ref_day)));
            gh_gen_copy_end_row(t);
        }
        gh_gen_copy_t *t = &g->copy[GH_GEN_T_GA_HJRK];
        for (uint32_t i = hh->first; i < hh->first + hh->n; i++) {
            gh_gen_person_t *p = &c->persons[i];
            int dead = (p->flags & GH_GEN_P_DEAD) != 0;
            if (!gh_gen_rng_chance(&g->rng, dead ? 0.9 : 0.995)) continue;
            gh_gen_typed_t ty;
            gh_gen_type_person(&g->errs, &g->rng, D, p, &ty);
            uint32_t no = ++g->ga_ry[pc->dist];
            char key[32], id18[19], cym[96] = "", actual[256], actual_code[32];
            gh_gen_key_rybh(pc->district, no, key, sizeof(key));
            if (gh_gen_rng_chance(&g->rng, 0.02)) { /* 曾用名 */
                gh_gen_person_t other = *p;
                gh_gen_name_draw(&g->rng, p->sex, 1970, p->name.sur, 0,
                                 &other.name);
                if (p->name.pool != GH_GEN_POOL_MINORITY)
                    gh_gen_name_format(&other.name, cym, sizeof(cym));
            }
            int here = !(p->flags & GH_GEN_P_AWAY);
            if (here) {
                gh_gen_addr_t a = home;
                if (ty.outdated) gh_gen_addr_old(c, &g->rng, gi, &a);
                gh_gen_addr_code(c, &a, 1, actual_code, sizeof(actual_code));
                gh_gen_addr_format(c, &a, GH_GEN_ADDR_GA, actual,
                                   sizeof(actual));
            } else {
                snprintf(actual, sizeof(actual), "%s%u号",
                         gh_gen_away_address(gh_gen_rng_below(&g->rng, 64)),
                         1 + gh_gen_rng_below(&g->rng, 300));
            }
            int age = gh_gen_age(p->birth, c->ref_day);
            gh_gen_copy_str(t, key);
            gh_gen_copy_str(t, hh_no);
            gh_gen_copy_str(t, relation_code(p));
            gh_gen_copy_str(t, ty.name);
            gh_gen_copy_opt(t, cym);
            gh_gen_copy_str(t, ty.sex == 1 ? "1" : "2");
            gh_gen_copy_str(t, gh_gen_eth(p->eth)->code);
            gh_gen_copy_date(t, ty.birth);
            gh_gen_copy_opt(t, ty.id);
            char hy[8];
            snprintf(hy, sizeof(hy), "%02u", p->marital);
            gh_gen_copy_str(t, hy);
            gh_gen_copy_str(t, edu_code(p->edu, age));
            gh_gen_copy_opt(t, gh_gen_employer(p->employer)->name);
            gh_gen_copy_opt(t, ty.phone);
            gh_gen_copy_str(t, hjdzbm);
            gh_gen_copy_str(t, hjdz);
            gh_gen_copy_str(t, here ? actual_code : NULL);
            gh_gen_copy_str(t, actual);
            gh_gen_copy_str(t, pc->station);
            gh_gen_copy_str(t, pc->beat);
            int32_t settled = settled_day(g, p);
            gh_gen_copy_date(t, settled);
            gh_gen_copy_str(t, dead ? "1" : "0");
            if (dead) {
                gh_gen_copy_date(t, p->eday);
                gh_gen_copy_str(t, "死亡");
                gh_gen_copy_ts(
                    t, gh_gen_ts(&g->rng,
                                 p->eday + 3 +
                                     (int32_t)gh_gen_rng_below(&g->rng, 30)));
            } else {
                gh_gen_copy_null(t);
                gh_gen_copy_null(t);
                gh_gen_copy_ts(
                    t, gh_gen_ts(&g->rng, gh_gen_day_between(&g->rng, settled,
                                                             c->ref_day)));
            }
            gh_gen_copy_end_row(t);
            if (!dead) {
                p->dept_no[D] = no;
                p->dept_mask |= 1u << D;
                gh_gen_record_t rec;
                gh_gen_record_of(&ty, p, &rec);
                rec.address = actual;
                rec.household_key = hh_no;
                if (here && ty.outdated)
                    rec.errors |= GH_GEN_ERR_BIT(GH_GEN_ERR_OUTDATED_ADDRESS);
                gh_gen_person_id(p, id18);
                gh_gen_truth_add(g->truth, GH_GEN_TM_GA_HJRK, key, id18, &rec);
            }
        }
    }
}

static void floating(gh_gen_t *g, uint32_t gi, const place_codes_t *pc) {
    gh_gen_city_t *c = g->city;
    const gh_gen_grid_t *gr = &c->grids[gi];
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_GA_LDRK];
    for (uint32_t h = gr->first_hh; h < gr->first_hh + gr->n_hh; h++) {
        const gh_gen_household_t *hh = &c->hhs[h];
        if (hh->kind != GH_GEN_HH_FLOAT && hh->kind != GH_GEN_HH_LEFT) continue;
        const gh_gen_origin_t *o = gh_gen_origin(hh->origin);
        gh_gen_addr_t home;
        gh_gen_addr_of(c, h, &home);
        char zzdzbm[32], zzdz[256];
        gh_gen_addr_code(c, &home, 1, zzdzbm, sizeof(zzdzbm));
        gh_gen_addr_format(c, &home, GH_GEN_ADDR_GA, zzdz, sizeof(zzdz));
        static const uint16_t zslx_w[4] = {80, 8, 5, 7};
        static const char *const zslx[4] = {"1", "2", "3", "4"};
        const char *lodging = zslx[gh_gen_rng_pick(&g->rng, zslx_w, 4)];
        for (uint32_t i = hh->first; i < hh->first + hh->n; i++) {
            gh_gen_person_t *p = &c->persons[i];
            int left = (p->flags & GH_GEN_P_LEFT) != 0;
            if (!gh_gen_rng_chance(&g->rng, left ? 0.9 : 0.8)) continue;
            gh_gen_typed_t ty;
            gh_gen_type_person(&g->errs, &g->rng, D, p, &ty);
            int32_t reg = gh_gen_ldrk_day(g, i);
            int ry, rm, rd;
            gh_gen_civil(reg, &ry, &rm, &rd);
            uint32_t no = ++g->ga_ld[pc->dist];
            char key[32], id18[19];
            gh_gen_key_ldrybh(pc->district, ry, no, key, sizeof(key));
            int age = gh_gen_age(p->birth, c->ref_day);
            const char *reason =
                age < 16 || age > 60                                 ? "03"
                : (size_t)p->employer == gh_gen_employer_count() - 1 ? "99"
                : gh_gen_rng_chance(&g->rng, 0.25)                   ? "02"
                : gh_gen_rng_chance(&g->rng, 0.05)                   ? "04"
                                                                     : "01";
            gh_gen_copy_str(t, key);
            gh_gen_copy_str(t, ty.name);
            gh_gen_copy_str(t, ty.sex == 1 ? "1" : "2");
            gh_gen_copy_str(t, gh_gen_eth(p->eth)->code);
            gh_gen_copy_date(t, ty.birth);
            gh_gen_copy_opt(t, ty.id);
            gh_gen_copy_str(t, o->code);
            gh_gen_copy_str(t, o->address);
            gh_gen_copy_str(t, zzdzbm);
            gh_gen_copy_str(t, zzdz);
            gh_gen_copy_str(t, reason);
            gh_gen_copy_str(t, lodging);
            gh_gen_copy_opt(t, gh_gen_employer(p->employer)->name);
            gh_gen_copy_opt(t, ty.phone);
            gh_gen_copy_date(t, reg);
            if (age >= 16 && gh_gen_rng_chance(&g->rng, 0.7)) {
                char jzz[32];
                snprintf(jzz, sizeof(jzz), "JZZ%s%02d%06u", pc->district,
                         ry % 100, ++g->ga_jzz[pc->dist] % 1000000u);
                gh_gen_copy_str(t, jzz);
                gh_gen_copy_date(t, reg + 364);
            } else {
                gh_gen_copy_null(t);
                gh_gen_copy_null(t);
            }
            gh_gen_copy_str(t, pc->station);
            gh_gen_copy_str(t, pc->beat);
            gh_gen_copy_str(t, left ? "1" : "0");
            if (left)
                gh_gen_copy_date(t, p->eday);
            else
                gh_gen_copy_null(t);
            gh_gen_copy_ts(t, gh_gen_ts(&g->rng, left ? p->eday : reg));
            gh_gen_copy_end_row(t);
            if (!left) {
                p->dept_no[D] = no;
                p->dept_mask |= 1u << D;
                gh_gen_record_t rec; /* the address is the current one */
                gh_gen_record_of(&ty, p, &rec);
                rec.address = zzdz;
                gh_gen_person_id(p, id18);
                gh_gen_truth_add(g->truth, GH_GEN_TM_GA_LDRK, key, id18, &rec);
            }
        }
    }
}

void gh_gen_gongan_grid(gh_gen_t *g, uint32_t gi) {
    place_codes_t pc;
    gh_gen_dept_rng(g, D, gi);
    codes_of(g->city, gi, &pc);
    address_rows(g, gi, &pc);
    hukou(g, gi, &pc);
    floating(g, gi, &pc);
}
