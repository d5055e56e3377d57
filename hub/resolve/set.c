/*
 * Record sets: normalization of raw records and storage of normalized
 * ones, strings interned in the set's arena (intern.c).
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/norm.h"
#include "gridhub/util.h"
#include "match_int.h"

struct gh_match_set {
    gh_match_rec_t *recs;
    size_t n, cap;
    gh__intern_t strs;
};

gh_match_set_t *gh_match_set_new(void) {
    return gh_xcalloc(1, sizeof(gh_match_set_t));
}

void gh_match_set_destroy(gh_match_set_t *set) {
    if (!set) return;
    free(set->recs);
    gh__intern_free(&set->strs);
    free(set);
}

size_t gh_match_set_count(const gh_match_set_t *set) {
    return set->n;
}

const gh_match_rec_t *gh_match_set_get(const gh_match_set_t *set, size_t i) {
    return i < set->n ? &set->recs[i] : NULL;
}

void gh_match_set_clear(gh_match_set_t *set) {
    set->n = 0;
    gh__intern_clear(&set->strs);
}

static gh_match_rec_t *append(gh_match_set_t *set) {
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap + set->cap / 2 : 1024;
        set->recs = gh_xrealloc(set->recs, set->cap * sizeof(*set->recs));
    }
    gh_match_rec_t *r = &set->recs[set->n++];
    memset(r, 0, sizeof(*r));
    return r;
}

/* NULL for an absent or empty value: "" and NULL must compare the same
 * (both "cannot compare"). */
static const char *intern_opt(gh_match_set_t *set, const char *s) {
    return s && *s ? gh__intern_str(&set->strs, s, strlen(s)) : NULL;
}

size_t gh_match_set_add(gh_match_set_t *set, const gh_match_rec_t *rec) {
    gh_match_rec_t tmp = *rec; /* rec may point into set->recs */
    gh_match_rec_t *r = append(set);
    *r = tmp;
    r->department = intern_opt(set, tmp.department);
    r->source_key = tmp.source_key ? gh__intern_copy(&set->strs, tmp.source_key,
                                                     strlen(tmp.source_key))
                                   : NULL;
    r->name = intern_opt(set, tmp.name);
    r->pinyin = intern_opt(set, tmp.pinyin);
    r->phone = intern_opt(set, tmp.phone);
    r->address = intern_opt(set, tmp.address);
    r->household_key = intern_opt(set, tmp.household_key);
    r->id_number[sizeof(r->id_number) - 1] = '\0';
    return set->n - 1;
}

/* gh_match_fill_from_id with the number already parsed into `info`
 * (gh_match_normalize has it: the number is not parsed twice). */
static void fill_from_info(gh_match_rec_t *r, const gh_idnum_info_t *info) {
    r->id_foreign = 0;
    r->birth_from_id = 0;
    int32_t embedded = (int32_t)gh_days_from_civil(
        info->birth_year, info->birth_month, info->birth_day);
    if (r->birth == GH_MATCH_NO_DATE) {
        r->birth = embedded;
        r->birth_from_id = 1;
    } else /* a wrong check character does not make the date less
            * someone else's */
        r->id_foreign = (uint8_t)gh__match_birth_foreign(r->birth, embedded);
    if (!r->sex) r->sex = (uint8_t)info->sex;
}

void gh_match_normalize(const gh_match_raw_t *raw, gh_match_rec_t *out,
                        char *buf) {
    _Static_assert(GH_NORM_NAME_MAX + GH_NORM_PINYIN_MAX + GH_NORM_PHONE_MAX +
                           GH_NORM_ADDR_MAX <=
                       GH_MATCH_NORM_BUF,
                   "GH_MATCH_NORM_BUF too small");
    char *name = buf, *py = name + GH_NORM_NAME_MAX;
    char *phone = py + GH_NORM_PINYIN_MAX, *addr = phone + GH_NORM_PHONE_MAX;
    size_t nl = raw->name ? gh_norm_name(raw->name, name, GH_NORM_NAME_MAX) : 0;
    size_t pl = nl ? gh_norm_pinyin(name, py, GH_NORM_PINYIN_MAX) : 0;
    size_t phl =
        raw->phone ? gh_norm_phone(raw->phone, phone, GH_NORM_PHONE_MAX) : 0;
    size_t al = raw->address
                    ? gh_norm_address(raw->address, addr, GH_NORM_ADDR_MAX)
                    : 0;
    char id[19];
    gh_idnum_info_t info;
    gh_idnum_status_t st = gh_idnum_normalize(raw->id_number, id, &info);

    memset(out, 0, sizeof(*out));
    out->department = raw->department;
    out->source_key = raw->source_key;
    out->name = nl ? name : NULL;
    out->pinyin = pl ? py : NULL;
    out->phone = phl ? phone : NULL;
    out->address = al ? addr : NULL;
    out->household_key = raw->household_key;
    out->id_status = (uint8_t)st;
    out->sex = (uint8_t)gh__match_parse_sex(raw->sex);
    out->birth = gh__match_parse_date(raw->birth_date);
    if (st == GH_IDNUM_OK || st == GH_IDNUM_UPGRADED ||
        st == GH_IDNUM_BAD_CHECK) {
        memcpy(out->id_number, id, sizeof(out->id_number));
        fill_from_info(out, &info);
    }
}

void gh_match_fill_from_id(gh_match_rec_t *r) {
    /* A BAD_CHECK number's date passed the date check: only its check
     * character is known wrong, so its birth date and sex are still the
     * best we have when the record gives none. */
    r->id_foreign = 0;
    r->birth_from_id = 0;
    if (r->id_status != GH_IDNUM_OK && r->id_status != GH_IDNUM_UPGRADED &&
        r->id_status != GH_IDNUM_BAD_CHECK)
        return;
    char id[19];
    gh_idnum_info_t info;
    gh_idnum_status_t st = gh_idnum_normalize(r->id_number, id, &info);
    if (st != GH_IDNUM_OK && st != GH_IDNUM_UPGRADED &&
        st != GH_IDNUM_BAD_CHECK)
        return;
    fill_from_info(r, &info);
}

size_t gh_match_set_add_raw(gh_match_set_t *set, const gh_match_raw_t *raw) {
    char buf[GH_MATCH_NORM_BUF];
    gh_match_rec_t r;
    gh_match_normalize(raw, &r, buf);
    return gh_match_set_add(set, &r);
}

/* ---- field parsers ------------------------------------------------------ */

int gh__match_parse_sex(const char *s) {
    if (!s) return 0;
    while (*s == ' ' || *s == '\t')
        s++;
    /* Full-width M/F/m/f (U+FF2D, U+FF26, U+FF4D, U+FF46), as phones type
     * them. */
    if (!strncmp(s, "\xef\xbc\xad", 3) || !strncmp(s, "\xef\xbd\x8d", 3))
        return 1;
    if (!strncmp(s, "\xef\xbc\xa6", 3) || !strncmp(s, "\xef\xbd\x86", 3))
        return 2;
    if (!strncmp(s, "男", strlen("男"))) return 1;
    if (!strncmp(s, "女", strlen("女"))) return 2;
    static const char *const male[] = {"1", "M", "m", "MALE", "male", "Male"};
    static const char *const female[] = {"2",      "F",      "f",
                                         "FEMALE", "female", "Female"};
    char b[8];
    size_t n = strcspn(s, " \t");
    if (n >= sizeof(b)) return 0;
    memcpy(b, s, n);
    b[n] = '\0';
    for (size_t i = 0; i < sizeof(male) / sizeof(male[0]); i++) {
        if (!strcmp(b, male[i])) return 1;
        if (!strcmp(b, female[i])) return 2;
    }
    return 0;
}

int32_t gh__match_parse_date(const char *s) {
    if (!s) return GH_MATCH_NO_DATE;
    while (*s == ' ')
        s++;
    char b[11];
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        n--;
    if (n == 8) { /* YYYYMMDD */
        memcpy(b, s, 4);
        b[4] = '-';
        memcpy(b + 5, s + 4, 2);
        b[7] = '-';
        memcpy(b + 8, s + 6, 2);
    } else if (n == 10 && (s[4] == '-' || s[4] == '/') && s[7] == s[4]) {
        memcpy(b, s, 10);
        b[4] = b[7] = '-';
    } else {
        return GH_MATCH_NO_DATE;
    }
    b[10] = '\0';
    int64_t days;
    /* 00000000 and friends are a clerk's "unknown", not a date; so is
     * 1900-01-01, the form's default when nothing was known. As unknown
     * it weighs nothing and the ID number's date takes its place (below),
     * where as a date it would only ever "differ"; no resident in the
     * registers was born that day. */
    if (gh_date_parse_iso(b, &days, NULL) || b[0] == '0' ||
        !strcmp(b, "1900-01-01"))
        return GH_MATCH_NO_DATE;
    return (int32_t)days;
}

void gh__match_civil(int32_t days, int *y, int *m, int *d) {
    /* Howard Hinnant's civil_from_days, the inverse of
     * gh_days_from_civil. */
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

void gh_match_set_lend_address(gh_match_set_t *set, size_t i,
                               const char *address) {
    if (i >= set->n) return;
    gh_match_rec_t *r = &set->recs[i];
    if (!address || !*address) {
        if (r->address_from_id) r->address = NULL;
        r->address_from_id = 0;
        return;
    }
    if (r->address && !r->address_from_id) return; /* its own comes first */
    r->address = intern_opt(set, address);
    r->address_from_id = 1;
}
