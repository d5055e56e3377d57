/*
 * The true city: its hierarchy (district -> sub-district -> community ->
 * grid), every department's own division of it, and its residents, built
 * grid by grid from the seed. Departments only ever see copies of this
 * truth (dept_*.c); errors.c decides how each copy is mistyped.
 *
 * Memory: the hierarchy is small (13,187 grids in the city preset). Each
 * resident is a compact gh_gen_person_t (64 bytes: name as table indexes,
 * ID parts, phone as an integer, flags); strings are formatted only when a
 * row is written. Buildings and dwellings exist only for the grid being
 * generated (gh_gen_city_grid() reuses the scratch arrays).
 */
#ifndef GH_GEN_CITY_H
#define GH_GEN_CITY_H

#include <stddef.h>
#include <stdint.h>

#include "names.h"
#include "rng.h"

#define GH_GEN_NONE UINT32_MAX

/* "Today" in the generated world: 2023-09-30. Ages, registration dates and
 * event times are relative to it, never to the wall clock (the load is
 * byte-identical whenever it runs). */
#define GH_GEN_REF_Y 2023
#define GH_GEN_REF_M 9
#define GH_GEN_REF_D 30

enum { GH_GEN_PRESET_DEMO = 0, GH_GEN_PRESET_CITY = 1 };

/* Residents per grid before `scale`: the presets' totals (~40k residents in
 * 131 grids, ~3.9M in 13,187) give about 300. */
#define GH_GEN_RESIDENTS_PER_GRID 300

/* Household kinds. */
enum {
    GH_GEN_HH_LOCAL = 0, /* registered here (户籍) and living here */
    GH_GEN_HH_AWAY = 1,  /* registered here, living elsewhere (人户分离) */
    GH_GEN_HH_FLOAT = 2, /* living here, registered elsewhere (流动人口) */
    GH_GEN_HH_LEFT = 3   /* floating residents who have left (history) */
};

/* Relation to the head of household. */
enum {
    GH_GEN_REL_HEAD = 1,
    GH_GEN_REL_HUSBAND,
    GH_GEN_REL_WIFE,
    GH_GEN_REL_SON,
    GH_GEN_REL_DAUGHTER,
    GH_GEN_REL_FATHER,
    GH_GEN_REL_MOTHER,
    GH_GEN_REL_GRANDSON,
    GH_GEN_REL_GRANDDAUGHTER,
    GH_GEN_REL_DIL, /* 儿媳 */
    GH_GEN_REL_OTHER
};

/* Person flags. */
enum {
    GH_GEN_P_DEAD = 1 << 0,      /* died (cancelled records only) */
    GH_GEN_P_AWAY = 1 << 1,      /* registered here, lives elsewhere */
    GH_GEN_P_PARTY = 1 << 2,     /* party member */
    GH_GEN_P_PROB = 1 << 3,      /* probationary member (预备党员) */
    GH_GEN_P_VOL = 1 << 4,       /* registered volunteer */
    GH_GEN_P_CADRE = 1 << 5,     /* cadre sent down to a grid */
    GH_GEN_P_STAFF = 1 << 6,     /* grid staff (综治 1+1+N) */
    GH_GEN_P_LEFT = 1 << 7,      /* left the city */
    GH_GEN_P_SUSPENDED = 1 << 8, /* 停止党籍 */
    GH_GEN_P_EXPELLED = 1 << 9,  /* 出党 */
    GH_GEN_P_DEREG = 1 << 10,    /* volunteer who deregistered */
    GH_GEN_P_LIVE = 1 << 11      /* added by live mode */
};

/* Education levels (GB/T 4658 groups). */
enum {
    GH_GEN_EDU_NONE = 0,
    GH_GEN_EDU_PRIMARY,
    GH_GEN_EDU_JUNIOR,
    GH_GEN_EDU_SENIOR,
    GH_GEN_EDU_VOCATIONAL,
    GH_GEN_EDU_COLLEGE,
    GH_GEN_EDU_BACHELOR,
    GH_GEN_EDU_MASTER
};

/* One resident, past or present. */
typedef struct gh_gen_person {
    int32_t birth;       /* days since 1970-01-01 */
    uint32_t region;     /* 6-digit region code of the ID number */
    uint32_t hh;         /* household index */
    int32_t eday;        /* death / departure day, 0 if none */
    uint64_t phone;      /* 11 digits, 0 = none */
    uint32_t dept_no[5]; /* the record number each department gave this
                            person's person-mapped row (0 = none); see the
                            department writers */
    uint16_t grid;       /* where the person lives now */
    uint16_t seq;        /* ID sequence 0..999: odd male, even female */
    uint16_t flags;      /* GH_GEN_P_* */
    uint16_t joined;     /* party: years since 1950 of joining; cadre: unit */
    gh_gen_name_t name;
    uint8_t sex;       /* 1 male, 2 female */
    uint8_t eth;       /* index into the ethnic-group table */
    uint8_t rel;       /* GH_GEN_REL_* */
    uint8_t order;     /* child order among same-sex siblings, 0 = only */
    uint8_t edu;       /* GH_GEN_EDU_* */
    uint8_t marital;   /* GB/T 2261.2: 10, 20, 30, 40 */
    uint8_t employer;  /* index into places' employers, 0 = none */
    uint8_t dept_mask; /* departments where the person has a published
                          person row (bit = department index) */
} gh_gen_person_t;

typedef struct gh_gen_household {
    uint32_t first; /* first member (members are contiguous) */
    uint32_t hu_no; /* 公安 户号 number, 0 = none */
    uint16_t grid;
    uint16_t bldg;   /* building number in its compound, or 组 */
    uint16_t cbldg;  /* building sequence in the community (address code) */
    uint16_t room;   /* floor * 100 + door, or house number */
    uint16_t js_fam; /* 计生 family sequence in the community, 0 = none */
    uint8_t unit;    /* 0 for village houses */
    uint8_t n;       /* members */
    uint8_t kind;    /* GH_GEN_HH_* */
    uint8_t origin;  /* floating: index into places' origins */
    uint8_t extra;   /* members added later (live mode), not contiguous */
} gh_gen_household_t;

/* A dwelling of the grid being generated. */
typedef struct gh_gen_dwelling {
    uint32_t hh; /* occupant household or GH_GEN_NONE */
    uint16_t bldg, cbldg, room;
    uint8_t unit;
    uint8_t use; /* 综治 房屋用途: 1 self, 2 rented, 3 vacant, 4 shop */
} gh_gen_dwelling_t;

typedef struct gh_gen_building {
    uint16_t bldg, cbldg;
    uint8_t units, floors;
    uint8_t demolished; /* kept only by 公安, cancelled */
} gh_gen_building_t;

typedef struct gh_gen_district {
    const char *name, *code, *abbr;
    int first_sub, n_subs;
} gh_gen_district_t;

typedef struct gh_gen_sub {
    const char *name, *stem;
    char zz[8];  /* 综治 / 创文 code, unique in the city: LP */
    char dj[16]; /* 党建 initials: LPJD */
    int district;
    int index;   /* statistical code within the district (1-based) */
    int station; /* police station number within the district */
    int kind;    /* GH_GEN_SUB_* */
    int first_comm, n_comms;
} gh_gen_sub_t;

typedef struct gh_gen_comm {
    char name[40]; /* 大塘社区, 白溪村 */
    char stem[16];
    char zz[20];        /* LP-DT */
    char dj[16];        /* DTSQ */
    char street[40];    /* 乐坪大道 */
    char compound0[40]; /* name of the first compound, "" = generated */
    int door;           /* 168(号) */
    int village;
    int sub, index;
    int first_grid, n_grids;
    int n_party; /* 党建 grids */
    /* walk state */
    uint16_t next_cbldg, next_bldg, next_family;
} gh_gen_comm_t;

/* Grid staff kinds for part-time members. */
enum {
    GH_GEN_PART_BUILDING = 1, /* 楼栋长 */
    GH_GEN_PART_PROPERTY,     /* 物业 */
    GH_GEN_PART_VOLUNTEER,    /* 志愿者 */
    GH_GEN_PART_PARTY,        /* 党员 */
    GH_GEN_PART_RETIRED       /* 退休干部 */
};

/* A cadre's grid role (组织部 网格职务). */
enum {
    GH_GEN_CADRE_LEADER = 1, /* 网格长 */
    GH_GEN_CADRE_GUIDE,      /* 网格指导员 */
    GH_GEN_CADRE_LIAISON,    /* 联络员 */
    GH_GEN_CADRE_MEMBER      /* 网格员 */
};

#define GH_GEN_MAX_PART 6

typedef struct gh_gen_grid {
    int comm;
    uint16_t index;   /* within the community, 1-based */
    uint16_t target;  /* residents to generate */
    uint16_t party;   /* 党建 grid number within the community */
    uint16_t area;    /* 创文 area number within the sub-district */
    uint8_t compound; /* within the community, 0-based */
    /* filled by gh_gen_city_grid() */
    uint8_t max_units, max_floors;
    uint16_t bldg_first, n_bldg, cbldg_first;
    uint32_t first_hh, n_hh;
    uint32_t first_person, n_persons;
    uint32_t households, population; /* living here (综治's counts) */
    uint32_t leader, fulltime, liaison, cadre; /* persons or GH_GEN_NONE */
    uint32_t part[GH_GEN_MAX_PART];
    uint8_t part_kind[GH_GEN_MAX_PART];
    uint8_t n_part;
    uint8_t cadre_role, cadre_recalled;
    uint16_t rzrq_leader; /* days before REF the leader took office */
} gh_gen_grid_t;

typedef struct gh_gen_city {
    uint64_t seed;
    double scale;
    int preset;
    int32_t ref_day; /* GH_GEN_REF_* as days since 1970-01-01 */
    gh_gen_district_t *dists;
    int n_dists;
    gh_gen_sub_t *subs;
    int n_subs;
    gh_gen_comm_t *comms;
    int n_comms;
    gh_gen_grid_t *grids;
    uint32_t n_grids;
    gh_gen_person_t *persons;
    uint32_t n_persons, cap_persons;
    gh_gen_household_t *hhs;
    uint32_t n_hh, cap_hh;
    /* scratch for the grid being generated */
    gh_gen_dwelling_t *dw;
    uint32_t n_dw, cap_dw;
    gh_gen_building_t *bl;
    uint32_t n_bl, cap_bl;
    uint32_t *scratch;
    uint32_t cap_scratch;
    /* ID numbers in use: open addressing over the first 17 digits */
    uint64_t *ids;
    uint64_t ids_mask, n_ids;
} gh_gen_city_t;

/* Builds the hierarchy and every department's division for `preset`; no
 * residents yet. scale multiplies residents per grid (> 0). Never NULL. */
gh_gen_city_t *gh_gen_city_new(int preset, uint64_t seed, double scale);
/* NULL is a no-op. */
void gh_gen_city_destroy(gh_gen_city_t *c);

/* Generates grid `g`'s households, residents, buildings and grid staff.
 * Grids must be generated in order 0, 1, 2, ... (buildings and 计生
 * families are numbered per community as the walk goes). The dwellings
 * and buildings in c->dw / c->bl are those of this grid until the next
 * call. */
void gh_gen_city_grid(gh_gen_city_t *c, uint32_t g);

/* Adds a person to household `hh` (live mode: births, move-ins): draws the
 * name, a unique ID number and a phone. Returns the new index. */
uint32_t gh_gen_city_add_person(gh_gen_city_t *c, gh_gen_rng_t *r, uint32_t hh,
                                int sex, int32_t birth, uint32_t region,
                                int rel, int eth, int surname);
/* Adds an empty household of `kind` in grid g (live mode). */
uint32_t gh_gen_city_add_household(gh_gen_city_t *c, gh_gen_rng_t *r,
                                   uint32_t g, int kind);

/* ---- what a resident is
 * ------------------------------------------------------ */

/* The true 18-character ID number (+ NUL). */
void gh_gen_person_id(const gh_gen_person_t *p, char out[19]);
/* Age in whole years on `day`. */
int gh_gen_age(int32_t birth, int32_t day);
/* y, m, d of a day number. */
void gh_gen_civil(int32_t day, int *y, int *m, int *d);
int32_t gh_gen_days(int y, int m, int d);
/* Lives in the city now (not dead, not left, not away). */
int gh_gen_person_lives_here(const gh_gen_city_t *c, const gh_gen_person_t *p);
/* Alive and registered or living here (not dead, not left). */
int gh_gen_person_current(const gh_gen_person_t *p);

/* ---- the divisions, as each department codes them
 * ----------------------------- */

/* 综治: grid LP-DT-01 (the hub's codes). */
void gh_gen_code_zz_grid(const gh_gen_city_t *c, uint32_t g, char *out,
                         size_t n);
/* 公安: 警务责任区 ZRQ-<district><station><beat>, one per community. */
void gh_gen_code_beat(const gh_gen_city_t *c, int comm, char *out, size_t n);
/* 公安: 派出所代码, one per sub-district. */
void gh_gen_code_station(const gh_gen_city_t *c, int sub, char *out, size_t n);
/* 计生 / statistics: 12-digit community code 431302002001; sub-district
 * 9 digits with comm < 0. */
void gh_gen_code_stat(const gh_gen_city_t *c, int sub, int comm, char *out,
                      size_t n);
/* 组织部: DJ-LPJD (comm < 0), DJ-LPJD-DTSQ (party < 1), DJ-LPJD-DTSQ-01. */
void gh_gen_code_dj(const gh_gen_city_t *c, int sub, int comm, int party,
                    char *out, size_t n);
/* 组织部: 党组织代码 of a sub-district (comm < 0), a community (party < 1)
 * or a party grid's branch. */
void gh_gen_code_branch(const gh_gen_city_t *c, int sub, int comm, int party,
                        char *out, size_t n);
/* 创文: CW-LP (area < 1), CW-LP-004. */
void gh_gen_code_cw(const gh_gen_city_t *c, int sub, int area, char *out,
                    size_t n);
/* The 综治 unit a department code stands for, as the crosswalk files put
 * it: a grid where the department unit is one 综治 grid, else the
 * community. */
void gh_gen_code_dj_target(const gh_gen_city_t *c, int comm, int party,
                           char *out, size_t n);
void gh_gen_code_cw_target(const gh_gen_city_t *c, int sub, int area, char *out,
                           size_t n);
/* The first grid of 创文 area `area` of sub-district `sub`, and how many
 * grids it spans. */
uint32_t gh_gen_cw_area_grids(const gh_gen_city_t *c, int sub, int area,
                              uint32_t *count);

/* Compound (小区) name of grid g: 大塘小区. */
void gh_gen_compound_name(const gh_gen_city_t *c, uint32_t g, char *out,
                          size_t n);

#endif
