/*
 * The Fellegi-Sunter model: configuration and pins, built-in priors,
 * weights, term-frequency and household adjustments, and the decision
 * rules of gh_match_score (docs/identity.md).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/util.h"
#include "match_int.h"

/* ---- configuration ------------------------------------------------------ */

static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int validate_weight(const char *key, const char *value, char *errstr,
                           size_t errstr_size) {
    double v;
    if (parse_double(value, &v) || v < -100 || v > 100) {
        snprintf(errstr, errstr_size,
                 "%s: \"%s\" is not a log2 weight between -100 and 100", key,
                 value);
        return -1;
    }
    return 0;
}

/* The agreement levels this binary scores with, as 8 hex digits: a hash
 * of every field's level names in order. Pins name levels by number, so
 * a model file written for other levels would pin other meanings. */
static void levels_signature(char out[9]) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int f = 0; f < GH_MATCH_F__COUNT; f++)
        for (int l = 0; l < gh_match_field_levels((gh_match_field_t)f); l++)
            for (const char *p = gh_match_level_name((gh_match_field_t)f, l);;
                 p++) {
                h = (h ^ (uint8_t)*p) * 16777619u;
                if (!*p) break;
            }
    snprintf(out, 9, "%08x", (unsigned)h);
}

/* Parses "m.<field>.<level>", "u.<field>.<level>", "u.household",
 * "lambda" or "levels" (the key without the match.pin. prefix). kind:
 * 'm', 'u', 'l' (lambda), 'h' (household) or 'v' (levels). */
static int parse_pin_key(const char *sub, int *kind, int *field, int *level) {
    *field = *level = 0;
    if (!strcmp(sub, "lambda")) {
        *kind = 'l';
        return 0;
    }
    if (!strcmp(sub, "levels")) {
        *kind = 'v';
        return 0;
    }
    if (!strcmp(sub, "u.household")) {
        *kind = 'h';
        return 0;
    }
    if ((sub[0] != 'm' && sub[0] != 'u') || sub[1] != '.') return -1;
    *kind = sub[0];
    const char *f = sub + 2, *dot = strchr(f, '.');
    if (!dot) return -1;
    for (int i = 0; i < GH_MATCH_F__COUNT; i++) {
        const char *n = gh_match_field_name((gh_match_field_t)i);
        if (strlen(n) == (size_t)(dot - f) && !strncmp(f, n, strlen(n))) {
            char *end;
            long l = strtol(dot + 1, &end, 10);
            if (*end || end == dot + 1 || l < 1 ||
                l >= gh_match_field_levels((gh_match_field_t)i))
                return -1;
            *field = i;
            *level = (int)l;
            return 0;
        }
    }
    return -1;
}

static int validate_pin(const char *key, const char *value, char *errstr,
                        size_t errstr_size) {
    int kind, f, l;
    double v;
    const char *sub = key + strlen("match.pin.");
    if (!parse_pin_key(sub, &kind, &f, &l) && kind == 'v') {
        char sig[9];
        levels_signature(sig);
        if (strcmp(value, sig)) {
            snprintf(errstr, errstr_size,
                     "%s: the model was written for other agreement levels "
                     "(%s; this gridhub scores with %s), so its pins would "
                     "mean other levels: write it again with `gridhub "
                     "resolve --model-out` (docs/identity.md)",
                     key, value, sig);
            return -1;
        }
        return 0;
    }
    if (parse_pin_key(sub, &kind, &f, &l)) {
        snprintf(errstr, errstr_size,
                 "%s: expected match.pin.m.<field>.<level>, "
                 "match.pin.u.<field>.<level>, match.pin.u.household, "
                 "match.pin.lambda or match.pin.levels, with <field> one of "
                 "id, name, birth, sex, "
                 "phone, address and <level> from 1 (see docs/identity.md)",
                 key);
        return -1;
    }
    if (parse_double(value, &v) || v <= 0 || v >= 1) {
        snprintf(errstr, errstr_size,
                 "%s: \"%s\" is not a probability strictly between 0 and 1",
                 key, value);
        return -1;
    }
    return 0;
}

/* One entry of the table, in the field order of gh_conf_prop_t. */
#define PROP(name, type, def, min, max, validate, desc)                        \
    { name, type, def, 0, min, max, NULL, validate, desc, NULL }

const gh_conf_prop_t gh_match_conf_props[GH_MATCH_CONF_NPROPS + 1] = {
    PROP("match.link.threshold", GH_CONF_STR, "6", 0, 0, validate_weight,
         "Identity matching: a pair whose total weight (log2 odds of being "
         "the same person, prior included) reaches this is linked "
         "automatically."),
    PROP("match.review.threshold", GH_CONF_STR, "0", 0, 0, validate_weight,
         "Identity matching: a pair whose total weight reaches this but not "
         "the link threshold goes to a data steward for review."),
    PROP("match.em.max.pairs", GH_CONF_INT, "2000000", 1000, 1000000000, NULL,
         "Identity matching: most candidate pairs EM training learns m and "
         "lambda from (deterministic samples, shared among its per-key "
         "sessions)."),
    PROP("match.em.iterations", GH_CONF_INT, "100", 1, 100000, NULL,
         "Identity matching: most EM iterations per training session; a "
         "session stops earlier once no parameter moves by 1e-4."),
    PROP("match.tf.enabled", GH_CONF_BOOL, "true", 0, 0, NULL,
         "Identity matching: weigh name (and pinyin) agreement by the name's "
         "frequency, so a common name counts for less than a rare one."),
    PROP("match.block.max.size", GH_CONF_INT, "1000", 2, 100000000, NULL,
         "Identity matching: blocks (records sharing a blocking key) larger "
         "than this are skipped, bounding the candidate pairs; the other "
         "keys still pair their records."),
    PROP("match.pin.", GH_CONF_PREFIX, NULL, 0, 0, validate_pin,
         "Identity matching: fixed model probabilities that EM never "
         "changes: match.pin.m.<field>.<level> and "
         "match.pin.u.<field>.<level> (field id, name, birth, sex, phone or "
         "address; level from 1, see docs/identity.md), "
         "match.pin.u.household and match.pin.lambda; match.pin.levels names "
         "the agreement levels they were written for, and a file for other "
         "levels is refused. `gridhub resolve --model-out FILE` writes them "
         "all."),
    GH_CONF_END};

/* ---- priors ------------------------------------------------------------- */

/* Starting values, before any data: rough figures for department records
 * (a few percent of typos, a tenth of the addresses out of date). EM
 * replaces them; they matter for a hub that has not trained yet. */
static const double PRIOR_M[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS] = {
    {0, 0.95, 0.03, 0.01, 0.002, 0.008},
    {0, 0.92, 0.04, 0.01, 0.02, 0.01},
    {0, 0.93, 0.005, 0.025, 0.012, 0.013, 0.015},
    {0, 0.99, 0.01},
    {0, 0.85, 0.01, 0.14},
    {0, 0.85, 0.02, 0.05, 0.08},
};
static const double PRIOR_U[GH_MATCH_F__COUNT][GH_MATCH_MAX_LEVELS] = {
    {0, 1e-8, 1e-9, 1e-8, 1e-9, 1},
    {0, 0.002, 0.0005, 0.002, 0.01, 0.9855},
    {0, 5e-5, 1e-5, 0.0011, 3e-4, 0.013, 0.98554},
    {0, 0.5, 0.5},
    {0, 1e-5, 1e-6, 1},
    {0, 1e-4, 1e-5, 0.02, 0.98},
};
#define PRIOR_LAMBDA 1e-5
#define PRIOR_HOUSEHOLD 5e-5

void gh__match_normalize(double *p, const uint8_t *pinned, int levels,
                         double floor) {
    double fixed = 0, free_sum = 0;
    for (int l = 1; l < levels; l++) {
        if (pinned[l])
            fixed += p[l];
        else
            free_sum += p[l] > floor ? p[l] : floor;
    }
    double target = 1.0 - fixed;
    for (int l = 1; l < levels; l++) {
        if (pinned[l]) continue;
        double v = p[l] > floor ? p[l] : floor;
        v = target > 0 && free_sum > 0 ? v * target / free_sum : floor;
        p[l] = v > floor ? v : floor;
    }
}

void gh__match_model_update(gh_match_model_t *m) {
    for (int f = 0; f < GH_MATCH_F__COUNT; f++) {
        m->w[f][0] = 0;
        for (int l = 1; l < gh_match_field_levels((gh_match_field_t)f); l++)
            m->w[f][l] = log2(m->m[f][l] / m->u[f][l]);
    }
    m->prior = log2(m->lambda / (1 - m->lambda));
    m->w_household =
        log2(m->m[GH_MATCH_F_PHONE][1] *
             (m->m[GH_MATCH_F_ADDRESS][1] + m->m[GH_MATCH_F_ADDRESS][2]) /
             m->u_household);
}

typedef struct pin_ctx {
    gh_match_model_t *m;
    char *errstr;
    size_t errstr_size;
    int failed;
} pin_ctx_t;

static void apply_pin(const char *sub, const char *value, void *opaque) {
    pin_ctx_t *c = opaque;
    int kind, f, l;
    double v;
    if (c->failed) return;
    /* match.pin.levels was checked when the configuration was loaded. */
    if (!parse_pin_key(sub, &kind, &f, &l) && kind == 'v') return;
    if (parse_pin_key(sub, &kind, &f, &l) || parse_double(value, &v) ||
        v <= 0 || v >= 1) {
        snprintf(c->errstr, c->errstr_size,
                 "match.pin.%s: \"%s\" is not a valid pin (see "
                 "docs/identity.md)",
                 sub, value);
        c->failed = 1;
        return;
    }
    switch (kind) {
    case 'l':
        c->m->lambda = v;
        c->m->pin_lambda = 1;
        break;
    case 'h':
        c->m->u_household = v;
        c->m->pin_household = 1;
        break;
    case 'm':
        c->m->m[f][l] = v;
        c->m->pin_m[f][l] = 1;
        break;
    default:
        c->m->u[f][l] = v;
        c->m->pin_u[f][l] = 1;
        break;
    }
}

static double conf_double(const gh_conf_t *conf, const char *key, double def) {
    const char *s = conf ? gh_conf_get(conf, key) : NULL;
    double v;
    return s && !parse_double(s, &v) ? v : def;
}

static long long conf_int(const gh_conf_t *conf, const char *key,
                          long long def) {
    const char *s = conf ? gh_conf_get(conf, key) : NULL;
    return s ? gh_conf_get_int(conf, key) : def;
}

gh_match_model_t *gh_match_model_new(const gh_conf_t *conf, char *errstr,
                                     size_t errstr_size) {
    gh_match_model_t *m = gh_xcalloc(1, sizeof(*m));
    memcpy(m->m, PRIOR_M, sizeof(m->m));
    memcpy(m->u, PRIOR_U, sizeof(m->u));
    m->lambda = PRIOR_LAMBDA;
    m->u_household = PRIOR_HOUSEHOLD;
    m->link_threshold = conf_double(conf, "match.link.threshold", 6);
    m->review_threshold = conf_double(conf, "match.review.threshold", 0);
    m->em_max_pairs = conf_int(conf, "match.em.max.pairs", 2000000);
    m->em_iterations = conf_int(conf, "match.em.iterations", 100);
    m->block_max_size = conf_int(conf, "match.block.max.size", 1000);
    const char *tf = conf ? gh_conf_get(conf, "match.tf.enabled") : NULL;
    m->tf_enabled = tf ? gh_conf_get_bool(conf, "match.tf.enabled") : 1;
    m->tf_floor = 1e-7;
    if (m->review_threshold > m->link_threshold) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                  "match.review.threshold (%g) is above match.link.threshold "
                  "(%g): nothing could ever go to review",
                  m->review_threshold, m->link_threshold);
        free(m);
        return NULL;
    }
    if (conf) {
        pin_ctx_t c = {m, errstr, errstr_size, 0};
        gh_conf_foreach_prefix(conf, "match.pin.", apply_pin, &c);
        if (c.failed) {
            free(m);
            return NULL;
        }
    }
    for (int f = 0; f < GH_MATCH_F__COUNT; f++) {
        int nl = gh_match_field_levels((gh_match_field_t)f);
        gh__match_normalize(m->m[f], m->pin_m[f], nl, GH__MATCH_M_FLOOR);
        gh__match_normalize(m->u[f], m->pin_u[f], nl, GH__MATCH_U_FLOOR);
    }
    gh__match_model_update(m);
    return m;
}

void gh_match_model_destroy(gh_match_model_t *m) {
    if (!m) return;
    gh__tf_free(&m->tf_name);
    gh__tf_free(&m->tf_pinyin);
    free(m);
}

void gh_match_model_tf_add(gh_match_model_t *m, const gh_match_rec_t *r,
                           int delta) {
    gh__tf_add(&m->tf_name, r->name, delta);
    gh__tf_add(&m->tf_pinyin, r->pinyin, delta);
}

int gh_match_model_iterations(const gh_match_model_t *m, int *converged) {
    if (converged) *converged = m->converged;
    return m->iterations;
}

static int valid_level(gh_match_field_t f, int level) {
    return (unsigned)f < GH_MATCH_F__COUNT && level >= 1 &&
           level < gh_match_field_levels(f);
}

double gh_match_model_m(const gh_match_model_t *m, gh_match_field_t f,
                        int level) {
    return valid_level(f, level) ? m->m[f][level] : 0;
}

double gh_match_model_u(const gh_match_model_t *m, gh_match_field_t f,
                        int level) {
    return valid_level(f, level) ? m->u[f][level] : 0;
}

double gh_match_model_lambda(const gh_match_model_t *m) {
    return m->lambda;
}

void gh_match_model_write(const gh_match_model_t *m, FILE *out) {
    fprintf(out,
            "# gridhub identity-matching model (docs/identity.md). Load with "
            "-c to pin\n# these values; EM never changes a pinned value.\n"
            "# EM: %d iterations%s.\n",
            m->iterations, m->converged ? ", converged" : "");
    char sig[9];
    levels_signature(sig);
    fprintf(out,
            "# the agreement levels the pins below number (a gridhub with "
            "other levels\n# refuses the file)\nmatch.pin.levels=%s\n",
            sig);
    fprintf(out, "# prior %.2f bits\nmatch.pin.lambda=%.17g\n", m->prior,
            m->lambda);
    fprintf(out,
            "# phone and address both equal: %.2f bits\n"
            "match.pin.u.household=%.17g\n",
            m->w_household, m->u_household);
    for (int f = 0; f < GH_MATCH_F__COUNT; f++) {
        gh_match_field_t ff = (gh_match_field_t)f;
        for (int l = 1; l < gh_match_field_levels(ff); l++) {
            fprintf(out, "# %s %s: %.2f bits\n", gh_match_field_name(ff),
                    gh_match_level_name(ff, l), m->w[f][l]);
            fprintf(out, "match.pin.m.%s.%d=%.17g\n", gh_match_field_name(ff),
                    l, m->m[f][l]);
            fprintf(out, "match.pin.u.%s.%d=%.17g\n", gh_match_field_name(ff),
                    l, m->u[f][l]);
        }
    }
}

/* ---- scoring ------------------------------------------------------------ */

const char *gh_match_decision_name(gh_match_decision_t d) {
    switch (d) {
    case GH_MATCH_NONE:
        return "none";
    case GH_MATCH_REVIEW:
        return "review";
    case GH_MATCH_LINK:
        return "link";
    case GH_MATCH_LINK_ID:
        return "link-id";
    case GH_MATCH_ID_CONFLICT:
        return "id-conflict";
    case GH_MATCH_TWO_IDS:
        return "two-ids";
    }
    return "?";
}

/* Relative frequency of a value (at least one record's worth). */
static double tf_freq(const gh__tf_t *t, const char *s) {
    int64_t c = gh__tf_count(t, s);
    return (double)(c > 0 ? c : 1) / (double)t->total;
}

/* Splink's term-frequency adjustment: for agreement on a value, u is the
 * chance that another record has this very value, not the average over
 * all values. Same pinyin with other characters: the chance that another
 * record sounds the same without being written the same; of the two
 * names' views the larger (章伟 may be a typo of any of the many 张伟). */
static void tf_adjust(const gh_match_model_t *m, const gh_match_rec_t *a,
                      const gh_match_rec_t *b, int level, double *w) {
    if (!m->tf_enabled || m->tf_name.total <= 0 || m->tf_pinyin.total <= 0)
        return;
    double u;
    if (level == 1) {
        u = tf_freq(&m->tf_name, a->name);
    } else if (level == 2) {
        double fa = tf_freq(&m->tf_name, a->name),
               fb = tf_freq(&m->tf_name, b->name);
        u = tf_freq(&m->tf_pinyin, a->pinyin) - (fa < fb ? fa : fb);
        if (u < 1.0 / (double)m->tf_pinyin.total)
            u = 1.0 / (double)m->tf_pinyin.total;
    } else {
        return;
    }
    if (u < m->tf_floor) u = m->tf_floor;
    *w = log2(m->m[GH_MATCH_F_NAME][level] / u);
}

gh_match_decision_t gh_match_score(const gh_match_model_t *m,
                                   const gh_match_rec_t *a,
                                   const gh_match_rec_t *b,
                                   gh_match_explain_t *ex) {
    gh_match_explain_t local;
    if (!ex) ex = &local;
    int *lv = ex->level;
    gh__match_levels(a, b, lv);
    double total = m->prior;
    for (int f = 0; f < GH_MATCH_F__COUNT; f++)
        ex->weight[f] = m->w[f][lv[f]];
    tf_adjust(m, a, b, lv[GH_MATCH_F_NAME], &ex->weight[GH_MATCH_F_NAME]);
    /* A household shares phone and flat: both agreeing is worth what
     * sharing a household is worth, not the sum of two independent
     * agreements. The joint weight is split in proportion. */
    if (lv[GH_MATCH_F_PHONE] == 1 &&
        (lv[GH_MATCH_F_ADDRESS] == 1 || lv[GH_MATCH_F_ADDRESS] == 2)) {
        double sum =
            ex->weight[GH_MATCH_F_PHONE] + ex->weight[GH_MATCH_F_ADDRESS];
        if (sum > m->w_household && sum > 0) {
            double k = m->w_household > 0 ? m->w_household / sum : 0;
            ex->weight[GH_MATCH_F_PHONE] *= k;
            ex->weight[GH_MATCH_F_ADDRESS] *= k;
        }
    }
    for (int f = 0; f < GH_MATCH_F__COUNT; f++)
        total += ex->weight[f];
    ex->prior = m->prior;
    ex->total = total;
    ex->probability = total > 60    ? 1.0
                      : total < -60 ? 0.0
                                    : exp2(total) / (1 + exp2(total));

    int name = lv[GH_MATCH_F_NAME], id = lv[GH_MATCH_F_ID];
    if (id == 1) {
        /* One number, two people: a clerk typed a relative's ID, or a
         * number was reused. Everything but the ID says so. A birth date
         * taken from the number itself cannot say otherwise, so a name
         * that differs completely is enough then (计生's row of a child
         * without a date, carrying the father's number). */
        if (name == 5 &&
            (lv[GH_MATCH_F_BIRTH] >= 3 || lv[GH_MATCH_F_SEX] == 2 ||
             a->birth_from_id || b->birth_from_id))
            return GH_MATCH_ID_CONFLICT;
        return GH_MATCH_LINK_ID;
    }
    /* One valid number on two records, one of whose birth dates it
     * contradicts: the number was not compared, but that it is on both is
     * for a steward to see unless the rest links them anyway. */
    if (!id && (a->id_foreign || b->id_foreign) &&
        gh_idnum_is_valid(a->id_status) && gh_idnum_is_valid(b->id_status) &&
        !memcmp(a->id_number, b->id_number, 18) && total < m->link_threshold)
        return GH_MATCH_ID_CONFLICT;
    if (total >= m->link_threshold) {
        /* MOD 11-2 catches every single wrong digit and every swap of
         * two neighbours, so two different numbers that both pass it are
         * two people (twins differ only in the sequence digits) — or one
         * person holding two numbers (一人多号). Only a steward can tell;
         * everything else says one person, so the pair goes to them with
         * its evidence. */
        if (id >= 4 && gh_idnum_is_valid(a->id_status) &&
            gh_idnum_is_valid(b->id_status))
            return GH_MATCH_TWO_IDS;
        /* Twins share birth date, surname, address and phone; what tells
         * them apart is the given name. Without ID agreement, a pair
         * whose names do not even sound alike (to a Xiang speaker) is
         * left to a steward. An ID one digit off does not lift this:
         * twins' numbers differ in the sequence digits, a typo away from
         * each other. */
        if ((name >= 1 && name <= 3) || id == 2) return GH_MATCH_LINK;
        /* A character left out or added (刘建国/刘建) is a clerk's slip;
         * twins' names are two whole names of one length (刘建国/刘建军). */
        if (name == 4 && strlen(a->name) != strlen(b->name))
            return GH_MATCH_LINK;
        return GH_MATCH_REVIEW;
    }
    return total >= m->review_threshold ? GH_MATCH_REVIEW : GH_MATCH_NONE;
}
