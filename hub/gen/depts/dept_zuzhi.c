/* 组织部 organization department (party building): party members (about 7%
 * of adults; those who died or were expelled keep a row with another
 * dyzt), the cadres city units sent down to grids, and (finish) the party
 * grids and the organizations: 街道党工委 -> 社区党委 -> 网格党支部, plus the
 * city units' own branches. Keys per connectors/zuzhi/schema.sql. */
#include <stdio.h>
#include <string.h>

#include "gen_int.h"
#include "places.h"

#define D GH_GEN_ZUZHI

/* The first 综治 grid of party grid `party` of a community. */
static uint32_t party_first_grid(const gh_gen_city_t *c, int comm, int party) {
    const gh_gen_comm_t *cm = &c->comms[comm];
    int idx = cm->n_grids >= 3 && party >= 3 ? party + 1 : party;
    return (uint32_t)(cm->first_grid + idx - 1);
}

static const char *edu_text(int edu) {
    static const char *const t[] = {"小学", "小学", "初中",     "高中",
                                    "中专", "大专", "大学本科", "硕士研究生"};
    return edu >= 0 && edu <= 7 ? t[edu] : NULL;
}

static void member_row(gh_gen_t *g, uint32_t gi, uint32_t i, int *emitted) {
    gh_gen_city_t *c = g->city;
    gh_gen_person_t *p = &c->persons[i];
    const gh_gen_grid_t *gr = &c->grids[gi];
    const gh_gen_comm_t *cm = &c->comms[gr->comm];
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_DJ_DYXX];
    int dead = (p->flags & GH_GEN_P_DEAD) != 0;
    *emitted = 0;
    if (!gh_gen_rng_chance(&g->rng, dead ? 0.8 : 0.98)) return;
    gh_gen_typed_t ty;
    gh_gen_type_person(&g->errs, &g->rng, D, p, &ty);
    gh_gen_addr_t a;
    if (ty.outdated)
        gh_gen_addr_old(c, &g->rng, gi, &a);
    else
        gh_gen_addr_of(c, p->hh, &a);
    char dyid[33], branch[32], pgrid[48], addr[256], id18[19];
    gh_gen_key_dyid(g, i, dyid);
    int unit = p->employer && p->employer <= gh_gen_unit_count();
    if (unit)
        snprintf(branch, sizeof(branch), "%s",
                 gh_gen_employer(p->employer)->branch);
    else
        gh_gen_code_branch(c, cm->sub, gr->comm, gr->party, branch,
                           sizeof(branch));
    const gh_gen_grid_t *ag = &c->grids[a.grid];
    gh_gen_code_dj(c, c->comms[ag->comm].sub, ag->comm, ag->party, pgrid,
                   sizeof(pgrid));
    gh_gen_addr_format(c, &a, GH_GEN_ADDR_DJ, addr, sizeof(addr));
    int age = gh_gen_age(p->birth, c->ref_day);
    int32_t joined;
    if (p->flags & GH_GEN_P_PROB)
        joined = c->ref_day - 10 - (int32_t)gh_gen_rng_below(&g->rng, 300);
    else
        joined = gh_gen_days(1950 + p->joined,
                             1 + (int)gh_gen_rng_below(&g->rng, 12),
                             1 + (int)gh_gen_rng_below(&g->rng, 28));
    const char *status = dead                              ? "死亡"
                         : (p->flags & GH_GEN_P_EXPELLED)  ? "出党"
                         : (p->flags & GH_GEN_P_SUSPENDED) ? "停止党籍"
                                                           : "正常";
    const char *work = gh_gen_employer(p->employer)->name;
    if (!*work && age >= 60) work = "退休";
    gh_gen_copy_str(t, dyid);
    gh_gen_copy_str(t, ty.name);
    gh_gen_copy_str(t, ty.sex == 1 ? "男" : "女");
    gh_gen_copy_str(t, gh_gen_eth(p->eth)->name);
    gh_gen_copy_date(t, ty.birth);
    gh_gen_copy_opt(t, ty.id);
    gh_gen_copy_str(t, edu_text(p->edu));
    gh_gen_copy_opt(t, work);
    gh_gen_copy_date(t, joined);
    if (p->flags & GH_GEN_P_PROB)
        gh_gen_copy_null(t);
    else
        gh_gen_copy_date(t, joined + 365);
    gh_gen_copy_str(t, (p->flags & GH_GEN_P_PROB) ? "预备党员" : "正式党员");
    gh_gen_copy_str(t, branch);
    gh_gen_copy_str(t, pgrid);
    gh_gen_copy_opt(t, ty.phone);
    gh_gen_copy_str(t, addr);
    gh_gen_copy_str(t, status);
    gh_gen_copy_ts(
        t, gh_gen_ts(&g->rng,
                     dead ? p->eday + 15
                          : gh_gen_day_between(&g->rng, gh_gen_days(2019, 1, 1),
                                               c->ref_day)));
    gh_gen_copy_end_row(t);
    *emitted = 1;
    int counts = !dead && !(p->flags & GH_GEN_P_EXPELLED);
    if (!counts) return;
    p->dept_no[D] = 1;
    p->dept_mask |= 1u << D;
    gh_gen_record_t rec;
    gh_gen_record_of(&ty, p, &rec);
    rec.address = addr;
    if (ty.outdated) rec.errors |= GH_GEN_ERR_BIT(GH_GEN_ERR_OUTDATED_ADDRESS);
    gh_gen_person_id(p, id18);
    gh_gen_truth_add(g->truth, GH_GEN_TM_DJ_DY, dyid, id18, &rec);
    if (unit) {
        g->dj_unit_members[p->employer]++;
    } else {
        uint32_t first = party_first_grid(c, gr->comm, gr->party);
        g->dj_members[first]++;
        if (g->dj_secretary[first] == GH_GEN_NONE && age >= 30 && age <= 65)
            g->dj_secretary[first] = i;
    }
}

static void cadre_row(gh_gen_t *g, uint32_t gi, int has_member_row) {
    gh_gen_city_t *c = g->city;
    const gh_gen_grid_t *gr = &c->grids[gi];
    const gh_gen_person_t *p = &c->persons[gr->cadre];
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_DJ_XCGB];
    static const char *const role[] = {"", "网格长", "网格指导员", "联络员",
                                       "网格员"};
    static const char *const title[] = {
        "科员",         "副科长", "科长",      "四级主任科员",
        "三级主任科员", "副主任", "办公室主任"};
    int32_t sent =
        gh_gen_days(2020, 6, 1) + (int32_t)gh_gen_rng_below(&g->rng, 1150);
    int sy, sm, sd;
    gh_gen_civil(sent, &sy, &sm, &sd);
    char key[24], dyid[33], name[96], id[96], phone[64], pgrid[48];
    snprintf(key, sizeof(key), "XC%04d%06u", sy, ++g->dj_xc % 1000000u);
    gh_gen_key_dyid(g, gr->cadre, dyid);
    gh_gen_type_name(&g->errs, &g->rng, D, p, name, sizeof(name));
    gh_gen_type_id(&g->errs, &g->rng, D, p, id, sizeof(id));
    gh_gen_type_phone(&g->errs, &g->rng, D, p->phone, phone, sizeof(phone));
    gh_gen_code_dj(c, c->comms[gr->comm].sub, gr->comm, gr->party, pgrid,
                   sizeof(pgrid));
    int32_t recalled = gr->cadre_recalled
                           ? gh_gen_day_between(&g->rng, sent + 90, c->ref_day)
                           : 0;
    gh_gen_copy_str(t, key);
    gh_gen_copy_str(t, has_member_row ? dyid : NULL);
    gh_gen_copy_str(t, name);
    gh_gen_copy_str(t, p->sex == 1 ? "男" : "女");
    gh_gen_copy_opt(t, id);
    gh_gen_copy_opt(t, phone);
    gh_gen_copy_str(t, gh_gen_employer(p->employer)->name);
    gh_gen_copy_str(t, title[gh_gen_rng_below(&g->rng, 7)]);
    gh_gen_copy_str(t, pgrid);
    gh_gen_copy_str(t, role[gr->cadre_role % 5]);
    gh_gen_copy_date(t, sent);
    if (recalled)
        gh_gen_copy_date(t, recalled);
    else
        gh_gen_copy_null(t);
    gh_gen_copy_str(t, recalled ? "已召回" : "在岗");
    gh_gen_copy_ts(t, gh_gen_ts(&g->rng, recalled ? recalled : sent));
    gh_gen_copy_end_row(t);
}

void gh_gen_zuzhi_grid(gh_gen_t *g, uint32_t gi) {
    gh_gen_city_t *c = g->city;
    const gh_gen_grid_t *gr = &c->grids[gi];
    gh_gen_dept_rng(g, D, gi);
    int cadre_row_ok = 0;
    for (uint32_t i = gr->first_person; i < gr->first_person + gr->n_persons;
         i++) {
        const gh_gen_person_t *p = &c->persons[i];
        if (!(p->flags & GH_GEN_P_PARTY) || (p->flags & GH_GEN_P_LEFT))
            continue;
        int emitted;
        member_row(g, gi, i, &emitted);
        if (i == gr->cadre) cadre_row_ok = emitted;
    }
    if (gr->cadre != GH_GEN_NONE) cadre_row(g, gi, cadre_row_ok);
}

/* ---- party grids and organizations
 * --------------------------------------------- */

static void wg_row(gh_gen_t *g, gh_gen_rng_t *r, const char *code,
                   const char *name, const char *level, const char *parent,
                   const char *branch, const char *leader, long hs) {
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_DJ_WG];
    gh_gen_copy_str(t, code);
    gh_gen_copy_str(t, name);
    gh_gen_copy_str(t, level);
    gh_gen_copy_str(t, parent);
    gh_gen_copy_str(t, branch);
    gh_gen_copy_opt(t, leader);
    if (hs >= 0)
        gh_gen_copy_int(t, hs);
    else
        gh_gen_copy_null(t);
    gh_gen_copy_ts(t, gh_gen_ts(r, gh_gen_days(2020, 6, 15) +
                                       (int32_t)gh_gen_rng_below(r, 1100)));
    gh_gen_copy_end_row(t);
}

static void dzb_row(gh_gen_t *g, gh_gen_rng_t *r, const char *code,
                    const char *name, const char *kind, const char *parent,
                    const char *grid, const char *secretary, int32_t founded,
                    long members) {
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_DJ_DZB];
    char phone[24];
    gh_gen_landline(r, phone, sizeof(phone));
    gh_gen_copy_str(t, code);
    gh_gen_copy_str(t, name);
    gh_gen_copy_str(t, kind);
    gh_gen_copy_str(t, parent);
    gh_gen_copy_str(t, grid);
    gh_gen_copy_opt(t, secretary);
    gh_gen_copy_str(t, phone);
    gh_gen_copy_date(t, founded);
    if (members >= 0)
        gh_gen_copy_int(t, members);
    else
        gh_gen_copy_null(t);
    gh_gen_copy_ts(t, gh_gen_ts(r, gh_gen_days(2020, 6, 15) +
                                       (int32_t)gh_gen_rng_below(r, 1100)));
    gh_gen_copy_end_row(t);
}

static void true_name(const gh_gen_city_t *c, uint32_t p, char *out, size_t n) {
    if (p == GH_GEN_NONE)
        out[0] = '\0';
    else
        gh_gen_name_format(&c->persons[p].name, out, n);
}

void gh_gen_zuzhi_finish(gh_gen_t *g) {
    gh_gen_city_t *c = g->city;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, g->seed, GH_GEN_STREAM_DEPT + D, 1u << 30);
    for (int s = 0; s < c->n_subs; s++) {
        const gh_gen_sub_t *sb = &c->subs[s];
        const char *dist = c->dists[sb->district].name;
        char scode[32], sbranch[32], name[160], sec[64];
        gh_gen_code_dj(c, s, -1, 0, scode, sizeof(scode));
        gh_gen_code_branch(c, s, -1, 0, sbranch, sizeof(sbranch));
        snprintf(name, sizeof(name), "%s党建网格", sb->name);
        wg_row(g, &r, scode, name, "街道", NULL, sbranch, NULL, -1);
        gh_gen_random_name(&r, sec, sizeof(sec));
        snprintf(name, sizeof(name), "中共娄底市%s%s%s", dist, sb->name,
                 sb->kind == GH_GEN_SUB_JIEDAO ? "工作委员会" : "委员会");
        dzb_row(
            g, &r, sbranch, name,
            sb->kind == GH_GEN_SUB_JIEDAO ? "党工委" : "党委", NULL, scode, sec,
            gh_gen_days(1995, 3, 1) + (int32_t)gh_gen_rng_below(&r, 3000), -1);
        for (int k = sb->first_comm; k < sb->first_comm + sb->n_comms; k++) {
            const gh_gen_comm_t *cm = &c->comms[k];
            char ccode[48], cbranch[32];
            gh_gen_code_dj(c, s, k, 0, ccode, sizeof(ccode));
            gh_gen_code_branch(c, s, k, 0, cbranch, sizeof(cbranch));
            long hs = 0, members = 0;
            char leader[64];
            true_name(c, c->grids[cm->first_grid].leader, leader,
                      sizeof(leader));
            for (int pg = 1; pg <= cm->n_party; pg++) {
                uint32_t first = party_first_grid(c, k, pg);
                int span = cm->n_grids >= 3 && pg == 2 ? 2 : 1;
                long phs = 0;
                for (int j = 0; j < span; j++)
                    phs += c->grids[first + (uint32_t)j].households;
                char pcode[48], pbranch[32], num[16], gl[64], bs[64];
                gh_gen_code_dj(c, s, k, pg, pcode, sizeof(pcode));
                gh_gen_code_branch(c, s, k, pg, pbranch, sizeof(pbranch));
                gh_gen_cn_number(pg, num, sizeof(num));
                true_name(c, c->grids[first].leader, gl, sizeof(gl));
                snprintf(name, sizeof(name), "%s第%s党建网格", cm->name, num);
                wg_row(g, &r, pcode, name, "网格", ccode, pbranch, gl, phs);
                true_name(c, g->dj_secretary[first], bs, sizeof(bs));
                snprintf(name, sizeof(name), "中共%s第%s网格支部委员会",
                         cm->name, num);
                dzb_row(g, &r, pbranch, name, "党支部", cbranch, pcode, bs,
                        gh_gen_days(2020, 6, 15), (long)g->dj_members[first]);
                hs += phs;
                members += (long)g->dj_members[first];
            }
            snprintf(name, sizeof(name), "%s党建网格", cm->name);
            wg_row(g, &r, ccode, name, "社区", scode, cbranch, leader, hs);
            snprintf(name, sizeof(name), "中共娄底市%s%s%s委员会", dist,
                     sb->name, cm->name);
            dzb_row(g, &r, cbranch, name, members >= 100 ? "党委" : "党总支",
                    sbranch, ccode, leader, gh_gen_days(2012, 5, 4), members);
        }
    }
    /* The city units' own branches (their members live all over the city). */
    for (size_t u = 1; u <= gh_gen_unit_count(); u++) {
        const gh_gen_employer_t *e = gh_gen_employer(u);
        char name[160], sec[64];
        snprintf(name, sizeof(name), "%s%s机关支部委员会",
                 strncmp(e->name, "中共", strlen("中共")) ? "中共" : "",
                 e->name);
        gh_gen_random_name(&r, sec, sizeof(sec));
        dzb_row(g, &r, e->branch, name, "党支部", NULL, NULL, sec,
                gh_gen_days(1985, 7, 1) + (int32_t)gh_gen_rng_below(&r, 6000),
                (long)g->dj_unit_members[u]);
    }
}
