/* gh_api_load: an open-loop HTTP load generator for `gridhub api`.
 *
 *   gh_api_load --url http://127.0.0.1:8080 --token gh_... --paths FILE
 *               [--rate 1000] [--seconds 20] [--connections 32]
 *
 * Request i is due at start + i/rate whatever the server does, and its
 * latency is counted from that moment, not from when it could be sent: a
 * server that falls behind shows it in the percentiles (no coordinated
 * omission, unlike a closed-loop tool such as ab or wrk). The paths are
 * taken in turn from FILE (one per line). Prints the requests sent, the
 * rate achieved, the statuses and the latency percentiles.
 *
 * libcurl's multi interface keeps at most --connections requests in
 * flight, each on a kept-alive connection. */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct slot {
    CURL *h;
    int64_t due_us;
    int busy;
} slot_t;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
    (void)p;
    (void)ud;
    return size * n;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static char **read_paths(const char *file, size_t *n) {
    FILE *f = fopen(file, "r");
    if (!f) return NULL;
    char **v = NULL, line[4096];
    size_t cap = 0;
    *n = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            v = realloc(v, cap * sizeof(*v));
            if (!v) abort();
        }
        v[(*n)++] = strdup(line);
    }
    fclose(f);
    return v;
}

static void usage(void) {
    fprintf(stderr, "usage: gh_api_load --url BASE --token TOKEN --paths FILE "
                    "[--rate N] [--seconds N] [--connections N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *url = NULL, *token = NULL, *pfile = NULL;
    double rate = 1000, seconds = 20;
    int conns = 32;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--url"))
            url = argv[++i];
        else if (!strcmp(argv[i], "--token"))
            token = argv[++i];
        else if (!strcmp(argv[i], "--paths"))
            pfile = argv[++i];
        else if (!strcmp(argv[i], "--rate"))
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--connections"))
            conns = atoi(argv[++i]);
        else
            usage();
    }
    if (!url || !token || !pfile || rate <= 0 || seconds <= 0 || conns < 1 ||
        conns > 1024)
        usage();
    size_t npaths = 0;
    char **paths = read_paths(pfile, &npaths);
    if (!paths || !npaths) {
        fprintf(stderr, "gh_api_load: no paths in %s\n", pfile);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    char auth[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    slot_t *slots = calloc((size_t)conns, sizeof(*slots));
    for (int i = 0; i < conns; i++) {
        slots[i].h = curl_easy_init();
        curl_easy_setopt(slots[i].h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(slots[i].h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(slots[i].h, CURLOPT_TIMEOUT_MS, 10000L);
    }
    size_t total = (size_t)(rate * seconds);
    int64_t *lat = calloc(total, sizeof(*lat));
    long statuses[600] = {0}, failed = 0;
    size_t sent = 0, done = 0;
    int64_t start = now_us();
    char full[8192];
    while (done < total) {
        int64_t now = now_us();
        /* Start every request that is due, as far as a slot is free. */
        while (sent < total &&
               start + (int64_t)((double)sent * 1e6 / rate) <= now) {
            slot_t *s = NULL;
            for (int i = 0; i < conns && !s; i++)
                if (!slots[i].busy) s = &slots[i];
            if (!s) break; /* all busy: it waits, and its wait counts */
            s->busy = 1;
            s->due_us = start + (int64_t)((double)sent * 1e6 / rate);
            snprintf(full, sizeof(full), "%s%s", url, paths[sent % npaths]);
            curl_easy_setopt(s->h, CURLOPT_URL, full);
            curl_multi_add_handle(m, s->h);
            sent++;
        }
        int running = 0;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            slot_t *s;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            int64_t t = now_us();
            if (msg->data.result != CURLE_OK) {
                failed++;
            } else {
                long st = 0;
                curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &st);
                statuses[st >= 0 && st < 600 ? st : 0]++;
            }
            lat[done++] = t - s->due_us;
            curl_multi_remove_handle(m, s->h);
            s->busy = 0;
        }
        /* Sleep until the next request is due or an answer arrives. */
        int64_t next = sent < total
                           ? start + (int64_t)((double)sent * 1e6 / rate)
                           : now_us() + 1000;
        int64_t wait_ms = (next - now_us()) / 1000;
        if (wait_ms < 0) wait_ms = 0;
        curl_multi_poll(m, NULL, 0, (int)(wait_ms > 100 ? 100 : wait_ms), NULL);
    }
    double secs = (double)(now_us() - start) / 1e6;
    qsort(lat, done, sizeof(*lat), cmp64);
#define PCT(p) (lat[(size_t)((double)(done - 1) * (p))] / 1000.0)
    printf("requests %zu in %.2f s (%.0f/s; asked %.0f/s), %d connections\n",
           done, secs, (double)done / secs, rate, conns);
    printf("statuses:");
    for (int i = 0; i < 600; i++)
        if (statuses[i]) printf(" %d x%ld", i, statuses[i]);
    printf("%s", failed ? "" : "\n");
    if (failed) printf(", transport errors x%ld\n", failed);
    printf("latency ms (from when each request was due): p50 %.2f  p90 %.2f  "
           "p99 %.2f  p99.9 %.2f  max %.2f\n",
           PCT(0.50), PCT(0.90), PCT(0.99), PCT(0.999), PCT(1.0));
    for (int i = 0; i < conns; i++)
        curl_easy_cleanup(slots[i].h);
    curl_slist_free_all(hdr);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    for (size_t i = 0; i < npaths; i++)
        free(paths[i]);
    free(paths);
    free(slots);
    free(lat);
    return failed ? 1 : 0;
}
