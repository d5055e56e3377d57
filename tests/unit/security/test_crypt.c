/* Encryption at rest (hub/crypt): key files generated, loaded and refused
 * with file:line errors; values sealed and opened, bound to their field,
 * refused when altered; equal values seal equal; a key added while values
 * sealed under the old one still open; query results and JSON documents
 * opened in place; blind indexes keyed. */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypt.h"

static char g_dir[512], g_key[600];

static void setup(void) {
    const char *tmp = getenv("TMPDIR"); /* ops/test.sh's scratch directory */
    snprintf(g_dir, sizeof(g_dir), "%s/gh_crypt.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(g_dir));
    snprintf(g_key, sizeof(g_key), "%s/hub.keys", g_dir);
    char err[512];
    cr_assert_eq(gh_crypt_generate(g_key, err, sizeof(err)), GH_OK, "%s", err);
}

static void teardown(void) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(crypt, .init = setup, .fini = teardown);

static gh_crypt_t *load(void) {
    char err[512];
    gh_crypt_t *c = gh_crypt_new(g_key, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    return c;
}

static char *open_ok(gh_crypt_t *c, const char *field, const char *s) {
    char err[512], *out = NULL;
    size_t n = 0;
    cr_assert_eq(
        gh_crypt_open(c, field, s, strlen(s), &out, &n, err, sizeof(err)),
        GH_OK, "%s", err);
    cr_assert_eq(n, strlen(out));
    return out;
}

Test(crypt, seals_and_opens_bound_to_the_field) {
    gh_crypt_t *c = load();
    const char *id = "430602199001011234";
    char *s = gh_crypt_seal(c, "id", id, strlen(id));
    cr_assert(gh_crypt_is_sealed(s, strlen(s)));
    cr_assert_eq(strncmp(s, "gh1:k1:", 7), 0, "%s", s);
    cr_assert_null(strstr(s, "1990"), "the clear value shows: %s", s);
    /* nonce 12 + 18 bytes + tag 16 = 46 bytes: 64 base64 characters */
    cr_assert_eq(strlen(s), 7 + 64, "%s", s);
    char *o = open_ok(c, "id", s);
    cr_assert_str_eq(o, id);
    free(o);

    /* Equal values of one field seal equal; another field differs. */
    char *s2 = gh_crypt_seal(c, "id", id, strlen(id));
    cr_assert_str_eq(s, s2);
    char *s3 = gh_crypt_seal(c, "phone", id, strlen(id));
    cr_assert_str_neq(s, s3);

    /* Sealed for "phone", opened as an ID: refused, naming field and key. */
    char err[512], *out = NULL;
    size_t n;
    cr_assert_eq(
        gh_crypt_open(c, "id", s3, strlen(s3), &out, &n, err, sizeof(err)),
        GH_ERR_PARSE);
    cr_assert_null(out);
    cr_assert(strstr(err, "id") && strstr(err, "k1") &&
                  strstr(err, "does not authenticate"),
              "%s", err);
    cr_assert_null(strstr(err, id));

    /* Any altered character is refused. */
    for (size_t i = 7; i < strlen(s); i++) {
        char *t = strdup(s);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        gh_err_t e =
            gh_crypt_open(c, "id", t, strlen(t), &out, &n, err, sizeof(err));
        cr_assert_neq(e, GH_OK, "altered at %zu accepted", i);
        free(t);
    }
    /* Cut short, or no payload. */
    cr_assert_neq(gh_crypt_open(c, "id", s, 20, &out, &n, err, sizeof(err)),
                  GH_OK);
    cr_assert_neq(
        gh_crypt_open(c, "id", "gh1:k1:", 7, &out, &n, err, sizeof(err)),
        GH_OK);

    /* Clear text (written before encryption) comes back as it is. */
    o = open_ok(c, "id", "13800138000");
    cr_assert_str_eq(o, "13800138000");
    free(o);
    /* The empty value and binary bytes seal too. */
    char *e0 = gh_crypt_seal(c, "payload", "", 0);
    o = open_ok(c, "payload", e0);
    cr_assert_str_eq(o, "");
    free(o);
    unsigned char bin[300];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)i;
    char *sb = gh_crypt_seal(c, "payload", bin, sizeof(bin));
    cr_assert_eq(
        gh_crypt_open(c, "payload", sb, strlen(sb), &out, &n, err, sizeof(err)),
        GH_OK, "%s", err);
    cr_assert_eq(n, sizeof(bin));
    cr_assert_eq(memcmp(out, bin, n), 0);
    free(out);
    free(sb);
    free(e0);
    free(s);
    free(s2);
    free(s3);
    gh_crypt_destroy(c);
}

Test(crypt, without_keys_values_stay_and_sealed_ones_are_refused) {
    char *p = gh_crypt_seal(NULL, "id", "abc", 3);
    cr_assert_str_eq(p, "abc");
    free(p);
    cr_assert_eq(gh_crypt_blind64(NULL, "block", 42), 42);
    char err[512], *out = NULL;
    size_t n;
    cr_assert_eq(gh_crypt_open(NULL, "phone", "gh1:k1:AAAA", 11, &out, &n, err,
                               sizeof(err)),
                 GH_ERR_CONFIG);
    cr_assert(strstr(err, "no encryption key file"), "%s", err);
}

Test(crypt, a_new_key_seals_and_the_old_values_still_open) {
    gh_crypt_t *c = load();
    char *old = gh_crypt_seal(c, "phone", "13800138000", 11);
    char kid[GH_CRYPT_KID_MAX + 1], err[512];
    cr_assert_eq(gh_crypt_add_key(g_key, kid, err, sizeof(err)), GH_OK, "%s",
                 err);
    cr_assert_str_eq(kid, "k2");
    struct stat st;
    cr_assert_eq(stat(g_key, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);

    /* Another process's new key: an open names it, the handle reloads. */
    gh_crypt_t *other = load();
    cr_assert_str_eq(gh_crypt_active(other), "k2");
    char *fresh = gh_crypt_seal(other, "phone", "13800138000", 11);
    cr_assert_eq(strncmp(fresh, "gh1:k2:", 7), 0);
    cr_assert_str_eq(gh_crypt_active(c), "k1");
    char *o = open_ok(c, "phone", fresh);
    cr_assert_str_eq(o, "13800138000");
    free(o);
    cr_assert_str_eq(gh_crypt_active(c), "k2");
    o = open_ok(c, "phone", old);
    cr_assert_str_eq(o, "13800138000");
    free(o);
    /* The index key stayed: blind indexes agree across the rotation. */
    cr_assert_eq(gh_crypt_blind64(c, "block", 7),
                 gh_crypt_blind64(other, "block", 7));
    char k3[GH_CRYPT_KID_MAX + 1];
    cr_assert_eq(gh_crypt_add_key(g_key, k3, err, sizeof(err)), GH_OK);
    cr_assert_str_eq(k3, "k3");
    cr_assert_eq(gh_crypt_refresh(c, err, sizeof(err)), 1, "%s", err);
    cr_assert_eq(gh_crypt_refresh(c, err, sizeof(err)), 0);
    char *re = gh_crypt_seal_with(c, "k1", "phone", "13800138000", 11);
    cr_assert_str_eq(re, old);
    cr_assert_null(gh_crypt_seal_with(c, "k9", "phone", "1", 1));

    /* A key that does not exist anywhere: named. */
    char *out;
    size_t n;
    cr_assert_eq(gh_crypt_open(c, "phone", "gh1:k9:AAAAAAAA", 15, &out, &n, err,
                               sizeof(err)),
                 GH_ERR_NOT_FOUND);
    cr_assert(strstr(err, "k9"), "%s", err);
    free(re);
    free(old);
    free(fresh);
    gh_crypt_destroy(other);
    gh_crypt_destroy(c);
}

static void write_keys(const char *text, mode_t mode) {
    unlink(g_key);
    FILE *f = fopen(g_key, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(g_key, mode);
}

static void refused(const char *text, mode_t mode, const char *want) {
    write_keys(text, mode);
    char err[512] = "";
    gh_crypt_t *c = gh_crypt_new(g_key, err, sizeof(err));
    cr_assert_null(c, "accepted: %s", text);
    cr_assert(strstr(err, want), "want \"%s\" in: %s", want, err);
    cr_assert_null(strstr(err, "00112233"), "a secret in: %s", err);
}

#define K64 "0011223344556677889900112233445566778899001122334455667788990011"

Test(crypt, key_files_are_checked) {
    refused("key.k1=" K64 "\nactive=k1\nindex=" K64 "\n", 0644, "chmod 600");
    refused("key.k1=" K64 "\nactive=k1\n", 0600, "no index=");
    refused("key.k1=" K64 "\nindex=" K64 "\n", 0600, "no active=");
    refused("key.k1=" K64 "\nactive=k2\nindex=" K64 "\n", 0600,
            "active=k2 names no key.k2=");
    refused("key.k1=0011\nactive=k1\nindex=" K64 "\n", 0600,
            "hub.keys:1: key.k1: a key is 64");
    refused("key.k1=" K64 "\nactive=k1\nindex=" K64 "\nsecret=1\n", 0600,
            "hub.keys:4: secret: unknown entry");
    refused("key.k/1=" K64 "\nactive=k1\n", 0600, "hub.keys:1: key.k/1");
    refused("# nothing\n", 0600, "no key.<id>= entry");
    write_keys("key.a=" K64 "\nactive=a\nindex=" K64 "\n", 0400);
    gh_crypt_t *c = load();
    cr_assert_str_eq(gh_crypt_active(c), "a");
    char fp[17];
    gh_crypt_index_fingerprint(c, fp);
    cr_assert_eq(strlen(fp), 16);
    gh_crypt_destroy(c);

    /* A key file whose index key changed is refused by a running handle. */
    write_keys("key.a=" K64 "\nactive=a\nindex=" K64 "\n", 0600);
    c = load();
    sleep(1); /* a new mtime even on coarse file systems */
    write_keys("key.a=" K64 "\nactive=a\nindex=" K64 "\n", 0600);
    char err[512];
    cr_assert_eq(gh_crypt_refresh(c, err, sizeof(err)), 1, "%s", err);
    sleep(1);
    write_keys(
        "key.a=" K64 "\nactive=a\nindex="
        "1111111111111111111111111111111111111111111111111111111111111111"
        "\n",
        0600);
    cr_assert_eq(gh_crypt_refresh(c, err, sizeof(err)), -1);
    cr_assert(strstr(err, "index key changed"), "%s", err);
    cr_assert_eq(gh_crypt_refresh(c, err, sizeof(err)), 0,
                 "reported once, not at every check");
    gh_crypt_destroy(c);
}

Test(crypt, results_and_json_open_in_place) {
    gh_crypt_t *c = load();
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[2] = {{.name = "id", .format = 0, .typlen = -1},
                           {.name = "note", .format = 0, .typlen = -1}};
    cr_assert(PQsetResultAttrs(r, 2, att));
    char *s0 = gh_crypt_seal(c, "id", "430602199001011234", 18);
    cr_assert(PQsetvalue(r, 0, 0, s0, (int)strlen(s0)));
    cr_assert(PQsetvalue(r, 0, 1, "x", 1));
    cr_assert(PQsetvalue(r, 1, 0, "clear", 5));
    cr_assert(PQsetvalue(r, 1, 1, NULL, -1));
    cr_assert(PQsetvalue(r, 2, 0, NULL, -1));
    int cols[1] = {0};
    const char *fields[1] = {"id"};
    char err[512];
    cr_assert_eq(gh_crypt_open_result(c, r, cols, fields, 1, err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "430602199001011234");
    cr_assert_eq(PQgetlength(r, 0, 0), 18);
    cr_assert_str_eq(PQgetvalue(r, 1, 0), "clear");
    cr_assert(PQgetisnull(r, 2, 0));
    /* Opened as the wrong field: the error names it. */
    PQsetvalue(r, 0, 0, s0, (int)strlen(s0));
    fields[0] = "phone";
    cr_assert_eq(gh_crypt_open_result(c, r, cols, fields, 1, err, sizeof(err)),
                 GH_ERR_PARSE);
    cr_assert(strstr(err, "phone"), "%s", err);
    PQclear(r);
    free(s0);

    /* Sealed strings at any depth, in objects and arrays. */
    json_t *doc =
        json_pack("{s:s,s:[{s:o,s:i},o],s:o,s:o}", "field", "phone", "values",
                  "value", gh_crypt_json_string(c, 1, "13800138000"), "n", 1,
                  gh_crypt_json_string(c, 1, "13900139000"), "value",
                  gh_crypt_json_string(c, 1, "x"), "clear",
                  gh_crypt_json_string(c, 0, "13700137000"));
    char *j = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    cr_assert_not_null(j);
    cr_assert_null(strstr(j, "13900139000"), "%s", j);
    cr_assert(strstr(j, "13700137000"), "%s", j);
    cr_assert_null(strstr(j, "13800138000"), "%s", j);
    cr_assert(strstr(j, "\"field\":\"phone\""), "%s", j);
    char *o = gh_crypt_open_json(c, j, err, sizeof(err));
    cr_assert_not_null(o, "%s", err);
    cr_assert_str_eq(o, "{\"field\":\"phone\",\"values\":[{\"value\":"
                        "\"13800138000\",\"n\":1},\"13900139000\"],"
                        "\"value\":\"x\",\"clear\":\"13700137000\"}");
    char kid[GH_CRYPT_KID_MAX + 1];
    cr_assert_eq(gh_crypt_add_key(g_key, kid, err, sizeof(err)), GH_OK);
    cr_assert_eq(gh_crypt_refresh(c, err, sizeof(err)), 1);
    char *re = gh_crypt_reseal_json(c, kid, j, err, sizeof(err));
    cr_assert_not_null(re, "%s", err);
    cr_assert_null(strstr(re, "gh1:k1:"), "%s", re);
    cr_assert(strstr(re, "gh1:k2:"), "%s", re);
    char *o2 = gh_crypt_open_json(c, re, err, sizeof(err));
    cr_assert_str_eq(o2, o);
    cr_assert_null(gh_crypt_open_json(c, "{not json", err, sizeof(err)));
    free(j);
    free(o);
    free(o2);
    free(re);
    gh_crypt_destroy(c);
}

Test(crypt, blind_indexes_are_keyed) {
    gh_crypt_t *c = load();
    uint64_t a = gh_crypt_blind64(c, "block", 12345);
    cr_assert_eq(a, gh_crypt_blind64(c, "block", 12345));
    cr_assert_neq(a, 12345);
    cr_assert_neq(a, gh_crypt_blind64(c, "block", 12346));
    cr_assert_neq(a, gh_crypt_blind64(c, "other", 12345));
    gh_crypt_destroy(c);
    unlink(g_key);
    char err[512];
    cr_assert_eq(gh_crypt_generate(g_key, err, sizeof(err)), GH_OK);
    c = load();
    cr_assert_neq(a, gh_crypt_blind64(c, "block", 12345),
                  "another index key, the same blind index");
    cr_assert_neq(gh_crypt_generate(g_key, err, sizeof(err)), GH_OK,
                  "a key file was overwritten");
    gh_crypt_destroy(c);
}
