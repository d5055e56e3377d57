/* 计生 family planning: family files only for households with children or
 * women of child-bearing age (15-49), local, floating in (流入) or away
 * (流出); their members (the dead cancelled), birth registrations of the
 * children, the WCBA cards and the contraception history. Dates are
 * varchar(8) YYYYMMDD, sex and relations are Chinese text, ethnicity typed
 * as 汉 or 汉族. Keys per connectors/jisheng/schema.sql. */
#include <stdio.h>
#include <string.h>

#include "gen_int.h"
#include "places.h"

#define D GH_GEN_JISHENG

static const char *relation_text(gh_gen_rng_t *r, const gh_gen_person_t *p) {
    uint32_t k = gh_gen_rng_below(r, 10);
    switch (p->rel) {
    case GH_GEN_REL_HEAD:
        return "户主";
    case GH_GEN_REL_HUSBAND:
        return k < 5 ? "夫" : k < 8 ? "丈夫" : "配偶";
    case GH_GEN_REL_WIFE:
        return k < 6 ? "妻" : k < 8 ? "妻子" : "配偶";
    case GH_GEN_REL_SON:
        if (p->order == 1 && k < 3) return "长子";
        if (p->order == 2 && k < 3) return "次子";
        return k < 6 ? "子" : "儿子";
    case GH_GEN_REL_DAUGHTER:
        if (p->order == 1 && k < 3) return "长女";
        if (p->order == 2 && k < 3) return "次女";
        return k < 6 ? "女" : "女儿";
    case GH_GEN_REL_FATHER:
        return k < 7 ? "父亲" : "父";
    case GH_GEN_REL_MOTHER:
        return k < 7 ? "母亲" : "母";
    case GH_GEN_REL_GRANDSON:
        return "孙子";
    case GH_GEN_REL_GRANDDAUGHTER:
        return "孙女";
    case GH_GEN_REL_DIL:
        return "儿媳";
    default:
        return "其他";
    }
}

static int is_child_rel(int rel) {
    return rel == GH_GEN_REL_SON || rel == GH_GEN_REL_DAUGHTER ||
           rel == GH_GEN_REL_GRANDSON || rel == GH_GEN_REL_GRANDDAUGHTER;
}

static void date_text(gh_gen_copy_t *t, int32_t day) {
    gh_gen_copy_date_text(t, day, 0);
}

static void operator_of(const gh_gen_city_t *c, uint32_t gi, char *out,
                        size_t n) {
    const gh_gen_comm_t *cm = &c->comms[c->grids[gi].comm];
    const char *abbr = strrchr(cm->zz, '-');
    abbr = abbr ? abbr + 1 : cm->zz;
    size_t k = 0;
    k += (size_t)snprintf(out, n, "jsy_");
    for (const char *s = abbr; *s && k + 3 < n; s++)
        out[k++] = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    snprintf(out + k, n - k, "%02u", 1 + (unsigned)(gi % 2));
}

/* Mother and father of a child of the household (indexes or NONE). */
static void parents_of(const gh_gen_city_t *c, const gh_gen_household_t *hh,
                       const gh_gen_person_t *kid, uint32_t *mother,
                       uint32_t *father) {
    *mother = *father = GH_GEN_NONE;
    int grand =
        kid->rel == GH_GEN_REL_GRANDSON || kid->rel == GH_GEN_REL_GRANDDAUGHTER;
    for (uint32_t i = hh->first; i < hh->first + hh->n; i++) {
        const gh_gen_person_t *p = &c->persons[i];
        if (p->flags & GH_GEN_P_DEAD) continue;
        if (grand) {
            if (p->rel == GH_GEN_REL_DIL) *mother = i;
            if (p->rel == GH_GEN_REL_SON && p->sex == 1) *father = i;
        } else {
            if (p->rel == GH_GEN_REL_WIFE) *mother = i;
            if (p->rel == GH_GEN_REL_HEAD && p->sex == 2) *mother = i;
            if (p->rel == GH_GEN_REL_HEAD && p->sex == 1) *father = i;
        }
    }
}

static const char *const HOSPITALS[] = {"娄底市中心医院", "娄底市妇幼保健院",
                                        "娄星区人民医院", "娄底市第一人民医院",
                                        "娄底市第二人民医院"};
static const char *const SERVICE[] = {
    "乐坪街道计生服务站", "娄星区妇幼保健计划生育服务中心", "娄底市妇幼保健院"};

static void family(gh_gen_t *g, uint32_t gi, uint32_t h) {
    gh_gen_city_t *c = g->city;
    gh_gen_household_t *hh = &c->hhs[h];
    gh_gen_comm_t *cm = &c->comms[c->grids[gi].comm];
    char stat[16], jtbh[24], czy[24], addr[256];
    gh_gen_code_stat(c, cm->sub, c->grids[gi].comm, stat, sizeof(stat));
    hh->js_fam = ++cm->next_family;
    gh_gen_key_jtbh(g, h, jtbh, sizeof(jtbh));
    operator_of(c, gi, czy, sizeof(czy));
    const char *ldbz = hh->kind == GH_GEN_HH_FLOAT  ? "1"
                       : hh->kind == GH_GEN_HH_AWAY ? "2"
                                                    : "0";
    const gh_gen_person_t *head = &c->persons[hh->first];
    int living = 0;
    int32_t oldest_kid = c->ref_day;
    for (uint32_t i = hh->first; i < hh->first + hh->n; i++) {
        const gh_gen_person_t *p = &c->persons[i];
        if (gh_gen_person_current(p)) living++;
        if (is_child_rel(p->rel) && p->birth < oldest_kid)
            oldest_kid = p->birth;
    }
    int32_t opened = head->birth + 23 * 365;
    if (oldest_kid < opened) opened = oldest_kid;
    if (opened < gh_gen_days(1990, 1, 1))
        opened =
            gh_gen_days(1990, 1, 1) + (int32_t)gh_gen_rng_below(&g->rng, 3000);
    if (opened > c->ref_day) opened = c->ref_day - 30;
    gh_gen_addr_t a;
    gh_gen_addr_of(c, h, &a);
    if (gh_gen_err_draw(&g->errs, &g->rng, D, GH_GEN_ERR_OUTDATED_ADDRESS))
        gh_gen_addr_old(c, &g->rng, gi, &a);
    gh_gen_addr_format(c, &a, GH_GEN_ADDR_JS, addr, sizeof(addr));
    {
        gh_gen_copy_t *t = &g->copy[GH_GEN_T_JS_JTDA];
        char name[96], id[96];
        gh_gen_type_name(&g->errs, &g->rng, D, head, name, sizeof(name));
        gh_gen_type_id(&g->errs, &g->rng, D, head, id, sizeof(id));
        gh_gen_copy_str(t, jtbh);
        gh_gen_copy_str(t, name);
        gh_gen_copy_opt(t, id);
        gh_gen_copy_str(t, addr);
        gh_gen_copy_str(t, stat);
        gh_gen_copy_int(t, living);
        gh_gen_copy_str(t, ldbz);
        date_text(t, opened);
        gh_gen_copy_str(t, "0");
        gh_gen_copy_str(t, czy);
        gh_gen_copy_ts(t, gh_gen_ts(&g->rng, gh_gen_day_between(&g->rng, opened,
                                                                c->ref_day)));
        gh_gen_copy_end_row(t);
    }
    /* Members. */
    uint32_t k = 0;
    for (uint32_t i = hh->first; i < hh->first + hh->n; i++) {
        gh_gen_person_t *p = &c->persons[i];
        if (p->flags & GH_GEN_P_LEFT) continue;
        int dead = (p->flags & GH_GEN_P_DEAD) != 0;
        gh_gen_copy_t *t = &g->copy[GH_GEN_T_JS_JTCY];
        gh_gen_typed_t ty;
        gh_gen_type_person(&g->errs, &g->rng, D, p, &ty);
        int age = gh_gen_age(p->birth, c->ref_day);
        p->dept_no[D] = ++k;
        char cybh[32], id18[19];
        gh_gen_key_cybh(g, i, cybh, sizeof(cybh));
        gh_gen_copy_str(t, cybh);
        gh_gen_copy_str(t, jtbh);
        gh_gen_copy_str(t, ty.name);
        gh_gen_copy_str(t, ty.sex == 1 ? "男" : "女");
        int no_birth = gh_gen_rng_chance(&g->rng, 0.01);
        if (no_birth)
            gh_gen_copy_str(t, "00000000");
        else
            date_text(t, ty.birth);
        /* Children's ID numbers often were never filled in. */
        int no_id = age < 16 && gh_gen_rng_chance(&g->rng, 0.08);
        if (no_id)
            gh_gen_copy_null(t);
        else
            gh_gen_copy_opt(t, ty.id);
        const gh_gen_eth_t *eth = gh_gen_eth(p->eth);
        gh_gen_copy_str(t, gh_gen_rng_chance(&g->rng, 0.5) ? eth->short_name
                                                           : eth->name);
        gh_gen_copy_str(t, relation_text(&g->rng, p));
        char hy[8];
        snprintf(hy, sizeof(hy), "%02u", p->marital);
        gh_gen_copy_str(t, hy);
        gh_gen_copy_opt(t, ty.phone);
        gh_gen_copy_str(t, stat);
        gh_gen_copy_str(t, dead ? "1" : "0");
        gh_gen_copy_str(t, czy);
        gh_gen_copy_ts(
            t, gh_gen_ts(&g->rng, dead ? p->eday + 20
                                       : gh_gen_day_between(&g->rng, opened,
                                                            c->ref_day)));
        gh_gen_copy_end_row(t);
        if (!dead) {
            p->dept_mask |= 1u << D;
            /* No address in a member row (the family's is not mapped to
             * the person). */
            gh_gen_record_t rec;
            gh_gen_record_of(&ty, p, &rec);
            rec.household_key = jtbh;
            if (no_birth) {
                rec.birth = GH_GEN_NO_DATE;
                rec.errors &= ~ty.err_birth;
            }
            if (no_id) {
                rec.id_number = NULL;
                rec.errors = ty.err_name | ty.err_phone | ty.err_sex |
                             (no_birth ? 0 : ty.err_birth);
            }
            gh_gen_person_id(p, id18);
            gh_gen_truth_add(g->truth, GH_GEN_TM_JS_JTCY, cybh, id18, &rec);
        }
    }
    /* Births since 2005 and the WCBA cards with their measures. */
    for (uint32_t i = hh->first; i < hh->first + hh->n; i++) {
        gh_gen_person_t *p = &c->persons[i];
        if (!gh_gen_person_current(p)) continue;
        int age = gh_gen_age(p->birth, c->ref_day);
        char cybh[32];
        gh_gen_key_cybh(g, i, cybh, sizeof(cybh));
        if (is_child_rel(p->rel) && age <= 18 &&
            gh_gen_rng_chance(&g->rng, 0.9)) {
            gh_gen_copy_t *t = &g->copy[GH_GEN_T_JS_CSDJ];
            uint32_t mother, father;
            parents_of(c, hh, p, &mother, &father);
            int by, bm, bd;
            gh_gen_civil(p->birth, &by, &bm, &bd);
            int dist = c->subs[cm->sub].district;
            char key[32], name[96], mn[96] = "", mi[96] = "", fn[96] = "",
                                    fi[96] = "";
            snprintf(key, sizeof(key), "CS%04d%s%06u", by, c->dists[dist].code,
                     ++g->js_cs[dist] % 1000000u);
            gh_gen_type_name(&g->errs, &g->rng, D, p, name, sizeof(name));
            if (mother != GH_GEN_NONE) {
                gh_gen_type_name(&g->errs, &g->rng, D, &c->persons[mother], mn,
                                 sizeof(mn));
                gh_gen_type_id(&g->errs, &g->rng, D, &c->persons[mother], mi,
                               sizeof(mi));
            }
            if (father != GH_GEN_NONE) {
                gh_gen_type_name(&g->errs, &g->rng, D, &c->persons[father], fn,
                                 sizeof(fn));
                gh_gen_type_id(&g->errs, &g->rng, D, &c->persons[father], fi,
                               sizeof(fi));
            }
            /* Birth order among the mother's children in the household. */
            int order = 1;
            for (uint32_t j = hh->first; j < hh->first + hh->n; j++)
                if (j != i && is_child_rel(c->persons[j].rel) &&
                    is_child_rel(p->rel) &&
                    (c->persons[j].rel == GH_GEN_REL_GRANDSON ||
                     c->persons[j].rel == GH_GEN_REL_GRANDDAUGHTER) ==
                        (p->rel == GH_GEN_REL_GRANDSON ||
                         p->rel == GH_GEN_REL_GRANDDAUGHTER) &&
                    c->persons[j].birth < p->birth)
                    order++;
            char cert[16];
            snprintf(cert, sizeof(cert), "%c%09u",
                     'A' + (int)gh_gen_rng_below(&g->rng, 26),
                     gh_gen_rng_below(&g->rng, 1000000000));
            int32_t reg = p->birth + 5 + (int32_t)gh_gen_rng_below(&g->rng, 40);
            if (reg > c->ref_day) reg = c->ref_day;
            gh_gen_copy_str(t, key);
            gh_gen_copy_str(t, jtbh);
            gh_gen_copy_str(t, gh_gen_rng_chance(&g->rng, 0.95) ? cybh : NULL);
            gh_gen_copy_str(t, gh_gen_rng_chance(&g->rng, 0.97) ? name : NULL);
            gh_gen_copy_str(t, p->sex == 1 ? "男" : "女");
            date_text(t, p->birth);
            gh_gen_copy_str(t, HOSPITALS[gh_gen_rng_below(&g->rng, 5)]);
            gh_gen_copy_int(t, order);
            gh_gen_copy_str(t, cert);
            gh_gen_copy_opt(t, mn);
            gh_gen_copy_opt(t, mi);
            gh_gen_copy_opt(t, fn);
            gh_gen_copy_opt(t, fi);
            date_text(t, reg);
            operator_of(c, gi, czy, sizeof(czy));
            gh_gen_copy_str(t, czy);
            gh_gen_copy_ts(t, gh_gen_ts(&g->rng, reg));
            gh_gen_copy_end_row(t);
        }
        if (p->sex != 2 || age < 15 || age > 55) continue;
        int wcba = age <= 49;
        /* Women past 49 are cancelled (超龄), kept for a few years. */
        if (!wcba && !gh_gen_rng_chance(&g->rng, 0.5)) continue;
        int kids = 0;
        int32_t last_kid = 0;
        for (uint32_t j = hh->first; j < hh->first + hh->n; j++) {
            const gh_gen_person_t *q = &c->persons[j];
            uint32_t mo, fa;
            if (!is_child_rel(q->rel) || !gh_gen_person_current(q)) continue;
            parents_of(c, hh, q, &mo, &fa);
            if (mo == i) {
                kids++;
                if (q->birth > last_kid) last_kid = q->birth;
            }
        }
        static const char *const measures[] = {"01", "02", "04",
                                               "05", "06", "03"};
        static const uint16_t mw[] = {45, 20, 5, 5, 15, 3};
        const char *measure = NULL;
        if (p->marital >= 20 && gh_gen_rng_chance(&g->rng, 0.9))
            measure = measures[gh_gen_rng_pick(&g->rng, mw, 6)];
        gh_gen_copy_t *t = &g->copy[GH_GEN_T_JS_YFN];
        char yfnbh[40], name[96], id[96], hy[8];
        snprintf(yfnbh, sizeof(yfnbh), "YF%s", cybh);
        gh_gen_type_name(&g->errs, &g->rng, D, p, name, sizeof(name));
        gh_gen_type_id(&g->errs, &g->rng, D, p, id, sizeof(id));
        snprintf(hy, sizeof(hy), "%02u", p->marital);
        int32_t reg = p->birth + 15 * 365 + 30;
        if (reg < gh_gen_days(1995, 1, 1))
            reg = gh_gen_days(1995, 1, 1) +
                  (int32_t)gh_gen_rng_below(&g->rng, 1500);
        if (reg > c->ref_day) reg = c->ref_day - 1;
        gh_gen_copy_str(t, yfnbh);
        gh_gen_copy_str(t, cybh);
        gh_gen_copy_str(t, jtbh);
        gh_gen_copy_str(t, name);
        gh_gen_copy_opt(t, id);
        date_text(t, p->birth);
        gh_gen_copy_str(t, hy);
        gh_gen_copy_int(t, kids);
        gh_gen_copy_str(t, measure);
        gh_gen_copy_str(t, ldbz);
        date_text(t, reg);
        gh_gen_copy_str(t, wcba ? "0" : "1");
        gh_gen_copy_str(t, czy);
        gh_gen_copy_ts(t, gh_gen_ts(&g->rng, gh_gen_day_between(&g->rng, reg,
                                                                c->ref_day)));
        gh_gen_copy_end_row(t);
        if (!measure || !wcba) continue;
        /* The current measure, and for mothers of two an IUD placed after
         * the first child and removed before the second. */
        int32_t since = last_kid ? last_kid + 60 : p->birth + 23 * 365;
        if (since > c->ref_day - 1) since = c->ref_day - 1;
        struct {
            const char *code;
            int32_t day;
        } recs[3];
        int nrec = 0;
        if (kids >= 2 && gh_gen_rng_chance(&g->rng, 0.5) &&
            since - 900 > p->birth + 20 * 365) {
            recs[nrec].code = "01";
            recs[nrec++].day = since - 900;
            recs[nrec].code = "08";
            recs[nrec++].day = since - 400;
        }
        recs[nrec].code = measure;
        recs[nrec++].day = gh_gen_day_between(
            &g->rng, since, since + 200 < c->ref_day ? since + 200 : since);
        uint32_t husband = GH_GEN_NONE;
        for (uint32_t j = hh->first; j < hh->first + hh->n; j++)
            if (j != i && c->persons[j].sex == 1 &&
                gh_gen_person_current(&c->persons[j]) &&
                (c->persons[j].rel == GH_GEN_REL_HEAD ||
                 c->persons[j].rel == GH_GEN_REL_HUSBAND ||
                 (p->rel == GH_GEN_REL_DIL &&
                  c->persons[j].rel == GH_GEN_REL_SON)))
                husband = j;
        for (int r = 0; r < nrec; r++) {
            gh_gen_copy_t *tj = &g->copy[GH_GEN_T_JS_JYCS];
            /* A vasectomy is the husband's record. */
            int his = !strcmp(recs[r].code, "03") && husband != GH_GEN_NONE;
            uint32_t who = his ? husband : i;
            char key[32], ymd[11], wn[96], wi[96], wcybh[32];
            gh_gen_format_date(recs[r].day, ymd);
            snprintf(key, sizeof(key), "JY%.4s%.2s%.2s%07u", ymd, ymd + 5,
                     ymd + 8, ++g->js_jy % 10000000u);
            gh_gen_type_name(&g->errs, &g->rng, D, &c->persons[who], wn,
                             sizeof(wn));
            gh_gen_type_id(&g->errs, &g->rng, D, &c->persons[who], wi,
                           sizeof(wi));
            gh_gen_key_cybh(g, who, wcybh, sizeof(wcybh));
            gh_gen_copy_str(tj, key);
            gh_gen_copy_str(tj, his ? NULL : yfnbh);
            gh_gen_copy_str(tj, wcybh);
            gh_gen_copy_str(tj, jtbh);
            gh_gen_copy_str(tj, wn);
            gh_gen_copy_opt(tj, wi);
            gh_gen_copy_str(tj, recs[r].code);
            date_text(tj, recs[r].day);
            gh_gen_copy_str(tj, SERVICE[gh_gen_rng_below(&g->rng, 3)]);
            gh_gen_copy_str(tj, czy);
            gh_gen_copy_ts(tj, gh_gen_ts(&g->rng, recs[r].day));
            gh_gen_copy_end_row(tj);
        }
    }
}

void gh_gen_jisheng_grid(gh_gen_t *g, uint32_t gi) {
    gh_gen_city_t *c = g->city;
    const gh_gen_grid_t *gr = &c->grids[gi];
    gh_gen_dept_rng(g, D, gi);
    for (uint32_t h = gr->first_hh; h < gr->first_hh + gr->n_hh; h++) {
        const gh_gen_household_t *hh = &c->hhs[h];
        if (hh->kind == GH_GEN_HH_LEFT) continue;
        int eligible = 0;
        for (uint32_t i = hh->first; i < hh->first + hh->n; i++) {
            const gh_gen_person_t *p = &c->persons[i];
            if (!gh_gen_person_current(p)) continue;
            int age = gh_gen_age(p->birth, c->ref_day);
            if (age < 18 || (p->sex == 2 && age >= 15 && age <= 49))
                eligible = 1;
        }
        double cover = hh->kind == GH_GEN_HH_LOCAL  ? 0.95
                       : hh->kind == GH_GEN_HH_AWAY ? 0.8
                                                    : 0.7;
        if (gh_gen_rng_chance(&g->rng, cover) && eligible) family(g, gi, h);
    }
}
