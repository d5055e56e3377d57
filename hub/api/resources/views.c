/* The records of the views as a token's subscriber receives them: plans
 * per subscriber and entity, and the derived records (grids, households,
 * buildings, events) read from entity_view. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "grid.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

/* How long a plan serves before it is made again (see gh__api_plan). */
#define PLAN_TTL_US (60 * 1000000LL)

static void drop_plans(gh_api_t *a) {
    int ns = gh_policy_nsubscribers(a->policy);
    for (int e = 0; e < a->nents; e++)
        for (int s = 0; s < ns; s++) {
            gh_policy_plan_destroy(a->ents[e].plans[s]);
            a->ents[e].plans[s] = NULL;
        }
}

gh_err_t gh__api_views_prepare(PGconn *db, char *err, size_t errsz) {
    return gh_pg_prepare(
        db, "gh_api_view",
        "SELECT body::text, version, floor(extract(epoch from updated_at) * "
        "1000000)::bigint FROM entity_view WHERE entity = $1 AND id = $2 AND "
        "active",
        err, errsz);
}

gh_policy_plan_t *gh__api_plan(gh_api_t *a, int entity, const char *subscriber,
                               char *err, size_t errsz) {
    int s = gh_policy_subscriber_find(a->policy, subscriber);
    if (s < 0) {
        snprintf(err, errsz,
                 "the token's subscriber %s is no longer in the policy",
                 subscriber);
        return NULL;
    }
    int64_t now = gh_wallclock_us();
    if (now - a->plans_made > PLAN_TTL_US || now < a->plans_made) {
        drop_plans(a);
        a->plans_made = now;
    }
    gh__api_entity_t *en = &a->ents[entity];
    if (!en->plans[s]) {
        /* Deriving the plan's schema adds it to the shared schema set. */
        pthread_mutex_lock(a->lock);
        gh_err_t e = gh_policy_plan_new(a->policy, s, entity, now, a->keys,
                                        a->schemas, &en->plans[s], err, errsz);
        pthread_mutex_unlock(a->lock);
        if (e) return NULL;
    }
    return en->plans[s];
}

gh_err_t gh__api_apply(gh_api_t *a, int entity, gh_policy_plan_t *pl,
                       json_t **out, char *err, size_t errsz) {
    *out = NULL;
    if (!gh_policy_plan_in_scope(pl, a->ents[entity].rec)) return GH_OK;
    avro_value_t *o = NULL;
    gh_err_t e = gh_policy_plan_apply(pl, a->ents[entity].rec, &o, err, errsz);
    if (!e) *out = gh_avro_to_json(gh_policy_plan_schema(pl), o);
    return e;
}

gh_err_t gh__api_view(gh_api_t *a, PGconn *db, const gh_token_info_t *who,
                      const char *entity, const char *id, json_t **out,
                      json_t **raw, char *err, size_t errsz) {
    *out = NULL;
    if (raw) *raw = NULL;
    int en = gh_policy_entity_find(a->policy, entity);
    if (en < 0 || !id || !a->ents[en].has_val) return GH_OK;
    gh_policy_plan_t *pl = gh__api_plan(a, en, who->subscriber, err, errsz);
    if (!pl) return GH_ERR_CONFIG;
    const char *p[2] = {entity, id};
    PGresult *r = gh_pg_query_prepared(db, "gh_api_view", 2, p,
                                       "read a view record", err, errsz);
    if (!r) return GH_ERR_PG;
    if (!PQntuples(r)) {
        PQclear(r);
        return GH_OK;
    }
    gh__api_entity_t *ent = &a->ents[en];
    json_t *record = NULL;
    gh_err_t e = gh_grid_view_fill(ent->schema, entity, id, PQgetvalue(r, 0, 0),
                                   strtoll(PQgetvalue(r, 0, 1), NULL, 10),
                                   strtoll(PQgetvalue(r, 0, 2), NULL, 10),
                                   &ent->val, &record, err, errsz);
    PQclear(r);
    if (!e) {
        gh_policy_rec_set(ent->rec, &ent->val);
        e = gh__api_apply(a, en, pl, out, err, errsz);
    }
    if (!e && *out && raw)
        *raw = record;
    else
        json_decref(record);
    return e;
}
