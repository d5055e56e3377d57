/* `gridhub api`: the hub's HTTP API on the hub database
 * (hub/api/server/server.h, docs/api.md), until stopped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "gridhub/log.h"
#include "gridhub/metrics.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "hub.h"
#include "migrate.h"
#include "server.h"

static const gh_conf_prop_t props[] = {
    {"api.listen", GH_CONF_STR, "127.0.0.1:8080", 0, 0, 0, NULL,
     gh_metrics_validate_listen,
     "host:port the API listens on (an IPv4 address, [IPv6 address] or "
     "localhost; port 0: any free one)."},
    {"api.threads", GH_CONF_INT, "4", 0, 1, 64, NULL, NULL,
     "Threads serving requests, each with its own hub-database connection: "
     "a request waits on the database most of its time, so a few more "
     "threads than cores keep both busy."},
    {"api.listen.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "If set, the API's base URL (http://host:port, https:// with TLS) is "
     "written to this file once listening and removed at exit: how scripts "
     "find a port 0 listener."},
    {"api.tls.cert.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "PEM certificate (its chain after it) the API serves HTTPS with; set "
     "with api.tls.key.file, or neither: plain HTTP, with a warning at start "
     "unless api.listen is a loopback address (tokens are bearer secrets)."},
    {"api.tls.key.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "PEM private key of api.tls.cert.file; refused if group or others may "
     "read it (chmod 600)."},
    {"api.tls.key.password.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "If api.tls.key.file is encrypted: a file whose first line is its "
     "passphrase (chmod 600)."},
    {"api.tls.priorities", GH_CONF_STR,
     "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", 0, 0, 0, NULL, NULL,
     "GnuTLS priority string of the API's TLS (libmicrohttpd uses GnuTLS): "
     "by default GnuTLS's own choice of ciphers, TLS 1.2 and 1.3 only."},
    {"api.rate.limit.per.second", GH_CONF_INT, "50", 0, 0, 1000000, NULL, NULL,
     "Requests a second each API token may make once its burst is spent; "
     "beyond it 429 rate_limited with Retry-After. 0: no limit."},
    {"api.rate.limit.burst", GH_CONF_INT, "100", 0, 1, 1000000, NULL, NULL,
     "Requests an API token may make at once before "
     "api.rate.limit.per.second applies."},
    {"api.rate.limit.auth.failures.per.minute", GH_CONF_INT, "30", 0, 0,
     1000000, NULL, NULL,
     "Failed authentications (no, malformed or refused token) a minute from "
     "one client address (an IPv6 one by its /64) once its burst is spent; "
     "beyond it every request from there is answered 429 rate_limited "
     "without looking at its token. 0: no limit."},
    {"api.rate.limit.auth.failures.burst", GH_CONF_INT, "20", 0, 1, 1000000,
     NULL, NULL,
     "Failed authentications one client address may have at once before "
     "api.rate.limit.auth.failures.per.minute applies."},
    {"api.rate.limit.keys", GH_CONF_INT, "10000", 0, 16, 10000000, NULL, NULL,
     "Most tokens, and most client addresses, whose buckets are kept; past "
     "it idle ones are dropped first, else the least recently seen, so a "
     "flood of addresses cannot grow memory without bound."},
    {"api.audit.public.key", GH_CONF_LIST, NULL, 0, 0, 0, NULL, NULL,
     "Public key files (gridhub audit keygen) whose signed heads GET "
     "/v1/audit/verify accepts, as gridhub audit verify --public-key; unset: "
     "that endpoint answers 503 not_configured."},
    {"api.openapi.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "The OpenAPI 3 description GET /v1/openapi.json serves (read once at "
     "start); default: docs/openapi.json of the source tree the binary was "
     "built from (if missing there, a warning and that endpoint answers 503 "
     "not_configured)."},
    {"api.cache.grid.ms", GH_CONF_INT, "5000", 0, 0, 600000, NULL, NULL,
     "How long a grid's part of a resident's answer (path, staff and their "
     "phones, per subscriber and plan) is kept and reused: a staff change "
     "shows in lookups after at most this long. The resident's own record "
     "is always read. 0: nothing kept."},
    {"api.feed.wait.max.ms", GH_CONF_INT, "30000", 0, 0, 300000, NULL, NULL,
     "Longest a pull-feed request (GET /v1/feed/{entity}?wait=) may wait for "
     "something new; its `wait` is in seconds up to this. A waiting request "
     "holds a connection, not a thread."},
    {"api.feed.sessions.max", GH_CONF_INT, "32", 0, 1, 1024, NULL, NULL,
     "Most pull-feed sessions (a Kafka consumer each, kept between a "
     "client's requests) at once; past it the one idle longest is closed, "
     "and when all are busy a request gets 503 too_many_feeds."},
    {"api.feed.session.idle.ms", GH_CONF_INT, "60000", 0, 1000, 3600000, NULL,
     NULL,
     "A pull-feed session no request used for this long is closed (the "
     "client's cursor still works: it opens a new one)."},
    GH_CONF_INCLUDE_TABLE(gh_hub_props),
    GH_CONF_END};

static int run(gh_conf_t *conf) {
    char err[1024];
    gh_cli_install_shutdown(conf, "api");
    /* The schema first, so that the first request finds api_token. */
    PGconn *db = gh_pg_connect(gh_conf_get(conf, "database.conninfo"), 0, err,
                               sizeof(err));
    gh_err_t e = db ? gh_migrate_apply(db, err, sizeof(err)) : GH_ERR_PG;
    if (db) PQfinish(db);
    if (e) {
        gh_log_error("api", "%s", err);
        return 1;
    }
    gh_api_t *a = gh_api_start(conf, err, sizeof(err));
    if (!a) {
        gh_log_error("api", "%s", err);
        return 1;
    }
    const char *file = gh_conf_get(conf, "api.listen.file");
    if (file && gh_write_file_atomic(file, gh_api_url(a))) {
        gh_log_error("api", "cannot write api.listen.file %s: %s", file,
                     strerror(errno));
        gh_api_stop(a);
        return 1;
    }
    gh_log_info("api", "listening on %s (docs/api.md)", gh_api_url(a));
    while (!gh_shutdown_requested())
        gh_shutdown_sleep_ms(1000);
    gh_log_info("api", "stopping");
    gh_api_stop(a);
    if (file) unlink(file);
    return 0;
}

const gh_cli_cmd_t gh_cli_api = {
    "api",
    "serve the hub's HTTP API on the hub database (API tokens: gridhub "
    "token)",
    "Example (with the hub's properties file):\n"
    "  gridhub api -c hub.properties --api-listen 127.0.0.1:8080\n"
    "  curl -H \"Authorization: Bearer $TOKEN\" "
    "'http://127.0.0.1:8080/v1/persons?id_number=431302198001010013'\n"
    "See docs/api.md.",
    props,
    run,
    1,
    NULL};
