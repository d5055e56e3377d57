#include "copy_text.h"

#include <string.h>

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int gh_copy_text_split(char *line, size_t len, gh_pgo_value_t *vals,
                       int ncols) {
    if (len && line[len - 1] == '\n') len--;
    char *p = line, *end = line + len;
    int col = 0;
    for (;;) {
        char *start = p, *out = p;
        int is_null = 0;
        if (end - p >= 2 && p[0] == '\\' && p[1] == 'N' &&
            (p + 2 == end || p[2] == '\t')) {
            is_null = 1;
            p += 2;
        } else {
            while (p < end && *p != '\t') {
                if (*p != '\\' || p + 1 >= end) {
                    *out++ = *p++;
                    continue;
                }
                char e = p[1];
                p += 2;
                switch (e) {
                case 'b':
                    *out++ = '\b';
                    break;
                case 'f':
                    *out++ = '\f';
                    break;
                case 'n':
                    *out++ = '\n';
                    break;
                case 'r':
                    *out++ = '\r';
                    break;
                case 't':
                    *out++ = '\t';
                    break;
                case 'v':
                    *out++ = '\v';
                    break;
                case 'x': {
                    int v = 0, k = 0, h;
                    while (k < 2 && p < end && (h = hexval(*p)) >= 0) {
                        v = v * 16 + h;
                        p++;
                        k++;
                    }
                    *out++ = (char)v;
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        int v = e - '0', k = 1;
                        while (k < 3 && p < end && *p >= '0' && *p <= '7') {
                            v = v * 8 + (*p - '0');
                            p++;
                            k++;
                        }
                        *out++ = (char)v;
                    } else {
                        *out++ = e;
                    }
                }
            }
        }
        if (col >= ncols) return -1;
        vals[col].kind = is_null ? GH_PGO_NULL : GH_PGO_TEXT;
        vals[col].data = is_null ? NULL : start;
        vals[col].len = is_null ? 0 : (uint32_t)(out - start);
        col++;
        if (p >= end) break;
        p++; /* tab */
    }
    return col == ncols ? 0 : -1;
}
