/*
 * PostgreSQL array literals ('{1,2,3}', '{"a","b",NULL}') built in a
 * gh_buf_t, so that a whole batch travels as one parameter of one
 * statement (`= ANY($1::bigint[])`, `unnest($1::text[])`) instead of one
 * round trip per row.
 */
#ifndef GRIDHUB_SQLARR_H
#define GRIDHUB_SQLARR_H

#include <stdint.h>

#include "gridhub/util.h"

typedef struct gh_sqlarr {
    gh_buf_t buf; /* the literal; owned, freed by gh_sqlarr_free */
    size_t n;     /* elements appended */
} gh_sqlarr_t;

/* Empties the array (keeps its memory) and starts a new literal. */
void gh_sqlarr_reset(gh_sqlarr_t *a);
void gh_sqlarr_int(gh_sqlarr_t *a, int64_t v);
/* s may be NULL (an SQL NULL element); quoted and escaped otherwise. */
void gh_sqlarr_text(gh_sqlarr_t *a, const char *s);
/* The finished literal, borrowed from `a` until its next change. */
const char *gh_sqlarr_get(gh_sqlarr_t *a);
void gh_sqlarr_free(gh_sqlarr_t *a);

#endif
