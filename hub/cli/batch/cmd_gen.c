#include "cli.h"
#include "gen.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"

static int run(gh_conf_t *conf) {
    char err[2048];
    gh_cli_install_shutdown(conf, "gen");
    gh_err_t e = gh_gen_run(conf, err, sizeof(err));
    if (!e) return GH_EXIT_OK;
    gh_log_error("gen", "%s: %s", gh_strerror(e), err);
    /* Stopped during the load: nothing of it was committed, and that is
     * work left undone rather than a failure. */
    return e == GH_ERR_STOPPED ? GH_EXIT_LEFT_WORK : gh_shutdown_exit_code(e);
}

const gh_cli_cmd_t gh_cli_gen = {
    "gen",
    "generate a seeded city and write each department's partial, "
    "error-laden copy of it into the five department databases, plus the "
    "ground truth",
    "Example: gridhub gen --preset demo --seed 7 --scale 0.05 "
    "--zongzhi-conninfo 'dbname=zongzhi' ... --truth-file truth.jsonl\n"
    "See docs/generator.md.",
    gh_gen_props,
    run,
    1};
