/* `gridhub keys`: the hub's encryption keys (docs/encryption.md) —
 * generate a key file, rotate to a new key re-sealing the database while
 * hubs run, and count what each key seals. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypt.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

static const gh_conf_prop_t props[] = {
    {"args", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "The verb, as a bare word: generate | rotate | status."},
    {"crypt.key.file", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "The key file (the hub's crypt.key.file): written by generate, a key "
     "added by rotate."},
    {"database.conninfo", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "rotate, status: the hub's database."},
    {"passes", GH_CONF_INT, "10", 0, 1, 1000, NULL, NULL,
     "rotate: passes over the database at most; done when one finds no "
     "value under an older key."},
    {"add", GH_CONF_BOOL, "true", 0, 0, 0, NULL, NULL,
     "rotate: add a new key and make it active first (false: re-seal under "
     "the active key only, e.g. to finish an interrupted rotation)."},
    GH_SHUTDOWN_TIMEOUT_PROP,
    GH_CONF_END};

static int run(gh_conf_t *conf) {
    char err[4096];
    const char *verb = gh_conf_get(conf, "args");
    const char *kf = gh_conf_get(conf, "crypt.key.file");
    gh_err_t e = GH_OK;
    PGconn *db = NULL;
    gh_crypt_t *c = NULL;
    int gen = !strcmp(verb, "generate"), rot = !strcmp(verb, "rotate"),
        st = !strcmp(verb, "status");
    if (!gen && !rot && !st)
        e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                      "expected generate, rotate or status (see --help)");
    if (!e && !gen) {
        const char *ci = gh_conf_get(conf, "database.conninfo");
        if (!ci)
            e = gh_seterr(err, sizeof(err), GH_ERR_INVALID_ARG,
                          "%s needs --database-conninfo", verb);
        else if (!(db = gh_pg_connect(ci, 0, err, sizeof(err))))
            e = GH_ERR_PG_CONNECT;
    }
    if (!e && gen) {
        if (!(e = gh_crypt_generate(kf, err, sizeof(err))))
            printf("wrote %s (mode 0600): key k1, active, and the index "
                   "key; back it up\n",
                   kf);
    } else if (!e && st) {
        e = gh_crypt_count_db(db, stdout, err, sizeof(err));
    } else if (!e && rot) {
        gh_cli_install_shutdown(conf, "keys");
        char kid[GH_CRYPT_KID_MAX + 1] = "";
        if (gh_conf_get_bool(conf, "add")) {
            e = gh_crypt_add_key(kf, kid, err, sizeof(err));
            if (!e)
                gh_log_info("keys",
                            "%s: key %s added and active; hubs "
                            "re-read the file within "
                            "policy.check.interval.ms",
                            kf, kid);
        }
        if (!e && !(c = gh_crypt_new(kf, err, sizeof(err)))) e = GH_ERR_CONFIG;
        long rows = 0;
        if (!e) {
            snprintf(kid, sizeof(kid), "%s", gh_crypt_active(c));
            e = gh_crypt_rotate_db(c, db, kid,
                                   (int)gh_conf_get_int(conf, "passes"), &rows,
                                   err, sizeof(err));
        }
        if (!e)
            printf("rotated: every sealed value is now under key %s (%ld "
                   "rows re-sealed); older keys stay in %s until removed by "
                   "hand\n",
                   kid, rows, kf);
    }
    gh_crypt_destroy(c);
    PQfinish(db);
    if (!e) return GH_EXIT_OK;
    fprintf(stderr, "gridhub keys: %s\n", err);
    if (e == GH_ERR_STOPPED) return GH_EXIT_OK;
    return gh_cli_exit_code(e);
}

const gh_cli_cmd_t gh_cli_keys = {
    "keys",
    "encryption keys of the hub database: generate, rotate (re-seals "
    "online), status",
    "  gridhub keys generate --crypt-key-file hub.keys\n"
    "  gridhub keys rotate --crypt-key-file hub.keys --database-conninfo ...\n"
    "  gridhub keys status --crypt-key-file hub.keys --database-conninfo ...\n"
    "rotate adds a key, makes it active and re-seals every value under it "
    "while hubs run; it can be stopped and run again (--add false). "
    "Keys are read from the file only, never from arguments or logs. "
    "Details: docs/encryption.md.",
    props,
    run,
    0,
    NULL};
