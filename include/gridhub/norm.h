/*
 * Normalization of the identifying fields of a resident, for matching:
 * names, phones and addresses (ID numbers are gridhub/idnum.h).
 *
 * Every function writes into a caller-owned buffer, never allocates on the
 * caller's behalf and accepts any byte string (invalid UTF-8 is dropped byte
 * by byte, never read past the NUL; NULL reads as ""). `out` may be NULL
 * only with `size` 0, which writes nothing and returns 0. Output that does
 * not fit is cut at a character boundary (a phone number is not cut: see
 * gh_norm_phone). Input past the first 256 (name, pinyin) or 1024
 * (address) characters is ignored.
 *
 * The name functions use OpenCC (繁→简) and ICU (NFKC, Han→Latin pinyin)
 * through a process-wide context created on first use (by any thread, or
 * by gh_norm_init()) and kept for the life of the process. Every function
 * is thread-safe, also before gh_norm_init() has been called. The phone and
 * address functions need neither OpenCC nor the context.
 *
 * Values are personal information under PIPL: callers must not log them.
 */
#ifndef GRIDHUB_NORM_H
#define GRIDHUB_NORM_H

#include <stddef.h>

#include "gridhub/error.h"

/* Sizes that always suffice for the outputs below. */
#define GH_NORM_NAME_MAX 128   /* normalized name, bytes incl. NUL */
#define GH_NORM_PINYIN_MAX 256 /* pinyin key, bytes incl. NUL */
#define GH_NORM_PHONE_MAX 16   /* normalized phone, bytes incl. NUL */
#define GH_NORM_ADDR_MAX 512   /* normalized address, bytes incl. NUL */

/*
 * Loads the OpenCC and ICU converters. Called implicitly by the first name
 * function; call it at start-up to fail early with a clear message when the
 * OpenCC data files are missing. Idempotent and thread-safe; a failure is
 * final for the process (every later call returns the same error).
 * Returns GH_OK or GH_ERR_CONFIG with errstr naming what is missing. When
 * loading failed the name functions still work, degraded: no 繁→简 without
 * OpenCC, no syllables for Han characters without ICU's transliterator.
 */
gh_err_t gh_norm_init(char *errstr, size_t errstr_size);

/*
 * Name as matched: NFKC (full-width -> half-width), traditional ->
 * simplified characters (OpenCC t2s.json), every middle-dot variant
 * (· • ‧ ・ ∙ ⋅ ● ． . 。 and the Greek, runic and half-width ones) -> U+00B7,
 * a run of dots and spaces -> one dot, none at either end; whitespace
 * (ASCII, U+3000 and the other Unicode spaces, zero-width characters, BOM)
 * removed everywhere except a single space kept between two Latin words;
 * control and format characters and variation selectors removed; Latin
 * letters upper-cased.
 * 繁→简 runs only on names with a character that OpenCC converts on its
 * own (almost none, which keeps this fast); a phrase whose characters all
 * stay the same alone (藉口 -> 借口) is therefore left as typed.
 * out: OUT, caller-owned, `size` bytes (GH_NORM_NAME_MAX suffices for any
 * name up to 40 characters; longer ones are truncated at a character).
 * Returns the length written (0 for NULL or an empty result).
 */
size_t gh_norm_name(const char *raw, char *out, size_t size);

/*
 * Pinyin key of an already normalized name (gh_norm_name output): one
 * toneless lowercase ASCII syllable per Han character separated by single
 * spaces ("王建国" -> "wang jian guo"), ü written v (吕 "lv", 卢 "lu").
 * Latin letters are lower-cased and kept as words (accented and other
 * alphabetic letters transliterated into them); the middle dot, spaces and
 * every other character separate words and are dropped.
 * The key is fuzzy on purpose: syllables are folded the way our clerks
 * (Xiang and southwestern Mandarin speakers) and fuzzy-pinyin IMEs merge
 * them, zh/ch/sh -> z/c/s and -eng/-ing -> -en/-in, so homophone typos
 * (王建国 / 王建帼, 周 / 邹, 陈 / 程) get the same key: "张伟" -> "zang wei".
 * Polyphonic characters take ICU's reading, except that a name's first
 * one or two characters take their surname reading when they are a
 * polyphonic surname (曾 zeng, 单 shan, 解 xie, 尉迟 yu chi, ...).
 * Results per character are cached, so this is fast (about 50 ns a name).
 * The key is cut between syllables when it does not fit
 * (GH_NORM_PINYIN_MAX suffices for GH_NORM_NAME_MAX names).
 * Returns the length written.
 */
size_t gh_norm_pinyin(const char *name, char *out, size_t size);

/*
 * Phone as matched: full-width digits to ASCII, separators (spaces, - and
 * the other dashes, (, ), ., in ASCII or full width) dropped, a +86 / 0086
 * / 86 (before an 11-digit mobile number) country prefix removed, and the
 * trunk 0 a landline loses after +86 restored ("+86 738 8888888").
 * Result: an 11-digit mobile number starting with 1, or a landline with its
 * area code (0 + 9..11 digits, e.g. "07388888888"). Anything else (too
 * short, letters, an extension, other countries, invalid UTF-8) gives ""
 * and returns 0.
 * out: OUT, at least GH_NORM_PHONE_MAX bytes; a number that does not fit
 * in `size` gives "" (a cut phone number would match the wrong person).
 */
size_t gh_norm_phone(const char *raw, char *out, size_t size);

/*
 * Address as matched: NFKC, whitespace and punctuation removed, Chinese
 * numerals in house, building, unit and room numbers to Arabic
 * ("十二栋二单元三零一" -> "12栋2单元301"), variant words unified (幢/号楼/栋
 * -> 栋, 单元/门 after a number -> 单元, 室/房/号房 after a number ->
 * removed, "-" between building/unit/room numbers read as 栋/单元), Latin
 * upper-cased.
 * In detail: a run of Chinese numerals (〇零一..九十百千) is converted only
 * when followed by 栋 幢 号 单元 室 房 层 楼 组 期 座 # -, or by 门 and a
 * number, or when it ends the address after one of those words: 五一路,
 * 三门峡 and 第一中学 are names and stay. "N#" (3#楼) is N栋. 门 is 单元
 * only before a number or at the end. 室/房/号房 are dropped at the end or
 * before a non-Han character, and 号 after "N单元M". Dash chains: 3-2-501 ->
 * 3栋2单元501, 12-301 -> 12栋301, 3栋2-501 -> 3栋2单元501; 12-14号 (a range)
 * and chains of four or more numbers keep their dashes.
 * Returns the length written.
 */
size_t gh_norm_address(const char *raw, char *out, size_t size);

/*
 * The trailing building/unit/room part of a normalized address as three
 * integers (0 when absent): "大塘小区3栋2单元501" -> 3, 2, 501. Read from the
 * end as [N栋|N组][N单元][N层|N楼]room, the room being a trailing number
 * after one of those words, or "N号" after a village group ("新村3组12号"
 * -> 3, 0, 12); a trailing number after anything else (人民路12) is not a
 * room. Numbers of more than 9 digits are not read. Any output pointer may
 * be NULL; norm may be NULL (all 0).
 * Returns 1 if a room number was found, 0 otherwise.
 */
int gh_norm_address_parts(const char *norm, int *building, int *unit,
                          int *room);

#endif
