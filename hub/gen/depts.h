/*
 * The five departments, in the order every per-department array of the
 * generator uses. Names are the `department=` of each mapping.properties.
 */
#ifndef GH_GEN_DEPTS_H
#define GH_GEN_DEPTS_H

enum {
    GH_GEN_ZONGZHI = 0, /* 综治 comprehensive governance */
    GH_GEN_GONGAN,      /* 公安 public security */
    GH_GEN_JISHENG,     /* 计生 family planning */
    GH_GEN_ZUZHI,       /* 组织部 organization (party building) */
    GH_GEN_CHUANGWEN,   /* 创文 civilization campaign */
    GH_GEN_NDEPT
};

/* "zongzhi", ...; NULL outside [0, GH_GEN_NDEPT). */
const char *gh_gen_dept_name(int dept);

#endif
