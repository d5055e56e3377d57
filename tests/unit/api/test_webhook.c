/* gh_webhook_sign: the X-Gridhub-Signature digest against a value computed
 * once with `printf '%s' '1733300000.<body>' | openssl dgst -sha256 -hmac
 * '<secret>'`, so that a receiver written from docs/api.md and the hub
 * agree on the signed bytes. */
#include <criterion/criterion.h>
#include <string.h>

#include "webhook.h"

#define SECRET "whsec_test_0123456789abcdef"
#define BODY "{\"subscriber\":\"zongzhi\",\"messages\":[]}"

Test(webhook, signature_known_vector) {
    char sig[GH_WEBHOOK_SIG_HEX];
    cr_assert_eq(gh_webhook_sign(SECRET, strlen(SECRET), 1733300000, BODY,
                                 strlen(BODY), sig),
                 0);
    cr_assert_str_eq(
        sig,
        "8edd4d73293982af53a66925fa201158b8b39242178cb33d202f2982a73d58e7");
}

Test(webhook, signature_covers_timestamp_body_and_secret) {
    char a[GH_WEBHOOK_SIG_HEX], b[GH_WEBHOOK_SIG_HEX];
    gh_webhook_sign(SECRET, strlen(SECRET), 1733300000, BODY, strlen(BODY), a);
    /* A replay with a fresh timestamp does not verify. */
    gh_webhook_sign(SECRET, strlen(SECRET), 1733300001, BODY, strlen(BODY), b);
    cr_assert_str_neq(a, b);
    /* Nor a body changed by one byte. */
    gh_webhook_sign(SECRET, strlen(SECRET), 1733300000, BODY, strlen(BODY) - 1,
                    b);
    cr_assert_str_neq(a, b);
    /* Nor another subscriber's secret. */
    gh_webhook_sign("whsec_test_0123456789abcdeX", strlen(SECRET), 1733300000,
                    BODY, strlen(BODY), b);
    cr_assert_str_neq(a, b);
    /* An empty body is signed too ("<timestamp>."). */
    gh_webhook_sign(SECRET, strlen(SECRET), 1733300000, "", 0, b);
    cr_assert_eq(strlen(b), 64);
}
