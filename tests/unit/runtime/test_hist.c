#include <criterion/criterion.h>

#include "gridhub/hist.h"

Test(hist, exact_below_sixteen) {
    gh_hist_t h;
    gh_hist_reset(&h);
    for (int i = 0; i < 10; i++)
        gh_hist_record(&h, i);
    cr_assert_eq(gh_hist_quantile(&h, 0.0), 0);
    cr_assert_eq(gh_hist_quantile(&h, 0.5), 5);
    cr_assert_eq(gh_hist_quantile(&h, 0.99), 9);
}

Test(hist, relative_precision_on_uniform_values) {
    static gh_hist_t h;
    gh_hist_reset(&h);
    for (int i = 1; i <= 100000; i++)
        gh_hist_record(&h, i);
    int64_t p50 = gh_hist_quantile(&h, 0.5), p99 = gh_hist_quantile(&h, 0.99);
    /* Within one sub-bucket (1/16) above the true value. */
    cr_assert(p50 >= 50000 && p50 <= 50000 + 50000 / 16 + 1, "p50=%ld",
              (long)p50);
    cr_assert(p99 >= 99000 && p99 <= 99000 + 99000 / 16 + 1, "p99=%ld",
              (long)p99);
    cr_assert_eq(gh_hist_quantile(&h, 1.0), 100000);
}

Test(hist, empty_and_huge) {
    gh_hist_t h;
    gh_hist_reset(&h);
    cr_assert_eq(gh_hist_quantile(&h, 0.5), 0);
    gh_hist_record(&h, INT64_C(1) << 50);
    cr_assert_eq(gh_hist_quantile(&h, 0.5), INT64_C(1) << 50);
    gh_hist_record(&h, -5);
    cr_assert_eq(gh_hist_quantile(&h, 0.0), 0);
}
