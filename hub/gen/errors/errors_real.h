/*
 * Issue 14's error kinds (GH_GEN_ERR_FIRST_REAL on) applied to one
 * department's copy of a value, for errors.c. Each takes the value the
 * first nine kinds start from (the true name, ID number, birth date, sex or
 * phone), changes it in place and returns the kinds that show in it. The
 * draws come from the person's own stream (GH_GEN_STREAM_REAL, seeded from
 * the first 17 digits of the true ID number, index = department) or the
 * phone's (GH_GEN_STREAM_REAL_PHONE, seeded from the number), never from
 * the department's grid stream; with every issue-14 rate at 0 nothing is
 * drawn and nothing changes.
 */
#ifndef GH_GEN_ERRORS_REAL_H
#define GH_GEN_ERRORS_REAL_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* name: the formatted true name, rewritten (size bytes). */
unsigned gh__gen_real_name(const gh_gen_errors_t *e, int dept,
                           const gh_gen_person_t *p, char *name, size_t size);
/* id: the true ID number, replaced by another resident's or the second
 * one, and/or with a digit mistyped or two swapped. */
unsigned gh__gen_real_id(const gh_gen_errors_t *e, int dept,
                         const gh_gen_person_t *p, char id[19]);
/* 1 if the department did not record the person's ID number at all
 * (id_missing; the other ID errors then do not show). */
int gh__gen_real_id_missing(const gh_gen_errors_t *e, int dept,
                            const gh_gen_person_t *p);
unsigned gh__gen_real_birth(const gh_gen_errors_t *e, int dept,
                            const gh_gen_person_t *p, int32_t *birth);
unsigned gh__gen_real_sex(const gh_gen_errors_t *e, int dept,
                          const gh_gen_person_t *p, int *sex);
/* phone: an existing number that the department recorded. */
unsigned gh__gen_real_phone(const gh_gen_errors_t *e, int dept,
                            uint64_t *phone);

#endif
