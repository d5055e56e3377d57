/* The department tables the generator loads: schema.sql of each department
 * (connectors/<dept>/schema.sql) with every column it fills. */
#include "gen_int.h"

const gh_gen_table_t gh_gen_tables[GH_GEN_NTABLES] = {
    {GH_GEN_ZONGZHI, "zz_syrk",
     "rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, wgbm, bz, gxsj", NULL},
    {GH_GEN_ZONGZHI, "zz_wg",
     "wgbm, wgmc, wgjb, sjwgbm, xzqhdm, hs, rks, wgfw, gxsj", NULL},
    {GH_GEN_ZONGZHI, "zz_fw",
     "fwbh, bzdzbm, fwdz, sqbm, ldh, dyh, fh, wgbm, fwyt, fzxm, fzlxdh, gxsj",
     NULL},
    {GH_GEN_ZONGZHI, "zz_wgy",
     "wgybh, xm, gmsfhm, lxdh, wgbm, wgyjs, gzdw, rzrq, gxsj", NULL},
    {GH_GEN_ZONGZHI, "zz_wgsj",
     "sjbh, wgbm, sjlx, sjbt, sjms, fsdz, sjzt, sbrbh, sbsj, czbm, bjsj, gxsj",
     NULL},
    {GH_GEN_GONGAN, "ga_bzdz",
     "dzbm, xzqhdm, jdxzdm, sqjwhdm, jlxmc, mph, xqmc, ldh, dyh, hsh, dzjb, "
     "dzqc, pcsdm, zrqdm, zxbz, djsj, gxsj",
     NULL},
    {GH_GEN_GONGAN, "ga_hu",
     "hh, hlb, hzxm, hzgmsfhm, hjdzbm, hjdz, pcsdm, zrqdm, lhrq, zxbz, gxsj",
     NULL},
    {GH_GEN_GONGAN, "ga_hjrk",
     "rybh, hh, yhzgx, xm, cym, xb, mz, csrq, gmsfhm, hyzk, whcd, fwcs, lxdh, "
     "hjdzbm, hjdz, sjjzdzbm, sjjzdz, pcsdm, zrqdm, lhrq, zxbz, zxrq, zxyy, "
     "gxsj",
     NULL},
    {GH_GEN_GONGAN, "ga_ldrk",
     "ldrybh, xm, xb, mz, csrq, gmsfhm, hjdqh, hjdz, zzdzbm, zzdz, zzsy, zslx, "
     "fwcs, lxdh, djrq, jzzbh, jzzyxqz, pcsdm, zrqdm, zxbz, zxrq, gxsj",
     NULL},
    {GH_GEN_JISHENG, "js_jtda",
     "jtbh, hzxm, hzsfzh, jtdz, sqdm, jtrks, ldbz, jdrq, zxbz, czy, czsj",
     NULL},
    {GH_GEN_JISHENG, "js_jtcy",
     "cybh, jtbh, xm, xb, csrq, sfzh, mz, yhzgx, hyzk, lxdh, sqdm, zxbz, czy, "
     "czsj",
     NULL},
    {GH_GEN_JISHENG, "js_csdj",
     "csdjbh, jtbh, cybh, xm, xb, csrq, csdd, hc, csyxzmbh, mqxm, mqsfzh, "
     "fqxm, "
     "fqsfzh, djrq, czy, czsj",
     NULL},
    {GH_GEN_JISHENG, "js_yfn",
     "yfnbh, cybh, jtbh, xm, sfzh, csrq, hyzk, xyzns, jycs, ldbz, djrq, zxbz, "
     "czy, czsj",
     NULL},
    {GH_GEN_JISHENG, "js_jycs",
     "jlbh, yfnbh, cybh, jtbh, xm, sfzh, cslx, csrq, ssdw, czy, czsj", NULL},
    {GH_GEN_ZUZHI, "dj_wg", "wgdm, wgmc, wgcj, sjwgdm, dzzdm, wgzxm, hs, xgsj",
     NULL},
    {GH_GEN_ZUZHI, "dj_dzb",
     "dzzdm, dzzmc, dzzlb, sjdzzdm, djwgdm, sjxm, lxdh, clrq, dys, xgsj", NULL},
    {GH_GEN_ZUZHI, "dj_dyxx",
     "dyid, xm, xb, mz, csrq, gmsfhm, xl, gzdw, rdrq, zzrq, dylb, dzzdm, "
     "djwgdm, lxdh, jtzz, dyzt, xgsj",
     NULL},
    {GH_GEN_ZUZHI, "dj_xcgb",
     "xcid, dyid, xm, xb, gmsfhm, lxdh, pcdw, zw, xcwgdm, wgzw, xcrq, zhrq, "
     "zt, "
     "xgsj",
     NULL},
    {GH_GEN_CHUANGWEN, "cw_area",
     "area_code, area_name, area_level, parent_code, leader_name, "
     "leader_mobile, update_time",
     NULL},
    {GH_GEN_CHUANGWEN, "cw_volunteer",
     "id, volunteer_no, real_name, gender, id_type, id_card, birthday, mobile, "
     "community_name, area_code, political_status, service_hours, reg_date, "
     "status, update_time",
     "id"},
    {GH_GEN_CHUANGWEN, "cw_task",
     "id, task_no, area_code, problem_type, description, location, found_time, "
     "deadline, fixed_time, status, inspector, responsible_unit, photo_urls, "
     "update_time",
     "id"},
};
