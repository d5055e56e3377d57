/*
 * Metrics and health of a long-running component, for operators
 * (docs/operations.md, "Metrics and health").
 *
 * A registry (gh_metrics_t) per process holds families of counters,
 * gauges and histograms, each family a name, a help text and label names,
 * each series one set of label values. gh_metrics_render() writes them in
 * the Prometheus text exposition format 0.0.4; gh_metrics_health() writes a
 * small JSON summary: component, state (starting|running|degraded|
 * stopping), since when, the last error and the component's key figures.
 * gh_metrics_serve() (metrics_http.c) serves both over HTTP from a thread
 * of its own, as GET /metrics and GET /health.
 *
 * Threads: the component's thread updates while the HTTP thread reads.
 * Updates are lock-free atomics on a series handle looked up once
 * (gh_metrics_series), so a hook in a hot loop costs a few nanoseconds;
 * registering, looking up and rendering take the registry's mutex.
 * Every update function accepts a NULL series and does nothing.
 *
 * Names follow Prometheus practice: gridhub_<component>_<what>_<unit>,
 * counters end in _total, units are base units in the name (_bytes,
 * _seconds, _messages, _rows). Label values may be any string: they are
 * escaped when rendered, invalid UTF-8 becoming U+FFFD.
 */
#ifndef GRIDHUB_METRICS_H
#define GRIDHUB_METRICS_H

#include "gridhub/conf.h"
#include "gridhub/error.h"
#include "gridhub/util.h"

typedef struct gh_metrics gh_metrics_t;
typedef struct gh_metrics_family gh_metrics_family_t;
typedef struct gh_metrics_series gh_metrics_series_t;

typedef enum gh_metrics_state {
    GH_METRICS_STARTING, /* connecting, migrating, taking a snapshot */
    GH_METRICS_RUNNING,  /* doing its work */
    GH_METRICS_DEGRADED, /* retrying after an error, or its loop stalled */
    GH_METRICS_STOPPING, /* a stop was requested (gridhub/shutdown.h) */
} gh_metrics_state_t;

/* A loop that has not called gh_metrics_progress() for this long while
 * running is reported as degraded (waiting on Kafka or PostgreSQL). */
#define GH_METRICS_STALL_S 60

/* Creates a registry for `component` ("hub", "connector", ...: the second
 * word of every metric name) and `instance` (the connector's name, or the
 * component again). Registers the families every component has:
 * gridhub_<component>_state{state}, _start_time_seconds,
 * _progress_age_seconds and _info{version,instance}. Strings are copied.
 * Never returns NULL. */
gh_metrics_t *gh_metrics_new(const char *component, const char *instance);
/* Stops serving (bounded, see gh_metrics_serve) and frees every family and
 * series. NULL is a no-op. */
void gh_metrics_destroy(gh_metrics_t *m);

/* Registers a family and returns its handle, borrowed from the registry.
 * `name` must be a valid metric name and `labels` NULL (no labels) or
 * comma-separated label names ("topic,partition"); an invalid name is a
 * programming error and aborts. A family without labels has its one series
 * (value 0) from the start. `bounds` (histograms): the buckets' upper
 * bounds, increasing, copied; +Inf is implicit. */
gh_metrics_family_t *gh_metrics_counter(gh_metrics_t *m, const char *name,
                                        const char *help, const char *labels);
gh_metrics_family_t *gh_metrics_gauge(gh_metrics_t *m, const char *name,
                                      const char *help, const char *labels);
gh_metrics_family_t *gh_metrics_histogram(gh_metrics_t *m, const char *name,
                                          const char *help, const char *labels,
                                          const double *bounds, int nbounds);

/* The series of `f` with these label values (one string per label name;
 * NULL for a family without labels), created with value 0 at first use.
 * Borrowed: valid until gh_metrics_clear(f) or gh_metrics_destroy(). */
gh_metrics_series_t *gh_metrics_series(gh_metrics_family_t *f,
                                       const char *const *values);
/* Shorthand for a family with exactly one label. */
gh_metrics_series_t *gh_metrics_series1(gh_metrics_family_t *f,
                                        const char *value);
/* Removes every series of `f` (e.g. partitions no longer assigned before
 * the current ones are set again). Handles to them become invalid: only
 * for families whose series are looked up at each update. */
void gh_metrics_clear(gh_metrics_family_t *f);

/* Counters and gauges: adds v (a counter's v must be >= 0). */
void gh_metrics_add(gh_metrics_series_t *s, double v);
static inline void gh_metrics_inc(gh_metrics_series_t *s) {
    gh_metrics_add(s, 1);
}
/* Gauges; and counters mirroring a total kept elsewhere (never
 * decreasing). */
void gh_metrics_set(gh_metrics_series_t *s, double v);
/* Histograms: records one observation. */
void gh_metrics_observe(gh_metrics_series_t *s, double v);
/* A counter's or gauge's value, a histogram's count; 0 for NULL. */
double gh_metrics_value(const gh_metrics_series_t *s);
/* The sum of gh_metrics_value over the family's series. */
double gh_metrics_family_sum(gh_metrics_family_t *f);

/* Health. The state's "since" is when it last changed; `error` (may be
 * NULL, copied) becomes the last error, kept after the state recovers. A
 * requested stop overrides the state as "stopping". */
void gh_metrics_set_state(gh_metrics_t *m, gh_metrics_state_t state,
                          const char *error);
/* Called by the component's loop whenever it turns: the HTTP side tells a
 * stalled loop (see GH_METRICS_STALL_S) from a live one. Cheap. */
void gh_metrics_progress(gh_metrics_t *m);
/* Adds a key figure to /health: `name` (copied; units in the name, e.g.
 * "slot_lag_bytes") is the sum of the family's series. */
void gh_metrics_figure(gh_metrics_t *m, const char *name,
                       gh_metrics_family_t *f);
/* "starting", "running", "degraded" or "stopping". */
const char *gh_metrics_state_name(gh_metrics_state_t state);

/* Appends the Prometheus text exposition (format 0.0.4) of every family. */
void gh_metrics_render(gh_metrics_t *m, gh_buf_t *out);
/* Appends the health document: {"component", "instance", "version",
 * "state", "since", "uptime_seconds", "progress_age_seconds", "reason"
 * (why degraded, else null), "last_error", "last_error_at", "figures":
 * {name: number}}, and returns the state it reports. */
gh_metrics_state_t gh_metrics_health(gh_metrics_t *m, gh_buf_t *out);

/* ---- HTTP (metrics_http.c) ---------------------------------------------- */

/* Validator of `metrics.listen` (gh_conf_validate_cb): empty, or
 * host:port with host an IPv4 address, [IPv6 address] or localhost and
 * port 0..65535 (0: any free port, see metrics.listen.file). */
int gh_metrics_validate_listen(const char *key, const char *value, char *errstr,
                               size_t errstr_size);

/* The properties every long-running command has. */
#define GH_METRICS_PROPS                                                       \
    {"metrics.listen",                                                         \
     GH_CONF_STR,                                                              \
     "",                                                                       \
     0,                                                                        \
     0,                                                                        \
     0,                                                                        \
     NULL,                                                                     \
     gh_metrics_validate_listen,                                               \
     "host:port on which to serve GET /metrics (Prometheus text format) and "  \
     "GET /health (JSON), e.g. `127.0.0.1:9464`; port 0 picks a free one. "    \
     "Empty: no endpoint (the figures are still logged)."},                    \
        {"metrics.listen.file",                                                \
         GH_CONF_STR,                                                          \
         NULL,                                                                 \
         0,                                                                    \
         0,                                                                    \
         0,                                                                    \
         NULL,                                                                 \
         NULL,                                                                 \
         "Once listening, write the endpoint's URL (`http://host:port`) to "   \
         "this file (replaced atomically, removed at exit): how scripts find " \
         "a port chosen with port 0."},                                        \
    {                                                                          \
        "metrics.refresh.ms", GH_CONF_INT, "5000", 0, 100, 3600000, NULL,      \
            NULL,                                                              \
            "How often figures that cost a query are refreshed (replication "  \
            "slot lag, outbox backlog, consumer lag)."                         \
    }

/* Starts serving m on `listen` (see gh_metrics_validate_listen) from an
 * HTTP thread that never blocks the caller's loop. Serving stops in
 * gh_metrics_destroy(), within a few milliseconds: requests are answered
 * from memory. GH_ERR_IO with errstr if the address cannot be bound. */
gh_err_t gh_metrics_serve(gh_metrics_t *m, const char *listen, char *errstr,
                          size_t errstr_size);
/* "http://host:port" once serving (the real port when 0 was asked), else
 * NULL. Borrowed from m. */
const char *gh_metrics_url(const gh_metrics_t *m);

/* For commands: gh_metrics_new(), then, if the table's metrics.listen is
 * set, gh_metrics_serve() and the metrics.listen.file. NULL with errstr on
 * failure (the address is taken, the file cannot be written). */
gh_metrics_t *gh_metrics_start(const gh_conf_t *conf, const char *component,
                               const char *instance, char *errstr,
                               size_t errstr_size);

#endif
