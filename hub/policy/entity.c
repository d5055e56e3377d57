/* The entities a policy governs: every view schema of the set
 * ("gridhub.view": "<entity>"), with its fields classified for the rules
 * (which actions apply, what conditions can compare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* The type inside a nullable union (["null", T] either way round), with
 * *nullable set; the type itself otherwise. NULL for other unions. */
static const json_t *unnull(const gh_schema_t *s, const json_t *t,
                            int *nullable) {
    *nullable = 0;
    if (!json_is_array(t)) return gh_schema_resolve_json(s, t);
    if (json_array_size(t) != 2) return NULL;
    for (size_t i = 0; i < 2; i++) {
        const json_t *b = json_array_get(t, i);
        if (json_is_string(b) && !strcmp(json_string_value(b), "null")) {
            *nullable = 1;
            return gh_schema_resolve_json(s, json_array_get(t, 1 - i));
        }
    }
    return NULL;
}

static const char *type_name(const json_t *t) {
    if (json_is_string(t)) return json_string_value(t);
    return json_string_value(json_object_get(t, "type"));
}

static pkind_t kind_of(const gh_schema_t *s, const json_t *t,
                       const json_t **item) {
    *item = NULL;
    const char *n = t ? type_name(t) : NULL;
    if (!n) return PK_OTHER;
    const char *lt = json_is_object(t)
                         ? json_string_value(json_object_get(t, "logicalType"))
                         : NULL;
    if (!strcmp(n, "string")) return PK_STRING;
    if (!strcmp(n, "enum")) return PK_ENUM;
    if (!strcmp(n, "boolean")) return PK_BOOL;
    if (!strcmp(n, "int")) return lt && !strcmp(lt, "date") ? PK_DATE : PK_INT;
    if (!strcmp(n, "long"))
        return lt && (!strcmp(lt, "timestamp-micros") ||
                      !strcmp(lt, "timestamp-millis"))
                   ? PK_TIMESTAMP
                   : PK_INT;
    if (!strcmp(n, "array")) {
        const json_t *it =
            gh_schema_resolve_json(s, json_object_get(t, "items"));
        *item = it;
        const char *in = it ? type_name(it) : NULL;
        if (in && !strcmp(in, "string")) return PK_ARRAY_STRING;
        if (in && !strcmp(in, "record")) return PK_ARRAY_RECORD;
    }
    return PK_OTHER;
}

static void add_field(pentity_t *e, int *cap, const gh_schema_t *s,
                      const json_t *fj, int parent) {
    if (e->nf == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        e->f = gh_xrealloc(e->f, (size_t)*cap * sizeof(*e->f));
    }
    pfield_t *f = &e->f[e->nf++];
    memset(f, 0, sizeof(*f));
    const char *leaf = json_string_value(json_object_get(fj, "name"));
    f->name = parent < 0 ? gh_xstrdup(leaf)
                         : gh_xasprintf("%s.%s", e->f[parent].name, leaf);
    f->leaf = parent < 0 ? f->name : f->name + strlen(e->f[parent].name) + 1;
    f->parent = parent;
    f->fjson = fj;
    f->type = unnull(s, json_object_get(fj, "type"), &f->nullable);
    f->kind = f->type ? kind_of(s, f->type, &f->item) : PK_OTHER;
    f->ref = json_string_value(json_object_get(fj, "gridhub.ref"));
    f->sub_first = -1;
}

void gh__policy_entities_free(pentity_t *e, int n) {
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < e[i].nf; k++)
            free(e[i].f[k].name);
        free(e[i].f);
        free(e[i].name);
    }
    free(e);
}

int gh__policy_field_find(const pentity_t *e, const char *name) {
    for (int i = 0; i < e->nf; i++)
        if (!strcmp(e->f[i].name, name)) return i;
    return -1;
}

static gh_err_t build(const gh_schema_t *s, const char *ename, pentity_t *e,
                      char *errstr, size_t errstr_size) {
    const json_t *root = gh_schema_jsonv(s);
    const json_t *fields = json_object_get(root, "fields");
    const char *key =
        json_string_value(json_object_get(root, "gridhub.view.key"));
    memset(e, 0, sizeof(*e));
    e->name = gh_xstrdup(ename);
    e->schema = s;
    e->key = e->sources = -1;
    int cap = 0;
    size_t i;
    const json_t *fj;
    json_array_foreach(fields, i, fj) add_field(e, &cap, s, fj, -1);
    e->ntop = e->nf;
    for (int k = 0; k < e->ntop; k++) {
        pfield_t *f = &e->f[k];
        if (key && !strcmp(f->name, key)) {
            f->is_key = 1;
            e->key = k;
        }
        if (f->kind != PK_ARRAY_RECORD) continue;
        const json_t *sub = json_object_get(f->item, "fields");
        int first = e->nf;
        size_t j;
        const json_t *sj;
        json_array_foreach(sub, j, sj) {
            add_field(e, &cap, s, sj, k);
            f = &e->f[k]; /* add_field may have moved the array */
            const pfield_t *nf = &e->f[e->nf - 1];
            if (!strcmp(nf->leaf, "department") && nf->kind == PK_STRING &&
                !nf->nullable)
                f->has_dept = 1;
        }
        f->sub_first = first;
        f->nsub = e->nf - first;
        if (f->has_dept && !strcmp(f->name, "sources")) e->sources = k;
    }
    if (e->key < 0 || e->f[e->key].kind != PK_STRING || e->f[e->key].nullable)
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "view schema %s (entity %s): \"gridhub.view.key\" "
                         "must name a string field that is never null",
                         gh_schema_fullname(s), ename);
    return GH_OK;
}

gh_err_t gh__policy_entities(const gh_schemas_t *set, pentity_t **out, int *n,
                             char *errstr, size_t errstr_size) {
    pentity_t *v = NULL;
    int nv = 0;
    /* Current versions only: the set also holds history and fetched
     * schemas of the same names. */
    for (size_t i = 0; i < gh_schemas_count(set); i++) {
        const gh_schema_t *s = gh_schemas_at(set, i);
        const char *ename = json_string_value(
            json_object_get(gh_schema_jsonv(s), "gridhub.view"));
        if (!ename || gh_schemas_get(set, gh_schema_fullname(s)) != s) continue;
        v = gh_xrealloc(v, (size_t)(nv + 1) * sizeof(*v));
        gh_err_t e = build(s, ename, &v[nv], errstr, errstr_size);
        nv++;
        for (int k = 0; !e && k < nv - 1; k++)
            if (!strcmp(v[k].name, ename))
                e = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                              "two view schemas for entity %s: %s and %s",
                              ename, gh_schema_fullname(v[k].schema),
                              gh_schema_fullname(s));
        if (e) {
            gh__policy_entities_free(v, nv);
            return e;
        }
    }
    *out = v;
    *n = nv;
    return GH_OK;
}
