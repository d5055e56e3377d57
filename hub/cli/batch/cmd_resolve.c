/*
 * `gridhub resolve`: batch identity resolution of department records (JSON
 * lines) into persons, with an accuracy report against a ground truth.
 * The engine is gridhub/match.h; this file reads, writes and reports.
 */
#include <errno.h>
#include <pthread.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "gridhub/log.h"
#include "gridhub/match.h"
#include "gridhub/norm.h"
#include "gridhub/util.h"

/* Malformed lines reported one by one; after that only counted. */
#define MAX_REPORTED 100
#define IO_BUF (1 << 20)

static const gh_conf_prop_t props[] = {
    {"in", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "Input records, one JSON object a line: department, source_key, name, "
     "id_number, sex, birth_date (YYYY-MM-DD), phone, address, household_key "
     "(null or absent when unknown), optionally errors (error kinds, for the "
     "report only). `gridhub gen --records-file` writes them."},
    {"out", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "Output: one JSON line per input record, {department, source_key, "
     "person_id}, in input order; person ids R000000001... numbered by each "
     "person's first record."},
    {"truth", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Ground truth ({department, source_key, true_id} lines, `gridhub gen "
     "--truth-file`): prints pairwise precision, recall and F1, overall and "
     "per error kind."},
    {"misses", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "With truth: writes every pair of one true person's records that ended "
     "in two persons, one JSON line each ({a, b, errors_a, errors_b, "
     "decision, total, levels}), to see what the matcher missed and why."},
    {"model.out", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Writes the trained model as match.pin.* properties, to pin it in a "
     "later run or in the hub (-c FILE)."},
    {"em", GH_CONF_BOOL, "true", 0, 0, 0, NULL, NULL,
     "Train m, u and lambda on the input by EM before resolving; false "
     "resolves with the built-in priors and the pins."},
    GH_MATCH_CONF_PROPS,
    GH_CONF_LOG_PROPS,
    GH_CONF_END};

/* ---- (department, source_key) -> record --------------------------------- */

typedef struct keymap {
    uint32_t *idx; /* UINT32_MAX = empty */
    uint32_t *tag; /* 32 hash bits, which also pick the slot: most probes
                      skip the string compare, and growing rehashes none */
    size_t cap, count;
} keymap_t;

static uint64_t key_hash(const char *dept, const char *key) {
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)dept; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static void keymap_grow(keymap_t *m) {
    size_t ncap = m->cap ? 2 * m->cap : 1 << 16;
    uint32_t *n = gh_xmalloc(ncap * sizeof(*n));
    uint32_t *tag = gh_xmalloc(ncap * sizeof(*tag));
    memset(n, 0xff, ncap * sizeof(*n));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->idx[i] == UINT32_MAX) continue;
        size_t k = m->tag[i] & (ncap - 1); /* the tag also picks slots */
        while (n[k] != UINT32_MAX)
            k = (k + 1) & (ncap - 1);
        n[k] = m->idx[i];
        tag[k] = m->tag[i];
    }
    free(m->idx);
    free(m->tag);
    m->idx = n;
    m->tag = tag;
    m->cap = ncap;
}

/* The slot of (dept, key): holding its record, or empty (then *tag_out is
 * the tag to store with it). */
static uint32_t *keymap_slot(keymap_t *m, const gh_match_set_t *set,
                             const char *dept, const char *key,
                             uint32_t *tag_out) {
    uint32_t tag = (uint32_t)(key_hash(dept, key) >> 32);
    size_t j = tag & (m->cap - 1);
    while (m->idx[j] != UINT32_MAX) {
        if (m->tag[j] == tag) {
            const gh_match_rec_t *r = gh_match_set_get(set, m->idx[j]);
            if (!strcmp(r->source_key, key) && !strcmp(r->department, dept))
                return &m->idx[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    if (tag_out) *tag_out = tag;
    return &m->idx[j];
}

/* ---- reading ------------------------------------------------------------ */

typedef struct input {
    gh_match_set_t *set;
    keymap_t keys;
    uint32_t *kinds; /* error-kind bitmask per record */
    size_t cap_kinds;
    char *kind_names[GH_MATCH_EVAL_KINDS];
    int nkinds;
    size_t lines, bad;
} input_t;

static void bad_line(input_t *in, const char *path, size_t line,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void bad_line(input_t *in, const char *path, size_t line,
                     const char *fmt, ...) {
    in->bad++;
    if (in->bad <= MAX_REPORTED) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        fprintf(stderr, "gridhub resolve: %s:%zu: %s; line skipped\n", path,
                line, msg);
    }
    if (in->bad == MAX_REPORTED)
        fprintf(stderr, "gridhub resolve: further malformed lines are only "
                        "counted\n");
}

/* The bit of a kind the input named, or -1. */
static int find_kind(const input_t *in, const char *name) {
    for (int i = 0; i < in->nkinds; i++)
        if (!strcmp(in->kind_names[i], name)) return i;
    return -1;
}

static int kind_index(input_t *in, const char *name) {
    for (int i = 0; i < in->nkinds; i++)
        if (!strcmp(in->kind_names[i], name)) return i;
    if (in->nkinds == GH_MATCH_EVAL_KINDS) return -1;
    in->kind_names[in->nkinds] = gh_xstrdup(name);
    return in->nkinds++;
}

/* A known field: NULL when absent or null; sets *bad for anything else
 * than a string. */
static const char *str_field(json_t *o, const char *key, int *bad) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

/* One input line, parsed and normalized (on a worker thread), waiting to
 * be added in input order. */
typedef struct parsed {
    char msg[200]; /* non-empty: malformed, the reason */
    gh_match_rec_t rec;
    char norm[GH_MATCH_NORM_BUF];
    char *mem;          /* department, source_key, household_key, errors */
    const char *errors; /* error kind names, each NUL-terminated, then "" */
} parsed_t;

static void parse_line(const char *line, size_t len, parsed_t *p) {
    p->msg[0] = '\0';
    p->mem = NULL;
    json_error_t jerr;
    json_t *o = json_loadb(line, len, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!o) {
        /* jansson quotes the text "near" the error: personal data, which
         * must not reach a log. */
        char *near = strstr(jerr.text, " near ");
        if (near) *near = '\0';
        snprintf(p->msg, sizeof(p->msg), "not JSON (column %d): %s",
                 jerr.column, jerr.text);
        return;
    }
    static const char *const fields[] = {
        "department", "source_key", "name",    "id_number",    "sex",
        "birth_date", "phone",      "address", "household_key"};
    const char *v[9] = {NULL};
    json_t *errs = NULL;
    if (!json_is_object(o)) {
        snprintf(p->msg, sizeof(p->msg), "not a JSON object");
        goto out;
    }
    for (int i = 0; i < 9; i++) {
        int bad = 0;
        v[i] = str_field(o, fields[i], &bad);
        if (bad) {
            snprintf(p->msg, sizeof(p->msg),
                     "\"%s\" is neither a string nor null", fields[i]);
            goto out;
        }
    }
    if (!v[0] || !*v[0] || !v[1] || !*v[1]) {
        snprintf(p->msg, sizeof(p->msg),
                 "department and source_key are required");
        goto out;
    }
    errs = json_object_get(o, "errors");
    if (errs && !json_is_null(errs) && !json_is_array(errs)) {
        snprintf(p->msg, sizeof(p->msg), "\"errors\" is not an array");
        goto out;
    }
    gh_match_raw_t raw = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]};
    gh_match_normalize(&raw, &p->rec, p->norm);
    /* The borrowed strings outlive the JSON tree in one block. */
    size_t n = strlen(v[0]) + strlen(v[1]) + (v[8] ? strlen(v[8]) : 0) + 4;
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e) {
        if (json_is_string(e)) n += strlen(json_string_value(e)) + 1;
    }
    char *m = p->mem = gh_xmalloc(n);
    p->rec.department = m;
    m = stpcpy(m, v[0]) + 1;
    p->rec.source_key = m;
    m = stpcpy(m, v[1]) + 1;
    p->rec.household_key = v[8] ? m : NULL;
    if (v[8]) m = stpcpy(m, v[8]) + 1;
    p->errors = m;
    json_array_foreach(errs, i, e) {
        if (json_is_string(e)) m = stpcpy(m, json_string_value(e)) + 1;
    }
    *m = '\0';
out:
    json_decref(o);
}

typedef struct parse_job {
    char **lines;
    size_t *lens;
    parsed_t *out;
    size_t lo, hi;
} parse_job_t;

static void *parse_worker(void *arg) {
    parse_job_t *j = arg;
    for (size_t i = j->lo; i < j->hi; i++)
        if (j->lens[i]) parse_line(j->lines[i], j->lens[i], &j->out[i]);
    return NULL;
}

/* Adds one parsed line, in input order: reports it if malformed or a
 * duplicate. */
static void add_parsed(input_t *in, const char *path, size_t lineno,
                       parsed_t *p) {
    if (p->msg[0]) {
        bad_line(in, path, lineno, "%s", p->msg);
        return;
    }
    const gh_match_rec_t *r = &p->rec;
    if (2 * (in->keys.count + 1) > in->keys.cap) keymap_grow(&in->keys);
    uint32_t tag;
    uint32_t *slot =
        keymap_slot(&in->keys, in->set, r->department, r->source_key, &tag);
    if (*slot != UINT32_MAX) {
        bad_line(in, path, lineno,
                 "duplicate department/source_key %.60s/%.80s", r->department,
                 r->source_key);
        free(p->mem);
        return;
    }
    uint32_t kinds = 0;
    for (const char *e = p->errors; *e; e += strlen(e) + 1) {
        int k = kind_index(in, e);
        if (k >= 0) kinds |= 1u << k;
    }
    size_t idx = gh_match_set_add(in->set, r);
    free(p->mem);
    *slot = (uint32_t)idx;
    in->keys.tag[slot - in->keys.idx] = tag;
    in->keys.count++;
    if (idx >= in->cap_kinds) {
        in->cap_kinds = in->cap_kinds ? 2 * in->cap_kinds : 1 << 16;
        in->kinds = gh_xrealloc(in->kinds, in->cap_kinds * sizeof(*in->kinds));
    }
    in->kinds[idx] = kinds;
}

/* Lines are read in batches; JSON parsing and normalization, most of the
 * reading time, run on two threads (the lines of a batch split in two),
 * then the batch is added in order on this thread. */
#define BATCH 8192

static gh_err_t read_input(input_t *in, const char *path, char *errstr,
                           size_t errstr_size) {
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot open %s: %s",
                         path, strerror(errno));
    char *buf = gh_xmalloc(IO_BUF);
    setvbuf(f, buf, _IOFBF, IO_BUF);
    char **lines = gh_xcalloc(BATCH, sizeof(*lines));
    size_t *caps = gh_xcalloc(BATCH, sizeof(*caps));
    size_t *lens = gh_xcalloc(BATCH, sizeof(*lens));
    parsed_t *parsed = gh_xmalloc(BATCH * sizeof(*parsed));
    int eof = 0;
    while (!eof) {
        size_t nb = 0;
        while (nb < BATCH) {
            ssize_t len = getline(&lines[nb], &caps[nb], f);
            if (len < 0 || in->lines >= UINT32_MAX - 1) {
                eof = 1;
                break;
            }
            while (len &&
                   (lines[nb][len - 1] == '\n' || lines[nb][len - 1] == '\r'))
                lines[nb][--len] = '\0';
            lens[nb++] = (size_t)len;
            in->lines++;
        }
        parse_job_t jobs[2] = {{lines, lens, parsed, 0, nb / 2},
                               {lines, lens, parsed, nb / 2, nb}};
        pthread_t th;
        int threaded = !pthread_create(&th, NULL, parse_worker, &jobs[1]);
        parse_worker(&jobs[0]);
        if (threaded)
            pthread_join(th, NULL);
        else
            parse_worker(&jobs[1]);
        size_t first = in->lines - nb + 1;
        for (size_t i = 0; i < nb; i++)
            if (lens[i]) add_parsed(in, path, first + i, &parsed[i]);
    }
    int failed = ferror(f);
    for (size_t i = 0; i < BATCH; i++)
        free(lines[i]);
    free(lines);
    free(caps);
    free(lens);
    free(parsed);
    if (f != stdin) fclose(f);
    free(buf);
    if (failed)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "reading %s failed",
                         path);
    return GH_OK;
}

/* ---- truth -------------------------------------------------------------- */

/* true_id -> person label, by 64-bit hash of the ID (a collision among a
 * city's millions of IDs has odds of about 1e-6 and would only merge two
 * true persons in the report). */
typedef struct idmap {
    uint64_t *h;
    uint32_t *label;
    size_t cap, count;
} idmap_t;

static uint32_t idmap_label(idmap_t *m, const char *id) {
    if (2 * (m->count + 1) > m->cap) {
        size_t ncap = m->cap ? 2 * m->cap : 1 << 16;
        uint64_t *nh = gh_xcalloc(ncap, sizeof(*nh));
        uint32_t *nl = gh_xmalloc(ncap * sizeof(*nl));
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->h[i]) continue;
            size_t j = m->h[i] & (ncap - 1);
            while (nh[j])
                j = (j + 1) & (ncap - 1);
            nh[j] = m->h[i];
            nl[j] = m->label[i];
        }
        free(m->h);
        free(m->label);
        m->h = nh;
        m->label = nl;
        m->cap = ncap;
    }
    uint64_t h = key_hash("", id) | 1;
    h ^= h >> 31;
    h |= 1;
    size_t j = h & (m->cap - 1);
    while (m->h[j]) {
        if (m->h[j] == h) return m->label[j];
        j = (j + 1) & (m->cap - 1);
    }
    m->h[j] = h;
    m->label[j] = (uint32_t)m->count;
    return (uint32_t)m->count++;
}

static gh_err_t read_truth(input_t *in, const char *path, uint32_t *truth,
                           size_t *unmatched, char *errstr,
                           size_t errstr_size) {
    FILE *f = fopen(path, "r");
    if (!f)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot open %s: %s",
                         path, strerror(errno));
    idmap_t ids = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0, bad = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        json_error_t jerr;
        json_t *o =
            json_loadb(line, (size_t)len, JSON_DISABLE_EOF_CHECK, &jerr);
        int b = 0;
        const char *d = o ? str_field(o, "department", &b) : NULL;
        const char *k = o ? str_field(o, "source_key", &b) : NULL;
        const char *t = o ? str_field(o, "true_id", &b) : NULL;
        if (!d || !k || !t || b) {
            if (++bad <= 10)
                fprintf(stderr,
                        "gridhub resolve: %s:%zu: not a truth line "
                        "{department, source_key, true_id}; ignored\n",
                        path, lineno);
        } else if (in->keys.cap) {
            uint32_t *slot = keymap_slot(&in->keys, in->set, d, k, NULL);
            if (*slot != UINT32_MAX)
                truth[*slot] = idmap_label(&ids, t);
            else
                (*unmatched)++;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    free(ids.h);
    free(ids.label);
    return GH_OK;
}

/* ---- writing ------------------------------------------------------------ */

static void put_json_str(FILE *f, const char *s) {
    putc('"', f);
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p != '"' && *p != '\\' && *p >= 0x20) continue;
        fwrite(run, 1, (size_t)((const char *)p - run), f);
        if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fprintf(f, "\\%c", *p);
        run = (const char *)p + 1;
    }
    fputs(run, f);
    putc('"', f);
}

static gh_err_t write_output(const gh_match_set_t *set, const uint32_t *person,
                             const char *path, char *errstr,
                             size_t errstr_size) {
    /* Person links are personal data: private to the user running this. */
    FILE *f = gh_fopen_private(path, 1);
    if (!f)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot create %s: %s",
                         path, strerror(errno));
    char *buf = gh_xmalloc(IO_BUF);
    setvbuf(f, buf, _IOFBF, IO_BUF);
    size_t n = gh_match_set_count(set);
    for (size_t i = 0; i < n; i++) {
        const gh_match_rec_t *r = gh_match_set_get(set, i);
        fputs("{\"department\":", f);
        put_json_str(f, r->department);
        fputs(",\"source_key\":", f);
        put_json_str(f, r->source_key);
        fprintf(f, ",\"person_id\":\"R%09u\"}\n", person[i] + 1);
    }
    int failed = ferror(f);
    failed |= fclose(f) != 0;
    free(buf);
    if (failed)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "writing %s failed: %s", path, strerror(errno));
    return GH_OK;
}

/* ---- report ------------------------------------------------------------- */

static void report_accuracy(const input_t *in, const gh_match_eval_t *ev,
                            size_t unmatched) {
    printf("accuracy: %zu records with truth", ev->records);
    if (unmatched) printf(" (%zu truth lines name no input record)", unmatched);
    printf("\n  pairwise precision %.5f  recall %.5f  F1 %.5f\n", ev->precision,
           ev->recall, ev->f1);
    printf("  pairs: %.0f true, %.0f predicted, %.0f correct; clusters: %zu "
           "true, %zu predicted\n",
           ev->true_pairs, ev->predicted_pairs, ev->correct_pairs,
           ev->true_clusters, ev->predicted_clusters);
    /* How much the other fields had to do: a found pair with one valid
     * number on both sides is linked by the ID rule alone. */
    printf("  decided by ID alone: %.0f of %.0f correct pairs (%.5f): both "
           "records carry the same valid ID number\n",
           ev->id_pairs, ev->correct_pairs,
           ev->correct_pairs > 0 ? ev->id_pairs / ev->correct_pairs : 0);
    if (!in->nkinds) return;
    printf("  %-18s %10s %12s %9s %12s %9s\n", "error kind", "records",
           "true pairs", "recall", "false pairs", "by ID");
    for (int k = 0; k < in->nkinds; k++) {
        double t = ev->kind[k].true_pairs, f = ev->kind[k].found_pairs;
        printf("  %-18s %10zu %12.0f %9.5f %12.0f %9.5f\n", in->kind_names[k],
               ev->kind[k].records, t, t > 0 ? f / t : 1,
               ev->kind[k].false_pairs, f > 0 ? ev->kind[k].id_pairs / f : 0);
    }
}

/* The error kinds of record i as a JSON array. */
static json_t *kinds_json(const input_t *in, size_t i) {
    json_t *a = json_array();
    for (uint32_t b = in->kinds ? in->kinds[i] : 0; b; b &= b - 1)
        json_array_append_new(a, json_string(in->kind_names[__builtin_ctz(b)]));
    return a;
}

static json_t *rec_json(const gh_match_rec_t *r) {
    return json_pack("{s:s?, s:s?}", "department", r->department, "source_key",
                     r->source_key);
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Every pair of one true person's records in two predicted persons,
 * scored again with its evidence. */
static gh_err_t write_misses(const input_t *in, const gh_match_model_t *m,
                             const uint32_t *person, const uint32_t *truth,
                             const char *path, size_t *count, char *errstr,
                             size_t errstr_size) {
    size_t n = gh_match_set_count(in->set);
    FILE *f = gh_fopen_private(path, 1);
    if (!f)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot create %s: %s",
                         path, strerror(errno));
    uint64_t *kv = gh_xmalloc((n ? n : 1) * sizeof(*kv)); /* truth, idx */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (truth[i] != UINT32_MAX) kv[k++] = (uint64_t)truth[i] << 32 | i;
    qsort(kv, k, sizeof(*kv), cmp_u64);
    *count = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i + 1;
        while (j < k && kv[j] >> 32 == kv[i] >> 32)
            j++;
        for (size_t x = i; x < j; x++)
            for (size_t y = x + 1; y < j; y++) {
                size_t a = (uint32_t)kv[x], b = (uint32_t)kv[y];
                if (person[a] == person[b]) continue;
                const gh_match_rec_t *ra = gh_match_set_get(in->set, a),
                                     *rb = gh_match_set_get(in->set, b);
                gh_match_explain_t ex;
                gh_match_decision_t d = gh_match_score(m, ra, rb, &ex);
                json_t *lv = json_object();
                for (int fl = 0; fl < GH_MATCH_F__COUNT; fl++)
                    json_object_set_new(
                        lv, gh_match_field_name(fl),
                        json_string(gh_match_level_name(fl, ex.level[fl])));
                json_t *o = json_pack(
                    "{s:o, s:o, s:o, s:o, s:s, s:f, s:o}", "a", rec_json(ra),
                    "b", rec_json(rb), "errors_a", kinds_json(in, a),
                    "errors_b", kinds_json(in, b), "decision",
                    gh_match_decision_name(d), "total", ex.total, "levels", lv);
                char *line =
                    json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(4));
                fprintf(f, "%s\n", line);
                free(line);
                json_decref(o);
                (*count)++;
            }
        i = j;
    }
    free(kv);
    if (fclose(f))
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "writing %s failed",
                         path);
    return GH_OK;
}

/* Residents the ID numbers split, and whether the steward hears of it. */
static void report_split(const input_t *in, const gh_match_split_eval_t *sp) {
    printf("  split by valid ID numbers: %zu persons, %zu with a steward "
           "item (%.5f)\n",
           sp->split, sp->told,
           sp->split ? (double)sp->told / (double)sp->split : 1);
    if (find_kind(in, "two_ids") >= 0)
        printf("    of them with a second number (two_ids): %zu, %zu with a "
               "steward item (%.5f)\n",
               sp->kind_split, sp->kind_told,
               sp->kind_split ? (double)sp->kind_told / (double)sp->kind_split
                              : 1);
    int fk = find_kind(in, "foreign_id");
    if (fk < 0) return;
    size_t labelled = 0, flagged = 0, flagged_all = 0;
    for (size_t i = 0; i < gh_match_set_count(in->set); i++) {
        int lab = in->kinds && (in->kinds[i] >> fk & 1);
        int fl = gh_match_set_get(in->set, i)->id_foreign;
        labelled += (size_t)lab;
        flagged += (size_t)(lab && fl);
        flagged_all += (size_t)fl;
    }
    printf("  foreign ID numbers: %zu records labelled, %zu of them flagged; "
           "%zu flagged in all\n",
           labelled, flagged, flagged_all);
}

static double secs(int64_t from_us) {
    return (double)(gh_now_us() - from_us) / 1e6;
}

static int run(gh_conf_t *conf) {
    char err[1024];
    const char *in_path = gh_conf_get(conf, "in");
    const char *out_path = gh_conf_get(conf, "out");
    const char *truth_path = gh_conf_get(conf, "truth");
    const char *model_path = gh_conf_get(conf, "model.out");
    if (truth_path && !*truth_path) truth_path = NULL;
    if (model_path && !*model_path) model_path = NULL;
    int rc = 1;

    gh_match_model_t *model = gh_match_model_new(conf, err, sizeof(err));
    if (!model) {
        fprintf(stderr, "gridhub resolve: %s\n", err);
        return 2;
    }
    if (gh_norm_init(err, sizeof(err))) {
        fprintf(stderr, "gridhub resolve: %s\n", err);
        gh_match_model_destroy(model);
        return 1;
    }
    int64_t t_all = gh_now_us(), t = t_all;
    input_t in = {0};
    in.set = gh_match_set_new();
    uint32_t *person = NULL, *truth = NULL;
    gh_match_edge_t *items = NULL;
    size_t nitems = 0;
    if (read_input(&in, in_path, err, sizeof(err))) {
        fprintf(stderr, "gridhub resolve: %s\n", err);
        goto out;
    }
    size_t n = gh_match_set_count(in.set);
    /* Before training, as resolving lends them again. */
    gh_match_set_lend_addresses(in.set);
    double t_norm = secs(t);
    printf("input: %zu records from %zu lines of %s", n, in.lines, in_path);
    if (in.bad) printf(" (%zu malformed lines skipped)", in.bad);
    printf("\n");

    t = gh_now_us();
    for (size_t i = 0; i < n; i++)
        gh_match_model_tf_add(model, gh_match_set_get(in.set, i), +1);
    if (gh_conf_get_bool(conf, "em")) {
        FILE *log = gh_log_enabled(GH_LOG_DEBUG) ? stderr : NULL;
        gh_err_t e = gh_match_model_train(model, in.set, log, err, sizeof(err));
        if (e) {
            printf("model: not trained (%s); built-in priors and pins\n", err);
        } else {
            int conv, it = gh_match_model_iterations(model, &conv);
            if (!it)
                printf("model: too few candidate pairs for EM: m and "
                       "lambda from the built-in priors and pins, u from "
                       "the data\n");
            else
                printf("model: EM %d iterations (%s), lambda %.3g\n", it,
                       conv ? "converged" : "NOT converged",
                       gh_match_model_lambda(model));
        }
    } else {
        printf("model: built-in priors and pins (em=false)\n");
    }
    double t_train = secs(t);
    if (model_path) {
        FILE *mf = gh_fopen_private(model_path, 1);
        if (!mf) {
            fprintf(stderr, "gridhub resolve: cannot create %s: %s\n",
                    model_path, strerror(errno));
            goto out;
        }
        gh_match_model_write(model, mf);
        if (fclose(mf)) {
            fprintf(stderr, "gridhub resolve: writing %s failed\n", model_path);
            goto out;
        }
    }

    person = gh_xmalloc((n ? n : 1) * sizeof(*person));
    gh_match_batch_stats_t st;
    if (gh_match_resolve_items(model, in.set, person, &st, &items, &nitems, err,
                               sizeof(err))) {
        fprintf(stderr, "gridhub resolve: %s\n", err);
        goto out;
    }
    printf("pairs: %zu scored, %zu linked by ID, %zu linked by score, %zu "
           "for review, %zu ID conflicts, %zu with two valid IDs, %zu "
           "oversize blocks skipped\n",
           st.candidate_pairs, st.links_id, st.links, st.reviews,
           st.id_conflicts, st.two_ids, st.oversize_blocks);
    printf("steward items: %zu pairs in two persons; %zu records carry a "
           "valid ID number whose birth date is not theirs (likely "
           "another resident's: scored without it), %zu of them without "
           "an address of their own take the holder's flat\n",
           nitems, st.foreign_ids, st.lent_addresses);
    printf("clustering: %zu records left unlinked (as close to two persons "
           "with different valid IDs), %zu links refused (would join two "
           "valid IDs)\n",
           st.ambiguous, st.kept_apart);
    /* Person numbers in order of each person's first record: cluster_of
     * is the smallest member, already numbered when a later one comes. */
    uint32_t next = 0;
    for (size_t i = 0; i < n; i++)
        person[i] = person[i] == i ? next++ : person[person[i]];
    printf("persons: %u\n", next);

    t = gh_now_us();
    if (write_output(in.set, person, out_path, err, sizeof(err))) {
        fprintf(stderr, "gridhub resolve: %s\n", err);
        goto out;
    }
    double t_write = secs(t);

    if (truth_path) {
        truth = gh_xmalloc((n ? n : 1) * sizeof(*truth));
        memset(truth, 0xff, (n ? n : 1) * sizeof(*truth));
        size_t unmatched = 0;
        if (read_truth(&in, truth_path, truth, &unmatched, err, sizeof(err))) {
            fprintf(stderr, "gridhub resolve: %s\n", err);
            goto out;
        }
        gh_match_eval_t ev;
        gh_match_evaluate(n, person, truth, in.kinds, &ev);
        uint64_t *idk = gh_xmalloc((n ? n : 1) * sizeof(*idk));
        for (size_t i = 0; i < n; i++)
            idk[i] = gh_match_id_key(gh_match_set_get(in.set, i));
        gh_match_evaluate_id(n, person, truth, in.kinds, idk, &ev);
        for (size_t i = 0; i < n; i++)
            idk[i] = gh_match_anchor(gh_match_set_get(in.set, i));
        gh_match_split_eval_t sp;
        gh_match_evaluate_split(n, person, truth, idk, in.kinds,
                                find_kind(&in, "two_ids"), items, nitems, &sp);
        free(idk);
        report_accuracy(&in, &ev, unmatched);
        report_split(&in, &sp);
        const char *misses = gh_conf_get(conf, "misses");
        size_t nmiss = 0;
        if (misses && *misses) {
            if (write_misses(&in, model, person, truth, misses, &nmiss, err,
                             sizeof(err))) {
                fprintf(stderr, "gridhub resolve: %s\n", err);
                goto out;
            }
            printf("misses: %zu pairs of one true person in two persons "
                   "written to %s\n",
                   nmiss, misses);
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("time: normalize %.2f s, train %.2f s, block %.2f s, score %.2f s, "
           "cluster %.2f s, write %.2f s; total %.2f s; peak RSS %.0f MB\n",
           t_norm, t_train, st.block_s, st.score_s, st.cluster_s, t_write,
           secs(t_all), (double)ru.ru_maxrss / 1024);
    rc = 0;
out:
    free(items);
    free(person);
    free(truth);
    free(in.kinds);
    free(in.keys.idx);
    free(in.keys.tag);
    for (int k = 0; k < in.nkinds; k++)
        free(in.kind_names[k]);
    gh_match_set_destroy(in.set);
    gh_match_model_destroy(model);
    return rc;
}

const gh_cli_cmd_t gh_cli_resolve = {
    "resolve",
    "resolve department records into persons (batch identity matching), "
    "with an accuracy report against a ground truth",
    "Example: gridhub resolve --in records.jsonl --out clusters.jsonl "
    "--truth truth.jsonl\nSee docs/identity.md.",
    props, run};
