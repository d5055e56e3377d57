#include "gridhub/error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const descs[GH_ERR__COUNT] = {
    [GH_OK] = "success",
    [GH_ERR_INVALID_ARG] = "invalid argument",
    [GH_ERR_CONFIG] = "invalid configuration",
    [GH_ERR_IO] = "I/O error",
    [GH_ERR_NOMEM] = "out of memory",
    [GH_ERR_PARSE] = "parse error",
    [GH_ERR_SCHEMA] = "invalid or incompatible schema",
    [GH_ERR_SERDE] = "Avro encoding or decoding failed",
    [GH_ERR_UNKNOWN_SCHEMA] = "unknown schema fingerprint or id",
    [GH_ERR_PG] = "PostgreSQL error",
    [GH_ERR_PG_CONNECT] = "PostgreSQL unreachable",
    [GH_ERR_KAFKA] = "Kafka error",
    [GH_ERR_PROTOCOL] = "protocol violation",
    [GH_ERR_MAPPING] = "mapping error",
    [GH_ERR_NOT_FOUND] = "not found",
    [GH_ERR_HTTP] = "HTTP error",
    [GH_ERR_STOPPED] = "stopped",
    [GH_ERR_TIMED_OUT] = "timed out",
    [GH_ERR_RETRY] = "transient failure",
    [GH_ERR_DATA_LOSS] = "messages gone from the broker",
};

const char *gh_strerror(gh_err_t err) {
    if ((int)err < 0 || err >= GH_ERR__COUNT || !descs[err])
        return "unknown error";
    return descs[err];
}

gh_err_t gh_seterr(char *errstr, size_t errstr_size, gh_err_t err,
                   const char *fmt, ...) {
    if (errstr && errstr_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
