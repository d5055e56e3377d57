/*
 * gh_norm_name(): a name as matched (see gridhub/norm.h).
 *
 * Order matters: NFKC first (so full-width letters and the full-width full
 * stop are seen as their ASCII forms), then spaces and dots (so OpenCC sees
 * "王 建國" as the word 王建國), then 繁→简.
 *
 * OpenCC costs about 1.7 µs a name, most of a name's budget, and almost no
 * name needs it; so a table remembers, per BMP character, whether t2s
 * changes it alone, and OpenCC runs only on names with such a character.
 * The cost: a phrase OpenCC would rewrite although each of its characters
 * alone is unchanged (藉口 -> 借口) is left as typed. Names are rarely such
 * words, and equal input still gives equal output.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include "gridhub/norm.h"
#include "norm_int.h"

/* Code points of a name that are looked at; the rest is ignored. More
 * than GH_NORM_NAME_MAX can hold, so output is never short for that. */
#define NAME_CAP 256

#define MIDDLE_DOT 0x00B7

/* Every character clerks type for the dot of a transliterated name:
 * bullets, katakana and Greek middle dots, the ASCII and full-width full
 * stop, and the ideographic full stop a Chinese IME gives for '.'. */
static int is_dot(uint32_t c) {
    switch (c) {
    case 0x002E: /* . */
    case 0x00B7: /* · */
    case 0x0387: /* Greek ano teleia */
    case 0x16EB: /* runic single punctuation */
    case 0x2022: /* • */
    case 0x2024: /* one dot leader */
    case 0x2027: /* ‧ hyphenation point */
    case 0x2219: /* ∙ bullet operator */
    case 0x22C5: /* ⋅ dot operator */
    case 0x25CF: /* ● */
    case 0x2E31: /* word separator middle dot */
    case 0x3002: /* 。 */
    case 0x30FB: /* ・ katakana middle dot */
    case 0xA78F: /* Latin letter sinological dot */
    case 0xFE52: /* small full stop */
    case 0xFF0E: /* ． */
    case 0xFF61: /* halfwidth 。 */
    case 0xFF65: /* halfwidth ・ */
        return 1;
    default:
        return 0;
    }
}

static int is_latin(uint32_t c) {
    UErrorCode st = U_ZERO_ERROR;
    return uscript_getScript((UChar32)c, &st) == USCRIPT_LATIN;
}

/* A character of a Latin-script word, between which a space is kept. */
static int is_latin_word(uint32_t c) {
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9');
    return u_isalpha((UChar32)c) && is_latin(c);
}

/* Invisible characters that carry nothing of a name: controls, format
 * characters and variation selectors (a rare character's glyph choice). */
static int is_invisible(uint32_t c) {
    if (c < 0x20 || c == 0x7F) return 1;
    if (c < 0xA0) return c >= 0x80;
    if ((c >= 0xFE00 && c <= 0xFE0F) || (c >= 0xE0100 && c <= 0xE01EF))
        return 1;
    int8_t t = u_charType((UChar32)c);
    return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR;
}

static uint32_t upper(uint32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
    if (u_islower((UChar32)c) && is_latin(c))
        return (uint32_t)u_toupper((UChar32)c);
    return c;
}

/* Spaces, dots, invisibles and case, in place. A run of spaces and dots
 * becomes one U+00B7 if it holds a dot, one space between two Latin word
 * characters, and nothing otherwise (also at either end). */
static size_t clean(uint32_t *cp, size_t n) {
    size_t o = 0;
    int space = 0, dot = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        if (c >= 0x3400 && c <= 0x9FFF) { /* Han: nearly every character */
            if (o && dot) cp[o++] = MIDDLE_DOT;
            space = dot = 0;
            cp[o++] = c;
            continue;
        }
        if (gh__norm_is_space(c)) {
            space = 1;
            continue;
        }
        if (is_dot(c)) {
            dot = 1;
            continue;
        }
        if (is_invisible(c)) continue;
        c = upper(c);
        /* A separator replaces at least one input character: o < i. */
        if (o && dot)
            cp[o++] = MIDDLE_DOT;
        else if (o && space && is_latin_word(cp[o - 1]) && is_latin_word(c))
            cp[o++] = ' ';
        space = dot = 0;
        cp[o++] = c;
    }
    return o;
}

/* Per BMP code point: 0 not yet known, 1 t2s keeps it, 2 t2s changes it.
 * Racing fillers store the same value, so relaxed atomics suffice. */
static _Atomic uint8_t g_t2s[0x10000];

static int t2s_changes(opencc_t cc, uint32_t c) {
    if (c >= 0x10000) return 1; /* rare: let OpenCC decide */
    uint8_t s = atomic_load_explicit(&g_t2s[c], memory_order_relaxed);
    if (!s) {
        char in[8], *res;
        size_t len = gh__norm_encode(&c, 1, in, sizeof(in));
        res = opencc_convert_utf8(cc, in, len);
        s = res && strcmp(res, in) ? 2 : 1;
        if (res) opencc_convert_utf8_free(res);
        atomic_store_explicit(&g_t2s[c], s, memory_order_relaxed);
    }
    return s == 2;
}

static int needs_t2s(opencc_t cc, const uint32_t *cp, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (cp[i] >= 0x2E80 && t2s_changes(cc, cp[i])) return 1;
    return 0;
}

/* Encodes the name into out. A name cut to fit can end on the space or
 * dot between two words, which a name never ends with: dropped. */
static size_t encode(const uint32_t *cp, size_t n, char *out, size_t size) {
    size_t len = gh__norm_encode(cp, n, out, size);
    if (len && out[len - 1] == ' ')
        len--;
    else if (len >= 2 && !memcmp(out + len - 2, "\xc2\xb7", 2))
        len -= 2;
    out[len] = '\0';
    return len;
}

size_t gh_norm_name(const char *raw, char *out, size_t size) {
    if (!out || !size) return 0;
    uint32_t cp[NAME_CAP];
    size_t n = gh__norm_decode(raw, cp, NAME_CAP);
    n = gh__norm_nfkc(cp, n, NAME_CAP);
    n = clean(cp, n);
    /* A space clean() removed can leave a combining mark on a new base
     * ("l´" is NFKC "l \u0301", cleaned "L\u0301"): compose again, or the
     * name would not normalize to itself. */
    n = gh__norm_nfkc(cp, n, NAME_CAP);

    const gh__norm_ctx_t *ctx = gh__norm_ctx();
    if (!ctx->t2s || !needs_t2s(ctx->t2s, cp, n))
        return encode(cp, n, out, size);

    char tmp[NAME_CAP * 4 + 1];
    size_t len = gh__norm_encode(cp, n, tmp, sizeof(tmp));
    char *res = opencc_convert_utf8(ctx->t2s, tmp, len);
    if (!res) return encode(cp, n, out, size);
    /* Through code points again to cut at a character boundary. */
    n = gh__norm_decode(res, cp, NAME_CAP);
    opencc_convert_utf8_free(res);
    return encode(cp, n, out, size);
}
