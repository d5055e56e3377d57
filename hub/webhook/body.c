/* What a receiver gets: a batch of one partition as JSON, each message as
 * gh_topicjson_fill makes it (the API's pull feed makes the same). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook_int.h"

gh_err_t gh__webhook_body(gh_webhook_t *w, const wh_part_t *p, int n,
                          gh_buf_t *out, char *errstr, size_t errstr_size) {
    json_t *b = json_object();
    json_object_set_new(b, "subscriber",
                        json_string(w->targets[p->target].subscriber));
    json_object_set_new(b, "topic", json_string(p->topic));
    json_object_set_new(b, "partition", json_integer(p->partition));
    json_t *arr = json_array();
    json_object_set_new(b, "messages", arr);
    gh_err_t e = GH_OK;
    for (int i = 0; !e && i < n; i++) {
        json_t *o = json_object();
        json_array_append_new(arr, o);
        e = gh_topicjson_fill(w->tj, w->db, &p->q[i], o, errstr, errstr_size);
        if (e) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", errstr);
            gh_seterr(errstr, errstr_size, e, "%s: %s", p->topic, msg);
        }
    }
    if (!e) {
        char *s = json_dumps(b, JSON_COMPACT);
        if (!s)
            e = gh_seterr(errstr, errstr_size, GH_ERR_SERDE,
                          "%s [%d]: cannot serialize the batch as JSON "
                          "(a key that is not UTF-8?)",
                          p->topic, (int)p->partition);
        else {
            gh_buf_puts(out, s);
            free(s);
        }
    }
    json_decref(b);
    return e;
}
