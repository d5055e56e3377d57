/*
 * The outbox relay (hub/publish/relay.c) against a writer that commits
 * while a page is in flight. Outbox ids come from a sequence, so a
 * transaction can take an id and commit after a later one did (a signed
 * tree head is written outside the views lock). The relay reads a page,
 * waits for Kafka's acknowledgements and deletes the page: deleting every
 * id up to the last one read also deleted such a row, committed during
 * the wait and never sent. Real hub, PostgreSQL and embedded broker; the
 * producer lingers (kafka.linger.ms) so that the wait is long enough to
 * commit in.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "stack.h"

#define DDL GH_TEST_DATA_DIR "/dept/schema.sql"
#define MAPPING GH_TEST_DATA_DIR "/dept/mapping.properties"
#define TOPIC "hub.view.test.person"
/* RELAY_LOCK in hub/publish/relay.c. */
#define HELD_LONG                                                              \
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "     \
    "WHERE l.locktype = 'advisory' AND l.objid = 7274003 AND l.granted AND "   \
    "now() - a.xact_start > interval '300 ms'"

static gh_test_stack_t *g_stack;

static void fini(void) {
    gh_test_stack_free(g_stack);
    g_stack = NULL;
}

TestSuite(relay, .timeout = 120, .fini = fini);

static int has_outbox(void *arg) {
    return gh_test_count(arg, "SELECT count(*) FROM pg_tables WHERE "
                              "tablename = 'outbox_rejected'") == 1;
}

static int in_long_page(void *arg) {
    return gh_test_count(arg, HELD_LONG) > 0;
}

static int outbox_empty(void *arg) {
    return gh_test_count(arg, "SELECT count(*) FROM outbox") == 0;
}

static int has_key(const json_t *lines, const char *key) {
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *k = json_string_value(json_object_get(l, "key"));
        if (k && !strcmp(k, key)) return 1;
    }
    return 0;
}

Test(relay, a_row_committed_during_a_page_is_sent_not_deleted) {
    g_stack = gh_test_stack_new(DDL, MAPPING);
    const char *extra[] = {"kafka.linger.ms=1500", "outbox.poll.ms=50", NULL};
    gh_test_stack_start_hub(g_stack, extra);
    PGconn *a = gh_test_pg_connect(g_stack->hub_db);
    PGconn *b = gh_test_pg_connect(g_stack->hub_db);
    cr_assert(gh_test_wait_until(has_outbox, a, 60000),
              "the hub never migrated its database");
    /* The relay idle (whatever the hub wrote at start is sent). */
    cr_assert(gh_test_wait_until(outbox_empty, a, 30000));

    /* a takes the smaller id and keeps it uncommitted; b's row, with the
     * larger id, is committed and read by the next page. */
    gh_test_exec(a, "BEGIN; INSERT INTO outbox (topic, msg_key, payload) "
                    "VALUES ('" TOPIC "', 'early-id', NULL)");
    gh_test_exec(b, "INSERT INTO outbox (topic, msg_key, payload) VALUES "
                    "('" TOPIC "', 'late-id', NULL)");
    char *mine = gh_test_scalar(a, "SELECT min(id) FROM outbox");
    char *theirs = gh_test_scalar(b, "SELECT max(id) FROM outbox");
    cr_assert_lt(atoll(mine), atoll(theirs));
    free(mine);
    free(theirs);
    /* The page that read b's row waits for its acknowledgement (the
     * producer lingers 1.5 s): a commits meanwhile. */
    cr_assert(gh_test_wait_until(in_long_page, b, 20000),
              "no relay page held its lock for long: %s",
              gh_test_file_tail(gh_test_stack_hub_log(g_stack), 2000));
    gh_test_exec(a, "COMMIT");

    /* Both rows are sent: the one committed during the page by the next
     * page, not deleted with it. */
    cr_assert(gh_test_wait_until(outbox_empty, b, 30000),
              "the outbox still holds %ld rows",
              gh_test_count(b, "SELECT count(*) FROM outbox"));
    json_t *lines = gh_test_tail(g_stack, TOPIC, 4000);
    cr_assert(has_key(lines, "late-id"), "the page's own row was not sent");
    cr_assert(has_key(lines, "early-id"),
              "the row committed during the page was deleted unsent: %s",
              json_dumps(lines, 0));
    json_decref(lines);
    PQfinish(a);
    PQfinish(b);
}
