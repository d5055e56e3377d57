/*
 * Unit tests for the Parsing Canonical Form and CRC-64-AVRO fingerprint in
 * gridhub/avro.h, against the Avro project's published vectors
 * (tests/data/avro/schema-tests.txt) and our own extra cases
 * (tests/data/avro/schema-tests-gridhub.txt).
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/avro.h"

typedef struct pcf_case {
    char *label;
    char *input;
    char *canonical;
    int has_fp;
    int64_t fp;
} pcf_case_t;

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Parses the Avro test-vector format: "<<INPUT text" (or "<<INPUT" then
 * lines up to a line "INPUT"), "<<canonical text", "<<fingerprint n",
 * comments starting "//" or "#". Returns the number of cases. */
static size_t load_cases(const char *file, pcf_case_t **out) {
    char *path = gh_xasprintf("%s/avro/%s", GH_TEST_DATA_DIR, file);
    char *text = gh_read_file(path, NULL);
    cr_assert_not_null(text, "cannot read %s", path);
    free(path);
    pcf_case_t *cases = NULL;
    size_t n = 0;
    char label[64] = "";
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "// ", 3) == 0 && !strstr(line, "<<")) {
            snprintf(label, sizeof(label), "%s", line + 3);
            continue;
        }
        if (strncmp(line, "<<INPUT", 7) == 0) {
            cases = gh_xrealloc(cases, (n + 1) * sizeof(*cases));
            pcf_case_t *c = &cases[n++];
            memset(c, 0, sizeof(*c));
            c->label = gh_xstrdup(label);
            char *rest = trim(line + 7);
            if (*rest) {
                c->input = gh_xstrdup(rest);
                continue;
            }
            gh_buf_t b = {0};
            while ((line = strtok_r(NULL, "\n", &save)) &&
                   strcmp(trim(line), "INPUT") != 0) {
                gh_buf_puts(&b, line);
                gh_buf_puts(&b, "\n");
            }
            cr_assert_not_null(line, "case %s: INPUT block not closed",
                               c->label);
            c->input = gh_buf_detach(&b);
        } else if (strncmp(line, "<<canonical", 11) == 0) {
            cr_assert(n > 0, "<<canonical before any <<INPUT");
            cases[n - 1].canonical = gh_xstrdup(trim(line + 11));
        } else if (strncmp(line, "<<fingerprint", 13) == 0) {
            cr_assert(n > 0, "<<fingerprint before any <<INPUT");
            char *end;
            cases[n - 1].fp = strtoll(trim(line + 13), &end, 10);
            cr_assert_eq(*end, '\0', "bad fingerprint line: %s", line);
            cases[n - 1].has_fp = 1;
        }
    }
    free(text);
    *out = cases;
    return n;
}

static void free_cases(pcf_case_t *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(cases[i].label);
        free(cases[i].input);
        free(cases[i].canonical);
    }
    free(cases);
}

/* Checks every case of a file; returns how many carried a fingerprint. */
static size_t check_file(const char *file, size_t min_cases) {
    pcf_case_t *cases;
    size_t n = load_cases(file, &cases), nfp = 0;
    cr_assert_geq(n, min_cases, "%s: only %zu cases parsed", file, n);
    for (size_t i = 0; i < n; i++) {
        pcf_case_t *c = &cases[i];
        char err[512] = "";
        char *pcf = NULL;
        cr_assert_not_null(c->canonical, "case %s has no <<canonical",
                           c->label);
        gh_err_t rc = gh_avro_canonical_form(c->input, &pcf, err, sizeof(err));
        cr_assert_eq(rc, GH_OK, "case %s: %s", c->label, err);
        cr_expect_str_eq(pcf, c->canonical, "case %s: input %s", c->label,
                         c->input);
        /* The canonical form is a fixed point. */
        char *again = NULL;
        cr_assert_eq(gh_avro_canonical_form(pcf, &again, err, sizeof(err)),
                     GH_OK, "case %s (second pass): %s", c->label, err);
        cr_expect_str_eq(again, pcf, "case %s: PCF is not idempotent",
                         c->label);
        if (c->has_fp) {
            uint64_t fp = gh_avro_crc64(pcf, strlen(pcf));
            cr_expect_eq(fp, (uint64_t)c->fp,
                         "case %s: fingerprint %" PRId64 " want %" PRId64,
                         c->label, (int64_t)fp, c->fp);
            nfp++;
        }
        free(again);
        free(pcf);
    }
    free_cases(cases, n);
    return nfp;
}

Test(avro_canonical, avro_project_vectors) {
    size_t nfp = check_file("schema-tests.txt", 30);
    cr_expect_geq(nfp, 20, "only %zu fingerprints checked", nfp);
}

Test(avro_canonical, gridhub_cases) {
    check_file("schema-tests-gridhub.txt", 5);
}

Test(avro_canonical, crc64_known_values) {
    cr_expect_eq(gh_avro_crc64("", 0), 0xc15d213aa4d7a795ULL);
    cr_expect_eq(gh_avro_crc64(NULL, 0), 0xc15d213aa4d7a795ULL);
    /* From the Avro vectors: "null" and "int" as bare canonical texts. */
    cr_expect_eq(gh_avro_crc64("\"null\"", 6), (uint64_t)7195948357588979594LL);
    cr_expect_eq(gh_avro_crc64("\"int\"", 5), (uint64_t)8247732601305521295LL);
    /* One byte changes the fingerprint. */
    cr_expect_neq(gh_avro_crc64("\"int\"", 5), gh_avro_crc64("\"inu\"", 5));
}

static void expect_error(const char *schema, gh_err_t want,
                         const char *needle) {
    char err[512] = "";
    char *pcf = (char *)"untouched";
    gh_err_t rc = gh_avro_canonical_form(schema, &pcf, err, sizeof(err));
    cr_expect_eq(rc, want, "%s: got %d (%s)", schema, rc, err);
    cr_expect_null(pcf, "%s: output set on error", schema);
    cr_expect(strstr(err, needle) != NULL, "%s: error \"%s\" lacks \"%s\"",
              schema, err, needle);
}

Test(avro_canonical, rejects_invalid_schemas) {
    expect_error("{\"type\":", GH_ERR_PARSE, "not valid JSON");
    expect_error("\"Nope\"", GH_ERR_SCHEMA, "Nope");
    expect_error("42", GH_ERR_SCHEMA, "string, array or object");
    expect_error("{\"name\":\"x\"}", GH_ERR_SCHEMA, "\"type\"");
    expect_error("{\"type\":\"record\",\"fields\":[]}", GH_ERR_SCHEMA,
                 "\"name\"");
    expect_error("{\"type\":\"record\",\"name\":\"1x\",\"fields\":[]}",
                 GH_ERR_SCHEMA, "1x");
    expect_error("{\"type\":\"record\",\"name\":\"R\"}", GH_ERR_SCHEMA,
                 "fields");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":"
                 "[{\"name\":\"a\",\"type\":\"Missing\"}]}",
                 GH_ERR_SCHEMA, "Missing");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":"
                 "[{\"name\":\"a\"}]}",
                 GH_ERR_SCHEMA, ".a");
    expect_error("{\"type\":\"record\",\"name\":\"R\",\"fields\":"
                 "[{\"name\":\"a\",\"type\":{\"type\":\"enum\",\"name\":\"R\","
                 "\"symbols\":[\"X\"]}}]}",
                 GH_ERR_SCHEMA, "defined twice");
    expect_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
                 GH_ERR_SCHEMA, "repeated");
    expect_error("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"a-b\"]}",
                 GH_ERR_SCHEMA, "symbol");
    expect_error("{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}",
                 GH_ERR_SCHEMA, "size");
    expect_error("{\"type\":\"array\"}", GH_ERR_SCHEMA, "items");
    expect_error("[\"null\",[\"int\"]]", GH_ERR_SCHEMA, "union");
    expect_error("{\"type\":\"record\",\"name\":\"int\",\"fields\":[]}",
                 GH_ERR_SCHEMA, "primitive");
}

Test(avro_canonical, null_namespace_reference_from_a_namespace) {
    /* A short name falls back to a definition in the null namespace. */
    const char *s =
        "{\"type\":\"record\",\"name\":\"Top\",\"fields\":["
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
        "\"symbols\":[\"A\"]}},"
        "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\","
        "\"namespace\":\"ns\",\"fields\":[{\"name\":\"e\",\"type\":\"E\"}]}}]}";
    char err[256] = "", *pcf = NULL;
    cr_assert_eq(gh_avro_canonical_form(s, &pcf, err, sizeof(err)), GH_OK, "%s",
                 err);
    cr_expect(strstr(pcf, "{\"name\":\"e\",\"type\":\"E\"}") != NULL, "%s",
              pcf);
    free(pcf);
}
