#include <string.h>

#include "match_int.h"

/*
 * Each key catches the duplicates another one misses:
 *   id17           a wrong check character (or none at all, upgraded);
 *   pinyin+birth   homophones, traditional characters; day and month are
 *                  put in order, so a swapped birth date keys the same;
 *   surname+birth+sex  a given name typed wrong (not a homophone);
 *   name+year      a wrong day or month;
 *   phone          a wrong or missing birth date;
 *   name+address   no birth date and no ID number (children in 计生);
 *   pinyin+month+day  a wrong birth year (one off from the nominal age,
 *                  a digit of it mistyped) where nothing else pairs the
 *                  records: no phone, an ID number mistyped too.
 * The order matters: a pair sharing several keys is scored under the
 * first one (index.c), so the most selective keys come first.
 */

static const char *const KEY_NAMES[GH__KEY__COUNT] = {
    "id17",  "pinyin+birth", "surname+birth+sex", "name+year",
    "phone", "name+address", "pinyin+month+day"};

#define FB(f) (1u << (f))
static const unsigned KEY_FIELDS[GH__KEY__COUNT] = {
    FB(GH_MATCH_F_ID),
    FB(GH_MATCH_F_NAME) | FB(GH_MATCH_F_BIRTH),
    FB(GH_MATCH_F_NAME) | FB(GH_MATCH_F_BIRTH) | FB(GH_MATCH_F_SEX),
    FB(GH_MATCH_F_NAME) | FB(GH_MATCH_F_BIRTH),
    FB(GH_MATCH_F_PHONE),
    FB(GH_MATCH_F_NAME) | FB(GH_MATCH_F_ADDRESS),
    /* The birth date's level is not forced, but its blocks are nearly all
     * namesakes of other years: left out of the session, as name+year's
     * birth is, rather than teach EM that matches differ on the year. */
    FB(GH_MATCH_F_NAME) | FB(GH_MATCH_F_BIRTH),
};

unsigned gh__match_key_fields(int type) {
    return type >= 0 && type < GH__KEY__COUNT ? KEY_FIELDS[type] : 0;
}

const char *gh__match_key_name(int type) {
    return type >= 0 && type < GH__KEY__COUNT ? KEY_NAMES[type] : "?";
}

static uint64_t finish(uint64_t h) {
    return h ? h : 1; /* 0 means "no key" */
}

static uint64_t with_int(uint64_t h, uint64_t v) {
    return gh__mix64(h ^ gh__mix64(v + 0x632be59bd9b4e019ULL));
}

static uint64_t str_key(int type, const char *s, size_t n) {
    return gh__match_hash(s, n, 0x100 + (uint64_t)type);
}

void gh__match_keys(const gh_match_rec_t *r, uint64_t keys[GH__KEY__COUNT]) {
    memset(keys, 0, GH__KEY__COUNT * sizeof(*keys));
    int y = 0, mo = 0, d = 0;
    int has_birth = r->birth != GH_MATCH_NO_DATE;
    if (has_birth) gh__match_civil(r->birth, &y, &mo, &d);

    if (r->id_number[0])
        keys[GH__KEY_ID17] = finish(str_key(GH__KEY_ID17, r->id_number, 17));
    if (r->pinyin && has_birth) {
        int lo = mo < d ? mo : d, hi = mo < d ? d : mo;
        keys[GH__KEY_PINYIN_BIRTH] = finish(with_int(
            str_key(GH__KEY_PINYIN_BIRTH, r->pinyin, strlen(r->pinyin)),
            (uint64_t)(y * 10000 + lo * 100 + hi)));
    }
    if (r->pinyin && has_birth && r->sex) {
        size_t sl = strcspn(r->pinyin, " ");
        keys[GH__KEY_SURNAME_BIRTH_SEX] =
            finish(with_int(str_key(GH__KEY_SURNAME_BIRTH_SEX, r->pinyin, sl),
                            (uint64_t)(uint32_t)r->birth * 4 + r->sex));
    }
    if (r->name && has_birth)
        keys[GH__KEY_NAME_YEAR] = finish(with_int(
            str_key(GH__KEY_NAME_YEAR, r->name, strlen(r->name)), (uint64_t)y));
    if (r->phone)
        keys[GH__KEY_PHONE] =
            finish(str_key(GH__KEY_PHONE, r->phone, strlen(r->phone)));
    /* Not a borrowed address: the hub keys a record once, when it
     * changes, and the holders of its number may come later. */
    if (r->name && r->address && !r->address_from_id)
        keys[GH__KEY_NAME_ADDRESS] = finish(
            with_int(str_key(GH__KEY_NAME_ADDRESS, r->name, strlen(r->name)),
                     gh__match_hash(r->address, strlen(r->address), 0x200)));
    if (r->pinyin && has_birth)
        keys[GH__KEY_PINYIN_MONTHDAY] = finish(with_int(
            str_key(GH__KEY_PINYIN_MONTHDAY, r->pinyin, strlen(r->pinyin)),
            (uint64_t)(mo * 100 + d)));
}

size_t gh_match_block_keys(const gh_match_rec_t *r, uint64_t *keys,
                           size_t max) {
    uint64_t k[GH__KEY__COUNT];
    gh__match_keys(r, k);
    size_t n = 0;
    for (int t = 0; t < GH__KEY__COUNT && n < max; t++)
        if (k[t]) keys[n++] = k[t];
    return n;
}

uint64_t gh_match_block_key(const gh_match_rec_t *r, const char *kind) {
    uint64_t k[GH__KEY__COUNT];
    for (int t = 0; t < GH__KEY__COUNT; t++) {
        if (strcmp(KEY_NAMES[t], kind)) continue;
        gh__match_keys(r, k);
        return k[t];
    }
    return 0;
}
