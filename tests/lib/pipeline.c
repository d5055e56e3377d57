#include "pipeline.h"
#include "policy.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "harness.h"

/* ---- resident ID numbers (GB 11643), computed independently of gridhub --
 */

char gh_test_id_check(const char *first17) {
    static const int w[17] = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                              3, 7, 9,  10, 5, 8, 4, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (first17[i] - '0') * w[i];
    return "10X98765432"[sum % 11];
}

/* The 18-character ID of a person born y-m-d with sequence number seq. */
void gh_test_make_id18(char out[19], int y, int m, int d, int seq) {
    char buf[64];
    snprintf(buf, sizeof(buf), "110105%04d%02d%02d%03d", y, m, d, seq % 1000);
    cr_assert_eq(strlen(buf), 17);
    memcpy(out, buf, 17);
    out[17] = gh_test_id_check(out);
    out[18] = '\0';
}

/* The legacy 15-digit form of the same person (year 19YY). */
void gh_test_make_id15(char out[16], int y, int m, int d, int seq) {
    cr_assert(y >= 1900 && y <= 1999);
    char buf[64];
    snprintf(buf, sizeof(buf), "110105%02d%02d%02d%03d", y % 100, m, d,
             seq % 1000);
    cr_assert_eq(strlen(buf), 15);
    memcpy(out, buf, 16);
}

/* Test-side normalization of the forms these tests write: ASCII spaces
 * removed, x -> X, 15 digits upgraded with "19" and a check character.
 * Returns 1 and fills out for a valid ID, 0 otherwise. Dates written by the
 * tests are always real, so only the shape and the check are verified. */
int gh_test_norm_id(const char *raw, char out[19]) {
    char c[64];
    size_t n = 0;
    for (const char *p = raw; p && *p && n < sizeof(c) - 1; p++) {
        if (*p == ' ') continue;
        c[n++] = *p == 'x' ? 'X' : *p;
    }
    c[n] = '\0';
    if (n == 15) {
        for (size_t i = 0; i < 15; i++)
            if (c[i] < '0' || c[i] > '9') return 0;
        snprintf(out, 19, "%.6s19%.9s", c, c + 6);
        out[17] = gh_test_id_check(out);
        out[18] = '\0';
        return 1;
    }
    if (n != 18) return 0;
    for (size_t i = 0; i < 17; i++)
        if (c[i] < '0' || c[i] > '9') return 0;
    if (c[17] != gh_test_id_check(c)) return 0;
    memcpy(out, c, 19);
    return 1;
}

/* ---- small SQL helpers that tolerate errors (for polling) ---------------
 */

/* First column of the first row, or NULL on any error or no row. */
char *gh_test_try_scalar(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
        !PQgetisnull(r, 0, 0))
        out = gh_xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

long gh_test_try_count(PGconn *c, const char *sql) {
    char *v = gh_test_try_scalar(c, sql);
    long n = v ? atol(v) : -1;
    free(v);
    return n;
}

/* Every mapped column of every department row, as the hub stores it. */
#define DEPT_DIGEST_SQL                                                        \
    "SELECT coalesce(string_agg(concat_ws('|', rkbh, coalesce(btrim(xm), "     \
    "'~'), coalesce(nullif(btrim(gmsfhm), ''), '~'), coalesce(CASE "           \
    "btrim(xb) WHEN '1' THEN 'MALE' WHEN '2' THEN 'FEMALE' ELSE 'UNKNOWN' "    \
    "END, '~'), coalesce(csrq::text, '~'), coalesce(nullif(btrim(lxdh), ''), " \
    "'~'), coalesce(jzdz, '~'), coalesce(wgbm, '~')), ';' ORDER BY rkbh), "    \
    "'') FROM zz_syrk"
#define HUB_DIGEST_SQL                                                         \
    "SELECT coalesce(string_agg(concat_ws('|', source_key, coalesce(name, "    \
    "'~'), coalesce(id_number_raw, '~'), coalesce(sex, '~'), "                 \
    "coalesce(birth_date::text, '~'), coalesce(phone, '~'), "                  \
    "coalesce(address, "                                                       \
    "'~'), coalesce(grid_code, '~')), ';' ORDER BY source_key), '') FROM "     \
    "source_person WHERE department = 'test' AND NOT deleted"

/* The hub has applied every department row and published its outbox. */
int gh_test_settled(void *arg) {
    gh_test_settle_t *st = arg;
    free(st->dept_digest);
    free(st->hub_digest);
    st->dept_digest = gh_test_try_scalar(st->s->dept, DEPT_DIGEST_SQL);
    st->hub_digest = gh_test_try_scalar(st->hub, HUB_DIGEST_SQL);
    st->outbox = gh_test_try_count(st->hub, GH_TEST_UNSENT_SQL);
    if (PQstatus(st->hub) != CONNECTION_OK) PQreset(st->hub);
    return st->dept_digest && st->hub_digest && st->outbox == 0 &&
           strcmp(st->dept_digest, st->hub_digest) == 0;
}

/* Waits until the hub database mirrors the department table and the
 * outbox is empty; fails with the hub's log otherwise. */
void gh_test_wait_settled(gh_test_stack_t *s, PGconn *hub, int timeout_ms) {
    gh_test_settle_t st = {s, hub, NULL, NULL, 0};
    int ok = gh_test_wait_until(gh_test_settled, &st, timeout_ms);
    if (!ok) {
        /* Formatted before the assertion so that nothing leaks when it
         * ends the test (sanitizer builds report leaks). */
        static char msg[8192];
        char *tail = gh_test_file_tail(gh_test_stack_hub_log(s), 3000);
        size_t dl = st.dept_digest ? strlen(st.dept_digest) : 0;
        size_t hl = st.hub_digest ? strlen(st.hub_digest) : 0;
        size_t i = 0;
        while (i < dl && i < hl && st.dept_digest[i] == st.hub_digest[i])
            i++;
        snprintf(msg, sizeof(msg),
                 "hub did not settle within %d ms: %ld outbox rows and "
                 "notes, "
                 "department/hub digests %s (first difference at %zu: dept "
                 "\"%.120s\" hub \"%.120s\"); hub log ends:\n%s",
                 timeout_ms, st.outbox,
                 st.dept_digest && st.hub_digest ? "differ" : "missing", i,
                 dl > i ? st.dept_digest + i : "",
                 hl > i ? st.hub_digest + i : "", tail);
        free(tail);
        free(st.dept_digest);
        free(st.hub_digest);
        cr_assert_fail("%s", msg);
    }
    free(st.dept_digest);
    free(st.hub_digest);
}

void gh_test_insert_row(PGconn *c, const char *rkbh, const char *name,
                        const char *id, int sex, const char *birth,
                        const char *phone, const char *addr, const char *grid) {
    char *lid = id ? PQescapeLiteral(c, id, strlen(id)) : NULL;
    gh_test_exec(c,
                 "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, "
                 "jzdz, wgbm, bz, gxsj) VALUES ('%s', '%s', %s, '%d', '%s', "
                 "'%s', '%s', '%s', 'remark', clock_timestamp())",
                 rkbh, name, lid ? lid : "NULL", sex, birth, phone, addr, grid);
    PQfreemem(lid);
}

/* Fails if a log file in `dir` holds a sanitizer report (the children of
 * an ASan build write theirs to their logs, not to the test's output). */
void gh_test_assert_no_sanitizer_reports(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 4, ".log")) continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        char *text = gh_test_file_tail(path, 16 << 20);
        const char *hit = strstr(text, "ERROR: AddressSanitizer");
        if (!hit) hit = strstr(text, "ERROR: LeakSanitizer");
        if (!hit) hit = strstr(text, "runtime error:");
        if (hit) {
            char *report = gh_xstrndup(hit, 3000);
            free(text);
            closedir(d);
            cr_assert_fail("sanitizer report in %s:\n%s", path, report);
        }
        free(text);
    }
    closedir(d);
}

/* Stops the connector and the hub gracefully: both must exit 0 on SIGTERM
 * and leave no sanitizer report in their logs. */
void gh_test_stop_clean(gh_test_stack_t *s) {
    gh_test_proc_t *procs[2] = {s->connector, s->hub};
    const char *names[2] = {"connector", "hub"};
    for (int i = 0; i < 2; i++) {
        if (!procs[i]) continue;
        int rc = gh_test_stop(procs[i], 20000);
        if (rc != 0) {
            const char *log =
                i ? gh_test_stack_hub_log(s) : gh_test_stack_connector_log(s);
            char *tail = gh_test_file_tail(log, 3000);
            cr_assert_fail("%s exited %d on SIGTERM; %s ends:\n%s", names[i],
                           rc, log, tail);
        }
    }
    gh_test_assert_no_sanitizer_reports(s->dir);
}

/* Waits until the connector streams (its snapshot, if any, is done). */
void gh_test_wait_streaming(gh_test_stack_t *s) {
    char *l = gh_test_wait_for_text(gh_test_stack_connector_log(s),
                                    "streaming ", 60000);
    if (!l) {
        char *tail = gh_test_file_tail(gh_test_stack_connector_log(s), 3000);
        cr_assert_fail("connector did not start streaming; log ends:\n%s",
                       tail);
    }
    free(l);
}

/* Lines of one key, in topic order: the key itself, or the person id
 * whose pseudonym for subscriber "test" it is. */
json_t *gh_test_lines_of(const json_t *lines, const char *key) {
    json_t *out = json_array();
    char pseudo[33];
    gh_test_pseudonym("test", "person", key, pseudo);
    size_t i;
    const json_t *l;
    json_array_foreach(lines, i, l) {
        const char *k = json_string_value(json_object_get(l, "key"));
        if (k && (!strcmp(k, key) || !strcmp(k, pseudo)))
            json_array_append(out, (json_t *)l);
    }
    return out;
}

long long gh_test_version_of(const json_t *fold, const char *pid) {
    return json_integer_value(
        json_object_get(json_object_get(fold, pid), "version"));
}

typedef struct live {
    PGconn *hub;
    long want;
} live_t;

static int live(void *arg) {
    const live_t *l = arg;
    return gh_test_try_count(l->hub, "SELECT count(*) FROM source_person "
                                     "WHERE NOT deleted") == l->want &&
           gh_test_try_count(l->hub, "SELECT count(*) FROM source_person "
                                     "WHERE NOT deleted AND person_id IS "
                                     "NULL") == 0 &&
           gh_test_try_count(l->hub, "SELECT count(*) FROM outbox") == 0;
}

int gh_test_wait_live(PGconn *hub, long want, int timeout_ms) {
    live_t l = {hub, want};
    return gh_test_wait_until(live, &l, timeout_ms);
}

typedef struct count_wait {
    PGconn *c;
    const char *sql;
    long want;
} count_wait_t;

static int count_reached(void *arg) {
    const count_wait_t *w = arg;
    return gh_test_try_count(w->c, w->sql) == w->want;
}

int gh_test_wait_count(PGconn *c, const char *sql, long want, int timeout_ms) {
    count_wait_t w = {c, sql, want};
    return gh_test_wait_until(count_reached, &w, timeout_ms);
}
