/*
 * The hostile corpus (tests/data/hostile/, see its README) through the
 * parsers every component trusts least: framed Avro (gh_serde_decode),
 * properties files (gh_conf_load_file) and mapping files
 * (gh_mapping_load). Each input gets a clear error — naming file:line for
 * files — and never a crash; the sanitizer build checks memory on the way.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/avro.h"
#include "gridhub/conf.h"
#include "gridhub/util.h"
#include "hub.h"
#include "mapping.h"

#define HOSTILE GH_TEST_DATA_DIR "/hostile"

TestSuite(hostile, .timeout = 60);

static const char *const err_names[] = {
    "GH_OK",         "GH_ERR_INVALID_ARG", "GH_ERR_CONFIG",
    "GH_ERR_IO",     "GH_ERR_NOMEM",       "GH_ERR_PARSE",
    "GH_ERR_SCHEMA", "GH_ERR_SERDE",       "GH_ERR_UNKNOWN_SCHEMA"};

static int hexval(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

Test(hostile, avro_messages) {
    char err[1024];
    gh_schemas_t *set = NULL;
    cr_assert_eq(
        gh_schemas_load_dir(&set, GH_SOURCE_DIR "/schemas", err, sizeof(err)),
        GH_OK, "%s", err);
    const gh_schema_t *env =
        gh_schemas_get(set, "gridhub.change.PersonEnvelope");
    uint64_t fp = gh_schema_fingerprint(env);
    char fphex[17];
    /* Single-object encoding: the fingerprint little-endian. */
    for (int i = 0; i < 8; i++)
        snprintf(fphex + 2 * i, 3, "%02x", (unsigned)(fp >> (8 * i)) & 0xff);
    gh_serde_t *sd = gh_serde_new(set, "");
    FILE *f = fopen(HOSTILE "/avro.txt", "r");
    cr_assert_not_null(f);
    char *line = NULL;
    size_t cap = 0;
    int cases = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *name = strtok(line, "|"), *want = strtok(NULL, "|"),
             *hex = strtok(NULL, "\n");
        cr_assert(name && want, "bad line in avro.txt");
        name = gh_str_trim(name);
        want = gh_str_trim(want);
        gh_buf_t h = {0}, bytes = {0};
        gh_buf_puts(&h, "");
        for (char *p = hex ? hex : ""; *p; p++) {
            if (!strncmp(p, "{FP}", 4)) {
                gh_buf_puts(&h, fphex);
                p += 3;
            } else if (hexval(*p) >= 0) {
                gh_buf_append(&h, p, 1);
            }
        }
        cr_assert_eq(h.len % 2, 0, "%s: odd number of hex digits", name);
        for (size_t i = 0; i < h.len; i += 2) {
            char b = (char)(hexval(h.data[i]) << 4 | hexval(h.data[i + 1]));
            gh_buf_append(&bytes, &b, 1);
        }
        /* Exactly the message's bytes, so that a read past them shows. */
        char *exact = malloc(bytes.len ? bytes.len : 1);
        if (bytes.len) memcpy(exact, bytes.data, bytes.len);
        avro_value_t v;
        err[0] = '\0';
        gh_err_t e = gh_serde_decode(sd, exact, bytes.len, env, &v, NULL, err,
                                     sizeof(err));
        if (!e) avro_value_decref(&v);
        if (strcmp(want, "ANY")) {
            cr_assert_neq(e, GH_OK, "%s: decoded", name);
            cr_assert_str_eq(e < 9 ? err_names[e] : "?", want, "%s: %s", name,
                             err);
        }
        cr_assert(e == GH_OK || err[0], "%s: an error without a message", name);
        free(exact);
        gh_buf_free(&h);
        gh_buf_free(&bytes);
        cases++;
    }
    free(line);
    fclose(f);
    cr_assert_geq(cases, 15);
    gh_serde_destroy(sd);
    gh_schemas_destroy(set);
}

/* The "# expect: ..." first line of a corpus file. */
static char *expectation(const char *path) {
    char *text = gh_read_file(path, NULL);
    cr_assert_not_null(text, "%s", path);
    cr_assert(!strncmp(text, "# expect: ", 10), "%s: no expect line", path);
    char *nl = strchr(text, '\n');
    char *want = gh_xstrndup(text + 10, (size_t)(nl - text - 10));
    free(text);
    return want;
}

typedef void (*check_fn)(const char *path, const char *want);

static int each_file(const char *dir, check_fn fn) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (!strstr(de->d_name, ".properties")) continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        char *want = expectation(path);
        fn(path, want);
        free(want);
        n++;
    }
    closedir(d);
    return n;
}

static void check_properties(const char *path, const char *want) {
    char err[2048] = "";
    gh_conf_t *c = gh_conf_new("hub", gh_hub_props);
    gh_err_t e = gh_conf_load_file(c, path, err, sizeof(err));
    if (!e) e = gh_conf_check(c, err, sizeof(err));
    gh_conf_destroy(c);
    cr_assert_eq(e, GH_ERR_CONFIG, "%s: accepted", path);
    cr_assert(strstr(err, path) || strstr(err, strrchr(path, '/') + 1),
              "%s: the error does not name the file: %s", path, err);
    cr_assert(strstr(err, want), "%s: the error should say \"%s\": %s", path,
              want, err);
}

Test(hostile, properties_files) {
    cr_assert_geq(each_file(HOSTILE "/properties", check_properties), 11);
}

static gh_schemas_t *g_set;

static void check_mapping(const char *path, const char *want) {
    char err[2048] = "";
    gh_mapping_t *m = gh_mapping_load(path, g_set, err, sizeof(err));
    cr_assert_null(m, "%s: accepted", path);
    cr_assert(strstr(err, strrchr(path, '/') + 1),
              "%s: the error does not name the file: %s", path, err);
    cr_assert(strstr(err, want), "%s: the error should say \"%s\": %s", path,
              want, err);
}

Test(hostile, mapping_files) {
    char err[1024];
    cr_assert_eq(
        gh_schemas_load_dir(&g_set, GH_SOURCE_DIR "/schemas", err, sizeof(err)),
        GH_OK, "%s", err);
    cr_assert_geq(each_file(HOSTILE "/mapping", check_mapping), 10);
    gh_schemas_destroy(g_set);
}
