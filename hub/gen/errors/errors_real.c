/* Issue 14's error kinds: the mutations (pure, for the tests too) and
 * their draws for one department's copy of a person or a phone. Every kind
 * draws its chance and its own argument from the person's (or phone's)
 * stream in a fixed order, so a rate changes only its own kind. */
#include <stdio.h>
#include <string.h>

#include "errors_real.h"
#include "gridhub/idnum.h"

/* ---- mutations
 * ---------------------------------------------------------------------- */

void gh_gen_id_digit(const char id18[19], unsigned pos, unsigned delta,
                     char out[19]) {
    memcpy(out, id18, 19);
    pos %= 17;
    delta = 1 + (delta + 8) % 9; /* 1..9 */
    if (id18[pos] >= '0' && id18[pos] <= '9')
        out[pos] = (char)('0' + (id18[pos] - '0' + (int)delta) % 10);
}

int gh_gen_id_transposed(const char id18[19], uint32_t pick, char out[19]) {
    memcpy(out, id18, 19);
    unsigned n = 0;
    for (int i = 0; i < 16; i++)
        n += id18[i] != id18[i + 1];
    if (!n) return 0;
    pick %= n;
    for (int i = 0; i < 16; i++)
        if (id18[i] != id18[i + 1] && pick-- == 0) {
            out[i] = id18[i + 1];
            out[i + 1] = id18[i];
            break;
        }
    return 1;
}

/* 娄底's counties before (娄底地区, 4325xx) and after (娄底市, 4313xx) the
 * 1999 re-coding. */
static const char *const OLD_NEW[][2] = {
    {"432501", "431302"}, /* 娄底市 -> 娄星区 */
    {"432502", "431381"}, /* 冷水江市 */
    {"432503", "431382"}, /* 涟源市 */
    {"432522", "431321"}, /* 双峰县 */
    {"432524", "431322"}, /* 新化县 */
};
#define N_OLD_NEW (sizeof(OLD_NEW) / sizeof(OLD_NEW[0]))

void gh_gen_id_second(const char id18[19], uint32_t pick, char out[19]) {
    memcpy(out, id18, 19);
    const char *region = OLD_NEW[pick % N_OLD_NEW][0];
    for (size_t i = 0; i < N_OLD_NEW; i++) {
        if (!memcmp(id18, OLD_NEW[i][0], 6)) region = OLD_NEW[i][1];
        if (!memcmp(id18, OLD_NEW[i][1], 6)) region = OLD_NEW[i][0];
    }
    memcpy(out, region, 6);
    out[17] = gh_idnum_check_char(out);
}

int32_t gh_gen_birth_year_off(int32_t day, int up) {
    int y, m, d;
    gh_gen_civil(day, &y, &m, &d);
    y += up ? 1 : -1;
    if (m == 2 && d == 29) d = 28; /* in a leap year's neighbours */
    return gh_gen_days(y, m, d);
}

static int days_in(int y, int m) {
    static const int n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : n[(m - 1) % 12];
}

int32_t gh_gen_birth_digit(int32_t day, uint32_t pick) {
    int y, m, d;
    gh_gen_civil(day, &y, &m, &d);
    int32_t ref = gh_gen_days(GH_GEN_REF_Y, GH_GEN_REF_M, GH_GEN_REF_D);
    int v[8] = {y / 1000, y / 100 % 10, y / 10 % 10, y % 10,
                m / 10,   m % 10,       d / 10,      d % 10};
    /* 8 digits x 9 other values, in a fixed order from `pick`: a form
     * accepts only dates, and none after today. The day's last digit
     * always has another value that is a date (1..8), so the loop ends. */
    for (uint32_t t = 0; t < 72; t++) {
        uint32_t c = (pick + t) % 72;
        int w[8];
        memcpy(w, v, sizeof(w));
        w[c / 9] = (v[c / 9] + 1 + (int)(c % 9)) % 10;
        int ny = w[0] * 1000 + w[1] * 100 + w[2] * 10 + w[3];
        int nm = w[4] * 10 + w[5], nd = w[6] * 10 + w[7];
        if (ny < 1900 || ny > GH_GEN_REF_Y || nm < 1 || nm > 12 || nd < 1 ||
            nd > days_in(ny, nm))
            continue;
        int32_t r = gh_gen_days(ny, nm, nd);
        if (r <= ref) return r;
    }
    return day; /* not reached */
}

int32_t gh_gen_birth_placeholder(int32_t day, int which) {
    int y, m, d;
    gh_gen_civil(day, &y, &m, &d);
    switch (which) {
    case 0:
        return gh_gen_days(y, 1, 1);
    case 1:
        return gh_gen_days(y, m, 1);
    default:
        return gh_gen_days(1900, 1, 1);
    }
}

uint64_t gh_gen_phone_other(uint64_t phone, uint64_t pick) {
    /* city.c's prefixes (draw_phone). */
    static const uint16_t prefix[] = {
        130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151,
        152, 153, 155, 156, 157, 158, 159, 166, 173, 176, 177, 180,
        181, 182, 183, 185, 186, 187, 188, 189, 191, 198, 199};
    size_t np = sizeof(prefix) / sizeof(prefix[0]);
    uint64_t v = prefix[pick % np] * 100000000ULL + (pick >> 8) % 100000000ULL;
    if (v == phone)
        v = prefix[(pick + 1) % np] * 100000000ULL + v % 100000000ULL;
    return v;
}

uint64_t gh_gen_phone_digit(uint64_t phone, unsigned pos, unsigned delta) {
    pos = 1 + pos % 10;          /* digit 1..10 from the left */
    delta = 1 + (delta + 8) % 9; /* 1..9 */
    uint64_t p10 = 1;
    for (unsigned i = pos; i < 10; i++)
        p10 *= 10;
    uint64_t dgt = phone / p10 % 10;
    return phone - dgt * p10 + (dgt + delta) % 10 * p10;
}

/* ---- draws
 * -------------------------------------------------------------------------- */

typedef struct real {
    uint64_t key;                    /* the stream's seed */
    unsigned drawn;                  /* kinds whose chance came up */
    uint64_t arg[GH_GEN_ERR__COUNT]; /* each kind's own random number */
} real_t;

/* Kinds drawn from the person's stream, in draw order (part of the output
 * contract: reordering changes every city generated with them). */
static const int PERSON_KINDS[] = {
    GH_GEN_ERR_FUZZY_PINYIN,    GH_GEN_ERR_NAME_CHAR_DROPPED,
    GH_GEN_ERR_NAME_CHAR_ADDED, GH_GEN_ERR_BIRTH_YEAR_OFF,
    GH_GEN_ERR_BIRTH_DIGIT,     GH_GEN_ERR_BIRTH_PLACEHOLDER,
    GH_GEN_ERR_SEX_WRONG,       GH_GEN_ERR_ID_DIGIT,
    GH_GEN_ERR_ID_TRANSPOSED,   GH_GEN_ERR_FOREIGN_ID,
    GH_GEN_ERR_TWO_IDS,         GH_GEN_ERR_ID_MISSING};
static const int PHONE_KINDS[] = {GH_GEN_ERR_PHONE_OLD, GH_GEN_ERR_PHONE_DIGIT};

static int any_rate(const gh_gen_errors_t *e, const int *kinds, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (e->rate[kinds[i]] > 0) return 1;
    return 0;
}

static void draw(const gh_gen_errors_t *e, gh_gen_rng_t *r, int dept,
                 const int *kinds, size_t n, real_t *x) {
    for (size_t i = 0; i < n; i++) {
        int k = kinds[i];
        /* two_ids: the base rate is drawn once per person
         * (has_second_id); here only whether this department has the
         * second number. */
        double pr = k == GH_GEN_ERR_TWO_IDS ? gh_gen_err_factor(dept, k)
                                            : gh_gen_err_rate(e, dept, k);
        if (gh_gen_rng_chance(r, pr)) x->drawn |= GH_GEN_ERR_BIT(k);
        x->arg[k] = gh_gen_rng_next(r);
    }
}

/* The first 17 digits of the true ID number as a number: unique in the
 * city. */
static uint64_t person_key(const gh_gen_person_t *p) {
    int y, m, d;
    gh_gen_civil(p->birth, &y, &m, &d);
    return (uint64_t)(p->region % 1000000u) * 100000000000ULL +
           (uint64_t)(y * 10000 + m * 100 + d) * 1000ULL + p->seq % 1000u;
}

static int has_second_id(const gh_gen_errors_t *e, uint64_t key, int y) {
    /* 一人多号 here: numbers issued under 娄底地区's codes before 1999
     * and never cancelled. Whether a person has one is the person's, not
     * a department's: drawn on the person's own index, at the base rate;
     * the factor then says how often a department has the second number. */
    if (y >= 1999) return 0;
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, key, GH_GEN_STREAM_REAL, GH_GEN_NDEPT);
    return gh_gen_rng_chance(&r, e->rate[GH_GEN_ERR_TWO_IDS]);
}

static int person_draws(const gh_gen_errors_t *e, int dept,
                        const gh_gen_person_t *p, real_t *x) {
    memset(x, 0, sizeof(*x));
    if (!any_rate(e, PERSON_KINDS,
                  sizeof(PERSON_KINDS) / sizeof(PERSON_KINDS[0])))
        return 0;
    uint64_t key = x->key = person_key(p);
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, key, GH_GEN_STREAM_REAL, (uint64_t)dept);
    draw(e, &r, dept, PERSON_KINDS,
         sizeof(PERSON_KINDS) / sizeof(PERSON_KINDS[0]), x);
    unsigned two = GH_GEN_ERR_BIT(GH_GEN_ERR_TWO_IDS);
    if (x->drawn & two) {
        int y, m, d;
        gh_gen_civil(p->birth, &y, &m, &d);
        if (!has_second_id(e, key, y)) x->drawn &= ~two;
    }
    return x->drawn != 0;
}

unsigned gh__gen_real_name(const gh_gen_errors_t *e, int dept,
                           const gh_gen_person_t *p, char *name, size_t size) {
    real_t x;
    if (!person_draws(e, dept, p, &x)) return 0;
    unsigned shown = 0;
    gh_gen_name_t n = p->name;
    if ((x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_NAME_CHAR_DROPPED)) &&
        gh_gen_name_drop_char(&n,
                              (uint32_t)x.arg[GH_GEN_ERR_NAME_CHAR_DROPPED]))
        shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_NAME_CHAR_DROPPED);
    else if ((x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_NAME_CHAR_ADDED)) &&
             gh_gen_name_add_char(&n,
                                  (uint32_t)x.arg[GH_GEN_ERR_NAME_CHAR_ADDED]))
        shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_NAME_CHAR_ADDED);
    if (shown) gh_gen_name_format(&n, name, size);
    if (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_FUZZY_PINYIN)) {
        char b[96];
        gh_gen_rng_t t;
        gh_gen_rng_init(&t, x.arg[GH_GEN_ERR_FUZZY_PINYIN], 0, 0);
        if (gh_gen_fuzzy_pinyin(&t, name, b, sizeof(b))) {
            snprintf(name, size, "%s", b);
            shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_FUZZY_PINYIN);
        }
    }
    return shown;
}

/* Whose ID number a clerk types by mistake: another member of the
 * household (one family, one form), else the resident listed just before
 * (a neighbour). Only residents already generated are looked at. */
static const gh_gen_person_t *other_resident(const gh_gen_city_t *c,
                                             const gh_gen_person_t *p,
                                             uint64_t pick) {
    if (!c || p < c->persons || p >= c->persons + c->n_persons) return NULL;
    uint32_t self = (uint32_t)(p - c->persons);
    if (p->hh < c->n_hh) {
        const gh_gen_household_t *h = &c->hhs[p->hh];
        if (h->n > 1 && self >= h->first && self < h->first + h->n &&
            h->first + h->n <= c->n_persons) {
            uint32_t k = (uint32_t)(pick % (uint64_t)(h->n - 1));
            uint32_t o = h->first + k;
            if (o >= self) o++;
            return &c->persons[o];
        }
    }
    if (self > 0) return &c->persons[self - 1];
    if (self + 1 < c->n_persons) return &c->persons[self + 1];
    return NULL;
}

unsigned gh__gen_real_id(const gh_gen_errors_t *e, int dept,
                         const gh_gen_person_t *p, char id[19]) {
    real_t x;
    char truth[19], t[19];
    if (!person_draws(e, dept, p, &x)) return 0;
    memcpy(truth, id, 19);
    unsigned shown = 0;
    const gh_gen_person_t *o;
    if ((x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_FOREIGN_ID)) &&
        (o = other_resident(e->city, p, x.arg[GH_GEN_ERR_FOREIGN_ID]))) {
        gh_gen_person_id(o, id);
        shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_FOREIGN_ID);
    } else if (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_TWO_IDS)) {
        /* The person's one second number, whichever department has it. */
        gh_gen_id_second(truth, (uint32_t)gh_gen_mix(x.key), id);
        shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_TWO_IDS);
    }
    if (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_ID_DIGIT)) {
        uint64_t a = x.arg[GH_GEN_ERR_ID_DIGIT];
        gh_gen_id_digit(id, (unsigned)(a % 17), (unsigned)((a >> 8) % 9 + 1),
                        t);
        memcpy(id, t, 19);
        shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_ID_DIGIT);
    } else if ((x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_ID_TRANSPOSED)) &&
               gh_gen_id_transposed(
                   id, (uint32_t)x.arg[GH_GEN_ERR_ID_TRANSPOSED], t)) {
        memcpy(id, t, 19);
        shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_ID_TRANSPOSED);
    }
    return shown;
}

int gh__gen_real_id_missing(const gh_gen_errors_t *e, int dept,
                            const gh_gen_person_t *p) {
    /* Drawn last in the person's stream: the kinds before it keep their
     * numbers whatever its rate. */
    real_t x;
    return e->rate[GH_GEN_ERR_ID_MISSING] > 0 && person_draws(e, dept, p, &x) &&
           (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_ID_MISSING));
}

unsigned gh__gen_real_birth(const gh_gen_errors_t *e, int dept,
                            const gh_gen_person_t *p, int32_t *birth) {
    real_t x;
    if (!person_draws(e, dept, p, &x)) return 0;
    /* One mistake per date: a placeholder hides the others, a mistyped
     * digit a year off. */
    int32_t b = *birth;
    int kind = -1;
    if (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_BIRTH_PLACEHOLDER)) {
        /* Mostly the year alone is known; sometimes not even that. */
        static const uint16_t w[3] = {55, 30, 15};
        gh_gen_rng_t r;
        gh_gen_rng_init(&r, x.arg[GH_GEN_ERR_BIRTH_PLACEHOLDER], 0, 0);
        b = gh_gen_birth_placeholder(*birth, (int)gh_gen_rng_pick(&r, w, 3));
        kind = GH_GEN_ERR_BIRTH_PLACEHOLDER;
    } else if (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_BIRTH_DIGIT)) {
        b = gh_gen_birth_digit(*birth, (uint32_t)x.arg[GH_GEN_ERR_BIRTH_DIGIT]);
        kind = GH_GEN_ERR_BIRTH_DIGIT;
    } else if (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_BIRTH_YEAR_OFF)) {
        b = gh_gen_birth_year_off(*birth,
                                  (int)(x.arg[GH_GEN_ERR_BIRTH_YEAR_OFF] & 1));
        kind = GH_GEN_ERR_BIRTH_YEAR_OFF;
    }
    if (kind < 0 || b == *birth) return 0; /* born on a 1 January */
    *birth = b;
    return GH_GEN_ERR_BIT(kind);
}

unsigned gh__gen_real_sex(const gh_gen_errors_t *e, int dept,
                          const gh_gen_person_t *p, int *sex) {
    real_t x;
    if (!person_draws(e, dept, p, &x) ||
        !(x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_SEX_WRONG)))
        return 0;
    *sex = *sex == 1 ? 2 : 1;
    return GH_GEN_ERR_BIT(GH_GEN_ERR_SEX_WRONG);
}

unsigned gh__gen_real_phone(const gh_gen_errors_t *e, int dept,
                            uint64_t *phone) {
    size_t n = sizeof(PHONE_KINDS) / sizeof(PHONE_KINDS[0]);
    if (!*phone || !any_rate(e, PHONE_KINDS, n)) return 0;
    real_t x;
    memset(&x, 0, sizeof(x));
    gh_gen_rng_t r;
    gh_gen_rng_init(&r, *phone, GH_GEN_STREAM_REAL_PHONE, (uint64_t)dept);
    draw(e, &r, dept, PHONE_KINDS, n, &x);
    unsigned shown = 0;
    if (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_PHONE_OLD)) {
        *phone = gh_gen_phone_other(*phone, x.arg[GH_GEN_ERR_PHONE_OLD]);
        shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_PHONE_OLD);
    }
    if (x.drawn & GH_GEN_ERR_BIT(GH_GEN_ERR_PHONE_DIGIT)) {
        uint64_t a = x.arg[GH_GEN_ERR_PHONE_DIGIT];
        *phone = gh_gen_phone_digit(*phone, (unsigned)(a % 10),
                                    (unsigned)((a >> 8) % 9 + 1));
        shown |= GH_GEN_ERR_BIT(GH_GEN_ERR_PHONE_DIGIT);
    }
    return shown;
}
