/*
 * gh_norm_phone(): a mainland China phone number as matched (see
 * gridhub/norm.h). Needs neither ICU nor OpenCC: the only compatibility
 * forms phones come in are full-width digits and punctuation.
 */
#include <string.h>

#include "gridhub/norm.h"
#include "gridhub/util.h"
#include "norm_int.h"

/* Digits kept; more means it is not one phone number. */
#define DIGITS_MAX 16

static int is_separator(uint32_t c) {
    switch (c) {
    case '-':
    case '(':
    case ')':
    case '.':
    case 0x2010: /* hyphen */
    case 0x2011: /* non-breaking hyphen */
    case 0x2012: /* figure dash */
    case 0x2013: /* en dash */
    case 0x2014: /* em dash */
    case 0x2212: /* minus */
    case 0x30FC: /* ー, which a Chinese IME can give for '-' */
    case 0xFF08: /* （ */
    case 0xFF09: /* ） */
    case 0xFF0D: /* － */
    case 0xFF0E: /* ． */
        return 1;
    default:
        return gh__norm_is_space(c);
    }
}

/* Strips a country prefix of China from d[0..n); returns the new length,
 * or 0 for another country's number. */
static size_t strip_country(char *d, size_t n, int plus) {
    size_t cut = 0;
    if (plus) {
        if (n < 2 || d[0] != '8' || d[1] != '6') return 0;
        cut = 2;
    } else if (n > 4 && !memcmp(d, "0086", 4)) {
        cut = 4;
    } else if (n == 13 && d[0] == '8' && d[1] == '6' && d[2] == '1') {
        cut = 2; /* 86 before a mobile number, written without the + */
    } else {
        return n;
    }
    memmove(d, d + cut, n - cut);
    n -= cut;
    /* After a country code a landline drops its trunk 0 (+86 738 ...). */
    if (n && d[0] != '0' && d[0] != '1' && n < DIGITS_MAX) {
        memmove(d + 1, d, n);
        d[0] = '0';
        n++;
    }
    return n;
}

size_t gh_norm_phone(const char *raw, char *out, size_t size) {
    if (!out || !size) return 0;
    out[0] = '\0';
    if (!raw) return 0;
    char d[DIGITS_MAX + 2];
    size_t n = 0;
    int plus = 0;
    const unsigned char *s = (const unsigned char *)raw;
    while (*s) {
        uint32_t c;
        int k = gh_utf8_next_z(s, &c);
        if (k < 0) return 0; /* not text: not a phone either */
        s += (size_t)k;
        if (c >= 0xFF10 && c <= 0xFF19) c -= 0xFEE0; /* full-width digit */
        if (c >= '0' && c <= '9') {
            if (n == DIGITS_MAX) return 0;
            d[n++] = (char)c;
        } else if ((c == '+' || c == 0xFF0B) && !n && !plus) {
            plus = 1;
        } else if (!is_separator(c)) {
            return 0;
        }
    }
    n = strip_country(d, n, plus);
    int mobile = n == 11 && d[0] == '1';
    /* "00" is the international prefix, never a trunk 0 and an area code:
     * taking it for a landline would leave a 0086 inside a number that
     * normalizes again to something else. */
    int landline = n >= 10 && n <= 12 && d[0] == '0' && d[1] != '0';
    if ((!mobile && !landline) || n >= size) return 0;
    memcpy(out, d, n);
    out[n] = '\0';
    return n;
}
