/* `gridhub policy explain` and `gridhub policy acls`: the decisions and the
 * rules behind them, for people. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plan_int.h"

static const char *tri(int v) {
    return v == PC_TRUE ? "true" : v == PC_FALSE ? "false" : "unknown";
}

static void when(int64_t us, char out[32]) {
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void rule_ref(const prule_t *r, FILE *out) {
    if (r)
        fprintf(out, "%s (%s)", r->key, r->origin);
    else
        fprintf(out, "no rule (default deny)");
}

static void explain_field(const gh_policy_t *p, const gh_policy_plan_t *pl,
                          int i, const pctx_t *x, FILE *out) {
    const pfield_t *f = &pl->e->f[i];
    const fplan_t *fp = &pl->f[i];
    char act[32];
    if (f->parent >= 0 && !pl->f[f->parent].in_schema) {
        fprintf(out, "  %-24s %-10s by its array (%s)\n", f->name, "drop",
                pl->e->f[f->parent].name);
        return;
    }
    if (x) {
        const prule_t *why = NULL;
        pact_t a = gh__plan_decide(pl, i, x, &why);
        if (f->parent >= 0 && a.k == PA_INHERIT) a.k = PA_CLEAR;
        gh__policy_act_text(a, act, sizeof(act));
        fprintf(out, "  %-24s %-10s by ", f->name,
                a.k == PA_DROP ? (fp->in_schema ? "withheld" : "drop") : act);
        /* No single rule decided: the field's own line (a drop wins no
         * contest) or, inside an array, the array's action. */
        if (!why) why = fp->deny_all ? fp->deny_all : fp->base_rule;
        if (why || f->parent < 0)
            rule_ref(why, out);
        else
            fprintf(out, "its array's action");
        fputc('\n', out);
    } else {
        gh__policy_act_text(fp->base, act, sizeof(act));
        fprintf(out, "  %-24s %-10s by ", f->name,
                !fp->in_schema && fp->base.k != PA_DROP ? "drop" : act);
        if (fp->deny_all)
            rule_ref(fp->deny_all, out);
        else if (fp->base_rule || f->parent < 0)
            rule_ref(fp->base_rule, out);
        else
            fprintf(out, "its array's action");
        fputc('\n', out);
    }
    for (int g = 0; g < fp->ngrants; g++) {
        const prule_t *r = fp->grants[g];
        const pgrant_t *gr = &p->grants[r->grant];
        char until[32];
        when(gr->until_us, until);
        gh__policy_act_text(r->act, act, sizeof(act));
        fprintf(out, "      + grant %s (%s): %s where %s", gr->name, gr->origin,
                act, gh__cond_text(r->cond));
        if (x && r->cond)
            fprintf(out, " -> %s", tri(gh__cond_eval(r->cond, x)));
        fprintf(out, "; until %s; purpose: %s\n", until, gr->purpose);
    }
    for (int d = 0; d < fp->ndenies; d++) {
        const prule_t *r = fp->denies[d];
        fprintf(out, "      - deny where %s", gh__cond_text(r->cond));
        if (x) fprintf(out, " -> %s", tri(gh__cond_eval(r->cond, x)));
        fprintf(out, " (%s, %s)\n", r->key, r->origin);
    }
}

gh_err_t gh_policy_explain(const gh_policy_t *p, int sub, int entity,
                           const char *field, const gh_policy_rec_t *rec,
                           int64_t now_us, FILE *out, char *errstr,
                           size_t errstr_size) {
    const pentity_t *e = &p->ents[entity];
    int only = -1;
    if (field && (only = gh__policy_field_find(e, field)) < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "entity %s has no field %s", e->name, field);
    /* Explanations need no key: a throwaway one stands in. */
    static const unsigned char nokey[32];
    gh_policy_plan_t pl;
    memset(&pl, 0, sizeof(pl));
    pl.p = p;
    pl.e = e;
    pl.sub = sub;
    pl.ent = entity;
    pl.now_us = now_us;
    pl.today = gh__policy_local_day(now_us);
    pl.key = nokey;
    pl.keylen = sizeof(nokey);
    const psub_t *s = &p->subs[sub];
    char at[32];
    when(now_us, at);
    int active = 0;
    for (int g = 0; g < p->ngrants; g++)
        active += gh__policy_grant_active(&p->grants[g], now_us);
    fprintf(out, "policy %s version %s at %s (%d grants, %d active)\n", p->name,
            p->version, at, p->ngrants, active);
    fprintf(out, "subscriber %s: department %s, role %s%s%s; entity %s\n",
            s->name, s->dept, s->role, s->purpose ? ", purpose: " : "",
            s->purpose ? s->purpose : "", e->name);
    gh__plan_compile(&pl);
    pctx_t x;
    if (rec) gh__policy_ctx(rec, sub, pl.today, &x);
    fprintf(out, "rows: ");
    if (!pl.rows) {
        fprintf(out, "none (no rows.%s.%s line: default deny)\n", s->name,
                e->name);
    } else {
        fprintf(out, "%s (%s, %s)", gh__cond_text(pl.rows->cond), pl.rows->key,
                pl.rows->origin);
        if (rec) fprintf(out, " -> %s", tri(gh__cond_eval(pl.rows->cond, &x)));
        fputc('\n', out);
    }
    for (int d = 0; d < pl.nrowdeny; d++) {
        fprintf(out, "  - deny where %s (%s, %s)",
                gh__cond_text(pl.rowdeny[d]->cond), pl.rowdeny[d]->key,
                pl.rowdeny[d]->origin);
        if (rec)
            fprintf(out, " -> %s", tri(gh__cond_eval(pl.rowdeny[d]->cond, &x)));
        fputc('\n', out);
    }
    if (rec) {
        int in = gh_policy_plan_in_scope(&pl, rec);
        fprintf(out, "  record %s: %s\n",
                rec->v[e->key].s ? rec->v[e->key].s : "?",
                in ? "IN the subscriber's view"
                   : "NOT in the subscriber's view: it receives nothing of it");
    }
    fprintf(out, "fields:\n");
    for (int i = 0; i < e->nf; i++)
        if (only < 0 || only == i)
            explain_field(p, &pl, i, rec ? &x : NULL, out);
    gh__plan_release(&pl);
    return GH_OK;
}

void gh_policy_acls(const gh_policy_t *p, const gh_policy_topics_t *t,
                    FILE *out) {
    const char *add = "kafka-acls.sh --bootstrap-server \"$BOOTSTRAP\" "
                      "--command-config \"$ADMIN_CONFIG\" --add";
    fprintf(out,
            "# Kafka ACLs for policy %s version %s (gridhub policy acls).\n"
            "# Run with BOOTSTRAP and ADMIN_CONFIG set; the cluster needs an "
            "authorizer\n# (authorizer.class.name) and "
            "allow.everyone.if.no.acl.found=false.\n",
            p->name, p->version);
    fprintf(out, "\n# Every principal may read the schemas topic.\n");
    fprintf(out, "%s --allow-principal '%s'", add, p->hub_principal);
    for (int i = 0; i < p->nsubs; i++)
        fprintf(out, " --allow-principal '%s'", p->subs[i].principal);
    for (int i = 0; i < p->nconn; i++)
        fprintf(out, " --allow-principal '%s'", p->conn_principal[i]);
    fprintf(out, " --operation Read --operation Describe --topic '%s'\n",
            t->schemas);
    for (int i = 0; i < p->nsubs; i++) {
        const psub_t *s = &p->subs[i];
        fprintf(out,
                "\n# Subscriber %s (%s, %s): its own view topics and "
                "consumer group only.\n",
                s->name, s->dept, s->role);
        fprintf(out,
                "%s --allow-principal '%s' --operation Read --operation "
                "Describe --resource-pattern-type prefixed --topic '%s.%s.'\n",
                add, s->principal, t->view_prefix, s->name);
        fprintf(out,
                "%s --allow-principal '%s' --operation Read --group '%s'\n",
                add, s->principal, s->group);
    }
    for (int i = 0; i < p->nconn; i++) {
        fprintf(out,
                "\n# Connector of %s: writes its department's topics "
                "only.\n",
                p->conn_dept[i]);
        fprintf(out,
                "%s --allow-principal '%s' --operation Write --operation "
                "Describe --resource-pattern-type prefixed --topic '%s.%s.'\n",
                add, p->conn_principal[i], t->source_prefix, p->conn_dept[i]);
        fprintf(out,
                "%s --allow-principal '%s' --operation Write --operation "
                "Describe --topic '%s' --topic '%s' --topic '%s'\n",
                add, p->conn_principal[i], t->dlq, t->heartbeat, t->schemas);
    }
    fprintf(out, "\n# The hub: reads the department topics, writes the views, "
                 "dead letters and schemas.\n");
    /* Every department topic, declared connector or not: a department
     * without a connector line (whose connector then has no ACL here)
     * must still reach the hub once its connector is authorized. */
    fprintf(out,
            "%s --allow-principal '%s' --operation Read --operation "
            "Describe --resource-pattern-type prefixed --topic '%s.'\n",
            add, p->hub_principal, t->source_prefix);
    fprintf(out,
            "%s --allow-principal '%s' --operation Write --operation Describe "
            "--resource-pattern-type prefixed --topic '%s.'\n",
            add, p->hub_principal, t->view_prefix);
    fprintf(out,
            "%s --allow-principal '%s' --operation Write --operation Describe "
            "--topic '%s' --topic '%s'\n",
            add, p->hub_principal, t->dlq, t->schemas);
    fprintf(out, "%s --allow-principal '%s' --operation Read --group '%s'\n",
            add, p->hub_principal, t->hub_group);
}
