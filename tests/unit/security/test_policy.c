/* The access policy (hub/policy): parsing and its errors, conditions,
 * actions, grants, denies, derived schemas, keys. Expected hashes are
 * computed here with OpenSSL directly, not with the module's helper. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gridhub/avro.h"
#include "policy.h"
#include "view.h"

#define NOW_US (INT64_C(1764633600) * 1000000) /* 2025-12-02T00:00:00Z */
#define HOUR_US (INT64_C(3600) * 1000000)

static gh_schemas_t *g_set;
static gh_serde_t *g_serde;
static gh_view_t *g_view;
static gh_policy_keys_t *g_keys;
static char g_keyfile[256];
static const char *KEY_HEX =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void setup(void) {
    char err[1024];
    cr_assert_eq(
        gh_schemas_load_dir(&g_set, GH_SOURCE_DIR "/schemas", err, sizeof(err)),
        GH_OK, "%s", err);
    g_serde = gh_serde_new(g_set, NULL);
    g_view = gh_view_new(g_serde, gh_schemas_get(g_set, "gridhub.view.Person"),
                         "t", err, sizeof(err));
    cr_assert_not_null(g_view, "%s", err);
    snprintf(g_keyfile, sizeof(g_keyfile), "/tmp/gh_policy_keys.%d", getpid());
    FILE *f = fopen(g_keyfile, "w");
    fprintf(f, "# test keys\na=%s\nb=%s\nshared=%s\n", KEY_HEX,
            "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
            KEY_HEX);
    fclose(f);
    chmod(g_keyfile, 0600);
    cr_assert_eq(gh_policy_keys_load(g_keyfile, &g_keys, err, sizeof(err)),
                 GH_OK, "%s", err);
}

static void teardown(void) {
    gh_policy_keys_destroy(g_keys);
    unlink(g_keyfile);
    gh_view_destroy(g_view);
    gh_serde_destroy(g_serde);
    gh_schemas_destroy(g_set);
}

TestSuite(policy, .init = setup, .fini = teardown);

static const char *BASE = "subscriber.a.department=gongan\n"
                          "subscriber.a.role=security\n"
                          "subscriber.b.department=jisheng\n"
                          "subscriber.b.role=family-planning\n";

static gh_policy_t *load(const char *rules) {
    char *text = gh_xasprintf("%s%s", BASE, rules);
    gh_policy_t *p = NULL;
    char err[4096];
    gh_err_t e = gh_policy_load_text("t.policy", text, strlen(text), g_set, &p,
                                     err, sizeof(err));
    cr_assert_eq(e, GH_OK, "policy did not load: %s", err);
    free(text);
    return p;
}

/* The load error of a policy; "" if it loaded. Caller frees. */
static char *load_error(const char *rules) {
    char *text = gh_xasprintf("%s%s", BASE, rules);
    gh_policy_t *p = NULL;
    char err[4096] = "";
    gh_policy_load_text("t.policy", text, strlen(text), g_set, &p, err,
                        sizeof(err));
    gh_policy_destroy(p);
    free(text);
    return gh_xstrdup(p ? "" : err);
}

#define ASSERT_ERROR(rules, needle)                                            \
    do {                                                                       \
        char *e_ = load_error(rules);                                          \
        cr_assert(strstr(e_, needle), "rules:\n%s\nerror: \"%s\"\nwanted: %s", \
                  rules, e_, needle);                                          \
        free(e_);                                                              \
    } while (0)

/* A resident as the hub holds it. */
static gh_view_person_t person(void) {
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
    v.value[0] = "431302199001011234"; /* id_number */
    v.value[1] = "王小明";             /* name */
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

typedef struct out {
    json_t *value; /* NULL if out of scope */
    char *schema;  /* the derived schema's JSON */
    char key[33];
    char digest[33];
    char actions[256]; /* "field=action;" as gh_policy_plan_action says */
} out_t;

static out_t run(const gh_policy_t *p, const char *sub,
                 const gh_view_person_t *pp, int64_t now) {
    out_t o;
    memset(&o, 0, sizeof(o));
    char err[1024];
    gh_policy_plan_t *pl = NULL;
    int s = gh_policy_subscriber_find(p, sub);
    cr_assert_geq(s, 0);
    cr_assert_eq(gh_policy_plan_new(p, s, gh_policy_entity_find(p, "person"),
                                    now, g_keys, g_set, &pl, err, sizeof(err)),
                 GH_OK, "%s", err);
    gh_policy_rec_t *r =
        gh_policy_rec_new(p, gh_policy_entity_find(p, "person"));
    gh_policy_rec_set(r, gh_view_fill(g_view, pp));
    if (gh_policy_plan_in_scope(pl, r)) {
        avro_value_t *v = NULL;
        cr_assert_eq(gh_policy_plan_apply(pl, r, &v, err, sizeof(err)), GH_OK,
                     "%s", err);
        o.value = gh_avro_to_json(gh_policy_plan_schema(pl), v);
        static const char *const fields[] = {"id_number", "phone", "name",
                                             "address",   "sex",   "sources",
                                             "provenance"};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            char as[32];
            const char *a =
                gh_policy_plan_action(pl, fields[i], as, sizeof(as));
            size_t n = strlen(o.actions);
            snprintf(o.actions + n, sizeof(o.actions) - n, "%s=%s;", fields[i],
                     a ? a : "-");
        }
        /* The bytes must encode with the derived schema. */
        gh_buf_t b = {0};
        cr_assert_eq(gh_serde_encode(g_serde, "t", gh_policy_plan_schema(pl), v,
                                     &b, err, sizeof(err)),
                     GH_OK, "%s", err);
        gh_buf_free(&b);
    }
    o.schema = gh_xstrdup(gh_schema_json(gh_policy_plan_schema(pl)));
    gh_policy_plan_pseudonym(pl, pp->person_id, o.key);
    memcpy(o.digest, gh_policy_plan_digest(pl), 33);
    gh_policy_rec_destroy(r);
    gh_policy_plan_destroy(pl);
    return o;
}

static void out_free(out_t *o) {
    json_decref(o->value);
    free(o->schema);
}

static void hmac_hex(const char *keyhex, const char *msg, char out[33]) {
    unsigned char key[64], md[64];
    unsigned int n = 0;
    size_t kl = strlen(keyhex) / 2;
    for (size_t i = 0; i < kl; i++)
        sscanf(keyhex + 2 * i, "%2hhx", &key[i]);
    HMAC(EVP_sha256(), key, (int)kl, (const unsigned char *)msg, strlen(msg),
         md, &n);
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static const char *str(const json_t *v, const char *k) {
    return json_string_value(json_object_get(v, k));
}

Test(policy, default_deny_rows_and_fields) {
    gh_policy_t *p = load("rows.a.person=all\nfield.a.person.name=clear\n");
    gh_view_person_t pp = person();
    out_t a = run(p, "a", &pp, NOW_US), b = run(p, "b", &pp, NOW_US);
    cr_assert_not_null(a.value);
    cr_assert_eq(json_object_size(a.value), 1, "%s", json_dumps(a.value, 0));
    cr_assert_str_eq(str(a.value, "name"), "王小明");
    cr_assert_null(b.value, "b has no rows line: no rows");
    cr_assert_null(strstr(a.schema, "phone"), "%s", a.schema);
    cr_assert_null(strstr(a.schema, "id_number"), "%s", a.schema);
    cr_assert_null(strstr(a.schema, "Sex"), "a dropped enum leaves no type");
    out_free(&a);
    out_free(&b);
    gh_policy_destroy(p);
}

Test(policy, actions_are_exact) {
    gh_policy_t *p = load("rows.a.person=all\n"
                          "field.a.person.id_number=mask 6 4\n"
                          "field.a.person.phone=mask 3 4\n"
                          "field.a.person.name=mask 1 0\n"
                          "field.a.person.address=hash\n"
                          "field.a.person.birth_date=year\n"
                          "field.a.person.person_id=hash\n"
                          "field.a.person.absorbed_ids=hash\n"
                          "field.a.person.sex=clear\n"
                          "field.a.person.sources=own\n"
                          "field.a.person.sources.source_key=hash\n"
                          "field.a.person.updated_at=year\n");
    gh_view_person_t pp = person();
    out_t a = run(p, "a", &pp, NOW_US);
    cr_assert_str_eq(str(a.value, "id_number"), "431302********1234");
    cr_assert_str_eq(str(a.value, "phone"), "138****5678");
    cr_assert_str_eq(str(a.value, "name"), "王**");
    cr_assert_str_eq(str(a.value, "sex"), "FEMALE");
    cr_assert_eq(json_integer_value(json_object_get(a.value, "birth_date")),
                 1990);
    cr_assert_eq(json_integer_value(json_object_get(a.value, "updated_at")),
                 2023);
    char want[33];
    hmac_hex(KEY_HEX, "person:P000000001", want);
    cr_assert_str_eq(a.key, want, "the pseudonym is HMAC(key, person:<id>)");
    cr_assert_str_eq(str(a.value, "person_id"), want,
                     "a hashed key field is the pseudonym");
    hmac_hex(KEY_HEX, "person:P000000009", want);
    cr_assert_str_eq(json_string_value(json_array_get(
                         json_object_get(a.value, "absorbed_ids"), 0)),
                     want, "hashed references are pseudonyms");
    hmac_hex(KEY_HEX, "person.address:娄星区乐坪街道大塘社区3栋2单元501", want);
    cr_assert_str_eq(str(a.value, "address"), want);
    json_t *src = json_object_get(a.value, "sources");
    cr_assert_eq(json_array_size(src), 1, "own keeps gongan's only");
    cr_assert_str_eq(str(json_array_get(src, 0), "department"), "gongan");
    hmac_hex(KEY_HEX, "person.sources.source_key:hjrk/R1", want);
    cr_assert_str_eq(str(json_array_get(src, 0), "source_key"), want);
    cr_assert_null(json_object_get(a.value, "provenance"));
    cr_assert_str_eq(a.actions,
                     "id_number=mask 6 4;phone=mask 3 4;name=mask 1 0;"
                     "address=hash;sex=clear;sources=own;provenance=-;",
                     "the actions the audit log records");
    out_free(&a);
    /* Too short for its mask: nothing shows. */
    pp.value[4] = "1234567";
    a = run(p, "a", &pp, NOW_US);
    cr_assert_str_eq(str(a.value, "phone"), "*******");
    out_free(&a);
    gh_policy_destroy(p);
}

Test(policy, shared_key_is_a_declared_join) {
    gh_policy_t *p = load("subscriber.c.department=zongzhi\n"
                          "subscriber.c.role=x\nsubscriber.c.key=shared\n"
                          "rows.a.person=all\nrows.b.person=all\n"
                          "rows.c.person=all\n");
    gh_view_person_t pp = person();
    out_t a = run(p, "a", &pp, NOW_US), b = run(p, "b", &pp, NOW_US),
          c = run(p, "c", &pp, NOW_US);
    cr_assert_str_neq(a.key, b.key, "two subscribers, two pseudonyms");
    cr_assert_str_eq(a.key, c.key, "same key, same pseudonym");
    cr_assert_str_eq(gh_policy_warnings(p), "");
    out_free(&a);
    out_free(&b);
    out_free(&c);
    gh_policy_destroy(p);
    p = load("subscriber.c.department=zongzhi\nsubscriber.c.role=x\n"
             "subscriber.c.key=a\n");
    cr_assert(strstr(gh_policy_warnings(p), "subscribers a and c share key a"),
              "%s", gh_policy_warnings(p));
    gh_policy_destroy(p);
}

static int in_scope(const char *rows, const gh_view_person_t *pp, int64_t now) {
    char *text = gh_xasprintf("rows.a.person=%s\n", rows);
    gh_policy_t *p = load(text);
    out_t a = run(p, "a", pp, now);
    int r = a.value != NULL;
    out_free(&a);
    gh_policy_destroy(p);
    free(text);
    return r;
}

Test(policy, conditions) {
    gh_view_person_t pp = person();
    cr_assert(in_scope("grid_code under 'LP-DT'", &pp, NOW_US));
    cr_assert(in_scope("grid_code under 'LP'", &pp, NOW_US));
    cr_assert(!in_scope("grid_code under 'LP-D'", &pp, NOW_US),
              "under follows the code's segments");
    cr_assert(in_scope("sex = 'FEMALE' and age(birth_date) between 15 and 49",
                       &pp, NOW_US));
    cr_assert(!in_scope("age(birth_date) < 35", &pp, NOW_US));
    cr_assert(in_scope("year(birth_date) = 1990", &pp, NOW_US));
    cr_assert(in_scope("sex in ('MALE', 'FEMALE')", &pp, NOW_US));
    cr_assert(
        in_scope("held_by('zuzhi') and not held_by('chuangwen')", &pp, NOW_US));
    cr_assert(in_scope("own_department", &pp, NOW_US));
    cr_assert(in_scope("birth_date < '1990-01-02'", &pp, NOW_US));
    cr_assert(in_scope("name = '王小明' or none", &pp, NOW_US));
    cr_assert(
        in_scope("name = 'it''s' or (phone != '1' and all)", &pp, NOW_US));
    /* Three-valued logic: a comparison with null is unknown. */
    pp.value[1] = NULL;
    cr_assert(!in_scope("name = 'x'", &pp, NOW_US));
    cr_assert(!in_scope("not (name = 'x')", &pp, NOW_US),
              "not unknown is unknown");
    cr_assert(in_scope("name = 'x' or all", &pp, NOW_US));
    cr_assert(!in_scope("name != 'x' and all", &pp, NOW_US));
    cr_assert(in_scope("name is null", &pp, NOW_US));
    cr_assert(!in_scope("name is not null", &pp, NOW_US));
    /* age() counts full years on the local date. */
    pp.value[3] = "2010-12-02";
    setenv("TZ", "UTC", 1);
    tzset();
    cr_assert(in_scope("age(birth_date) = 15", &pp, NOW_US),
              "15 on the birthday");
    cr_assert(in_scope("age(birth_date) = 14", &pp, NOW_US - HOUR_US),
              "14 the day before");
}

Test(policy, grants_apply_where_and_while_they_hold) {
    const char *rules = "rows.a.person=all\n"
                        "field.a.person.phone=mask 3 4\n"
                        "grant.epi.subscriber=a\ngrant.epi.entity=person\n"
                        "grant.epi.fields=phone,address\n"
                        "grant.epi.rows=grid_code under 'LP-DT'\n"
                        "grant.epi.purpose=epidemic response\n"
                        "grant.epi.from=2025-12-01T00:00:00+08:00\n"
                        "grant.epi.until=2025-12-02T12:00:00+08:00\n";
    gh_policy_t *p = load(rules);
    gh_view_person_t pp = person();
    /* 2025-12-02T00:00Z = 08:00 in +08:00: active. */
    out_t a = run(p, "a", &pp, NOW_US);
    cr_assert_str_eq(str(a.value, "phone"), "13812345678");
    cr_assert_str_eq(str(a.value, "address"), pp.value[5]);
    pp.value[6] = "LP-TJ-02";
    out_t b = run(p, "a", &pp, NOW_US);
    cr_assert_str_eq(str(b.value, "phone"), "138****5678",
                     "outside the grant's rows the base rule holds");
    cr_assert(json_is_null(json_object_get(b.value, "address")),
              "a grant-only field is null outside its rows");
    /* After until (04:00Z): lapsed, the address leaves the schema. */
    out_t c = run(p, "a", &pp, NOW_US + 5 * HOUR_US);
    cr_assert_null(json_object_get(c.value, "address"));
    cr_assert_null(strstr(c.schema, "address"));
    cr_assert_str_neq(a.digest, c.digest, "a lapse changes the plan");
    cr_assert_eq(gh_policy_next_change(p, NOW_US), NOW_US + 4 * HOUR_US);
    cr_assert_eq(gh_policy_next_change(p, NOW_US + 5 * HOUR_US), INT64_MAX);
    out_t d = run(p, "a", &pp, NOW_US + HOUR_US);
    cr_assert_str_eq(a.digest, d.digest, "nothing changed in between");
    out_free(&a);
    out_free(&b);
    out_free(&c);
    out_free(&d);
    gh_policy_destroy(p);
}

Test(policy, deny_wins) {
    gh_policy_t *p = load(
        "rows.a.person=all\nfield.a.person.*=clear\n"
        "deny.a.person.phone=grid_code under 'LP-DT'\n"
        "deny.*.person.id_number=all\n"
        "deny.a.person.address=1 = 1 and not 2 < 1\n"
        "deny.a.person.sex=1 = 1 and sex is null\n"
        "deny.a.person=name = '不存在'\n"
        "grant.g.subscriber=a\ngrant.g.entity=person\ngrant.g.fields=phone\n"
        "grant.g.purpose=p\ngrant.g.until=2099-01-01T00:00:00Z\n");
    gh_view_person_t pp = person();
    out_t a = run(p, "a", &pp, NOW_US);
    cr_assert(json_is_null(json_object_get(a.value, "phone")),
              "the deny holds over the grant");
    cr_assert_null(strstr(a.schema, "\"id_number\""),
                   "an unconditional deny removes the field");
    cr_assert_null(strstr(a.schema, "\"address\""),
                   "a deny true whatever the record removes the field too");
    cr_assert(strstr(a.schema, "\"sex\""),
              "a deny that depends on the record keeps the field");
    cr_assert_str_eq(str(a.value, "name"), "王小明");
    out_free(&a);
    pp.value[1] = "不存在";
    a = run(p, "a", &pp, NOW_US);
    cr_assert_null(a.value, "a row deny withholds the record");
    out_free(&a);
    gh_policy_destroy(p);
}

Test(policy, a_sub_field_line_overrides_the_star_line) {
    /* `*` covers top-level fields without a line of their own; a sub-field
     * with its own line is decided by it, so `year` there is no conflict. */
    gh_policy_t *p = load("rows.a.person=all\nfield.a.person.*=clear\n"
                          "field.a.person.provenance.at=year\n");
    gh_view_person_t pp = person();
    out_t a = run(p, "a", &pp, NOW_US);
    json_t *pr = json_array_get(json_object_get(a.value, "provenance"), 0);
    cr_assert(json_is_integer(json_object_get(pr, "at")),
              "provenance.at is a year: %s", json_dumps(pr, 0));
    cr_assert_str_eq(json_string_value(json_object_get(pr, "department")),
                     "gongan", "the rest of provenance stays clear");
    out_free(&a);
    gh_policy_destroy(p);
    ASSERT_ERROR("rows.a.person=all\nfield.a.person.birth_date=year\n"
                 "grant.g.subscriber=a\ngrant.g.entity=person\n"
                 "grant.g.fields=birth_date\ngrant.g.purpose=p\n"
                 "grant.g.until=2099-01-01T00:00:00Z\n",
                 "a field keeps one type per subscriber");
}

Test(policy, acls_isolate_every_principal) {
    gh_policy_t *p = load("rows.a.person=all\nfield.a.person.name=clear\n"
                          "rows.b.person=all\nfield.b.person.name=clear\n"
                          "subscriber.b.principal=User:fp-system\n"
                          "connector.gongan.principal=User:cn-ga\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    gh_policy_topics_t t = {"hub.view",          "gridhub",
                            "gridhub.dlq",       "_gridhub_schemas",
                            "gridhub.heartbeat", "gridhub-hub"};
    gh_policy_acls(p, &t, f);
    fclose(f);
    cr_assert(strstr(buf, "--allow-principal 'User:a' --operation Read "
                          "--operation Describe --resource-pattern-type "
                          "prefixed --topic 'hub.view.a.'"),
              "%s", buf);
    cr_assert(strstr(buf, "--allow-principal 'User:fp-system' --operation "
                          "Read --operation Describe --resource-pattern-type "
                          "prefixed --topic 'hub.view.b.'"),
              "%s", buf);
    cr_assert_null(strstr(buf, "'User:a' --operation Read --operation "
                               "Describe --resource-pattern-type prefixed "
                               "--topic 'hub.view.b."),
                   "a may not read b's topics");
    cr_assert(strstr(buf, "--allow-principal 'User:cn-ga' --operation Write "
                          "--operation Describe --resource-pattern-type "
                          "prefixed --topic 'gridhub.gongan.'"),
              "%s", buf);
    cr_assert(strstr(buf, "'User:gridhub-hub' --operation Read --operation "
                          "Describe --resource-pattern-type prefixed --topic "
                          "'gridhub.'"),
              "the hub reads every department topic: %s", buf);
    free(buf);
    gh_policy_destroy(p);
}

Test(policy, version_is_the_content_hash) {
    gh_policy_t *p = load(""), *q = load("# a comment\n");
    cr_assert_eq(strlen(gh_policy_version(p)), 16);
    cr_assert_str_neq(gh_policy_version(p), gh_policy_version(q));
    gh_policy_destroy(p);
    gh_policy_destroy(q);
}

Test(policy, errors_name_line_and_name) {
    ASSERT_ERROR("rows.x.person=all\n",
                 "t.policy:5: rows.x.person: unknown subscriber \"x\"");
    ASSERT_ERROR("rows.a.persn=all\n", "unknown entity \"persn\" (did you "
                                       "mean person?)");
    ASSERT_ERROR("field.a.person.phon=clear\n",
                 "t.policy:5: field.a.person.phon: unknown field \"phon\" of "
                 "entity person (did you mean phone?)");
    ASSERT_ERROR("field.a.person.phone=scramble\n", "unknown action");
    ASSERT_ERROR("field.a.person.phone=mask 3\n", "unknown action");
    ASSERT_ERROR("field.a.person.sex=mask 1 1\n", "mask applies to strings");
    ASSERT_ERROR("field.a.person.name=year\n", "year applies to dates");
    ASSERT_ERROR("field.a.person.name=own\n", "own applies to arrays");
    ASSERT_ERROR("field.a.person.sex=hash\n", "hash applies to strings");
    ASSERT_ERROR("field.a.person.*=hash\n", "* takes clear or drop");
    ASSERT_ERROR("field.*.person.name=clear\n", "only deny rules");
    ASSERT_ERROR("rows.a=all\n", "expected rows.<subscriber>.<entity>");
    ASSERT_ERROR("rows.a.person=grid_code under\n",
                 "at column 16: expected a grid code in quotes");
    ASSERT_ERROR("rows.a.person=age(name) > 3\n", "age() takes a date field");
    ASSERT_ERROR("rows.a.person=name = 3\n",
                 "cannot compare text with a number");
    ASSERT_ERROR("rows.a.person=name = 'x\n", "unterminated string");
    ASSERT_ERROR("rows.a.person=name\n", "expected an operator");
    ASSERT_ERROR("rows.a.person=nme = 'x'\n", "unknown field \"nme\"");
    ASSERT_ERROR("rows.a.person=\n", "empty condition");
    ASSERT_ERROR("rows.a.person=all extra\n", "unexpected \"extra\"");
    ASSERT_ERROR("deny.a.person.phone=sources = 'x'\n", "is not a scalar");
    ASSERT_ERROR("subscriber.c.department=zongzhi\n",
                 "subscriber c needs a department and a role");
    ASSERT_ERROR("subscriber.C.role=x\n", "must be 1-64 of a-z");
    ASSERT_ERROR("subscriber.a.colour=red\n", "unknown subscriber attribute");
    ASSERT_ERROR("subscribr.a.role=x\n",
                 "unknown kind of line \"subscribr\" (did you mean "
                 "subscriber?)");
    ASSERT_ERROR("grant.g.subscriber=a\ngrant.g.entity=person\n",
                 "grant g lacks fields, purpose, until");
    ASSERT_ERROR("grant.g.subscriber=a\ngrant.g.entity=person\n"
                 "grant.g.fields=phone\ngrant.g.purpose=p\n"
                 "grant.g.until=tomorrow\n",
                 "t.policy:9: grant.g.until: \"tomorrow\" is not a time");
    ASSERT_ERROR("grant.g.subscriber=a\ngrant.g.entity=person\n"
                 "grant.g.fields=phone\ngrant.g.purpose=p\n"
                 "grant.g.from=2026-01-02T00:00:00Z\n"
                 "grant.g.until=2026-01-01T00:00:00Z\n",
                 "from is not before until");
    ASSERT_ERROR("grant.g.subscriber=a\ngrant.g.entity=person\n"
                 "grant.g.fields=phone\ngrant.g.purpose=p\n"
                 "grant.g.until=2026-01-01T00:00:00Z\ngrant.g.colour=x\n",
                 "unknown grant attribute");
    ASSERT_ERROR("field.a.person.birth_date=year\n"
                 "grant.g.subscriber=a\ngrant.g.entity=person\n"
                 "grant.g.fields=birth_date\ngrant.g.purpose=p\n"
                 "grant.g.until=2026-01-01T00:00:00Z\n",
                 "a field keeps one type per subscriber");
    ASSERT_ERROR("rows.a.person=all\nrows.a.person=none\n", "set twice");
    /* Every error, not only the first. */
    char *e = load_error("rows.x.person=all\nfield.a.person.phon=clear\n");
    cr_assert(strstr(e, "t.policy:5") && strstr(e, "t.policy:6"), "%s", e);
    free(e);
}

Test(policy, keys) {
    char err[1024], path[256];
    gh_policy_keys_t *k = NULL;
    snprintf(path, sizeof(path), "/tmp/gh_policy_k2.%d", getpid());
    unlink(path);
    FILE *f = fopen(path, "w");
    fprintf(f, "a=%s\n", KEY_HEX);
    fclose(f);
    chmod(path, 0644);
    cr_assert_eq(gh_policy_keys_load(path, &k, err, sizeof(err)),
                 GH_ERR_CONFIG);
    cr_assert(strstr(err, "chmod 600"), "%s", err);
    cr_assert_null(strstr(err, KEY_HEX), "no secret in messages");
    chmod(path, 0600);
    f = fopen(path, "w");
    fprintf(f, "a=abcd\n");
    fclose(f);
    cr_assert_eq(gh_policy_keys_load(path, &k, err, sizeof(err)),
                 GH_ERR_CONFIG);
    cr_assert(strstr(err, ":1: a: a key is 64 or more hex digits"), "%s", err);
    unlink(path);
    /* Generated: private, one key per name, never overwritten. */
    gh_policy_t *p = load("subscriber.c.department=zongzhi\n"
                          "subscriber.c.role=x\nsubscriber.c.key=a\n");
    cr_assert_eq(gh_policy_keys_generate(path, p, err, sizeof(err)), GH_OK,
                 "%s", err);
    struct stat st;
    stat(path, &st);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(gh_policy_keys_load(path, &k, err, sizeof(err)), GH_OK, "%s",
                 err);
    cr_assert_eq(gh_policy_keys_check(k, p, err, sizeof(err)), GH_OK, "%s",
                 err);
    gh_policy_keys_destroy(k);
    cr_assert_eq(gh_policy_keys_generate(path, p, err, sizeof(err)), GH_ERR_IO);
    cr_assert(strstr(err, "never overwritten"), "%s", err);
    unlink(path);
    gh_policy_destroy(p);
    /* A key the policy needs and the file lacks. */
    p = load("subscriber.c.department=zongzhi\nsubscriber.c.role=x\n");
    cr_assert_eq(gh_policy_keys_check(g_keys, p, err, sizeof(err)),
                 GH_ERR_CONFIG);
    cr_assert(strstr(err, "subscriber c"), "%s", err);
    gh_policy_destroy(p);
}

Test(policy, explain_names_the_rules) {
    gh_policy_t *p = load("rows.a.person=grid_code under 'LP'\n"
                          "field.a.person.phone=mask 3 4\n"
                          "field.a.person.name=clear\n"
                          "deny.a.person.name=sex = 'FEMALE'\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    char err[256];
    int en = gh_policy_entity_find(p, "person");
    gh_policy_rec_t *r = gh_policy_rec_new(p, en);
    gh_view_person_t pp = person();
    gh_policy_rec_set(r, gh_view_fill(g_view, &pp));
    cr_assert_eq(
        gh_policy_explain(p, 0, en, NULL, r, NOW_US, out, err, sizeof(err)),
        GH_OK);
    fclose(out);
    cr_assert(strstr(buf, "rows.a.person (t.policy:5)) -> true") ||
                  strstr(buf, "(rows.a.person, t.policy:5) -> true"),
              "%s", buf);
    cr_assert(strstr(buf, "IN the subscriber's view"), "%s", buf);
    cr_assert(strstr(buf, "mask 3 4   by field.a.person.phone (t.policy:6)"),
              "%s", buf);
    cr_assert(strstr(buf, "withheld   by deny.a.person.name (t.policy:8)"),
              "%s", buf);
    cr_assert(strstr(buf, "id_number                drop       by no rule "
                          "(default deny)"),
              "%s", buf);
    cr_assert(strstr(buf, "sources.source_key       drop       by its array"),
              "%s", buf);
    free(buf);
    gh_policy_rec_destroy(r);
    gh_policy_destroy(p);
}
