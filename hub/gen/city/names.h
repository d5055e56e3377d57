/*
 * Names and the typing errors made on them: surnames by their frequency in
 * Hunan, given-name characters by sex and generation, Uyghur names with
 * the middle dot, ethnic groups (GB/T 3304), simplified -> traditional
 * characters and homophones. Every character in the tables is a 3-byte
 * UTF-8 sequence (the CJK block), which the formatters rely on.
 */
#ifndef GH_GEN_NAMES_H
#define GH_GEN_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Character pools for given names, by sex and birth cohort. */
enum {
    GH_GEN_POOL_M_OLD, /* born before 1960 */
    GH_GEN_POOL_F_OLD,
    GH_GEN_POOL_M_MID, /* 1960-1979 */
    GH_GEN_POOL_F_MID,
    GH_GEN_POOL_M_YOUNG, /* 1980-1999 */
    GH_GEN_POOL_F_YOUNG,
    GH_GEN_POOL_M_KID, /* 2000 and later */
    GH_GEN_POOL_F_KID,
    GH_GEN_POOL_MINORITY, /* a whole Uyghur name (姓名 with ·) */
    GH_GEN_POOL__COUNT
};

#define GH_GEN_NO_CHAR 0xFF

/* A name as indexes into the tables: 4 bytes per resident. */
typedef struct gh_gen_name {
    uint8_t pool; /* GH_GEN_POOL_* */
    uint8_t sur;  /* surname index (unused for MINORITY) */
    uint8_t g1;   /* first given character, or the MINORITY name index */
    uint8_t g2;   /* second given character or GH_GEN_NO_CHAR */
} gh_gen_name_t;

/* Draws a name for a person of `sex` (1 male, 2 female) born in
 * `birth_year`. `surname` >= 0 forces the surname (children take their
 * father's); `uyghur` draws a Uyghur name of the right sex instead. */
void gh_gen_name_draw(gh_gen_rng_t *r, int sex, int birth_year, int surname,
                      int uyghur, gh_gen_name_t *out);

/* Writes the name as UTF-8 into out (NUL-terminated, truncated to size). */
void gh_gen_name_format(const gh_gen_name_t *n, char *out, size_t size);

/* A surname index drawn by frequency. */
int gh_gen_surname_draw(gh_gen_rng_t *r);
size_t gh_gen_surname_count(void);
const char *gh_gen_surname(size_t i);

/* Pool sizes in characters, for tests. */
size_t gh_gen_pool_size(int pool);

/* Ethnic groups: GB/T 3304 code, full name and the short name clerks type. */
typedef struct gh_gen_eth {
    const char *code;
    const char *name;
    const char *short_name;
    uint16_t weight; /* per 10,000 local residents */
} gh_gen_eth_t;

enum { GH_GEN_ETH_HAN = 0, GH_GEN_ETH_UYGHUR = 6 };

size_t gh_gen_eth_count(void);
const gh_gen_eth_t *gh_gen_eth(size_t i);
int gh_gen_eth_draw(gh_gen_rng_t *r);

/* Rewrites every character that has a traditional form (张 -> 張, 伟 ->
 * 偉); returns how many changed. out must hold strlen(in) + 1 bytes (the
 * forms have the same UTF-8 length). */
int gh_gen_to_traditional(const char *in, char *out, size_t size);

/* Replaces one character that has a homophone (章 <-> 张, 琳 <-> 林, ...),
 * chosen at random among those that have one. Returns 1 if it changed
 * something (out is then the new name), 0 if no character has a homophone
 * (out is a copy). */
int gh_gen_homophone(gh_gen_rng_t *r, const char *in, char *out, size_t size);

/* ---- issue 14 (fuzzy.c, names.c) */

/* Replaces one character by one whose toneless pinyin differs by one
 * fuzzy-pinyin merge (n/l, f/h, r/l, an/ang, en/eng, in/ing, ian/iang,
 * z/zh, c/ch, s/sh; the Xiang ones weigh more), chosen at random among the
 * characters of the table that have such a neighbour. Returns 1 if it
 * changed something, 0 if no character has one (out is a copy). */
int gh_gen_fuzzy_pinyin(gh_gen_rng_t *r, const char *in, char *out,
                        size_t size);
/* Toneless pinyin of the character at ch ("lin"; ü as v), NULL if it is
 * not in the table. */
const char *gh_gen_pinyin(const char *ch);
/* The merge ("n/l", "in/ing", ...) that turns syllable a into b, or NULL
 * if none does. */
const char *gh_gen_fuzzy_merge(const char *a, const char *b);
/* The table, for tests: group i's pinyin and (chars) its characters;
 * NULL past the end. */
size_t gh_gen_pinyin_count(void);
const char *gh_gen_pinyin_group(size_t i, const char **chars);

/* Leaves out one of two given-name characters (pick & 1: the first or the
 * second). Returns 0 (n unchanged) for a one-character given name or a
 * Uyghur name. */
int gh_gen_name_drop_char(gh_gen_name_t *n, uint32_t pick);
/* Adds a character of the name's own pool (pick: which, and bit 16:
 * before or after) to a one-character given name. Returns 0 (n unchanged)
 * for a two-character given name or a Uyghur name. */
int gh_gen_name_add_char(gh_gen_name_t *n, uint32_t pick);

#endif
