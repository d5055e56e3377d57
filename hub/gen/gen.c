#include "gen.h"

const gh_conf_prop_t gh_gen_props[] = {GH_CONF_END};

gh_err_t gh_gen_run(const gh_conf_t *conf, char *errstr, size_t errstr_size) {
    (void)conf;
    return gh_seterr(errstr, errstr_size, GH_ERR_INVALID_ARG,
                     "the generator is not built yet");
}
