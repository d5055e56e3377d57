/*
 * The properties reader (gh_props_parse_file) and the configuration table
 * behind it (gh_conf_load_file, hub/runtime/base/conf.c). The input is a
 * properties file, loaded against the connector's real table plus entries
 * of the types it lacks. What the reader hands on must be what its
 * contract says, and what the table accepts must satisfy the table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "util.h"

static int validate_nonempty(const char *key, const char *value, char *errstr,
                             size_t errstr_size) {
    if (*value) return 0;
    snprintf(errstr, errstr_size, "%s needs a value", key);
    return -1;
}

static const gh_conf_prop_t g_props[] = {
    GH_CONF_INCLUDE_TABLE(gh_connector_props),
    {"fz.list", GH_CONF_LIST, "a,b", 0, 0, 0, NULL, NULL, "A list."},
    {"fz.neg", GH_CONF_INT, "-5", 0, -1000, -1, NULL, NULL, "Negative."},
    {"fz.wide", GH_CONF_INT, NULL, 0, INT64_MIN, INT64_MAX, NULL, NULL, "Any."},
    {"fz.need", GH_CONF_ENUM, NULL, 1, 0, 0, "x|yy|zzz", NULL, "Required."},
    {"fzp.", GH_CONF_PREFIX, NULL, 0, 0, 0, NULL, validate_nonempty, "Prefix."},
    GH_CONF_END};

typedef struct reader {
    const char *path;
    int last_line;
    char **keys;
    int nkeys;
    int loads_plugin;
} reader_t;

static int is_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int trimmed(const char *s) {
    size_t n = strlen(s);
    return !n || (!is_space(s[0]) && !is_space(s[n - 1]));
}

static gh_err_t on_line(const char *origin, const char *key, const char *value,
                        void *opaque, char *errstr, size_t errstr_size) {
    reader_t *r = opaque;
    size_t pl = strlen(r->path);
    GH_FUZZ_CHECK(!strncmp(origin, r->path, pl) && origin[pl] == ':',
                  "origin %s", origin);
    int line = atoi(origin + pl + 1);
    GH_FUZZ_CHECK(line > r->last_line, "line %d after %d", line, r->last_line);
    r->last_line = line;
    GH_FUZZ_CHECK(*key && trimmed(key) && !strchr(key, '='), "key \"%s\"", key);
    GH_FUZZ_CHECK(key[0] != '#' && key[0] != '!', "comment as key \"%s\"", key);
    for (int i = 0; i < r->nkeys; i++)
        GH_FUZZ_CHECK(strcmp(r->keys[i], key), "key %s twice", key);
    r->keys = realloc(r->keys, (size_t)(r->nkeys + 1) * sizeof(char *));
    r->keys[r->nkeys++] = strdup(key);
    /* librdkafka loads plugin libraries while it validates the property:
     * not something to do with random paths. */
    if (strstr(key, "plugin")) r->loads_plugin = 1;
    (void)value;
    return GH_OK;
}

/* The table's promises about what a loaded configuration holds. */
static void check_prop(const gh_conf_t *conf, const gh_conf_prop_t *p) {
    const char *v = gh_conf_get(conf, p->name);
    if (!v) return;
    switch (p->type) {
    case GH_CONF_INT: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        GH_FUZZ_CHECK(!errno && end != v && !*end && n >= p->min &&
                          n <= p->max && gh_conf_get_int(conf, p->name) == n,
                      "%s = \"%s\"", p->name, v);
        break;
    }
    case GH_CONF_BOOL:
        GH_FUZZ_CHECK(!strcmp(v, "true") || !strcmp(v, "false"), "%s = \"%s\"",
                      p->name, v);
        break;
    case GH_CONF_ENUM: {
        size_t n = strlen(v);
        int ok = 0;
        for (const char *e = p->enums; !ok; e = strchr(e, '|') + 1) {
            ok = !strncmp(e, v, n) && (e[n] == '|' || !e[n]);
            if (!strchr(e, '|')) break;
        }
        GH_FUZZ_CHECK(ok, "%s = \"%s\" not in %s", p->name, v, p->enums);
        break;
    }
    case GH_CONF_LIST:
        GH_FUZZ_CHECK(*v && !strstr(v, ",,") && v[0] != ',' &&
                          v[strlen(v) - 1] != ',',
                      "%s = \"%s\"", p->name, v);
        break;
    default:
        break;
    }
}

static void check_prefixed(const char *subkey, const char *value,
                           void *opaque) {
    GH_FUZZ_CHECK(*subkey && *value, "fzp.%s = \"%s\"", subkey, value);
    (void)opaque;
}

/* Whether every required property of the table (and its includes) is
 * set to something. */
static int required_set(const gh_conf_t *conf, const gh_conf_prop_t *props) {
    for (const gh_conf_prop_t *p = props; p->name; p++) {
        if (p->type == GH_CONF_INCLUDE) {
            if (!required_set(conf, p->include)) return 0;
        } else if (p->required && p->type != GH_CONF_PREFIX) {
            const char *v = gh_conf_get(conf, p->name);
            if (!v || !*v || v == p->defval) return 0;
        }
    }
    return 1;
}

static void check_all(const gh_conf_t *conf, const gh_conf_prop_t *props) {
    for (const gh_conf_prop_t *p = props; p->name; p++)
        if (p->type == GH_CONF_INCLUDE)
            check_all(conf, p->include);
        else
            check_prop(conf, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    const char *path = gh_fuzz_write_file("fuzz.properties", data, size);
    reader_t r = {.path = path};
    gh_err_t rc = gh_props_parse_file(path, on_line, &r, err, sizeof(err));
    GH_FUZZ_CHECK(!rc || rc == GH_ERR_CONFIG, "reader error %d: %s", rc, err);
    /* A text file: a NUL byte would silently cut its line short. */
    GH_FUZZ_CHECK(rc || !memchr(data, '\0', size), "read past a NUL byte");
    for (int i = 0; i < r.nkeys; i++)
        free(r.keys[i]);
    free(r.keys);
    if (r.loads_plugin) return 0;

    gh_conf_t *conf = gh_conf_new("fuzz", g_props);
    rc = gh_conf_load_file(conf, path, err, sizeof(err));
    if (!rc) {
        check_all(conf, g_props);
        gh_conf_foreach_prefix(conf, "fzp.", check_prefixed, NULL);
        gh_err_t crc = gh_conf_check(conf, err, sizeof(err));
        GH_FUZZ_CHECK((crc == GH_OK) == required_set(conf, g_props),
                      "gh_conf_check says %d: %s", crc, err);
    }
    gh_conf_destroy(conf);
    return 0;
}
