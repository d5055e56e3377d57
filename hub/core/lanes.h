/*
 * Persons first: while a backlog of person change events waits, the
 * hub's consumer pauses the other entities' topics (households,
 * registrations, staff, events...), so a bulk load of those never delays
 * identity resolution. The entities priority.person.lane names (grids
 * and buildings by default: their views need no person) are read beside
 * the persons. The paused topics lose nothing: they resume where
 * they stopped, when the person backlog falls under a tenth of the
 * threshold, and at the latest after `priority.person.max.ms` (then for
 * one batch at least), so a steady flood of persons cannot starve them.
 * docs/grid.md, "Persons first".
 */
#ifndef GH_HUB_LANES_H
#define GH_HUB_LANES_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "gridhub/error.h"
#include "origin.h"

typedef struct gh_lanes gh_lanes_t;

/* Reads priority.person.lag, priority.person.max.ms and
 * priority.person.lane from conf (borrowed for the call); `origin` is borrowed
 * and must outlive the handle. Owned by the caller. */
gh_lanes_t *gh_lanes_new(const gh_conf_t *conf, const gh_origin_t *origin);
/* NULL is a no-op. */
void gh_lanes_destroy(gh_lanes_t *l);

/* At start: GH_ERR_CONFIG with errstr naming an entity of
 * priority.person.lane that `schemas` has no envelope for (a typo such as
 * "buildings" would otherwise leave that entity paused, silently). Both
 * borrowed for the call. */
gh_err_t gh_lanes_check(const gh_conf_t *conf, const gh_schemas_t *schemas,
                        char *errstr, size_t errstr_size);

/* Before each batch: measures the person topics' backlog on consumer `c`
 * (positions, or committed offsets where nothing was read yet, against
 * the high watermarks of its last fetches) and pauses or resumes the
 * other topics' partitions it is assigned. May wait up to 1 s for the
 * group coordinator once per assignment. */
void gh_lanes_update(gh_lanes_t *l, rd_kafka_t *c);

/* Messages waiting in every partition consumer `c` is assigned that it
 * has a position in (high watermarks of its last fetches less positions;
 * no request to the cluster); -1 when the assignment is not known. */
int64_t gh_lanes_backlog(rd_kafka_t *c);

/* The decision alone, for a backlog of `lag` person messages (-1:
 * unknown): 1 to pause the other topics, 0 to let them run. `paused_ms`
 * is how long they have been paused (-1: they run); `ran_batches` how
 * many batches they ran since they were last paused. */
int gh_lanes_decide(int64_t lag, int64_t threshold, int64_t paused_ms,
                    int64_t max_ms, int ran_batches);

#endif
