/*
 * Integration-test harness: PostgreSQL helpers, child processes, log
 * polling. See harness.h for the contract of each function.
 *
 * Self-contained on purpose (libc, libpq and Criterion only) so that it can
 * be built and tested apart from the gridhub libraries.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GH_TEST_POLL_MS 50
#define GH_TEST_UNTIL_POLL_MS 100
#define GH_TEST_BROKER_TIMEOUT_MS 15000
#define GH_TEST_LOG_TAIL 2000

struct gh_test_proc {
    pid_t pid;  /* child pid == its process group id */
    int reaped; /* waitpid() has collected it */
    int status; /* exit status as a shell reports it, once reaped */
};

/* ---- small utilities ----------------------------------------------------- */

/* Allocation failure in a test binary: nothing sensible to do but stop. */
static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

static char *xstrdup(const char *s) {
    char *d = strdup(s);
    if (!d) abort();
    return d;
}

static char *xvasprintf(const char *fmt, va_list ap) GH_TEST_PRINTF(1, 0);
static char *xvasprintf(const char *fmt, va_list ap) {
    char *s;
    if (vasprintf(&s, fmt, ap) < 0) abort();
    return s;
}

static char *xasprintf(const char *fmt, ...) GH_TEST_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Whole file as a NUL-terminated string (caller frees), NULL if unreadable. */
static char *read_all(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (cap - len < 2048) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf) abort();
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

char *gh_test_file_tail(const char *path, size_t max_bytes) {
    size_t len;
    char *all = read_all(path, &len);
    if (!all) return xstrdup("");
    if (len <= max_bytes) return all;
    char *tail = xstrdup(all + len - max_bytes);
    free(all);
    return tail;
}

static char *trim(const char *s) {
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    char *out = xmalloc(n + 1);
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* ---- PostgreSQL ---------------------------------------------------------- */

static const char *env_first(const char *a, const char *b) {
    const char *v = getenv(a);
    if (v && *v) return v;
    v = getenv(b);
    return v && *v ? v : NULL;
}

/* Appends ` key='value'` with conninfo quoting (\ and ' escaped). */
static void conninfo_add(char **ci, const char *key, const char *value) {
    if (!value) return;
    size_t n = strlen(value);
    char *q = xmalloc(2 * n + 1), *o = q;
    for (size_t i = 0; i < n; i++) {
        if (value[i] == '\\' || value[i] == '\'') *o++ = '\\';
        *o++ = value[i];
    }
    *o = '\0';
    char *next = xasprintf("%s%s%s='%s'", *ci, **ci ? " " : "", key, q);
    free(q);
    free(*ci);
    *ci = next;
}

char *gh_test_conninfo(const char *dbname) {
    char *ci = xstrdup("");
    conninfo_add(&ci, "host", env_first("GH_TEST_PGHOST", "PGHOST"));
    conninfo_add(&ci, "port", env_first("GH_TEST_PGPORT", "PGPORT"));
    conninfo_add(&ci, "user", env_first("GH_TEST_PGUSER", "PGUSER"));
    conninfo_add(&ci, "dbname", dbname);
    conninfo_add(&ci, "connect_timeout", "10");
    conninfo_add(&ci, "application_name", "gh_test");
    return ci;
}

PGconn *gh_test_pg_connect(const char *dbname) {
    char *ci = gh_test_conninfo(dbname);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        char *err = xstrdup(PQerrorMessage(c));
        PQfinish(c);
        cr_assert_fail("cannot connect to the test PostgreSQL (%s): %s"
                       "is the cluster running and GH_TEST_PGHOST/"
                       "GH_TEST_PGPORT set? (ops/test.sh does both)",
                       ci, err);
    }
    free(ci);
    return c;
}

/* Runs sql; returns the result if its status is acceptable, else asserts
 * with the statement and the server's message. */
static PGresult *exec_checked(PGconn *c, const char *sql, int want_tuples) {
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || (!want_tuples && st == PGRES_COMMAND_OK))
        return r;
    char *err = xstrdup(PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r)
                                                   : PQerrorMessage(c));
    PQclear(r);
    cr_assert_fail("SQL failed (%s): %s\n  statement: %s", PQresStatus(st), err,
                   sql);
    return NULL;
}

void gh_test_exec(PGconn *c, const char *sql_fmt, ...) {
    va_list ap;
    va_start(ap, sql_fmt);
    char *sql = xvasprintf(sql_fmt, ap);
    va_end(ap);
    PQclear(exec_checked(c, sql, 0));
    free(sql);
}

char *gh_test_scalar(PGconn *c, const char *sql_fmt, ...) {
    va_list ap;
    va_start(ap, sql_fmt);
    char *sql = xvasprintf(sql_fmt, ap);
    va_end(ap);
    PGresult *r = exec_checked(c, sql, 0);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
        PQnfields(r) > 0 && !PQgetisnull(r, 0, 0))
        out = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    free(sql);
    return out;
}

long gh_test_count(PGconn *c, const char *sql_fmt, ...) {
    va_list ap;
    va_start(ap, sql_fmt);
    char *sql = xvasprintf(sql_fmt, ap);
    va_end(ap);
    PGresult *r = exec_checked(c, sql, 1);
    cr_assert(PQntuples(r) == 1 && PQnfields(r) == 1 && !PQgetisnull(r, 0, 0),
              "gh_test_count: expected one row with one non-NULL column, "
              "got %d row(s) x %d column(s)\n  statement: %s",
              PQntuples(r), PQnfields(r), sql);
    const char *v = PQgetvalue(r, 0, 0);
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    cr_assert(errno == 0 && end != v && *end == '\0',
              "gh_test_count: '%s' is not an integer\n  statement: %s", v, sql);
    PQclear(r);
    free(sql);
    return n;
}

char *gh_test_create_db(const char *prefix) {
    return gh_test_create_db_encoded(prefix, NULL);
}

char *gh_test_create_db_encoded(const char *prefix, const char *encoding) {
    static unsigned counter;
    char clean[41];
    size_t n = 0;
    for (const char *p = prefix; *p && n < sizeof clean - 1; p++)
        clean[n++] =
            isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '_';
    clean[n] = '\0';

    PGconn *c = gh_test_pg_connect("postgres");
    for (int attempt = 0; attempt < 1000; attempt++) {
        char *name = xasprintf("%s_%ld_%u", clean, (long)getpid(), ++counter);
        char *ident = PQescapeIdentifier(c, name, strlen(name));
        /* Another encoding needs template0 and the C locale (the test
         * cluster's), as a legacy department database would have. */
        char *sql = encoding ? xasprintf("CREATE DATABASE %s ENCODING '%s' "
                                         "TEMPLATE template0 LC_COLLATE 'C' "
                                         "LC_CTYPE 'C'",
                                         ident, encoding)
                             : xasprintf("CREATE DATABASE %s", ident);
        PQfreemem(ident);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK) {
            PQclear(r);
            free(sql);
            PQfinish(c);
            return name;
        }
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (!state || strcmp(state, "42P04") != 0) { /* not duplicate_db */
            char *err = xstrdup(PQresultErrorMessage(r));
            PQclear(r);
            cr_assert_fail("gh_test_create_db: %s failed: %s", sql, err);
        }
        /* A leftover of an earlier run with the same pid: next number. */
        PQclear(r);
        free(sql);
        free(name);
    }
    cr_assert_fail("gh_test_create_db: no free name for prefix '%s'", prefix);
    return NULL;
}

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

void gh_test_drop_db(const char *name) {
    if (!name) return;
    PGconn *c = gh_test_pg_connect("postgres");
    PQsetNoticeProcessor(c, ignore_notice, NULL); /* "does not exist" */
    char *lit = PQescapeLiteral(c, name, strlen(name));
    char *ident = PQescapeIdentifier(c, name, strlen(name));

    /* Slots pin WAL and survive DROP DATABASE's checks only as errors: end
     * their walsenders, then drop them. A slot can be re-acquired between
     * the two steps by a client still running, hence the retries. */
    char *last_err = NULL;
    int dropped = 0;
    for (int attempt = 0; attempt < 50 && !dropped; attempt++) {
        if (attempt > 0) sleep_ms(GH_TEST_UNTIL_POLL_MS);
        gh_test_exec(c,
                     "SELECT pg_terminate_backend(active_pid, 5000) "
                     "FROM pg_replication_slots "
                     "WHERE database = %s AND active_pid IS NOT NULL",
                     lit);
        char *sql = xasprintf("SELECT pg_drop_replication_slot(slot_name) "
                              "FROM pg_replication_slots WHERE database = %s",
                              lit);
        PGresult *r = PQexec(c, sql);
        free(sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            dropped = 1;
        } else {
            free(last_err);
            last_err = xstrdup(PQresultErrorMessage(r));
        }
        PQclear(r);
    }
    cr_assert(dropped,
              "gh_test_drop_db(%s): cannot drop its replication slots: %s",
              name, last_err ? last_err : "?");
    free(last_err);

    gh_test_exec(c, "DROP DATABASE IF EXISTS %s WITH (FORCE)", ident);
    PQfreemem(lit);
    PQfreemem(ident);
    PQfinish(c);
}

/* ---- Processes ----------------------------------------------------------- */

static int status_code(int wstatus) {
    if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
    return -1;
}

gh_test_proc_t *gh_test_spawn(const char *const argv[], const char *log_path) {
    cr_assert(argv && argv[0], "gh_test_spawn: empty argv");
    int log_fd =
        open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    cr_assert(log_fd >= 0, "gh_test_spawn: cannot open log %s: %s", log_path,
              strerror(errno));
    int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert(null_fd >= 0, "gh_test_spawn: /dev/null: %s", strerror(errno));
    /* Reports an exec failure from child to parent; closed by a good exec. */
    int errpipe[2];
    cr_assert(pipe2(errpipe, O_CLOEXEC) == 0, "gh_test_spawn: pipe: %s",
              strerror(errno));

    fflush(NULL); /* no buffered output duplicated into the child */
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "gh_test_spawn: fork: %s", strerror(errno));
    if (pid == 0) {
        /* Child: async-signal-safe calls only until exec. */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) /* parent died before prctl */
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < 32; sig++)
            if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
        dup2(null_fd, STDIN_FILENO);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        int err = errno;
        if (write(errpipe[1], &err, sizeof err) < 0) {
            /* nothing more to report with */
        }
        _exit(127);
    }

    setpgid(pid, pid); /* also done in the child; whichever runs first */
    close(errpipe[1]);
    close(log_fd);
    close(null_fd);
    int child_errno = 0;
    ssize_t got;
    do
        got = read(errpipe[0], &child_errno, sizeof child_errno);
    while (got < 0 && errno == EINTR);
    close(errpipe[0]);

    gh_test_proc_t *p = xmalloc(sizeof *p);
    p->pid = pid;
    p->reaped = 0;
    p->status = -1;
    if (got > 0) {
        gh_test_proc_wait(p, 5000);
        free(p);
        cr_assert_fail("gh_test_spawn: cannot execute %s: %s", argv[0],
                       strerror(child_errno));
    }
    return p;
}

pid_t gh_test_proc_pid(const gh_test_proc_t *p) {
    return p->pid;
}

/* waitpid(WNOHANG) once; 1 if the child is (now) reaped. */
static int try_reap(gh_test_proc_t *p) {
    if (p->reaped) return 1;
    int ws;
    pid_t r = waitpid(p->pid, &ws, WNOHANG);
    if (r == p->pid) {
        p->reaped = 1;
        p->status = status_code(ws);
        return 1;
    }
    if (r < 0 && errno == ECHILD) { /* reaped elsewhere (SIGCHLD ignored) */
        p->reaped = 1;
        return 1;
    }
    return 0;
}

static void reap_blocking(gh_test_proc_t *p) {
    if (p->reaped) return;
    int ws;
    pid_t r;
    do
        r = waitpid(p->pid, &ws, 0);
    while (r < 0 && errno == EINTR);
    p->reaped = 1;
    if (r == p->pid) p->status = status_code(ws);
}

int gh_test_proc_wait(gh_test_proc_t *p, int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    while (!try_reap(p)) {
        if (now_ms() >= deadline) return -1;
        sleep_ms(10);
    }
    return p->status;
}

void gh_test_kill9(gh_test_proc_t *p) {
    if (p->reaped) return;
    kill(-p->pid, SIGKILL);
    kill(p->pid, SIGKILL); /* in case setpgid lost a race with exec */
    reap_blocking(p);
}

int gh_test_stop(gh_test_proc_t *p, int timeout_ms) {
    if (!p->reaped) {
        kill(p->pid, SIGTERM);
        if (gh_test_proc_wait(p, timeout_ms) < 0 && !p->reaped)
            gh_test_kill9(p);
    }
    kill(-p->pid, SIGKILL); /* stragglers in its group; ESRCH if none */
    return p->status;
}

int gh_test_proc_alive(gh_test_proc_t *p) {
    return !try_reap(p);
}

void gh_test_proc_free(gh_test_proc_t *p) {
    if (!p) return;
    gh_test_kill9(p);
    free(p);
}

int gh_test_run(const char *const argv[], const char *log_path,
                int timeout_ms) {
    gh_test_proc_t *p = gh_test_spawn(argv, log_path);
    int st = gh_test_proc_wait(p, timeout_ms);
    if (st < 0 && !p->reaped) {
        gh_test_proc_free(p);
        char *tail = gh_test_file_tail(log_path, GH_TEST_LOG_TAIL);
        cr_assert_fail("gh_test_run: %s did not finish within %d ms; log %s "
                       "ends:\n%s",
                       argv[0], timeout_ms, log_path, tail);
    }
    gh_test_proc_free(p);
    return st;
}

/* ---- Logs, files and polling --------------------------------------------- */

/* Finds the first complete line of `path` that starts with (anywhere=0) or
 * contains (anywhere=1) `text`; returns the rest / the whole line. */
static char *find_line(const char *path, const char *text, int anywhere) {
    char *all = read_all(path, NULL);
    if (!all) return NULL;
    size_t tlen = strlen(text);
    char *out = NULL;
    for (char *line = all; !out;) {
        char *nl = strchr(line, '\n');
        if (!nl) /* incomplete last line: wait for the writer */
            break;
        *nl = '\0';
        if (nl > line && nl[-1] == '\r') nl[-1] = '\0';
        if (anywhere) {
            if (strstr(line, text)) out = xstrdup(line);
        } else if (strncmp(line, text, tlen) == 0) {
            out = xstrdup(line + tlen);
        }
        line = nl + 1;
    }
    free(all);
    return out;
}

static char *wait_for(const char *path, const char *text, int anywhere,
                      int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        char *found = find_line(path, text, anywhere);
        if (found) return found;
        if (now_ms() >= deadline) return NULL;
        sleep_ms(GH_TEST_POLL_MS);
    }
}

char *gh_test_wait_for_line(const char *log_path, const char *prefix,
                            int timeout_ms) {
    return wait_for(log_path, prefix, 0, timeout_ms);
}

char *gh_test_wait_for_text(const char *log_path, const char *needle,
                            int timeout_ms) {
    return wait_for(log_path, needle, 1, timeout_ms);
}

char *gh_test_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *path = xasprintf("%s/gh-test-XXXXXX", base);
    cr_assert(mkdtemp(path) != NULL, "gh_test_tmpdir: mkdtemp(%s): %s", path,
              strerror(errno));
    return path;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void gh_test_rmtree(const char *path) {
    if (path) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void gh_test_write_file(const char *path, const char *fmt, ...) {
    FILE *f = fopen(path, "w");
    cr_assert(f != NULL, "gh_test_write_file: cannot open %s: %s", path,
              strerror(errno));
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    int closed = fclose(f);
    cr_assert(n >= 0 && closed == 0, "gh_test_write_file: writing %s: %s", path,
              strerror(errno));
}

int gh_test_wait_until(int (*pred)(void *), void *arg, int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        if (pred(arg)) return 1;
        if (now_ms() >= deadline) return 0;
        sleep_ms(GH_TEST_UNTIL_POLL_MS);
    }
}

static int readable(void *path) {
    return access(path, R_OK) == 0;
}

char *gh_test_listen_url(const char *file, const char *log, int timeout_ms) {
    if (!gh_test_wait_until(readable, (void *)file, timeout_ms)) {
        char *tail = gh_test_file_tail(log, 3000);
        cr_assert_fail("%s not written; log ends:\n%s", file, tail);
    }
    char *text = read_all(file, NULL);
    cr_assert_not_null(text, "%s: unreadable", file);
    char *url = trim(text);
    free(text);
    return url;
}

/* ---- Broker -------------------------------------------------------------- */

gh_test_proc_t *gh_test_start_broker(const char *dir, char **bootstrap_out) {
    return gh_test_start_broker_with(dir, NULL, bootstrap_out);
}

gh_test_proc_t *gh_test_start_broker_with(const char *dir, const char *topics,
                                          char **bootstrap_out) {
    char *file = xasprintf("%s/bootstrap", dir);
    char *log = xasprintf("%s/broker.log", dir);
    unlink(file); /* a stale one would be read as ready */
    const char *argv[] = {GH_BINARY,
                          "broker",
                          "--bootstrap-file",
                          file,
                          topics ? "--topics" : NULL,
                          topics,
                          NULL};
    gh_test_proc_t *p = gh_test_spawn(argv, log);

    long long deadline = now_ms() + GH_TEST_BROKER_TIMEOUT_MS;
    char *prev = NULL;
    for (;;) {
        char *raw = read_all(file, NULL);
        char *cur = raw ? trim(raw) : NULL;
        free(raw);
        /* Non-empty and unchanged over one poll: fully written. */
        if (cur && *cur && prev && strcmp(cur, prev) == 0) {
            free(prev);
            free(file);
            free(log);
            *bootstrap_out = cur;
            return p;
        }
        free(prev);
        prev = cur;
        if (!gh_test_proc_alive(p) || now_ms() >= deadline) {
            int alive = gh_test_proc_alive(p);
            int st = gh_test_stop(p, 1000);
            gh_test_proc_free(p);
            char *tail = gh_test_file_tail(log, GH_TEST_LOG_TAIL);
            cr_assert_fail("gh_test_start_broker: %s (status %d) without "
                           "writing %s; %s ends:\n%s",
                           alive ? "timed out after 15 s" : "broker exited", st,
                           file, log, tail);
        }
        sleep_ms(GH_TEST_POLL_MS);
    }
}

void gh_test_pg_cluster(const char *verb, const char *dir, const char *port) {
    char log[4096];
    snprintf(log, sizeof(log), "%s.log", dir);
    const char *argv[] = {
        "bash", GH_SOURCE_DIR "/ops/pg-cluster.sh", verb, dir, port, NULL};
    int rc = gh_test_run(argv, log, 120000);
    if (rc != 0) {
        char *tail = gh_test_file_tail(log, 3000);
        cr_assert_fail("pg-cluster.sh %s %s exited %d:\n%s", verb, dir, rc,
                       tail);
    }
}

void gh_test_pg_cluster_port(const char *dir, char out[16]) {
    char envf[4096];
    snprintf(envf, sizeof(envf), "%s/env", dir);
    char *env = gh_test_file_tail(envf, 4096);
    const char *pp = strstr(env, "PGPORT=");
    cr_assert_not_null(pp, "%s: %s", envf, env);
    snprintf(out, 16, "%d", atoi(pp + 7));
    free(env);
}

void gh_test_pg_cluster_remove(const char *dir) {
    gh_test_pg_cluster("stop", dir, NULL);
    gh_test_rmtree(dir);
    char log[4096];
    snprintf(log, sizeof(log), "%s.log", dir);
    unlink(log);
}

char *gh_test_pg_cluster_new(const char *prefix, const char *const *settings,
                             char **conninfo) {
    char tmpl[256];
    snprintf(tmpl, sizeof(tmpl), "/tmp/%s.XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(tmpl), "mkdtemp %s: %s", tmpl, strerror(errno));
    char *dir = strdup(tmpl);
    gh_test_pg_cluster("start", dir, NULL);
    char port[16];
    gh_test_pg_cluster_port(dir, port);
    char ci[256];
    snprintf(ci, sizeof(ci), "host=127.0.0.1 port=%s user=gridhub", port);
    char ci_db[300];
    snprintf(ci_db, sizeof(ci_db), "%s dbname=postgres", ci);
    PGconn *admin = PQconnectdb(ci_db);
    cr_assert_eq(PQstatus(admin), CONNECTION_OK, "%s", PQerrorMessage(admin));
    for (int i = 0; settings && settings[i]; i++)
        gh_test_exec(admin, "ALTER SYSTEM SET %s", settings[i]);
    gh_test_exec(admin, "CREATE DATABASE hub");
    PQfinish(admin);
    if (settings && settings[0]) {
        gh_test_pg_cluster("stop", dir, NULL);
        gh_test_pg_cluster("start", dir, port);
    }
    *conninfo = strdup(ci);
    return dir;
}
