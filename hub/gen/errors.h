/*
 * The error model: how a department's copy of a true resident differs from
 * the truth. Each kind of error has a base probability (a property,
 * `error.<kind>`) multiplied by a per-department factor (公安's register is
 * the cleanest; 计生 never upgraded legacy IDs; 创文's volunteers typed
 * their own data on phones). Draws are independent per department copy,
 * per record and per field, and always consume the same number of random
 * numbers whatever the rates, so changing one rate never reshuffles the
 * rest of the city.
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
    GH_GEN_ERR__COUNT
};

/* A kind as a bit of an error mask. */
#define GH_GEN_ERR_BIT(kind) (1u << (kind))

typedef struct gh_gen_errors {
    double rate[GH_GEN_ERR__COUNT]; /* base probabilities */
} gh_gen_errors_t;

/* "legacy_id", ... (the property is "error." + name). */
const char *gh_gen_err_name(int kind);
/* Default base rate as the property's default text, e.g. "0.03". */
const char *gh_gen_err_default(int kind);
/* Sets every base rate to its default. */
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

/* ---- a department's copy of one resident
 * ------------------------------------- */

typedef struct gh_gen_typed {
    char name[96];
    char id[96];    /* "" = not recorded */
    char phone[64]; /* "" = not recorded */
    int32_t birth;  /* possibly with day and month swapped */
    int outdated;   /* the department has a former address */
    /* The errors that show in each typed value (GH_GEN_ERR_BIT masks): a
     * kind drawn but without effect is left out (a legacy ID for someone
     * born since 2000, a bad check under a legacy ID, a traditional form of
     * a name that has none, a space at the end of a one-character name,
     * the full-width or spaced form of a phone that is missing). A writer
     * that leaves a value out drops its field's errors. */
    unsigned err_name, err_id, err_phone, err_birth;
    /* err_name | err_id | err_phone | err_birth, plus OUTDATED_ADDRESS when
     * `outdated` (it shows only where the department keeps an address). */
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
