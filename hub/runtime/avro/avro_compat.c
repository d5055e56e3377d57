/*
 * Static schema compatibility (Avro spec, "Schema Resolution"): can data
 * written with one schema be read with another? The check walks the two
 * qualified JSON trees side by side and applies the same rules, in the same
 * order, as gh_avro_project() (avro_project.c) applies to values, so that
 * "compatible" here means "every value of the writer projects onto the
 * reader": named types match by unqualified name or a reader alias, a
 * reader union takes the first branch of the writer's type and name, else
 * the first it promotes to, and a reader field missing from the writer
 * needs a default that fill_default() accepts.
 *
 * Every problem is collected, not just the first, each prefixed with its
 * path in the reader ("Person.address.street"; "[]" stands for array
 * items, "{}" for map values). Record pairs are checked once, which both
 * makes recursive schemas terminate and keeps the walk linear.
 *
 * gh_schemas_check_history() applies the check to a schema directory's
 * history, as schemas/README.md prescribes.
 */
#include "gridhub/avro.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

/* ---- Kinds --------------------------------------------------------------- */

typedef enum kind {
    K_BAD = -1,
    K_NULL,
    K_BOOLEAN,
    K_INT,
    K_LONG,
    K_FLOAT,
    K_DOUBLE,
    K_BYTES,
    K_STRING,
    K_RECORD,
    K_ENUM,
    K_FIXED,
    K_ARRAY,
    K_MAP,
    K_UNION
} kind_t;

/* The kind of a resolved node (a primitive name, an object or a union). */
static kind_t kind_of(const json_t *n) {
    static const struct {
        const char *name;
        kind_t kind;
    } t[] = {{"null", K_NULL},    {"boolean", K_BOOLEAN}, {"int", K_INT},
             {"long", K_LONG},    {"float", K_FLOAT},     {"double", K_DOUBLE},
             {"bytes", K_BYTES},  {"string", K_STRING},   {"record", K_RECORD},
             {"error", K_RECORD}, {"enum", K_ENUM},       {"fixed", K_FIXED},
             {"array", K_ARRAY},  {"map", K_MAP}};
    if (!n) return K_BAD;
    if (json_is_array(n)) return K_UNION;
    const char *name = json_is_string(n)
                           ? json_string_value(n)
                           : json_string_value(json_object_get(n, "type"));
    if (!name) return K_BAD;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(name, t[i].name) == 0) return t[i].kind;
    return K_BAD;
}

static int is_named(kind_t k) {
    return k == K_RECORD || k == K_ENUM || k == K_FIXED;
}

/* The spec's promotions, as gh_avro_project() applies them. */
static int promotes(kind_t w, kind_t r) {
    switch (w) {
    case K_INT:
        return r == K_LONG || r == K_FLOAT || r == K_DOUBLE;
    case K_LONG:
        return r == K_FLOAT || r == K_DOUBLE;
    case K_FLOAT:
        return r == K_DOUBLE;
    case K_STRING:
        return r == K_BYTES;
    case K_BYTES:
        return r == K_STRING;
    default:
        return 0;
    }
}

static const char *short_name(const char *fullname) {
    const char *dot = strrchr(fullname, '.');
    return dot ? dot + 1 : fullname;
}

static const char *name_of(const json_t *n) {
    const char *s = json_string_value(json_object_get(n, "name"));
    return s ? s : "?";
}

/* Writer named type wn matches reader rn: same unqualified name, or the
 * writer's name is one of the reader's aliases (compared unqualified, like
 * the projection). */
static int names_match(const json_t *wn, const json_t *rn) {
    const char *w = short_name(name_of(wn));
    if (strcmp(w, short_name(name_of(rn))) == 0) return 1;
    size_t i;
    const json_t *a;
    json_array_foreach(json_object_get(rn, "aliases"), i, a) {
        if (json_is_string(a) &&
            strcmp(short_name(json_string_value(a)), w) == 0)
            return 1;
    }
    return 0;
}

/* ---- The check ----------------------------------------------------------- */

typedef struct compat {
    const gh_schema_t *w, *r;
    gh_buf_t path;     /* where we are in the reader */
    gh_buf_t problems; /* "; "-separated */
    size_t nproblems;
    json_t *visited; /* record pairs already checked (used as a set) */
} compat_t;

static void problem(compat_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(compat_t *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->nproblems++) gh_buf_puts(&c->problems, "; ");
    gh_buf_printf(&c->problems, "%s: %s", c->path.data, msg);
}

/* Appends `sep` and `name` to the path; returns the length to restore. */
static size_t path_push(compat_t *c, const char *sep, const char *name) {
    size_t saved = c->path.len;
    gh_buf_puts(&c->path, sep);
    gh_buf_puts(&c->path, name);
    return saved;
}

static void path_pop(compat_t *c, size_t saved) {
    c->path.len = saved;
    c->path.data[saved] = '\0';
}

/* A short human rendering of a type node of schema s: "int",
 * "record Address", "array<long>", "[null, string]". */
static void label(gh_buf_t *b, const gh_schema_t *s, const json_t *type) {
    const json_t *n = gh_schema_resolve_json(s, type);
    kind_t k = kind_of(n);
    if (k == K_UNION) {
        gh_buf_puts(b, "[");
        size_t i;
        const json_t *br;
        json_array_foreach(n, i, br) {
            if (i) gh_buf_puts(b, ", ");
            label(b, s, br);
        }
        gh_buf_puts(b, "]");
    } else if (is_named(k)) {
        gh_buf_printf(b, "%s %s", json_string_value(json_object_get(n, "type")),
                      short_name(name_of(n)));
    } else if (k == K_ARRAY || k == K_MAP) {
        gh_buf_puts(b, k == K_ARRAY ? "array<" : "map<");
        label(b, s, json_object_get(n, k == K_ARRAY ? "items" : "values"));
        gh_buf_puts(b, ">");
    } else if (k != K_BAD) {
        gh_buf_puts(b, json_is_string(n)
                           ? json_string_value(n)
                           : json_string_value(json_object_get(n, "type")));
    } else {
        gh_buf_puts(b, "(undefined type)");
    }
}

/* Labels of a writer and a reader type, for one message; freed by
 * labels_free. */
typedef struct labels {
    gh_buf_t w, r;
} labels_t;

static labels_t labels_of(compat_t *c, const json_t *wt, const json_t *rt) {
    labels_t l = {{0}, {0}};
    label(&l.w, c->w, wt);
    label(&l.r, c->r, rt);
    return l;
}

static void labels_free(labels_t *l) {
    gh_buf_free(&l->w);
    gh_buf_free(&l->r);
}

/* ---- Defaults (what fill_default() in avro_project.c accepts) ------------ */

static int latin1_len(const json_t *s, size_t *len) {
    const unsigned char *p = (const unsigned char *)json_string_value(s);
    size_t n = json_string_length(s), o = 0;
    for (size_t i = 0; i < n; o++) {
        if (p[i] < 0x80) {
            i++;
        } else if ((p[i] & 0xe0) == 0xc0 && i + 1 < n &&
                   (((p[i] & 0x1fu) << 6) | (p[i + 1] & 0x3fu)) <= 0xff) {
            i += 2;
        } else {
            return -1;
        }
    }
    *len = o;
    return 0;
}

static int has_symbol(const json_t *enum_node, const char *sym) {
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(enum_node, "symbols"), i, s) {
        if (json_is_string(s) && strcmp(json_string_value(s), sym) == 0)
            return 1;
    }
    return 0;
}

/* NULL if `def` is a valid default of reader type `type`, else why not.
 * Defaults are finite JSON, so recursive types terminate here. */
static const char *default_problem(const gh_schema_t *r, const json_t *type,
                                   const json_t *def) {
    const json_t *n = gh_schema_resolve_json(r, type);
    switch (kind_of(n)) {
    case K_UNION: {
        const json_t *first = json_array_get(n, 0);
        if (!first) return "the union is empty";
        /* The spec ties a union's default to its first branch. */
        return default_problem(r, first, def)
                   ? "a union's default must be a value of its first branch"
                   : NULL;
    }
    case K_NULL:
        return json_is_null(def) ? NULL : "a null default must be null";
    case K_BOOLEAN:
        return json_is_boolean(def) ? NULL
                                    : "a boolean default must be true/false";
    case K_INT:
        return json_is_integer(def) && json_integer_value(def) >= INT32_MIN &&
                       json_integer_value(def) <= INT32_MAX
                   ? NULL
                   : "an int default must be a 32-bit integer";
    case K_LONG:
        return json_is_integer(def) ? NULL
                                    : "a long default must be an integer";
    case K_FLOAT:
    case K_DOUBLE:
        return json_is_number(def) ? NULL
                                   : "a float/double default must be a number";
    case K_STRING:
        return json_is_string(def) ? NULL : "a string default must be a string";
    case K_BYTES:
    case K_FIXED: {
        size_t len;
        if (!json_is_string(def) || latin1_len(def, &len))
            return "a bytes/fixed default must be a string of code points "
                   "U+0000-U+00FF";
        if (kind_of(n) == K_FIXED &&
            (json_int_t)len != json_integer_value(json_object_get(n, "size")))
            return "the default's length differs from the fixed size";
        return NULL;
    }
    case K_ENUM:
        return json_is_string(def) && has_symbol(n, json_string_value(def))
                   ? NULL
                   : "the default is not a symbol of the enum";
    case K_RECORD: {
        if (!json_is_object(def)) return "a record default must be an object";
        size_t i;
        const json_t *f;
        json_array_foreach(json_object_get(n, "fields"), i, f) {
            const json_t *v = json_object_get(def, name_of(f));
            if (!v) v = json_object_get(f, "default");
            if (!v)
                return "the record default lacks a field that has no "
                       "default of its own";
            const char *why = default_problem(r, json_object_get(f, "type"), v);
            if (why) return why;
        }
        return NULL;
    }
    case K_ARRAY: {
        if (!json_is_array(def)) return "an array default must be an array";
        size_t i;
        const json_t *e;
        json_array_foreach(def, i, e) {
            const char *why =
                default_problem(r, json_object_get(n, "items"), e);
            if (why) return why;
        }
        return NULL;
    }
    case K_MAP: {
        if (!json_is_object(def)) return "a map default must be an object";
        const char *key;
        const json_t *e;
        json_object_foreach((json_t *)def, key, e) {
            const char *why =
                default_problem(r, json_object_get(n, "values"), e);
            if (why) return why;
        }
        return NULL;
    }
    default:
        return "the field's type is not defined in the reader schema";
    }
}

/* ---- Walk ---------------------------------------------------------------- */

static void check(compat_t *c, const json_t *wt, const json_t *rt);

/* Field of writer record wn that reader field rf reads: by name, else by
 * one of rf's aliases (as the projection looks it up). */
static const json_t *writer_field(const json_t *wn, const json_t *rf) {
    const json_t *wfields = json_object_get(wn, "fields");
    size_t i, j;
    const json_t *wf, *a;
    json_array_foreach(wfields, i, wf) {
        if (strcmp(name_of(wf), name_of(rf)) == 0) return wf;
    }
    json_array_foreach(json_object_get(rf, "aliases"), j, a) {
        if (!json_is_string(a)) continue;
        json_array_foreach(wfields, i, wf) {
            if (strcmp(name_of(wf), json_string_value(a)) == 0) return wf;
        }
    }
    return NULL;
}

static void check_record(compat_t *c, const json_t *wn, const json_t *rn) {
    char key[64];
    snprintf(key, sizeof(key), "%p|%p", (const void *)wn, (const void *)rn);
    if (json_object_get(c->visited, key)) return;
    json_object_set_new(c->visited, key, json_true());

    size_t i;
    const json_t *rf;
    json_array_foreach(json_object_get(rn, "fields"), i, rf) {
        size_t saved = path_push(c, ".", name_of(rf));
        const json_t *wf = writer_field(wn, rf);
        const json_t *def = json_object_get(rf, "default");
        if (wf) {
            check(c, json_object_get(wf, "type"), json_object_get(rf, "type"));
        } else if (!def) {
            problem(c, "reader field has no default and the writer lacks it: "
                       "give it a default (for a nullable field, "
                       "[\"null\", ...] with \"default\": null)");
        } else {
            const char *why =
                default_problem(c->r, json_object_get(rf, "type"), def);
            if (why)
                problem(c,
                        "the writer lacks this reader field and its default "
                        "is unusable: %s",
                        why);
        }
        path_pop(c, saved);
    }
}

static void check_enum(compat_t *c, const json_t *wn, const json_t *rn) {
    const json_t *d = json_object_get(rn, "default");
    int has_default = json_is_string(d) && has_symbol(rn, json_string_value(d));
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(wn, "symbols"), i, s) {
        const char *sym = json_string_value(s);
        if (!sym || has_symbol(rn, sym) || has_default) continue;
        if (d)
            problem(c,
                    "writer enum symbol %s missing from reader enum %s, "
                    "whose default is not one of its symbols",
                    sym, short_name(name_of(rn)));
        else
            problem(c,
                    "writer enum symbol %s missing from reader enum %s, "
                    "which has no default",
                    sym, short_name(name_of(rn)));
    }
}

/* Reader union branch that a writer node of kind wk resolves to, as the
 * projection picks it: the first branch of the same kind (and name), else
 * the first the writer's kind promotes to; -1 if none. */
static int pick_branch(compat_t *c, const json_t *wn, kind_t wk,
                       const json_t *runion) {
    size_t i;
    const json_t *b;
    json_array_foreach(runion, i, b) {
        const json_t *rb = gh_schema_resolve_json(c->r, b);
        if (kind_of(rb) == wk && (!is_named(wk) || names_match(wn, rb)))
            return (int)i;
    }
    json_array_foreach(runion, i, b) {
        if (promotes(wk, kind_of(gh_schema_resolve_json(c->r, b))))
            return (int)i;
    }
    return -1;
}

/* Writer type wt (not a union) against reader type rt (not a union);
 * `branch` says wt is a branch of the writer's union. */
static void check_single(compat_t *c, const json_t *wt, const json_t *rt,
                         int branch) {
    const json_t *wn = gh_schema_resolve_json(c->w, wt);
    const json_t *rn = gh_schema_resolve_json(c->r, rt);
    kind_t wk = kind_of(wn), rk = kind_of(rn);
    if (wk != rk && !promotes(wk, rk)) {
        labels_t l = labels_of(c, wt, rt);
        if (branch)
            problem(c, "writer union branch %s cannot be read as %s", l.w.data,
                    l.r.data);
        else
            problem(c, "type changed from %s to %s", l.w.data, l.r.data);
        labels_free(&l);
        return;
    }
    if (is_named(wk) && !names_match(wn, rn)) {
        labels_t l = labels_of(c, wt, rt);
        problem(c,
                "%s%s cannot be read as %s: the names differ and the "
                "reader has no alias %s",
                branch ? "writer union branch " : "writer ", l.w.data, l.r.data,
                short_name(name_of(wn)));
        labels_free(&l);
        return;
    }
    size_t saved;
    switch (rk) {
    case K_RECORD:
        check_record(c, wn, rn);
        break;
    case K_ENUM:
        check_enum(c, wn, rn);
        break;
    case K_FIXED: {
        json_int_t ws = json_integer_value(json_object_get(wn, "size"));
        json_int_t rs = json_integer_value(json_object_get(rn, "size"));
        if (ws != rs)
            problem(c,
                    "fixed %s changed size from %" JSON_INTEGER_FORMAT
                    " to %" JSON_INTEGER_FORMAT,
                    short_name(name_of(rn)), ws, rs);
        break;
    }
    case K_ARRAY:
        saved = path_push(c, "", "[]");
        check(c, json_object_get(wn, "items"), json_object_get(rn, "items"));
        path_pop(c, saved);
        break;
    case K_MAP:
        saved = path_push(c, "", "{}");
        check(c, json_object_get(wn, "values"), json_object_get(rn, "values"));
        path_pop(c, saved);
        break;
    default:
        break; /* equal or promotable primitives */
    }
}

/* Writer type wt (not a union) against a reader union. */
static void check_into_union(compat_t *c, const json_t *wt, const json_t *rt,
                             int branch) {
    const json_t *wn = gh_schema_resolve_json(c->w, wt);
    const json_t *rn = gh_schema_resolve_json(c->r, rt);
    int idx = pick_branch(c, wn, kind_of(wn), rn);
    if (idx < 0) {
        labels_t l = labels_of(c, wt, rt);
        problem(c, "%s %s matches no branch of the reader union %s",
                branch ? "writer union branch" : "writer type", l.w.data,
                l.r.data);
        labels_free(&l);
        return;
    }
    check_single(c, wt, json_array_get(rn, (size_t)idx), branch);
}

static void check(compat_t *c, const json_t *wt, const json_t *rt) {
    const json_t *wn = gh_schema_resolve_json(c->w, wt);
    const json_t *rn = gh_schema_resolve_json(c->r, rt);
    if (kind_of(wn) == K_BAD || kind_of(rn) == K_BAD) {
        /* Cannot happen for schemas that passed the canonical form. */
        problem(c, "a type is not defined in its schema");
        return;
    }
    int runion = kind_of(rn) == K_UNION;
    if (kind_of(wn) != K_UNION) {
        if (runion)
            check_into_union(c, wt, rt, 0);
        else
            check_single(c, wt, rt, 0);
        return;
    }
    /* Every branch the writer may have written must be readable. */
    size_t i;
    const json_t *b;
    json_array_foreach(wn, i, b) {
        if (runion)
            check_into_union(c, b, rt, 1);
        else
            check_single(c, b, rt, 1);
    }
}

/* Parses one side into its own set (so that equal canonical forms never
 * share one side's defaults and aliases with the other). */
static gh_err_t parse_side(const char *json, const char *side,
                           gh_schemas_t **set, const gh_schema_t **s,
                           char *errstr, size_t errstr_size) {
    char why[512] = "";
    *set = gh_schemas_new();
    gh_err_t err = gh_schemas_add_json(*set, json, 0, s, why, sizeof(why));
    if (err) return gh_seterr(errstr, errstr_size, err, "%s: %s", side, why);
    return GH_OK;
}

gh_err_t gh_avro_check_backward(const char *writer_json,
                                const char *reader_json, char *errstr,
                                size_t errstr_size) {
    gh_schemas_t *wset = NULL, *rset = NULL;
    const gh_schema_t *w = NULL, *r = NULL;
    gh_err_t err = parse_side(writer_json, "writer schema", &wset, &w, errstr,
                              errstr_size);
    if (!err)
        err = parse_side(reader_json, "reader schema", &rset, &r, errstr,
                         errstr_size);
    if (!err) {
        compat_t c = {.w = w, .r = r, .visited = json_object()};
        const json_t *root = gh_schema_jsonv(r);
        if (json_is_object(root) && is_named(kind_of(root)))
            gh_buf_puts(&c.path, short_name(name_of(root)));
        else
            label(&c.path, r, root);
        check(&c, gh_schema_jsonv(w), root);
        if (c.nproblems)
            err = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA, "%s",
                            c.problems.data);
        json_decref(c.visited);
        gh_buf_free(&c.path);
        gh_buf_free(&c.problems);
    }
    gh_schemas_destroy(wset);
    gh_schemas_destroy(rset);
    return err;
}

gh_err_t gh_avro_check_full(const char *old_json, const char *new_json,
                            char *errstr, size_t errstr_size) {
    char back[2048] = "", fwd[2048] = "";
    gh_err_t eb =
        gh_avro_check_backward(old_json, new_json, back, sizeof(back));
    if (eb && eb != GH_ERR_SCHEMA)
        return gh_seterr(errstr, errstr_size, eb, "%s", back);
    gh_err_t ef = gh_avro_check_backward(new_json, old_json, fwd, sizeof(fwd));
    if (ef && ef != GH_ERR_SCHEMA)
        return gh_seterr(errstr, errstr_size, ef, "%s", fwd);
    if (eb && ef)
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "backward (new reads old): %s; forward (old reads "
                         "new): %s",
                         back, fwd);
    if (eb)
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "backward (new reads old): %s", back);
    if (ef)
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "forward (old reads new): %s", fwd);
    return GH_OK;
}

/* ---- History policy ------------------------------------------------------ */

typedef struct hist_file {
    char *name; /* "<name>" of history/<name>.v<N>.avsc */
    long n;
    char *file; /* "history/<name>.v<N>.avsc", relative to the directory */
} hist_file_t;

static int avsc_filter(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 &&
           strcmp(d->d_name + n - 5, ".avsc") == 0;
}

static int hist_cmp(const void *a, const void *b) {
    const hist_file_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

/* Splits "<name>.v<N>.avsc"; 0 on success. */
static int parse_hist_name(const char *fname, char **name, long *n) {
    size_t len = strlen(fname) - 5; /* without ".avsc" */
    size_t i = len;
    while (i > 0 && fname[i - 1] >= '0' && fname[i - 1] <= '9')
        i--;
    if (i == len || i < 3 || fname[i - 1] != 'v' || fname[i - 2] != '.' ||
        fname[i] == '0' || len - i > 9)
        return -1;
    *n = strtol(fname + i, NULL, 10);
    *name = gh_xstrndup(fname, i - 2);
    return 0;
}

typedef struct hist_check {
    const char *dir;
    gh_buf_t problems;
    size_t nproblems;
} hist_check_t;

static void hproblem(hist_check_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void hproblem(hist_check_t *h, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    if (h->nproblems++) gh_buf_puts(&h->problems, "; ");
    gh_buf_puts(&h->problems, msg ? msg : "(message lost)");
    free(msg);
}

/* Reads <dir>/<rel>; NULL (with a problem recorded) if it cannot. */
static char *read_rel(hist_check_t *h, const char *rel) {
    char *path = gh_xasprintf("%s/%s", h->dir, rel);
    char *text = gh_read_file(path, NULL);
    if (!text) hproblem(h, "cannot read %s: %s", path, strerror(errno));
    free(path);
    return text;
}

/* Checks that `next` reads everything written with `prev` (files relative
 * to the directory). */
static void check_pair(hist_check_t *h, const char *prev, const char *next,
                       const char *note) {
    char *pt = read_rel(h, prev);
    char *nt = pt ? read_rel(h, next) : NULL;
    if (pt && nt) {
        char why[4096] = "";
        if (gh_avro_check_backward(pt, nt, why, sizeof(why)))
            hproblem(h, "%s%s cannot read data written with %s: %s", next, note,
                     prev, why);
    }
    free(pt);
    free(nt);
}

/* Records, for every named type defined in the qualified tree n, the file
 * defining it in `owners`; a second owner is a problem. */
static void collect_owners(hist_check_t *h, const json_t *n, const char *file,
                           json_t *owners) {
    if (json_is_array(n)) {
        size_t i;
        const json_t *b;
        json_array_foreach(n, i, b) collect_owners(h, b, file, owners);
        return;
    }
    kind_t k = kind_of(n);
    if (!json_is_object(n)) return;
    if (is_named(k)) {
        const char *full = name_of(n);
        const json_t *owner = json_object_get(owners, full);
        if (owner)
            hproblem(h,
                     "%s and %s both define %s; each named type belongs to "
                     "one current file (rename one with its entity's prefix, "
                     "see schemas/README.md, \"Named types\")",
                     json_string_value(owner), file, full);
        else
            json_object_set_new(owners, full, json_string(file));
        size_t i;
        const json_t *f;
        json_array_foreach(json_object_get(n, "fields"), i, f)
            collect_owners(h, json_object_get(f, "type"), file, owners);
    } else if (k == K_ARRAY) {
        collect_owners(h, json_object_get(n, "items"), file, owners);
    } else if (k == K_MAP) {
        collect_owners(h, json_object_get(n, "values"), file, owners);
    }
}

static void check_current_names(hist_check_t *h, struct dirent **ents, int n) {
    json_t *owners = json_object();
    for (int i = 0; i < n; i++) {
        char *text = read_rel(h, ents[i]->d_name);
        if (!text) continue;
        gh_schemas_t *set = gh_schemas_new();
        const gh_schema_t *s = NULL;
        char why[512] = "";
        if (gh_schemas_add_json(set, text, 0, &s, why, sizeof(why)))
            hproblem(h, "%s: %s", ents[i]->d_name, why);
        else
            collect_owners(h, gh_schema_jsonv(s), ents[i]->d_name, owners);
        gh_schemas_destroy(set);
        free(text);
    }
    json_decref(owners);
}

static int has_current(struct dirent **ents, int n, const char *name) {
    size_t len = strlen(name);
    for (int i = 0; i < n; i++)
        if (strncmp(ents[i]->d_name, name, len) == 0 &&
            strcmp(ents[i]->d_name + len, ".avsc") == 0)
            return 1;
    return 0;
}

static void check_versions(hist_check_t *h, hist_file_t *hf, size_t nh,
                           struct dirent **cur, int ncur) {
    for (size_t i = 0; i < nh; i++) {
        int last = i + 1 == nh || strcmp(hf[i + 1].name, hf[i].name) != 0;
        char *current = gh_xasprintf("%s.avsc", hf[i].name);
        int have_current = has_current(cur, ncur, hf[i].name);
        if (!last && hf[i + 1].n == hf[i].n) {
            hproblem(h, "%s and %s are both version %ld of %s", hf[i].file,
                     hf[i + 1].file, hf[i].n, hf[i].name);
        } else if (!last) {
            if (hf[i + 1].n != hf[i].n + 1)
                hproblem(h,
                         "history/%s.v%ld.avsc is missing: %s is followed by "
                         "%s; versions are numbered 1, 2, ... without gaps",
                         hf[i].name, hf[i].n + 1, hf[i].file, hf[i + 1].file);
            check_pair(h, hf[i].file, hf[i + 1].file, "");
        }
        if (!have_current) {
            if (last)
                hproblem(h,
                         "%s has no current version %s in %s; keep the "
                         "current file while messages written with any "
                         "version may still be read",
                         hf[i].file, current, h->dir);
        } else if (last) {
            check_pair(h, hf[i].file, current, "");
        } else {
            /* The projection reads every version with the current one,
             * so compatibility must hold across retired versions too. */
            check_pair(h, hf[i].file, current, " (the current version)");
        }
        free(current);
    }
}

gh_err_t gh_schemas_check_history(const char *dir, char *errstr,
                                  size_t errstr_size) {
    struct dirent **cur = NULL, **old = NULL;
    int ncur = scandir(dir, &cur, avsc_filter, alphasort);
    if (ncur < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO,
                         "cannot list schema directory %s: %s", dir,
                         strerror(errno));
    hist_check_t h = {.dir = dir};
    check_current_names(&h, cur, ncur);

    char *hdir = gh_xasprintf("%s/history", dir);
    int nold = scandir(hdir, &old, avsc_filter, alphasort);
    if (nold < 0 && errno != ENOENT)
        hproblem(&h, "cannot list %s: %s", hdir, strerror(errno));
    free(hdir);
    hist_file_t *hf = gh_xcalloc(nold > 0 ? (size_t)nold : 1, sizeof(*hf));
    size_t nh = 0;
    for (int i = 0; i < nold; i++) {
        char *name = NULL;
        long n = 0;
        if (parse_hist_name(old[i]->d_name, &name, &n)) {
            hproblem(&h,
                     "history/%s: a history file is named <name>.v<N>.avsc "
                     "(N = 1, 2, ...)",
                     old[i]->d_name);
            continue;
        }
        hf[nh].name = name;
        hf[nh].n = n;
        hf[nh].file = gh_xasprintf("history/%s", old[i]->d_name);
        nh++;
    }
    qsort(hf, nh, sizeof(*hf), hist_cmp);
    check_versions(&h, hf, nh, cur, ncur);

    gh_err_t err = GH_OK;
    if (h.nproblems)
        err = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                        "%zu schema evolution problem%s in %s: %s", h.nproblems,
                        h.nproblems == 1 ? "" : "s", dir, h.problems.data);
    for (size_t i = 0; i < nh; i++) {
        free(hf[i].name);
        free(hf[i].file);
    }
    free(hf);
    for (int i = 0; i < ncur; i++)
        free(cur[i]);
    free(cur);
    for (int i = 0; i < nold; i++)
        free(old[i]);
    free(old);
    gh_buf_free(&h.problems);
    return err;
}
