/*
 * Text at the edge: everything inside gridhub is UTF-8 (Avro strings must
 * be). Every connection to a department database asks for
 * client_encoding=UTF8, so PostgreSQL transcodes from the database's own
 * encoding (EUC_CN, GBK, ...) for snapshots and for the replication
 * stream alike. A SQL_ASCII database is the exception: it stores and sends
 * bytes as they were typed, often GBK in older government systems. For it
 * `source.encoding` declares what the bytes are and this module converts
 * them (iconv). Every value is checked either way: one that is not
 * well-formed in its encoding is a data error (a dead letter naming the
 * column), never garbled text downstream.
 */
#ifndef GH_ENCODING_H
#define GH_ENCODING_H

#include "gridhub/error.h"
#include "pgoutput.h"

typedef struct gh_enc gh_enc_t;

/* `from`: an iconv encoding name (GBK, GB18030, BIG5, ...), or NULL, ""
 * or UTF-8 to check only. NULL with errstr filled if the name is unknown.
 * Owned by the caller (gh_enc_destroy). */
gh_enc_t *gh_enc_new(const char *from, char *errstr, size_t errstr_size);
/* NULL is a no-op. */
void gh_enc_destroy(gh_enc_t *e);

/* Forgets the values converted so far (their storage is reused): call once
 * per row or change, before gh_enc_values on its tuples. */
void gh_enc_reset(gh_enc_t *e);

/* Checks and converts the text values of vals[0..n) in place: a converted
 * value points into e's storage, valid until gh_enc_reset. On a value
 * that is not well-formed returns GH_ERR_MAPPING, *bad_col its index, and
 * errstr says at which byte (never the value itself); values before it
 * may already be converted, the others are untouched. */
gh_err_t gh_enc_values(gh_enc_t *e, gh_pgo_value_t *vals, int n, int *bad_col,
                       char *errstr, size_t errstr_size);

/* The encoding converted from ("UTF-8" when only checking). Borrowed. */
const char *gh_enc_name(const gh_enc_t *e);

#endif
