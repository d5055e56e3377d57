/* Persons first (lanes.h). The backlog is the assigned person partitions'
 * high watermarks, as the consumer's fetches last saw them, less its
 * positions: no request to the cluster per batch. A partition nothing was
 * consumed from yet has no position; its committed offset (asked once per
 * assignment) stands in for it, or its low watermark if the group never
 * committed one (the hub reads a new partition from its start). */
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/util.h"
#include "lanes.h"

#define LOG "hub"

struct gh_lanes {
    const gh_origin_t *origin;
    int64_t threshold; /* person messages waiting; 0: never pause */
    /* priority.person.lane (NULL-terminated): the entities read beside the
     * persons during a backlog, person among them */
    char **lane;
    int64_t max_ms;
    int paused;
    int64_t paused_at; /* ms */
    int ran;           /* batches since the last resume */
    /* The assigned person partitions and where the consumer started
     * each (committed offset; RD_KAFKA_OFFSET_INVALID: none, -2: not
     * known, the cluster did not answer). NULL until asked. */
    rd_kafka_topic_partition_list_t *start;
};

gh_lanes_t *gh_lanes_new(const gh_conf_t *conf, const gh_origin_t *origin) {
    gh_lanes_t *l = gh_xcalloc(1, sizeof(*l));
    l->origin = origin;
    l->threshold = gh_conf_get_int(conf, "priority.person.lag");
    l->max_ms = gh_conf_get_int(conf, "priority.person.max.ms");
    l->ran = 1;
    l->lane = gh_conf_get_list(conf, "priority.person.lane");
    return l;
}

void gh_lanes_destroy(gh_lanes_t *l) {
    if (!l) return;
    if (l->start) rd_kafka_topic_partition_list_destroy(l->start);
    gh_conf_list_free(l->lane);
    free(l);
}

gh_err_t gh_lanes_check(const gh_conf_t *conf, const gh_schemas_t *schemas,
                        char *errstr, size_t errstr_size) {
    char **lane = gh_conf_get_list(conf, "priority.person.lane");
    gh_err_t e = GH_OK;
    for (int i = 0; !e && lane[i]; i++)
        if (!gh_schemas_entity(schemas, lane[i], NULL))
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "priority.person.lane: no entity \"%s\" in "
                          "schemas.dir (no %s.avsc marked gridhub.entity)",
                          lane[i], lane[i]);
    gh_conf_list_free(lane);
    return e;
}

int gh_lanes_decide(int64_t lag, int64_t threshold, int64_t paused_ms,
                    int64_t max_ms, int ran_batches) {
    if (threshold <= 0 || lag < 0) return 0;
    if (paused_ms < 0) /* running: a backlog, and they had their batch */
        return lag >= threshold && ran_batches > 0;
    /* Paused until the persons are (nearly) drained, not merely under the
     * threshold: resumed at 999 waiting, the last persons would share a
     * batch with a full load of the others. */
    return lag >= (threshold + 9) / 10 && paused_ms < max_ms;
}

static int is_person(const gh_lanes_t *l, const char *topic) {
    const char *ent = gh_origin_entity(l->origin, topic, NULL);
    return ent && !strcmp(ent, "person");
}

/* Whether a topic is read beside the persons (never paused): the persons'
 * own, and those of the entities priority.person.lane names. */
static int in_lane(const gh_lanes_t *l, const char *topic) {
    const char *ent = gh_origin_entity(l->origin, topic, NULL);
    if (!ent) return 0;
    if (!strcmp(ent, "person")) return 1;
    for (int i = 0; l->lane[i]; i++)
        if (!strcmp(ent, l->lane[i])) return 1;
    return 0;
}

/* Whether a and b name the same partitions, in the same order. */
static int same_partitions(const rd_kafka_topic_partition_list_t *a,
                           const rd_kafka_topic_partition_list_t *b) {
    if (!a || !b || a->cnt != b->cnt) return 0;
    for (int i = 0; i < a->cnt; i++)
        if (a->elems[i].partition != b->elems[i].partition ||
            strcmp(a->elems[i].topic, b->elems[i].topic))
            return 0;
    return 1;
}

/* The committed offsets of the person partitions `pos`, asked once per
 * assignment (a round trip to the group coordinator, at most 1 s). */
static void learn_start(gh_lanes_t *l, rd_kafka_t *c,
                        const rd_kafka_topic_partition_list_t *pos) {
    if (same_partitions(l->start, pos)) return;
    if (l->start) rd_kafka_topic_partition_list_destroy(l->start);
    l->start = rd_kafka_topic_partition_list_copy(pos);
    rd_kafka_resp_err_t err = rd_kafka_committed(c, l->start, 1000);
    for (int i = 0; i < l->start->cnt; i++)
        if (err || l->start->elems[i].err) l->start->elems[i].offset = -2;
}

/* The person partitions' backlog; -1 when none is known yet. */
static int64_t person_lag(gh_lanes_t *l, rd_kafka_t *c,
                          rd_kafka_topic_partition_list_t *as) {
    rd_kafka_topic_partition_list_t *pos =
        rd_kafka_topic_partition_list_new(as->cnt);
    for (int i = 0; i < as->cnt; i++)
        if (is_person(l, as->elems[i].topic))
            rd_kafka_topic_partition_list_add(pos, as->elems[i].topic,
                                              as->elems[i].partition);
    int64_t lag = -1;
    if (pos->cnt && !rd_kafka_position(c, pos)) {
        learn_start(l, c, pos);
        for (int i = 0; i < pos->cnt; i++) {
            int64_t lo = -1, hi = -1;
            rd_kafka_topic_partition_t *p = &pos->elems[i];
            if (rd_kafka_get_watermark_offsets(c, p->topic, p->partition, &lo,
                                               &hi) ||
                hi < 0)
                continue;
            int64_t at = p->offset;
            if (at < 0) {
                int64_t st = l->start->elems[i].offset;
                if (st == -2) continue; /* not known: not counted */
                at = st >= 0 ? st : lo < 0 ? 0 : lo;
            }
            lag = (lag < 0 ? 0 : lag) + (hi > at ? hi - at : 0);
        }
    }
    rd_kafka_topic_partition_list_destroy(pos);
    return lag;
}

int64_t gh_lanes_backlog(rd_kafka_t *c) {
    rd_kafka_topic_partition_list_t *as = NULL;
    if (rd_kafka_assignment(c, &as) || !as) return -1;
    int64_t n = rd_kafka_position(c, as) ? -1 : 0;
    for (int i = 0; n >= 0 && i < as->cnt; i++) {
        rd_kafka_topic_partition_t *p = &as->elems[i];
        int64_t lo = -1, hi = -1;
        if (p->offset < 0 ||
            rd_kafka_get_watermark_offsets(c, p->topic, p->partition, &lo, &hi))
            continue;
        if (hi > p->offset) n += hi - p->offset;
    }
    rd_kafka_topic_partition_list_destroy(as);
    return n;
}

/* Pauses (or resumes) every assigned partition of the other topics. */
static void set_paused(gh_lanes_t *l, rd_kafka_t *c,
                       rd_kafka_topic_partition_list_t *as, int pause) {
    rd_kafka_topic_partition_list_t *others =
        rd_kafka_topic_partition_list_new(as->cnt);
    for (int i = 0; i < as->cnt; i++)
        if (!in_lane(l, as->elems[i].topic))
            rd_kafka_topic_partition_list_add(others, as->elems[i].topic,
                                              as->elems[i].partition);
    rd_kafka_resp_err_t err = !others->cnt ? RD_KAFKA_RESP_ERR_NO_ERROR
                              : pause ? rd_kafka_pause_partitions(c, others)
                                      : rd_kafka_resume_partitions(c, others);
    if (err)
        gh_log_warn(LOG, "%s the other entities' topics: %s",
                    pause ? "pausing" : "resuming", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(others);
}

void gh_lanes_update(gh_lanes_t *l, rd_kafka_t *c) {
    if (!l || l->threshold <= 0) return;
    rd_kafka_topic_partition_list_t *as = NULL;
    if (rd_kafka_assignment(c, &as) || !as) return;
    int64_t now = gh_now_ms();
    int64_t lag = person_lag(l, c, as);
    int pause =
        gh_lanes_decide(lag, l->threshold, l->paused ? now - l->paused_at : -1,
                        l->max_ms, l->ran);
    if (pause && !l->paused) {
        l->paused = 1;
        l->paused_at = now;
        gh_log_info(LOG,
                    "%lld person messages wait: the other entities' topics "
                    "are paused until fewer than %lld do (at most %lld ms)",
                    (long long)lag, (long long)((l->threshold + 9) / 10),
                    (long long)l->max_ms);
    } else if (!pause && l->paused) {
        l->paused = 0;
        l->ran = 0;
        gh_log_info(LOG,
                    "the other entities' topics resume after %lld ms (%lld "
                    "person messages wait)",
                    (long long)(now - l->paused_at), (long long)lag);
    } else if (!l->paused) {
        l->ran++;
    }
    /* Paused again each time (a rebalance may have assigned partitions
     * that were not), resumed only once: each call discards what the
     * consumer prefetched for them. */
    if (l->paused)
        set_paused(l, c, as, 1);
    else if (l->ran == 0)
        set_paused(l, c, as, 0);
    rd_kafka_topic_partition_list_destroy(as);
}
