/* `gridhub resync`: recovery when the broker lost messages before they were
 * read (docs/operations.md, "When the broker lost messages"). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "feed.h"
#include "connector.h"
#include "gridhub/avro.h"
#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "hub.h"
#include "mapping.h"
#include "origin.h"
#include "resolve.h"

static const gh_conf_prop_t props[] = {
    {"args", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "`department DEPT` | `view SUBSCRIBER`, as bare words."},
    {"connector.config", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "department: the department connector's properties file; its "
     "replication slot is dropped (the connector must be stopped) so that "
     "it takes a new snapshot at its next start."},
    GH_CONF_INCLUDE_TABLE(gh_hub_props),
    GH_CONF_END};

/* Records in the hub database that the hub starts each partition of
 * `topic` whose history has a gap at the end of its log (the new
 * snapshot's start); prints what is skipped. */
static gh_err_t accept_gap(rd_kafka_t *rk, PGconn *db, const char *topic,
                           long *skipped, char *err, size_t errsz) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t ke = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (ke || md->topic_cnt != 1 || md->topics[0].err) {
        rd_kafka_resp_err_t why = ke ? ke : md->topics[0].err;
        if (md) rd_kafka_metadata_destroy(md);
        return gh_seterr(err, errsz, GH_ERR_KAFKA, "%s: no metadata: %s", topic,
                         rd_kafka_err2str(why));
    }
    int np = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, p);
    ke = rd_kafka_committed(rk, l, 10000);
    gh_err_t e = GH_OK;
    if (ke)
        e = gh_seterr(err, errsz, GH_ERR_KAFKA,
                      "%s: committed offsets of the hub's group: %s", topic,
                      rd_kafka_err2str(ke));
    for (int p = 0; p < np && !e; p++) {
        int64_t lo = 0, hi = 0,
                at = l->elems[p].offset < 0 ? 0 : l->elems[p].offset;
        ke = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000);
        if (ke) {
            e = gh_seterr(err, errsz, GH_ERR_KAFKA, "%s [%d]: watermarks: %s",
                          topic, p, rd_kafka_err2str(ke));
            break;
        }
        if (lo <= at && at <= hi) continue; /* nothing lost here */
        /* The hub goes on at the end of the log as it is now: the new
         * snapshot the connector takes next starts there and supersedes
         * everything before it (what is gone and what is left alike), so
         * the broker evicting more of the old backlog in the meantime
         * cannot open a second gap. */
        char pt[16], fl[32], sk[32];
        snprintf(pt, sizeof(pt), "%d", p);
        snprintf(fl, sizeof(fl), "%" PRId64, hi);
        snprintf(sk, sizeof(sk), "%" PRId64, lo > at ? lo - at : 0);
        const char *pv[4] = {topic, pt, fl, sk};
        e = gh_pg_exec_what(
            db,
            "INSERT INTO accepted_gap (topic, part, floor, skipped) VALUES "
            "($1, $2, $3, $4) ON CONFLICT (topic, part) DO UPDATE SET floor = "
            "$3, skipped = accepted_gap.skipped + $4, accepted_at = now(), "
            "accepted_by = current_user",
            4, pv, "record the accepted gap", err, errsz);
        if (e) break;
        if (lo > at) {
            *skipped += (long)(lo - at);
            printf("  %s [%d]: skipping offsets %" PRId64 "..%" PRId64
                   " (%" PRId64 " messages the broker no longer holds, %" PRId64
                   " the new snapshot supersedes)\n",
                   topic, p, at, hi - 1, lo - at, hi - lo);
        } else {
            printf("  %s [%d]: the log ends at %" PRId64
                   " below the group's offset %" PRId64
                   ": going on from there after the new snapshot\n",
                   topic, p, hi, at);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return e;
}

/* Drops the connector's replication slot, so that its next start takes a
 * new snapshot (the connector must not be running). */
static gh_err_t drop_slot(const char *path, const char *dept, char *err,
                          size_t errsz) {
    gh_conf_t *cc = gh_conf_new("connector", gh_connector_props);
    gh_err_t e = gh_conf_load_file(cc, path, err, errsz);
    if (!e) e = gh_conf_check(cc, err, errsz);
    gh_schemas_t *set = NULL;
    if (!e) e = gh_schemas_load_dir(&set, gh_schemas_dir(cc), err, errsz);
    gh_mapping_t *map =
        e ? NULL
          : gh_mapping_load(gh_conf_get(cc, "mapping.file"), set, err, errsz);
    if (!e && !map) e = GH_ERR_MAPPING;
    if (!e && strcmp(gh_mapping_department(map), dept))
        e = gh_seterr(err, errsz, GH_ERR_CONFIG,
                      "%s is the connector of department %s, not %s", path,
                      gh_mapping_department(map), dept);
    char *slot = NULL;
    PGconn *db = NULL;
    if (!e) {
        const char *s = gh_conf_get(cc, "slot.name");
        slot = s ? gh_xstrdup(s) : gh_xasprintf("gridhub_%s", dept);
        db = gh_pg_connect(gh_conf_get(cc, "database.conninfo"), 0, err, errsz);
        if (!db) e = GH_ERR_PG_CONNECT;
    }
    if (!e) {
        const char *p[1] = {slot};
        PGresult *r = gh_pg_query_what(
            db,
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1",
            1, p, "find the slot", err, errsz);
        if (!r)
            e = GH_ERR_PG;
        else if (PQntuples(r) && !PQgetisnull(r, 0, 0))
            e = gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                          "slot %s is in use by server process %s: stop the "
                          "%s connector first",
                          slot, PQgetvalue(r, 0, 0), dept);
        else if (!PQntuples(r))
            printf("  slot %s does not exist: the connector takes a new "
                   "snapshot at its next start anyway\n",
                   slot);
        else if (!(e = gh_pg_exec_what(db,
                                       "SELECT pg_drop_replication_slot($1)", 1,
                                       p, "drop the slot", err, errsz)))
            printf("  dropped slot %s: the %s connector takes a new snapshot "
                   "at its next start\n",
                   slot, dept);
        PQclear(r);
    }
    PQfinish(db);
    free(slot);
    gh_mapping_destroy(map);
    gh_schemas_destroy(set);
    gh_conf_destroy(cc);
    return e;
}

static gh_err_t department(const gh_conf_t *conf, const char *dept, char *err,
                           size_t errsz) {
    gh_schemas_t *set = NULL;
    gh_err_t le = gh_schemas_load_dir(&set, gh_schemas_dir(conf), err, errsz);
    if (le) return le;
    gh_origin_t *o = gh_origin_new(conf, set, err, errsz);
    if (!o) {
        gh_schemas_destroy(set);
        return GH_ERR_CONFIG;
    }
    char **topics = NULL;
    int nt = 0;
    char **list = gh_conf_get_list(conf, "source.topics");
    for (int i = 0; list[i]; i++) {
        const char *d = gh_origin_department(o, list[i]);
        if (!d || strcmp(d, dept)) continue;
        topics = gh_xrealloc(topics, (size_t)(nt + 1) * sizeof(char *));
        topics[nt++] = gh_xstrdup(list[i]);
    }
    gh_conf_list_free(list);
    gh_origin_destroy(o);
    gh_schemas_destroy(set);
    if (!nt)
        return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                         "no topic of department %s in source.topics", dept);
    /* A consumer handle of the hub's group only to read its committed
     * offsets and the watermarks: it never joins the group. */
    rd_kafka_t *rk =
        gh_kafka_consumer_new(conf, gh_conf_get(conf, "group.id"),
                              "gridhub-resync", 0, NULL, NULL, err, errsz);
    PGconn *db = rk ? gh_pg_connect(gh_conf_get(conf, "database.conninfo"), 0,
                                    err, errsz)
                    : NULL;
    gh_err_t e = !rk ? GH_ERR_KAFKA : !db ? GH_ERR_PG_CONNECT : GH_OK;
    long skipped = 0;
    for (int i = 0; i < nt && !e; i++)
        e = accept_gap(rk, db, topics[i], &skipped, err, errsz);
    if (!e)
        printf("  the hub resumes after %ld lost messages of %s (recorded in "
               "accepted_gap)\n",
               skipped, dept);
    PQfinish(db);
    gh_kafka_consumer_close(rk, 10000);
    for (int i = 0; i < nt; i++)
        free(topics[i]);
    free(topics);
    const char *cc = gh_conf_get(conf, "connector.config");
    if (!e && cc) e = drop_slot(cc, dept, err, errsz);
    if (!e && !cc)
        printf(
            "  now start the %s connector once with --snapshot-mode always\n",
            dept);
    return e;
}

gh_err_t gh_cli_resend_view(const gh_conf_t *conf, const char *sub, char *err,
                            size_t errsz) {
    gh_schemas_t *set = NULL;
    gh_err_t e = gh_schemas_load_dir(&set, gh_schemas_dir(conf), err, errsz);
    if (e) return e;
    gh_serde_t *sd =
        gh_serde_new(set, gh_conf_get(conf, "schema.registry.url"));
    gh_feed_t *f = gh_feed_new(conf, set, sd, err, errsz);
    int s = f ? gh_policy_subscriber_find(gh_feed_policy(f), sub) : -1;
    PGconn *db = NULL;
    if (!f)
        e = GH_ERR_CONFIG;
    else if (s < 0)
        e = gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                      "%s is not a subscriber of policy %s", sub,
                      gh_conf_get(conf, "policy.file"));
    else if (!(db = gh_pg_connect(gh_conf_get(conf, "database.conninfo"), 0,
                                  err, errsz)))
        e = GH_ERR_PG_CONNECT;
    if (!e) e = gh_feed_resend(f, db, s, err, errsz);
    if (!e)
        printf("  queued a full re-send of %s's view (every record it may see, "
               "a tombstone for every one it held and lost); the running hub "
               "sends it within policy.check.interval.ms\n",
               sub);
    PQfinish(db);
    gh_feed_destroy(f);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
    return e;
}

static int run(gh_conf_t *conf) {
    char err[2048];
    char *a = gh_xstrdup(gh_conf_get(conf, "args")), *save = NULL;
    char *verb = strtok_r(a, ",", &save), *what = strtok_r(NULL, ",", &save);
    gh_err_t e;
    if (!verb || !what || strtok_r(NULL, ",", &save) ||
        (strcmp(verb, "department") && strcmp(verb, "view")))
        e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                      "expected `department DEPT` or `view SUBSCRIBER` (see "
                      "--help)");
    else if (!strcmp(verb, "department"))
        e = department(conf, what, err, sizeof(err));
    else
        e = gh_cli_resend_view(conf, what, err, sizeof(err));
    free(a);
    if (!e) return GH_EXIT_OK;
    fprintf(stderr, "gridhub resync: %s\n", err);
    return gh_cli_exit_code(e);
}

const gh_cli_cmd_t gh_cli_resync = {
    "resync",
    "recover after the broker lost messages: accept the gap and re-snapshot "
    "a department, or re-send a subscriber's whole view",
    "With the hub's properties file (the hub has stopped at the gap; stop "
    "the department's connector too):\n"
    "  gridhub resync department gongan -c hub.properties "
    "--connector-config gongan.properties\n"
    "    records in the hub database that the hub may go on past what the "
    "broker no longer holds of the department's topics, and drops the "
    "connector's replication slot: started again, the connector takes a new "
    "snapshot and the hub deletes the records the department no longer "
    "has.\n"
    "  gridhub resync view demo -c hub.properties\n"
    "    queues a re-send of subscriber demo's whole view (every record of "
    "each entity it may see, and a tombstone for each one it held and "
    "lost), which the running hub sends page by page between its batches "
    "(also `gridhub hub resnapshot --subscriber demo`).\n"
    "See docs/operations.md, \"When the broker lost messages\".",
    props,
    run,
    0};
