#include "gridhub/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

typedef struct entry {
    char *key;
    char *value;
    char *origin;
} entry_t;

struct gh_conf {
    const char *component;
    const gh_conf_prop_t *props; /* = flat */
    gh_conf_prop_t *flat;        /* the table with includes spliced in */
    entry_t *entries;
    size_t n, cap;
};

static size_t count_props(const gh_conf_prop_t *props) {
    size_t n = 0;
    for (const gh_conf_prop_t *p = props; p->name; p++)
        n += p->type == GH_CONF_INCLUDE ? count_props(p->include) : 1;
    return n;
}

static gh_conf_prop_t *flatten_into(const gh_conf_prop_t *props,
                                    gh_conf_prop_t *out) {
    for (const gh_conf_prop_t *p = props; p->name; p++)
        if (p->type == GH_CONF_INCLUDE)
            out = flatten_into(p->include, out);
        else
            *out++ = *p;
    return out;
}

/* The table with every GH_CONF_INCLUDE spliced in (caller frees). */
static gh_conf_prop_t *flatten(const gh_conf_prop_t *props) {
    gh_conf_prop_t *flat = gh_xcalloc(count_props(props) + 1, sizeof(*flat));
    flatten_into(props, flat);
    return flat;
}

gh_conf_t *gh_conf_new(const char *component, const gh_conf_prop_t *props) {
    gh_conf_t *c = gh_xcalloc(1, sizeof(*c));
    c->component = component;
    c->flat = flatten(props);
    c->props = c->flat;
    return c;
}

void gh_conf_destroy(gh_conf_t *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->entries[i].key);
        free(c->entries[i].value);
        free(c->entries[i].origin);
    }
    free(c->entries);
    free(c->flat);
    free(c);
}

static const gh_conf_prop_t *find_prop(const gh_conf_t *c, const char *key) {
    for (const gh_conf_prop_t *p = c->props; p->name; p++) {
        if (p->type == GH_CONF_PREFIX) {
            if (strncmp(key, p->name, strlen(p->name)) == 0 &&
                key[strlen(p->name)] != '\0')
                return p;
        } else if (strcmp(key, p->name) == 0) {
            return p;
        }
    }
    return NULL;
}

static entry_t *find_entry(const gh_conf_t *c, const char *key) {
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->entries[i].key, key) == 0) return &c->entries[i];
    return NULL;
}

/* Suggests the property with the longest common prefix, for typos. */
static const char *suggest(const gh_conf_t *c, const char *key) {
    const char *best = NULL;
    size_t best_len = 3;
    for (const gh_conf_prop_t *p = c->props; p->name; p++) {
        size_t i = 0;
        while (key[i] && p->name[i] == key[i])
            i++;
        if (i > best_len) {
            best = p->name;
            best_len = i;
        }
    }
    return best;
}

static int check_value(const gh_conf_prop_t *p, const char *key,
                       const char *value, char *err, size_t errsz) {
    switch (p->type) {
    case GH_CONF_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(err, errsz, "\"%s\" is not an integer", value);
            return -1;
        }
        if (v < p->min || v > p->max) {
            snprintf(err, errsz, "%lld is out of range [%lld, %lld]", v, p->min,
                     p->max);
            return -1;
        }
        break;
    }
    case GH_CONF_BOOL:
        if (strcmp(value, "true") && strcmp(value, "false")) {
            snprintf(err, errsz, "\"%s\" is not true or false", value);
            return -1;
        }
        break;
    case GH_CONF_ENUM: {
        size_t vl = strlen(value);
        const char *s = p->enums;
        int ok = 0;
        while (s && *s) {
            const char *bar = strchr(s, '|');
            size_t l = bar ? (size_t)(bar - s) : strlen(s);
            if (l == vl && strncmp(s, value, l) == 0) ok = 1;
            s = bar ? bar + 1 : NULL;
        }
        if (!ok) {
            snprintf(err, errsz, "\"%s\" is not one of %s", value, p->enums);
            return -1;
        }
        break;
    }
    case GH_CONF_LIST: {
        const char *s = value;
        for (;;) {
            while (*s == ' ')
                s++;
            const char *comma = strchr(s, ',');
            const char *e = comma ? comma : s + strlen(s);
            while (e > s && e[-1] == ' ')
                e--;
            if (e == s) {
                snprintf(err, errsz, "empty element in list \"%s\"", value);
                return -1;
            }
            if (!comma) break;
            s = comma + 1;
        }
        break;
    }
    case GH_CONF_STR:
    case GH_CONF_PREFIX:
    case GH_CONF_INCLUDE:
        break;
    }
    if (p->validate) return p->validate(key, value, err, errsz);
    return 0;
}

gh_err_t gh_conf_set(gh_conf_t *c, const char *origin, const char *key,
                     const char *value, char *errstr, size_t errstr_size) {
    const char *o = origin ? origin : c->component;
    const gh_conf_prop_t *p = find_prop(c, key);
    if (!p) {
        const char *s = suggest(c, key);
        /* A key is echoed at most this long: it may be anything. */
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: %.64s%s: unknown property for %s%s%s%s", o, key,
                         strlen(key) > 64 ? "..." : "", c->component,
                         s ? " (did you mean " : "", s ? s : "", s ? "?)" : "");
    }
    char why[512] = "";
    if (check_value(p, key, value, why, sizeof(why)))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG, "%s: %s: %s", o,
                         key, why);
    entry_t *e = find_entry(c, key);
    if (!e) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->entries = gh_xrealloc(c->entries, c->cap * sizeof(*c->entries));
        }
        e = &c->entries[c->n++];
        e->key = gh_xstrdup(key);
    } else {
        free(e->value);
        free(e->origin);
    }
    e->value = gh_xstrdup(value);
    e->origin = gh_xstrdup(o);
    return GH_OK;
}

/* Expands ${env:NAME}; returns a new string or NULL with err filled. */
static char *expand_env(const char *v, char *err, size_t errsz) {
    gh_buf_t out = {0};
    const char *s = v;
    while (*s) {
        if (strncmp(s, "${env:", 6) == 0) {
            const char *close = strchr(s + 6, '}');
            if (!close) {
                snprintf(err, errsz, "unterminated ${env:...}");
                gh_buf_free(&out);
                return NULL;
            }
            char name[256];
            size_t l = (size_t)(close - (s + 6));
            if (l == 0 || l >= sizeof(name)) {
                snprintf(err, errsz, "bad variable name in ${env:...}");
                gh_buf_free(&out);
                return NULL;
            }
            memcpy(name, s + 6, l);
            name[l] = '\0';
            const char *ev = getenv(name);
            if (!ev) {
                snprintf(err, errsz, "environment variable %s is not set",
                         name);
                gh_buf_free(&out);
                return NULL;
            }
            gh_buf_puts(&out, ev);
            s = close + 1;
        } else {
            gh_buf_append(&out, s, 1);
            s++;
        }
    }
    return gh_buf_detach(&out);
}

gh_err_t gh_conf_set_expanded(gh_conf_t *c, const char *origin, const char *key,
                              const char *value, char *errstr,
                              size_t errstr_size) {
    char why[512];
    char *v = expand_env(value, why, sizeof(why));
    if (!v)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG, "%s: %s: %s",
                         origin ? origin : c->component, key, why);
    gh_err_t e = gh_conf_set(c, origin, key, v, errstr, errstr_size);
    free(v);
    return e;
}

gh_err_t gh_props_parse_text(const char *name, const char *text, size_t len,
                             gh_props_cb *cb, void *opaque, char *errstr,
                             size_t errstr_size) {
    gh_err_t err = GH_OK;
    char **seen = NULL;
    size_t nseen = 0;
    int lineno = 0;
    const char *p = text, *end = text + len;
    while (!err && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        char origin[1024];
        snprintf(origin, sizeof(origin), "%s:%d", name, lineno);
        /* The rest of the line would be ignored without a word. */
        if (memchr(p, '\0', l)) {
            err = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                            "%s: NUL byte in the line (not a text file?)",
                            origin);
            break;
        }
        char *line = gh_xstrndup(p, l);
        p = nl ? nl + 1 : end;
        char *s = gh_str_trim(line);
        if (!*s || *s == '#' || *s == '!') {
            free(line);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            err =
                gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "%s: expected key=value, got \"%.200s\"", origin, s);
            free(line);
            break;
        }
        *eq = '\0';
        char *key = gh_str_trim(s);
        char *val = gh_str_trim(eq + 1);
        if (!*key)
            err = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                            "%s: empty key before '='", origin);
        for (size_t i = 0; i < nseen && !err; i++)
            if (strcmp(seen[i], key) == 0)
                err = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                                "%s: %.200s: set twice in this file", origin,
                                key);
        if (err) {
            free(line);
            break;
        }
        seen = gh_xrealloc(seen, (nseen + 1) * sizeof(*seen));
        seen[nseen++] = gh_xstrdup(key);
        char why[512];
        char *expanded = expand_env(val, why, sizeof(why));
        if (!expanded)
            err = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG, "%s: %s: %s",
                            origin, key, why);
        else
            err = cb(origin, key, expanded, opaque, errstr, errstr_size);
        free(expanded);
        free(line);
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    return err;
}

gh_err_t gh_props_parse_file(const char *path, gh_props_cb *cb, void *opaque,
                             char *errstr, size_t errstr_size) {
    FILE *f = fopen(path, "r");
    if (!f)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: cannot open: %s", path, strerror(errno));
    gh_buf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        gh_buf_append(&b, chunk, n);
    /* A directory opens but does not read: not an empty file. */
    int bad = ferror(f);
    int eno = errno;
    fclose(f);
    gh_err_t err = bad ? gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                                   "%s: cannot read: %s", path, strerror(eno))
                       : gh_props_parse_text(path, b.data ? b.data : "", b.len,
                                             cb, opaque, errstr, errstr_size);
    gh_buf_free(&b);
    return err;
}

static gh_err_t set_cb(const char *origin, const char *key, const char *value,
                       void *opaque, char *errstr, size_t errstr_size) {
    return gh_conf_set(opaque, origin, key, value, errstr, errstr_size);
}

gh_err_t gh_conf_load_file(gh_conf_t *c, const char *path, char *errstr,
                           size_t errstr_size) {
    return gh_props_parse_file(path, set_cb, c, errstr, errstr_size);
}

gh_err_t gh_conf_check(const gh_conf_t *c, char *errstr, size_t errstr_size) {
    for (const gh_conf_prop_t *p = c->props; p->name; p++)
        if (p->required && p->type != GH_CONF_PREFIX &&
            (!find_entry(c, p->name) || !*find_entry(c, p->name)->value))
            return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                             "%s: required property %s is not set (%s)",
                             c->component, p->name, p->desc);
    return GH_OK;
}

int gh_conf_is_set(const gh_conf_t *c, const char *key) {
    return find_entry(c, key) != NULL;
}

const char *gh_conf_get(const gh_conf_t *c, const char *key) {
    entry_t *e = find_entry(c, key);
    if (e) return e->value;
    const gh_conf_prop_t *p = find_prop(c, key);
    return p ? p->defval : NULL;
}

long long gh_conf_get_int(const gh_conf_t *c, const char *key) {
    const char *v = gh_conf_get(c, key);
    return v ? strtoll(v, NULL, 10) : 0;
}

int gh_conf_get_bool(const gh_conf_t *c, const char *key) {
    const char *v = gh_conf_get(c, key);
    return v && strcmp(v, "true") == 0;
}

char **gh_conf_get_list(const gh_conf_t *c, const char *key) {
    const char *v = gh_conf_get(c, key);
    char **list = gh_xcalloc(1, sizeof(char *));
    int n = 0;
    char *copy = gh_xstrdup(v ? v : ""), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        list = gh_xrealloc(list, (size_t)(n + 2) * sizeof(char *));
        list[n++] = gh_xstrdup(gh_str_trim(t));
        list[n] = NULL;
    }
    free(copy);
    return list;
}

void gh_conf_list_free(char **list) {
    for (int i = 0; list && list[i]; i++)
        free(list[i]);
    free(list);
}

void gh_conf_foreach_prefix(const gh_conf_t *c, const char *prefix,
                            void (*cb)(const char *, const char *, void *),
                            void *opaque) {
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < c->n; i++)
        if (strncmp(c->entries[i].key, prefix, pl) == 0)
            cb(c->entries[i].key + pl, c->entries[i].value, opaque);
}

static const char *type_name(const gh_conf_prop_t *p) {
    switch (p->type) {
    case GH_CONF_STR:
        return "string";
    case GH_CONF_INT:
        return "integer";
    case GH_CONF_BOOL:
        return "boolean";
    case GH_CONF_ENUM:
        return "enum";
    case GH_CONF_LIST:
        return "list";
    case GH_CONF_PREFIX:
        return "prefix";
    case GH_CONF_INCLUDE: /* spliced away by flatten() */
        break;
    }
    return "?";
}

void gh_conf_write_doc(FILE *out, const char *title,
                       const gh_conf_prop_t *props) {
    fprintf(out, "## %s\n\n", title);
    fprintf(out, "| property | type | default | range | description |\n");
    fprintf(out, "|---|---|---|---|---|\n");
    gh_conf_prop_t *flat = flatten(props);
    for (const gh_conf_prop_t *p = flat; p->name; p++) {
        char range[128] = "";
        if (p->type == GH_CONF_INT)
            snprintf(range, sizeof(range), "%lld .. %lld", p->min, p->max);
        else if (p->type == GH_CONF_ENUM)
            snprintf(range, sizeof(range), "%s", p->enums);
        fprintf(out, "| `%s%s` | %s | %s%s%s | %s | %s%s |\n", p->name,
                p->type == GH_CONF_PREFIX ? "*" : "", type_name(p),
                p->defval && *p->defval ? "`" : "",
                p->defval ? (*p->defval ? p->defval : "(empty)") : "",
                p->defval && *p->defval ? "`" : "", range,
                p->required ? "**Required.** " : "", p->desc);
    }
    free(flat);
    fprintf(out, "\n");
}
