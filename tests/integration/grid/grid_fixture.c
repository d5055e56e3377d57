/* The fixture the grid suites share (grid_fixture.h). */
#include "grid_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "pipeline.h"
#include "policy.h"

#define CONNECTORS GH_SOURCE_DIR "/connectors/"
#define SETTLE_MS 60000

gh_test_stack_t *gf_stack;
gh_test_proc_t *gf_other;
PGconn *gf_hub;

void gf_fini(void) {
    if (gf_other) {
        gh_test_stop(gf_other, 10000);
        gh_test_proc_free(gf_other);
        gf_other = NULL;
    }
    PQfinish(gf_hub);
    gf_hub = NULL;
    gh_test_stack_free(gf_stack);
    gf_stack = NULL;
}

void gf_run_file(PGconn *c, const char *path) {
    char *sql = gh_read_file(path, NULL);
    cr_assert_not_null(sql, "cannot read %s", path);
    gh_test_exec(c, "%s", sql);
    free(sql);
}

/* `gridhub grid ARGS...` against the hub database; returns the exit code
 * and its output in *out (caller frees). */
int gf_cli(gh_test_stack_t *s, const char *verb, const char *operand,
           char **out) {
    char *bs = gh_xasprintf("bootstrap.servers=%s", s->bootstrap);
    char *pol = gh_xasprintf("policy.file=%s", s->policy);
    char *keys = gh_xasprintf("policy.keys.file=%s", s->keys);
    const char *args[] = {
        "-X", bs,      "-X", pol,
        "-X", keys,    "-X", "source.topics=gridhub.zongzhi.grid",
        verb, operand, NULL};
    int rc = gh_test_stack_cli(s, "grid", s->hub_db, args, out);
    free(bs);
    free(pol);
    free(keys);
    return rc;
}

typedef struct wait_arg {
    const char *sql;
    const char *want;
    char *got;
} wait_arg_t;

static int hub_says(void *arg) {
    wait_arg_t *w = arg;
    free(w->got);
    w->got = gh_test_try_scalar(gf_hub, w->sql);
    return w->got && !strcmp(w->got, w->want);
}

/* Waits until `sql` on the hub returns `want`. */
void gf_wait_hub(const char *what, const char *sql, const char *want) {
    wait_arg_t w = {sql, want, NULL};
    int ok = gh_test_wait_until(hub_says, &w, SETTLE_MS);
    char *tail =
        ok ? NULL : gh_test_file_tail(gh_test_stack_hub_log(gf_stack), 3000);
    cr_assert(ok, "%s: hub says \"%s\", want \"%s\" after %d ms; hub log:\n%s",
              what, w.got ? w.got : "(error)", want, SETTLE_MS, tail);
    free(w.got);
}

/* The last value subscriber "test" received on hub.view.test.<entity> for
 * record `id` (found by its pseudonym), NULL if none; new reference. */
json_t *gf_last_sent(gh_test_stack_t *s, const char *entity, const char *id) {
    return gf_last_sent_to(s, "test", entity, id);
}

json_t *gf_last_sent_to(gh_test_stack_t *s, const char *subscriber,
                        const char *entity, const char *id) {
    char key[33], topic[128];
    gh_test_pseudonym(subscriber, entity, id, key);
    snprintf(topic, sizeof(topic), "hub.view.%s.%s", subscriber, entity);
    json_t *lines = gh_test_tail(s, topic, 3000), *last = NULL;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *k = json_string_value(json_object_get(l, "key"));
        if (k && !strcmp(k, key)) last = json_object_get(l, "value");
    }
    json_incref(last);
    json_decref(lines);
    return last;
}

/* Departments `a` and `b` from their connectors/ files in one department
 * database: a's connector is the stack's, b's the second one (gf_other);
 * then the hub on `topics`, with `extra` (may be NULL) more properties. */
gh_test_stack_t *gf_two_departments(const char *a, const char *b,
                                    const char *topics, const char *extra) {
    char *schema = gh_xasprintf(CONNECTORS "%s/schema.sql", a);
    char *mapping = gh_xasprintf(CONNECTORS "%s/mapping.properties", a);
    gf_stack = gh_test_stack_new(schema, mapping);
    gh_test_stack_t *s = gf_stack;
    const char *files[3][2] = {{a, "sample"}, {b, "schema"}, {b, "sample"}};
    for (int i = 0; i < 3; i++) {
        char *f =
            gh_xasprintf(CONNECTORS "%s/%s.sql", files[i][0], files[i][1]);
        gf_run_file(s->dept, f);
        free(f);
    }
    char slot[64];
    snprintf(slot, sizeof(slot), "slot.name=gh_test_grid_%s_%d", a,
             (int)getpid());
    const char *const cextra[] = {slot, NULL};
    gh_test_stack_start_connector(s, cextra);
    char *bmap = gh_xasprintf(CONNECTORS "%s/mapping.properties", b);
    gf_other = gh_test_stack_start_other_connector(s, bmap, b);
    char *st = gh_xasprintf("source.topics=%s", topics);
    char *props = extra ? gh_xstrdup(extra) : NULL;
    const char *hextra[8] = {st};
    int n = 1;
    for (char *save = NULL, *p = props ? strtok_r(props, "\n", &save) : NULL; p;
         p = strtok_r(NULL, "\n", &save)) {
        cr_assert_lt(n, 7, "gf_two_departments: more than 6 properties");
        hextra[n++] = p;
    }
    gh_test_stack_start_hub(s, hextra);
    gf_hub = gh_test_pg_connect(s->hub_db);
    free(props);
    free(schema);
    free(mapping);
    free(bmap);
    free(st);
    return s;
}

/* Column `col` of view `view` for one department record. */
char *gf_record_value(const char *view, const char *col, const char *dept,
                      const char *key) {
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM %s WHERE department = '%s' AND source_key = "
             "'%s'",
             col, view, dept, key);
    char *v = gh_test_try_scalar(gf_hub, sql);
    cr_assert_not_null(v, "no %s record %s:%s", view, dept, key);
    return v;
}

/* `gridhub grid recount` must find every published count right. */
void gf_kill9_restart_hub(gh_test_stack_t *s, const char *topics) {
    gh_test_kill9(s->hub);
    char *st = gh_xasprintf("source.topics=%s", topics);
    const char *const extra[] = {st, "kafka.session.timeout.ms=6000", NULL};
    gh_test_stack_start_hub(s, extra);
    free(st);
}

void gf_recount_agrees(gh_test_stack_t *s, const char *when) {
    /* The aggregate views lag by design until the notes are taken, and
     * rows of other topics may still be arriving: the recount must agree
     * once they have caught up, within 30 s. */
    char *out = NULL;
    int rc = -1;
    for (int i = 0; i < 30 && rc; i++) {
        if (i) sleep(1);
        gf_wait_hub("every noted change refreshed",
                    "SELECT count(*) FROM view_dirty", "0");
        free(out);
        out = NULL;
        rc = gf_cli(s, "recount", NULL, &out);
    }
    cr_assert_eq(rc, 0, "recount %s: exit %d:\n%s", when, rc, out);
    cr_assert_not_null(strstr(out, "every published count equals the "
                                   "recount"),
                       "%s", out);
    free(out);
}

void gf_wait_grids_published(gh_test_stack_t *s) {
    char *nwg = gh_test_scalar(s->dept, "SELECT count(*) FROM zz_wg");
    gf_wait_hub("every grid published",
                "SELECT count(*) FROM entity_view WHERE entity = 'grid' AND "
                "active",
                nwg);
    free(nwg);
}
