/* `gridhub status`: every component's health on one screen, from the
 * GET /health document each one serves on metrics.listen (see
 * gridhub/metrics.h). All endpoints are asked at once, each within
 * timeout.ms, so a component that hangs cannot hang the command. */
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "gridhub/util.h"

static const gh_conf_prop_t props[] = {
    {"endpoints", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "The components to ask, as `name=URL` (the URL of a component's "
     "metrics.listen, e.g. `hub=http://127.0.0.1:9464`) or `name=@FILE` "
     "(the URL read from a metrics.listen.file)."},
    {"timeout.ms", GH_CONF_INT, "2000", 0, 100, 60000, NULL, NULL,
     "How long to wait for each component (all are asked at once)."},
    {"database.conninfo", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "If set: the hub's database, for the outbox backlog and the stewards' "
     "queue of open items."},
    GH_CONF_END};

typedef struct target {
    char *name, *url; /* url: base, without /health */
    char err[CURL_ERROR_SIZE + 64];
    gh_buf_t body;
    long http;
    json_t *health; /* parsed /health, NULL if down */
} target_t;

static size_t collect(char *p, size_t size, size_t n, void *opaque) {
    gh_buf_t *b = opaque;
    if (b->len + size * n > (1 << 20)) return 0; /* not a health document */
    gh_buf_append(b, p, size * n);
    return size * n;
}

/* "name=URL" or "name=@FILE"; 0 on success. */
static int parse_target(const char *spec, target_t *t) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        fprintf(stderr,
                "gridhub status: endpoints: \"%s\" is not name=URL or "
                "name=@FILE\n",
                spec);
        return -1;
    }
    t->name = gh_xstrndup(spec, (size_t)(eq - spec));
    if (eq[1] == '@') {
        char *text = gh_read_file(eq + 2, NULL);
        t->url = gh_xstrdup(text ? gh_str_trim(text) : "");
        if (!text)
            snprintf(t->err, sizeof(t->err), "cannot read %s (not running?)",
                     eq + 2);
        free(text);
    } else {
        t->url = gh_xstrdup(eq + 1);
    }
    size_t n = strlen(t->url);
    while (n && t->url[n - 1] == '/')
        t->url[--n] = '\0';
    return 0;
}

/* Asks every target's /health at once; each gets its body or an error. */
static void fetch_all(target_t *t, int n, long timeout_ms) {
    CURLM *multi = curl_multi_init();
    CURL **easy = gh_xcalloc((size_t)n, sizeof(*easy));
    char(*urls)[1024] = gh_xcalloc((size_t)n, sizeof(*urls));
    for (int i = 0; i < n; i++) {
        if (t[i].err[0]) continue;
        snprintf(urls[i], sizeof(urls[i]), "%s%s/health",
                 strstr(t[i].url, "://") ? "" : "http://", t[i].url);
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, urls[i]);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(easy[i], CURLOPT_WRITEDATA, &t[i].body);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(easy[i], CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy[i], CURLOPT_ERRORBUFFER, t[i].err);
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (char *)&t[i]);
        curl_multi_add_handle(multi, easy[i]);
    }
    int running = 1;
    while (running) {
        if (curl_multi_perform(multi, &running) != CURLM_OK) break;
        if (running) curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        target_t *tt = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&tt);
        if (msg->data.result != CURLE_OK) {
            if (!tt->err[0])
                snprintf(tt->err, sizeof(tt->err), "%s",
                         curl_easy_strerror(msg->data.result));
            continue;
        }
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &tt->http);
    }
    for (int i = 0; i < n; i++) {
        if (!easy[i]) continue;
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
        if (t[i].err[0]) continue;
        json_error_t je;
        /* /health answers 503 when the component is not running: the body
         * says why, so both are an answer. */
        if (t[i].http != 200 && t[i].http != 503)
            snprintf(t[i].err, sizeof(t[i].err), "HTTP %ld from %s", t[i].http,
                     urls[i]);
        else if (!(t[i].health =
                       json_loadb(t[i].body.data ? t[i].body.data : "",
                                  t[i].body.len, 0, &je)) ||
                 !json_is_string(json_object_get(t[i].health, "state")))
            snprintf(t[i].err, sizeof(t[i].err),
                     "%s is not a gridhub health document", urls[i]);
    }
    free(urls);
    free(easy);
    curl_multi_cleanup(multi);
}

/* 75 -> "1m15s". */
static void fmt_duration(double s, char *out, size_t size) {
    long v = s < 0 ? 0 : (long)s;
    if (v < 60)
        snprintf(out, size, "%lds", v);
    else if (v < 3600)
        snprintf(out, size, "%ldm%02lds", v / 60, v % 60);
    else if (v < 86400)
        snprintf(out, size, "%ldh%02ldm", v / 3600, v / 60 % 60);
    else
        snprintf(out, size, "%ldd%02ldh", v / 86400, v / 3600 % 24);
}

/* Seconds since an ISO time of the health document, -1 if unreadable. */
static double age_of(const char *iso) {
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm)) return -1;
    return difftime(time(NULL), timegm(&tm));
}

/* One figure, named as the component names it: units in the name become
 * units of the value ("slot_lag_bytes" 2048 -> "slot lag 2.0 KiB"). */
static void put_figure(gh_buf_t *b, const char *name, double v) {
    char label[128];
    snprintf(label, sizeof(label), "%s", name);
    size_t n = strlen(label);
    int bytes = n > 6 && !strcmp(label + n - 6, "_bytes");
    static const char *const units[] = {"_bytes", "_messages", "_rows"};
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t ul = strlen(units[u]);
        if (n > ul && !strcmp(label + n - ul, units[u])) label[n - ul] = '\0';
    }
    for (char *p = label; *p; p++)
        if (*p == '_') *p = ' ';
    if (bytes && v >= 1024) {
        static const char *const sfx[] = {"KiB", "MiB", "GiB", "TiB"};
        int k = -1;
        while (v >= 1024 && k < 3) {
            v /= 1024;
            k++;
        }
        gh_buf_printf(b, "%s %.1f %s", label, v, sfx[k]);
    } else {
        gh_buf_printf(b, "%s %.0f%s", label, v, bytes ? " B" : "");
    }
}

/* Prints the target's line; returns 1 if it is up and running. */
static int print_target(const target_t *t, int wname) {
    if (!t->health) {
        printf("%-*s  %-4s  %-8s  %-8s  %s (%s)\n", wname, t->name, "down", "-",
               "-", t->err, t->url[0] ? t->url : "no URL");
        return 0;
    }
    const json_t *h = t->health;
    const char *state = json_string_value(json_object_get(h, "state"));
    char since[32];
    fmt_duration(age_of(json_string_value(json_object_get(h, "since"))), since,
                 sizeof(since));
    gh_buf_t fig = {0};
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(h, "figures"), key, v) {
        if (fig.len) gh_buf_puts(&fig, ", ");
        put_figure(&fig, key, json_number_value(v));
    }
    double age = json_number_value(json_object_get(h, "progress_age_seconds"));
    if (age >= 10) {
        char d[32];
        fmt_duration(age, d, sizeof(d));
        gh_buf_printf(&fig, "%sno progress for %s", fig.len ? "; " : "", d);
    }
    const char *reason = json_string_value(json_object_get(h, "reason"));
    if (reason) gh_buf_printf(&fig, "%s%s", fig.len ? "; " : "", reason);
    printf("%-*s  %-4s  %-8s  %-8s  %s\n", wname, t->name, "up", state, since,
           fig.len ? fig.data : "-");
    gh_buf_free(&fig);
    return !strcmp(state, "running");
}

/* The hub database's side: outbox backlog and open steward items. Returns
 * 1 if it answered. */
static int print_database(const char *conninfo, long timeout_ms) {
    char tmo[32];
    snprintf(tmo, sizeof(tmo), "%ld", (timeout_ms + 999) / 1000);
    /* dbname is expanded as a conninfo; connect_timeout after it wins. */
    const char *keys[] = {"dbname", "connect_timeout", NULL};
    const char *vals[] = {conninfo, tmo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        printf("hub database: unreachable: %s", PQerrorMessage(c));
        PQfinish(c);
        return 0;
    }
    PGresult *r = PQexec(c, "SELECT (SELECT count(*) FROM outbox), "
                            "(SELECT coalesce(string_agg(kind || ' ' || n, "
                            "', ' ORDER BY kind), 'none') FROM (SELECT kind, "
                            "count(*) n FROM steward_item WHERE status = "
                            "'open' GROUP BY kind) k)");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (ok)
        printf("hub database: outbox backlog %s rows; steward queue: %s\n",
               PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
    else
        printf("hub database: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok;
}

static int run(gh_conf_t *conf) {
    long timeout = (long)gh_conf_get_int(conf, "timeout.ms");
    char **list = gh_conf_get_list(conf, "endpoints");
    target_t *t = NULL;
    int n = 0, rc = 0;
    for (int i = 0; list[i] && !rc; i++) {
        t = gh_xrealloc(t, (size_t)(n + 1) * sizeof(*t));
        memset(&t[n], 0, sizeof(*t));
        if (parse_target(list[i], &t[n]))
            rc = 2;
        else
            n++;
    }
    gh_conf_list_free(list);
    if (!rc) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        fetch_all(t, n, timeout);
        int wname = 9;
        for (int i = 0; i < n; i++)
            if ((int)strlen(t[i].name) > wname) wname = (int)strlen(t[i].name);
        printf("%-*s  %-4s  %-8s  %-8s  %s\n", wname, "COMPONENT", "UP",
               "STATE", "FOR", "FIGURES");
        int healthy = 0;
        gh_buf_t bad = {0};
        for (int i = 0; i < n; i++) {
            if (print_target(&t[i], wname)) {
                healthy++;
                continue;
            }
            gh_buf_printf(&bad, "%s%s (%s)", bad.len ? ", " : "", t[i].name,
                          t[i].health ? json_string_value(json_object_get(
                                            t[i].health, "state"))
                                      : "down");
        }
        const char *db = gh_conf_get(conf, "database.conninfo");
        int db_ok = !db || print_database(db, timeout);
        if (healthy == n)
            printf("all %d components up and running%s\n", n,
                   db_ok ? "" : "; the hub database did not answer");
        else
            printf("%d of %d components not running: %s%s\n", n - healthy, n,
                   bad.data, db_ok ? "" : "; the hub database did not answer");
        rc = healthy == n && db_ok ? 0 : 1;
        gh_buf_free(&bad);
        curl_global_cleanup();
    }
    for (int i = 0; i < n; i++) {
        free(t[i].name);
        free(t[i].url);
        gh_buf_free(&t[i].body);
        json_decref(t[i].health);
    }
    free(t);
    return rc;
}

const gh_cli_cmd_t gh_cli_status = {
    "status",
    "summarize every component's health on one screen (their /health "
    "endpoints)",
    "Asks each component's GET /health (metrics.listen) at once and prints "
    "one line per component: up or down, its state and for how long, and "
    "its key figures (lag, dead letters, backlog...).\n"
    "Example: gridhub status --endpoints "
    "hub=http://127.0.0.1:9464,zongzhi=http://127.0.0.1:9465 "
    "--database-conninfo \"dbname=hub\"",
    props,
    run,
    0,
    "Exit status:\n"
    "  0    every component is up and running (and the hub database "
    "answered, if asked)\n"
    "  1    a component is down, starting, degraded or stopping (or the "
    "hub database did not answer)\n"
    "  2    bad configuration or arguments"};
