/*
 * gridhub error codes.
 *
 * One enum for the whole project, in the manner of rd_kafka_resp_err_t and
 * CURLcode: values are never renumbered, only appended. Functions that can
 * fail return a gh_err_t and, where a human sentence helps, fill a
 * caller-supplied `char *errstr, size_t errstr_size` buffer saying what
 * failed, where (file:line, key, topic/partition/offset) and what to do.
 */
#ifndef GRIDHUB_ERROR_H
#define GRIDHUB_ERROR_H

#include <stddef.h>

typedef enum gh_err {
    GH_OK = 0,
    GH_ERR_INVALID_ARG = 1, /* a caller passed something unusable */
    GH_ERR_CONFIG = 2,      /* configuration file or value is invalid */
    GH_ERR_IO = 3,          /* file or socket I/O failed */
    GH_ERR_NOMEM = 4,  /* allocation failed (only from non-aborting paths) */
    GH_ERR_PARSE = 5,  /* malformed input text (JSON, .avsc, mapping) */
    GH_ERR_SCHEMA = 6, /* Avro schema invalid or incompatible */
    GH_ERR_SERDE = 7,  /* Avro bytes could not be encoded or decoded */
    GH_ERR_UNKNOWN_SCHEMA = 8, /* fingerprint or registry id not known */
    GH_ERR_PG = 9,             /* PostgreSQL reported an error */
    GH_ERR_PG_CONNECT = 10,    /* PostgreSQL unreachable (retryable) */
    GH_ERR_KAFKA = 11,         /* Kafka client reported an error */
    GH_ERR_PROTOCOL = 12,      /* a peer sent something outside its protocol */
    GH_ERR_MAPPING =
        13, /* a mapping file is invalid, or a row does not fit it */
    GH_ERR_NOT_FOUND = 14, /* a looked-up item does not exist */
    GH_ERR_HTTP = 15,      /* an HTTP peer (Schema Registry) failed */
    GH_ERR_STOPPED = 16,   /* the component was asked to stop */
    GH_ERR_TIMED_OUT = 17, /* a bounded wait ran out (shutdown.timeout.ms):
                              work was left for the next start */
    GH_ERR_RETRY = 18,     /* a transient failure (deadlock, timeout, disk
                              full, registry down): try the same work later */
    GH_ERR_DATA_LOSS = 19, /* the broker no longer holds messages that were
                              never read: stop, never skip */
    GH_ERR__COUNT
} gh_err_t;

/* Static, never NULL: a short description of the code. */
const char *gh_strerror(gh_err_t err);

/* Formats into errstr (if errstr_size > 0) and returns err, so that a failure
 * path reads `return gh_seterr(errstr, n, GH_ERR_CONFIG, "...", ...);`. */
gh_err_t gh_seterr(char *errstr, size_t errstr_size, gh_err_t err,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
