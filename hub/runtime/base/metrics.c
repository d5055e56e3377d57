#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "metrics_int.h"

typedef enum { COUNTER, GAUGE, HISTOGRAM } kind_t;

struct gh_metrics_series {
    gh_metrics_series_t *next;
    const gh_metrics_family_t *f;
    char **values;     /* one per label name */
    atomic_ullong v;   /* bits of a double: the value, or a histogram's sum */
    atomic_ullong *le; /* histograms: count per bucket (not cumulative),
                          nbounds + 1 with +Inf last */
};

struct gh_metrics_family {
    gh_metrics_family_t *next;
    gh_metrics_t *m;
    char *name, *help;
    kind_t kind;
    char **labels;
    int nlabels;
    double *bounds;
    int nbounds;
    gh_metrics_series_t *series, **tail;
};

_Static_assert(sizeof(double) == sizeof(unsigned long long),
               "doubles are stored as 64-bit atomics");

static unsigned long long bits_of(double d) {
    unsigned long long u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

static double double_of(unsigned long long u) {
    double d;
    memcpy(&d, &u, sizeof(d));
    return d;
}

/* C11 has no atomic add for doubles: compare-and-swap on their bits. */
static void atomic_add_double(atomic_ullong *a, double v) {
    unsigned long long old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(
        a, &old, bits_of(double_of(old) + v), memory_order_relaxed,
        memory_order_relaxed)) {
    }
}

static int64_t mono_ms(void) {
    return gh_now_ms();
}

/* ---- registry -------------------------------------------------------------
 */

static void fatal_name(const char *what, const char *name) {
    gh_log_error("metrics", "invalid %s \"%s\" (a programming error)", what,
                 name);
    abort();
}

static int valid_name(const char *s, int colon) {
    if (!*s || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || (colon && *s == ':')))
            return 0;
    return 1;
}

static gh_metrics_family_t *add_family(gh_metrics_t *m, const char *name,
                                       const char *help, const char *labels,
                                       kind_t kind, const double *bounds,
                                       int nbounds) {
    if (!valid_name(name, 1)) fatal_name("metric name", name);
    gh_metrics_family_t *f = gh_xcalloc(1, sizeof(*f));
    f->m = m;
    f->name = gh_xstrdup(name);
    f->help = gh_xstrdup(help ? help : "");
    f->kind = kind;
    f->tail = &f->series;
    if (labels && *labels) {
        char *copy = gh_xstrdup(labels), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            if (!valid_name(t, 0) || !strcmp(t, "le") || !strncmp(t, "__", 2))
                fatal_name("label name", t);
            f->labels = gh_xrealloc(f->labels,
                                    (size_t)(f->nlabels + 1) * sizeof(char *));
            f->labels[f->nlabels++] = gh_xstrdup(t);
        }
        free(copy);
    }
    if (kind == HISTOGRAM) {
        for (int i = 1; i < nbounds; i++)
            if (!(bounds[i] > bounds[i - 1])) fatal_name("histogram", name);
        f->nbounds = nbounds;
        f->bounds = gh_xcalloc((size_t)nbounds + 1, sizeof(double));
        memcpy(f->bounds, bounds, (size_t)nbounds * sizeof(double));
    }
    pthread_mutex_lock(&m->lock);
    *m->families_tail = f;
    m->families_tail = &f->next;
    pthread_mutex_unlock(&m->lock);
    if (!f->nlabels) gh_metrics_series(f, NULL);
    return f;
}

gh_metrics_family_t *gh_metrics_counter(gh_metrics_t *m, const char *name,
                                        const char *help, const char *labels) {
    return add_family(m, name, help, labels, COUNTER, NULL, 0);
}

gh_metrics_family_t *gh_metrics_gauge(gh_metrics_t *m, const char *name,
                                      const char *help, const char *labels) {
    return add_family(m, name, help, labels, GAUGE, NULL, 0);
}

gh_metrics_family_t *gh_metrics_histogram(gh_metrics_t *m, const char *name,
                                          const char *help, const char *labels,
                                          const double *bounds, int nbounds) {
    return add_family(m, name, help, labels, HISTOGRAM, bounds, nbounds);
}

gh_metrics_t *gh_metrics_new(const char *component, const char *instance) {
    gh_metrics_t *m = gh_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->component = gh_xstrdup(component);
    m->instance = gh_xstrdup(instance ? instance : component);
    m->families_tail = &m->families;
    m->figures_tail = &m->figures;
    m->state = GH_METRICS_STARTING;
    m->start_us = m->since_us = gh_wallclock_us();
    m->start_ms = mono_ms();
    char name[160];
    snprintf(name, sizeof(name), "gridhub_%s_state", component);
    m->f_state = gh_metrics_gauge(
        m, name,
        "1 for the component's current state (starting, running, degraded, "
        "stopping), 0 for the others.",
        "state");
    for (int s = GH_METRICS_STARTING; s <= GH_METRICS_STOPPING; s++)
        gh_metrics_series1(m->f_state, gh_metrics_state_name(s));
    snprintf(name, sizeof(name), "gridhub_%s_start_time_seconds", component);
    gh_metrics_set(
        gh_metrics_series(
            gh_metrics_gauge(m, name, "Start time of the process, Unix time.",
                             NULL),
            NULL),
        (double)m->start_us / 1e6);
    snprintf(name, sizeof(name), "gridhub_%s_progress_age_seconds", component);
    m->f_age = gh_metrics_gauge(
        m, name,
        "Seconds since the component's main loop last turned; grows while it "
        "waits on Kafka or PostgreSQL.",
        NULL);
    snprintf(name, sizeof(name), "gridhub_%s_info", component);
    const char *iv[2] = {GH_VERSION, m->instance};
    gh_metrics_set(
        gh_metrics_series(gh_metrics_gauge(m, name,
                                           "Always 1; the labels say which "
                                           "gridhub version and instance.",
                                           "version,instance"),
                          iv),
        1);
    return m;
}

static void free_series(gh_metrics_series_t *s, int nlabels) {
    for (int i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->le);
    free(s);
}

void gh_metrics_destroy(gh_metrics_t *m) {
    if (!m) return;
    gh__metrics_http_stop(m->http);
    m->http = NULL;
    if (m->url_file) unlink(m->url_file);
    for (gh_metrics_family_t *f = m->families, *fn; f; f = fn) {
        fn = f->next;
        for (gh_metrics_series_t *s = f->series, *sn; s; s = sn) {
            sn = s->next;
            free_series(s, f->nlabels);
        }
        for (int i = 0; i < f->nlabels; i++)
            free(f->labels[i]);
        free(f->labels);
        free(f->bounds);
        free(f->name);
        free(f->help);
        free(f);
    }
    for (gh__metrics_figure_t *g = m->figures, *gn; g; g = gn) {
        gn = g->next;
        free(g->name);
        free(g);
    }
    pthread_mutex_destroy(&m->lock);
    free(m->component);
    free(m->instance);
    free(m->url);
    free(m->url_file);
    free(m);
}

gh_metrics_series_t *gh_metrics_series(gh_metrics_family_t *f,
                                       const char *const *values) {
    if (!f) return NULL;
    gh_metrics_t *m = f->m;
    pthread_mutex_lock(&m->lock);
    gh_metrics_series_t *s;
    for (s = f->series; s; s = s->next) {
        int i = 0;
        while (i < f->nlabels && !strcmp(s->values[i], values[i]))
            i++;
        if (i == f->nlabels) break;
    }
    if (!s) {
        s = gh_xcalloc(1, sizeof(*s));
        s->f = f;
        s->values = gh_xcalloc((size_t)f->nlabels + 1, sizeof(char *));
        for (int i = 0; i < f->nlabels; i++)
            s->values[i] = gh_xstrdup(values[i] ? values[i] : "");
        atomic_init(&s->v, bits_of(0));
        if (f->kind == HISTOGRAM) {
            s->le = gh_xcalloc((size_t)f->nbounds + 1, sizeof(*s->le));
            for (int i = 0; i <= f->nbounds; i++)
                atomic_init(&s->le[i], 0);
        }
        *f->tail = s;
        f->tail = &s->next;
    }
    pthread_mutex_unlock(&m->lock);
    return s;
}

gh_metrics_series_t *gh_metrics_series1(gh_metrics_family_t *f,
                                        const char *value) {
    const char *v[1] = {value};
    return gh_metrics_series(f, v);
}

void gh_metrics_clear(gh_metrics_family_t *f) {
    if (!f) return;
    pthread_mutex_lock(&f->m->lock);
    for (gh_metrics_series_t *s = f->series, *sn; s; s = sn) {
        sn = s->next;
        free_series(s, f->nlabels);
    }
    f->series = NULL;
    f->tail = &f->series;
    pthread_mutex_unlock(&f->m->lock);
}

/* ---- updates --------------------------------------------------------------
 */

void gh_metrics_add(gh_metrics_series_t *s, double v) {
    if (s) atomic_add_double(&s->v, v);
}

void gh_metrics_set(gh_metrics_series_t *s, double v) {
    if (s) atomic_store_explicit(&s->v, bits_of(v), memory_order_relaxed);
}

void gh_metrics_observe(gh_metrics_series_t *s, double v) {
    if (!s || !s->le) return;
    int b = 0;
    while (b < s->f->nbounds && v > s->f->bounds[b])
        b++;
    atomic_fetch_add_explicit(&s->le[b], 1, memory_order_relaxed);
    atomic_add_double(&s->v, v);
}

static double count_of(const gh_metrics_series_t *s) {
    unsigned long long n = 0;
    for (int i = 0; i <= s->f->nbounds; i++)
        n += atomic_load_explicit(&s->le[i], memory_order_relaxed);
    return (double)n;
}

double gh_metrics_value(const gh_metrics_series_t *s) {
    if (!s) return 0;
    if (s->le) return count_of(s);
    return double_of(atomic_load_explicit(&((gh_metrics_series_t *)s)->v,
                                          memory_order_relaxed));
}

double gh_metrics_family_sum(gh_metrics_family_t *f) {
    if (!f) return 0;
    double sum = 0;
    pthread_mutex_lock(&f->m->lock);
    for (gh_metrics_series_t *s = f->series; s; s = s->next)
        sum += gh_metrics_value(s);
    pthread_mutex_unlock(&f->m->lock);
    return sum;
}

/* ---- health ---------------------------------------------------------------
 */

const char *gh_metrics_state_name(gh_metrics_state_t state) {
    switch (state) {
    case GH_METRICS_STARTING:
        return "starting";
    case GH_METRICS_RUNNING:
        return "running";
    case GH_METRICS_DEGRADED:
        return "degraded";
    case GH_METRICS_STOPPING:
        return "stopping";
    }
    return "unknown";
}

static void set_state_locked(gh_metrics_t *m, gh_metrics_state_t state) {
    if (m->state == state) return;
    /* Once stopping, always stopping: a loop's last turns do not undo it. */
    if (m->state == GH_METRICS_STOPPING) return;
    m->state = state;
    m->since_us = gh_wallclock_us();
}

void gh_metrics_set_state(gh_metrics_t *m, gh_metrics_state_t state,
                          const char *error) {
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    set_state_locked(m, state);
    if (error) {
        snprintf(m->last_error, sizeof(m->last_error), "%s", error);
        m->last_error_us = gh_wallclock_us();
    }
    pthread_mutex_unlock(&m->lock);
}

void gh_metrics_progress(gh_metrics_t *m) {
    if (m)
        atomic_store_explicit(&m->progress_ms, mono_ms(), memory_order_relaxed);
}

void gh_metrics_figure(gh_metrics_t *m, const char *name,
                       gh_metrics_family_t *f) {
    gh__metrics_figure_t *g = gh_xcalloc(1, sizeof(*g));
    g->name = gh_xstrdup(name);
    g->f = f;
    pthread_mutex_lock(&m->lock);
    *m->figures_tail = g;
    m->figures_tail = &g->next;
    pthread_mutex_unlock(&m->lock);
}

/* The state to report, with the lock held: a requested stop makes it
 * "stopping"; a running loop that stopped turning is "degraded". *age_s
 * gets the loop's progress age; *stalled is set when that decided it. */
static gh_metrics_state_t current_state(gh_metrics_t *m, double *age_s,
                                        int *stalled) {
    if (gh_shutdown_requested()) set_state_locked(m, GH_METRICS_STOPPING);
    long long p = atomic_load_explicit(&m->progress_ms, memory_order_relaxed);
    *age_s = (double)(mono_ms() - (p ? p : m->start_ms)) / 1000.0;
    *stalled = m->state == GH_METRICS_RUNNING && *age_s > GH_METRICS_STALL_S;
    return *stalled ? GH_METRICS_DEGRADED : m->state;
}

/* ---- rendering ------------------------------------------------------------
 */

/* Numbers as Prometheus and JSON read them: integers exactly, others in
 * the shortest of %.15g / %.17g that reads back equal. */
static void fmt_num(double v, char *out, size_t size, int json) {
    if (isnan(v)) {
        snprintf(out, size, "%s", json ? "null" : "NaN");
    } else if (isinf(v)) {
        snprintf(out, size, "%s", json ? "null" : (v > 0 ? "+Inf" : "-Inf"));
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(out, size, "%lld", (long long)v);
    } else {
        snprintf(out, size, "%.15g", v);
        if (strtod(out, NULL) != v) snprintf(out, size, "%.17g", v);
    }
}

/* A label value or help text: `\` and newline escaped (and `"` for label
 * values), invalid UTF-8 replaced by U+FFFD. */
static void put_escaped(gh_buf_t *b, const char *s, int quote) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int k = gh_utf8_next_z(p, &cp);
        if (k < 0) {
            gh_buf_puts(b, "\xEF\xBF\xBD");
            p++;
            continue;
        }
        if (cp == '\\')
            gh_buf_puts(b, "\\\\");
        else if (cp == '\n')
            gh_buf_puts(b, "\\n");
        else if (cp == '"' && quote)
            gh_buf_puts(b, "\\\"");
        else
            gh_buf_append(b, p, (size_t)k);
        p += k;
    }
}

/* `{a="x",b="y"}` plus an optional le="..." (histogram buckets); nothing
 * when there are no labels at all. */
static void put_labels(gh_buf_t *b, const gh_metrics_family_t *f,
                       const gh_metrics_series_t *s, const char *le) {
    if (!f->nlabels && !le) return;
    gh_buf_puts(b, "{");
    for (int i = 0; i < f->nlabels; i++) {
        gh_buf_printf(b, "%s%s=\"", i ? "," : "", f->labels[i]);
        put_escaped(b, s->values[i], 1);
        gh_buf_puts(b, "\"");
    }
    if (le) gh_buf_printf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    gh_buf_puts(b, "}");
}

static void put_sample(gh_buf_t *b, const gh_metrics_family_t *f,
                       const char *suffix, const gh_metrics_series_t *s,
                       const char *le, double v) {
    char num[64];
    fmt_num(v, num, sizeof(num), 0);
    gh_buf_printf(b, "%s%s", f->name, suffix);
    put_labels(b, f, s, le);
    gh_buf_printf(b, " %s\n", num);
}

static void render_histogram(gh_buf_t *b, const gh_metrics_family_t *f,
                             const gh_metrics_series_t *s) {
    unsigned long long cum = 0;
    char le[64];
    for (int i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&((gh_metrics_series_t *)s)->le[i],
                                    memory_order_relaxed);
        if (i < f->nbounds)
            fmt_num(f->bounds[i], le, sizeof(le), 0);
        else
            snprintf(le, sizeof(le), "+Inf");
        put_sample(b, f, "_bucket", s, le, (double)cum);
    }
    /* _count equals the +Inf bucket even while observations race in. */
    put_sample(b, f, "_sum", s, NULL,
               double_of(atomic_load_explicit(&((gh_metrics_series_t *)s)->v,
                                              memory_order_relaxed)));
    put_sample(b, f, "_count", s, NULL, (double)cum);
}

void gh_metrics_render(gh_metrics_t *m, gh_buf_t *out) {
    static const char *const types[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&m->lock);
    double age;
    int stalled;
    gh_metrics_state_t st = current_state(m, &age, &stalled);
    for (gh_metrics_series_t *s = m->f_state->series; s; s = s->next)
        gh_metrics_set(s, !strcmp(s->values[0], gh_metrics_state_name(st)));
    gh_metrics_set(m->f_age->series, age);
    for (const gh_metrics_family_t *f = m->families; f; f = f->next) {
        gh_buf_printf(out, "# HELP %s ", f->name);
        put_escaped(out, f->help, 0);
        gh_buf_printf(out, "\n# TYPE %s %s\n", f->name, types[f->kind]);
        for (const gh_metrics_series_t *s = f->series; s; s = s->next) {
            if (f->kind == HISTOGRAM)
                render_histogram(out, f, s);
            else
                put_sample(out, f, "", s, NULL, gh_metrics_value(s));
        }
    }
    pthread_mutex_unlock(&m->lock);
}

static void put_time(gh_buf_t *b, int64_t wall_us) {
    time_t t = (time_t)(wall_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    gh_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, (int)(wall_us % 1000000 / 1000));
}

static void put_json_num(gh_buf_t *b, double v) {
    char num[64];
    fmt_num(v, num, sizeof(num), 1);
    gh_buf_puts(b, num);
}

gh_metrics_state_t gh_metrics_health(gh_metrics_t *m, gh_buf_t *out) {
    pthread_mutex_lock(&m->lock);
    double age;
    int stalled;
    gh_metrics_state_t st = current_state(m, &age, &stalled);
    gh_buf_puts(out, "{\"component\":");
    gh_buf_json_string(out, m->component);
    gh_buf_puts(out, ",\"instance\":");
    gh_buf_json_string(out, m->instance);
    gh_buf_printf(out,
                  ",\"version\":\"%s\",\"state\":\"%s\",\"since\":", GH_VERSION,
                  gh_metrics_state_name(st));
    put_time(out, m->since_us);
    gh_buf_puts(out, ",\"uptime_seconds\":");
    put_json_num(out, (double)(mono_ms() - m->start_ms) / 1000.0);
    gh_buf_puts(out, ",\"progress_age_seconds\":");
    put_json_num(out, age);
    gh_buf_puts(out, ",\"reason\":");
    if (stalled) {
        char why[160];
        snprintf(why, sizeof(why),
                 "no progress for %.0f s: waiting on Kafka or PostgreSQL?",
                 age);
        gh_buf_json_string(out, why);
    } else if (st == GH_METRICS_DEGRADED && m->last_error[0]) {
        gh_buf_json_string(out, m->last_error);
    } else {
        gh_buf_puts(out, "null");
    }
    gh_buf_puts(out, ",\"last_error\":");
    if (m->last_error[0]) {
        gh_buf_json_string(out, m->last_error);
        gh_buf_puts(out, ",\"last_error_at\":");
        put_time(out, m->last_error_us);
    } else {
        gh_buf_puts(out, "null,\"last_error_at\":null");
    }
    gh_buf_puts(out, ",\"figures\":{");
    for (gh__metrics_figure_t *g = m->figures; g; g = g->next) {
        double sum = 0;
        for (gh_metrics_series_t *s = g->f->series; s; s = s->next)
            sum += gh_metrics_value(s);
        if (g != m->figures) gh_buf_puts(out, ",");
        gh_buf_json_string(out, g->name);
        gh_buf_puts(out, ":");
        put_json_num(out, sum);
    }
    gh_buf_puts(out, "}}\n");
    pthread_mutex_unlock(&m->lock);
    return st;
}
