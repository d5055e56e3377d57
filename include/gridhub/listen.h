/*
 * A listen address `host:port` for the HTTP endpoints (metrics.listen,
 * api.listen): an IPv4 address, [IPv6 address] or localhost, and a port
 * (0: any free one).
 */
#ifndef GRIDHUB_LISTEN_H
#define GRIDHUB_LISTEN_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct gh_listen_addr {
    struct sockaddr_storage ss;
    int ipv6;
    char host[80]; /* as it goes in a URL: 127.0.0.1 or [::1] */
    int port;
} gh_listen_addr_t;

/* Parses `v` into *a: 0, or -1 with err saying what is wrong (naming v). */
int gh_listen_parse(const char *v, gh_listen_addr_t *a, char *err,
                    size_t errsz);

/* libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER for an endpoint: its lines
 * as warnings of component `cls` (a static string), without the trailing
 * newline. */
void gh_listen_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
