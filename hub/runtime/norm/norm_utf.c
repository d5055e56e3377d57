/*
 * UTF-8 in and out, NFKC and character classes for the normalizers.
 *
 * The normalizers work on arrays of code points rather than on UTF-8 so
 * that look-ahead ("十二" followed by "栋") and rewriting are index
 * arithmetic; ICU's normalizer wants UTF-16, so NFKC converts in and out,
 * but only when some character could change (names almost never have one).
 */
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include <string.h>

#include "gridhub/util.h"
#include "norm_int.h"

size_t gh__norm_decode(const char *raw, uint32_t *cp, size_t cap) {
    size_t n = 0;
    if (!raw) return 0;
    const unsigned char *s = (const unsigned char *)raw;
    while (*s && n < cap) {
        int k = gh_utf8_next_z(s, &cp[n]);
        if (k < 0) {
            s++;
            continue;
        }
        s += k;
        n++;
    }
    return n;
}

size_t gh__norm_encode(const uint32_t *cp, size_t n, char *out, size_t size) {
    size_t o = 0;
    if (!size) return 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        size_t w = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (o + w >= size) break;
        if (w == 1) {
            out[o++] = (char)c;
        } else if (w == 2) {
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else if (w == 3) {
            out[o++] = (char)(0xE0 | (c >> 12));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | (c >> 18));
            out[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = '\0';
    return o;
}

int gh__norm_is_space(uint32_t c) {
    if (c == ' ' || (c >= 0x09 && c <= 0x0D)) return 1;
    /* Unicode's White_Space list is short and stable, and this runs on
     * every character: spelled out instead of asking ICU. */
    switch (c) {
    case 0x0085: /* next line */
    case 0x00A0: /* no-break space */
    case 0x1680: /* Ogham space mark */
    case 0x2028: /* line separator */
    case 0x2029: /* paragraph separator */
    case 0x202F: /* narrow no-break space */
    case 0x205F: /* medium mathematical space */
    case 0x3000: /* ideographic (full-width) space */
    case 0x00AD: /* soft hyphen */
    case 0x180E: /* Mongolian vowel separator, once a space */
    case 0x200B: /* zero-width space */
    case 0x200C: /* zero-width non-joiner */
    case 0x200D: /* zero-width joiner */
    case 0x2060: /* word joiner */
    case 0xFEFF: /* byte-order mark */
        return 1;
    default:
        return c >= 0x2000 && c <= 0x200A; /* en quad .. hair space */
    }
}

int gh__norm_is_han(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x323AF) ||
           c == 0x3007; /* 〇, the ideographic zero */
}

/* Characters NFKC leaves alone, tested without ICU: ASCII, the middle dot
 * and the CJK ideographs that make up nearly every name and address. */
static int nfkc_stable(uint32_t c) {
    return c < 0xA0 || c == 0xB7 || (c >= 0x3400 && c <= 0x9FFF);
}

/* Without ICU: the folds typed data needs (full-width ASCII, U+3000). */
static size_t fold_width(uint32_t *cp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (cp[i] >= 0xFF01 && cp[i] <= 0xFF5E)
            cp[i] -= 0xFEE0;
        else if (cp[i] == 0x3000)
            cp[i] = ' ';
    }
    return n;
}

#define NFKC_MAX 1024 /* code points; callers' buffers are no larger */

size_t gh__norm_nfkc(uint32_t *cp, size_t n, size_t cap) {
    size_t i = 0;
    while (i < n && nfkc_stable(cp[i]))
        i++;
    if (i == n) return n;

    UErrorCode st = U_ZERO_ERROR;
    const UNormalizer2 *nfkc = unorm2_getNFKCInstance(&st);
    if (U_FAILURE(st) || n > NFKC_MAX || cap > NFKC_MAX)
        return fold_width(cp, n);

    UChar src[2 * NFKC_MAX], dst[2 * NFKC_MAX];
    int32_t sl = 0;
    for (size_t k = 0; k < n; k++)
        U16_APPEND_UNSAFE(src, sl, cp[k]);
    int32_t dl = unorm2_normalize(nfkc, src, sl, dst, 2 * NFKC_MAX, &st);
    if (U_FAILURE(st)) return fold_width(cp, n);

    /* A few compatibility characters expand a lot (U+FDFA is 18 code
     * points): keep what fits, whole characters only. */
    size_t m = 0;
    for (int32_t k = 0; k < dl && m < cap;) {
        UChar32 c;
        U16_NEXT(dst, k, dl, c);
        cp[m++] = (uint32_t)c;
    }
    return m;
}
