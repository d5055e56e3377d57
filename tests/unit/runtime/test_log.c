/* gh_log: text and JSON lines (log.format), escaping and UTF-8 validity
 * whatever a message holds, the environment fallback; gh_buf_json_string.
 * Each Criterion test runs in its own process, so the log settings of one
 * do not leak into another. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/log.h"
#include "gridhub/util.h"

/* Runs fn with stderr sent to a file; returns what it wrote. */
static char *capture(void (*fn)(void)) {
    char path[] = "/tmp/gh-test-log.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    char *text = gh_read_file(path, NULL);
    unlink(path);
    cr_assert_not_null(text);
    return text;
}

static json_t *parse_line(const char *line) {
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    cr_assert_not_null(o, "not JSON (%s): %s", je.text, line);
    return o;
}

static void log_some(void) {
    gh_log_info("hub", "applied %d", 3);
    gh_log_debug("hub", "not shown at info");
    gh_log_warn("connector", "dead letter (public.zz_syrk): bad \"code\"");
}

Test(log, text_lines) {
    gh_log_set_level(GH_LOG_INFO);
    char *t = capture(log_some);
    regex_t re;
    cr_assert_eq(regcomp(&re,
                         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{"
                         "2}\\.[0-9]{3}Z INFO  hub: applied 3\n"
                         "[0-9TZ:.-]+ WARN  connector: dead letter "
                         "\\(public.zz_syrk\\): bad \"code\"\n$",
                         REG_EXTENDED | REG_NOSUB),
                 0);
    cr_assert_eq(regexec(&re, t, 0, NULL, 0), 0, "%s", t);
    regfree(&re);
    free(t);
}

Test(log, json_lines) {
    gh_log_set_level(GH_LOG_INFO);
    gh_log_set_format(GH_LOG_JSON);
    char *t = capture(log_some);
    char *nl = strchr(t, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    json_t *a = parse_line(t);
    json_t *b = parse_line(nl + 1);
    cr_assert_str_eq(json_string_value(json_object_get(a, "level")), "info");
    cr_assert_str_eq(json_string_value(json_object_get(a, "component")), "hub");
    cr_assert_str_eq(json_string_value(json_object_get(a, "msg")), "applied 3");
    const char *ts = json_string_value(json_object_get(a, "ts"));
    cr_assert(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z', "%s",
              ts);
    cr_assert_str_eq(json_string_value(json_object_get(b, "level")), "warn");
    cr_assert_str_eq(json_string_value(json_object_get(b, "msg")),
                     "dead letter (public.zz_syrk): bad \"code\"");
    cr_assert_eq(json_object_size(a), 4, "ts, level, component, msg");
    json_decref(a);
    json_decref(b);
    free(t);
}

static void log_hostile(void) {
    /* What a department's row or a peer's error can put in a message. */
    gh_log_error("connector",
                 "row 张三\t\"q\"\\ \x01 end\nsecond line \xff\xc3( \xe4\xb8");
}

Test(log, json_escapes_and_repairs_utf8) {
    gh_log_set_format(GH_LOG_JSON);
    char *t = capture(log_hostile);
    cr_assert_eq(strchr(t, '\n'), t + strlen(t) - 1, "one line: %s", t);
    json_t *o = parse_line(t);
    cr_assert_str_eq(json_string_value(json_object_get(o, "msg")),
                     "row 张三\t\"q\"\\ \x01 end\nsecond line \xEF\xBF\xBD"
                     "\xEF\xBF\xBD( \xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(o);
    /* The raw text is escaped as JSON asks: no control byte survives. */
    for (const char *p = t; *p && p < t + strlen(t) - 1; p++)
        cr_assert((unsigned char)*p >= 0x20, "control byte in %s", t);
    cr_assert(strstr(t, "\\t\\\"q\\\"\\\\ \\u0001 end\\nsecond"), "%s", t);
    free(t);
}

static void log_long(void) {
    char big[5000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    gh_log_info("hub", "%s", big);
}

Test(log, long_messages_are_cut_but_stay_one_line) {
    gh_log_set_format(GH_LOG_JSON);
    char *t = capture(log_long);
    cr_assert_eq(strchr(t, '\n'), t + strlen(t) - 1);
    json_t *o = parse_line(t);
    cr_assert_eq(strlen(json_string_value(json_object_get(o, "msg"))), 2047);
    json_decref(o);
    free(t);
    gh_log_set_format(GH_LOG_TEXT);
    t = capture(log_long);
    cr_assert_eq(strchr(t, '\n'), t + strlen(t) - 1);
    free(t);
}

Test(log, format_from_the_environment) {
    setenv("GRIDHUB_LOG_FORMAT", "json", 1);
    char *t = capture(log_some);
    cr_assert_eq(t[0], '{', "%s", t);
    free(t);
}

Test(log, explicit_format_beats_the_environment) {
    setenv("GRIDHUB_LOG_FORMAT", "json", 1);
    gh_log_set_format(GH_LOG_TEXT);
    char *t = capture(log_some);
    cr_assert_neq(t[0], '{', "%s", t);
    free(t);
}

Test(log, parse_names) {
    gh_log_format_t f;
    cr_assert_eq(gh_log_format_parse("json", &f), 0);
    cr_assert_eq(f, GH_LOG_JSON);
    cr_assert_eq(gh_log_format_parse("text", &f), 0);
    cr_assert_eq(f, GH_LOG_TEXT);
    cr_assert_eq(gh_log_format_parse("JSON", &f), -1);
}

Test(log, buf_json_string) {
    gh_buf_t b = {0};
    gh_buf_json_string(&b, "a\"b\\c\r\n\x7f\x1f 中");
    cr_assert_str_eq(b.data, "\"a\\\"b\\\\c\\r\\n\\u007f\\u001f 中\"");
    gh_buf_reset(&b);
    /* Overlong, surrogate and out-of-range sequences are invalid too. */
    gh_buf_json_string(&b, "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|ok");
    json_error_t je;
    json_t *s = json_loads(b.data, JSON_DECODE_ANY, &je);
    cr_assert_not_null(s, "%s: %s", je.text, b.data);
    cr_assert(strstr(json_string_value(s), "|ok"));
    cr_assert_null(strchr(json_string_value(s), '\xc0'));
    json_decref(s);
    gh_buf_free(&b);
}
