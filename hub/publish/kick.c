/* A worker thread's wake-ups (kick.h). */
#include "kick.h"

#include <stdio.h>
#include <time.h>

#include "gridhub/shutdown.h"
#include "gridhub/util.h"

void gh__kick_init(gh__kick_t *k) {
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    k->kicked = 0;
    k->stop = 0;
    k->err = GH_OK;
    k->errstr[0] = 0;
}

void gh__kick_destroy(gh__kick_t *k) {
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
}

void gh__kick(gh__kick_t *k) {
    pthread_mutex_lock(&k->mu);
    ++k->kicked;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

void gh__kick_stop(gh__kick_t *k) {
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

int gh__kick_stopped(gh__kick_t *k) {
    pthread_mutex_lock(&k->mu);
    int s = k->stop;
    pthread_mutex_unlock(&k->mu);
    return s;
}

uint64_t gh__kick_count(gh__kick_t *k) {
    pthread_mutex_lock(&k->mu);
    uint64_t n = k->kicked;
    pthread_mutex_unlock(&k->mu);
    return n;
}

uint64_t gh__kick_wait(gh__kick_t *k, int64_t until, uint64_t taken,
                       int on_signal) {
    pthread_mutex_lock(&k->mu);
    while (k->kicked == taken && !k->stop &&
           !(on_signal && gh_shutdown_requested())) {
        int64_t left = until - gh_now_ms();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (left > 100 ? 100 : left) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
    }
    taken = k->kicked;
    pthread_mutex_unlock(&k->mu);
    return taken;
}

void gh__kick_fail(gh__kick_t *k, gh_err_t e, const char *errstr) {
    pthread_mutex_lock(&k->mu);
    if (!k->err) {
        k->err = e;
        snprintf(k->errstr, sizeof(k->errstr), "%s", errstr);
    }
    pthread_mutex_unlock(&k->mu);
}

gh_err_t gh__kick_failed(gh__kick_t *k, char *errstr, size_t errstr_size) {
    pthread_mutex_lock(&k->mu);
    gh_err_t e = k->err;
    if (e) gh_seterr(errstr, errstr_size, e, "%s", k->errstr);
    pthread_mutex_unlock(&k->mu);
    return e;
}
