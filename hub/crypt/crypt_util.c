/* Sealing where values live (query results, JSON documents) and writing
 * key files (see crypt.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypt.h"
#include "crypt_int.h"
#include "gridhub/util.h"

gh_err_t gh_crypt_open_result(gh_crypt_t *c, PGresult *r, const int *cols,
                              const char *const *fields, int n, char *errstr,
                              size_t errstr_size) {
    for (int i = 0; i < PQntuples(r); i++)
        for (int j = 0; j < n; j++) {
            if (PQgetisnull(r, i, cols[j])) continue;
            const char *v = PQgetvalue(r, i, cols[j]);
            size_t vl = (size_t)PQgetlength(r, i, cols[j]);
            if (!gh_crypt_is_sealed(v, vl)) continue;
            char *plain;
            size_t pl;
            gh_err_t e = gh_crypt_open(c, fields[j], v, vl, &plain, &pl, errstr,
                                       errstr_size);
            if (e) return e;
            /* PQsetvalue copies into the result's own storage. */
            int ok = PQsetvalue(r, i, cols[j], plain, (int)pl);
            OPENSSL_cleanse(plain, pl);
            free(plain);
            if (!ok)
                return gh_seterr(errstr, errstr_size, GH_ERR_NOMEM,
                                 "libpq could not store an opened value");
        }
    return GH_OK;
}

json_t *gh_crypt_json_string(gh_crypt_t *c, int seal, const char *v) {
    if (!v) return json_null();
    if (!c || !seal) return json_string(v);
    char *s = gh_crypt_seal(c, GH_CRYPT_JSON, v, strlen(v));
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* What walk() does to each sealed string: opens it, or (kid set) re-seals
 * it under kid. */
typedef struct walk {
    gh_crypt_t *c;
    const char *kid;
    char *errstr;
    size_t errstr_size;
} walk_t;

static gh_err_t one(walk_t *w, json_t *v) {
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!gh_crypt_is_sealed(s, n)) return GH_OK;
    char *plain;
    size_t pl;
    gh_err_t e = gh_crypt_open(w->c, GH_CRYPT_JSON, s, n, &plain, &pl,
                               w->errstr, w->errstr_size);
    if (e) return e;
    if (!w->kid) {
        json_string_setn(v, plain, pl);
        gh_free_secret(plain, pl);
        return GH_OK;
    }
    char *done = gh_crypt_seal_with(w->c, w->kid, GH_CRYPT_JSON, plain, pl);
    gh_free_secret(plain, pl);
    if (!done)
        return gh_seterr(w->errstr, w->errstr_size, GH_ERR_NOT_FOUND,
                         "no key %s to re-seal with", w->kid);
    json_string_set(v, done);
    free(done);
    return GH_OK;
}

static gh_err_t walk(walk_t *w, json_t *j) {
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            gh_err_t e = json_is_string(v) ? one(w, v) : walk(w, v);
            if (e) return e;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            gh_err_t e = json_is_string(v) ? one(w, v) : walk(w, v);
            if (e) return e;
        }
    }
    return GH_OK;
}

static char *run(walk_t *w, const char *json) {
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_ALLOW_NUL, &jerr);
    if (!j) {
        gh_seterr(w->errstr, w->errstr_size, GH_ERR_PARSE,
                  "not a JSON document (%s)", jerr.text);
        return NULL;
    }
    char *out = NULL;
    if (!walk(w, j)) out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return out;
}

char *gh_crypt_open_json(gh_crypt_t *c, const char *json, char *errstr,
                         size_t errstr_size) {
    walk_t w = {c, NULL, errstr, errstr_size};
    return run(&w, json);
}

char *gh_crypt_reseal_json(gh_crypt_t *c, const char *kid, const char *json,
                           char *errstr, size_t errstr_size) {
    walk_t w = {c, kid, errstr, errstr_size};
    return run(&w, json);
}

/* ---- Key files ----------------------------------------------------------- */

static gh_err_t random_hex(gh_buf_t *b, char *errstr, size_t errstr_size) {
    unsigned char sec[32];
    char hex[65];
    if (RAND_bytes(sec, sizeof(sec)) != 1)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "no random bytes from OpenSSL");
    gh_hex_encode(sec, sizeof(sec), hex);
    gh_buf_puts(b, hex);
    OPENSSL_cleanse(sec, sizeof(sec));
    OPENSSL_cleanse(hex, sizeof(hex));
    return GH_OK;
}

/* Writes b to path: a new file (O_EXCL) or, with `replace`, a temporary
 * renamed over it. Mode 0600. */
static gh_err_t write_file(const char *path, const gh_buf_t *b, int replace,
                           char *errstr, size_t errstr_size) {
    char tmp[4096];
    const char *target = path;
    if (replace) {
        snprintf(tmp, sizeof(tmp), "%s.new", path);
        target = tmp;
        unlink(tmp);
    }
    int fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return gh_seterr(
            errstr, errstr_size, GH_ERR_IO, "%s: %s%s", target, strerror(errno),
            errno == EEXIST ? " (a key file is never overwritten)" : "");
    gh_err_t e = GH_OK;
    if (write(fd, b->data, b->len) != (ssize_t)b->len || fsync(fd))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s", target,
                      strerror(errno));
    if (close(fd) && !e)
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s", target,
                      strerror(errno));
    if (!e && replace && rename(tmp, path))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s", path,
                      strerror(errno));
    if (e) unlink(target);
    return e;
}

gh_err_t gh_crypt_generate(const char *path, char *errstr, size_t errstr_size) {
    gh_buf_t b = {0};
    gh_buf_puts(&b, "# gridhub encryption keys (docs/encryption.md). Keep "
                    "private, mode 0600, and back up:\n# without them the "
                    "hub database's sealed values cannot be read.\n"
                    "key.k1=");
    gh_err_t e = random_hex(&b, errstr, errstr_size);
    gh_buf_puts(&b, "\nactive=k1\nindex=");
    if (!e) e = random_hex(&b, errstr, errstr_size);
    gh_buf_puts(&b, "\n");
    if (!e) e = write_file(path, &b, 0, errstr, errstr_size);
    OPENSSL_cleanse(b.data, b.len);
    gh_buf_free(&b);
    return e;
}

gh_err_t gh_crypt_add_key(const char *path, char *kid_out, char *errstr,
                          size_t errstr_size) {
    gh_crypt_t *c = gh_crypt_new(path, errstr, errstr_size);
    if (!c) return GH_ERR_CONFIG;
    /* k<n>: the next number no key uses. */
    int next = 1;
    for (int i = 0; i < c->ring.n; i++) {
        const char *id = c->ring.k[i].id;
        if (id[0] == 'k' && id[1] >= '1' && id[1] <= '9' &&
            strspn(id + 1, "0123456789") == strlen(id + 1)) {
            int v = atoi(id + 1);
            if (v >= next) next = v + 1;
        }
    }
    gh_crypt_destroy(c);
    size_t len = 0;
    char *text = gh_read_file(path, &len);
    if (!text)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "%s: %s", path,
                         strerror(errno));
    gh_buf_t b = {0};
    /* Every line but active=; then the new key and the new active=. */
    for (char *line = text, *nl; *line; line = nl) {
        nl = strchr(line, '\n');
        nl = nl ? nl + 1 : line + strlen(line);
        const char *t = line;
        while (*t == ' ' || *t == '\t')
            t++;
        if (!strncmp(t, "active", 6) && strchr(" \t=", t[6])) continue;
        gh_buf_append(&b, line, (size_t)(nl - line));
    }
    OPENSSL_cleanse(text, len);
    free(text);
    if (b.len && b.data[b.len - 1] != '\n') gh_buf_puts(&b, "\n");
    snprintf(kid_out, GH_CRYPT_KID_MAX + 1, "k%d", next);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    gh_buf_printf(&b, "# %s added %s\nkey.%s=", kid_out, when, kid_out);
    gh_err_t e = random_hex(&b, errstr, errstr_size);
    gh_buf_printf(&b, "\nactive=%s\n", kid_out);
    if (!e) e = write_file(path, &b, 1, errstr, errstr_size);
    OPENSSL_cleanse(b.data, b.len);
    gh_buf_free(&b);
    return e;
}
