/*
 * The five departments end to end, and a sixth defined only by files.
 *
 * Each department test loads connectors/<dept>/schema.sql and sample.sql
 * into a fresh database, starts `gridhub connector` on
 * connectors/<dept>/mapping.properties, makes streamed changes (inserts,
 * updates, deletes, and where the mapping has row filters a change that
 * makes a row leave its filter), and then reads every entity topic of the
 * department plus gridhub.dlq with `gridhub tail`. The oracle is written by
 * hand from the mapping and the sample rows: the set of keys per topic,
 * exact canonical records for chosen rows (code tables, date patterns,
 * crosswalked grid codes, trimmed and full-width-folded values, source keys
 * built as the mapping says), rows kept off the topics by a filter never
 * appearing, no dead letters, and for every mapped (table, entity) the
 * exact set of operations seen (r from the snapshot, then c/u/d as
 * changed). Timestamps of sample rows that default to now() are read from
 * the database; every other expected value is literal.
 *
 * sixth_department_from_files_only runs a 民政 (civil affairs) system from
 * tests/data/sixth/ through the connector and the hub, without C code of
 * its own; mapping_errors_are_reported_at_load checks that broken mapping
 * files stop the connector at once with file:line and the offending name.
 *
 * Synchronisation never sleeps: after the last write a test waits until the
 * slot's confirmed_flush_lsn passes an LSN taken inside that transaction
 * (the connector confirms only what Kafka acknowledged), then tails the
 * topics, reading again if tail printed fewer messages than the topics'
 * high watermarks say they hold.
 */
#include "events.h"
#include "topics.h"
#include "pipeline.h"
#include "stack.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"

#define CONNECTORS GH_SOURCE_DIR "/connectors/"
#define SIXTH GH_TEST_DATA_DIR "/sixth/"
#define DLQ_TOPIC "gridhub.dlq"
#define VIEW_TOPIC "hub.view.test.person"
#define TAIL_IDLE_MS 6000
#define STREAMING_TIMEOUT_MS 30000
#define CONFIRM_TIMEOUT_MS 60000
#define HUB_SETTLE_MS 60000

/* The running test's stack and hub connection, released by the suite's
 * fini even when an assertion ended the test early. */
static gh_test_stack_t *cur;
static PGconn *cur_hub;
static char slot_opt[96];
static char slot_name[64];

static void teardown(void) {
    PQfinish(cur_hub);
    cur_hub = NULL;
    gh_test_stack_t *s = cur;
    cur = NULL;
    gh_test_stack_free(s);
}

TestSuite(departments, .fini = teardown, .timeout = 120);

/* ---- JSON helpers ----------------------------------------------------- */

/* Parses an expectation written as printf-formatted JSON. */
static json_t *jparse(const char *fmt, ...) GH_TEST_PRINTF(1, 2);
static json_t *jparse(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    cr_assert_geq(n, 0);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    cr_assert_not_null(j, "bad expectation in the test (%s at %d): %s", je.text,
                       je.position, text);
    free(text);
    return j;
}

/* A canonical row equals the expectation: every expected field equal, and
 * any field the expectation does not name is null (a later schema version
 * may add nullable fields). */
static int row_matches(const json_t *got, const json_t *want) {
    if (!json_is_object(got) || !json_is_object(want)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v) {
        const json_t *g = json_object_get(got, k);
        if (!g || !json_equal((json_t *)g, v)) return 0;
    }
    json_object_foreach((json_t *)got, k, v) {
        if (!json_object_get(want, k) && !json_is_null(v)) return 0;
    }
    return 1;
}

static const char *topic_of(const json_t *l) {
    return json_string_value(json_object_get(l, "topic"));
}
/* ---- PostgreSQL positions --------------------------------------------- */

static uint64_t lsn_parse(const char *text) {
    unsigned hi, lo;
    cr_assert(text && sscanf(text, "%X/%X", &hi, &lo) == 2, "not an LSN: %s",
              text ? text : "(null)");
    return (uint64_t)hi << 32 | lo;
}

/* Runs `sql` in one transaction; returns an LSN taken inside it after the
 * statements: confirmed_flush_lsn past it means Kafka acknowledged the
 * transaction's events. */
static uint64_t exec_marked(PGconn *c, const char *sql) {
    gh_test_exec(c, "BEGIN");
    gh_test_exec(c, "%s", sql);
    char *lsn = gh_test_scalar(c, "SELECT pg_current_wal_insert_lsn()");
    gh_test_exec(c, "COMMIT");
    uint64_t v = lsn_parse(lsn);
    free(lsn);
    return v;
}

static uint64_t slot_confirmed(PGconn *c) {
    char *v = gh_test_scalar(c,
                             "SELECT confirmed_flush_lsn FROM "
                             "pg_replication_slots WHERE slot_name = '%s'",
                             slot_name);
    uint64_t l = v ? lsn_parse(v) : 0;
    free(v);
    return l;
}

typedef struct past_arg {
    PGconn *c;
    uint64_t lsn;
} past_arg_t;

static int confirmed_past(void *arg) {
    past_arg_t *a = arg;
    return slot_confirmed(a->c) > a->lsn;
}

static void wait_confirmed_past(gh_test_stack_t *s, uint64_t lsn) {
    past_arg_t a = {s->dept, lsn};
    if (!gh_test_wait_until(confirmed_past, &a, CONFIRM_TIMEOUT_MS)) {
        uint64_t now = slot_confirmed(s->dept);
        char *tail = gh_test_file_tail(gh_test_stack_connector_log(s), 3000);
        cr_assert_fail("slot %s confirmed_flush_lsn %X/%X did not pass %X/%X "
                       "within %d ms; connector log ends:\n%s",
                       slot_name, (unsigned)(now >> 32), (unsigned)now,
                       (unsigned)(lsn >> 32), (unsigned)lsn, CONFIRM_TIMEOUT_MS,
                       tail);
    }
}

/* A timestamptz column of one row as `gridhub tail` prints timestamps. */
static char *db_iso(PGconn *c, const char *table, const char *keycol,
                    const char *key, const char *col) {
    char *v = gh_test_scalar(
        c,
        "SELECT to_char(%s AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM %s WHERE %s = '%s'",
        col, table, keycol, key);
    cr_assert_not_null(v, "no %s row %s = %s", table, keycol, key);
    return v;
}

/* ---- Kafka: how much the topics hold ------------------------------------- */

/* Everything the topics hold, via `gridhub tail`. */
static json_t *tail_all(gh_test_stack_t *s, const char *topics) {
    return gh_test_tail_all(s, topics, TAIL_IDLE_MS);
}

/* ---- the department under test ---------------------------------------- */

/* What a department test reads: every line of its topics, split. */
typedef struct dept {
    gh_test_stack_t *s;
    const char *name;   /* department, e.g. "gongan" */
    json_t *lines;      /* all tail lines */
    json_t *by_topic;   /* topic -> array of lines (in tail order) */
    json_t *fold;       /* topic -> {key -> latest value}; deleted keys gone */
    long long snap_lsn; /* source.lsn shared by all snapshot rows */
} dept_t;

static void dept_free(dept_t *d) {
    json_decref(d->lines);
    json_decref(d->by_topic);
    json_decref(d->fold);
}

static char *topic_name(const dept_t *d, const char *entity) {
    return gh_xasprintf("gridhub.%s.%s", d->name, entity);
}

static const json_t *lines_of(const dept_t *d, const char *entity) {
    char *t = topic_name(d, entity);
    const json_t *a = json_object_get(d->by_topic, t);
    free(t);
    return a;
}

static const json_t *fold_of(const dept_t *d, const char *entity) {
    char *t = topic_name(d, entity);
    const json_t *f = json_object_get(d->fold, t);
    cr_assert_not_null(f, "no messages at all on %s", t);
    free(t);
    return f;
}

/* New stack on a department's files; loads its sample rows. */
static gh_test_stack_t *dept_stack(const char *ddl, const char *mapping,
                                   const char *sample) {
    static int n;
    cr_assert_null(cur, "previous stack not freed");
    cur = gh_test_stack_new(ddl, mapping);
    snprintf(slot_name, sizeof slot_name, "gh_test_dept_%d_%d", (int)getpid(),
             ++n);
    snprintf(slot_opt, sizeof slot_opt, "slot.name=%s", slot_name);
    char *rows = gh_read_file(sample, NULL);
    cr_assert_not_null(rows, "cannot read %s", sample);
    gh_test_exec(cur->dept, "%s", rows);
    free(rows);
    cr_log_info("stack directory %s, department database %s", cur->dir,
                cur->dept_db);
    return cur;
}

static void start_connector(gh_test_stack_t *s) {
    const char *const extra[] = {slot_opt, NULL};
    gh_test_stack_start_connector(s, extra);
    const char *log = gh_test_stack_connector_log(s);
    char *line = gh_test_wait_for_text(log, "connector: streaming ",
                                       STREAMING_TIMEOUT_MS);
    if (!line) {
        char *tail = gh_test_file_tail(log, 3000);
        cr_assert_fail("connector did not start streaming within %d ms; %s "
                       "ends:\n%s",
                       STREAMING_TIMEOUT_MS, log, tail);
    }
    free(line);
}

/* Reads the department's topics (entities: space-separated) and the
 * dead-letter topic, and checks what every event must satisfy:
 *  - tail decoded it, it has a key, and the key is the row's source_key;
 *  - source names this department, connector "test", this database and a
 *    table mapped to the topic (tables: "entity:table" pairs);
 *  - snapshot rows: op r, marker true/last, seq 0, no txid, no commit time,
 *    one shared lsn (the consistent point), one r per key;
 *  - streamed events: marker false, seq >= 1, txid and commit time set,
 *    lsn past the snapshot's;
 *  - a delete is followed in its partition by a tombstone of its key;
 *  - per key, events in commit order;
 *  - every mapping id of the mapping file published snapshot rows. */
static void expect_every_mapping_snapshotted(const dept_t *d);

static void dept_read(dept_t *d, gh_test_stack_t *s, const char *name,
                      const char *entities, const char *tables) {
    memset(d, 0, sizeof *d);
    d->s = s;
    d->name = name;
    gh_buf_t topics = {0};
    gh_buf_puts(&topics, DLQ_TOPIC);
    char *ents = gh_xstrdup(entities), *save = NULL;
    for (char *e = strtok_r(ents, " ", &save); e;
         e = strtok_r(NULL, " ", &save))
        gh_buf_printf(&topics, ",gridhub.%s.%s", name, e);
    free(ents);
    d->lines = tail_all(s, topics.data);
    gh_buf_free(&topics);
    d->by_topic = json_object();
    d->fold = json_object();
    d->snap_lsn = -1;
    json_t *seen_r = json_object();   /* topic|key -> true */
    json_t *last_pos = json_object(); /* topic|key -> [lsn, seq] */
    size_t i;
    json_t *l;
    json_array_foreach(d->lines, i, l) {
        const char *t = topic_of(l), *k = gh_test_ev_key(l);
        cr_assert(t && k, "tail line without topic or key: %s",
                  gh_test_json_dump(l));
        json_t *arr = json_object_get(d->by_topic, t);
        if (!arr) {
            arr = json_array();
            json_object_set_new(d->by_topic, t, arr);
        }
        json_array_append(arr, l);
        if (!strcmp(t, DLQ_TOPIC)) continue; /* JSON, not Avro: no value */
        cr_assert_null(json_object_get(l, "error"),
                       "undecodable message on %s: %s", t,
                       gh_test_json_dump(l));
        cr_assert_not_null(gh_test_ev_value(l),
                           "message without value on %s: %s", t,
                           gh_test_json_dump(l));
        json_t *f = json_object_get(d->fold, t);
        if (!f) {
            f = json_object();
            json_object_set_new(d->fold, t, f);
        }
        if (gh_test_ev_is_tombstone(l)) {
            json_object_del(f, k);
            continue;
        }
        const char *op = gh_test_ev_op(l);
        cr_assert(op && strchr("rcud", op[0]) && !op[1], "op %s: %s",
                  op ? op : "(none)", gh_test_json_dump(l));
        const json_t *row = json_object_get(gh_test_ev_value(l),
                                            op[0] == 'd' ? "before" : "after");
        cr_assert_str_eq(json_string_value(json_object_get(row, "source_key")),
                         k, "Kafka key is not the row's source_key: %s",
                         gh_test_json_dump(l));
        if (op[0] == 'd')
            cr_assert(
                json_is_null(json_object_get(gh_test_ev_value(l), "after")),
                "delete with an after row: %s", gh_test_json_dump(l));
        cr_assert_str_eq(gh_test_ev_source_str(l, "department"), name, "%s",
                         gh_test_json_dump(l));
        cr_assert_str_eq(gh_test_ev_source_str(l, "connector"), "test", "%s",
                         gh_test_json_dump(l));
        cr_assert_str_eq(gh_test_ev_source_str(l, "database"), s->dept_db, "%s",
                         gh_test_json_dump(l));
        cr_assert_str_eq(gh_test_ev_source_str(l, "schema"), "public", "%s",
                         gh_test_json_dump(l));
        char *pair =
            gh_xasprintf(" %s:%s ", t + strlen("gridhub.") + strlen(name) + 1,
                         gh_test_ev_source_str(l, "table"));
        char *padded = gh_xasprintf(" %s ", tables);
        cr_assert_not_null(strstr(padded, pair),
                           "event from a table not mapped to %s: %s", t,
                           gh_test_json_dump(l));
        free(pair);
        free(padded);
        char *tk = gh_xasprintf("%s|%s", t, k);
        json_int_t lsn = gh_test_ev_source_int(l, "lsn"),
                   seq = gh_test_ev_source_int(l, "seq");
        if (op[0] == 'r') {
            const char *mark = gh_test_ev_source_str(l, "snapshot");
            cr_assert(mark && (!strcmp(mark, "true") || !strcmp(mark, "last")),
                      "snapshot row not marked as such: %s",
                      gh_test_json_dump(l));
            cr_assert_eq(seq, 0, "%s", gh_test_json_dump(l));
            cr_assert(
                json_is_null(json_object_get(gh_test_ev_source(l), "txid")),
                "%s", gh_test_json_dump(l));
            cr_assert(json_is_null(
                          json_object_get(gh_test_ev_source(l), "commit_time")),
                      "%s", gh_test_json_dump(l));
            if (d->snap_lsn < 0) d->snap_lsn = lsn;
            cr_assert_eq(lsn, d->snap_lsn,
                         "snapshot rows at different lsns: %s",
                         gh_test_json_dump(l));
            cr_assert_null(json_object_get(seen_r, tk),
                           "key snapshotted twice: %s", gh_test_json_dump(l));
            json_object_set_new(seen_r, tk, json_true());
        } else {
            cr_assert_str_eq(gh_test_ev_source_str(l, "snapshot"), "false",
                             "%s", gh_test_json_dump(l));
            cr_assert_geq(seq, 1, "%s", gh_test_json_dump(l));
            cr_assert(
                json_is_integer(json_object_get(gh_test_ev_source(l), "txid")),
                "streamed event without txid: %s", gh_test_json_dump(l));
            cr_assert(json_is_string(
                          json_object_get(gh_test_ev_source(l), "commit_time")),
                      "streamed event without commit_time: %s",
                      gh_test_json_dump(l));
            cr_assert(d->snap_lsn < 0 || lsn > d->snap_lsn,
                      "streamed event at or before the snapshot: %s",
                      gh_test_json_dump(l));
        }
        const json_t *prev = json_object_get(last_pos, tk);
        if (prev) {
            json_int_t pl = json_integer_value(json_array_get(prev, 0));
            json_int_t ps = json_integer_value(json_array_get(prev, 1));
            cr_assert(lsn > pl || (lsn == pl && seq > ps),
                      "events of %s not in commit order: %s", tk,
                      gh_test_json_dump(l));
        }
        json_object_set_new(last_pos, tk, json_pack("[II]", lsn, seq));
        free(tk);
        if (op[0] == 'd') {
            json_object_del(f, k);
            /* The next message of this partition is a tombstone. */
            json_int_t p = json_integer_value(json_object_get(l, "partition"));
            json_int_t off = json_integer_value(json_object_get(l, "offset"));
            const json_t *next = NULL;
            size_t j;
            json_t *m;
            json_array_foreach(d->lines, j, m) {
                if (!strcmp(topic_of(m), t) &&
                    json_integer_value(json_object_get(m, "partition")) == p &&
                    json_integer_value(json_object_get(m, "offset")) == off + 1)
                    next = m;
            }
            cr_assert(next && gh_test_ev_is_tombstone(next) &&
                          !strcmp(gh_test_ev_key(next), k),
                      "delete not followed by a tombstone of its key: %s then "
                      "%s",
                      gh_test_json_dump(l), gh_test_json_dump(next));
        } else {
            json_object_set(f, k, (json_t *)gh_test_ev_value(l));
        }
    }
    json_decref(seen_r);
    json_decref(last_pos);
    expect_every_mapping_snapshotted(d);
}

/* Every mapping id of the department's mapping file (table.<id>.source
 * and table.<id>.entity, read from the file itself) published its snapshot:
 * r events from that table on gridhub.<dept>.<entity>. */
static void expect_every_mapping_snapshotted(const dept_t *d) {
    FILE *f = fopen(d->s->mapping, "r");
    cr_assert_not_null(f, "cannot read %s", d->s->mapping);
    json_t *src_of = json_object(), *ent_of = json_object();
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        char id[64], what[16], value[128];
        if (sscanf(line, "table.%63[^.].%15[a-z]=%127s", id, what, value) != 3)
            continue;
        if (!strcmp(what, "source"))
            json_object_set_new(src_of, id,
                                json_string(strchr(value, '.')
                                                ? strchr(value, '.') + 1
                                                : value));
        else if (!strcmp(what, "entity"))
            json_object_set_new(ent_of, id, json_string(value));
    }
    free(line);
    fclose(f);
    cr_assert_gt(json_object_size(src_of), 0, "no tables in %s", d->s->mapping);
    const char *id;
    json_t *tv;
    json_object_foreach(src_of, id, tv) {
        const char *table = json_string_value(tv);
        const char *entity = json_string_value(json_object_get(ent_of, id));
        cr_assert_not_null(entity, "mapping id %s has no entity", id);
        int found = 0;
        size_t i;
        json_t *l;
        json_array_foreach((json_t *)lines_of(d, entity), i, l) {
            if (!gh_test_ev_is_tombstone(l) && !strcmp(gh_test_ev_op(l), "r") &&
                !strcmp(gh_test_ev_source_str(l, "table"), table))
                found = 1;
        }
        cr_assert(found,
                  "mapping id %s (%s -> %s) published no snapshot rows on "
                  "gridhub.%s.%s",
                  id, table, entity, d->name, entity);
    }
    json_decref(src_of);
    json_decref(ent_of);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The folded keys of an entity topic are exactly `keys` (space-separated). */
static void expect_keys(const dept_t *d, const char *entity, const char *keys) {
    const json_t *f = fold_of(d, entity);
    size_t n = json_object_size(f), i = 0;
    const char **got = gh_xcalloc(n + 1, sizeof *got);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)f, k, v) got[i++] = k;
    qsort(got, n, sizeof *got, cmp_str);
    gh_buf_t g = {0};
    for (i = 0; i < n; i++)
        gh_buf_printf(&g, "%s%s", i ? " " : "", got[i]);
    free(got);
    char *copy = gh_xstrdup(keys), *save = NULL;
    const char *want[256];
    size_t m = 0;
    for (char *t = strtok_r(copy, " \n", &save); t && m < 256;
         t = strtok_r(NULL, " \n", &save))
        want[m++] = t;
    qsort(want, m, sizeof *want, cmp_str);
    gh_buf_t w = {0};
    for (i = 0; i < m; i++)
        gh_buf_printf(&w, "%s%s", i ? " " : "", want[i]);
    free(copy);
    cr_assert_str_eq(g.data ? g.data : "", w.data ? w.data : "",
                     "keys of gridhub.%s.%s:\n  topic: %s\n  want:  %s",
                     d->name, entity, g.data ? g.data : "",
                     w.data ? w.data : "");
    gh_buf_free(&g);
    gh_buf_free(&w);
}

/* The latest event of `key` on an entity topic (after folding) has op
 * `op` and its record equals the expectation. */
static void expect_row(const dept_t *d, const char *entity, const char *key,
                       const char *op, json_t *want /* consumed */) {
    const json_t *v = json_object_get(fold_of(d, entity), key);
    cr_assert_not_null(v, "gridhub.%s.%s has no live key %s", d->name, entity,
                       key);
    const char *got_op = json_string_value(json_object_get(v, "op"));
    cr_assert_str_eq(got_op, op,
                     "gridhub.%s.%s key %s: last event is '%s', "
                     "want '%s'",
                     d->name, entity, key, got_op, op);
    const json_t *after = json_object_get(v, "after");
    if (!row_matches(after, want)) {
        char *g = gh_test_json_dump(after), *w = gh_test_json_dump(want);
        cr_assert_fail("gridhub.%s.%s key %s (op %s):\n  topic: %s\n  want:  "
                       "%s",
                       d->name, entity, key,
                       json_string_value(json_object_get(v, "op")), g, w);
    }
    json_decref(want);
}

/* The last event with op `op` for `key` on an entity topic. */
static const json_t *event_of(const dept_t *d, const char *entity,
                              const char *key, const char *op) {
    const json_t *found = NULL;
    size_t i;
    json_t *l;
    json_array_foreach((json_t *)lines_of(d, entity), i, l) {
        if (!gh_test_ev_is_tombstone(l) && !strcmp(gh_test_ev_key(l), key) &&
            !strcmp(gh_test_ev_op(l), op))
            found = l;
    }
    cr_assert_not_null(found, "no '%s' event for key %s on gridhub.%s.%s", op,
                       key, d->name, entity);
    return found;
}

/* The `before` or `after` row of the last `op` event of `key` equals the
 * expectation. */
static void expect_event(const dept_t *d, const char *entity, const char *key,
                         const char *op, json_t *want /* consumed */) {
    const json_t *l = event_of(d, entity, key, op);
    const json_t *row =
        json_object_get(gh_test_ev_value(l), op[0] == 'd' ? "before" : "after");
    if (!row_matches(row, want)) {
        char *g = gh_test_json_dump(row), *w = gh_test_json_dump(want);
        cr_assert_fail("gridhub.%s.%s key %s, '%s' event's %s:\n  topic: "
                       "%s\n  want:  %s",
                       d->name, entity, key, op,
                       op[0] == 'd' ? "before" : "after", g, w);
    }
    json_decref(want);
}

/* `key` left the topic: a delete (then a tombstone, checked on reading)
 * and no live value. */
static void expect_gone(const dept_t *d, const char *entity, const char *key) {
    event_of(d, entity, key, "d");
    cr_assert_null(json_object_get(fold_of(d, entity), key),
                   "key %s still live on gridhub.%s.%s after its delete", key,
                   d->name, entity);
}

/* `key` never appeared on an entity topic, in any message. */
static void expect_never(const dept_t *d, const char *entity, const char *key) {
    size_t i;
    json_t *l;
    json_array_foreach((json_t *)lines_of(d, entity), i, l) {
        cr_assert(strcmp(gh_test_ev_key(l), key) != 0,
                  "filtered-out row %s was published on gridhub.%s.%s: %s", key,
                  d->name, entity, gh_test_json_dump(l));
    }
}

/* The operations seen on an entity topic from one source table are exactly
 * `ops` (e.g. "rcud"): every mapped table produced its snapshot and the
 * changes the test made, and nothing else. */
static void expect_ops(const dept_t *d, const char *entity, const char *table,
                       const char *ops) {
    int seen[256] = {0};
    size_t i;
    json_t *l;
    json_array_foreach((json_t *)lines_of(d, entity), i, l) {
        if (gh_test_ev_is_tombstone(l) ||
            strcmp(gh_test_ev_source_str(l, "table"), table))
            continue;
        seen[(unsigned char)gh_test_ev_op(l)[0]] = 1;
    }
    char got[8] = {0};
    int n = 0;
    for (const char *o = "rcud"; *o; o++)
        if (seen[(unsigned char)*o]) got[n++] = *o;
    char want[8] = {0};
    n = 0;
    for (const char *o = "rcud"; *o; o++)
        if (strchr(ops, *o)) want[n++] = *o;
    cr_assert_str_eq(got, want,
                     "operations from %s on gridhub.%s.%s: got \"%s\", want "
                     "\"%s\"",
                     table, d->name, entity, got, want);
}

/* No dead letters: none on the topic, none in the connector's log. */
static void expect_no_dead_letters(const dept_t *d) {
    const json_t *dl = json_object_get(d->by_topic, DLQ_TOPIC);
    if (json_array_size(dl)) {
        char *all = gh_test_json_dump(dl);
        cr_assert_fail("%zu dead letter(s) for valid sample rows of %s:\n%s",
                       json_array_size(dl), d->name, all);
    }
    char *hit = gh_test_wait_for_text(gh_test_stack_connector_log(d->s),
                                      "dead letter", 0);
    cr_assert_null(hit, "connector log reports a dead letter: %s", hit);
}

/* Stops the connector and hub with SIGTERM: exit status 0, no sanitizer
 * report in any log. */
static void stop_clean(gh_test_stack_t *s) {
    gh_test_proc_t **procs[2] = {&s->connector, &s->hub};
    const char *names[2] = {"connector", "hub"};
    for (int i = 0; i < 2; i++) {
        if (!*procs[i]) continue;
        int rc = gh_test_stop(*procs[i], 20000);
        gh_test_proc_free(*procs[i]);
        *procs[i] = NULL;
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

/* ---- 1. 综治 comprehensive governance ------------------------------------ */

Test(departments, zongzhi) {
    gh_test_stack_t *s = dept_stack(CONNECTORS "zongzhi/schema.sql",
                                    CONNECTORS "zongzhi/mapping.properties",
                                    CONNECTORS "zongzhi/sample.sql");
    start_connector(s);

    /* Inserts: a resident typed with spaces and an empty ID number, a grid
     * event with a long (TOASTed) description and an unlisted type, a
     * house with a blank standard address code and an empty unit. */
    exec_marked(
        s->dept,
        "INSERT INTO zz_syrk (rkbh, xm, gmsfhm, xb, csrq, lxdh, jzdz, wgbm, "
        "bz, gxsj) VALUES ('ZZ0006', '  周敏 ', '', '2', '1995-06-06', "
        "' 13807381006 ', '娄星区乐坪街道大塘社区5栋501', 'LP-DT-03', NULL, "
        "'2023-10-01 09:00:00+08');"
        "INSERT INTO zz_wgsj (sjbh, wgbm, sjlx, sjbt, sjms, fsdz, sjzt, sbrbh, "
        "sbsj, gxsj) SELECT 'SJ202310010005', ' LP-DT-03 ', '07', "
        "'5栋楼道堆放杂物', string_agg(md5(g::text), '' ORDER BY g), "
        "'娄星区乐坪街道大塘社区5栋', '01', 'WGY0004', "
        "'2023-10-01 08:30:00+08', '2023-10-01 08:30:00+08' "
        "FROM generate_series(1, 640) g;"
        "INSERT INTO zz_fw (fwbh, bzdzbm, fwdz, sqbm, ldh, dyh, fh, wgbm, "
        "fwyt, fzxm, fzlxdh, gxsj) VALUES ('FW0000502', '  ', "
        "' 娄星区乐坪街道大塘社区5栋502 ', 'LP-DT', '5栋', '', '502', "
        "'LP-DT-03', '2', '周建', '13807381016', '2023-10-01 09:30:00+08')");
    char *toast = gh_test_scalar(s->dept, "SELECT reltoastrelid::regclass "
                                          "FROM pg_class WHERE relname = "
                                          "'zz_wgsj'");
    cr_assert_gt(gh_test_count(s->dept, "SELECT count(*) FROM %s", toast), 0,
                 "precondition: zz_wgsj.sjms should be TOASTed out of line");
    free(toast);
    /* Updates: a phone, an event closed (its TOASTed description left
     * alone), a grid's counts, a house matched to the 公安 address, a grid
     * member promoted. */
    exec_marked(
        s->dept,
        "UPDATE zz_syrk SET lxdh = '13807381222', "
        "gxsj = '2023-10-02 10:00:00+08' WHERE rkbh = 'ZZ0002';"
        "UPDATE zz_wgsj SET sjzt = '05', czbm = '大塘社区居委会', "
        "bjsj = '2023-10-02 16:00:00+08', gxsj = '2023-10-02 16:00:00+08' "
        "WHERE sjbh = 'SJ202310010005';"
        "UPDATE zz_wg SET hs = 310, rks = 921, "
        "gxsj = '2023-10-02 11:00:00+08' WHERE wgbm = 'LP-DT-03';"
        "UPDATE zz_fw SET bzdzbm = '4313020020020003010301', "
        "gxsj = '2023-10-02 12:00:00+08' WHERE fwbh = 'FW0010301';"
        "UPDATE zz_wgy SET wgyjs = '1', gxsj = '2023-10-02 13:00:00+08' "
        "WHERE wgybh = 'WGY0004'");
    /* Deletes (default replica identity: key-only images): a grid member
     * who left, a grid merged away, a resident who moved. */
    uint64_t mark =
        exec_marked(s->dept, "DELETE FROM zz_wgy WHERE wgybh = 'WGY0008';"
                             "DELETE FROM zz_wg WHERE wgbm = 'LP-TJ-02';"
                             "DELETE FROM zz_syrk WHERE rkbh = 'ZZ0005'");
    wait_confirmed_past(s, mark);

    dept_t d;
    dept_read(&d, s, "zongzhi", "person grid building grid_staff grid_event",
              "person:zz_syrk grid:zz_wg building:zz_fw grid_staff:zz_wgy "
              "grid_event:zz_wgsj");
    expect_no_dead_letters(&d);

    expect_keys(&d, "person", "ZZ0001 ZZ0002 ZZ0003 ZZ0004 ZZ0006");
    expect_keys(&d, "grid",
                "LX LP LP-DT LP-TJ LP-DT-01 LP-DT-02 LP-DT-03 LP-TJ-01");
    expect_keys(&d, "building",
                "FW0000101 FW0000102 FW0000201 FW0000501 FW0010301 FW0010302 "
                "FW0010602 FW0010801 FW0000502");
    expect_keys(&d, "grid_staff",
                "WGY0001 WGY0002 WGY0003 WGY0004 WGY0005 WGY0006 WGY0007");
    expect_keys(&d, "grid_event",
                "SJ202309010001 SJ202309050002 SJ202309080003 SJ202309120004 "
                "SJ202310010005");

    expect_ops(&d, "person", "zz_syrk", "rcud");
    expect_ops(&d, "grid", "zz_wg", "rud");
    expect_ops(&d, "building", "zz_fw", "rcu");
    expect_ops(&d, "grid_staff", "zz_wgy", "rud");
    expect_ops(&d, "grid_event", "zz_wgsj", "rcu");

    /* Snapshot rows. Sample rows of zz_syrk, zz_wg, zz_fw and zz_wgy take
     * gxsj from now(): read it back. */
    char *ts = db_iso(s->dept, "zz_syrk", "rkbh", "ZZ0004", "gxsj");
    expect_event(
        &d, "person", "ZZ0004", "r",
        jparse("{\"source_key\":\"ZZ0004\",\"id_number\":"
               "\"431302750404001\",\"name\":\"刘洋\",\"sex\":\"MALE\","
               "\"birth_date\":\"1975-04-04\",\"phone\":"
               "\"13807381004\",\"address\":"
               "\"娄星区乐坪街道童家社区3栋301\",\"grid_code\":"
               "\"LP-TJ-01\",\"household_key\":null,\"remark\":null,"
               "\"updated_at\":\"%s\",\"ethnicity\":null}",
               ts));
    free(ts);
    ts = db_iso(s->dept, "zz_syrk", "rkbh", "ZZ0003", "gxsj");
    expect_row(&d, "person", "ZZ0003", "r",
               jparse("{\"source_key\":\"ZZ0003\",\"id_number\":"
                      "\"431302199003030047\",\"name\":\"王芳\",\"sex\":"
                      "\"FEMALE\",\"birth_date\":\"1990-03-03\",\"phone\":null,"
                      "\"address\":\"娄星区乐坪街道大塘社区2栋201\","
                      "\"grid_code\":\"LP-DT-02\",\"household_key\":null,"
                      "\"remark\":\"独居老人联系人\",\"updated_at\":\"%s\","
                      "\"ethnicity\":null}",
                      ts));
    free(ts);
    ts = db_iso(s->dept, "zz_wg", "wgbm", "LX", "gxsj");
    expect_row(&d, "grid", "LX", "r",
               jparse("{\"source_key\":\"LX\",\"grid_code\":\"LX\",\"name\":"
                      "\"娄星区\",\"level\":\"DISTRICT\",\"parent_code\":null,"
                      "\"households\":null,\"population\":null,"
                      "\"updated_at\":\"%s\"}",
                      ts));
    free(ts);
    ts = db_iso(s->dept, "zz_wg", "wgbm", "LP-DT-01", "gxsj");
    expect_row(&d, "grid", "LP-DT-01", "r",
               jparse("{\"source_key\":\"LP-DT-01\",\"grid_code\":"
                      "\"LP-DT-01\",\"name\":\"大塘社区第一网格\",\"level\":"
                      "\"GRID\",\"parent_code\":\"LP-DT\",\"households\":305,"
                      "\"population\":902,\"updated_at\":\"%s\"}",
                      ts));
    free(ts);
    ts = db_iso(s->dept, "zz_fw", "fwbh", "FW0000101", "gxsj");
    expect_row(&d, "building", "FW0000101", "r",
               jparse("{\"source_key\":\"FW0000101\",\"address_code\":"
                      "\"4313020020010001010101\",\"address\":"
                      "\"娄星区乐坪街道大塘社区1栋101\",\"community_code\":"
                      "\"LP-DT\",\"building_no\":\"1栋\",\"unit_no\":"
                      "\"1单元\",\"room_no\":\"101\",\"grid_code\":"
                      "\"LP-DT-01\",\"updated_at\":\"%s\"}",
                      ts));
    free(ts);
    ts = db_iso(s->dept, "zz_wgy", "wgybh", "WGY0005", "gxsj");
    expect_row(&d, "grid_staff", "WGY0005", "r",
               jparse("{\"source_key\":\"WGY0005\",\"name\":\"孙浩\","
                      "\"id_number\":\"431302199101010517\",\"phone\":"
                      "\"13973801051\",\"grid_code\":\"LP-DT-02\",\"role\":"
                      "\"LIAISON\",\"organization\":"
                      "\"娄底市乐居物业有限公司\",\"updated_at\":\"%s\"}",
                      ts));
    free(ts);
    expect_row(&d, "grid_event", "SJ202309010001", "r",
               jparse("{\"source_key\":\"SJ202309010001\",\"grid_code\":"
                      "\"LP-DT-01\",\"event_type\":\"DISPUTE\",\"status\":"
                      "\"CLOSED\",\"title\":\"1栋楼上楼下漏水纠纷\","
                      "\"description\":\"1栋201住户卫生间漏水至101张伟家，"
                      "双方就维修费用协商未果，网格员上门调解。\","
                      "\"reported_at\":\"2023-09-01T01:15:00.000000Z\","
                      "\"closed_at\":\"2023-09-03T08:40:00.000000Z\","
                      "\"updated_at\":\"2023-09-03T08:40:00.000000Z\"}"));
    expect_row(&d, "grid_event", "SJ202309050002", "r",
               jparse("{\"source_key\":\"SJ202309050002\",\"grid_code\":"
                      "\"LP-TJ-01\",\"event_type\":\"PUBLIC_ORDER\",\"status\":"
                      "\"IN_PROGRESS\",\"title\":\"童家新村电动车被盗\","
                      "\"description\":\"3栋楼下充电棚一辆电动车夜间被盗，"
                      "已报乐坪派出所。\",\"reported_at\":"
                      "\"2023-09-04T23:50:00.000000Z\",\"closed_at\":null,"
                      "\"updated_at\":\"2023-09-05T02:20:00.000000Z\"}"));

    /* Streamed inserts. */
    expect_event(&d, "person", "ZZ0006", "c",
                 jparse("{\"source_key\":\"ZZ0006\",\"id_number\":null,"
                        "\"name\":\"周敏\",\"sex\":\"FEMALE\",\"birth_date\":"
                        "\"1995-06-06\",\"phone\":\"13807381006\",\"address\":"
                        "\"娄星区乐坪街道大塘社区5栋501\",\"grid_code\":"
                        "\"LP-DT-03\",\"household_key\":null,\"remark\":null,"
                        "\"updated_at\":\"2023-10-01T01:00:00.000000Z\","
                        "\"ethnicity\":null}"));
    char *sjms = gh_test_scalar(s->dept, "SELECT sjms FROM zz_wgsj WHERE "
                                         "sjbh = 'SJ202310010005'");
    expect_event(&d, "grid_event", "SJ202310010005", "c",
                 jparse("{\"source_key\":\"SJ202310010005\",\"grid_code\":"
                        "\"LP-DT-03\",\"event_type\":\"OTHER\",\"status\":"
                        "\"REPORTED\",\"title\":\"5栋楼道堆放杂物\","
                        "\"description\":\"%s\",\"reported_at\":"
                        "\"2023-10-01T00:30:00.000000Z\",\"closed_at\":null,"
                        "\"updated_at\":\"2023-10-01T00:30:00.000000Z\"}",
                        sjms));
    free(sjms);
    expect_row(&d, "building", "FW0000502", "c",
               jparse("{\"source_key\":\"FW0000502\",\"address_code\":null,"
                      "\"address\":\"娄星区乐坪街道大塘社区5栋502\","
                      "\"community_code\":\"LP-DT\",\"building_no\":\"5栋\","
                      "\"unit_no\":null,\"room_no\":\"502\",\"grid_code\":"
                      "\"LP-DT-03\",\"updated_at\":"
                      "\"2023-10-01T01:30:00.000000Z\"}"));

    /* Streamed updates. */
    expect_row(&d, "person", "ZZ0002", "u",
               jparse("{\"source_key\":\"ZZ0002\",\"id_number\":"
                      "\"431302198502020025\",\"name\":\"李娜\",\"sex\":"
                      "\"FEMALE\",\"birth_date\":\"1985-02-02\",\"phone\":"
                      "\"13807381222\",\"address\":"
                      "\"娄星区乐坪街道大塘社区1栋102\",\"grid_code\":"
                      "\"LP-DT-01\",\"household_key\":null,\"remark\":null,"
                      "\"updated_at\":\"2023-10-02T02:00:00.000000Z\","
                      "\"ethnicity\":null}"));
    expect_row(&d, "grid_event", "SJ202310010005", "u",
               jparse("{\"source_key\":\"SJ202310010005\",\"grid_code\":"
                      "\"LP-DT-03\",\"event_type\":\"OTHER\",\"status\":"
                      "\"CLOSED\",\"title\":\"5栋楼道堆放杂物\","
                      "\"description\":\"__unchanged__\",\"reported_at\":"
                      "\"2023-10-01T00:30:00.000000Z\",\"closed_at\":"
                      "\"2023-10-02T08:00:00.000000Z\",\"updated_at\":"
                      "\"2023-10-02T08:00:00.000000Z\"}"));
    expect_row(&d, "grid", "LP-DT-03", "u",
               jparse("{\"source_key\":\"LP-DT-03\",\"grid_code\":"
                      "\"LP-DT-03\",\"name\":\"大塘社区第三网格\",\"level\":"
                      "\"GRID\",\"parent_code\":\"LP-DT\",\"households\":310,"
                      "\"population\":921,\"updated_at\":"
                      "\"2023-10-02T03:00:00.000000Z\"}"));
    expect_row(&d, "building", "FW0010301", "u",
               jparse("{\"source_key\":\"FW0010301\",\"address_code\":"
                      "\"4313020020020003010301\",\"address\":"
                      "\"娄星区乐坪街道童家社区3栋301\",\"community_code\":"
                      "\"LP-TJ\",\"building_no\":\"3栋\",\"unit_no\":null,"
                      "\"room_no\":\"301\",\"grid_code\":\"LP-TJ-01\","
                      "\"updated_at\":\"2023-10-02T04:00:00.000000Z\"}"));
    expect_row(&d, "grid_staff", "WGY0004", "u",
               jparse("{\"source_key\":\"WGY0004\",\"name\":\"王芳\","
                      "\"id_number\":\"431302199003030047\",\"phone\":null,"
                      "\"grid_code\":\"LP-DT-02\",\"role\":\"GRID_LEADER\","
                      "\"organization\":\"大塘社区居委会\",\"updated_at\":"
                      "\"2023-10-02T05:00:00.000000Z\"}"));

    /* Streamed deletes: key-only images; a Grid's required level, which
     * the image lacks, is UNCHANGED rather than null. */
    expect_gone(&d, "grid_staff", "WGY0008");
    expect_event(&d, "grid_staff", "WGY0008", "d",
                 jparse("{\"source_key\":\"WGY0008\"}"));
    expect_gone(&d, "grid", "LP-TJ-02");
    expect_event(&d, "grid", "LP-TJ-02", "d",
                 jparse("{\"source_key\":\"LP-TJ-02\",\"grid_code\":"
                        "\"LP-TJ-02\",\"level\":\"__unchanged__\"}"));
    expect_gone(&d, "person", "ZZ0005");

    dept_free(&d);
    stop_clean(s);
}

/* ---- 2. 公安 public security --------------------------------------------- */

Test(departments, gongan) {
    gh_test_stack_t *s = dept_stack(CONNECTORS "gongan/schema.sql",
                                    CONNECTORS "gongan/mapping.properties",
                                    CONNECTORS "gongan/sample.sql");
    start_connector(s);

    /* Inserts: a newborn registered in 张伟's household; a floating
     * resident with an unknown sex code in a beat the crosswalk does not
     * know; one registered and cancelled at once (never published). */
    exec_marked(
        s->dept,
        "INSERT INTO ga_hjrk (rybh, hh, yhzgx, xm, xb, mz, csrq, gmsfhm, "
        "lxdh, hjdzbm, hjdz, sjjzdzbm, sjjzdz, pcsdm, zrqdm, lhrq, zxbz, gxsj) "
        "VALUES ('R43130200010006', '102300011', '33', ' 张小雨 ', '2', '01', "
        "'2023-09-20', '431302202309200023', NULL, '4313020020010001010101', "
        "'湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元101室', "
        "'4313020020010001010101', "
        "'湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元101室', "
        "'431302510000', 'ZRQ-4313020101', '2023-10-08', '0', "
        "'2023-10-08 09:00:00+08');"
        "INSERT INTO ga_ldrk (ldrybh, xm, xb, mz, csrq, gmsfhm, hjdqh, hjdz, "
        "zzdz, zzsy, zslx, lxdh, djrq, pcsdm, zrqdm, zxbz, gxsj) VALUES "
        "('LD4313022023000188', '欧阳娜', '9', '01', '1999-12-01', "
        "'430103199912010021', '430103', '湖南省长沙市天心区书院路9号', "
        "' 乐坪街道童家路工地宿舍 ', '01', '2', '18673100188', '2023-10-08', "
        "'431302510000', 'ZRQ-4313020199', '0', '2023-10-08 10:00:00+08'),"
        "('LD4313022023000189', '钱多多', '1', '01', '1990-01-01', "
        "'431302199001010034', '431302', '湖南省娄底市娄星区', "
        "'乐坪街道童家新村6栋2单元602室', '01', '1', '13800000189', "
        "'2023-10-08', '431302510000', 'ZRQ-4313020102', '1', "
        "'2023-10-08 10:30:00+08')");
    /* Updates: 王芳's phone (three entities from one row); 周敏's household
     * moved to another beat. */
    exec_marked(s->dept,
                "UPDATE ga_hjrk SET lxdh = '13907385003', "
                "gxsj = '2023-10-09 10:00:00+08' "
                "WHERE rybh = 'R43130200010021';"
                "UPDATE ga_hu SET zrqdm = 'ZRQ-4313020102', "
                "gxsj = '2023-10-09 11:00:00+08' WHERE hh = '102300051'");
    /* Leaving the filter: 陈静's registration cancelled (moved away). */
    exec_marked(s->dept, "UPDATE ga_hjrk SET zxbz = '1', zxrq = '2023-10-10', "
                         "zxyy = '迁出', gxsj = '2023-10-10 09:00:00+08' "
                         "WHERE rybh = 'R43130200020043'");
    /* A delete: a duplicate building-level address removed. */
    uint64_t mark = exec_marked(
        s->dept, "DELETE FROM ga_bzdz WHERE dzbm = '4313020020010001000000'");
    wait_confirmed_past(s, mark);

    dept_t d;
    dept_read(&d, s, "gongan",
              "building household person residence_registration "
              "household_member",
              "building:ga_bzdz household:ga_hu person:ga_hjrk "
              "person:ga_ldrk residence_registration:ga_hjrk "
              "residence_registration:ga_ldrk household_member:ga_hjrk");
    expect_no_dead_letters(&d);

    const char *persons =
        "hjrk/R43130200010001 hjrk/R43130200010002 hjrk/R43130200010003 "
        "hjrk/R43130200010004 hjrk/R43130200010006 hjrk/R43130200010011 "
        "hjrk/R43130200010021 hjrk/R43130200010051 hjrk/R43130200020031 "
        "hjrk/R43130200020032 hjrk/R43130200020033 hjrk/R43130200020041 "
        "hjrk/R43130200020042 ldrk/LD4313022022000157 "
        "ldrk/LD4313022023000026 ldrk/LD4313022023000188";
    expect_keys(&d, "person", persons);
    expect_keys(&d, "residence_registration", persons);
    expect_keys(&d, "household_member",
                "R43130200010001 R43130200010002 R43130200010003 "
                "R43130200010004 R43130200010006 R43130200010011 "
                "R43130200010021 R43130200010051 R43130200020031 "
                "R43130200020032 R43130200020033 R43130200020041 "
                "R43130200020042");
    expect_keys(&d, "household",
                "102300011 102300012 102300021 102300051 102310031 102310032");
    expect_keys(&d, "building",
                "4313020020010001010101 4313020020010001010102 "
                "4313020020010002010201 4313020020010005010501 "
                "4313020020020003010301 4313020020020003010302 "
                "4313020020020006020602 4313020020020008010101");

    /* Cancelled rows (zxbz='1') never reach a topic. */
    expect_never(&d, "person", "hjrk/R43130200010005");
    expect_never(&d, "residence_registration", "hjrk/R43130200010005");
    expect_never(&d, "household_member", "R43130200010005");
    expect_never(&d, "person", "ldrk/LD4313022021000053");
    expect_never(&d, "residence_registration", "ldrk/LD4313022021000053");
    expect_never(&d, "person", "ldrk/LD4313022023000189");
    expect_never(&d, "residence_registration", "ldrk/LD4313022023000189");
    expect_never(&d, "building", "4313020020020009000000");

    expect_ops(&d, "building", "ga_bzdz", "rd");
    expect_ops(&d, "household", "ga_hu", "ru");
    expect_ops(&d, "person", "ga_hjrk", "rcud");
    expect_ops(&d, "person", "ga_ldrk", "rc");
    expect_ops(&d, "residence_registration", "ga_hjrk", "rcud");
    expect_ops(&d, "residence_registration", "ga_ldrk", "rc");
    expect_ops(&d, "household_member", "ga_hjrk", "rcud");

    /* Snapshot rows: prefixed keys, sex and relation codes, crosswalked
     * beats, ethnicity passed through, dates as recorded. */
    expect_row(
        &d, "person", "hjrk/R43130200010001", "r",
        jparse("{\"source_key\":\"hjrk/R43130200010001\","
               "\"id_number\":\"431302198001010013\",\"name\":\"张伟\","
               "\"sex\":\"MALE\",\"birth_date\":\"1980-01-01\","
               "\"phone\":\"13807381001\",\"address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元"
               "101室\",\"grid_code\":\"LP-DT\",\"household_key\":"
               "\"102300011\",\"remark\":null,\"updated_at\":"
               "\"2021-04-02T02:15:00.000000Z\",\"ethnicity\":\"01\"}"));
    expect_row(
        &d, "person", "ldrk/LD4313022022000157", "r",
        jparse("{\"source_key\":\"ldrk/LD4313022022000157\","
               "\"id_number\":\"650102199206301571\",\"name\":"
               "\"买买提·艾力\",\"sex\":\"MALE\",\"birth_date\":"
               "\"1992-06-30\",\"phone\":\"18999101571\",\"address\":"
               "\"湖南省娄底市娄星区乐坪街道童家路26号童家新村8栋101号门面"
               "\",\"grid_code\":\"LP-TJ\",\"household_key\":null,"
               "\"remark\":null,\"updated_at\":"
               "\"2023-04-03T02:30:00.000000Z\",\"ethnicity\":\"05\"}"));
    expect_row(
        &d, "residence_registration", "hjrk/R43130200010002", "r",
        jparse("{\"source_key\":\"hjrk/R43130200010002\","
               "\"registration_type\":\"HUKOU\",\"id_number\":"
               "\"43130219830715022X\",\"name\":\"王丽\",\"sex\":"
               "\"FEMALE\",\"birth_date\":\"1983-07-15\","
               "\"household_number\":\"102300011\","
               "\"relation_to_head\":\"SPOUSE\",\"registered_address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元"
               "101室\",\"current_address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元"
               "101室\",\"registered_on\":\"2009-01-10\","
               "\"valid_until\":null,\"police_station\":"
               "\"431302510000\",\"beat_code\":\"ZRQ-4313020101\","
               "\"updated_at\":\"2009-01-10T06:00:00.000000Z\",\"current_"
               "address_code\":\"4313020020010001010101\"}"));
    expect_row(
        &d, "residence_registration", "ldrk/LD4313022023000026", "r",
        jparse("{\"source_key\":\"ldrk/LD4313022023000026\","
               "\"registration_type\":\"FLOATING\",\"id_number\":"
               "\"430304199508180261\",\"name\":\"黄丽\",\"sex\":"
               "\"FEMALE\",\"birth_date\":\"1995-08-18\","
               "\"household_number\":null,\"relation_to_head\":null,"
               "\"registered_address\":"
               "\"湖南省湘潭市岳塘区建设南路16号\",\"current_address\":"
               "\"湖南省娄底市娄星区乐坪街道童家路26号童家新村6栋2单元602"
               "室\",\"registered_on\":\"2023-03-02\",\"valid_until\":"
               "\"2024-03-01\",\"police_station\":\"431302510000\","
               "\"beat_code\":\"ZRQ-4313020102\",\"updated_at\":"
               "\"2023-03-02T07:45:00.000000Z\",\"current_address_code\":"
               "\"4313020020020006020602\"}"));
    expect_row(&d, "household_member", "R43130200020033", "r",
               jparse("{\"source_key\":\"R43130200020033\","
                      "\"household_key\":\"102310031\",\"person_key\":"
                      "\"hjrk/R43130200020033\",\"name\":\"刘子轩\","
                      "\"id_number\":\"431302200509180355\",\"relation\":"
                      "\"CHILD\",\"updated_at\":"
                      "\"2005-10-12T01:00:00.000000Z\"}"));
    expect_row(
        &d, "household", "102300011", "r",
        jparse("{\"source_key\":\"102300011\",\"household_number\":"
               "\"102300011\",\"head_name\":\"张伟\","
               "\"head_id_number\":\"431302198001010013\",\"address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元"
               "101室\",\"grid_code\":\"LP-DT\",\"member_count\":null,"
               "\"updated_at\":\"2022-11-03T01:20:00.000000Z\"}"));
    expect_row(
        &d, "building", "4313020020020008010101", "r",
        jparse("{\"source_key\":\"4313020020020008010101\","
               "\"address_code\":\"4313020020020008010101\","
               "\"address\":\"湖南省娄底市娄星区乐坪街道童家路26号童家新村"
               "8栋101号门面\",\"community_code\":\"431302002002\","
               "\"building_no\":\"8栋\",\"unit_no\":null,\"room_no\":"
               "\"101号门面\",\"grid_code\":\"LP-TJ\",\"updated_at\":"
               "\"2020-08-17T07:12:00.000000Z\"}"));

    /* Streamed inserts. */
    expect_row(
        &d, "person", "hjrk/R43130200010006", "c",
        jparse("{\"source_key\":\"hjrk/R43130200010006\","
               "\"id_number\":\"431302202309200023\",\"name\":"
               "\"张小雨\",\"sex\":\"FEMALE\",\"birth_date\":"
               "\"2023-09-20\",\"phone\":null,\"address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元"
               "101室\",\"grid_code\":\"LP-DT\",\"household_key\":"
               "\"102300011\",\"remark\":null,\"updated_at\":"
               "\"2023-10-08T01:00:00.000000Z\",\"ethnicity\":\"01\"}"));
    expect_row(
        &d, "residence_registration", "hjrk/R43130200010006", "c",
        jparse("{\"source_key\":\"hjrk/R43130200010006\","
               "\"registration_type\":\"HUKOU\",\"id_number\":"
               "\"431302202309200023\",\"name\":\"张小雨\",\"sex\":"
               "\"FEMALE\",\"birth_date\":\"2023-09-20\","
               "\"household_number\":\"102300011\","
               "\"relation_to_head\":\"CHILD\",\"registered_address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元"
               "101室\",\"current_address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区1栋1单元"
               "101室\",\"registered_on\":\"2023-10-08\","
               "\"valid_until\":null,\"police_station\":"
               "\"431302510000\",\"beat_code\":\"ZRQ-4313020101\","
               "\"updated_at\":\"2023-10-08T01:00:00.000000Z\",\"current_"
               "address_code\":\"4313020020010001010101\"}"));
    expect_row(&d, "household_member", "R43130200010006", "c",
               jparse("{\"source_key\":\"R43130200010006\","
                      "\"household_key\":\"102300011\",\"person_key\":"
                      "\"hjrk/R43130200010006\",\"name\":\"张小雨\","
                      "\"id_number\":\"431302202309200023\",\"relation\":"
                      "\"CHILD\",\"updated_at\":"
                      "\"2023-10-08T01:00:00.000000Z\"}"));
    expect_row(&d, "person", "ldrk/LD4313022023000188", "c",
               jparse("{\"source_key\":\"ldrk/LD4313022023000188\","
                      "\"id_number\":\"430103199912010021\",\"name\":"
                      "\"欧阳娜\",\"sex\":\"UNKNOWN\",\"birth_date\":"
                      "\"1999-12-01\",\"phone\":\"18673100188\",\"address\":"
                      "\"乐坪街道童家路工地宿舍\",\"grid_code\":null,"
                      "\"household_key\":null,\"remark\":null,\"updated_at\":"
                      "\"2023-10-08T02:00:00.000000Z\",\"ethnicity\":\"01\"}"));
    expect_row(
        &d, "residence_registration", "ldrk/LD4313022023000188", "c",
        jparse(
            "{\"source_key\":\"ldrk/LD4313022023000188\","
            "\"registration_type\":\"FLOATING\",\"id_number\":"
            "\"430103199912010021\",\"name\":\"欧阳娜\",\"sex\":"
            "\"UNKNOWN\",\"birth_date\":\"1999-12-01\","
            "\"household_number\":null,\"relation_to_head\":null,"
            "\"registered_address\":\"湖南省长沙市天心区书院路9号\","
            "\"current_address\":\"乐坪街道童家路工地宿舍\","
            "\"registered_on\":\"2023-10-08\",\"valid_until\":null,"
            "\"police_station\":\"431302510000\",\"beat_code\":"
            "\"ZRQ-4313020199\",\"updated_at\":"
            "\"2023-10-08T02:00:00.000000Z\",\"current_address_code\":null}"));

    /* Streamed updates. */
    expect_row(
        &d, "person", "hjrk/R43130200010021", "u",
        jparse("{\"source_key\":\"hjrk/R43130200010021\","
               "\"id_number\":\"431302199003030047\",\"name\":\"王芳\","
               "\"sex\":\"FEMALE\",\"birth_date\":\"1990-03-03\","
               "\"phone\":\"13907385003\",\"address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区2栋1单元"
               "201室\",\"grid_code\":\"LP-DT\",\"household_key\":"
               "\"102300021\",\"remark\":null,\"updated_at\":"
               "\"2023-10-09T02:00:00.000000Z\",\"ethnicity\":\"01\"}"));
    event_of(&d, "residence_registration", "hjrk/R43130200010021", "u");
    event_of(&d, "household_member", "R43130200010021", "u");
    expect_row(
        &d, "household", "102300051", "u",
        jparse("{\"source_key\":\"102300051\",\"household_number\":"
               "\"102300051\",\"head_name\":\"周敏\","
               "\"head_id_number\":\"431302199506060045\",\"address\":"
               "\"湖南省娄底市娄星区乐坪街道乐坪大道168号大塘小区5栋1单元"
               "501室\",\"grid_code\":\"LP-TJ\",\"member_count\":null,"
               "\"updated_at\":\"2023-10-09T03:00:00.000000Z\"}"));

    /* The cancelled registration left all three topics: delete + tombstone. */
    expect_gone(&d, "person", "hjrk/R43130200020043");
    expect_gone(&d, "residence_registration", "hjrk/R43130200020043");
    expect_gone(&d, "household_member", "R43130200020043");

    /* The deleted address: a key-only image (the key column also feeds
     * address_code). */
    expect_gone(&d, "building", "4313020020010001000000");
    expect_event(&d, "building", "4313020020010001000000", "d",
                 jparse("{\"source_key\":\"4313020020010001000000\","
                        "\"address_code\":\"4313020020010001000000\"}"));

    dept_free(&d);
    stop_clean(s);
}

/* ---- 3. 计生 family planning --------------------------------------------- */

Test(departments, jisheng) {
    gh_test_stack_t *s = dept_stack(CONNECTORS "jisheng/schema.sql",
                                    CONNECTORS "jisheng/mapping.properties",
                                    CONNECTORS "jisheng/sample.sql");
    start_connector(s);

    /* Inserts: 黄丽's baby, name padded with ideographic spaces, birth
     * date unknown ('00000000'), no ID yet, a community code the crosswalk
     * does not know; and the birth registration, child not yet named. */
    exec_marked(
        s->dept,
        "INSERT INTO js_jtcy (cybh, jtbh, xm, xb, csrq, sfzh, mz, yhzgx, hyzk, "
        "lxdh, sqdm, zxbz, czy, czsj) VALUES ('431302002002000302', "
        "'4313020020020003', '　李小宝　', '男', '00000000', '', '汉族', "
        "'儿子', '10', NULL, '431302002099', '0', 'jsy_tj01', "
        "'2023-10-05 09:00:00+08');"
        "INSERT INTO js_csdj (csdjbh, jtbh, cybh, xm, xb, csrq, csdd, hc, "
        "csyxzmbh, mqxm, mqsfzh, djrq, czy, czsj) VALUES "
        "('CS2023431302000077', '4313020020020003', NULL, NULL, '男', "
        "'20231001', '娄底市妇幼保健院', 1, 'X431300077', '黄丽', "
        "'430304199508180261', '20231005', 'jsy_tj01', "
        "'2023-10-05 09:00:00+08')");
    /* Updates: 黄丽's card and family file; the birth registration linked
     * to the member once named. */
    exec_marked(
        s->dept,
        "UPDATE js_yfn SET xyzns = 1, czsj = '2023-10-05 09:30:00+08' "
        "WHERE yfnbh = 'YF431302002002000301';"
        "UPDATE js_jtda SET jtrks = 2, czsj = '2023-10-05 09:30:00+08' "
        "WHERE jtbh = '4313020020020003';"
        "UPDATE js_csdj SET cybh = '431302002002000302', xm = '李小宝', "
        "czsj = '2023-10-06 10:00:00+08' WHERE csdjbh = 'CS2023431302000077'");
    /* Leaving the filter: 李娜's family moved away (file, member, card). */
    exec_marked(
        s->dept,
        "UPDATE js_jtda SET zxbz = '1', czsj = '2023-10-07 09:00:00+08' "
        "WHERE jtbh = '4313020020010002';"
        "UPDATE js_jtcy SET zxbz = '1', czsj = '2023-10-07 09:00:00+08' "
        "WHERE cybh = '431302002001000201';"
        "UPDATE js_yfn SET zxbz = '1', czsj = '2023-10-07 09:00:00+08' "
        "WHERE yfnbh = 'YF431302002001000201'");
    /* A delete: a contraception record entered in error. */
    uint64_t mark = exec_marked(
        s->dept, "DELETE FROM js_jycs WHERE jlbh = 'JY2006030100012'");
    wait_confirmed_past(s, mark);

    dept_t d;
    dept_read(&d, s, "jisheng",
              "household person household_member family_planning",
              "household:js_jtda person:js_jtcy household_member:js_jtcy "
              "family_planning:js_csdj family_planning:js_yfn "
              "family_planning:js_jycs");
    expect_no_dead_letters(&d);

    expect_keys(&d, "household",
                "4313020020010001 4313020020010003 4313020020020001 "
                "4313020020020002 4313020020020003");
    const char *members =
        "431302002001000101 431302002001000102 431302002001000103 "
        "431302002001000104 431302002001000301 431302002002000101 "
        "431302002002000102 431302002002000103 431302002002000201 "
        "431302002002000202 431302002002000203 431302002002000301 "
        "431302002002000302";
    expect_keys(&d, "person", members);
    expect_keys(&d, "household_member", members);
    expect_keys(&d, "family_planning",
                "csdj/CS2005431302000311 csdj/CS2010431302000123 "
                "csdj/CS2021431302000045 csdj/CS2023431302000077 "
                "yfn/YF431302002001000102 yfn/YF431302002001000301 "
                "yfn/YF431302002002000102 yfn/YF431302002002000202 "
                "yfn/YF431302002002000203 yfn/YF431302002002000301 "
                "jycs/JY2000112000007 jycs/JY2011030500021 "
                "jycs/JY2020041500008 jycs/JY2021061000016");

    /* 彭小红's family moved away before: never published. */
    expect_never(&d, "household", "4313020020020004");
    expect_never(&d, "person", "431302002002000401");
    expect_never(&d, "household_member", "431302002002000401");
    expect_never(&d, "family_planning", "yfn/YF431302002002000401");

    expect_ops(&d, "household", "js_jtda", "rud");
    expect_ops(&d, "person", "js_jtcy", "rcd");
    expect_ops(&d, "household_member", "js_jtcy", "rcd");
    expect_ops(&d, "family_planning", "js_csdj", "rcu");
    expect_ops(&d, "family_planning", "js_yfn", "rud");
    expect_ops(&d, "family_planning", "js_jycs", "rd");

    /* Snapshot rows: 'YYYYMMDD' text dates, 男/女, typed ethnic names to
     * GB/T 3304 codes, community codes crosswalked, IDs as recorded (王芳's
     * wrong check digit, 刘洋's 15 digits). */
    expect_row(&d, "household", "4313020020010003", "r",
               jparse("{\"source_key\":\"4313020020010003\","
                      "\"household_number\":\"4313020020010003\","
                      "\"head_name\":\"王芳\",\"head_id_number\":"
                      "\"431302199003030041\",\"address\":\"大塘社区2栋201\","
                      "\"grid_code\":\"LP-DT\",\"member_count\":1,"
                      "\"updated_at\":\"2015-06-10T01:45:00.000000Z\"}"));
    expect_row(&d, "person", "431302002002000101", "r",
               jparse("{\"source_key\":\"431302002002000101\",\"id_number\":"
                      "\"431302750404001\",\"name\":\"刘洋\",\"sex\":\"MALE\","
                      "\"birth_date\":\"1975-04-04\",\"phone\":"
                      "\"13807381004\",\"address\":null,\"grid_code\":"
                      "\"LP-TJ\",\"household_key\":\"4313020020020001\","
                      "\"remark\":null,\"updated_at\":"
                      "\"1999-03-01T01:00:00.000000Z\",\"ethnicity\":\"01\"}"));
    expect_row(&d, "person", "431302002002000102", "r",
               jparse("{\"source_key\":\"431302002002000102\",\"id_number\":"
                      "\"431302197806120282\",\"name\":\"赵敏\",\"sex\":"
                      "\"FEMALE\",\"birth_date\":\"1978-06-12\",\"phone\":"
                      "\"13807381014\",\"address\":null,\"grid_code\":"
                      "\"LP-TJ\",\"household_key\":\"4313020020020001\","
                      "\"remark\":null,\"updated_at\":"
                      "\"2003-03-01T01:00:00.000000Z\",\"ethnicity\":\"15\"}"));
    expect_row(&d, "household_member", "431302002001000104", "r",
               jparse("{\"source_key\":\"431302002001000104\","
                      "\"household_key\":\"4313020020010001\",\"person_key\":"
                      "\"431302002001000104\",\"name\":\"张欣怡\","
                      "\"id_number\":\"431302202103120247\",\"relation\":"
                      "\"CHILD\",\"updated_at\":"
                      "\"2021-03-20T02:30:00.000000Z\"}"));
    expect_row(&d, "family_planning", "csdj/CS2005431302000311", "r",
               jparse("{\"source_key\":\"csdj/CS2005431302000311\","
                      "\"record_type\":\"BIRTH\",\"person_key\":"
                      "\"431302002002000103\",\"household_key\":"
                      "\"4313020020020001\",\"name\":\"刘子轩\",\"id_number\":"
                      "null,\"event_date\":\"2005-09-18\",\"details\":"
                      "\"第1孩\",\"updated_at\":"
                      "\"2005-10-20T03:00:00.000000Z\"}"));
    expect_row(&d, "family_planning", "yfn/YF431302002002000202", "r",
               jparse("{\"source_key\":\"yfn/YF431302002002000202\","
                      "\"record_type\":\"WCBA\",\"person_key\":"
                      "\"431302002002000202\",\"household_key\":"
                      "\"4313020020020002\",\"name\":\"何秀兰\",\"id_number\":"
                      "\"431302197403160466\",\"event_date\":\"2000-06-20\","
                      "\"details\":\"现有子女数 1\",\"updated_at\":"
                      "\"2000-11-20T02:00:00.000000Z\"}"));
    expect_row(&d, "family_planning", "jycs/JY2000112000007", "r",
               jparse("{\"source_key\":\"jycs/JY2000112000007\","
                      "\"record_type\":\"CONTRACEPTION\",\"person_key\":"
                      "\"431302002002000202\",\"household_key\":"
                      "\"4313020020020002\",\"name\":\"何秀兰\",\"id_number\":"
                      "\"431302197403160466\",\"event_date\":\"2000-11-20\","
                      "\"details\":\"输卵管结扎\",\"updated_at\":"
                      "\"2000-11-20T02:00:00.000000Z\"}"));

    /* Streamed inserts. */
    expect_row(&d, "person", "431302002002000302", "c",
               jparse("{\"source_key\":\"431302002002000302\",\"id_number\":"
                      "null,\"name\":\"李小宝\",\"sex\":\"MALE\","
                      "\"birth_date\":null,\"phone\":null,\"address\":null,"
                      "\"grid_code\":null,\"household_key\":"
                      "\"4313020020020003\",\"remark\":null,\"updated_at\":"
                      "\"2023-10-05T01:00:00.000000Z\",\"ethnicity\":\"01\"}"));
    expect_row(&d, "household_member", "431302002002000302", "c",
               jparse("{\"source_key\":\"431302002002000302\","
                      "\"household_key\":\"4313020020020003\",\"person_key\":"
                      "\"431302002002000302\",\"name\":\"李小宝\","
                      "\"id_number\":null,\"relation\":\"CHILD\","
                      "\"updated_at\":\"2023-10-05T01:00:00.000000Z\"}"));
    expect_event(&d, "family_planning", "csdj/CS2023431302000077", "c",
                 jparse("{\"source_key\":\"csdj/CS2023431302000077\","
                        "\"record_type\":\"BIRTH\",\"person_key\":null,"
                        "\"household_key\":\"4313020020020003\",\"name\":null,"
                        "\"id_number\":null,\"event_date\":\"2023-10-01\","
                        "\"details\":\"第1孩\",\"updated_at\":"
                        "\"2023-10-05T01:00:00.000000Z\"}"));

    /* Streamed updates. */
    expect_row(&d, "family_planning", "csdj/CS2023431302000077", "u",
               jparse("{\"source_key\":\"csdj/CS2023431302000077\","
                      "\"record_type\":\"BIRTH\",\"person_key\":"
                      "\"431302002002000302\",\"household_key\":"
                      "\"4313020020020003\",\"name\":\"李小宝\",\"id_number\":"
                      "null,\"event_date\":\"2023-10-01\",\"details\":"
                      "\"第1孩\",\"updated_at\":"
                      "\"2023-10-06T02:00:00.000000Z\"}"));
    expect_row(&d, "family_planning", "yfn/YF431302002002000301", "u",
               jparse("{\"source_key\":\"yfn/YF431302002002000301\","
                      "\"record_type\":\"WCBA\",\"person_key\":"
                      "\"431302002002000301\",\"household_key\":"
                      "\"4313020020020003\",\"name\":\"黄丽\",\"id_number\":"
                      "\"430304199508180261\",\"event_date\":\"2023-03-10\","
                      "\"details\":\"现有子女数 1\",\"updated_at\":"
                      "\"2023-10-05T01:30:00.000000Z\"}"));
    expect_row(&d, "household", "4313020020020003", "u",
               jparse("{\"source_key\":\"4313020020020003\","
                      "\"household_number\":\"4313020020020003\","
                      "\"head_name\":\"黄丽\",\"head_id_number\":"
                      "\"430304199508180261\",\"address\":"
                      "\"童家新村6栋2单元602\",\"grid_code\":\"LP-TJ\","
                      "\"member_count\":2,\"updated_at\":"
                      "\"2023-10-05T01:30:00.000000Z\"}"));

    /* The family that moved away left every topic. */
    expect_gone(&d, "household", "4313020020010002");
    expect_gone(&d, "person", "431302002001000201");
    expect_gone(&d, "household_member", "431302002001000201");
    expect_gone(&d, "family_planning", "yfn/YF431302002001000201");

    /* The deleted record: key-only image; the literal record type is
     * known without the row. */
    expect_gone(&d, "family_planning", "jycs/JY2006030100012");
    expect_event(&d, "family_planning", "jycs/JY2006030100012", "d",
                 jparse("{\"source_key\":\"jycs/JY2006030100012\","
                        "\"record_type\":\"CONTRACEPTION\"}"));

    dept_free(&d);
    stop_clean(s);
}

/* ---- 4. 组织部 organization department ----------------------------------- */

Test(departments, zuzhi) {
    gh_test_stack_t *s = dept_stack(CONNECTORS "zuzhi/schema.sql",
                                    CONNECTORS "zuzhi/mapping.properties",
                                    CONNECTORS "zuzhi/sample.sql");
    start_connector(s);

    /* Inserts: a new probationary member typed with spaces; one expelled
     * (出党) entered for the record (never published); a cadre sent down. */
    exec_marked(
        s->dept,
        "INSERT INTO dj_dyxx (dyid, xm, xb, mz, csrq, gmsfhm, xl, gzdw, rdrq, "
        "zzrq, dylb, dzzdm, djwgdm, lxdh, jtzz, dyzt, xgsj) VALUES "
        "('3F2A9C7E11D54B0C9E8A6B5D4C3B2A19', ' 赵敏 ', '女', '土家族', "
        "'1978-06-12', '431302197806120282', '大专', '童家社区居委会', "
        "'2023-09-28', NULL, '预备党员', 'D4313020020021', "
        "'DJ-LPJD-TJSQ-01', ' 13807381014 ', '乐坪街道童家新村3栋301', "
        "'正常', '2023-09-28 16:00:00+08'),"
        "('6C1B8D2E44F0478AA1B2C3D4E5F60718', '王建军', '男', '汉族', "
        "'1960-05-01', '431302196005010011', '高中', NULL, '1985-07-01', "
        "'1986-07-01', '正式党员', 'D4313020020022', 'DJ-LPJD-TJSQ-02', "
        "NULL, '乐坪街道童家新村7栋', '出党', '2023-09-28 16:00:00+08');"
        "INSERT INTO dj_xcgb (xcid, dyid, xm, xb, gmsfhm, lxdh, pcdw, zw, "
        "xcwgdm, wgzw, xcrq, zt, xgsj) VALUES ('XC2023000131', NULL, "
        "'彭建军', '男', '431302198106060033', '13973801099', "
        "'娄星区住房和城乡建设局', '科员', 'DJ-LPJD-TJSQ-02', '兼职网格员', "
        "'2023-10-01', '在岗', '2023-10-01 09:00:00+08')");
    /* Updates: 刘洋's party membership suspended (停止党籍 stays in the
     * filter) and a new phone; a party grid's household count. */
    exec_marked(s->dept,
                "UPDATE dj_dyxx SET dyzt = '停止党籍', lxdh = '13807381044', "
                "xgsj = '2023-10-02 10:00:00+08' "
                "WHERE dyid = 'ED8BD287236D5F94922A773F8EE8F1BE';"
                "UPDATE dj_wg SET hs = 320, xgsj = '2023-10-02 11:00:00+08' "
                "WHERE wgdm = 'DJ-LPJD-TJSQ-02'");
    /* Leaving the filter: 周建华 recalled. */
    exec_marked(s->dept,
                "UPDATE dj_xcgb SET zt = '已召回', zhrq = '2023-10-31', "
                "xgsj = '2023-10-31 17:00:00+08' "
                "WHERE xcid = 'XC2023000102'");
    /* A delete: 陈静's record transferred to another system. */
    uint64_t mark = exec_marked(
        s->dept,
        "DELETE FROM dj_dyxx WHERE dyid = 'D7D6BE86EA595389BD9A96A0A6159AC2'");
    wait_confirmed_past(s, mark);

    dept_t d;
    dept_read(&d, s, "zuzhi", "grid party_member person grid_staff",
              "grid:dj_wg party_member:dj_dyxx person:dj_dyxx "
              "grid_staff:dj_xcgb");
    expect_no_dead_letters(&d);

    expect_keys(&d, "grid",
                "DJ-LPJD DJ-LPJD-DTSQ DJ-LPJD-DTSQ-01 DJ-LPJD-DTSQ-02 "
                "DJ-LPJD-TJSQ DJ-LPJD-TJSQ-01 DJ-LPJD-TJSQ-02");
    const char *members =
        "81BC22AA28CE590AB2D9323B72B000F2 5252CB22EA1E535FA3A2E362ECF67F3D "
        "ED8BD287236D5F94922A773F8EE8F1BE ABD94B3E472A5E90B7D2D90C8FED8DA5 "
        "3F2A9C7E11D54B0C9E8A6B5D4C3B2A19";
    expect_keys(&d, "party_member", members);
    expect_keys(&d, "person", members);
    expect_keys(&d, "grid_staff", "XC2023000101 XC2023000131");

    /* 张德明 (死亡), the expelled member and the recalled 罗志强. */
    expect_never(&d, "party_member", "D93CEA567768556EB4EE699D2BEBF895");
    expect_never(&d, "person", "D93CEA567768556EB4EE699D2BEBF895");
    expect_never(&d, "party_member", "6C1B8D2E44F0478AA1B2C3D4E5F60718");
    expect_never(&d, "person", "6C1B8D2E44F0478AA1B2C3D4E5F60718");
    expect_never(&d, "grid_staff", "XC2022000057");

    expect_ops(&d, "grid", "dj_wg", "ru");
    expect_ops(&d, "party_member", "dj_dyxx", "rcud");
    expect_ops(&d, "person", "dj_dyxx", "rcud");
    expect_ops(&d, "grid_staff", "dj_xcgb", "rcd");

    /* Snapshot rows: party grids crosswalked to 综治 (DTSQ-02 spans two
     * grids: the community), 男/女, ethnic names to codes, traditional 張
     * and a spaced phone kept as recorded. */
    expect_row(&d, "person", "81BC22AA28CE590AB2D9323B72B000F2", "r",
               jparse("{\"source_key\":\"81BC22AA28CE590AB2D9323B72B000F2\","
                      "\"id_number\":\"431302198001010013\",\"name\":\"張伟\","
                      "\"sex\":\"MALE\",\"birth_date\":\"1980-01-01\","
                      "\"phone\":\"138 0738 1001\",\"address\":"
                      "\"乐坪街道大塘小区1栋101\",\"grid_code\":\"LP-DT-01\","
                      "\"household_key\":null,\"remark\":null,\"updated_at\":"
                      "\"2020-06-15T01:30:00.000000Z\",\"ethnicity\":\"01\"}"));
    expect_event(&d, "party_member", "D7D6BE86EA595389BD9A96A0A6159AC2", "r",
                 jparse("{\"source_key\":\"D7D6BE86EA595389BD9A96A0A6159AC2\","
                        "\"name\":\"陈静\",\"id_number\":"
                        "\"431302200005050020\",\"sex\":\"FEMALE\","
                        "\"birth_date\":\"2000-05-05\",\"joined_on\":"
                        "\"2023-06-28\",\"branch_code\":\"D4313020020021\","
                        "\"member_type\":\"PROBATIONARY\",\"grid_code\":"
                        "\"LP-TJ-01\",\"phone\":\"13807381005\","
                        "\"updated_at\":\"2023-06-28T08:00:00.000000Z\"}"));
    expect_row(&d, "party_member", "ABD94B3E472A5E90B7D2D90C8FED8DA5", "r",
               jparse("{\"source_key\":\"ABD94B3E472A5E90B7D2D90C8FED8DA5\","
                      "\"name\":\"周建华\",\"id_number\":"
                      "\"431302197902140195\",\"sex\":\"MALE\","
                      "\"birth_date\":\"1979-02-14\",\"joined_on\":"
                      "\"2001-05-20\",\"branch_code\":\"D43130000103\","
                      "\"member_type\":\"FULL\",\"grid_code\":null,\"phone\":"
                      "\"13973888019\",\"updated_at\":"
                      "\"2019-01-10T01:00:00.000000Z\"}"));
    expect_row(&d, "grid_staff", "XC2023000101", "r",
               jparse("{\"source_key\":\"XC2023000101\",\"name\":\"李娜\","
                      "\"id_number\":\"431302198502020025\",\"phone\":"
                      "\"13807381002\",\"grid_code\":\"LP-DT-01\",\"role\":"
                      "\"GRID_LEADER\",\"organization\":\"娄底市财政局\","
                      "\"updated_at\":\"2023-03-01T02:00:00.000000Z\"}"));
    expect_event(&d, "grid_staff", "XC2023000102", "r",
                 jparse("{\"source_key\":\"XC2023000102\",\"name\":\"周建华\","
                        "\"id_number\":\"431302197902140195\",\"phone\":"
                        "\"13973888019\",\"grid_code\":\"LP-DT\",\"role\":"
                        "\"LIAISON\",\"organization\":\"中共娄底市委组织部\","
                        "\"updated_at\":\"2023-03-01T02:00:00.000000Z\"}"));
    expect_row(&d, "grid", "DJ-LPJD", "r",
               jparse("{\"source_key\":\"DJ-LPJD\",\"grid_code\":\"DJ-LPJD\","
                      "\"name\":\"乐坪街道党建网格\",\"level\":\"SUBDISTRICT\","
                      "\"parent_code\":null,\"households\":null,"
                      "\"population\":null,\"updated_at\":"
                      "\"2020-06-15T01:00:00.000000Z\"}"));

    /* Streamed inserts. */
    expect_row(&d, "person", "3F2A9C7E11D54B0C9E8A6B5D4C3B2A19", "c",
               jparse("{\"source_key\":\"3F2A9C7E11D54B0C9E8A6B5D4C3B2A19\","
                      "\"id_number\":\"431302197806120282\",\"name\":\"赵敏\","
                      "\"sex\":\"FEMALE\",\"birth_date\":\"1978-06-12\","
                      "\"phone\":\"13807381014\",\"address\":"
                      "\"乐坪街道童家新村3栋301\",\"grid_code\":\"LP-TJ-01\","
                      "\"household_key\":null,\"remark\":null,\"updated_at\":"
                      "\"2023-09-28T08:00:00.000000Z\",\"ethnicity\":\"15\"}"));
    expect_row(&d, "party_member", "3F2A9C7E11D54B0C9E8A6B5D4C3B2A19", "c",
               jparse("{\"source_key\":\"3F2A9C7E11D54B0C9E8A6B5D4C3B2A19\","
                      "\"name\":\"赵敏\",\"id_number\":"
                      "\"431302197806120282\",\"sex\":\"FEMALE\","
                      "\"birth_date\":\"1978-06-12\",\"joined_on\":"
                      "\"2023-09-28\",\"branch_code\":\"D4313020020021\","
                      "\"member_type\":\"PROBATIONARY\",\"grid_code\":"
                      "\"LP-TJ-01\",\"phone\":\"13807381014\","
                      "\"updated_at\":\"2023-09-28T08:00:00.000000Z\"}"));
    expect_row(&d, "grid_staff", "XC2023000131", "c",
               jparse("{\"source_key\":\"XC2023000131\",\"name\":\"彭建军\","
                      "\"id_number\":\"431302198106060033\",\"phone\":"
                      "\"13973801099\",\"grid_code\":\"LP-TJ-02\",\"role\":"
                      "\"PART_TIME_MEMBER\",\"organization\":"
                      "\"娄星区住房和城乡建设局\",\"updated_at\":"
                      "\"2023-10-01T01:00:00.000000Z\"}"));

    /* Streamed updates. */
    expect_row(&d, "person", "ED8BD287236D5F94922A773F8EE8F1BE", "u",
               jparse("{\"source_key\":\"ED8BD287236D5F94922A773F8EE8F1BE\","
                      "\"id_number\":\"431302197504040017\",\"name\":\"刘洋\","
                      "\"sex\":\"MALE\",\"birth_date\":\"1975-04-04\","
                      "\"phone\":\"13807381044\",\"address\":"
                      "\"乐坪街道童家新村3栋301\",\"grid_code\":\"LP-TJ-01\","
                      "\"household_key\":null,\"remark\":null,\"updated_at\":"
                      "\"2023-10-02T02:00:00.000000Z\",\"ethnicity\":\"01\"}"));
    expect_row(&d, "party_member", "ED8BD287236D5F94922A773F8EE8F1BE", "u",
               jparse("{\"source_key\":\"ED8BD287236D5F94922A773F8EE8F1BE\","
                      "\"name\":\"刘洋\",\"id_number\":"
                      "\"431302197504040017\",\"sex\":\"MALE\","
                      "\"birth_date\":\"1975-04-04\",\"joined_on\":"
                      "\"1998-06-30\",\"branch_code\":\"D4313020020021\","
                      "\"member_type\":\"FULL\",\"grid_code\":\"LP-TJ-01\","
                      "\"phone\":\"13807381044\",\"updated_at\":"
                      "\"2023-10-02T02:00:00.000000Z\"}"));
    expect_row(&d, "grid", "DJ-LPJD-TJSQ-02", "u",
               jparse("{\"source_key\":\"DJ-LPJD-TJSQ-02\",\"grid_code\":"
                      "\"DJ-LPJD-TJSQ-02\",\"name\":\"童家社区第二党建网格\","
                      "\"level\":\"GRID\",\"parent_code\":\"DJ-LPJD-TJSQ\","
                      "\"households\":320,\"population\":null,"
                      "\"updated_at\":\"2023-10-02T03:00:00.000000Z\"}"));

    /* The recalled cadre left; the transferred member's delete is a
     * key-only image. */
    expect_gone(&d, "grid_staff", "XC2023000102");
    expect_gone(&d, "party_member", "D7D6BE86EA595389BD9A96A0A6159AC2");
    expect_gone(&d, "person", "D7D6BE86EA595389BD9A96A0A6159AC2");
    expect_event(&d, "party_member", "D7D6BE86EA595389BD9A96A0A6159AC2", "d",
                 jparse("{\"source_key\":"
                        "\"D7D6BE86EA595389BD9A96A0A6159AC2\"}"));

    dept_free(&d);
    stop_clean(s);
}

/* ---- 5. 创文 civilization campaign --------------------------------------- */

Test(departments, chuangwen) {
    gh_test_stack_t *s = dept_stack(CONNECTORS "chuangwen/schema.sql",
                                    CONNECTORS "chuangwen/mapping.properties",
                                    CONNECTORS "chuangwen/sample.sql");
    start_connector(s);
    /* Ids are generated: volunteers 1..7 and tasks 1..5 in the order
     * sample.sql inserts them, then 8, 9 and 6 below. */
    cr_assert_eq(gh_test_count(s->dept, "SELECT count(*) FROM cw_volunteer "
                                        "WHERE (id, volunteer_no) IN ((1, "
                                        "'HN43130220190312001'), (2, "
                                        "'HN43130220210605017'), (7, "
                                        "'HN43130220170310011'))"),
                 3, "precondition: sample volunteers numbered 1..7");

    /* Inserts: a volunteer typed on a phone (ideographic space, full-width
     * lower-case ｆ) in an area the crosswalk does not know; one registered
     * and deregistered at once (never published); a task of an unlisted
     * type in the sub-district area. */
    exec_marked(
        s->dept,
        "INSERT INTO cw_volunteer (volunteer_no, real_name, gender, "
        "id_type, id_card, birthday, mobile, community_name, area_code, "
        "political_status, service_hours, reg_date, status, update_time) "
        "VALUES ('HN43130220231003021', '　周丽华 ', 'ｆ', '01', "
        "'431302198604120625', '1986/04/12', '13973801062', ' 童家社区 ', "
        "'CW-XX-999', '党员', 0, '2023/10/03', '1', "
        "'2023-10-03 09:00:00+08'),"
        "('HN43130220231003022', '赵磊', 'M', '01', "
        "'430502199303100537', '1993/03/10', '13873922053', '童家社区', "
        "'CW-LP-004', '群众', 0, '2023/10/03', '0', "
        "'2023-10-03 09:05:00+08');"
        "INSERT INTO cw_task (task_no, area_code, problem_type, "
        "description, location, found_time, deadline, status, inspector, "
        "responsible_unit, update_time) VALUES ('CWRW20231003006', "
        "'CW-LP', '99', '乐坪大道沿线共享单车乱停放。', '  乐坪大道  ', "
        "'2023-10-03 08:00:00+08', '2023/10/06', '0', '曾敏', "
        "'乐坪街道城管中队', '2023-10-03 08:10:00+08')");
    cr_assert_eq(
        gh_test_count(s->dept, "SELECT count(*) FROM cw_volunteer WHERE (id, "
                               "volunteer_no) IN ((8, 'HN43130220231003021'), "
                               "(9, 'HN43130220231003022'))") +
            gh_test_count(s->dept, "SELECT count(*) FROM cw_task WHERE id = 6 "
                                   "AND task_no = 'CWRW20231003006'"),
        3, "precondition: new volunteers got ids 8, 9, the task 6");
    /* Updates: a task fixed; 李娜's service hours; an area's leader. */
    exec_marked(s->dept, "UPDATE cw_task SET status = '2', "
                         "fixed_time = '2023-09-08 17:00:00+08', "
                         "update_time = '2023-09-08 17:05:00+08' WHERE id = 2;"
                         "UPDATE cw_volunteer SET service_hours = 90.0, "
                         "update_time = '2023-10-04 18:00:00+08' WHERE id = 1;"
                         "UPDATE cw_area SET leader_name = '杨帆', "
                         "update_time = '2023-10-04 09:00:00+08' "
                         "WHERE area_code = 'CW-LP-002'");
    /* Leaving the filter: 陈静 deregisters. */
    exec_marked(s->dept, "UPDATE cw_volunteer SET status = '0', "
                         "update_time = '2023-10-05 10:00:00+08' WHERE id = 2");
    /* A delete: a duplicate task removed. */
    uint64_t mark = exec_marked(s->dept, "DELETE FROM cw_task WHERE id = 5");
    wait_confirmed_past(s, mark);

    dept_t d;
    dept_read(&d, s, "chuangwen", "grid volunteer person civility_task",
              "grid:cw_area volunteer:cw_volunteer person:cw_volunteer "
              "civility_task:cw_task");
    expect_no_dead_letters(&d);

    expect_keys(&d, "grid", "CW-LP CW-LP-001 CW-LP-002 CW-LP-003 CW-LP-004");
    expect_keys(&d, "volunteer", "1 3 4 5 6 8");
    expect_keys(&d, "person", "1 3 4 5 6 8");
    expect_keys(&d, "civility_task", "1 2 3 4 6");

    /* 彭小红 (deregistered) and the volunteer deregistered at once. */
    expect_never(&d, "volunteer", "7");
    expect_never(&d, "person", "7");
    expect_never(&d, "volunteer", "9");
    expect_never(&d, "person", "9");

    expect_ops(&d, "grid", "cw_area", "ru");
    expect_ops(&d, "volunteer", "cw_volunteer", "rcud");
    expect_ops(&d, "person", "cw_volunteer", "rcud");
    expect_ops(&d, "civility_task", "cw_task", "rcud");

    /* Snapshot rows: sex typed M/F/f/Ｆ, 'YYYY/MM/DD' and imported
     * 'YYYY-MM-DD' birthdays, IDs and phones as typed, areas crosswalked
     * (CW-LP-004 spans two grids: the community). */
    expect_event(&d, "person", "2", "r",
                 jparse("{\"source_key\":\"2\",\"id_number\":"
                        "\"431302200005050020\",\"name\":\"陈 静\",\"sex\":"
                        "\"FEMALE\",\"birth_date\":\"2000-05-05\",\"phone\":"
                        "\"13807381005\",\"address\":null,\"grid_code\":"
                        "\"LP-TJ\",\"household_key\":null,\"remark\":null,"
                        "\"updated_at\":\"2023-08-27T04:05:00.000000Z\","
                        "\"ethnicity\":null}"));
    expect_row(&d, "person", "4", "r",
               jparse("{\"source_key\":\"4\",\"id_number\":"
                      "\"43130219830715022x\",\"name\":\"王丽\",\"sex\":"
                      "\"FEMALE\",\"birth_date\":\"1983-07-15\",\"phone\":"
                      "\"13807381011\",\"address\":null,\"grid_code\":"
                      "\"LP-DT-01\",\"household_key\":null,\"remark\":null,"
                      "\"updated_at\":\"2023-07-15T01:30:00.000000Z\","
                      "\"ethnicity\":null}"));
    expect_row(&d, "person", "6", "r",
               jparse("{\"source_key\":\"6\",\"id_number\":"
                      "\"431302199506060045\",\"name\":\"周敏\",\"sex\":"
                      "\"FEMALE\",\"birth_date\":\"1995-06-06\",\"phone\":"
                      "\"138 0738 1006\",\"address\":null,\"grid_code\":"
                      "\"LP-DT-03\",\"household_key\":null,\"remark\":null,"
                      "\"updated_at\":\"2023-06-10T03:00:00.000000Z\","
                      "\"ethnicity\":null}"));
    expect_row(&d, "person", "5", "r",
               jparse("{\"source_key\":\"5\",\"id_number\":"
                      "\"431302198809200311\",\"name\":\"杨帆\",\"sex\":"
                      "\"MALE\",\"birth_date\":\"1988-09-20\",\"phone\":"
                      "\"13973801031\",\"address\":null,\"grid_code\":"
                      "\"LP-DT-01\",\"household_key\":null,\"remark\":null,"
                      "\"updated_at\":\"2023-09-01T09:45:00.000000Z\","
                      "\"ethnicity\":null}"));
    expect_row(&d, "volunteer", "3", "r",
               jparse("{\"source_key\":\"3\",\"name\":\"买买提•艾力\","
                      "\"id_number\":\"650102199206301571\",\"sex\":\"MALE\","
                      "\"phone\":\"18999101571\",\"community\":\"童家社区\","
                      "\"service_hours\":24.0,\"grid_code\":\"LP-TJ\","
                      "\"updated_at\":\"2023-05-01T02:00:00.000000Z\"}"));
    expect_event(
        &d, "volunteer", "1", "r",
        jparse("{\"source_key\":\"1\",\"name\":\"李娜\","
               "\"id_number\":\"４３１３０２１９８５０２０２００２５\","
               "\"sex\":\"FEMALE\",\"phone\":\"+86 13807381002\","
               "\"community\":\"大塘社区\",\"service_hours\":86.5,"
               "\"grid_code\":\"LP-DT-01\",\"updated_at\":"
               "\"2023-09-02T10:20:00.000000Z\"}"));
    expect_row(&d, "civility_task", "4", "r",
               jparse("{\"source_key\":\"4\",\"grid_code\":\"LP-DT-03\","
                      "\"task_type\":\"PUBLICITY\",\"description\":"
                      "\"大塘小区后街公益广告牌褪色破损，需更换。\","
                      "\"location\":\"大塘小区后街\",\"found_at\":"
                      "\"2023-09-08T07:40:00.000000Z\",\"fixed_at\":null,"
                      "\"status\":\"OPEN\",\"updated_at\":"
                      "\"2023-09-08T07:40:00.000000Z\"}"));
    expect_row(&d, "grid", "CW-LP-004", "r",
               jparse("{\"source_key\":\"CW-LP-004\",\"grid_code\":"
                      "\"CW-LP-004\",\"name\":\"童家路片区\",\"level\":"
                      "\"GRID\",\"parent_code\":\"CW-LP\",\"households\":"
                      "null,\"population\":null,\"updated_at\":"
                      "\"2021-03-15T06:00:00.000000Z\"}"));
    expect_row(&d, "grid", "CW-LP", "r",
               jparse("{\"source_key\":\"CW-LP\",\"grid_code\":\"CW-LP\","
                      "\"name\":\"乐坪街道\",\"level\":\"SUBDISTRICT\","
                      "\"parent_code\":null,\"households\":null,"
                      "\"population\":null,\"updated_at\":"
                      "\"2019-05-06T01:00:00.000000Z\"}"));

    /* Streamed inserts. */
    expect_row(&d, "volunteer", "8", "c",
               jparse("{\"source_key\":\"8\",\"name\":\"周丽华\","
                      "\"id_number\":\"431302198604120625\",\"sex\":"
                      "\"FEMALE\",\"phone\":\"13973801062\",\"community\":"
                      "\"童家社区\",\"service_hours\":0.0,\"grid_code\":null,"
                      "\"updated_at\":\"2023-10-03T01:00:00.000000Z\"}"));
    expect_row(&d, "person", "8", "c",
               jparse("{\"source_key\":\"8\",\"id_number\":"
                      "\"431302198604120625\",\"name\":\"周丽华\",\"sex\":"
                      "\"FEMALE\",\"birth_date\":\"1986-04-12\",\"phone\":"
                      "\"13973801062\",\"address\":null,\"grid_code\":null,"
                      "\"household_key\":null,\"remark\":null,"
                      "\"updated_at\":\"2023-10-03T01:00:00.000000Z\","
                      "\"ethnicity\":null}"));
    expect_row(&d, "civility_task", "6", "c",
               jparse("{\"source_key\":\"6\",\"grid_code\":\"LP\","
                      "\"task_type\":\"OTHER\",\"description\":"
                      "\"乐坪大道沿线共享单车乱停放。\",\"location\":"
                      "\"乐坪大道\",\"found_at\":"
                      "\"2023-10-03T00:00:00.000000Z\",\"fixed_at\":null,"
                      "\"status\":\"OPEN\",\"updated_at\":"
                      "\"2023-10-03T00:10:00.000000Z\"}"));

    /* Streamed updates. */
    expect_row(&d, "civility_task", "2", "u",
               jparse("{\"source_key\":\"2\",\"grid_code\":\"LP-DT-02\","
                      "\"task_type\":\"STREET_ORDER\",\"description\":"
                      "\"大塘农贸市场外占道经营，流动摊贩堵塞人行道。\","
                      "\"location\":\"大塘农贸市场北门\",\"found_at\":"
                      "\"2023-09-06T01:10:00.000000Z\",\"fixed_at\":"
                      "\"2023-09-08T09:00:00.000000Z\",\"status\":\"FIXED\","
                      "\"updated_at\":\"2023-09-08T09:05:00.000000Z\"}"));
    expect_row(&d, "volunteer", "1", "u",
               jparse("{\"source_key\":\"1\",\"name\":\"李娜\","
                      "\"id_number\":\"４３１３０２１９８５０２０２００２５\","
                      "\"sex\":\"FEMALE\",\"phone\":\"+86 13807381002\","
                      "\"community\":\"大塘社区\",\"service_hours\":90.0,"
                      "\"grid_code\":\"LP-DT-01\",\"updated_at\":"
                      "\"2023-10-04T10:00:00.000000Z\"}"));
    expect_row(
        &d, "person", "1", "u",
        jparse("{\"source_key\":\"1\",\"id_number\":"
               "\"４３１３０２１９８５０２０２００２５\",\"name\":\"李娜\","
               "\"sex\":\"FEMALE\",\"birth_date\":\"1985-02-02\","
               "\"phone\":\"+86 13807381002\",\"address\":null,"
               "\"grid_code\":\"LP-DT-01\",\"household_key\":null,"
               "\"remark\":null,\"updated_at\":"
               "\"2023-10-04T10:00:00.000000Z\",\"ethnicity\":null}"));
    expect_row(&d, "grid", "CW-LP-002", "u",
               jparse("{\"source_key\":\"CW-LP-002\",\"grid_code\":"
                      "\"CW-LP-002\",\"name\":\"大塘农贸市场片区\",\"level\":"
                      "\"GRID\",\"parent_code\":\"CW-LP\",\"households\":"
                      "null,\"population\":null,\"updated_at\":"
                      "\"2023-10-04T01:00:00.000000Z\"}"));

    /* The deregistered volunteer left both topics; the deleted task is a
     * key-only image. */
    expect_gone(&d, "volunteer", "2");
    expect_gone(&d, "person", "2");
    expect_gone(&d, "civility_task", "5");
    expect_event(&d, "civility_task", "5", "d",
                 jparse("{\"source_key\":\"5\"}"));

    dept_free(&d);
    stop_clean(s);
}

/* ---- 6. a sixth department, defined only by files ------------------------ */

typedef struct hub_wait {
    gh_test_stack_t *s;
    long dlq_before;       /* dead letters the connector wrote */
    long want_live;        /* live minzheng source records to wait for */
    const char *want_gone; /* a source key that must be deleted, or NULL */
    long live, gone, outbox, dlq;
} hub_wait_t;

static long try_count(PGconn *c, const char *sql) {
    PGresult *r = PQexec(c, sql);
    long n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
        !PQgetisnull(r, 0, 0))
        n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (PQstatus(c) != CONNECTION_OK) PQreset(c);
    return n;
}

/* The hub applied what the test waits for and relayed its outbox; or it
 * wrote a dead letter of its own (then waiting longer would not help). */
static int hub_settled(void *arg) {
    hub_wait_t *w = arg;
    w->live = try_count(cur_hub, "SELECT count(*) FROM source_person WHERE "
                                 "department = 'minzheng' AND NOT deleted");
    w->gone = 1;
    if (w->want_gone) {
        char *sql = gh_xasprintf("SELECT count(*) FROM source_person WHERE "
                                 "department = 'minzheng' AND deleted AND "
                                 "source_key = '%s'",
                                 w->want_gone);
        w->gone = try_count(cur_hub, sql);
        free(sql);
    }
    w->outbox = try_count(cur_hub, GH_TEST_UNSENT_SQL);
    w->dlq = gh_test_topics_size(w->s->bootstrap, DLQ_TOPIC);
    return (w->live == w->want_live && w->gone == 1 && w->outbox == 0) ||
           w->dlq > w->dlq_before;
}

/* Waits for the hub (see hub_settled); fails naming the hub's own dead
 * letters if it wrote any, or with its log if it did not settle. */
static void wait_hub(gh_test_stack_t *s, long want_live,
                     const char *want_gone) {
    hub_wait_t w = {s, 1, want_live, want_gone, 0, 0, 0, 0};
    int ok = gh_test_wait_until(hub_settled, &w, HUB_SETTLE_MS);
    if (w.dlq > w.dlq_before) {
        json_t *dlq = tail_all(s, DLQ_TOPIC);
        gh_buf_t b = {0};
        size_t i;
        json_t *l;
        json_array_foreach(dlq, i, l) {
            const json_t *h = json_object_get(l, "headers");
            const char *comp =
                json_string_value(json_object_get(h, "gh.error.component"));
            if (comp && !strcmp(comp, "hub"))
                gh_buf_printf(
                    &b, "\n  key %s, %s[%s]@%s: %s", gh_test_ev_key(l),
                    json_string_value(json_object_get(h, "gh.source.topic")),
                    json_string_value(
                        json_object_get(h, "gh.source.partition")),
                    json_string_value(json_object_get(h, "gh.source.offset")),
                    json_string_value(json_object_get(h, "gh.error.reason")));
        }
        static char msg[8192];
        snprintf(msg, sizeof msg, "%s", b.data ? b.data : " (see gridhub.dlq)");
        gh_buf_free(&b);
        json_decref(dlq);
        cr_assert_fail("the hub dead-lettered valid person events of the "
                       "sixth department:%s",
                       msg);
    }
    if (!ok) {
        char *tail = gh_test_file_tail(gh_test_stack_hub_log(s), 3000);
        cr_assert_fail("hub did not settle within %d ms: %ld live minzheng "
                       "source records (want %ld), %s deleted: %ld, outbox "
                       "%ld rows; hub log ends:\n%s",
                       HUB_SETTLE_MS, w.live, want_live,
                       want_gone ? want_gone : "-", w.gone, w.outbox, tail);
    }
}

/* The view record (folded value) whose only source is minzheng's `key`. */
static const json_t *view_of(const json_t *fold, const char *key) {
    const char *pid;
    json_t *v;
    const json_t *found = NULL;
    json_object_foreach((json_t *)fold, pid, v) {
        const json_t *srcs = json_object_get(v, "sources");
        size_t i;
        json_t *sr;
        json_array_foreach(srcs, i, sr) {
            if (!strcmp(json_string_value(json_object_get(sr, "source_key")),
                        key)) {
                cr_assert_null(found, "two view persons with source %s", key);
                found = v;
            }
        }
    }
    return found;
}

static void expect_view(const json_t *fold, const char *key,
                        json_t *want /* consumed */) {
    const json_t *v = view_of(fold, key);
    char *all = NULL;
    if (!v) {
        all = gh_test_json_dump(fold);
        cr_assert_fail("no person in %s with source minzheng %s; view:\n%s",
                       VIEW_TOPIC, key, all);
    }
    json_t *srcs =
        json_pack("[{ssss}]", "department", "minzheng", "source_key", key);
    json_object_set_new(want, "sources", srcs);
    const char *k;
    json_t *w;
    json_object_foreach(want, k, w) {
        const json_t *g = json_object_get(v, k);
        if (!g || !json_equal((json_t *)g, w)) {
            char *gs = gh_test_json_dump(v), *ws = gh_test_json_dump(want);
            cr_assert_fail("view person of minzheng %s, field %s:\n  topic: "
                           "%s\n  want:  %s",
                           key, k, gs, ws);
        }
    }
    cr_assert(json_is_string(json_object_get(v, "person_id")) &&
                  json_is_integer(json_object_get(v, "version")),
              "%s", gh_test_json_dump(v));
    json_decref(want);
}

Test(departments, sixth_department_from_files_only) {
    gh_test_stack_t *s = dept_stack(
        SIXTH "schema.sql", SIXTH "mapping.properties", SIXTH "sample.sql");
    start_connector(s);
    const char *const hub_extra[] = {"source.topics=gridhub.minzheng.person",
                                     NULL};
    gh_test_stack_start_hub(s, hub_extra);
    cur_hub = gh_test_pg_connect(s->hub_db);
    /* The hub first applies the snapshot: five members (罗冬梅 filtered,
     * 何建 dead-lettered), so 李秀梅 is in the view before she leaves. */
    wait_hub(s, 5, NULL);

    /* A member added to 陈志刚's household (and its count); 李秀梅 leaves it
     * (leaves the filter); 何建's mistyped birth date corrected, so his row,
     * a dead letter so far, is published (as an update). */
    exec_marked(s->dept,
                "INSERT INTO mz_dbcy (cybh, dbbh, xm, xb, sfzh, csrq, yhzgx, "
                "cjlb, lxdh, zt, gxsj) VALUES ('DB202100042-04', "
                "'DB202100042', '陈小雨', '女', '431302201905200404', "
                "'20190520', '女', '0', NULL, '1', "
                "'2023-10-08 09:00:00+08');"
                "UPDATE mz_dbh SET jtrs = 4, bzje = 2460.00, "
                "gxsj = '2023-10-08 09:00:00+08' WHERE dbbh = 'DB202100042'");
    exec_marked(s->dept,
                "UPDATE mz_dbcy SET zt = '0', gxsj = '2023-10-09 10:00:00+08' "
                "WHERE cybh = 'DB202100042-02'");
    uint64_t mark =
        exec_marked(s->dept, "UPDATE mz_dbcy SET csrq = '1950.02.03', "
                             "gxsj = '2023-10-10 11:00:00+08' "
                             "WHERE cybh = 'DB202200051-01'");
    wait_confirmed_past(s, mark);

    /* ---- what the connector published ---- */
    dept_t d;
    dept_read(&d, s, "minzheng", "person household",
              "person:mz_dbcy household:mz_dbh");

    /* The one deliberately bad sample row, and nothing else, from the
     * connector (the hub, already running, writes its own). */
    json_t *dl = json_array();
    size_t k;
    json_t *m;
    json_array_foreach(json_object_get(d.by_topic, DLQ_TOPIC), k, m) {
        const char *comp = json_string_value(json_object_get(
            json_object_get(m, "headers"), "gh.error.component"));
        if (!comp || strncmp(comp, "hub", 3)) json_array_append(dl, m);
    }
    cr_assert_eq(json_array_size(dl), 1,
                 "connector dead letters: want exactly 1 (何建's 1950.02.30), "
                 "got %s",
                 gh_test_json_dump(dl));
    const json_t *dead = json_array_get(dl, 0);
    json_decref(dl); /* still referenced by d.by_topic */
    const json_t *hdrs = json_object_get(dead, "headers");
    const char *reason =
        json_string_value(json_object_get(hdrs, "gh.error.reason"));
    cr_assert_str_eq(gh_test_ev_key(dead), "dbcy/DB202200051-01", "%s",
                     gh_test_json_dump(dead));
    /* The value stays in the dead letter's body: a reason is logged and
     * travels in headers, and a value may be an ID number. */
    cr_assert(reason && strstr(reason, "mz_dbcy") &&
                  strstr(reason, "birth_date") && !strstr(reason, "1950") &&
                  strstr(reason, "minzheng"),
              "dead letter reason should name table, field and department, "
              "not the value: %s",
              gh_test_json_dump(dead));
    cr_assert_str_eq(
        json_string_value(json_object_get(hdrs, "gh.error.component")),
        "connector:test", "%s", gh_test_json_dump(dead));

    expect_keys(&d, "person",
                "dbcy/DB201900017-01 dbcy/DB201900017-02 dbcy/DB202100042-01 "
                "dbcy/DB202100042-03 dbcy/DB202100042-04 "
                "dbcy/DB202200051-01");
    expect_keys(&d, "household",
                "dbh/DB201900017 dbh/DB202100042 dbh/DB202200051");
    expect_never(&d, "person", "dbcy/DB201800008-01");
    expect_never(&d, "household", "dbh/DB201800008");
    expect_ops(&d, "person", "mz_dbcy", "rcud");
    expect_ops(&d, "household", "mz_dbh", "ru");

    /* Code tables (男/女/未知, 残疾类别 to a name or nothing), both date
     * patterns, literal + column keys and household references, full-width
     * and ideographic spaces folded then trimmed, IDs as typed. */
    expect_row(&d, "person", "dbcy/DB201900017-01", "r",
               jparse("{\"source_key\":\"dbcy/DB201900017-01\","
                      "\"id_number\":\"431302480315002\",\"name\":"
                      "\"孙桂英\",\"sex\":\"FEMALE\",\"birth_date\":"
                      "\"1948-03-15\",\"phone\":null,\"address\":null,"
                      "\"grid_code\":null,\"household_key\":"
                      "\"dbh/DB201900017\",\"remark\":\"听力残疾\","
                      "\"updated_at\":\"2023-07-01T01:00:00.000000Z\","
                      "\"ethnicity\":null}"));
    expect_row(&d, "person", "dbcy/DB201900017-02", "r",
               jparse("{\"source_key\":\"dbcy/DB201900017-02\","
                      "\"id_number\":\"４３１３０２２０１２０６０１０１１８\","
                      "\"name\":\"孙浩然\",\"sex\":\"MALE\",\"birth_date\":"
                      "\"2012-06-01\",\"phone\":null,\"address\":null,"
                      "\"grid_code\":null,\"household_key\":"
                      "\"dbh/DB201900017\",\"remark\":null,\"updated_at\":"
                      "\"2023-07-01T01:00:00.000000Z\",\"ethnicity\":null}"));
    expect_row(&d, "person", "dbcy/DB202100042-01", "r",
               jparse("{\"source_key\":\"dbcy/DB202100042-01\","
                      "\"id_number\":\"43130219750909011x\",\"name\":"
                      "\"陈志刚\",\"sex\":\"MALE\",\"birth_date\":"
                      "\"1975-09-09\",\"phone\":\"13973804521\",\"address\":"
                      "null,\"grid_code\":null,\"household_key\":"
                      "\"dbh/DB202100042\",\"remark\":\"肢体残疾\","
                      "\"updated_at\":\"2023-06-20T07:30:00.000000Z\","
                      "\"ethnicity\":null}"));
    expect_row(&d, "person", "dbcy/DB202100042-03", "r",
               jparse("{\"source_key\":\"dbcy/DB202100042-03\","
                      "\"id_number\":\"431302201503010315\",\"name\":"
                      "\"陈小宇\",\"sex\":\"UNKNOWN\",\"birth_date\":"
                      "\"2015-03-01\",\"phone\":null,\"address\":null,"
                      "\"grid_code\":null,\"household_key\":"
                      "\"dbh/DB202100042\",\"remark\":\"智力残疾\","
                      "\"updated_at\":\"2023-06-20T07:30:00.000000Z\","
                      "\"ethnicity\":null}"));
    expect_row(&d, "person", "dbcy/DB202100042-04", "c",
               jparse("{\"source_key\":\"dbcy/DB202100042-04\","
                      "\"id_number\":\"431302201905200404\",\"name\":"
                      "\"陈小雨\",\"sex\":\"FEMALE\",\"birth_date\":"
                      "\"2019-05-20\",\"phone\":null,\"address\":null,"
                      "\"grid_code\":null,\"household_key\":"
                      "\"dbh/DB202100042\",\"remark\":null,\"updated_at\":"
                      "\"2023-10-08T01:00:00.000000Z\",\"ethnicity\":null}"));
    expect_row(&d, "person", "dbcy/DB202200051-01", "u",
               jparse("{\"source_key\":\"dbcy/DB202200051-01\","
                      "\"id_number\":\"431302195002030119\",\"name\":\"何建\","
                      "\"sex\":\"MALE\",\"birth_date\":\"1950-02-03\","
                      "\"phone\":null,\"address\":null,\"grid_code\":null,"
                      "\"household_key\":\"dbh/DB202200051\",\"remark\":"
                      "\"肢体残疾\",\"updated_at\":"
                      "\"2023-10-10T03:00:00.000000Z\",\"ethnicity\":null}"));
    expect_gone(&d, "person", "dbcy/DB202100042-02");
    expect_row(&d, "household", "dbh/DB201900017", "r",
               jparse("{\"source_key\":\"dbh/DB201900017\","
                      "\"household_number\":\"DB201900017\",\"head_name\":"
                      "\"孙桂英\",\"head_id_number\":\"431302480315002\","
                      "\"address\":\"乐坪街道大塘小区7栋102\",\"grid_code\":"
                      "\"LP-DT\",\"member_count\":2,\"updated_at\":"
                      "\"2023-07-01T01:00:00.000000Z\"}"));
    expect_row(&d, "household", "dbh/DB202200051", "r",
               jparse("{\"source_key\":\"dbh/DB202200051\","
                      "\"household_number\":\"DB202200051\",\"head_name\":"
                      "\"何建\",\"head_id_number\":null,\"address\":null,"
                      "\"grid_code\":null,\"member_count\":1,\"updated_at\":"
                      "\"2023-05-12T03:20:00.000000Z\"}"));
    expect_row(&d, "household", "dbh/DB202100042", "u",
               jparse("{\"source_key\":\"dbh/DB202100042\","
                      "\"household_number\":\"DB202100042\",\"head_name\":"
                      "\"陈志刚\",\"head_id_number\":\"43130219750909011x\","
                      "\"address\":\"乐坪街道童家新村7栋301\",\"grid_code\":"
                      "\"LP-TJ\",\"member_count\":4,\"updated_at\":"
                      "\"2023-10-08T01:00:00.000000Z\"}"));

    /* ---- through the hub: the subscriber's view ---- */
    wait_hub(s, 6, "dbcy/DB202100042-02");

    json_t *vlines = tail_all(s, VIEW_TOPIC);
    json_t *view = gh_test_fold(vlines);
    /* ID numbers normalized to 18 characters: the legacy 15-digit one
     * upgraded, full-width digits folded, lower-case x raised, spaces
     * removed; an invalid one gives no ID. */
    expect_view(view, "dbcy/DB201900017-01",
                jparse("{\"id_number\":\"431302194803150028\",\"name\":"
                       "\"孙桂英\",\"sex\":\"FEMALE\",\"birth_date\":"
                       "\"1948-03-15\"}"));
    expect_view(view, "dbcy/DB201900017-02",
                jparse("{\"id_number\":\"431302201206010118\",\"name\":"
                       "\"孙浩然\",\"sex\":\"MALE\",\"birth_date\":"
                       "\"2012-06-01\"}"));
    expect_view(view, "dbcy/DB202100042-01",
                jparse("{\"id_number\":\"43130219750909011X\",\"name\":"
                       "\"陈志刚\",\"sex\":\"MALE\",\"birth_date\":"
                       "\"1975-09-09\",\"phone\":\"13973804521\"}"));
    expect_view(view, "dbcy/DB202100042-03",
                jparse("{\"id_number\":null,\"name\":\"陈小宇\",\"sex\":"
                       "\"UNKNOWN\",\"birth_date\":\"2015-03-01\"}"));
    expect_view(view, "dbcy/DB202100042-04",
                jparse("{\"id_number\":\"431302201905200404\",\"name\":"
                       "\"陈小雨\",\"sex\":\"FEMALE\",\"birth_date\":"
                       "\"2019-05-20\"}"));
    expect_view(view, "dbcy/DB202200051-01",
                jparse("{\"id_number\":\"431302195002030119\",\"name\":"
                       "\"何建\",\"sex\":\"MALE\",\"birth_date\":"
                       "\"1950-02-03\"}"));
    /* 李秀梅 left: her person was published, then tombstoned. */
    cr_assert_null(view_of(view, "dbcy/DB202100042-02"),
                   "the member who left is still in the view");
    int seen_leaver = 0;
    size_t i;
    json_t *l;
    json_array_foreach(vlines, i, l) {
        const json_t *v = gh_test_ev_value(l);
        if (json_is_object(v) &&
            json_array_size(json_object_get(v, "sources")) == 1 &&
            !strcmp(json_string_value(json_object_get(
                        json_array_get(json_object_get(v, "sources"), 0),
                        "source_key")),
                    "dbcy/DB202100042-02")) {
            seen_leaver = 1;
            cr_assert_str_eq(json_string_value(json_object_get(v, "id_number")),
                             "431302197908220209", "spaces not removed: %s",
                             gh_test_json_dump(v));
        }
    }
    cr_assert(seen_leaver, "李秀梅 never reached the view before leaving");
    cr_assert_eq(json_object_size(view), 6, "view persons: %s",
                 gh_test_json_dump(view));
    json_decref(view);
    json_decref(vlines);

    dept_free(&d);
    stop_clean(s);
}

/* ---- 7. broken mapping files stop the connector at load ------------------ */

/* A valid mapping of the sixth department's member table; each case breaks
 * one line (1-based numbering below). */
static const char *const base_mapping[] = {
    /*  1 */ "# mapping-load test: one line of this file is broken per case",
    /*  2 */ "department=minzheng",
    /*  3 */ "tables=dbcy",
    /*  4 */ "table.dbcy.source=public.mz_dbcy",
    /*  5 */ "table.dbcy.entity=person",
    /*  6 */ "table.dbcy.filter=zt = '1'",
    /*  7 */ "table.dbcy.field.source_key='dbcy/' + cybh",
    /*  8 */ "table.dbcy.field.name=xm | fullwidth | trim",
    /*  9 */ "table.dbcy.field.sex=xb | trim | code:xb",
    /* 10 */
    "table.dbcy.field.birth_date=csrq | trim | nullif: | "
    "date:YYYY.MM.DD;YYYYMMDD",
    /* 11 */ "table.dbcy.field.remark=cjlb | trim | code:cjlb | nullif:",
    /* 12 */ "codes.xb.男=MALE",
    /* 13 */ "codes.xb.女=FEMALE",
    /* 14 */ "codes.xb.*=UNKNOWN",
    /* 15 */ "codes.cjlb.file=cjlb.csv",
    /* 16 */ "codes.cjlb.*=",
};
#define BASE_LINES ((int)(sizeof base_mapping / sizeof base_mapping[0]))

typedef struct bad_case {
    const char *name;
    int line;          /* line replaced */
    const char *text;  /* its replacement ("# removed" to drop it) */
    int where[2];      /* the line the error must name: one of these
                        * (0: any line of the file) */
    const char *names; /* '|'-separated strings the error must contain */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {.name = "unknown_transform",
     .line = 8,
     .text = "table.dbcy.field.name=xm | fullwidht | trim",
     .where = {8, 8},
     .names = "fullwidht"},
    {.name = "unknown_entity",
     .line = 5,
     .text = "table.dbcy.entity=persn",
     .where = {5, 5},
     .names = "persn"},
    {.name = "unknown_field",
     .line = 8,
     .text = "table.dbcy.field.nmae=xm | trim",
     .where = {8, 8},
     .names = "nmae"},
    /* The code table's symbol is checked where the field uses it: the
     * field's line or the code's own line names the spot. */
    {.name = "code_table_yields_non_symbol",
     .line = 13,
     .text = "codes.xb.女=FEMAIL",
     .where = {9, 13},
     .names = "FEMAIL"},
    {.name = "missing_source_key",
     .line = 7,
     .text = "# removed",
     .where = {0, 0},
     .names = "source_key|dbcy"},
    {.name = "filter_syntax_error",
     .line = 6,
     .text = "table.dbcy.filter=zt == '1'",
     .where = {6, 6},
     .names = "zt == '1'"},
    {.name = "csv_code_file_missing",
     .line = 15,
     .text = "codes.cjlb.file=no_such_codes.csv",
     .where = {15, 15},
     .names = "no_such_codes.csv"},
    {.name = "undefined_code_table",
     .line = 9,
     .text = "table.dbcy.field.sex=xb | trim | code:xingbie",
     .where = {9, 9},
     .names = "xingbie"},
    {.name = "undeclared_table_id",
     .line = 4,
     .text = "table.dbcx.source=public.mz_dbcy",
     .where = {4, 4},
     .names = "dbcx"},
    {.name = "misspelt_key",
     .line = 12,
     .text = "code.xb.男=MALE",
     .where = {12, 12},
     .names = "code.xb.男"},
};

static void write_mapping(const char *path, int replace, const char *text) {
    gh_buf_t b = {0};
    for (int i = 1; i <= BASE_LINES; i++)
        gh_buf_printf(&b, "%s\n", i == replace ? text : base_mapping[i - 1]);
    gh_test_write_file(path, "%s", b.data);
    gh_buf_free(&b);
}

/* Does `log` name `path:<line>` (line 0: any line of the mapping)? */
static int names_line(const char *log, const char *path, int line) {
    size_t n = strlen(path);
    for (const char *p = strstr(log, path); p; p = strstr(p + 1, path)) {
        const char *q = p + n;
        if (*q != ':' || q[1] < '0' || q[1] > '9') continue;
        int got = atoi(q + 1);
        if (line ? got == line : got >= 1 && got <= BASE_LINES) return 1;
    }
    return 0;
}

Test(departments, mapping_errors_are_reported_at_load) {
    gh_test_stack_t *s = dept_stack(
        SIXTH "schema.sql", SIXTH "mapping.properties", SIXTH "sample.sql");
    char *csv = gh_xasprintf("%s/cjlb.csv", s->dir);
    gh_test_write_file(csv, "0,\n2,听力残疾\n4,肢体残疾\n");
    char *ci = gh_test_conninfo(s->dept_db);
    char *bs = gh_xasprintf("bootstrap.servers=%s", s->bootstrap);
    char *cinfo = gh_xasprintf("database.conninfo=%s", ci);
    char *state = gh_xasprintf("state.dir=%s/state", s->dir);
    gh_buf_t problems = {0};
    for (size_t c = 0; c < sizeof bad_cases / sizeof bad_cases[0]; c++) {
        const bad_case_t *bc = &bad_cases[c];
        char *path = gh_xasprintf("%s/%s.properties", s->dir, bc->name);
        char *log = gh_xasprintf("%s/%s.log", s->dir, bc->name);
        char *map = gh_xasprintf("mapping.file=%s", path);
        write_mapping(path, bc->line, bc->text);
        const char *argv[] = {GH_BINARY, "connector", "-X",  "name=test", "-X",
                              bs,        "-X",        cinfo, "-X",        map,
                              "-X",      state,       "-X",  slot_opt,    NULL};
        int64_t t0 = gh_now_ms();
        int rc = gh_test_run(argv, log, 20000);
        int64_t took = gh_now_ms() - t0;
        char *out = gh_test_file_tail(log, 8192);
        cr_log_info("%s: exit %d after %lld ms: %s", bc->name, rc,
                    (long long)took, out);
        /* Every case is checked; the failures are reported together. */
        size_t before = problems.len;
        if (rc == 0 || rc >= 128)
            gh_buf_printf(&problems,
                          "\n  exit status %d (want a clean "
                          "non-zero exit)",
                          rc);
        if (took >= 10000)
            gh_buf_printf(&problems, "\n  took %lld ms to refuse the mapping",
                          (long long)took);
        if (!names_line(out, path, bc->where[0]) &&
            !names_line(out, path, bc->where[1]))
            gh_buf_printf(&problems,
                          "\n  does not name %s:%d%s (line %d "
                          "is \"%s\")",
                          path, bc->where[0],
                          bc->where[1] != bc->where[0]
                              ? " or the code table's line"
                          : bc->where[0] ? ""
                                         : "<any line>",
                          bc->line, bc->text);
        char *names = gh_xstrdup(bc->names), *save = NULL;
        for (char *n = strtok_r(names, "|", &save); n;
             n = strtok_r(NULL, "|", &save))
            if (!strstr(out, n))
                gh_buf_printf(&problems, "\n  does not name \"%s\"", n);
        if (strstr(out, "AddressSanitizer") || strstr(out, "runtime error:"))
            gh_buf_printf(&problems, "\n  sanitizer report");
        if (problems.len > before) {
            char *tail = out[0] ? out : "(empty log)";
            size_t tl = strlen(tail);
            while (tl && tail[tl - 1] == '\n')
                tail[--tl] = '\0';
            gh_buf_printf(&problems, "\n  log: %s", tail);
            char *head = gh_xasprintf("\n%s:", bc->name);
            gh_buf_t b = {0};
            gh_buf_append(&b, problems.data, before);
            gh_buf_puts(&b, head);
            gh_buf_puts(&b, problems.data + before);
            gh_buf_free(&problems);
            problems = b;
            free(head);
        }
        free(names);
        free(out);
        free(map);
        free(log);
        free(path);
    }
    /* Refused before touching the database: no slot, no publication. */
    cr_assert_eq(gh_test_count(s->dept,
                               "SELECT count(*) FROM pg_replication_slots "
                               "WHERE slot_name = '%s'",
                               slot_name),
                 0, "a refused connector created its slot");
    cr_assert_eq(gh_test_count(s->dept, "SELECT count(*) FROM pg_publication"),
                 0, "a refused connector created its publication");

    /* Control: the unbroken file loads, and the connector streams with it. */
    char *good = gh_xasprintf("%s/base.properties", s->dir);
    write_mapping(good, 0, NULL);
    free(s->mapping);
    s->mapping = good;
    start_connector(s);
    stop_clean(s);

    free(state);
    free(cinfo);
    free(bs);
    free(ci);
    free(csv);
    if (problems.len) {
        /* Copied out first: nothing leaks when the assertion ends the test
         * (sanitizer builds report leaks). */
        static char msg[16384];
        snprintf(msg, sizeof msg, "%s", problems.data);
        gh_buf_free(&problems);
        cr_assert_fail("broken mapping files not reported as they should "
                       "be:%s",
                       msg);
    }
}
