/* How an endpoint's URL pattern takes a path, apart from the server so
 * that the OpenAPI test matches paths exactly as the server does
 * (hub/api/server/route.c). */
#ifndef GH_API_ROUTE_H
#define GH_API_ROUTE_H

/* 1 if `url` is `pattern`, where each '*' stands for one non-empty path
 * segment; with `prefix`, anything may follow the pattern. */
int gh__api_path_matches(const char *pattern, int prefix, const char *url);

#endif
