/*
 * Resident ID-number normalization (GB 11643-1999); see gridhub/idnum.h.
 *
 * The input is decoded as strict UTF-8 one code point at a time, spaces are
 * dropped and full-width forms folded to ASCII, and the surviving characters
 * are collected into a fixed 18-byte buffer (counting any excess, so an
 * over-long input is reported as such without being stored).
 */
#include "gridhub/idnum.h"
#include "gridhub/util.h"
#include "norm_int.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define ID_LEN 18
#define LEGACY_LEN 15

static const int k_weights[17] = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                                  3, 7, 9,  10, 5, 8, 4, 2};
static const char k_check_map[11] = {'1', '0', 'X', '9', '8', '7',
                                     '6', '5', '4', '3', '2'};

/* Whitespace (and invisible padding) removed anywhere in the input. */
static int is_space(uint32_t cp) {
    switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: /* ideographic (full-width) space */
    case 0x200B: /* zero-width space */
    case 0xFEFF: /* byte-order mark / zero-width no-break space */
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

/* The ASCII ID character for cp ('0'..'9' or 'X'), or 0 if it is none. */
static char fold_char(uint32_t cp) {
    if (cp >= '0' && cp <= '9') return (char)cp;
    if (cp == 'X' || cp == 'x' || cp == 0xFF38 || cp == 0xFF58) return 'X';
    if (cp >= 0xFF10 && cp <= 0xFF19) return (char)('0' + (cp - 0xFF10));
    return 0;
}

static int all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int digits_value(const char *s, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int current_year(void) {
    time_t now = time(NULL);
    struct tm tm;
    if (now != (time_t)-1 &&
        (localtime_r(&now, &tm) != NULL || gmtime_r(&now, &tm) != NULL))
        return tm.tm_year + 1900;
    return 9999; /* no clock: only the calendar checks remain */
}

static int is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* date: 8 ASCII digits YYYYMMDD. */
static int date_ok(const char *date) {
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    int y = digits_value(date, 4);
    int m = digits_value(date + 4, 2);
    int d = digits_value(date + 6, 2);
    if (y < 1900 || y > current_year()) return 0;
    if (m < 1 || m > 12) return 0;
    int max = mdays[m - 1] + (m == 2 && is_leap(y));
    return d >= 1 && d <= max;
}

char gh_idnum_check_char(const char first17[17]) {
    if (!all_digits(first17, 17)) return '\0';
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (first17[i] - '0') * k_weights[i];
    return k_check_map[sum % 11];
}

static void fill_info(const char id[ID_LEN], gh_idnum_info_t *info) {
    memcpy(info->region, id, 6);
    info->region[6] = '\0';
    info->birth_year = digits_value(id + 6, 4);
    info->birth_month = digits_value(id + 10, 2);
    info->birth_day = digits_value(id + 12, 2);
    info->sex = ((id[16] - '0') % 2) ? GH_IDNUM_MALE : GH_IDNUM_FEMALE;
}

gh_idnum_status_t gh_idnum_normalize(const char *raw, char out[19],
                                     gh_idnum_info_t *info) {
    char buf[ID_LEN];
    size_t n = 0;

    out[0] = '\0';
    if (info) memset(info, 0, sizeof *info);
    if (!raw) return GH_IDNUM_EMPTY;

    const unsigned char *p = (const unsigned char *)raw;
    while (*p) {
        uint32_t cp;
        int len = gh_utf8_next_z(p, &cp);
        if (len < 0) return GH_IDNUM_BAD_CHAR;
        p += len;
        if (is_space(cp)) continue;
        char c = fold_char(cp);
        if (!c) return GH_IDNUM_BAD_CHAR;
        if (n < ID_LEN) buf[n] = c;
        n++;
    }

    if (n == 0) return GH_IDNUM_EMPTY;
    if (n != ID_LEN && n != LEGACY_LEN) return GH_IDNUM_BAD_LENGTH;

    char id[ID_LEN];
    gh_idnum_status_t ok;
    if (n == LEGACY_LEN) {
        if (!all_digits(buf, LEGACY_LEN)) return GH_IDNUM_BAD_CHAR;
        memcpy(id, buf, 6);
        id[6] = '1';
        id[7] = '9';
        memcpy(id + 8, buf + 6, 9);
        id[17] = gh_idnum_check_char(id);
        ok = GH_IDNUM_UPGRADED;
    } else {
        if (!all_digits(buf, 17)) return GH_IDNUM_BAD_CHAR;
        memcpy(id, buf, ID_LEN);
        ok = GH_IDNUM_OK;
    }

    if (!date_ok(id + 6)) return GH_IDNUM_BAD_DATE;

    gh_idnum_status_t st =
        gh_idnum_check_char(id) == id[17] ? ok : GH_IDNUM_BAD_CHECK;
    memcpy(out, id, ID_LEN);
    out[ID_LEN] = '\0';
    if (info) fill_info(id, info);
    return st;
}

const char *gh_idnum_status_str(gh_idnum_status_t s) {
    switch (s) {
    case GH_IDNUM_OK:
        return "valid";
    case GH_IDNUM_UPGRADED:
        return "valid legacy 15-digit ID, upgraded to 18";
    case GH_IDNUM_EMPTY:
        return "empty";
    case GH_IDNUM_BAD_LENGTH:
        return "wrong length (need 15 or 18 characters)";
    case GH_IDNUM_BAD_CHAR:
        return "invalid character (only digits, and X as the 18th)";
    case GH_IDNUM_BAD_DATE:
        return "invalid birth date";
    case GH_IDNUM_BAD_CHECK:
        return "wrong check character";
    case GH_IDNUM__COUNT:
        break;
    }
    return "unknown ID-number status";
}

int gh_idnum_is_valid(gh_idnum_status_t s) {
    return s == GH_IDNUM_OK || s == GH_IDNUM_UPGRADED;
}
