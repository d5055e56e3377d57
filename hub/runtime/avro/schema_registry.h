/*
 * Internal: a minimal Confluent Schema Registry client (REST over libcurl),
 * just what Confluent framing needs:
 *   POST {url}/subjects/{subject}/versions  {"schema": "<json>"} -> {"id": N}
 *   GET  {url}/schemas/ids/{id}                                  -> {"schema":
 * "<json>"} Results are cached for the life of the client (ids are immutable in
 * a registry), so each subject/schema pair and each id costs one request.
 * Requests time out (connect 5 s, total 10 s) so a dead registry fails
 * the call instead of stalling a pipeline. Thread-safe.
 */
#ifndef GRIDHUB_SCHEMA_REGISTRY_H
#define GRIDHUB_SCHEMA_REGISTRY_H

#include <stdint.h>

#include "gridhub/error.h"

typedef struct gh_registry gh_registry_t;

/* `url` (e.g. "http://registry:8081") is copied; a trailing '/' is
 * dropped. Never returns NULL. */
gh_registry_t *gh_registry_new(const char *url);
void gh_registry_destroy(gh_registry_t *reg);
const char *gh_registry_url(const gh_registry_t *reg);

/* The id of schema_json under `subject`, registering it if needed.
 * `fp` is the schema's fingerprint, the cache key with the subject.
 * Errors (GH_ERR_HTTP) name the URL and the HTTP status and body. */
gh_err_t gh_registry_register(gh_registry_t *reg, const char *subject,
                              const char *schema_json, uint64_t fp,
                              int32_t *id_out, char *errstr,
                              size_t errstr_size);

/* The schema text registered under `id`. *json_out is borrowed from the
 * client's cache and stays valid until gh_registry_destroy. An id the
 * registry does not know is GH_ERR_UNKNOWN_SCHEMA; other failures
 * GH_ERR_HTTP. */
gh_err_t gh_registry_schema_by_id(gh_registry_t *reg, int32_t id,
                                  const char **json_out, char *errstr,
                                  size_t errstr_size);

#endif
