/*
 * Framed Avro decoding (gh_serde_decode, hub/runtime/avro/avro_serde.c) with
 * the project's schemas/ and no registry: the input is a Kafka message value,
 * single-object (C3 01 + fingerprint) or Confluent-framed (00 + id). Seeds
 * come from avro_seeds.c.
 *
 * What a decoded value must do: render as JSON, encode again, and decode
 * from that encoding to the same JSON and the same bytes (the first
 * encoding normalizes varints and blocks); an older version of a schema
 * must project onto the current one, as schemas/README.md promises.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"

static gh_serde_t *serde(void) {
    static gh_serde_t *sd;
    if (!sd) sd = gh_serde_new(gh_fuzz_schemas(), NULL);
    return sd;
}

static char *to_json(const gh_schema_t *s, avro_value_t *v) {
    json_t *j = gh_avro_to_json(s, v);
    GH_FUZZ_CHECK(j, "%s renders no JSON", gh_schema_fullname(s));
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    GH_FUZZ_CHECK(text, "%s: JSON does not serialize", gh_schema_fullname(s));
    json_decref(j);
    return text;
}

static void encode(const gh_schema_t *s, avro_value_t *v, gh_buf_t *out) {
    char err[512];
    gh_err_t rc = gh_serde_encode(serde(), NULL, s, v, out, err, sizeof(err));
    GH_FUZZ_CHECK(!rc, "a decoded %s does not encode: %s",
                  gh_schema_fullname(s), err);
}

/* Encode, decode, encode: the same bytes and the same JSON. */
static void check_round_trip(const gh_schema_t *w, avro_value_t *v,
                             const char *json) {
    char err[512];
    gh_buf_t once = {0}, twice = {0};
    encode(w, v, &once);
    avro_value_t v2;
    const gh_schema_t *w2;
    gh_err_t rc = gh_serde_decode(serde(), once.data, once.len, NULL, &v2, &w2,
                                  err, sizeof(err));
    GH_FUZZ_CHECK(!rc, "re-encoded %s does not decode: %s",
                  gh_schema_fullname(w), err);
    GH_FUZZ_CHECK(w2 == w, "re-encoded as %s, decoded as %s",
                  gh_schema_fullname(w), gh_schema_fullname(w2));
    char *json2 = to_json(w, &v2);
    GH_FUZZ_CHECK(!strcmp(json, json2), "JSON changed:\n  %s\n  %s", json,
                  json2);
    encode(w, &v2, &twice);
    GH_FUZZ_CHECK(
        once.len == twice.len && !memcmp(once.data, twice.data, once.len),
        "%s encodes differently after a round trip", gh_schema_fullname(w));
    free(json2);
    avro_value_decref(&v2);
    gh_buf_free(&once);
    gh_buf_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    avro_value_t v;
    const gh_schema_t *w = NULL;
    gh_err_t rc =
        gh_serde_decode(serde(), data, size, NULL, &v, &w, err, sizeof(err));
    if (rc) {
        GH_FUZZ_CHECK(rc == GH_ERR_SERDE || rc == GH_ERR_UNKNOWN_SCHEMA,
                      "unexpected error %d: %s", rc, err);
        GH_FUZZ_CHECK(err[0], "error %d without a message", rc);
        return 0;
    }
    GH_FUZZ_CHECK(w, "decoded without a writer schema");
    char *json = to_json(w, &v);
    check_round_trip(w, &v, json);
    free(json);
    avro_value_decref(&v);

    /* A retired version is read as the current one. */
    const gh_schema_t *cur =
        gh_schemas_get(gh_fuzz_schemas(), gh_schema_fullname(w));
    if (cur && cur != w) {
        rc = gh_serde_decode(serde(), data, size, cur, &v, NULL, err,
                             sizeof(err));
        GH_FUZZ_CHECK(!rc, "%s does not project onto its current version: %s",
                      gh_schema_fullname(w), err);
        json = to_json(cur, &v);
        free(json);
        avro_value_decref(&v);
    }
    return 0;
}
