#include "truth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

static const char *const DEPT[GH_GEN_TM__COUNT] = {
    "chuangwen", "gongan", "gongan", "jisheng", "zongzhi", "zuzhi"};
static const char *const PREFIX[GH_GEN_TM__COUNT] = {"", "hjrk/", "ldrk/",
                                                     "", "",      ""};

const char *gh_gen_truth_dept(int m) {
    return m >= 0 && m < GH_GEN_TM__COUNT ? DEPT[m] : "";
}
const char *gh_gen_truth_prefix(int m) {
    return m >= 0 && m < GH_GEN_TM__COUNT ? PREFIX[m] : "";
}

struct gh_gen_truth {
    char *path;
    char *part[GH_GEN_TM__COUNT];
    FILE *f[GH_GEN_TM__COUNT];
    char *fbuf[GH_GEN_TM__COUNT];
    int failed;
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

gh_gen_truth_t *gh_gen_truth_open(const char *path, char *errstr,
                                  size_t errstr_size) {
    gh_gen_truth_t *t = gh_xcalloc(1, sizeof(*t));
    t->path = gh_xstrdup(path);
    for (int i = 0; i < GH_GEN_TM__COUNT; i++) {
        t->part[i] = gh_xasprintf("%s.part%d", path, i);
        t->f[i] = fopen(t->part[i], "w");
        if (!t->f[i]) {
            gh_seterr(errstr, errstr_size, GH_ERR_IO,
                      "cannot create %s: %s (truth.file's directory must be "
                      "writable)",
                      t->part[i], strerror(errno));
            gh_gen_truth_destroy(t);
            return NULL;
        }
        t->fbuf[i] = gh_xmalloc(1 << 20);
        setvbuf(t->f[i], t->fbuf[i], _IOFBF, 1 << 20);
    }
    return t;
}

void gh_gen_truth_add(gh_gen_truth_t *t, int m, const char *key,
                      const char *true_id) {
    if (!t) return;
    char line[256];
    size_t n = gh_gen_truth_line(m, key, true_id, line, sizeof(line));
    if (fwrite(line, 1, n, t->f[m]) != n) t->failed = 1;
}

static int cmp_line(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Streams part file `path` to out if its lines are sorted already (most
 * parts are generated in key order); returns 1 if it did, 0 if they are
 * not sorted (nothing written), -1 on a read error. */
static int copy_if_sorted(const char *path, FILE *out, long long *lines) {
    FILE *in = fopen(path, "r");
    if (!in) return -1;
    char a[512], b[512], *prev = a, *cur = b;
    long long n = 0;
    int sorted = 1;
    prev[0] = '\0';
    while (fgets(cur, sizeof(a), in)) {
        if (n && strcmp(prev, cur) >= 0) {
            sorted = 0;
            break;
        }
        char *t = prev;
        prev = cur;
        cur = t;
        n++;
    }
    if (sorted) {
        rewind(in);
        size_t k;
        while ((k = fread(a, 1, sizeof(a), in)) > 0)
            fwrite(a, 1, k, out);
        *lines += n;
    }
    int err = ferror(in);
    fclose(in);
    return err ? -1 : sorted;
}

/* Appends the sorted lines of part file `path` to out. */
static gh_err_t append_sorted(const char *path, FILE *out, long long *lines,
                              char *errstr, size_t errstr_size) {
    int done = copy_if_sorted(path, out, lines);
    if (done < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot read %s: %s",
                         path, strerror(errno));
    if (done) return GH_OK;
    size_t len;
    char *data = gh_read_file(path, &len);
    if (!data)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot read %s: %s",
                         path, strerror(errno));
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
    int sorted = 1;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = strcmp(v[i - 1], v[i]) < 0;
    if (!sorted) qsort(v, n, sizeof(char *), cmp_line);
    for (size_t i = 0; i < n; i++) {
        fputs(v[i], out);
        fputc('\n', out);
    }
    *lines += (long long)n;
    free(v);
    free(data);
    return GH_OK;
}

gh_err_t gh_gen_truth_finish(gh_gen_truth_t *t, long long *lines, char *errstr,
                             size_t errstr_size) {
    *lines = 0;
    for (int i = 0; i < GH_GEN_TM__COUNT; i++) {
        if (fclose(t->f[i])) t->failed = 1;
        t->f[i] = NULL;
    }
    if (t->failed)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "writing the truth part files next to %s failed "
                         "(disk full?)",
                         t->path);
    char *tmp = gh_xasprintf("%s.tmp", t->path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        gh_err_t e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                               "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return e;
    }
    char *obuf = gh_xmalloc(1 << 20);
    setvbuf(out, obuf, _IOFBF, 1 << 20);
    gh_err_t e = GH_OK;
    for (int i = 0; i < GH_GEN_TM__COUNT && !e; i++)
        e = append_sorted(t->part[i], out, lines, errstr, errstr_size);
    if (fclose(out) && !e)
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "writing %s failed: %s",
                      tmp, strerror(errno));
    free(obuf);
    if (!e && rename(tmp, t->path))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                      "cannot rename %s to %s: %s", tmp, t->path,
                      strerror(errno));
    if (e) remove(tmp);
    free(tmp);
    return e;
}

void gh_gen_truth_destroy(gh_gen_truth_t *t) {
    if (!t) return;
    for (int i = 0; i < GH_GEN_TM__COUNT; i++) {
        if (t->f[i]) fclose(t->f[i]);
        if (t->part[i]) remove(t->part[i]);
        free(t->part[i]);
        free(t->fbuf[i]);
    }
    free(t->path);
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
