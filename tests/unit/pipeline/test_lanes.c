/* Persons first (hub/core/lanes.c): when the other entities' topics are
 * paused for a person backlog, and that they are never starved; and the
 * backlog behind a consumer's position, read off an in-process mock
 * cluster. */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <string.h>

#include "gridhub/broker.h"
#include "hub.h"
#include "lanes.h"

Test(lanes, a_backlog_of_persons_pauses_the_others) {
    /* running, a batch done since the last resume */
    cr_expect_eq(gh_lanes_decide(5000, 1000, -1, 60000, 1), 1);
    cr_expect_eq(gh_lanes_decide(1000, 1000, -1, 60000, 3), 1);
    /* paused, still a backlog, within the longest pause */
    cr_expect_eq(gh_lanes_decide(5000, 1000, 59999, 60000, 0), 1);
    /* paused, under the threshold but not drained (a tenth of it): the
     * last persons go alone, not with a full batch of the others */
    cr_expect_eq(gh_lanes_decide(999, 1000, 2000, 60000, 0), 1);
    cr_expect_eq(gh_lanes_decide(100, 1000, 2000, 60000, 0), 1);
}

Test(lanes, no_backlog_runs_every_topic) {
    cr_expect_eq(gh_lanes_decide(999, 1000, -1, 60000, 5), 0);
    cr_expect_eq(gh_lanes_decide(0, 1000, 2000, 60000, 0), 0);
    cr_expect_eq(gh_lanes_decide(99, 1000, 2000, 60000, 0), 0);
    /* no watermark seen yet: nothing is known to wait */
    cr_expect_eq(gh_lanes_decide(-1, 1000, -1, 60000, 5), 0);
    cr_expect_eq(gh_lanes_decide(-1, 1000, 100, 60000, 0), 0);
    /* 0 turns priority off, whatever waits */
    cr_expect_eq(gh_lanes_decide(1000000, 0, -1, 60000, 5), 0);
}

Test(lanes, the_others_are_never_starved) {
    /* paused as long as allowed: they run, */
    cr_expect_eq(gh_lanes_decide(1000000, 1000, 60000, 60000, 0), 0);
    /* for one batch at least before the next pause */
    cr_expect_eq(gh_lanes_decide(1000000, 1000, -1, 60000, 0), 0);
    cr_expect_eq(gh_lanes_decide(1000000, 1000, -1, 60000, 1), 1);
}

/* 30 messages in partition 0 of a topic, 12 consumed: 18 wait. Before the
 * first message the partition has no position and is not counted. */
Test(lanes, the_backlog_is_what_waits_behind_the_position) {
    char err[512];
    gh_conf_t *bc = gh_conf_new("broker", gh_broker_props);
    cr_assert_eq(gh_conf_set(bc, "test", "log.level", "error", err, sizeof err),
                 GH_OK, "%s", err);
    gh_broker_t *b = gh_broker_new(bc, err, sizeof err);
    gh_conf_destroy(bc);
    cr_assert_not_null(b, "%s", err);
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    rd_kafka_conf_set(pc, "bootstrap.servers", gh_broker_bootstraps(b), err,
                      sizeof err);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    for (int i = 0; i < 30; i++)
        cr_assert_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("backlog"),
                                       RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_VALUE("x", 1),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    cr_assert_eq(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    rd_kafka_conf_set(cc, "bootstrap.servers", gh_broker_bootstraps(b), err,
                      sizeof err);
    rd_kafka_conf_set(cc, "group.id", "lanes-test", err, sizeof err);
    rd_kafka_conf_set(cc, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(gh_lanes_backlog(c), 0, "nothing assigned, nothing waits");
    rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(as, "backlog", 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    cr_assert_eq(rd_kafka_assign(c, as), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(as);
    cr_assert_eq(gh_lanes_backlog(c), 0, "no position yet: not counted");
    int got = 0;
    for (int i = 0; i < 200 && got < 12; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (m && !m->err) got++;
        if (m) rd_kafka_message_destroy(m);
    }
    cr_assert_eq(got, 12);
    cr_assert_eq(gh_lanes_backlog(c), 18);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    gh_broker_destroy(b);
}

/* A lane entity the schemas do not know (a typo) stops the hub at start,
 * naming it; without the check it would stay paused, silently. */
Test(lanes, an_unknown_lane_entity_is_a_configuration_error) {
    char err[1024];
    gh_schemas_t *set = NULL;
    cr_assert_eq(
        gh_schemas_load_dir(&set, GH_SOURCE_DIR "/schemas", err, sizeof(err)),
        GH_OK, "%s", err);
    gh_conf_t *c = gh_conf_new("hub", gh_hub_props);
    cr_assert_eq(gh_lanes_check(c, set, err, sizeof(err)), GH_OK, "%s", err);
    cr_assert_eq(gh_conf_set(c, "-X", "priority.person.lane",
                             "person, household", err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_assert_eq(gh_lanes_check(c, set, err, sizeof(err)), GH_OK, "%s", err);
    cr_assert_eq(gh_conf_set(c, "-X", "priority.person.lane",
                             "person,buildings", err, sizeof(err)),
                 GH_OK, "%s", err);
    err[0] = '\0';
    cr_assert_eq(gh_lanes_check(c, set, err, sizeof(err)), GH_ERR_CONFIG);
    cr_assert(strstr(err, "priority.person.lane") &&
                  strstr(err, "\"buildings\""),
              "%s", err);
    gh_conf_destroy(c);
    gh_schemas_destroy(set);
}
