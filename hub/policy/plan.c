/* Plans: one subscriber's rules for one entity compiled at one moment
 * (docs/policy.md, "Which action wins"), its derived schema (schema.c),
 * and the per-record scope decision. The transformation itself is in
 * apply.c. */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/log.h"
#include "plan_int.h"

/* ---- Records -------------------------------------------------------------
 */

gh_policy_rec_t *gh_policy_rec_new(const gh_policy_t *p, int entity) {
    gh_policy_rec_t *r = gh_xcalloc(1, sizeof(*r));
    r->p = p;
    r->e = &p->ents[entity];
    r->v = gh_xcalloc((size_t)r->e->ntop + 1, sizeof(pval_t));
    r->date = gh_xcalloc((size_t)r->e->ntop + 1, sizeof(*r->date));
    return r;
}

void gh_policy_rec_destroy(gh_policy_rec_t *r) {
    if (!r) return;
    free(r->v);
    free(r->date);
    free(r->depts);
    free(r);
}

/* The value inside a union (or v itself); 0 if it is null. */
int gh__policy_unwrap(avro_value_t *v, avro_value_t *out) {
    if (avro_value_get_type(v) == AVRO_UNION) {
        if (avro_value_get_current_branch(v, out)) return 0;
        return avro_value_get_type(out) != AVRO_NULL;
    }
    *out = *v;
    return avro_value_get_type(v) != AVRO_NULL;
}

void gh_policy_rec_set(gh_policy_rec_t *r, avro_value_t *full) {
    r->full = full;
    r->ndepts = 0;
    for (int i = 0; i < r->e->ntop; i++) {
        const pfield_t *f = &r->e->f[i];
        pval_t *pv = &r->v[i];
        memset(pv, 0, sizeof(*pv));
        avro_value_t fv, v;
        if (avro_value_get_by_index(full, (size_t)i, &fv, NULL) ||
            !gh__policy_unwrap(&fv, &v)) {
            pv->isnull = 1;
            continue;
        }
        switch (f->kind) {
        case PK_STRING: {
            const char *s = NULL;
            size_t n = 0;
            avro_value_get_string(&v, &s, &n);
            pv->s = s ? s : "";
            break;
        }
        case PK_ENUM: {
            int sym = 0;
            avro_value_get_enum(&v, &sym);
            pv->s = avro_schema_enum_get(avro_value_get_schema(&v), sym);
            if (!pv->s) pv->isnull = 1;
            break;
        }
        case PK_DATE: {
            int32_t d = 0;
            avro_value_get_int(&v, &d);
            gh_date_format(d, r->date[i]);
            pv->s = r->date[i];
            break;
        }
        case PK_INT:
        case PK_TIMESTAMP:
            if (avro_value_get_type(&v) == AVRO_INT32) {
                int32_t x = 0;
                avro_value_get_int(&v, &x);
                pv->n = x;
            } else {
                int64_t x = 0;
                avro_value_get_long(&v, &x);
                pv->n = x;
            }
            break;
        case PK_BOOL: {
            int b = 0;
            avro_value_get_boolean(&v, &b);
            pv->n = b;
            break;
        }
        default:
            pv->isnull = 1;
            break;
        }
    }
    if (r->e->sources < 0) return;
    avro_value_t arr, el, d;
    size_t n = 0;
    if (avro_value_get_by_index(full, (size_t)r->e->sources, &arr, NULL) ||
        avro_value_get_type(&arr) != AVRO_ARRAY)
        return;
    avro_value_get_size(&arr, &n);
    if ((int)n > r->capdepts) {
        r->capdepts = (int)n;
        r->depts = gh_xrealloc(r->depts, n * sizeof(char *));
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = NULL;
        size_t sl = 0;
        if (avro_value_get_by_index(&arr, i, &el, NULL) ||
            avro_value_get_by_name(&el, "department", &d, NULL) ||
            avro_value_get_string(&d, &s, &sl))
            continue;
        r->depts[r->ndepts++] = s;
    }
}

void gh__policy_ctx(const gh_policy_rec_t *r, int sub, int64_t today,
                    pctx_t *x) {
    x->v = r->v;
    x->depts = r->depts;
    x->ndepts = r->ndepts;
    x->own = r->p->subs[sub].dept;
    x->today = today;
}

/* ---- Compiling -----------------------------------------------------------
 */

static void push(const prule_t ***v, int *n, const prule_t *r) {
    *v = gh_xrealloc(*v, (size_t)(*n + 1) * sizeof(**v));
    (*v)[(*n)++] = r;
}

static void compile_field(gh_policy_plan_t *pl, int i) {
    const gh_policy_t *p = pl->p;
    const pfield_t *f = &pl->e->f[i];
    fplan_t *fp = &pl->f[i];
    fp->base.k = f->parent < 0 ? PA_DROP : PA_INHERIT;
    const prule_t *star = NULL;
    for (int k = 0; k < p->nrules; k++) {
        const prule_t *r = &p->rules[k];
        if (r->entity != pl->ent) continue;
        if (r->kind == PR_FIELD && r->sub == pl->sub) {
            if (r->field == i) fp->base_rule = r;
            if (r->field == -2 && f->parent < 0) star = r;
        } else if (r->kind == PR_GRANT && r->sub == pl->sub && r->field == i &&
                   gh__policy_grant_active(&p->grants[r->grant], pl->now_us)) {
            push(&fp->grants, &fp->ngrants, r);
        } else if (r->kind == PR_DENY && r->field == i &&
                   (r->sub == pl->sub || r->sub == -1)) {
            if (gh__cond_is_all(r->cond))
                fp->deny_all = r;
            else
                push(&fp->denies, &fp->ndenies, r);
        }
    }
    if (!fp->base_rule) fp->base_rule = star;
    if (fp->base_rule) fp->base = fp->base_rule->act;
    fp->in_schema = !fp->deny_all && (fp->base.k != PA_DROP || fp->ngrants);
    if (f->parent >= 0 && !pl->f[f->parent].in_schema) fp->in_schema = 0;
    fp->withholdable = fp->ndenies > 0 || fp->base.k == PA_DROP;
    fp->year = fp->base.k == PA_YEAR;
    for (int g = 0; g < fp->ngrants; g++)
        if (fp->grants[g]->act.k == PA_YEAR) fp->year = 1;
    for (int g = 0; g < fp->ngrants; g++)
        pl->uses_age |= gh__cond_uses_age(fp->grants[g]->cond);
    for (int d = 0; d < fp->ndenies; d++)
        pl->uses_age |= gh__cond_uses_age(fp->denies[d]->cond);
}

static void digest_text(gh_buf_t *b, const gh_policy_plan_t *pl) {
    const gh_policy_t *p = pl->p;
    char act[32];
    gh_buf_printf(b, "entity %s\nsubscriber %s department %s\nrows %s\n",
                  pl->e->name, p->subs[pl->sub].name, p->subs[pl->sub].dept,
                  pl->rows ? gh__cond_text(pl->rows->cond) : "(none)");
    for (int d = 0; d < pl->nrowdeny; d++)
        gh_buf_printf(b, "rowdeny %s\n", gh__cond_text(pl->rowdeny[d]->cond));
    for (int i = 0; i < pl->e->nf; i++) {
        const fplan_t *fp = &pl->f[i];
        gh__policy_act_text(fp->base, act, sizeof(act));
        gh_buf_printf(b, "field %s %d %s\n", pl->e->f[i].name, fp->in_schema,
                      act);
        for (int g = 0; g < fp->ngrants; g++) {
            gh__policy_act_text(fp->grants[g]->act, act, sizeof(act));
            gh_buf_printf(b, " grant %s %s\n", act,
                          gh__cond_text(fp->grants[g]->cond));
        }
        for (int d = 0; d < fp->ndenies; d++)
            gh_buf_printf(b, " deny %s\n", gh__cond_text(fp->denies[d]->cond));
    }
    gh_buf_printf(b, "schema %016llx\n",
                  (unsigned long long)gh_schema_fingerprint(pl->schema));
    /* The key enters as a hash of it: the digest is stored in the hub's
     * database and must not help anyone guess the key. */
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(pl->key, pl->keylen, md);
    gh_buf_puts(b, "key ");
    for (int i = 0; i < 8; i++)
        gh_buf_printf(b, "%02x", md[i]);
    gh_buf_puts(b, "\n");
    if (pl->uses_age) gh_buf_printf(b, "today %lld\n", (long long)pl->today);
}

void gh__plan_compile(gh_policy_plan_t *pl) {
    const gh_policy_t *p = pl->p;
    for (int k = 0; k < p->nrules; k++) {
        const prule_t *r = &p->rules[k];
        if (r->entity != pl->ent || r->field != -1) continue;
        if (r->kind == PR_ROWS && r->sub == pl->sub) pl->rows = r;
        if (r->kind == PR_DENY && (r->sub == pl->sub || r->sub == -1))
            push(&pl->rowdeny, &pl->nrowdeny, r);
    }
    if (pl->rows) pl->uses_age |= gh__cond_uses_age(pl->rows->cond);
    for (int d = 0; d < pl->nrowdeny; d++)
        pl->uses_age |= gh__cond_uses_age(pl->rowdeny[d]->cond);
    pl->f = gh_xcalloc((size_t)pl->e->nf + 1, sizeof(fplan_t));
    pl->cur = gh_xcalloc((size_t)pl->e->nf + 1, sizeof(pact_t));
    /* Top-level fields come first, so a sub-field sees its array's plan. */
    for (int i = 0; i < pl->e->nf; i++)
        compile_field(pl, i);
}

void gh__plan_release(gh_policy_plan_t *pl) {
    for (int i = 0; pl->f && i < pl->e->nf; i++) {
        free(pl->f[i].grants);
        free(pl->f[i].denies);
    }
    free(pl->f);
    free(pl->cur);
    free(pl->rowdeny);
    if (pl->has_out) avro_value_decref(&pl->out);
    pl->f = NULL;
    pl->cur = NULL;
    pl->rowdeny = NULL;
    pl->has_out = 0;
}

gh_err_t gh_policy_plan_new(const gh_policy_t *p, int sub, int entity,
                            int64_t now_us, const gh_policy_keys_t *keys,
                            gh_schemas_t *set, gh_policy_plan_t **out,
                            char *errstr, size_t errstr_size) {
    *out = NULL;
    gh_policy_plan_t *pl = gh_xcalloc(1, sizeof(*pl));
    pl->p = p;
    pl->sub = sub;
    pl->ent = entity;
    pl->e = &p->ents[entity];
    pl->now_us = now_us;
    pl->today = gh__policy_local_day(now_us);
    if (gh__policy_key(keys, p->subs[sub].key, &pl->key, &pl->keylen)) {
        free(pl);
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "subscriber %s: key %s is not in the key file",
                         p->subs[sub].name, p->subs[sub].key);
    }
    pl->mac = gh_hmac_new(pl->key, pl->keylen); /* NULL: one-shot HMAC */
    gh__plan_compile(pl);
    gh_err_t e = gh__plan_schema(pl, set, errstr, errstr_size);
    if (!e) e = gh_schema_new_value(pl->schema, &pl->out, errstr, errstr_size);
    if (e) {
        gh_policy_plan_destroy(pl);
        return e;
    }
    pl->has_out = 1;
    gh_buf_t b = {0};
    digest_text(&b, pl);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)b.data, b.len, md);
    for (int i = 0; i < 16; i++)
        snprintf(pl->digest + 2 * i, 3, "%02x", md[i]);
    gh_buf_free(&b);
    *out = pl;
    return GH_OK;
}

void gh_policy_plan_destroy(gh_policy_plan_t *pl) {
    if (!pl) return;
    gh__plan_release(pl);
    gh_hmac_destroy(pl->mac);
    free(pl);
}

const gh_schema_t *gh_policy_plan_schema(const gh_policy_plan_t *pl) {
    return pl->schema;
}
const char *gh_policy_plan_digest(const gh_policy_plan_t *pl) {
    return pl->digest;
}
int gh_policy_plan_subscriber(const gh_policy_plan_t *pl) {
    return pl->sub;
}
int gh_policy_plan_entity(const gh_policy_plan_t *pl) {
    return pl->ent;
}

/* ---- Decisions -----------------------------------------------------------
 */

int gh_policy_plan_in_scope(const gh_policy_plan_t *pl,
                            const gh_policy_rec_t *r) {
    if (!pl->rows) return 0;
    pctx_t x;
    gh__policy_ctx(r, pl->sub, pl->today, &x);
    if (gh__cond_eval(pl->rows->cond, &x) != PC_TRUE) return 0;
    for (int d = 0; d < pl->nrowdeny; d++)
        if (gh__cond_eval(pl->rowdeny[d]->cond, &x) == PC_TRUE) return 0;
    return 1;
}

pact_t gh__plan_decide(const gh_policy_plan_t *pl, int i, const pctx_t *x,
                       const prule_t **why) {
    const fplan_t *fp = &pl->f[i];
    pact_t drop = {PA_DROP, 0, 0};
    if (why) *why = fp->deny_all;
    if (!fp->in_schema) return drop;
    for (int d = 0; d < fp->ndenies; d++)
        if (gh__cond_eval(fp->denies[d]->cond, x) == PC_TRUE) {
            if (why) *why = fp->denies[d];
            return drop;
        }
    pact_t best = fp->base;
    if (why) *why = fp->base_rule;
    for (int g = 0; g < fp->ngrants; g++) {
        const prule_t *gr = fp->grants[g];
        if (gh__policy_act_rank(gr->act) <= gh__policy_act_rank(best)) continue;
        if (gr->cond && gh__cond_eval(gr->cond, x) != PC_TRUE) continue;
        best = gr->act;
        if (why) *why = gr;
    }
    return best;
}

void gh_policy_plan_pseudonym(const gh_policy_plan_t *pl, const char *id,
                              char out[33]) {
    gh__plan_ref_hash(pl, pl->e->name, id, out);
}

void gh__plan_ref_hash(const gh_policy_plan_t *pl, const char *entity,
                       const char *id, char out[33]) {
    gh_buf_t b = {0};
    gh_buf_printf(&b, "%s:%s", entity, id);
    gh__plan_hmac_hex(pl, b.data, b.len, out);
    gh_buf_free(&b);
}
