/* The metrics endpoint: GET /metrics and GET /health over libmicrohttpd,
 * from MHD's own polling thread. Requests are answered from memory under
 * the registry's mutex (microseconds), so the thread never waits on the
 * component and stopping it is prompt. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gridhub/listen.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "metrics_int.h"

struct gh__metrics_http {
    struct MHD_Daemon *d;
};

int gh_metrics_validate_listen(const char *key, const char *value, char *errstr,
                               size_t errstr_size) {
    (void)key;
    gh_listen_addr_t a;
    if (!*value) return 0;
    return gh_listen_parse(value, &a, errstr, errstr_size);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *type, gh_buf_t *body) {
    size_t len = body->len;
    char *data = gh_buf_detach(body);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)con_cls;
    gh_metrics_t *m = cls;
    gh_buf_t b = {0};
    if (strcmp(method, MHD_HTTP_METHOD_GET) &&
        strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        gh_buf_puts(&b, "only GET and HEAD\n");
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &b);
    }
    if (!strcmp(url, "/metrics")) {
        gh_metrics_render(m, &b);
        return respond(conn, MHD_HTTP_OK,
                       "text/plain; version=0.0.4; charset=utf-8", &b);
    }
    if (!strcmp(url, "/health")) {
        /* 200 only while running, so that a load balancer or a readiness
         * probe can use the status alone; the body says why. */
        unsigned status = gh_metrics_health(m, &b) == GH_METRICS_RUNNING
                              ? MHD_HTTP_OK
                              : MHD_HTTP_SERVICE_UNAVAILABLE;
        return respond(conn, status, "application/json", &b);
    }
    gh_buf_printf(&b,
                  "gridhub %s: GET /metrics (Prometheus text format) or "
                  "GET /health (JSON)\n",
                  m->component);
    return respond(conn, strcmp(url, "/") ? MHD_HTTP_NOT_FOUND : MHD_HTTP_OK,
                   "text/plain; charset=utf-8", &b);
}

gh_err_t gh_metrics_serve(gh_metrics_t *m, const char *listen, char *errstr,
                          size_t errstr_size) {
    gh_listen_addr_t a;
    char why[256];
    if (gh_listen_parse(listen, &a, why, sizeof(why)))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "metrics.listen: %s", why);
    /* The HTTP thread must not take the signals meant for the main
     * thread's shutdown handling: it inherits a full mask. */
    sigset_t old;
    gh_shutdown_mask_signals(&old);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
            (a.ipv6 ? MHD_USE_IPv6 : 0),
        (uint16_t)a.port, NULL, NULL, handle, m, MHD_OPTION_EXTERNAL_LOGGER,
        gh_listen_mhd_log, (void *)"metrics", MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&a.ss, MHD_OPTION_CONNECTION_LIMIT, 32u,
        MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!d)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "metrics.listen=%s: cannot listen (%s): is the port "
                         "taken? Choose another, or port 0 for any free one",
                         listen, strerror(saved));
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    int port = info && info->port ? info->port : a.port;
    struct gh__metrics_http *h = gh_xcalloc(1, sizeof(*h));
    h->d = d;
    char *url = gh_xasprintf("http://%s:%d", a.host, port);
    pthread_mutex_lock(&m->lock);
    m->http = h;
    free(m->url);
    m->url = url;
    pthread_mutex_unlock(&m->lock);
    return GH_OK;
}

void gh__metrics_http_stop(struct gh__metrics_http *h) {
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}

const char *gh_metrics_url(const gh_metrics_t *m) {
    return m ? m->url : NULL;
}

gh_metrics_t *gh_metrics_start(const gh_conf_t *conf, const char *component,
                               const char *instance, char *errstr,
                               size_t errstr_size) {
    gh_metrics_t *m = gh_metrics_new(component, instance);
    const char *listen = gh_conf_get(conf, "metrics.listen");
    if (!listen || !*listen) return m;
    if (gh_metrics_serve(m, listen, errstr, errstr_size)) {
        gh_metrics_destroy(m);
        return NULL;
    }
    const char *file = gh_conf_get(conf, "metrics.listen.file");
    if (file && *file) {
        if (gh_write_file_atomic(file, m->url)) {
            gh_seterr(errstr, errstr_size, GH_ERR_IO,
                      "metrics.listen.file %s: %s", file, strerror(errno));
            gh_metrics_destroy(m);
            return NULL;
        }
        m->url_file = gh_xstrdup(file);
    }
    gh_log_info(component, "metrics: %s/metrics and %s/health", m->url, m->url);
    return m;
}
