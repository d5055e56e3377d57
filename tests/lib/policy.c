#include "policy.h"

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gridhub/util.h"
#include "harness.h"

const char *const GH_TEST_POLICY = "subscriber.test.department=test\n"
                                   "subscriber.test.role=tests\n"
                                   "rows.test.person=all\n"
                                   "field.test.person.*=clear\n";

void gh_test_key_hex(const char *name, char out[65]) {
    char *seed = gh_xasprintf("gridhub test key %s", name);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)seed, strlen(seed), md);
    free(seed);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void gh_test_pseudonym(const char *key, const char *entity, const char *id,
                       char out[33]) {
    char hex[65];
    unsigned char k[32], md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    gh_test_key_hex(key, hex);
    for (int i = 0; i < 32; i++)
        sscanf(hex + 2 * i, "%2hhx", &k[i]);
    char *msg = gh_xasprintf("%s:%s", entity, id);
    HMAC(EVP_sha256(), k, 32, (const unsigned char *)msg, strlen(msg), md, &n);
    free(msg);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Adds name to the list once. */
static void add_name(char ***v, int *n, const char *s, size_t len) {
    for (int i = 0; i < *n; i++)
        if (strlen((*v)[i]) == len && !strncmp((*v)[i], s, len)) return;
    *v = gh_xrealloc(*v, (size_t)(*n + 1) * sizeof(char *));
    (*v)[(*n)++] = gh_xstrndup(s, len);
}

void gh_test_policy_write(const char *dir, const char *text, char **policy_out,
                          char **keys_out) {
    char *pp = gh_xasprintf("%s/test.policy", dir);
    char *kp = gh_xasprintf("%s/test.keys", dir);
    gh_test_write_file(pp, "%s", text);
    char **names = NULL;
    int n = 0;
    add_name(&names, &n, "test", 4);
    /* subscriber.<name>.<attr>=... and subscriber.<name>.key=<key>. */
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        if (len > 11 && !strncmp(l, "subscriber.", 11)) {
            const char *nm = l + 11, *dot = memchr(nm, '.', len - 11);
            if (dot) add_name(&names, &n, nm, (size_t)(dot - nm));
            if (dot && !strncmp(dot, ".key=", 5))
                add_name(&names, &n, dot + 5, len - (size_t)(dot + 5 - l));
        }
        l = nl ? nl + 1 : NULL;
    }
    gh_buf_t b = {0};
    for (int i = 0; i < n; i++) {
        char hex[65];
        gh_test_key_hex(names[i], hex);
        gh_buf_printf(&b, "%s=%s\n", names[i], hex);
        free(names[i]);
    }
    free(names);
    gh_test_write_file(kp, "%s", b.data);
    gh_buf_free(&b);
    cr_assert_eq(chmod(kp, 0600), 0);
    if (policy_out)
        *policy_out = pp;
    else
        free(pp);
    if (keys_out)
        *keys_out = kp;
    else
        free(kp);
}
