/* The audit entries of the API's reads, committed in groups: see
 * gh__api_auditq_put in api_int.h.
 *
 * Every read is audited before its answer leaves, and an entry is durable
 * only once its transaction commits: with each request appending its own
 * entry, every request paid for the audit head's row lock, the Merkle
 * frontier, the COPY and a commit of its own, one request at a time. Here
 * the requests waiting at the same moment share one transaction (group
 * commit, as PostgreSQL does with its WAL): the writer takes whatever is
 * queued, appends it as one batch, commits, and wakes its requests. A
 * request still never answers before its entry is committed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "audit.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

#define LOG "api"
/* Entries one transaction takes at most. */
#define BATCH_MAX 256

typedef struct entry {
    const char *kind, *entity;
    json_t *body; /* the waiting request's; the writer adds db_role */
    int done;
    gh_err_t err;
    char errstr[256];
    struct entry *next;
} entry_t;

struct gh__api_auditq {
    char *conninfo;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    entry_t *head, **tail;
    int stopping;
    PGconn *db; /* the writer's own */
    char *role; /* current_user of db, named in every entry */
};

/* The writer's connection, (re)made when needed; NULL with errstr. */
static PGconn *db_of(gh__api_auditq_t *q, char *errstr, size_t errstr_size) {
    if (q->db && PQstatus(q->db) == CONNECTION_OK) return q->db;
    PQfinish(q->db);
    free(q->role);
    q->role = NULL;
    q->db = gh_pg_connect(q->conninfo, 0, errstr, errstr_size);
    if (!q->db) return NULL;
    PGresult *r =
        gh_pg_query_what(q->db, "SELECT current_user", 0, NULL,
                         "read the database role", errstr, errstr_size);
    if (!r) {
        PQfinish(q->db);
        q->db = NULL;
        return NULL;
    }
    q->role = gh_xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return q->db;
}

/* Appends the entries of `batch` (n of them) in one transaction. */
static gh_err_t write_batch(gh__api_auditq_t *q, entry_t *batch, char *errstr,
                            size_t errstr_size) {
    PGconn *db = db_of(q, errstr, errstr_size);
    if (!db) return GH_ERR_PG_CONNECT;
    gh_audit_batch_t *b = gh_audit_batch_new();
    for (entry_t *e = batch; e; e = e->next) {
        /* db_role is the writer's, which is the requests' own: one
         * conninfo for every connection of the API. The body is the
         * waiting request's, untouched by it until its entry is done. */
        json_object_set_new(e->body, "db_role", json_string(q->role));
        char *text = json_dumps(e->body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        gh_audit_batch_add(b, e->kind, NULL, e->entity, NULL, text);
        free(text);
    }
    gh_err_t err = gh_pg_exec(db, "BEGIN", errstr, errstr_size);
    if (!err) err = gh_audit_append(db, b, errstr, errstr_size);
    if (!err) err = gh_pg_exec(db, "COMMIT", errstr, errstr_size);
    if (err) {
        char ignore[256];
        gh_pg_exec(db, "ROLLBACK", ignore, sizeof(ignore));
    }
    gh_audit_batch_destroy(b);
    return err;
}

static void *run(void *arg) {
    gh__api_auditq_t *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->stopping)
            pthread_cond_wait(&q->work, &q->lock);
        if (!q->head) break; /* stopping with nothing left */
        entry_t *batch = q->head, *last = batch;
        for (int n = 1; n < BATCH_MAX && last->next; n++)
            last = last->next;
        q->head = last->next;
        if (!q->head) q->tail = &q->head;
        last->next = NULL;
        pthread_mutex_unlock(&q->lock);
        char errstr[256];
        gh_err_t err = write_batch(q, batch, errstr, sizeof(errstr));
        if (err) gh_log_warn(LOG, "audit: %s", errstr);
        pthread_mutex_lock(&q->lock);
        for (entry_t *e = batch, *nx; e; e = nx) {
            nx = e->next;
            e->err = err;
            if (err) snprintf(e->errstr, sizeof(e->errstr), "%s", errstr);
            e->done = 1;
        }
        pthread_cond_broadcast(&q->done);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

gh__api_auditq_t *gh__api_auditq_new(const char *conninfo, char *errstr,
                                     size_t errstr_size) {
    gh__api_auditq_t *q = gh_xcalloc(1, sizeof(*q));
    q->conninfo = gh_xstrdup(conninfo);
    q->tail = &q->head;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->work, NULL);
    pthread_cond_init(&q->done, NULL);
    int rc = gh_shutdown_thread_create(&q->thread, run, q);
    if (rc) {
        gh_seterr(errstr, errstr_size, GH_ERR_IO,
                  "cannot start the audit writer: %s", strerror(rc));
        gh__api_auditq_destroy(q);
        return NULL;
    }
    q->started = 1;
    return q;
}

void gh__api_auditq_destroy(gh__api_auditq_t *q) {
    if (!q) return;
    if (q->started) {
        pthread_mutex_lock(&q->lock);
        q->stopping = 1;
        pthread_cond_signal(&q->work);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->thread, NULL);
    }
    PQfinish(q->db);
    free(q->role);
    pthread_cond_destroy(&q->done);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    free(q->conninfo);
    free(q);
}

gh_err_t gh__api_auditq_put(gh__api_auditq_t *q, const char *kind,
                            const char *entity, json_t *body, char *errstr,
                            size_t errstr_size) {
    entry_t e = {0};
    e.kind = kind;
    e.entity = entity;
    e.body = body;
    pthread_mutex_lock(&q->lock);
    if (q->stopping) {
        pthread_mutex_unlock(&q->lock);
        return gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                         "the API is stopping");
    }
    *q->tail = &e;
    q->tail = &e.next;
    pthread_cond_signal(&q->work);
    /* The writer finishes every entry it took, stopping or not. */
    while (!e.done)
        pthread_cond_wait(&q->done, &q->lock);
    pthread_mutex_unlock(&q->lock);
    if (e.err) return gh_seterr(errstr, errstr_size, e.err, "%s", e.errstr);
    return GH_OK;
}
