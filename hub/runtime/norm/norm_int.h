/*
 * Internals shared by the normalization files (norm_*.c, pinyin_*.c); the
 * public contract is gridhub/norm.h.
 *
 * Every function works on bounded, caller-owned buffers: raw input is
 * decoded into a fixed array of code points (the rest of an over-long input
 * is ignored), so no input can make a normalizer allocate or run long.
 */
#ifndef GH_NORM_INT_H
#define GH_NORM_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <opencc/opencc.h>
#include <unicode/utrans.h>

/* The process-wide converters behind the name functions. Created once by
 * gh__norm_ctx() and never freed (they live as long as the process). A
 * member is NULL when it could not be loaded: the functions then degrade
 * (no 繁→简, no pinyin for Han characters) rather than fail. */
typedef struct gh__norm_ctx {
    opencc_t t2s; /* OpenCC t2s.json; its conversions are thread-safe */
    /* ICU "Any-Latin" (Han -> toned pinyin, other scripts -> Latin). ICU
     * transliterators are not thread-safe: use only with `lock` held. */
    UTransliterator *latin;
    pthread_mutex_t lock;
    char err[256]; /* why loading failed, "" when it did not */
} gh__norm_ctx_t;

/* The context, loaded on first call (thread-safe, never NULL). */
gh__norm_ctx_t *gh__norm_ctx(void);

/* Decodes the NUL-terminated `raw` (may be NULL) into at most `cap` code
 * points, dropping each byte that does not start a valid UTF-8 sequence.
 * Returns how many were stored; input beyond `cap` is ignored. */
size_t gh__norm_decode(const char *raw, uint32_t *cp, size_t cap);

/* NFKC of cp[0..n) in place (cap = room in cp). Returns the new length.
 * When ICU is unavailable or the result would not fit, falls back to the
 * full-width -> ASCII folding only, which is what matters for typed data. */
size_t gh__norm_nfkc(uint32_t *cp, size_t n, size_t cap);

/* Encodes cp[0..n) as UTF-8 into out (size bytes incl. NUL), stopping at
 * the last whole character that fits. Returns the length written. */
size_t gh__norm_encode(const uint32_t *cp, size_t n, char *out, size_t size);

/* White_Space, plus the invisible characters copy-paste leaves behind
 * (zero-width space/joiners, word joiner, BOM, soft hyphen). */
int gh__norm_is_space(uint32_t c);

/* Han ideographs: CJK Unified (incl. extensions A..H) and compatibility. */
int gh__norm_is_han(uint32_t c);

/* The single-pinyin reading of a surname when it differs from the
 * character's common reading (曾 zeng, 单 shan, ...): writes a lowercase
 * toneless syllable per character into syl[0..1] (ü as v) and returns how
 * many characters of `cp` (1 or 2, compound surnames such as 尉迟) it
 * covers, 0 when `cp` does not start with such a surname. */
int gh__pinyin_surname(const uint32_t *cp, size_t n, char syl[2][8]);

#endif
