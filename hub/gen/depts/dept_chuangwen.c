/* 创文 civilization campaign: registered volunteers (about 3% of adults,
 * typed by themselves on phones: full-width letters, stray spaces, sex as
 * f or Ｆ, dates as YYYY/MM/DD or, imported from spreadsheets, YYYY-MM-DD),
 * inspection tasks per campaign area, and (finish) the areas. Surrogate
 * bigint ids are given explicitly so that the load is reproducible; the
 * identity sequences are moved past them afterwards. Keys per
 * connectors/chuangwen/schema.sql. */
#include <stdio.h>
#include <string.h>

#include "gen_int.h"
#include "places.h"

#define D GH_GEN_CHUANGWEN

/* Volunteer numbers: HN + district + registration date + 3 digits. */
#define VOL_DAY0_Y GH_GEN_VOL_DAY0_Y
#define VOL_DAYS GH_GEN_VOL_DAYS

static void volunteers(gh_gen_t *g, uint32_t gi) {
    gh_gen_city_t *c = g->city;
    const gh_gen_grid_t *gr = &c->grids[gi];
    const gh_gen_comm_t *cm = &c->comms[gr->comm];
    int dist = c->subs[cm->sub].district;
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_CW_VOLUNTEER];
    char area[32];
    gh_gen_code_cw(c, cm->sub, gr->area, area, sizeof(area));
    int32_t day0 = gh_gen_days(VOL_DAY0_Y, 1, 1);
    for (uint32_t i = gr->first_person; i < gr->first_person + gr->n_persons;
         i++) {
        gh_gen_person_t *p = &c->persons[i];
        if (!(p->flags & GH_GEN_P_VOL)) continue;
        gh_gen_typed_t ty;
        gh_gen_type_person(&g->errs, &g->rng, D, p, &ty);
        int age = gh_gen_age(p->birth, c->ref_day);
        int32_t adult = p->birth + 16 * 365;
        int32_t reg = gh_gen_day_between(&g->rng, adult > day0 ? adult : day0,
                                         c->ref_day - 20);
        if (reg < day0) reg = day0;
        char no[48], ymd[11], hours[16], sex[8];
        gh_gen_format_date(reg, ymd);
        uint32_t slot = (uint32_t)dist * VOL_DAYS + (uint32_t)(reg - day0);
        uint16_t seq = slot < 5 * VOL_DAYS ? ++g->cw_vol_day[slot] : 1;
        snprintf(no, sizeof(no), "HN%s%.4s%.2s%.2s%03u", c->dists[dist].code,
                 ymd, ymd + 5, ymd + 8, (unsigned)seq);
        uint32_t id = ++g->cw_vol;
        /* Sex as typed: M/F, now and then lower case or full width. */
        uint32_t k = gh_gen_rng_below(&g->rng, 100);
        int fw = gh_gen_err_draw(&g->errs, &g->rng, D, GH_GEN_ERR_FULLWIDTH);
        if (fw)
            snprintf(sex, sizeof(sex), "%s", ty.sex == 1 ? "Ｍ" : "Ｆ");
        else
            snprintf(sex, sizeof(sex), "%s",
                     k < 5 ? (ty.sex == 1 ? "m" : "f")
                           : (ty.sex == 1 ? "M" : "F"));
        double h = (double)gh_gen_rng_below(&g->rng, 4000) / 10.0;
        snprintf(hours, sizeof(hours), "%.1f", h);
        const char *politics = (p->flags & GH_GEN_P_PARTY) ? "党员"
                               : age <= 28 && gh_gen_rng_chance(&g->rng, 0.5)
                                   ? "共青团员"
                                   : "群众";
        int dereg = (p->flags & GH_GEN_P_DEREG) != 0;
        gh_gen_copy_int(t, id);
        gh_gen_copy_str(t, no);
        gh_gen_copy_str(t, ty.name);
        gh_gen_copy_str(t, sex);
        gh_gen_copy_str(t, "01");
        gh_gen_copy_opt(t, ty.id);
        gh_gen_copy_date_text(t, ty.birth,
                              gh_gen_rng_chance(&g->rng, 0.1) ? '-' : '/');
        gh_gen_copy_opt(t, ty.phone);
        gh_gen_copy_str(t, cm->name);
        gh_gen_copy_str(t, area);
        gh_gen_copy_str(t, politics);
        gh_gen_copy_str(t, hours);
        gh_gen_copy_date_text(t, reg, '/');
        gh_gen_copy_str(t, dereg ? "0" : "1");
        gh_gen_copy_ts(t, gh_gen_ts(&g->rng, gh_gen_day_between(&g->rng, reg,
                                                                c->ref_day)));
        gh_gen_copy_end_row(t);
        if (!dereg) {
            char key[16], id18[19];
            snprintf(key, sizeof(key), "%u", id);
            p->dept_no[D] = id;
            p->dept_mask |= 1u << D;
            /* No address; the sex as the mapping folds it (Ｆ, f: F). */
            gh_gen_record_t rec;
            gh_gen_record_of(&ty, p, &rec);
            gh_gen_person_id(p, id18);
            gh_gen_truth_add(g->truth, GH_GEN_TM_CW_VOL, key, id18, &rec);
        }
    }
}

typedef struct task_tpl {
    const char *desc, *where;
} task_tpl_t;

static const task_tpl_t TASKS[6][3] = {
    {{"{c}东门垃圾桶满溢，周边有散落垃圾。", "{s}{d}号{c}东门"},
     {"{s}沿街商户门前乱倒污水。", "{s}{d}号附近"},
     {"{c}绿化带内白色垃圾较多。", "{c}中心绿地"}},
    {{"{o}农贸市场外占道经营，流动摊贩堵塞人行道。", "{o}农贸市场北门"},
     {"{s}沿街门店跨门经营。", "{s}{d}号附近沿街门店"},
     {"{s}机动车乱停乱放，占用消防通道。", "{s}{d}号路段"}},
    {{"{s}{d}号路段人行道板破损3处，存在绊倒隐患。", "{s}{d}号门前人行道"},
     {"{c}健身器材损坏，存在安全隐患。", "{c}健身广场"},
     {"{s}公交站台顶棚破损。", "{s}公交站台"}},
    {{"{c}后街公益广告牌褪色破损，需更换。", "{c}后街"},
     {"{s}文明城市宣传栏内容过期。", "{s}{d}号宣传栏"},
     {"{c}围挡公益广告缺失。", "{c}南门"}},
    {{"{c}{b}栋门面前电动车乱停放，复查仍未整改。", "{c}{b}栋门面"},
     {"{s}行人闯红灯现象较多。", "{s}路口"},
     {"{c}居民高空抛物，多次劝导未改。", "{c}{b}栋"}},
    {{"{c}小广告乱张贴。", "{c}{b}栋楼道"},
     {"{s}沿街门店招牌破损。", "{s}{d}号"},
     {"{o}宣传标语破损。", "{o}居委会门前"}},
};

void gh_gen_cw_task_text(const gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t gi,
                         int type, char *desc, size_t dn, char *where,
                         size_t wn, char *unit, size_t un) {
    const gh_gen_grid_t *gr = &c->grids[gi];
    const gh_gen_comm_t *cm = &c->comms[gr->comm];
    const gh_gen_sub_t *sb = &c->subs[cm->sub];
    const char *dist = c->dists[sb->district].name;
    char comp[64];
    gh_gen_compound_name(c, gi, comp, sizeof(comp));
    if (!comp[0]) snprintf(comp, sizeof(comp), "%s", cm->name);
    const task_tpl_t *tp = &TASKS[type % 6][gh_gen_rng_below(r, 3)];
    gh_gen_addr_t a;
    gh_gen_addr_random(c, r, gi, &a);
    gh_gen_tpl_args_t args = {comp,   cm->street, NULL,   cm->stem,
                              a.bldg, a.unit,     a.room, cm->door};
    gh_gen_template(tp->desc, &args, desc, dn);
    gh_gen_template(tp->where, &args, where, wn);
    switch (type) {
    case 0:
        snprintf(unit, un, "%s环卫所", sb->name);
        break;
    case 1:
        snprintf(unit, un, "%s城市管理和综合执法局", dist);
        break;
    case 2:
        snprintf(unit, un, "%s住房和城乡建设局", dist);
        break;
    default:
        snprintf(unit, un, "%s%s", cm->name, cm->village ? "村委会" : "居委会");
    }
}

static void tasks(gh_gen_t *g, uint32_t gi) {
    gh_gen_city_t *c = g->city;
    const gh_gen_grid_t *gr = &c->grids[gi];
    const gh_gen_comm_t *cm = &c->comms[gr->comm];
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_CW_TASK];
    char area[32];
    gh_gen_code_cw(c, cm->sub, gr->area, area, sizeof(area));
    uint32_t n =
        (uint32_t)(gr->population / 25.0 * (0.5 + gh_gen_rng_unit(&g->rng)) +
                   0.5);
    static const uint16_t type_w[6] = {30, 25, 15, 10, 15, 5};
    static const char *const type_code[6] = {"01", "02", "03",
                                             "04", "05", "99"};
    for (uint32_t i = 0; i < n; i++) {
        int type = (int)gh_gen_rng_pick(&g->rng, type_w, 6);
        char desc[512], where[256], key[32], ymd[11], unit[128], inspector[64];
        gh_gen_cw_task_text(c, &g->rng, gi, type, desc, sizeof(desc), where,
                            sizeof(where), unit, sizeof(unit));
        int ago = (int)gh_gen_rng_below(&g->rng, GH_GEN_HISTORY_DAYS);
        int32_t day = c->ref_day - ago;
        gh_gen_format_date(day, ymd);
        snprintf(key, sizeof(key), "CWRW%.4s%.2s%.2s%04u", ymd, ymd + 5,
                 ymd + 8, (unsigned)++g->cw_task_day[ago]);
        gh_gen_random_name(&g->rng, inspector, sizeof(inspector));
        uint32_t k = gh_gen_rng_below(&g->rng, 100);
        char status = ago > 30 ? (k < 80   ? '3'
                                  : k < 90 ? '2'
                                  : k < 95 ? '4'
                                           : '1')
                               : (k < 25   ? '0'
                                  : k < 50 ? '1'
                                  : k < 70 ? '2'
                                  : k < 90 ? '3'
                                           : '4');
        int64_t found = gh_gen_ts(&g->rng, day);
        int64_t fixed = found + 3600 + gh_gen_rng_below(&g->rng, 7 * 86400);
        int has_fix = status == '2' || status == '3';
        char st[2] = {status, 0}, photos[256];
        int np = 1 + (int)gh_gen_rng_below(&g->rng, 3);
        size_t o = 0;
        photos[0] = '\0';
        for (int j = 0; j < np && o < sizeof(photos); j++)
            o += (size_t)snprintf(
                photos + o, sizeof(photos) - o,
                "%shttps://cw.ldwm.gov.cn/photo/%.4s/%.2s/%.2s/%08x.jpg",
                j ? "," : "", ymd, ymd + 5, ymd + 8,
                (unsigned)gh_gen_rng_below(&g->rng, 0xFFFFFFFFu));
        gh_gen_copy_int(t, ++g->cw_task);
        gh_gen_copy_str(t, key);
        gh_gen_copy_str(t, area);
        gh_gen_copy_str(t, type_code[type]);
        gh_gen_copy_str(t, desc);
        gh_gen_copy_str(t, where);
        gh_gen_copy_ts(t, found);
        gh_gen_copy_date_text(t, day + (int32_t)gh_gen_rng_below(&g->rng, 8),
                              '/');
        if (has_fix)
            gh_gen_copy_ts(t, fixed);
        else
            gh_gen_copy_null(t);
        gh_gen_copy_str(t, st);
        gh_gen_copy_str(t, inspector);
        gh_gen_copy_str(t, unit);
        gh_gen_copy_str(t, photos);
        gh_gen_copy_ts(t, has_fix ? fixed + 3600
                                  : found + gh_gen_rng_below(&g->rng, 86400));
        gh_gen_copy_end_row(t);
    }
}

void gh_gen_chuangwen_grid(gh_gen_t *g, uint32_t gi) {
    gh_gen_dept_rng(g, D, gi);
    volunteers(g, gi);
    tasks(g, gi);
}

static void area_row(gh_gen_t *g, gh_gen_rng_t *r, const char *code,
                     const char *name, const char *level, const char *parent,
                     uint32_t leader) {
    gh_gen_copy_t *t = &g->copy[GH_GEN_T_CW_AREA];
    char ln[64] = "", phone[24] = "";
    if (leader != GH_GEN_NONE) {
        const gh_gen_person_t *p = &g->city->persons[leader];
        gh_gen_name_format(&p->name, ln, sizeof(ln));
        if (p->phone)
            snprintf(phone, sizeof(phone), "%011llu",
                     (unsigned long long)p->phone);
    } else {
        gh_gen_random_name(r, ln, sizeof(ln));
        gh_gen_landline(r, phone, sizeof(phone));
    }
    gh_gen_copy_str(t, code);
    gh_gen_copy_str(t, name);
    gh_gen_copy_str(t, level);
    gh_gen_copy_str(t, parent);
    gh_gen_copy_opt(t, ln);
    gh_gen_copy_opt(t, phone);
    gh_gen_copy_ts(t, gh_gen_ts(r, gh_gen_days(2019, 5, 6) +
                                       (int32_t)gh_gen_rng_below(r, 1200)));
    gh_gen_copy_end_row(t);
}

void gh_gen_chuangwen_finish(gh_gen_t *g) {
    gh_gen_city_t *c = g->city;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, g->seed, GH_GEN_STREAM_DEPT + D, 1u << 30);
    for (int s = 0; s < c->n_subs; s++) {
        const gh_gen_sub_t *sb = &c->subs[s];
        char scode[32];
        gh_gen_code_cw(c, s, 0, scode, sizeof(scode));
        area_row(g, &r, scode, sb->name, "1", NULL, GH_GEN_NONE);
        for (int k = sb->first_comm; k < sb->first_comm + sb->n_comms; k++) {
            const gh_gen_comm_t *cm = &c->comms[k];
            for (int gi = cm->first_grid; gi < cm->first_grid + cm->n_grids;
                 gi++) {
                const gh_gen_grid_t *gr = &c->grids[gi];
                /* A shared area is written once, by its first grid. */
                if (gi > cm->first_grid && c->grids[gi - 1].area == gr->area)
                    continue;
                int shared = gi + 1 < cm->first_grid + cm->n_grids &&
                             c->grids[gi + 1].area == gr->area;
                char code[32], name[128], comp[64];
                gh_gen_code_cw(c, s, gr->area, code, sizeof(code));
                gh_gen_compound_name(c, (uint32_t)gi, comp, sizeof(comp));
                if (cm->village)
                    snprintf(name, sizeof(name), "%s片区", cm->name);
                else if (shared)
                    snprintf(name, sizeof(name), "%s片区", cm->street);
                else if (gr->index == 1)
                    snprintf(name, sizeof(name), "%s%s段片区", cm->street,
                             cm->stem);
                else if (gr->index == 2)
                    snprintf(name, sizeof(name), "%s农贸市场片区", cm->stem);
                else if (gr->index == 3)
                    snprintf(name, sizeof(name), "%s后街片区", comp);
                else
                    snprintf(name, sizeof(name), "%s%u栋片区", comp,
                             gr->bldg_first);
                area_row(g, &r, code, name, "2", scode, gr->fulltime);
            }
        }
    }
}
