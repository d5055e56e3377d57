#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gridhub/broker.h"
#include "gridhub/log.h"
#include "gridhub/metrics.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

static volatile sig_atomic_t want_down, want_up;

static void on_usr(int sig) {
    if (sig == SIGUSR1)
        want_down = 1;
    else
        want_up = 1;
}

/* SIGUSR1/SIGUSR2: the outage drill of tests and the demo. */
static void install_drill(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
}

static void drill(gh_broker_t *b) {
    char err[256];
    for (int up = 0; up < 2; up++) {
        volatile sig_atomic_t *want = up ? &want_up : &want_down;
        if (!*want) continue;
        *want = 0;
        if (gh_broker_set_up(b, up, err, sizeof(err)))
            gh_log_error("broker", "%s", err);
        else
            gh_log_warn("broker",
                        up ? "outage drill over: brokers accept connections "
                             "again"
                           : "outage drill: brokers down (connections closed "
                             "and refused, messages kept) until SIGUSR2");
    }
}

static int run(gh_conf_t *conf) {
    char err[512];
    gh_cli_install_shutdown(conf, "broker");
    install_drill();
    /* The embedded broker has no figures worth a metric of its own; its
     * endpoint says whether it is up, for `gridhub status`. */
    gh_metrics_t *m =
        gh_metrics_start(conf, "broker", "broker", err, sizeof(err));
    if (!m) {
        gh_log_error("broker", "%s", err);
        return 1;
    }
    gh_broker_t *b = gh_broker_new(conf, err, sizeof(err));
    if (!b) {
        gh_log_error("broker", "%s", err);
        gh_metrics_destroy(m);
        return 1;
    }
    const char *bs = gh_broker_bootstraps(b);
    printf("bootstrap.servers=%s\n", bs);
    fflush(stdout);
    const char *file = gh_conf_get(conf, "bootstrap.file");
    if (file && gh_write_file_atomic(file, bs)) {
        gh_log_error("broker", "cannot write bootstrap.file %s: %s", file,
                     strerror(errno));
        gh_broker_destroy(b);
        gh_metrics_destroy(m);
        return 1;
    }
    gh_log_info("broker",
                "embedded mock cluster listening on %s (in-memory, for demo "
                "and tests only)",
                bs);
    gh_metrics_set_state(m, GH_METRICS_RUNNING, NULL);
    while (!gh_shutdown_requested()) {
        gh_metrics_progress(m);
        usleep(100 * 1000);
        drill(b);
    }
    gh_log_info("broker", "stopping");
    gh_broker_destroy(b);
    gh_metrics_destroy(m);
    if (file) unlink(file);
    return 0;
}

const gh_cli_cmd_t gh_cli_broker = {
    "broker",
    "run the embedded Kafka broker (librdkafka mock cluster)",
    "Prints `bootstrap.servers=...` on stdout once listening. In-memory only; "
    "see docs/operations.md for its limits.\n"
    "Outage drill: SIGUSR1 takes every broker down (connections closed and "
    "refused, messages kept), SIGUSR2 brings them back.",
    gh_broker_props,
    run,
    1};
