/*
 * Webhook push delivery of subscriber feeds (`gh_webhook_`; docs/api.md,
 * "Webhooks"): for departments without Kafka, what a subscriber topic
 * `<view.topic.prefix>.<subscriber>.<entity>` carries is POSTed, signed, to
 * an HTTPS endpoint of that subscriber, in topic order per partition.
 *
 * Endpoints are configuration (webhook.<subscriber>.url and .secret.file),
 * never message content. The next offset to deliver of every partition is
 * kept in the hub database (table webhook_offset) and advanced only after
 * the receiver answered 2xx, so delivery is at least once: a crash between
 * the answer and the update repeats a batch, which receivers drop by the
 * outbox id or the person version.
 */
#ifndef GH_WEBHOOK_H
#define GH_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"

typedef struct gh_webhook gh_webhook_t;

extern const gh_conf_prop_t gh_webhook_own_props[];
/* The webhook.* properties for a command's table: `GH_WEBHOOK_PROPS,`. */
#define GH_WEBHOOK_PROPS GH_CONF_INCLUDE_TABLE(gh_webhook_own_props)

/* The signature header's hex digest: HMAC-SHA256(secret, "<timestamp>." ||
 * body), 64 lowercase hex digits and a NUL written to out. Returns 0, or
 * -1 if OpenSSL failed. */
#define GH_WEBHOOK_SIG_HEX 65
int gh_webhook_sign(const void *secret, size_t secret_len, int64_t timestamp,
                    const void *body, size_t body_len,
                    char out[GH_WEBHOOK_SIG_HEX]);

/* Reads the configured endpoints and their secret files (refused when open
 * to group or others), connects to the hub database (applying migrations)
 * and Kafka. `conf` is borrowed and must outlive the handle. NULL with the
 * reason in errstr; GH_ERR_CONFIG in *err (may be NULL) for a
 * configuration the operator must fix. */
gh_webhook_t *gh_webhook_new(const gh_conf_t *conf, gh_err_t *err, char *errstr,
                             size_t errstr_size);
/* NULL is a no-op. */
void gh_webhook_destroy(gh_webhook_t *w);

/* Delivers until a stop is requested (gridhub/shutdown.h): GH_OK when it
 * stopped with nothing in flight, GH_ERR_TIMED_OUT when a POST was cut
 * short by the stop (its batch is sent again at the next start), another
 * error when delivery cannot go on (the broker lost messages not yet
 * delivered: GH_ERR_DATA_LOSS). */
gh_err_t gh_webhook_run(gh_webhook_t *w, char *errstr, size_t errstr_size);

#endif
