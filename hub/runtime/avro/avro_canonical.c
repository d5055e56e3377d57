/*
 * Parsing Canonical Form (Avro spec, "Parsing Canonical Form for Schemas")
 * and the CRC-64-AVRO fingerprint.
 *
 * The canonical form is produced in one walk over the jansson tree, which
 * applies the spec's transformations together: PRIMITIVES and STRIP fall
 * out of emitting only the attributes that matter, FULLNAMES of keeping the
 * enclosing namespace on the walk, ORDER of emitting the attributes in the
 * spec's sequence, STRINGS of jansson having already decoded every escape
 * (we re-escape only what JSON requires), INTEGERS of printing json_int_t,
 * WHITESPACE of emitting none. The walk also rejects what would make the
 * form meaningless (bad names, undefined or redefined names), so a schema
 * that passes here fails in Avro C only for reasons Avro C adds.
 */
#include "gridhub/avro.h"
#include "avro_names.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"

/* ---- CRC-64-AVRO --------------------------------------------------------- */

#define GH_CRC64_EMPTY 0xc15d213aa4d7a795ULL

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init(void) {
    for (unsigned i = 0; i < 256; i++) {
        uint64_t fp = i;
        for (int j = 0; j < 8; j++)
            fp = (fp >> 1) ^ (GH_CRC64_EMPTY & (0 - (fp & 1)));
        crc64_table[i] = fp;
    }
}

uint64_t gh_avro_crc64(const void *data, size_t len) {
    pthread_once(&crc64_once, crc64_init);
    const unsigned char *p = data;
    uint64_t fp = GH_CRC64_EMPTY;
    for (size_t i = 0; i < len; i++)
        fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
    return fp;
}

/* ---- Parsing Canonical Form ---------------------------------------------- */

typedef struct pcf {
    gh_buf_t out;
    gh_buf_t path;   /* where we are, for error messages */
    json_t *defined; /* full names defined so far (object used as a set) */
    char *errstr;
    size_t errstr_size;
} pcf_t;

static const char *const primitives[] = {"null",  "boolean", "int",
                                         "long",  "float",   "double",
                                         "bytes", "string",  NULL};

static int is_primitive(const char *t) {
    for (int i = 0; primitives[i]; i++)
        if (strcmp(t, primitives[i]) == 0) return 1;
    return 0;
}

/* One component of a name: [A-Za-z_][A-Za-z0-9_]*. */
static int valid_simple_name(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && (i == 0 || c < '0' || c > '9')) return 0;
    }
    return 1;
}

/* A dotted name; an empty string is accepted only when allow_empty (the
 * null namespace). */
static int valid_dotted_name(const char *s, int allow_empty) {
    if (!*s) return allow_empty;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (!valid_simple_name(s, n)) return 0;
        if (!dot) return 1;
        s = dot + 1;
    }
}

static gh_err_t fail(pcf_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static gh_err_t fail(pcf_t *c, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gh_seterr(c->errstr, c->errstr_size, GH_ERR_SCHEMA,
                     "schema at %s: %s",
                     c->path.len ? c->path.data : "top level", msg);
}

/* Writes s as a JSON string literal. Only the quote, the backslash and
 * control characters are escaped: everything else stays raw UTF-8 as the
 * STRINGS rule asks. */
static void emit_string(gh_buf_t *b, const char *s, size_t n) {
    gh_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            gh_buf_append(b, esc, 2);
        } else if (ch < 0x20) {
            gh_buf_printf(b, "\\u%04x", ch);
        } else {
            gh_buf_append(b, &s[i], 1);
        }
    }
    gh_buf_append(b, "\"", 1);
}

static void emit_cstr(gh_buf_t *b, const char *s) {
    emit_string(b, s, strlen(s));
}

static void path_pop(pcf_t *c, size_t saved) {
    c->path.len = saved;
    if (c->path.data) c->path.data[saved] = '\0';
}

static gh_err_t emit_schema(pcf_t *c, const json_t *n, const char *ns);

static gh_err_t emit_reference(pcf_t *c, const char *name, const char *ns) {
    if (!valid_dotted_name(name, 0))
        return fail(c, "\"%s\" is not a valid type name", name);
    char *full = gh__avro_fullname(name, ns);
    int known = json_object_get(c->defined, full) != NULL;
    /* A name without a namespace may also refer to a type in the null
     * namespace, which the enclosing one does not hide. */
    if (!known && !strchr(name, '.') &&
        json_object_get(c->defined, name) != NULL) {
        free(full);
        full = gh_xstrdup(name);
        known = 1;
    }
    if (!known) {
        gh_err_t err = fail(c, "type \"%s\" is not defined before use", full);
        free(full);
        return err;
    }
    emit_cstr(&c->out, full);
    free(full);
    return GH_OK;
}

/* Emits {"name":"<full>","type":"<t>" and leaves the object open; *ns_out
 * receives the namespace for nested definitions. */
static gh_err_t emit_named_head(pcf_t *c, const json_t *n, const char *t,
                                const char *ns, char **ns_out) {
    const json_t *jname = json_object_get(n, "name");
    if (!json_is_string(jname)) return fail(c, "%s has no string \"name\"", t);
    const char *name = json_string_value(jname);
    const json_t *jns = json_object_get(n, "namespace");
    const char *space = ns;
    if (jns && !json_is_null(jns)) {
        if (!json_is_string(jns) ||
            !valid_dotted_name(json_string_value(jns), 1))
            return fail(c, "%s has an invalid \"namespace\"", name);
        space = json_string_value(jns);
    }
    if (!valid_dotted_name(name, 0))
        return fail(c, "\"%s\" is not a valid name", name);
    char *full = gh__avro_fullname(name, space);
    if (is_primitive(full)) {
        gh_err_t err = fail(c, "\"%s\" redefines a primitive type", full);
        free(full);
        return err;
    }
    if (json_object_get(c->defined, full)) {
        gh_err_t err = fail(c, "\"%s\" is defined twice", full);
        free(full);
        return err;
    }
    json_object_set_new(c->defined, full, json_true());
    gh_buf_puts(&c->out, "{\"name\":");
    emit_cstr(&c->out, full);
    gh_buf_puts(&c->out, ",\"type\":");
    emit_cstr(&c->out, t);
    *ns_out = gh__avro_namespace_of(full);
    free(full);
    return GH_OK;
}

static gh_err_t emit_record(pcf_t *c, const json_t *n, const char *t,
                            const char *ns) {
    char *inner = NULL;
    gh_err_t err = emit_named_head(c, n, t, ns, &inner);
    if (err) return err;
    const json_t *fields = json_object_get(n, "fields");
    if (!json_is_array(fields)) {
        err = fail(c, "%s has no \"fields\" array", t);
        goto out;
    }
    gh_buf_puts(&c->out, ",\"fields\":[");
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f) {
        size_t saved = c->path.len;
        const json_t *fname = json_object_get(f, "name");
        const json_t *ftype = json_object_get(f, "type");
        if (!json_is_string(fname) ||
            !valid_simple_name(json_string_value(fname),
                               json_string_length(fname))) {
            err = fail(c, "field %zu of %s has no valid \"name\"", i, t);
            goto out;
        }
        gh_buf_printf(&c->path, ".%s", json_string_value(fname));
        if (!ftype) {
            err = fail(c, "field has no \"type\"");
            goto out;
        }
        if (i > 0) gh_buf_puts(&c->out, ",");
        gh_buf_puts(&c->out, "{\"name\":");
        emit_cstr(&c->out, json_string_value(fname));
        gh_buf_puts(&c->out, ",\"type\":");
        err = emit_schema(c, ftype, inner);
        if (err) goto out;
        gh_buf_puts(&c->out, "}");
        path_pop(c, saved);
    }
    gh_buf_puts(&c->out, "]}");
out:
    free(inner);
    return err;
}

static gh_err_t emit_enum(pcf_t *c, const json_t *n, const char *ns) {
    char *inner = NULL;
    gh_err_t err = emit_named_head(c, n, "enum", ns, &inner);
    free(inner);
    if (err) return err;
    const json_t *symbols = json_object_get(n, "symbols");
    if (!json_is_array(symbols))
        return fail(c, "enum has no \"symbols\" array");
    gh_buf_puts(&c->out, ",\"symbols\":[");
    size_t i, j;
    const json_t *s;
    json_array_foreach(symbols, i, s) {
        if (!json_is_string(s) ||
            !valid_simple_name(json_string_value(s), json_string_length(s)))
            return fail(c, "enum symbol is not a valid name");
        for (j = 0; j < i; j++)
            if (json_equal(json_array_get(symbols, j), s))
                return fail(c, "enum symbol \"%s\" is repeated",
                            json_string_value(s));
        if (i > 0) gh_buf_puts(&c->out, ",");
        emit_cstr(&c->out, json_string_value(s));
    }
    gh_buf_puts(&c->out, "]}");
    return GH_OK;
}

static gh_err_t emit_fixed(pcf_t *c, const json_t *n, const char *ns) {
    char *inner = NULL;
    gh_err_t err = emit_named_head(c, n, "fixed", ns, &inner);
    free(inner);
    if (err) return err;
    const json_t *size = json_object_get(n, "size");
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return fail(c, "fixed has no non-negative integer \"size\"");
    gh_buf_printf(&c->out, ",\"size\":%" JSON_INTEGER_FORMAT "}",
                  json_integer_value(size));
    return GH_OK;
}

static gh_err_t emit_container(pcf_t *c, const json_t *n, const char *t,
                               const char *key, const char *ns) {
    const json_t *inner = json_object_get(n, key);
    if (!inner) return fail(c, "%s has no \"%s\"", t, key);
    gh_buf_puts(&c->out, "{\"type\":");
    emit_cstr(&c->out, t);
    gh_buf_printf(&c->out, ",\"%s\":", key);
    size_t saved = c->path.len;
    gh_buf_printf(&c->path, ".%s", key);
    gh_err_t err = emit_schema(c, inner, ns);
    path_pop(c, saved);
    if (err) return err;
    gh_buf_puts(&c->out, "}");
    return GH_OK;
}

static gh_err_t emit_schema(pcf_t *c, const json_t *n, const char *ns) {
    if (json_is_string(n)) {
        const char *t = json_string_value(n);
        if (is_primitive(t)) {
            emit_cstr(&c->out, t);
            return GH_OK;
        }
        return emit_reference(c, t, ns);
    }
    if (json_is_array(n)) {
        gh_buf_puts(&c->out, "[");
        size_t i;
        const json_t *b;
        json_array_foreach(n, i, b) {
            if (json_is_array(b))
                return fail(c, "a union directly inside a union");
            if (i > 0) gh_buf_puts(&c->out, ",");
            size_t saved = c->path.len;
            gh_buf_printf(&c->path, "[%zu]", i);
            gh_err_t err = emit_schema(c, b, ns);
            path_pop(c, saved);
            if (err) return err;
        }
        gh_buf_puts(&c->out, "]");
        return GH_OK;
    }
    if (!json_is_object(n))
        return fail(c, "a schema must be a string, array or object");
    const json_t *jt = json_object_get(n, "type");
    if (!json_is_string(jt))
        return fail(c, "object schema has no string \"type\"");
    const char *t = json_string_value(jt);
    if (is_primitive(t)) {
        emit_cstr(&c->out, t);
        return GH_OK;
    }
    if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0)
        return emit_record(c, n, t, ns);
    if (strcmp(t, "enum") == 0) return emit_enum(c, n, ns);
    if (strcmp(t, "fixed") == 0) return emit_fixed(c, n, ns);
    if (strcmp(t, "array") == 0) return emit_container(c, n, t, "items", ns);
    if (strcmp(t, "map") == 0) return emit_container(c, n, t, "values", ns);
    return emit_reference(c, t, ns);
}

gh_err_t gh_avro_canonical_form(const char *schema_json, char **pcf_out,
                                char *errstr, size_t errstr_size) {
    *pcf_out = NULL;
    json_error_t jerr;
    json_t *root = json_loads(schema_json, JSON_DECODE_ANY, &jerr);
    if (!root)
        return gh_seterr(errstr, errstr_size, GH_ERR_PARSE,
                         "schema is not valid JSON: %s at line %d column %d",
                         jerr.text, jerr.line, jerr.column);
    pcf_t c = {
        .defined = json_object(), .errstr = errstr, .errstr_size = errstr_size};
    gh_err_t err = emit_schema(&c, root, "");
    json_decref(root);
    json_decref(c.defined);
    gh_buf_free(&c.path);
    if (err) {
        gh_buf_free(&c.out);
        return err;
    }
    *pcf_out = gh_buf_detach(&c.out);
    return GH_OK;
}

char *gh__avro_fullname(const char *name, const char *ns) {
    if (strchr(name, '.') || !ns || !*ns) return gh_xstrdup(name);
    return gh_xasprintf("%s.%s", ns, name);
}

char *gh__avro_namespace_of(const char *fullname) {
    const char *dot = strrchr(fullname, '.');
    return dot ? gh_xstrndup(fullname, (size_t)(dot - fullname))
               : gh_xstrdup("");
}
