/*
 * Schema resolution by projection: a value decoded with the writer's schema
 * is copied onto a fresh value of the reader's schema, following the Avro
 * spec's resolution rules.
 *
 * Avro C has a resolver of its own (avro_resolved_writer), but it cannot
 * fill reader defaults, so a reader that added a field could never read an
 * old message. The reader side is therefore driven by the reader schema's
 * qualified JSON (which has the defaults, enum defaults and aliases), the
 * writer side by the decoded value itself.
 */
#include "gridhub/avro.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

typedef struct proj {
    const gh_schema_t *w, *r;
    gh_buf_t path; /* field path inside the reader, for messages */
    char *errstr;
    size_t errstr_size;
} proj_t;

static gh_err_t perr(proj_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static gh_err_t perr(proj_t *p, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gh_seterr(p->errstr, p->errstr_size, GH_ERR_SCHEMA,
                     "reading %s as %s, at %s%s: %s", gh_schema_fullname(p->w),
                     gh_schema_fullname(p->r), gh_schema_fullname(p->r),
                     p->path.len ? p->path.data : "", msg);
}

static size_t path_field(proj_t *p, const char *name) {
    size_t saved = p->path.len;
    gh_buf_printf(&p->path, ".%s", name);
    return saved;
}

static size_t path_index(proj_t *p, size_t i) {
    size_t saved = p->path.len;
    gh_buf_printf(&p->path, "[%zu]", i);
    return saved;
}

static size_t path_key(proj_t *p, const char *key) {
    size_t saved = p->path.len;
    gh_buf_printf(&p->path, "[\"%s\"]", key);
    return saved;
}

static void path_pop(proj_t *p, size_t saved) {
    p->path.len = saved;
    if (p->path.data) p->path.data[saved] = '\0';
}

/* ---- Reader-side type inspection ----------------------------------------- */

/* The Avro type of a resolved reader node, or -1 if it is not a schema. */
static int json_kind(const json_t *n) {
    static const struct {
        const char *name;
        avro_type_t type;
    } t[] = {{"null", AVRO_NULL},     {"boolean", AVRO_BOOLEAN},
             {"int", AVRO_INT32},     {"long", AVRO_INT64},
             {"float", AVRO_FLOAT},   {"double", AVRO_DOUBLE},
             {"bytes", AVRO_BYTES},   {"string", AVRO_STRING},
             {"record", AVRO_RECORD}, {"error", AVRO_RECORD},
             {"enum", AVRO_ENUM},     {"fixed", AVRO_FIXED},
             {"array", AVRO_ARRAY},   {"map", AVRO_MAP}};
    if (json_is_array(n)) return AVRO_UNION;
    const char *name = json_is_string(n)
                           ? json_string_value(n)
                           : json_string_value(json_object_get(n, "type"));
    if (!name) return -1;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(name, t[i].name) == 0) return (int)t[i].type;
    return -1;
}

static int is_named_kind(int k) {
    return k == AVRO_RECORD || k == AVRO_ENUM || k == AVRO_FIXED;
}

static const char *short_name(const char *fullname) {
    const char *dot = strrchr(fullname, '.');
    return dot ? dot + 1 : fullname;
}

static avro_schema_t deref(avro_schema_t s) {
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

static const char *kind_label(int k) {
    switch (k) {
    case AVRO_NULL:
        return "null";
    case AVRO_BOOLEAN:
        return "boolean";
    case AVRO_INT32:
        return "int";
    case AVRO_INT64:
        return "long";
    case AVRO_FLOAT:
        return "float";
    case AVRO_DOUBLE:
        return "double";
    case AVRO_BYTES:
        return "bytes";
    case AVRO_STRING:
        return "string";
    case AVRO_RECORD:
        return "record";
    case AVRO_ENUM:
        return "enum";
    case AVRO_FIXED:
        return "fixed";
    case AVRO_ARRAY:
        return "array";
    case AVRO_MAP:
        return "map";
    case AVRO_UNION:
        return "union";
    default:
        return "unknown type";
    }
}

/* A writer named type matches a reader one with the same unqualified name
 * (as the spec says) or one of the reader's aliases. */
static int names_match(avro_schema_t ws, const json_t *rn) {
    const char *wname = avro_schema_type_name(ws);
    const char *rname = json_string_value(json_object_get(rn, "name"));
    if (!wname || !rname) return 0;
    if (strcmp(short_name(wname), short_name(rname)) == 0) return 1;
    const json_t *aliases = json_object_get(rn, "aliases");
    size_t i;
    const json_t *a;
    json_array_foreach(aliases, i, a) {
        if (json_is_string(a) &&
            strcmp(short_name(json_string_value(a)), short_name(wname)) == 0)
            return 1;
    }
    return 0;
}

static int promotes(int w, int r) {
    switch (w) {
    case AVRO_INT32:
        return r == AVRO_INT64 || r == AVRO_FLOAT || r == AVRO_DOUBLE;
    case AVRO_INT64:
        return r == AVRO_FLOAT || r == AVRO_DOUBLE;
    case AVRO_FLOAT:
        return r == AVRO_DOUBLE;
    case AVRO_STRING:
        return r == AVRO_BYTES;
    case AVRO_BYTES:
        return r == AVRO_STRING;
    default:
        return 0;
    }
}

/* Index of the reader union branch that the writer's (non-union) value
 * resolves against, or -1. An exact match wins over a promotion, so
 * ["int","long"] keeps an int an int. */
static int match_branch(proj_t *p, avro_value_t *wv, const json_t *runion) {
    int wk = avro_value_get_type(wv);
    avro_schema_t ws = deref(avro_value_get_schema(wv));
    size_t i;
    const json_t *b;
    json_array_foreach(runion, i, b) {
        const json_t *rb = gh_schema_resolve_json(p->r, b);
        if (rb && json_kind(rb) == wk &&
            (!is_named_kind(wk) || names_match(ws, rb)))
            return (int)i;
    }
    json_array_foreach(runion, i, b) {
        const json_t *rb = gh_schema_resolve_json(p->r, b);
        if (rb && promotes(wk, json_kind(rb))) return (int)i;
    }
    return -1;
}

/* ---- Defaults ------------------------------------------------------------ */

/* Bytes and fixed defaults are JSON strings whose code points 0-255 are the
 * byte values (ISO-8859-1); *out is a new buffer. */
static int latin1_decode(const json_t *s, char **out, size_t *len) {
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    size_t n = json_string_length(s);
    char *b = gh_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        if (p[i] < 0x80) {
            cp = p[i++];
        } else if ((p[i] & 0xe0) == 0xc0 && i + 1 < n) {
            cp = ((p[i] & 0x1fu) << 6) | (p[i + 1] & 0x3fu);
            i += 2;
        } else {
            free(b);
            return -1; /* three bytes or more is above U+00FF */
        }
        if (cp > 0xff) {
            free(b);
            return -1;
        }
        b[o++] = (char)cp;
    }
    *out = b;
    *len = o;
    return 0;
}

static int symbol_index(const json_t *enum_node, const char *sym) {
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(enum_node, "symbols"), i, s) {
        if (json_is_string(s) && strcmp(json_string_value(s), sym) == 0)
            return (int)i;
    }
    return -1;
}

static gh_err_t bad_default(proj_t *p, const json_t *def, const char *why) {
    char *text = json_dumps(def, JSON_COMPACT | JSON_ENCODE_ANY);
    gh_err_t err = perr(p, "default %.80s%s: %s", text ? text : "?",
                        text && strlen(text) > 80 ? "..." : "", why);
    free(text);
    return err;
}

static gh_err_t avro_fail(proj_t *p, const char *what) {
    return perr(p, "%s: %s", what, avro_strerror());
}

static gh_err_t fill_default(proj_t *p, const json_t *def, const json_t *type,
                             avro_value_t *dst) {
    const json_t *rn = gh_schema_resolve_json(p->r, type);
    int rk = rn ? json_kind(rn) : -1;
    switch (rk) {
    case AVRO_UNION: {
        /* The spec ties a union's default to its first branch. */
        const json_t *first = json_array_get(rn, 0);
        avro_value_t branch;
        if (!first) return bad_default(p, def, "the union is empty");
        if (avro_value_set_branch(dst, 0, &branch))
            return avro_fail(p, "cannot select union branch 0");
        return fill_default(p, def, first, &branch);
    }
    case AVRO_NULL:
        if (!json_is_null(def))
            return bad_default(p, def, "a null default must be null");
        return avro_value_set_null(dst) ? avro_fail(p, "set null") : GH_OK;
    case AVRO_BOOLEAN:
        if (!json_is_boolean(def))
            return bad_default(p, def, "a boolean default must be true/false");
        return avro_value_set_boolean(dst, json_is_true(def))
                   ? avro_fail(p, "set boolean")
                   : GH_OK;
    case AVRO_INT32: {
        json_int_t v = json_integer_value(def);
        if (!json_is_integer(def) || v < INT32_MIN || v > INT32_MAX)
            return bad_default(p, def,
                               "an int default must be a 32-bit integer");
        return avro_value_set_int(dst, (int32_t)v) ? avro_fail(p, "set int")
                                                   : GH_OK;
    }
    case AVRO_INT64:
        if (!json_is_integer(def))
            return bad_default(p, def, "a long default must be an integer");
        return avro_value_set_long(dst, (int64_t)json_integer_value(def))
                   ? avro_fail(p, "set long")
                   : GH_OK;
    case AVRO_FLOAT:
    case AVRO_DOUBLE: {
        if (!json_is_number(def))
            return bad_default(p, def,
                               "a float/double default must be a number");
        double d = json_number_value(def);
        int rc = rk == AVRO_FLOAT ? avro_value_set_float(dst, (float)d)
                                  : avro_value_set_double(dst, d);
        return rc ? avro_fail(p, "set float/double") : GH_OK;
    }
    case AVRO_STRING:
        if (!json_is_string(def))
            return bad_default(p, def, "a string default must be a string");
        return avro_value_set_string_len(dst, json_string_value(def),
                                         json_string_length(def) + 1)
                   ? avro_fail(p, "set string")
                   : GH_OK;
    case AVRO_BYTES:
    case AVRO_FIXED: {
        char *b;
        size_t n;
        if (!json_is_string(def) || latin1_decode(def, &b, &n))
            return bad_default(p, def,
                               "a bytes/fixed default must be a string of "
                               "code points U+0000-U+00FF");
        int rc;
        if (rk == AVRO_FIXED) {
            json_int_t size = json_integer_value(json_object_get(rn, "size"));
            if ((json_int_t)n != size) {
                free(b);
                return bad_default(p, def,
                                   "length differs from the fixed size");
            }
            rc = avro_value_set_fixed(dst, b, n);
        } else {
            rc = avro_value_set_bytes(dst, b, n);
        }
        free(b);
        return rc ? avro_fail(p, "set bytes/fixed") : GH_OK;
    }
    case AVRO_ENUM: {
        int idx =
            json_is_string(def) ? symbol_index(rn, json_string_value(def)) : -1;
        if (idx < 0) return bad_default(p, def, "not a symbol of the enum");
        return avro_value_set_enum(dst, idx) ? avro_fail(p, "set enum") : GH_OK;
    }
    case AVRO_RECORD: {
        if (!json_is_object(def))
            return bad_default(p, def, "a record default must be an object");
        size_t i;
        const json_t *f;
        json_array_foreach(json_object_get(rn, "fields"), i, f) {
            const char *name = json_string_value(json_object_get(f, "name"));
            const json_t *v = json_object_get(def, name);
            if (!v) v = json_object_get(f, "default");
            size_t saved = path_field(p, name);
            avro_value_t fv;
            gh_err_t err = GH_OK;
            if (!v)
                err = bad_default(p, def,
                                  "lacks this field, which has no "
                                  "default of its own");
            else if (avro_value_get_by_index(dst, i, &fv, NULL))
                err = avro_fail(p, "get record field");
            else
                err = fill_default(p, v, json_object_get(f, "type"), &fv);
            path_pop(p, saved);
            if (err) return err;
        }
        return GH_OK;
    }
    case AVRO_ARRAY: {
        if (!json_is_array(def))
            return bad_default(p, def, "an array default must be an array");
        const json_t *items = json_object_get(rn, "items");
        size_t i;
        const json_t *e;
        json_array_foreach(def, i, e) {
            avro_value_t ev;
            size_t saved = path_index(p, i);
            gh_err_t err = avro_value_append(dst, &ev, NULL)
                               ? avro_fail(p, "append")
                               : fill_default(p, e, items, &ev);
            path_pop(p, saved);
            if (err) return err;
        }
        return GH_OK;
    }
    case AVRO_MAP: {
        if (!json_is_object(def))
            return bad_default(p, def, "a map default must be an object");
        const json_t *values = json_object_get(rn, "values");
        const char *key;
        const json_t *e;
        json_object_foreach((json_t *)def, key, e) {
            avro_value_t ev;
            size_t saved = path_key(p, key);
            gh_err_t err = avro_value_add(dst, key, &ev, NULL, NULL)
                               ? avro_fail(p, "add map entry")
                               : fill_default(p, e, values, &ev);
            path_pop(p, saved);
            if (err) return err;
        }
        return GH_OK;
    }
    default:
        return perr(p, "the reader's type is not defined in its schema");
    }
}

/* ---- Projection ---------------------------------------------------------- */

static gh_err_t project(proj_t *p, avro_value_t *src, const json_t *type,
                        avro_value_t *dst);

static gh_err_t project_record(proj_t *p, avro_value_t *src, const json_t *rn,
                               avro_value_t *dst) {
    size_t i;
    const json_t *f;
    json_array_foreach(json_object_get(rn, "fields"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const json_t *ftype = json_object_get(f, "type");
        avro_value_t wf, df;
        int found = avro_value_get_by_name(src, name, &wf, NULL) == 0;
        if (!found) {
            /* The reader may know the writer's field under an old name. */
            size_t j;
            const json_t *a;
            json_array_foreach(json_object_get(f, "aliases"), j, a) {
                if (json_is_string(a) &&
                    avro_value_get_by_name(src, json_string_value(a), &wf,
                                           NULL) == 0) {
                    found = 1;
                    break;
                }
            }
        }
        size_t saved = path_field(p, name);
        gh_err_t err = GH_OK;
        const json_t *def = json_object_get(f, "default");
        if (avro_value_get_by_index(dst, i, &df, NULL))
            err = avro_fail(p, "get reader field");
        else if (found)
            err = project(p, &wf, ftype, &df);
        else if (def)
            err = fill_default(p, def, ftype, &df);
        else
            err = perr(p,
                       "reader field \"%s\" has no default and the writer "
                       "schema has no such field; give it a default to make "
                       "the change compatible",
                       name);
        path_pop(p, saved);
        if (err) return err;
    }
    return GH_OK;
}

static gh_err_t project_enum(proj_t *p, avro_value_t *src, const json_t *rn,
                             avro_value_t *dst) {
    int wi;
    avro_schema_t ws = deref(avro_value_get_schema(src));
    if (avro_value_get_enum(src, &wi)) return avro_fail(p, "get enum");
    const char *sym = avro_schema_enum_get(ws, wi);
    if (!sym) return perr(p, "writer enum index %d is out of range", wi);
    int idx = symbol_index(rn, sym);
    if (idx < 0) {
        /* The enum's own default covers symbols the reader never heard of;
         * without one the spec makes this an error. */
        const json_t *d = json_object_get(rn, "default");
        idx = json_is_string(d) ? symbol_index(rn, json_string_value(d)) : -1;
        if (idx < 0)
            return perr(p,
                        "writer symbol \"%s\" is unknown to the reader enum "
                        "%s, which has no default symbol",
                        sym, json_string_value(json_object_get(rn, "name")));
    }
    return avro_value_set_enum(dst, idx) ? avro_fail(p, "set enum") : GH_OK;
}

/* Copies a primitive, applying the spec's promotions. */
static gh_err_t project_primitive(proj_t *p, avro_value_t *src, int wk, int rk,
                                  avro_value_t *dst) {
    int rc = 0;
    if (rk == AVRO_STRING || rk == AVRO_BYTES) {
        const void *buf;
        const char *str;
        size_t size;
        if (wk == AVRO_STRING) {
            /* size counts Avro C's NUL terminator */
            rc = avro_value_get_string(src, &str, &size);
            if (rc) return avro_fail(p, "get string");
            return (rk == AVRO_STRING
                        ? avro_value_set_string_len(dst, str, size)
                        : avro_value_set_bytes(dst, (void *)str,
                                               size ? size - 1 : 0))
                       ? avro_fail(p, "set string/bytes")
                       : GH_OK;
        }
        rc = avro_value_get_bytes(src, &buf, &size);
        if (rc) return avro_fail(p, "get bytes");
        if (rk == AVRO_BYTES)
            return avro_value_set_bytes(dst, (void *)buf, size)
                       ? avro_fail(p, "set bytes")
                       : GH_OK;
        char *s = gh_xmalloc(size + 1);
        if (size) memcpy(s, buf, size);
        s[size] = '\0';
        rc = avro_value_set_string_len(dst, s, size + 1);
        free(s);
        return rc ? avro_fail(p, "set string") : GH_OK;
    }
    int32_t i32 = 0;
    int64_t i64 = 0;
    float f = 0;
    double d = 0;
    switch (wk) {
    case AVRO_NULL:
        return avro_value_set_null(dst) ? avro_fail(p, "set null") : GH_OK;
    case AVRO_BOOLEAN: {
        int b;
        if (avro_value_get_boolean(src, &b)) return avro_fail(p, "get boolean");
        return avro_value_set_boolean(dst, b) ? avro_fail(p, "set boolean")
                                              : GH_OK;
    }
    case AVRO_INT32:
        rc = avro_value_get_int(src, &i32);
        i64 = i32;
        f = (float)i32;
        d = i32;
        break;
    case AVRO_INT64:
        rc = avro_value_get_long(src, &i64);
        f = (float)i64;
        d = (double)i64;
        break;
    case AVRO_FLOAT:
        rc = avro_value_get_float(src, &f);
        d = f;
        break;
    case AVRO_DOUBLE:
        rc = avro_value_get_double(src, &d);
        break;
    default:
        return perr(p, "internal: %s is no primitive", kind_label(wk));
    }
    if (rc) return avro_fail(p, "get number");
    switch (rk) {
    case AVRO_INT32:
        rc = avro_value_set_int(dst, i32);
        break;
    case AVRO_INT64:
        rc = avro_value_set_long(dst, i64);
        break;
    case AVRO_FLOAT:
        rc = avro_value_set_float(dst, f);
        break;
    default:
        rc = avro_value_set_double(dst, d);
        break;
    }
    return rc ? avro_fail(p, "set number") : GH_OK;
}

static gh_err_t project(proj_t *p, avro_value_t *src, const json_t *type,
                        avro_value_t *dst) {
    const json_t *rn = gh_schema_resolve_json(p->r, type);
    int rk = rn ? json_kind(rn) : -1;
    if (rk < 0)
        return perr(p, "the reader's type is not defined in its schema");
    int wk = avro_value_get_type(src);

    if (wk == AVRO_UNION) {
        avro_value_t wb;
        if (avro_value_get_current_branch(src, &wb))
            return avro_fail(p, "writer union has no branch");
        return project(p, &wb, type, dst);
    }
    if (rk == AVRO_UNION) {
        int idx = match_branch(p, src, rn);
        if (idx < 0)
            return perr(p,
                        "the writer's %s matches no branch of the reader's "
                        "union",
                        is_named_kind(wk) ? avro_schema_type_name(deref(
                                                avro_value_get_schema(src)))
                                          : kind_label(wk));
        avro_value_t db;
        if (avro_value_set_branch(dst, idx, &db))
            return avro_fail(p, "select union branch");
        return project(p, src, json_array_get(rn, (size_t)idx), &db);
    }

    if (rk != wk && !promotes(wk, rk))
        return perr(p, "the writer's %s cannot be read as %s", kind_label(wk),
                    kind_label(rk));
    if (is_named_kind(rk) &&
        !names_match(deref(avro_value_get_schema(src)), rn))
        return perr(
            p, "the writer's %s %s cannot be read as %s %s", kind_label(wk),
            avro_schema_type_name(deref(avro_value_get_schema(src))),
            kind_label(rk), json_string_value(json_object_get(rn, "name")));

    switch (rk) {
    case AVRO_RECORD:
        return project_record(p, src, rn, dst);
    case AVRO_ENUM:
        return project_enum(p, src, rn, dst);
    case AVRO_FIXED: {
        const void *buf;
        size_t size;
        if (avro_value_get_fixed(src, &buf, &size))
            return avro_fail(p, "get fixed");
        if ((json_int_t)size != json_integer_value(json_object_get(rn, "size")))
            return perr(p, "fixed sizes differ (writer %zu)", size);
        return avro_value_set_fixed(dst, (void *)buf, size)
                   ? avro_fail(p, "set fixed")
                   : GH_OK;
    }
    case AVRO_ARRAY: {
        size_t n;
        const json_t *items = json_object_get(rn, "items");
        if (avro_value_get_size(src, &n)) return avro_fail(p, "array size");
        for (size_t i = 0; i < n; i++) {
            avro_value_t se, de;
            size_t saved = path_index(p, i);
            gh_err_t err = GH_OK;
            if (avro_value_get_by_index(src, i, &se, NULL) ||
                avro_value_append(dst, &de, NULL))
                err = avro_fail(p, "array element");
            else
                err = project(p, &se, items, &de);
            path_pop(p, saved);
            if (err) return err;
        }
        return GH_OK;
    }
    case AVRO_MAP: {
        size_t n;
        const json_t *values = json_object_get(rn, "values");
        if (avro_value_get_size(src, &n)) return avro_fail(p, "map size");
        for (size_t i = 0; i < n; i++) {
            avro_value_t se, de;
            const char *key = NULL;
            gh_err_t err = GH_OK;
            if (avro_value_get_by_index(src, i, &se, &key))
                return avro_fail(p, "map entry");
            size_t saved = path_key(p, key);
            if (avro_value_add(dst, key, &de, NULL, NULL))
                err = avro_fail(p, "add map entry");
            else
                err = project(p, &se, values, &de);
            path_pop(p, saved);
            if (err) return err;
        }
        return GH_OK;
    }
    default:
        return project_primitive(p, src, wk, rk, dst);
    }
}

gh_err_t gh_avro_project(const gh_schema_t *w, avro_value_t *src,
                         const gh_schema_t *r, avro_value_t *dst, char *errstr,
                         size_t errstr_size) {
    if (gh_schema_fingerprint(w) == gh_schema_fingerprint(r)) {
        if (avro_value_copy(dst, src))
            return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                             "copying a value of %s: %s", gh_schema_fullname(w),
                             avro_strerror());
        return GH_OK;
    }
    proj_t p = {.w = w, .r = r, .errstr = errstr, .errstr_size = errstr_size};
    gh_err_t err = project(&p, src, gh_schema_jsonv(r), dst);
    gh_buf_free(&p.path);
    return err;
}
