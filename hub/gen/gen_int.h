/*
 * Internals shared by the generator's files: the generator handle, the
 * department tables it loads, the department writers and the formatting
 * helpers they share (addresses, grid codes, typed values).
 */
#ifndef GH_GEN_INT_H
#define GH_GEN_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "city.h"
#include "copy.h"
#include "depts.h"
#include "errors.h"
#include "rng.h"
#include "truth.h"

/* Every department table the generator loads, department by department. */
enum {
    GH_GEN_T_ZZ_SYRK,
    GH_GEN_T_ZZ_WG,
    GH_GEN_T_ZZ_FW,
    GH_GEN_T_ZZ_WGY,
    GH_GEN_T_ZZ_WGSJ,
    GH_GEN_T_GA_BZDZ,
    GH_GEN_T_GA_HU,
    GH_GEN_T_GA_HJRK,
    GH_GEN_T_GA_LDRK,
    GH_GEN_T_JS_JTDA,
    GH_GEN_T_JS_JTCY,
    GH_GEN_T_JS_CSDJ,
    GH_GEN_T_JS_YFN,
    GH_GEN_T_JS_JYCS,
    GH_GEN_T_DJ_WG,
    GH_GEN_T_DJ_DZB,
    GH_GEN_T_DJ_DYXX,
    GH_GEN_T_DJ_XCGB,
    GH_GEN_T_CW_AREA,
    GH_GEN_T_CW_VOLUNTEER,
    GH_GEN_T_CW_TASK,
    GH_GEN_NTABLES
};

typedef struct gh_gen_table {
    int dept;
    const char *name;
    const char *columns;
    const char *identity; /* bigint identity column whose sequence follows
                             the generated ids, or NULL */
} gh_gen_table_t;

extern const gh_gen_table_t gh_gen_tables[GH_GEN_NTABLES];

/* Days of history kept for events and tasks (two years before REF). */
#define GH_GEN_HISTORY_DAYS 730
/* 创文 volunteer numbers count per district and day since 2014-01-01. */
#define GH_GEN_VOL_DAY0_Y 2014
#define GH_GEN_VOL_DAYS 4000

/* The run's properties, parsed. */
typedef struct gh_gen_opts {
    int preset;
    uint64_t seed;
    double scale;
    const char *conninfo[GH_GEN_NDEPT]; /* NULL: department not loaded */
    const char *connectors_dir;
    const char *truth_file;    /* NULL: no ground truth */
    const char *records_file;  /* NULL: no source records */
    int records_only;          /* all departments in memory, no database */
    const char *crosswalk_dir; /* NULL: none written */
    int append;
    gh_gen_errors_t errs;
    double live_rate;           /* changes per second, 0 = none */
    long long live_duration_s;  /* 0 = until stopped */
    long long live_max_changes; /* 0 = no limit */
    size_t copy_buffer;
} gh_gen_opts_t;

typedef struct gh_gen {
    const gh_gen_opts_t *opts;
    gh_gen_city_t *city;
    gh_gen_errors_t errs;
    uint64_t seed;
    int on[GH_GEN_NDEPT]; /* department configured */
    gh_gen_copy_t copy[GH_GEN_NTABLES];
    gh_gen_truth_t *truth;
    gh_gen_rng_t rng; /* the running department's grid stream */
    /* keys handed out so far */
    uint32_t zz_rk, zz_fw, zz_wgy;
    uint16_t zz_sj_day[GH_GEN_HISTORY_DAYS + 1];
    uint32_t ga_hu, ga_ry[8], ga_ld[8], ga_jzz[8];
    uint32_t js_cs[8], js_jy;
    uint32_t dj_xc;
    uint32_t *dj_members;   /* per grid: members of its party grid's branch */
    uint32_t *dj_secretary; /* per grid: a member to be branch secretary */
    uint32_t dj_unit_members[64];
    uint32_t cw_vol, cw_task;
    uint16_t *cw_vol_day; /* [district * GH_GEN_VOL_DAYS + day] */
    uint16_t cw_task_day[GH_GEN_HISTORY_DAYS + 1];
} gh_gen_t;

/* ---- department writers: one grid at a time, then the hierarchy -----------
 */

void gh_gen_zongzhi_grid(gh_gen_t *g, uint32_t grid);
void gh_gen_zongzhi_finish(gh_gen_t *g);
void gh_gen_gongan_grid(gh_gen_t *g, uint32_t grid);
void gh_gen_jisheng_grid(gh_gen_t *g, uint32_t grid);
void gh_gen_zuzhi_grid(gh_gen_t *g, uint32_t grid);
void gh_gen_zuzhi_finish(gh_gen_t *g);
void gh_gen_chuangwen_grid(gh_gen_t *g, uint32_t grid);
void gh_gen_chuangwen_finish(gh_gen_t *g);

/* Text of a grid event of `type` (1 dispute, 2 public order, 3 hazard,
 * 4 request, 9 other) in grid gi: title, description, place and the
 * department that handles it. */
void gh_gen_zz_event_text(const gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t gi,
                          int type, char *title, size_t tn, char *desc,
                          size_t dn, char *where, size_t wn, char *dept,
                          size_t dpn);
/* Text of a civility task of `type` (0..5 = problem types 01..05, 99):
 * description, place and the responsible unit. */
void gh_gen_cw_task_text(const gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t gi,
                         int type, char *desc, size_t dn, char *where,
                         size_t wn, char *unit, size_t un);

/* ---- keys (also used by live mode) -----------------------------------------
 */

/* 综治 人口编号 ZZ00000001. */
void gh_gen_key_zz(uint32_t no, char *out, size_t n);
/* 公安 人员编号 R + district + 9 digits; 流动人员编号 LD + district + year +
 * 7 digits (the year of registration). */
void gh_gen_key_rybh(const char *district, uint32_t no, char *out, size_t n);
void gh_gen_key_ldrybh(const char *district, int year, uint32_t no, char *out,
                       size_t n);
/* The day a floating resident registered with the police (deterministic
 * per person, so live mode can rebuild the key). */
int32_t gh_gen_ldrk_day(const gh_gen_t *g, uint32_t person);
/* 计生 家庭编号 / 成员编号 of a person (from its household). */
void gh_gen_key_jtbh(const gh_gen_t *g, uint32_t hh, char *out, size_t n);
void gh_gen_key_cybh(const gh_gen_t *g, uint32_t person, char *out, size_t n);
/* 组织部 党员标识: a 32-character GUID, deterministic per person. */
void gh_gen_key_dyid(const gh_gen_t *g, uint32_t person, char out[33]);

/* ---- formatting ------------------------------------------------------------
 */

/* A place to live: grid, building, unit, room. */
typedef struct gh_gen_addr {
    uint32_t grid;
    uint16_t bldg, cbldg, room;
    uint8_t unit;
} gh_gen_addr_t;

enum {
    GH_GEN_ADDR_ZZ, /* 娄星区乐坪街道大塘社区3栋2单元302 */
    GH_GEN_ADDR_GA, /* 湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区3栋2单元302室
                     */
    GH_GEN_ADDR_JS, /* 大塘社区3栋2单元302 */
    GH_GEN_ADDR_DJ, /* 乐坪街道大塘小区3栋302 */
    GH_GEN_ADDR_SHORT /* 大塘小区3栋 (events, tasks) */
};

void gh_gen_addr_of(const gh_gen_city_t *c, uint32_t hh, gh_gen_addr_t *a);
/* A former address: another grid of the same sub-district (one already
 * generated), or another flat in the same grid. */
void gh_gen_addr_old(const gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t grid,
                     gh_gen_addr_t *a);
/* A random flat in grid `grid` (live moves). */
void gh_gen_addr_random(const gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t grid,
                        gh_gen_addr_t *a);
void gh_gen_addr_format(const gh_gen_city_t *c, const gh_gen_addr_t *a,
                        int style, char *out, size_t n);
/* 公安 地址编码 of a flat (room < 0: the building). 22 digits. */
void gh_gen_addr_code(const gh_gen_city_t *c, const gh_gen_addr_t *a,
                      int room_level, char *out, size_t n);

/* Seconds since the epoch of a Beijing working-hours moment on `day`. */
int64_t gh_gen_ts(gh_gen_rng_t *r, int32_t day);
/* A day in [from, to]. */
int32_t gh_gen_day_between(gh_gen_rng_t *r, int32_t from, int32_t to);
/* A Chinese numeral for 1..99: 一, 十二, 二十三. */
void gh_gen_cn_number(int v, char *out, size_t n);
/* A random name (people outside the model: landlords, inspectors). */
void gh_gen_random_name(gh_gen_rng_t *r, char *out, size_t n);
/* A landline 0738xxxxxxx. */
void gh_gen_landline(gh_gen_rng_t *r, char *out, size_t n);

/* Expands a template: {b} building, {u} unit, {r} room, {c} compound,
 * {s} street, {d} door number, {n} a name, {m} market, {o} community. */
typedef struct gh_gen_tpl_args {
    const char *compound, *street, *name, *community;
    int bldg, unit, room, door;
} gh_gen_tpl_args_t;
void gh_gen_template(const char *tpl, const gh_gen_tpl_args_t *a, char *out,
                     size_t n);

/* The department copy's RNG for `grid`. */
void gh_gen_dept_rng(gh_gen_t *g, int dept, uint32_t grid);

/* Live mode (live.c): keeps changing the department databases after the
 * load, deterministically from the seed, until the duration is over or a
 * stop is requested; then rewrites the ground truth. */
gh_err_t gh_gen_live_run(gh_gen_t *g, char *errstr, size_t errstr_size);

/* ---- database set-up (setup.c) ----------------------------------------------
 */

/* Creates the department's tables from <connectors_dir>/<dept>/schema.sql
 * (CREATE TABLE IF NOT EXISTS) and, unless append, empties them. */
gh_err_t gh_gen_setup_dept(int dept, const char *conninfo,
                           const char *connectors_dir, int append, char *errstr,
                           size_t errstr_size);
/* After the load: identity sequences past the generated ids, ANALYZE. */
gh_err_t gh_gen_setup_after(int dept, const char *conninfo, char *errstr,
                            size_t errstr_size);
/* The same on an open connection (borrowed): the live loop uses its own, so
 * that a stop request, which refuses new connections, cannot skip it. */
gh_err_t gh_gen_setup_after_conn(int dept, PGconn *c, char *errstr,
                                 size_t errstr_size);
/* Compares connectors/<dept>/grid_crosswalk.csv with the generated
 * divisions: logs lines that disagree and how many generated codes the file
 * lacks (their rows get no grid code from the connector). */
void gh_gen_crosswalk_check(const gh_gen_city_t *c, const char *connectors_dir);
/* Writes <dir>/<dept>/grid_crosswalk.csv for the generated city. */
gh_err_t gh_gen_crosswalk_write(const gh_gen_city_t *c, const char *dir,
                                char *errstr, size_t errstr_size);

#endif
