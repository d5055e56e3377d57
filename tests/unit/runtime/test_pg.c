/*
 * The PostgreSQL helpers that need no server (hub/runtime/pg/pg.c): which
 * SQLSTATEs are transient — retried with back-off — and which blame the
 * data, which the hub dead-letters; and what a failed statement on a lost
 * session is.
 */
#include <criterion/criterion.h>

#include "gridhub/pg.h"

Test(pg, transient_sqlstates) {
    static const char *const transient[] = {
        "40001", /* serialization_failure */
        "40P01", /* deadlock_detected */
        "53100", /* disk_full */
        "53200", /* out_of_memory */
        "53300", /* too_many_connections */
        "55P03", /* lock_not_available */
        "57014", /* query_canceled (statement_timeout) */
        "57P01", /* admin_shutdown */
        "58030", /* io_error */
        "08006", /* connection_failure */
        "25P03", /* idle_in_transaction_session_timeout */
        NULL};
    static const char *const data[] = {
        "22001", /* string_data_right_truncation */
        "22007", /* invalid_datetime_format */
        "22021", /* character_not_in_repertoire (bad UTF-8) */
        "23505", /* unique_violation */
        "23514", /* check_violation */
        "42703", /* undefined_column */
        "54000", /* program_limit_exceeded (row too big) */
        "XX000", /* internal_error */
        "",      "4", "400011", NULL};
    for (int i = 0; transient[i]; i++)
        cr_assert(gh_pg_sqlstate_transient(transient[i]), "%s", transient[i]);
    for (int i = 0; data[i]; i++)
        cr_assert_not(gh_pg_sqlstate_transient(data[i]), "%s", data[i]);
    cr_assert_not(gh_pg_sqlstate_transient(NULL));
}

/* A statement that failed on a lost session is the session's failure (the
 * caller reconnects), not the statement's. */
Test(pg, failure_of_a_lost_session) {
    cr_assert_eq(gh_pg_failure(NULL), GH_ERR_PG_CONNECT);
    PGconn *c = PQconnectdb("host=/nonexistent-gridhub-socket-dir "
                            "connect_timeout=1");
    cr_assert_neq(PQstatus(c), CONNECTION_OK);
    cr_assert_eq(gh_pg_failure(c), GH_ERR_PG_CONNECT);
    PQfinish(c);
}
