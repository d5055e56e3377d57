/*
 * The `gridhub` command line: one binary, one subcommand per component.
 * Every subcommand is configured by properties: `-c FILE` loads a
 * properties file, `-X key=value` and `--key-name value` (dashes become
 * dots: --bootstrap-servers sets bootstrap.servers) override it.
 */
#ifndef GH_CLI_H
#define GH_CLI_H

#include "gridhub/conf.h"

typedef struct gh_cli_cmd {
    const char *name;
    const char *summary;
    const char *usage; /* extra text for --help, may be NULL */
    const gh_conf_prop_t *props;
    /* Runs with a loaded, checked configuration; returns the exit code
     * (GH_EXIT_* of gridhub/shutdown.h). */
    int (*run)(gh_conf_t *conf);
    /* Runs until stopped: has shutdown.timeout.ms and the stop/exit-status
     * section in --help (gh_shutdown_exit_help). Others list 0/1/2. */
    int long_running;
    /* The exit status section of --help, if not the usual 0/1/2 (may be
     * NULL). */
    const char *exit_help;
} gh_cli_cmd_t;

/* For long-running commands: installs the shutdown handlers with the
 * command's shutdown.timeout.ms (see gridhub/shutdown.h). */
void gh_cli_install_shutdown(const gh_conf_t *conf, const char *name);

extern const gh_cli_cmd_t gh_cli_broker;
extern const gh_cli_cmd_t gh_cli_connector;
extern const gh_cli_cmd_t gh_cli_hub;
extern const gh_cli_cmd_t gh_cli_tail;
extern const gh_cli_cmd_t gh_cli_gen;
extern const gh_cli_cmd_t gh_cli_resolve;
extern const gh_cli_cmd_t gh_cli_steward;
extern const gh_cli_cmd_t gh_cli_resync;
extern const gh_cli_cmd_t gh_cli_status;
extern const gh_cli_cmd_t gh_cli_policy;
extern const gh_cli_cmd_t gh_cli_audit;
extern const gh_cli_cmd_t gh_cli_keys;
extern const gh_cli_cmd_t gh_cli_grid;
extern const gh_cli_cmd_t gh_cli_token;
extern const gh_cli_cmd_t gh_cli_api;
extern const gh_cli_cmd_t gh_cli_webhook;

/* Queues a re-send of subscriber `sub`'s whole view in the hub database
 * that `conf` (the hub's properties, borrowed) names; the running hub sends
 * it page by page between its batches (`gridhub resync view`, `gridhub hub
 * resnapshot`). GH_ERR_INVALID_ARG, with errstr, for a subscriber the
 * policy does not have or the hub has not materialized yet. */
gh_err_t gh_cli_resend_view(const gh_conf_t *conf, const char *sub,
                            char *errstr, size_t errstr_size);

/* The exit code of a finished command: GH_EXIT_OK for GH_OK,
 * GH_EXIT_USAGE for a bad argument or configuration, GH_EXIT_FATAL for the
 * rest. */
int gh_cli_exit_code(gh_err_t e);

/* Applies log.level and log.format: the property if set, else
 * GRIDHUB_LOG_LEVEL / GRIDHUB_LOG_FORMAT, else the property's default. */
void gh_cli_apply_log(const gh_conf_t *conf);

#endif
