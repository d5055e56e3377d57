#include "gridhub/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static void oom(size_t n) {
    fprintf(stderr, "gridhub: out of memory allocating %zu bytes; aborting\n", n);
    abort();
}

void *gh_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *gh_xcalloc(size_t nmemb, size_t size) {
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p) oom(nmemb * size);
    return p;
}

void *gh_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *gh_xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) oom(strlen(s));
    return p;
}

char *gh_xstrndup(const char *s, size_t n) {
    char *p = strndup(s, n);
    if (!p) oom(n);
    return p;
}

char *gh_xasprintf(const char *fmt, ...) {
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0) oom(0);
    return s;
}

static void grow(gh_buf_t *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = gh_xrealloc(b->data, cap);
    b->cap = cap;
}

void gh_buf_append(gh_buf_t *b, const void *p, size_t n) {
    grow(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void gh_buf_puts(gh_buf_t *b, const char *s) { gh_buf_append(b, s, strlen(s)); }

void gh_buf_printf(gh_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void gh_buf_reset(gh_buf_t *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

char *gh_buf_detach(gh_buf_t *b) {
    char *d = b->data ? b->data : gh_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void gh_buf_free(gh_buf_t *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int64_t gh_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t gh_now_ms(void) { return gh_now_us() / 1000; }

int64_t gh_wallclock_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

char *gh_read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    gh_buf_t b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) gh_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        gh_buf_free(&b);
        return NULL;
    }
    if (len_out) *len_out = b.len;
    return gh_buf_detach(&b);
}
