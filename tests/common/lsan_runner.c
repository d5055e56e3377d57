/*
 * Leak checking in the Criterion runner process.
 *
 * Criterion runs every test in a worker (a re-executed copy of this binary
 * that BoxFort marks with BXFI_MAP in its environment); the runner only
 * schedules workers and collects their reports. BoxFort's timeout watchdog
 * in the runner (used by every test with .timeout) moves a cancelled
 * request to a list its thread frees on its next wake-up, so a runner that
 * exits first sometimes leaks that 48-byte request: LeakSanitizer then
 * aborts the runner and fails a suite whose tests all passed (seen in CI,
 * Debian's libcriterion 2.4.1).
 *
 * None of our code runs in the runner, so leak checking stays on in every
 * worker, where the tests and what they call run, and is off only there.
 * LeakSanitizer calls this hook at exit; without a sanitizer nothing calls it.
 */
#include <stdlib.h>

int __lsan_is_turned_off(void);

int __lsan_is_turned_off(void) {
    return getenv("BXFI_MAP") == NULL;
}
