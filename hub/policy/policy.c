/* Loading a policy file (docs/policy.md): every line is read first, then
 * subscribers and grants are declared, then the rules are checked against
 * them and the entities, collecting every error rather than the first. */
#include <ctype.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gridhub/conf.h"
#include "policy_int.h"

#define MAX_ERRORS 50

typedef struct line {
    char *origin, *key, *value;
} line_t;

typedef struct loader {
    gh_policy_t *p;
    line_t *l;
    int n, cap;
    gh_buf_t errs;
    int nerr;
    gh_buf_t warn;
} loader_t;

static void err(loader_t *L, const line_t *l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err(loader_t *L, const line_t *l, const char *fmt, ...) {
    if (++L->nerr > MAX_ERRORS) return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gh_buf_printf(&L->errs, "%s%s: %.200s: %s", L->errs.len ? "\n" : "",
                  l->origin, l->key, msg);
}

static gh_err_t collect(const char *origin, const char *key, const char *value,
                        void *opaque, char *errstr, size_t errstr_size) {
    (void)errstr;
    (void)errstr_size;
    loader_t *L = opaque;
    if (L->n == L->cap) {
        L->cap = L->cap ? L->cap * 2 : 64;
        L->l = gh_xrealloc(L->l, (size_t)L->cap * sizeof(*L->l));
    }
    L->l[L->n++] =
        (line_t){gh_xstrdup(origin), gh_xstrdup(key), gh_xstrdup(value)};
    return GH_OK;
}

/* ---- Small parsers -------------------------------------------------------
 */

static int valid_name(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 64 || !islower((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
            s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

/* Splits key at its first `n` dots: parts[0..n] (the last part keeps any
 * further dots). Returns 0, leaving key as it was, if there are fewer. */
static int split(char *key, char **parts, int n) {
    int dots = 0;
    for (const char *c = key; *c; c++)
        dots += *c == '.';
    if (dots < n) return 0;
    parts[0] = key;
    for (int i = 1; i <= n; i++) {
        char *d = strchr(parts[i - 1], '.');
        if (!d) return 0;
        *d = '\0';
        parts[i] = d + 1;
    }
    return 1;
}

static int parse_action(const char *s, pact_t *a) {
    memset(a, 0, sizeof(*a));
    if (!strcmp(s, "clear"))
        a->k = PA_CLEAR;
    else if (!strcmp(s, "drop"))
        a->k = PA_DROP;
    else if (!strcmp(s, "hash"))
        a->k = PA_HASH;
    else if (!strcmp(s, "year"))
        a->k = PA_YEAR;
    else if (!strcmp(s, "own"))
        a->k = PA_OWN;
    else {
        int first, last, used = 0;
        if (sscanf(s, "mask %d %d%n", &first, &last, &used) != 2 ||
            s[used] != '\0' || first < 0 || last < 0 || first > 64 || last > 64)
            return -1;
        a->k = PA_MASK;
        a->first = first;
        a->last = last;
    }
    return 0;
}

int gh__policy_act_rank(pact_t a) {
    /* Among masks: more characters kept (first + last), then more at the
     * start; first, last <= 64 keep this inside (year, own). */
    if (a.k == PA_MASK) return 3000 + (a.first + a.last) * 65 + a.first;
    if (a.k == PA_INHERIT) return PA_CLEAR * 1000;
    return (int)a.k * 1000;
}

void gh__policy_act_text(pact_t a, char *out, size_t size) {
    static const char *const names[] = {"drop", "hash",  "year",   "mask",
                                        "own",  "clear", "inherit"};
    if (a.k == PA_MASK)
        snprintf(out, size, "mask %d %d", a.first, a.last);
    else
        snprintf(out, size, "%s", names[a.k]);
}

/* Whether action a can be applied to field f; NULL if so, else why not. */
static const char *action_misfit(pact_t a, const pfield_t *f) {
    switch (a.k) {
    case PA_MASK:
        return f->kind == PK_STRING ? NULL : "mask applies to strings";
    case PA_HASH:
        return f->kind == PK_STRING || f->kind == PK_ARRAY_STRING
                   ? NULL
                   : "hash applies to strings and arrays of strings";
    case PA_YEAR:
        return f->kind == PK_DATE || f->kind == PK_TIMESTAMP
                   ? NULL
                   : "year applies to dates and timestamps";
    case PA_OWN:
        return f->kind == PK_ARRAY_RECORD && f->has_dept
                   ? NULL
                   : "own applies to arrays of records with a department";
    default:
        return NULL;
    }
}

/* ISO 8601 with seconds and an offset: 2026-12-02T18:00:00+08:00 or ...Z. */
static int parse_time(const char *s, int64_t *us) {
    int64_t days;
    const char *rest;
    if (gh_date_parse_iso(s, &days, &rest) || *rest != 'T') return -1;
    int hh, mm, ss, used = 0;
    if (sscanf(rest + 1, "%2d:%2d:%2d%n", &hh, &mm, &ss, &used) != 3 ||
        used != 8 || hh > 23 || mm > 59 || ss > 59)
        return -1;
    const char *z = rest + 1 + used;
    int off = 0;
    if (!strcmp(z, "Z")) {
        off = 0;
    } else if ((z[0] == '+' || z[0] == '-') && strlen(z) == 6 &&
               isdigit((unsigned char)z[1]) && isdigit((unsigned char)z[2]) &&
               z[3] == ':' && isdigit((unsigned char)z[4]) &&
               isdigit((unsigned char)z[5])) {
        int oh = (z[1] - '0') * 10 + (z[2] - '0');
        int om = (z[4] - '0') * 10 + (z[5] - '0');
        if (oh > 14 || om > 59) return -1;
        off = (z[0] == '+' ? 1 : -1) * (oh * 60 + om);
    } else {
        return -1;
    }
    int64_t secs = days * 86400 + hh * 3600 + mm * 60 + ss - off * 60;
    *us = secs * 1000000;
    return 0;
}

/* The closest of `names` to `s` for a "did you mean" (NULL if none is
 * close): a small edit distance. */
static const char *closest(const char *s, const char *const *names, int n) {
    const char *best = NULL;
    int bestd = 3;
    for (int i = 0; i < n; i++) {
        const char *t = names[i];
        size_t ls = strlen(s), lt = strlen(t);
        if (ls > 63 || lt > 63) continue;
        int d[64][64];
        for (size_t a = 0; a <= ls; a++)
            d[a][0] = (int)a;
        for (size_t b = 0; b <= lt; b++)
            d[0][b] = (int)b;
        for (size_t a = 1; a <= ls; a++)
            for (size_t b = 1; b <= lt; b++) {
                int c = d[a - 1][b - 1] + (s[a - 1] != t[b - 1]);
                if (d[a - 1][b] + 1 < c) c = d[a - 1][b] + 1;
                if (d[a][b - 1] + 1 < c) c = d[a][b - 1] + 1;
                d[a][b] = c;
            }
        if (d[ls][lt] < bestd) {
            bestd = d[ls][lt];
            best = t;
        }
    }
    return best;
}

/* ---- Declarations --------------------------------------------------------
 */

static int find_sub(const gh_policy_t *p, const char *name) {
    for (int i = 0; i < p->nsubs; i++)
        if (!strcmp(p->subs[i].name, name)) return i;
    return -1;
}

static int find_grant(const gh_policy_t *p, const char *name) {
    for (int i = 0; i < p->ngrants; i++)
        if (!strcmp(p->grants[i].name, name)) return i;
    return -1;
}

/* The subscriber a rule names, or -1 after an error (with a suggestion). */
static int sub_ref(loader_t *L, const line_t *l, const char *name) {
    int s = find_sub(L->p, name);
    if (s >= 0) return s;
    const char **names = gh_xcalloc((size_t)L->p->nsubs + 1, sizeof(char *));
    for (int i = 0; i < L->p->nsubs; i++)
        names[i] = L->p->subs[i].name;
    const char *c = closest(name, names, L->p->nsubs);
    err(L, l,
        "unknown subscriber \"%.64s\"%s%s%s (declare it with "
        "subscriber.%.64s.department=...)",
        name, c ? " (did you mean " : "", c ? c : "", c ? "?)" : "", name);
    free(names);
    return -1;
}

static int entity_ref(loader_t *L, const line_t *l, const char *name) {
    int e = gh_policy_entity_find(L->p, name);
    if (e >= 0) return e;
    const char **names = gh_xcalloc((size_t)L->p->nents + 1, sizeof(char *));
    for (int i = 0; i < L->p->nents; i++)
        names[i] = L->p->ents[i].name;
    const char *c = closest(name, names, L->p->nents);
    err(L, l,
        "unknown entity \"%.64s\"%s%s%s (the entities are the view "
        "schemas with \"gridhub.view\")",
        name, c ? " (did you mean " : "", c ? c : "", c ? "?)" : "");
    free(names);
    return -1;
}

static int field_ref(loader_t *L, const line_t *l, int ent, const char *name) {
    const pentity_t *e = &L->p->ents[ent];
    int f = gh__policy_field_find(e, name);
    if (f >= 0) return f;
    const char **names = gh_xcalloc((size_t)e->nf + 1, sizeof(char *));
    for (int i = 0; i < e->nf; i++)
        names[i] = e->f[i].name;
    const char *c = closest(name, names, e->nf);
    err(L, l, "unknown field \"%.64s\" of entity %s%s%s%s", name, e->name,
        c ? " (did you mean " : "", c ? c : "", c ? "?)" : "");
    free(names);
    return -1;
}

static void declare_subscriber(loader_t *L, const line_t *l, char *name,
                               const char *attr) {
    gh_policy_t *p = L->p;
    if (!valid_name(name)) {
        err(L, l,
            "subscriber name \"%.64s\" must be 1-64 of a-z 0-9 _ -, "
            "starting with a letter",
            name);
        return;
    }
    int s = find_sub(p, name);
    if (s < 0) {
        p->subs = gh_xrealloc(p->subs, (size_t)(p->nsubs + 1) * sizeof(psub_t));
        s = p->nsubs++;
        memset(&p->subs[s], 0, sizeof(psub_t));
        p->subs[s].name = gh_xstrdup(name);
        p->subs[s].origin = gh_xstrdup(l->origin);
    }
    psub_t *sb = &p->subs[s];
    char **slot = !strcmp(attr, "department")  ? &sb->dept
                  : !strcmp(attr, "role")      ? &sb->role
                  : !strcmp(attr, "purpose")   ? &sb->purpose
                  : !strcmp(attr, "principal") ? &sb->principal
                  : !strcmp(attr, "group")     ? &sb->group
                  : !strcmp(attr, "key")       ? &sb->key
                                               : NULL;
    if (!slot) {
        err(L, l,
            "unknown subscriber attribute \"%.64s\" (department, role, "
            "purpose, principal, group, key)",
            attr);
        return;
    }
    if (!*l->value) {
        err(L, l, "needs a value");
        return;
    }
    if ((slot == &sb->dept || slot == &sb->key) && !valid_name(l->value)) {
        err(L, l,
            "\"%.64s\" must be 1-64 of a-z 0-9 _ -, starting with a "
            "letter",
            l->value);
        return;
    }
    *slot = gh_xstrdup(l->value);
}

static void declare_grant(loader_t *L, const line_t *l, char *name,
                          const char *attr) {
    gh_policy_t *p = L->p;
    if (!valid_name(name)) {
        err(L, l,
            "grant name \"%.64s\" must be 1-64 of a-z 0-9 _ -, "
            "starting with a letter",
            name);
        return;
    }
    static const char *const attrs[] = {"subscriber", "entity", "fields",
                                        "action",     "rows",   "purpose",
                                        "from",       "until",  "approved_by"};
    int known = 0;
    for (size_t i = 0; i < sizeof(attrs) / sizeof(*attrs); i++)
        known |= !strcmp(attr, attrs[i]);
    if (!known) {
        const char *c = closest(attr, attrs, 9);
        err(L, l, "unknown grant attribute \"%.64s\"%s%s%s", attr,
            c ? " (did you mean " : "", c ? c : "", c ? "?)" : "");
        return;
    }
    if (find_grant(p, name) < 0) {
        p->grants =
            gh_xrealloc(p->grants, (size_t)(p->ngrants + 1) * sizeof(pgrant_t));
        pgrant_t *g = &p->grants[p->ngrants++];
        memset(g, 0, sizeof(*g));
        g->name = gh_xstrdup(name);
        g->origin = gh_xstrdup(l->origin);
        g->sub = g->entity = -1;
        g->from_us = INT64_MIN;
        g->until_us = INT64_MIN;
    }
}

/* ---- Rules ---------------------------------------------------------------
 */

static prule_t *add_rule(gh_policy_t *p, prule_kind_t kind, int sub, int ent,
                         int field, const line_t *l) {
    p->rules = gh_xrealloc(p->rules, (size_t)(p->nrules + 1) * sizeof(prule_t));
    prule_t *r = &p->rules[p->nrules++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->sub = sub;
    r->entity = ent;
    r->field = field;
    r->key = gh_xstrdup(l->key);
    r->origin = gh_xstrdup(l->origin);
    r->grant = -1;
    return r;
}

static pcond_t *cond(loader_t *L, const line_t *l, int ent) {
    char why[512];
    pcond_t *c = gh__cond_parse(l->value, &L->p->ents[ent], why, sizeof(why));
    if (!c) err(L, l, "%s", why);
    return c;
}

/* rows.<sub>.<entity>, field.<sub>.<entity>.<field>,
 * deny.<sub|*>.<entity>[.<field>] */
static void rule_line(loader_t *L, const line_t *l, prule_kind_t kind,
                      char *rest) {
    char *parts[3] = {0};
    int nparts = split(rest, parts, 2) ? 3 : split(rest, parts, 1) ? 2 : 1;
    if (nparts < 2 || (kind == PR_ROWS && nparts != 2) ||
        (kind == PR_FIELD && nparts != 3)) {
        err(L, l, "expected %s",
            kind == PR_ROWS    ? "rows.<subscriber>.<entity>"
            : kind == PR_FIELD ? "field.<subscriber>.<entity>.<field>"
                               : "deny.<subscriber>.<entity>[.<field>]");
        return;
    }
    int sub = -1;
    if (!strcmp(parts[0], "*")) {
        if (kind != PR_DENY) {
            err(L, l, "only deny rules may name every subscriber (*)");
            return;
        }
    } else if ((sub = sub_ref(L, l, parts[0])) < 0) {
        return;
    }
    int ent = entity_ref(L, l, parts[1]);
    if (ent < 0) return;
    const pentity_t *e = &L->p->ents[ent];
    int field = -1;
    if (nparts == 3) {
        if (!strcmp(parts[2], "*") && kind == PR_FIELD)
            field = -2;
        else if ((field = field_ref(L, l, ent, parts[2])) < 0)
            return;
    }
    if (kind == PR_FIELD) {
        pact_t a;
        if (parse_action(l->value, &a)) {
            err(L, l,
                "unknown action \"%.64s\" (clear, mask <first> <last>, "
                "hash, year, own, drop)",
                l->value);
            return;
        }
        if (field == -2 && a.k != PA_CLEAR && a.k != PA_DROP) {
            err(L, l,
                "* takes clear or drop: other actions fit some fields "
                "only; name the fields");
            return;
        }
        const char *why = field >= 0 ? action_misfit(a, &e->f[field]) : NULL;
        if (why) {
            err(L, l, "%s, and %s is not one", why, e->f[field].name);
            return;
        }
        add_rule(L->p, kind, sub, ent, field, l)->act = a;
        return;
    }
    pcond_t *c = cond(L, l, ent);
    if (!c) return;
    add_rule(L->p, kind, sub, ent, field, l)->cond = c;
}

static void grant_attr(loader_t *L, const line_t *l, pgrant_t *g,
                       const char *attr, int gi) {
    if (!strcmp(attr, "subscriber")) {
        g->sub = sub_ref(L, l, l->value);
    } else if (!strcmp(attr, "entity")) {
        g->entity = entity_ref(L, l, l->value);
    } else if (!strcmp(attr, "purpose")) {
        free(g->purpose);
        g->purpose = *l->value ? gh_xstrdup(l->value) : NULL;
    } else if (!strcmp(attr, "approved_by")) {
        free(g->approved_by);
        g->approved_by = gh_xstrdup(l->value);
    } else if (!strcmp(attr, "from") || !strcmp(attr, "until")) {
        int64_t t;
        if (parse_time(l->value, &t)) {
            err(L, l,
                "\"%.64s\" is not a time like 2026-12-02T18:00:00+08:00 "
                "(ISO 8601 with seconds and an offset)",
                l->value);
            return;
        }
        if (attr[0] == 'f')
            g->from_us = t;
        else
            g->until_us = t;
    }
    (void)gi;
}

/* Second pass over a grant's lines once subscriber and entity are known:
 * its fields, action and rows become one rule per field. */
static void grant_rules(loader_t *L, int gi) {
    gh_policy_t *p = L->p;
    pgrant_t *g = &p->grants[gi];
    const line_t *lf = NULL, *la = NULL, *lr = NULL;
    int has_sub = 0, has_ent = 0, has_until = 0;
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "grant.%s.", g->name);
    for (int i = 0; i < L->n; i++) {
        const line_t *l = &L->l[i];
        if (strncmp(l->key, prefix, strlen(prefix))) continue;
        const char *attr = l->key + strlen(prefix);
        if (!strcmp(attr, "fields")) lf = l;
        if (!strcmp(attr, "action")) la = l;
        if (!strcmp(attr, "rows")) lr = l;
        if (!strcmp(attr, "subscriber")) has_sub = 1;
        if (!strcmp(attr, "entity")) has_ent = 1;
        if (!strcmp(attr, "until")) has_until = 1;
    }
    line_t whole = {g->origin, prefix, ""};
    whole.key[strlen(prefix) - 1] = '\0';
    char missing[160] = "";
    const char *what[] = {"subscriber", "entity", "fields", "purpose", "until"};
    int absent[] = {!has_sub, !has_ent, !lf, !g->purpose, !has_until};
    for (int i = 0; i < 5; i++)
        if (absent[i])
            snprintf(missing + strlen(missing),
                     sizeof(missing) - strlen(missing), "%s%s",
                     *missing ? ", " : "", what[i]);
    if (*missing) {
        err(L, &whole,
            "grant %s lacks %s (every grant names its subscriber, entity and "
            "fields, states its purpose and lapses)",
            g->name, missing);
        return;
    }
    /* Reported on their lines. */
    if (g->sub < 0 || g->entity < 0 || g->until_us == INT64_MIN) return;
    if (g->from_us != INT64_MIN && g->from_us >= g->until_us) {
        err(L, &whole, "from is not before until");
        return;
    }
    pact_t a = {PA_CLEAR, 0, 0};
    if (la && parse_action(la->value, &a)) {
        err(L, la, "unknown action \"%.64s\"", la->value);
        return;
    }
    pcond_t *rows = NULL;
    if (lr && !(rows = cond(L, lr, g->entity))) return;
    char *list = gh_xstrdup(lf->value), *save = NULL;
    int nfields = 0;
    for (char *t = strtok_r(list, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        t = gh_str_trim(t);
        int f = field_ref(L, lf, g->entity, t);
        if (f < 0) continue;
        const char *why = action_misfit(a, &p->ents[g->entity].f[f]);
        if (why) {
            err(L, la ? la : lf, "%s, and %s is not one", why, t);
            continue;
        }
        prule_t *r = add_rule(p, PR_GRANT, g->sub, g->entity, f, lf);
        r->act = a;
        r->grant = gi;
        /* Each rule owns its copy of the condition. */
        char why2[256];
        r->cond = rows ? gh__cond_parse(gh__cond_text(rows),
                                        &p->ents[g->entity], why2, sizeof(why2))
                       : NULL;
        nfields++;
    }
    free(list);
    gh__cond_free(rows);
    if (!nfields && !L->nerr) err(L, lf, "no field");
}

static int has_field_line(const gh_policy_t *p, int sub, int entity,
                          int field) {
    for (int i = 0; i < p->nrules; i++)
        if (p->rules[i].kind == PR_FIELD && p->rules[i].sub == sub &&
            p->rules[i].entity == entity && p->rules[i].field == field)
            return 1;
    return 0;
}

/* A field's candidate actions must give it one type: a date in clear and
 * cut to its year cannot share a schema field. A `*` line is a candidate
 * only of top-level fields without a line of their own. */
static void type_conflicts(loader_t *L) {
    gh_policy_t *p = L->p;
    for (int i = 0; i < p->nrules; i++) {
        const prule_t *a = &p->rules[i];
        if ((a->kind != PR_FIELD && a->kind != PR_GRANT) || a->act.k != PA_YEAR)
            continue;
        for (int j = 0; j < p->nrules; j++) {
            const prule_t *b = &p->rules[j];
            if ((b->kind != PR_FIELD && b->kind != PR_GRANT) ||
                b->sub != a->sub || b->entity != a->entity ||
                (b->field != a->field && b->field != -2) ||
                b->act.k == PA_YEAR || b->act.k == PA_DROP)
                continue;
            if (b->field == -2 &&
                (a->field >= p->ents[a->entity].ntop ||
                 has_field_line(p, a->sub, a->entity, a->field)))
                continue;
            line_t l = {a->origin, a->key, ""};
            err(L, &l,
                "%s gives %s a year here and the full value at %s (%s): a "
                "field keeps one type per subscriber",
                p->subs[a->sub].name, p->ents[a->entity].f[a->field].name,
                b->origin, b->key);
        }
    }
}

static void warnings(loader_t *L) {
    gh_policy_t *p = L->p;
    for (int i = 0; i < p->nsubs; i++)
        for (int j = i + 1; j < p->nsubs; j++)
            if (!strcmp(p->subs[i].key, p->subs[j].key))
                gh_buf_printf(&L->warn,
                              "subscribers %s and %s share key %s: they "
                              "receive the same pseudonyms and can join their "
                              "feeds\n",
                              p->subs[i].name, p->subs[j].name, p->subs[i].key);
    for (int i = 0; i < p->nrules; i++) {
        const prule_t *r = &p->rules[i];
        if ((r->kind != PR_FIELD && r->kind != PR_GRANT) || r->field < 0 ||
            r->act.k != PA_CLEAR)
            continue;
        const pfield_t *f = &p->ents[r->entity].f[r->field];
        if (f->is_key || f->ref)
            gh_buf_printf(&L->warn,
                          "%s (%s): %s in clear holds hub ids, which every "
                          "subscriber seeing them can join on\n",
                          r->origin, r->key, f->name);
    }
}

static void load_lines(loader_t *L) {
    gh_policy_t *p = L->p;
    /* Pass 1: declarations. */
    for (int i = 0; i < L->n; i++) {
        line_t *l = &L->l[i];
        char *k = gh_xstrdup(l->key), *parts[3];
        if (!strcmp(k, "policy.name")) {
        } else if (!strcmp(k, "hub.principal")) {
            free(p->hub_principal);
            p->hub_principal = gh_xstrdup(l->value);
        } else if (!strncmp(k, "subscriber.", 11)) {
            if (split(k, parts, 2) && !strchr(parts[2], '.'))
                declare_subscriber(L, l, parts[1], parts[2]);
            else
                err(L, l, "expected subscriber.<name>.<attribute>");
        } else if (!strncmp(k, "grant.", 6)) {
            if (split(k, parts, 2) && !strchr(parts[2], '.'))
                declare_grant(L, l, parts[1], parts[2]);
            else
                err(L, l, "expected grant.<name>.<attribute>");
        } else if (!strncmp(k, "connector.", 10)) {
            if (split(k, parts, 2) && !strcmp(parts[2], "principal") &&
                valid_name(parts[1])) {
                p->conn_dept = gh_xrealloc(
                    p->conn_dept, (size_t)(p->nconn + 1) * sizeof(char *));
                p->conn_principal = gh_xrealloc(
                    p->conn_principal, (size_t)(p->nconn + 1) * sizeof(char *));
                p->conn_dept[p->nconn] = gh_xstrdup(parts[1]);
                p->conn_principal[p->nconn++] = gh_xstrdup(l->value);
            } else {
                err(L, l, "expected connector.<department>.principal");
            }
        } else if (strncmp(k, "rows.", 5) && strncmp(k, "field.", 6) &&
                   strncmp(k, "deny.", 5)) {
            static const char *const kinds[] = {
                "subscriber", "rows",      "field", "deny",
                "grant",      "connector", "hub",   "policy"};
            char *dot = strchr(k, '.');
            if (dot) *dot = '\0';
            const char *c = closest(k, kinds, 8);
            err(L, l,
                "unknown kind of line \"%.64s\"%s%s%s (subscriber, rows, "
                "field, deny, grant, connector, hub.principal, "
                "policy.name)",
                k, c ? " (did you mean " : "", c ? c : "", c ? "?)" : "");
        }
        free(k);
    }
    for (int s = 0; s < p->nsubs; s++) {
        psub_t *sb = &p->subs[s];
        line_t l = {sb->origin, sb->name, ""};
        if (!sb->dept || !sb->role)
            err(L, &l, "subscriber %s needs a department and a role", sb->name);
        if (!sb->principal) sb->principal = gh_xasprintf("User:%s", sb->name);
        if (!sb->group) sb->group = gh_xstrdup(sb->name);
        if (!sb->key) sb->key = gh_xstrdup(sb->name);
    }
    if (!p->hub_principal) p->hub_principal = gh_xstrdup("User:gridhub-hub");
    /* Pass 2: grant attributes, then rules. */
    for (int i = 0; i < L->n; i++) {
        line_t *l = &L->l[i];
        if (strncmp(l->key, "grant.", 6)) continue;
        char *k = gh_xstrdup(l->key), *parts[3];
        if (split(k, parts, 2)) {
            int g = find_grant(p, parts[1]);
            if (g >= 0) grant_attr(L, l, &p->grants[g], parts[2], g);
        }
        free(k);
    }
    for (int g = 0; g < p->ngrants; g++)
        grant_rules(L, g);
    for (int i = 0; i < L->n; i++) {
        line_t *l = &L->l[i];
        char *k = gh_xstrdup(l->key);
        if (!strncmp(k, "rows.", 5))
            rule_line(L, l, PR_ROWS, k + 5);
        else if (!strncmp(k, "field.", 6))
            rule_line(L, l, PR_FIELD, k + 6);
        else if (!strncmp(k, "deny.", 5))
            rule_line(L, l, PR_DENY, k + 5);
        free(k);
    }
    type_conflicts(L);
    if (!L->nerr) warnings(L);
}

static void policy_free(gh_policy_t *p) {
    if (!p) return;
    for (int i = 0; i < p->nsubs; i++) {
        psub_t *s = &p->subs[i];
        free(s->name);
        free(s->dept);
        free(s->role);
        free(s->purpose);
        free(s->principal);
        free(s->group);
        free(s->key);
        free(s->origin);
    }
    free(p->subs);
    for (int i = 0; i < p->nrules; i++) {
        gh__cond_free(p->rules[i].cond);
        free(p->rules[i].key);
        free(p->rules[i].origin);
    }
    free(p->rules);
    for (int i = 0; i < p->ngrants; i++) {
        free(p->grants[i].name);
        free(p->grants[i].purpose);
        free(p->grants[i].approved_by);
        free(p->grants[i].origin);
    }
    free(p->grants);
    for (int i = 0; i < p->nconn; i++) {
        free(p->conn_dept[i]);
        free(p->conn_principal[i]);
    }
    free(p->conn_dept);
    free(p->conn_principal);
    free(p->hub_principal);
    gh__policy_entities_free(p->ents, p->nents);
    free(p->warnings);
    free(p->name);
    free(p);
}

void gh_policy_destroy(gh_policy_t *p) {
    policy_free(p);
}

gh_err_t gh_policy_load_text(const char *name, const char *text, size_t len,
                             const gh_schemas_t *schemas, gh_policy_t **out,
                             char *errstr, size_t errstr_size) {
    *out = NULL;
    gh_policy_t *p = gh_xcalloc(1, sizeof(*p));
    p->name = gh_xstrdup(name);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, len, md);
    for (int i = 0; i < 8; i++)
        snprintf(p->version + 2 * i, 3, "%02x", md[i]);
    gh_err_t e =
        gh__policy_entities(schemas, &p->ents, &p->nents, errstr, errstr_size);
    if (e) {
        policy_free(p);
        return e;
    }
    if (!p->nents) {
        policy_free(p);
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "no view schema (\"gridhub.view\") in the schema set: "
                         "nothing a policy could govern");
    }
    loader_t L = {0};
    L.p = p;
    e = gh_props_parse_text(name, text, len, collect, &L, errstr, errstr_size);
    if (!e) {
        load_lines(&L);
        if (L.nerr) {
            if (L.nerr > MAX_ERRORS)
                gh_buf_printf(&L.errs, "\n... and %d more errors",
                              L.nerr - MAX_ERRORS);
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG, "%s",
                          L.errs.data);
        }
    }
    for (int i = 0; i < L.n; i++) {
        free(L.l[i].origin);
        free(L.l[i].key);
        free(L.l[i].value);
    }
    free(L.l);
    gh_buf_free(&L.errs);
    p->warnings = L.warn.data ? gh_buf_detach(&L.warn) : gh_xstrdup("");
    if (e) {
        policy_free(p);
        return e;
    }
    *out = p;
    return GH_OK;
}

gh_err_t gh_policy_load_file(const char *path, const gh_schemas_t *schemas,
                             gh_policy_t **out, char *errstr,
                             size_t errstr_size) {
    size_t len = 0;
    char *text = gh_read_file(path, &len);
    if (!text) {
        *out = NULL;
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: cannot read the policy file", path);
    }
    gh_err_t e =
        gh_policy_load_text(path, text, len, schemas, out, errstr, errstr_size);
    free(text);
    return e;
}

/* ---- Accessors -----------------------------------------------------------
 */

const char *gh_policy_version(const gh_policy_t *p) {
    return p->version;
}
const char *gh_policy_name(const gh_policy_t *p) {
    return p->name;
}
const char *gh_policy_warnings(const gh_policy_t *p) {
    return p->warnings;
}
int gh_policy_nsubscribers(const gh_policy_t *p) {
    return p->nsubs;
}
int gh_policy_subscriber_find(const gh_policy_t *p, const char *name) {
    return find_sub(p, name);
}

void gh_policy_subscriber(const gh_policy_t *p, int i,
                          gh_policy_subscriber_t *out) {
    const psub_t *s = &p->subs[i];
    *out = (gh_policy_subscriber_t){s->name,      s->dept,  s->role, s->purpose,
                                    s->principal, s->group, s->key,  s->origin};
}

int gh_policy_nentities(const gh_policy_t *p) {
    return p->nents;
}
int gh_policy_entity_find(const gh_policy_t *p, const char *name) {
    for (int i = 0; i < p->nents; i++)
        if (!strcmp(p->ents[i].name, name)) return i;
    return -1;
}
const char *gh_policy_entity_name(const gh_policy_t *p, int i) {
    return p->ents[i].name;
}
const gh_schema_t *gh_policy_entity_schema(const gh_policy_t *p, int i) {
    return p->ents[i].schema;
}
int gh_policy_nconnectors(const gh_policy_t *p) {
    return p->nconn;
}
void gh_policy_connector(const gh_policy_t *p, int i, const char **department,
                         const char **principal) {
    *department = p->conn_dept[i];
    *principal = p->conn_principal[i];
}
const char *gh_policy_hub_principal(const gh_policy_t *p) {
    return p->hub_principal;
}

int gh__policy_grant_active(const pgrant_t *g, int64_t now_us) {
    return (g->from_us == INT64_MIN || now_us >= g->from_us) &&
           now_us < g->until_us;
}

int64_t gh_policy_next_change(const gh_policy_t *p, int64_t now_us) {
    int64_t next = INT64_MAX;
    for (int i = 0; i < p->ngrants; i++) {
        const pgrant_t *g = &p->grants[i];
        if (g->from_us != INT64_MIN && g->from_us > now_us && g->from_us < next)
            next = g->from_us;
        if (g->until_us > now_us && g->until_us < next) next = g->until_us;
    }
    return next;
}

int64_t gh__policy_local_day(int64_t now_us) {
    time_t t = (time_t)(now_us / 1000000);
    struct tm tm;
    localtime_r(&t, &tm);
    char buf[32];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
    int64_t days = 0;
    gh_date_parse_iso(buf, &days, NULL);
    return days;
}
