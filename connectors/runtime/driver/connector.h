/*
 * The generic change-data-capture connector: one department database in,
 * canonical Avro change events out. What the department is comes entirely
 * from configuration and its mapping file.
 *
 * Lifecycle (see docs/architecture.md, "Connector"):
 *   1. ensure the publication covers the mapped tables;
 *   2. if the slot exists and the state file records a finished snapshot
 *      for it, stream from the slot's confirmed position;
 *   3. otherwise (re)create the slot exporting a snapshot, read every mapped
 *      table inside that snapshot (op "r"), wait until Kafka acknowledged
 *      all of it, record the snapshot as done, then stream from the slot's
 *      consistent point: no gap, no overlap;
 *   4. stream: one event per row change (c/u/d, then a tombstone after a
 *      delete; t for truncate), confirming to PostgreSQL only LSNs whose
 *      events Kafka acknowledged.
 * Unreachable PostgreSQL or Kafka is retried with backoff; nothing is
 * confirmed that was not delivered.
 */
#ifndef GH_CONNECTOR_H
#define GH_CONNECTOR_H

#include "gridhub/conf.h"
#include "gridhub/error.h"

extern const gh_conf_prop_t gh_connector_props[];

/* Runs until a stop is requested (GH_ERR_STOPPED after a clean drain) or a
 * non-retryable error (returned, errstr filled). `conf` is borrowed. */
gh_err_t gh_connector_run(const gh_conf_t *conf, char *errstr,
                          size_t errstr_size);

#endif
