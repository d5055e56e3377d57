#include "cli.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "hub.h"

static int run(gh_conf_t *conf) {
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
    "Example: gridhub hub -c hub.properties",
    gh_hub_props,
    run,
    1};
