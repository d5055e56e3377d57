/*
 * Field comparators and agreement levels. Strings are compared as Unicode
 * code points (one Chinese character is one unit, not three bytes); equal
 * values of one set share a pointer, so equality is usually a pointer test.
 */
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/norm.h"
#include "match_int.h"

/* Longest value compared character by character; longer ones are cut
 * (normalized addresses are well below this). */
#define MAX_CPS 256

static const char *const FIELD_NAMES[GH_MATCH_F__COUNT] = {
    "id", "name", "birth", "sex", "phone", "address"};

static const int FIELD_LEVELS[GH_MATCH_F__COUNT] = {6, 6, 7, 3, 4, 5};

static const char *const LEVEL_NAMES[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS] = {
    {"missing", "equal", "first 17 equal", "one digit off", "another area code",
     "differ"},
    {"missing", "equal", "same pinyin", "fuzzy pinyin", "one character differs",
     "differ"},
    {"missing", "equal", "day/month swapped", "one digit off", "placeholder",
     "same year", "differ"},
    {"missing", "equal", "differ"},
    {"missing", "equal", "one digit off", "differ"},
    {"missing", "equal", "same building/unit/room", "similar", "differ"},
};

const char *gh_match_field_name(gh_match_field_t f) {
    return (unsigned)f < GH_MATCH_F__COUNT ? FIELD_NAMES[f] : "?";
}

int gh_match_field_levels(gh_match_field_t f) {
    return (unsigned)f < GH_MATCH_F__COUNT ? FIELD_LEVELS[f] : 0;
}

const char *gh_match_level_name(gh_match_field_t f, int level) {
    if ((unsigned)f >= GH_MATCH_F__COUNT || level < 0 ||
        level >= FIELD_LEVELS[f])
        return "?";
    return LEVEL_NAMES[f][level];
}

/* UTF-8 to code points; a stray byte counts as one code point of its own,
 * so any input compares without reading past its NUL. */
static size_t decode(const char *s, uint32_t *out, size_t max) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p && n < max) {
        unsigned c = *p;
        int len = c < 0x80         ? 1
                  : (c >> 5) == 6  ? 2
                  : (c >> 4) == 14 ? 3
                  : (c >> 3) == 30 ? 4
                                   : 1;
        uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
        int ok = 1;
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                ok = 0;
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (!ok) {
            len = 1;
            cp = c;
        }
        out[n++] = cp;
        p += len;
    }
    return n;
}

static double jaro_winkler_cp(const uint32_t *a, size_t la, const uint32_t *b,
                              size_t lb) {
    if (!la && !lb) return 1.0;
    if (!la || !lb) return 0.0;
    size_t longer = la > lb ? la : lb;
    size_t range = longer / 2 ? longer / 2 - 1 : 0;
    uint8_t ma[MAX_CPS] = {0}, mb[MAX_CPS] = {0};
    size_t matches = 0;
    for (size_t i = 0; i < la; i++) {
        size_t lo = i > range ? i - range : 0;
        size_t hi = i + range + 1 < lb ? i + range + 1 : lb;
        for (size_t j = lo; j < hi; j++) {
            if (mb[j] || a[i] != b[j]) continue;
            ma[i] = mb[j] = 1;
            matches++;
            break;
        }
    }
    if (!matches) return 0.0;
    size_t t = 0, k = 0;
    for (size_t i = 0; i < la; i++) {
        if (!ma[i]) continue;
        while (!mb[k])
            k++;
        if (a[i] != b[k]) t++;
        k++;
    }
    double m = (double)matches;
    double jaro =
        (m / (double)la + m / (double)lb + (m - (double)t / 2) / m) / 3;
    size_t prefix = 0;
    while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix])
        prefix++;
    return jaro + (double)prefix * 0.1 * (1.0 - jaro);
}

double gh_match_jaro_winkler(const char *a, const char *b) {
    uint32_t ca[MAX_CPS], cb[MAX_CPS];
    if (!a || !b) return 0.0;
    size_t la = decode(a, ca, MAX_CPS), lb = decode(b, cb, MAX_CPS);
    return jaro_winkler_cp(ca, la, cb, lb);
}

/* 1 if the code point sequences are exactly one substitution, insertion or
 * deletion apart. */
static int one_edit(const uint32_t *a, size_t la, const uint32_t *b,
                    size_t lb) {
    if (la < lb) {
        const uint32_t *t = a;
        a = b;
        b = t;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    if (la - lb > 1) return 0;
    size_t i = 0;
    while (i < lb && a[i] == b[i])
        i++;
    if (la == lb) {
        if (i == la) return 0; /* equal */
        return !memcmp(a + i + 1, b + i + 1, (la - i - 1) * sizeof(*a));
    }
    return !memcmp(a + i + 1, b + i, (lb - i) * sizeof(*a));
}

static int str_eq(const char *a, const char *b) {
    return a == b || !strcmp(a, b);
}

/* 1 if the first n characters of two numbers are one substitution or one
 * swap of two neighbours apart. */
static int id_one_edit(const char *a, const char *b, int n) {
    int d[3], nd = 0;
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) {
            if (nd == 2) return 0;
            d[nd++] = i;
        }
    if (nd == 1) return 1;
    return nd == 2 && d[1] == d[0] + 1 && a[d[0]] == b[d[1]] &&
           a[d[1]] == b[d[0]];
}

static int level_id(const gh_match_rec_t *a, const gh_match_rec_t *b) {
    /* A number that is likely someone else's says nothing about this
     * pair either way: the rest of the record decides. */
    if (!a->id_number[0] || !b->id_number[0] || a->id_foreign || b->id_foreign)
        return 0;
    int va = gh_idnum_is_valid(a->id_status),
        vb = gh_idnum_is_valid(b->id_status);
    if (va && vb && !memcmp(a->id_number, b->id_number, 18)) return 1;
    if (!memcmp(a->id_number, b->id_number, 17)) return 2;
    /* A digit mistyped or two neighbours swapped (the check character then
     * fails). Two numbers that both pass the check are never one such edit
     * apart (ISO 7064 MOD 11-2 catches every one), so between two valid
     * numbers one edit is impossible and the pair simply differs. */
    /* An upgraded 15-digit number got its check character computed from
     * its digits: a typo in it passed unseen, so it counts as unchecked,
     * and its computed check character says nothing about the other's. */
    int up =
        a->id_status == GH_IDNUM_UPGRADED || b->id_status == GH_IDNUM_UPGRADED;
    int ca = a->id_status == GH_IDNUM_OK, cb = b->id_status == GH_IDNUM_OK;
    if (!(ca && cb) && id_one_edit(a->id_number, b->id_number, up ? 17 : 18))
        return 3;
    /* Two valid numbers with one birth date and sequence number under
     * two area codes: a number re-issued by another county (一人多号),
     * never cancelled. Different people almost never share those 11
     * digits. */
    if (va && vb && !memcmp(a->id_number + 6, b->id_number + 6, 11)) return 4;
    return 5;
}

/* Folds a pinyin key (gh_norm_pinyin: zh/ch/sh and -eng/-ing already
 * folded) further by the merges of Xiang speakers and fuzzy-pinyin input
 * methods: n, r -> l; h, hu -> f (黄/方, 辉/飞); -ang -> -an (so -iang ->
 * -ian). Returns 0 when it does not fit. */
static int fuzzy_fold(const char *py, char *out, size_t size) {
    size_t o = 0;
    while (*py) {
        const char *e = strchr(py, ' ');
        size_t n = e ? (size_t)(e - py) : strlen(py);
        char syl[64];
        size_t k = 0;
        if (n >= sizeof(syl) - 2 || o + n + 3 > size) return 0;
        const char *p = py;
        if (*p == 'n' || *p == 'r') {
            syl[k++] = 'l';
            p++;
        } else if (*p == 'h' && p[1] == 'u' && n > 2) {
            syl[k++] = 'f';
            p += 2;
            if (*p == 'i' && n == 3) syl[k++] = 'e'; /* hui -> fei */
        } else if (*p == 'h') {
            syl[k++] = 'f';
            p++;
        }
        while (p < py + n)
            syl[k++] = *p++;
        if (k >= 3 && !memcmp(syl + k - 3, "ang", 3)) k--;
        memcpy(out + o, syl, k);
        o += k;
        py += n;
        if (*py == ' ') {
            out[o++] = ' ';
            py++;
        }
    }
    out[o] = '\0';
    return 1;
}

static int level_name(const gh_match_rec_t *a, const gh_match_rec_t *b) {
    if (!a->name || !b->name) return 0;
    if (str_eq(a->name, b->name)) return 1;
    if (a->pinyin && b->pinyin) {
        if (str_eq(a->pinyin, b->pinyin)) return 2;
        char fa[GH_NORM_PINYIN_MAX], fb[GH_NORM_PINYIN_MAX];
        if (fuzzy_fold(a->pinyin, fa, sizeof(fa)) &&
            fuzzy_fold(b->pinyin, fb, sizeof(fb)) && !strcmp(fa, fb))
            return 3;
    }
    uint32_t ca[64], cb[64];
    size_t la = decode(a->name, ca, 64), lb = decode(b->name, cb, 64);
    /* In a two-character name one character is half the name: 张伟 and
     * 张军 are different people, not a typo. */
    size_t lo = la < lb ? la : lb, hi = la < lb ? lb : la;
    if (lo >= 2 && hi >= 3 && one_edit(ca, la, cb, lb)) return 4;
    return 5;
}

/* Number of the 8 digits of YYYYMMDD that differ. */
static int birth_digits_differ(int ya, int ma, int da, int yb, int mb, int db) {
    int a = ya * 10000 + ma * 100 + da, b = yb * 10000 + mb * 100 + db, n = 0;
    for (int i = 0; i < 8; i++, a /= 10, b /= 10)
        n += a % 10 != b % 10;
    return n;
}

/* 1 if one side looks like a clerk's stand-in for a date only partly
 * known and the other side agrees on the part that was kept: YYYY-01-01
 * (only the year known) with the same year, or the 1st of the month with
 * the same year and month. (1900-01-01, nothing known, is no date at
 * all: gh__match_parse_date drops it.) */
static int birth_placeholder(int ya, int ma, int da, int yb, int mb) {
    if (ya != yb || da != 1) return 0;
    return ma == 1 || ma == mb;
}

int gh__match_birth_level(int32_t a, int32_t b) {
    if (a == b) return 1;
    int ya, ma, da, yb, mb, db;
    gh__match_civil(a, &ya, &ma, &da);
    gh__match_civil(b, &yb, &mb, &db);
    if (ya == yb && ma == db && da == mb) return 2;
    /* A mistyped digit, or a year from the nominal age (虚岁). The two
     * mostly coincide (a year one off is one digit off except across a
     * decade: 1989/1990), so they share a level. A digit in the decade or
     * the century is left out: 1955 and 1985 are a father and a son, who
     * may share a name and a household. */
    int dy = ya > yb ? ya - yb : yb - ya;
    if (dy < 10 && (birth_digits_differ(ya, ma, da, yb, mb, db) == 1 ||
                    (dy == 1 && ma == mb && da == db)))
        return 3;
    if (birth_placeholder(ya, ma, da, yb, mb) ||
        birth_placeholder(yb, mb, db, ya, ma))
        return 4;
    return ya == yb ? 5 : 6;
}

int gh__match_birth_foreign(int32_t rec, int32_t embedded) {
    if (rec == GH_MATCH_NO_DATE || embedded == GH_MATCH_NO_DATE) return 0;
    if (gh__match_birth_level(rec, embedded) < 5) return 0;
    /* One digit of the decade or century mistyped in the record is still
     * a typo of the holder's own date. */
    int ya, ma, da, yb, mb, db;
    gh__match_civil(rec, &ya, &ma, &da);
    gh__match_civil(embedded, &yb, &mb, &db);
    /* Nor is a day mistyped whichever way (31 -> 13). */
    if (ya == yb && ma == mb) return 0;
    return birth_digits_differ(ya, ma, da, yb, mb, db) >= 2;
}

static int level_birth(const gh_match_rec_t *a, const gh_match_rec_t *b) {
    if (a->birth == GH_MATCH_NO_DATE || b->birth == GH_MATCH_NO_DATE) return 0;
    return gh__match_birth_level(a->birth, b->birth);
}

static int level_sex(const gh_match_rec_t *a, const gh_match_rec_t *b) {
    if (!a->sex || !b->sex) return 0;
    return a->sex == b->sex ? 1 : 2;
}

/* One digit mistyped: same length, one position differs. Two
 * neighbours swapped are two positions and count as differing: a phone
 * has no check digit to tell a swap from another number. */
static int level_phone(const gh_match_rec_t *a, const gh_match_rec_t *b) {
    if (!a->phone || !b->phone) return 0;
    if (str_eq(a->phone, b->phone)) return 1;
    size_t la = strlen(a->phone);
    if (la < 7 || la != strlen(b->phone)) return 3;
    int nd = 0;
    for (size_t i = 0; i < la && nd < 2; i++)
        nd += a->phone[i] != b->phone[i];
    return nd == 1 ? 2 : 3;
}

static int level_own_address(const gh_match_rec_t *a, const gh_match_rec_t *b) {
    if (!a->address || !b->address) return 0;
    if (str_eq(a->address, b->address)) return 1;
    int ba, ua, ra, bb, ub, rb;
    if (gh_norm_address_parts(a->address, &ba, &ua, &ra) &&
        gh_norm_address_parts(b->address, &bb, &ub, &rb) && ba == bb &&
        ua == ub && ra == rb)
        return 2;
    if (gh_match_jaro_winkler(a->address, b->address) >= 0.9) return 3;
    return 4;
}

/* A borrowed address (address_from_id) is the flat of the number's
 * holder: the same flat is evidence, as a shared building/unit/room is;
 * another says nothing (the relative may live elsewhere), nor do two
 * borrowed ones (two rows carrying one relative's number). */
static int level_address(const gh_match_rec_t *a, const gh_match_rec_t *b) {
    if (!a->address_from_id && !b->address_from_id)
        return level_own_address(a, b);
    if (a->address_from_id && b->address_from_id) return 0;
    int l = level_own_address(a, b);
    return l == 1 || l == 2 ? 2 : 0;
}

int gh__match_level(gh_match_field_t f, const gh_match_rec_t *a,
                    const gh_match_rec_t *b) {
    switch (f) {
    case GH_MATCH_F_ID:
        return level_id(a, b);
    case GH_MATCH_F_NAME:
        return level_name(a, b);
    case GH_MATCH_F_BIRTH:
        return level_birth(a, b);
    case GH_MATCH_F_SEX:
        return level_sex(a, b);
    case GH_MATCH_F_PHONE:
        return level_phone(a, b);
    case GH_MATCH_F_ADDRESS:
        return level_address(a, b);
    default:
        return 0;
    }
}

void gh__match_levels(const gh_match_rec_t *a, const gh_match_rec_t *b,
                      int *level) {
    level[GH_MATCH_F_ID] = level_id(a, b);
    level[GH_MATCH_F_NAME] = level_name(a, b);
    level[GH_MATCH_F_BIRTH] = level_birth(a, b);
    level[GH_MATCH_F_SEX] = level_sex(a, b);
    level[GH_MATCH_F_PHONE] = level_phone(a, b);
    level[GH_MATCH_F_ADDRESS] = level_address(a, b);
}
