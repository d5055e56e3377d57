/*
 * The schema set: every version of every schema the process may meet, by
 * full name (current version) and by fingerprint (any version), plus the
 * change envelopes composed from the template for each entity.
 *
 * Each schema is kept three ways: its JSON text as given, a jansson tree
 * with every name fully qualified (so the projection and JSON rendering
 * never have to track namespaces) and the Avro C schema parsed from that
 * qualified tree. Schemas are never removed before the set is destroyed,
 * which is what lets every lookup hand out borrowed pointers; the mutex
 * only guards the index arrays, because a serde that talks to a Schema
 * Registry adds schemas while other threads decode.
 */
#include "gridhub/avro.h"
#include "avro_names.h"

#include <dirent.h>
#include <errno.h>
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

/* The template's full name; see the composition in gridhub/avro.h. */
#define ENVELOPE_TEMPLATE "gridhub.change.Envelope"

struct gh_schema {
    char *fullname;
    char *json_text;
    char *pcf;
    uint64_t fp;
    json_t *jsonv; /* qualified tree */
    json_t *named; /* full name -> definition node inside jsonv (borrowed) */
    int entity;    /* "gridhub.entity": true at top level */
    avro_schema_t avro;
    avro_value_iface_t *iface;
};

struct gh_schemas {
    pthread_mutex_t lock;
    gh_schema_t **v;
    size_t n, cap;
    json_t *current; /* full name -> index into v */
};

static const char *const primitives[] = {"null",  "boolean", "int",
                                         "long",  "float",   "double",
                                         "bytes", "string",  NULL};

static int is_primitive(const char *t) {
    for (int i = 0; primitives[i]; i++)
        if (strcmp(t, primitives[i]) == 0) return 1;
    return 0;
}

static int is_named_type(const char *t) {
    return strcmp(t, "record") == 0 || strcmp(t, "error") == 0 ||
           strcmp(t, "enum") == 0 || strcmp(t, "fixed") == 0;
}

static const char *short_name(const char *fullname) {
    const char *dot = strrchr(fullname, '.');
    return dot ? dot + 1 : fullname;
}

/* ---- Qualification ------------------------------------------------------- */

/* Returns a copy of schema node n (seen inside namespace ns) in which every
 * name is a full name. `defined` tracks the names defined so far, so that a
 * short reference can fall back to the null namespace the way the
 * canonical form does. The input has already passed
 * gh_avro_canonical_form(), so its shape is trusted. */
static json_t *qualify(const json_t *n, const char *ns, json_t *defined) {
    if (json_is_string(n)) {
        const char *t = json_string_value(n);
        if (is_primitive(t)) return json_string(t);
        char *full = gh__avro_fullname(t, ns);
        if (!json_object_get(defined, full) && !strchr(t, '.') &&
            json_object_get(defined, t)) {
            free(full);
            full = gh_xstrdup(t);
        }
        json_t *r = json_string(full);
        free(full);
        return r;
    }
    if (json_is_array(n)) {
        json_t *r = json_array();
        size_t i;
        const json_t *b;
        json_array_foreach(n, i, b)
            json_array_append_new(r, qualify(b, ns, defined));
        return r;
    }
    json_t *r = json_deep_copy(n);
    const char *t = json_string_value(json_object_get(n, "type"));
    if (!t) return r;
    if (is_named_type(t)) {
        const json_t *jns = json_object_get(n, "namespace");
        const char *space = json_is_string(jns) ? json_string_value(jns) : ns;
        char *full = gh__avro_fullname(
            json_string_value(json_object_get(n, "name")), space);
        json_object_set_new(defined, full, json_true());
        json_object_set_new(r, "name", json_string(full));
        json_object_del(r, "namespace");
        if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0) {
            char *inner = gh__avro_namespace_of(full);
            json_t *fields = json_object_get(r, "fields");
            size_t i;
            json_t *f;
            json_array_foreach(fields, i, f) {
                json_t *q = qualify(json_object_get(f, "type"), inner, defined);
                json_object_set_new(f, "type", q);
            }
            free(inner);
        }
        free(full);
    } else if (strcmp(t, "array") == 0) {
        json_object_set_new(r, "items",
                            qualify(json_object_get(n, "items"), ns, defined));
    } else if (strcmp(t, "map") == 0) {
        json_object_set_new(r, "values",
                            qualify(json_object_get(n, "values"), ns, defined));
    } else if (!is_primitive(t)) {
        json_t *q = qualify(json_object_get(n, "type"), ns, defined);
        json_object_set_new(r, "type", q);
    }
    return r;
}

/* Records every named definition of the qualified tree n in `named`. */
static void collect_named(json_t *n, json_t *named) {
    if (json_is_array(n)) {
        size_t i;
        json_t *b;
        json_array_foreach(n, i, b) collect_named(b, named);
        return;
    }
    if (!json_is_object(n)) return;
    const char *t = json_string_value(json_object_get(n, "type"));
    if (!t) return;
    if (is_named_type(t)) {
        /* Borrowed: the definition lives as long as jsonv. */
        json_object_set(named, json_string_value(json_object_get(n, "name")),
                        n);
        json_t *fields = json_object_get(n, "fields");
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f)
            collect_named(json_object_get(f, "type"), named);
    } else if (strcmp(t, "array") == 0) {
        collect_named(json_object_get(n, "items"), named);
    } else if (strcmp(t, "map") == 0) {
        collect_named(json_object_get(n, "values"), named);
    }
}

static const char *type_label(const json_t *q) {
    if (json_is_string(q)) return json_string_value(q);
    if (json_is_array(q)) return "union";
    const char *t = json_string_value(json_object_get(q, "type"));
    if (t && is_named_type(t))
        return json_string_value(json_object_get(q, "name"));
    return t ? t : "?";
}

/* ---- Schema objects ------------------------------------------------------ */

static void schema_free(gh_schema_t *s) {
    if (!s) return;
    if (s->iface) avro_value_iface_decref(s->iface);
    if (s->avro) avro_schema_decref(s->avro);
    /* `named` holds extra references into jsonv; drop it first. */
    json_decref(s->named);
    json_decref(s->jsonv);
    free(s->fullname);
    free(s->json_text);
    free(s->pcf);
    free(s);
}

/* Builds a schema object from its text; the set is not touched. */
static gh_err_t schema_build(const char *text, gh_schema_t **out, char *errstr,
                             size_t errstr_size) {
    *out = NULL;
    char *pcf = NULL;
    gh_err_t err = gh_avro_canonical_form(text, &pcf, errstr, errstr_size);
    if (err) return err;
    /* Parsing cannot fail: the canonical form just parsed the same text. */
    json_t *root = json_loads(text, JSON_DECODE_ANY, NULL);
    gh_schema_t *s = gh_xcalloc(1, sizeof(*s));
    s->pcf = pcf;
    s->fp = gh_avro_crc64(pcf, strlen(pcf));
    s->json_text = gh_xstrdup(text);
    json_t *defined = json_object();
    s->jsonv = qualify(root, "", defined);
    json_decref(defined);
    s->entity = json_is_object(root) &&
                json_is_true(json_object_get(root, "gridhub.entity"));
    json_decref(root);
    s->named = json_object();
    collect_named(s->jsonv, s->named);
    s->fullname = gh_xstrdup(type_label(s->jsonv));

    /* Avro C gets the qualified text so that its own namespace handling,
     * which has had bugs, never matters. */
    char *qtext = json_dumps(s->jsonv, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!qtext) {
        schema_free(s);
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "schema could not be serialized back to JSON");
    }
    int rc = avro_schema_from_json_length(qtext, strlen(qtext), &s->avro);
    free(qtext);
    if (rc) {
        s->avro = NULL;
        err = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                        "Avro C rejected schema %s: %s", s->fullname,
                        avro_strerror());
        schema_free(s);
        return err;
    }
    s->iface = avro_generic_class_from_schema(s->avro);
    if (!s->iface) {
        err = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                        "no generic value class for schema %s: %s", s->fullname,
                        avro_strerror());
        schema_free(s);
        return err;
    }
    *out = s;
    return GH_OK;
}

const char *gh_schema_fullname(const gh_schema_t *s) {
    return s->fullname;
}
const char *gh_schema_json(const gh_schema_t *s) {
    return s->json_text;
}
const char *gh_schema_canonical(const gh_schema_t *s) {
    return s->pcf;
}
uint64_t gh_schema_fingerprint(const gh_schema_t *s) {
    return s->fp;
}
avro_schema_t gh_schema_avro(const gh_schema_t *s) {
    return s->avro;
}
const json_t *gh_schema_jsonv(const gh_schema_t *s) {
    return s->jsonv;
}

const json_t *gh_schema_resolve_json(const gh_schema_t *s, const json_t *type) {
    if (!json_is_string(type) || is_primitive(json_string_value(type)))
        return type;
    return json_object_get(s->named, json_string_value(type));
}

gh_err_t gh_schema_new_value(const gh_schema_t *s, avro_value_t *out,
                             char *errstr, size_t errstr_size) {
    if (avro_generic_value_new(s->iface, out) != 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "cannot create a value of schema %s: %s", s->fullname,
                         avro_strerror());
    return GH_OK;
}

/* ---- The set ------------------------------------------------------------- */

gh_schemas_t *gh_schemas_new(void) {
    gh_schemas_t *set = gh_xcalloc(1, sizeof(*set));
    pthread_mutex_init(&set->lock, NULL);
    set->current = json_object();
    return set;
}

void gh_schemas_destroy(gh_schemas_t *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++)
        schema_free(set->v[i]);
    free(set->v);
    json_decref(set->current);
    pthread_mutex_destroy(&set->lock);
    free(set);
}

/* Caller holds the lock. */
static gh_schema_t *find_fp_locked(const gh_schemas_t *set, uint64_t fp) {
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i]->fp == fp) return set->v[i];
    return NULL;
}

static void set_current_locked(gh_schemas_t *set, const gh_schema_t *s) {
    for (size_t i = 0; i < set->n; i++)
        if (set->v[i] == s) {
            json_object_set_new(set->current, s->fullname,
                                json_integer((json_int_t)i));
            return;
        }
}

gh_err_t gh_schemas_add_json(gh_schemas_t *set, const char *schema_json,
                             int current, const gh_schema_t **out, char *errstr,
                             size_t errstr_size) {
    if (out) *out = NULL;
    gh_schema_t *s = NULL;
    gh_err_t err = schema_build(schema_json, &s, errstr, errstr_size);
    if (err) return err;
    pthread_mutex_lock(&set->lock);
    gh_schema_t *have = find_fp_locked(set, s->fp);
    if (have) {
        schema_free(s);
        s = have;
    } else {
        if (set->n == set->cap) {
            set->cap = set->cap ? set->cap * 2 : 16;
            set->v = gh_xrealloc(set->v, set->cap * sizeof(*set->v));
        }
        set->v[set->n++] = s;
    }
    if (current) set_current_locked(set, s);
    pthread_mutex_unlock(&set->lock);
    if (out) *out = s;
    return GH_OK;
}

const gh_schema_t *gh_schemas_get(const gh_schemas_t *set,
                                  const char *fullname) {
    gh_schemas_t *m = (gh_schemas_t *)set; /* the lock is not logical state */
    const gh_schema_t *s = NULL;
    pthread_mutex_lock(&m->lock);
    json_t *idx = json_object_get(set->current, fullname);
    if (idx) s = set->v[json_integer_value(idx)];
    pthread_mutex_unlock(&m->lock);
    return s;
}

/* "household_member" -> "HouseholdMember" (new string). */
static char *camel(const char *snake) {
    gh_buf_t b = {0};
    int up = 1;
    for (const char *p = snake; *p; p++) {
        if (*p == '_') {
            up = 1;
            continue;
        }
        char c = up ? (char)toupper((unsigned char)*p) : *p;
        gh_buf_append(&b, &c, 1);
        up = 0;
    }
    return gh_buf_detach(&b);
}

const gh_schema_t *gh_schemas_entity(const gh_schemas_t *set,
                                     const char *entity,
                                     const gh_schema_t **envelope) {
    char *cam = camel(entity);
    char *envname = gh_xasprintf("gridhub.change.%sEnvelope", cam);
    char *entname = gh_xasprintf("gridhub.canonical.%s", cam);
    free(cam);
    const gh_schema_t *ent = gh_schemas_get(set, entname);
    const gh_schema_t *env = gh_schemas_get(set, envname);
    free(envname);
    free(entname);
    if (envelope) *envelope = ent ? env : NULL;
    return env ? ent : NULL;
}

const gh_schema_t *gh_schemas_by_fingerprint(const gh_schemas_t *set,
                                             uint64_t fp) {
    gh_schemas_t *m = (gh_schemas_t *)set;
    pthread_mutex_lock(&m->lock);
    const gh_schema_t *s = find_fp_locked(set, fp);
    pthread_mutex_unlock(&m->lock);
    return s;
}

size_t gh_schemas_count(const gh_schemas_t *set) {
    gh_schemas_t *m = (gh_schemas_t *)set;
    pthread_mutex_lock(&m->lock);
    size_t n = set->n;
    pthread_mutex_unlock(&m->lock);
    return n;
}

const gh_schema_t *gh_schemas_at(const gh_schemas_t *set, size_t i) {
    gh_schemas_t *m = (gh_schemas_t *)set;
    pthread_mutex_lock(&m->lock);
    const gh_schema_t *s = i < set->n ? set->v[i] : NULL;
    pthread_mutex_unlock(&m->lock);
    return s;
}

/* ---- Envelope composition ------------------------------------------------ */

typedef struct compose {
    const char *row_ref;  /* the template's placeholder row, full name */
    const char *row_name; /* full name of <E>Row */
    json_t *row_def;      /* definition replacing the placeholder's */
    int replaced;
} compose_t;

/* Copy of the template's schema node n with the placeholder row replaced by
 * the entity's; only schema positions are rewritten, so a doc string or a
 * default that happens to read "gridhub.change.Row" stays as written. */
static json_t *substitute(const json_t *n, compose_t *c) {
    if (json_is_string(n)) {
        if (strcmp(json_string_value(n), c->row_ref) == 0)
            return json_string(c->row_name);
        return json_deep_copy(n);
    }
    if (json_is_array(n)) {
        json_t *r = json_array();
        size_t i;
        const json_t *b;
        json_array_foreach(n, i, b) json_array_append_new(r, substitute(b, c));
        return r;
    }
    const char *t = json_string_value(json_object_get(n, "type"));
    if (t && is_named_type(t) &&
        strcmp(json_string_value(json_object_get(n, "name")), c->row_ref) ==
            0) {
        c->replaced = 1;
        return json_deep_copy(c->row_def);
    }
    json_t *r = json_deep_copy(n);
    if (!t) return r;
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0) {
        json_t *fields = json_object_get(r, "fields");
        size_t i;
        json_t *f;
        json_array_foreach(fields, i, f) {
            json_t *q = substitute(json_object_get(f, "type"), c);
            json_object_set_new(f, "type", q);
        }
    } else if (strcmp(t, "array") == 0) {
        json_object_set_new(r, "items",
                            substitute(json_object_get(n, "items"), c));
    } else if (strcmp(t, "map") == 0) {
        json_object_set_new(r, "values",
                            substitute(json_object_get(n, "values"), c));
    }
    return r;
}

/* Composes the envelope of entity `ent` from template `tpl` (both
 * qualified trees); returns its JSON text (caller frees) or NULL with
 * errstr set. */
static char *compose_envelope(const gh_schema_t *tpl, const gh_schema_t *ent,
                              char *errstr, size_t errstr_size) {
    char *ns = gh__avro_namespace_of(tpl->fullname);
    const char *e = short_name(ent->fullname);
    char *row_ref = ns[0] ? gh_xasprintf("%s.Row", ns) : gh_xstrdup("Row");
    char *row_short = gh_xasprintf("%sRow", e);
    char *row_name = gh__avro_fullname(row_short, ns);
    free(row_short);
    char *env_name = gh_xasprintf("%s%s%sEnvelope", ns, ns[0] ? "." : "", e);
    char *unchanged =
        ns[0] ? gh_xasprintf("%s.Unchanged", ns) : gh_xstrdup("Unchanged");

    json_t *row = json_pack(
        "{s:s, s:s, s:s++, s:[]}", "type", "record", "name", row_name, "doc",
        "Row image of ", ent->fullname,
        "; every field also admits Unchanged, which stands for a value the "
        "change did not carry (a TOASTed column the update left alone).",
        "fields");
    json_t *row_fields = json_object_get(row, "fields");
    const json_t *ent_fields = json_object_get(ent->jsonv, "fields");
    size_t i;
    const json_t *f;
    json_array_foreach(ent_fields, i, f) {
        json_t *nf = json_deep_copy(f);
        const json_t *t = json_object_get(f, "type");
        json_t *u = json_is_array(t) ? json_deep_copy(t)
                                     : json_pack("[o]", json_deep_copy(t));
        if (i == 0)
            json_array_append_new(
                u, json_pack("{s:s, s:s, s:s, s:[s]}", "type", "enum", "name",
                             unchanged, "doc",
                             "The field's value did not change and was not "
                             "sent; keep the one you have.",
                             "symbols", "UNCHANGED"));
        else
            json_array_append_new(u, json_string(unchanged));
        json_object_set_new(nf, "type", u);
        json_array_append_new(row_fields, nf);
    }

    compose_t c = {.row_ref = row_ref, .row_name = row_name, .row_def = row};
    json_t *env = substitute(tpl->jsonv, &c);
    char *text = NULL;
    if (!c.replaced) {
        gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                  "envelope template %s has no placeholder record %s to "
                  "replace with %s's row",
                  tpl->fullname, row_ref, ent->fullname);
    } else {
        json_object_set_new(env, "name", json_string(env_name));
        char *doc =
            gh_xasprintf("Change event of %s, composed from the template %s.",
                         ent->fullname, tpl->fullname);
        json_object_set_new(env, "doc", json_string(doc));
        free(doc);
        text = json_dumps(env, JSON_COMPACT);
    }
    json_decref(env);
    json_decref(row);
    free(ns);
    free(row_ref);
    free(row_name);
    free(env_name);
    free(unchanged);
    return text;
}

/* ---- Loading a directory ------------------------------------------------- */

typedef struct loaded {
    char *path;
    const gh_schema_t *s;
    int current;
} loaded_t;

static int avsc_filter(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 &&
           strcmp(d->d_name + n - 5, ".avsc") == 0;
}

/* Adds every .avsc of dir (sorted by name, so errors are reproducible).
 * A missing directory is an error only when required. */
static gh_err_t load_files(gh_schemas_t *set, const char *dir, int current,
                           int required, loaded_t **files, size_t *nfiles,
                           char *errstr, size_t errstr_size) {
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, avsc_filter, alphasort);
    if (n < 0) {
        if (!required && errno == ENOENT) return GH_OK;
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "cannot list schema directory %s: %s", dir,
                         strerror(errno));
    }
    gh_err_t err = GH_OK;
    for (int i = 0; i < n; i++) {
        char *path = gh_xasprintf("%s/%s", dir, ents[i]->d_name);
        if (err) {
            free(path);
            continue;
        }
        char *text = gh_read_file(path, NULL);
        if (!text) {
            err = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                            "cannot read %s: %s", path, strerror(errno));
            free(path);
            continue;
        }
        char why[512];
        const gh_schema_t *s = NULL;
        err = gh_schemas_add_json(set, text, 0, &s, why, sizeof(why));
        free(text);
        if (err) {
            gh_seterr(errstr, errstr_size, err, "%s: %s", path, why);
            free(path);
            continue;
        }
        for (size_t j = 0; current && j < *nfiles; j++)
            if ((*files)[j].current &&
                strcmp(gh_schema_fullname((*files)[j].s), s->fullname) == 0) {
                err = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                                "%s and %s both define %s; keep one current "
                                "version and move the other to history/",
                                (*files)[j].path, path, s->fullname);
                break;
            }
        *files = gh_xrealloc(*files, (*nfiles + 1) * sizeof(**files));
        (*files)[(*nfiles)++] = (loaded_t){path, s, current};
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return err;
}

gh_err_t gh_schemas_load_dir(gh_schemas_t **out, const char *dir, char *errstr,
                             size_t errstr_size) {
    *out = NULL;
    gh_schemas_t *set = gh_schemas_new();
    loaded_t *files = NULL;
    size_t nfiles = 0;
    char *hist = gh_xasprintf("%s/history", dir);
    gh_err_t err =
        load_files(set, dir, 1, 1, &files, &nfiles, errstr, errstr_size);
    if (!err)
        err = load_files(set, hist, 0, 0, &files, &nfiles, errstr, errstr_size);
    free(hist);

    /* Everything went in as non-current so that the order of the two
     * directories cannot matter; now mark the current versions. */
    for (size_t i = 0; !err && i < nfiles; i++)
        if (files[i].current) {
            pthread_mutex_lock(&set->lock);
            set_current_locked(set, files[i].s);
            pthread_mutex_unlock(&set->lock);
        }

    const gh_schema_t *tpl_current = gh_schemas_get(set, ENVELOPE_TEMPLATE);
    for (size_t i = 0; !err && i < nfiles; i++) {
        if (!files[i].s->entity) continue;
        if (!json_is_array(json_object_get(files[i].s->jsonv, "fields"))) {
            err = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                            "%s: \"gridhub.entity\" is set on %s, which is "
                            "not a record",
                            files[i].path, files[i].s->fullname);
            break;
        }
        if (!tpl_current) {
            err = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                            "%s: entity %s needs the envelope template %s "
                            "(envelope.avsc) in %s",
                            files[i].path, files[i].s->fullname,
                            ENVELOPE_TEMPLATE, dir);
            break;
        }
        /* Every template version with every entity version: an old
         * message carries whichever pair was current when it was written. */
        for (size_t j = 0; !err && j < nfiles; j++) {
            if (strcmp(files[j].s->fullname, ENVELOPE_TEMPLATE) != 0) continue;
            char why[512];
            char *text =
                compose_envelope(files[j].s, files[i].s, why, sizeof(why));
            if (!text) {
                err = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA, "%s: %s",
                                files[j].path, why);
                break;
            }
            int cur = files[i].current && files[j].s == tpl_current;
            err = gh_schemas_add_json(set, text, cur, NULL, why, sizeof(why));
            if (err)
                gh_seterr(errstr, errstr_size, err,
                          "envelope of %s (%s) composed from %s: %s",
                          files[i].s->fullname, files[i].path, files[j].path,
                          why);
            free(text);
        }
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].path);
    free(files);
    if (err) {
        gh_schemas_destroy(set);
        return err;
    }
    *out = set;
    return GH_OK;
}

const char *gh_schemas_dir(const gh_conf_t *conf) {
    const char *d = gh_conf_get(conf, "schemas.dir");
    return d ? d : GH_SCHEMAS_DIR;
}
