/*
 * Training without labels.
 *
 * u (how often different persons agree) comes from the data at large
 * (u.c).
 *
 * m (how often the same person agrees) comes from EM over the blocked
 * candidate pairs, one training session per key type as Splink does:
 * within a key's blocks its own fields agree by construction, so they are
 * left out of that session's likelihood and the other fields' m are
 * estimated, u fixed at the random-pair values. A field's m is the
 * average of its sessions, weighted by the matches each saw. One mixed
 * fit over all blocks does not work: families (phone blocks) and
 * namesakes born the same year (name+year blocks) are non-matches that
 * agree on several fields at once, and the "match" class drifts onto
 * them.
 *
 * lambda: the ID session's matches, divided by the share of matching
 * pairs an ID block can see (both have a number), estimate the number of
 * matching pairs, hence lambda over all pairs; since random pairs include
 * that many matches, the u of each level is corrected for them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "match_int.h"

#define NPATTERNS 117649 /* L^F = 7^6 */
#define MIN_SESSION_PAIRS 1000
#define F GH_MATCH_F__COUNT
#define L GH_MATCH_MAX_LEVELS

/* ---- EM over blocked pairs ---------------------------------------------- */

typedef struct em_worker {
    const gh_match_set_t *set;
    uint64_t *count; /* NPATTERNS */
} em_worker_t;

static void on_pair(void *wctx, uint32_t a, uint32_t b) {
    em_worker_t *w = wctx;
    int lv[F];
    gh__match_levels(gh_match_set_get(w->set, a), gh_match_set_get(w->set, b),
                     lv);
    int idx = 0;
    for (int f = F - 1; f >= 0; f--)
        idx = idx * L + lv[f];
    w->count[idx]++;
}

static void pattern_levels(int idx, int lv[F]) {
    for (int f = 0; f < F; f++) {
        lv[f] = idx % L;
        idx /= L;
    }
}

/* Agreement-pattern counts of sampled candidate pairs: those of one key
 * type (type >= 0) or every candidate pair once (type < 0). Integer counts
 * summed per thread, so the result does not depend on scheduling. */
static double collect(const gh__match_index_t *ix, const gh_match_set_t *set,
                      int type, double rate, int nthreads, double *count) {
    em_worker_t *w = gh_xcalloc((size_t)nthreads, sizeof(*w));
    void **ctx = gh_xmalloc((size_t)nthreads * sizeof(*ctx));
    for (int i = 0; i < nthreads; i++) {
        w[i].set = set;
        w[i].count = gh_xcalloc(NPATTERNS, sizeof(uint64_t));
        ctx[i] = &w[i];
    }
    if (type < 0)
        gh__match_index_pairs(ix, nthreads, rate, on_pair, ctx);
    else
        gh__match_index_type_pairs(ix, type, nthreads, rate, on_pair, ctx);
    double total = 0;
    memset(count, 0, NPATTERNS * sizeof(*count));
    for (int i = 0; i < nthreads; i++) {
        for (int k = 0; k < NPATTERNS; k++)
            count[k] += (double)w[i].count[k];
        free(w[i].count);
    }
    for (int k = 0; k < NPATTERNS; k++)
        total += count[k];
    free(w);
    free(ctx);
    return total;
}

typedef struct fit {
    unsigned used;   /* fields in the likelihood */
    unsigned free_m; /* fields whose m is estimated */
    int max_it;
    int iterations, converged;
    double lambda;  /* in: start; out: estimate */
    double matches; /* out: expected matches among the counted pairs */
} fit_t;

/* Fellegi-Sunter EM on pattern counts with u fixed: m of the free fields
 * (unpinned levels) and lambda. */
static void em_fit(fit_t *ft, const double *count, double mm[F][L],
                   const double u[F][L], const gh_match_model_t *model,
                   FILE *log, const char *what) {
    double total = 0;
    for (int k = 0; k < NPATTERNS; k++)
        total += count[k];
    ft->iterations = ft->converged = 0;
    ft->matches = 0;
    if (total <= 0) {
        ft->converged = 1;
        return;
    }
    double lam = ft->lambda;
    while (ft->iterations < ft->max_it) {
        double sm[F][L], sw = 0;
        memset(sm, 0, sizeof(sm));
        for (int k = 0; k < NPATTERNS; k++) {
            if (!count[k]) continue;
            int lv[F];
            pattern_levels(k, lv);
            double pm = lam, pu = 1 - lam;
            for (int f = 0; f < F; f++)
                if (lv[f] && (ft->used >> f & 1)) {
                    pm *= mm[f][lv[f]];
                    pu *= u[f][lv[f]];
                }
            double g = pm / (pm + pu);
            sw += count[k] * g;
            for (int f = 0; f < F; f++)
                sm[f][lv[f]] += count[k] * g;
        }
        double change = 0;
        for (int f = 0; f < F; f++) {
            if (!(ft->free_m >> f & 1)) continue;
            int nl = gh_match_field_levels((gh_match_field_t)f);
            double tm = 0, nm[L];
            for (int l = 1; l < nl; l++)
                tm += sm[f][l];
            if (tm <= 0) continue;
            for (int l = 1; l < nl; l++)
                nm[l] = model->pin_m[f][l] ? mm[f][l] : sm[f][l] / tm;
            gh__match_normalize(nm, model->pin_m[f], nl, GH__MATCH_M_FLOOR);
            for (int l = 1; l < nl; l++) {
                change = fmax(change, fabs(nm[l] - mm[f][l]));
                mm[f][l] = nm[l];
            }
        }
        double nlam = fmin(fmax(sw / total, 1e-9), 1 - 1e-9);
        change = fmax(change, fabs(nlam - lam));
        lam = nlam;
        ft->matches = sw;
        ft->iterations++;
        if (log)
            fprintf(log,
                    "em: %s: iteration %d: matches among pairs %.5f, largest "
                    "change %.2e\n",
                    what, ft->iterations, lam, change);
        if (change < 1e-4) {
            ft->converged = 1;
            break;
        }
    }
    ft->lambda = lam;
}

gh_err_t gh_match_model_train(gh_match_model_t *m, const gh_match_set_t *set,
                              FILE *log, char *errstr, size_t errstr_size) {
    size_t n = gh_match_set_count(set);
    if (n < 100)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "%zu records are too few to learn the matching "
                         "model from (at least 100); the model is unchanged",
                         n);
    if (n >= UINT32_MAX)
        return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                         "%zu records: at most %u can be trained on", n,
                         UINT32_MAX - 1);
    double p[F][L], p_household = -1, u_id_near = -1;
    gh__match_random_levels(set, p, &p_household, &u_id_near);
    /* "One digit off" is measured on different persons (u.c): random
     * pairs almost never show it, and those that do are matches. */
    const int near = 3;
    if (u_id_near >= 0 && p[GH_MATCH_F_ID][0] >= 0)
        p[GH_MATCH_F_ID][near] = u_id_near;
    /* u as the fits see it: the random-pair distribution (fields never
     * compared keep the model's). */
    double u[F][L];
    static const uint8_t none[L] = {0};
    for (int f = 0; f < F; f++) {
        int nl = gh_match_field_levels((gh_match_field_t)f);
        for (int l = 0; l < L; l++)
            u[f][l] = p[f][0] < 0 || l == 0 ? m->u[f][l] : p[f][l];
        gh__match_normalize(u[f], none, nl, GH__MATCH_U_FLOOR);
    }

    int nthreads = gh__match_threads();
    gh__match_index_t *ix =
        gh__match_index_new(set, (size_t)m->block_max_size, nthreads);
    double *count = gh_xmalloc(NPATTERNS * sizeof(double));
    double per_fit = (double)m->em_max_pairs / (GH__KEY__COUNT + 1);

    /* One session per key type, as Splink trains: the key forced its own
     * fields to agree, so they say nothing there and are left out; the
     * other fields' m are estimated. Mixing all blocks in one fit lets
     * the "match" class drift onto namesakes born the same year (the
     * name+year blocks) or onto households (the phone blocks). */
    double msum[F][L], wsum[F];
    memset(msum, 0, sizeof(msum));
    memset(wsum, 0, sizeof(wsum));
    int max_it = 0, all_converged = 1;
    double id17_matches = -1;
    for (int t = 0; t < GH__KEY__COUNT; t++) {
        double pairs = gh__match_index_type_pairs_count(ix, t);
        /* Too few pairs to learn from (and too few to matter). */
        if (pairs < MIN_SESSION_PAIRS) continue;
        double rate = pairs > per_fit ? per_fit / pairs : 1.0;
        double got = collect(ix, set, t, rate, nthreads, count);
        unsigned fields = ((1u << F) - 1) & ~gh__match_key_fields(t);
        /* Start from what the sessions so far found: the ID session
         * comes first and is almost all matches, which puts the others
         * near their answer (EM crawls when it starts far from a lambda
         * near 1). */
        double mm[F][L];
        memcpy(mm, m->m, sizeof(mm));
        for (int f = 0; f < F; f++)
            for (int l = 1; l < L && wsum[f] > 0; l++)
                mm[f][l] = msum[f][l] / wsum[f];
        fit_t ft = {fields, fields, (int)m->em_iterations, 0, 0, 0.5, 0};
        em_fit(&ft, count, mm, u, m, log, gh__match_key_name(t));
        if (log)
            fprintf(log,
                    "em: %s: %.0f pairs (%.0f sampled), %d iterations%s, "
                    "%.0f matches\n",
                    gh__match_key_name(t), pairs, got, ft.iterations,
                    ft.converged ? "" : " (not converged)", ft.matches);
        /* A session of mostly non-matches (name+address blocks hold
         * fathers and sons of one name) can turn its "match" class onto
         * them; they give themselves away by disagreeing on ID numbers,
         * the field no typo survives. */
        if ((fields >> GH_MATCH_F_ID & 1) &&
            mm[GH_MATCH_F_ID][5] > mm[GH_MATCH_F_ID][1]) {
            if (log)
                fprintf(log,
                        "em: %s: dropped: its matches would mostly disagree "
                        "on ID numbers\n",
                        gh__match_key_name(t));
            continue;
        }
        if (ft.iterations > max_it) max_it = ft.iterations;
        all_converged &= ft.converged;
        if (t == GH__KEY_ID17) id17_matches = ft.lambda * pairs;
        /* Sessions weigh by the matches they saw. */
        for (int f = 0; f < F; f++) {
            if (!(fields >> f & 1) || ft.matches <= 0) continue;
            for (int l = 1; l < L; l++)
                msum[f][l] += ft.matches * mm[f][l];
            wsum[f] += ft.matches;
        }
    }
    double mm[F][L];
    memcpy(mm, m->m, sizeof(mm));
    for (int f = 0; f < F; f++) {
        if (wsum[f] <= 0) continue;
        int nl = gh_match_field_levels((gh_match_field_t)f);
        for (int l = 1; l < nl; l++)
            if (!m->pin_m[f][l]) mm[f][l] = msum[f][l] / wsum[f];
        gh__match_normalize(mm[f], m->pin_m[f], nl, GH__MATCH_M_FLOOR);
    }

    /* lambda: the matches the ID session found, over the share of
     * matching pairs it can see (both records have a number, and the
     * first 17 characters agree). Failing that (no ID numbers), the share
     * of matches among all candidate pairs, each counted once, with m and
     * u fixed; it overestimates (namesakes without ID or phone look like
     * matches to a model without term frequencies), hence second. */
    double matches = -1;
    size_t with_id = 0;
    for (size_t i = 0; i < n; i++)
        with_id += gh_match_set_get(set, i)->id_number[0] != 0;
    double seen = (double)with_id / (double)n;
    seen *= seen * (mm[GH_MATCH_F_ID][1] + mm[GH_MATCH_F_ID][2]);
    if (id17_matches > 0 && seen > 0.05) {
        matches = id17_matches / seen;
        if (log)
            fprintf(log,
                    "em: lambda from the id17 session: %.0f matches, %.3f of "
                    "matching pairs visible to it\n",
                    id17_matches, seen);
    } else {
        double upper = gh__match_index_pairs_upper(ix);
        double rate = upper > per_fit ? per_fit / upper : 1.0;
        double sampled = collect(ix, set, -1, rate, nthreads, count);
        fit_t ft = {(1u << F) - 1, 0, (int)m->em_iterations, 0, 0, 0.1, 0};
        em_fit(&ft, count, mm, u, m, log, "all keys");
        if (ft.iterations > max_it) max_it = ft.iterations;
        all_converged &= ft.converged;
        if (sampled > 0) matches = ft.lambda * sampled / rate;
    }
    gh__match_index_destroy(ix);
    free(count);

    memcpy(m->m, mm, sizeof(mm));
    if (!m->pin_lambda && matches > 0) {
        double all = (double)n * (double)(n - 1) / 2;
        m->lambda = fmin(fmax(matches / all, 1e-12), 0.5);
    }
    double lambda = m->lambda;
    for (int f = 0; f < F; f++) {
        if (p[f][0] < 0) continue; /* never comparable: keep priors */
        int nl = gh_match_field_levels((gh_match_field_t)f);
        for (int l = 1; l < nl; l++)
            if (!m->pin_u[f][l])
                m->u[f][l] = f == GH_MATCH_F_ID && l == near && u_id_near >= 0
                                 ? u_id_near
                                 : (p[f][l] - lambda * mm[f][l]) / (1 - lambda);
        /* Families buy numbers in runs (…1001, …1002): random pairs never
         * show two different people one phone digit apart, households do,
         * at least as often as on one number. So a near phone never
         * weighs more than an equal one. */
        if (f == GH_MATCH_F_PHONE && !m->pin_u[f][2] && m->u[f][2] < m->u[f][1])
            m->u[f][2] = m->u[f][1];
        gh__match_normalize(m->u[f], m->pin_u[f], nl, GH__MATCH_U_FLOOR);
    }
    if (!m->pin_household && p_household >= 0) {
        double mh = mm[GH_MATCH_F_PHONE][1] *
                    (mm[GH_MATCH_F_ADDRESS][1] + mm[GH_MATCH_F_ADDRESS][2]);
        m->u_household =
            fmax((p_household - lambda * mh) / (1 - lambda), GH__MATCH_U_FLOOR);
    }
    m->iterations = max_it;
    m->converged = all_converged;
    gh__match_model_update(m);
    return GH_OK;
}
