/* A subscriber's schema for an entity: the view schema with only the
 * fields its plan lets it see, each typed for its action (a year is an
 * int, a mask or hash a string), nullable where some records may lack it.
 * A dropped field leaves no trace: no field, no doc, no named type that
 * only it used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"

typedef struct emit {
    const gh_schema_t *s;
    json_t *defined; /* full names already defined in the output */
} emit_t;

static int primitive(const char *n) {
    static const char *const p[] = {"null",  "boolean", "int",   "long",
                                    "float", "double",  "bytes", "string"};
    for (size_t i = 0; i < sizeof(p) / sizeof(*p); i++)
        if (!strcmp(n, p[i])) return 1;
    return 0;
}

static json_t *copy_type(emit_t *x, const json_t *t);

/* A field object without gridhub's own attributes, its type copied. */
static json_t *copy_field(emit_t *x, const json_t *f) {
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)f, k, v) {
        if (!strncmp(k, "gridhub.", 8)) continue;
        if (!strcmp(k, "type"))
            json_object_set_new(o, k, copy_type(x, v));
        else
            json_object_set_new(o, k, json_deep_copy(v));
    }
    return o;
}

/* Copies a type node: a named type is defined at its first use in the
 * output and referenced by name after, wherever the original defined it
 * (its first user may have been dropped). */
static json_t *copy_type(emit_t *x, const json_t *t) {
    if (json_is_string(t)) {
        const char *n = json_string_value(t);
        if (primitive(n) || json_object_get(x->defined, n))
            return json_string(n);
        const json_t *def = gh_schema_resolve_json(x->s, t);
        return def && def != t ? copy_type(x, def) : json_string(n);
    }
    if (json_is_array(t)) {
        json_t *u = json_array();
        size_t i;
        const json_t *b;
        json_array_foreach(t, i, b) json_array_append_new(u, copy_type(x, b));
        return u;
    }
    const char *ty = json_string_value(json_object_get(t, "type"));
    if (!ty) return json_deep_copy(t);
    if (!strcmp(ty, "record") || !strcmp(ty, "enum") || !strcmp(ty, "fixed") ||
        !strcmp(ty, "error")) {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (name && json_object_get(x->defined, name)) return json_string(name);
        if (name) json_object_set_new(x->defined, name, json_true());
        if (strcmp(ty, "record") && strcmp(ty, "error"))
            return json_deep_copy(t);
        json_t *o = json_object(), *fs = json_array();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)t, k, v) {
            if (!strcmp(k, "fields") || !strncmp(k, "gridhub.", 8)) continue;
            json_object_set_new(o, k, json_deep_copy(v));
        }
        size_t i;
        const json_t *f;
        json_array_foreach(json_object_get(t, "fields"), i, f)
            json_array_append_new(fs, copy_field(x, f));
        json_object_set_new(o, "fields", fs);
        return o;
    }
    json_t *o = json_deep_copy(t);
    if (!strcmp(ty, "array"))
        json_object_set_new(o, "items",
                            copy_type(x, json_object_get(t, "items")));
    if (!strcmp(ty, "map"))
        json_object_set_new(o, "values",
                            copy_type(x, json_object_get(t, "values")));
    return o;
}

static json_t *field_obj(emit_t *x, const gh_policy_plan_t *pl, int i);

/* The type of field i for the plan, before any null wrapping. */
static json_t *derived_type(emit_t *x, const gh_policy_plan_t *pl, int i) {
    const pfield_t *f = &pl->e->f[i];
    const fplan_t *fp = &pl->f[i];
    if (fp->year) return json_string("int");
    switch (f->kind) {
    case PK_STRING:
        return json_string("string");
    case PK_ARRAY_STRING:
        return json_pack("{s:s, s:s}", "type", "array", "items", "string");
    case PK_ARRAY_RECORD: {
        const char *name = json_string_value(json_object_get(f->item, "name"));
        json_t *rec = json_object(), *fs = json_array();
        json_object_set_new(rec, "type", json_string("record"));
        json_object_set_new(rec, "name", json_string(name ? name : "Item"));
        const json_t *doc = json_object_get(f->item, "doc");
        if (doc) json_object_set_new(rec, "doc", json_deep_copy(doc));
        if (name) json_object_set_new(x->defined, name, json_true());
        for (int k = f->sub_first; k < f->sub_first + f->nsub; k++)
            if (pl->f[k].in_schema)
                json_array_append_new(fs, field_obj(x, pl, k));
        json_object_set_new(rec, "fields", fs);
        return json_pack("{s:s, s:o}", "type", "array", "items", rec);
    }
    default:
        return copy_type(x, f->type);
    }
}

/* What the subscriber is told about a field's treatment. */
static void note(const gh_policy_plan_t *pl, int i, gh_buf_t *b) {
    const fplan_t *fp = &pl->f[i];
    char act[32];
    if (fp->base.k != PA_DROP && fp->base.k != PA_INHERIT &&
        fp->base.k != PA_CLEAR) {
        gh__policy_act_text(fp->base, act, sizeof(act));
        gh_buf_printf(b, " Policy: %s.", act);
    }
    for (int g = 0; g < fp->ngrants; g++) {
        gh__policy_act_text(fp->grants[g]->act, act, sizeof(act));
        gh_buf_printf(b, " Policy: %s where grant %s applies.", act,
                      pl->p->grants[fp->grants[g]->grant].name);
    }
    if (fp->withholdable)
        gh_buf_puts(b, " Null where the policy withholds it.");
}

static json_t *field_obj(emit_t *x, const gh_policy_plan_t *pl, int i) {
    const pfield_t *f = &pl->e->f[i];
    const fplan_t *fp = &pl->f[i];
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(f->leaf));
    json_t *t = derived_type(x, pl, i);
    int nullable = f->nullable || fp->withholdable;
    if (nullable) {
        json_object_set_new(o, "type", json_pack("[s, o]", "null", t));
        json_object_set_new(o, "default", json_null());
    } else {
        json_object_set_new(o, "type", t);
        const json_t *dflt = json_object_get(f->fjson, "default");
        int same = fp->base.k == PA_CLEAR || fp->base.k == PA_OWN ||
                   fp->base.k == PA_INHERIT;
        if (dflt && same)
            json_object_set_new(o, "default", json_deep_copy(dflt));
    }
    gh_buf_t doc = {0};
    const char *d = json_string_value(json_object_get(f->fjson, "doc"));
    if (d) gh_buf_puts(&doc, d);
    note(pl, i, &doc);
    if (doc.len)
        json_object_set_new(o, "doc",
                            json_string(doc.data + (doc.data[0] == ' ')));
    gh_buf_free(&doc);
    return o;
}

gh_err_t gh__plan_schema(gh_policy_plan_t *pl, gh_schemas_t *set, char *errstr,
                         size_t errstr_size) {
    const json_t *root = gh_schema_jsonv(pl->e->schema);
    emit_t x = {pl->e->schema, json_object()};
    json_t *rec = json_object(), *fs = json_array();
    json_object_set_new(rec, "type", json_string("record"));
    json_object_set_new(rec, "name",
                        json_string(gh_schema_fullname(pl->e->schema)));
    json_object_set_new(x.defined, gh_schema_fullname(pl->e->schema),
                        json_true());
    const json_t *doc = json_object_get(root, "doc");
    if (doc) json_object_set_new(rec, "doc", json_deep_copy(doc));
    for (int i = 0; i < pl->e->ntop; i++)
        if (pl->f[i].in_schema) json_array_append_new(fs, field_obj(&x, pl, i));
    json_object_set_new(rec, "fields", fs);
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    json_decref(x.defined);
    gh_err_t e =
        gh_schemas_add_json(set, text, 0, &pl->schema, errstr, errstr_size);
    free(text);
    return e;
}
