/*
 * Internals shared by metrics.c (registry, rendering) and metrics_http.c
 * (the HTTP endpoint); the public contract is gridhub/metrics.h.
 */
#ifndef GH_METRICS_INT_H
#define GH_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gridhub/metrics.h"

typedef struct gh__metrics_figure {
    char *name;
    gh_metrics_family_t *f;
    struct gh__metrics_figure *next;
} gh__metrics_figure_t;

struct gh_metrics {
    /* Guards the lists, state, last error and url; series values are
     * atomics and need no lock. */
    pthread_mutex_t lock;
    char *component, *instance;
    gh_metrics_family_t *families, **families_tail;
    gh__metrics_figure_t *figures, **figures_tail;
    gh_metrics_state_t state;
    int64_t since_us, start_us; /* wall clock */
    char last_error[512];
    int64_t last_error_us;
    atomic_llong progress_ms; /* monotonic; 0: never */
    int64_t start_ms;         /* monotonic */
    /* The built-in families (gh_metrics_new). */
    gh_metrics_family_t *f_state, *f_age;
    /* metrics_http.c */
    struct gh__metrics_http *http;
    char *url;
    char *url_file;
};

/* Stops the HTTP thread and frees it (metrics_http.c). NULL is a no-op. */
void gh__metrics_http_stop(struct gh__metrics_http *h);

#endif
