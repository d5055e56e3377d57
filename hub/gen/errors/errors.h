/*
 * The error model: how a department's copy of a true resident differs from
 * the truth. Each kind of error has a base probability (a property,
 * `error.<kind>`) multiplied by a per-department factor (公安's register is
 * the cleanest; 计生 never upgraded legacy IDs; 创文's volunteers typed
 * their own data on phones). Draws are independent per department copy,
 * per record and per field, and always consume the same number of random
 * numbers whatever the rates, so changing one rate never reshuffles the
 * rest of the city.
 *
 * The kinds from FUZZY_PINYIN on (issue 14: errors the matcher was not
 * built for) are drawn from streams of their own, seeded from the person
 * (the true ID number) or the phone number and the department, never from
 * the department's grid stream: with their rates at 0 the city and every
 * copy are byte-identical to what the first nine kinds alone give, and a
 * department's mistake about a person is the same in every table of that
 * department (one clerk, one form). errors_real.c draws and applies them.
 */
#ifndef GH_GEN_ERRORS_H
#define GH_GEN_ERRORS_H

#include <stddef.h>
#include <stdint.h>

#include "city.h"
#include "depts.h"
#include "rng.h"

enum {
    GH_GEN_ERR_LEGACY_ID = 0,    /* 15-digit ID (people born 1900-1999) */
    GH_GEN_ERR_BAD_CHECK,        /* wrong check character */
    GH_GEN_ERR_TRADITIONAL,      /* name typed in traditional characters */
    GH_GEN_ERR_HOMOPHONE,        /* one character replaced by a homophone */
    GH_GEN_ERR_FULLWIDTH,        /* full-width digits/letters in ID or phone */
    GH_GEN_ERR_SPACE,            /* stray spaces in name, ID or phone */
    GH_GEN_ERR_SWAPPED_BIRTH,    /* birth day and month swapped */
    GH_GEN_ERR_OUTDATED_ADDRESS, /* a former address (and its grid) */
    GH_GEN_ERR_MISSING_PHONE,    /* phone not recorded */
    /* issue 14: default rate 0 (ops/gen/real-errors.properties) */
    GH_GEN_ERR_FUZZY_PINYIN,      /* a name character by a fuzzy-pinyin one */
    GH_GEN_ERR_NAME_CHAR_DROPPED, /* 3-character name typed with 2 */
    GH_GEN_ERR_NAME_CHAR_ADDED,   /* 2-character name typed with 3 */
    GH_GEN_ERR_BIRTH_YEAR_OFF,    /* birth year +-1 */
    GH_GEN_ERR_BIRTH_DIGIT,       /* one digit of YYYYMMDD mistyped */
    GH_GEN_ERR_BIRTH_PLACEHOLDER, /* YYYY-01-01, YYYY-MM-01 or 1900-01-01 */
    GH_GEN_ERR_SEX_WRONG,         /* sex recorded wrongly */
    GH_GEN_ERR_PHONE_OLD,         /* a former (other valid) mobile */
    GH_GEN_ERR_PHONE_DIGIT,       /* one phone digit mistyped */
    GH_GEN_ERR_ID_DIGIT,          /* one of the first 17 ID digits wrong */
    GH_GEN_ERR_ID_TRANSPOSED,     /* two adjacent ID digits swapped */
    GH_GEN_ERR_FOREIGN_ID,        /* another resident's ID number */
    GH_GEN_ERR_TWO_IDS,           /* the resident's second valid ID number */
    GH_GEN_ERR_ID_MISSING,        /* ID number not recorded (a stress test) */
    GH_GEN_ERR__COUNT
};

/* The first kind drawn from the person's and phone's own streams. */
#define GH_GEN_ERR_FIRST_REAL GH_GEN_ERR_FUZZY_PINYIN

/* A kind as a bit of an error mask. */
#define GH_GEN_ERR_BIT(kind) (1u << (kind))

typedef struct gh_gen_errors {
    double rate[GH_GEN_ERR__COUNT]; /* base probabilities */
    /* The city the residents belong to, borrowed: foreign_id types the ID
     * of another member of the household (or of the resident listed just
     * before) from it. NULL: foreign_id has no effect. */
    const gh_gen_city_t *city;
} gh_gen_errors_t;

/* "legacy_id", ... (the property is "error." + name). */
const char *gh_gen_err_name(int kind);
/* Default base rate as the property's default text, e.g. "0.03". */
const char *gh_gen_err_default(int kind);
/* Sets every base rate to its default (and city to NULL). */
void gh_gen_errors_defaults(gh_gen_errors_t *e);
/* The department's factor for a kind of error. */
double gh_gen_err_factor(int dept, int kind);
/* Effective probability: base x factor, clamped to [0, 1]. */
double gh_gen_err_rate(const gh_gen_errors_t *e, int dept, int kind);
/* One draw: 1 if the error happens. Consumes exactly one number. */
int gh_gen_err_draw(const gh_gen_errors_t *e, gh_gen_rng_t *r, int dept,
                    int kind);

/* ---- mutations (pure; for the writers and the tests)
 * ------------------------- */

/* 18 -> 15 digits: drops the century and the check character. */
void gh_gen_id_legacy(const char id18[19], char out[16]);
/* Replaces the check character by a different valid-looking one. */
void gh_gen_id_bad_check(gh_gen_rng_t *r, const char id18[19], char out[19]);
/* ASCII digits, letters and '+' to full width (U+FF10...); out needs
 * 3 * strlen(in) + 1 bytes. */
void gh_gen_fullwidth(const char *in, char *out, size_t size);
/* Inserts a space after byte `pos` (clamped to the string). */
void gh_gen_insert_space(const char *in, size_t pos, char *out, size_t size);

/* Issue 14's mutations (errors_real.c). `pick` chooses among the
 * possibilities (taken modulo their number). */

/* Digit `pos` (0..16) of the ID replaced by (digit + delta) mod 10, delta
 * 1..9; the check character is kept, so the result always fails it (every
 * weight of MOD 11-2 is prime to 11). */
void gh_gen_id_digit(const char id18[19], unsigned pos, unsigned delta,
                     char out[19]);
/* Two adjacent, different digits among the first 17 swapped (the `pick`-th
 * such pair); the check is kept and fails. Returns 0 (out a copy) if no two
 * adjacent digits differ. */
int gh_gen_id_transposed(const char id18[19], uint32_t pick, char out[19]);
/* A second valid ID number of the same person (一人多号): the region code
 * of the other registration (娄底地区's 4325xx codes before 1999 <->
 * 娄底市's 4313xx, or a Loudi county for one registered elsewhere), same
 * birth date and sequence, check character recomputed. */
void gh_gen_id_second(const char id18[19], uint32_t pick, char out[19]);
/* Birth day number moved a year (+1 or -1 by `up`; 29 Feb -> 28 Feb). */
int32_t gh_gen_birth_year_off(int32_t day, int up);
/* One digit of YYYYMMDD replaced so that the result is still a date in
 * 1900..GH_GEN_REF_Y and not after the reference day: the first such
 * (digit, value) after `pick` in a fixed order. Returns the new day (never
 * `day` itself). */
int32_t gh_gen_birth_digit(int32_t day, uint32_t pick);
/* The placeholder a form gets when only part of the date is known:
 * which 0 -> YYYY-01-01, 1 -> the 1st of the month, 2 -> 1900-01-01. */
int32_t gh_gen_birth_placeholder(int32_t day, int which);
/* Another valid mobile number (a prefix of the table city.c draws from,
 * then 8 digits), never `phone`. */
uint64_t gh_gen_phone_other(uint64_t phone, uint64_t pick);
/* Digit `pos` (1..10: the leading 1 is never mistyped) of the 11-digit
 * phone replaced by (digit + delta) mod 10, delta 1..9. */
uint64_t gh_gen_phone_digit(uint64_t phone, unsigned pos, unsigned delta);

/* ---- a department's copy of one resident
 * ------------------------------------- */

typedef struct gh_gen_typed {
    char name[96];
    char id[96];    /* "" = not recorded */
    char phone[64]; /* "" = not recorded */
    int32_t birth;  /* possibly with day and month swapped */
    int sex;        /* 1 male, 2 female: the person's unless SEX_WRONG */
    int outdated;   /* the department has a former address */
    /* The errors that show in each typed value (GH_GEN_ERR_BIT masks): a
     * kind drawn but without effect is left out (a legacy ID for someone
     * born since 2000, a bad check under a legacy ID, a traditional form of
     * a name that has none, a space at the end of a one-character name,
     * the full-width or spaced form of a phone that is missing). A writer
     * that leaves a value out drops its field's errors. */
    unsigned err_name, err_id, err_phone, err_birth, err_sex;
    /* err_name | err_id | err_phone | err_birth | err_sex, plus
     * OUTDATED_ADDRESS when `outdated` (it shows only where the department
     * keeps an address). */
    unsigned errors;
} gh_gen_typed_t;

/* Types person `p` as department `dept` has it. Draws come from `r` (the
 * department's stream for the grid). */
void gh_gen_type_person(const gh_gen_errors_t *e, gh_gen_rng_t *r, int dept,
                        const gh_gen_person_t *p, gh_gen_typed_t *out);

/* The name alone (for references such as a mother's name on a birth
 * record), with the name errors of `dept`. Returns the errors that show. */
unsigned gh_gen_type_name(const gh_gen_errors_t *e, gh_gen_rng_t *r, int dept,
                          const gh_gen_person_t *p, char *out, size_t size);
/* The ID number alone, with the ID errors of `dept`. Returns the errors
 * that show. */
unsigned gh_gen_type_id(const gh_gen_errors_t *e, gh_gen_rng_t *r, int dept,
                        const gh_gen_person_t *p, char *out, size_t size);
/* A phone number with the phone errors of `dept` ("" when missing).
 * Returns the errors that show (MISSING_PHONE only for a phone that
 * exists). */
unsigned gh_gen_type_phone(const gh_gen_errors_t *e, gh_gen_rng_t *r, int dept,
                           uint64_t phone, char *out, size_t size);

#endif
