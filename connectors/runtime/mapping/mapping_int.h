/*
 * Internals of the mapping module shared by mapping.c (loading, checking,
 * binding) and mapping_row.c (turning a row into a canonical record).
 */
#ifndef GH_MAPPING_INT_H
#define GH_MAPPING_INT_H

#include <jansson.h>

#include "mapping.h"

typedef enum xf_kind {
    XF_TRIM,
    XF_UPPER,
    XF_LOWER,
    XF_NULLIF,
    XF_DATE,
    XF_CODE, /* code:<table> and crosswalk:<table> */
    XF_FULLWIDTH,
    XF_COLLAPSE,
} xf_kind_t;

typedef struct codes codes_t;

typedef struct xf {
    xf_kind_t kind;
    char *arg;
    codes_t *codes; /* XF_CODE, resolved after load */
} xf_t;

typedef enum target {
    T_STRING,
    T_INT,
    T_LONG,
    T_BOOL,
    T_DOUBLE,
    T_ENUM,
    T_DATE,
    T_TS_MICROS
} target_t;

/* One term of a field's source: a column or a quoted literal. */
typedef struct term {
    int literal;
    char *text;  /* column name or literal value */
    int col_pos; /* bound position of the column, -1 if absent */
} term_t;

typedef struct field {
    char *name;
    char *origin; /* file:line, for errors found after loading */
    term_t *terms;
    int nterms;
    xf_t *xfs;
    int nxf;
    int index; /* in the Row record */
    target_t target;
    int null_branch, value_branch, unchanged_branch; /* -1 when absent */
    avro_schema_t value_schema;
} field_t;

typedef enum filter_op {
    F_NONE,
    F_EQ,
    F_NE,
    F_IN,
    F_IS_NULL,
    F_NOT_NULL
} filter_op_t;

typedef struct filter {
    filter_op_t op;
    char *column;
    char **values;
    int nvalues;
    int col_pos;
} filter_t;

typedef struct code_entry {
    char *from, *to;
} code_entry_t;

struct codes {
    char *name;
    code_entry_t *e; /* sorted by `from` once loaded */
    int n;
    char *fallback;
    char *file; /* CSV source, if any */
};

struct gh_map_table {
    char *id, *schema, *table, *entity;
    char *origin;        /* the `tables=` line */
    char *entity_origin; /* the `table.<id>.entity=` line */
    const gh_schema_t *envelope;
    avro_schema_t row_schema;
    const json_t *entity_json;
    field_t *fields;
    int nfields;
    int key_field;
    filter_t filter;
    char **columns; /* distinct source columns read */
    int ncolumns;
};

struct gh_mapping {
    char *department;
    char *path;
    gh_map_table_t *tables;
    int ntables;
    codes_t *codes;
    int ncodes;
    const gh_schemas_t *schemas;
};

/* Looks a source value up in a code table (binary search); NULL if absent
 * and no fallback. Borrowed. */
const char *gh__codes_lookup(const codes_t *c, const char *from);

#endif
