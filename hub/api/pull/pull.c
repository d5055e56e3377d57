/* The pull feed's thread and sessions; see pull.h. */
#include "pull.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cursor.h"
#include "gridhub/kafka.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"
#include "topicjson.h"

#define LOG "api"
/* How often the feeder looks at the sessions while requests wait: the
 * most a new message waits before its answer leaves. */
#define TICK_MS 10
/* Bounds of the Kafka requests a new session makes. */
#define METADATA_TIMEOUT_MS 2000
#define WATERMARK_TIMEOUT_MS 5000
/* A topic not there yet is looked for again this often while a request
 * waits on it; one that is, for partitions added since, less often. */
#define RECHECK_MS 1000
#define GROW_CHECK_MS 30000
/* A request whose wait is over still waits this long for messages the
 * broker is known to hold past its cursor (a new session's first fetch),
 * so that `wait=0` answers what is there rather than nothing. */
#define FIRST_FETCH_MS 5000
/* Messages one answer holds by default and at most, and a bound on its
 * size: an answer ends at the first message past it. */
#define MAX_DEFAULT 100
#define MAX_LIMIT 1000
#define ANSWER_BYTES (4 * 1024 * 1024)
/* Messages read ahead per session. */
#define READ_AHEAD 2000

/* A reader of one subscriber topic at one position. */
typedef struct session {
    char *subscriber, *entity, *topic;
    rd_kafka_t *rk;
    int n;        /* partitions assigned; 0: the topic is not there yet */
    int64_t *pos; /* per partition: the next offset an answer gives */
    int64_t *got; /* per partition: the next offset the consumer gives */
    int64_t *hi;  /* per partition: the end of the log, as last known */
    gh_topicjson_msg_t *buf; /* read, not yet answered, in arrival order */
    int nbuf, capbuf;
    char *cursor; /* pos as the cursor the last answer gave */
    int busy;     /* a request is on it */
    int64_t used_ms, checked_ms;
    /* Set when the session cannot go on (the broker lost what it was to
     * read): every request on it gets this, and it is dropped. */
    unsigned fail_status;
    const char *fail_code;
    char *fail;
} session_t;

struct gh__api_feedreq {
    char *subscriber, *entity, *topic;
    char *cursor_in; /* NULL: from the beginning */
    int64_t *offs;
    int noffs;
    int max;
    int64_t deadline_ms, give_up_ms;
    struct MHD_Connection *conn;
    session_t *s;
    struct gh__api_feedreq *next;
    /* The answer, written by the feeder before `done`. */
    atomic_int done;
    gh__api_reply_t reply;
    int nmessages;
    char *cursor_out;
};

struct gh__api_feeder {
    const gh_conf_t *conf;
    char *conninfo;
    pthread_t thread;
    int started;
    pthread_mutex_t lock; /* incoming and stopping */
    pthread_cond_t cond;
    gh__api_feedreq_t *incoming; /* newest first */
    int stopping;
    /* The feeder thread's own. */
    gh__api_feedreq_t *waiting; /* oldest first */
    session_t **sessions;
    int nsessions, max_sessions;
    int64_t idle_ms;
    gh_topicjson_t *tj;
    PGconn *db; /* view_schema, read when a schema is not known yet */
};

/* ---- requests ----------------------------------------------------------- */

gh__api_feedreq_t *gh__api_feedreq_new(gh_api_t *a, struct MHD_Connection *conn,
                                       const gh_token_info_t *who,
                                       const char *entity, gh__api_reply_t *r) {
    if (gh_policy_entity_find(a->policy, entity) < 0) {
        gh__api_error(r, MHD_HTTP_NOT_FOUND, "not_found",
                      "no feed named \"%s\": the access policy has no such "
                      "entity",
                      entity);
        return NULL;
    }
    long long wait = 0, max = MAX_DEFAULT;
    long long wait_max = gh_conf_get_int(a->conf, "api.feed.wait.max.ms");
    if (!gh__api_int_param(conn, "wait", 0, wait_max / 1000, &wait, r) ||
        !gh__api_int_param(conn, "max", 1, MAX_LIMIT, &max, r))
        return NULL;
    gh__api_feedreq_t *q = gh_xcalloc(1, sizeof(*q));
    const char *cur =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "cursor");
    char err[256];
    if (cur && gh__api_cursor_parse(cur, entity, &q->offs, &q->noffs, err,
                                    sizeof(err))) {
        gh__api_error(r, MHD_HTTP_BAD_REQUEST, "bad_cursor", "%s", err);
        free(q);
        return NULL;
    }
    q->cursor_in = cur ? gh_xstrdup(cur) : NULL;
    q->subscriber = gh_xstrdup(who->subscriber);
    q->entity = gh_xstrdup(entity);
    q->topic =
        gh_xasprintf("%s.%s.%s", gh_conf_get(a->conf, "view.topic.prefix"),
                     who->subscriber, entity);
    q->max = (int)max;
    int64_t now = gh_now_ms();
    q->deadline_ms = now + wait * 1000;
    q->give_up_ms = q->deadline_ms + FIRST_FETCH_MS;
    return q;
}

void gh__api_feedreq_free(gh__api_feedreq_t *q) {
    if (!q) return;
    free(q->subscriber);
    free(q->entity);
    free(q->topic);
    free(q->cursor_in);
    free(q->offs);
    json_decref(q->reply.body);
    free(q->cursor_out);
    free(q);
}

int gh__api_feedreq_done(const gh__api_feedreq_t *q) {
    return atomic_load_explicit(&q->done, memory_order_acquire);
}

int gh__api_feedreq_answer(gh__api_feedreq_t *q, gh__api_reply_t *r) {
    *r = q->reply;
    q->reply.body = NULL;
    return q->nmessages;
}

void gh__api_feedreq_span(const gh__api_feedreq_t *q, const char **entity,
                          const char **topic, const char **from,
                          const char **to) {
    *entity = q->entity;
    *topic = q->topic;
    *from = q->cursor_in;
    *to = q->cursor_out;
}

/* Hands the answer in q->reply back: the session is free again and the
 * connection resumes (the worker then sends it). */
static void finish(gh__api_feeder_t *f, gh__api_feedreq_t *q) {
    if (q->s) {
        q->s->busy = 0;
        q->s->used_ms = gh_now_ms();
        q->s = NULL;
    }
    gh__api_feedreq_t **pp = &f->waiting;
    while (*pp && *pp != q)
        pp = &(*pp)->next;
    if (*pp) *pp = q->next;
    q->next = NULL;
    atomic_store_explicit(&q->done, 1, memory_order_release);
    MHD_resume_connection(q->conn);
}

static void fail_req(gh__api_feeder_t *f, gh__api_feedreq_t *q, unsigned status,
                     const char *code, unsigned retry_after, const char *msg) {
    gh__api_error(&q->reply, status, code, "%s", msg);
    q->reply.retry_after = retry_after;
    finish(f, q);
}

/* ---- sessions ----------------------------------------------------------- */

static void session_free(session_t *s) {
    if (!s) return;
    if (s->rk) gh_kafka_consumer_close(s->rk, 1000);
    for (int i = 0; i < s->nbuf; i++)
        gh_topicjson_msg_clear(&s->buf[i]);
    free(s->buf);
    free(s->pos);
    free(s->got);
    free(s->hi);
    free(s->cursor);
    free(s->fail);
    free(s->subscriber);
    free(s->entity);
    free(s->topic);
    free(s);
}

/* Partitions of the topic as the cluster knows them: 0 when it does not
 * exist yet (nothing was published to that subscriber so far), -1 when
 * the cluster did not answer. */
static int partitions_of(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    rd_kafka_resp_err_t e = rd_kafka_metadata(
        rk, 0, rkt, &md, gh_shutdown_clamp_ms(METADATA_TIMEOUT_MS));
    if (!e && md->topic_cnt == 1)
        n = md->topics[0].err ? 0 : md->topics[0].partition_cnt;
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return n;
}

/* Places the session's consumer on partitions 0..n-1: at the request's
 * cursor where it names one, else at the first offset the broker holds.
 * 0, or an HTTP status with code and msg. */
static unsigned place(session_t *s, int n, const gh__api_feedreq_t *q,
                      const char **code, char *msg, size_t msg_size) {
    if (q->noffs > n) {
        *code = "bad_cursor";
        snprintf(msg, msg_size,
                 "the cursor names %d partitions; %s has %d: it was not "
                 "given by this feed",
                 q->noffs, s->topic, n);
        return MHD_HTTP_BAD_REQUEST;
    }
    int64_t *pos = gh_xcalloc((size_t)n, sizeof(*pos));
    int64_t *his = gh_xcalloc((size_t)n, sizeof(*his));
    for (int p = 0; p < n; p++) {
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            s->rk, s->topic, p, &lo, &hi,
            gh_shutdown_clamp_ms(WATERMARK_TIMEOUT_MS));
        unsigned st = 0;
        if (e) {
            *code = "unavailable";
            snprintf(msg, msg_size,
                     "the broker did not say what %s [%d] holds (%s); try "
                     "again later",
                     s->topic, p, rd_kafka_err2str(e));
            st = MHD_HTTP_SERVICE_UNAVAILABLE;
        } else if ((his[p] = hi), p >= q->noffs) {
            pos[p] = lo;
        } else if (q->offs[p] < lo) {
            *code = "cursor_expired";
            snprintf(msg, msg_size,
                     "%s [%d]: offsets %" PRId64 "..%" PRId64
                     " after the cursor are no longer held by the broker "
                     "(retention): read the feed again from the beginning "
                     "(no cursor)",
                     s->topic, p, q->offs[p], lo - 1);
            st = MHD_HTTP_GONE;
        } else if (q->offs[p] > hi) {
            *code = "bad_cursor";
            snprintf(msg, msg_size,
                     "%s [%d]: the cursor is past the end (offset %" PRId64
                     ", the partition ends at %" PRId64
                     "): it was not given by this feed",
                     s->topic, p, q->offs[p], hi);
            st = MHD_HTTP_BAD_REQUEST;
        } else {
            pos[p] = q->offs[p];
        }
        if (st) {
            free(pos);
            free(his);
            return st;
        }
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, s->topic, p)->offset = pos[p];
    rd_kafka_resp_err_t ke = rd_kafka_assign(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (ke) {
        free(pos);
        free(his);
        *code = "unavailable";
        snprintf(msg, msg_size, "%s: assign: %s", s->topic,
                 rd_kafka_err2str(ke));
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    s->n = n;
    free(s->pos);
    free(s->got);
    free(s->hi);
    s->pos = pos;
    s->hi = his;
    s->got = gh_xmalloc((size_t)n * sizeof(*s->got));
    memcpy(s->got, pos, (size_t)n * sizeof(*pos));
    free(s->cursor);
    s->cursor = gh__api_cursor_make(s->entity, s->pos, s->n);
    return 0;
}

/* A new session at q's cursor; NULL with status, code and msg. */
static session_t *session_new(gh__api_feeder_t *f, const gh__api_feedreq_t *q,
                              unsigned *status, const char **code, char *msg,
                              size_t msg_size) {
    session_t *s = gh_xcalloc(1, sizeof(*s));
    s->subscriber = gh_xstrdup(q->subscriber);
    s->entity = gh_xstrdup(q->entity);
    s->topic = gh_xstrdup(q->topic);
    s->used_ms = s->checked_ms = gh_now_ms();
    char err[512];
    /* No group is joined (assign(), not subscribe()) and nothing is
     * committed: the position is the client's cursor. */
    s->rk =
        gh_kafka_consumer_new(f->conf, "gridhub-api-feed", "gridhub-api-feed",
                              1, NULL, NULL, err, sizeof(err));
    *status = 0;
    if (!s->rk) {
        gh_log_warn(LOG, "feed consumer: %s", err);
        *code = "unavailable";
        snprintf(msg, msg_size, "the feed cannot reach Kafka; try again later");
        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
    } else {
        int n = partitions_of(s->rk, s->topic);
        if (n < 0) {
            *code = "unavailable";
            snprintf(msg, msg_size,
                     "the broker did not answer; try again later");
            *status = MHD_HTTP_SERVICE_UNAVAILABLE;
        } else if (n == 0) {
            for (int i = 0; i < q->noffs; i++)
                if (q->offs[i]) {
                    *code = "bad_cursor";
                    snprintf(msg, msg_size,
                             "the cursor names offsets of %s, which holds "
                             "nothing: it was not given by this feed",
                             s->topic);
                    *status = MHD_HTTP_BAD_REQUEST;
                    break;
                }
            s->cursor = gh__api_cursor_make(s->entity, NULL, 0);
        } else {
            *status = place(s, n, q, code, msg, msg_size);
        }
    }
    if (*status) {
        session_free(s);
        return NULL;
    }
    return s;
}

/* Drops the session at index i. */
static void session_drop(gh__api_feeder_t *f, int i) {
    session_free(f->sessions[i]);
    f->sessions[i] = f->sessions[--f->nsessions];
}

/* Frees room for one more session: the one idle longest goes. 0, or -1
 * when every session is busy. */
static int make_room(gh__api_feeder_t *f) {
    int lru = -1;
    for (int i = 0; i < f->nsessions; i++)
        if (!f->sessions[i]->busy &&
            (lru < 0 || f->sessions[i]->used_ms < f->sessions[lru]->used_ms))
            lru = i;
    if (lru < 0) return -1;
    session_drop(f, lru);
    return 0;
}

/* Gives q a session: the idle one its cursor left off at, else a new
 * one. Answers q when none can be had. */
static void attach(gh__api_feeder_t *f, gh__api_feedreq_t *q) {
    for (int i = 0; q->cursor_in && i < f->nsessions; i++) {
        session_t *s = f->sessions[i];
        if (!s->busy && !s->fail && !strcmp(s->subscriber, q->subscriber) &&
            !strcmp(s->entity, q->entity) && !strcmp(s->cursor, q->cursor_in)) {
            s->busy = 1;
            q->s = s;
            return;
        }
    }
    if (f->nsessions >= f->max_sessions && make_room(f)) {
        fail_req(f, q, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_feeds", 5,
                 "every feed session is in use (api.feed.sessions.max); try "
                 "again later");
        return;
    }
    unsigned st;
    const char *code = "unavailable";
    char msg[512];
    session_t *s = session_new(f, q, &st, &code, msg, sizeof(msg));
    if (!s) {
        fail_req(f, q, st, code, st == MHD_HTTP_SERVICE_UNAVAILABLE ? 5 : 0,
                 msg);
        return;
    }
    f->sessions = gh_xrealloc(f->sessions, (size_t)(f->nsessions + 1) *
                                               sizeof(*f->sessions));
    f->sessions[f->nsessions++] = s;
    s->busy = 1;
    q->s = s;
}

/* Takes what the consumer has (without waiting) into the session. */
static void drain(session_t *s) {
    while (s->nbuf < READ_AHEAD && !s->fail) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 0);
        if (!m) return;
        if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
            char err[1024];
            gh_err_t e = gh_kafka_check_gap(s->rk, m, err, sizeof(err));
            s->fail_status = e == GH_ERR_DATA_LOSS
                                 ? MHD_HTTP_GONE
                                 : MHD_HTTP_SERVICE_UNAVAILABLE;
            s->fail_code =
                e == GH_ERR_DATA_LOSS ? "cursor_expired" : "unavailable";
            s->fail = gh_xstrdup(err);
            gh_log_warn(LOG, "feed %s: %s", s->topic, err);
        } else if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                gh_log_warn(LOG, "feed %s: %s", s->topic,
                            rd_kafka_message_errstr(m));
        } else if (m->partition >= 0 && m->partition < s->n &&
                   m->offset >= s->got[m->partition]) {
            if (s->nbuf == s->capbuf) {
                s->capbuf = s->capbuf ? s->capbuf * 2 : 64;
                s->buf =
                    gh_xrealloc(s->buf, (size_t)s->capbuf * sizeof(*s->buf));
            }
            gh_topicjson_msg_copy(&s->buf[s->nbuf++], m);
            s->got[m->partition] = m->offset + 1;
        }
        rd_kafka_message_destroy(m);
    }
}

/* Whether the broker holds messages past the session's position, as of
 * the last fetch or the placement (no request is made). */
static int more_known(session_t *s) {
    int more = 0;
    for (int p = 0; p < s->n; p++) {
        int64_t lo = -1, hi = -1;
        if (!rd_kafka_get_watermark_offsets(s->rk, s->topic, p, &lo, &hi) &&
            hi > s->hi[p])
            s->hi[p] = hi;
        more |= s->hi[p] > s->pos[p];
    }
    return more;
}

static PGconn *db_of(gh__api_feeder_t *f) {
    if (f->db && PQstatus(f->db) == CONNECTION_OK) return f->db;
    PQfinish(f->db);
    char err[512];
    f->db = gh_pg_connect(f->conninfo, 0, err, sizeof(err));
    if (!f->db) gh_log_warn(LOG, "feed: %s", err);
    return f->db;
}

/* The answer to q from its session's read-ahead: up to q->max messages,
 * the cursor after them. */
static void answer(gh__api_feeder_t *f, gh__api_feedreq_t *q) {
    session_t *s = q->s;
    json_t *msgs = json_array();
    int k = 0;
    size_t bytes = 0;
    char err[1024];
    gh_err_t e = GH_OK;
    while (k < s->nbuf && k < q->max && (!k || bytes < ANSWER_BYTES)) {
        const gh_topicjson_msg_t *m = &s->buf[k];
        json_t *o = json_object();
        json_object_set_new(o, "partition", json_integer(m->partition));
        e = gh_topicjson_fill(f->tj, NULL, m, o, err, sizeof(err));
        if (e == GH_ERR_UNKNOWN_SCHEMA) {
            PGconn *db = db_of(f);
            if (db) e = gh_topicjson_fill(f->tj, db, m, o, err, sizeof(err));
        }
        if (e) {
            json_decref(o);
            break;
        }
        json_array_append_new(msgs, o);
        bytes += m->len * 2 + (m->key ? strlen(m->key) : 0) + 160;
        k++;
    }
    if (e) {
        json_decref(msgs);
        /* Nothing is skipped: the client asks again from the same cursor. */
        gh_log_error(LOG, "feed %s: %s", s->topic, err);
        if (!f->db || PQstatus(f->db) != CONNECTION_OK)
            fail_req(f, q, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", 5,
                     "the hub database cannot be reached; try again later");
        else
            fail_req(f, q, MHD_HTTP_INTERNAL_SERVER_ERROR, "undecodable", 0,
                     "a message of the feed cannot be decoded (see the API's "
                     "log); it is not skipped");
        return;
    }
    for (int i = 0; i < k; i++) {
        s->pos[s->buf[i].partition] = s->buf[i].offset + 1;
        gh_topicjson_msg_clear(&s->buf[i]);
    }
    memmove(s->buf, s->buf + k, (size_t)(s->nbuf - k) * sizeof(*s->buf));
    s->nbuf -= k;
    free(s->cursor);
    s->cursor = gh__api_cursor_make(s->entity, s->pos, s->n);
    q->cursor_out = gh_xstrdup(s->cursor);
    q->nmessages = k;
    q->reply.status = MHD_HTTP_OK;
    q->reply.body =
        json_pack("{s:s,s:s,s:s,s:o,s:s,s:b}", "subscriber", s->subscriber,
                  "entity", s->entity, "topic", s->topic, "messages", msgs,
                  "cursor", s->cursor, "more", s->nbuf > 0 || more_known(s));
    finish(f, q);
}

/* Partitions added to the topic since the session was placed (an
 * operator may add some): read from their beginning, the others on from
 * where the consumer is. 0, or -1 when the broker did not answer (tried
 * again later). */
static int grow(session_t *s, int n) {
    int64_t *lo = gh_xcalloc((size_t)n, sizeof(*lo));
    for (int p = s->n; p < n; p++) {
        int64_t hi = -1;
        if (rd_kafka_query_watermark_offsets(
                s->rk, s->topic, p, &lo[p], &hi,
                gh_shutdown_clamp_ms(WATERMARK_TIMEOUT_MS))) {
            free(lo);
            return -1;
        }
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(l, s->topic, p)->offset =
            p < s->n ? s->got[p] : lo[p];
    rd_kafka_resp_err_t ke = rd_kafka_assign(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (ke) {
        free(lo);
        return -1;
    }
    s->pos = gh_xrealloc(s->pos, (size_t)n * sizeof(*s->pos));
    s->got = gh_xrealloc(s->got, (size_t)n * sizeof(*s->got));
    s->hi = gh_xrealloc(s->hi, (size_t)n * sizeof(*s->hi));
    for (int p = s->n; p < n; p++)
        s->pos[p] = s->got[p] = s->hi[p] = lo[p];
    gh_log_info(LOG,
                "feed %s: partitions %d..%d added, read from their "
                "beginning",
                s->topic, s->n, n - 1);
    s->n = n;
    free(lo);
    return 0;
}

/* One look at a waiting request: answered when its session has messages,
 * failed, or its wait is over. */
static void step(gh__api_feeder_t *f, gh__api_feedreq_t *q, int64_t now) {
    session_t *s = q->s;
    if (s->n && now - s->checked_ms >= GROW_CHECK_MS) {
        s->checked_ms = now;
        int n = partitions_of(s->rk, s->topic);
        if (n > s->n && grow(s, n))
            gh_log_warn(LOG,
                        "feed %s: the broker did not answer; new "
                        "partitions are looked for again later",
                        s->topic);
    }
    if (!s->n && now - s->checked_ms >= RECHECK_MS) {
        s->checked_ms = now;
        int n = partitions_of(s->rk, s->topic);
        if (n > 0) {
            const char *code = "unavailable";
            char msg[512];
            unsigned st = place(s, n, q, &code, msg, sizeof(msg));
            if (st) {
                fail_req(f, q, st, code, 0, msg);
                return;
            }
        }
    }
    if (s->n) drain(s);
    if (s->fail) {
        fail_req(f, q, s->fail_status, s->fail_code, 0, s->fail);
        return;
    }
    if (s->nbuf) {
        answer(f, q);
        return;
    }
    if (now >= q->give_up_ms || (now >= q->deadline_ms && !more_known(s)))
        answer(f, q);
}

/* ---- the thread --------------------------------------------------------- */

static void *run(void *arg) {
    gh__api_feeder_t *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->lock);
        if (!f->incoming && !f->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += TICK_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&f->cond, &f->lock, &ts);
        }
        gh__api_feedreq_t *in = f->incoming;
        f->incoming = NULL;
        int stop = f->stopping;
        pthread_mutex_unlock(&f->lock);
        /* The newest came first: reversed, then after those waiting. */
        gh__api_feedreq_t *fresh = NULL;
        while (in) {
            gh__api_feedreq_t *nx = in->next;
            in->next = fresh;
            fresh = in;
            in = nx;
        }
        gh__api_feedreq_t **tail = &f->waiting;
        while (*tail)
            tail = &(*tail)->next;
        *tail = fresh;
        if (stop) break;
        for (gh__api_feedreq_t *q = fresh, *nx; q; q = nx) {
            nx = q->next;
            attach(f, q);
        }
        int64_t now = gh_now_ms();
        for (gh__api_feedreq_t *q = f->waiting, *nx; q; q = nx) {
            nx = q->next;
            step(f, q, now);
        }
        for (int i = f->nsessions - 1; i >= 0; i--) {
            session_t *s = f->sessions[i];
            if (!s->busy && (s->fail || now - s->used_ms > f->idle_ms))
                session_drop(f, i);
        }
    }
    while (f->waiting)
        fail_req(f, f->waiting, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting_down",
                 1, "the API is stopping; ask again (same cursor)");
    return NULL;
}

gh__api_feeder_t *gh__api_feeder_new(const gh_conf_t *conf,
                                     const char *conninfo, char *errstr,
                                     size_t errstr_size) {
    gh__api_feeder_t *f = gh_xcalloc(1, sizeof(*f));
    f->conf = conf;
    f->conninfo = gh_xstrdup(conninfo);
    f->max_sessions = (int)gh_conf_get_int(conf, "api.feed.sessions.max");
    f->idle_ms = gh_conf_get_int(conf, "api.feed.session.idle.ms");
    f->tj = gh_topicjson_new(gh_conf_get(conf, "schema.registry.url"));
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cond, NULL);
    /* The thread, and the Kafka threads it starts, must not take the
     * signals meant for the main thread's shutdown handling. */
    int rc = gh_shutdown_thread_create(&f->thread, run, f);
    if (rc) {
        gh_seterr(errstr, errstr_size, GH_ERR_IO,
                  "cannot start the feed thread: %s", strerror(rc));
        gh__api_feeder_destroy(f);
        return NULL;
    }
    f->started = 1;
    return f;
}

int gh__api_feeder_submit(gh__api_feeder_t *f, gh__api_feedreq_t *q,
                          struct MHD_Connection *conn) {
    pthread_mutex_lock(&f->lock);
    if (f->stopping) {
        pthread_mutex_unlock(&f->lock);
        return -1;
    }
    /* Suspended before the feeder can see it, so that its resume always
     * comes after. */
    q->conn = conn;
    MHD_suspend_connection(conn);
    q->next = f->incoming;
    f->incoming = q;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    return 0;
}

void gh__api_feeder_stop(gh__api_feeder_t *f) {
    if (!f) return;
    pthread_mutex_lock(&f->lock);
    f->stopping = 1;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
    if (f->started) pthread_join(f->thread, NULL);
    f->started = 0;
}

void gh__api_feeder_destroy(gh__api_feeder_t *f) {
    if (!f) return;
    gh__api_feeder_stop(f);
    while (f->nsessions)
        session_drop(f, f->nsessions - 1);
    free(f->sessions);
    gh_topicjson_destroy(f->tj);
    PQfinish(f->db);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    free(f->conninfo);
    free(f);
}
