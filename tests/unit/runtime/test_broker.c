/* The embedded broker's connections: TCP_NODELAY on what its listeners
 * accept (hub/runtime/kafka/broker.c, listeners_nodelay). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gridhub/broker.h"
#include "gridhub/conf.h"

/* The descriptor of this process's socket with local port `local` and
 * peer port `peer`, or -1. */
static int find_socket(int local, int peer) {
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int found = -1;
    struct dirent *de;
    while (found < 0 && (de = readdir(d))) {
        int fd = atoi(de->d_name);
        struct stat st;
        struct sockaddr_in a, b;
        socklen_t al = sizeof(a), bl = sizeof(b);
        if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && fd != dirfd(d) &&
            !fstat(fd, &st) && S_ISSOCK(st.st_mode) &&
            !getsockname(fd, (struct sockaddr *)&a, &al) &&
            a.sin_family == AF_INET && ntohs(a.sin_port) == local &&
            !getpeername(fd, (struct sockaddr *)&b, &bl) &&
            ntohs(b.sin_port) == peer)
            found = fd;
    }
    closedir(d);
    return found;
}

/* Without it the mock answers pipelined requests ~40 ms late (the
 * client's delayed ACK against Nagle's algorithm). */
Test(broker, accepted_connections_have_nodelay, .timeout = 30) {
    char err[512];
    gh_conf_t *bc = gh_conf_new("broker", gh_broker_props);
    cr_assert_eq(gh_conf_set(bc, "test", "log.level", "error", err, sizeof err),
                 GH_OK, "%s", err);
    cr_assert_eq(gh_conf_set(bc, "test", "broker.count", "2", err, sizeof err),
                 GH_OK, "%s", err);
    gh_broker_t *b = gh_broker_new(bc, err, sizeof err);
    gh_conf_destroy(bc);
    cr_assert_not_null(b, "%s", err);
    /* Every broker of the cluster, not only the first. */
    char *list = strdup(gh_broker_bootstraps(b)), *save = NULL;
    int brokers = 0;
    for (char *hp = strtok_r(list, ",", &save); hp;
         hp = strtok_r(NULL, ",", &save), brokers++) {
        int port = atoi(strrchr(hp, ':') + 1);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
        struct sockaddr_in me;
        socklen_t ml = sizeof(me);
        cr_assert_eq(getsockname(c, (struct sockaddr *)&me, &ml), 0);
        /* The mock's thread accepts it in its own time. */
        int fd = -1;
        for (int i = 0; i < 200 && fd < 0; i++) {
            fd = find_socket(port, ntohs(me.sin_port));
            if (fd < 0) usleep(10000);
        }
        cr_assert_geq(fd, 0, "broker %s never accepted the connection", hp);
        int on = 0;
        socklen_t ol = sizeof(on);
        cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &ol), 0);
        cr_expect_neq(on, 0,
                      "broker %s: accepted connection without "
                      "TCP_NODELAY",
                      hp);
        close(c);
    }
    cr_expect_eq(brokers, 2);
    free(list);
    gh_broker_destroy(b);
}
