/*
 * The places of Loudi (娄底市, 431300) the generator knows by name: its five
 * districts and counties with their sub-districts, towns and townships,
 * the communities of 乐坪街道 (the demo), name stems for the other
 * communities and villages, street and compound suffixes, and the
 * employers residents work for (city units have a party branch of their
 * own). Static tables; city.c turns them into a city.
 */
#ifndef GH_GEN_PLACES_H
#define GH_GEN_PLACES_H

#include <stddef.h>
#include <stdint.h>

enum { GH_GEN_SUB_JIEDAO = 0, GH_GEN_SUB_ZHEN = 1, GH_GEN_SUB_XIANG = 2 };

typedef struct gh_gen_place_sub {
    const char *name; /* 乐坪街道 */
    const char *stem; /* 乐坪 */
    const char *abbr; /* LP: pinyin initials of the stem */
    uint8_t kind;     /* GH_GEN_SUB_* */
} gh_gen_place_sub_t;

typedef struct gh_gen_place_district {
    const char *name; /* 娄星区 */
    const char *code; /* 431302 (GB/T 2260) */
    const char *abbr; /* LX: 综治's code */
    int grids;        /* grids after the 2020 re-division */
    const gh_gen_place_sub_t *subs;
    size_t n_subs;
} gh_gen_place_district_t;

/* Index of 乐坪街道 in 娄星区's list (statistical code 431302002). */
#define GH_GEN_LEPING_INDEX 1

const gh_gen_place_district_t *gh_gen_place_districts(size_t *n);

/* The communities of 乐坪街道, in code order. The first two are the ones
 * the department samples and crosswalk files describe. */
typedef struct gh_gen_place_comm {
    const char *stem, *abbr;
    int grids;
    const char *street; /* NULL: generated */
    int door;
    const char *compound; /* NULL: generated */
} gh_gen_place_comm_t;

const gh_gen_place_comm_t *gh_gen_place_leping(size_t *n);

/* Two-character place-name stems with their pinyin initials. */
typedef struct gh_gen_stem {
    const char *stem, *abbr;
} gh_gen_stem_t;

const gh_gen_stem_t *gh_gen_place_stems(size_t *n);

/* Street (路, 街, 大道) and compound (小区, 新村, ...) suffixes. */
const char *gh_gen_place_street_suffix(size_t i);
const char *gh_gen_place_compound_suffix(size_t i);

/* Employers: city units (with a party branch code, 党组织代码) and other
 * work places. Index 0 is "no employer". */
typedef struct gh_gen_employer {
    const char *name;
    const char *branch; /* city units only: 'D431300' + 5 digits */
} gh_gen_employer_t;

size_t gh_gen_employer_count(void);
const gh_gen_employer_t *gh_gen_employer(size_t i);
/* Employers 1..gh_gen_unit_count() are the city units. */
size_t gh_gen_unit_count(void);

/* Property-management companies (part-time grid members). */
const char *gh_gen_property_company(size_t i);
size_t gh_gen_property_company_count(void);

/* Origins of floating residents: region code, address, weight. */
typedef struct gh_gen_origin {
    const char *code;
    const char *address;
    uint16_t weight;
} gh_gen_origin_t;

size_t gh_gen_origin_count(void);
const gh_gen_origin_t *gh_gen_origin(size_t i);
/* Index of the Xinjiang origin (Uyghur residents). */
#define GH_GEN_ORIGIN_XINJIANG 0

/* Where registered residents who live away actually live. */
const char *gh_gen_away_address(size_t i);
size_t gh_gen_away_address_count(void);

#endif
