/* Random department churn and the exact-view check (churn.h). */
#include "churn.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "harness.h"
#include "oracle.h"
#include "pipeline.h"
#include "topics.h"

/* A fresh ID from a pool that never collides with the initial rows. */
static void fresh_id(gh_test_churn_t *k, char out[19]) {
    int j = k->next_fresh++;
    int64_t days = gh_days_from_civil(1970, 1, 2) + 2 * j;
    char d[11];
    gh_date_format(days, d);
    gh_test_make_id18(out, atoi(d), atoi(d + 5), atoi(d + 8), 500 + j % 400);
}

static int pick_alive(gh_test_churn_t *k) {
    cr_assert(k->nalive > 0);
    for (;;) {
        int i = (int)(rand_r(&k->seed) % (unsigned)k->n);
        if (k->alive[i]) return i;
    }
}

/* A live row whose ID is valid: copying it makes two records of one
 * resident, which identity resolution must link (copying an invalid one
 * would make a pair only probabilistic matching could judge). */
static int pick_alive_valid(gh_test_churn_t *k) {
    for (;;) {
        int i = pick_alive(k);
        char id[19];
        if (gh_test_norm_id(k->id[i], id)) return i;
    }
}

/* Sex and birth date follow the ID number, so that records sharing an ID
 * are one resident by every field identity resolution weighs. */
static int sex_of(const char *id) {
    return (id[16] - '0') % 2 ? 1 : 2;
}

/* One random department change (sometimes several in one transaction). */
void gh_test_churn_step(gh_test_churn_t *k, gh_test_stack_t *s, int step) {
    unsigned r = rand_r(&k->seed) % 100;
    PGconn *c = s->dept;
    if (r < 30 && k->nalive > 10) { /* update contact details */
        int i = pick_alive(k);
        gh_test_exec(c,
                     "UPDATE zz_syrk SET xm = '名%d', lxdh = '137%08d', jzdz = "
                     "'地址%d', gxsj = clock_timestamp() WHERE rkbh = '%s'",
                     step, step, step, k->rk[i]);
    } else if (r < 40 && k->nalive > 10) { /* grid */
        int i = pick_alive(k);
        gh_test_exec(c,
                     "UPDATE zz_syrk SET wgbm = 'W%d', gxsj = "
                     "clock_timestamp() WHERE rkbh = '%s'",
                     step % 50, k->rk[i]);
    } else if (r < 60 && k->n < k->max) { /* new row */
        int i = k->n++;
        snprintf(k->rk[i], sizeof(k->rk[i]), "N%05d", i);
        if (rand_r(&k->seed) % 2 && k->nalive > 0) /* same resident */
            memcpy(k->id[i], k->id[pick_alive_valid(k)], 19);
        else
            fresh_id(k, k->id[i]);
        k->alive[i] = 1;
        k->nalive++;
        char name[32], phone[16], birth[11];
        snprintf(name, sizeof(name), "新%d", step);
        snprintf(phone, sizeof(phone), "136%08d", step);
        snprintf(birth, sizeof(birth), "%.4s-%.2s-%.2s", k->id[i] + 6,
                 k->id[i] + 10, k->id[i] + 12);
        gh_test_insert_row(c, k->rk[i], name, k->id[i], sex_of(k->id[i]), birth,
                           phone, "新地址", "W1");
    } else if (r < 75 && k->nalive > 10) { /* delete */
        int i = pick_alive(k);
        gh_test_exec(c, "DELETE FROM zz_syrk WHERE rkbh = '%s'", k->rk[i]);
        k->alive[i] = 0;
        k->nalive--;
    } else if (r < 87 && k->nalive > 10) { /* the ID number changes */
        int i = pick_alive(k);
        if (rand_r(&k->seed) % 2)
            memcpy(k->id[i], k->id[pick_alive_valid(k)], 19);
        else
            fresh_id(k, k->id[i]);
        gh_test_exec(c,
                     "UPDATE zz_syrk SET gmsfhm = '%s', xb = '%d', csrq = "
                     "'%.4s-%.2s-%.2s', gxsj = clock_timestamp() WHERE rkbh = "
                     "'%s'",
                     k->id[i], sex_of(k->id[i]), k->id[i] + 6, k->id[i] + 10,
                     k->id[i] + 12, k->rk[i]);
    } else if (k->nalive > 10) { /* a transaction of three updates */
        int a = pick_alive(k), b = pick_alive(k), d = pick_alive(k);
        gh_test_exec(c,
                     "BEGIN;"
                     "UPDATE zz_syrk SET lxdh = '135%08d', gxsj = "
                     "clock_timestamp() WHERE rkbh = '%s';"
                     "UPDATE zz_syrk SET xm = '事务%d', gxsj = "
                     "clock_timestamp() WHERE rkbh = '%s';"
                     "UPDATE zz_syrk SET jzdz = '事务地址%d', gxsj = "
                     "clock_timestamp() WHERE rkbh = '%s';"
                     "COMMIT",
                     step, k->rk[a], step, k->rk[b], step, k->rk[d]);
    }
}

int gh_test_applied_since(void *arg) {
    gh_test_since_t *w = arg;
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM source_person WHERE applied_at > '%s'",
             w->ts);
    long n = gh_test_try_count(w->hub, sql);
    if (PQstatus(w->hub) != CONNECTION_OK) PQreset(w->hub);
    return n > 0;
}

void gh_test_churn_load(gh_test_churn_t *k, gh_test_stack_t *s, int rows,
                        int changes, unsigned seed) {
    memset(k, 0, sizeof(*k));
    k->max = rows + changes + 1;
    k->rk = gh_xcalloc((size_t)k->max, sizeof(*k->rk));
    k->id = gh_xcalloc((size_t)k->max, sizeof(*k->id));
    k->alive = gh_xcalloc((size_t)k->max, sizeof(*k->alive));
    k->seed = seed;
    gh_buf_t sql = {0};
    gh_buf_puts(&sql, "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, "
                      "jzdz, wgbm, bz) VALUES ");
    for (int i = 0; i < rows; i++) {
        snprintf(k->rk[i], sizeof(k->rk[i]), "K%05d", i);
        k->next_fresh = i; /* fresh_id(i) is the initial ID of row i */
        fresh_id(k, k->id[i]);
        if (i % 97 == 0) k->id[i][17] = k->id[i][17] == '1' ? '2' : '1';
        k->alive[i] = 1;
        gh_buf_printf(&sql,
                      "%s('%s', '人%d', '%s', '%d', '%.4s-%.2s-%.2s', "
                      "'1390%07d', '地址%d', 'G%d', 'r')",
                      i ? "," : "", k->rk[i], i, k->id[i], sex_of(k->id[i]),
                      k->id[i] + 6, k->id[i] + 10, k->id[i] + 12, i, i, i % 13);
    }
    k->n = k->nalive = rows;
    k->next_fresh = rows;
    gh_test_exec(s->dept, "%s", sql.data);
    gh_buf_free(&sql);
}

void gh_test_churn_free(gh_test_churn_t *k) {
    free(k->rk);
    free(k->id);
    free(k->alive);
    memset(k, 0, sizeof(*k));
}

json_t *gh_test_check_views_exact(gh_test_stack_t *s, PGconn *hub,
                                  const char *view_topic, int idle_ms) {
    cr_assert_eq(gh_test_count(hub, "SELECT count(*) FROM outbox"), 0,
                 "outbox must be empty once everything is published");
    json_t *lines = gh_test_tail_all(s, view_topic, idle_ms);
    gh_test_check_view_lines(lines); /* duplicates only if identical */
    json_t *fold = gh_test_fold(lines);
    json_decref(gh_test_check_view_equals_dept(s, fold));
    /* The view's last version of each person is the hub's. */
    PGresult *r = PQexec(hub, "SELECT person_id, version FROM person "
                              "WHERE active ORDER BY person_id");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    cr_assert_eq((size_t)PQntuples(r), json_object_size(fold),
                 "%d active persons in the hub, %zu in the view", PQntuples(r),
                 json_object_size(fold));
    for (int i = 0; i < PQntuples(r); i++) {
        const char *pid = PQgetvalue(r, i, 0);
        cr_assert_not_null(json_object_get(fold, pid),
                           "active person %s missing from the view", pid);
        cr_assert_eq(gh_test_version_of(fold, pid), atoll(PQgetvalue(r, i, 1)),
                     "person %s: view version %lld, hub version %s", pid,
                     gh_test_version_of(fold, pid), PQgetvalue(r, i, 1));
    }
    PQclear(r);
    json_decref(fold);
    return lines;
}
