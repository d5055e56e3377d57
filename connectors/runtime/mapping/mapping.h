/*
 * Department-to-canonical mapping, loaded from a declarative file
 * (connectors/<department>/mapping.properties). The connector binary is
 * generic: a department is a directory of files, never C.
 *
 *   department=zongzhi
 *   tables=syrk                         # mapping ids, comma-separated
 *   table.syrk.source=public.zz_syrk    # schema.table in the department DB
 *   table.syrk.entity=person            # canonical entity
 * (schemas/person.avsc) table.syrk.field.source_key=rkbh    # canonical field =
 * column [| transform]... table.syrk.field.sex=xb | trim | code:sex
 *   table.syrk.field.birth_date=csrq | date:YYYYMMDD
 *   codes.sex.1=MALE                    # code table: source value -> canonical
 *   codes.sex.*=UNKNOWN                 # fallback; without it an unknown code
 *                                       # is a mapping error (dead letter)
 *   codes.grid.file=grid_crosswalk.csv  # `from,to` lines, relative to this
 * file table.syrk.filter=zt != '注销'       # rows failing it are not published
 *
 * A field's source is a column, a 'quoted literal', or several joined by
 * `+` (concatenation; NULL if any column is NULL).
 * Transforms: trim, upper, lower, fullwidth (full-width ASCII and U+3000 to
 * half-width), collapse (runs of spaces to one), nullif:<literal>,
 * date:<pattern>[;<pattern>...] (letters YYYY MM DD, other characters
 * literal; the first pattern that matches wins), code:<table> and its
 * synonym crosswalk:<table>. A table may be mapped several times (one id
 * per entity it feeds). The final
 * text is converted by the canonical field's Avro type: string as is,
 * int/long decimal, boolean t/f/true/false, enum by symbol, date from
 * YYYY-MM-DD, timestamp-micros from PostgreSQL's ISO timestamp text.
 * Canonical fields the file does not mention are null (they must be
 * nullable). `source_key` must be mapped: it is the Kafka key, so every
 * change of one source row lands in one partition, in order.
 */
#ifndef GH_MAPPING_H
#define GH_MAPPING_H

#include <avro.h>

#include "gridhub/avro.h"
#include "gridhub/error.h"
#include "gridhub/util.h"
#include "pgoutput.h"

typedef struct gh_mapping gh_mapping_t;
typedef struct gh_map_table gh_map_table_t;

/* Loads and validates a mapping file against the schema set (which must
 * outlive the mapping). Errors name file:line and the offending name. */
gh_mapping_t *gh_mapping_load(const char *path, const gh_schemas_t *schemas,
                              char *errstr, size_t errstr_size);
void gh_mapping_destroy(gh_mapping_t *m);

const char *gh_mapping_department(const gh_mapping_t *m);
int gh_mapping_table_count(const gh_mapping_t *m);
/* Borrowed. */
gh_map_table_t *gh_mapping_table(const gh_mapping_t *m, int i);
/* Every mapping of source table nsp.rel (a table may feed several
 * entities): fills out[0..max) and returns the total count. Borrowed. */
int gh_mapping_find_all(const gh_mapping_t *m, const char *nsp, const char *rel,
                        gh_map_table_t **out, int max);

const char *gh_map_table_id(const gh_map_table_t *t);
const char *gh_map_table_schema(const gh_map_table_t *t);
const char *gh_map_table_name(const gh_map_table_t *t);
const char *gh_map_table_entity(const gh_map_table_t *t);
const gh_schema_t *gh_map_table_envelope(const gh_map_table_t *t);
/* Distinct source columns the mapping reads, in a stable order (for the
 * snapshot's SELECT list). *n receives the count; borrowed. */
const char *const *gh_map_table_columns(const gh_map_table_t *t, int *n);

/* Binds the mapping to a relation layout (column names in the order values
 * will arrive). Returns GH_ERR_MAPPING if a mapped column is missing. */
gh_err_t gh_map_table_bind(gh_map_table_t *t, int ncols,
                           const char *const *names, char *errstr,
                           size_t errstr_size);

/* Fills `row` (a value of the entity's Row record type) from values laid
 * out as last bound, and appends the source_key text to `key`. Unchanged
 * TOAST values become UNCHANGED; columns absent from `vals` (ncols shorter,
 * as in a key-only old tuple) are null. With key_only (an old tuple
 * carrying only the replica identity), a NULL in a field that cannot be
 * null means "not sent" and becomes UNCHANGED. GH_ERR_MAPPING with the field,
 * the column and the reason when a value does not fit. */
gh_err_t gh_map_row(gh_map_table_t *t, const gh_pgo_value_t *vals, int nvals,
                    int key_only, avro_value_t *row, gh_buf_t *key,
                    char *errstr, size_t errstr_size);

/* Whether a row (laid out as last bound) passes the table's filter; 1 when
 * there is none. */
int gh_map_row_matches(const gh_map_table_t *t, const gh_pgo_value_t *vals,
                       int nvals);

#endif
