#include "cli.h"
#include "connector.h"
#include "gridhub/log.h"
#include "gridhub/signals.h"

static int run(gh_conf_t *conf) {
    char err[2048];
    gh_signals_install();
    gh_err_t e = gh_connector_run(conf, err, sizeof(err));
    if (e == GH_ERR_STOPPED) return 0;
    gh_log_error("connector", "%s: %s", gh_strerror(e), err);
    return 1;
}

const gh_cli_cmd_t gh_cli_connector = {
    "connector",
    "capture a department database's changes (PostgreSQL logical "
    "replication) and publish canonical Avro change events",
    "Example: gridhub connector -c connectors/zongzhi/connector.properties "
    "--bootstrap-servers 127.0.0.1:9092",
    gh_connector_props, run};
