/*
 * The hub service: consumes department change events in a consumer group,
 * applies them to the hub database (apply.h), commits Kafka offsets only
 * after the database transaction committed, and relays the transactional
 * outbox to the subscriber view topics.
 */
#ifndef GH_HUB_H
#define GH_HUB_H

#include "gridhub/conf.h"
#include "gridhub/error.h"

extern const gh_conf_prop_t gh_hub_props[];

/* Runs until a stop is requested (returns GH_ERR_STOPPED) or a
 * non-retryable error. `conf` is borrowed. */
gh_err_t gh_hub_run(const gh_conf_t *conf, char *errstr, size_t errstr_size);

#endif
