/*
 * Avro schemas and serde (binary encoding with framing).
 *
 * Avro C 1.11 parses schemas and encodes/decodes generic values, but computes
 * no Parsing Canonical Form or fingerprint and its schema resolution cannot
 * fill reader defaults. This module adds both:
 *   - gh_avro_canonical_form()/gh_avro_crc64(): the spec's PCF and the
 *     CRC-64-AVRO (Rabin) fingerprint of it;
 *   - decoding with the writer's schema, then projecting by field name onto
 *     the reader's schema, filling the reader's defaults, applying the spec's
 *     promotions (int->long/float/double, long->float/double, float->double,
 *     string<->bytes), enums by symbol, unions by branch type/name.
 *     So adding a field with a default is a compatible change.
 *
 * Framing of a Kafka message value:
 *   - single-object encoding (default): C3 01 | 8-byte little-endian
 *     CRC-64-AVRO fingerprint of the writer schema's PCF | Avro binary body;
 *   - Confluent framing when schema.registry.url is set: 00 | 4-byte
 *     big-endian registry schema id | body, ids looked up in / registered
 *     with a Schema Registry over libcurl, subject "<topic>-value"
 *     (TopicNameStrategy), cached in memory.
 *
 * Schema set layout on disk (gh_schemas_load_dir):
 *   <dir>/<name>.avsc       current version of each named schema
 *   <dir>/history/<name>.v<N>.avsc
 *                           earlier versions, kept so that old messages still
 *                           decode (the writer schema is looked up by
 *                           fingerprint among all versions)
 *   <dir>/envelope.avsc     the change-event envelope template: for every
 *                           schema carrying "gridhub.entity": true, the set
 *                           composes a concrete envelope (see below).
 *
 * Envelope composition. For entity gridhub.canonical.<E> the set builds
 * gridhub.change.<E>Envelope: a copy of envelope.avsc with name
 * "<E>Envelope", whose `before` and `after` fields have type
 * ["null", gridhub.change.<E>Row]; <E>Row has the entity's fields, with
 * every field's type widened to a union that also admits
 * gridhub.change.Unchanged (an enum with the single symbol UNCHANGED),
 * appended as the last branch. A PostgreSQL TOASTed value that the update
 * did not change is carried as UNCHANGED, never as null.
 *
 * Logical types used: date (int days), timestamp-micros (long). Avro C
 * ignores logicalType; gh_avro_to_json() renders them as ISO-8601 strings.
 */
#ifndef GRIDHUB_AVRO_H
#define GRIDHUB_AVRO_H

#include <avro.h>
#include <jansson.h>
#include <stdint.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"
#include "gridhub/util.h"

/* ---- Canonical form and fingerprint ------------------------------------- */

/* Computes the Parsing Canonical Form of schema_json (Avro spec, "Parsing
 * Canonical Form for Schemas"). On success *pcf_out is a new string the
 * caller frees. */
gh_err_t gh_avro_canonical_form(const char *schema_json, char **pcf_out,
                                char *errstr, size_t errstr_size);

/* CRC-64-AVRO (the spec's Rabin fingerprint, empty = 0xc15d213aa4d7a795). */
uint64_t gh_avro_crc64(const void *data, size_t len);

/* ---- Schemas ------------------------------------------------------------ */

typedef struct gh_schema gh_schema_t; /* one parsed schema, immutable */
/* A set of schemas. Lookups and additions are locked, so one set can be
 * shared by threads (a registry serde adds to it while others decode);
 * schemas are only freed by gh_schemas_destroy. */
typedef struct gh_schemas gh_schemas_t;

/* Loads a schema set from `dir` (layout above). *out is owned by the caller
 * (gh_schemas_destroy). Errors name the file and what is wrong. */
gh_err_t gh_schemas_load_dir(gh_schemas_t **out, const char *dir, char *errstr,
                             size_t errstr_size);
/* The `schemas.dir` property every component has, and its value: the
 * configured directory, else the schemas/ directory of the source tree the
 * binary was built from (GH_SCHEMAS_DIR). Borrowed. */
#define GH_SCHEMAS_DIR_PROP                                                    \
    {                                                                          \
        "schemas.dir", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,                 \
            "Directory of the Avro schemas; default: schemas/ of the source "  \
            "tree "                                                            \
            "the binary was built from."                                       \
    }
const char *gh_schemas_dir(const gh_conf_t *conf);

/* An empty set, for tests and for registry-only use. */
gh_schemas_t *gh_schemas_new(void);
void gh_schemas_destroy(gh_schemas_t *set);

/* Parses schema_json and adds it (if its fingerprint is not there yet).
 * `current` != 0 makes it the current version for its full name.
 * *out (may be NULL) is borrowed from the set. */
gh_err_t gh_schemas_add_json(gh_schemas_t *set, const char *schema_json,
                             int current, const gh_schema_t **out, char *errstr,
                             size_t errstr_size);

/* Current version by full name ("gridhub.change.PersonEnvelope"); NULL if
 * none. Borrowed. */
const gh_schema_t *gh_schemas_get(const gh_schemas_t *set,
                                  const char *fullname);
/* The entity schema of an entity named as mappings and topics name it
 * ("household_member" -> gridhub.canonical.HouseholdMember) and, in
 * *envelope (may be NULL), its composed change envelope
 * (gridhub.change.HouseholdMemberEnvelope). NULL (and *envelope NULL) if
 * the set lacks either. Borrowed. */
const gh_schema_t *gh_schemas_entity(const gh_schemas_t *set,
                                     const char *entity,
                                     const gh_schema_t **envelope);
/* Any version by fingerprint; NULL if unknown. Borrowed. */
const gh_schema_t *gh_schemas_by_fingerprint(const gh_schemas_t *set,
                                             uint64_t fp);
/* Every schema of the set (current, history, composed, fetched), in the
 * order added: i < gh_schemas_count(set). Borrowed; a set only grows, so the
 * pointers stay valid until gh_schemas_destroy. */
size_t gh_schemas_count(const gh_schemas_t *set);
const gh_schema_t *gh_schemas_at(const gh_schemas_t *set, size_t i);

/* Accessors; returned pointers are borrowed from the schema. */
const char *gh_schema_fullname(const gh_schema_t *s);
const char *gh_schema_json(const gh_schema_t *s);      /* full JSON text */
const char *gh_schema_canonical(const gh_schema_t *s); /* PCF */
uint64_t gh_schema_fingerprint(const gh_schema_t *s);
avro_schema_t gh_schema_avro(const gh_schema_t *s);
/* The schema as parsed JSON (for defaults, docs, logical types), with every
 * name fully qualified: named types carry their full name in "name" and no
 * "namespace", references are full names. */
const json_t *gh_schema_jsonv(const gh_schema_t *s);
/* Resolves a type node taken from gh_schema_jsonv(s): a reference to a named
 * type yields its definition within s, anything else is returned as is;
 * NULL for a reference s does not define. Borrowed from the schema. */
const json_t *gh_schema_resolve_json(const gh_schema_t *s, const json_t *type);

/* Creates a generic value of the schema, zeroed, to be filled with the
 * avro_value_* API. The caller releases it with avro_value_decref(). */
gh_err_t gh_schema_new_value(const gh_schema_t *s, avro_value_t *out,
                             char *errstr, size_t errstr_size);

/* ---- Projection -----------------------------------------------------------
 */

/* Copies `src` (a value of writer schema `w`) into `dst` (a fresh generic
 * value of reader schema `r`), by name, filling the reader's defaults for
 * fields the writer lacks. Fails (GH_ERR_SCHEMA) where the spec says the
 * schemas do not match (e.g. a reader field without default that the writer
 * lacks), naming the field path. */
gh_err_t gh_avro_project(const gh_schema_t *w, avro_value_t *src,
                         const gh_schema_t *r, avro_value_t *dst, char *errstr,
                         size_t errstr_size);

/* ---- Compatibility ---------------------------------------------------------
 */

/* Static check of the Avro spec's "Schema Resolution" rules, as Confluent
 * Schema Registry's BACKWARD check: GH_OK if every value written with
 * `writer_json` can be read with `reader_json` (the newer version), i.e.
 * if gh_avro_project() would succeed for every such value. The rules are
 * the projection's: primitives equal or promoted (int->long/float/double,
 * long->float/double, float->double, string<->bytes); named types match by
 * unqualified name or a reader alias; a reader field is found in the writer
 * by name or one of its aliases, else needs a valid default; writer fields
 * the reader lacks are skipped; every writer enum symbol is in the reader
 * or the reader enum has a "default"; fixed sizes are equal; arrays and
 * maps by items/values; each writer union branch (or a non-union writer)
 * must resolve to the reader union branch the projection picks (same type
 * and name first, else the first promotion), and a non-union reader must
 * read every writer branch. Recursive schemas are fine.
 * Errors: GH_ERR_SCHEMA when incompatible, errstr listing every problem
 * with its path in the reader ("Person.sex: writer enum symbol OTHER
 * missing from reader enum Sex, which has no default"; "[]" is an array's
 * items, "{}" a map's values), separated by "; "; GH_ERR_PARSE or
 * GH_ERR_SCHEMA, naming the side, when a schema does not parse. Both
 * strings are borrowed; nothing is retained. */
gh_err_t gh_avro_check_backward(const char *writer_json,
                                const char *reader_json, char *errstr,
                                size_t errstr_size);
/* FULL compatibility: gh_avro_check_backward() both ways (the new version
 * reads the old one's data and the old reads the new's). Messages say
 * which direction failed. */
gh_err_t gh_avro_check_full(const char *old_json, const char *new_json,
                            char *errstr, size_t errstr_size);

/* The schema-evolution policy of a schema directory (layout above; see
 * schemas/README.md): for every <dir>/history/<name>.v<N>.avsc, the next
 * version (history/<name>.v<N+1>.avsc, or <dir>/<name>.avsc after the
 * highest N) must pass gh_avro_check_backward() against it, and so must
 * the current <dir>/<name>.avsc, which reads every retired version; the
 * versions of a name are numbered without gaps and end in a current file;
 * history files are named <name>.v<N>.avsc; and no two current files
 * define the same full type name. Every file must parse.
 * Returns GH_OK, GH_ERR_IO if `dir` cannot be listed, else GH_ERR_SCHEMA
 * with every problem found (not only the first) in errstr, "; "-separated,
 * each naming its file(s). */
gh_err_t gh_schemas_check_history(const char *dir, char *errstr,
                                  size_t errstr_size);

/* ---- JSON rendering -------------------------------------------------------
 */

/* Renders a value as natural JSON: records as objects, unions as the bare
 * branch value (the Unchanged enum as the string "__unchanged__"), bytes as
 * \u00XX strings, date as "YYYY-MM-DD", timestamp-micros as
 * "YYYY-MM-DDTHH:MM:SS.ffffffZ". `s` supplies logical types. New reference. */
json_t *gh_avro_to_json(const gh_schema_t *s, avro_value_t *v);

/* Fills `out` (a fresh generic value of schema `s`) from natural JSON as
 * gh_avro_to_json writes it, the other way: records from objects (a
 * missing member is null, allowed only for a nullable field, or an empty
 * array), nullable
 * unions from null or the value, enums from their symbol, date from
 * "YYYY-MM-DD" or days, longs (timestamps too) from integers. For the
 * views the hub derives in SQL (jsonb) rather than in C. GH_ERR_SCHEMA
 * naming the field path of the first value that does not fit. `j` is
 * borrowed. */
gh_err_t gh_avro_from_json(const gh_schema_t *s, const json_t *j,
                           avro_value_t *out, char *errstr, size_t errstr_size);

/* ---- Serde with framing ------------------------------------------------- */

typedef struct gh_serde gh_serde_t;

/* `set` is borrowed and must outlive the serde; writer schemas fetched from
 * the registry are added to it. registry_url NULL or "" selects single-object
 * encoding. Decoding accepts both framings either way (a Confluent-framed
 * message needs a registry). Registry requests time out after 5 s (connect)
 * / 10 s (total). Never returns NULL. */
gh_serde_t *gh_serde_new(gh_schemas_t *set, const char *registry_url);
void gh_serde_destroy(gh_serde_t *sd);

/* Appends the framed encoding of `v` (a value of schema `s`) to `out`.
 * `topic` selects the registry subject "<topic>-value" (ignored for
 * single-object). Registers the schema on first use of a subject. */
gh_err_t gh_serde_encode(gh_serde_t *sd, const char *topic,
                         const gh_schema_t *s, avro_value_t *v, gh_buf_t *out,
                         char *errstr, size_t errstr_size);

/* Decodes a framed message. The writer schema is found by fingerprint (or
 * registry id); if `reader` is not NULL the value is projected onto it.
 * On success *out_value is a new generic value of the reader schema (or of
 * the writer schema when reader is NULL) that the caller releases with
 * avro_value_decref(); *out_schema (may be NULL) receives the schema of the
 * returned value, borrowed from the set.
 * Errors: GH_ERR_SERDE for bad magic, truncated or trailing bytes, corrupt
 * body; GH_ERR_UNKNOWN_SCHEMA for an unknown fingerprint/id;
 * GH_ERR_SCHEMA when projection fails. Never crashes on arbitrary bytes. */
gh_err_t gh_serde_decode(gh_serde_t *sd, const void *buf, size_t len,
                         const gh_schema_t *reader, avro_value_t *out_value,
                         const gh_schema_t **out_schema, char *errstr,
                         size_t errstr_size);

#endif
