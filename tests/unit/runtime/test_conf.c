/*
 * Unit tests of the properties configuration (include/gridhub/conf.h,
 * hub/runtime/base/conf.c) and of the kafka.* passthrough validator
 * (include/gridhub/kafka.h). No servers: every file is a temporary file.
 *
 * The contract under test: every error names the origin (file:line or the
 * -X origin) and the key, e.g.
 *   /tmp/x.properties:7: batch.max.messages: "abc" is not an integer
 */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/conf.h"
#include "gridhub/kafka.h"

TestSuite(conf, .timeout = 30);

static int reject_forbidden(const char *key, const char *value, char *errstr,
                            size_t errstr_size) {
    if (strstr(value, "forbidden")) {
        snprintf(errstr, errstr_size, "value of %s may not say forbidden", key);
        return -1;
    }
    return 0;
}

/* A table shaped like a component's: one property of every type. */
static const gh_conf_prop_t props[] = {
    {"name", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL, "Required name."},
    GH_KAFKA_CONF_PROPS,
    {"batch.max.messages", GH_CONF_INT, "1000", 0, 1, 1000000, NULL, NULL,
     "Most messages per batch."},
    {"offset", GH_CONF_INT, "-5", 0, -10, 10, NULL, NULL, "Signed range."},
    {"enabled", GH_CONF_BOOL, "true", 0, 0, 0, NULL, NULL, "A switch."},
    {"log.level", GH_CONF_ENUM, "info", 0, 0, 0, "error|warn|info|debug", NULL,
     "Log level."},
    {"topics", GH_CONF_LIST, "a,b", 0, 0, 0, NULL, NULL, "A list."},
    {"secret", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL, "No default."},
    {"checked", GH_CONF_STR, "ok", 0, 0, 0, NULL, reject_forbidden,
     "Extra validator."},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL}};

/* ---- helpers --------------------------------------------------------------
 */

typedef struct tmpfile {
    char path[64];
} tmpfile_t;

/* Writes a temporary properties file; the caller unlinks it. */
static tmpfile_t write_props(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static tmpfile_t write_props(const char *fmt, ...) {
    tmpfile_t t;
    snprintf(t.path, sizeof(t.path), "/tmp/gh_conf_test_XXXXXX");
    int fd = mkstemp(t.path);
    cr_assert(fd >= 0, "mkstemp");
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    cr_assert_eq(fclose(f), 0);
    return t;
}

/* Loads `text` as a file into a fresh handle; returns the error code and
 * leaves the message in err and the path in *t (unlinked already). */
static gh_err_t load_text(gh_conf_t *c, const char *text, char *err,
                          size_t errsz, tmpfile_t *t) {
    *t = write_props("%s", text);
    err[0] = '\0';
    gh_err_t e = gh_conf_load_file(c, t->path, err, errsz);
    unlink(t->path);
    return e;
}

/* Asserts that loading `text` fails with GH_ERR_CONFIG and a message that
 * starts with "<path>:<line>: <key>: " and contains every `needles` string
 * (NULL-terminated). */
static void expect_file_error(const char *text, int line, const char *key,
                              const char *const *needles) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024];
    tmpfile_t t;
    gh_err_t e = load_text(c, text, err, sizeof(err), &t);
    cr_assert_eq(e, GH_ERR_CONFIG,
                 "loading %s gave %d (%s), expected GH_ERR_CONFIG", text, e,
                 err);
    char want[256];
    snprintf(want, sizeof(want), "%s:%d: %s: ", t.path, line, key);
    cr_assert(strncmp(err, want, strlen(want)) == 0,
              "error \"%s\" should start with \"%s\"", err, want);
    for (int i = 0; needles && needles[i]; i++)
        cr_assert(strstr(err, needles[i]), "error \"%s\" should mention \"%s\"",
                  err, needles[i]);
    gh_conf_destroy(c);
}

/* Asserts that gh_conf_set(origin "-X") rejects key=value with a message
 * "-X: <key>: ..." containing `needle`, and keeps the earlier value. */
static void expect_set_error(const char *key, const char *value,
                             const char *needle) {
    gh_conf_t *c = gh_conf_new("test", props);
    const char *before = gh_conf_get(c, key);
    char *keep = before ? strdup(before) : NULL;
    char err[1024] = "";
    gh_err_t e = gh_conf_set(c, "-X", key, value, err, sizeof(err));
    cr_assert_eq(e, GH_ERR_CONFIG, "-X %s=%s gave %d (%s)", key, value, e, err);
    char want[256];
    snprintf(want, sizeof(want), "-X: %s: ", key);
    cr_assert(strncmp(err, want, strlen(want)) == 0,
              "error \"%s\" should start with \"%s\"", err, want);
    if (needle)
        cr_assert(strstr(err, needle), "error \"%s\" should mention \"%s\"",
                  err, needle);
    const char *after = gh_conf_get(c, key);
    cr_assert((keep == NULL && after == NULL) ||
                  (keep && after && strcmp(keep, after) == 0),
              "a rejected value must not be stored (%s -> %s)",
              keep ? keep : "(null)", after ? after : "(null)");
    free(keep);
    gh_conf_destroy(c);
}

static void expect_set_ok(gh_conf_t *c, const char *key, const char *value) {
    char err[1024] = "";
    gh_err_t e = gh_conf_set(c, "-X", key, value, err, sizeof(err));
    cr_assert_eq(e, GH_OK, "-X %s=%s rejected: %s", key, value, err);
    cr_assert_str_eq(gh_conf_get(c, key), value);
}

/* ---- unknown keys ---------------------------------------------------------
 */

Test(conf, unknown_key_names_file_line_key_and_suggests) {
    const char *n[] = {"unknown property", "did you mean batch.max.messages",
                       NULL};
    expect_file_error("name=a\n# comment\nbatch.max.mesages=5\n", 3,
                      "batch.max.mesages", n);
}

Test(conf, unknown_key_suggests_for_a_typo_at_the_end) {
    const char *n[] = {"did you mean log.level", NULL};
    expect_file_error("log.levl=debug\n", 1, "log.levl", n);
}

Test(conf, unknown_key_without_a_near_name_has_no_suggestion) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024];
    tmpfile_t t;
    cr_assert_eq(load_text(c, "zzz=1\n", err, sizeof(err), &t), GH_ERR_CONFIG);
    cr_assert(strstr(err, ":1: zzz: unknown property"), "%s", err);
    cr_assert_null(strstr(err, "did you mean"), "%s", err);
    gh_conf_destroy(c);
}

Test(conf, unknown_key_from_command_line) {
    expect_set_error("nosuch.key", "1", "unknown property for test");
    /* The bare prefix is not a property: kafka. needs a name after it. */
    expect_set_error("kafka.", "1", "unknown property");
}

/* ---- typed values ---------------------------------------------------------
 */

Test(conf, bad_int_names_file_line_key) {
    const char *n[] = {"\"abc\"", "not an integer", NULL};
    expect_file_error("name=a\nbatch.max.messages=abc\n", 2,
                      "batch.max.messages", n);
    const char *n2[] = {"\"12x\"", "not an integer", NULL};
    expect_file_error("batch.max.messages=12x\n", 1, "batch.max.messages", n2);
    const char *n3[] = {"not an integer", NULL};
    expect_file_error("\n\nbatch.max.messages=\n", 3, "batch.max.messages", n3);
    const char *n4[] = {"not an integer", NULL};
    expect_file_error("batch.max.messages=99999999999999999999999\n", 1,
                      "batch.max.messages", n4);
    expect_set_error("batch.max.messages", "1.5", "not an integer");
}

Test(conf, int_out_of_range_names_file_line_key_and_range) {
    const char *n[] = {"0", "out of range", "[1, 1000000]", NULL};
    expect_file_error("batch.max.messages=0\n", 1, "batch.max.messages", n);
    const char *n2[] = {"1000001", "out of range", NULL};
    expect_file_error("name=x\nbatch.max.messages=1000001\n", 2,
                      "batch.max.messages", n2);
    const char *n3[] = {"-11", "[-10, 10]", NULL};
    expect_file_error("offset=-11\n", 1, "offset", n3);
    expect_set_error("offset", "11", "out of range");
}

Test(conf, int_range_bounds_are_inclusive) {
    gh_conf_t *c = gh_conf_new("test", props);
    expect_set_ok(c, "batch.max.messages", "1");
    cr_assert_eq(gh_conf_get_int(c, "batch.max.messages"), 1);
    expect_set_ok(c, "batch.max.messages", "1000000");
    cr_assert_eq(gh_conf_get_int(c, "batch.max.messages"), 1000000);
    expect_set_ok(c, "offset", "-10");
    cr_assert_eq(gh_conf_get_int(c, "offset"), -10);
    expect_set_ok(c, "offset", "10");
    gh_conf_destroy(c);
}

Test(conf, bad_bool_names_file_line_key) {
    const char *n[] = {"\"yes\"", "true or false", NULL};
    expect_file_error("name=a\nenabled=yes\n", 2, "enabled", n);
    const char *n2[] = {"true or false", NULL};
    expect_file_error("enabled=1\n", 1, "enabled", n2);
    expect_set_error("enabled", "", "true or false");
    gh_conf_t *c = gh_conf_new("test", props);
    expect_set_ok(c, "enabled", "false");
    cr_assert_eq(gh_conf_get_bool(c, "enabled"), 0);
    expect_set_ok(c, "enabled", "true");
    cr_assert_eq(gh_conf_get_bool(c, "enabled"), 1);
    gh_conf_destroy(c);
}

Test(conf, bad_enum_names_file_line_key_and_choices) {
    const char *n[] = {"\"verbose\"", "error|warn|info|debug", NULL};
    expect_file_error("name=a\n\nlog.level=verbose\n", 3, "log.level", n);
    /* Neither a prefix of a symbol nor two symbols nor empty is a symbol. */
    expect_set_error("log.level", "inf", "not one of");
    expect_set_error("log.level", "info|warn", "not one of");
    expect_set_error("log.level", "", "not one of");
    expect_set_error("log.level", "INFO", "not one of");
    gh_conf_t *c = gh_conf_new("test", props);
    expect_set_ok(c, "log.level", "error");
    expect_set_ok(c, "log.level", "debug");
    gh_conf_destroy(c);
}

Test(conf, empty_list_element_names_file_line_key) {
    const char *n[] = {"empty element", "\"a,,b\"", NULL};
    expect_file_error("name=a\ntopics=a,,b\n", 2, "topics", n);
    const char *n2[] = {"empty element", NULL};
    expect_file_error("topics=a, ,b\n", 1, "topics", n2);
    expect_file_error("topics=a,b,\n", 1, "topics", n2);
    expect_file_error("topics=,a\n", 1, "topics", n2);
    expect_set_error("topics", "", "empty element");
    gh_conf_t *c = gh_conf_new("test", props);
    expect_set_ok(c, "topics", "x");
    expect_set_ok(c, "topics", "x, y ,z");
    gh_conf_destroy(c);
}

Test(conf, validator_callback_runs_and_is_named) {
    const char *n[] = {"may not say forbidden", NULL};
    expect_file_error("checked=this is forbidden\n", 1, "checked", n);
    gh_conf_t *c = gh_conf_new("test", props);
    expect_set_ok(c, "checked", "allowed");
    gh_conf_destroy(c);
}

/* ---- required, duplicates, file syntax ------------------------------------
 */

Test(conf, missing_required_key_is_named) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    cr_assert_eq(gh_conf_check(c, err, sizeof(err)), GH_ERR_CONFIG);
    cr_assert(strstr(err, "name"), "%s", err);
    cr_assert(strstr(err, "required"), "%s", err);

    expect_set_ok(c, "name", "n");
    err[0] = '\0';
    cr_assert_eq(gh_conf_check(c, err, sizeof(err)), GH_ERR_CONFIG);
    cr_assert(strstr(err, "bootstrap.servers"),
              "after name, bootstrap.servers is missing: %s", err);

    expect_set_ok(c, "bootstrap.servers", "127.0.0.1:9092");
    err[0] = '\0';
    cr_assert_eq(gh_conf_check(c, err, sizeof(err)), GH_OK, "%s", err);
    gh_conf_destroy(c);
}

Test(conf, duplicate_key_in_one_file_is_rejected) {
    const char *n[] = {"twice", NULL};
    expect_file_error("name=a\nenabled=true\nname=b\n", 3, "name", n);
    /* Whitespace does not make it a different key. */
    expect_file_error("name=a\n  name  =  a\n", 2, "name", n);
}

Test(conf, same_key_in_two_files_and_on_the_command_line_overrides) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    tmpfile_t t;
    cr_assert_eq(load_text(c, "name=first\nbatch.max.messages=5\n", err,
                           sizeof(err), &t),
                 GH_OK, "%s", err);
    cr_assert_eq(load_text(c, "name=second\n", err, sizeof(err), &t), GH_OK,
                 "%s", err);
    cr_assert_str_eq(gh_conf_get(c, "name"), "second");
    expect_set_ok(c, "batch.max.messages", "7");
    cr_assert_eq(gh_conf_get_int(c, "batch.max.messages"), 7);
    gh_conf_destroy(c);
}

Test(conf, comments_blank_lines_and_trimming) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    tmpfile_t t;
    gh_err_t e = load_text(c,
                           "# a comment\n"
                           "! also a comment\n"
                           "\n"
                           "   \t \n"
                           "   # indented comment with key=value\n"
                           "  name   =   spaced value  \n"
                           "secret=a=b#c!d\n"
                           "checked=windows\r\n"
                           "log.level = debug",
                           err, sizeof(err), &t);
    cr_assert_eq(e, GH_OK, "%s", err);
    cr_assert_str_eq(gh_conf_get(c, "name"), "spaced value");
    /* Only whole lines are comments; '=' splits once. */
    cr_assert_str_eq(gh_conf_get(c, "secret"), "a=b#c!d");
    cr_assert_str_eq(gh_conf_get(c, "checked"), "windows");
    /* A last line without a newline still counts. */
    cr_assert_str_eq(gh_conf_get(c, "log.level"), "debug");
    gh_conf_destroy(c);
}

Test(conf, line_without_equals_names_file_line) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    tmpfile_t t;
    cr_assert_eq(
        load_text(c, "name=a\n\njust some words\n", err, sizeof(err), &t),
        GH_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: ", t.path);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
    cr_assert(strstr(err, "key=value"), "%s", err);

    cr_assert_eq(load_text(c, "=value\n", err, sizeof(err), &t), GH_ERR_CONFIG);
    cr_assert(strstr(err, ":1: "), "%s", err);
    gh_conf_destroy(c);
}

/* A NUL byte cut the line short without a word: "name=a\0b" read as
 * name=a (fuzz_props, tests/fuzz/crashes/props/nul-in-value). */
Test(conf, nul_byte_in_a_line_names_file_line) {
    static const char text[] = "log.level=warn\nname=a\0b\n";
    tmpfile_t t = write_props("%s", "");
    FILE *f = fopen(t.path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
    cr_assert_eq(fclose(f), 0);
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    cr_assert_eq(gh_conf_load_file(c, t.path, err, sizeof(err)), GH_ERR_CONFIG);
    unlink(t.path);
    char want[128];
    snprintf(want, sizeof(want), "%s:2: NUL byte", t.path);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
    cr_assert_null(gh_conf_get(c, "name"));
    gh_conf_destroy(c);
}

Test(conf, missing_file_is_named) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    cr_assert_eq(
        gh_conf_load_file(c, "/nonexistent/gh/x.properties", err, sizeof(err)),
        GH_ERR_CONFIG);
    cr_assert(strstr(err, "/nonexistent/gh/x.properties"), "%s", err);
    gh_conf_destroy(c);
}

/* A directory opened and read as an empty file. */
Test(conf, directory_is_not_an_empty_file) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    cr_assert_eq(gh_conf_load_file(c, "/", err, sizeof(err)), GH_ERR_CONFIG);
    cr_assert(strstr(err, "/: cannot read"), "%s", err);
    gh_conf_destroy(c);
}

Test(conf, first_error_stops_loading) {
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    tmpfile_t t;
    cr_assert_eq(
        load_text(c, "name=a\nenabled=maybe\nsecret=s\n", err, sizeof(err), &t),
        GH_ERR_CONFIG);
    cr_assert(strstr(err, ":2: enabled: "), "%s", err);
    cr_assert_str_eq(gh_conf_get(c, "name"), "a");
    cr_assert_null(gh_conf_get(c, "secret"), "line 3 must not be applied");
    gh_conf_destroy(c);
}

/* ---- ${env:NAME} ----------------------------------------------------------
 */

Test(conf, env_expansion) {
    setenv("GH_CONF_TEST_SECRET", "s3cr3t", 1);
    setenv("GH_CONF_TEST_N", "42", 1);
    setenv("GH_CONF_TEST_EMPTY", "", 1);
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    tmpfile_t t;
    gh_err_t e = load_text(c,
                           "secret=pre-${env:GH_CONF_TEST_SECRET}-"
                           "${env:GH_CONF_TEST_N}-post\n"
                           "batch.max.messages=${env:GH_CONF_TEST_N}\n"
                           "name=x${env:GH_CONF_TEST_EMPTY}y\n",
                           err, sizeof(err), &t);
    cr_assert_eq(e, GH_OK, "%s", err);
    cr_assert_str_eq(gh_conf_get(c, "secret"), "pre-s3cr3t-42-post");
    cr_assert_eq(gh_conf_get_int(c, "batch.max.messages"), 42);
    cr_assert_str_eq(gh_conf_get(c, "name"), "xy");
    gh_conf_destroy(c);
}

Test(conf, env_unset_variable_names_file_line_key_and_variable) {
    unsetenv("GH_CONF_TEST_UNSET");
    const char *n[] = {"GH_CONF_TEST_UNSET", "not set", NULL};
    expect_file_error("name=a\nsecret=${env:GH_CONF_TEST_UNSET}\n", 2, "secret",
                      n);
    const char *n2[] = {"unterminated", NULL};
    expect_file_error("secret=${env:GH_CONF_TEST_UNSET\n", 1, "secret", n2);
}

Test(conf, env_expanded_value_is_validated) {
    setenv("GH_CONF_TEST_BAD", "abc", 1);
    const char *n[] = {"\"abc\"", "not an integer", NULL};
    expect_file_error("batch.max.messages=${env:GH_CONF_TEST_BAD}\n", 1,
                      "batch.max.messages", n);
}

/* A secret on the command line: -X secret=${env:NAME} is expanded like a
 * file's value, so the secret itself never appears in the process list. */
Test(conf, env_expansion_on_the_command_line) {
    setenv("GH_CONF_TEST_CLI_SECRET", "pw-from-env", 1);
    unsetenv("GH_CONF_TEST_CLI_UNSET");
    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    cr_assert_eq(gh_conf_set_expanded(c, "command line", "secret",
                                      "p=${env:GH_CONF_TEST_CLI_SECRET}", err,
                                      sizeof(err)),
                 GH_OK, "%s", err);
    cr_assert_str_eq(gh_conf_get(c, "secret"), "p=pw-from-env");
    cr_assert_eq(gh_conf_set_expanded(c, "command line", "secret",
                                      "${env:GH_CONF_TEST_CLI_UNSET}", err,
                                      sizeof(err)),
                 GH_ERR_CONFIG);
    cr_assert(strstr(err, "command line") && strstr(err, "secret") &&
                  strstr(err, "GH_CONF_TEST_CLI_UNSET"),
              "%s", err);
    gh_conf_destroy(c);
}

/* ---- defaults and -X ------------------------------------------------------
 */

Test(conf, defaults_are_returned_when_unset) {
    gh_conf_t *c = gh_conf_new("test", props);
    cr_assert_str_eq(gh_conf_get(c, "batch.max.messages"), "1000");
    cr_assert_eq(gh_conf_get_int(c, "batch.max.messages"), 1000);
    cr_assert_eq(gh_conf_get_int(c, "offset"), -5);
    cr_assert_eq(gh_conf_get_bool(c, "enabled"), 1);
    cr_assert_str_eq(gh_conf_get(c, "log.level"), "info");
    cr_assert_str_eq(gh_conf_get(c, "topics"), "a,b");
    cr_assert_null(gh_conf_get(c, "secret"));
    cr_assert_null(gh_conf_get(c, "name"));
    cr_assert_null(gh_conf_get(c, "no.such.key"));
    cr_assert_null(gh_conf_get(c, "kafka.linger.ms"));
    cr_assert_eq(gh_conf_get_int(c, "secret"), 0);
    cr_assert_eq(gh_conf_get_bool(c, "secret"), 0);
    /* A set value hides the default. */
    expect_set_ok(c, "batch.max.messages", "3");
    cr_assert_eq(gh_conf_get_int(c, "batch.max.messages"), 3);
    gh_conf_destroy(c);
    gh_conf_destroy(NULL);
}

Test(conf, set_from_dash_x_origin) {
    gh_conf_t *c = gh_conf_new("test", props);
    expect_set_ok(c, "name", "from -X");
    expect_set_error("batch.max.messages", "abc", "\"abc\" is not an integer");
    expect_set_error("enabled", "on", "true or false");
    /* Without an origin, the message names the component instead. */
    char err[1024] = "";
    cr_assert_eq(gh_conf_set(c, NULL, "enabled", "on", err, sizeof(err)),
                 GH_ERR_CONFIG);
    cr_assert(strncmp(err, "test: enabled: ", 15) == 0, "%s", err);
    gh_conf_destroy(c);
}

/* ---- kafka.* passthrough --------------------------------------------------
 */

static void collect(const char *subkey, const char *value, void *opaque) {
    char *buf = opaque;
    size_t l = strlen(buf);
    snprintf(buf + l, 512 - l, "%s=%s;", subkey, value);
}

Test(conf, kafka_passthrough_is_validated_by_librdkafka) {
    const char *n[] = {"linger.ms", NULL};
    expect_file_error("name=a\nkafka.linger.ms=abc\n", 2, "kafka.linger.ms", n);
    const char *n2[] = {"no.such.property", NULL};
    expect_file_error("kafka.no.such.property=1\n", 1, "kafka.no.such.property",
                      n2);
    expect_set_error("kafka.linger.ms", "abc", "linger.ms");

    gh_conf_t *c = gh_conf_new("test", props);
    char err[1024] = "";
    tmpfile_t t;
    cr_assert_eq(load_text(c,
                           "kafka.linger.ms=10\n"
                           "kafka.client.rack=r1\n"
                           "bootstrap.servers=127.0.0.1:1\n",
                           err, sizeof(err), &t),
                 GH_OK, "%s", err);
    cr_assert_str_eq(gh_conf_get(c, "kafka.linger.ms"), "10");
    char seen[512] = "";
    gh_conf_foreach_prefix(c, "kafka.", collect, seen);
    cr_assert_str_eq(seen, "linger.ms=10;client.rack=r1;");

    /* The operator's kafka.* wins over the component's defaults. */
    const char *defaults[] = {"linger.ms", "5", "acks", "all", NULL};
    rd_kafka_conf_t *kc = gh_kafka_conf_new(c, defaults, err, sizeof(err));
    cr_assert_not_null(kc, "%s", err);
    char v[64];
    size_t vl = sizeof(v);
    cr_assert_eq(rd_kafka_conf_get(kc, "linger.ms", v, &vl), RD_KAFKA_CONF_OK);
    cr_assert_str_eq(v, "10");
    vl = sizeof(v);
    cr_assert_eq(rd_kafka_conf_get(kc, "client.rack", v, &vl),
                 RD_KAFKA_CONF_OK);
    cr_assert_str_eq(v, "r1");
    vl = sizeof(v);
    cr_assert_eq(rd_kafka_conf_get(kc, "bootstrap.servers", v, &vl),
                 RD_KAFKA_CONF_OK);
    cr_assert_str_eq(v, "127.0.0.1:1");
    rd_kafka_conf_destroy(kc);
    gh_conf_destroy(c);
}

Test(conf, kafka_managed_properties_are_rejected) {
    const char *n[] = {"enable.idempotence", "managed", NULL};
    expect_file_error("kafka.enable.idempotence=false\n", 1,
                      "kafka.enable.idempotence", n);
    expect_set_error("kafka.enable.idempotence", "false", "managed");
    expect_set_error("kafka.enable.auto.commit", "true", "managed");
    expect_set_error("kafka.enable.auto.offset.store", "true", "managed");
    expect_set_error("kafka.bootstrap.servers", "h:1", "managed");
}

/* ---- the generic reader and the docs --------------------------------------
 */

typedef struct seen_lines {
    char text[512];
    int stop_at; /* stop with an error on this call number (1-based) */
    int calls;
} seen_lines_t;

static gh_err_t record_cb(const char *origin, const char *key,
                          const char *value, void *opaque, char *errstr,
                          size_t errstr_size) {
    seen_lines_t *s = opaque;
    s->calls++;
    const char *colon = strrchr(origin, ':');
    size_t l = strlen(s->text);
    snprintf(s->text + l, sizeof(s->text) - l, "%s%s=%s;", colon, key, value);
    if (s->calls == s->stop_at)
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING, "%s: %s: stop",
                         origin, key);
    return GH_OK;
}

Test(conf, props_parse_file_reports_origin_per_line) {
    setenv("GH_CONF_TEST_V", "vv", 1);
    tmpfile_t t = write_props("# header\n\nanything.goes = 1\n"
                              "x=${env:GH_CONF_TEST_V}\n! bang\ny=\n");
    seen_lines_t s = {.stop_at = 0};
    char err[512] = "";
    cr_assert_eq(gh_props_parse_file(t.path, record_cb, &s, err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_assert_str_eq(s.text, ":3anything.goes=1;:4x=vv;:6y=;");

    seen_lines_t s2 = {.stop_at = 2};
    cr_assert_eq(gh_props_parse_file(t.path, record_cb, &s2, err, sizeof(err)),
                 GH_ERR_MAPPING);
    cr_assert_eq(s2.calls, 2, "parsing must stop at the callback's error");
    char want[128];
    snprintf(want, sizeof(want), "%s:4: x: stop", t.path);
    cr_assert_str_eq(err, want);
    unlink(t.path);
}

Test(conf, write_doc_lists_every_property) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    gh_conf_write_doc(f, "test", props);
    fclose(f);
    cr_assert(strstr(buf, "## test\n"), "%s", buf);
    cr_assert(strstr(buf, "| `name` | string |  |  | **Required.** Required "
                          "name. |"),
              "%s", buf);
    cr_assert(strstr(buf, "| `batch.max.messages` | integer | `1000` | 1 .. "
                          "1000000 |"),
              "%s", buf);
    cr_assert(strstr(buf, "| `kafka.*` | prefix |"), "%s", buf);
    cr_assert(strstr(buf, "| `log.level` | enum | `info` | "
                          "error|warn|info|debug |"),
              "%s", buf);
    free(buf);
}

/* A list property read as a vector: the default, then a set value with
 * spaces around its elements. */
Test(conf, list_split_at_commas_without_spaces) {
    gh_conf_t *c = gh_conf_new("test", props);
    char **l = gh_conf_get_list(c, "topics");
    cr_assert_not_null(l);
    cr_assert_str_eq(l[0], "a");
    cr_assert_str_eq(l[1], "b");
    cr_assert_null(l[2]);
    gh_conf_list_free(l);
    char err[256];
    cr_assert_eq(gh_conf_set(c, "-X", "topics", " x ,y,  z", err, sizeof(err)),
                 GH_OK, "%s", err);
    l = gh_conf_get_list(c, "topics");
    cr_assert_str_eq(l[0], "x");
    cr_assert_str_eq(l[1], "y");
    cr_assert_str_eq(l[2], "z");
    cr_assert_null(l[3]);
    gh_conf_list_free(l);
    l = gh_conf_get_list(c, "secret");
    cr_assert_not_null(l, "no value: an empty vector, not NULL");
    cr_assert_null(l[0]);
    gh_conf_list_free(l);
    gh_conf_list_free(NULL);
    gh_conf_destroy(c);
}
