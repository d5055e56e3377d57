/* See http.h. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "gridhub/util.h"
#include "harness.h"
#include "stack.h"
#include "token.h"

static size_t collect(char *p, size_t size, size_t n, void *opaque) {
    gh_buf_append(opaque, p, size * n);
    return size * n;
}

gh_test_http_t gh_test_http(const char *url, const gh_test_http_req_t *req) {
    static const gh_test_http_req_t none = {0};
    if (!req) req = &none;
    gh_test_http_t r = {0};
    gh_buf_t b = {0}, h = {0};
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    char *auth = NULL, *ct = NULL;
    if (req->token) {
        auth = gh_xasprintf("Authorization: Bearer %s", req->token);
        hl = curl_slist_append(hl, auth);
    }
    if (req->content_type) {
        ct = gh_xasprintf("Content-Type: %s", req->content_type);
        hl = curl_slist_append(hl, ct);
    }
    if (req->chunked) hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    if (req->extra_header) hl = curl_slist_append(hl, req->extra_header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST,
                     req->method ? req->method : "GET");
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms ? req->timeout_ms : 20000L);
    if (req->cainfo) curl_easy_setopt(c, CURLOPT_CAINFO, req->cainfo);
    r.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    free(auth);
    free(ct);
    char *text = gh_buf_detach(&b);
    r.body = json_loads(text ? text : "", 0, NULL);
    free(text);
    r.headers = gh_buf_detach(&h);
    if (!r.headers) r.headers = gh_xstrdup("");
    return r;
}

void gh_test_http_clear(gh_test_http_t *r) {
    json_decref(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

int gh_test_http_concurrent(const char *url, const char *token, int n,
                            int (*ok)(long status, json_t *body, void *ctx),
                            void *ctx) {
    CURLM *m = curl_multi_init();
    CURL *h[64];
    gh_buf_t b[64];
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    cr_assert_leq(n, 64);
    for (int i = 0; i < n; i++) {
        memset(&b[i], 0, sizeof(b[i]));
        h[i] = curl_easy_init();
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &b[i]);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT_MS, 20000L);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    int good = 0;
    for (int i = 0; i < n; i++) {
        long st = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
        gh_buf_append(&b[i], "", 1);
        json_t *body = json_loads(b[i].data, 0, NULL);
        good += ok(st, body, ctx) != 0;
        json_decref(body);
        gh_buf_free(&b[i]);
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
    }
    curl_slist_free_all(hdr);
    curl_multi_cleanup(m);
    return good;
}

const char *gh_test_http_code(const gh_test_http_t *r) {
    return json_string_value(
        json_object_get(json_object_get(r->body, "error"), "code"));
}

const char *gh_test_http_message(const gh_test_http_t *r) {
    const char *m = json_string_value(
        json_object_get(json_object_get(r->body, "error"), "message"));
    return m ? m : "";
}

int gh_test_http_header(const gh_test_http_t *r, const char *name, char *out,
                        size_t size) {
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            const char *v = p + n + 1, *end = strpbrk(v, "\r\n");
            while (*v == ' ' || *v == '\t')
                v++;
            size_t len = end ? (size_t)(end - v) : strlen(v);
            while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                len--;
            snprintf(out, size, "%.*s", (int)len, v);
            return 1;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return 0;
}

char *gh_test_token_of(const char *out) {
    const char *t = strstr(out, "\ngh_");
    cr_assert_not_null(t, "no token in: %s", out);
    return gh_xstrndup(t + 1, GH_TOKEN_LEN);
}

char *gh_test_api_conf(const char *dir, const char *db) {
    char *policy = gh_xasprintf("%s/t.policy", dir);
    gh_test_write_file(policy, "subscriber.zongzhi.department=zongzhi\n"
                               "subscriber.zongzhi.role=grid-management\n"
                               "rows.zongzhi.person=all\n"
                               "field.zongzhi.person.name=clear\n");
    char *keys = gh_xasprintf("%s/t.keys", dir);
    gh_test_write_file(keys, "zongzhi=%s\n",
                       "00112233445566778899aabbccddeeff"
                       "00112233445566778899aabbccddeeff");
    chmod(keys, 0600);
    char *conf = gh_xasprintf("%s/hub.properties", dir);
    char *ci = gh_test_conninfo(db);
    gh_test_write_file(conf,
                       "database.conninfo=%s\n"
                       "bootstrap.servers=127.0.0.1:9\n"
                       "source.topics=gridhub.zongzhi.person\n"
                       "policy.file=%s\n"
                       "policy.keys.file=%s\n",
                       ci, policy, keys);
    free(keys);
    free(ci);
    free(policy);
    return conf;
}

void gh_test_stack_hub_props(struct gh_test_stack *s, char *x[4]) {
    x[0] = gh_xasprintf("bootstrap.servers=%s", s->bootstrap);
    x[1] = gh_xstrdup("source.topics=gridhub.test.person");
    x[2] = gh_xasprintf("policy.file=%s", s->policy);
    x[3] = gh_xasprintf("policy.keys.file=%s", s->keys);
}

char *gh_test_stack_token(struct gh_test_stack *s, const char *subscriber,
                          const char *role, const char *grids) {
    char *x[5];
    gh_test_stack_hub_props(s, x);
    x[4] = grids ? gh_xasprintf("token.grids=%s", grids) : NULL;
    const char *args[] = {"create",   "-X",
                          x[0],       "-X",
                          x[1],       "-X",
                          x[2],       "-X",
                          x[3],       "--token-subscriber",
                          subscriber, "--token-role",
                          role,       x[4] ? "-X" : NULL,
                          x[4],       NULL};
    char *out = NULL;
    int rc = gh_test_stack_cli(s, "token", s->hub_db, args, &out);
    cr_assert_eq(rc, 0, "token create %s %s: exit %d: %s", subscriber, role, rc,
                 out);
    char *tok = gh_test_token_of(out);
    free(out);
    for (int i = 0; i < 5; i++)
        free(x[i]);
    return tok;
}
