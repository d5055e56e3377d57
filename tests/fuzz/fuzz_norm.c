/*
 * Name, pinyin, phone and address normalization (gridhub/norm.h, with
 * OpenCC and ICU loaded as in production). The input is one field as
 * typed; every function gets it. Outputs must be valid UTF-8 of the
 * promised shape, a smaller buffer must get a prefix cut at a character
 * (a phone: all or nothing), and normalizing a normalized value must
 * change nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/norm.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    char err[512];
    if (gh_norm_init(err, sizeof(err))) {
        fprintf(stderr, "fuzz_norm: %s\n", err);
        exit(2);
    }
    (void)argc;
    (void)argv;
    return 0;
}

typedef size_t(norm_fn)(const char *raw, char *out, size_t size);

/* Runs fn into a buffer of `size` and into a smaller one: returns the full
 * output (caller frees) and checks the cut one against it. */
static char *run(norm_fn *fn, const char *what, const char *raw, size_t size,
                 size_t small) {
    char *out = malloc(size), *cut = malloc(small);
    size_t n = fn(raw, out, size);
    GH_FUZZ_CHECK(n == strlen(out) && n < size, "%s: returned %zu for %zu",
                  what, n, strlen(out));
    GH_FUZZ_CHECK(gh_fuzz_utf8_ok(out, n), "%s: invalid UTF-8", what);
    size_t m = fn(raw, cut, small);
    GH_FUZZ_CHECK(m == strlen(cut) && m < small, "%s: returned %zu for %zu",
                  what, m, strlen(cut));
    GH_FUZZ_CHECK(!strncmp(out, cut, m), "%s: \"%s\" cut is \"%s\"", what, out,
                  cut);
    GH_FUZZ_CHECK(gh_fuzz_utf8_ok(cut, m), "%s: cut at a byte", what);
    free(cut);
    return out;
}

static void check_name(const char *raw, size_t small) {
    char *name = run(gh_norm_name, "name", raw, GH_NORM_NAME_MAX, small);
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        GH_FUZZ_CHECK(c >= 0x20 && c != 0x7f && !(c >= 'a' && c <= 'z'),
                      "name \"%s\": byte 0x%02x", name, c);
        GH_FUZZ_CHECK(c != ' ' || (i && i + 1 < n && name[i + 1] != ' '),
                      "name \"%s\": stray space", name);
    }
    GH_FUZZ_CHECK(strncmp(name, "\xc2\xb7", 2) &&
                      (n < 2 || memcmp(name + n - 2, "\xc2\xb7", 2)),
                  "name \"%s\": dot at an end", name);
    /* Not cut: a name normalizes to itself. */
    if (n + 4 < GH_NORM_NAME_MAX) {
        char again[GH_NORM_NAME_MAX];
        gh_norm_name(name, again, sizeof(again));
        GH_FUZZ_CHECK(!strcmp(name, again), "name \"%s\" then \"%s\"", name,
                      again);
    }

    char *key = run(gh_norm_pinyin, "pinyin", name, GH_NORM_PINYIN_MAX, small);
    for (size_t i = 0; key[i]; i++)
        GH_FUZZ_CHECK(
            (key[i] >= 'a' && key[i] <= 'z') ||
                (key[i] == ' ' && i && key[i + 1] && key[i + 1] != ' '),
            "pinyin \"%s\" of \"%s\"", key, name);
    free(key);
    free(name);
}

static void check_phone(const char *raw) {
    char out[GH_NORM_PHONE_MAX], tight[12];
    size_t n = gh_norm_phone(raw, out, sizeof(out));
    GH_FUZZ_CHECK(n == strlen(out), "phone: returned %zu", n);
    GH_FUZZ_CHECK(strspn(out, "0123456789") == n, "phone \"%s\"", out);
    GH_FUZZ_CHECK(!n || (n == 11 && out[0] == '1') ||
                      (out[0] == '0' && n >= 10 && n <= 12),
                  "phone \"%s\"", out);
    /* Room for a mobile number but not every landline: all or nothing. */
    size_t m = gh_norm_phone(raw, tight, sizeof(tight));
    GH_FUZZ_CHECK(n < sizeof(tight) ? m == n && !strcmp(out, tight)
                                    : !m && !tight[0],
                  "phone \"%s\" in 12 bytes: \"%s\"", out, tight);
    if (n) {
        char again[GH_NORM_PHONE_MAX];
        gh_norm_phone(out, again, sizeof(again));
        GH_FUZZ_CHECK(!strcmp(out, again), "phone \"%s\" then \"%s\"", out,
                      again);
    }
}

static void check_address(const char *raw, size_t small) {
    char *addr = run(gh_norm_address, "address", raw, GH_NORM_ADDR_MAX, small);
    size_t n = strlen(addr);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)addr[i];
        GH_FUZZ_CHECK(c > 0x20 && c != 0x7f && !(c >= 'a' && c <= 'z'),
                      "address \"%s\": byte 0x%02x", addr, c);
    }
    /* Documented: normalizing a normalized address changes nothing. */
    if (n + 4 < GH_NORM_ADDR_MAX) {
        char again[GH_NORM_ADDR_MAX];
        gh_norm_address(addr, again, sizeof(again));
        GH_FUZZ_CHECK(!strcmp(addr, again), "address \"%s\" then \"%s\"", addr,
                      again);
    }
    int b = -1, u = -1, r = -1;
    int found = gh_norm_address_parts(addr, &b, &u, &r);
    GH_FUZZ_CHECK(b >= 0 && u >= 0 && r >= 0 && b <= 999999999 &&
                      u <= 999999999 && r <= 999999999,
                  "parts %d %d %d of \"%s\"", b, u, r, addr);
    GH_FUZZ_CHECK(found == (r > 0) || (found && !r), "room %d found %d", r,
                  found);
    free(addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return -1;
    char *raw = malloc(size + 1);
    memcpy(raw, data, size);
    raw[size] = '\0';
    size_t small = size ? 1 + data[0] % 48 : 1;
    check_name(raw, small);
    check_phone(raw);
    check_address(raw, small);
    free(raw);
    return 0;
}
