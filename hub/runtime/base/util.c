#include "gridhub/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

static void oom(size_t n) {
    fprintf(stderr, "gridhub: out of memory allocating %zu bytes; aborting\n",
            n);
    abort();
}

void *gh_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void gh_free_secret(void *p, size_t n) {
    if (!p) return;
    OPENSSL_cleanse(p, n);
    free(p);
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
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = gh_xrealloc(b->data, cap);
    b->cap = cap;
}

void gh_buf_append(gh_buf_t *b, const void *p, size_t n) {
    grow(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void gh_buf_puts(gh_buf_t *b, const char *s) {
    gh_buf_append(b, s, strlen(s));
}

void gh_buf_printf(gh_buf_t *b, const char *fmt, ...) {
    /* One pass in the common case: format into the room there is, and only
     * when that is too small grow and format again. */
    if (b->cap < b->len + 64) grow(b, 64);
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return;
    }
    if ((size_t)n >= room) {
        grow(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void gh_hex_encode(const void *p, size_t n, char *out) {
    static const char dig[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = dig[b[i] >> 4];
        out[2 * i + 1] = dig[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int gh_hex_decode(const char *s, void *out, size_t n) {
    unsigned char *b = out;
    if (strlen(s) != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

void gh_buf_json_string(gh_buf_t *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    gh_buf_puts(b, "\"");
    while (*p) {
        /* Runs of printable ASCII other than the quote and the backslash,
         * most of any text here, go in one copy. */
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x7F && *p != '"' && *p != '\\')
            p++;
        if (p > run) gh_buf_append(b, run, (size_t)(p - run));
        if (!*p) break;
        uint32_t cp;
        int k = gh_utf8_next_z(p, &cp);
        if (k < 0) {
            gh_buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD */
            p++;
            continue;
        }
        if (cp == '"' || cp == '\\') {
            char esc[2] = {'\\', (char)cp};
            gh_buf_append(b, esc, 2);
        } else if (cp == '\n') {
            gh_buf_puts(b, "\\n");
        } else if (cp == '\t') {
            gh_buf_puts(b, "\\t");
        } else if (cp == '\r') {
            gh_buf_puts(b, "\\r");
        } else if (cp < 0x20 || cp == 0x7F) {
            char u[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15]};
            gh_buf_append(b, u, 6);
        } else {
            gh_buf_append(b, p, (size_t)k);
        }
        p += k;
    }
    gh_buf_puts(b, "\"");
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

int64_t gh_now_ms(void) {
    return gh_now_us() / 1000;
}

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
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        gh_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        gh_buf_free(&b);
        return NULL;
    }
    if (len_out) *len_out = b.len;
    return gh_buf_detach(&b);
}

int64_t gh_days_from_civil(int y, int m, int d) {
    /* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian
     * calendar, no table, no timegm() and its time-zone pitfalls. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void gh_date_format(int64_t days, char out[11]) {
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    int yy = (int)(y % 10000);
    if (yy < 0) yy = -yy;
    unsigned um = (unsigned)m % 100u, ud = (unsigned)d % 100u;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)yy % 10000u, um, ud);
}

int gh_date_parse_iso(const char *s, int64_t *days, const char **rest) {
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-') return -1;
        } else if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
    }
    int y = atoi(s), mo = atoi(s + 5), d = atoi(s + 8);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return -1;
    if (rest)
        *rest = s + 10;
    else if (s[10])
        return -1;
    *days = gh_days_from_civil(y, mo, d);
    return 0;
}

char *gh_str_trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    *e = '\0';
    return s;
}

int gh_utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return -1;
    unsigned char b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    int len = b0 < 0xC2 ? 0 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : b0 < 0xF5 ? 4 : 0;
    if (len == 0 || (size_t)len > n) return -1;
    uint32_t c = b0 & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        c = c << 6 | (s[i] & 0x3F);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
        (len == 4 && (c < 0x10000 || c > 0x10FFFF)))
        return -1;
    *cp = c;
    return len;
}

int gh_utf8_next_z(const unsigned char *s, uint32_t *cp) {
    /* Four bytes ahead at most, and never past the NUL. */
    size_t n = strnlen((const char *)s, 4);
    if (n == 0) {
        *cp = 0;
        return 1;
    }
    return gh_utf8_next(s, n, cp);
}

int gh_utf8_valid(const char *s, size_t n, size_t *bad_at) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { /* ASCII runs are the common case */
            i++;
            continue;
        }
        uint32_t cp;
        int k = gh_utf8_next(p + i, n - i, &cp);
        if (k < 0) {
            if (bad_at) *bad_at = i;
            return 0;
        }
        i += (size_t)k;
    }
    return 1;
}

size_t gh_utf8_escape(gh_buf_t *b, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, escaped = 0;
    while (i < n) {
        uint32_t cp;
        int k = gh_utf8_next(p + i, n - i, &cp);
        if (k > 0 && cp != 0) {
            gh_buf_append(b, p + i, (size_t)k);
            i += (size_t)k;
            continue;
        }
        gh_buf_printf(b, "\\x%02X", p[i]);
        i++;
        escaped++;
    }
    return escaped;
}

FILE *gh_fopen_private(const char *path, int replace) {
    int fd = open(path,
                  O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
                      (replace ? O_TRUNC : O_EXCL),
                  0600);
    if (fd < 0) return NULL;
    /* Only a regular file is narrowed: `--out /dev/null` or a FIFO is the
     * operator's, and a chmod there would change it for everyone (it did:
     * /dev/null became 0600 and broke every shell on the machine). */
    struct stat st;
    if (replace && !fstat(fd, &st) && S_ISREG(st.st_mode) && fchmod(fd, 0600)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int saved = errno;
        close(fd);
        if (!replace) unlink(path);
        errno = saved;
    }
    return f;
}

gh_err_t gh_read_pairs_file(const char *path, gh_pairs_cb *cb, void *ctx,
                            char *errstr, size_t errstr_size) {
    FILE *f = fopen(path, "r");
    if (!f)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot open %s: %s",
                         path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    gh_err_t e = GH_OK;
    while (!e && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *s = gh_str_trim(line);
        if (!*s || *s == '#') continue;
        char *comma = strchr(s, ',');
        char where[1024];
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (!comma) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                          "%s: expected from,to", where);
            break;
        }
        *comma = '\0';
        e = cb(ctx, where, gh_str_trim(s), gh_str_trim(comma + 1), errstr,
               errstr_size);
    }
    /* A directory opens but does not read: not an empty file. */
    if (!e && ferror(f))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot read %s: %s",
                      path, strerror(errno));
    free(line);
    fclose(f);
    return e;
}

void gh_micros_format(int64_t us, char sep, const char *zone, char out[48]) {
    /* Floor division keeps instants before 1970 right. */
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    char d[11];
    gh_date_format(days, d);
    snprintf(out, 48, "%s%c%02d:%02d:%02d.%06d%.8s", d, sep, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60), (int)frac, zone);
}

int gh_write_file_atomic(const char *path, const char *text) {
    char *tmp = gh_xasprintf("%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = -1;
    if (f) {
        int bad = fprintf(f, "%s\n", text) < 0;
        if (fclose(f) == 0 && !bad) rc = rename(tmp, path);
    }
    int saved = errno;
    if (rc) unlink(tmp);
    free(tmp);
    errno = saved;
    return rc;
}
