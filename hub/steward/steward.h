/*
 * Data stewardship: the review queue (steward_item) and the decisions that
 * correct identity resolution — merge, split, keep apart, choose a value.
 *
 * A decision is recorded with who, when and why (steward_decision), turned
 * into constraints automatic resolution honours forever after (a forced
 * link for a merge, kept-apart record pairs for a split or keep-apart, an
 * override for a chosen value), and applied at once: the persons concerned
 * are re-resolved in the same transaction, so the golden records and the
 * subscribers' outbox rows change with the decision. The running hub
 * publishes those rows (it polls the outbox when idle).
 */
#ifndef GH_HUB_STEWARD_H
#define GH_HUB_STEWARD_H

#include <stdio.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"

typedef struct gh_steward gh_steward_t;

/* Connects to the hub database named by `conf` (the hub's properties) and
 * applies migrations. `conf` is borrowed. NULL with errstr on failure. */
gh_steward_t *gh_steward_new(const gh_conf_t *conf, char *errstr,
                             size_t errstr_size);
void gh_steward_destroy(gh_steward_t *s);

/* Lists items, newest first. status/kind may be NULL (= open / any). */
gh_err_t gh_steward_list(gh_steward_t *s, FILE *out, const char *status,
                         const char *kind, long limit, char *errstr,
                         size_t errstr_size);

/* Shows an item (its evidence: field-by-field comparison and the score's
 * waterfall) when `what` is a number, or a person (golden values with
 * provenance, records, open items) when it is a person id. */
gh_err_t gh_steward_show(gh_steward_t *s, FILE *out, const char *what,
                         char *errstr, size_t errstr_size);

/* The actions. `by` and `reason` are required (GH_ERR_INVALID_ARG if
 * empty). Persons are person ids; `item` (may be NULL) is the item the
 * decision resolves. Each prints what it did to `out`. */
gh_err_t gh_steward_merge(gh_steward_t *s, FILE *out, const char *item,
                          const char *pa, const char *pb, const char *by,
                          const char *reason, char *errstr, size_t errstr_size);
gh_err_t gh_steward_keep_apart(gh_steward_t *s, FILE *out, const char *item,
                               const char *pa, const char *pb, const char *by,
                               const char *reason, char *errstr,
                               size_t errstr_size);
/* Splits the records `recs` ("department:source_key", n of them) out of
 * person `pid` into a person of their own. */
gh_err_t gh_steward_split(gh_steward_t *s, FILE *out, const char *pid,
                          const char *const *recs, int n, const char *by,
                          const char *reason, char *errstr, size_t errstr_size);
/* Sets the golden `field` of `pid` to `value` ("" = no value). */
gh_err_t gh_steward_choose(gh_steward_t *s, FILE *out, const char *item,
                           const char *pid, const char *field,
                           const char *value, const char *by,
                           const char *reason, char *errstr,
                           size_t errstr_size);

/* What the last successful action did: its decision's id, the persons
 * it rewrote and the person ids it retired. */
typedef struct gh_steward_result {
    char decision[32];
    long long persons, retired;
} gh_steward_result_t;

/* The result of the last action that returned GH_OK (all zero before). */
const gh_steward_result_t *gh_steward_last(const gh_steward_t *s);

/* Decisions from now on are made through API token `token_id` of
 * `subscriber` (both copied; NULL: none, as the command line): the
 * decision's audit entry names them beside `by`, so who acted is the
 * token's holder, not only the database role the API connects as. */
void gh_steward_set_token(gh_steward_t *s, const char *token_id,
                          const char *subscriber);

/* The persons and field of an open or resolved item (strings copied into
 * the caller's buffers of 32 bytes; field may come back ""). */
gh_err_t gh_steward_item_persons(gh_steward_t *s, const char *item, char pa[32],
                                 char pb[32], char field[32], char *errstr,
                                 size_t errstr_size);

#endif
