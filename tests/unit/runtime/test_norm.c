/*
 * Unit tests for gridhub/norm.h: names, pinyin keys, phones, addresses.
 *
 * Besides hand-written vectors, the generator's own mutations are replayed
 * (hub/gen/city/names.c, errors/errors.c): every homophone it can substitute
 * must give the same pinyin key, every traditional form it can type must
 * normalize to the simplified name, and a name typed with all of those errors
 * at once must come back to the truth.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "city.h"
#include "errors.h"
#include "gridhub/norm.h"
#include "names.h"
#include "rng.h"

static void expect_name(const char *raw, const char *want) {
    char out[GH_NORM_NAME_MAX];
    size_t n = gh_norm_name(raw, out, sizeof out);
    cr_assert_str_eq(out, want, "gh_norm_name(\"%s\") = \"%s\", want \"%s\"",
                     raw ? raw : "(null)", out, want);
    cr_assert_eq(n, strlen(want));
}

/* The key of the normalized name, as the matcher computes it. */
static void key_of(const char *raw, char key[GH_NORM_PINYIN_MAX]) {
    char name[GH_NORM_NAME_MAX];
    gh_norm_name(raw, name, sizeof name);
    size_t n = gh_norm_pinyin(name, key, GH_NORM_PINYIN_MAX);
    cr_assert_eq(n, strlen(key));
}

static void expect_key(const char *raw, const char *want) {
    char key[GH_NORM_PINYIN_MAX];
    key_of(raw, key);
    cr_assert_str_eq(key, want, "key(\"%s\") = \"%s\", want \"%s\"", raw, key,
                     want);
}

static void expect_same_key(const char *a, const char *b) {
    char ka[GH_NORM_PINYIN_MAX], kb[GH_NORM_PINYIN_MAX];
    key_of(a, ka);
    key_of(b, kb);
    cr_assert_str_eq(ka, kb, "key(\"%s\") = \"%s\" but key(\"%s\") = \"%s\"", a,
                     ka, b, kb);
}

static void expect_phone(const char *raw, const char *want) {
    char out[GH_NORM_PHONE_MAX];
    size_t n = gh_norm_phone(raw, out, sizeof out);
    cr_assert_str_eq(out, want, "gh_norm_phone(\"%s\") = \"%s\", want \"%s\"",
                     raw ? raw : "(null)", out, want);
    cr_assert_eq(n, strlen(want));
}

static void expect_addr(const char *raw, const char *want) {
    char out[GH_NORM_ADDR_MAX];
    size_t n = gh_norm_address(raw, out, sizeof out);
    cr_assert_str_eq(out, want, "gh_norm_address(\"%s\") = \"%s\", want \"%s\"",
                     raw ? raw : "(null)", out, want);
    cr_assert_eq(n, strlen(want));
}

static void expect_parts(const char *norm, int b, int u, int r, int found) {
    int gb = -1, gu = -1, gr = -1;
    int f = gh_norm_address_parts(norm, &gb, &gu, &gr);
    cr_assert(f == found && gb == b && gu == u && gr == r,
              "parts(\"%s\") = %d %d %d (%d), want %d %d %d (%d)", norm, gb, gu,
              gr, f, b, u, r, found);
}

/* 1 if s[0..n) is well-formed UTF-8. */
static int valid_utf8(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t w = p[i] < 0x80 ? 1 : p[i] < 0xE0 ? 2 : p[i] < 0xF0 ? 3 : 4;
        if (p[i] >= 0x80 && p[i] < 0xC2) return 0;
        if (i + w > n) return 0;
        for (size_t k = 1; k < w; k++)
            if ((p[i + k] & 0xC0) != 0x80) return 0;
        i += w;
    }
    return 1;
}

Test(norm, init_loads_opencc_and_icu) {
    char err[256] = "x";
    cr_assert_eq(gh_norm_init(err, sizeof err), GH_OK, "%s", err);
    cr_assert_str_eq(err, "");
    cr_assert_eq(gh_norm_init(NULL, 0), GH_OK); /* idempotent */
}

/* ---- names ---------------------------------------------------------- */

Test(norm, name_fullwidth_to_halfwidth) {
    expect_name("ｊｏｈｎ　ｓｍｉｔｈ", "JOHN SMITH");
    expect_name("王ＡＢ", "王AB");
    expect_name("Ｍａｒｙ－Ａｎｎ", "MARY-ANN");
}

Test(norm, name_traditional_to_simplified) {
    expect_name("張偉", "张伟");
    expect_name("劉德華", "刘德华");
    expect_name("王建國", "王建国");
    expect_name("歐陽鋒", "欧阳锋");
    expect_name("鄧麗君", "邓丽君");
    expect_name("買買提·艾力", "买买提·艾力");
    /* A word split by a stray space is still converted as a word. */
    expect_name("張 偉", "张伟");
    /* Already simplified: unchanged. */
    expect_name("张伟", "张伟");
}

Test(norm, name_middle_dot_variants) {
    static const char *const dots[] = {
        "·", "•", "‧", "・", "∙", "⋅", "．", ".", "。", "･", "●", "·", "·",
    };
    for (size_t i = 0; i < sizeof dots / sizeof dots[0]; i++) {
        char raw[64];
        snprintf(raw, sizeof raw, "买买提%s艾力", dots[i]);
        expect_name(raw, "买买提·艾力");
    }
    expect_name("买买提 · 艾力", "买买提·艾力");
    expect_name("买买提··艾力", "买买提·艾力");
    expect_name("·买买提·艾力·", "买买提·艾力");
    expect_name("阿依古丽．艾则孜", "阿依古丽·艾则孜");
}

Test(norm, name_spaces_removed) {
    expect_name("王 建国", "王建国");
    expect_name("王　建国", "王建国"); /* U+3000 */
    expect_name(" 王\t建 国 ", "王建国");
    expect_name("王\xc2\xa0建国", "王建国");     /* U+00A0 */
    expect_name("王\xe2\x80\x8b建国", "王建国"); /* U+200B */
    expect_name("\xef\xbb\xbf王建国", "王建国"); /* BOM */
    expect_name("王 A", "王A");
    expect_name("   ", "");
}

Test(norm, name_latin_upper_single_space) {
    expect_name("john smith", "JOHN SMITH");
    expect_name("  Mary   Ann  ", "MARY ANN");
    expect_name("josé", "JOSÉ");
}

/* A name cut to fit its buffer could end on the space between two words
 * (fuzz_norm, tests/fuzz/crashes/norm/cut-after-space). */
Test(norm, name_cut_does_not_end_on_a_separator) {
    char raw[256] = "A", want[256] = "A", out[GH_NORM_NAME_MAX];
    for (int i = 0; i < 62; i++)
        strcat(raw, " A");
    strcpy(want, raw);
    strcat(raw, " \u00c9"); /* 128 bytes: the space fits, not the letter */
    cr_assert_eq(gh_norm_name(raw, out, sizeof(out)), strlen(want));
    cr_assert_str_eq(out, want);
    strcpy(raw, want);
    strcat(raw, ".\u00c9");
    cr_assert_eq(gh_norm_name(raw, out, sizeof(out)), strlen(want));
    cr_assert_str_eq(out, want);
}

/* A removed space let a combining mark join the letter before it, and the
 * result was not composed: "l´" gave L + U+0301, which normalized again to
 * U+0139 (fuzz_norm, tests/fuzz/crashes/norm/mark-after-removed-space). */
Test(norm, name_normalizes_to_itself_after_a_removed_space) {
    expect_name("l\u00b4", "\u0139");
    expect_name("\u0139", "\u0139");
    expect_name("e\u00a0\u0301", "\u00c9");
}

/* ---- pinyin --------------------------------------------------------- */

Test(norm, pinyin_syllables) {
    expect_key("王建国", "wang jian guo");
    expect_key("欧阳子涵", "ou yang zi han"); /* compound surname: two */
    expect_key("司马光", "si ma guang");
    expect_key("李", "li");
    expect_key("买买提·艾力", "mai mai ti ai li");
    expect_key("JOHN SMITH", "john smith");
    expect_key("王A", "wang a");
    expect_key("", "");
}

Test(norm, pinyin_u_umlaut_is_v) {
    expect_key("吕", "lv");
    expect_key("女", "nv");
    expect_key("绿", "lv");
    expect_key("略", "lve");
    expect_key("卢", "lu"); /* not 吕 */
    expect_same_key("吕", "旅");
    expect_key("徐", "xu"); /* ü after x is written u */
}

Test(norm, pinyin_folds_what_clerks_merge) {
    /* zh/ch/sh as z/c/s, -eng/-ing as -en/-in (see norm.h). */
    expect_key("张", "zang");
    expect_key("陈", "cen");
    expect_key("程", "cen");
    expect_key("石", "si");
    expect_key("明", "min");
    expect_same_key("周", "邹");
}

Test(norm, pinyin_homophones) {
    expect_same_key("王建国", "王建帼");
    expect_same_key("张伟", "张炜");
    expect_same_key("张伟", "章玮");
    expect_same_key("陈静", "程婧");
    expect_same_key("刘德华", "留德桦");
    expect_same_key("王建国", "王建國");
    expect_same_key("王建国", "王 建國");
}

Test(norm, pinyin_surname_readings) {
    expect_key("曾国藩", "zen guo fan"); /* not ceng: zeng, folded */
    expect_key("单田芳", "san tian fang");
    expect_key("解缙", "xie jin");
    expect_key("仇英", "qiu yin");
    expect_key("查良镛", "za liang yong");
    expect_key("区", "ou");
    expect_key("朴", "piao");
    expect_key("盖", "ge");
    expect_key("尉迟恭", "yu ci gong");
    expect_key("单于", "can yu");
    /* Only as the surname: 曾 elsewhere keeps ICU's reading. */
    expect_key("王曾", "wang cen");
    expect_same_key("曾伟", "增伟");
}

Test(norm, pinyin_truncates_at_a_syllable) {
    char key[12];
    memset(key, '#', sizeof key);
    size_t n = gh_norm_pinyin("王建国", key, 12);
    cr_assert_str_eq(key, "wang jian");
    cr_assert_eq(n, 9);
    n = gh_norm_pinyin("王建国", key, 5);
    cr_assert_str_eq(key, "wang");
    n = gh_norm_pinyin("王建国", key, 4);
    cr_assert_str_eq(key, "");
    cr_assert_eq(n, 0);
}

/* ---- the generator's mutations ---------------------------------------- */

/* Every distinct character the generator puts in names, as strings. */
typedef struct charset {
    char c[512][8];
    size_t n;
} charset_t;

static void add_char(charset_t *s, const char *c, size_t len) {
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->c[i]) == len && !memcmp(s->c[i], c, len)) return;
    cr_assert_lt(s->n, 512);
    memcpy(s->c[s->n], c, len);
    s->c[s->n++][len] = '\0';
}

static void name_chars(charset_t *s) {
    s->n = 0;
    for (size_t i = 0; i < gh_gen_surname_count(); i++) {
        const char *sur = gh_gen_surname(i);
        for (size_t k = 0; sur[k]; k += 3)
            add_char(s, sur + k, 3);
    }
    for (int p = 0; p < GH_GEN_POOL_MINORITY; p++)
        for (size_t g = 0; g < gh_gen_pool_size(p); g++) {
            gh_gen_name_t nm = {(uint8_t)p, 0, (uint8_t)g, GH_GEN_NO_CHAR};
            char full[32];
            gh_gen_name_format(&nm, full, sizeof full);
            size_t len = strlen(full);
            cr_assert_geq(len, 6);
            add_char(s, full + len - 3, 3);
        }
}

Test(norm, every_generator_homophone_has_the_same_key) {
    charset_t cs;
    name_chars(&cs);
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 1, GH_GEN_STREAM_TEST, 0);
    int pairs = 0;
    for (size_t i = 0; i < cs.n; i++) {
        char other[8];
        if (!gh_gen_homophone(&r, cs.c[i], other, sizeof other)) continue;
        pairs++;
        expect_same_key(cs.c[i], other);
    }
    cr_assert_geq(pairs, 40, "only %d homophone pairs found", pairs);
}

Test(norm, every_generator_traditional_form_normalizes_back) {
    charset_t cs;
    name_chars(&cs);
    int changed = 0;
    for (size_t i = 0; i < cs.n; i++) {
        char trad[8];
        changed += gh_gen_to_traditional(cs.c[i], trad, sizeof trad);
        expect_name(trad, cs.c[i]);
    }
    cr_assert_geq(changed, 50, "only %d traditional forms found", changed);
}

Test(norm, names_typed_with_every_error_come_back) {
    gh_gen_errors_t e;
    memset(&e, 0, sizeof e);
    e.rate[GH_GEN_ERR_TRADITIONAL] = 1;
    e.rate[GH_GEN_ERR_SPACE] = 1;
    gh_gen_errors_t homo = e;
    homo.rate[GH_GEN_ERR_HOMOPHONE] = 1;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, 7, GH_GEN_STREAM_TEST, 7);
    for (int i = 0; i < 3000; i++) {
        gh_gen_person_t p;
        memset(&p, 0, sizeof p);
        p.sex = (uint8_t)(1 + i % 2);
        gh_gen_name_draw(&r, p.sex, 1930 + i % 90, -1, i % 10 == 0, &p.name);
        char truth[96], typed[96], nt[GH_NORM_NAME_MAX], nty[GH_NORM_NAME_MAX];
        gh_gen_name_format(&p.name, truth, sizeof truth);
        int dept = i % GH_GEN_NDEPT;
        /* Without homophones the normalized names are equal... */
        gh_gen_type_name(&e, &r, dept, &p, typed, sizeof typed);
        gh_norm_name(truth, nt, sizeof nt);
        gh_norm_name(typed, nty, sizeof nty);
        cr_assert_str_eq(nt, nty, "\"%s\" typed \"%s\"", truth, typed);
        /* ...with them, the keys are. */
        gh_gen_type_name(&homo, &r, dept, &p, typed, sizeof typed);
        expect_same_key(truth, typed);
    }
}

/* ---- phones --------------------------------------------------------- */

Test(norm, phone_mobile_forms) {
    expect_phone("13800138000", "13800138000");
    expect_phone("+86 138 0013 8000", "13800138000");
    expect_phone("+8613800138000", "13800138000");
    expect_phone("0086-13800138000", "13800138000");
    expect_phone("8613800138000", "13800138000");
    expect_phone("138-0013-8000", "13800138000");
    expect_phone("(138) 0013.8000", "13800138000");
    expect_phone("１３８００１３８０００", "13800138000");
    expect_phone("＋８６　１３８　００１３　８０００", "13800138000");
    expect_phone(" 13800138000 ", "13800138000");
}

Test(norm, phone_landline) {
    expect_phone("0738-8888888", "07388888888");
    expect_phone("(0738)8888888", "07388888888");
    expect_phone("010-12345678", "01012345678");
    expect_phone("+86 738 8888888", "07388888888"); /* trunk 0 restored */
    expect_phone("0086 0738 8888888", "07388888888");
}

Test(norm, phone_rejected) {
    expect_phone("1380013800", "");   /* 10 digits */
    expect_phone("8888888", "");      /* no area code */
    expect_phone("138001380001", ""); /* 12 digits, not a landline */
    expect_phone("+1 415 555 1234", "");
    expect_phone("138abc00138000", "");
    expect_phone("13800138000转123", "");
    expect_phone("1380013+8000", "");
    expect_phone("123456789012345678901234567890", "");
    expect_phone("", "");
    expect_phone("+86", "");
    expect_phone("00860086 0738 888", ""); /* two country prefixes */
    expect_phone("0044 20 7946 0000", ""); /* 00: another country */
    expect_phone(NULL, "");
}

Test(norm, phone_needs_room_for_the_whole_number) {
    char out[8];
    memset(out, '#', sizeof out);
    cr_assert_eq(gh_norm_phone("13800138000", out, sizeof out), 0);
    cr_assert_str_eq(out, "");
}

/* ---- addresses ------------------------------------------------------ */

Test(norm, address_chinese_numerals) {
    expect_addr("十二栋二单元三零一", "12栋2单元301");
    expect_addr("二〇一室", "201");
    expect_addr("十栋", "10栋");
    expect_addr("二十三栋", "23栋");
    expect_addr("八一路一百零一号", "八一路101号");
    expect_addr("三塘铺镇新村三组十二号", "三塘铺镇新村3组12号");
    expect_addr("小区二期五栋", "小区2期5栋");
    expect_addr("三栋五楼五零一", "3栋5楼501");
    /* Numerals that are names stay. */
    expect_addr("五一路三号", "五一路3号");
    expect_addr("三门峡市", "三门峡市");
    expect_addr("娄底市第一中学", "娄底市第一中学");
}

Test(norm, address_building_unit_room_words) {
    expect_addr("3幢2单元501室", "3栋2单元501");
    expect_addr("3号楼2门501", "3栋2单元501");
    expect_addr("3#楼2单元501", "3栋2单元501");
    expect_addr("3#五零一", "3栋501");
    expect_addr("3栋2单元501号房", "3栋2单元501");
    expect_addr("3栋2单元501房", "3栋2单元501");
    expect_addr("3栋2单元501号", "3栋2单元501");
    expect_addr("办公室", "办公室"); /* 室 not after a number */
    expect_addr("2室3栋", "2室3栋"); /* dropping 室 would give 23栋 */
}

Test(norm, address_dashes) {
    expect_addr("3-2-501", "3栋2单元501");
    expect_addr("大塘小区3-2-501室", "大塘小区3栋2单元501");
    expect_addr("3栋2-501", "3栋2单元501");
    expect_addr("12-301", "12栋301");
    expect_addr("3-2单元501", "3栋2单元501");
    expect_addr("三-二-五零一", "3栋2单元501");
    expect_addr("人民路12-14号", "人民路12-14号"); /* a range */
    expect_addr("小区-3栋", "小区3栋");
    expect_addr("3—2—501", "3栋2单元501"); /* em dashes */
}

/* A chain of more than eight numbers was cut after the eighth and the
 * dash there dropped, running two numbers together ("8-9" -> "89"), and
 * the rest read as building/unit/room on a second pass, so normalizing
 * twice differed (fuzz_norm, tests/fuzz/crashes/norm/long-dash-chain). */
Test(norm, address_long_dash_chain) {
    expect_addr("1-2-3-4-5-6-7-8-9", "1-2-3-4-5-6-7-8-9");
    expect_addr("小区1-2-3-4-5-6-7-8-9-10-11号",
                "小区1-2-3-4-5-6-7-8-9-10-11号");
    const char *chain = "1-2-5-2-5-2-5-2-5-2-5-5-2-5-2";
    char once[GH_NORM_ADDR_MAX], twice[GH_NORM_ADDR_MAX];
    gh_norm_address(chain, once, sizeof(once));
    gh_norm_address(once, twice, sizeof(twice));
    cr_assert_str_eq(once, chain);
    cr_assert_str_eq(twice, once);
}

/* As for names: "l´" was left as L + U+0301 (fuzz_norm). */
Test(norm, address_normalizes_to_itself_after_a_removed_space) {
    expect_addr("l\u00b4", "\u0139");
    expect_addr("\u0139", "\u0139");
    expect_addr("3\u680b e, \u0301", "3\u680b\u00c9");
}

Test(norm, address_fullwidth_spaces_punctuation_latin) {
    expect_addr("３栋２单元５０１", "3栋2单元501");
    expect_addr("大塘小区 3栋 2单元 501", "大塘小区3栋2单元501");
    expect_addr("大塘小区（东区），3栋", "大塘小区东区3栋");
    expect_addr("a座1201", "A座1201");
    expect_addr("ａ栋２单元", "A栋2单元");
    expect_addr("湖南省娄底市娄星区大科街道五一路12号大塘小区3栋2单元501室",
                "湖南省娄底市娄星区大科街道五一路12号大塘小区3栋2单元501");
}

/* The hub stores normalized values and may normalize them again. */
Test(norm, normalizing_twice_changes_nothing) {
    static const char *const addrs[] = {"十二栋二单元三零一",
                                        "3-2-501室",
                                        "号二-室3栋",
                                        "零门#",
                                        "3#十",
                                        "三-二-五零一",
                                        "人民路12-14号",
                                        "新村三组十二号",
                                        "〇-5幢",
                                        "小区二期5栋2门"};
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        char once[GH_NORM_ADDR_MAX], twice[GH_NORM_ADDR_MAX];
        gh_norm_address(addrs[i], once, sizeof once);
        gh_norm_address(once, twice, sizeof twice);
        cr_assert_str_eq(once, twice, "\"%s\"", addrs[i]);
    }
    static const char *const names[] = {"張 偉", " ·买买提 • 艾力· ",
                                        "ｊｏｈｎ　ｓｍｉｔｈ"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char once[GH_NORM_NAME_MAX], twice[GH_NORM_NAME_MAX];
        gh_norm_name(names[i], once, sizeof once);
        gh_norm_name(once, twice, sizeof twice);
        cr_assert_str_eq(once, twice, "\"%s\"", names[i]);
    }
}

Test(norm, address_parts) {
    expect_parts("大塘小区3栋2单元501", 3, 2, 501, 1);
    expect_parts("3栋501", 3, 0, 501, 1);
    expect_parts("3栋5楼501", 3, 0, 501, 1);
    expect_parts("3栋2单元", 3, 2, 0, 0);
    expect_parts("大塘小区3栋", 3, 0, 0, 0);
    expect_parts("新村3组12号", 3, 0, 12, 1);
    expect_parts("人民路12", 0, 0, 0, 0);
    expect_parts("A栋2单元501", 0, 2, 501, 1);
    expect_parts("3栋2单元12345678901", 0, 0, 0, 0); /* not a room */
    expect_parts("", 0, 0, 0, 0);
    expect_parts(NULL, 0, 0, 0, 0);
    cr_assert_eq(gh_norm_address_parts("3栋2单元501", NULL, NULL, NULL), 1);
}

Test(norm, address_parts_of_normalized_generator_formats) {
    char out[GH_NORM_ADDR_MAX];
    gh_norm_address("娄星区大科街道大塘社区3栋2单元501", out, sizeof out);
    expect_parts(out, 3, 2, 501, 1);
    gh_norm_address("湖南省娄底市娄星区大科街道五一路12号大塘小区3栋2单元501室",
                    out, sizeof out);
    expect_parts(out, 3, 2, 501, 1);
}

/* ---- hostile input -------------------------------------------------- */

Test(norm, invalid_utf8_dropped_byte_by_byte) {
    expect_name("\xff王\xc3建\xe5\x9b国", "王建国");
    expect_name("\xc0\x80王\xed\xa0\x80", "王"); /* overlong, surrogate */
    expect_name("\xf4\x90\x80\x80张", "张");     /* beyond U+10FFFF */
    expect_addr("3\xff栋2\x80单元501", "3栋2单元501");
    expect_phone("138\xff"
                 "00138000",
                 "");
    char key[GH_NORM_PINYIN_MAX];
    gh_norm_pinyin("\xfe王\xe5", key, sizeof key);
    cr_assert_str_eq(key, "wang");
}

Test(norm, truncation_at_character_boundaries) {
    const char *name = "欧阳买买提·艾力JOHN";
    char full[GH_NORM_NAME_MAX];
    size_t fl = gh_norm_name(name, full, sizeof full);
    for (size_t size = 1; size <= fl + 1; size++) {
        char buf[GH_NORM_NAME_MAX + 8];
        memset(buf, '#', sizeof buf);
        size_t n = gh_norm_name(name, buf, size);
        cr_assert_lt(n, size);
        cr_assert_eq(buf[n], '\0');
        cr_assert_eq(buf[size], '#', "wrote past size %zu", size);
        cr_assert(valid_utf8(buf, n), "cut inside a character at %zu", size);
        cr_assert_eq(memcmp(buf, full, n), 0);
        cr_assert_geq(n + 4, size - 1 < fl ? size - 1 : fl);
    }
    const char *addr = "湖南省娄底市大塘小区3栋2单元501室";
    for (size_t size = 1; size < 64; size++) {
        char buf[80];
        memset(buf, '#', sizeof buf);
        size_t n = gh_norm_address(addr, buf, size);
        cr_assert_lt(n, size);
        cr_assert_eq(buf[size], '#');
        cr_assert(valid_utf8(buf, n));
    }
}

Test(norm, null_and_empty) {
    char out[GH_NORM_ADDR_MAX];
    expect_name(NULL, "");
    expect_addr(NULL, "");
    expect_addr("", "");
    cr_assert_eq(gh_norm_pinyin(NULL, out, sizeof out), 0);
    cr_assert_str_eq(out, "");
    /* No room at all: nothing written, nothing read. */
    cr_assert_eq(gh_norm_name("王", out, 0), 0);
    cr_assert_eq(gh_norm_name("王", NULL, 0), 0);
    cr_assert_eq(gh_norm_pinyin("王", NULL, 0), 0);
    cr_assert_eq(gh_norm_phone("13800138000", NULL, 0), 0);
    cr_assert_eq(gh_norm_address("3栋", NULL, 0), 0);
}

Test(norm, huge_input) {
    size_t len = 1 << 20;
    char *big = malloc(len + 1);
    cr_assert_not_null(big);
    for (size_t i = 0; i + 3 <= len; i += 3)
        memcpy(big + i, i % 2 ? "國" : "　", 3);
    big[len - len % 3] = '\0';
    char out[GH_NORM_ADDR_MAX + 1];
    out[GH_NORM_NAME_MAX] = '#';
    size_t n = gh_norm_name(big, out, GH_NORM_NAME_MAX);
    cr_assert_lt(n, GH_NORM_NAME_MAX);
    cr_assert_eq(out[GH_NORM_NAME_MAX], '#');
    cr_assert(valid_utf8(out, n));
    cr_assert_eq(strncmp(out, "国国", 6), 0);
    out[GH_NORM_ADDR_MAX] = '#';
    n = gh_norm_address(big, out, GH_NORM_ADDR_MAX);
    cr_assert_lt(n, GH_NORM_ADDR_MAX);
    cr_assert_eq(out[GH_NORM_ADDR_MAX], '#');
    char key[GH_NORM_PINYIN_MAX + 1];
    key[GH_NORM_PINYIN_MAX] = '#';
    n = gh_norm_pinyin(big, key, GH_NORM_PINYIN_MAX);
    cr_assert_lt(n, GH_NORM_PINYIN_MAX);
    cr_assert_eq(key[GH_NORM_PINYIN_MAX], '#');
    memset(big, '1', len);
    cr_assert_eq(gh_norm_phone(big, out, GH_NORM_PHONE_MAX), 0);
    free(big);
}

/* ---- threads -------------------------------------------------------- */

#define THREADS 4
#define SPAN 0x400

typedef struct job {
    int first;
    char keys[SPAN][8];
} job_t;

/* Keys of U+4E00..U+51FF, every thread starting elsewhere: the threads
 * race to fill the same cache entries and must all see the same keys. */
static void *keys_job(void *arg) {
    job_t *j = arg;
    for (int k = 0; k < SPAN; k++) {
        int i = (j->first + k) % SPAN;
        uint32_t c = 0x4E00 + (uint32_t)i;
        char s[4] = {(char)(0xE0 | (c >> 12)), (char)(0x80 | ((c >> 6) & 0x3F)),
                     (char)(0x80 | (c & 0x3F)), 0};
        char name[GH_NORM_NAME_MAX];
        gh_norm_name(s, name, sizeof name);
        gh_norm_pinyin(name, j->keys[i], sizeof j->keys[i]);
    }
    return NULL;
}

Test(norm, concurrent_first_use) {
    pthread_t t[THREADS];
    static job_t jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i].first = i * (SPAN / THREADS);
        cr_assert_eq(pthread_create(&t[i], NULL, keys_job, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 1; i < THREADS; i++)
        for (int k = 0; k < SPAN; k++)
            cr_assert_str_eq(jobs[i].keys[k], jobs[0].keys[k]);
    cr_assert_str_eq(jobs[0].keys[0], "yi");  /* 一 */
    cr_assert_str_eq(jobs[0].keys[1], "din"); /* 丁 */
}
