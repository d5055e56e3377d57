/* Binary COPY both ways (include/gridhub/pgcopy.h) against a real server:
 * every field kind round-trips, streamed and buffered sends agree, and a
 * refused COPY or a bad row reports the server's error instead of being
 * taken for success. */
#include <criterion/criterion.h>
#include <string.h>

#include "gridhub/pg.h"
#include "gridhub/pgcopy.h"
#include "harness.h"

static const char *const texts[] = {"plain", "", "网格 \"quoted\" \\ tab\t",
                                    NULL};

static void add_rows(gh_pgcopy_t *c, int from, int n) {
    for (int i = from; i < from + n; i++) {
        gh_pgcopy_row(c, 5);
        gh_pgcopy_int8(c, (int64_t)i * 1000000007LL);
        gh_pgcopy_int2(c, (int16_t)(i - 7));
        /* 2026-12-03T09:40:05.527123Z plus i seconds */
        gh_pgcopy_timestamptz(c, INT64_C(1796290805527123) + i * 1000000LL);
        gh_pgcopy_text(c, texts[i % 4]);
        uint8_t b[3] = {0, (uint8_t)i, 0xff};
        gh_pgcopy_bytes(c, b, sizeof(b));
    }
}

Test(pgcopy, round_trip_streamed_and_buffered) {
    char *name = gh_test_create_db("gh_pgcopy");
    PGconn *db = gh_test_pg_connect(name);
    gh_test_exec(db, "CREATE TABLE t (a bigint PRIMARY KEY, b smallint, c "
                     "timestamptz, d text, e bytea)");
    char err[512];
    gh_pgcopy_t *c = gh_pgcopy_new();
    const char *copy_in = "COPY t FROM STDIN (FORMAT binary)";
    /* Streamed, enough rows to pass several slices to libpq. */
    cr_assert_eq(gh_pgcopy_start(c, db, copy_in, "stream", err, sizeof(err)),
                 GH_OK, "%s", err);
    add_rows(c, 0, 20000);
    cr_assert_eq(gh_pgcopy_end(c, err, sizeof(err)), GH_OK, "%s", err);
    /* Buffered. */
    add_rows(c, 20000, 10);
    cr_assert_eq(gh_pgcopy_rows(c), 10);
    cr_assert_eq(gh_pgcopy_send(c, db, copy_in, "buffer", err, sizeof(err)),
                 GH_OK, "%s", err);
    cr_assert_eq(gh_pgcopy_rows(c), 0);
    PGresult *r = PQexec(
        db, "SELECT count(*), sum(b), "
            "to_char(max(c) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), "
            "count(d), (SELECT encode(e, 'hex') FROM t WHERE a = 0) FROM t");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "20010");
    cr_assert_str_eq(PQgetvalue(r, 0, 1), "200049975"); /* sum(i - 7) */
    cr_assert_str_eq(PQgetvalue(r, 0, 2), "2026-12-03 15:13:34.527123");
    cr_assert_str_eq(PQgetvalue(r, 0, 3), "15008"); /* every 4th is NULL */
    cr_assert_str_eq(PQgetvalue(r, 0, 4), "0000ff");
    PQclear(r);

    /* Read back in order: every field as it was written. */
    gh_pgcopy_reader_t *rd = gh_pgcopy_reader_new(
        db, "COPY (SELECT * FROM t ORDER BY a) TO STDOUT (FORMAT binary)",
        "read", err, sizeof(err));
    cr_assert_not_null(rd, "%s", err);
    int i = 0, got;
    while ((got = gh_pgcopy_next(rd, err, sizeof(err))) == 1) {
        cr_assert_eq(gh_pgcopy_nfields(rd), 5);
        cr_assert_eq(gh_pgcopy_field_int(rd, 0), (int64_t)i * 1000000007LL);
        cr_assert_eq(gh_pgcopy_field_int(rd, 1), i - 7);
        cr_assert_eq(gh_pgcopy_field_timestamptz(rd, 2),
                     INT64_C(1796290805527123) + i * 1000000LL);
        size_t n;
        const char *d = gh_pgcopy_field(rd, 3, &n);
        if (!texts[i % 4])
            cr_assert_null(d, "row %d", i);
        else
            cr_assert(n == strlen(texts[i % 4]) && !memcmp(d, texts[i % 4], n),
                      "row %d", i);
        const char *e = gh_pgcopy_field(rd, 4, &n);
        cr_assert(n == 3 && (uint8_t)e[1] == (uint8_t)i, "row %d", i);
        i++;
    }
    cr_assert_eq(got, 0, "%s", err);
    cr_assert_eq(i, 20010);
    gh_pgcopy_reader_destroy(rd);

    /* Stopped early: destroying the reader leaves the connection usable. */
    rd = gh_pgcopy_reader_new(db, "COPY t TO STDOUT (FORMAT binary)", "read",
                              err, sizeof(err));
    cr_assert_eq(gh_pgcopy_next(rd, err, sizeof(err)), 1);
    gh_pgcopy_reader_destroy(rd);
    r = PQexec(db, "SELECT 1");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    PQclear(r);

    /* A duplicate key: the server's error, named, and nothing stored. */
    add_rows(c, 0, 1);
    cr_assert_neq(
        gh_pgcopy_send(c, db, copy_in, "append rows", err, sizeof(err)), GH_OK);
    cr_assert(strstr(err, "append rows") && strstr(err, "duplicate key"), "%s",
              err);
    /* A refused COPY (no such table), then a refused COPY TO. */
    cr_assert_neq(gh_pgcopy_start(c, db,
                                  "COPY nope FROM STDIN (FORMAT "
                                  "binary)",
                                  "start", err, sizeof(err)),
                  GH_OK);
    cr_assert(strstr(err, "nope"), "%s", err);
    cr_assert_null(gh_pgcopy_reader_new(
        db, "COPY nope TO STDOUT (FORMAT binary)", "read", err, sizeof(err)));
    cr_assert_eq(gh_test_count(db, "SELECT count(*) FROM t"), 20010);
    gh_pgcopy_destroy(c);
    PQfinish(db);
    gh_test_drop_db(name);
    free(name);
}
