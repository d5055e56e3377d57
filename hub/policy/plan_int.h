/* Internals of plans, shared by plan.c, schema.c, apply.c and explain.c. */
#ifndef GH_POLICY_PLAN_INT_H
#define GH_POLICY_PLAN_INT_H

#include "gridhub/hmac.h"
#include "policy_int.h"

/* One field's compiled rules. */
typedef struct fplan {
    int in_schema;
    pact_t base;              /* its field line, the * line, or the default */
    const prule_t *base_rule; /* NULL: the default (drop; inherit below) */
    const prule_t **grants;   /* active grants naming the field */
    int ngrants;
    const prule_t **denies; /* conditional denies */
    int ndenies;
    const prule_t *deny_all; /* an unconditional deny, if any */
    int withholdable;        /* some records may lack it */
    int year;                /* its schema type is the year (int) */
} fplan_t;

struct gh_policy_plan {
    const gh_policy_t *p;
    const pentity_t *e;
    int sub, ent;
    int64_t now_us, today;
    int uses_age;
    const prule_t *rows;
    const prule_t **rowdeny;
    int nrowdeny;
    fplan_t *f;  /* per field of the entity */
    pact_t *cur; /* per field: the action decided for the record in hand */
    const unsigned char *key;
    size_t keylen;
    gh_hmac_t *mac; /* HMAC-SHA256 holding key, reused for each value */
    const gh_schema_t *schema;
    avro_value_t out;
    int has_out;
    char digest[33];
};

/* Compiles pl's rules (p, e, sub, ent, now_us, today and key set): rows,
 * denies, every field's candidates. gh__plan_release frees what it
 * allocated (and the plan's value), not pl itself. */
void gh__plan_compile(gh_policy_plan_t *pl);
void gh__plan_release(gh_policy_plan_t *pl);
/* Derives pl->schema and adds it to set (schema.c). */
gh_err_t gh__plan_schema(gh_policy_plan_t *pl, gh_schemas_t *set, char *errstr,
                         size_t errstr_size);
/* The action field i gets for the record of x (PA_DROP: withheld); *why
 * (may be NULL) receives the rule that decided, NULL for the default. */
pact_t gh__plan_decide(const gh_policy_plan_t *pl, int i, const pctx_t *x,
                       const prule_t **why);
/* gh_policy_hmac_hex of msg under the plan's key, through its context
 * when it has one (a plan from gh_policy_plan_new). */
void gh__plan_hmac_hex(const gh_policy_plan_t *pl, const char *msg,
                       size_t msglen, char out[33]);
/* The pseudonym of id as an id of `entity` under the plan's key. */
void gh__plan_ref_hash(const gh_policy_plan_t *pl, const char *entity,
                       const char *id, char out[33]);
/* The value inside a union (or v itself) into out; 0 if it is null. */
int gh__policy_unwrap(avro_value_t *v, avro_value_t *out);
/* The secret of key `name` (borrowed from k); GH_ERR_CONFIG if absent. */
gh_err_t gh__policy_key(const gh_policy_keys_t *k, const char *name,
                        const unsigned char **secret, size_t *len);

#endif
