#include "cli.h"
#include "connector.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"

static int run(gh_conf_t *conf) {
    char err[2048];
    gh_cli_install_shutdown(conf, "connector");
    gh_err_t e = gh_connector_run(conf, err, sizeof(err));
    if (e && e != GH_ERR_STOPPED && e != GH_ERR_TIMED_OUT)
        gh_log_error("connector", "%s: %s", gh_strerror(e), err);
    return gh_shutdown_exit_code(e);
}

const gh_cli_cmd_t gh_cli_connector = {
    "connector",
    "capture a department database's changes (PostgreSQL logical "
    "replication) and publish canonical Avro change events",
    "Example: gridhub connector -c connectors/zongzhi/connector.properties "
    "--bootstrap-servers 127.0.0.1:9092",
    gh_connector_props,
    run,
    1};
