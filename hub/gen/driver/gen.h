/*
 * The seeded city generator: builds one true city from a seed and writes
 * each department's partial, error-laden copy of it into the five
 * department databases, plus a ground-truth file. See docs/generator.md.
 */
#ifndef GH_GEN_H
#define GH_GEN_H

#include "gridhub/conf.h"
#include "gridhub/error.h"

extern const gh_conf_prop_t gh_gen_props[];

/* Runs the generator as configured; `conf` is borrowed. */
gh_err_t gh_gen_run(const gh_conf_t *conf, char *errstr, size_t errstr_size);

#endif
