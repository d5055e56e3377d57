#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gridhub/broker.h"
#include "gridhub/log.h"
#include "gridhub/signals.h"

static int write_atomically(const char *path, const char *text) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%s\n", text);
    if (fclose(f)) return -1;
    return rename(tmp, path);
}

static int run(gh_conf_t *conf) {
    char err[512];
    gh_signals_install();
    gh_broker_t *b = gh_broker_new(conf, err, sizeof(err));
    if (!b) {
        gh_log_error("broker", "%s", err);
        return 1;
    }
    const char *bs = gh_broker_bootstraps(b);
    printf("bootstrap.servers=%s\n", bs);
    fflush(stdout);
    const char *file = gh_conf_get(conf, "bootstrap.file");
    if (file && write_atomically(file, bs)) {
        gh_log_error("broker", "cannot write bootstrap.file %s: %s", file,
                     strerror(errno));
        gh_broker_destroy(b);
        return 1;
    }
    gh_log_info("broker",
                "embedded mock cluster listening on %s (in-memory, for demo "
                "and tests only)",
                bs);
    while (!gh_stop_requested())
        usleep(100 * 1000);
    gh_log_info("broker", "stopping");
    gh_broker_destroy(b);
    if (file) unlink(file);
    return 0;
}

const gh_cli_cmd_t gh_cli_broker = {
    "broker", "run the embedded Kafka broker (librdkafka mock cluster)",
    "Prints `bootstrap.servers=...` on stdout once listening. In-memory only; "
    "see docs/operations.md for its limits.",
    gh_broker_props, run};
