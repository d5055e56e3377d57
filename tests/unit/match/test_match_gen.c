/*
 * The matching engine on the city generator's records (records.only):
 * demo preset at scale 0.05 (about 5,800 records), default error profile.
 * The accuracy targets of docs/identity.md must hold: pairwise precision
 * >= 0.999 and recall >= 0.99. Records and truth files have the same rows
 * in the same order, so line i of one is line i of the other.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"
#include "gridhub/match.h"
#include "gridhub/norm.h"
#include "gridhub/util.h"

static const char *const FIELDS[9] = {
    "department", "source_key", "name",    "id_number",    "sex",
    "birth_date", "phone",      "address", "household_key"};

static const char *str(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

Test(match_gen, demo_meets_accuracy_targets, .timeout = 300) {
    char err[1024], dir[] = "/tmp/gh_match_gen_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char *truth = gh_xasprintf("%s/truth.jsonl", dir);
    char *records = gh_xasprintf("%s/records.jsonl", dir);
    gh_conf_t *conf = gh_conf_new("gen", gh_gen_props);
    const char *kv[] = {"preset",     "demo",         "scale",
                        "0.05",       "seed",         "1",
                        "truth.file", truth,          "records.file",
                        records,      "records.only", "true",
                        "log.level",  "warn",         NULL};
    for (int i = 0; kv[i]; i += 2)
        cr_assert_eq(
            gh_conf_set(conf, NULL, kv[i], kv[i + 1], err, sizeof(err)), GH_OK,
            "%s", err);
    cr_assert_eq(gh_gen_run(conf, err, sizeof(err)), GH_OK, "%s", err);
    gh_conf_destroy(conf);
    cr_assert_eq(gh_norm_init(err, sizeof(err)), GH_OK, "%s", err);

    FILE *rf = fopen(records, "r"), *tf = fopen(truth, "r");
    cr_assert(rf && tf);
    gh_match_set_t *set = gh_match_set_new();
    size_t cap = 8192, n = 0;
    uint32_t *truth_of = malloc(cap * sizeof(*truth_of));
    uint32_t *kinds = malloc(cap * sizeof(*kinds));
    char *kind_names[32] = {0}, **ids = malloc(cap * sizeof(*ids));
    int nkinds = 0;
    char *rl = NULL, *tl = NULL;
    size_t rc = 0, tc = 0;
    while (getline(&rl, &rc, rf) > 0) {
        cr_assert_gt(getline(&tl, &tc, tf), 0, "truth shorter than records");
        json_t *o = json_loads(rl, 0, NULL), *t = json_loads(tl, 0, NULL);
        cr_assert(o && t);
        cr_assert_str_eq(str(o, "source_key"), str(t, "source_key"));
        const char *v[9];
        for (int i = 0; i < 9; i++)
            v[i] = str(o, FIELDS[i]);
        gh_match_raw_t raw = {v[0], v[1], v[2], v[3], v[4],
                              v[5], v[6], v[7], v[8]};
        if (n == cap) {
            cap *= 2;
            truth_of = realloc(truth_of, cap * sizeof(*truth_of));
            kinds = realloc(kinds, cap * sizeof(*kinds));
            ids = realloc(ids, cap * sizeof(*ids));
        }
        gh_match_set_add_raw(set, &raw);
        ids[n] = strdup(str(t, "true_id"));
        kinds[n] = 0;
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(o, "errors"), i, e) {
            int k = 0;
            while (k < nkinds && strcmp(kind_names[k], json_string_value(e)))
                k++;
            if (k == nkinds && nkinds < 32)
                kind_names[nkinds++] = strdup(json_string_value(e));
            if (k < 32) kinds[n] |= 1u << k;
        }
        n++;
        json_decref(o);
        json_decref(t);
    }
    free(rl);
    free(tl);
    fclose(rf);
    fclose(tf);
    cr_assert_gt(n, 4000);
    /* True-person labels: the IDs in order of first appearance. */
    for (size_t i = 0; i < n; i++) {
        truth_of[i] = (uint32_t)i;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ids[i], ids[j])) {
                truth_of[i] = truth_of[j];
                break;
            }
    }

    gh_match_model_t *m = gh_match_model_new(NULL, err, sizeof(err));
    for (size_t i = 0; i < n; i++)
        gh_match_model_tf_add(m, gh_match_set_get(set, i), +1);
    cr_assert_eq(gh_match_model_train(m, set, NULL, err, sizeof(err)), GH_OK,
                 "%s", err);
    int conv;
    gh_match_model_iterations(m, &conv);
    cr_assert(conv, "EM did not converge");
    uint32_t *cl = malloc(n * sizeof(*cl));
    gh_match_batch_stats_t st;
    cr_assert_eq(gh_match_resolve(m, set, cl, &st, err, sizeof(err)), GH_OK);
    gh_match_eval_t ev;
    gh_match_evaluate(n, cl, truth_of, kinds, &ev);
    cr_log_info("generator demo x0.05: %zu records, precision %.5f recall "
                "%.5f (%.0f true pairs, %.0f predicted)",
                n, ev.precision, ev.recall, ev.true_pairs, ev.predicted_pairs);
    for (int k = 0; k < nkinds; k++)
        cr_log_info("  %-17s %5zu records, recall %.4f, %.0f false pairs",
                    kind_names[k], ev.kind[k].records,
                    ev.kind[k].true_pairs
                        ? ev.kind[k].found_pairs / ev.kind[k].true_pairs
                        : 1,
                    ev.kind[k].false_pairs);
    cr_assert_geq(ev.precision, 0.999);
    cr_assert_geq(ev.recall, 0.99);

    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    for (int k = 0; k < nkinds; k++)
        free(kind_names[k]);
    free(ids);
    free(cl);
    free(truth_of);
    free(kinds);
    gh_match_model_destroy(m);
    gh_match_set_destroy(set);
    remove(truth);
    remove(records);
    rmdir(dir);
    free(truth);
    free(records);
}
