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

#include "gridhub/log.h"
#include "metrics_int.h"

struct gh__metrics_http {
    struct MHD_Daemon *d;
};

typedef struct listen_addr {
    struct sockaddr_storage ss;
    int ipv6;
    char host[80]; /* as it goes in a URL: 127.0.0.1 or [::1] */
    int port;
} listen_addr_t;

/* Parses host:port (see gh_metrics_validate_listen). */
static int parse_listen(const char *v, listen_addr_t *a, char *err,
                        size_t errsz) {
    memset(a, 0, sizeof(*a));
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) {
        snprintf(err, errsz, "\"%s\" is not host:port (e.g. 127.0.0.1:9464)",
                 v);
        return -1;
    }
    char host[64];
    size_t hl = (size_t)(colon - v);
    if (hl >= sizeof(host)) {
        snprintf(err, errsz, "\"%s\": host too long", v);
        return -1;
    }
    memcpy(host, v, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port < 0 || port > 65535) {
        snprintf(err, errsz, "\"%s\": port must be 0..65535", v);
        return -1;
    }
    a->port = (int)port;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) {
            snprintf(err, errsz, "\"%s\": %s is not an IPv6 address", v,
                     host + 1);
            return -1;
        }
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        a->ipv6 = 1;
        snprintf(a->host, sizeof(a->host), "[%s]", host + 1);
        return 0;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
    const char *ip = strcmp(host, "localhost") ? host : "127.0.0.1";
    if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1) {
        snprintf(err, errsz,
                 "\"%s\": host must be an IPv4 address, [IPv6 address] or "
                 "localhost",
                 v);
        return -1;
    }
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    snprintf(a->host, sizeof(a->host), "%s", ip);
    return 0;
}

int gh_metrics_validate_listen(const char *key, const char *value, char *errstr,
                               size_t errstr_size) {
    (void)key;
    listen_addr_t a;
    if (!*value) return 0;
    return parse_listen(value, &a, errstr, errstr_size);
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

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    gh_log_warn("metrics", "http: %s", line);
}

gh_err_t gh_metrics_serve(gh_metrics_t *m, const char *listen, char *errstr,
                          size_t errstr_size) {
    listen_addr_t a;
    char why[256];
    if (parse_listen(listen, &a, why, sizeof(why)))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "metrics.listen: %s", why);
    /* The HTTP thread must not take the signals meant for the main
     * thread's shutdown handling: it inherits a full mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
            (a.ipv6 ? MHD_USE_IPv6 : 0),
        (uint16_t)a.port, NULL, NULL, handle, m, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a.ss,
        MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT, 5u,
        MHD_OPTION_END);
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

static int write_atomically(const char *path, const char *text) {
    char *tmp = gh_xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        int bad = fprintf(f, "%s\n", text) < 0;
        if (fclose(f) == 0 && !bad) rc = rename(tmp, path);
    }
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
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
        if (write_atomically(file, m->url)) {
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
