/*
 * The hub's HTTP API (gh_api_; docs/api.md): libmicrohttpd on its own
 * polling thread, one hub-database connection owned by that thread, every
 * request authenticated by an API token (hub/api/token.h) and every
 * refusal written to the audit log.
 *
 * So far: GET /v1/whoami (what the caller's token is bound to). Errors are
 * JSON, {"error": {"code": "<stable code>", "message": "<for people>"}}.
 */
#ifndef GH_API_SERVER_H
#define GH_API_SERVER_H

#include <stddef.h>

#include "gridhub/error.h"

typedef struct gh_api gh_api_t;

/* Starts serving on `listen` (host:port, port 0 for any free one) against
 * the hub database `conninfo` (copied), connected on first use. NULL with
 * errstr if the address is bad or taken. */
gh_api_t *gh_api_start(const char *listen, const char *conninfo, char *errstr,
                       size_t errstr_size);

/* Its base URL (http://host:port); borrowed, valid until gh_api_stop. */
const char *gh_api_url(const gh_api_t *a);

/* Stops serving (requests in progress finish) and frees it. NULL: no-op. */
void gh_api_stop(gh_api_t *a);

#endif
