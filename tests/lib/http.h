/* An HTTP client for the tests of `gridhub api` (libcurl, one request at
 * a time): the answer's status, JSON body and header lines. */
#ifndef GH_TEST_HTTP_H
#define GH_TEST_HTTP_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

typedef struct gh_test_http {
    CURLcode rc;   /* CURLE_OK unless the transfer itself failed */
    long status;   /* 0 when there was no answer */
    json_t *body;  /* owned; NULL when the body is not JSON */
    char *headers; /* owned; the answer's header lines, "" if none */
} gh_test_http_t;

/* What to send; every member may be 0/NULL. */
typedef struct gh_test_http_req {
    const char *method;       /* NULL: GET */
    const char *token;        /* bearer token; NULL: no Authorization */
    const char *content_type; /* Content-Type header, if set */
    const char *body;         /* request body, sent as it is */
    const char *cainfo;       /* CA file to trust (HTTPS) */
    const char *extra_header; /* one more header line */
    int chunked;              /* send the body chunked, without a length */
    long timeout_ms;          /* 0: 20 s */
} gh_test_http_req_t;

/* Sends one request to url; free the answer with gh_test_http_clear. */
gh_test_http_t gh_test_http(const char *url, const gh_test_http_req_t *req);
void gh_test_http_clear(gh_test_http_t *r);

/* n GETs of url with `token` at once (libcurl's multi interface, at most
 * 64): how many answers `ok` (status, body parsed as JSON or NULL, ctx)
 * accepted. */
int gh_test_http_concurrent(const char *url, const char *token, int n,
                            int (*ok)(long status, json_t *body, void *ctx),
                            void *ctx);

/* The JSON error's code and message ({"error": {...}}); NULL / "" when
 * the answer is not one. Borrowed from r. */
const char *gh_test_http_code(const gh_test_http_t *r);
const char *gh_test_http_message(const gh_test_http_t *r);

/* The value of header `name` (case-insensitive) trimmed into out; 0 when
 * absent. */
int gh_test_http_header(const gh_test_http_t *r, const char *name, char *out,
                        size_t size);

/* Writes <dir>/hub.properties for `gridhub api` and `gridhub token` on
 * test database `db`: one subscriber (zongzhi, every person, names in
 * clear) with its policy and key files beside it. Returns its path
 * (caller frees). */
char *gh_test_api_conf(const char *dir, const char *db);

struct gh_test_stack;
/* The -X properties `gridhub api` and `gridhub token` take from a stack
 * (broker, source topics, policy and its keys), into x[0..3]; the caller
 * frees each. */
void gh_test_stack_hub_props(struct gh_test_stack *s, char *x[4]);

/* A token made with `gridhub token create` on the stack's hub database
 * for `subscriber` and `role` (a grid_worker's bound to `grids`, else
 * NULL); fails the test if it is refused. Caller frees. */
char *gh_test_stack_token(struct gh_test_stack *s, const char *subscriber,
                          const char *role, const char *grids);

/* The token `gridhub token create` printed in `out` (it follows a line of
 * its own); fails the test if there is none. Caller frees. */
char *gh_test_token_of(const char *out);

#endif
