#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gridhub/log.h"
#include "gridhub/util.h"
#include "hub.h"
#include "steward.h"

/* The hub's own properties (so `-c hub.properties` works as is) plus the
 * verb's arguments and the decision's who and why. */
static const gh_conf_prop_t props[] = {
    {"args", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "The verb and its operands, given as bare words: list | show ITEM|PERSON "
     "| merge ITEM|P1 P2 | keep-apart ITEM|P1 P2 | split PERSON "
     "DEPT:KEY... | choose ITEM VALUE | choose PERSON FIELD VALUE."},
    {"reason", GH_CONF_STR, "", 0, 0, 0, NULL, NULL,
     "Why (required for merge, keep-apart, split and choose)."},
    {"by", GH_CONF_STR, "", 0, 0, 0, NULL, NULL,
     "Who decides (recorded with the decision); defaults to $USER."},
    {"status", GH_CONF_ENUM, "open", 0, 0, 0, "open|resolved|obsolete", NULL,
     "list: items of this status."},
    {"kind", GH_CONF_STR, "", 0, 0, 0, NULL, NULL,
     "list: only items of this kind (possible_duplicate, shared_id, two_ids, "
     "attribute_conflict)."},
    {"limit", GH_CONF_INT, "50", 0, 1, 100000, NULL, NULL,
     "list: most items shown."},
    GH_CONF_INCLUDE_TABLE(gh_hub_props),
    GH_CONF_END};

static char **split_args(const char *s, int *n) {
    char *copy = gh_xstrdup(s), *save = NULL;
    char **v = gh_xcalloc(strlen(s) + 2, sizeof(char *));
    *n = 0;
    for (char *t = strtok_r(copy, ",", &save); t;
         t = strtok_r(NULL, ",", &save))
        v[(*n)++] = gh_xstrdup(t);
    free(copy);
    return v;
}

static int is_item(const char *s) {
    return *s && strspn(s, "0123456789") == strlen(s);
}

static gh_err_t act(gh_steward_t *s, const gh_conf_t *conf, char **a, int n,
                    char *err, size_t errsz) {
    const char *verb = a[0], *by = gh_conf_get(conf, "by"),
               *why = gh_conf_get(conf, "reason");
    if (!by || !*by) by = getenv("USER");
    char pa[32], pb[32], field[32];
    if (!strcmp(verb, "list"))
        return gh_steward_list(
            s, stdout, gh_conf_get(conf, "status"), gh_conf_get(conf, "kind"),
            (long)gh_conf_get_int(conf, "limit"), err, errsz);
    if (!strcmp(verb, "show") && n == 2)
        return gh_steward_show(s, stdout, a[1], err, errsz);
    int pair = !strcmp(verb, "merge") || !strcmp(verb, "keep-apart");
    if (pair && (n == 2 || n == 3)) {
        const char *item = NULL;
        if (n == 2) {
            gh_err_t e =
                gh_steward_item_persons(s, a[1], pa, pb, field, err, errsz);
            if (e) return e;
            if (!pb[0])
                return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                                 "item %s is about one person: use choose",
                                 a[1]);
            item = a[1];
        } else {
            snprintf(pa, sizeof(pa), "%s", a[1]);
            snprintf(pb, sizeof(pb), "%s", a[2]);
        }
        return !strcmp(verb, "merge")
                   ? gh_steward_merge(s, stdout, item, pa, pb, by, why, err,
                                      errsz)
                   : gh_steward_keep_apart(s, stdout, item, pa, pb, by, why,
                                           err, errsz);
    }
    if (!strcmp(verb, "split") && n >= 3)
        return gh_steward_split(s, stdout, a[1], (const char *const *)a + 2,
                                n - 2, by, why, err, errsz);
    if (!strcmp(verb, "choose") && n == 3 && is_item(a[1])) {
        gh_err_t e =
            gh_steward_item_persons(s, a[1], pa, pb, field, err, errsz);
        if (e) return e;
        if (!field[0])
            return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                             "item %s is not about a field: use merge or "
                             "keep-apart",
                             a[1]);
        return gh_steward_choose(s, stdout, a[1], pa, field, a[2], by, why, err,
                                 errsz);
    }
    if (!strcmp(verb, "choose") && n == 4)
        return gh_steward_choose(s, stdout, NULL, a[1], a[2], a[3], by, why,
                                 err, errsz);
    return gh_seterr(err, errsz, GH_ERR_INVALID_ARG,
                     "cannot read \"%s\" with %d operand%s (see gridhub "
                     "steward --help)",
                     verb, n - 1, n == 2 ? "" : "s");
}

static int run(gh_conf_t *conf) {
    char err[2048];
    int n = 0;
    char **a = split_args(gh_conf_get(conf, "args"), &n);
    int rc = 0;
    gh_steward_t *s = n ? gh_steward_new(conf, err, sizeof(err)) : NULL;
    if (!n) {
        fprintf(stderr, "gridhub steward: no verb (see --help)\n");
        rc = 2;
    } else if (!s) {
        gh_log_error("steward", "%s", err);
        rc = 1;
    } else {
        gh_err_t e = act(s, conf, a, n, err, sizeof(err));
        if (e) {
            fprintf(stderr, "gridhub steward %s: %s\n", a[0], err);
            rc = e == GH_ERR_INVALID_ARG || e == GH_ERR_NOT_FOUND ? 2 : 1;
        }
    }
    gh_steward_destroy(s);
    for (int i = 0; i < n; i++)
        free(a[i]);
    free(a);
    return rc;
}

const gh_cli_cmd_t gh_cli_steward = {
    "steward",
    "review and correct identity resolution: list and show the review "
    "queue, merge, split, keep apart, choose a value",
    "Examples (with the hub's properties file):\n"
    "  gridhub steward list -c hub.properties\n"
    "  gridhub steward show 12 -c hub.properties\n"
    "  gridhub steward show P000000042 -c hub.properties\n"
    "  gridhub steward merge 12 --reason 'same person, checked by phone' "
    "-c hub.properties\n"
    "  gridhub steward keep-apart P000000042 P000000977 --reason twins "
    "-c hub.properties\n"
    "  gridhub steward split P000000042 gongan:hjrk/R431302000000123 "
    "--reason 'another person' -c hub.properties\n"
    "  gridhub steward choose 15 LP-DT-03 --reason 'visited' -c "
    "hub.properties\n"
    "  gridhub steward choose P000000042 phone 13800138000 --reason "
    "'called' -c hub.properties\n"
    "Decisions are recorded with --by (default $USER) and --reason, applied "
    "at once, and respected by later automatic resolution. See "
    "docs/stewardship.md.",
    props, run};
