/* The ground truth and the source records (truth.h): lines formatted per
 * person-mapped row, written to one part file per mapping and file, and
 * merged sorted at the end. */
#include "truth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copy.h"
#include "gridhub/util.h"

static const char *const DEPT[GH_GEN_TM__COUNT] = {
    "chuangwen", "gongan", "gongan", "jisheng", "zongzhi", "zuzhi"};
static const char *const PREFIX[GH_GEN_TM__COUNT] = {"", "hjrk/", "ldrk/",
                                                     "", "",      ""};

#define PART_BUF (1 << 20)

const char *gh_gen_truth_dept(int m) {
    return m >= 0 && m < GH_GEN_TM__COUNT ? DEPT[m] : "";
}
const char *gh_gen_truth_prefix(int m) {
    return m >= 0 && m < GH_GEN_TM__COUNT ? PREFIX[m] : "";
}

/* ---- line files: part files per mapping, merged sorted
 * ----------------------------------------------------------
 *
 * The generator only formats lines into a buffer per part; full buffers go
 * through a bounded queue to one writer thread that writes the part files
 * of both files, so that the kernel's share of writing (most of it: the
 * city's records are 2.8 GB) runs beside the generator. */

#define QUEUE 16

struct lines;

typedef struct chunk {
    struct lines *l;
    int part;
    char *data;
    size_t len;
} chunk_t;

typedef struct writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t can_push, can_pop;
    chunk_t q[QUEUE];
    size_t head, n;
    char *spare[QUEUE]; /* written buffers, for reuse */
    size_t n_spare;
    int stop, running;
} writer_t;

typedef struct lines {
    char *path;
    const char *what; /* the property, for messages */
    writer_t *w;
    char *part[GH_GEN_TM__COUNT];
    int fd[GH_GEN_TM__COUNT];
    char *buf[GH_GEN_TM__COUNT]; /* being filled */
    size_t len[GH_GEN_TM__COUNT];
    /* the part's last line, to know whether it came sorted */
    char *last[GH_GEN_TM__COUNT];
    size_t last_len[GH_GEN_TM__COUNT], last_cap[GH_GEN_TM__COUNT];
    int unsorted[GH_GEN_TM__COUNT];
    long long n[GH_GEN_TM__COUNT];
    int err;      /* errno of the first failed write (set by the writer) */
    int too_long; /* a line did not fit its buffer */
} lines_t;

static int write_all(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k < 0 ? errno : EIO;
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static void *writer_main(void *arg) {
    writer_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->n && !w->stop)
            pthread_cond_wait(&w->can_pop, &w->mu);
        if (!w->n) break;
        chunk_t c = w->q[w->head];
        w->head = (w->head + 1) % QUEUE;
        w->n--;
        pthread_cond_signal(&w->can_push);
        int failed = c.l->err;
        pthread_mutex_unlock(&w->mu);
        int e = failed ? 0 : write_all(c.l->fd[c.part], c.data, c.len);
        pthread_mutex_lock(&w->mu);
        if (e && !c.l->err) c.l->err = e;
        if (w->n_spare < QUEUE)
            w->spare[w->n_spare++] = c.data;
        else
            free(c.data);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Without a thread (pthread_create failed) lines_push writes itself. */
static void writer_start(writer_t *w) {
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->can_push, NULL);
    pthread_cond_init(&w->can_pop, NULL);
    w->running = pthread_create(&w->thread, NULL, writer_main, w) == 0;
}

/* Writes what is queued, then ends the thread. */
static void writer_stop(writer_t *w) {
    if (w->running) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_signal(&w->can_pop);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->running = 0;
    }
    for (size_t i = 0; i < w->n_spare; i++)
        free(w->spare[i]);
    w->n_spare = 0;
}

static void writer_destroy(writer_t *w) {
    writer_stop(w);
    pthread_cond_destroy(&w->can_pop);
    pthread_cond_destroy(&w->can_push);
    pthread_mutex_destroy(&w->mu);
}

/* Hands part m's buffer to the writer and takes an empty one. */
static void lines_push(lines_t *l, int m) {
    writer_t *w = l->w;
    if (!w->running) {
        int e = l->err ? 0 : write_all(l->fd[m], l->buf[m], l->len[m]);
        if (e) l->err = e;
        l->len[m] = 0;
        return;
    }
    char *next = NULL;
    pthread_mutex_lock(&w->mu);
    while (w->n == QUEUE)
        pthread_cond_wait(&w->can_push, &w->mu);
    w->q[(w->head + w->n) % QUEUE] = (chunk_t){l, m, l->buf[m], l->len[m]};
    w->n++;
    pthread_cond_signal(&w->can_pop);
    if (w->n_spare) next = w->spare[--w->n_spare];
    pthread_mutex_unlock(&w->mu);
    l->buf[m] = next ? next : gh_xmalloc(PART_BUF);
    l->len[m] = 0;
}

static void lines_close(lines_t *l) {
    for (int i = 0; i < GH_GEN_TM__COUNT; i++) {
        if (l->fd[i] >= 0) close(l->fd[i]);
        if (l->part[i]) remove(l->part[i]);
        free(l->part[i]);
        free(l->buf[i]);
        free(l->last[i]);
    }
    free(l->path);
    memset(l, 0, sizeof(*l));
}

static gh_err_t lines_open(lines_t *l, writer_t *w, const char *path,
                           const char *what, char *errstr, size_t errstr_size) {
    memset(l, 0, sizeof(*l));
    l->path = gh_xstrdup(path);
    l->what = what;
    l->w = w;
    for (int i = 0; i < GH_GEN_TM__COUNT; i++)
        l->fd[i] = -1;
    for (int i = 0; i < GH_GEN_TM__COUNT; i++) {
        l->part[i] = gh_xasprintf("%s.part%d", path, i);
        l->fd[i] = open(l->part[i], O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (l->fd[i] < 0) {
            gh_err_t e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                                   "cannot create %s: %s (%s's directory "
                                   "must be writable)",
                                   l->part[i], strerror(errno), what);
            lines_close(l);
            return e;
        }
        l->buf[i] = gh_xmalloc(PART_BUF);
    }
    return GH_OK;
}

static void lines_add(lines_t *l, int m, const char *line, size_t len) {
    if (l->len[m] + len > PART_BUF) lines_push(l, m);
    memcpy(l->buf[m] + l->len[m], line, len); /* len < PART_BUF */
    l->len[m] += len;
    l->n[m]++;
    if (l->unsorted[m]) return;
    if (l->n[m] > 1) {
        size_t k = l->last_len[m] < len ? l->last_len[m] : len;
        int c = memcmp(l->last[m], line, k);
        if (c > 0 || (c == 0 && l->last_len[m] >= len)) {
            l->unsorted[m] = 1;
            return;
        }
    }
    if (len > l->last_cap[m]) {
        l->last_cap[m] = len * 2;
        l->last[m] = gh_xrealloc(l->last[m], l->last_cap[m]);
    }
    memcpy(l->last[m], line, len);
    l->last_len[m] = len;
}

/* Queues what is left in the buffers (the writer must then be stopped
 * before the part files are read). */
static void lines_flush(lines_t *l) {
    for (int i = 0; i < GH_GEN_TM__COUNT; i++)
        if (l->len[i]) lines_push(l, i);
}

/* The merged file, written with write(2) through a buffer of its own so
 * that parts can be appended with copy_file_range(2). */
typedef struct out {
    int fd;
    char *buf;
    size_t len;
    int err; /* errno of the first failure */
} out_t;

static void out_flush(out_t *o) {
    size_t off = 0;
    while (off < o->len && !o->err) {
        ssize_t k = write(o->fd, o->buf + off, o->len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            o->err = k < 0 ? errno : EIO;
        else
            off += (size_t)k;
    }
    o->len = 0;
}

static void out_put(out_t *o, const char *s, size_t n) {
    if (o->len + n > PART_BUF) out_flush(o);
    if (n > PART_BUF) { /* never for lines of the generator's */
        memcpy(o->buf, s, PART_BUF);
        o->len = PART_BUF;
        out_put(o, s + PART_BUF, n - PART_BUF);
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* Appends part file `path` as it is: in the kernel where it can. */
static int out_append_file(out_t *o, const char *path) {
    int in = open(path, O_RDONLY);
    if (in < 0) return -1;
    out_flush(o);
    int kernel = 1;
    while (!o->err) {
        ssize_t k;
        if (kernel) {
            k = copy_file_range(in, NULL, o->fd, NULL, 1 << 30, 0);
            if (k < 0 && (errno == ENOSYS || errno == EXDEV ||
                          errno == EINVAL || errno == EOPNOTSUPP)) {
                kernel = 0; /* nothing was copied: read and write */
                continue;
            }
        } else {
            k = read(in, o->buf, PART_BUF);
            if (k > 0) {
                o->len = (size_t)k;
                out_flush(o);
            }
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = errno;
            close(in);
            errno = e;
            return -1;
        }
        if (k == 0) break;
    }
    close(in);
    return 0;
}

static int cmp_line(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the lines of part file `path`, sorted. */
static int out_append_sorted(out_t *o, const char *path) {
    size_t len;
    char *data = gh_read_file(path, &len);
    if (!data) return -1;
    size_t n = 0, cap = 1024;
    char **v = gh_xmalloc(cap * sizeof(char *));
    for (char *p = data; p < data + len;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        if (!nl) break;
        *nl = '\0';
        if (n == cap) {
            cap *= 2;
            v = gh_xrealloc(v, cap * sizeof(char *));
        }
        v[n++] = p;
        p = nl + 1;
    }
    qsort(v, n, sizeof(char *), cmp_line);
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(v[i]);
        v[i][k] = '\n';
        out_put(o, v[i], k + 1);
    }
    free(v);
    free(data);
    return 0;
}

static gh_err_t lines_finish(lines_t *l, long long *lines, char *errstr,
                             size_t errstr_size) {
    *lines = 0;
    for (int i = 0; i < GH_GEN_TM__COUNT; i++) {
        if (close(l->fd[i]) && !l->err) l->err = errno;
        l->fd[i] = -1;
        *lines += l->n[i];
    }
    if (l->too_long)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "a line of %s (%s) did not fit its buffer", l->path,
                         l->what);
    if (l->err)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "writing the part files next to %s (%s) failed: %s",
                         l->path, l->what, strerror(l->err));
    char *tmp = gh_xasprintf("%s.tmp", l->path);
    out_t o = {open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666), NULL, 0, 0};
    if (o.fd < 0) {
        gh_err_t e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                               "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return e;
    }
    o.buf = gh_xmalloc(PART_BUF);
    gh_err_t e = GH_OK;
    for (int i = 0; i < GH_GEN_TM__COUNT && !e && !o.err; i++) {
        int r = l->unsorted[i] ? out_append_sorted(&o, l->part[i])
                               : out_append_file(&o, l->part[i]);
        if (r)
            e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot read %s: %s",
                          l->part[i], strerror(errno));
    }
    out_flush(&o);
    if (close(o.fd) && !o.err) o.err = errno;
    if (o.err && !e)
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "writing %s failed: %s",
                      tmp, strerror(o.err));
    free(o.buf);
    if (!e && rename(tmp, l->path))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                      "cannot rename %s to %s: %s", tmp, l->path,
                      strerror(errno));
    if (e) remove(tmp);
    free(tmp);
    if (!e)
        for (int i = 0; i < GH_GEN_TM__COUNT; i++)
            remove(l->part[i]);
    return e;
}

/* ---- the two files
 * -------------------------------------------------------------- */

struct gh_gen_truth {
    writer_t w;
    lines_t truth, records;
    int has_truth, has_records;
};

size_t gh_gen_truth_line(int m, const char *key, const char *true_id, char *out,
                         size_t size) {
    /* Keys and IDs are digits, letters and '/': nothing to escape. */
    int n = snprintf(out, size,
                     "{\"department\":\"%s\",\"source_key\":\"%s%s\","
                     "\"true_id\":\"%s\"}\n",
                     DEPT[m], PREFIX[m], key, true_id);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* Appends s to out as JSON text: a string (trimmed of ASCII white space
 * at both ends) or, when NULL or empty, null. UTF-8 passes through. */
static char *put_json(char *p, const char *s) {
    static const char hex[] = "0123456789abcdef";
    if (s) {
        while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
            s++;
    }
    size_t n = s ? strlen(s) : 0;
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
        n--;
    if (!n) {
        memcpy(p, "null", 4);
        return p + 4;
    }
    *p++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c < 0x20) {
            memcpy(p, "\\u00", 4);
            p[4] = hex[c >> 4];
            p[5] = hex[c & 15];
            p += 6;
        } else {
            *p++ = (char)c;
        }
    }
    *p++ = '"';
    return p;
}

static char *put_lit(char *p, const char *s) {
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* Longest output of put_json for s: null, or quotes around 6 bytes per
 * byte. */
static size_t json_room(const char *s) {
    return s ? 6 * strlen(s) + 2 : 4;
}

size_t gh_gen_record_line(int m, const char *key, const gh_gen_record_t *rec,
                          char *out, size_t size) {
    size_t need = 256 + strlen(key) + json_room(rec->name) +
                  json_room(rec->id_number) + json_room(rec->phone) +
                  json_room(rec->address) + json_room(rec->household_key);
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++)
        need += strlen(gh_gen_err_name(k)) + 3;
    if (need > size) return 0;
    char *p = out;
    p = put_lit(p, "{\"department\":\"");
    p = put_lit(p, DEPT[m]);
    p = put_lit(p, "\",\"source_key\":\"");
    p = put_lit(p, PREFIX[m]);
    p = put_lit(p, key); /* digits, letters and '/' */
    p = put_lit(p, "\",\"name\":");
    p = put_json(p, rec->name);
    p = put_lit(p, ",\"id_number\":");
    p = put_json(p, rec->id_number);
    p = put_lit(p, ",\"sex\":");
    p = put_lit(p, rec->sex == 1   ? "\"MALE\""
                   : rec->sex == 2 ? "\"FEMALE\""
                                   : "null");
    p = put_lit(p, ",\"birth_date\":");
    if (rec->birth == GH_GEN_NO_DATE) {
        p = put_lit(p, "null");
    } else {
        *p++ = '"';
        gh_gen_format_date(rec->birth, p);
        p += 10;
        *p++ = '"';
    }
    p = put_lit(p, ",\"phone\":");
    p = put_json(p, rec->phone);
    p = put_lit(p, ",\"address\":");
    p = put_json(p, rec->address);
    p = put_lit(p, ",\"household_key\":");
    p = put_json(p, rec->household_key);
    p = put_lit(p, ",\"errors\":[");
    int first = 1;
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++) {
        if (!(rec->errors & GH_GEN_ERR_BIT(k))) continue;
        if (!first) *p++ = ',';
        first = 0;
        *p++ = '"';
        p = put_lit(p, gh_gen_err_name(k));
        *p++ = '"';
    }
    p = put_lit(p, "]}\n");
    return (size_t)(p - out);
}

void gh_gen_record_of(const gh_gen_typed_t *ty, const gh_gen_person_t *p,
                      gh_gen_record_t *rec) {
    rec->name = ty->name;
    rec->id_number = ty->id;
    rec->sex = ty->sex;
    rec->birth = ty->birth;
    rec->phone = ty->phone;
    rec->address = NULL;
    rec->household_key = NULL;
    rec->errors = ty->errors & ~GH_GEN_ERR_BIT(GH_GEN_ERR_OUTDATED_ADDRESS);
}

gh_gen_truth_t *gh_gen_truth_open(const char *truth_path,
                                  const char *records_path, char *errstr,
                                  size_t errstr_size) {
    gh_gen_truth_t *t = gh_xcalloc(1, sizeof(*t));
    writer_start(&t->w);
    if (truth_path) {
        if (lines_open(&t->truth, &t->w, truth_path, "truth.file", errstr,
                       errstr_size)) {
            gh_gen_truth_destroy(t);
            return NULL;
        }
        t->has_truth = 1;
    }
    if (records_path) {
        if (lines_open(&t->records, &t->w, records_path, "records.file", errstr,
                       errstr_size)) {
            gh_gen_truth_destroy(t);
            return NULL;
        }
        t->has_records = 1;
    }
    return t;
}

void gh_gen_truth_add(gh_gen_truth_t *t, int m, const char *key,
                      const char *true_id, const gh_gen_record_t *rec) {
    if (!t) return;
    char line[4096];
    if (t->has_truth) {
        size_t n = gh_gen_truth_line(m, key, true_id, line, sizeof(line));
        lines_add(&t->truth, m, line, n);
    }
    if (t->has_records) {
        size_t n = gh_gen_record_line(m, key, rec, line, sizeof(line));
        if (n)
            lines_add(&t->records, m, line, n);
        else /* cannot happen: typed values are short */
            t->records.too_long = 1;
    }
}

typedef struct merge_job {
    lines_t *l;
    long long lines;
    gh_err_t e;
    char err[768];
} merge_job_t;

static void *merge_main(void *arg) {
    merge_job_t *j = arg;
    j->e = lines_finish(j->l, &j->lines, j->err, sizeof(j->err));
    return NULL;
}

gh_err_t gh_gen_truth_finish(gh_gen_truth_t *t, long long *truth_lines,
                             long long *record_lines, char *errstr,
                             size_t errstr_size) {
    *truth_lines = *record_lines = 0;
    if (t->has_truth) lines_flush(&t->truth);
    if (t->has_records) lines_flush(&t->records);
    writer_stop(&t->w);
    /* The two merges side by side: both are mostly the kernel copying. */
    merge_job_t jt = {&t->truth, 0, GH_OK, ""},
                jr = {&t->records, 0, GH_OK, ""};
    pthread_t th;
    int threaded = t->has_truth && t->has_records &&
                   pthread_create(&th, NULL, merge_main, &jr) == 0;
    if (t->has_truth) merge_main(&jt);
    if (threaded)
        pthread_join(th, NULL);
    else if (t->has_records)
        merge_main(&jr);
    *truth_lines = jt.lines;
    *record_lines = jr.lines;
    if (jt.e) return gh_seterr(errstr, errstr_size, jt.e, "%s", jt.err);
    if (jr.e) return gh_seterr(errstr, errstr_size, jr.e, "%s", jr.err);
    return GH_OK;
}

void gh_gen_truth_destroy(gh_gen_truth_t *t) {
    if (!t) return;
    writer_destroy(&t->w);
    if (t->has_truth) lines_close(&t->truth);
    if (t->has_records) lines_close(&t->records);
    free(t);
}

/* ---- live rewrite
 * ------------------------------------------------------------ */

/* "{"department":"D","source_key":"K"," -> "D\tK" in out. */
static int line_key(const char *line, char *out, size_t n) {
    const char *d = strstr(line, "\"department\":\"");
    const char *k = strstr(line, "\"source_key\":\"");
    if (!d || !k) return -1;
    d += 14;
    k += 14;
    const char *de = strchr(d, '"'), *ke = strchr(k, '"');
    if (!de || !ke) return -1;
    snprintf(out, n, "%.*s\t%.*s", (int)(de - d), d, (int)(ke - k), k);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

gh_err_t gh_gen_truth_rewrite(const char *path, char **added, size_t n_added,
                              char **removed, size_t n_removed,
                              long long *lines, char *errstr,
                              size_t errstr_size) {
    *lines = 0;
    qsort(added, n_added, sizeof(char *), cmp_str);
    qsort(removed, n_removed, sizeof(char *), cmp_str);
    FILE *in = fopen(path, "r");
    if (!in)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot read %s: %s",
                         path, strerror(errno));
    char *tmp = gh_xasprintf("%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        gh_err_t e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                               "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return e;
    }
    char line[512], key[256];
    size_t a = 0;
    while (fgets(line, sizeof(line), in)) {
        while (a < n_added && strcmp(added[a], line) < 0) {
            fputs(added[a++], out);
            (*lines)++;
        }
        if (line_key(line, key, sizeof(key)) == 0) {
            const char *kp = key;
            if (bsearch(&kp, removed, n_removed, sizeof(char *), cmp_str))
                continue;
        }
        fputs(line, out);
        (*lines)++;
    }
    while (a < n_added) {
        fputs(added[a++], out);
        (*lines)++;
    }
    fclose(in);
    gh_err_t e = GH_OK;
    if (fclose(out))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "writing %s failed: %s",
                      tmp, strerror(errno));
    if (!e && rename(tmp, path))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                      "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (e) remove(tmp);
    free(tmp);
    return e;
}
