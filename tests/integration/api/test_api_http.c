/*
 * `gridhub api` as an HTTP server, over real sockets: HTTPS with a
 * certificate made for the test (and what a wrong TLS configuration is
 * told), the rate limits per token and per client address with their
 * audit entries, and what an oversized request or a client that stops
 * halfway does to the others (nothing).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "harness.h"
#include "http.h"
#include "token.h"

static char *g_dir, *g_db, *g_conf, *g_log, *g_urlfile, *g_alog;
static PGconn *g_pg;
static gh_test_proc_t *g_api;

static void setup(void) {
    g_dir = gh_test_tmpdir();
    g_db = gh_test_create_db("apihttp");
    g_conf = gh_test_api_conf(g_dir, g_db);
    g_log = gh_xasprintf("%s/cli.log", g_dir);
    g_urlfile = gh_xasprintf("%s/api.url", g_dir);
    g_alog = gh_xasprintf("%s/api.log", g_dir);
}

static void teardown(void) {
    gh_test_proc_free(g_api);
    if (g_pg) PQfinish(g_pg);
    gh_test_drop_db(g_db);
    gh_test_rmtree(g_dir);
    free(g_dir);
    free(g_db);
    free(g_conf);
    free(g_log);
    free(g_urlfile);
    free(g_alog);
}

TestSuite(api_http, .init = setup, .fini = teardown, .timeout = 120);

/* A new token for subscriber zongzhi (caller frees). */
static char *new_token(void) {
    remove(g_log);
    const char *argv[] = {GH_BINARY, "token",  "-c",
                          g_conf,    "create", "--token-subscriber",
                          "zongzhi", NULL};
    int rc = gh_test_run(argv, g_log, 30000);
    char *out = gh_test_file_tail(g_log, 8192);
    cr_assert_eq(rc, 0, "token create: exit %d: %s", rc, out);
    char *tok = gh_test_token_of(out);
    free(out);
    return tok;
}

/* Runs `openssl ARGS...` (a NULL-terminated list); asserts success. */
static void openssl(const char *const *args) {
    const char *argv[40] = {"openssl"};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char *log = gh_xasprintf("%s/openssl.log", g_dir);
    int rc = gh_test_run(argv, log, 30000);
    char *tail = gh_test_file_tail(log, 2000);
    cr_assert_eq(rc, 0, "openssl %s: exit %d: %s", args[0], rc, tail);
    free(tail);
    free(log);
}

/* A self-signed P-256 certificate for 127.0.0.1 in dir/<name>.crt and its
 * key in dir/<name>.key (mode 0600). */
static void make_cert(const char *name) {
    char *crt = gh_xasprintf("%s/%s.crt", g_dir, name);
    char *key = gh_xasprintf("%s/%s.key", g_dir, name);
    const char *args[] = {"req",
                          "-x509",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:prime256v1",
                          "-nodes",
                          "-days",
                          "1",
                          "-subj",
                          "/CN=127.0.0.1",
                          "-addext",
                          "subjectAltName=IP:127.0.0.1",
                          "-keyout",
                          key,
                          "-out",
                          crt,
                          NULL};
    openssl(args);
    chmod(key, 0600);
    free(crt);
    free(key);
}

/* Starts `gridhub api -c conf --api-listen 127.0.0.1:0` with the extra
 * arguments (NULL-terminated) into g_api; its base URL (caller frees). */
static char *start_api(const char *const *extra) {
    const char *argv[40] = {GH_BINARY,
                            "api",
                            "-c",
                            g_conf,
                            "--api-listen",
                            "127.0.0.1:0",
                            "--api-listen-file",
                            g_urlfile};
    int n = 8;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    g_api = gh_test_spawn(argv, g_alog);
    return gh_test_listen_url(g_urlfile, g_alog, 30000);
}

/* Runs `gridhub api` with `extra` expecting it to refuse to start: its
 * exit status must be non-zero and its log hold `needle`. */
static void refuses_to_start(const char *const *extra, const char *needle) {
    const char *argv[40] = {GH_BINARY, "api",          "-c",
                            g_conf,    "--api-listen", "127.0.0.1:0"};
    int n = 6;
    for (int i = 0; extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    remove(g_log);
    int rc = gh_test_run(argv, g_log, 30000);
    char *out = gh_test_file_tail(g_log, 4000);
    cr_assert_neq(rc, 0, "started anyway: %s", out);
    cr_assert(strstr(out, needle), "\"%s\" not in:\n%s", needle, out);
    free(out);
}

typedef gh_test_http_t reply_t;

/* GET url with `token` as bearer (NULL: none), trusting `cainfo` (NULL:
 * the system's) and sending `extra` as one more header line (NULL:
 * none). */
static reply_t get(const char *url, const char *token, const char *cainfo,
                   const char *extra) {
    gh_test_http_req_t q = {.token = token,
                            .cainfo = cainfo,
                            .extra_header = extra,
                            .timeout_ms = 10000};
    return gh_test_http(url, &q);
}

/* The value of header `name` in r (0 if absent), as an integer. */
static long header_int(const reply_t *r, const char *name) {
    char v[64];
    return gh_test_http_header(r, name, v, sizeof(v)) ? atol(v) : 0;
}

/* ---- TLS ----------------------------------------------------------------- */

Test(api_http, whoami_over_https) {
    make_cert("api");
    char *tok = new_token();
    char *crt = gh_xasprintf("%s/api.crt", g_dir);
    char *key = gh_xasprintf("%s/api.key", g_dir);
    const char *extra[] = {"--api-tls-cert-file", crt, "--api-tls-key-file",
                           key, NULL};
    char *base = start_api(extra);
    cr_assert_eq(strncmp(base, "https://127.0.0.1:", 18), 0,
                 "api.listen.file says %s", base);
    char *url = gh_xasprintf("%s/v1/whoami", base);

    reply_t r = get(url, tok, crt, NULL);
    cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.body, "subscriber")),
                     "zongzhi");
    gh_test_http_clear(&r);

    /* Without trusting the certificate: refused by the client, so it was
     * a real TLS handshake with that certificate. */
    r = get(url, tok, NULL, NULL);
    cr_assert_eq(r.rc, CURLE_PEER_FAILED_VERIFICATION,
                 "without the certificate trusted: %s",
                 curl_easy_strerror(r.rc));
    gh_test_http_clear(&r);

    /* Plain HTTP to the TLS port gets no HTTP answer. */
    char *plain = gh_xasprintf("http://%s/v1/whoami", base + 8);
    r = get(plain, tok, NULL, NULL);
    cr_assert_neq(r.rc, CURLE_OK, "plain HTTP answered: %ld", r.status);
    cr_assert_eq(r.status, 0);
    gh_test_http_clear(&r);

    /* A client that connects and never says hello holds nobody up. */
    int port = atoi(strrchr(base, ':') + 1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int64_t t0 = gh_now_ms();
    r = get(url, tok, crt, NULL);
    cr_assert_eq(r.status, 200, "beside a silent connection: %ld (%s)",
                 r.status, curl_easy_strerror(r.rc));
    cr_assert_lt(gh_now_ms() - t0, 3000, "held up by a silent connection");
    gh_test_http_clear(&r);
    close(s);

    cr_assert_eq(gh_test_stop(g_api, 10000), 0, "stops on SIGTERM");
    free(plain);
    free(url);
    free(base);
    free(key);
    free(crt);
    free(tok);
}

Test(api_http, tls_configuration_errors_name_the_property) {
    make_cert("a");
    make_cert("b");
    char *crt = gh_xasprintf("%s/a.crt", g_dir);
    char *key = gh_xasprintf("%s/a.key", g_dir);
    char *other = gh_xasprintf("%s/b.key", g_dir);
    char *missing = gh_xasprintf("%s/nothing.crt", g_dir);
    char *open_key = gh_xasprintf("%s/open.key", g_dir);
    char *notpem = gh_xasprintf("%s/not.crt", g_dir);
    gh_test_write_file(notpem, "this is no certificate\n");
    char *k = gh_read_file(key, NULL);
    gh_test_write_file(open_key, "%s", k);
    free(k);
    chmod(open_key, 0644);

    const char *only_cert[] = {"--api-tls-cert-file", crt, NULL};
    refuses_to_start(only_cert,
                     "api.tls.cert.file is set without api.tls.key.file");
    const char *only_key[] = {"--api-tls-key-file", key, NULL};
    refuses_to_start(only_key,
                     "api.tls.key.file is set without api.tls.cert.file");
    const char *no_file[] = {"--api-tls-cert-file", missing,
                             "--api-tls-key-file", key, NULL};
    refuses_to_start(no_file, "api.tls.cert.file: cannot read");
    const char *readable[] = {"--api-tls-cert-file", crt, "--api-tls-key-file",
                              open_key, NULL};
    refuses_to_start(readable, "api.tls.key.file: ");
    refuses_to_start(readable, "open to group or others (mode 644)");
    const char *mismatch[] = {"--api-tls-cert-file", crt, "--api-tls-key-file",
                              other, NULL};
    refuses_to_start(mismatch, "is not the key of api.tls.cert.file");
    const char *garbage[] = {"--api-tls-cert-file", notpem,
                             "--api-tls-key-file", key, NULL};
    refuses_to_start(garbage, "api.tls.cert.file: ");
    refuses_to_start(garbage, "is not a PEM certificate");

    free(crt);
    free(key);
    free(other);
    free(missing);
    free(open_key);
    free(notpem);
}

Test(api_http, encrypted_key_with_a_password_file) {
    make_cert("api");
    char *crt = gh_xasprintf("%s/api.crt", g_dir);
    char *key = gh_xasprintf("%s/api.key", g_dir);
    char *enc = gh_xasprintf("%s/enc.key", g_dir);
    char *pass = gh_xasprintf("%s/pass", g_dir);
    char *passin = gh_xasprintf("file:%s", pass);
    gh_test_write_file(pass, "correct horse\n");
    chmod(pass, 0600);
    const char *args[] = {"pkcs8",    "-topk8", "-in", key,
                          "-out",     enc,      "-v2", "aes-256-cbc",
                          "-passout", passin,   NULL};
    openssl(args);
    chmod(enc, 0600);

    const char *no_pass[] = {"--api-tls-cert-file", crt, "--api-tls-key-file",
                             enc, NULL};
    refuses_to_start(no_pass, "api.tls.key.password.file");
    char *wrong = gh_xasprintf("%s/wrong", g_dir);
    gh_test_write_file(wrong, "battery staple\n");
    chmod(wrong, 0600);
    const char *bad_pass[] = {"--api-tls-cert-file",
                              crt,
                              "--api-tls-key-file",
                              enc,
                              "--api-tls-key-password-file",
                              wrong,
                              NULL};
    refuses_to_start(bad_pass, "api.tls.key.password.file does not open it");

    char *tok = new_token();
    const char *extra[] = {"--api-tls-cert-file",
                           crt,
                           "--api-tls-key-file",
                           enc,
                           "--api-tls-key-password-file",
                           pass,
                           NULL};
    char *base = start_api(extra);
    char *url = gh_xasprintf("%s/v1/whoami", base);
    reply_t r = get(url, tok, crt, NULL);
    cr_assert_eq(r.status, 200, "%ld (%s)", r.status, curl_easy_strerror(r.rc));
    gh_test_http_clear(&r);
    cr_assert_eq(gh_test_stop(g_api, 10000), 0);
    free(url);
    free(base);
    free(tok);
    free(wrong);
    free(passin);
    free(pass);
    free(enc);
    free(key);
    free(crt);
}

Test(api_http, plain_http_off_loopback_warns) {
    /* Bound to every address (reached here through 127.0.0.1). */
    const char *argv[] = {GH_BINARY,
                          "api",
                          "-c",
                          g_conf,
                          "--api-listen",
                          "0.0.0.0:0",
                          "--api-listen-file",
                          g_urlfile,
                          NULL};
    g_api = gh_test_spawn(argv, g_alog);
    char *line = gh_test_wait_for_text(g_alog, "travel in clear", 30000);
    cr_assert_not_null(line, "no warning; log:\n%s",
                       gh_test_file_tail(g_alog, 3000));
    cr_assert(strstr(line, "WARN") && strstr(line, "api.listen=0.0.0.0:0"),
              "%s", line);
    free(line);
    cr_assert_eq(gh_test_stop(g_api, 10000), 0);
    /* On loopback, no warning. */
    gh_test_proc_free(g_api);
    g_api = NULL;
    remove(g_alog);
    char *base = start_api(NULL);
    char *log = gh_test_file_tail(g_alog, 8000);
    cr_assert_null(strstr(log, "travel in clear"), "%s", log);
    free(log);
    cr_assert_eq(gh_test_stop(g_api, 10000), 0);
    free(base);
}

/* ---- rate limits --------------------------------------------------------- */

Test(api_http, rate_limit_per_token) {
    char *a = new_token(), *b = new_token();
    const char *extra[] = {"--api-rate-limit-per-second", "2",
                           "--api-rate-limit-burst", "3", NULL};
    char *base = start_api(extra);
    char *url = gh_xasprintf("%s/v1/whoami", base);
    for (int i = 0; i < 3; i++) {
        reply_t r = get(url, a, NULL, NULL);
        cr_assert_eq(r.status, 200, "request %d of the burst: %ld", i,
                     r.status);
        gh_test_http_clear(&r);
    }
    for (int i = 0; i < 5; i++) {
        reply_t r = get(url, a, NULL, NULL);
        cr_assert_eq(r.status, 429, "request %d past the burst: %ld", i,
                     r.status);
        cr_assert_str_eq(gh_test_http_code(&r), "rate_limited");
        long after = header_int(&r, "Retry-After");
        cr_assert_eq(after, 1, "Retry-After: %ld in\n%s", after, r.headers);
        gh_test_http_clear(&r);
    }
    reply_t r = get(url, b, NULL, NULL);
    cr_assert_eq(r.status, 200, "another token is not limited: %ld", r.status);
    gh_test_http_clear(&r);
    usleep(1100 * 1000);
    r = get(url, a, NULL, NULL);
    cr_assert_eq(r.status, 200, "a second later: %ld", r.status);
    gh_test_http_clear(&r);

    /* Five refusals: the first of each second written with why, the rest
     * counted (in the next entry, or in the one the next pass writes). */
    g_pg = gh_test_pg_connect(g_db);
    char id[GH_TOKEN_ID_LEN + 1];
    snprintf(id, sizeof(id), "%.*s", GH_TOKEN_ID_LEN, a + 3);
    long written = gh_test_count(g_pg,
                                 "SELECT count(*) FROM audit_log WHERE kind "
                                 "= 'refused' AND entry::jsonb ->> 'token' = "
                                 "'%s' AND entry::jsonb ->> 'why' LIKE 'rate "
                                 "limit: more than 2 requests a second%%'",
                                 id);
    cr_assert(written >= 1 && written < 5, "refusals written one by one: %ld",
              written);
    long counted = gh_test_count(g_pg,
                                 "SELECT coalesce(sum((entry::jsonb ->> "
                                 "'unreported')::int), 0) FROM audit_log "
                                 "WHERE kind = 'refused' AND entry::jsonb "
                                 "->> 'token' = '%s'",
                                 id);
    cr_assert_eq(written + counted, 5, "written %ld + counted %ld", written,
                 counted);
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'refused' AND NOT entry::jsonb @> "
                               "'{\"command\": \"api\", \"subscriber\": "
                               "\"zongzhi\", \"path\": \"/v1/whoami\"}' AND "
                               "entry::jsonb ->> 'token' = '%s'",
                               id),
                 0, "each with the path and the token's subscriber");
    char *warned =
        gh_test_wait_for_text(g_alog, "rate limit: more than 2", 1000);
    cr_assert_not_null(warned, "a warning in the log");
    free(warned);
    cr_assert_eq(gh_test_stop(g_api, 10000), 0);
    free(url);
    free(base);
    free(a);
    free(b);
}

Test(api_http, failed_authentications_per_client_address) {
    char *tok = new_token();
    const char *extra[] = {"--api-rate-limit-auth-failures-per-minute", "60",
                           "--api-rate-limit-auth-failures-burst", "3", NULL};
    char *base = start_api(extra);
    char *url = gh_xasprintf("%s/v1/whoami", base);
    reply_t r = get(url, tok, NULL, NULL);
    cr_assert_eq(r.status, 200, "a good token passes: %ld", r.status);
    gh_test_http_clear(&r);
    const char *bad[] = {NULL, "gh_nonsense",
                         "gh_ffffffff_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_"
                         "abcde"};
    for (int i = 0; i < 3; i++) {
        r = get(url, bad[i], NULL, NULL);
        cr_assert_eq(r.status, 401, "failure %d: %ld", i, r.status);
        gh_test_http_clear(&r);
    }
    /* Past the burst, the address is refused before its token is read:
     * even a good one (docs/api.md says why). */
    r = get(url, "gh_nonsense", NULL, NULL);
    cr_assert_eq(r.status, 429, "a fourth failure: %ld", r.status);
    cr_assert_str_eq(gh_test_http_code(&r), "rate_limited");
    cr_assert_eq(header_int(&r, "Retry-After"), 1, "%s", r.headers);
    gh_test_http_clear(&r);
    r = get(url, tok, NULL, NULL);
    cr_assert_eq(r.status, 429, "the address is limited: %ld", r.status);
    gh_test_http_clear(&r);
    usleep(1100 * 1000);
    r = get(url, tok, NULL, NULL);
    cr_assert_eq(r.status, 200, "one failure a second refills: %ld", r.status);
    gh_test_http_clear(&r);

    g_pg = gh_test_pg_connect(g_db);
    cr_assert_eq(gh_test_count(g_pg,
                               "SELECT count(*) FROM audit_log WHERE kind = "
                               "'refused' AND entry::jsonb ->> 'client' = "
                               "'127.0.0.1' AND entry::jsonb ->> 'why' LIKE "
                               "'rate limit: more than 60 failed%%'"),
                 1, "the first refusal written");
    cr_assert_eq(gh_test_count(g_pg, "SELECT coalesce(sum((entry::jsonb ->> "
                                     "'unreported')::int), 0) FROM audit_log "
                                     "WHERE entry::jsonb ->> 'client' = "
                                     "'127.0.0.1'"),
                 1, "the second counted when the address passed again");
    cr_assert_eq(gh_test_stop(g_api, 10000), 0);
    free(url);
    free(base);
    free(tok);
}

/* ---- hardening ----------------------------------------------------------- */

Test(api_http, oversized_headers_and_a_client_stopping_halfway) {
    char *tok = new_token();
    char *base = start_api(NULL);
    char *url = gh_xasprintf("%s/v1/whoami", base);

    /* 100 KiB of header against 64 KiB a connection: an HTTP error, and
     * the server goes on. */
    size_t big = 100 * 1024;
    char *h = malloc(big + 16);
    memcpy(h, "X-Big: ", 7);
    memset(h + 7, 'a', big);
    h[7 + big] = '\0';
    reply_t r = get(url, tok, NULL, h);
    cr_assert_eq(r.status, 431, "a 100 KiB header: %ld (%s)", r.status,
                 curl_easy_strerror(r.rc));
    gh_test_http_clear(&r);
    free(h);
    char *long_url = malloc(big + 64);
    snprintf(long_url, 64, "%s/v1/whoami?x=", base);
    size_t ul = strlen(long_url);
    memset(long_url + ul, 'b', big);
    long_url[ul + big] = '\0';
    r = get(long_url, tok, NULL, NULL);
    cr_assert_eq(r.status, 414, "a 100 KiB URL: %ld (%s)", r.status,
                 curl_easy_strerror(r.rc));
    gh_test_http_clear(&r);
    free(long_url);
    r = get(url, tok, NULL, NULL);
    cr_assert_eq(r.status, 200, "still serving: %ld", r.status);
    gh_test_http_clear(&r);

    /* Half a request, then silence: the others are answered at once, and
     * the silent one is closed after the 10 s timeout. */
    int port = atoi(strrchr(base, ':') + 1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char half[] = "GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuth";
    cr_assert_eq(send(s, half, sizeof(half) - 1, 0), (ssize_t)sizeof(half) - 1);
    int64_t t0 = gh_now_ms();
    for (int i = 0; i < 5; i++) {
        r = get(url, tok, NULL, NULL);
        cr_assert_eq(r.status, 200, "beside a stalled request: %ld", r.status);
        gh_test_http_clear(&r);
    }
    cr_assert_lt(gh_now_ms() - t0, 3000, "held up by a stalled request");
    struct pollfd p = {.fd = s, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, 15000), 1, "the stalled connection not closed");
    char buf[512];
    ssize_t n = recv(s, buf, sizeof(buf), 0);
    cr_assert_leq(n, 0, "closed without an answer, got %zd bytes", n);
    cr_assert_geq(gh_now_ms() - t0, 8000, "closed before the timeout");
    close(s);

    cr_assert_eq(gh_test_stop(g_api, 10000), 0);
    free(url);
    free(base);
    free(tok);
}
