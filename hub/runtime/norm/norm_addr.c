/*
 * gh_norm_address(): an address as matched (see gridhub/norm.h).
 *
 * Passes over code points, each into a bounded array:
 *   clean     NFKC, spaces and punctuation out, dashes unified, Latin upper;
 *             dashes kept only between two numbers and # only after one;
 *   numerals  Chinese numerals to Arabic, only where they number a building,
 *             unit, room, floor or village group: 五一路 and 三塘铺 are names
 *             and must stay as they are;
 *   words     幢/号楼/# -> 栋, 门 -> 单元, 室/房/号房 dropped, and 3-2-501
 *             read as 3栋2单元501;
 * numerals and words repeated until neither changes anything.
 * The rules follow how the departments' clerks write (see hub/gen/depts/fmt.c
 * and the 创文 volunteers' phone-typed addresses), not a full address grammar.
 */
#include <string.h>
#include <uchar.h>

#include <unicode/uchar.h>
#include <unicode/uscript.h>

#include "gridhub/norm.h"
#include "norm_int.h"

/* Code points of an address looked at; GH_NORM_ADDR_MAX holds ~170. */
#define ADDR_CAP 1024

typedef struct seq {
    uint32_t cp[ADDR_CAP];
    size_t n;
} seq_t;

static void push(seq_t *s, uint32_t c) {
    if (s->n < ADDR_CAP) s->cp[s->n++] = c;
}

static void push_lit(seq_t *s, const char32_t *lit) {
    for (; *lit; lit++)
        push(s, *lit);
}

/* cp[i..] starts with lit. */
static int at(const uint32_t *cp, size_t n, size_t i, const char32_t *lit) {
    for (; *lit; lit++, i++)
        if (i >= n || cp[i] != *lit) return 0;
    return 1;
}

/* s ends with lit. */
static int ends(const seq_t *s, const char32_t *lit) {
    size_t l = 0;
    while (lit[l])
        l++;
    return s->n >= l && at(s->cp, s->n, s->n - l, lit);
}

static int is_digit(uint32_t c) {
    return c >= '0' && c <= '9';
}

/* ---- clean ---------------------------------------------------------- */

static int is_dash(uint32_t c) {
    return c == '-' || (c >= 0x2010 && c <= 0x2015) || c == 0x2212 ||
           c == 0x30FC || c == 0xFE58 || c == 0xFE63;
}

static uint32_t upper(uint32_t c) {
    if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
    UErrorCode st = U_ZERO_ERROR;
    if (u_islower((UChar32)c) &&
        uscript_getScript((UChar32)c, &st) == USCRIPT_LATIN)
        return (uint32_t)u_toupper((UChar32)c);
    return c;
}

static void clean(const uint32_t *cp, size_t n, seq_t *o) {
    o->n = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[i];
        if (c >= 0x3400 && c <= 0x9FFF) { /* Han: most of an address */
            push(o, c);
            continue;
        }
        if (is_dash(c)) {
            /* Kept for the words pass, which reads or drops it. */
            if (!o->n || o->cp[o->n - 1] != '-') push(o, '-');
            continue;
        }
        if (c == '#') {
            push(o, c);
            continue;
        }
        if (gh__norm_is_space(c)) continue;
        int8_t t = u_charType((UChar32)c);
        if (t == U_CONTROL_CHAR || t == U_FORMAT_CHAR) continue;
        if (u_ispunct((UChar32)c)) continue;
        if (c < 0x80 && !(c >= '0' && c <= '9') &&
            !((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
            continue; /* ASCII symbols: + $ | ~ ... */
        push(o, upper(c));
    }
}

/* ---- numerals ------------------------------------------------------- */

/* 0..9 for a Chinese digit, 10/100/1000 for a unit, -1 otherwise. */
static int cn_numeral(uint32_t c) {
    switch (c) {
    case 0x3007: /* 〇 */
    case 0x96F6: /* 零 */
        return 0;
    case 0x4E00: /* 一 */
        return 1;
    case 0x4E8C: /* 二 */
        return 2;
    case 0x4E09: /* 三 */
        return 3;
    case 0x56DB: /* 四 */
        return 4;
    case 0x4E94: /* 五 */
        return 5;
    case 0x516D: /* 六 */
        return 6;
    case 0x4E03: /* 七 */
        return 7;
    case 0x516B: /* 八 */
        return 8;
    case 0x4E5D: /* 九 */
        return 9;
    case 0x5341: /* 十 */
        return 10;
    case 0x767E: /* 百 */
        return 100;
    case 0x5343: /* 千 */
        return 1000;
    default:
        return -1;
    }
}

/* Whether cp is (part of) a number, Arabic or Chinese. */
static int is_num(uint32_t c) {
    return is_digit(c) || cn_numeral(c) >= 0;
}

/* Drops the dashes not between two numbers and the # not after one, so
 * that what the numerals pass sees next to a number is what stays. */
static void tidy_marks(seq_t *s) {
    size_t o = 0;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t c = s->cp[i];
        if (c == '-' && !(o && is_num(s->cp[o - 1]) && i + 1 < s->n &&
                          is_num(s->cp[i + 1])))
            continue;
        if (c == '#' && !(o && is_num(s->cp[o - 1]))) continue;
        s->cp[o++] = c;
    }
    s->n = o;
}

/* A room number (or the rest of a dash chain) follows 门. */
static int number_follows(const uint32_t *cp, size_t n, size_t i) {
    return i >= n || is_digit(cp[i]) || cn_numeral(cp[i]) >= 0;
}

/* What may follow a number in a house address. */
static int unit_word_at(const uint32_t *cp, size_t n, size_t i) {
    if (i >= n) return 0;
    switch (cp[i]) {
    case '-':
    case '#':
    case 0x680B: /* 栋 */
    case 0x5E62: /* 幢 */
    case 0x53F7: /* 号 */
    case 0x5BA4: /* 室 */
    case 0x623F: /* 房 */
    case 0x5C42: /* 层 */
    case 0x697C: /* 楼 */
    case 0x7EC4: /* 组 */
    case 0x671F: /* 期 */
    case 0x5EA7: /* 座 */
        return 1;
    case 0x95E8: /* 门 */
        return number_follows(cp, n, i + 1);
    default:
        return at(cp, n, i, U"单元");
    }
}

/* What may precede a room number ending the address. */
static int unit_word_before(const uint32_t *cp, size_t i) {
    if (!i) return 0;
    switch (cp[i - 1]) {
    case '-':
    case 0x680B: /* 栋 */
    case 0x5E62: /* 幢 */
    case 0x53F7: /* 号 */
    case 0x5C42: /* 层 */
    case 0x697C: /* 楼 */
    case 0x95E8: /* 门 */
        return 1;
    case 0x5143: /* 元, of 单元 */
        return i >= 2 && cp[i - 2] == 0x5355;
    default:
        return 0;
    }
}

static void push_uint(seq_t *o, unsigned long v) {
    char d[24];
    int k = 0;
    do {
        d[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        push(o, (uint32_t)d[--k]);
}

/* Writes the value of the numeral cp[a..b) (十二 -> 12, 三零一 -> 301, 一百
 * 零一 -> 101); returns 0, writing nothing, if it is not a well-formed
 * number. */
static int push_numeral(const uint32_t *cp, size_t a, size_t b, seq_t *o) {
    int positional = 0;
    for (size_t i = a; i < b; i++)
        positional |= cn_numeral(cp[i]) >= 10;
    if (!positional) { /* read digit by digit, as room numbers are */
        for (size_t i = a; i < b; i++)
            push(o, (uint32_t)('0' + cn_numeral(cp[i])));
        return 1;
    }
    unsigned long total = 0;
    int digit = -1, last_unit = 10000;
    for (size_t i = a; i < b; i++) {
        int v = cn_numeral(cp[i]);
        if (v >= 10) {
            if (v >= last_unit) return 0;
            total += (unsigned long)(digit < 0 ? 1 : digit) * (unsigned)v;
            last_unit = v;
            digit = -1;
        } else if (v == 0) {
            digit = -2; /* 零 holds a place: 一百零一 */
        } else {
            if (digit > 0) return 0; /* 二三十 */
            digit = v;
        }
    }
    if (digit > 0) total += (unsigned long)digit;
    push_uint(o, total);
    return 1;
}

/* Returns 1 if it converted something. */
static int numerals(const seq_t *in, seq_t *o) {
    const uint32_t *cp = in->cp;
    size_t n = in->n;
    int changed = 0;
    o->n = 0;
    for (size_t i = 0; i < n;) {
        if (cn_numeral(cp[i]) < 0) {
            push(o, cp[i++]);
            continue;
        }
        size_t b = i;
        while (b < n && cn_numeral(cp[b]) >= 0)
            b++;
        int convert =
            unit_word_at(cp, n, b) || (b == n && unit_word_before(cp, i));
        if (convert && push_numeral(cp, i, b, o))
            changed = 1;
        else
            for (size_t k = i; k < b; k++)
                push(o, cp[k]);
        i = b;
    }
    return changed;
}

/* ---- words ---------------------------------------------------------- */

/* Where a room word may be dropped: not before Han text (501室内) nor
 * before another number or letter, which it would run into (2室3栋). */
static int room_word_end(const uint32_t *cp, size_t n, size_t i) {
    if (i >= n) return 1;
    uint32_t c = cp[i];
    return !gh__norm_is_han(c) && !is_digit(c) && !(c >= 'A' && c <= 'Z');
}

/* Skips a room word (室, 房, 号房) after a room number; returns the new i. */
static size_t skip_room_word(const uint32_t *cp, size_t n, size_t i) {
    if ((at(cp, n, i, U"室") || at(cp, n, i, U"房")) &&
        room_word_end(cp, n, i + 1))
        return i + 1;
    if (at(cp, n, i, U"号房") && room_word_end(cp, n, i + 2)) return i + 2;
    return i;
}

#define CHAIN_MAX 8

/* Returns 1 if it changed something. */
static int words(const seq_t *in, seq_t *o) {
    const uint32_t *cp = in->cp;
    size_t n = in->n;
    o->n = 0;
    for (size_t i = 0; i < n;) {
        if (cp[i] == '-' || cp[i] == '#') { /* not after a number */
            i++;
            continue;
        }
        if (!is_digit(cp[i])) {
            push(o, cp[i++]);
            continue;
        }
        /* A number, or a chain of them joined by dashes: 3-2-501. A chain
         * is read whole, however long (cut, its rest would lose a dash and
         * two numbers would run together); the first CHAIN_MAX numbers are
         * recorded. */
        size_t s[CHAIN_MAX], e[CHAIN_MAX], k = 0, j = i;
        for (;;) {
            size_t start = j;
            while (j < n && is_digit(cp[j]))
                j++;
            if (k < CHAIN_MAX) {
                s[k] = start;
                e[k] = j;
            }
            k++;
            if (j + 1 < n && cp[j] == '-' && is_digit(cp[j + 1]))
                j++;
            else
                break;
        }
        int after_unit = ends(o, U"单元");
        if (k == 1) {
            for (size_t p = s[0]; p < e[0]; p++)
                push(o, cp[p]);
            if (at(cp, n, j, U"幢")) {
                push_lit(o, U"栋");
                j += 1;
            } else if (at(cp, n, j, U"号楼")) {
                push_lit(o, U"栋");
                j += 2;
            } else if (at(cp, n, j, U"#")) {
                push_lit(o, U"栋");
                j += 1 + (at(cp, n, j + 1, U"楼") || at(cp, n, j + 1, U"栋"));
            } else if (at(cp, n, j, U"门") && number_follows(cp, n, j + 1)) {
                push_lit(o, U"单元");
                j += 1;
            } else if (after_unit && at(cp, n, j, U"号") && j + 1 == n) {
                j += 1; /* 2单元501号: 号 names the room */
            } else {
                j = skip_room_word(cp, n, j);
            }
        } else if (k == 2 && at(cp, n, j, U"号")) {
            /* 12-14号: a range of house numbers, dash kept. */
            for (size_t p = s[0]; p < e[1]; p++)
                push(o, cp[p]);
        } else if (k <= 3) {
            static const char32_t *const three[] = {U"栋", U"单元", U""};
            const char32_t *const *word = three;
            if (k == 2 && !at(cp, n, j, U"单元") && ends(o, U"栋"))
                word++; /* 3栋2-501: unit and room */
            for (size_t q = 0; q < k; q++) {
                for (size_t p = s[q]; p < e[q]; p++)
                    push(o, cp[p]);
                if (q + 1 < k) push_lit(o, word[q]);
            }
            if (k == 2 && at(cp, n, j, U"单元")) {
                push_lit(o, U"单元");
                j += 2;
            } else if (k == 3 && at(cp, n, j, U"号") && j + 1 == n) {
                j += 1;
            } else {
                j = skip_room_word(cp, n, j);
            }
        } else {
            /* Four or more numbers: no reading known, keep them apart. */
            for (size_t p = s[0]; p < j; p++)
                push(o, cp[p]);
        }
        i = j;
    }
    return o->n != n || memcmp(o->cp, cp, n * sizeof(cp[0]));
}

size_t gh_norm_address(const char *raw, char *out, size_t size) {
    if (!out || !size) return 0;
    /* Two arrays used in turn: 8 KB of stack. */
    seq_t a, b;
    a.n = gh__norm_decode(raw, a.cp, ADDR_CAP);
    a.n = gh__norm_nfkc(a.cp, a.n, ADDR_CAP);
    clean(a.cp, a.n, &b);
    tidy_marks(&b);
    /* Compose what removed spaces and punctuation brought together (as in
     * gh_norm_name), or the address would not normalize to itself. */
    b.n = gh__norm_nfkc(b.cp, b.n, ADDR_CAP);
    /* A rewrite can give a numeral the context it lacked (3#五零一 ->
     * 3栋五零一): repeat until nothing changes, so that normalizing a
     * normalized address changes nothing. Rewrites only ever go one way
     * (numerals to digits, variant words to 栋/单元), so this ends, mostly
     * after one round that changed something and one that did not. */
    for (int round = 0; round < 4; round++) {
        int changed = numerals(&b, &a);
        if (!(words(&a, &b) | changed)) break;
    }
    return gh__norm_encode(b.cp, b.n, out, size);
}
