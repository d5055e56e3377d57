#include "cli.h"
#include "gen.h"
#include "gridhub/log.h"
#include "gridhub/signals.h"

static int run(gh_conf_t *conf) {
    char err[2048];
    gh_signals_install();
    gh_err_t e = gh_gen_run(conf, err, sizeof(err));
    if (!e) return 0;
    gh_log_error("gen", "%s: %s", gh_strerror(e), err);
    return 1;
}

const gh_cli_cmd_t gh_cli_gen = {
    "gen",
    "generate a seeded city and write each department's partial, "
    "error-laden copy of it into the five department databases, plus the "
    "ground truth",
    "Example: gridhub gen --preset demo --seed 7 --scale 0.05 "
    "--zongzhi-conninfo 'dbname=zongzhi' ... --truth-file truth.jsonl\n"
    "See docs/generator.md.",
    gh_gen_props, run};
