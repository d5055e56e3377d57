/*
 * Configuration as `key=value` properties, validated against a declarative
 * table of properties (name, type, default, range, description), in the
 * manner of librdkafka's rdkafka_conf.c and Kafka Connect's ConfigDef.
 *
 * File syntax: one `key=value` per line; `#` or `!` starts a comment line;
 * blank lines are ignored; whitespace around key and value is trimmed;
 * `${env:NAME}` inside a value is replaced by the environment variable NAME
 * (an unset variable is an error), so secrets need not live in files.
 * A key given twice in one file is an error: the second one is almost always
 * a copy-paste mistake that would silently win.
 *
 * Every error names the file, the line and the key, e.g.
 *   hub.properties:7: batch.max.messages: "abc" is not an integer
 */
#ifndef GRIDHUB_CONF_H
#define GRIDHUB_CONF_H

#include <stdio.h>

#include "gridhub/error.h"

typedef enum gh_conf_type {
    GH_CONF_STR,
    GH_CONF_INT,     /* 64-bit signed, checked against [min, max] */
    GH_CONF_BOOL,    /* true|false */
    GH_CONF_ENUM,    /* one of `enums`, "a|b|c" */
    GH_CONF_LIST,    /* comma-separated, each element non-empty */
    GH_CONF_PREFIX,  /* the name ends in '.', every key under it is accepted
                        and checked by `validate` (e.g. kafka.*) */
    GH_CONF_INCLUDE, /* not a property: the entries of `include` (another
                        NULL-terminated table, e.g. a module's) go here */
} gh_conf_type_t;

/* Returns 0 if value is acceptable; else fills errstr and returns -1. */
typedef int(gh_conf_validate_cb)(const char *key, const char *value,
                                 char *errstr, size_t errstr_size);

typedef struct gh_conf_prop {
    const char *name;
    gh_conf_type_t type;
    const char *defval;            /* NULL: no default */
    int required;                  /* must be set (a default does not count) */
    long long min, max;            /* GH_CONF_INT only */
    const char *enums;             /* GH_CONF_ENUM only */
    gh_conf_validate_cb *validate; /* extra check, may be NULL */
    const char *desc; /* one or two sentences for docs/configuration.md */
    const struct gh_conf_prop *include; /* GH_CONF_INCLUDE only */
} gh_conf_prop_t;

/* A table entry that splices in a module's own table (defined with
 * GH_CONF_END), so that a module's properties are declared once. */
#define GH_CONF_INCLUDE_TABLE(table)                                           \
    { "(include)", GH_CONF_INCLUDE, NULL, 0, 0, 0, NULL, NULL, NULL, table }

typedef struct gh_conf gh_conf_t;

/* `props` is a static table terminated by an entry with name == NULL; it is
 * borrowed and must outlive the handle. `component` names the table in
 * messages and docs. Never returns NULL (aborts on out of memory). */
gh_conf_t *gh_conf_new(const char *component, const gh_conf_prop_t *props);
/* NULL is a no-op. */
void gh_conf_destroy(gh_conf_t *conf);

/* Sets one property after validating it. `origin` is used in the message
 * ("hub.properties:7" or "-X"); may be NULL. Strings are copied. */
gh_err_t gh_conf_set(gh_conf_t *conf, const char *origin, const char *key,
                     const char *value, char *errstr, size_t errstr_size);

/* As gh_conf_set, after replacing every ${env:NAME} in value by the
 * environment variable NAME (an unset one is an error), as files do: a
 * secret given on the command line as -X key=${env:NAME} never shows in
 * the process list. */
gh_err_t gh_conf_set_expanded(gh_conf_t *conf, const char *origin,
                              const char *key, const char *value, char *errstr,
                              size_t errstr_size);

/* Parses `path` and sets every property in it. Stops at the first error. */
gh_err_t gh_conf_load_file(gh_conf_t *conf, const char *path, char *errstr,
                           size_t errstr_size);

/* The properties-file reader behind gh_conf_load_file, for other
 * key=value files (mappings, policies): calls cb for each `key=value` line,
 * after comment stripping, trimming, `${env:NAME}` expansion and the
 * duplicate-key check. `origin` is "path:line". cb returns GH_OK to go on,
 * or an error (having filled errstr) to stop. */
typedef gh_err_t(gh_props_cb)(const char *origin, const char *key,
                              const char *value, void *opaque, char *errstr,
                              size_t errstr_size);
gh_err_t gh_props_parse_file(const char *path, gh_props_cb *cb, void *opaque,
                             char *errstr, size_t errstr_size);
/* The same over `len` bytes of text in memory (borrowed), named `name` in
 * origins: for a file read once, hashed and parsed from the same bytes. */
gh_err_t gh_props_parse_text(const char *name, const char *text, size_t len,
                             gh_props_cb *cb, void *opaque, char *errstr,
                             size_t errstr_size);

/* Checks that every required property is set. Call after loading. */
gh_err_t gh_conf_check(const gh_conf_t *conf, char *errstr, size_t errstr_size);

/* Whether `key` was set (from a file or an override), not defaulted. */
int gh_conf_is_set(const gh_conf_t *conf, const char *key);

/* The set value, else the default, else NULL. Borrowed from the handle. */
const char *gh_conf_get(const gh_conf_t *conf, const char *key);
long long gh_conf_get_int(const gh_conf_t *conf, const char *key);
int gh_conf_get_bool(const gh_conf_t *conf, const char *key);
/* A list property's value (set or default) split at its commas, each
 * element without surrounding whitespace: a NULL-terminated vector, empty (not
 * NULL) when the key has no value. Owned by the caller, freed with
 * gh_conf_list_free. */
char **gh_conf_get_list(const gh_conf_t *conf, const char *key);
/* Frees a gh_conf_get_list vector; NULL is a no-op. */
void gh_conf_list_free(char **list);

/* Calls cb for every set key starting with prefix, passing the key with the
 * prefix stripped. Strings are borrowed for the duration of the call. */
void gh_conf_foreach_prefix(const gh_conf_t *conf, const char *prefix,
                            void (*cb)(const char *subkey, const char *value,
                                       void *opaque),
                            void *opaque);

/* Table entries shared by the long-running components. */
#define GH_CONF_LOG_FORMAT_PROP                                                \
    {                                                                          \
        "log.format", GH_CONF_ENUM, "text", 0, 0, 0, "text|json", NULL,        \
            "Log lines on stderr: `text` (timestamp, level, component, "       \
            "message) or `json` (one object per line with ts, level, "         \
            "component, msg), for log collectors. When not set: "              \
            "GRIDHUB_LOG_FORMAT from the environment."                         \
    }
#define GH_CONF_LOG_PROPS                                                      \
    {"log.level",                                                              \
     GH_CONF_ENUM,                                                             \
     "info",                                                                   \
     0,                                                                        \
     0,                                                                        \
     0,                                                                        \
     "error|warn|info|debug",                                                  \
     NULL,                                                                     \
     "Log level. When not set: GRIDHUB_LOG_LEVEL from the environment."},      \
        GH_CONF_LOG_FORMAT_PROP
#define GH_CONF_RETRY_PROPS                                                    \
    {"retry.backoff.ms",                                                       \
     GH_CONF_INT,                                                              \
     "500",                                                                    \
     0,                                                                        \
     10,                                                                       \
     600000,                                                                   \
     NULL,                                                                     \
     NULL,                                                                     \
     "First wait before reconnecting to PostgreSQL; doubles per failure."},    \
    {                                                                          \
        "retry.backoff.max.ms", GH_CONF_INT, "10000", 0, 10, 3600000, NULL,    \
            NULL, "Longest wait between reconnection attempts."                \
    }
#define GH_CONF_DLQ_PROP(what)                                                 \
    {                                                                          \
        "dlq.topic", GH_CONF_STR, "gridhub.dlq", 0, 0, 0, NULL, NULL,          \
            "Dead-letter topic for " what "."                                  \
    }
#define GH_CONF_END                                                            \
    { NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL, NULL }

/* Writes a Markdown table of `props` under a `## title` heading. */
void gh_conf_write_doc(FILE *out, const char *title,
                       const gh_conf_prop_t *props);

#endif
