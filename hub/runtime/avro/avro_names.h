/*
 * Avro name resolution shared by the canonical-form writer and the schema
 * set (internal to hub/runtime/avro).
 */
#ifndef GH_AVRO_NAMES_H
#define GH_AVRO_NAMES_H

/* Full name of `name` seen inside namespace `ns` (NULL or "" for none): a
 * dotted name is already full. New string, caller frees. */
char *gh__avro_fullname(const char *name, const char *ns);

/* Namespace part of a full name, as a new string ("" for none). */
char *gh__avro_namespace_of(const char *fullname);

#endif
