/*
 * The subscriber view of a person (schemas/view_person.avsc,
 * gridhub.view.Person) encoded for the outbox.
 */
#ifndef GH_HUB_VIEW_H
#define GH_HUB_VIEW_H

#include <libpq-fe.h>
#include <stdint.h>

#include "golden.h"
#include "gridhub/avro.h"
#include "gridhub/util.h"

typedef struct gh_view gh_view_t;

/* One person as published; every pointer is borrowed for the call. */
typedef struct gh_view_person {
    const char *person_id;
    const char *value[GH_GOLDEN_NFIELDS]; /* golden values as text (dates
                                             YYYY-MM-DD), NULL = none */
    int nsources;
    const char *const *src_department;
    const char *const *src_key;
    int nprov; /* provenance entries */
    const char *const *prov_field;
    const char *const *prov_department;
    const char *const *prov_key; /* entries may be NULL */
    const int64_t *prov_at;      /* INT64_MIN = unknown */
    int nabsorbed;
    const char *const *absorbed;
    int64_t version;
    int64_t updated_us;
    const char *attrs; /* person_attr as JSON text (registration_type,
                          valid_until, party_member, volunteer,
                          staff_role, household_id); NULL = none */
} gh_view_person_t;

/* `serde` and `view` are borrowed; `topic` (for Schema Registry subjects)
 * is copied. Returns NULL with errstr if the schema cannot be instantiated. */
gh_view_t *gh_view_new(gh_serde_t *serde, const gh_schema_t *view,
                       const char *topic, char *errstr, size_t errstr_size);
void gh_view_destroy(gh_view_t *v);

/* Fills the view's value with p and returns it (owned by the view, valid
 * until its next fill). */
avro_value_t *gh_view_fill(gh_view_t *v, const gh_view_person_t *p);

/* The same from row i of a result with the columns person_id, version,
 * updated_at (microseconds), the seven golden fields as text, sources,
 * provenance and absorbed_ids as JSON text, and, anywhere after them, a
 * column named attrs (person_attr_json) if the result has one. */
avro_value_t *gh_view_fill_row(gh_view_t *v, PGresult *res, int i);

/* Encodes p into out (reset first). */
gh_err_t gh_view_encode(gh_view_t *v, const gh_view_person_t *p, gh_buf_t *out,
                        char *errstr, size_t errstr_size);

#endif
