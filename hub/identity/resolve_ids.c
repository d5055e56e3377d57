/* Stable person ids for the clusters of a run (resolve.h, step 4). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "resolve_int.h"

int gh__res_cmp_member(const void *x, const void *y, void *ctx) {
    const gh_resolver_t *r = ctx;
    const wrec_t *a = &r->w[*(const size_t *)x], *b = &r->w[*(const size_t *)y];
    int c = strcmp(a->dept, b->dept);
    return c ? c : strcmp(a->key, b->key);
}

/* Gives each cluster its person id (see resolve.h, step 4). Fills
 * comps[].pid for clusters that own an old id and returns how many need a
 * new one; retired ids and what absorbed them go to ret/into. */
size_t gh__res_assign_ids(gh_resolver_t *r, comp_t *comps, size_t ncomp,
                          char **touched, size_t ntouched, char **dormant,
                          size_t ndormant, char ***ret, const char ***into,
                          size_t *nret) {
    /* owner of an old id: the cluster holding its oldest live record */
    size_t *owner = gh_xcalloc(ntouched ? ntouched : 1, sizeof(size_t));
    int64_t *oldest = gh_xcalloc(ntouched ? ntouched : 1, sizeof(int64_t));
    for (size_t t = 0; t < ntouched; t++)
        owner[t] = SIZE_MAX;
    for (size_t c = 0; c < ncomp; c++)
        for (size_t i = 0; i < comps[c].n; i++) {
            const wrec_t *x = &r->w[comps[c].mem[i]];
            if (!x->old_pid) continue;
            char **hit = bsearch(&x->old_pid, touched, ntouched, sizeof(char *),
                                 gh__res_cmp_str);
            if (!hit) continue;
            size_t t = (size_t)(hit - touched);
            if (owner[t] == SIZE_MAX || x->rec_id < oldest[t]) {
                owner[t] = c;
                oldest[t] = x->rec_id;
            }
        }
    size_t need = 0;
    for (size_t c = 0; c < ncomp; c++) {
        comps[c].pid = NULL;
        for (size_t t = 0; t < ntouched; t++) /* touched is sorted: oldest */
            if (owner[t] == c) {
                comps[c].pid = touched[t];
                break;
            }
    }
    /* A cluster without an id of its own takes back the id of a person
     * emptied by deletes (now or before) that one of its records links to:
     * a resident deleted and entered again stays who they were. */
    char *taken = gh_xcalloc(ndormant + 1, 1);
    for (size_t c = 0; c < ncomp; c++) {
        for (size_t i = 0; i < comps[c].n && !comps[c].pid; i++) {
            const char *h = r->w[comps[c].mem[i]].heir;
            if (!h) continue;
            char **hit = ntouched ? bsearch(&h, touched, ntouched,
                                            sizeof(char *), gh__res_cmp_str)
                                  : NULL;
            if (hit && owner[hit - touched] == SIZE_MAX) {
                owner[hit - touched] = c;
                comps[c].pid = *hit;
                continue;
            }
            hit = ndormant ? bsearch(&h, dormant, ndormant, sizeof(char *),
                                     gh__res_cmp_str)
                           : NULL;
            if (hit && !taken[hit - dormant]) {
                taken[hit - dormant] = 1;
                comps[c].pid = *hit;
            }
        }
        if (!comps[c].pid) {
            comps[c].new_id = 1;
            need++;
        }
    }
    free(taken);
    *ret = gh_xcalloc(ntouched ? ntouched : 1, sizeof(char *));
    *into = gh_xcalloc(ntouched ? ntouched : 1, sizeof(char *));
    *nret = 0;
    for (size_t t = 0; t < ntouched; t++) {
        if (owner[t] != SIZE_MAX && comps[owner[t]].pid == touched[t]) continue;
        (*ret)[*nret] = touched[t];
        (*into)[*nret] = owner[t] == SIZE_MAX ? NULL : comps[owner[t]].pid;
        (*nret)++;
    }
    free(owner);
    free(oldest);
    return need;
}
