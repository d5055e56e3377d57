/* The synthetic population of test_match_synth.h (no tests here). */
#include "test_match_synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/util.h"

typedef struct hz {
    const char *c, *py;
} hz_t;

/* Surnames with rough Hunan frequencies (repeats weigh). */
static const hz_t SURNAMES[] = {
    {"刘", "liu"},   {"刘", "liu"},   {"刘", "liu"},       {"李", "li"},
    {"李", "li"},    {"李", "li"},    {"王", "wang"},      {"王", "wang"},
    {"张", "zhang"}, {"张", "zhang"}, {"陈", "chen"},      {"陈", "chen"},
    {"杨", "yang"},  {"黄", "huang"}, {"周", "zhou"},      {"曾", "zeng"},
    {"彭", "peng"},  {"邓", "deng"},  {"欧阳", "ou yang"}, {"谭", "tan"},
    {"罗", "luo"},   {"谢", "xie"},   {"司马", "si ma"},   {"龙", "long"},
};
#define NSUR (sizeof(SURNAMES) / sizeof(SURNAMES[0]))

/* Given-name characters; entries 2k and 2k+1 (k < NHOMO) sound alike. */
static const hz_t GIVEN[] = {
    {"伟", "wei"},   {"威", "wei"},  {"丽", "li"},   {"莉", "li"},
    {"静", "jing"},  {"婧", "jing"}, {"林", "lin"},  {"琳", "lin"},
    {"军", "jun"},   {"君", "jun"},  {"明", "ming"}, {"鸣", "ming"},
    {"华", "hua"},   {"桦", "hua"},  {"杰", "jie"},  {"洁", "jie"},
    {"浩", "hao"},   {"昊", "hao"},  {"宇", "yu"},   {"雨", "yu"},
    {"欣", "xin"},   {"鑫", "xin"},  {"红", "hong"}, {"宏", "hong"},
    {"强", "qiang"}, {"芳", "fang"}, {"敏", "min"},  {"涛", "tao"},
    {"婷", "ting"},  {"涵", "han"},  {"子", "zi"},   {"秀", "xiu"},
    {"兰", "lan"},   {"国", "guo"},  {"建", "jian"}, {"梅", "mei"},
};
#define NGIVEN (sizeof(GIVEN) / sizeof(GIVEN[0]))
#define NHOMO 12

static uint64_t rnd(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int chance(uint64_t *s, double p) {
    return (double)(rnd(s) >> 11) / 9007199254740992.0 < p;
}

static unsigned below(uint64_t *s, unsigned n) {
    return (unsigned)(rnd(s) % n);
}

void synth_id(const char *first17, char out[19]) {
    memcpy(out, first17, 17);
    out[17] = gh_idnum_check_char(first17);
    out[18] = '\0';
}

typedef struct person {
    int sur, g1, g2; /* g2 < 0: one-character given name */
    int32_t birth;
    int sex;
    char id[19];
    char phone[16];
    char address[96];
} person_t;

static void civil(int32_t days, int *y, int *m, int *d) {
    /* Small loop, fine for tests: walk from 1970 by gh_days_from_civil. */
    int yy = 1970 + days / 366;
    while (gh_days_from_civil(yy + 1, 1, 1) <= days)
        yy++;
    while (gh_days_from_civil(yy, 1, 1) > days)
        yy--;
    int mm = 1;
    while (mm < 12 && gh_days_from_civil(yy, mm + 1, 1) <= days)
        mm++;
    *y = yy;
    *m = mm;
    *d = (int)(days - gh_days_from_civil(yy, mm, 1)) + 1;
}

static void add_record(synth_t *s, const person_t *p, uint32_t pi, uint64_t *r,
                       int dept) {
    uint32_t kinds = 0;
    char name[64], py[96], id[19] = "", raw_id[24] = "";
    int g1 = p->g1;
    if (g1 < 2 * NHOMO && chance(r, 0.03)) {
        g1 ^= 1; /* the homophone partner */
        kinds |= 1u << SYNTH_E_HOMOPHONE;
    }
    snprintf(name, sizeof(name), "%s%s%s", SURNAMES[p->sur].c, GIVEN[g1].c,
             p->g2 >= 0 ? GIVEN[p->g2].c : "");
    snprintf(py, sizeof(py), "%s %s%s%s", SURNAMES[p->sur].py, GIVEN[g1].py,
             p->g2 >= 0 ? " " : "", p->g2 >= 0 ? GIVEN[p->g2].py : "");
    int y, m, d;
    civil(p->birth, &y, &m, &d);
    if (chance(r, 0.05)) {
        kinds |= 1u << SYNTH_E_NO_ID;
    } else if (y < 2000 && chance(r, 0.03)) {
        memcpy(raw_id, p->id, 6);
        memcpy(raw_id + 6, p->id + 8, 9);
        raw_id[15] = '\0';
        kinds |= 1u << SYNTH_E_LEGACY;
    } else if (chance(r, 0.02)) {
        memcpy(raw_id, p->id, 19);
        raw_id[17] = raw_id[17] == '0' ? '1' : '0';
        kinds |= 1u << SYNTH_E_BAD_CHECK;
    } else {
        memcpy(raw_id, p->id, 19);
    }
    gh_match_rec_t rec = {0};
    rec.id_status = (uint8_t)gh_idnum_normalize(raw_id, id, NULL);
    if (rec.id_status == GH_IDNUM_OK || rec.id_status == GH_IDNUM_UPGRADED ||
        rec.id_status == GH_IDNUM_BAD_CHECK)
        memcpy(rec.id_number, id, 19);
    rec.birth = p->birth;
    if (d <= 12 && d != m && chance(r, 0.02)) {
        rec.birth = (int32_t)gh_days_from_civil(y, d, m);
        kinds |= 1u << SYNTH_E_SWAPPED;
    } else if (chance(r, 0.01)) {
        rec.birth = GH_MATCH_NO_DATE;
        kinds |= 1u << SYNTH_E_NO_BIRTH;
    }
    char addr[96];
    snprintf(addr, sizeof(addr), "%s", p->address);
    if (chance(r, 0.05)) {
        snprintf(addr, sizeof(addr), "童家新村%u栋%u单元%u", 1 + below(r, 40),
                 1 + below(r, 3), 100 * (1 + below(r, 18)) + 1 + below(r, 2));
        kinds |= 1u << SYNTH_E_OUTDATED;
    }
    int no_phone = chance(r, 0.1);
    if (no_phone && p->phone[0]) kinds |= 1u << SYNTH_E_NO_PHONE;
    char key[32];
    static const char *const DEPTS[] = {"zongzhi", "gongan", "jisheng",
                                        "zuzhi"};
    snprintf(key, sizeof(key), "%c%06u", 'A' + dept, pi);
    rec.department = DEPTS[dept];
    rec.source_key = key;
    rec.name = name;
    rec.pinyin = py;
    rec.phone = no_phone || !p->phone[0] ? NULL : p->phone;
    rec.address = addr;
    rec.sex = chance(r, 0.02) ? 0 : (uint8_t)p->sex;
    size_t i = gh_match_set_add(s->set, &rec);
    s->truth = gh_xrealloc(s->truth, (i + 1) * sizeof(*s->truth));
    s->kinds = gh_xrealloc(s->kinds, (i + 1) * sizeof(*s->kinds));
    s->truth[i] = pi;
    s->kinds[i] = kinds;
    s->n = i + 1;
}

void synth_build(synth_t *s, size_t persons, uint64_t seed) {
    memset(s, 0, sizeof(*s));
    s->set = gh_match_set_new();
    uint64_t r = seed * 7919 + 1;
    person_t *ps = gh_xcalloc(persons, sizeof(*ps));
    size_t i = 0;
    int32_t lo = (int32_t)gh_days_from_civil(1940, 1, 1);
    int32_t hi = (int32_t)gh_days_from_civil(2015, 12, 31);
    while (i < persons) {
        size_t size = 1 + below(&r, 4);
        int sur = (int)below(&r, NSUR);
        char addr[96], phone[16];
        snprintf(addr, sizeof(addr), "大塘小区%u栋%u单元%u", 1 + below(&r, 60),
                 1 + below(&r, 3),
                 100 * (1 + below(&r, 18)) + 1 + below(&r, 2));
        snprintf(phone, sizeof(phone), "13%09u", below(&r, 1000000000));
        int shared_phone = chance(&r, 0.6);
        int twins = size >= 3 && chance(&r, 0.15);
        for (size_t k = 0; k < size && i < persons; k++, i++) {
            person_t *p = &ps[i];
            p->sur = k == 1 && chance(&r, 0.7) ? (int)below(&r, NSUR) : sur;
            p->g1 = (int)below(&r, NGIVEN);
            p->g2 = chance(&r, 0.4) ? -1 : (int)below(&r, NGIVEN);
            p->sex = 1 + (int)below(&r, 2);
            p->birth = lo + (int32_t)below(&r, (unsigned)(hi - lo));
            if (twins && k == size - 1) {
                p->birth = ps[i - 1].birth;
                p->sur = ps[i - 1].sur;
                /* Twins' names differ in one character, and sound
                 * different (homophone twins would defeat anyone). */
                p->g1 = ps[i - 1].g1;
                do
                    p->g2 = 2 * NHOMO + (int)below(&r, NGIVEN - 2 * NHOMO);
                while (p->g2 == ps[i - 1].g2);
            }
            int y, m, d;
            civil(p->birth, &y, &m, &d);
            char first17[18];
            /* Sequence numbers unique per birth date, as the real ones
             * are per region and date. */
            unsigned seq = 0;
            for (size_t q = 0; q < i; q++)
                if (ps[q].birth == p->birth) seq++;
            snprintf(first17, sizeof(first17), "431302%04d%02d%02d%03u", y, m,
                     d, (seq % 500) * 2 + (p->sex == 1));
            synth_id(first17, p->id);
            if (shared_phone)
                snprintf(p->phone, sizeof(p->phone), "%s", phone);
            else if (chance(&r, 0.8))
                snprintf(p->phone, sizeof(p->phone), "15%09u",
                         below(&r, 1000000000));
            snprintf(p->address, sizeof(p->address), "%s", addr);
        }
    }
    /* Records department by department, as they would arrive; the last
     * department also takes everyone the others missed. */
    uint8_t *seen = gh_xcalloc(persons, 1);
    for (int dept = 0; dept < 4; dept++)
        for (size_t p = 0; p < persons; p++) {
            uint64_t pr =
                seed ^ (p * 0x100000001b3ULL) ^ ((uint64_t)dept << 56);
            rnd(&pr);
            if (chance(&pr, 0.6) || (dept == 3 && !seen[p])) {
                add_record(s, &ps[p], (uint32_t)p, &pr, dept);
                seen[p] = 1;
            }
        }
    free(seen);
    s->persons = persons;
    free(ps);
}

void synth_free(synth_t *s) {
    gh_match_set_destroy(s->set);
    free(s->truth);
    free(s->kinds);
    memset(s, 0, sizeof(*s));
}

gh_match_rec_t synth_rec(const char *name, const char *pinyin, const char *id,
                         int sex, const char *birth, const char *phone,
                         const char *address) {
    gh_match_rec_t r = {0};
    r.department = "zongzhi";
    r.source_key = "k";
    r.name = name;
    r.pinyin = pinyin;
    r.phone = phone;
    r.address = address;
    char out[19];
    gh_idnum_status_t st = gh_idnum_normalize(id, out, NULL);
    r.id_status = (uint8_t)st;
    if (st == GH_IDNUM_OK || st == GH_IDNUM_UPGRADED ||
        st == GH_IDNUM_BAD_CHECK)
        memcpy(r.id_number, out, 19);
    r.sex = (uint8_t)sex;
    int64_t d;
    r.birth = birth && !gh_date_parse_iso(birth, &d, NULL) ? (int32_t)d
                                                           : GH_MATCH_NO_DATE;
    return r;
}

gh_match_model_t *synth_model(void) {
    char err[256];
    gh_match_model_t *m = gh_match_model_new(NULL, err, sizeof(err));
    if (!m) {
        fprintf(stderr, "the built-in model: %s\n", err);
        abort();
    }
    return m;
}

int synth_level(const gh_match_rec_t *a, const gh_match_rec_t *b,
                gh_match_field_t f) {
    gh_match_model_t *m = synth_model();
    gh_match_explain_t ex;
    gh_match_score(m, a, b, &ex);
    gh_match_model_destroy(m);
    return ex.level[f];
}
