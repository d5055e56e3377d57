/* See route.h. */
#include "route.h"

#include <string.h>

int gh__api_path_matches(const char *pattern, int prefix, const char *url) {
    const char *p = pattern, *u = url;
    while (*p) {
        if (*p == '*') {
            size_t n = strcspn(u, "/");
            if (!n) return 0;
            u += n;
            p++;
        } else if (*p++ != *u++) {
            return 0;
        }
    }
    return prefix || !*u;
}
