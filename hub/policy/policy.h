/*
 * The access policy (docs/policy.md): who receives which records and fields
 * of each view entity, transformed how, under which pseudonymous key.
 *
 * A policy is loaded from one properties file and checked against the view
 * schemas (the entities: schemas with "gridhub.view": "<entity>"); it is
 * immutable once loaded. A plan compiles it for one subscriber, one entity
 * and one moment (the grants active then, today's date for age()): the
 * subscriber's derived schema, and per record the scope decision and the
 * transformed value. Plans are what the hub's feeds run; a new moment that
 * changes a plan (a grant starting or lapsing, a date for age()) changes
 * its digest.
 */
#ifndef GH_POLICY_H
#define GH_POLICY_H

#include <avro.h>
#include <stdint.h>
#include <stdio.h>

#include "gridhub/avro.h"
#include "gridhub/error.h"

typedef struct gh_policy gh_policy_t;
typedef struct gh_policy_keys gh_policy_keys_t;
typedef struct gh_policy_plan gh_policy_plan_t;
typedef struct gh_policy_rec gh_policy_rec_t;

/* ---- Loading ------------------------------------------------------------ */

/* Loads the policy file at `path` against the view schemas of `schemas`
 * (borrowed; must outlive the policy). *out is the caller's
 * (gh_policy_destroy). GH_ERR_CONFIG with every error found in errstr, one
 * per line, each naming file:line and the offending name. */
gh_err_t gh_policy_load_file(const char *path, const gh_schemas_t *schemas,
                             gh_policy_t **out, char *errstr,
                             size_t errstr_size);
/* The same from `len` bytes of text (borrowed), named `name` in messages. */
gh_err_t gh_policy_load_text(const char *name, const char *text, size_t len,
                             const gh_schemas_t *schemas, gh_policy_t **out,
                             char *errstr, size_t errstr_size);
void gh_policy_destroy(gh_policy_t *p);

/* First 16 hex digits of the SHA-256 of the file's bytes. Borrowed. */
const char *gh_policy_version(const gh_policy_t *p);
/* The name it was loaded under (the path). Borrowed. */
const char *gh_policy_name(const gh_policy_t *p);

/* Warnings worth an operator's eye that are not errors (subscribers
 * sharing a key, clear record ids), one per line; "" if none. Borrowed. */
const char *gh_policy_warnings(const gh_policy_t *p);

/* ---- What it declares ----------------------------------------------------
 * Indexes run from 0 to the count - 1; strings are borrowed. */

int gh_policy_nsubscribers(const gh_policy_t *p);
int gh_policy_subscriber_find(const gh_policy_t *p, const char *name);
typedef struct gh_policy_subscriber {
    const char *name, *department, *role, *purpose, *principal, *group, *key,
        *origin;
} gh_policy_subscriber_t;
void gh_policy_subscriber(const gh_policy_t *p, int i,
                          gh_policy_subscriber_t *out);

int gh_policy_nentities(const gh_policy_t *p);
int gh_policy_entity_find(const gh_policy_t *p, const char *name);
const char *gh_policy_entity_name(const gh_policy_t *p, int i);
/* The entity's full view schema; borrowed from the schema set. */
const gh_schema_t *gh_policy_entity_schema(const gh_policy_t *p, int i);

/* Connector principals (connector.<department>.principal) and the hub's. */
int gh_policy_nconnectors(const gh_policy_t *p);
void gh_policy_connector(const gh_policy_t *p, int i, const char **department,
                         const char **principal);
const char *gh_policy_hub_principal(const gh_policy_t *p);

/* The next moment after now_us (microseconds since the epoch) at which a
 * grant starts or lapses; INT64_MAX if none. */
int64_t gh_policy_next_change(const gh_policy_t *p, int64_t now_us);

/* ---- Keys and pseudonyms ------------------------------------------------ */

/* Loads a key file (`<name>=<64+ hex digits>` lines). Refuses a file
 * readable by group or others. *out is the caller's. */
gh_err_t gh_policy_keys_load(const char *path, gh_policy_keys_t **out,
                             char *errstr, size_t errstr_size);
void gh_policy_keys_destroy(gh_policy_keys_t *k);
/* Checks that every key the policy's subscribers name is in the file. */
gh_err_t gh_policy_keys_check(const gh_policy_keys_t *k, const gh_policy_t *p,
                              char *errstr, size_t errstr_size);
/* Writes a new key file at `path` (mode 0600, refusing to overwrite) with a
 * fresh random 32-byte key for each key name the policy uses. */
gh_err_t gh_policy_keys_generate(const char *path, const gh_policy_t *p,
                                 char *errstr, size_t errstr_size);

/* Lowercase hex of the first 16 bytes of HMAC-SHA256(key, msg). */
void gh_policy_hmac_hex(const unsigned char *key, size_t keylen,
                        const char *msg, size_t msglen, char out[33]);

/* ---- Plans ---------------------------------------------------------------
 */

/* Compiles the rules of subscriber `sub` for entity `entity` at now_us:
 * derives its schema (added to `set`, which must outlive the plan) and
 * prepares the per-record work. `p` and `keys` are borrowed and must
 * outlive the plan. */
gh_err_t gh_policy_plan_new(const gh_policy_t *p, int sub, int entity,
                            int64_t now_us, const gh_policy_keys_t *keys,
                            gh_schemas_t *set, gh_policy_plan_t **out,
                            char *errstr, size_t errstr_size);
void gh_policy_plan_destroy(gh_policy_plan_t *pl);

/* The subscriber's schema for the entity (borrowed from the set). */
const gh_schema_t *gh_policy_plan_schema(const gh_policy_plan_t *pl);
/* 32 hex digits identifying everything the plan's output depends on (the
 * rules, the active grants, the key, the schema; today's date if age() is
 * used): equal digests, equal outputs for the same record. Borrowed. */
const char *gh_policy_plan_digest(const gh_policy_plan_t *pl);
int gh_policy_plan_subscriber(const gh_policy_plan_t *pl);
int gh_policy_plan_entity(const gh_policy_plan_t *pl);

/* A record of an entity prepared for evaluation: the full view value
 * (borrowed until the next set or destroy). One rec serves every plan of
 * the entity. */
gh_policy_rec_t *gh_policy_rec_new(const gh_policy_t *p, int entity);
void gh_policy_rec_destroy(gh_policy_rec_t *r);
void gh_policy_rec_set(gh_policy_rec_t *r, avro_value_t *full);

/* 1 if the record is in the subscriber's view. */
int gh_policy_plan_in_scope(const gh_policy_plan_t *pl,
                            const gh_policy_rec_t *r);
/* The record as the subscriber receives it: *out points to a value of the
 * plan's schema owned by the plan, valid until its next apply. */
gh_err_t gh_policy_plan_apply(gh_policy_plan_t *pl, const gh_policy_rec_t *r,
                              avro_value_t **out, char *errstr,
                              size_t errstr_size);
/* After gh_policy_plan_apply, how top-level field `field` was given for
 * that record: "clear", "hash", "year", "own", "mask F L" (written to out,
 * which needs 32 bytes, and returned), or NULL when it was withheld or is
 * not in the subscriber's schema. */
const char *gh_policy_plan_action(const gh_policy_plan_t *pl, const char *field,
                                  char *out, size_t outsz);
/* The message key of record `id` for the plan's subscriber. */
void gh_policy_plan_pseudonym(const gh_policy_plan_t *pl, const char *id,
                              char out[33]);

/* ---- Explanations and ACLs ---------------------------------------------- */

/* Prints to `out` the decisions for a subscriber and entity at now_us: the
 * row rule, and for each field (or only `field` if not NULL) its action
 * and the rules behind it. With `rec` (may be NULL) every condition is
 * evaluated on that record. GH_ERR_CONFIG for an unknown name. */
gh_err_t gh_policy_explain(const gh_policy_t *p, int sub, int entity,
                           const char *field, const gh_policy_rec_t *rec,
                           int64_t now_us, FILE *out, char *errstr,
                           size_t errstr_size);

/* Topic names the ACLs are written for; borrowed strings. */
typedef struct gh_policy_topics {
    const char *view_prefix;   /* hub.view */
    const char *source_prefix; /* gridhub */
    const char *dlq;           /* gridhub.dlq */
    const char *schemas;       /* _gridhub_schemas */
    const char *heartbeat;     /* gridhub.heartbeat */
    const char *hub_group;     /* gridhub-hub */
} gh_policy_topics_t;

/* Prints the kafka-acls.sh commands isolating every principal. */
void gh_policy_acls(const gh_policy_t *p, const gh_policy_topics_t *t,
                    FILE *out);

#endif
