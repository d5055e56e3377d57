#include "gridhub/broker.h"

#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "gridhub/log.h"
#include "gridhub/metrics.h"
#include "gridhub/schema_topic.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

const gh_conf_prop_t gh_broker_props[] = {
    {"bootstrap.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "If set, the bootstrap servers are also written to this file (atomically, "
     "once listening) for scripts to pick up."},
    {"broker.count", GH_CONF_INT, "1", 0, 1, 9, NULL, NULL,
     "Number of mock brokers in the embedded cluster."},
    {"topics", GH_CONF_LIST, NULL, 0, 0, 0, NULL, NULL,
     "Topics to create at start, each `name` or `name:partitions`. Other "
     "topics are auto-created when a client first asks for them, with the "
     "mock's own 4 partitions (librdkafka 2.0.2 has no setting for it)."},
    {"topic.partitions", GH_CONF_INT, "4", 0, 1, 1000, NULL, NULL,
     "Partition count for the topics listed without one."},
    {"schemas.topic", GH_CONF_STR, GH_SCHEMAS_TOPIC_DEFAULT, 0, 0, 0, NULL,
     NULL,
     "The schemas topic (gridhub/schema_topic.h), created at start with one "
     "partition as a production cluster has it; the mock cluster answers no "
     "CreateTopics and does not compact (it keeps everything in memory)."},
    GH_SHUTDOWN_TIMEOUT_PROP,
    GH_METRICS_PROPS,
    GH_CONF_LOG_PROPS,
    GH_CONF_END};

struct gh_broker {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    char *bootstraps;
};

/* Whether `port` is one of the ports in `bootstraps` ("host:port,..."). */
static int listed_port(const char *bootstraps, int port) {
    for (const char *s = bootstraps; s && *s;) {
        const char *colon = strchr(s, ':'), *comma = strchr(s, ',');
        if (colon && (!comma || colon < comma) && atoi(colon + 1) == port)
            return 1;
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* Sets TCP_NODELAY on the mock brokers' listening sockets, which Linux
 * passes on to every connection they accept. The mock writes each
 * response as it is ready, with Nagle's algorithm on: when a client has
 * several requests in flight (a producer with a batch for each of four
 * partitions), the third response waits for the client's delayed ACK,
 * about 40 ms, and so did every relay page and every connector
 * transaction. librdkafka gives no handle on the mock's sockets, so they
 * are found among this process's descriptors by their port. Returns how
 * many were set. */
static int listeners_nodelay(const char *bootstraps) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    int set = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        struct stat st;
        if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(d) ||
            fstat(fd, &st) || !S_ISSOCK(st.st_mode))
            continue;
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);
        int listening = 0;
        socklen_t ll = sizeof(listening);
        if (getsockname(fd, (struct sockaddr *)&sa, &sl) ||
            sa.sin_family != AF_INET ||
            !listed_port(bootstraps, ntohs(sa.sin_port)) ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) ||
            !listening)
            continue;
        int on = 1;
        if (!setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on))) set++;
    }
    closedir(d);
    return set;
}

gh_broker_t *gh_broker_new(const gh_conf_t *conf, char *errstr,
                           size_t errstr_size) {
    char why[512];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    /* The handle only anchors the mock cluster; it never connects. */
    rd_kafka_conf_set(kc, "client.id", "gridhub-broker", why, sizeof(why));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, why, sizeof(why));
    if (!rk) {
        gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                  "cannot create the broker's anchor handle: %s", why);
        rd_kafka_conf_destroy(kc);
        return NULL;
    }
    int n = (int)gh_conf_get_int(conf, "broker.count");
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, n);
    if (!mc) {
        gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                  "cannot start the mock cluster (%d brokers)", n);
        rd_kafka_destroy(rk);
        return NULL;
    }
    gh_broker_t *b = gh_xcalloc(1, sizeof(*b));
    b->rk = rk;
    b->mc = mc;
    b->bootstraps = gh_xstrdup(rd_kafka_mock_cluster_bootstraps(mc));
    if (listeners_nodelay(b->bootstraps) < n)
        gh_log_warn("broker",
                    "could not set TCP_NODELAY on every mock broker's "
                    "listener: responses may wait ~40 ms for delayed ACKs");

    char **topics = gh_conf_get_list(conf, "topics");
    int defparts = (int)gh_conf_get_int(conf, "topic.partitions");
    for (int i = 0; topics[i]; i++) {
        char *t = topics[i];
        int parts = defparts;
        char *colon = strchr(t, ':');
        if (colon) {
            *colon = '\0';
            parts = atoi(colon + 1);
            if (parts < 1) {
                gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "topics: %s: bad partition count \"%s\"", t,
                          colon + 1);
                gh_conf_list_free(topics);
                gh_broker_destroy(b);
                return NULL;
            }
        }
        if (gh_broker_create_topic(b, t, parts, errstr, errstr_size)) {
            gh_conf_list_free(topics);
            gh_broker_destroy(b);
            return NULL;
        }
    }
    gh_conf_list_free(topics);
    if (gh_broker_create_topic(b, gh_conf_get(conf, "schemas.topic"), 1, errstr,
                               errstr_size)) {
        gh_broker_destroy(b);
        return NULL;
    }
    return b;
}

const char *gh_broker_bootstraps(const gh_broker_t *b) {
    return b->bootstraps;
}

gh_err_t gh_broker_create_topic(gh_broker_t *b, const char *topic,
                                int partitions, char *errstr,
                                size_t errstr_size) {
    int rf = 1;
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(b->mc, topic, partitions, rf);
    if (err && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "cannot create topic %s: %s", topic,
                         rd_kafka_err2str(err));
    gh_log_info("broker", "topic %s (%d partitions)", topic, partitions);
    return GH_OK;
}

gh_err_t gh_broker_set_up(gh_broker_t *b, int up, char *errstr,
                          size_t errstr_size) {
    rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(b->mc, -1)
                                 : rd_kafka_mock_broker_set_down(b->mc, -1);
    if (err)
        return gh_seterr(errstr, errstr_size, GH_ERR_KAFKA,
                         "cannot take the mock brokers %s: %s",
                         up ? "up" : "down", rd_kafka_err2str(err));
    return GH_OK;
}

void gh_broker_destroy(gh_broker_t *b) {
    if (!b) return;
    rd_kafka_mock_cluster_destroy(b->mc);
    rd_kafka_destroy(b->rk);
    free(b->bootstraps);
    free(b);
}
