#include "stack.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "policy.h"
#include "topics.h"

static char logbuf[4096];

gh_test_stack_t *gh_test_stack_new(const char *ddl_path,
                                   const char *mapping_path) {
    return gh_test_stack_new_encoded(ddl_path, mapping_path, NULL);
}

gh_test_stack_t *gh_test_stack_new_encoded(const char *ddl_path,
                                           const char *mapping_path,
                                           const char *encoding) {
    gh_test_stack_t *s = gh_xcalloc(1, sizeof(*s));
    s->dir = gh_test_tmpdir();
    s->mapping = gh_xstrdup(mapping_path);
    s->subscriber = gh_xstrdup("test");
    gh_test_policy_write(s->dir, GH_TEST_POLICY, &s->policy, &s->keys);
    s->dept_db = gh_test_create_db_encoded("ghdept", encoding);
    s->hub_db = gh_test_create_db("ghhub");
    s->dept = gh_test_pg_connect(s->dept_db);
    /* The tests write UTF-8 text (and raw bytes as E'\\x..' escapes). */
    cr_assert_eq(PQsetClientEncoding(s->dept, "UTF8"), 0, "%s",
                 PQerrorMessage(s->dept));
    char *ddl = gh_read_file(ddl_path, NULL);
    cr_assert_not_null(ddl, "cannot read %s", ddl_path);
    PGresult *r = PQexec(s->dept, ddl);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK, "DDL %s: %s", ddl_path,
              PQerrorMessage(s->dept));
    PQclear(r);
    free(ddl);
    s->broker = gh_test_start_broker(s->dir, &s->bootstrap);
    cr_assert_not_null(s->broker, "embedded broker did not start");
    return s;
}

static void start(gh_test_stack_t *s, const char *what, gh_test_proc_t **slot,
                  int *runs, const char *const *base, int nbase,
                  const char *const *extra) {
    if (*slot) {
        gh_test_stop(*slot, 10000);
        gh_test_proc_free(*slot);
        *slot = NULL;
    }
    (*runs)++;
    const char *argv[256];
    int n = 0;
    for (int i = 0; i < nbase; i++)
        argv[n++] = base[i];
    /* Never dropped silently: a pinned model is ~55 properties. */
    for (int i = 0; extra && extra[i]; i++) {
        cr_assert_lt(n + 2, 256, "%s: too many properties", what);
        argv[n++] = "-X";
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    char log[4096];
    snprintf(log, sizeof(log), "%s/%s.%d.log", s->dir, what, *runs);
    *slot = gh_test_spawn(argv, log);
    cr_assert_not_null(*slot, "cannot start %s", what);
}

void gh_test_stack_start_connector(gh_test_stack_t *s,
                                   const char *const *extra) {
    char *ci = gh_test_conninfo(s->dept_db);
    char *bs = gh_xasprintf("bootstrap.servers=%s", s->bootstrap);
    char *cinfo = gh_xasprintf("database.conninfo=%s", ci);
    char *map = gh_xasprintf("mapping.file=%s", s->mapping);
    char *state = gh_xasprintf("state.dir=%s/state", s->dir);
    const char *base[] = {GH_BINARY, "connector",
                          "-X",      "name=test",
                          "-X",      bs,
                          "-X",      cinfo,
                          "-X",      map,
                          "-X",      state,
                          "-X",      "heartbeat.interval.ms=500",
                          "-X",      "status.interval.ms=200"};
    start(s, "connector", &s->connector, &s->connector_runs, base,
          (int)(sizeof(base) / sizeof(base[0])), extra);
    free(ci);
    free(bs);
    free(cinfo);
    free(map);
    free(state);
}

void gh_test_stack_snapshot(gh_test_stack_t *s, const char *slot_prefix) {
    char slot[96];
    snprintf(slot, sizeof(slot), "slot.name=%s_%d", slot_prefix, (int)getpid());
    const char *const extra[] = {slot, NULL};
    gh_test_stack_start_connector(s, extra);
    char *done = gh_test_wait_for_text(gh_test_stack_connector_log(s),
                                       "snapshot done", 90000);
    cr_assert_not_null(done,
                       "the connector did not publish its snapshot; "
                       "its log ends:\n%s",
                       gh_test_file_tail(gh_test_stack_connector_log(s), 2000));
    free(done);
}

gh_test_proc_t *gh_test_stack_start_other_connector(gh_test_stack_t *s,
                                                    const char *mapping,
                                                    const char *name) {
    char *ci = gh_test_conninfo(s->dept_db);
    char *bs = gh_xasprintf("bootstrap.servers=%s", s->bootstrap);
    char *cinfo = gh_xasprintf("database.conninfo=%s", ci);
    char *map = gh_xasprintf("mapping.file=%s", mapping);
    char *nm = gh_xasprintf("name=%s", name);
    char *state = gh_xasprintf("state.dir=%s/state.%s", s->dir, name);
    /* Slots are cluster-wide: a name of this process's own. */
    char *slot = gh_xasprintf("slot.name=gh_test_%s_%d", name, (int)getpid());
    char *log = gh_xasprintf("%s/connector.%s.log", s->dir, name);
    const char *argv[] = {GH_BINARY, "connector", "-X",  nm,   "-X",
                          bs,        "-X",        cinfo, "-X", map,
                          "-X",      state,       "-X",  slot, NULL};
    gh_test_proc_t *p = gh_test_spawn(argv, log);
    cr_assert_not_null(p, "cannot start connector %s", name);
    free(ci);
    free(bs);
    free(cinfo);
    free(map);
    free(nm);
    free(state);
    free(slot);
    free(log);
    return p;
}

/* Starts a hub process of the stack into *slot (log <what>.<run>.log). */
static void start_hub(gh_test_stack_t *s, const char *what,
                      gh_test_proc_t **slot, int *runs,
                      const char *const *extra) {
    char *ci = gh_test_conninfo(s->hub_db);
    char *bs = gh_xasprintf("bootstrap.servers=%s", s->bootstrap);
    char *cinfo = gh_xasprintf("database.conninfo=%s", ci);
    char *subs = gh_xasprintf("policy.file=%s", s->policy);
    char *keys = gh_xasprintf("policy.keys.file=%s", s->keys);
    const char *base[] = {GH_BINARY, "hub",
                          "-X",      bs,
                          "-X",      cinfo,
                          "-X",      subs,
                          "-X",      keys,
                          "-X",      "policy.check.interval.ms=200",
                          "-X",      "views.refresh.interval.ms=200",
                          "-X",      "source.topics=gridhub.test.person",
                          "-X",      "batch.max.ms=50"};
    start(s, what, slot, runs, base, (int)(sizeof(base) / sizeof(base[0])),
          extra);
    free(ci);
    free(bs);
    free(cinfo);
    free(subs);
    free(keys);
}

void gh_test_stack_start_hub(gh_test_stack_t *s, const char *const *extra) {
    start_hub(s, "hub", &s->hub, &s->hub_runs, extra);
}

gh_test_proc_t *gh_test_stack_spawn_hub(gh_test_stack_t *s, const char *name,
                                        const char *const *extra) {
    gh_test_proc_t *p = NULL;
    int runs = 0;
    start_hub(s, name, &p, &runs, extra);
    return p;
}

void gh_test_stack_set_policy(gh_test_stack_t *s, const char *text) {
    free(s->policy);
    free(s->keys);
    gh_test_policy_write(s->dir, text, &s->policy, &s->keys);
}

int gh_test_stack_cli(gh_test_stack_t *s, const char *cmd, const char *db,
                      const char *const *args, char **output) {
    static int n;
    const char *argv[40] = {GH_BINARY, cmd};
    int k = 2;
    char *ci = NULL, *cix = NULL;
    if (db) {
        ci = gh_test_conninfo(db);
        cix = gh_xasprintf("database.conninfo=%s", ci);
        argv[k++] = "-X";
        argv[k++] = cix;
    }
    for (int i = 0; args[i] && k < 39; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    char *log = gh_xasprintf("%s/%s.%d.log", s->dir, cmd, ++n);
    int rc = gh_test_run(argv, log, 120000);
    if (output) *output = gh_test_file_tail(log, 1 << 20);
    free(log);
    free(ci);
    free(cix);
    return rc;
}

int gh_test_stack_steward(gh_test_stack_t *s, const char *const *args,
                          char **output) {
    static int n;
    char *ci = gh_test_conninfo(s->hub_db);
    char *bs = gh_xasprintf("bootstrap.servers=%s", s->bootstrap);
    char *cinfo = gh_xasprintf("database.conninfo=%s", ci);
    char *subs = gh_xasprintf("policy.file=%s", s->policy);
    char *keys = gh_xasprintf("policy.keys.file=%s", s->keys);
    char out[4096];
    snprintf(out, sizeof(out), "%s/steward.%d.log", s->dir, ++n);
    const char *argv[64] = {
        GH_BINARY, "steward", "-X", bs,
        "-X",      cinfo,     "-X", subs,
        "-X",      keys,      "-X", "source.topics=gridhub.test.person",
        "--by",    "tester"};
    int k = 14;
    for (int i = 0; args[i] && k < 63; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    int rc = gh_test_run(argv, out, 60000);
    if (output) *output = gh_test_file_tail(out, 1 << 20);
    free(ci);
    free(bs);
    free(cinfo);
    free(subs);
    free(keys);
    return rc;
}

const char *gh_test_stack_connector_log(gh_test_stack_t *s) {
    snprintf(logbuf, sizeof(logbuf), "%s/connector.%d.log", s->dir,
             s->connector_runs);
    return logbuf;
}

const char *gh_test_stack_hub_log(gh_test_stack_t *s) {
    snprintf(logbuf, sizeof(logbuf), "%s/hub.%d.log", s->dir, s->hub_runs);
    return logbuf;
}

json_t *gh_test_tail(gh_test_stack_t *s, const char *topic, int idle_ms) {
    static int n;
    char out[4096], idle[64];
    snprintf(out, sizeof(out), "%s/tail.%d.jsonl", s->dir, ++n);
    snprintf(idle, sizeof(idle), "%d", idle_ms);
    const char *argv[] = {GH_BINARY,           "tail",    "--bootstrap-servers",
                          s->bootstrap,        "--topic", topic,
                          "--idle-timeout-ms", idle,      NULL};
    int rc = gh_test_run(argv, out, 120000);
    cr_assert_eq(rc, 0, "gridhub tail exited %d (output in %s)", rc, out);
    json_t *arr = json_array();
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] != '{') continue; /* log lines share the file */
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        cr_assert_not_null(o, "bad tail line: %s", line);
        json_array_append_new(arr, o);
    }
    free(line);
    fclose(f);
    return arr;
}

json_t *gh_test_tail_all(gh_test_stack_t *s, const char *topics, int idle_ms) {
    long want = gh_test_topics_size(s->bootstrap, topics);
    json_t *lines = NULL;
    for (int attempt = 1; attempt <= 3; attempt++) {
        json_decref(lines);
        lines = gh_test_tail(s, topics, idle_ms);
        if ((long)json_array_size(lines) >= want) break;
    }
    cr_assert_geq((long)json_array_size(lines), want,
                  "gridhub tail %s printed %zu messages, the topics hold %ld",
                  topics, json_array_size(lines), want);
    /* End-of-snapshot markers are the connector's protocol with the hub,
     * not events: suites that look at them read them on their own. */
    json_t *events = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        const char *k = json_string_value(json_object_get(l, "key"));
        if (!k || strncmp(k, "__snapshot__:", 13)) json_array_append(events, l);
    }
    json_decref(lines);
    return events;
}

json_t *gh_test_fold(const json_t *lines) {
    json_t *state = json_object(), *pid_of = json_object();
    size_t i;
    const json_t *l;
    json_array_foreach(lines, i, l) {
        const char *key = json_string_value(json_object_get(l, "key"));
        if (!key) continue;
        const json_t *val = json_object_get(l, "value");
        const char *pid = json_string_value(json_object_get(val, "person_id"));
        if (pid && strcmp(pid, key))
            json_object_set_new(pid_of, key, json_string(pid));
        if (json_object_get(pid_of, key))
            key = json_string_value(json_object_get(pid_of, key));
        const json_t *v = json_object_get(l, "value");
        /* No "value" member: tail could not decode the message ("error"
         * says why). Folding it as a delete would hide that. */
        if (!v) {
            char *text = json_dumps(l, JSON_COMPACT);
            cr_assert_fail("gh_test_fold: undecodable message: %s", text);
        }
        if (json_is_null(v))
            json_object_del(state, key);
        else
            json_object_set(state, key, (json_t *)v);
    }
    json_decref(pid_of);
    return state;
}

void gh_test_stack_free(gh_test_stack_t *s) {
    if (!s) return;
    gh_test_proc_t *procs[3] = {s->connector, s->hub, s->broker};
    for (int i = 0; i < 3; i++)
        if (procs[i]) {
            gh_test_stop(procs[i], 10000);
            gh_test_proc_free(procs[i]);
        }
    PQfinish(s->dept);
    gh_test_drop_db(s->dept_db);
    gh_test_drop_db(s->hub_db);
    free(s->dept_db);
    free(s->hub_db);
    free(s->bootstrap);
    free(s->mapping);
    free(s->subscriber);
    free(s->policy);
    free(s->keys);
    free(s->dir);
    free(s);
}
