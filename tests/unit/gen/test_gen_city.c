/*
 * Unit tests for the true city (hub/gen/city/city.c): the presets' sizes, the
 * codes of every department's division (as the connectors' crosswalk files
 * and samples have them for 大塘 and 童家), and the make-up of the
 * population the coverage model depends on.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "city.h"

Test(gen_city, demo_is_leping) {
    gh_gen_city_t *c = gh_gen_city_new(GH_GEN_PRESET_DEMO, 1, 1.0);
    cr_assert_eq(c->n_dists, 1);
    cr_assert_eq(c->n_subs, 1);
    cr_assert_str_eq(c->subs[0].name, "乐坪街道");
    cr_assert_eq(c->n_comms, 12);
    cr_assert_eq(c->n_grids, 131);
    cr_assert_str_eq(c->comms[0].name, "大塘社区");
    cr_assert_str_eq(c->comms[1].name, "童家社区");
    char code[64];
    gh_gen_code_zz_grid(c, 0, code, sizeof(code));
    cr_assert_str_eq(code, "LP-DT-01");
    gh_gen_code_beat(c, 0, code, sizeof(code));
    cr_assert_str_eq(code, "ZRQ-4313020101");
    gh_gen_code_beat(c, 1, code, sizeof(code));
    cr_assert_str_eq(code, "ZRQ-4313020102");
    gh_gen_code_station(c, 0, code, sizeof(code));
    cr_assert_str_eq(code, "431302510000");
    gh_gen_code_stat(c, 0, 1, code, sizeof(code));
    cr_assert_str_eq(code, "431302002002");
    gh_gen_code_dj(c, 0, 0, 2, code, sizeof(code));
    cr_assert_str_eq(code, "DJ-LPJD-DTSQ-02");
    gh_gen_code_dj_target(c, 0, 2, code, sizeof(code));
    cr_assert_str_eq(code, "LP-DT", "party grid 02 spans LP-DT-02 and -03");
    gh_gen_code_dj_target(c, 0, 1, code, sizeof(code));
    cr_assert_str_eq(code, "LP-DT-01");
    gh_gen_code_branch(c, 0, 0, 1, code, sizeof(code));
    cr_assert_str_eq(code, "D4313020020011");
    gh_gen_code_branch(c, 0, -1, 0, code, sizeof(code));
    cr_assert_str_eq(code, "D43130200200");
    gh_gen_code_cw(c, 0, 4, code, sizeof(code));
    cr_assert_str_eq(code, "CW-LP-004");
    gh_gen_code_cw_target(c, 0, 4, code, sizeof(code));
    cr_assert_str_eq(code, "LP-TJ", "童家路片区 spans both 童家 grids");
    gh_gen_code_cw_target(c, 0, 3, code, sizeof(code));
    cr_assert_str_eq(code, "LP-DT-03");
    gh_gen_city_destroy(c);
}

Test(gen_city, city_has_13187_grids_and_unique_codes) {
    gh_gen_city_t *c = gh_gen_city_new(GH_GEN_PRESET_CITY, 1, 1.0);
    cr_assert_eq(c->n_dists, 5);
    cr_assert_eq(c->n_grids, 13187);
    int louxing = 0;
    for (int s = c->dists[0].first_sub;
         s < c->dists[0].first_sub + c->dists[0].n_subs; s++)
        for (int k = c->subs[s].first_comm;
             k < c->subs[s].first_comm + c->subs[s].n_comms; k++)
            louxing += c->comms[k].n_grids;
    cr_assert_eq(louxing, 2684, "娄星区 has 2,684 grids");
    /* 乐坪 in the city is the demo's 乐坪. */
    cr_assert_str_eq(c->subs[1].name, "乐坪街道");
    cr_assert_str_eq(c->subs[1].zz, "LP");
    /* Sub-district and district codes share 综治's table: unique. */
    for (int i = 0; i < c->n_subs; i++) {
        for (int j = i + 1; j < c->n_subs; j++) {
            cr_assert_str_neq(c->subs[i].zz, c->subs[j].zz);
            cr_assert_str_neq(c->subs[i].dj, c->subs[j].dj);
        }
        for (int d = 0; d < c->n_dists; d++)
            cr_assert_str_neq(c->subs[i].zz, c->dists[d].abbr);
    }
    for (int s = 0; s < c->n_subs; s++)
        for (int i = c->subs[s].first_comm;
             i < c->subs[s].first_comm + c->subs[s].n_comms; i++)
            for (int j = i + 1; j < c->subs[s].first_comm + c->subs[s].n_comms;
                 j++)
                cr_assert_str_neq(c->comms[i].zz, c->comms[j].zz);
    long target = 0;
    for (uint32_t g = 0; g < c->n_grids; g++)
        target += c->grids[g].target;
    cr_assert(target > 3700000 && target < 4200000, "%ld residents planned",
              target);
    gh_gen_city_destroy(c);
}

Test(gen_city, population_make_up) {
    gh_gen_city_t *c = gh_gen_city_new(GH_GEN_PRESET_DEMO, 3, 1.0);
    for (uint32_t g = 0; g < c->n_grids; g++)
        gh_gen_city_grid(c, g);
    long living = 0, adults = 0, party = 0, vol = 0, kids = 0, old = 0,
         floating = 0, wcba = 0;
    for (uint32_t i = 0; i < c->n_persons; i++) {
        const gh_gen_person_t *p = &c->persons[i];
        if (!gh_gen_person_lives_here(c, p)) continue;
        int age = gh_gen_age(p->birth, c->ref_day);
        living++;
        adults += age >= 18;
        party += (p->flags & GH_GEN_P_PARTY) != 0;
        vol += (p->flags & GH_GEN_P_VOL) != 0;
        kids += age < 15;
        old += age >= 60;
        floating += c->hhs[p->hh].kind == GH_GEN_HH_FLOAT;
        wcba += p->sex == 2 && age >= 15 && age <= 49;
    }
    cr_assert(living > 34000 && living < 44000, "%ld living in 乐坪", living);
    double pp = (double)party / adults, vp = (double)vol / adults;
    cr_assert(pp > 0.05 && pp < 0.10, "party members %.3f of adults", pp);
    cr_assert(vp > 0.02 && vp < 0.045, "volunteers %.3f of adults", vp);
    cr_assert(kids > living / 10 && kids < living / 4, "%ld children", kids);
    cr_assert(old > living / 10 && old < living * 35 / 100, "%ld aged 60+",
              old);
    cr_assert(floating > living / 20 && floating < living / 5, "%ld floating",
              floating);
    cr_assert_gt(wcba, living / 8);
    /* Every grid has its 1+1+N team at full scale. */
    for (uint32_t g = 0; g < c->n_grids; g++) {
        cr_assert_neq(c->grids[g].leader, GH_GEN_NONE, "grid %u has no leader",
                      g);
        cr_assert_neq(c->grids[g].fulltime, GH_GEN_NONE);
        cr_assert_geq(c->grids[g].n_part, 2);
    }
    gh_gen_city_destroy(c);
}

Test(gen_city, same_seed_same_city) {
    gh_gen_city_t *a = gh_gen_city_new(GH_GEN_PRESET_DEMO, 11, 0.1);
    gh_gen_city_t *b = gh_gen_city_new(GH_GEN_PRESET_DEMO, 11, 0.1);
    gh_gen_city_t *d = gh_gen_city_new(GH_GEN_PRESET_DEMO, 12, 0.1);
    for (uint32_t g = 0; g < a->n_grids; g++) {
        gh_gen_city_grid(a, g);
        gh_gen_city_grid(b, g);
        gh_gen_city_grid(d, g);
    }
    cr_assert_eq(a->n_persons, b->n_persons);
    cr_assert_eq(
        memcmp(a->persons, b->persons, a->n_persons * sizeof(*a->persons)), 0);
    cr_assert(
        a->n_persons != d->n_persons ||
            memcmp(a->persons, d->persons, a->n_persons * sizeof(*a->persons)),
        "another seed must give another city");
    gh_gen_city_destroy(a);
    gh_gen_city_destroy(b);
    gh_gen_city_destroy(d);
}
