/* A worker thread's wake-ups (hub/publish/kick.c): a kick or a stop wakes a
 * waiter at once, a signal's stop request only the waiters that ask for
 * it, and nothing else before the deadline; the first failure is kept. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>

#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "kick.h"

typedef struct {
    gh__kick_t *k;
    int stop; /* stop rather than kick */
} poke_t;

static void *poke(void *arg) {
    poke_t *p = arg;
    usleep(100 * 1000);
    if (p->stop)
        gh__kick_stop(p->k);
    else
        gh__kick(p->k);
    return NULL;
}

/* Waits with a deadline 5 s away while another thread pokes after 0.1 s;
 * returns the milliseconds waited and the kicks seen. */
static int64_t wait_poked(gh__kick_t *k, int stop, uint64_t *seen) {
    poke_t p = {k, stop};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, poke, &p), 0);
    int64_t t0 = gh_now_ms();
    *seen = gh__kick_wait(k, t0 + 5000, 0, 0);
    int64_t waited = gh_now_ms() - t0;
    pthread_join(t, NULL);
    return waited;
}

Test(kick, a_kick_wakes_the_waiter) {
    gh__kick_t k;
    gh__kick_init(&k);
    uint64_t seen = 0;
    int64_t waited = wait_poked(&k, 0, &seen);
    cr_expect_eq(seen, 1);
    cr_expect_lt(waited, 2500, "woken by the kick, not the deadline (%lld ms)",
                 (long long)waited);
    cr_expect_eq(gh__kick_count(&k), 1);
    cr_expect_not(gh__kick_stopped(&k));
    gh__kick_destroy(&k);
}

Test(kick, a_stop_wakes_the_waiter) {
    gh__kick_t k;
    gh__kick_init(&k);
    uint64_t seen = 7;
    int64_t waited = wait_poked(&k, 1, &seen);
    cr_expect_eq(seen, 0, "no kick");
    cr_expect_lt(waited, 2500, "woken by the stop (%lld ms)",
                 (long long)waited);
    cr_expect(gh__kick_stopped(&k));
    /* Stopped, a wait returns at once. */
    int64_t t0 = gh_now_ms();
    gh__kick_wait(&k, t0 + 5000, 0, 0);
    cr_expect_lt(gh_now_ms() - t0, 1000);
    gh__kick_destroy(&k);
}

Test(kick, kicks_already_counted_return_at_once_others_wait) {
    gh__kick_t k;
    gh__kick_init(&k);
    gh__kick(&k);
    gh__kick(&k);
    int64_t t0 = gh_now_ms();
    cr_expect_eq(gh__kick_wait(&k, t0 + 5000, 0, 0), 2, "two kicks missed");
    cr_expect_lt(gh_now_ms() - t0, 1000);
    /* Nothing new: until the deadline, and no earlier. */
    t0 = gh_now_ms();
    cr_expect_eq(gh__kick_wait(&k, t0 + 250, 2, 0), 2);
    int64_t waited = gh_now_ms() - t0;
    cr_expect_geq(waited, 250, "returned after %lld ms", (long long)waited);
    cr_expect_lt(waited, 2500);
    gh__kick_destroy(&k);
}

Test(kick, a_signal_ends_only_the_waits_that_ask) {
    gh__kick_t k;
    gh__kick_init(&k);
    gh_shutdown_request();
    int64_t t0 = gh_now_ms();
    gh__kick_wait(&k, t0 + 5000, 0, 1);
    cr_expect_lt(gh_now_ms() - t0, 1000, "the views thread's wait ends");
    t0 = gh_now_ms();
    gh__kick_wait(&k, t0 + 300, 0, 0);
    cr_expect_geq(gh_now_ms() - t0, 300,
                  "the relay thread's wait runs to its deadline");
    gh__kick_destroy(&k);
}

/* A worker's failure reaches the thread that started it, with its text;
 * a second failure (the worker's cleanup failing too) does not hide the
 * first. */
Test(kick, the_first_failure_is_kept_and_read) {
    gh__kick_t k;
    gh__kick_init(&k);
    char errstr[256] = "untouched";
    cr_expect_eq(gh__kick_failed(&k, errstr, sizeof(errstr)), GH_OK);
    cr_expect_str_eq(errstr, "untouched");
    gh__kick_fail(&k, GH_ERR_PG, "views: the database went away");
    gh__kick_fail(&k, GH_ERR_IO, "a later failure");
    cr_expect_eq(gh__kick_failed(&k, errstr, sizeof(errstr)), GH_ERR_PG);
    cr_expect_str_eq(errstr, "views: the database went away");
    /* Read again, as gh__hub_views_check and then _stop do. */
    cr_expect_eq(gh__kick_failed(&k, errstr, sizeof(errstr)), GH_ERR_PG);
    gh__kick_destroy(&k);
}
