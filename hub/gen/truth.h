/*
 * The ground truth: one JSON line per department row that a mapping turns
 * into a canonical person,
 *   {"department":"gongan","source_key":"hjrk/R431302000000001","true_id":"431302198001010013"}
 * where source_key is exactly what the mapping's source_key rule produces
 * and true_id the resident's true 18-character ID number. The file is
 * sorted bytewise (LC_ALL=C sort), i.e. by department, then source_key.
 *
 * While generating, lines go to one part file per person mapping; finish
 * sorts each part (most are generated in key order already) and
 * concatenates them in order into the file, via a temporary name.
 */
#ifndef GH_GEN_TRUTH_H
#define GH_GEN_TRUTH_H

#include <stddef.h>

#include "gridhub/error.h"

/* The person mappings, in the order of their lines in the file. */
enum {
    GH_GEN_TM_CW_VOL = 0, /* chuangwen vol_person: id */
    GH_GEN_TM_GA_HJRK,    /* gongan hjrk: 'hjrk/' + rybh */
    GH_GEN_TM_GA_LDRK,    /* gongan ldrk: 'ldrk/' + ldrybh */
    GH_GEN_TM_JS_JTCY,    /* jisheng jtcy: cybh */
    GH_GEN_TM_ZZ_SYRK,    /* zongzhi syrk: rkbh */
    GH_GEN_TM_DJ_DY,      /* zuzhi dy_person: dyid */
    GH_GEN_TM__COUNT
};

typedef struct gh_gen_truth gh_gen_truth_t;

/* The department and source_key prefix of a mapping. */
const char *gh_gen_truth_dept(int mapping);
const char *gh_gen_truth_prefix(int mapping);

/* Opens the part files next to `path`. */
gh_gen_truth_t *gh_gen_truth_open(const char *path, char *errstr,
                                  size_t errstr_size);
/* Adds a line; `key` is the row's key without the mapping's prefix. */
void gh_gen_truth_add(gh_gen_truth_t *t, int mapping, const char *key,
                      const char *true_id);
/* Sorts, writes `path`, removes the parts. *lines receives the count. */
gh_err_t gh_gen_truth_finish(gh_gen_truth_t *t, long long *lines, char *errstr,
                             size_t errstr_size);
/* Removes the part files (if not finished) and frees. NULL is a no-op. */
void gh_gen_truth_destroy(gh_gen_truth_t *t);

/* Formats one line (with the newline) into out; returns its length. */
size_t gh_gen_truth_line(int mapping, const char *key, const char *true_id,
                         char *out, size_t size);

/* Live mode: rewrites `path` with `added` lines (each a whole line with
 * its newline, any order) merged in and the lines of `removed` keys
 * (mapping, key pairs as "<department>\t<source_key>") dropped. */
gh_err_t gh_gen_truth_rewrite(const char *path, char **added, size_t n_added,
                              char **removed, size_t n_removed,
                              long long *lines, char *errstr,
                              size_t errstr_size);

#endif
