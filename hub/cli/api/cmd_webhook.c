/* `gridhub webhook`: subscriber feeds POSTed to the departments' HTTPS
 * endpoints (hub/webhook/webhook.h, docs/api.md "Webhooks"), until
 * stopped. */
#include "cli.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "hub.h"
#include "webhook.h"

static const gh_conf_prop_t props[] = {
    GH_WEBHOOK_PROPS, GH_CONF_INCLUDE_TABLE(gh_hub_props), GH_CONF_END};

static int run(gh_conf_t *conf) {
    char err[1024];
    gh_cli_install_shutdown(conf, "webhook");
    gh_err_t e = GH_OK;
    gh_webhook_t *w = gh_webhook_new(conf, &e, err, sizeof(err));
    if (w) e = gh_webhook_run(w, err, sizeof(err));
    if (e && e != GH_ERR_STOPPED)
        gh_log(e == GH_ERR_TIMED_OUT ? GH_LOG_WARN : GH_LOG_ERROR, "webhook",
               "%s", err);
    else
        gh_log_info("webhook", "stopped");
    gh_webhook_destroy(w);
    return gh_shutdown_exit_code(e);
}

const gh_cli_cmd_t gh_cli_webhook = {
    "webhook",
    "POST subscriber feeds, signed, to the departments' webhooks (offsets in "
    "the hub database)",
    "Example (with the hub's properties file and, in it,\n"
    "webhook.zongzhi.url=https://zongzhi.example/gridhub and\n"
    "webhook.zongzhi.secret.file=/etc/gridhub/zongzhi.webhook.secret):\n"
    "  gridhub webhook -c hub.properties\n"
    "See docs/api.md, \"Webhooks\".",
    props,
    run,
    1,
    NULL};
