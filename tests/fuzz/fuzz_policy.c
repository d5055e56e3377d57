/*
 * Access-policy files (gh_policy_load_text, hub/policy/policy.c) against
 * the view schemas. A policy that loads must compile a plan for every
 * subscriber and entity whose schema is valid and encodes what the plan
 * makes of sample residents (one of every field filled, one mostly empty);
 * explain and the ACLs must print without a crash. A policy that does not
 * load must say why, naming the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "util.h"
#include "view.h"

static gh_serde_t *g_serde;
static gh_view_t *g_view;
static FILE *g_null;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    g_serde = gh_serde_new(gh_fuzz_schemas(), NULL);
    g_null = fopen("/dev/null", "w");
    (void)argc;
    (void)argv;
    return 0;
}

static gh_view_person_t full(void) {
    static const char *const sd[] = {"gongan", "jisheng", "zuzhi"};
    static const char *const sk[] = {"hjrk/R1", "JS9", "Z7"};
    static const char *const pf[] = {"name", "phone"};
    static const char *const pd[] = {"gongan", "jisheng"};
    static const char *const pk[] = {"hjrk/R1", "JS9"};
    static const int64_t pa[] = {1000, INT64_MIN};
    static const char *const ab[] = {"P000000009"};
    gh_view_person_t v;
    memset(&v, 0, sizeof(v));
    v.person_id = "P000000001";
    v.value[0] = "431302199001011234";
    v.value[1] = "王小明";
    v.value[2] = "FEMALE";
    v.value[3] = "1990-01-01";
    v.value[4] = "13812345678";
    v.value[5] = "娄星区乐坪街道大塘社区3栋2单元501";
    v.value[6] = "LP-DT-01";
    v.nsources = 3;
    v.src_department = sd;
    v.src_key = sk;
    v.nprov = 2;
    v.prov_field = pf;
    v.prov_department = pd;
    v.prov_key = pk;
    v.prov_at = pa;
    v.nabsorbed = 1;
    v.absorbed = ab;
    v.version = 7;
    v.updated_us = 1700000000000000;
    return v;
}

static gh_view_person_t sparse(void) {
    gh_view_person_t v;
    memset(&v, 0, sizeof(v));
    v.person_id = "P000000002";
    v.value[1] = "李";
    v.value[3] = "2024-02-29";
    v.version = 1;
    return v;
}

static void run_plan(const gh_policy_t *p, int s, int en,
                     const gh_policy_keys_t *keys) {
    char err[1024];
    gh_policy_plan_t *pl = NULL;
    const int64_t now = INT64_C(1764633600) * 1000000;
    gh_err_t e = gh_policy_plan_new(p, s, en, now, keys, gh_fuzz_schemas(), &pl,
                                    err, sizeof(err));
    GH_FUZZ_CHECK(!e, "a loaded policy does not compile: %s", err);
    GH_FUZZ_CHECK(strlen(gh_policy_plan_digest(pl)) == 32, "digest");
    if (strcmp(gh_policy_entity_name(p, en), "person")) {
        gh_policy_plan_destroy(pl);
        return;
    }
    gh_policy_rec_t *r = gh_policy_rec_new(p, en);
    gh_view_person_t people[2] = {full(), sparse()};
    for (int i = 0; i < 2; i++) {
        gh_policy_rec_set(r, gh_view_fill(g_view, &people[i]));
        char key[33];
        gh_policy_plan_pseudonym(pl, people[i].person_id, key);
        GH_FUZZ_CHECK(strlen(key) == 32, "pseudonym");
        if (!gh_policy_plan_in_scope(pl, r)) continue;
        avro_value_t *v = NULL;
        e = gh_policy_plan_apply(pl, r, &v, err, sizeof(err));
        GH_FUZZ_CHECK(!e, "apply: %s", err);
        gh_buf_t b = {0};
        e = gh_serde_encode(g_serde, "fuzz", gh_policy_plan_schema(pl), v, &b,
                            err, sizeof(err));
        GH_FUZZ_CHECK(!e, "the record does not encode with its schema: %s",
                      err);
        gh_buf_free(&b);
    }
    gh_policy_rec_destroy(r);
    gh_policy_plan_destroy(pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[4096];
    if (size > 16384) return -1;
    g_view = gh_view_new(
        g_serde, gh_schemas_get(gh_fuzz_schemas(), "gridhub.view.Person"),
        "fuzz", err, sizeof(err));
    if (!g_view) gh_fuzz_fail(__FILE__, __LINE__, "view", "%s", err);
    gh_policy_t *p = NULL;
    gh_err_t e = gh_policy_load_text("fuzz.policy", (const char *)data, size,
                                     gh_fuzz_schemas(), &p, err, sizeof(err));
    if (e) {
        GH_FUZZ_CHECK(!p, "failed but returned a policy");
        GH_FUZZ_CHECK(strstr(err, "fuzz.policy"), "error without the file: %s",
                      err);
        gh_fuzz_verbose("%s", err);
        gh_view_destroy(g_view);
        return 0;
    }
    GH_FUZZ_CHECK(!memchr(data, '\0', size), "loaded past a NUL byte");
    GH_FUZZ_CHECK(strlen(gh_policy_version(p)) == 16, "version");
    const char *kpath = gh_fuzz_write_file("fuzz.keys", "", 0);
    unlink(kpath);
    gh_policy_keys_t *keys = NULL;
    e = gh_policy_keys_generate(kpath, p, err, sizeof(err));
    GH_FUZZ_CHECK(!e, "keys --generate: %s", err);
    e = gh_policy_keys_load(kpath, &keys, err, sizeof(err));
    GH_FUZZ_CHECK(!e, "the generated key file does not load: %s", err);
    e = gh_policy_keys_check(keys, p, err, sizeof(err));
    GH_FUZZ_CHECK(!e, "the generated key file misses a key: %s", err);
    for (int s = 0; s < gh_policy_nsubscribers(p); s++)
        for (int en = 0; en < gh_policy_nentities(p); en++) {
            run_plan(p, s, en, keys);
            e = gh_policy_explain(p, s, en, NULL, NULL,
                                  INT64_C(1764633600) * 1000000, g_null, err,
                                  sizeof(err));
            GH_FUZZ_CHECK(!e, "explain: %s", err);
        }
    gh_policy_topics_t t = {"hub.view",          "gridhub",
                            "gridhub.dlq",       "_gridhub_schemas",
                            "gridhub.heartbeat", "gridhub-hub"};
    gh_policy_acls(p, &t, g_null);
    gh_policy_keys_destroy(keys);
    gh_policy_destroy(p);
    gh_view_destroy(g_view);
    return 0;
}
