#include "gridhub/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "gridhub/util.h"

static gh_log_level_t current_level = GH_LOG_INFO;
static gh_log_format_t current_format = GH_LOG_TEXT;
/* The environment is read once, at the first line, unless the command set
 * the level or format from its properties before. */
static int level_set, format_set;

static const char *level_name(gh_log_level_t l) {
    switch (l) {
    case GH_LOG_ERROR:
        return "ERROR";
    case GH_LOG_WARN:
        return "WARN ";
    case GH_LOG_INFO:
        return "INFO ";
    case GH_LOG_DEBUG:
        return "DEBUG";
    }
    return "?    ";
}

static const char *level_json(gh_log_level_t l) {
    switch (l) {
    case GH_LOG_ERROR:
        return "error";
    case GH_LOG_WARN:
        return "warn";
    case GH_LOG_INFO:
        return "info";
    case GH_LOG_DEBUG:
        return "debug";
    }
    return "unknown";
}

int gh_log_level_parse(const char *name, gh_log_level_t *out) {
    static const struct {
        const char *n;
        gh_log_level_t l;
    } t[] = {{"error", GH_LOG_ERROR},
             {"warn", GH_LOG_WARN},
             {"info", GH_LOG_INFO},
             {"debug", GH_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(name, t[i].n) == 0) {
            *out = t[i].l;
            return 0;
        }
    return -1;
}

int gh_log_format_parse(const char *name, gh_log_format_t *out) {
    if (!strcmp(name, "text"))
        *out = GH_LOG_TEXT;
    else if (!strcmp(name, "json"))
        *out = GH_LOG_JSON;
    else
        return -1;
    return 0;
}

void gh_log_set_level(gh_log_level_t level) {
    current_level = level;
    level_set = 1;
}

void gh_log_set_format(gh_log_format_t format) {
    current_format = format;
    format_set = 1;
}

int gh_log_enabled(gh_log_level_t level) {
    if (!level_set) {
        const char *e = getenv("GRIDHUB_LOG_LEVEL");
        gh_log_level_t l;
        if (e && gh_log_level_parse(e, &l) == 0) current_level = l;
        level_set = 1;
    }
    return level <= current_level;
}

static gh_log_format_t format(void) {
    if (!format_set) {
        const char *e = getenv("GRIDHUB_LOG_FORMAT");
        gh_log_format_t f;
        if (e && gh_log_format_parse(e, &f) == 0) current_format = f;
        format_set = 1;
    }
    return current_format;
}

static void timestamp(char out[64]) {
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(tv.tv_usec / 1000));
}

/* {"ts":...,"level":...,"component":...,"msg":...}: the message is
 * escaped whatever bytes it holds (a peer's error text, a truncated
 * multi-byte character at the 2 KiB cut). */
static void put_json(const char *ts, gh_log_level_t level,
                     const char *component, const char *msg) {
    gh_buf_t b = {0};
    gh_buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":", ts,
                  level_json(level));
    gh_buf_json_string(&b, component);
    gh_buf_puts(&b, ",\"msg\":");
    gh_buf_json_string(&b, msg);
    gh_buf_puts(&b, "}\n");
    fputs(b.data, stderr);
    gh_buf_free(&b);
}

void gh_log(gh_log_level_t level, const char *component, const char *fmt, ...) {
    if (!gh_log_enabled(level)) return;
    char ts[64], msg[2048];
    timestamp(ts);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (format() == GH_LOG_JSON) {
        put_json(ts, level, component, msg);
        return;
    }
    char line[2200];
    int n = snprintf(line, sizeof(line), "%s %s %s: %s\n", ts,
                     level_name(level), component, msg);
    if (n < 0) return;
    if ((size_t)n >= sizeof(line)) line[sizeof(line) - 2] = '\n';
    fputs(line, stderr);
}
