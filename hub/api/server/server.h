/*
 * The hub's HTTP API (gh_api_; docs/api.md): libmicrohttpd on its own
 * polling thread, one hub-database connection owned by that thread, every
 * request authenticated by an API token (hub/api/auth/token.h) and every
 * refusal written to the audit log.
 *
 * So far: GET /v1/whoami (what the caller's token is bound to) and GET
 * /v1/persons?id_number= (a resident as the token's subscriber receives
 * them, every read in the audit log). Errors are JSON, {"error": {"code":
 * "<stable code>", "message": "<for people>"}}.
 */
#ifndef GH_API_SERVER_H
#define GH_API_SERVER_H

#include <stddef.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"

typedef struct gh_api gh_api_t;

/* Starts serving on api.listen (host:port, port 0 for any free one),
 * over TLS if api.tls.cert.file and api.tls.key.file are set, against the hub
 * database database.conninfo (connected on first use), with policy.file,
 * policy.keys.file, crypt.key.file and schemas.dir loaded once (a new policy
 * needs a restart). NULL with errstr if any of them is bad or the address is
 * taken. */
gh_api_t *gh_api_start(const gh_conf_t *conf, char *errstr, size_t errstr_size);

/* Its base URL (http://host:port or https://); borrowed, valid until
 * gh_api_stop. */
const char *gh_api_url(const gh_api_t *a);

/* Stops serving (requests in progress finish) and frees it. NULL: no-op. */
void gh_api_stop(gh_api_t *a);

#endif
