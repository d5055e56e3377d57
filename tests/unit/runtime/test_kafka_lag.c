/* The consumer lag of one partition from librdkafka's statistics
 * (hub/runtime/kafka/kafka_lag.c). */
#include <criterion/criterion.h>
#include <jansson.h>

#include "kafka_int.h"

static int64_t lag_of(const char *json) {
    json_error_t je;
    json_t *p = json_loads(json, 0, &je);
    cr_assert_not_null(p, "%s", je.text);
    int64_t lag = gh__kafka_partition_lag(p);
    json_decref(p);
    return lag;
}

Test(kafka_lag, from_what_was_read_to_the_stable_end) {
    cr_expect_eq(lag_of("{\"desired\": true, \"hi_offset\": 100, "
                        "\"ls_offset\": 90, \"app_offset\": 40, "
                        "\"committed_offset\": 30, \"next_offset\": 60, "
                        "\"lo_offset\": 0}"),
                 50);
    /* The committed offset when it is ahead of what this consumer read. */
    cr_expect_eq(lag_of("{\"desired\": true, \"hi_offset\": 100, "
                        "\"app_offset\": -1, \"committed_offset\": 70, "
                        "\"lo_offset\": 0}"),
                 30);
    cr_expect_eq(lag_of("{\"desired\": false, \"hi_offset\": 100, "
                        "\"app_offset\": 10}"),
                 -1);
}

/* After a rebalance an instance may be given a partition another one read
 * to its end: nothing to read, no committed offset of librdkafka's own
 * (the hub assigns explicit offsets); the fetcher stands at the end. It
 * showed the partition's whole length before. */
Test(kafka_lag, partition_taken_over_at_its_end_has_none) {
    cr_expect_eq(lag_of("{\"desired\": true, \"hi_offset\": 9465, "
                        "\"ls_offset\": 9465, \"app_offset\": -1001, "
                        "\"committed_offset\": -1001, "
                        "\"next_offset\": 9465, \"lo_offset\": 0}"),
                 0);
    /* Read from the start, nothing fetched yet: the whole partition. */
    cr_expect_eq(lag_of("{\"desired\": true, \"hi_offset\": 500, "
                        "\"app_offset\": -1001, \"committed_offset\": -1001, "
                        "\"next_offset\": -1001, \"lo_offset\": 0}"),
                 500);
}
