/*
 * The schemas topic (gridhub/schema_topic.h) against an in-process mock
 * cluster (gh_broker_, librdkafka's rdkafka_mock): what a load accepts and
 * what it skips. Records are written with a plain producer, so a test can
 * forge what gridhub never writes.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/avro.h"
#include "gridhub/broker.h"
#include "gridhub/kafka.h"
#include "gridhub/schema_topic.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

#define TOPIC "_gridhub_schemas"

static const char *const SCHEMA_A =
    "{\"type\":\"record\",\"name\":\"A\",\"namespace\":\"t.st\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"long\"},"
    "{\"name\":\"d\",\"type\":{\"type\":\"int\",\"logicalType\":\"date\"}}]}";
static const char *const SCHEMA_B =
    "{\"type\":\"record\",\"name\":\"B\",\"namespace\":\"t.st\",\"fields\":["
    "{\"name\":\"s\",\"type\":[\"null\",\"string\"],\"default\":null}]}";
static const char *const SCHEMA_C =
    "{\"type\":\"enum\",\"name\":\"C\",\"namespace\":\"t.st\","
    "\"symbols\":[\"X\",\"Y\"]}";

static const gh_conf_prop_t props[] = {GH_KAFKA_CONF_PROPS, GH_CONF_END};

/* The cluster and a client configuration pointing at it. */
typedef struct fixture {
    gh_broker_t *broker;
    gh_conf_t *conf;
    rd_kafka_t *producer;
} fixture_t;

static fixture_t fx;

static void setup(void) {
    char err[512];
    gh_conf_t *bc = gh_conf_new("broker", gh_broker_props);
    cr_assert_eq(gh_conf_set(bc, "test", "log.level", "error", err, sizeof err),
                 GH_OK, "%s", err);
    fx.broker = gh_broker_new(bc, err, sizeof err);
    gh_conf_destroy(bc);
    cr_assert_not_null(fx.broker, "%s", err);
    fx.conf = gh_conf_new("test", props);
    cr_assert_eq(gh_conf_set(fx.conf, "test", "bootstrap.servers",
                             gh_broker_bootstraps(fx.broker), err, sizeof err),
                 GH_OK, "%s", err);
    cr_assert_eq(
        gh_conf_set(fx.conf, "test", "kafka.log_level", "2", err, sizeof err),
        GH_OK, "%s", err);
    fx.producer =
        gh_kafka_producer_new(fx.conf, "test", NULL, NULL, err, sizeof err);
    cr_assert_not_null(fx.producer, "%s", err);
}

static void teardown(void) {
    gh_kafka_producer_close(fx.producer, 5000);
    gh_conf_destroy(fx.conf);
    gh_broker_destroy(fx.broker);
    memset(&fx, 0, sizeof fx);
}

TestSuite(schema_topic, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers -------------------------------------------------------------
 */

static uint64_t fingerprint_of(const char *json) {
    char err[256], *pcf = NULL;
    cr_assert_eq(gh_avro_canonical_form(json, &pcf, err, sizeof err), GH_OK,
                 "%s", err);
    uint64_t fp = gh_avro_crc64(pcf, strlen(pcf));
    free(pcf);
    return fp;
}

static char *key_of(const char *json) {
    char k[17];
    gh_schema_topic_key(fingerprint_of(json), k);
    return gh_xstrdup(k);
}

/* Queues one raw record (key/value may be NULL) and waits until the
 * cluster has it. */
static void produce_raw(const char *key, const void *value, size_t vlen) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        fx.producer, RD_KAFKA_V_TOPIC(TOPIC),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)value, vlen), RD_KAFKA_V_END);
    cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(e));
    cr_assert_eq(rd_kafka_flush(fx.producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "flush");
}

static void produce_str(const char *key, const char *value) {
    produce_raw(key, value, value ? strlen(value) : 0);
}

static void publish(gh_schemas_t *set, const char *json) {
    char err[512];
    const gh_schema_t *s = NULL;
    cr_assert_eq(gh_schemas_add_json(set, json, 1, &s, err, sizeof err), GH_OK,
                 "%s", err);
    cr_assert_eq(
        gh_schema_topic_publish(fx.producer, TOPIC, s, err, sizeof err), GH_OK,
        "%s", err);
    cr_assert_eq(rd_kafka_flush(fx.producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR,
                 "flush");
}

static size_t load(gh_schemas_t *set) {
    char err[512];
    size_t added = 99;
    gh_err_t e = gh_schema_topic_load(set, fx.conf, TOPIC, 20000, &added, err,
                                      sizeof err);
    cr_assert_eq(e, GH_OK, "load: %s (%s)", err, gh_strerror(e));
    return added;
}

static int has(const gh_schemas_t *set, const char *json) {
    return gh_schemas_by_fingerprint(set, fingerprint_of(json)) != NULL;
}

/* ---- tests ---------------------------------------------------------------
 */

Test(schema_topic, key_is_16_lowercase_hex) {
    char k[17];
    gh_schema_topic_key(0xc15d213aa4d7a795ull, k);
    cr_assert_str_eq(k, "c15d213aa4d7a795");
    gh_schema_topic_key(0x1ull, k);
    cr_assert_str_eq(k, "0000000000000001");
}

Test(schema_topic, ensure_on_the_mock_cluster) {
    /* The mock answers no CreateTopics: ensure falls back to the topic
     * being created on first use, and says so rather than failing. The
     * embedded broker created it already; a name it did not is created
     * by the metadata request of the producer. */
    char err[512];
    cr_assert_eq(
        gh_schema_topic_ensure(fx.producer, TOPIC, 10000, err, sizeof err),
        GH_OK, "%s", err);
    cr_assert_eq(gh_schema_topic_ensure(fx.producer, "other_schemas", 10000,
                                        err, sizeof err),
                 GH_OK, "%s", err);
    gh_schemas_t *set = gh_schemas_new();
    size_t added = 99;
    cr_assert_eq(gh_schema_topic_load(set, fx.conf, "other_schemas", 20000,
                                      &added, err, sizeof err),
                 GH_OK, "the topic ensure made cannot be read: %s", err);
    cr_assert_eq(added, 0);
    gh_schemas_destroy(set);
}

Test(schema_topic, published_schemas_load_as_non_current) {
    gh_schemas_t *w = gh_schemas_new();
    publish(w, SCHEMA_A);
    publish(w, SCHEMA_B);
    gh_schemas_t *r = gh_schemas_new();
    cr_assert_eq(load(r), 2);
    cr_assert(has(r, SCHEMA_A) && has(r, SCHEMA_B));
    /* Found by fingerprint only: what a reader decodes with. */
    cr_assert_null(gh_schemas_get(r, "t.st.A"));
    gh_schemas_destroy(r);
    gh_schemas_destroy(w);
}

Test(schema_topic, forged_key_is_skipped) {
    /* A's fingerprint over B's text: whoever reads it as A would decode A's
     * messages with B. */
    char *ka = key_of(SCHEMA_A), *kc = key_of(SCHEMA_C);
    produce_str(ka, SCHEMA_B);
    /* Upper-case hex of the right fingerprint is not the key format. */
    char upper[17];
    for (int i = 0; i < 17; i++)
        upper[i] = (char)((kc[i] >= 'a' && kc[i] <= 'f') ? kc[i] - 32 : kc[i]);
    produce_str(upper, SCHEMA_C);
    produce_str(NULL, SCHEMA_C);   /* no key */
    produce_str("c15d", SCHEMA_C); /* too short */
    gh_schemas_t *r = gh_schemas_new();
    cr_assert_eq(load(r), 0, "a forged or malformed key was accepted");
    cr_assert_not(has(r, SCHEMA_B), "B added under A's fingerprint");
    cr_assert_null(gh_schemas_by_fingerprint(r, fingerprint_of(SCHEMA_A)));
    cr_assert_not(has(r, SCHEMA_C));
    /* The right record after them is read. */
    produce_str(kc, SCHEMA_C);
    cr_assert_eq(load(r), 1);
    cr_assert(has(r, SCHEMA_C));
    free(ka);
    free(kc);
    gh_schemas_destroy(r);
}

Test(schema_topic, garbage_value_is_skipped) {
    char *ka = key_of(SCHEMA_A);
    produce_str(ka, "not json at all");
    produce_str(ka, "{\"type\":\"record\",\"name\":\"R\"}"); /* no fields */
    produce_str(ka, "[]");
    produce_str(ka, "");
    static const char nul[] = "{\"type\":\"long\"}\0trailing";
    produce_raw(ka, nul, sizeof nul - 1);
    produce_str(ka, NULL); /* tombstone */
    unsigned char bin[64];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)(i * 37 + 0x80);
    produce_raw(ka, bin, sizeof bin);
    /* Then the genuine record. */
    produce_str(ka, SCHEMA_A);
    gh_schemas_t *r = gh_schemas_new();
    cr_assert_eq(load(r), 1);
    cr_assert(has(r, SCHEMA_A));
    cr_assert_eq(gh_schemas_count(r), 1);
    free(ka);
    gh_schemas_destroy(r);
}

Test(schema_topic, duplicates_are_fine) {
    gh_schemas_t *w = gh_schemas_new();
    publish(w, SCHEMA_A);
    publish(w, SCHEMA_A);
    publish(w, SCHEMA_B);
    publish(w, SCHEMA_A);
    /* The same schema in other whitespace and attribute order: the same
     * canonical form, the same fingerprint, one schema. */
    char *ka = key_of(SCHEMA_A);
    produce_str(ka, "{ \"namespace\": \"t.st\", \"name\": \"A\", \"type\": "
                    "\"record\", \"fields\": [ {\"type\": \"long\", \"name\": "
                    "\"x\"}, {\"name\": \"d\", \"type\": {\"logicalType\": "
                    "\"date\", \"type\": \"int\"}} ] }");
    gh_schemas_t *r = gh_schemas_new();
    char err[256];
    cr_assert_eq(gh_schemas_add_json(r, SCHEMA_B, 1, NULL, err, sizeof err),
                 GH_OK, "%s", err);
    cr_assert_eq(load(r), 1, "only A is new");
    cr_assert_eq(gh_schemas_count(r), 2);
    /* B stays the current version it was. */
    cr_assert_not_null(gh_schemas_get(r, "t.st.B"));
    cr_assert_eq(load(r), 0, "a second read adds nothing");
    free(ka);
    gh_schemas_destroy(r);
    gh_schemas_destroy(w);
}

Test(schema_topic, composed_envelopes_round_trip) {
    /* The schemas that exist in no file: every composed envelope of the
     * source tree's schemas, published and read back intact. */
    char err[1024];
    gh_schemas_t *w = NULL;
    cr_assert_eq(
        gh_schemas_load_dir(&w, GH_SOURCE_DIR "/schemas", err, sizeof err),
        GH_OK, "%s", err);
    int envelopes = 0;
    for (size_t i = 0; i < gh_schemas_count(w); i++) {
        const gh_schema_t *s = gh_schemas_at(w, i);
        const char *name = gh_schema_fullname(s);
        size_t n = strlen(name);
        if (n < 8 || strcmp(name + n - 8, "Envelope")) continue;
        cr_assert_eq(
            gh_schema_topic_publish(fx.producer, TOPIC, s, err, sizeof err),
            GH_OK, "%s", err);
        envelopes++;
    }
    cr_assert_gt(envelopes, 0, "no composed envelope in schemas/");
    cr_assert_eq(rd_kafka_flush(fx.producer, 10000),
                 RD_KAFKA_RESP_ERR_NO_ERROR);
    gh_schemas_t *r = gh_schemas_new();
    cr_assert_eq(load(r), (size_t)envelopes);
    for (size_t i = 0; i < gh_schemas_count(r); i++) {
        const gh_schema_t *got = gh_schemas_at(r, i);
        const gh_schema_t *want =
            gh_schemas_by_fingerprint(w, gh_schema_fingerprint(got));
        cr_assert_not_null(want);
        cr_assert_str_eq(gh_schema_json(got), gh_schema_json(want));
    }
    gh_schemas_destroy(r);
    gh_schemas_destroy(w);
}

Test(schema_topic, missing_topic_is_not_found) {
    char err[512];
    gh_schemas_t *r = gh_schemas_new();
    size_t added = 99;
    gh_err_t e = gh_schema_topic_load(r, fx.conf, "no_such_schemas", 20000,
                                      &added, err, sizeof err);
    cr_assert_eq(e, GH_ERR_NOT_FOUND, "%s (%s)", err, gh_strerror(e));
    cr_assert_eq(added, 0);
    /* Asking did not create it (a reader never creates topics). */
    e = gh_schema_topic_load(r, fx.conf, "no_such_schemas", 20000, &added, err,
                             sizeof err);
    cr_assert_eq(e, GH_ERR_NOT_FOUND, "%s", err);
    gh_schemas_destroy(r);
}

Test(schema_topic, unreachable_cluster_is_bounded) {
    char err[512];
    gh_conf_t *c = gh_conf_new("test", props);
    cr_assert_eq(gh_conf_set(c, "test", "bootstrap.servers", "127.0.0.1:1", err,
                             sizeof err),
                 GH_OK);
    cr_assert_eq(
        gh_conf_set(c, "test", "kafka.log_level", "0", err, sizeof err), GH_OK);
    gh_schemas_t *r = gh_schemas_new();
    int64_t t0 = gh_now_ms();
    gh_err_t e = gh_schema_topic_load(r, c, TOPIC, 1500, NULL, err, sizeof err);
    int64_t took = gh_now_ms() - t0;
    cr_assert_eq(e, GH_ERR_KAFKA, "%s (%s)", err, gh_strerror(e));
    cr_assert_lt(took, 5000, "load took %lld ms with a 1500 ms bound",
                 (long long)took);
    gh_schemas_destroy(r);
    gh_conf_destroy(c);
}

Test(schema_topic, stop_request_ends_waits) {
    char err[512];
    gh_shutdown_request();
    gh_schemas_t *r = gh_schemas_new();
    int64_t t0 = gh_now_ms();
    cr_assert_eq(
        gh_schema_topic_ensure(fx.producer, TOPIC, 30000, err, sizeof err),
        GH_ERR_STOPPED, "%s", err);
    cr_assert_eq(
        gh_schema_topic_load(r, fx.conf, TOPIC, 30000, NULL, err, sizeof err),
        GH_ERR_STOPPED, "%s", err);
    cr_assert_lt(gh_now_ms() - t0, 5000);
    gh_schemas_destroy(r);
}
