/* Live mode: after the load, the city goes on living. Each change is a
 * real-world event written the way each department would record it:
 *
 *   birth      公安 registers the child in the household (户籍), 计生 adds a
 *              member and a birth registration and counts the mother's
 *              children, 综治 adds the resident (not always right away);
 *   move-in    a floating household arrives: 公安 暂住登记, 综治 resident;
 *   move       a resident moves to another grid: every department that has
 *              them updates address and grid (公安 only the actual address:
 *              the hukou stays);
 *   death      公安 and 计生 cancel (zxbz='1'), 组织部 marks 死亡, 创文
 *              deregisters, 综治 deletes the row;
 *   event      a new grid event in 综治, or one moving on (受理, 分派, 办结);
 *   task       a new civility task in 创文, or one moving on (整改, 复核).
 *
 * What happens is drawn from the seed's live stream and stamped with a
 * simulated clock that starts the day after the load's REF date and moves
 * a few minutes per change: a run bounded by live.max.changes writes the
 * same rows every time. The wall clock only paces the changes
 * (live.rate). The ground truth is rewritten at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_int.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "places.h"

#define LOG "gen"

enum { K_BIRTH, K_MOVE_IN, K_MOVE, K_DEATH, K_EVENT, K_TASK, K__COUNT };
static const char *const KIND_NAMES[K__COUNT] = {"births", "move-ins", "moves",
                                                 "deaths", "events",   "tasks"};
static const uint16_t KIND_W[K__COUNT] = {12, 8, 25, 10, 28, 17};

#define RING 256
#define MAX_PARAMS 24

typedef struct live_event {
    char key[24];
    uint32_t grid;
    int status;
    int type;
} live_event_t;

typedef struct live_task {
    uint32_t id;
    int status;
} live_task_t;

typedef struct live {
    gh_gen_t *g;
    gh_gen_city_t *c;
    PGconn *db[GH_GEN_NDEPT];
    int in_txn[GH_GEN_NDEPT];
    gh_gen_rng_t r;
    int64_t sim; /* simulated time, seconds since the epoch */
    char **added, **removed;
    size_t n_added, n_removed;
    /* this change's truth edits, applied once it committed */
    struct {
        int mapping, add;
        uint32_t person;
        char key[48];
    } pending[32];
    int n_pending;
    live_event_t ev[RING];
    size_t n_ev;
    live_task_t task[RING];
    size_t n_task;
    uint16_t ev_day[4096], task_day[4096];
    long long count[K__COUNT];
    /* a statement being built */
    const char *p[MAX_PARAMS];
    char pbuf[MAX_PARAMS][640];
    int np;
} live_t;

/* ---- statements -------------------------------------------------------------
 */

static void reset(live_t *l) {
    l->np = 0;
}

static void param(live_t *l, const char *v) {
    if (l->np >= MAX_PARAMS) return;
    if (!v || !*v) {
        l->p[l->np++] = NULL;
        return;
    }
    size_t n = strlen(v);
    if (n >= sizeof(l->pbuf[0])) n = sizeof(l->pbuf[0]) - 1;
    memmove(l->pbuf[l->np], v, n); /* v may be an earlier parameter */
    l->pbuf[l->np][n] = '\0';
    l->p[l->np] = l->pbuf[l->np];
    l->np++;
}

static void param_ts(live_t *l, int64_t secs) {
    char b[32];
    gh_gen_format_ts(secs, b);
    param(l, b);
}

static void param_date(live_t *l, int32_t day) {
    char b[16];
    gh_gen_format_date(day, b);
    param(l, b);
}

static void param_u(live_t *l, unsigned long long v) {
    char b[24];
    snprintf(b, sizeof(b), "%llu", v);
    param(l, b);
}

/* Runs the statement with the collected parameters in department d's
 * transaction (opened on first use). */
static gh_err_t run(live_t *l, int d, const char *sql, char *errstr,
                    size_t errstr_size) {
    if (!l->db[d]) return GH_OK;
    if (!l->in_txn[d]) {
        gh_err_t e = gh_pg_exec(l->db[d], "BEGIN", errstr, errstr_size);
        if (e) return e;
        l->in_txn[d] = 1;
    }
    PGresult *r = PQexecParams(l->db[d], sql, l->np, NULL, l->p, NULL, NULL, 0);
    gh_err_t e = GH_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        char what[128];
        snprintf(what, sizeof(what), "live %s: %.80s", gh_gen_dept_name(d),
                 sql);
        e = gh_pg_result_error(r, l->db[d], what, errstr, errstr_size);
    }
    PQclear(r);
    reset(l);
    return e;
}

static gh_err_t commit_all(live_t *l, char *errstr, size_t errstr_size) {
    gh_err_t e = GH_OK;
    for (int d = 0; d < GH_GEN_NDEPT; d++)
        if (l->in_txn[d]) {
            gh_err_t de = gh_pg_exec(l->db[d], "COMMIT", errstr, errstr_size);
            if (!e) e = de;
            l->in_txn[d] = 0;
        }
    return e;
}

/* ---- ground truth bookkeeping
 * ----------------------------------------------------- */

static void truth_apply_add(live_t *l, int mapping, const char *key,
                            uint32_t person) {
    char id18[19], line[256];
    gh_gen_person_id(&l->c->persons[person], id18);
    gh_gen_truth_line(mapping, key, id18, line, sizeof(line));
    l->added = gh_xrealloc(l->added, (l->n_added + 1) * sizeof(char *));
    l->added[l->n_added++] = gh_xstrdup(line);
}

static void truth_apply_remove(live_t *l, int mapping, const char *key) {
    char *k = gh_xasprintf("%s\t%s%s", gh_gen_truth_dept(mapping),
                           gh_gen_truth_prefix(mapping), key);
    /* A line added during this run is simply taken back. */
    for (size_t i = 0; i < l->n_added; i++) {
        char probe[256];
        snprintf(probe, sizeof(probe),
                 "{\"department\":\"%s\",\"source_key\":\"%s%s\",",
                 gh_gen_truth_dept(mapping), gh_gen_truth_prefix(mapping), key);
        if (!strncmp(l->added[i], probe, strlen(probe))) {
            free(l->added[i]);
            l->added[i] = l->added[--l->n_added];
            free(k);
            return;
        }
    }
    l->removed = gh_xrealloc(l->removed, (l->n_removed + 1) * sizeof(char *));
    l->removed[l->n_removed++] = k;
}

static void pend(live_t *l, int mapping, int add, const char *key,
                 uint32_t person) {
    if (!l->g->opts->truth_file || l->n_pending >= 32) return;
    l->pending[l->n_pending].mapping = mapping;
    l->pending[l->n_pending].add = add;
    l->pending[l->n_pending].person = person;
    snprintf(l->pending[l->n_pending].key, sizeof(l->pending[0].key), "%s",
             key);
    l->n_pending++;
}

static void truth_add(live_t *l, int mapping, const char *key,
                      uint32_t person) {
    pend(l, mapping, 1, key, person);
}

static void truth_remove(live_t *l, int mapping, const char *key) {
    pend(l, mapping, 0, key, GH_GEN_NONE);
}

/* The change committed in every department: its truth edits count. */
static void truth_commit(live_t *l) {
    for (int i = 0; i < l->n_pending; i++) {
        if (l->pending[i].add)
            truth_apply_add(l, l->pending[i].mapping, l->pending[i].key,
                            l->pending[i].person);
        else
            truth_apply_remove(l, l->pending[i].mapping, l->pending[i].key);
    }
    l->n_pending = 0;
}

/* ---- helpers
 * ------------------------------------------------------------------------ */

static const char *district_of(const gh_gen_city_t *c, uint32_t grid) {
    return c->dists[c->subs[c->comms[c->grids[grid].comm].sub].district].code;
}

static int district_index(const gh_gen_city_t *c, uint32_t grid) {
    return c->subs[c->comms[c->grids[grid].comm].sub].district;
}

/* 公安's key for a person: R... for the hukou register, LD... for the
 * floating population. */
static void key_ga(live_t *l, uint32_t person, char *out, size_t n) {
    const gh_gen_person_t *p = &l->c->persons[person];
    const gh_gen_household_t *h = &l->c->hhs[p->hh];
    const char *dist = district_of(l->c, h->grid);
    if (h->kind == GH_GEN_HH_LOCAL || h->kind == GH_GEN_HH_AWAY) {
        gh_gen_key_rybh(dist, p->dept_no[GH_GEN_GONGAN], out, n);
    } else {
        int y, m, d;
        if (p->flags & GH_GEN_P_LIVE) {
            y = 1950 + p->joined;
        } else {
            gh_gen_civil(gh_gen_ldrk_day(l->g, person), &y, &m, &d);
        }
        gh_gen_key_ldrybh(dist, y, p->dept_no[GH_GEN_GONGAN], out, n);
    }
}

static int32_t sim_day(const live_t *l) {
    int64_t local = l->sim + 8 * 3600;
    return (int32_t)(local / 86400);
}

static uint32_t random_person(live_t *l, int min_age, int max_age, int sex,
                              int tries) {
    gh_gen_city_t *c = l->c;
    int32_t today = sim_day(l);
    for (int t = 0; t < tries; t++) {
        uint32_t i = gh_gen_rng_below(&l->r, c->n_persons);
        const gh_gen_person_t *p = &c->persons[i];
        int kind = c->hhs[p->hh].kind;
        if (!gh_gen_person_lives_here(c, p)) continue;
        if (kind != GH_GEN_HH_LOCAL && kind != GH_GEN_HH_FLOAT) continue;
        int age = gh_gen_age(p->birth, today);
        if (age < min_age || age > max_age) continue;
        if (sex && p->sex != sex) continue;
        return i;
    }
    return GH_GEN_NONE;
}

/* 综治 adds a resident. */
static gh_err_t zz_insert(live_t *l, uint32_t person, const gh_gen_addr_t *a,
                          char *errstr, size_t errstr_size) {
    gh_gen_t *g = l->g;
    gh_gen_person_t *p = &l->c->persons[person];
    if (!l->db[GH_GEN_ZONGZHI]) return GH_OK;
    gh_gen_typed_t ty;
    gh_gen_type_person(&g->errs, &l->r, GH_GEN_ZONGZHI, p, &ty);
    char key[16], addr[256], grid[32];
    p->dept_no[GH_GEN_ZONGZHI] = ++g->zz_rk;
    p->dept_mask |= 1u << GH_GEN_ZONGZHI;
    gh_gen_key_zz(p->dept_no[GH_GEN_ZONGZHI], key, sizeof(key));
    gh_gen_addr_format(l->c, a, GH_GEN_ADDR_ZZ, addr, sizeof(addr));
    gh_gen_code_zz_grid(l->c, a->grid, grid, sizeof(grid));
    param(l, key);
    param(l, ty.name);
    param(l, ty.id);
    param(l, ty.sex == 1 ? "1" : "2");
    param_date(l, ty.birth);
    param(l, ty.phone);
    param(l, addr);
    param(l, grid);
    param_ts(l, l->sim);
    truth_add(l, GH_GEN_TM_ZZ_SYRK, key, person);
    return run(
        l, GH_GEN_ZONGZHI,
        "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, wgbm, "
        "gxsj) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        errstr, errstr_size);
}

/* ---- births
 * ------------------------------------------------------------------------- */

static gh_err_t birth(live_t *l, char *errstr, size_t errstr_size) {
    gh_gen_t *g = l->g;
    gh_gen_city_t *c = l->c;
    uint32_t mother = GH_GEN_NONE, father = GH_GEN_NONE;
    for (int t = 0; t < 50 && mother == GH_GEN_NONE; t++) {
        uint32_t m = random_person(l, 21, 42, 2, 100);
        if (m == GH_GEN_NONE) break;
        const gh_gen_person_t *mp = &c->persons[m];
        if (mp->marital != 20) continue;
        if (mp->rel != GH_GEN_REL_WIFE && mp->rel != GH_GEN_REL_DIL) continue;
        mother = m;
    }
    if (mother == GH_GEN_NONE) return GH_OK;
    gh_gen_person_t *mp = &c->persons[mother];
    uint32_t hh = mp->hh;
    const gh_gen_household_t *h0 = &c->hhs[hh];
    for (uint32_t i = h0->first; i < h0->first + h0->n; i++) {
        const gh_gen_person_t *q = &c->persons[i];
        if (!gh_gen_person_current(q) || q->sex != 1) continue;
        if (mp->rel == GH_GEN_REL_WIFE && q->rel == GH_GEN_REL_HEAD) father = i;
        if (mp->rel == GH_GEN_REL_DIL && q->rel == GH_GEN_REL_SON) father = i;
    }
    int sex = gh_gen_rng_chance(&l->r, 0.52) ? 1 : 2;
    int32_t born = sim_day(l);
    uint32_t region = h0->kind == GH_GEN_HH_LOCAL
                          ? (uint32_t)atoi(district_of(c, h0->grid))
                          : mp->region;
    int rel = mp->rel == GH_GEN_REL_DIL
                  ? (sex == 1 ? GH_GEN_REL_GRANDSON : GH_GEN_REL_GRANDDAUGHTER)
                  : (sex == 1 ? GH_GEN_REL_SON : GH_GEN_REL_DAUGHTER);
    int surname = father != GH_GEN_NONE &&
                          c->persons[father].name.pool != GH_GEN_POOL_MINORITY
                      ? c->persons[father].name.sur
                      : -1;
    uint32_t kid = gh_gen_city_add_person(c, &l->r, hh, sex, born, region, rel,
                                          mp->eth, surname);
    mp = &c->persons[mother]; /* the array may have moved */
    gh_gen_person_t *kp = &c->persons[kid];
    gh_gen_household_t *h = &c->hhs[hh];
    kp->flags |= GH_GEN_P_LIVE;
    kp->marital = 10;
    kp->grid = mp->grid;
    gh_gen_addr_t home;
    gh_gen_addr_of(c, hh, &home);
    if (mp->grid != h->grid) gh_gen_addr_random(c, &l->r, mp->grid, &home);
    gh_err_t e = GH_OK;
    int dist = district_index(c, h->grid);
    /* 公安: registered in the household the day it is reported. */
    if (l->db[GH_GEN_GONGAN] && h->kind == GH_GEN_HH_LOCAL && h->hu_no) {
        gh_gen_typed_t ty;
        gh_gen_type_person(&g->errs, &l->r, GH_GEN_GONGAN, kp, &ty);
        char key[32], hh_no[16], code[32], addr[256], beat[32], station[16];
        gh_gen_addr_t hukou;
        kp->dept_no[GH_GEN_GONGAN] = ++g->ga_ry[dist];
        kp->dept_mask |= 1u << GH_GEN_GONGAN;
        key_ga(l, kid, key, sizeof(key));
        snprintf(hh_no, sizeof(hh_no), "%010u", 1000000000u + h->hu_no);
        gh_gen_addr_of(c, hh, &hukou);
        gh_gen_addr_code(c, &hukou, 1, code, sizeof(code));
        gh_gen_addr_format(c, &hukou, GH_GEN_ADDR_GA, addr, sizeof(addr));
        gh_gen_code_beat(c, c->grids[h->grid].comm, beat, sizeof(beat));
        gh_gen_code_station(c, c->comms[c->grids[h->grid].comm].sub, station,
                            sizeof(station));
        param(l, key);
        param(l, hh_no);
        param(l, rel == GH_GEN_REL_SON        ? "20"
                 : rel == GH_GEN_REL_DAUGHTER ? "30"
                 : rel == GH_GEN_REL_GRANDSON ? "41"
                                              : "42");
        param(l, ty.name);
        param(l, ty.sex == 1 ? "1" : "2");
        param(l, gh_gen_eth(kp->eth)->code);
        param_date(l, born);
        param(l, ty.id);
        param(l, code);
        param(l, addr);
        param(l, station);
        param(l, beat);
        param_date(l, born);
        param_ts(l, l->sim);
        e = run(
            l, GH_GEN_GONGAN,
            "INSERT INTO ga_hjrk (rybh, hh, yhzgx, xm, xb, mz, csrq, gmsfhm, "
            "hyzk, hjdzbm, hjdz, sjjzdzbm, sjjzdz, pcsdm, zrqdm, lhrq, zxbz, "
            "gxsj) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '10', $9, $10, $9, "
            "$10, $11, $12, $13, '0', $14)",
            errstr, errstr_size);
        if (e) return e;
        truth_add(l, GH_GEN_TM_GA_HJRK, key, kid);
    }
    /* 计生: a new member, a birth registration, the mother's card. */
    if (l->db[GH_GEN_JISHENG] && h->js_fam) {
        char jtbh[24], cybh[32], name[96], id[96], stat[16], mn[96], mi[96],
            fn[96] = "", fi[96] = "", csdj[32], mcybh[32];
        kp->dept_no[GH_GEN_JISHENG] = (uint32_t)h->n + h->extra;
        kp->dept_mask |= 1u << GH_GEN_JISHENG;
        gh_gen_key_jtbh(g, hh, jtbh, sizeof(jtbh));
        gh_gen_key_cybh(g, kid, cybh, sizeof(cybh));
        gh_gen_type_name(&g->errs, &l->r, GH_GEN_JISHENG, kp, name,
                         sizeof(name));
        gh_gen_type_id(&g->errs, &l->r, GH_GEN_JISHENG, kp, id, sizeof(id));
        gh_gen_type_name(&g->errs, &l->r, GH_GEN_JISHENG, mp, mn, sizeof(mn));
        gh_gen_type_id(&g->errs, &l->r, GH_GEN_JISHENG, mp, mi, sizeof(mi));
        if (father != GH_GEN_NONE) {
            gh_gen_type_name(&g->errs, &l->r, GH_GEN_JISHENG,
                             &c->persons[father], fn, sizeof(fn));
            gh_gen_type_id(&g->errs, &l->r, GH_GEN_JISHENG, &c->persons[father],
                           fi, sizeof(fi));
        }
        int comm = c->grids[h->grid].comm;
        gh_gen_code_stat(c, c->comms[comm].sub, comm, stat, sizeof(stat));
        int y, m, d;
        gh_gen_civil(born, &y, &m, &d);
        snprintf(csdj, sizeof(csdj), "CS%04d%s%06u", y, c->dists[dist].code,
                 ++g->js_cs[dist] % 1000000u);
        char ymd[16];
        snprintf(ymd, sizeof(ymd), "%04d%02d%02d", y, m, d);
        param(l, cybh);
        param(l, jtbh);
        param(l, name);
        param(l, sex == 1 ? "男" : "女");
        param(l, ymd);
        param(l, id);
        param(l, gh_gen_eth(kp->eth)->name);
        param(l, sex == 1 ? "子" : "女");
        param(l, stat);
        param_ts(l, l->sim);
        e = run(
            l, GH_GEN_JISHENG,
            "INSERT INTO js_jtcy (cybh, jtbh, xm, xb, csrq, sfzh, mz, yhzgx, "
            "hyzk, sqdm, zxbz, czy, czsj) VALUES ($1, $2, $3, $4, $5, $6, $7, "
            "$8, '10', $9, '0', 'jsy_live', $10)",
            errstr, errstr_size);
        if (e) return e;
        truth_add(l, GH_GEN_TM_JS_JTCY, cybh, kid);
        param(l, csdj);
        param(l, jtbh);
        param(l, cybh);
        param(l, name);
        param(l, sex == 1 ? "男" : "女");
        param(l, ymd);
        param(l, "娄底市妇幼保健院");
        param(l, mn);
        param(l, mi);
        param(l, fn);
        param(l, fi);
        param_ts(l, l->sim);
        int order = 1; /* the mother's children before this one */
        for (uint32_t i = h->first; i < h->first + h->n; i++) {
            int r2 = c->persons[i].rel;
            order += mp->rel == GH_GEN_REL_DIL
                         ? r2 == GH_GEN_REL_GRANDSON ||
                               r2 == GH_GEN_REL_GRANDDAUGHTER
                         : r2 == GH_GEN_REL_SON || r2 == GH_GEN_REL_DAUGHTER;
        }
        param_u(l, (unsigned long long)order);
        e = run(
            l, GH_GEN_JISHENG,
            "INSERT INTO js_csdj (csdjbh, jtbh, cybh, xm, xb, csrq, csdd, hc, "
            "mqxm, mqsfzh, fqxm, fqsfzh, djrq, czy, czsj) VALUES ($1, $2, $3, "
            "$4, $5, $6, $7, $13::smallint, $8, $9, $10, $11, $6, 'jsy_live', "
            "$12)",
            errstr, errstr_size);
        if (e) return e;
        if (mp->dept_mask & (1u << GH_GEN_JISHENG)) {
            gh_gen_key_cybh(g, mother, mcybh, sizeof(mcybh));
            param(l, mcybh);
            param_ts(l, l->sim);
            e = run(l, GH_GEN_JISHENG,
                    "UPDATE js_yfn SET xyzns = xyzns + 1, czsj = $2 WHERE cybh "
                    "= $1",
                    errstr, errstr_size);
            if (e) return e;
        }
        param(l, jtbh);
        param_ts(l, l->sim);
        e = run(
            l, GH_GEN_JISHENG,
            "UPDATE js_jtda SET jtrks = jtrks + 1, czsj = $2 WHERE jtbh = $1",
            errstr, errstr_size);
        if (e) return e;
    }
    /* 综治 hears of it sooner or later. */
    if (gh_gen_rng_chance(&l->r, 0.6))
        e = zz_insert(l, kid, &home, errstr, errstr_size);
    return e;
}

/* ---- move-ins
 * ---------------------------------------------------------------------- */

static gh_err_t move_in(live_t *l, char *errstr, size_t errstr_size) {
    gh_gen_t *g = l->g;
    gh_gen_city_t *c = l->c;
    uint32_t grid = gh_gen_rng_below(&l->r, c->n_grids);
    uint32_t hh = gh_gen_city_add_household(c, &l->r, grid, GH_GEN_HH_FLOAT);
    gh_gen_addr_t a;
    gh_gen_addr_random(c, &l->r, grid, &a);
    gh_gen_household_t *h = &c->hhs[hh];
    h->bldg = a.bldg;
    h->cbldg = a.cbldg;
    h->room = a.room;
    h->unit = a.unit;
    const gh_gen_origin_t *o = gh_gen_origin(h->origin);
    uint32_t region = (uint32_t)atoi(o->code);
    int eth = h->origin == GH_GEN_ORIGIN_XINJIANG ? GH_GEN_ETH_UYGHUR
                                                  : gh_gen_eth_draw(&l->r);
    int n = gh_gen_rng_chance(&l->r, 0.6) ? 1 : 2;
    int32_t today = sim_day(l);
    int y, m, d;
    gh_gen_civil(today, &y, &m, &d);
    int dist = district_index(c, grid);
    gh_err_t e = GH_OK;
    for (int k = 0; k < n && !e; k++) {
        int sex = k ? 2 : (gh_gen_rng_chance(&l->r, 0.6) ? 1 : 2);
        int age = gh_gen_rng_range(&l->r, 19, 45);
        int32_t born =
            today - age * 365 - (int32_t)gh_gen_rng_below(&l->r, 365);
        uint32_t p = gh_gen_city_add_person(
            c, &l->r, hh, sex, born, region,
            k ? GH_GEN_REL_WIFE : GH_GEN_REL_HEAD, eth, -1);
        gh_gen_person_t *pp = &c->persons[p];
        pp->flags |= GH_GEN_P_LIVE;
        pp->joined = (uint16_t)(y - 1950);
        if (n == 2) pp->marital = 20;
        if (l->db[GH_GEN_GONGAN] && gh_gen_rng_chance(&l->r, 0.8)) {
            gh_gen_typed_t ty;
            gh_gen_type_person(&g->errs, &l->r, GH_GEN_GONGAN, pp, &ty);
            char key[32], code[32], addr[256], beat[32], station[16];
            pp->dept_no[GH_GEN_GONGAN] = ++g->ga_ld[dist];
            pp->dept_mask |= 1u << GH_GEN_GONGAN;
            key_ga(l, p, key, sizeof(key));
            gh_gen_addr_code(c, &a, 1, code, sizeof(code));
            gh_gen_addr_format(c, &a, GH_GEN_ADDR_GA, addr, sizeof(addr));
            gh_gen_code_beat(c, c->grids[grid].comm, beat, sizeof(beat));
            gh_gen_code_station(c, c->comms[c->grids[grid].comm].sub, station,
                                sizeof(station));
            param(l, key);
            param(l, ty.name);
            param(l, ty.sex == 1 ? "1" : "2");
            param(l, gh_gen_eth(eth)->code);
            param_date(l, ty.birth);
            param(l, ty.id);
            param(l, o->code);
            param(l, o->address);
            param(l, code);
            param(l, addr);
            param(l, ty.phone);
            param_date(l, today);
            param(l, station);
            param(l, beat);
            param_ts(l, l->sim);
            e = run(
                l, GH_GEN_GONGAN,
                "INSERT INTO ga_ldrk (ldrybh, xm, xb, mz, csrq, gmsfhm, hjdqh, "
                "hjdz, zzdzbm, zzdz, zzsy, zslx, lxdh, djrq, pcsdm, zrqdm, "
                "zxbz, "
                "gxsj) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '01', "
                "'1', $11, $12, $13, $14, '0', $15)",
                errstr, errstr_size);
            if (!e) truth_add(l, GH_GEN_TM_GA_LDRK, key, p);
        }
        if (!e && gh_gen_rng_chance(&l->r, 0.85))
            e = zz_insert(l, p, &a, errstr, errstr_size);
    }
    return e;
}

/* ---- moves
 * ---------------------------------------------------------------------------
 */

static gh_err_t move(live_t *l, char *errstr, size_t errstr_size) {
    gh_gen_t *g = l->g;
    gh_gen_city_t *c = l->c;
    uint32_t pi = random_person(l, 0, 100, 0, 200);
    if (pi == GH_GEN_NONE) return GH_OK;
    gh_gen_person_t *p = &c->persons[pi];
    uint32_t to;
    const gh_gen_sub_t *s = &c->subs[c->comms[c->grids[p->grid].comm].sub];
    if (gh_gen_rng_chance(&l->r, 0.7)) {
        const gh_gen_comm_t *f = &c->comms[s->first_comm];
        const gh_gen_comm_t *z = &c->comms[s->first_comm + s->n_comms - 1];
        uint32_t lo = (uint32_t)f->first_grid,
                 hi = (uint32_t)(z->first_grid + z->n_grids);
        to = lo + gh_gen_rng_below(&l->r, hi - lo);
    } else {
        to = gh_gen_rng_below(&l->r, c->n_grids);
    }
    gh_gen_addr_t a;
    gh_gen_addr_random(c, &l->r, to, &a);
    p->grid = (uint16_t)to;
    const gh_gen_grid_t *tg = &c->grids[to];
    int comm = tg->comm, sub = c->comms[comm].sub;
    gh_err_t e = GH_OK;
    char key[48], addr[256], code[48];
    if (p->dept_mask & (1u << GH_GEN_ZONGZHI)) {
        gh_gen_key_zz(p->dept_no[GH_GEN_ZONGZHI], key, sizeof(key));
        gh_gen_addr_format(c, &a, GH_GEN_ADDR_ZZ, addr, sizeof(addr));
        gh_gen_code_zz_grid(c, to, code, sizeof(code));
        param(l, key);
        param(l, addr);
        param(l, code);
        param_ts(l, l->sim);
        e = run(l, GH_GEN_ZONGZHI,
                "UPDATE zz_syrk SET jzdz = $2, wgbm = $3, gxsj = $4 WHERE rkbh "
                "= $1",
                errstr, errstr_size);
        if (e) return e;
    }
    if (p->dept_mask & (1u << GH_GEN_GONGAN)) {
        int local = c->hhs[p->hh].kind == GH_GEN_HH_LOCAL;
        char beat[32], station[16];
        key_ga(l, pi, key, sizeof(key));
        gh_gen_addr_code(c, &a, 1, code, sizeof(code));
        gh_gen_addr_format(c, &a, GH_GEN_ADDR_GA, addr, sizeof(addr));
        gh_gen_code_beat(c, comm, beat, sizeof(beat));
        gh_gen_code_station(c, sub, station, sizeof(station));
        param(l, key);
        param(l, code);
        param(l, addr);
        if (local) {
            param_ts(l, l->sim);
            e = run(l, GH_GEN_GONGAN,
                    "UPDATE ga_hjrk SET sjjzdzbm = $2, sjjzdz = $3, gxsj = $4 "
                    "WHERE rybh = $1",
                    errstr, errstr_size);
        } else {
            param(l, beat);
            param(l, station);
            param_ts(l, l->sim);
            e = run(l, GH_GEN_GONGAN,
                    "UPDATE ga_ldrk SET zzdzbm = $2, zzdz = $3, zrqdm = $4, "
                    "pcsdm = "
                    "$5, gxsj = $6 WHERE ldrybh = $1",
                    errstr, errstr_size);
        }
        if (e) return e;
    }
    if (p->dept_mask & (1u << GH_GEN_JISHENG)) {
        gh_gen_key_cybh(g, pi, key, sizeof(key));
        gh_gen_code_stat(c, sub, comm, code, sizeof(code));
        param(l, key);
        param(l, code);
        param_ts(l, l->sim);
        e = run(l, GH_GEN_JISHENG,
                "UPDATE js_jtcy SET sqdm = $2, czsj = $3 WHERE cybh = $1",
                errstr, errstr_size);
        if (e) return e;
    }
    if (p->dept_mask & (1u << GH_GEN_ZUZHI)) {
        char dyid[33];
        gh_gen_key_dyid(g, pi, dyid);
        gh_gen_code_dj(c, sub, comm, tg->party, code, sizeof(code));
        gh_gen_addr_format(c, &a, GH_GEN_ADDR_DJ, addr, sizeof(addr));
        param(l, dyid);
        param(l, code);
        param(l, addr);
        param_ts(l, l->sim);
        e = run(l, GH_GEN_ZUZHI,
                "UPDATE dj_dyxx SET djwgdm = $2, jtzz = $3, xgsj = $4 WHERE "
                "dyid = $1",
                errstr, errstr_size);
        if (e) return e;
    }
    if (p->dept_mask & (1u << GH_GEN_CHUANGWEN)) {
        gh_gen_code_cw(c, sub, tg->area, code, sizeof(code));
        param_u(l, p->dept_no[GH_GEN_CHUANGWEN]);
        param(l, code);
        param(l, c->comms[comm].name);
        param_ts(l, l->sim);
        e = run(l, GH_GEN_CHUANGWEN,
                "UPDATE cw_volunteer SET area_code = $2, community_name = $3, "
                "update_time = $4 WHERE id = $1::bigint",
                errstr, errstr_size);
    }
    return e;
}

/* ---- deaths
 * ---------------------------------------------------------------------------
 */

static gh_err_t death(live_t *l, char *errstr, size_t errstr_size) {
    gh_gen_t *g = l->g;
    gh_gen_city_t *c = l->c;
    uint32_t pi = random_person(l, 72, 110, 0, 400);
    if (pi == GH_GEN_NONE) pi = random_person(l, 50, 110, 0, 400);
    if (pi == GH_GEN_NONE) return GH_OK;
    gh_gen_person_t *p = &c->persons[pi];
    int32_t today = sim_day(l);
    p->flags |= GH_GEN_P_DEAD;
    p->eday = today;
    gh_err_t e = GH_OK;
    char key[48];
    if (p->dept_mask & (1u << GH_GEN_GONGAN)) {
        int local = c->hhs[p->hh].kind == GH_GEN_HH_LOCAL ||
                    c->hhs[p->hh].kind == GH_GEN_HH_AWAY;
        key_ga(l, pi, key, sizeof(key));
        param(l, key);
        param_date(l, today);
        param_ts(l, l->sim);
        e = run(
            l, GH_GEN_GONGAN,
            local ? "UPDATE ga_hjrk SET zxbz = '1', zxrq = $2, zxyy = '死亡', "
                    "gxsj = $3 WHERE rybh = $1"
                  : "UPDATE ga_ldrk SET zxbz = '1', zxrq = $2, gxsj = $3 "
                    "WHERE ldrybh = $1",
            errstr, errstr_size);
        if (e) return e;
        truth_remove(l, local ? GH_GEN_TM_GA_HJRK : GH_GEN_TM_GA_LDRK, key);
    }
    if (p->dept_mask & (1u << GH_GEN_JISHENG)) {
        gh_gen_key_cybh(g, pi, key, sizeof(key));
        param(l, key);
        param_ts(l, l->sim);
        e = run(l, GH_GEN_JISHENG,
                "UPDATE js_jtcy SET zxbz = '1', czsj = $2 WHERE cybh = $1",
                errstr, errstr_size);
        if (e) return e;
        truth_remove(l, GH_GEN_TM_JS_JTCY, key);
    }
    if (p->dept_mask & (1u << GH_GEN_ZUZHI)) {
        gh_gen_key_dyid(g, pi, key);
        param(l, key);
        param_ts(l, l->sim);
        e = run(l, GH_GEN_ZUZHI,
                "UPDATE dj_dyxx SET dyzt = '死亡', xgsj = $2 WHERE dyid = $1",
                errstr, errstr_size);
        if (e) return e;
        truth_remove(l, GH_GEN_TM_DJ_DY, key);
    }
    if (p->dept_mask & (1u << GH_GEN_CHUANGWEN)) {
        snprintf(key, sizeof(key), "%u", p->dept_no[GH_GEN_CHUANGWEN]);
        param(l, key);
        param_ts(l, l->sim);
        e = run(
            l, GH_GEN_CHUANGWEN,
            "UPDATE cw_volunteer SET status = '0', update_time = $2 WHERE id = "
            "$1::bigint",
            errstr, errstr_size);
        if (e) return e;
        truth_remove(l, GH_GEN_TM_CW_VOL, key);
    }
    if (p->dept_mask & (1u << GH_GEN_ZONGZHI)) {
        gh_gen_key_zz(p->dept_no[GH_GEN_ZONGZHI], key, sizeof(key));
        param(l, key);
        e = run(l, GH_GEN_ZONGZHI, "DELETE FROM zz_syrk WHERE rkbh = $1",
                errstr, errstr_size);
        if (e) return e;
        truth_remove(l, GH_GEN_TM_ZZ_SYRK, key);
    }
    p->dept_mask = 0;
    return GH_OK;
}

/* ---- grid events and civility tasks
 * --------------------------------------------------- */

static gh_err_t event(live_t *l, char *errstr, size_t errstr_size) {
    gh_gen_city_t *c = l->c;
    if (!l->db[GH_GEN_ZONGZHI]) {
        gh_gen_rng_next(&l->r);
        return GH_OK;
    }
    /* Half the time an open event moves on. */
    if (l->n_ev && gh_gen_rng_chance(&l->r, 0.5)) {
        live_event_t *ev = &l->ev[gh_gen_rng_below(
            &l->r, (uint32_t)(l->n_ev < RING ? l->n_ev : RING))];
        if (ev->status >= 5) return GH_OK;
        ev->status++;
        char st[16], title[256], desc[512], where[256], dept[128];
        snprintf(st, sizeof(st), "%02d", ev->status);
        gh_gen_zz_event_text(c, &l->r, ev->grid, ev->type, title, sizeof(title),
                             desc, sizeof(desc), where, sizeof(where), dept,
                             sizeof(dept));
        param(l, ev->key);
        param(l, st);
        param(l, dept);
        param_ts(l, l->sim);
        return run(
            l, GH_GEN_ZONGZHI,
            "UPDATE zz_wgsj SET sjzt = $2::text, czbm = coalesce(czbm, $3), "
            "bjsj = "
            "CASE WHEN $2::text IN ('05', '06') THEN $4::timestamptz END, "
            "gxsj = $4 "
            "WHERE sjbh = $1",
            errstr, errstr_size);
    }
    static const uint16_t type_w[5] = {30, 15, 25, 25, 5};
    int type = 1 + (int)gh_gen_rng_pick(&l->r, type_w, 5);
    if (type == 5) type = 9;
    uint32_t grid = gh_gen_rng_below(&l->r, c->n_grids);
    char title[256], desc[512], where[256], dept[128], grid_code[32], ymd[16],
        sjlx[16];
    gh_gen_zz_event_text(c, &l->r, grid, type, title, sizeof(title), desc,
                         sizeof(desc), where, sizeof(where), dept,
                         sizeof(dept));
    gh_gen_code_zz_grid(c, grid, grid_code, sizeof(grid_code));
    int32_t today = sim_day(l);
    int y, m, d;
    gh_gen_civil(today, &y, &m, &d);
    snprintf(ymd, sizeof(ymd), "%04d%02d%02d", y, m, d);
    snprintf(sjlx, sizeof(sjlx), "%02d", type == 9 ? 99 : type);
    live_event_t *ev = &l->ev[l->n_ev++ % RING];
    snprintf(ev->key, sizeof(ev->key), "SJ%s%05u", ymd,
             (unsigned)++l->ev_day[(today - c->ref_day) & 4095]);
    ev->grid = grid;
    ev->status = 1;
    ev->type = type;
    param(l, ev->key);
    param(l, grid_code);
    param(l, sjlx);
    param(l, title);
    param(l, desc);
    param(l, where);
    param_ts(l, l->sim);
    return run(
        l, GH_GEN_ZONGZHI,
        "INSERT INTO zz_wgsj (sjbh, wgbm, sjlx, sjbt, sjms, fsdz, sjzt, sbsj, "
        "gxsj) VALUES ($1, $2, $3, $4, $5, $6, '01', $7, $7)",
        errstr, errstr_size);
}

static gh_err_t task(live_t *l, char *errstr, size_t errstr_size) {
    gh_gen_t *g = l->g;
    gh_gen_city_t *c = l->c;
    if (!l->db[GH_GEN_CHUANGWEN]) {
        gh_gen_rng_next(&l->r);
        return GH_OK;
    }
    if (l->n_task && gh_gen_rng_chance(&l->r, 0.5)) {
        live_task_t *t = &l->task[gh_gen_rng_below(
            &l->r, (uint32_t)(l->n_task < RING ? l->n_task : RING))];
        if (t->status == 3) return GH_OK;
        /* 0 待整改 -> 1 整改中 -> 2 已整改待复核 -> 3 复核通过 (or 4, back to
         * work) */
        t->status = t->status == 2   ? (gh_gen_rng_chance(&l->r, 0.15) ? 4 : 3)
                    : t->status == 4 ? 1
                                     : t->status + 1;
        char st[16];
        snprintf(st, sizeof(st), "%d", t->status);
        param_u(l, t->id);
        param(l, st);
        param_ts(l, l->sim);
        return run(
            l, GH_GEN_CHUANGWEN,
            "UPDATE cw_task SET status = $2::text, fixed_time = CASE WHEN "
            "$2::text = '2' "
            "THEN $3::timestamptz ELSE fixed_time END, update_time = $3 WHERE "
            "id = $1::bigint",
            errstr, errstr_size);
    }
    static const uint16_t type_w[6] = {30, 25, 15, 10, 15, 5};
    static const char *const type_code[6] = {"01", "02", "03",
                                             "04", "05", "99"};
    int type = (int)gh_gen_rng_pick(&l->r, type_w, 6);
    uint32_t grid = gh_gen_rng_below(&l->r, c->n_grids);
    const gh_gen_grid_t *gr = &c->grids[grid];
    char desc[512], where[256], unit[128], area[32], no[32], inspector[64];
    gh_gen_cw_task_text(c, &l->r, grid, type, desc, sizeof(desc), where,
                        sizeof(where), unit, sizeof(unit));
    gh_gen_code_cw(c, c->comms[gr->comm].sub, gr->area, area, sizeof(area));
    gh_gen_random_name(&l->r, inspector, sizeof(inspector));
    int32_t today = sim_day(l);
    int y, m, d;
    gh_gen_civil(today, &y, &m, &d);
    snprintf(no, sizeof(no), "CWRW%04d%02d%02d%04u", y, m, d,
             (unsigned)++l->task_day[(today - c->ref_day) & 4095]);
    live_task_t *t = &l->task[l->n_task++ % RING];
    t->id = ++g->cw_task;
    t->status = 0;
    char deadline[16];
    int32_t due = today + gh_gen_rng_range(&l->r, 1, 7);
    int dy, dm, dd;
    gh_gen_civil(due, &dy, &dm, &dd);
    snprintf(deadline, sizeof(deadline), "%04d/%02d/%02d", dy, dm, dd);
    param_u(l, t->id);
    param(l, no);
    param(l, area);
    param(l, type_code[type]);
    param(l, desc);
    param(l, where);
    param_ts(l, l->sim);
    param(l, deadline);
    param(l, inspector);
    param(l, unit);
    return run(
        l, GH_GEN_CHUANGWEN,
        "INSERT INTO cw_task (id, task_no, area_code, problem_type, "
        "description, location, found_time, deadline, status, inspector, "
        "responsible_unit, update_time) VALUES ($1::bigint, $2, $3, $4, $5, "
        "$6, $7, $8, '0', $9, $10, $7)",
        errstr, errstr_size);
}

/* ---- the loop
 * ----------------------------------------------------------------------------
 */

static void pace(int64_t due_us) {
    for (;;) {
        int64_t now = gh_now_us();
        if (now >= due_us || gh_shutdown_requested()) return;
        int64_t wait = due_us - now;
        if (wait > 100000) wait = 100000;
        struct timespec ts = {0, (long)(wait * 1000)};
        nanosleep(&ts, NULL);
    }
}

gh_err_t gh_gen_live_run(gh_gen_t *g, char *errstr, size_t errstr_size) {
    const gh_gen_opts_t *o = g->opts;
    live_t *l = gh_xcalloc(1, sizeof(*l));
    l->g = g;
    l->c = g->city;
    gh_gen_rng_init(&l->r, g->seed, GH_GEN_STREAM_LIVE, 0);
    l->sim = (int64_t)(g->city->ref_day + 1) * 86400;
    gh_err_t e = GH_OK;
    for (int d = 0; d < GH_GEN_NDEPT && !e; d++) {
        if (!g->on[d]) continue;
        l->db[d] = gh_pg_connect(o->conninfo[d], 0, errstr, errstr_size);
        if (!l->db[d]) e = GH_ERR_PG_CONNECT;
    }
    gh_log_info(LOG, "live mode: %g changes/s%s%s", o->live_rate,
                o->live_duration_s ? " for a while" : " until stopped",
                o->live_max_changes ? " (bounded)" : "");
    int64_t t0 = gh_now_us();
    double interval_us = 1e6 / o->live_rate;
    long long n = 0;
    int64_t last_log = gh_now_ms();
    while (!e) {
        if (o->live_max_changes && n >= o->live_max_changes) break;
        if (o->live_duration_s &&
            gh_now_us() - t0 >= o->live_duration_s * 1000000LL)
            break;
        pace(t0 + (int64_t)(interval_us * (double)n));
        if (gh_shutdown_requested()) break;
        int kind = (int)gh_gen_rng_pick(&l->r, KIND_W, K__COUNT);
        switch (kind) {
        case K_BIRTH:
            e = birth(l, errstr, errstr_size);
            break;
        case K_MOVE_IN:
            e = move_in(l, errstr, errstr_size);
            break;
        case K_MOVE:
            e = move(l, errstr, errstr_size);
            break;
        case K_DEATH:
            e = death(l, errstr, errstr_size);
            break;
        case K_EVENT:
            e = event(l, errstr, errstr_size);
            break;
        default:
            e = task(l, errstr, errstr_size);
            break;
        }
        if (!e) e = commit_all(l, errstr, errstr_size);
        if (!e) truth_commit(l);
        l->n_pending = 0;
        l->count[kind]++;
        n++;
        l->sim += 60 + gh_gen_rng_below(&l->r, 540);
        if (gh_now_ms() - last_log > 10000) {
            last_log = gh_now_ms();
            gh_log_info(LOG, "live: %lld changes", n);
        }
    }
    double secs = (double)(gh_now_us() - t0) / 1e6;
    if (!e && l->db[GH_GEN_CHUANGWEN])
        e = gh_gen_setup_after_conn(GH_GEN_CHUANGWEN, l->db[GH_GEN_CHUANGWEN],
                                    errstr, errstr_size);
    for (int d = 0; d < GH_GEN_NDEPT; d++)
        if (l->db[d]) PQfinish(l->db[d]);
    long long lines = 0;
    if (o->truth_file) {
        char err2[1024];
        gh_err_t te = gh_gen_truth_rewrite(o->truth_file, l->added, l->n_added,
                                           l->removed, l->n_removed, &lines,
                                           err2, sizeof(err2));
        if (te && !e) e = gh_seterr(errstr, errstr_size, te, "%s", err2);
    }
    printf("live: %lld changes in %.1f s (%.1f/s):", n, secs,
           secs > 0 ? n / secs : 0.0);
    for (int k = 0; k < K__COUNT; k++)
        printf(" %s %lld%s", KIND_NAMES[k], l->count[k],
               k + 1 < K__COUNT ? "," : "");
    printf("\n");
    if (o->truth_file)
        printf("truth: %lld lines in %s\n", lines, o->truth_file);
    fflush(stdout);
    for (size_t i = 0; i < l->n_added; i++)
        free(l->added[i]);
    for (size_t i = 0; i < l->n_removed; i++)
        free(l->removed[i]);
    free(l->added);
    free(l->removed);
    free(l);
    return e;
}
