/* Signed tree heads (hub/audit/sth.c): keys generated, loaded and refused
 * with clear errors; a head signed and verified, every altered field
 * refused; the signature checked independently with the openssl command
 * line over the documented 63 signed bytes; the JSON form round-trips. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sth.h"

static char g_dir[512], g_key[600], g_pub[600];

static void setup(void) {
    const char *tmp = getenv("TMPDIR"); /* ops/test.sh's scratch directory */
    snprintf(g_dir, sizeof(g_dir), "%s/gh_sth.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(g_dir));
    snprintf(g_key, sizeof(g_key), "%s/audit.key", g_dir);
    snprintf(g_pub, sizeof(g_pub), "%s/audit.pub", g_dir);
    char err[512];
    cr_assert_eq(gh_audit_key_generate(g_key, g_pub, err, sizeof(err)), GH_OK,
                 "%s", err);
}

static void teardown(void) {
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(audit_sth, .init = setup, .fini = teardown);

static gh_audit_sth_t head(void) {
    gh_audit_sth_t h = {.size = 123456789, .timestamp_ms = 1764633600123};
    for (int i = 0; i < GH_MERKLE_HASH_LEN; i++)
        h.root[i] = (uint8_t)(i * 11 + 3);
    return h;
}

Test(audit_sth, keys_are_written_private_and_loaded) {
    struct stat st;
    cr_assert_eq(stat(g_key, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "the private key is mode 0600");
    char err[512];
    cr_assert_eq(gh_audit_key_generate(g_key, g_pub, err, sizeof(err)),
                 GH_ERR_IO, "an existing key is never overwritten");
    cr_assert(strstr(err, g_key), "names the file: %s", err);

    gh_audit_key_t *priv, *pub;
    cr_assert_eq(gh_audit_key_load_private(g_key, &priv, err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_assert_eq(gh_audit_key_load_public(g_pub, &pub, err, sizeof(err)), GH_OK,
                 "%s", err);
    cr_assert_str_eq(gh_audit_key_id(priv), gh_audit_key_id(pub),
                     "one id for both halves");
    cr_assert_eq(strlen(gh_audit_key_id(pub)), GH_AUDIT_KEYID_LEN);
    gh_audit_key_destroy(priv);
    gh_audit_key_destroy(pub);

    chmod(g_key, 0640);
    cr_assert_eq(gh_audit_key_load_private(g_key, &priv, err, sizeof(err)),
                 GH_ERR_CONFIG);
    cr_assert(strstr(err, "readable by others") && strstr(err, g_key), "%s",
              err);
    chmod(g_pub, 0600);
    cr_assert_eq(gh_audit_key_load_private(g_pub, &priv, err, sizeof(err)),
                 GH_ERR_CONFIG, "a public key is not a private key");
    cr_assert(strstr(err, "not a PEM private key"), "%s", err);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/none.pem", g_dir);
    cr_assert_eq(gh_audit_key_load_public(missing, &pub, err, sizeof(err)),
                 GH_ERR_CONFIG);
    cr_assert(strstr(err, "none.pem"), "%s", err);
}

Test(audit_sth, signed_heads_verify_altered_ones_do_not) {
    char err[512];
    gh_audit_key_t *priv, *pub;
    cr_assert_eq(gh_audit_key_load_private(g_key, &priv, err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_assert_eq(gh_audit_key_load_public(g_pub, &pub, err, sizeof(err)), GH_OK,
                 "%s", err);
    gh_audit_sth_t h = head();
    cr_assert_eq(gh_audit_sth_sign(pub, &h, err, sizeof(err)),
                 GH_ERR_INVALID_ARG, "a public key cannot sign");
    cr_assert_eq(gh_audit_sth_sign(priv, &h, err, sizeof(err)), GH_OK, "%s",
                 err);
    cr_assert(gh_audit_sth_verify(pub, &h));
    cr_assert(gh_audit_sth_verify(priv, &h));

    gh_audit_sth_t x = h;
    x.size--;
    cr_assert_not(gh_audit_sth_verify(pub, &x), "altered size");
    x = h;
    x.timestamp_ms++;
    cr_assert_not(gh_audit_sth_verify(pub, &x), "altered time");
    x = h;
    x.root[31] ^= 1;
    cr_assert_not(gh_audit_sth_verify(pub, &x), "altered root");
    x = h;
    x.sig[5] ^= 0x80;
    cr_assert_not(gh_audit_sth_verify(pub, &x), "altered signature");

    /* Another key's head, even with this key's id copied in. */
    char key2[600], pub2[600];
    snprintf(key2, sizeof(key2), "%s/other.key", g_dir);
    snprintf(pub2, sizeof(pub2), "%s/other.pub", g_dir);
    cr_assert_eq(gh_audit_key_generate(key2, pub2, err, sizeof(err)), GH_OK);
    gh_audit_key_t *other;
    cr_assert_eq(gh_audit_key_load_private(key2, &other, err, sizeof(err)),
                 GH_OK);
    cr_assert_str_neq(gh_audit_key_id(other), gh_audit_key_id(pub));
    x = head();
    cr_assert_eq(gh_audit_sth_sign(other, &x, err, sizeof(err)), GH_OK);
    cr_assert_not(gh_audit_sth_verify(pub, &x), "another key's head");
    memcpy(x.key_id, h.key_id, sizeof(x.key_id));
    cr_assert_not(gh_audit_sth_verify(pub, &x), "another key, id forged");
    gh_audit_key_destroy(other);
    gh_audit_key_destroy(priv);
    gh_audit_key_destroy(pub);
}

Test(audit_sth, openssl_command_line_verifies_the_signature) {
    char err[512];
    gh_audit_key_t *priv;
    cr_assert_eq(gh_audit_key_load_private(g_key, &priv, err, sizeof(err)),
                 GH_OK, "%s", err);
    gh_audit_sth_t h = head();
    cr_assert_eq(gh_audit_sth_sign(priv, &h, err, sizeof(err)), GH_OK);
    uint8_t msg[GH_AUDIT_STH_SIGNED_LEN];
    gh_audit_sth_signed_bytes(&h, msg);
    /* The documented layout, byte by byte. */
    cr_assert_eq(memcmp(msg, "gridhub-sth-v1\0", 15), 0);
    cr_assert_eq(msg[15 + 7], 123456789 & 0xff);
    cr_assert_eq(msg[15 + 4], (123456789 >> 24) & 0xff);
    cr_assert_eq(msg[23 + 7], (uint8_t)(1764633600123LL & 0xff));
    cr_assert_eq(memcmp(msg + 31, h.root, 32), 0);

    char mpath[600], spath[600], cmd[2048];
    snprintf(mpath, sizeof(mpath), "%s/msg", g_dir);
    snprintf(spath, sizeof(spath), "%s/sig", g_dir);
    FILE *f = fopen(mpath, "wb");
    fwrite(msg, 1, sizeof(msg), f);
    fclose(f);
    f = fopen(spath, "wb");
    fwrite(h.sig, 1, sizeof(h.sig), f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "openssl pkeyutl -verify -pubin -inkey '%s' -rawin -in '%s' "
             "-sigfile '%s' >/dev/null 2>&1",
             g_pub, mpath, spath);
    cr_assert_eq(system(cmd), 0, "openssl refused our signature: %s", cmd);
    msg[20] ^= 1;
    f = fopen(mpath, "wb");
    fwrite(msg, 1, sizeof(msg), f);
    fclose(f);
    cr_assert_neq(system(cmd), 0, "openssl accepted an altered head");
    gh_audit_key_destroy(priv);
}

Test(audit_sth, json_round_trip_and_errors) {
    char err[512];
    gh_audit_key_t *priv;
    cr_assert_eq(gh_audit_key_load_private(g_key, &priv, err, sizeof(err)),
                 GH_OK, "%s", err);
    gh_audit_sth_t h = head(), back;
    cr_assert_eq(gh_audit_sth_sign(priv, &h, err, sizeof(err)), GH_OK);
    char *j = gh_audit_sth_to_json(&h);
    cr_assert_eq(gh_audit_sth_from_json(j, &back, err, sizeof(err)), GH_OK,
                 "%s: %s", j, err);
    cr_assert_eq(back.size, h.size);
    cr_assert_eq(back.timestamp_ms, h.timestamp_ms);
    cr_assert_arr_eq(back.root, h.root, sizeof(h.root));
    cr_assert_arr_eq(back.sig, h.sig, sizeof(h.sig));
    cr_assert_str_eq(back.key_id, h.key_id);
    cr_assert(gh_audit_sth_verify(priv, &back));
    free(j);

    static const struct {
        const char *json, *names;
    } bad[] = {
        {"[]", "not a JSON object"},
        {"{\"size\":-1}", "size"},
        {"{\"size\":1,\"timestamp_ms\":\"x\"}", "timestamp_ms"},
        {"{\"size\":1,\"timestamp_ms\":1,\"root\":\"00\"}", "root"},
        {"{\"size\":1,\"timestamp_ms\":1,\"root\":"
         "\"00000000000000000000000000000000000000000000000000000000000000AB\""
         "}",
         "root"},
        {"{\"size\":1,\"timestamp_ms\":1,\"root\":"
         "\"0000000000000000000000000000000000000000000000000000000000000000\","
         "\"key_id\":\"abc\"}",
         "key_id"},
        {"{\"size\":1,\"timestamp_ms\":1,\"root\":"
         "\"0000000000000000000000000000000000000000000000000000000000000000\","
         "\"key_id\":\"0123456789abcdef\",\"sig\":\"zz\"}",
         "sig"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(
            gh_audit_sth_from_json(bad[i].json, &back, err, sizeof(err)),
            GH_ERR_PARSE, "%s", bad[i].json);
        cr_assert(strstr(err, bad[i].names), "%s -> %s", bad[i].json, err);
    }
    gh_audit_key_destroy(priv);
}
