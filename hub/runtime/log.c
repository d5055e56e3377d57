#include "gridhub/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static gh_log_level_t current_level = GH_LOG_INFO;
static int env_checked;

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

void gh_log_set_level(gh_log_level_t level) {
    current_level = level;
    env_checked = 1;
}

int gh_log_enabled(gh_log_level_t level) {
    if (!env_checked) {
        const char *e = getenv("GRIDHUB_LOG_LEVEL");
        gh_log_level_t l;
        if (e && gh_log_level_parse(e, &l) == 0) current_level = l;
        env_checked = 1;
    }
    return level <= current_level;
}

void gh_log(gh_log_level_t level, const char *component, const char *fmt, ...) {
    if (!gh_log_enabled(level)) return;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    int n = snprintf(
        line, sizeof(line),
        "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s: ", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        (int)(tv.tv_usec / 1000), level_name(level), component);
    if (n < 0) return;
    va_list ap;
    va_start(ap, fmt);
    if ((size_t)n < sizeof(line))
        vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    if (len + 1 < sizeof(line)) {
        line[len] = '\n';
        line[len + 1] = '\0';
    } else {
        line[sizeof(line) - 2] = '\n';
    }
    fputs(line, stderr);
}
