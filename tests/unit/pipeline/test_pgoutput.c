/*
 * Unit tests for the pgoutput decoder (connectors/runtime/capture/pgoutput.h):
 * messages the fuzz target (tests/fuzz/fuzz_pgoutput.c) found mishandled.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "pgoutput.h"

static gh_err_t decode(const unsigned char *buf, size_t len, gh_pgo_msg_t *m) {
    char err[256] = "";
    memset(m, 0, sizeof(*m));
    return gh_pgo_decode((const char *)buf, len, m, err, sizeof(err));
}

/* A table without columns (CREATE TABLE t ()) is sent as a tuple of none;
 * the first message decoded into a fresh message has no storage yet. */
Test(pgoutput, insert_of_zero_columns) {
    static const unsigned char msg[] = {'I', 0, 0, 0x40, 1, 'N', 0, 0};
    gh_pgo_msg_t m;
    cr_assert_eq(decode(msg, sizeof(msg), &m), GH_OK);
    cr_assert_eq(m.kind, GH_PGO_INSERT);
    cr_assert_eq(m.relid, 0x4001);
    cr_assert_eq(m.new_tuple.ncols, 0);
    gh_pgo_msg_free(&m);
}

Test(pgoutput, truncated_tuple) {
    static const unsigned char msg[] = {'I', 0,   0, 0x40, 1, 'N', 0,
                                        1,   't', 0, 0,    0, 9};
    gh_pgo_msg_t m;
    cr_assert_eq(decode(msg, sizeof(msg), &m), GH_ERR_PROTOCOL);
    gh_pgo_msg_free(&m);
}

/* A commit time near INT64_MAX (PostgreSQL's `infinity`) overflowed the
 * shift to the Unix epoch. */
Test(pgoutput, begin_with_infinite_time) {
    static const unsigned char msg[] = {
        'B',  0,    0,    0,    0,    0,    0, 0, 1, 0x7f, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 7};
    gh_pgo_msg_t m;
    cr_assert_eq(decode(msg, sizeof(msg), &m), GH_OK);
    cr_assert_eq(m.final_lsn, 1);
    cr_assert_eq(m.commit_time_us, INT64_MAX);
    cr_assert_eq(m.xid, 7);
    gh_pgo_msg_free(&m);
}

Test(pgoutput, begin_time_from_2000) {
    static const unsigned char msg[] = {'B', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
                                        0,   0, 0, 0, 0, 2, 0, 0, 0, 7};
    gh_pgo_msg_t m;
    cr_assert_eq(decode(msg, sizeof(msg), &m), GH_OK);
    cr_assert_eq(m.commit_time_us, GH_PG_EPOCH_OFFSET_US + 2);
    gh_pgo_msg_free(&m);
}
