#include "gridhub/shutdown.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gridhub/log.h"

/* Read by other threads (the watchdog, libmicrohttpd's), set from a
 * signal handler: a lock-free atomic is both thread- and signal-safe. */
static atomic_int stop_flag;
static volatile sig_atomic_t signals_seen;
/* Monotonic ms of the first stop request. Written before stop_flag, from a
 * signal handler too: lock-free 64-bit atomics are async-signal-safe. */
static atomic_llong stop_at_ms;
static long long budget_ms = 10000;
static const char *component = "gridhub";
static char second_msg[128];
static size_t second_len;

static long long mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gh_shutdown_request(void) {
    if (stop_flag) return;
    atomic_store(&stop_at_ms, mono_ms());
    stop_flag = 1;
}

static void on_signal(int sig) {
    int saved = errno;
    if (signals_seen++ > 0) {
        /* The operator insists: die by the signal itself, which is as safe
         * as kill -9 and what a shell or systemd expects to see. */
        if (second_len) {
            ssize_t w = write(STDERR_FILENO, second_msg, second_len);
            (void)w;
        }
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        raise(sig);
    }
    gh_shutdown_request();
    errno = saved;
}

static void *watchdog(void *arg) {
    (void)arg;
    for (;;) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (!stop_flag) continue;
        long long over = mono_ms() - atomic_load(&stop_at_ms) - budget_ms -
                         GH_SHUTDOWN_GRACE_MS;
        if (over < 0) continue;
        gh_log_error(component,
                     "still running %lld ms after a stop was requested "
                     "(shutdown.timeout.ms=%lld): a call is blocked (an "
                     "unresponsive database or broker?); exiting now, "
                     "everything not acknowledged is redone at the next "
                     "start",
                     budget_ms + GH_SHUTDOWN_GRACE_MS + over, budget_ms);
        _exit(GH_EXIT_LEFT_WORK);
    }
    return NULL;
}

void gh_shutdown_install(const char *name, int64_t timeout_ms) {
    static int installed;
    component = name;
    budget_ms = timeout_ms;
    int n = snprintf(second_msg, sizeof(second_msg),
                     "gridhub %s: second signal: exiting at once (what was "
                     "in flight is redone at the next start)\n",
                     name);
    second_len = n > 0 && (size_t)n < sizeof(second_msg) ? (size_t)n : 0;
    /* Installed once (as early as main can, so that a signal during start-up
     * is a stop request too); later calls only set the name and budget. */
    if (installed++) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The watchdog must not take the signals meant for the main thread. */
    pthread_t t;
    int rc = gh_shutdown_thread_create(&t, watchdog, NULL);
    if (rc == 0)
        pthread_detach(t);
    else
        gh_log_warn(name, "cannot start the shutdown watchdog: %s",
                    strerror(rc));
}

void gh_shutdown_mask_signals(sigset_t *old) {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, old);
}

int gh_shutdown_thread_create(pthread_t *t, void *(*fn)(void *), void *arg) {
    sigset_t old;
    gh_shutdown_mask_signals(&old);
    int rc = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int gh_shutdown_requested(void) {
    return stop_flag != 0;
}

int64_t gh_shutdown_left_ms(void) {
    if (!stop_flag) return INT64_MAX;
    long long left = atomic_load(&stop_at_ms) + budget_ms - mono_ms();
    return left > 0 ? left : 0;
}

int gh_shutdown_expired(void) {
    if (!stop_flag) return 0;
    int64_t keep = budget_ms / 4;
    if (keep > GH_SHUTDOWN_CLOSE_MAX_MS) keep = GH_SHUTDOWN_CLOSE_MAX_MS;
    return gh_shutdown_left_ms() <= keep;
}

int gh_shutdown_clamp_ms(int ms) {
    int64_t left = gh_shutdown_left_ms();
    if (ms < 0) ms = 0;
    return left < ms ? (int)left : ms;
}

void gh_shutdown_sleep_ms(int ms) {
    while (ms > 0 && !stop_flag) {
        int step = ms > 100 ? 100 : ms;
        struct timespec ts = {0, (long)step * 1000 * 1000};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

int gh_shutdown_exit_code(gh_err_t e) {
    switch (e) {
    case GH_OK:
    case GH_ERR_STOPPED:
        return GH_EXIT_OK;
    case GH_ERR_TIMED_OUT:
        return GH_EXIT_LEFT_WORK;
    case GH_ERR_CONFIG:
        return GH_EXIT_USAGE;
    default:
        return GH_EXIT_FATAL;
    }
}

const char *gh_shutdown_exit_help(void) {
    return "Stopping: SIGTERM or SIGINT stops taking new work and finishes "
           "what is in flight for at most shutdown.timeout.ms; a second "
           "signal exits at once. Nothing is lost either way: what was not "
           "acknowledged is redone at the next start.\n\n"
           "Exit status:\n"
           "  0    done, or stopped with nothing left in flight\n"
           "  1    fatal error (the log says what and what to do)\n"
           "  2    bad configuration or arguments\n"
           "  3    stopped after shutdown.timeout.ms with work left for the "
           "next start\n"
           "  128+N  killed by signal N (e.g. 143: a second SIGTERM)";
}
