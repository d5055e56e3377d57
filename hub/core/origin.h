/*
 * Where a change event may come from. Trust comes from configuration, not
 * from what a message says about itself: a source topic belongs to one
 * department (`<source.topic.prefix>.<department>.<entity>`), so an event
 * whose envelope names another department is forged or misrouted; and a
 * source position (LSN) far past the highest one the hub has accepted
 * from that department is implausible — it would make every genuine later
 * event of the row look like a replay and be skipped. Both go to the
 * dead-letter topic with the reason, never into the hub database.
 */
#ifndef GH_HUB_ORIGIN_H
#define GH_HUB_ORIGIN_H

#include <avro.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "gridhub/error.h"

typedef struct gh_origin gh_origin_t;

/* Reads source.topics, source.topic.prefix and source.lsn.max.jump from
 * conf (borrowed for the call). NULL with errstr naming the topic that
 * does not follow the naming rule or names an entity `schemas` (borrowed,
 * must outlive the handle) has no envelope for. Owned by the caller. */
gh_origin_t *gh_origin_new(const gh_conf_t *conf, const gh_schemas_t *schemas,
                           char *errstr, size_t errstr_size);
/* NULL is a no-op. */
void gh_origin_destroy(gh_origin_t *o);

/* The department a source topic belongs to; NULL for a topic not
 * configured. Borrowed. */
const char *gh_origin_department(const gh_origin_t *o, const char *topic);
/* The entity a source topic carries ("person", "grid", ...: the last part
 * of its name) and, in *envelope (may be NULL), the envelope its events
 * are read as; NULL for a topic not configured. Borrowed. */
const char *gh_origin_entity(const gh_origin_t *o, const char *topic,
                             const gh_schema_t **envelope);

/* Learns each department's highest accepted position from the hub
 * database (at the start of a session). */
gh_err_t gh_origin_load(gh_origin_t *o, PGconn *db, char *errstr,
                        size_t errstr_size);

/* Checks a decoded change envelope read from `topic`: 0 if it may be
 * applied (its position then counts as accepted), -1 with `why` saying
 * what is wrong (for the dead letter). */
int gh_origin_check(gh_origin_t *o, const char *topic, avro_value_t *env,
                    char *why, size_t why_size);

/* As gh_origin_check for a message that carries only a position (an
 * end-of-snapshot marker): 0 and *dept (borrowed) the topic's department
 * if the position is plausible. */
int gh_origin_check_position(gh_origin_t *o, const char *topic, int64_t lsn,
                             const char **dept, char *why, size_t why_size);

#endif
