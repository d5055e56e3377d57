/*
 * gh_shutdown_ (hub/runtime/base/shutdown.c): the stop flag and its budget, the
 * second signal, the watchdog and the exit codes. Criterion runs every
 * test in a process of its own, so each installs its own handlers.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gridhub/shutdown.h"
#include "gridhub/util.h"

Test(shutdown, budget_counts_down_from_the_request) {
    gh_shutdown_install("test", 400);
    cr_assert_not(gh_shutdown_requested());
    cr_assert_eq(gh_shutdown_left_ms(), INT64_MAX);
    cr_assert_eq(gh_shutdown_clamp_ms(250), 250, "no stop: no clamp");
    cr_assert_not(gh_shutdown_expired());
    raise(SIGTERM);
    cr_assert(gh_shutdown_requested(), "the first signal requests a stop");
    int64_t left = gh_shutdown_left_ms();
    cr_assert(left > 300 && left <= 400, "left %lld", (long long)left);
    cr_assert_leq(gh_shutdown_clamp_ms(1000), 400);
    cr_assert_eq(gh_shutdown_clamp_ms(5), 5);
    cr_assert_not(gh_shutdown_expired());
    usleep(320 * 1000);
    left = gh_shutdown_left_ms();
    cr_assert_leq(left, 100, "left %lld", (long long)left);
    cr_assert(gh_shutdown_expired(), "the last quarter is kept for closing");
    usleep(130 * 1000);
    cr_assert_eq(gh_shutdown_left_ms(), 0);
    cr_assert(gh_shutdown_expired());
    cr_assert_eq(gh_shutdown_clamp_ms(100), 0);
}

Test(shutdown, request_is_idempotent_and_sleep_returns_early) {
    gh_shutdown_install("test", 10000);
    gh_shutdown_request();
    int64_t a = gh_shutdown_left_ms();
    usleep(50 * 1000);
    gh_shutdown_request(); /* does not restart the budget */
    cr_assert_lt(gh_shutdown_left_ms(), a);
    int64_t t0 = gh_now_ms();
    gh_shutdown_sleep_ms(5000);
    cr_assert_lt(gh_now_ms() - t0, 100, "sleep ignores a requested stop");
}

/* A second signal is the operator insisting: the process dies by it. */
Test(shutdown, second_signal_kills_at_once, .signal = SIGTERM) {
    gh_shutdown_install("test", 60000);
    raise(SIGTERM);
    cr_assert(gh_shutdown_requested());
    raise(SIGTERM);
    sleep(5);
    cr_assert_fail("still alive after the second signal");
}

/* Something blocks past the budget: the watchdog ends the process with
 * GH_EXIT_LEFT_WORK about GH_SHUTDOWN_GRACE_MS after the budget. */
Test(shutdown, watchdog_ends_a_stuck_process, .exit_code = GH_EXIT_LEFT_WORK) {
    gh_shutdown_install("test", 100);
    gh_shutdown_request();
    struct timespec ts = {10, 0};
    nanosleep(&ts, NULL); /* "blocked": ignores the stop flag */
    cr_assert_fail("the watchdog did not end the process");
}

Test(shutdown, exit_codes) {
    cr_assert_eq(gh_shutdown_exit_code(GH_OK), 0);
    cr_assert_eq(gh_shutdown_exit_code(GH_ERR_STOPPED), 0);
    cr_assert_eq(gh_shutdown_exit_code(GH_ERR_TIMED_OUT), 3);
    cr_assert_eq(gh_shutdown_exit_code(GH_ERR_CONFIG), 2);
    cr_assert_eq(gh_shutdown_exit_code(GH_ERR_PG_CONNECT), 1);
    cr_assert_eq(gh_shutdown_exit_code(GH_ERR_KAFKA), 1);
    cr_assert_not_null(strstr(gh_shutdown_exit_help(), "shutdown.timeout.ms"));
}
