#include "util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gh_fuzz_fail(const char *file, int line, const char *cond, const char *fmt,
                  ...) {
    va_list ap;
    fprintf(stderr, "%s:%d: invariant violated: %s\n  ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void gh_fuzz_verbose(const char *fmt, ...) {
    static int on = -1;
    if (on < 0) on = getenv("GH_FUZZ_VERBOSE") != NULL;
    if (!on) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

gh_schemas_t *gh_fuzz_schemas(void) {
    static gh_schemas_t *set;
    if (!set) {
        char err[512];
        if (gh_schemas_load_dir(&set, GH_SCHEMAS_DIR, err, sizeof(err))) {
            fprintf(stderr, "fuzz: cannot load %s: %s\n", GH_SCHEMAS_DIR, err);
            exit(2);
        }
    }
    return set;
}

static char g_dir[64];

static void remove_dir(void) {
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[sizeof(g_dir) + 256];
        snprintf(path, sizeof(path), "%s/%s", g_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(g_dir);
}

const char *gh_fuzz_write_file(const char *name, const void *data,
                               size_t size) {
    static char path[sizeof(g_dir) + 256];
    if (!g_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_dir, sizeof(g_dir), "%s/gh-fuzz.XXXXXX",
                 tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
        if (!mkdtemp(g_dir)) {
            perror("fuzz: mkdtemp");
            exit(2);
        }
        atexit(remove_dir);
    }
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f)) {
        perror(path);
        exit(2);
    }
    return path;
}

size_t gh_fuzz_copy_field_end(const uint8_t *s, size_t i, size_t len) {
    while (i < len && s[i] != '\t')
        i += s[i] == '\\' && i + 1 < len ? 2 : 1;
    return i;
}

int gh_fuzz_utf8_ok(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char b = s[i];
        size_t n;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xE0) == 0xC0) {
            n = 2, cp = b & 0x1F, min = 0x80;
        } else if ((b & 0xF0) == 0xE0) {
            n = 3, cp = b & 0x0F, min = 0x800;
        } else if ((b & 0xF8) == 0xF0) {
            n = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i < n) return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n;
    }
    return 1;
}
