/*
 * Logging: one line per event on stderr, as text
 *   2026-11-28T03:04:05.123Z INFO  connector: message
 * or, with log.format=json, as one JSON object per line
 *   {"ts":"2026-11-28T03:04:05.123Z","level":"info","component":"connector",
 *    "msg":"message"}
 * whose strings are always valid JSON and valid UTF-8 (invalid bytes in a
 * message become U+FFFD), for log collectors. Level names follow syslog.
 *
 * The level and the format are set once at start-up: from the command's
 * log.level / log.format properties when given, else from the environment
 * (GRIDHUB_LOG_LEVEL, GRIDHUB_LOG_FORMAT), else the defaults (info, text).
 * Logging is thread-safe because each line is written with a single fputs
 * on an unbuffered stream.
 */
#ifndef GRIDHUB_LOG_H
#define GRIDHUB_LOG_H

typedef enum gh_log_level {
    GH_LOG_ERROR = 3,
    GH_LOG_WARN = 4,
    GH_LOG_INFO = 6,
    GH_LOG_DEBUG = 7,
} gh_log_level_t;

typedef enum gh_log_format {
    GH_LOG_TEXT = 0,
    GH_LOG_JSON = 1,
} gh_log_format_t;

void gh_log_set_level(gh_log_level_t level);
/* Returns 0 and sets *out for "error|warn|info|debug", -1 otherwise. */
int gh_log_level_parse(const char *name, gh_log_level_t *out);
int gh_log_enabled(gh_log_level_t level);

void gh_log_set_format(gh_log_format_t format);
/* Returns 0 and sets *out for "text|json", -1 otherwise. */
int gh_log_format_parse(const char *name, gh_log_format_t *out);

void gh_log(gh_log_level_t level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define gh_log_error(c, ...) gh_log(GH_LOG_ERROR, c, __VA_ARGS__)
#define gh_log_warn(c, ...) gh_log(GH_LOG_WARN, c, __VA_ARGS__)
#define gh_log_info(c, ...) gh_log(GH_LOG_INFO, c, __VA_ARGS__)
#define gh_log_debug(c, ...)                                                   \
    do {                                                                       \
        if (gh_log_enabled(GH_LOG_DEBUG))                                      \
            gh_log(GH_LOG_DEBUG, c, __VA_ARGS__);                              \
    } while (0)

#endif
