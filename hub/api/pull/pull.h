/* The pull feed, GET /v1/feed/{entity} (docs/api.md, "Pull feed"): what
 * the token's subscriber topic `<view.topic.prefix>.<subscriber>.<entity>`
 * carries, from a cursor the client keeps, waiting up to `wait` seconds
 * for something new (long poll).
 *
 * A waiting request must not hold one of libmicrohttpd's few threads, so
 * the worker that took it suspends its connection and hands it to the
 * feeder: one thread of its own that reads the topics (a Kafka consumer
 * per session, assign() at the cursor, no group, nothing committed),
 * builds the answer and resumes the connection; the worker then audits
 * the read and sends it. A session stays open after its answer, keyed by
 * the cursor it gave, so that a client polling on finds its consumer
 * where it left it; any other cursor starts a session of its own. */
#ifndef GH_API_PULL_H
#define GH_API_PULL_H

#include "api_int.h"

typedef struct gh__api_feedreq gh__api_feedreq_t;

/* Starts the feeder thread with api.feed.* of `conf` (borrowed; kept
 * until destroyed). NULL with errstr if the thread cannot start. */
gh__api_feeder_t *gh__api_feeder_new(const gh_conf_t *conf,
                                     const char *conninfo, char *errstr,
                                     size_t errstr_size);

/* Answers every request still waiting 503 shutting_down, resumes their
 * connections and joins the thread; a request submitted later is
 * answered at once. Must be called before libmicrohttpd's daemon is
 * stopped (it may hold no suspended connection). NULL is a no-op. */
void gh__api_feeder_stop(gh__api_feeder_t *f);

/* Stops (if not yet) and frees the sessions and the feeder. NULL is a
 * no-op. */
void gh__api_feeder_destroy(gh__api_feeder_t *f);

/* The request for the feed of `entity` to the token's subscriber, from
 * the query (cursor, wait, max) of `conn`: a new request (owned by the
 * caller, gh__api_feedreq_free), or NULL with r set (400 bad_cursor or
 * invalid_parameter, 404 not_found for an entity the policy does not
 * have). */
gh__api_feedreq_t *gh__api_feedreq_new(gh_api_t *a, struct MHD_Connection *conn,
                                       const gh_token_info_t *who,
                                       const char *entity, gh__api_reply_t *r);
void gh__api_feedreq_free(gh__api_feedreq_t *req);

/* Suspends `conn` and hands `req` to the feeder (which borrows it until it
 * resumes the connection): 0. -1 when the feeder is stopping: nothing
 * suspended, the caller answers 503. */
int gh__api_feeder_submit(gh__api_feeder_t *f, gh__api_feedreq_t *req,
                          struct MHD_Connection *conn);

/* Whether the feeder has answered req (its connection then resumed). */
int gh__api_feedreq_done(const gh__api_feedreq_t *req);

/* The answer the feeder made, moved into r (once); returns how many
 * messages it holds. */
int gh__api_feedreq_answer(gh__api_feedreq_t *req, gh__api_reply_t *r);

/* What the audit entry of an answered read names: the entity, the topic,
 * and the cursors it was read from (NULL: the beginning) and to.
 * Borrowed. */
void gh__api_feedreq_span(const gh__api_feedreq_t *req, const char **entity,
                          const char **topic, const char **from,
                          const char **to);

#endif
