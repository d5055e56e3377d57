/*
 * `gridhub resolve` end to end, through the built binary: generated
 * records (gen --records-only) resolved with the accuracy report, the
 * output format and order, malformed input lines, the model file, and
 * determinism. Needs no database.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "harness.h"

#define TIMEOUT_MS 120000

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The value after `label` in the log, e.g. "pairwise precision ". */
static double number_after(const char *log, const char *label) {
    const char *p = strstr(log, label);
    cr_assert_not_null(p, "no \"%s\" in the report:\n%s", label, log);
    return atof(p + strlen(label));
}

/* The share in "decided by ID alone: X of Y correct pairs (share)",
 * checked against X / Y. */
static double id_share(const char *log) {
    const char *p = strstr(log, "decided by ID alone: ");
    cr_assert_not_null(p, "%s", log);
    double x, y, share;
    cr_assert_eq(sscanf(p,
                        "decided by ID alone: %lf of %lf correct pairs (%lf)",
                        &x, &y, &share),
                 3, "%s", p);
    cr_assert(x <= y && y > 0 && share > x / y - 1e-5 && share < x / y + 1e-5,
              "%s", p);
    return share;
}

Test(resolve, generated_records_meet_targets_in_order, .timeout = 300) {
    char *dir = gh_test_tmpdir();
    char *r = path_in(dir, "r.jsonl"), *t = path_in(dir, "t.jsonl"),
         *c = path_in(dir, "c.jsonl"), *c2 = path_in(dir, "c2.jsonl"),
         *model = path_in(dir, "model.properties"), *log = path_in(dir, "log"),
         *log2 = path_in(dir, "log2");
    const char *gen[] = {GH_BINARY,
                         "gen",
                         "--preset",
                         "demo",
                         "--scale",
                         "0.05",
                         "--seed",
                         "3",
                         "--records-only",
                         "true",
                         "--records-file",
                         r,
                         "--truth-file",
                         t,
                         NULL};
    cr_assert_eq(gh_test_run(gen, log, TIMEOUT_MS), 0, "%s",
                 gh_test_file_tail(log, 2000));
    const char *res[] = {GH_BINARY, "resolve", "--in",        r,     "--out", c,
                         "--truth", t,         "--model-out", model, NULL};
    cr_assert_eq(gh_test_run(res, log, TIMEOUT_MS), 0, "%s",
                 gh_test_file_tail(log, 4000));
    char *report = slurp(log);
    cr_assert_geq(number_after(report, "pairwise precision "), 0.999, "%s",
                  report);
    cr_assert_geq(number_after(report, "recall "), 0.99, "%s", report);
    cr_assert(strstr(report, "homophone"), "per-error table:\n%s", report);
    cr_assert(strstr(report, "peak RSS"), "%s", report);
    /* With nearly every ID number valid, most found pairs share one. */
    double by_id = id_share(report);
    cr_assert(by_id > 0.9 && by_id <= 1, "%s", report);

    /* One output line per input line, same order, person ids R + 9
     * digits numbered by first appearance. */
    char *in = slurp(r), *out = slurp(c);
    cr_assert_eq(count_lines(in), count_lines(out));
    char *si, *so;
    char *li = strtok_r(in, "\n", &si), *lo = strtok_r(out, "\n", &so);
    unsigned max_seen = 0;
    for (; li && lo;
         li = strtok_r(NULL, "\n", &si), lo = strtok_r(NULL, "\n", &so)) {
        json_t *a = json_loads(li, 0, NULL), *b = json_loads(lo, 0, NULL);
        cr_assert(a && b, "%s", lo);
        cr_assert_str_eq(json_string_value(json_object_get(a, "source_key")),
                         json_string_value(json_object_get(b, "source_key")));
        cr_assert_str_eq(json_string_value(json_object_get(a, "department")),
                         json_string_value(json_object_get(b, "department")));
        const char *pid = json_string_value(json_object_get(b, "person_id"));
        cr_assert(pid && pid[0] == 'R' && strlen(pid) == 10, "%s", lo);
        unsigned k = (unsigned)atoi(pid + 1);
        cr_assert_leq(k, max_seen + 1, "ids numbered by first record");
        if (k > max_seen) max_seen = k;
        json_decref(a);
        json_decref(b);
    }

    /* The model file pins everything: resolving with it and no EM gives
     * the same clusters; and a second run is byte-identical. */
    char *cfg = slurp(model);
    cr_assert(strstr(cfg, "match.pin.lambda="), "%s", cfg);
    const char *again[] = {GH_BINARY, "resolve", "-c",   model,
                           "--em",    "false",   "--in", r,
                           "--out",   c2,        NULL};
    cr_assert_eq(gh_test_run(again, log2, TIMEOUT_MS), 0, "%s",
                 gh_test_file_tail(log2, 2000));
    char *o1 = slurp(c), *o2 = slurp(c2);
    cr_assert_str_eq(o1, o2, "pinned model, same clusters");
    free(o1);
    free(o2);

    free(cfg);
    free(in);
    free(out);
    free(report);
    gh_test_rmtree(dir);
    free(dir);
    free(r);
    free(t);
    free(c);
    free(c2);
    free(model);
    free(log);
    free(log2);
}

Test(resolve, malformed_lines_reported_and_skipped) {
    char *dir = gh_test_tmpdir();
    char *r = path_in(dir, "r.jsonl"), *c = path_in(dir, "c.jsonl"),
         *log = path_in(dir, "log");
    gh_test_write_file(
        r,
        "{\"department\":\"gongan\",\"source_key\":\"a\",\"name\":\"王建国\","
        "\"id_number\":\"11010519491231002X\"}\n"
        "{\"department\":\"gongan\",\"source_key\":\n"
        "[1,2]\n"
        "{\"source_key\":\"b\"}\n"
        "{\"department\":\"gongan\",\"source_key\":\"c\",\"phone\":138}\n"
        "{\"department\":\"gongan\",\"source_key\":\"a\"}\n"
        "\n"
        "{\"department\":\"zongzhi\",\"source_key\":\"a\",\"name\":\"王建国\","
        "\"id_number\":\"110105491231002\",\"extra\":1,\"errors\":"
        "[\"legacy_id\"]}\n");
    const char *res[] = {GH_BINARY, "resolve", "--in", r, "--out", c, NULL};
    cr_assert_eq(gh_test_run(res, log, TIMEOUT_MS), 0, "%s",
                 gh_test_file_tail(log, 2000));
    char *report = slurp(log);
    const char *want[] = {":2: not JSON", ":3: not a JSON object",
                          ":4: department and source_key are required",
                          ":5: \"phone\" is neither a string nor null",
                          ":6: duplicate department/source_key gongan/a"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert(strstr(report, want[i]), "no \"%s\" in:\n%s", want[i],
                  report);
    cr_assert(strstr(report, "5 malformed lines skipped"), "%s", report);
    char *out = slurp(c);
    cr_assert_str_eq(out, "{\"department\":\"gongan\",\"source_key\":\"a\","
                          "\"person_id\":\"R000000001\"}\n"
                          "{\"department\":\"zongzhi\",\"source_key\":\"a\","
                          "\"person_id\":\"R000000001\"}\n");
    free(out);
    free(report);

    /* Required properties and unreadable input are errors. */
    const char *no_in[] = {GH_BINARY, "resolve", "--out", c, NULL};
    cr_assert_eq(gh_test_run(no_in, log, TIMEOUT_MS), 2);
    const char *missing[] = {GH_BINARY, "resolve", "--in", "/nonexistent/r",
                             "--out",   c,         NULL};
    cr_assert_eq(gh_test_run(missing, log, TIMEOUT_MS), 1);
    gh_test_rmtree(dir);
    free(dir);
    free(r);
    free(c);
    free(log);
}

/* Half the ID numbers removed (ops/gen/half-ids.properties): the share
 * decided by ID falls to about a quarter (both copies must keep theirs),
 * the other fields carry the rest, and the targets of issue 14 hold. */
Test(resolve, half_ids_profile, .timeout = 300) {
    char *dir = gh_test_tmpdir();
    char *r = path_in(dir, "r.jsonl"), *t = path_in(dir, "t.jsonl"),
         *c = path_in(dir, "c.jsonl"), *log = path_in(dir, "log");
    char *profile =
        gh_xasprintf("%s/ops/gen/half-ids.properties", GH_SOURCE_DIR);
    const char *gen[] = {GH_BINARY,
                         "gen",
                         "-c",
                         profile,
                         "--preset",
                         "demo",
                         "--scale",
                         "0.05",
                         "--seed",
                         "3",
                         "--records-only",
                         "true",
                         "--records-file",
                         r,
                         "--truth-file",
                         t,
                         NULL};
    cr_assert_eq(gh_test_run(gen, log, TIMEOUT_MS), 0, "%s",
                 gh_test_file_tail(log, 2000));
    const char *res[] = {GH_BINARY, "resolve", "--in", r,   "--out",
                         c,         "--truth", t,      NULL};
    cr_assert_eq(gh_test_run(res, log, TIMEOUT_MS), 0, "%s",
                 gh_test_file_tail(log, 4000));
    char *report = slurp(log);
    double by_id = id_share(report);
    cr_assert(by_id > 0.15 && by_id < 0.40, "%s", report);
    cr_assert_geq(number_after(report, "pairwise precision "), 0.999, "%s",
                  report);
    cr_assert_geq(number_after(report, "F1 "), 0.98, "%s", report);
    /* id_missing in the per-kind table, none of its pairs by ID. */
    const char *k = strstr(report, "  id_missing ");
    cr_assert_not_null(k, "%s", report);
    double v[5];
    cr_assert_eq(sscanf(k, " id_missing %lf %lf %lf %lf %lf", &v[0], &v[1],
                        &v[2], &v[3], &v[4]),
                 5, "%s", k);
    cr_assert_eq(v[4], 0, "%s", k);
    free(report);
    gh_test_rmtree(dir);
    free(dir);
    free(profile);
    free(r);
    free(t);
    free(c);
    free(log);
}

/* Runs gen with the given profiles (NULL-terminated) at demo scale 0.5,
 * then resolve with the truth; returns the report (caller frees). */
static char *gen_resolve(const char *dir, const char *const *profiles,
                         const char *seed) {
    char *r = path_in(dir, "r.jsonl"), *t = path_in(dir, "t.jsonl"),
         *c = path_in(dir, "c.jsonl"), *log = path_in(dir, "log");
    const char *gen[32] = {GH_BINARY, "gen"};
    int n = 2;
    char *paths[8] = {0};
    for (int i = 0; profiles[i] && i < 8; i++) {
        paths[i] = gh_xasprintf("%s/ops/gen/%s", GH_SOURCE_DIR, profiles[i]);
        gen[n++] = "-c";
        gen[n++] = paths[i];
    }
    const char *rest[] = {"--preset",
                          "demo",
                          "--scale",
                          "0.5",
                          "--seed",
                          seed,
                          "--records-only",
                          "true",
                          "--records-file",
                          r,
                          "--truth-file",
                          t,
                          NULL};
    for (int i = 0; rest[i]; i++)
        gen[n++] = rest[i];
    gen[n] = NULL;
    cr_assert_eq(gh_test_run(gen, log, TIMEOUT_MS * 3), 0, "%s",
                 gh_test_file_tail(log, 2000));
    const char *res[] = {GH_BINARY, "resolve", "--in", r,   "--out",
                         c,         "--truth", t,      NULL};
    cr_assert_eq(gh_test_run(res, log, TIMEOUT_MS * 3), 0, "%s",
                 gh_test_file_tail(log, 4000));
    char *report = slurp(log);
    for (int i = 0; i < 8; i++)
        free(paths[i]);
    free(r);
    free(t);
    free(c);
    free(log);
    return report;
}

/* Every error kind real registers have (ops/gen/real-errors.properties),
 * at a seed the docs do not quote: issue 14's targets with a margin for
 * the smaller set (docs/identity.md has the full-scale figures). */
Test(resolve, real_errors_profile_meets_targets, .timeout = 900) {
    char *dir = gh_test_tmpdir();
    const char *const real[] = {"real-errors.properties", NULL};
    char *report = gen_resolve(dir, real, "2");
    cr_assert_geq(number_after(report, "pairwise precision "), 0.999, "%s",
                  report);
    cr_assert_geq(number_after(report, "F1 "), 0.995, "%s", report);
    /* Per kind: recall from the table; the kinds the matcher did not
     * handle before issue 14 must be there. */
    static const char *const must[] = {
        "fuzzy_pinyin",  "name_char_dropped", "birth_year_off",
        "birth_digit",   "birth_placeholder", "sex_wrong",
        "phone_old",     "phone_digit",       "id_digit",
        "id_transposed", "foreign_id",        "two_ids"};
    for (size_t i = 0; i < sizeof(must) / sizeof(*must); i++) {
        char *label = gh_xasprintf("\n  %s ", must[i]);
        const char *row = strstr(report, label);
        cr_assert_not_null(row, "no %s row:\n%s", must[i], report);
        double recs, pairs, recall;
        cr_assert_eq(
            sscanf(row + strlen(label), "%lf %lf %lf", &recs, &pairs, &recall),
            3, "%s", row);
        cr_assert_gt(pairs, 0, "%s", row);
        /* two_ids is measured by the steward queue below. */
        double want = !strcmp(must[i], "two_ids") ? 0 : 0.95;
        cr_assert_geq(recall, want, "%s:\n%s", must[i], report);
        free(label);
    }
    double split = 0, told = 0;
    const char *p = strstr(report, "with a second number (two_ids): ");
    cr_assert_not_null(p, "%s", report);
    cr_assert_eq(
        sscanf(p, "with a second number (two_ids): %lf, %lf", &split, &told), 2,
        "%s", p);
    cr_assert(split > 50 && told >= 0.95 * split,
              "residents with two numbers told to the steward: %s", p);
    p = strstr(report, "foreign ID numbers: ");
    double labelled = 0, flagged = 0;
    cr_assert_eq(sscanf(p, "foreign ID numbers: %lf records labelled, %lf",
                        &labelled, &flagged),
                 2, "%s", p);
    cr_assert(labelled > 50 && flagged >= 0.9 * labelled, "%s", p);
    free(report);

    /* Half the numbers removed on top: the other fields carry it. */
    const char *const half[] = {"real-errors.properties", "half-ids.properties",
                                NULL};
    report = gen_resolve(dir, half, "2");
    cr_assert_geq(number_after(report, "pairwise precision "), 0.999, "%s",
                  report);
    cr_assert_geq(number_after(report, "F1 "), 0.98, "%s", report);
    free(report);
    gh_test_rmtree(dir);
    free(dir);
}
