/*
 * gh_norm_pinyin(): the sound of a name, for homophone typos.
 *
 * Each Han character is read alone by ICU's Any-Latin (Han-Latin) and the
 * toned syllable made ASCII: tone marks dropped, ü written v (吕 lv is not
 * 卢 lu). The syllable is then folded to what the clerks who type our data
 * do not tell apart (Xiang and southwestern Mandarin speakers, and a
 * Chinese IME's fuzzy-pinyin settings alike): zh/ch/sh as z/c/s and -eng/-ing
 * as -en/-in, so 周/邹 and 陈/程 give the same key.
 *
 * ICU takes about 3.5 µs a character and is not thread-safe, while a batch
 * asks for ~15 million keys of a few thousand distinct characters: the
 * folded syllable of each character of U+3400..U+9FFF is kept in a table
 * filled on first sight under the context's lock and read without it
 * afterwards (the length byte is published with release ordering after
 * the syllable). Rarer characters go to ICU each time.
 */
#include <stdatomic.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/utf16.h>

#include "gridhub/norm.h"
#include "norm_int.h"

#define NAME_CAP 256 /* code points of a name looked at */
#define WORD_MAX 128 /* bytes of one Latin word kept */

#define TABLE_FIRST 0x3400
#define TABLE_END 0xA000

typedef struct syl {
    _Atomic uint8_t len; /* 0 unknown, else 1 + strlen(s) */
    char s[7];           /* longest folded syllable: "zuang" */
} syl_t;

static syl_t g_syl[TABLE_END - TABLE_FIRST];

/* Any-Latin of one code point as lowercase ASCII letters, ü as v; needs
 * the context's lock. Returns the length written to s (at most cap - 1). */
static size_t to_latin(gh__norm_ctx_t *ctx, uint32_t c, char *s, size_t cap) {
    UChar buf[64], dec[128];
    int32_t len = 0, limit, dl;
    UErrorCode st = U_ZERO_ERROR;
    s[0] = '\0';
    if (!ctx->latin) return 0;
    U16_APPEND_UNSAFE(buf, len, c);
    limit = len;
    utrans_transUChars(ctx->latin, buf, &len, 64, 0, &limit, &st);
    const UNormalizer2 *nfkd = unorm2_getNFKDInstance(&st);
    if (U_FAILURE(st)) return 0;
    dl = unorm2_normalize(nfkd, buf, len, dec, 128, &st);
    if (U_FAILURE(st)) return 0;
    size_t o = 0;
    for (int32_t i = 0; i < dl && o + 1 < cap; i++) {
        UChar u = dec[i];
        if (u == 0x0308 && o && s[o - 1] == 'u')
            s[o - 1] = 'v';
        else if (u < 0x80 && ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')))
            s[o++] = (char)(u | 0x20);
    }
    s[o] = '\0';
    return o;
}

/* zh/ch/sh -> z/c/s, -eng/-ing -> -en/-in (see the top of the file). */
static size_t fold(char *s, size_t n) {
    if (n >= 2 && s[1] == 'h' && (s[0] == 'z' || s[0] == 'c' || s[0] == 's')) {
        memmove(s + 1, s + 2, n - 1);
        n--;
    }
    if (n >= 3 && s[n - 1] == 'g' && s[n - 2] == 'n' &&
        (s[n - 3] == 'e' || s[n - 3] == 'i'))
        s[--n] = '\0';
    return n;
}

/* The folded syllable of Han character c into s[8]; returns its length. */
static size_t han_syllable(gh__norm_ctx_t *ctx, uint32_t c, char s[8]) {
    if (c < TABLE_FIRST || c >= TABLE_END) {
        pthread_mutex_lock(&ctx->lock);
        size_t n = to_latin(ctx, c, s, 8);
        pthread_mutex_unlock(&ctx->lock);
        return fold(s, n);
    }
    syl_t *e = &g_syl[c - TABLE_FIRST];
    uint8_t len = atomic_load_explicit(&e->len, memory_order_acquire);
    if (!len) {
        pthread_mutex_lock(&ctx->lock);
        len = atomic_load_explicit(&e->len, memory_order_relaxed);
        if (!len) {
            char t[16];
            size_t n = fold(t, to_latin(ctx, c, t, sizeof(t)));
            if (n >= sizeof(e->s)) n = 0; /* no such syllable: unread */
            memcpy(e->s, t, n);
            e->s[n] = '\0';
            len = (uint8_t)(n + 1);
            atomic_store_explicit(&e->len, len, memory_order_release);
        }
        pthread_mutex_unlock(&ctx->lock);
    }
    memcpy(s, e->s, len);
    return len - 1u;
}

/* The key being written: tokens separated by single spaces, never a token
 * cut in two. */
typedef struct keybuf {
    char *out;
    size_t size, len;
    int full; /* a token did not fit: write nothing more */
} keybuf_t;

static void put(keybuf_t *k, const char *s, size_t n) {
    if (!n || k->full) return;
    size_t need = n + (k->len ? 1 : 0);
    if (k->len + need >= k->size) {
        k->full = 1;
        return;
    }
    if (k->len) k->out[k->len++] = ' ';
    memcpy(k->out + k->len, s, n);
    k->len += n;
    k->out[k->len] = '\0';
}

size_t gh_norm_pinyin(const char *name, char *out, size_t size) {
    if (!out || !size) return 0;
    out[0] = '\0';
    uint32_t cp[NAME_CAP];
    size_t n = gh__norm_decode(name, cp, NAME_CAP);
    if (!n) return 0;
    gh__norm_ctx_t *ctx = gh__norm_ctx();
    keybuf_t k = {out, size, 0, 0};
    char syl[2][8], word[WORD_MAX];
    size_t wl = 0, i = 0;

    int sur = gh__pinyin_surname(cp, n, syl);
    for (int j = 0; j < sur; j++)
        put(&k, syl[j], fold(syl[j], strlen(syl[j])));
    for (i = (size_t)sur; i < n && !k.full; i++) {
        uint32_t c = cp[i];
        if (c < 0x80) {
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                if (wl < WORD_MAX) word[wl++] = (char)(c | 0x20);
                continue;
            }
        } else if (gh__norm_is_han(c)) {
            put(&k, word, wl);
            wl = 0;
            put(&k, syl[0], han_syllable(ctx, c, syl[0]));
            continue;
        } else if (u_isalpha((UChar32)c)) {
            /* é, Cyrillic, kana: joined into the current word. */
            char t[16];
            pthread_mutex_lock(&ctx->lock);
            size_t tl = to_latin(ctx, c, t, sizeof(t));
            pthread_mutex_unlock(&ctx->lock);
            if (wl + tl > WORD_MAX) tl = WORD_MAX - wl;
            memcpy(word + wl, t, tl);
            wl += tl;
            continue;
        }
        /* Spaces, the middle dot, digits, punctuation: end of a word. */
        put(&k, word, wl);
        wl = 0;
    }
    put(&k, word, wl);
    return k.len;
}
