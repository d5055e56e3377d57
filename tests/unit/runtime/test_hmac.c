/* gh_hmac_: HMAC-SHA256 with a reusable key, against RFC 4231's test
 * vectors, and the same value however the message is split. */
#include <criterion/criterion.h>
#include <string.h>

#include "gridhub/hmac.h"
#include "gridhub/util.h"

static void hex(const unsigned char *md, char out[2 * GH_HMAC_LEN + 1]) {
    gh_hex_encode(md, GH_HMAC_LEN, out);
}

Test(hmac, rfc4231_vectors_and_reuse) {
    /* RFC 4231 test case 2: key "Jefe". */
    gh_hmac_t *h = gh_hmac_new((const unsigned char *)"Jefe", 4);
    cr_assert_not_null(h);
    const char *msg = "what do ya want for nothing?";
    const char *want =
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    unsigned char md[GH_HMAC_LEN];
    char got[2 * GH_HMAC_LEN + 1];
    /* Twice through the same context: the key survives each use. */
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(gh_hmac_sha256(h, msg, strlen(msg), NULL, 0, md), 0);
        hex(md, got);
        cr_assert_str_eq(got, want, "use %d", i + 1);
    }
    /* Split in two parts: the same MAC. */
    cr_assert_eq(gh_hmac_sha256(h, msg, 10, msg + 10, strlen(msg) - 10, md), 0);
    hex(md, got);
    cr_assert_str_eq(got, want);
    gh_hmac_destroy(h);

    /* RFC 4231 test case 1: key 20 x 0x0b, "Hi There". */
    unsigned char k1[20];
    memset(k1, 0x0b, sizeof(k1));
    h = gh_hmac_new(k1, sizeof(k1));
    cr_assert_eq(gh_hmac_sha256(h, "Hi There", 8, NULL, 0, md), 0);
    hex(md, got);
    cr_assert_str_eq(
        got,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    gh_hmac_destroy(h);
    gh_hmac_destroy(NULL);
}
