/* 综治 comprehensive governance: actual residents (实有人口, most of those
 * living here, plus stale records of people who moved away or died), the
 * houses grid members collected, the 1+1+N grid staff, grid events, and
 * its grid hierarchy (finish). Keys and codes per
 * connectors/zongzhi/schema.sql and mapping.properties. */
#include <stdio.h>
#include <string.h>

#include "gen_int.h"
#include "places.h"

#define D GH_GEN_ZONGZHI

static const char *remark(gh_gen_t *g, const gh_gen_person_t *p) {
    const gh_gen_city_t *c = g->city;
    gh_gen_rng_t *r = &g->rng;
    int age = gh_gen_age(p->birth, c->ref_day);
    const gh_gen_household_t *h = &c->hhs[p->hh];
    uint32_t k = gh_gen_rng_below(r, 100);
    if (age >= 70 && h->n == 1 && k < 60) return "独居老人";
    if (age >= 80 && k < 30) return "高龄老人";
    if (h->kind == GH_GEN_HH_FLOAT && k < 25) return "出租房屋承租人";
    if (age < 16 && k < 3) return "留守儿童";
    if (k < 2) return "低保户";
    if (k < 3) return "残疾人";
    if (k < 4 && p->sex == 1 && age > 25) return "退役军人";
    return NULL;
}

static void residents(gh_gen_t *g, uint32_t gi) {
    gh_gen_city_t *c = g->city;
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_ZZ_SYRK];
    const gh_gen_grid_t *gr = &c->grids[gi];
    for (uint32_t i = gr->first_person; i < gr->first_person + gr->n_persons;
         i++) {
        gh_gen_person_t *p = &c->persons[i];
        /* 综治 knows ~90% of those living here, and has not cleaned out
         * everyone who moved away or died. */
        double pr = gh_gen_person_lives_here(c, p) ? 0.90
                    : (p->flags & GH_GEN_P_DEAD)   ? 0.10
                    : (p->flags & GH_GEN_P_AWAY)   ? 0.05
                                                   : 0.03;
        if (!gh_gen_rng_chance(&g->rng, pr)) continue;
        gh_gen_typed_t ty;
        gh_gen_type_person(&g->errs, &g->rng, D, p, &ty);
        gh_gen_addr_t a;
        if (ty.outdated)
            gh_gen_addr_old(c, &g->rng, gi, &a);
        else
            gh_gen_addr_of(c, p->hh, &a);
        char key[16], addr[256], grid[32], id18[19];
        p->dept_no[D] = ++g->zz_rk;
        p->dept_mask |= 1u << D;
        gh_gen_key_zz(p->dept_no[D], key, sizeof(key));
        gh_gen_addr_format(c, &a, GH_GEN_ADDR_ZZ, addr, sizeof(addr));
        gh_gen_code_zz_grid(c, a.grid, grid, sizeof(grid));
        gh_gen_copy_str(t, key);
        gh_gen_copy_str(t, ty.name);
        gh_gen_copy_opt(t, ty.id);
        gh_gen_copy_str(t, ty.sex == 1 ? "1" : "2");
        gh_gen_copy_date(t, ty.birth);
        gh_gen_copy_opt(t, ty.phone);
        gh_gen_copy_str(t, addr);
        gh_gen_copy_str(t, grid);
        gh_gen_copy_str(t, remark(g, p));
        gh_gen_copy_ts(
            t, gh_gen_ts(&g->rng, c->ref_day - (int32_t)gh_gen_rng_below(
                                                   &g->rng, 4 * 365)));
        gh_gen_copy_end_row(t);
        gh_gen_record_t rec;
        gh_gen_record_of(&ty, p, &rec);
        rec.address = addr;
        if (ty.outdated)
            rec.errors |= GH_GEN_ERR_BIT(GH_GEN_ERR_OUTDATED_ADDRESS);
        gh_gen_person_id(p, id18);
        gh_gen_truth_add(g->truth, GH_GEN_TM_ZZ_SYRK, key, id18, &rec);
    }
}

static void houses(gh_gen_t *g, uint32_t gi) {
    gh_gen_city_t *c = g->city;
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_ZZ_FW];
    const gh_gen_comm_t *cm = &c->comms[c->grids[gi].comm];
    char grid[32];
    gh_gen_code_zz_grid(c, gi, grid, sizeof(grid));
    for (uint32_t i = 0; i < c->n_dw; i++) {
        const gh_gen_dwelling_t *d = &c->dw[i];
        if (!gh_gen_rng_chance(&g->rng, 0.85)) continue;
        gh_gen_addr_t a = {gi, d->bldg, d->cbldg, d->room, d->unit};
        char key[16], code[32], addr[256], ldh[16], dyh[16], fh[16];
        char owner[96] = "", phone[64] = "";
        snprintf(key, sizeof(key), "FW%08u", ++g->zz_fw);
        int matched = gh_gen_rng_chance(&g->rng, 0.6);
        gh_gen_addr_code(c, &a, 1, code, sizeof(code));
        gh_gen_addr_format(c, &a, GH_GEN_ADDR_ZZ, addr, sizeof(addr));
        snprintf(ldh, sizeof(ldh), "%u%s", d->bldg, cm->village ? "组" : "栋");
        snprintf(dyh, sizeof(dyh), "%u单元", d->unit);
        snprintf(fh, sizeof(fh), cm->village ? "%u号" : "%u", d->room);
        if (d->use == 4 && d->unit) snprintf(fh, sizeof(fh), "门面%u", d->room);
        if (d->hh != GH_GEN_NONE && c->hhs[d->hh].kind == GH_GEN_HH_LOCAL) {
            const gh_gen_person_t *head = &c->persons[c->hhs[d->hh].first];
            gh_gen_type_name(&g->errs, &g->rng, D, head, owner, sizeof(owner));
            gh_gen_type_phone(&g->errs, &g->rng, D, head->phone, phone,
                              sizeof(phone));
        } else if (gh_gen_rng_chance(&g->rng, 0.7)) {
            gh_gen_random_name(&g->rng, owner, sizeof(owner));
            if (gh_gen_rng_chance(&g->rng, 0.6))
                snprintf(phone, sizeof(phone), "1%u%09u",
                         3 + gh_gen_rng_below(&g->rng, 7),
                         gh_gen_rng_below(&g->rng, 1000000000));
        }
        gh_gen_copy_str(t, key);
        gh_gen_copy_str(t, matched ? code : NULL);
        gh_gen_copy_str(t, addr);
        gh_gen_copy_str(t, cm->zz);
        gh_gen_copy_str(t, ldh);
        gh_gen_copy_str(t, d->unit ? dyh : NULL);
        gh_gen_copy_str(t, fh);
        gh_gen_copy_str(t, grid);
        char use[2] = {(char)('0' + d->use), 0};
        gh_gen_copy_str(t, use);
        gh_gen_copy_opt(t, owner);
        gh_gen_copy_opt(t, phone);
        gh_gen_copy_ts(
            t, gh_gen_ts(&g->rng, c->ref_day - (int32_t)gh_gen_rng_below(
                                                   &g->rng, 5 * 365)));
        gh_gen_copy_end_row(t);
    }
}

/* Writes one staff row; returns its number. */
static uint32_t staff_row(gh_gen_t *g, uint32_t gi, uint32_t person, int role,
                          const char *org, int days_ago) {
    gh_gen_city_t *c = g->city;
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_ZZ_WGY];
    const gh_gen_person_t *p = &c->persons[person];
    char key[16], name[96], id[96], phone[64], grid[32];
    uint32_t no = ++g->zz_wgy;
    snprintf(key, sizeof(key), "WGY%07u", no);
    gh_gen_type_name(&g->errs, &g->rng, D, p, name, sizeof(name));
    gh_gen_type_id(&g->errs, &g->rng, D, p, id, sizeof(id));
    gh_gen_type_phone(&g->errs, &g->rng, D, p->phone, phone, sizeof(phone));
    gh_gen_code_zz_grid(c, gi, grid, sizeof(grid));
    gh_gen_copy_str(t, key);
    gh_gen_copy_str(t, name);
    gh_gen_copy_opt(t, id);
    gh_gen_copy_opt(t, phone);
    gh_gen_copy_str(t, grid);
    char r[2] = {(char)('0' + role), 0};
    gh_gen_copy_str(t, r);
    gh_gen_copy_opt(t, org);
    int32_t since = c->ref_day - days_ago;
    gh_gen_copy_date(t, since);
    gh_gen_copy_ts(t, gh_gen_ts(&g->rng, since));
    gh_gen_copy_end_row(t);
    return no;
}

/* The 1+1+N team; fills ids[] with the staff numbers (for events). */
static int staff(gh_gen_t *g, uint32_t gi, uint32_t *ids) {
    gh_gen_city_t *c = g->city;
    const gh_gen_grid_t *gr = &c->grids[gi];
    const gh_gen_comm_t *cm = &c->comms[gr->comm];
    char org[128];
    int n = 0;
    if (gr->leader != GH_GEN_NONE) {
        const gh_gen_person_t *p = &c->persons[gr->leader];
        if (p->flags & GH_GEN_P_CADRE)
            snprintf(org, sizeof(org), "%s",
                     gh_gen_employer(p->employer)->name);
        else
            snprintf(org, sizeof(org), "%s%s", cm->name,
                     (p->flags & GH_GEN_P_PARTY) ? "党委" : "居委会");
        ids[n++] = staff_row(g, gi, gr->leader, 1, org, gr->rzrq_leader);
    }
    if (gr->fulltime != GH_GEN_NONE) {
        snprintf(org, sizeof(org), "%s%s", cm->name,
                 cm->village ? "村委会" : "居委会");
        ids[n++] = staff_row(g, gi, gr->fulltime, 2, org,
                             gh_gen_rng_range(&g->rng, 60, 1500));
    }
    for (int i = 0; i < gr->n_part; i++) {
        const gh_gen_person_t *p = &c->persons[gr->part[i]];
        switch (gr->part_kind[i]) {
        case GH_GEN_PART_BUILDING:
            if (c->hhs[p->hh].unit)
                snprintf(org, sizeof(org), "楼栋长(%u栋)", c->hhs[p->hh].bldg);
            else
                snprintf(org, sizeof(org), "村民小组长(%u组)",
                         c->hhs[p->hh].bldg);
            break;
        case GH_GEN_PART_PROPERTY:
            snprintf(
                org, sizeof(org), "%s",
                gh_gen_property_company(gi % gh_gen_property_company_count()));
            break;
        case GH_GEN_PART_VOLUNTEER:
            snprintf(org, sizeof(org), "志愿者");
            break;
        case GH_GEN_PART_PARTY:
            snprintf(org, sizeof(org), "党员");
            break;
        default:
            snprintf(org, sizeof(org), "退休干部");
            break;
        }
        ids[n++] = staff_row(g, gi, gr->part[i], 3, org,
                             gh_gen_rng_range(&g->rng, 30, 1200));
    }
    if (gr->liaison != GH_GEN_NONE)
        ids[n++] =
            staff_row(g, gi, gr->liaison, 4,
                      gh_gen_employer(c->persons[gr->liaison].employer)->name,
                      gh_gen_rng_range(&g->rng, 30, 1000));
    /* A cadre guiding or liaising for a city unit is in the team too. */
    if (gr->cadre != GH_GEN_NONE && gr->cadre != gr->leader &&
        !gr->cadre_recalled)
        ids[n++] = staff_row(
            g, gi, gr->cadre, gr->cadre_role == GH_GEN_CADRE_MEMBER ? 3 : 4,
            gh_gen_employer(c->persons[gr->cadre].employer)->name,
            gh_gen_rng_range(&g->rng, 30, 1000));
    return n;
}

typedef struct event_tpl {
    const char *title, *desc;
} event_tpl_t;

static const event_tpl_t DISPUTES[] = {
    {"{b}栋楼上楼下漏水纠纷",
     "{b}栋{r}"
     "住户卫生间漏水至楼下住户家，双方就维修费用协商未果，网格员上门调解。"},
    {"{b}栋邻里噪音纠纷",
     "{b}栋{u}单元{r}"
     "住户夜间装修噪音扰民，邻居多次投诉，网格员约双方协商装修时间。"},
    {"{c}停车位纠纷", "{c}业主因车位被占发生争执，网格员联系物业协调处理。"},
    {"家庭赡养纠纷", "{n}反映子女未按约定支付赡养费，请求社区调解。"},
    {"{c}物业费纠纷",
     "部分业主对物业服务不满拒交物业费，物业公司与业主协商未果。"},
};
static const event_tpl_t ORDER[] = {
    {"{c}电动车被盗", "{b}栋楼下充电棚一辆电动车夜间被盗，已报派出所。"},
    {"{s}深夜聚众喧哗", "{s}沿街烧烤店深夜聚众喧哗，群众报警，民警到场处置。"},
    {"{c}可疑人员上门推销",
     "有陌生人员在{c}挨家推销保健品，网格员提醒居民防范诈骗。"},
    {"{b}栋入室盗窃", "{b}栋{r}住户家中被盗，已报案，派出所正在侦查。"},
};
static const event_tpl_t HAZARDS[] = {
    {"沿街门面违规存放液化气罐",
     "{s}{d}号沿街门面存放液化气罐3个，未配灭火器。"},
    {"{b}栋楼道堆放杂物", "{b}栋{u}单元楼道堆放杂物，堵塞消防通道。"},
    {"{b}栋电动车楼道充电", "{b}栋有住户将电动车推入楼道充电，存在火灾隐患。"},
    {"{c}消防栓损坏", "{c}{b}栋旁消防栓损坏漏水，需维修。"},
    {"{s}路面塌陷", "{s}{d}号附近人行道出现塌陷，存在安全隐患。"},
};
static const event_tpl_t REQUESTS[] = {
    {"独居老人申请上门送餐", "{b}栋独居老人申请社区助餐服务，联系人{n}。"},
    {"申请办理居住证", "{n}咨询居住证办理流程，网格员协助准备材料。"},
    {"{c}路灯不亮", "{c}{b}栋附近路灯损坏，居民夜间出行不便。"},
    {"申请最低生活保障", "{n}家庭困难，申请最低生活保障，网格员入户核查。"},
    {"{b}栋下水道堵塞", "{b}栋{u}单元下水道堵塞返水，请求疏通。"},
};
static const event_tpl_t OTHERS[] = {
    {"{c}流浪犬出没", "{c}有流浪犬出没，居民担心安全，请求处理。"},
};

void gh_gen_zz_event_text(const gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t gi,
                          int type, char *title, size_t tn, char *desc,
                          size_t dn, char *where, size_t wn, char *dept,
                          size_t dpn) {
    const gh_gen_grid_t *gr = &c->grids[gi];
    const gh_gen_comm_t *cm = &c->comms[gr->comm];
    const gh_gen_sub_t *s = &c->subs[cm->sub];
    const event_tpl_t *set;
    size_t n;
    switch (type) {
    case 1:
        set = DISPUTES;
        n = sizeof(DISPUTES) / sizeof(*set);
        break;
    case 2:
        set = ORDER;
        n = sizeof(ORDER) / sizeof(*set);
        break;
    case 3:
        set = HAZARDS;
        n = sizeof(HAZARDS) / sizeof(*set);
        break;
    case 4:
        set = REQUESTS;
        n = sizeof(REQUESTS) / sizeof(*set);
        break;
    default:
        set = OTHERS;
        n = sizeof(OTHERS) / sizeof(*set);
        break;
    }
    const event_tpl_t *tp = &set[gh_gen_rng_below(r, (uint32_t)n)];
    gh_gen_addr_t a;
    gh_gen_addr_random(c, r, gi, &a);
    char comp[64], name[64];
    gh_gen_compound_name(c, gi, comp, sizeof(comp));
    if (!comp[0]) snprintf(comp, sizeof(comp), "%s", cm->name);
    gh_gen_random_name(r, name, sizeof(name));
    gh_gen_tpl_args_t args = {comp,   cm->street, name,   cm->name,
                              a.bldg, a.unit,     a.room, cm->door};
    gh_gen_template(tp->title, &args, title, tn);
    gh_gen_template(tp->desc, &args, desc, dn);
    gh_gen_addr_format(c, &a, GH_GEN_ADDR_ZZ, where, wn);
    char *cut = strstr(where, "单元"); /* the building is enough */
    if (cut) {
        cut = strstr(where, "栋");
        if (cut) cut[strlen("栋")] = '\0';
    }
    switch (type) {
    case 1:
        snprintf(dept, dpn, "%s人民调解委员会", cm->name);
        break;
    case 2:
        snprintf(dept, dpn, "%s派出所", s->stem);
        break;
    case 3:
        snprintf(dept, dpn, "%s应急办", s->name);
        break;
    case 4:
        snprintf(dept, dpn, "%s%s", cm->name,
                 cm->village ? "村委会" : "居委会");
        break;
    default:
        snprintf(dept, dpn, "%s城管中队", s->stem);
        break;
    }
}

static void events(gh_gen_t *g, uint32_t gi, const uint32_t *staff_ids,
                   int n_staff) {
    gh_gen_city_t *c = g->city;
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_ZZ_WGSJ];
    const gh_gen_grid_t *gr = &c->grids[gi];
    double mean = gr->population / 15.0;
    uint32_t n = (uint32_t)(mean * (0.5 + gh_gen_rng_unit(&g->rng)) + 0.5);
    char grid[32];
    gh_gen_code_zz_grid(c, gi, grid, sizeof(grid));
    static const uint16_t type_w[5] = {30, 15, 25, 25, 5};
    for (uint32_t i = 0; i < n; i++) {
        int ago = (int)gh_gen_rng_below(&g->rng, GH_GEN_HISTORY_DAYS);
        int32_t day = c->ref_day - ago;
        int type = 1 + (int)gh_gen_rng_pick(&g->rng, type_w, 5);
        char key[24], title[256], desc[512], where[256], dept[128], ymd[11];
        gh_gen_format_date(day, ymd);
        uint16_t seq = ++g->zz_sj_day[ago];
        snprintf(key, sizeof(key), "SJ%.4s%.2s%.2s%05u", ymd, ymd + 5, ymd + 8,
                 seq);
        gh_gen_zz_event_text(c, &g->rng, gi, type == 5 ? 9 : type, title,
                             sizeof(title), desc, sizeof(desc), where,
                             sizeof(where), dept, sizeof(dept));
        /* Old events are closed; recent ones are somewhere on the way. */
        const char *status;
        uint32_t k = gh_gen_rng_below(&g->rng, 100);
        if (ago > 60)
            status = k < 70 ? "06" : k < 95 ? "05" : k < 98 ? "09" : "04";
        else
            status = k < 15   ? "01"
                     : k < 25 ? "02"
                     : k < 40 ? "03"
                     : k < 60 ? "04"
                     : k < 95 ? "05"
                              : "09";
        int closed = status[1] == '5' || status[1] == '6';
        int64_t reported = gh_gen_ts(&g->rng, day);
        int64_t done = reported + 7200 + gh_gen_rng_below(&g->rng, 10 * 86400);
        int64_t touched =
            closed ? done : reported + gh_gen_rng_below(&g->rng, 86400);
        gh_gen_copy_str(t, key);
        gh_gen_copy_str(t, grid);
        gh_gen_copy_str(t, type == 5   ? "99"
                           : type == 1 ? "01"
                           : type == 2 ? "02"
                           : type == 3 ? "03"
                                       : "04");
        gh_gen_copy_str(t, title);
        gh_gen_copy_str(t, desc);
        gh_gen_copy_str(t, where);
        gh_gen_copy_str(t, status);
        if (n_staff) {
            char sb[16];
            snprintf(sb, sizeof(sb), "WGY%07u",
                     staff_ids[gh_gen_rng_below(&g->rng, (uint32_t)n_staff)]);
            gh_gen_copy_str(t, sb);
        } else {
            gh_gen_copy_null(t);
        }
        gh_gen_copy_ts(t, reported);
        gh_gen_copy_str(t, status[1] == '1' ? NULL : dept);
        if (closed)
            gh_gen_copy_ts(t, done);
        else
            gh_gen_copy_null(t);
        gh_gen_copy_ts(t, touched);
        gh_gen_copy_end_row(t);
    }
}

void gh_gen_zongzhi_grid(gh_gen_t *g, uint32_t gi) {
    uint32_t ids[GH_GEN_MAX_PART + 8];
    gh_gen_dept_rng(g, D, gi);
    residents(g, gi);
    houses(g, gi);
    int n = staff(g, gi, ids);
    events(g, gi, ids, n);
}

/* ---- the grid hierarchy
 * ------------------------------------------------------- */

static void wg_row(gh_gen_t *g, gh_gen_rng_t *r, const char *code,
                   const char *name, int level, const char *parent,
                   const char *stat, long hs, long rks, const char *scope) {
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_ZZ_WG];
    char lvl[2] = {(char)('0' + level), 0};
    gh_gen_copy_str(t, code);
    gh_gen_copy_str(t, name);
    gh_gen_copy_str(t, lvl);
    gh_gen_copy_str(t, parent);
    gh_gen_copy_str(t, stat);
    if (hs >= 0)
        gh_gen_copy_int(t, hs);
    else
        gh_gen_copy_null(t);
    if (rks >= 0)
        gh_gen_copy_int(t, rks);
    else
        gh_gen_copy_null(t);
    gh_gen_copy_str(t, scope);
    /* The 2020 re-division, touched since. */
    int32_t day = gh_gen_days(2020, 6, 15) + (int32_t)gh_gen_rng_below(r, 1200);
    gh_gen_copy_ts(t, gh_gen_ts(r, day));
    gh_gen_copy_end_row(t);
}

void gh_gen_zongzhi_finish(gh_gen_t *g) {
    gh_gen_city_t *c = g->city;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, g->seed, GH_GEN_STREAM_DEPT + D, 1u << 30);
    for (int d = 0; d < c->n_dists; d++) {
        char stat[16];
        snprintf(stat, sizeof(stat), "%s000000", c->dists[d].code);
        wg_row(g, &r, c->dists[d].abbr, c->dists[d].name, 1, NULL, stat, -1, -1,
               NULL);
    }
    for (int s = 0; s < c->n_subs; s++) {
        const gh_gen_sub_t *sb = &c->subs[s];
        char stat[16], stat12[32];
        gh_gen_code_stat(c, s, -1, stat, sizeof(stat));
        snprintf(stat12, sizeof(stat12), "%s000", stat);
        wg_row(g, &r, sb->zz, sb->name, 2, c->dists[sb->district].abbr, stat12,
               -1, -1, NULL);
        for (int k = sb->first_comm; k < sb->first_comm + sb->n_comms; k++) {
            const gh_gen_comm_t *cm = &c->comms[k];
            long hs = 0, rks = 0;
            for (int gi = cm->first_grid; gi < cm->first_grid + cm->n_grids;
                 gi++) {
                const gh_gen_grid_t *gr = &c->grids[gi];
                char code[32], name[96], scope[160], comp[64], num[16];
                gh_gen_code_zz_grid(c, (uint32_t)gi, code, sizeof(code));
                gh_gen_cn_number(gr->index, num, sizeof(num));
                snprintf(name, sizeof(name), "%s第%s网格", cm->name, num);
                gh_gen_compound_name(c, (uint32_t)gi, comp, sizeof(comp));
                if (cm->village)
                    snprintf(scope, sizeof(scope), "%s%u组至%u组", cm->name,
                             gr->bldg_first, gr->bldg_first + gr->n_bldg - 1);
                else
                    snprintf(scope, sizeof(scope), "%s%u栋至%u栋", comp,
                             gr->bldg_first, gr->bldg_first + gr->n_bldg - 1);
                wg_row(g, &r, code, name, 4, cm->zz, NULL, (long)gr->households,
                       (long)gr->population, scope);
                hs += gr->households;
                rks += gr->population;
            }
            gh_gen_code_stat(c, s, k, stat, sizeof(stat));
            wg_row(g, &r, cm->zz, cm->name, 3, sb->zz, stat, hs, rks, NULL);
        }
    }
}
