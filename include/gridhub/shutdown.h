/*
 * How every long-running command stops (docs/operations.md, "Stopping").
 *
 * The first SIGINT/SIGTERM (or gh_shutdown_request()) starts the shutdown:
 * loops stop taking new work and try to finish what is in flight within
 * the budget, `shutdown.timeout.ms` counted from that moment. Whatever is
 * not acknowledged by then stays where it is for the next start (Kafka
 * offsets not committed, source LSN not confirmed, outbox rows kept): the
 * state a kill -9 leaves, which every component survives by design, so a
 * bounded stop never loses anything. The component logs one line saying
 * what it left and exits with GH_EXIT_LEFT_WORK.
 *
 * A second SIGINT/SIGTERM ends the process at once by that signal's
 * default action (the shell reports 128 + signal number), with the same
 * guarantee. A watchdog thread ends the process with GH_EXIT_LEFT_WORK
 * if the budget plus GH_SHUTDOWN_GRACE_MS has passed and the process is
 * still there: a call blocked inside a library (libpq waiting on a
 * server that stopped answering) cannot keep it alive.
 */
#ifndef GRIDHUB_SHUTDOWN_H
#define GRIDHUB_SHUTDOWN_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"

/* Exit codes of every gridhub command (listed by each `--help`). */
enum {
    GH_EXIT_OK = 0,        /* done, or stopped with nothing left in flight */
    GH_EXIT_FATAL = 1,     /* an error the command cannot recover from */
    GH_EXIT_USAGE = 2,     /* bad configuration or arguments */
    GH_EXIT_LEFT_WORK = 3, /* stopped before in-flight work was
                              acknowledged; the next start redoes it */
};

/* How long after the budget the watchdog waits before ending the process. */
#define GH_SHUTDOWN_GRACE_MS 1000

/* The property every long-running command has. */
#define GH_SHUTDOWN_TIMEOUT_PROP                                               \
    {                                                                          \
        "shutdown.timeout.ms", GH_CONF_INT, "10000", 0, 0, 3600000, NULL,      \
            NULL,                                                              \
            "On SIGTERM/SIGINT, how long to try to finish in-flight work "     \
            "(deliver, acknowledge, commit) before exiting anyway with exit "  \
            "code 3; what is left is redone at the next start. A second "      \
            "signal exits at once."                                            \
    }

/* Installs the SIGINT/SIGTERM handlers (SIGPIPE is ignored), sets the
 * budget and starts the watchdog thread, from the main thread. A later
 * call only changes the name and the budget: install early with a default,
 * again once the configuration is read. `component` (static string) names
 * the process in the watchdog's log line. */
void gh_shutdown_install(const char *component, int64_t timeout_ms);

/* Blocks every signal in the calling thread, so that the threads it
 * starts meanwhile (libraries' included) leave SIGTERM and SIGINT to the
 * main thread's handling; *old receives the mask to put back with
 * pthread_sigmask(SIG_SETMASK, old, NULL). */
void gh_shutdown_mask_signals(sigset_t *old);

/* pthread_create of a thread that takes no signal (nor do the threads it
 * starts). Returns pthread_create's result. */
int gh_shutdown_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

/* Non-zero once a stop was requested (signal or gh_shutdown_request()). */
int gh_shutdown_requested(void);

/* Requests a stop as a first signal would (tests, commands that end by
 * themselves). Async-signal-safe. */
void gh_shutdown_request(void);

/* Milliseconds left of the budget: INT64_MAX while no stop is requested,
 * then counting down to 0. */
int64_t gh_shutdown_left_ms(void);

/* What the end of the budget keeps for closing clients (a Kafka client
 * whose cluster is down takes a while to leave its group and end its
 * threads): a quarter of it, at most this much. */
#define GH_SHUTDOWN_CLOSE_MAX_MS 2000

/* A stop was requested and the budget, less what it keeps for closing
 * (GH_SHUTDOWN_CLOSE_MAX_MS), is used up: give up what is in flight and
 * leave. Waiting for acknowledgements until the very end of the budget
 * left nothing to close the clients with, and the watchdog, not the
 * component, had the last word. */
int gh_shutdown_expired(void);

/* The smaller of `ms` and what is left of the budget (never negative): the
 * timeout for one blocking call made while stopping. */
int gh_shutdown_clamp_ms(int ms);

/* Sleeps up to ms, returning early when a stop is requested. */
void gh_shutdown_sleep_ms(int ms);

/* The exit code a command returns for the error its run ended with:
 * GH_OK and GH_ERR_STOPPED -> GH_EXIT_OK, GH_ERR_TIMED_OUT ->
 * GH_EXIT_LEFT_WORK, GH_ERR_CONFIG -> GH_EXIT_USAGE, anything else ->
 * GH_EXIT_FATAL. */
int gh_shutdown_exit_code(gh_err_t e);

/* The `--help` paragraph that lists the exit codes of a long-running
 * command. Static string. */
const char *gh_shutdown_exit_help(void);

#endif
