/*
 * Unit tests for the generator's source records (records.file, records.only;
 * hub/gen/output/truth.c, errors/errors.c, driver/gen.c): `gridhub gen` run
 * in-process on the demo preset at scale 0.05 with records.only=true, into a
 * temporary directory.
 *
 * - records.file has one line per truth.file line, same department and
 *   source_key in the same (bytewise sorted) order; every line is JSON with
 *   the resolve input keys and an `errors` array of known kinds;
 * - each error kind listed shows in the values (legacy_id: 15 digits once
 *   cleaned, upgrading to the true ID; missing_phone: no phone; fullwidth:
 *   non-ASCII in ID or phone; ...), and values without an error listed are
 *   the truth's (ID normalizing to true_id, birth date and sex of true_id);
 * - the same seed gives byte-identical files, another seed others;
 * - records.only refuses live mode and having nothing to write;
 * - gh_gen_type_person's masks: nothing without errors, exactly the kind
 *   drawn when it shows.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "gen.h"
#include "gridhub/idnum.h"
#include "gridhub/util.h"

typedef struct run {
    char dir[64];
    char *truth, *records;
} run_t;

/* gridhub gen --preset demo --scale 0.05 --seed <seed> --records-only true
 * into a new temporary directory; extra: NULL-terminated key, value pairs.
 * Returns the generator's result. */
static gh_err_t gen(run_t *r, const char *seed, const char *const *extra,
                    char *err, size_t err_size) {
    snprintf(r->dir, sizeof(r->dir), "/tmp/gh_gen_records_XXXXXX");
    cr_assert_not_null(mkdtemp(r->dir));
    r->truth = gh_xasprintf("%s/truth.jsonl", r->dir);
    r->records = gh_xasprintf("%s/records.jsonl", r->dir);
    gh_conf_t *conf = gh_conf_new("gen", gh_gen_props);
    const char *kv[] = {
        "preset",       "demo",       "scale",     "0.05",         "seed",
        seed,           "truth.file", r->truth,    "records.file", r->records,
        "records.only", "true",       "log.level", "warn",         NULL};
    for (int i = 0; kv[i]; i += 2)
        cr_assert_eq(gh_conf_set(conf, NULL, kv[i], kv[i + 1], err, err_size),
                     GH_OK, "%s: %s", kv[i], err);
    for (int i = 0; extra && extra[i]; i += 2)
        cr_assert_eq(
            gh_conf_set(conf, NULL, extra[i], extra[i + 1], err, err_size),
            GH_OK, "%s: %s", extra[i], err);
    gh_err_t e = gh_gen_run(conf, err, err_size);
    gh_conf_destroy(conf);
    return e;
}

static void run_free(run_t *r) {
    remove(r->truth);
    remove(r->records);
    rmdir(r->dir);
    free(r->truth);
    free(r->records);
}

/* Splits a file into its lines (in place); returns the count. */
static size_t lines_of(char *data, char ***out) {
    size_t n = 0, cap = 1024;
    char **v = malloc(cap * sizeof(char *));
    for (char *p = data; *p;) {
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "last line without a newline");
        *nl = '\0';
        if (n == cap) v = realloc(v, (cap *= 2) * sizeof(char *));
        v[n++] = p;
        p = nl + 1;
    }
    *out = v;
    return n;
}

static const char *str_or_null(json_t *o, const char *key, const char *line) {
    json_t *v = json_object_get(o, key);
    cr_assert_not_null(v, "no \"%s\" in %s", key, line);
    cr_assert(json_is_string(v) || json_is_null(v),
              "\"%s\" neither a string nor null in %s", key, line);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int has_non_ascii(const char *s) {
    for (; s && *s; s++)
        if ((unsigned char)*s >= 0x80) return 1;
    return 0;
}

static int kind_of(const char *name) {
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++)
        if (!strcmp(name, gh_gen_err_name(k))) return k;
    return -1;
}

/* Digits of an ID once spaces and full width are gone. */
static size_t clean_len(const char *id) {
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)id; *s;) {
        if (*s == ' ') {
            s++;
        } else if (*s >= 0x80) {
            s += *s >= 0xF0 ? 4 : *s >= 0xE0 ? 3 : 2;
            n++;
        } else {
            s++;
            n++;
        }
    }
    return n;
}

/* Checks one records line against its truth line; counts its errors. */
static void check_record(const char *rline, const char *tline, long *kinds) {
    json_error_t je;
    json_t *r = json_loads(rline, 0, &je), *t = json_loads(tline, 0, &je);
    cr_assert_not_null(r, "not JSON: %s (%s)", rline, je.text);
    cr_assert_not_null(t, "not JSON: %s", tline);
    const char *dept = str_or_null(r, "department", rline);
    const char *key = str_or_null(r, "source_key", rline);
    cr_assert(dept && key, "%s", rline);
    cr_assert_str_eq(dept, json_string_value(json_object_get(t, "department")));
    cr_assert_str_eq(key, json_string_value(json_object_get(t, "source_key")));
    const char *true_id = json_string_value(json_object_get(t, "true_id"));
    const char *name = str_or_null(r, "name", rline);
    const char *id = str_or_null(r, "id_number", rline);
    const char *sex = str_or_null(r, "sex", rline);
    const char *birth = str_or_null(r, "birth_date", rline);
    const char *phone = str_or_null(r, "phone", rline);
    const char *addr = str_or_null(r, "address", rline);
    const char *hh = str_or_null(r, "household_key", rline);
    json_t *errs = json_object_get(r, "errors");
    cr_assert(json_is_array(errs), "no errors array in %s", rline);
    unsigned mask = 0;
    for (size_t i = 0; i < json_array_size(errs); i++) {
        json_t *v = json_array_get(errs, i);
        cr_assert(json_is_string(v), "%s", rline);
        int k = kind_of(json_string_value(v));
        cr_assert_geq(k, 0, "unknown error \"%s\" in %s", json_string_value(v),
                      rline);
        cr_assert_eq(mask & GH_GEN_ERR_BIT(k), 0, "twice: %s", rline);
        mask |= GH_GEN_ERR_BIT(k);
        kinds[k]++;
    }
#define HAS(k) ((mask & GH_GEN_ERR_BIT(GH_GEN_ERR_##k)) != 0)
    cr_assert(name && *name, "%s", rline);
    /* Sex: always known, the true ID's. */
    int male = (true_id[16] - '0') % 2 == 1;
    cr_assert(sex && !strcmp(sex, male ? "MALE" : "FEMALE"), "%s", rline);
    /* Birth date: the true ID's unless swapped (or not recorded). */
    if (birth) {
        cr_assert_eq(strlen(birth), 10, "%s", rline);
        char want[11];
        snprintf(want, sizeof(want), "%.4s-%.2s-%.2s", true_id + 6,
                 true_id + 10, true_id + 12);
        if (HAS(SWAPPED_BIRTH)) {
            cr_assert(
                !memcmp(birth, want, 5) && !memcmp(birth + 5, want + 8, 2) &&
                    !memcmp(birth + 8, want + 5, 2) && strcmp(birth, want),
                "swapped_birth but %s (true %s): %s", birth, want, rline);
        } else {
            cr_assert_str_eq(birth, want, "%s", rline);
        }
    } else {
        cr_assert(!HAS(SWAPPED_BIRTH), "%s", rline);
        cr_assert_str_eq(dept, "jisheng", "no birth date: %s", rline);
    }
    /* ID number: as typed, the truth once cleaned unless it has an error
     * that changes it. */
    if (id) {
        char norm[19];
        gh_idnum_status_t st = gh_idnum_normalize(id, norm, NULL);
        if (HAS(LEGACY_ID)) {
            cr_assert_eq(clean_len(id), 15, "legacy_id: %s", rline);
            cr_assert_eq(st, GH_IDNUM_UPGRADED, "%s", rline);
            cr_assert_str_eq(norm, true_id, "%s", rline);
            cr_assert(!HAS(BAD_CHECK), "%s", rline);
        } else if (HAS(BAD_CHECK)) {
            cr_assert_eq(st, GH_IDNUM_BAD_CHECK, "%s", rline);
            cr_assert(!memcmp(norm, true_id, 17), "%s", rline);
        } else {
            cr_assert_eq(st, GH_IDNUM_OK, "%s", rline);
            cr_assert_str_eq(norm, true_id, "%s", rline);
            cr_assert_eq(clean_len(id), 18, "%s", rline);
        }
    } else {
        cr_assert(!HAS(LEGACY_ID) && !HAS(BAD_CHECK), "%s", rline);
        cr_assert_str_eq(dept, "jisheng", "no ID number: %s", rline);
    }
    int wide = has_non_ascii(id) || has_non_ascii(phone);
    cr_assert_eq(HAS(FULLWIDTH), wide, "fullwidth vs values: %s", rline);
    /* A stray space shows in the name, the ID or the phone (after 创文's
     * "+86 " prefix). */
    const char *body = phone;
    if (body && !strncmp(body, "+86 ", 4)) body += 4;
    if (body && !strncmp(body, "＋８６ ", strlen("＋８６ ")))
        body += strlen("＋８６ ");
    int spaced = (id && strchr(id, ' ')) || strchr(name, ' ') ||
                 (body && strchr(body, ' '));
    cr_assert_eq(HAS(SPACE), spaced, "space vs values: %s", rline);
    if (HAS(MISSING_PHONE)) cr_assert_null(phone, "%s", rline);
    if (body && !wide) cr_assert_eq(body[0], '1', "%s", rline);
    /* Addresses where the person mapping has one; a former one only
     * there. */
    int has_addr = !strcmp(dept, "zongzhi") || !strcmp(dept, "gongan") ||
                   !strcmp(dept, "zuzhi");
    cr_assert_eq(addr != NULL, has_addr, "address: %s", rline);
    if (HAS(OUTDATED_ADDRESS))
        cr_assert(has_addr && strncmp(key, "ldrk/", 5), "%s", rline);
    /* Household keys: 公安 户号 of hukou rows, 计生 家庭编号. */
    int has_hh = !strncmp(key, "hjrk/", 5) || !strcmp(dept, "jisheng");
    cr_assert_eq(hh != NULL, has_hh, "household_key: %s", rline);
    if (has_hh && !strcmp(dept, "jisheng"))
        cr_assert(!strncmp(key, hh, strlen(hh)),
                  "a member's key starts with the family's: %s", rline);
#undef HAS
    json_decref(r);
    json_decref(t);
}

Test(gen_records, records_match_truth_line_by_line, .timeout = 120) {
    char err[1024];
    run_t r;
    cr_assert_eq(gen(&r, "3", NULL, err, sizeof(err)), GH_OK, "%s", err);
    char *td = gh_read_file(r.truth, NULL), *rd = gh_read_file(r.records, NULL);
    cr_assert(td && rd);
    char **tl, **rl;
    size_t nt = lines_of(td, &tl), nr = lines_of(rd, &rl);
    cr_assert_gt(nt, 3000);
    cr_assert_eq(nr, nt, "%zu records, %zu truth lines", nr, nt);
    long kinds[GH_GEN_ERR__COUNT] = {0};
    int depts = 0;
    for (size_t i = 0; i < nt; i++) {
        if (i) {
            cr_assert_lt(strcmp(tl[i - 1], tl[i]), 0, "truth not sorted");
            cr_assert_lt(strcmp(rl[i - 1], rl[i]), 0, "records not sorted");
            depts += strncmp(rl[i - 1], rl[i], 24) != 0;
        }
        check_record(rl[i], tl[i], kinds);
    }
    cr_assert_eq(depts, 4, "all five departments, one after the other");
    /* Issue 14's kinds are off by default. */
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++)
        if (k < GH_GEN_ERR_FIRST_REAL)
            cr_assert_gt(kinds[k], 0, "no record shows %s", gh_gen_err_name(k));
        else
            cr_assert_eq(kinds[k], 0, "%s is on by default",
                         gh_gen_err_name(k));
    free(tl);
    free(rl);
    free(td);
    free(rd);
    run_free(&r);
}

Test(gen_records, same_seed_same_files, .timeout = 120) {
    char err[1024];
    run_t a, b, c;
    cr_assert_eq(gen(&a, "5", NULL, err, sizeof(err)), GH_OK, "%s", err);
    cr_assert_eq(gen(&b, "5", NULL, err, sizeof(err)), GH_OK, "%s", err);
    cr_assert_eq(gen(&c, "6", NULL, err, sizeof(err)), GH_OK, "%s", err);
    size_t la, lb, lc;
    char *ra = gh_read_file(a.records, &la), *rb = gh_read_file(b.records, &lb),
         *rc = gh_read_file(c.records, &lc);
    cr_assert(la == lb && !memcmp(ra, rb, la), "records differ for one seed");
    cr_assert(la != lc || memcmp(ra, rc, la), "records same for two seeds");
    free(ra);
    free(rb);
    free(rc);
    ra = gh_read_file(a.truth, &la);
    rb = gh_read_file(b.truth, &lb);
    cr_assert(la == lb && !memcmp(ra, rb, la), "truth differs for one seed");
    free(ra);
    free(rb);
    /* No part file is left behind. */
    char *part = gh_xasprintf("%s.part0", a.records);
    cr_assert_neq(access(part, F_OK), 0);
    free(part);
    run_free(&a);
    run_free(&b);
    run_free(&c);
}

Test(gen_records, records_only_refuses_live_mode_and_nothing_to_do) {
    char err[1024];
    run_t r;
    const char *live[] = {"live.rate", "10", NULL};
    cr_assert_eq(gen(&r, "1", live, err, sizeof(err)), GH_ERR_CONFIG);
    cr_assert(strstr(err, "records.only") && strstr(err, "live.rate"), "%s",
              err);
    cr_assert_neq(access(r.records, F_OK), 0);
    run_free(&r);

    gh_conf_t *conf = gh_conf_new("gen", gh_gen_props);
    cr_assert_eq(
        gh_conf_set(conf, NULL, "records.only", "true", err, sizeof(err)),
        GH_OK);
    cr_assert_eq(gh_gen_run(conf, err, sizeof(err)), GH_ERR_CONFIG);
    cr_assert(strstr(err, "nothing to do") && strstr(err, "records.file"), "%s",
              err);
    gh_conf_destroy(conf);
}

/* The masks of gh_gen_type_person: with no error nothing; with one kind at
 * rate 1, that kind wherever it can show (issue 14's kinds: also
 * test_gen_errors_real.c). */
Test(gen_records, typed_masks_say_what_shows) {
    gh_gen_city_t *c = gh_gen_city_new(GH_GEN_PRESET_DEMO, 11, 0.05);
    for (uint32_t g = 0; g < c->n_grids; g++)
        gh_gen_city_grid(c, g);
    for (int k = -1; k < GH_GEN_ERR__COUNT; k++) {
        gh_gen_errors_t e;
        memset(&e, 0, sizeof(e));
        if (k >= 0) e.rate[k] = 1;
        e.city = c;
        gh_gen_rng_t r;
        gh_gen_rng_init(&r, 3, GH_GEN_STREAM_TEST, (uint64_t)(k + 1));
        long shown = 0;
        for (uint32_t i = 0; i < c->n_persons; i++) {
            const gh_gen_person_t *p = &c->persons[i];
            gh_gen_typed_t ty;
            gh_gen_type_person(&e, &r, GH_GEN_ZONGZHI, p, &ty);
            unsigned bit = k >= 0 ? GH_GEN_ERR_BIT(k) : 0;
            cr_assert_eq(ty.errors & ~bit, 0, "kind %d: mask %x", k, ty.errors);
            cr_assert_eq(ty.errors,
                         ty.err_name | ty.err_id | ty.err_phone | ty.err_birth |
                             ty.err_sex |
                             (ty.outdated
                                  ? GH_GEN_ERR_BIT(GH_GEN_ERR_OUTDATED_ADDRESS)
                                  : 0));
            shown += (ty.errors & bit) != 0;
            int y = 1970 + p->birth / 365; /* about */
            switch (k) {
            case GH_GEN_ERR_LEGACY_ID:
                if (y > 1902 && y < 1998)
                    cr_assert(ty.err_id & bit, "born %d, id %s", y, ty.id);
                break;
            case GH_GEN_ERR_BAD_CHECK:
                cr_assert(ty.err_id & bit); /* no legacy ID to hide it */
                cr_assert_eq(ty.err_phone, 0);
                break;
            case GH_GEN_ERR_FULLWIDTH:
                cr_assert(ty.err_id & bit);
                cr_assert_eq((ty.err_phone & bit) != 0, p->phone != 0);
                break;
            case GH_GEN_ERR_MISSING_PHONE:
                cr_assert_eq(ty.err_phone != 0, p->phone != 0);
                cr_assert_str_eq(ty.phone, "");
                break;
            case GH_GEN_ERR_OUTDATED_ADDRESS:
                cr_assert(ty.outdated && (ty.errors & bit));
                break;
            case -1:
                cr_assert(!ty.outdated);
                break;
            }
        }
        if (k >= 0)
            cr_assert_gt(shown, 0, "%s never shows", gh_gen_err_name(k));
        else
            cr_assert_eq(shown, 0);
    }
    gh_gen_city_destroy(c);
}
