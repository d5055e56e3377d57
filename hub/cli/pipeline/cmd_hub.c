#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "hub.h"

static const gh_conf_prop_t props[] = {
    GH_CONF_INCLUDE_TABLE(gh_hub_props),
    {"args", GH_CONF_LIST, NULL, 0, 0, 0, NULL, NULL,
     "None to run the hub; `resnapshot` (with `subscriber`) to queue a "
     "re-send of that subscriber's whole view for the running hub instead, "
     "as `gridhub resync view` does."},
    {"subscriber", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "resnapshot: the subscriber of the policy whose whole view is sent "
     "again."},
    GH_CONF_END};

/* `gridhub hub resnapshot --subscriber S`: the re-snapshot on request
 * (docs/operations.md, "When the broker lost messages"). Anything else
 * given with the words of it is a usage error, never a hub started by
 * mistake. */
static int resnapshot(const gh_conf_t *conf, const char *args,
                      const char *sub) {
    char err[2048];
    gh_err_t e;
    if (!args) {
        e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                      "--subscriber is for `gridhub hub resnapshot "
                      "--subscriber S`; the hub itself sends every "
                      "subscriber's view");
    } else if (strcmp(args, "resnapshot")) {
        /* The bare words as they were typed (the list joins them with
         * commas). */
        char words[512];
        snprintf(words, sizeof(words), "%s", args);
        for (char *c = words; *c; c++)
            if (*c == ',') *c = ' ';
        e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                      "unexpected `%s`: the hub runs without arguments, or "
                      "takes `resnapshot --subscriber S` (see --help)",
                      words);
    } else if (!sub || !*sub)
        e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                      "resnapshot needs --subscriber S: the subscriber whose "
                      "whole view is sent again");
    else
        e = gh_cli_resend_view(conf, sub, err, sizeof(err));
    if (!e) return GH_EXIT_OK;
    fprintf(stderr, "gridhub hub: %s\n", err);
    return gh_cli_exit_code(e);
}

static int run(gh_conf_t *conf) {
    const char *args = gh_conf_get(conf, "args");
    const char *sub = gh_conf_get(conf, "subscriber");
    if ((args && *args) || sub) return resnapshot(conf, args, sub);
    char err[2048];
    gh_cli_install_shutdown(conf, "hub");
    gh_err_t e = gh_hub_run(conf, err, sizeof(err));
    if (e && e != GH_ERR_STOPPED && e != GH_ERR_TIMED_OUT)
        gh_log_error("hub", "%s: %s", gh_strerror(e), err);
    return gh_shutdown_exit_code(e);
}

const gh_cli_cmd_t gh_cli_hub = {
    "hub",
    "resolve department events into golden residents and publish "
    "per-subscriber views through a transactional outbox",
    "Example: gridhub hub -c hub.properties\n"
    "Re-snapshot on request, while the hub runs: gridhub hub resnapshot "
    "--subscriber gongan -c hub.properties queues a re-send of that "
    "subscriber's whole view, which the running hub sends page by page "
    "between its batches (docs/operations.md).",
    props,
    run,
    1};
