/* `gridhub grid`: the shared grid hierarchy as the hub keeps it — one
 * grid with its roster and counts, the 1+1+N check, the issues listed for
 * stewards (hub/grid/grid.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "grid.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"
#include "hub.h"

static const gh_conf_prop_t props[] = {
    {"args", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "The verb and its operand, given as bare words: show CODE | check | "
     "recount | issues | household H...|P... | building CODE|DEPT:KEY."},
    GH_CONF_INCLUDE_TABLE(gh_hub_props),
    GH_CONF_END};

static int run(gh_conf_t *conf) {
    char err[2048];
    const char *args = gh_conf_get(conf, "args");
    char *copy = gh_xstrdup(args), *save = NULL;
    const char *verb = strtok_r(copy, ",", &save);
    const char *operand = strtok_r(NULL, ",", &save);
    const char *extra = strtok_r(NULL, ",", &save);
    int show = verb && !strcmp(verb, "show");
    int hh = verb && !strcmp(verb, "household");
    int bld = verb && !strcmp(verb, "building");
    if (!verb || extra || (show || hh || bld) != !!operand ||
        (!show && !hh && !bld && strcmp(verb, "check") &&
         strcmp(verb, "recount") && strcmp(verb, "issues"))) {
        fprintf(stderr,
                "gridhub grid: expected show CODE, check, recount, issues, "
                "household ID or building ID, got \"%s\" (see --help)\n",
                args);
        free(copy);
        return 2;
    }
    PGconn *db = gh_pg_connect(gh_conf_get(conf, "database.conninfo"), 0, err,
                               sizeof(err));
    if (!db) {
        gh_log_error("grid", "%s", err);
        free(copy);
        return 1;
    }
    long n = 0;
    gh_err_t e = show ? gh_grid_show(db, stdout, operand, err, sizeof(err))
                 : hh ? gh_grid_household(db, stdout, operand, err, sizeof(err))
                 : bld ? gh_grid_building(db, stdout, operand, err, sizeof(err))
                 : !strcmp(verb, "check")
                     ? gh_grid_check(db, stdout, &n, err, sizeof(err))
                 : !strcmp(verb, "recount")
                     ? gh_grid_recount(db, stdout, &n, err, sizeof(err))
                     : gh_grid_issues(db, stdout, &n, err, sizeof(err));
    PQfinish(db);
    int rc = 0;
    if (e) {
        fprintf(stderr, "gridhub grid %s: %s\n", verb, err);
        rc = e == GH_ERR_NOT_FOUND ? 2 : 1;
    } else if ((!strcmp(verb, "check") || !strcmp(verb, "recount")) && n) {
        rc = 3; /* grids fail 1+1+N, or counts differ: scripts can tell */
    }
    free(copy);
    return rc;
}

const gh_cli_cmd_t gh_cli_grid = {
    "grid",
    "the shared grid hierarchy: one grid with its staff roster and counts, "
    "the 1+1+N check, the division disagreements listed for stewards, a "
    "household or building across departments",
    "Examples (with the hub's properties file):\n"
    "  gridhub grid show LP-DT-01 -c hub.properties\n"
    "  gridhub grid check -c hub.properties\n"
    "  gridhub grid recount -c hub.properties\n"
    "  gridhub grid issues -c hub.properties\n"
    "  gridhub grid household P000000042 -c hub.properties\n"
    "  gridhub grid building zongzhi:FW0010301 -c hub.properties\n"
    "See docs/grid.md.",
    props,
    run,
    0,
    "Exit status: 0 done; 1 failed (database); 2 bad arguments or no such "
    "grid; 3 (check) some grids fail 1+1+N."};
