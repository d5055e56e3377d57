/* The feed's life: loading and following the policy, and what a put
 * decides for each subscriber. Writing is in flush.c, sweeps in sweep.c. */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_int.h"
#include "gridhub/log.h"

#define LOG "policy"

const gh_conf_prop_t gh_feed_own_props[] = {
    {"policy.file", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "The access policy (docs/policy.md): subscribers and what each "
     "receives. Re-read when it changes."},
    {"policy.keys.file", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "The subscribers' pseudonym keys (`<name>=<hex>`, mode 0600; `gridhub "
     "policy keys --generate` writes one). Re-read when it changes."},
    {"policy.check.interval.ms", GH_CONF_INT, "1000", 0, 100, 3600000, NULL,
     NULL, "How often the policy and key files are checked for changes."},
    {"policy.sweep.page", GH_CONF_INT, "2000", 0, 10, 1000000, NULL, NULL,
     "Records re-evaluated per transaction when a subscriber's view is "
     "re-materialized (between the stream's batches)."},
    {"view.topic.prefix", GH_CONF_STR, "hub.view", 0, 0, 0, NULL, NULL,
     "Prefix of subscriber view topics: `<prefix>.<subscriber>.<entity>`."},
    {"crypt.key.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Encryption keys for personal data at rest (`key.<id>=`, `active=`, "
     "`index=`; mode 0600; `gridhub keys generate` writes one; "
     "docs/encryption.md). ID numbers, phone numbers, addresses and outbox "
     "payloads are then stored sealed (AES-256-GCM) and blocking keys "
     "keyed. Re-read when it changes (`gridhub keys rotate`). Without it "
     "they are stored in clear, with a warning at start."},
    GH_CONF_END};

static void free_plans(gh_policy_plan_t **plans, char **topics, int n) {
    for (int i = 0; i < n; i++) {
        gh_policy_plan_destroy(plans[i]);
        free(topics[i]);
    }
    free(plans);
    free(topics);
}

/* Whether the file's identity or times changed since w->st (and w->st
 * updated); a file that cannot be stat'ed counts as changed. */
static int changed_file(watched_t *w) {
    struct stat st;
    if (stat(w->path, &st)) return 1;
    int ch = st.st_ino != w->st.st_ino || st.st_size != w->st.st_size ||
             st.st_mtim.tv_sec != w->st.st_mtim.tv_sec ||
             st.st_mtim.tv_nsec != w->st.st_mtim.tv_nsec ||
             st.st_ctim.tv_sec != w->st.st_ctim.tv_sec ||
             st.st_ctim.tv_nsec != w->st.st_ctim.tv_nsec;
    w->st = st;
    return ch;
}

/* Compiles every plan of p for now_us; NULL on error. */
static gh_err_t compile(gh_feed_t *f, gh_policy_t *p, gh_policy_keys_t *k,
                        int64_t now_us, gh_policy_plan_t ***plans,
                        char ***topics, char *errstr, size_t errstr_size) {
    int ns = gh_policy_nsubscribers(p), ne = gh_policy_nentities(p);
    *plans = gh_xcalloc((size_t)(ns * ne) + 1, sizeof(**plans));
    *topics = gh_xcalloc((size_t)(ns * ne) + 1, sizeof(**topics));
    for (int s = 0; s < ns; s++)
        for (int e = 0; e < ne; e++) {
            gh_policy_subscriber_t sb;
            gh_policy_subscriber(p, s, &sb);
            (*topics)[s * ne + e] = gh_xasprintf(
                "%s.%s.%s", gh_conf_get(f->conf, "view.topic.prefix"), sb.name,
                gh_policy_entity_name(p, e));
            gh_err_t err =
                gh_policy_plan_new(p, s, e, now_us, k, f->set,
                                   &(*plans)[s * ne + e], errstr, errstr_size);
            if (err) {
                free_plans(*plans, *topics, ns * ne);
                *plans = NULL;
                *topics = NULL;
                return err;
            }
        }
    return GH_OK;
}

/* Frees what was compiled for the policy in force: plans, topics, records,
 * sweep cursors and flags. */
static void free_compiled(gh_feed_t *f) {
    free_plans(f->plans, f->topics, f->nsubs * f->nents);
    for (int i = 0; i < f->nents; i++) {
        gh_policy_rec_destroy(f->recs[i]);
        free(f->cursor[i]);
        free(f->cursor_prev[i]);
    }
    free(f->recs);
    free(f->cursor);
    free(f->cursor_prev);
    free(f->sweep);
    free(f->force);
    free(f->sweep_prev);
    free(f->force_prev);
}

/* Puts p, k and their compiled plans in force, freeing what they replace
 * (the old policy and keys unless they are p and k). Queued sweeps are
 * dropped: the next gh_feed_sync queues them again against the new plans. */
static void swap_in(gh_feed_t *f, gh_policy_t *p, gh_policy_keys_t *k,
                    gh_policy_plan_t **plans, char **topics, int64_t now_us) {
    int ns = gh_policy_nsubscribers(p), ne = gh_policy_nentities(p);
    gh__feed_clear(f);
    free_compiled(f);
    if (p != f->policy) gh_policy_destroy(f->policy);
    if (k != f->keys) gh_policy_keys_destroy(f->keys);
    f->policy = p;
    f->keys = k;
    f->plans = plans;
    f->topics = topics;
    f->nsubs = ns;
    f->nents = ne;
    f->recs = gh_xcalloc((size_t)ne + 1, sizeof(*f->recs));
    for (int i = 0; i < ne; i++)
        f->recs[i] = gh_policy_rec_new(p, i);
    f->sweep = gh_xcalloc((size_t)(ns * ne) + 1, sizeof(int));
    f->force = gh_xcalloc((size_t)(ns * ne) + 1, sizeof(int));
    f->sweep_prev = gh_xcalloc((size_t)(ns * ne) + 1, sizeof(int));
    f->force_prev = gh_xcalloc((size_t)(ns * ne) + 1, sizeof(int));
    f->cursor = gh_xcalloc((size_t)ne + 1, sizeof(char *));
    f->cursor_prev = gh_xcalloc((size_t)ne + 1, sizeof(char *));
    f->next_change_us = gh_policy_next_change(p, now_us);
    f->hour = now_us / 1000000 / 3600;
}

/* Reads and checks the policy and key files and compiles their plans. */
static gh_err_t read_files(gh_feed_t *f, int64_t now_us, gh_policy_t **p,
                           gh_policy_keys_t **k, gh_policy_plan_t ***plans,
                           char ***topics, char *errstr, size_t errstr_size) {
    *p = NULL;
    *k = NULL;
    gh_err_t e =
        gh_policy_load_file(f->pfile.path, f->set, p, errstr, errstr_size);
    if (!e) e = gh_policy_keys_load(f->kfile.path, k, errstr, errstr_size);
    if (!e) e = gh_policy_keys_check(*k, *p, errstr, errstr_size);
    if (!e) e = compile(f, *p, *k, now_us, plans, topics, errstr, errstr_size);
    if (e) {
        gh_policy_destroy(*p);
        gh_policy_keys_destroy(*k);
    }
    return e;
}

static void log_loaded(const gh_feed_t *f, const char *was, int changed) {
    gh_log_info(LOG, "policy %s loaded: version %s%s%s%s, %d subscribers%s",
                f->pfile.path, gh_policy_version(f->policy),
                was ? " (was " : "", was ? was : "", was ? ")" : "", f->nsubs,
                !was      ? ""
                : changed ? "; changed views are re-materialized"
                          : "; no view changes");
    const char *w = gh_policy_warnings(f->policy);
    for (const char *l = w; *l;) {
        const char *nl = strchr(l, '\n');
        int len = nl ? (int)(nl - l) : (int)strlen(l);
        gh_log_warn(LOG, "policy: %.*s", len, l);
        l += len + (nl ? 1 : 0);
    }
}

gh_err_t gh__feed_load(gh_feed_t *f, int64_t now_us, char *errstr,
                       size_t errstr_size) {
    changed_file(&f->pfile);
    changed_file(&f->kfile);
    gh_policy_t *p;
    gh_policy_keys_t *k;
    gh_policy_plan_t **plans;
    char **topics;
    gh_err_t e =
        read_files(f, now_us, &p, &k, &plans, &topics, errstr, errstr_size);
    if (e) return e;
    swap_in(f, p, k, plans, topics, now_us);
    log_loaded(f, NULL, 0);
    return GH_OK;
}

gh_feed_t *gh_feed_new(const gh_conf_t *conf, gh_schemas_t *set,
                       gh_serde_t *serde, char *errstr, size_t errstr_size) {
    gh_feed_t *f = gh_xcalloc(1, sizeof(*f));
    f->audit = gh_audit_batch_new();
    f->conf = conf;
    f->set = set;
    f->serde = serde;
    f->pfile.path = gh_xstrdup(gh_conf_get(conf, "policy.file"));
    f->kfile.path = gh_xstrdup(gh_conf_get(conf, "policy.keys.file"));
    const char *ck = gh_conf_get(conf, "crypt.key.file");
    if (ck && !(f->crypt = gh_crypt_new(ck, errstr, errstr_size))) {
        gh_feed_destroy(f);
        return NULL;
    }
    if (f->crypt)
        snprintf(f->sealing, sizeof(f->sealing), "%s",
                 gh_crypt_active(f->crypt));
    if (gh__feed_load(f, gh_wallclock_us(), errstr, errstr_size)) {
        gh_feed_destroy(f);
        return NULL;
    }
    f->next_check_ms =
        gh_now_ms() + gh_conf_get_int(conf, "policy.check.interval.ms");
    return f;
}

void gh_feed_destroy(gh_feed_t *f) {
    if (!f) return;
    gh__feed_clear(f);
    free(f->c);
    gh_audit_batch_destroy(f->audit);
    gh_buf_free(&f->audit_body);
    free_compiled(f);
    gh_policy_destroy(f->policy);
    gh_policy_keys_destroy(f->keys);
    gh_crypt_destroy(f->crypt);
    free(f->pfile.path);
    free(f->kfile.path);
    free(f);
}

gh_crypt_t *gh_feed_crypt(const gh_feed_t *f) {
    return f->crypt;
}

const gh_policy_t *gh_feed_policy(const gh_feed_t *f) {
    return f->policy;
}
int gh_feed_entity(const gh_feed_t *f, const char *name) {
    return gh_policy_entity_find(f->policy, name);
}
const char *gh_feed_topic(const gh_feed_t *f, int sub, int entity) {
    return f->topics[sub * f->nents + entity];
}

/* Whether any plan's digest differs between two plan sets. */
static int digests_differ(gh_policy_plan_t **a, gh_policy_plan_t **b, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(gh_policy_plan_digest(a[i]), gh_policy_plan_digest(b[i])))
            return 1;
    return 0;
}

gh_err_t gh_feed_tick(gh_feed_t *f, int64_t now_us, int *changed, char *errstr,
                      size_t errstr_size) {
    *changed = 0;
    int n = f->nsubs * f->nents;
    if (gh_now_ms() >= f->next_check_ms) {
        f->next_check_ms =
            gh_now_ms() + gh_conf_get_int(f->conf, "policy.check.interval.ms");
        if (f->crypt) {
            char why[1024];
            if (gh_crypt_refresh(f->crypt, why, sizeof(why)) < 0)
                gh_log_error(LOG, "%s", why);
            /* Also when an open met the new key first and re-read. */
            if (strcmp(f->sealing, gh_crypt_active(f->crypt))) {
                snprintf(f->sealing, sizeof(f->sealing), "%s",
                         gh_crypt_active(f->crypt));
                gh_log_info(LOG,
                            "encryption keys re-read: new values sealed "
                            "under key %s",
                            f->sealing);
            }
        }
        int files = changed_file(&f->pfile);
        files |= changed_file(&f->kfile);
        if (files) {
            char why[4096], was[17];
            snprintf(was, sizeof(was), "%s", gh_policy_version(f->policy));
            gh_policy_t *p;
            gh_policy_keys_t *k;
            gh_policy_plan_t **plans;
            char **topics;
            if (read_files(f, now_us, &p, &k, &plans, &topics, why,
                           sizeof(why))) {
                gh_log_error(LOG,
                             "the policy or key file changed and does not "
                             "load; version %s stays in force: %s",
                             was, why);
                return GH_OK;
            }
            int np = gh_policy_nsubscribers(p) * gh_policy_nentities(p);
            *changed = np != n || digests_differ(f->plans, plans, n);
            /* The same subscribers in another order change no view but do
             * change indexes: queue the sync anyway. */
            for (int i = 0; !*changed && i < n; i++)
                *changed = strcmp(f->topics[i], topics[i]) != 0;
            swap_in(f, p, k, plans, topics, now_us);
            log_loaded(f, was, *changed);
            return GH_OK;
        }
    }
    /* Grants starting or lapsing, and the date for age(): plans are
     * recompiled when a grant's time comes and every hour (a cheap way to
     * see the local date change whatever the time zone). */
    int64_t hour = now_us / 1000000 / 3600;
    if (now_us < f->next_change_us && hour == f->hour) return GH_OK;
    gh_policy_plan_t **plans;
    char **topics;
    gh_err_t e = compile(f, f->policy, f->keys, now_us, &plans, &topics, errstr,
                         errstr_size);
    if (e) return e;
    if (digests_differ(f->plans, plans, n)) {
        swap_in(f, f->policy, f->keys, plans, topics, now_us);
        *changed = 1;
        gh_log_info(LOG, "a grant started or lapsed, or the date moved on: "
                         "changed views are re-materialized");
    } else {
        free_plans(plans, topics, n);
        f->next_change_us = gh_policy_next_change(f->policy, now_us);
        f->hour = hour;
    }
    return GH_OK;
}

/* ---- Puts ----------------------------------------------------------------
 */

static cand_t *add_cand(gh_feed_t *f, int plan, const char *id,
                        int64_t version) {
    if (f->nc == f->capc) {
        f->capc = f->capc ? f->capc * 2 : 256;
        f->c = gh_xrealloc(f->c, (size_t)f->capc * sizeof(*f->c));
    }
    cand_t *c = &f->c[f->nc++];
    memset(c, 0, sizeof(*c));
    c->plan = plan;
    c->id = gh_xstrdup(id);
    c->version = version;
    return c;
}

static int wanted(const gh_feed_t *f, int plan) {
    return !f->only_sweep || f->sweep[plan];
}

gh_err_t gh_feed_put(gh_feed_t *f, int entity, const char *id, int64_t version,
                     avro_value_t *full, char *errstr, size_t errstr_size) {
    gh_policy_rec_t *r = f->recs[entity];
    gh_policy_rec_set(r, full);
    json_t *by_field = NULL;
    for (int s = 0; s < f->nsubs; s++) {
        int pi = s * f->nents + entity;
        if (!wanted(f, pi)) continue;
        gh_policy_plan_t *pl = f->plans[pi];
        cand_t *c = add_cand(f, pi, id, version);
        gh_policy_plan_pseudonym(pl, id, c->key);
        if (!gh_policy_plan_in_scope(pl, r)) continue;
        avro_value_t *v = NULL;
        gh_err_t e = gh_policy_plan_apply(pl, r, &v, errstr, errstr_size);
        if (!e)
            e = gh_serde_encode(f->serde, f->topics[pi],
                                gh_policy_plan_schema(pl), v, &c->payload,
                                errstr, errstr_size);
        if (e) {
            json_decref(by_field);
            return e;
        }
        if (!by_field) by_field = gh__feed_sources_of(full);
        c->disclosed = gh__feed_disclosed(pl, v, by_field);
        c->in_scope = 1;
        c->fingerprint = gh_schema_fingerprint(gh_policy_plan_schema(pl));
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)c->payload.data, c->payload.len, md);
        for (int i = 0; i < 16; i++)
            snprintf(c->digest + 2 * i, 3, "%02x", md[i]);
    }
    json_decref(by_field);
    return GH_OK;
}

void gh_feed_gone(gh_feed_t *f, int entity, const char *id, int64_t version) {
    for (int s = 0; s < f->nsubs; s++) {
        int pi = s * f->nents + entity;
        if (!wanted(f, pi)) continue;
        cand_t *c = add_cand(f, pi, id, version);
        gh_policy_plan_pseudonym(f->plans[pi], id, c->key);
    }
}

void gh__feed_clear(gh_feed_t *f) {
    for (int i = 0; i < f->nc; i++) {
        free(f->c[i].id);
        gh_buf_free(&f->c[i].payload);
        free(f->c[i].disclosed);
    }
    f->nc = 0;
}

void gh_feed_discard(gh_feed_t *f) {
    gh__feed_clear(f);
}
