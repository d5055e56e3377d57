/* The relay thread: the outbox to the view topics, beside the views. The
 * views thread commits a views transaction, tells this thread and goes on
 * with the next views while this one publishes the rows and waits for
 * Kafka's acknowledgements (4-6 s of the views thread's time over a demo
 * load when it relayed them itself, docs/performance.md). On a connection
 * of its own, with the relay's producer (h->relay) and keys of its own to
 * open sealed payloads: a gh_crypt_t keeps cipher contexts and is not
 * shared between threads. Started and stopped by the views thread, which
 * is its only client. */
#include <stdio.h>
#include <stdlib.h>

#include "crypt.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "hub_int.h"
#include "kick.h"

#define LOG "hub"

struct gh__relayer {
    hub_t *h; /* conf, h->relay (the thread's while it runs), us_relay */
    PGconn *db;
    gh_crypt_t *crypt;
    rd_kafka_t *wake; /* the main thread's consumer */
    pthread_t th;
    gh__kick_t k;
};

/* gh_pg_connect_retry_until's stop: asked to stop, or a signal (a
 * database that does not answer is not waited for then). */
static int stopping_cb(void *ctx) {
    gh__relayer_t *r = ctx;
    return gh__kick_stopped(&r->k) || gh_shutdown_requested();
}

static void *run(void *arg) {
    gh__relayer_t *r = arg;
    hub_t *h = r->h;
    const gh_conf_t *conf = h->conf;
    int b0 = (int)gh_conf_get_int(conf, "retry.backoff.ms");
    int bmax = (int)gh_conf_get_int(conf, "retry.backoff.max.ms");
    char errstr[1024];
    /* Rows are owed: written and not relayed (or another instance held the
     * lock); whatever a crash or an earlier session left, first. */
    int owed = 1;
    uint64_t taken = 0;
    int64_t next_ms = 0; /* when the outbox is looked at anyway */
    for (;;) {
        /* Only an explicit stop ends the thread (a signal does not): the
         * views thread makes the views of the last batch after a signal,
         * and their rows are relayed once it has ended. */
        int stop = gh__kick_stopped(&r->k);
        if (!r->db && stop) break; /* the next session relays */
        if (!r->db) {
            r->db = gh_pg_connect_retry_until(
                gh_conf_get(conf, "database.conninfo"), 0,
                "hub database (relay)", b0, bmax, stopping_cb, r);
            if (!r->db) break; /* stopped */
            owed = 1;
        }
        gh_err_t e = GH_OK;
        if (stop || owed || gh_now_ms() >= next_ms) {
            int busy = 0;
            int64_t t0 = gh_now_us();
            e = gh__hub_relay(&h->relay, r->db, &busy, errstr, sizeof(errstr));
            h->us_relay += gh_now_us() - t0;
            owed = busy;
            next_ms = gh_now_ms() + gh_conf_get_int(conf, "outbox.poll.ms");
        }
        if (e == GH_ERR_STOPPED) break;
        if (e && !stop &&
            (e == GH_ERR_PG_CONNECT || PQstatus(r->db) != CONNECTION_OK)) {
            gh_log_warn(LOG, "relay: %s; connecting again", errstr);
            PQfinish(r->db);
            r->db = NULL;
            continue;
        }
        if (e) {
            gh__kick_fail(&r->k, e, errstr);
            rd_kafka_yield(r->wake);
            break;
        }
        if (stop) break;
        /* Rows another instance's relay left behind are asked for again
         * soon: it may have read the outbox before they were committed. */
        int64_t until = owed ? gh_now_ms() + 20 : next_ms;
        uint64_t k = gh__kick_wait(&r->k, until, taken, 0);
        if (k != taken) owed = 1;
        taken = k;
    }
    PQfinish(r->db);
    r->db = NULL;
    return NULL;
}

gh__relayer_t *gh__hub_relayer_start(hub_t *h, rd_kafka_t *wake, char *errstr,
                                     size_t errstr_size) {
    gh__relayer_t *r = gh_xcalloc(1, sizeof(*r));
    r->h = h;
    r->wake = wake;
    const char *ck = gh_conf_get(h->conf, "crypt.key.file");
    if (ck && !(r->crypt = gh_crypt_new(ck, errstr, errstr_size))) {
        free(r);
        return NULL;
    }
    h->relay.crypt = r->crypt;
    gh__kick_init(&r->k);
    if (pthread_create(&r->th, NULL, run, r)) {
        gh_seterr(errstr, errstr_size, GH_ERR_IO,
                  "cannot start the relay thread");
        gh__kick_destroy(&r->k);
        h->relay.crypt = NULL;
        gh_crypt_destroy(r->crypt);
        free(r);
        return NULL;
    }
    return r;
}

void gh__hub_relayer_kick(gh__relayer_t *r) {
    gh__kick(&r->k);
}

gh_err_t gh__hub_relayer_check(gh__relayer_t *r, char *errstr,
                               size_t errstr_size) {
    return gh__kick_failed(&r->k, errstr, errstr_size);
}

gh_err_t gh__hub_relayer_stop(gh__relayer_t *r, char *errstr,
                              size_t errstr_size) {
    if (!r) return GH_OK;
    gh__kick_stop(&r->k);
    pthread_join(r->th, NULL);
    gh_err_t e = gh__hub_relayer_check(r, errstr, errstr_size);
    gh__kick_destroy(&r->k);
    r->h->relay.crypt = NULL;
    gh_crypt_destroy(r->crypt);
    free(r);
    return e;
}
