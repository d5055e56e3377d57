#include "golden.h"

#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

static const char *const FIELDS[GH_GOLDEN_NFIELDS] = {
    "id_number", "name", "sex", "birth_date", "phone", "address", "grid_code"};

const char *gh_golden_field_name(int f) {
    return f >= 0 && f < GH_GOLDEN_NFIELDS ? FIELDS[f] : NULL;
}

int gh_golden_field_index(const char *name) {
    for (int f = 0; name && f < GH_GOLDEN_NFIELDS; f++)
        if (!strcmp(FIELDS[f], name)) return f;
    return -1;
}

/* 公安 keeps the register (ID, name, sex, birth); 综治 grid workers see
 * where people actually live; phones change often, so the newest wins. */
const gh_conf_prop_t gh_golden_conf_props[] = {
    {"survivorship.id_number", GH_CONF_LIST,
     "gongan,jisheng,zongzhi,zuzhi,"
     "chuangwen",
     0, 0, 0, NULL, NULL,
     "Department trust order for the golden ID number (only valid IDs "
     "compete); departments not listed come after, most recent first."},
    {"survivorship.name", GH_CONF_LIST,
     "gongan,zongzhi,jisheng,zuzhi,"
     "chuangwen",
     0, 0, 0, NULL, NULL,
     "Department trust order for the golden name (normalized)."},
    {"survivorship.sex", GH_CONF_LIST,
     "gongan,zongzhi,jisheng,zuzhi,"
     "chuangwen",
     0, 0, 0, NULL, NULL, "Department trust order for the golden sex."},
    {"survivorship.birth_date", GH_CONF_LIST,
     "gongan,jisheng,zongzhi,"
     "zuzhi,chuangwen",
     0, 0, 0, NULL, NULL, "Department trust order for the golden birth date."},
    {"survivorship.phone", GH_CONF_STR, "", 0, 0, 0, NULL, NULL,
     "Department trust order for the golden phone; empty: the most "
     "recently changed record wins."},
    {"survivorship.address", GH_CONF_LIST,
     "zongzhi,gongan,jisheng,zuzhi,"
     "chuangwen",
     0, 0, 0, NULL, NULL,
     "Department trust order for the golden (actual residence) address."},
    {"survivorship.grid_code", GH_CONF_LIST,
     "zongzhi,gongan,jisheng,"
     "zuzhi,chuangwen",
     0, 0, 0, NULL, NULL, "Department trust order for the golden grid."},
    GH_CONF_END};

#define MAX_DEPTS 16

struct gh_golden {
    int ndepts[GH_GOLDEN_NFIELDS];
    char *depts[GH_GOLDEN_NFIELDS][MAX_DEPTS];
};

gh_golden_t *gh_golden_new(const gh_conf_t *conf) {
    gh_golden_t *g = gh_xcalloc(1, sizeof(*g));
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++) {
        const char *v = conf ? gh_conf_get(conf, gh_golden_conf_props[f].name)
                             : gh_golden_conf_props[f].defval;
        if (!v) v = gh_golden_conf_props[f].defval;
        char *copy = gh_xstrdup(v), *save = NULL;
        for (char *t = strtok_r(copy, ", ", &save);
             t && g->ndepts[f] < MAX_DEPTS; t = strtok_r(NULL, ", ", &save))
            g->depts[f][g->ndepts[f]++] = gh_xstrdup(t);
        free(copy);
    }
    return g;
}

void gh_golden_destroy(gh_golden_t *g) {
    if (!g) return;
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++)
        for (int i = 0; i < g->ndepts[f]; i++)
            free(g->depts[f][i]);
    free(g);
}

static int rank(const gh_golden_t *g, int f, const char *dept) {
    for (int i = 0; i < g->ndepts[f]; i++)
        if (!strcmp(g->depts[f][i], dept)) return i;
    return MAX_DEPTS;
}

/* Negative if source a beats b for field f. */
static int better(const gh_golden_t *g, int f, const gh_golden_src_t *a,
                  const gh_golden_src_t *b) {
    int ra = rank(g, f, a->department), rb = rank(g, f, b->department);
    if (ra != rb) return ra < rb ? -1 : 1;
    if (a->updated_us != b->updated_us)
        return a->updated_us > b->updated_us ? -1 : 1;
    if (a->position != b->position) return a->position > b->position ? -1 : 1;
    return a->rec_id < b->rec_id ? -1 : a->rec_id > b->rec_id;
}

void gh_golden_choose(const gh_golden_t *g, const gh_golden_src_t *srcs, int n,
                      const char *const *overrides, gh_golden_pick_t *out) {
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++) {
        out->src[f] = -1;
        if (overrides && overrides[f]) {
            out->src[f] = -2;
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (!srcs[i].value[f] || !srcs[i].value[f][0]) continue;
            if (out->src[f] < 0 ||
                better(g, f, &srcs[i], &srcs[out->src[f]]) < 0)
                out->src[f] = i;
        }
    }
}

/* Grid codes are hierarchical (LP-DT is the community of grid LP-DT-01):
 * a department that only knows the community does not contradict one that
 * knows the grid. */
static int grid_nested(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > lb) {
        const char *t = a;
        a = b;
        b = t;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    return !strncmp(a, b, la) && b[la] == '-';
}

int gh_golden_conflict(const gh_golden_t *g, const gh_golden_src_t *srcs, int n,
                       const gh_golden_pick_t *pick, int f) {
    (void)g;
    int w = pick->src[f];
    if (w < 0) return 0;
    const gh_golden_src_t *win = &srcs[w];
    for (int i = 0; i < n; i++) {
        const gh_golden_src_t *s = &srcs[i];
        if (i == w || !s->value[f] || !s->value[f][0]) continue;
        if (!strcmp(s->department, win->department)) continue;
        if (strcmp(s->value[f], win->value[f]) &&
            !(f == GH_GOLDEN_GRID && grid_nested(s->value[f], win->value[f])) &&
            s->updated_us != INT64_MIN && s->updated_us > win->updated_us)
            return 1;
    }
    return 0;
}
