/* Internals of the policy module, shared by its files. */
#ifndef GH_POLICY_INT_H
#define GH_POLICY_INT_H

#include <jansson.h>
#include <stdint.h>

#include "gridhub/util.h"
#include "policy.h"

/* ---- Entities (entity.c) ------------------------------------------------ */

typedef enum pkind {
    PK_STRING,
    PK_ENUM,
    PK_DATE,
    PK_TIMESTAMP, /* long, timestamp-micros */
    PK_INT,       /* int or long */
    PK_BOOL,
    PK_ARRAY_STRING,
    PK_ARRAY_RECORD,
    PK_OTHER
} pkind_t;

/* A field of an entity's view: top-level ones first (schema order), then
 * the fields of the records inside arrays, named "<array>.<field>". */
typedef struct pfield {
    char *name;
    const char *leaf; /* name of the field itself (points into name) */
    int parent;       /* -1 at top level, else the array field's index */
    pkind_t kind;
    int nullable;        /* union with null */
    const json_t *fjson; /* the field object of the schema's JSON */
    const json_t *type;  /* its type, references resolved */
    const json_t *item;  /* arrays: the item type, resolved */
    const char *ref;     /* "gridhub.ref" entity, or NULL */
    int is_key;          /* the record id ("gridhub.view.key") */
    int has_dept;        /* array of records with a string department */
    int sub_first, nsub; /* arrays of records: their fields' indexes */
} pfield_t;

typedef struct pentity {
    char *name;
    const gh_schema_t *schema;
    pfield_t *f;
    int nf, ntop;
    int key;     /* index of the key field */
    int sources; /* index of "sources" (records with department), or -1 */
} pentity_t;

/* Builds the entities from every view schema of the set. Errors name the
 * schema. */
gh_err_t gh__policy_entities(const gh_schemas_t *set, pentity_t **out, int *n,
                             char *errstr, size_t errstr_size);
void gh__policy_entities_free(pentity_t *e, int n);
int gh__policy_field_find(const pentity_t *e, const char *name);

/* ---- Conditions (cond.c) ------------------------------------------------ */

typedef struct pcond pcond_t;

/* A value of a record's field as conditions see it. */
typedef struct pval {
    int isnull;
    const char *s; /* text fields (dates as YYYY-MM-DD) */
    int64_t n;     /* number fields */
} pval_t;

/* What a condition is evaluated on: the record's top-level values, the
 * departments of its sources, the subscriber's department and the date. */
typedef struct pctx {
    const pval_t *v;
    const char *const *depts;
    int ndepts;
    const char *own;
    int64_t today; /* days since 1970-01-01, local date */
} pctx_t;

enum { PC_FALSE = 0, PC_TRUE = 1, PC_UNKNOWN = 2 };

/* Parses `text` for entity e. On error NULL, with errstr saying what was
 * expected where ("at column 12: ..."). */
pcond_t *gh__cond_parse(const char *text, const pentity_t *e, char *errstr,
                        size_t errstr_size);
void gh__cond_free(pcond_t *c);
int gh__cond_eval(const pcond_t *c, const pctx_t *x);
/* 1 if the condition uses age() (its value changes with the date). */
int gh__cond_uses_age(const pcond_t *c);
/* 1 if it is true whatever the record and subscriber: `all`, `1 = 1`. */
int gh__cond_is_all(const pcond_t *c);
/* The text it was parsed from. Borrowed. */
const char *gh__cond_text(const pcond_t *c);

/* ---- Rules (policy.c) --------------------------------------------------- */

typedef enum pact_kind {
    PA_DROP = 0,
    PA_HASH,
    PA_YEAR,
    PA_MASK,
    PA_OWN,
    PA_CLEAR,
    PA_INHERIT /* a sub-field without a line: its array's action */
} pact_kind_t;

typedef struct pact {
    pact_kind_t k;
    int first, last; /* mask */
} pact_t;

typedef enum prule_kind { PR_ROWS, PR_FIELD, PR_DENY, PR_GRANT } prule_kind_t;

typedef struct prule {
    prule_kind_t kind;
    int sub; /* -1: every subscriber ("*", denies only) */
    int entity;
    int field;     /* -1: a row rule; -2: "*" */
    pact_t act;    /* PR_FIELD, PR_GRANT */
    pcond_t *cond; /* rows, deny condition, grant rows (NULL = all) */
    char *key;     /* the property's key, for explanations */
    char *origin;  /* "file:line" */
    int grant;     /* PR_GRANT: index in the policy's grants */
} prule_t;

typedef struct pgrant {
    char *name, *purpose, *approved_by, *origin;
    int sub, entity;
    int64_t from_us, until_us; /* from_us INT64_MIN when unset */
} pgrant_t;

typedef struct psub {
    char *name, *dept, *role, *purpose, *principal, *group, *key, *origin;
} psub_t;

struct gh_policy {
    char *name;
    char version[17];
    char *warnings;
    psub_t *subs;
    int nsubs;
    pentity_t *ents;
    int nents;
    prule_t *rules;
    int nrules;
    pgrant_t *grants;
    int ngrants;
    char **conn_dept, **conn_principal;
    int nconn;
    char *hub_principal;
};

/* Ranks actions by how much they reveal (docs/policy.md, "Which action
 * wins"): a higher number reveals more. */
int gh__policy_act_rank(pact_t a);
/* "mask 3 4", "clear", ... into out. */
void gh__policy_act_text(pact_t a, char *out, size_t size);
/* 1 if grant g is active at now_us. */
int gh__policy_grant_active(const pgrant_t *g, int64_t now_us);

/* Local date (days since the epoch) of a moment. */
int64_t gh__policy_local_day(int64_t now_us);

/* ---- Records (plan.c) ---------------------------------------------------- */

struct gh_policy_rec {
    const gh_policy_t *p;
    const pentity_t *e;
    avro_value_t *full;
    pval_t *v; /* per top-level field */
    char (*date)[11];
    const char **depts;
    int ndepts, capdepts;
};

/* The evaluation context of a record for subscriber `sub` on day `today`. */
void gh__policy_ctx(const gh_policy_rec_t *r, int sub, int64_t today,
                    pctx_t *x);

#endif
