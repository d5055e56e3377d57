/* Listen addresses of the HTTP endpoints; see include/gridhub/listen.h. */
#include "gridhub/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"

int gh_listen_parse(const char *v, gh_listen_addr_t *a, char *err,
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

void gh_listen_mhd_log(void *cls, const char *fmt, va_list ap) {
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    gh_log_warn(cls, "http: %s", line);
}
