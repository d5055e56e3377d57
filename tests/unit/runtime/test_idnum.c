/*
 * Unit tests for gridhub/idnum.h (GB 11643-1999 resident ID numbers).
 *
 * Check characters below were computed by hand, ISO 7064 MOD 11-2 with
 * weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2 and remainder 0..10 mapping
 * to 1 0 X 9 8 7 6 5 4 3 2:
 *
 * 11010519491231002: 1*7+1*9+0*10+1*5+0*8+5*4+1*2+9*1+4*6+9*3+1*7+2*9+3*10
 *                    +1*5+0*8+0*4+2*2 = 167; 167 mod 11 = 2 -> 'X'
 * 44052418800101001: 4*7+4*9+0*10+5*5+2*8+4*4+1*2+8*1+8*6+0*3+0*7+1*9+0*10
 *                    +1*5+0*8+0*4+1*2 = 195; 195 mod 11 = 8 -> '4'
 * 11010119900307447: 1*7+1*9+0*10+1*5+0*8+1*4+1*2+9*1+9*6+0*3+0*7+3*9+0*10
 *                    +7*5+4*8+4*4+7*2 = 214; 214 mod 11 = 5 -> '7'
 * 31011519851120123: 3*7+1*9+0*10+1*5+1*8+5*4+1*2+9*1+8*6+5*3+1*7+1*9+2*10
 *                    +0*5+1*8+2*4+3*2 = 195; 195 mod 11 = 8 -> '4'
 * 51010820000229002: 5*7+1*9+0*10+1*5+0*8+8*4+2*2+0*1+0*6+0*3+0*7+2*9+2*10
 *                    +9*5+0*8+0*4+2*2 = 172; 172 mod 11 = 7 -> '5'
 * 35020319880808888: 3*7+5*9+0*10+2*5+0*8+3*4+1*2+9*1+8*6+8*3+0*7+8*9+0*10
 *                    +8*5+8*8+8*4+8*2 = 395; 395 mod 11 = 10 -> '2'
 * 11010119900307440: as 11010119900307447 but last term 0*2 instead of 7*2:
 *                    214-14 = 200; 200 mod 11 = 2 -> 'X'
 * 11010119900307445: as 11010119900307447 but last term 5*2 instead of 7*2:
 *                    214-4 = 210; 210 mod 11 = 1 -> '0'
 * 11010119900307458: as 11010119900307447 with 5*4 for 4*4 (+4) and 8*2 for
 *                    7*2 (+2): 220; 220 mod 11 = 0 -> '1'
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gridhub/idnum.h"

/* Normalizes s and checks status and output in one go. */
static void expect(const char *s, gh_idnum_status_t want,
                   const char *want_out) {
    char out[19];
    memset(out, '#', sizeof out);
    gh_idnum_status_t st = gh_idnum_normalize(s, out, NULL);
    cr_assert_eq(st, want, "normalize(\"%s\") = %d (%s), want %d (%s)",
                 s ? s : "(null)", st, gh_idnum_status_str(st), want,
                 gh_idnum_status_str(want));
    cr_assert_str_eq(out, want_out, "normalize(\"%s\") out", s ? s : "(null)");
}

/* prefix17 + its computed check character, into id[19]. */
static void complete(const char *prefix17, char id[19]) {
    memcpy(id, prefix17, 17);
    id[17] = gh_idnum_check_char(prefix17);
    id[18] = '\0';
    cr_assert_neq(id[17], '\0');
}

static int this_year(void) {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

Test(idnum, check_char_hand_computed) {
    cr_assert_eq(gh_idnum_check_char("11010519491231002"), 'X');
    cr_assert_eq(gh_idnum_check_char("44052418800101001"), '4');
    cr_assert_eq(gh_idnum_check_char("11010119900307447"), '7');
    cr_assert_eq(gh_idnum_check_char("31011519851120123"), '4');
    cr_assert_eq(gh_idnum_check_char("51010820000229002"), '5');
    cr_assert_eq(gh_idnum_check_char("35020319880808888"), '2');
    cr_assert_eq(gh_idnum_check_char("11010119900307440"), 'X');
    cr_assert_eq(gh_idnum_check_char("11010119900307445"), '0');
    cr_assert_eq(gh_idnum_check_char("11010119900307458"), '1');
}

Test(idnum, check_char_reads_exactly_17_and_rejects_non_digits) {
    /* Heap block of exactly 17 bytes, no NUL: ASan flags any over-read. */
    char *p = malloc(17);
    cr_assert_not_null(p);
    memcpy(p, "11010519491231002", 17);
    cr_assert_eq(gh_idnum_check_char(p), 'X');
    p[3] = 'a';
    cr_assert_eq(gh_idnum_check_char(p), '\0');
    free(p);
    cr_assert_eq(gh_idnum_check_char("1101051949123100X"), '\0');
}

Test(idnum, valid_18) {
    expect("11010519491231002X", GH_IDNUM_OK, "11010519491231002X");
    expect("110101199003074477", GH_IDNUM_OK, "110101199003074477");
    expect("310115198511201234", GH_IDNUM_OK, "310115198511201234");
    expect("350203198808088882", GH_IDNUM_OK, "350203198808088882");
    expect("110101199003074450", GH_IDNUM_OK, "110101199003074450");
    expect("110101199003074581", GH_IDNUM_OK, "110101199003074581");
}

Test(idnum, info_region_birth_sex) {
    char out[19];
    gh_idnum_info_t info;

    cr_assert_eq(gh_idnum_normalize("11010519491231002X", out, &info),
                 GH_IDNUM_OK);
    cr_assert_str_eq(info.region, "110105");
    cr_assert_eq(info.birth_year, 1949);
    cr_assert_eq(info.birth_month, 12);
    cr_assert_eq(info.birth_day, 31);
    cr_assert_eq(info.sex, GH_IDNUM_FEMALE); /* 17th digit 2 */

    cr_assert_eq(gh_idnum_normalize("110101199003074477", out, &info),
                 GH_IDNUM_OK);
    cr_assert_str_eq(info.region, "110101");
    cr_assert_eq(info.birth_year, 1990);
    cr_assert_eq(info.birth_month, 3);
    cr_assert_eq(info.birth_day, 7);
    cr_assert_eq(info.sex, GH_IDNUM_MALE); /* 17th digit 7 */

    cr_assert_eq(gh_idnum_normalize("310115198511201234", out, &info),
                 GH_IDNUM_OK);
    cr_assert_str_eq(info.region, "310115");
    cr_assert_eq(info.sex, GH_IDNUM_MALE); /* 17th digit 3 */

    cr_assert_eq(gh_idnum_normalize("350203198808088882", out, &info),
                 GH_IDNUM_OK);
    cr_assert_eq(info.sex, GH_IDNUM_FEMALE); /* 17th digit 8 */

    cr_assert_eq(gh_idnum_normalize("110101199003074450", out, &info),
                 GH_IDNUM_OK);
    cr_assert_eq(info.sex, GH_IDNUM_MALE); /* 17th digit 5 */

    cr_assert_eq(gh_idnum_normalize("11010119900307440X", out, &info),
                 GH_IDNUM_OK);
    cr_assert_eq(info.sex, GH_IDNUM_FEMALE); /* 17th digit 0 is even */
}

Test(idnum, info_zeroed_on_failure) {
    char out[19];
    gh_idnum_info_t info;
    memset(&info, 0x5a, sizeof info);
    cr_assert_eq(gh_idnum_normalize("12345", out, &info), GH_IDNUM_BAD_LENGTH);
    cr_assert_str_eq(info.region, "");
    cr_assert_eq(info.birth_year, 0);
    cr_assert_eq(info.sex, GH_IDNUM_SEX_UNKNOWN);
    cr_assert_str_eq(out, "");
}

Test(idnum, upgrade_15_to_18) {
    char out[19];
    gh_idnum_info_t info;
    cr_assert_eq(gh_idnum_normalize("110105491231002", out, &info),
                 GH_IDNUM_UPGRADED);
    cr_assert_str_eq(out, "11010519491231002X");
    cr_assert_str_eq(info.region, "110105");
    cr_assert_eq(info.birth_year, 1949);
    cr_assert_eq(info.birth_month, 12);
    cr_assert_eq(info.birth_day, 31);
    cr_assert_eq(info.sex, GH_IDNUM_FEMALE);

    expect("310115851120123", GH_IDNUM_UPGRADED, "310115198511201234");
    expect("110101900307447", GH_IDNUM_UPGRADED, "110101199003074477");
    expect(" 110105 491231 002 ", GH_IDNUM_UPGRADED, "11010519491231002X");
    /* Legacy IDs have no check character, so no X anywhere. */
    expect("11010549123100X", GH_IDNUM_BAD_CHAR, "");
    expect("110105490230002", GH_IDNUM_BAD_DATE, "");
    expect("110105491331002", GH_IDNUM_BAD_DATE, "");
    expect("110105000229002", GH_IDNUM_BAD_DATE, ""); /* 1900 not leap */
}

Test(idnum, wrong_check_character_keeps_output) {
    char out[19];
    gh_idnum_info_t info;
    cr_assert_eq(gh_idnum_normalize("110105194912310021", out, &info),
                 GH_IDNUM_BAD_CHECK);
    cr_assert_str_eq(out, "110105194912310021");
    cr_assert_str_eq(info.region, "110105");
    cr_assert_eq(info.birth_year, 1949);
    cr_assert_eq(info.sex, GH_IDNUM_FEMALE);
    cr_assert_not(gh_idnum_is_valid(GH_IDNUM_BAD_CHECK));

    expect("11010119900307447x", GH_IDNUM_BAD_CHECK, "11010119900307447X");
    expect("110101199003074470", GH_IDNUM_BAD_CHECK, "110101199003074470");
    /* Transposed digits 44 -> 47 / 74 (classic typo). */
    expect("110101199003077447", GH_IDNUM_BAD_CHECK, "110101199003077447");
}

Test(idnum, bad_dates) {
    char id[19];
    /* Check characters computed, so the date is the only fault. */
    complete("11010519490230002", id); /* Feb 30 */
    expect(id, GH_IDNUM_BAD_DATE, "");
    complete("11010519491301002", id); /* month 13 */
    expect(id, GH_IDNUM_BAD_DATE, "");
    complete("11010519490001002", id); /* month 00 */
    expect(id, GH_IDNUM_BAD_DATE, "");
    complete("11010519490100002", id); /* day 00 */
    expect(id, GH_IDNUM_BAD_DATE, "");
    complete("11010519490431002", id); /* Apr 31 */
    expect(id, GH_IDNUM_BAD_DATE, "");
    complete("11010519000229002", id); /* 1900 is not a leap year */
    expect(id, GH_IDNUM_BAD_DATE, "");
    complete("11010518991231002", id); /* before 1900 */
    expect(id, GH_IDNUM_BAD_DATE, "");
    complete("44052418800101001", id); /* the textbook example, born 1880 */
    expect(id, GH_IDNUM_BAD_DATE, "");

    expect("510108200002290025", GH_IDNUM_OK, "510108200002290025");
    complete("11010519000228002", id);
    expect(id, GH_IDNUM_OK, id);
    complete("11010520040229002", id);
    expect(id, GH_IDNUM_OK, id);
    complete("11010519961231002", id);
    expect(id, GH_IDNUM_OK, id);
}

Test(idnum, year_range_follows_clock) {
    char prefix[32], id[19];
    int y = this_year();
    cr_assert_eq(snprintf(prefix, sizeof prefix, "110105%04d0101002", y), 17);
    complete(prefix, id);
    expect(id, GH_IDNUM_OK, id);
    cr_assert_eq(snprintf(prefix, sizeof prefix, "110105%04d0101002", y + 1),
                 17);
    complete(prefix, id);
    expect(id, GH_IDNUM_BAD_DATE, "");
}

Test(idnum, full_width_and_spaces) {
    /* Full-width digits and full-width X. */
    expect("１１０１０５１９４９１２３１００２Ｘ", GH_IDNUM_OK,
           "11010519491231002X");
    /* Full-width lowercase x. */
    expect("１１０１０５１９４９１２３１００２ｘ", GH_IDNUM_OK,
           "11010519491231002X");
    /* Full-width (ideographic) spaces between groups and around. */
    expect("\u3000110105\u300019491231\u3000002X\u3000", GH_IDNUM_OK,
           "11010519491231002X");
    /* Mixed half- and full-width. */
    expect("110105１９４９1231002X", GH_IDNUM_OK, "11010519491231002X");
    expect("110105 19491231 002X", GH_IDNUM_OK, "11010519491231002X");
    expect("\t110105\r\n19491231\v002X\f", GH_IDNUM_OK, "11010519491231002X");
    /* NBSP, zero-width space, BOM, thin space. */
    expect("\uFEFF110105\u00A019491231\u200B002\u2009X", GH_IDNUM_OK,
           "11010519491231002X");
    expect("1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 X", GH_IDNUM_OK,
           "11010519491231002X");
}

Test(idnum, lowercase_x) {
    char out[19];
    cr_assert_eq(gh_idnum_normalize("11010519491231002x", out, NULL),
                 GH_IDNUM_OK);
    cr_assert_str_eq(out, "11010519491231002X");
}

Test(idnum, lengths) {
    expect("11010519491231002", GH_IDNUM_BAD_LENGTH, "");    /* 17 */
    expect("1101051949123100", GH_IDNUM_BAD_LENGTH, "");     /* 16 */
    expect("11010549123100", GH_IDNUM_BAD_LENGTH, "");       /* 14 */
    expect("11010519491231002X1", GH_IDNUM_BAD_LENGTH, "");  /* 19 */
    expect("110105194912310021 1", GH_IDNUM_BAD_LENGTH, ""); /* 19 with space */
    expect("1", GH_IDNUM_BAD_LENGTH, "");

    char big[4097];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect(big, GH_IDNUM_BAD_LENGTH, "");
}

Test(idnum, bad_characters) {
    expect("11010519491231002A", GH_IDNUM_BAD_CHAR, "");
    expect("A1010519491231002X", GH_IDNUM_BAD_CHAR, "");
    expect("1101051949123100X2", GH_IDNUM_BAD_CHAR, ""); /* X not last */
    expect("X10105194912310021", GH_IDNUM_BAD_CHAR, "");
    expect("110105-19491231-002X", GH_IDNUM_BAD_CHAR, "");
    expect("身份证11010519491231002X", GH_IDNUM_BAD_CHAR, "");
    expect("１１０１０５１９４９１２３１００２Ｙ", GH_IDNUM_BAD_CHAR, "");
    /* Characters are judged before length. */
    expect("abc", GH_IDNUM_BAD_CHAR, "");
}

Test(idnum, invalid_utf8) {
    expect("\xff", GH_IDNUM_BAD_CHAR, "");
    expect("11010519491231002\x80", GH_IDNUM_BAD_CHAR,
           "");                                        /* lone continuation */
    expect("\xc0\xb1\x31\x30", GH_IDNUM_BAD_CHAR, ""); /* overlong '1' */
    expect("\xe0\x80\xb1", GH_IDNUM_BAD_CHAR, "");     /* overlong '1' */
    expect("\xed\xa0\x80", GH_IDNUM_BAD_CHAR, "");     /* surrogate */
    expect("\xf4\x90\x80\x80", GH_IDNUM_BAD_CHAR, ""); /* > U+10FFFF */
    expect("\xf5\x80\x80\x80", GH_IDNUM_BAD_CHAR, "");
    expect("\xef\xbc", GH_IDNUM_BAD_CHAR, ""); /* truncated U+FF10 */
    expect("\xe3\x80", GH_IDNUM_BAD_CHAR, ""); /* truncated U+3000 */
    expect("\xef\xbc\x31", GH_IDNUM_BAD_CHAR, "");

    /* Truncated sequences at the very end of an exact-size heap block:
     * ASan reports any read past the NUL. */
    const char *tails[] = {"11010519491231002\xef", "11010519491231002\xef\xbc",
                           "11010519491231002\xf0\x9f\x98", "\xc3"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        char *p = strdup(tails[i]);
        cr_assert_not_null(p);
        expect(p, GH_IDNUM_BAD_CHAR, "");
        free(p);
    }
}

Test(idnum, empty) {
    expect(NULL, GH_IDNUM_EMPTY, "");
    expect("", GH_IDNUM_EMPTY, "");
    expect("   ", GH_IDNUM_EMPTY, "");
    expect("\u3000\u3000\t\n", GH_IDNUM_EMPTY, "");
    gh_idnum_info_t info;
    char out[19];
    cr_assert_eq(gh_idnum_normalize(NULL, out, &info), GH_IDNUM_EMPTY);
    cr_assert_eq(info.sex, GH_IDNUM_SEX_UNKNOWN);
}

Test(idnum, status_strings_and_validity) {
    for (int s = 0; s < GH_IDNUM__COUNT; s++) {
        const char *str = gh_idnum_status_str((gh_idnum_status_t)s);
        cr_assert_not_null(str);
        cr_assert_str_neq(str, "unknown ID-number status", "status %d", s);
        for (int t = 0; t < s; t++)
            cr_assert_str_neq(str, gh_idnum_status_str((gh_idnum_status_t)t));
    }
    cr_assert_str_eq(gh_idnum_status_str(GH_IDNUM_BAD_CHECK),
                     "wrong check character");
    cr_assert_str_eq(gh_idnum_status_str((gh_idnum_status_t)99),
                     "unknown ID-number status");

    cr_assert(gh_idnum_is_valid(GH_IDNUM_OK));
    cr_assert(gh_idnum_is_valid(GH_IDNUM_UPGRADED));
    cr_assert_not(gh_idnum_is_valid(GH_IDNUM_EMPTY));
    cr_assert_not(gh_idnum_is_valid(GH_IDNUM_BAD_LENGTH));
    cr_assert_not(gh_idnum_is_valid(GH_IDNUM_BAD_CHAR));
    cr_assert_not(gh_idnum_is_valid(GH_IDNUM_BAD_DATE));
    cr_assert_not(gh_idnum_is_valid(GH_IDNUM_BAD_CHECK));
}

/* Deterministic xorshift so a failure reproduces. */
static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;
static unsigned rnd(unsigned n) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

Test(idnum, property_single_digit_change_never_ok) {
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    static const char checks[] = "0123456789X";
    int max_year = this_year() - 1;

    for (int iter = 0; iter < 1000; iter++) {
        int y = 1900 + (int)rnd((unsigned)(max_year - 1900 + 1));
        int m = 1 + (int)rnd(12);
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        int d = 1 + (int)rnd((unsigned)(mdays[m - 1] + (m == 2 && leap)));
        char prefix[64], id[19], out[19];
        int len = snprintf(prefix, sizeof prefix, "%03u%03u%04d%02d%02d%03u",
                           rnd(1000), rnd(1000), y, m, d, rnd(1000));
        cr_assert_eq(len, 17);
        complete(prefix, id);

        gh_idnum_info_t info;
        cr_assert_eq(gh_idnum_normalize(id, out, &info), GH_IDNUM_OK, "id %s",
                     id);
        cr_assert_str_eq(out, id);
        cr_assert_eq(info.birth_year, y);
        cr_assert_eq(info.birth_month, m);
        cr_assert_eq(info.birth_day, d);
        cr_assert_eq(info.sex, ((prefix[16] - '0') % 2) ? GH_IDNUM_MALE
                                                        : GH_IDNUM_FEMALE);

        for (int pos = 0; pos < 18; pos++) {
            for (int k = 0; k < (pos < 17 ? 10 : 11); k++) {
                char mutated[19];
                memcpy(mutated, id, sizeof mutated);
                if (checks[k] == id[pos]) continue;
                mutated[pos] = checks[k];
                gh_idnum_status_t st = gh_idnum_normalize(mutated, out, NULL);
                cr_assert(st == GH_IDNUM_BAD_CHECK || st == GH_IDNUM_BAD_DATE,
                          "%s (from %s) gave %s", mutated, id,
                          gh_idnum_status_str(st));
                if (pos < 6 || pos >= 14)
                    cr_assert_eq(st, GH_IDNUM_BAD_CHECK, "%s", mutated);
            }
        }
    }
}
