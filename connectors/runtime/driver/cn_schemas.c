/* The schemas a connector writes with, on the schemas topic before any
 * event (gridhub/schema_topic.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cn_int.h"
#include "gridhub/avro.h"
#include "gridhub/log.h"
#include "gridhub/schema_topic.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

#define LOG "connector"

/* One attempt at creating the topic, bounded so that the retry loop logs
 * and backs off rather than hanging on a silent cluster. */
#define ENSURE_TIMEOUT_MS 10000
/* How often a wait for acknowledgements says that it is still waiting. */
#define WAIT_LOG_MS 10000
/* Longest single wait, so that a stop request is noticed promptly. */
#define STEP_MS 100

void gh__cn_schema_report(cn_t *c, const rd_kafka_message_t *m) {
    if (m->err) {
        c->schema_failed++;
        snprintf(c->schema_why, sizeof(c->schema_why), "%s",
                 rd_kafka_err2str(m->err));
    } else {
        c->schema_acked++;
    }
}

/* The distinct schemas the connector writes events with: the composed
 * envelope of every mapped table's entity. Dead letters and heartbeats
 * are JSON, end-of-snapshot markers tombstones. */
static int writer_schemas(const cn_t *c, const gh_schema_t **out) {
    int n = 0;
    for (int i = 0; i < c->nts; i++) {
        const gh_schema_t *s = gh_map_table_envelope(c->ts[i].t);
        int seen = 0;
        for (int k = 0; k < n && !seen; k++)
            seen = gh_schema_fingerprint(out[k]) == gh_schema_fingerprint(s);
        if (!seen) out[n++] = s;
    }
    return n;
}

/* Queues every schema record and waits until Kafka reported on each of
 * them. A stop drops what is still queued (nothing else is at this
 * point): the next start publishes again. */
static gh_err_t publish_and_wait(cn_t *c, const gh_schema_t **ss, int n,
                                 char *errstr, size_t errstr_size) {
    c->schema_acked = c->schema_failed = 0;
    gh_err_t e = GH_OK;
    int queued = 0;
    for (; queued < n && !e; queued++)
        e = gh_schema_topic_publish(c->rk, c->schema_topic, ss[queued], errstr,
                                    errstr_size);
    if (e) queued--; /* the last one was refused */
    int64_t t0 = gh_now_ms(), said = t0;
    while (c->schema_acked + c->schema_failed < queued) {
        if (gh_shutdown_requested()) {
            rd_kafka_purge(c->rk,
                           RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            rd_kafka_poll(c->rk, 0);
            return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                             "stopped before Kafka acknowledged the schemas");
        }
        rd_kafka_poll(c->rk, STEP_MS);
        if (gh_now_ms() - said >= WAIT_LOG_MS) {
            said = gh_now_ms();
            gh_log_warn(LOG,
                        "waited %lld s for Kafka to acknowledge %d schema "
                        "records on %s; no event is produced before",
                        (long long)(said - t0) / 1000,
                        queued - c->schema_acked - c->schema_failed,
                        c->schema_topic);
        }
    }
    if (!e && c->schema_failed)
        e = gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                      "%d of %d schema records not delivered to %s: %s",
                      c->schema_failed, n, c->schema_topic, c->schema_why);
    return e;
}

gh_err_t gh__cn_publish_schemas(cn_t *c, char *errstr, size_t errstr_size) {
    const gh_schema_t **ss =
        gh_xcalloc((size_t)c->nts + 1, sizeof(*ss)); /* nts may be 0 */
    int n = writer_schemas(c, ss);
    int wait = (int)gh_conf_get_int(c->conf, "retry.backoff.ms");
    int wmax = (int)gh_conf_get_int(c->conf, "retry.backoff.max.ms");
    gh_err_t e;
    for (;;) {
        if (gh_shutdown_requested()) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_STOPPED, "stopped");
            break;
        }
        e = gh_schema_topic_ensure(c->rk, c->schema_topic, ENSURE_TIMEOUT_MS,
                                   errstr, errstr_size);
        if (!e) e = publish_and_wait(c, ss, n, errstr, errstr_size);
        if (!e || e == GH_ERR_STOPPED) break;
        /* As a broker outage: no event may go out before its schema. */
        gh_log_warn(LOG, "%s; retrying in %d ms", errstr, wait);
        gh_cn_metrics_degraded(c->metrics, errstr);
        gh_shutdown_sleep_ms(wait);
        wait = wait * 2 > wmax ? wmax : wait * 2;
    }
    if (!e) {
        for (int i = 0; i < n; i++) {
            char key[17];
            gh_schema_topic_key(gh_schema_fingerprint(ss[i]), key);
            gh_log_info(LOG, "schema %s (%s) published to %s",
                        gh_schema_fullname(ss[i]), key, c->schema_topic);
        }
    }
    free(ss);
    return e;
}
