/*
 * Unit tests for issue 14's error kinds (hub/gen/errors/errors_real.c,
 * city/fuzzy.c, city/names.c): each mutation does what it says (an ID digit
 * that fails the check, two adjacent different digits swapped, a second ID that
 * is valid and other, a mistyped birth digit that still is a date, a
 * fuzzy-pinyin neighbour one listed merge away, a given-name character dropped
 * or added, an old or mistyped phone); typed copies show each kind where it can
 * and label it; with the new rates at 0 the generated records are
 * byte-identical to those of the nine old kinds alone; with
 * ops/gen/real-errors.properties every new kind occurs and is labelled.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "city.h"
#include "errors.h"
#include "gen.h"
#include "gridhub/idnum.h"
#include "gridhub/util.h"
#include "names.h"

static const char *const ID = "431302197504040017"; /* valid */

static int digits_differing(const char *a, const char *b, size_t n) {
    int d = 0;
    for (size_t i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

Test(gen_errors_real, id_digit_fails_the_check) {
    cr_assert_eq(gh_idnum_check_char(ID), ID[17]);
    for (unsigned pos = 0; pos < 17; pos++)
        for (unsigned delta = 1; delta <= 9; delta++) {
            char out[19];
            gh_gen_id_digit(ID, pos, delta, out);
            cr_assert_eq(digits_differing(ID, out, 18), 1, "%s", out);
            cr_assert_neq(out[pos], ID[pos]);
            cr_assert_eq(out[17], ID[17], "the check character is kept");
            cr_assert_neq(gh_idnum_check_char(out), out[17],
                          "%s passes the check", out);
            char norm[19];
            gh_idnum_status_t st = gh_idnum_normalize(out, norm, NULL);
            cr_assert(st == GH_IDNUM_BAD_CHECK || st == GH_IDNUM_BAD_DATE,
                      "%s: %s", out, gh_idnum_status_str(st));
        }
}

Test(gen_errors_real, id_transposed_swaps_two_adjacent_different_digits) {
    int seen[16] = {0};
    for (uint32_t pick = 0; pick < 100; pick++) {
        char out[19];
        cr_assert_eq(gh_gen_id_transposed(ID, pick, out), 1);
        cr_assert_eq(digits_differing(ID, out, 18), 2, "%s", out);
        int i = 0;
        while (out[i] == ID[i])
            i++;
        cr_assert_lt(i, 16);
        cr_assert(out[i] == ID[i + 1] && out[i + 1] == ID[i] &&
                      ID[i] != ID[i + 1],
                  "%s from %s", out, ID);
        cr_assert_eq(out[17], ID[17]);
        cr_assert_neq(gh_idnum_check_char(out), out[17], "%s", out);
        seen[i] = 1;
    }
    int n = 0;
    for (int i = 0; i < 16; i++)
        n += seen[i];
    cr_assert_gt(n, 8, "the pick moves the swap around");
    char out[19];
    cr_assert_eq(gh_gen_id_transposed("111111111111111111", 3, out), 0);
    cr_assert_str_eq(out, "111111111111111111");
}

Test(gen_errors_real, second_id_is_valid_and_other) {
    char a[19], b[19], c[19];
    gh_gen_id_second(ID, 0, a);
    cr_assert_eq(gh_idnum_check_char(a), a[17], "%s is not valid", a);
    cr_assert_neq(strcmp(a, ID), 0);
    cr_assert_eq(memcmp(a, "432501", 6), 0, "娄星区's number before 1999");
    cr_assert_eq(memcmp(a + 6, ID + 6, 11), 0, "same birth and sequence");
    gh_gen_id_second(a, 0, b);
    cr_assert_str_eq(b, ID, "and back");
    /* Registered elsewhere: a Loudi number, whichever `pick` says. */
    char other[19] = "430703198112280830";
    cr_assert_eq(gh_idnum_check_char(other), other[17]);
    for (uint32_t pick = 0; pick < 10; pick++) {
        gh_gen_id_second(other, pick, c);
        cr_assert_eq(memcmp(c, "4325", 4), 0, "%s", c);
        char norm[19];
        cr_assert_eq(gh_idnum_normalize(c, norm, NULL), GH_IDNUM_OK, "%s", c);
    }
}

/* One digit of YYYYMMDD differs. */
static int one_date_digit(int32_t a, int32_t b) {
    int y, m, d, y2, m2, d2;
    gh_gen_civil(a, &y, &m, &d);
    gh_gen_civil(b, &y2, &m2, &d2);
    char s[16], t[16];
    snprintf(s, sizeof(s), "%04d%02d%02d", y, m, d);
    snprintf(t, sizeof(t), "%04d%02d%02d", y2, m2, d2);
    return digits_differing(s, t, 8) == 1;
}

Test(gen_errors_real, birth_digit_is_another_valid_date) {
    int32_t ref = gh_gen_days(GH_GEN_REF_Y, GH_GEN_REF_M, GH_GEN_REF_D);
    int32_t lo = gh_gen_days(1900, 1, 1);
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 14, GH_GEN_STREAM_TEST, 1);
    for (int i = 0; i < 20000; i++) {
        int32_t day = lo + (int32_t)gh_gen_rng_below(&r, (uint32_t)(ref - lo));
        int32_t b = gh_gen_birth_digit(day, (uint32_t)gh_gen_rng_next(&r));
        cr_assert_neq(b, day);
        cr_assert(b >= lo && b <= ref, "out of range");
        /* gh_gen_civil/gh_gen_days round-trip only real dates. */
        int y, m, d;
        gh_gen_civil(b, &y, &m, &d);
        cr_assert_eq(gh_gen_days(y, m, d), b);
        cr_assert(one_date_digit(day, b), "%d -> %d", day, b);
    }
}

Test(gen_errors_real, birth_year_off_and_placeholders) {
    int32_t day = gh_gen_days(1980, 2, 29), b;
    int y, m, d;
    gh_gen_civil(gh_gen_birth_year_off(day, 1), &y, &m, &d);
    cr_assert(y == 1981 && m == 2 && d == 28);
    gh_gen_civil(gh_gen_birth_year_off(day, 0), &y, &m, &d);
    cr_assert(y == 1979 && m == 2 && d == 28);
    day = gh_gen_days(1975, 4, 17);
    cr_assert_eq(gh_gen_birth_year_off(day, 1), gh_gen_days(1976, 4, 17));
    b = gh_gen_birth_placeholder(day, 0);
    cr_assert_eq(b, gh_gen_days(1975, 1, 1));
    b = gh_gen_birth_placeholder(day, 1);
    cr_assert_eq(b, gh_gen_days(1975, 4, 1));
    b = gh_gen_birth_placeholder(day, 2);
    cr_assert_eq(b, gh_gen_days(1900, 1, 1));
}

Test(gen_errors_real, phone_old_and_digit) {
    uint64_t phone = 13807381001ULL;
    for (uint64_t pick = 0; pick < 1000; pick++) {
        uint64_t o = gh_gen_phone_other(phone, gh_gen_mix(pick));
        cr_assert_neq(o, phone);
        cr_assert(o >= 13000000000ULL && o <= 19999999999ULL, "%llu",
                  (unsigned long long)o);
        unsigned pos = (unsigned)(pick % 10), delta = 1 + (unsigned)(pick % 9);
        uint64_t t = gh_gen_phone_digit(phone, pos, delta);
        char a[16], b[16];
        snprintf(a, sizeof(a), "%011llu", (unsigned long long)phone);
        snprintf(b, sizeof(b), "%011llu", (unsigned long long)t);
        cr_assert_eq(strlen(b), 11);
        cr_assert_eq(digits_differing(a, b, 11), 1, "%s -> %s", a, b);
        cr_assert_eq(b[0], '1', "the leading 1 is never mistyped");
        cr_assert_neq(a[1 + pos], b[1 + pos]);
    }
}

/* ---- fuzzy pinyin: the test's own reading of the merges of issue 14 */

static const char *const T_INITIALS[] = {
    "zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g",
    "k",  "h",  "j",  "q", "x", "r", "z", "c", "s", "y", "w"};

static void split(const char *py, char *ini, const char **fin) {
    ini[0] = '\0';
    *fin = py;
    for (size_t i = 0; i < sizeof(T_INITIALS) / sizeof(T_INITIALS[0]); i++) {
        size_t n = strlen(T_INITIALS[i]);
        if (!strncmp(py, T_INITIALS[i], n)) {
            memcpy(ini, py, n);
            ini[n] = '\0';
            *fin = py + n;
            return;
        }
    }
}

static int pair_in(const char *a, const char *b, const char *const *pairs,
                   size_t n) {
    for (size_t i = 0; i < n; i += 2)
        if ((!strcmp(a, pairs[i]) && !strcmp(b, pairs[i + 1])) ||
            (!strcmp(b, pairs[i]) && !strcmp(a, pairs[i + 1])))
            return 1;
    return 0;
}

/* 1 if a and b differ by exactly one merge of the list. */
static int one_listed_merge(const char *a, const char *b) {
    static const char *const ini[] = {"n", "l",  "f", "h",  "r", "l",
                                      "z", "zh", "c", "ch", "s", "sh"};
    static const char *const fin[] = {"an", "ang", "en",  "eng",
                                      "in", "ing", "ian", "iang"};
    static const char *const fhu[] = {"fa",    "hua", "fan", "huan", "fang",
                                      "huang", "fei", "hui", "fen",  "hun"};
    char ia[8], ib[8];
    const char *fa, *fb;
    split(a, ia, &fa);
    split(b, ib, &fb);
    int merges = 0;
    if (!strcmp(fa, fb) && pair_in(ia, ib, ini, 12)) merges++;
    if (!strcmp(ia, ib) && pair_in(fa, fb, fin, 8)) merges++;
    if (pair_in(a, b, fhu, 10)) merges++;
    return merges == 1;
}

Test(gen_errors_real, pinyin_table_is_sound) {
    size_t n = gh_gen_pinyin_count(), nchars = 0;
    cr_assert_gt(n, 150);
    for (size_t i = 0; i < n; i++) {
        const char *chars, *py = gh_gen_pinyin_group(i, &chars);
        cr_assert(py && *py && strlen(py) <= 6, "group %zu", i);
        for (const char *c = py; *c; c++)
            cr_assert(*c >= 'a' && *c <= 'z', "%s", py);
        cr_assert(strlen(chars) > 0 && strlen(chars) % 3 == 0, "%s", py);
        for (const char *c = chars; *c; c += 3, nchars++) {
            cr_assert_eq((unsigned char)c[0] & 0xF0, 0xE0, "%s", py);
            /* One reading per character: the lookup finds this group. */
            char ch[4] = {c[0], c[1], c[2], 0};
            cr_assert_str_eq(gh_gen_pinyin(ch), py, "%s in two groups", ch);
        }
    }
    cr_assert_gt(nchars, 250);
    /* Every surname of the generator has a reading. */
    for (size_t i = 0; i < gh_gen_surname_count(); i++)
        cr_assert_not_null(gh_gen_pinyin(gh_gen_surname(i)), "%s",
                           gh_gen_surname(i));
    cr_assert_str_eq(gh_gen_fuzzy_merge("lan", "nan"), "n/l");
    cr_assert_str_eq(gh_gen_fuzzy_merge("fei", "hui"), "f/h");
    cr_assert_str_eq(gh_gen_fuzzy_merge("fu", "hu"), "f/h");
    cr_assert_str_eq(gh_gen_fuzzy_merge("lin", "ling"), "in/ing");
    cr_assert_str_eq(gh_gen_fuzzy_merge("cheng", "chen"), "en/eng");
    cr_assert_str_eq(gh_gen_fuzzy_merge("zou", "zhou"), "z/zh");
    cr_assert_str_eq(gh_gen_fuzzy_merge("jian", "jiang"), "ian/iang");
    cr_assert_str_eq(gh_gen_fuzzy_merge("rong", "long"), "r/l");
    cr_assert_null(gh_gen_fuzzy_merge("lin", "min"));
    cr_assert_null(gh_gen_fuzzy_merge("huan", "huang"), "uan/uang: not one");
}

Test(gen_errors_real, fuzzy_pinyin_is_one_listed_merge_away) {
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 14, GH_GEN_STREAM_TEST, 2);
    int changed = 0;
    for (int i = 0; i < 20000; i++) {
        gh_gen_name_t n;
        char in[96], out[96];
        gh_gen_name_draw(&r, 1 + i % 2, 1930 + i % 90, -1, 0, &n);
        gh_gen_name_format(&n, in, sizeof(in));
        if (!gh_gen_fuzzy_pinyin(&r, in, out, sizeof(out))) {
            cr_assert_str_eq(out, in);
            continue;
        }
        changed++;
        cr_assert_eq(strlen(out), strlen(in));
        int diffs = 0;
        for (size_t k = 0; k < strlen(in); k += 3) {
            if (!memcmp(in + k, out + k, 3)) continue;
            diffs++;
            char a[4] = {in[k], in[k + 1], in[k + 2], 0};
            char b[4] = {out[k], out[k + 1], out[k + 2], 0};
            const char *pa = gh_gen_pinyin(a), *pb = gh_gen_pinyin(b);
            cr_assert(pa && pb, "%s -> %s", in, out);
            cr_assert(one_listed_merge(pa, pb), "%s (%s) -> %s (%s)", a, pa, b,
                      pb);
            cr_assert_not_null(gh_gen_fuzzy_merge(pa, pb));
        }
        cr_assert_eq(diffs, 1, "%s -> %s", in, out);
    }
    cr_assert_gt(changed, 15000, "most names have a fuzzy neighbour");
    char out[32];
    cr_assert_eq(gh_gen_fuzzy_pinyin(&r, "买买提", out, sizeof(out)), 0);
    cr_assert_str_eq(out, "买买提");
}

static size_t nchars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

Test(gen_errors_real, given_name_character_dropped_or_added) {
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 14, GH_GEN_STREAM_TEST, 3);
    int dropped = 0, added = 0;
    for (int i = 0; i < 5000; i++) {
        gh_gen_name_t n, m;
        char a[96], b[96];
        gh_gen_name_draw(&r, 1 + i % 2, 1930 + i % 90, -1, i % 50 == 0, &n);
        gh_gen_name_format(&n, a, sizeof(a));
        const char *sur =
            n.pool == GH_GEN_POOL_MINORITY ? "" : gh_gen_surname((size_t)n.sur);
        m = n;
        uint32_t pick = (uint32_t)gh_gen_rng_next(&r);
        if (gh_gen_name_drop_char(&m, pick)) {
            dropped++;
            gh_gen_name_format(&m, b, sizeof(b));
            cr_assert_eq(nchars(b) + 1, nchars(a), "%s -> %s", a, b);
            cr_assert_eq(strncmp(b, sur, strlen(sur)), 0, "surname kept");
            /* The character left is one of the two. */
            const char *g = b + strlen(sur);
            cr_assert(strstr(a + strlen(sur), g) != NULL, "%s -> %s", a, b);
        } else {
            cr_assert(n.pool == GH_GEN_POOL_MINORITY || n.g2 == GH_GEN_NO_CHAR);
        }
        m = n;
        if (gh_gen_name_add_char(&m, pick)) {
            added++;
            gh_gen_name_format(&m, b, sizeof(b));
            cr_assert_eq(nchars(b), nchars(a) + 1, "%s -> %s", a, b);
            cr_assert_eq(strncmp(b, sur, strlen(sur)), 0);
            const char *g = a + strlen(sur); /* the one given character */
            cr_assert(strstr(b + strlen(sur), g) != NULL, "%s -> %s", a, b);
            cr_assert(memcmp(b + strlen(sur), b + strlen(sur) + 3, 3),
                      "not doubled: %s", b);
        } else {
            cr_assert(n.pool == GH_GEN_POOL_MINORITY || n.g2 != GH_GEN_NO_CHAR);
        }
    }
    cr_assert_gt(dropped, 1000);
    cr_assert_gt(added, 500);
}

/* Each new kind at rate 1 (and nothing else): it shows wherever it can,
 * alone, and the typed value differs from the truth as it says. 综治 has
 * every factor 1 but two_ids' (0.5): that one is typed as 计生 (1). */
Test(gen_errors_real, typed_copies_show_and_label_each_kind) {
    gh_gen_city_t *c = gh_gen_city_new(GH_GEN_PRESET_DEMO, 11, 0.05);
    for (uint32_t g = 0; g < c->n_grids; g++)
        gh_gen_city_grid(c, g);
    for (int k = GH_GEN_ERR_FIRST_REAL; k < GH_GEN_ERR__COUNT; k++) {
        gh_gen_errors_t e;
        memset(&e, 0, sizeof(e));
        e.rate[k] = 1;
        e.city = c;
        unsigned bit = GH_GEN_ERR_BIT(k);
        int dept = k == GH_GEN_ERR_TWO_IDS ? GH_GEN_JISHENG : GH_GEN_ZONGZHI;
        gh_gen_rng_t r;
        gh_gen_rng_init(&r, 3, GH_GEN_STREAM_TEST, (uint64_t)k);
        long shown = 0;
        for (uint32_t i = 0; i < c->n_persons; i++) {
            const gh_gen_person_t *p = &c->persons[i];
            gh_gen_typed_t ty, again;
            gh_gen_type_person(&e, &r, dept, p, &ty);
            cr_assert_eq(ty.errors & ~bit, 0, "%s: mask %x", gh_gen_err_name(k),
                         ty.errors);
            /* One clerk, one form: the same mistake every time. */
            gh_gen_type_person(&e, &r, dept, p, &again);
            cr_assert_eq(again.errors, ty.errors);
            cr_assert_str_eq(again.name, ty.name);
            cr_assert_str_eq(again.id, ty.id);
            cr_assert_eq(again.birth, ty.birth);
            int on = (ty.errors & bit) != 0;
            shown += on;
            char name[96], id[19], phone[16];
            gh_gen_name_format(&p->name, name, sizeof(name));
            gh_gen_person_id(p, id);
            snprintf(phone, sizeof(phone), "%011llu",
                     (unsigned long long)p->phone);
            /* (Uyghur names: the middle dot is typed as each department
             * does, whatever the rates.) */
            if (p->name.pool != GH_GEN_POOL_MINORITY)
                cr_assert_eq(strcmp(ty.name, name) != 0,
                             on && k <= GH_GEN_ERR_NAME_CHAR_ADDED,
                             "%s: %s / %s", gh_gen_err_name(k), ty.name, name);
            cr_assert_eq(ty.birth != p->birth,
                         on && k >= GH_GEN_ERR_BIRTH_YEAR_OFF &&
                             k <= GH_GEN_ERR_BIRTH_PLACEHOLDER);
            cr_assert_eq(ty.sex != p->sex, on && k == GH_GEN_ERR_SEX_WRONG);
            cr_assert_eq(p->phone && strcmp(ty.phone, phone) != 0,
                         on && (k == GH_GEN_ERR_PHONE_OLD ||
                                k == GH_GEN_ERR_PHONE_DIGIT));
            cr_assert_eq(strcmp(ty.id, id) != 0, on && k >= GH_GEN_ERR_ID_DIGIT,
                         "%s: %s / %s", gh_gen_err_name(k), ty.id, id);
            char norm[19];
            gh_idnum_status_t st = gh_idnum_normalize(ty.id, norm, NULL);
            int y, m, d;
            gh_gen_civil(p->birth, &y, &m, &d);
            switch (k) {
            case GH_GEN_ERR_SEX_WRONG:
            case GH_GEN_ERR_BIRTH_YEAR_OFF:
            case GH_GEN_ERR_BIRTH_DIGIT:
            case GH_GEN_ERR_ID_DIGIT:
            case GH_GEN_ERR_ID_TRANSPOSED:
            case GH_GEN_ERR_FOREIGN_ID:
                cr_assert(on, "%s always shows", gh_gen_err_name(k));
                break;
            case GH_GEN_ERR_ID_MISSING:
                cr_assert(on && !ty.id[0], "%s always shows, as no ID",
                          gh_gen_err_name(k));
                break;
            case GH_GEN_ERR_PHONE_OLD:
            case GH_GEN_ERR_PHONE_DIGIT:
                cr_assert_eq(on, p->phone != 0);
                break;
            case GH_GEN_ERR_TWO_IDS:
                cr_assert_eq(on, y < 1999, "born %d", y);
                break;
            case GH_GEN_ERR_BIRTH_PLACEHOLDER:
                /* Hidden only where the placeholder is the true date. */
                if (!on) cr_assert_eq(d, 1);
                break;
            case GH_GEN_ERR_NAME_CHAR_DROPPED:
                cr_assert_eq(on, p->name.pool != GH_GEN_POOL_MINORITY &&
                                     p->name.g2 != GH_GEN_NO_CHAR);
                break;
            case GH_GEN_ERR_NAME_CHAR_ADDED:
                cr_assert_eq(on, p->name.pool != GH_GEN_POOL_MINORITY &&
                                     p->name.g2 == GH_GEN_NO_CHAR);
                break;
            }
            if (k == GH_GEN_ERR_ID_DIGIT || k == GH_GEN_ERR_ID_TRANSPOSED)
                cr_assert(st == GH_IDNUM_BAD_CHECK || st == GH_IDNUM_BAD_DATE,
                          "%s", ty.id);
            if (k == GH_GEN_ERR_FOREIGN_ID || k == GH_GEN_ERR_TWO_IDS) {
                cr_assert_eq(st, GH_IDNUM_OK, "%s: a valid number",
                             gh_gen_err_name(k));
                for (uint32_t j = 0; on && k == GH_GEN_ERR_TWO_IDS && j < 50 &&
                                     j < c->n_persons;
                     j++) {
                    char o[19];
                    gh_gen_person_id(&c->persons[j], o);
                    cr_assert_neq(strcmp(o, ty.id), 0, "someone else's");
                }
            }
        }
        cr_assert_gt(shown, (long)c->n_persons / 20, "%s shows %ld times",
                     gh_gen_err_name(k), shown);
    }
    gh_gen_city_destroy(c);
}

/* ---- whole runs */

typedef struct run {
    char dir[64];
    char *truth, *records;
} run_t;

/* gridhub gen --preset demo --seed 1 --scale <scale> --records-only true
 * [-c <profile>] [extra key value ...]. */
static void gen(run_t *r, const char *scale, const char *profile,
                const char *const *extra) {
    char err[1024];
    snprintf(r->dir, sizeof(r->dir), "/tmp/gh_gen_real_XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    r->truth = gh_xasprintf("%s/truth.jsonl", r->dir);
    r->records = gh_xasprintf("%s/records.jsonl", r->dir);
    gh_conf_t *conf = gh_conf_new("gen", gh_gen_props);
    if (profile) {
        char *path = gh_xasprintf("%s/%s", GH_SOURCE_DIR, profile);
        cr_assert_eq(gh_conf_load_file(conf, path, err, sizeof(err)), GH_OK,
                     "%s", err);
        free(path);
    }
    const char *kv[] = {"preset",     "demo",         "scale",
                        scale,        "seed",         "1",
                        "truth.file", r->truth,       "records.file",
                        r->records,   "records.only", "true",
                        "log.level",  "warn",         NULL};
    for (int i = 0; kv[i]; i += 2)
        cr_assert_eq(
            gh_conf_set(conf, NULL, kv[i], kv[i + 1], err, sizeof(err)), GH_OK,
            "%s: %s", kv[i], err);
    for (int i = 0; extra && extra[i]; i += 2)
        cr_assert_eq(
            gh_conf_set(conf, NULL, extra[i], extra[i + 1], err, sizeof(err)),
            GH_OK, "%s: %s", extra[i], err);
    cr_assert_eq(gh_gen_run(conf, err, sizeof(err)), GH_OK, "%s", err);
    gh_conf_destroy(conf);
}

static void run_free(run_t *r) {
    remove(r->truth);
    remove(r->records);
    rmdir(r->dir);
    free(r->truth);
    free(r->records);
}

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* The records of the nine old kinds, as generated before issue 14 (FNV-1a
 * of records.file, demo, seed 1, scale 0.05, default properties): the new
 * kinds at 0, set or not, change nothing. */
#define RECORDS_BEFORE_ISSUE_14 0x4eeb43b2c8a26bbeULL

Test(gen_errors_real, zero_rates_change_nothing, .timeout = 120) {
    run_t a, b;
    gen(&a, "0.05", NULL, NULL);
    const char *zero[2 * GH_GEN_ERR__COUNT + 1];
    char keys[GH_GEN_ERR__COUNT][64];
    int n = 0;
    for (int k = GH_GEN_ERR_FIRST_REAL; k < GH_GEN_ERR__COUNT; k++) {
        snprintf(keys[k], sizeof(keys[k]), "error.%s", gh_gen_err_name(k));
        zero[n++] = keys[k];
        zero[n++] = "0";
    }
    zero[n] = NULL;
    gen(&b, "0.05", NULL, zero);
    size_t la, lb;
    char *ra = gh_read_file(a.records, &la), *rb = gh_read_file(b.records, &lb);
    cr_assert(ra && rb);
    cr_assert(la == lb && !memcmp(ra, rb, la), "explicit zeros changed it");
    cr_assert_eq(fnv1a(ra, la), RECORDS_BEFORE_ISSUE_14,
                 "records differ from before issue 14: %#llx",
                 (unsigned long long)fnv1a(ra, la));
    free(ra);
    free(rb);
    run_free(&a);
    run_free(&b);
}

/* Checks the values of one record with issue 14's kinds against the true
 * ID: sex, birth date and ID number say what the labels say. */
static void check_real(json_t *r, const char *true_id, unsigned mask,
                       const char *line) {
#define HAS(k) ((mask & GH_GEN_ERR_BIT(GH_GEN_ERR_##k)) != 0)
    const char *sex = json_string_value(json_object_get(r, "sex"));
    int male = (true_id[16] - '0') % 2 == 1;
    cr_assert_not_null(sex, "%s", line);
    cr_assert_eq((strcmp(sex, "MALE") == 0) != male, HAS(SEX_WRONG), "%s",
                 line);
    const char *birth = json_string_value(json_object_get(r, "birth_date"));
    if (birth) {
        char b[11], want[11];
        snprintf(b, sizeof(b), "%s", birth);
        snprintf(want, sizeof(want), "%.4s-%.2s-%.2s", true_id + 6,
                 true_id + 10, true_id + 12);
        if (HAS(SWAPPED_BIRTH)) { /* undo it */
            char t[2] = {b[5], b[6]};
            b[5] = b[8], b[6] = b[9], b[8] = t[0], b[9] = t[1];
        }
        int real =
            HAS(BIRTH_YEAR_OFF) + HAS(BIRTH_DIGIT) + HAS(BIRTH_PLACEHOLDER);
        cr_assert_leq(real, 1, "one mistake per date: %s", line);
        cr_assert_eq(strcmp(b, want) != 0, real == 1, "%s", line);
        if (HAS(BIRTH_YEAR_OFF))
            cr_assert(abs(atoi(b) - atoi(want)) == 1, "%s", line);
        if (HAS(BIRTH_DIGIT)) {
            char s[9], t[9];
            snprintf(s, sizeof(s), "%.4s%.2s%.2s", b, b + 5, b + 8);
            snprintf(t, sizeof(t), "%.4s%.2s%.2s", want, want + 5, want + 8);
            cr_assert_eq(digits_differing(s, t, 8), 1, "%s", line);
        }
        if (HAS(BIRTH_PLACEHOLDER))
            cr_assert(!strcmp(b + 8, "01") &&
                          (!memcmp(b, want, 4) || !strcmp(b, "1900-01-01")),
                      "%s", line);
    }
    const char *id = json_string_value(json_object_get(r, "id_number"));
    if (id && (HAS(ID_DIGIT) || HAS(ID_TRANSPOSED) || HAS(FOREIGN_ID) ||
               HAS(TWO_IDS))) {
        char norm[19];
        gh_idnum_status_t st = gh_idnum_normalize(id, norm, NULL);
        cr_assert_neq(st, GH_IDNUM_EMPTY, "%s", line);
        if (st != GH_IDNUM_BAD_DATE) cr_assert_neq(strcmp(norm, true_id), 0);
        if (HAS(TWO_IDS) && !HAS(ID_DIGIT) && !HAS(ID_TRANSPOSED))
            cr_assert(!memcmp(norm + 6, true_id + 6, 11) &&
                          memcmp(norm, true_id, 6),
                      "%s", line);
        if ((HAS(ID_DIGIT) || HAS(ID_TRANSPOSED)) && !HAS(LEGACY_ID))
            cr_assert(st == GH_IDNUM_BAD_CHECK || st == GH_IDNUM_BAD_DATE ||
                          HAS(BAD_CHECK),
                      "%s", line);
    } else if (id && !HAS(LEGACY_ID) && !HAS(BAD_CHECK)) {
        char norm[19];
        cr_assert_eq(gh_idnum_normalize(id, norm, NULL), GH_IDNUM_OK, "%s",
                     line);
        cr_assert_str_eq(norm, true_id, "%s", line);
    }
#undef HAS
}

static int kind_of(const char *name) {
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++)
        if (!strcmp(name, gh_gen_err_name(k))) return k;
    return -1;
}

Test(gen_errors_real, real_profile_turns_every_kind_on, .timeout = 300) {
    run_t a;
    gen(&a, "1", "ops/gen/real-errors.properties", NULL);
    char *td = gh_read_file(a.truth, NULL), *rd = gh_read_file(a.records, NULL);
    cr_assert(td && rd);
    long kinds[GH_GEN_ERR__COUNT] = {0};
    char *tl = td, *rl = rd;
    long lines = 0;
    while (*tl && *rl) {
        char *tn = strchr(tl, '\n'), *rn = strchr(rl, '\n');
        cr_assert(tn && rn);
        *tn = *rn = '\0';
        json_error_t je;
        json_t *t = json_loads(tl, 0, &je), *r = json_loads(rl, 0, &je);
        cr_assert(t && r, "%s", rl);
        const char *true_id = json_string_value(json_object_get(t, "true_id"));
        json_t *errs = json_object_get(r, "errors");
        unsigned mask = 0;
        for (size_t i = 0; i < json_array_size(errs); i++) {
            int k = kind_of(json_string_value(json_array_get(errs, i)));
            cr_assert_geq(k, 0, "%s", rl);
            mask |= GH_GEN_ERR_BIT(k);
            kinds[k]++;
        }
        check_real(r, true_id, mask, rl);
        json_decref(t);
        json_decref(r);
        tl = tn + 1;
        rl = rn + 1;
        lines++;
    }
    cr_assert_gt(lines, 100000);
    /* id_missing is a stress test of its own profile (half-ids). */
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++)
        if (k != GH_GEN_ERR_ID_MISSING)
            cr_assert_gt(kinds[k], 0, "no record shows %s", gh_gen_err_name(k));
    cr_assert_eq(kinds[GH_GEN_ERR_ID_MISSING], 0);
    free(td);
    free(rd);
    run_free(&a);
}

/* The half-IDs profile: about half the records lose their ID number and
 * nothing else changes (the draw is the last of the person's stream). */
Test(gen_errors_real, half_ids_profile_drops_half_the_numbers, .timeout = 120) {
    run_t a, b;
    gen(&a, "0.05", NULL, NULL);
    gen(&b, "0.05", "ops/gen/half-ids.properties", NULL);
    char *ra = gh_read_file(a.records, NULL),
         *rb = gh_read_file(b.records, NULL);
    cr_assert(ra && rb);
    char *la = ra, *lb = rb;
    long lines = 0, dropped = 0, labelled = 0;
    static const char *const SAME[] = {"department", "source_key",   "name",
                                       "sex",        "birth_date",   "phone",
                                       "address",    "household_key"};
    while (*la && *lb) {
        char *na = strchr(la, '\n'), *nb = strchr(lb, '\n');
        cr_assert(na && nb);
        *na = *nb = '\0';
        json_error_t je;
        json_t *x = json_loads(la, 0, &je), *y = json_loads(lb, 0, &je);
        cr_assert(x && y, "%s", lb);
        for (size_t i = 0; i < sizeof(SAME) / sizeof(SAME[0]); i++)
            cr_assert(json_equal(json_object_get(x, SAME[i]),
                                 json_object_get(y, SAME[i])),
                      "%s changed: %s / %s", SAME[i], la, lb);
        int missing = 0;
        json_t *errs = json_object_get(y, "errors");
        for (size_t i = 0; i < json_array_size(errs); i++)
            missing |= !strcmp(json_string_value(json_array_get(errs, i)),
                               "id_missing");
        const char *id = json_string_value(json_object_get(y, "id_number"));
        if (missing) {
            cr_assert_null(id, "%s", lb);
            labelled++;
        } else {
            cr_assert_str_eq(la, lb, "a copy with its ID number changed");
        }
        dropped += !id;
        json_decref(x);
        json_decref(y);
        la = na + 1;
        lb = nb + 1;
        lines++;
    }
    cr_assert(!*la && !*lb, "as many records");
    cr_assert_gt(lines, 4000);
    /* Rate 0.5 with factor 1 everywhere, plus 计生's children's rows that
     * never had one. */
    cr_assert(labelled > 0.45 * lines && labelled < 0.55 * lines,
              "%ld of %ld labelled id_missing", labelled, lines);
    cr_assert(dropped >= labelled && dropped < 0.56 * lines,
              "%ld of %ld without an ID number", dropped, lines);
    free(ra);
    free(rb);
    run_free(&a);
    run_free(&b);
}
