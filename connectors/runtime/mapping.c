#include "mapping.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gridhub/conf.h"

typedef enum xf_kind {
    XF_TRIM,
    XF_UPPER,
    XF_LOWER,
    XF_NULLIF,
    XF_DATE,
    XF_CODE
} xf_kind_t;

typedef struct xf {
    xf_kind_t kind;
    char *arg;
    struct codes *codes; /* XF_CODE, resolved after load */
} xf_t;

typedef enum target {
    T_STRING,
    T_INT,
    T_LONG,
    T_BOOL,
    T_DOUBLE,
    T_ENUM,
    T_DATE,
    T_TS_MICROS
} target_t;

typedef struct field {
    char *name;
    char *column;
    char *origin; /* file:line, for errors found after loading */
    xf_t *xfs;
    int nxf;
    int index;   /* in the Row record */
    int col_pos; /* position in the bound relation, -1 if absent */
    target_t target;
    int null_branch, value_branch, unchanged_branch; /* -1 when absent */
    avro_schema_t value_schema;
} field_t;

typedef struct code_entry {
    char *from, *to;
} code_entry_t;

typedef struct codes {
    char *name;
    code_entry_t *e;
    int n;
    char *fallback;
} codes_t;

struct gh_map_table {
    char *id, *schema, *table, *entity;
    char *origin;
    const gh_schema_t *envelope;
    avro_schema_t row_schema;
    const json_t *entity_json;
    field_t *fields;
    int nfields;
    int key_field;
    char **columns;
    int ncolumns;
};

struct gh_mapping {
    char *department;
    char *path;
    gh_map_table_t *tables;
    int ntables;
    codes_t *codes;
    int ncodes;
    const gh_schemas_t *schemas;
};

/* ---- loading ------------------------------------------------------------- */

static gh_map_table_t *table_by_id(gh_mapping_t *m, const char *id,
                                   size_t idlen) {
    for (int i = 0; i < m->ntables; i++)
        if (strlen(m->tables[i].id) == idlen &&
            !strncmp(m->tables[i].id, id, idlen))
            return &m->tables[i];
    return NULL;
}

static codes_t *codes_get(gh_mapping_t *m, const char *name, size_t len,
                          int create) {
    for (int i = 0; i < m->ncodes; i++)
        if (strlen(m->codes[i].name) == len &&
            !strncmp(m->codes[i].name, name, len))
            return &m->codes[i];
    if (!create) return NULL;
    m->codes =
        gh_xrealloc(m->codes, (size_t)(m->ncodes + 1) * sizeof(*m->codes));
    codes_t *c = &m->codes[m->ncodes++];
    memset(c, 0, sizeof(*c));
    c->name = gh_xstrndup(name, len);
    return c;
}

static gh_err_t parse_field_spec(field_t *f, const char *origin,
                                 const char *spec, char *errstr,
                                 size_t errstr_size) {
    char *copy = gh_xstrdup(spec), *save = NULL;
    int first = 1;
    gh_err_t err = GH_OK;
    for (char *part = strtok_r(copy, "|", &save); part;
         part = strtok_r(NULL, "|", &save)) {
        char *p = gh_str_trim(part);
        if (first) {
            if (!*p) {
                err = gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                "%s: field %s: no source column", origin,
                                f->name);
                break;
            }
            f->column = gh_xstrdup(p);
            first = 0;
            continue;
        }
        char *colon = strchr(p, ':');
        char *arg = NULL;
        if (colon) {
            *colon = '\0';
            arg = gh_str_trim(colon + 1);
        }
        xf_t x = {0};
        if (!strcmp(p, "trim"))
            x.kind = XF_TRIM;
        else if (!strcmp(p, "upper"))
            x.kind = XF_UPPER;
        else if (!strcmp(p, "lower"))
            x.kind = XF_LOWER;
        else if (!strcmp(p, "nullif"))
            x.kind = XF_NULLIF;
        else if (!strcmp(p, "date"))
            x.kind = XF_DATE;
        else if (!strcmp(p, "code"))
            x.kind = XF_CODE;
        else {
            err = gh_seterr(
                errstr, errstr_size, GH_ERR_MAPPING,
                "%s: field %s: unknown transform \"%s\" (known: trim, "
                "upper, lower, nullif:, date:, code:)",
                origin, f->name, p);
            break;
        }
        /* nullif: may compare with the empty string, but needs its colon. */
        int needs_arg = x.kind == XF_DATE || x.kind == XF_CODE;
        if ((needs_arg && (!arg || !*arg)) || (x.kind == XF_NULLIF && !arg)) {
            err = gh_seterr(
                errstr, errstr_size, GH_ERR_MAPPING,
                "%s: field %s: transform %s needs an argument (%s:...)", origin,
                f->name, p, p);
            break;
        }
        x.arg = arg ? gh_xstrdup(arg) : NULL;
        f->xfs = gh_xrealloc(f->xfs, (size_t)(f->nxf + 1) * sizeof(*f->xfs));
        f->xfs[f->nxf++] = x;
    }
    free(copy);
    return err;
}

static gh_err_t on_line(const char *origin, const char *key, const char *value,
                        void *opaque, char *errstr, size_t errstr_size) {
    gh_mapping_t *m = opaque;
    if (!strcmp(key, "department")) {
        free(m->department);
        m->department = gh_xstrdup(value);
        for (const char *p = value; *p; p++)
            if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
                  *p == '_'))
                return gh_seterr(
                    errstr, errstr_size, GH_ERR_MAPPING,
                    "%s: department \"%s\": use [a-z0-9_] (it names "
                    "topics and slots)",
                    origin, value);
        return GH_OK;
    }
    if (!strcmp(key, "department.name")) return GH_OK;
    if (!strcmp(key, "tables")) {
        char *copy = gh_xstrdup(value), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            t = gh_str_trim(t);
            if (!*t || table_by_id(m, t, strlen(t))) {
                free(copy);
                return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                 "%s: tables: empty or repeated id \"%s\"",
                                 origin, t);
            }
            m->tables = gh_xrealloc(m->tables, (size_t)(m->ntables + 1) *
                                                   sizeof(*m->tables));
            gh_map_table_t *tb = &m->tables[m->ntables++];
            memset(tb, 0, sizeof(*tb));
            tb->id = gh_xstrdup(t);
            tb->origin = gh_xstrdup(origin);
            tb->key_field = -1;
        }
        free(copy);
        return GH_OK;
    }
    if (!strncmp(key, "table.", 6)) {
        const char *id = key + 6;
        const char *dot = strchr(id, '.');
        gh_map_table_t *t = dot ? table_by_id(m, id, (size_t)(dot - id)) : NULL;
        if (!t)
            return gh_seterr(
                errstr, errstr_size, GH_ERR_MAPPING,
                "%s: %s: table id not declared in `tables=` (declare "
                "it before use)",
                origin, key);
        const char *prop = dot + 1;
        if (!strcmp(prop, "source")) {
            const char *d = strchr(value, '.');
            if (!d || d == value || !d[1] || strchr(d + 1, '.'))
                return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                 "%s: %s: expected schema.table, got \"%s\"",
                                 origin, key, value);
            t->schema = gh_xstrndup(value, (size_t)(d - value));
            t->table = gh_xstrdup(d + 1);
            return GH_OK;
        }
        if (!strcmp(prop, "entity")) {
            t->entity = gh_xstrdup(value);
            return GH_OK;
        }
        if (!strncmp(prop, "field.", 6) && prop[6]) {
            const char *fname = prop + 6;
            for (int i = 0; i < t->nfields; i++)
                if (!strcmp(t->fields[i].name, fname))
                    return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                     "%s: field %s mapped twice", origin,
                                     fname);
            t->fields = gh_xrealloc(t->fields, (size_t)(t->nfields + 1) *
                                                   sizeof(*t->fields));
            field_t *f = &t->fields[t->nfields++];
            memset(f, 0, sizeof(*f));
            f->name = gh_xstrdup(fname);
            f->origin = gh_xstrdup(origin);
            f->col_pos = -1;
            return parse_field_spec(f, origin, value, errstr, errstr_size);
        }
        return gh_seterr(
            errstr, errstr_size, GH_ERR_MAPPING,
            "%s: %s: unknown table property \"%s\" (known: source, "
            "entity, field.<name>)",
            origin, key, prop);
    }
    if (!strncmp(key, "codes.", 6)) {
        const char *name = key + 6;
        const char *dot = strchr(name, '.');
        if (!dot || dot == name || !dot[1])
            return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                             "%s: %s: expected codes.<table>.<source value>",
                             origin, key);
        codes_t *c = codes_get(m, name, (size_t)(dot - name), 1);
        if (!strcmp(dot + 1, "*")) {
            free(c->fallback);
            c->fallback = gh_xstrdup(value);
        } else {
            c->e = gh_xrealloc(c->e, (size_t)(c->n + 1) * sizeof(*c->e));
            c->e[c->n].from = gh_xstrdup(dot + 1);
            c->e[c->n].to = gh_xstrdup(value);
            c->n++;
        }
        return GH_OK;
    }
    return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                     "%s: %s: unknown mapping key (known: department, tables, "
                     "table.<id>.*, codes.<table>.*)",
                     origin, key);
}

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

/* Finds the JSON type of field `name` in an entity schema's JSON. */
static const json_t *entity_field_type(const json_t *entity, const char *name) {
    const json_t *fields = json_object_get(entity, "fields");
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && !strcmp(n, name)) return json_object_get(f, "type");
    }
    return NULL;
}

static const char *logical_of(const json_t *t) {
    if (!json_is_object(t)) return NULL;
    return json_string_value(json_object_get(t, "logicalType"));
}

static gh_err_t resolve_field(gh_map_table_t *t, field_t *f, char *errstr,
                              size_t errstr_size) {
    int idx = avro_schema_record_field_get_index(t->row_schema, f->name);
    if (idx < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s: field %s: entity %s has no such field", f->origin,
                         f->name, t->entity);
    f->index = idx;
    avro_schema_t ftype =
        avro_schema_record_field_get_by_index(t->row_schema, idx);
    f->null_branch = f->value_branch = f->unchanged_branch = -1;
    avro_schema_t vs = ftype;
    const json_t *jt = entity_field_type(t->entity_json, f->name);
    const json_t *jvalue = jt;
    if (is_avro_union(ftype)) {
        size_t n = avro_schema_union_size(ftype);
        for (size_t b = 0; b < n; b++) {
            avro_schema_t br = avro_schema_union_branch(ftype, (int)b);
            if (is_avro_null(br))
                f->null_branch = (int)b;
            else if (is_avro_enum(br) &&
                     !strcmp(avro_schema_type_name(br), "Unchanged"))
                f->unchanged_branch = (int)b;
            else if (f->value_branch < 0) {
                f->value_branch = (int)b;
                vs = br;
            }
        }
        if (json_is_array(jt)) {
            size_t i;
            const json_t *e;
            json_array_foreach(jt, i, e) {
                if (!(json_is_string(e) &&
                      !strcmp(json_string_value(e), "null"))) {
                    jvalue = e;
                    break;
                }
            }
        }
    }
    f->value_schema = vs;
    const char *lt = logical_of(jvalue);
    switch (avro_typeof(vs)) {
    case AVRO_STRING:
        f->target = T_STRING;
        break;
    case AVRO_INT32:
        f->target = lt && !strcmp(lt, "date") ? T_DATE : T_INT;
        break;
    case AVRO_INT64:
        f->target =
            lt && !strcmp(lt, "timestamp-micros") ? T_TS_MICROS : T_LONG;
        break;
    case AVRO_BOOLEAN:
        f->target = T_BOOL;
        break;
    case AVRO_DOUBLE:
        f->target = T_DOUBLE;
        break;
    case AVRO_ENUM:
        f->target = T_ENUM;
        break;
    default:
        return gh_seterr(
            errstr, errstr_size, GH_ERR_MAPPING,
            "%s: field %s: its Avro type cannot be mapped from a "
            "column (only string, int, long, boolean, double, enum, "
            "date, timestamp-micros)",
            f->origin, f->name);
    }
    return GH_OK;
}

static gh_err_t finish_table(gh_mapping_t *m, gh_map_table_t *t, char *errstr,
                             size_t errstr_size) {
    if (!t->schema || !t->entity)
        return gh_seterr(
            errstr, errstr_size, GH_ERR_MAPPING,
            "%s: table %s: table.%s.source and table.%s.entity are "
            "required",
            t->origin, t->id, t->id, t->id);
    char *cam = camel(t->entity);
    char *envname = gh_xasprintf("gridhub.change.%sEnvelope", cam);
    char *entname = gh_xasprintf("gridhub.canonical.%s", cam);
    free(cam);
    t->envelope = gh_schemas_get(m->schemas, envname);
    const gh_schema_t *ent = gh_schemas_get(m->schemas, entname);
    free(envname);
    free(entname);
    if (!t->envelope || !ent)
        return gh_seterr(
            errstr, errstr_size, GH_ERR_MAPPING,
            "%s: table %s: unknown entity \"%s\" (no schemas/%s.avsc "
            "marked gridhub.entity)",
            t->origin, t->id, t->entity, t->entity);
    t->entity_json = gh_schema_jsonv(ent);
    avro_schema_t env = gh_schema_avro(t->envelope);
    avro_schema_t after = avro_schema_record_field_get(env, "after");
    t->row_schema = avro_schema_union_branch(after, 1);
    /* `after` names the Row type that `before` defined: a link. */
    while (is_avro_link(t->row_schema))
        t->row_schema = avro_schema_link_target(t->row_schema);
    t->key_field = -1;
    for (int i = 0; i < t->nfields; i++) {
        field_t *f = &t->fields[i];
        gh_err_t e = resolve_field(t, f, errstr, errstr_size);
        if (e) return e;
        if (!strcmp(f->name, "source_key")) t->key_field = i;
        for (int x = 0; x < f->nxf; x++) {
            if (f->xfs[x].kind != XF_CODE) continue;
            f->xfs[x].codes =
                codes_get(m, f->xfs[x].arg, strlen(f->xfs[x].arg), 0);
            if (!f->xfs[x].codes)
                return gh_seterr(
                    errstr, errstr_size, GH_ERR_MAPPING,
                    "%s: field %s: code table \"%s\" is not defined "
                    "(add codes.%s.<value>=...)",
                    f->origin, f->name, f->xfs[x].arg, f->xfs[x].arg);
        }
        if (f->target == T_ENUM) {
            /* Every code-table output feeding an enum must be a symbol. */
            for (int x = 0; x < f->nxf; x++) {
                codes_t *c = f->xfs[x].codes;
                if (!c) continue;
                for (int k = 0; k <= c->n; k++) {
                    const char *sym = k < c->n ? c->e[k].to : c->fallback;
                    if (sym &&
                        avro_schema_enum_get_by_name(f->value_schema, sym) < 0)
                        return gh_seterr(
                            errstr, errstr_size, GH_ERR_MAPPING,
                            "%s: field %s: code table %s yields "
                            "\"%s\", not a symbol of %s",
                            f->origin, f->name, c->name, sym,
                            avro_schema_type_name(f->value_schema));
                }
            }
        }
        int seen = 0;
        for (int c = 0; c < t->ncolumns; c++)
            if (!strcmp(t->columns[c], f->column)) seen = 1;
        if (!seen) {
            t->columns = gh_xrealloc(t->columns, (size_t)(t->ncolumns + 1) *
                                                     sizeof(char *));
            t->columns[t->ncolumns++] = gh_xstrdup(f->column);
        }
    }
    if (t->key_field < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s: table %s: field source_key must be mapped (it is "
                         "the Kafka key that keeps a row's changes in order)",
                         t->origin, t->id);
    /* Unmapped canonical fields are written as null: they must allow it. */
    size_t nf = avro_schema_record_size(t->row_schema);
    for (size_t i = 0; i < nf; i++) {
        const char *fname =
            avro_schema_record_field_name(t->row_schema, (int)i);
        int mapped = 0;
        for (int k = 0; k < t->nfields; k++)
            if (!strcmp(t->fields[k].name, fname)) mapped = 1;
        if (mapped) continue;
        avro_schema_t ft =
            avro_schema_record_field_get_by_index(t->row_schema, (int)i);
        int nullable = 0;
        if (is_avro_union(ft))
            for (size_t b = 0; b < avro_schema_union_size(ft); b++)
                if (is_avro_null(avro_schema_union_branch(ft, (int)b)))
                    nullable = 1;
        if (!nullable)
            return gh_seterr(
                errstr, errstr_size, GH_ERR_MAPPING,
                "%s: table %s: entity field %s is required but not "
                "mapped",
                t->origin, t->id, fname);
    }
    return GH_OK;
}

gh_mapping_t *gh_mapping_load(const char *path, const gh_schemas_t *schemas,
                              char *errstr, size_t errstr_size) {
    gh_mapping_t *m = gh_xcalloc(1, sizeof(*m));
    m->schemas = schemas;
    m->path = gh_xstrdup(path);
    if (gh_props_parse_file(path, on_line, m, errstr, errstr_size)) {
        gh_mapping_destroy(m);
        return NULL;
    }
    if (!m->department || !m->ntables) {
        gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                  "%s: `department=` and `tables=` are required", path);
        gh_mapping_destroy(m);
        return NULL;
    }
    for (int i = 0; i < m->ntables; i++)
        if (finish_table(m, &m->tables[i], errstr, errstr_size)) {
            gh_mapping_destroy(m);
            return NULL;
        }
    return m;
}

void gh_mapping_destroy(gh_mapping_t *m) {
    if (!m) return;
    for (int i = 0; i < m->ntables; i++) {
        gh_map_table_t *t = &m->tables[i];
        for (int k = 0; k < t->nfields; k++) {
            field_t *f = &t->fields[k];
            for (int x = 0; x < f->nxf; x++)
                free(f->xfs[x].arg);
            free(f->xfs);
            free(f->name);
            free(f->column);
            free(f->origin);
        }
        for (int c = 0; c < t->ncolumns; c++)
            free(t->columns[c]);
        free(t->columns);
        free(t->fields);
        free(t->id);
        free(t->schema);
        free(t->table);
        free(t->entity);
        free(t->origin);
    }
    free(m->tables);
    for (int i = 0; i < m->ncodes; i++) {
        for (int k = 0; k < m->codes[i].n; k++) {
            free(m->codes[i].e[k].from);
            free(m->codes[i].e[k].to);
        }
        free(m->codes[i].e);
        free(m->codes[i].name);
        free(m->codes[i].fallback);
    }
    free(m->codes);
    free(m->department);
    free(m->path);
    free(m);
}

const char *gh_mapping_department(const gh_mapping_t *m) {
    return m->department;
}
int gh_mapping_table_count(const gh_mapping_t *m) {
    return m->ntables;
}
gh_map_table_t *gh_mapping_table(const gh_mapping_t *m, int i) {
    return &m->tables[i];
}

gh_map_table_t *gh_mapping_find(const gh_mapping_t *m, const char *nsp,
                                const char *rel) {
    for (int i = 0; i < m->ntables; i++)
        if (!strcmp(m->tables[i].schema, nsp) &&
            !strcmp(m->tables[i].table, rel))
            return &m->tables[i];
    return NULL;
}

const char *gh_map_table_schema(const gh_map_table_t *t) {
    return t->schema;
}
const char *gh_map_table_name(const gh_map_table_t *t) {
    return t->table;
}
const char *gh_map_table_entity(const gh_map_table_t *t) {
    return t->entity;
}
const gh_schema_t *gh_map_table_envelope(const gh_map_table_t *t) {
    return t->envelope;
}

const char *const *gh_map_table_columns(const gh_map_table_t *t, int *n) {
    *n = t->ncolumns;
    return (const char *const *)t->columns;
}

gh_err_t gh_map_table_bind(gh_map_table_t *t, int ncols,
                           const char *const *names, char *errstr,
                           size_t errstr_size) {
    for (int i = 0; i < t->nfields; i++) {
        field_t *f = &t->fields[i];
        f->col_pos = -1;
        for (int c = 0; c < ncols; c++)
            if (!strcmp(names[c], f->column)) f->col_pos = c;
        if (f->col_pos < 0)
            return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                             "%s: field %s: column %s.%s.%s does not exist",
                             f->origin, f->name, t->schema, t->table,
                             f->column);
    }
    return GH_OK;
}

/* ---- row conversion --------------------------------------------------------
 */

/* Applies `pattern` (YYYY MM DD, others literal) to `in`; writes ISO date. */
static int apply_date_pattern(const char *pattern, const char *in,
                              char out[11]) {
    int y = -1, mo = -1, d = -1;
    const char *p = pattern, *s = in;
    while (*p) {
        if (!strncmp(p, "YYYY", 4) || !strncmp(p, "MM", 2) ||
            !strncmp(p, "DD", 2)) {
            int w = p[0] == 'Y' ? 4 : 2, v = 0;
            for (int i = 0; i < w; i++) {
                if (!isdigit((unsigned char)s[i])) return -1;
                v = v * 10 + (s[i] - '0');
            }
            if (p[0] == 'Y')
                y = v;
            else if (p[0] == 'M')
                mo = v;
            else
                d = v;
            p += w;
            s += w;
        } else {
            if (*s != *p) return -1;
            p++;
            s++;
        }
    }
    if (*s || y < 0 || mo < 0 || d < 0) return -1;
    snprintf(out, 11, "%04d-%02d-%02d", y % 10000, mo % 100, d % 100);
    return 0;
}

static int parse_timestamp(const char *s, int64_t *us) {
    int64_t days;
    const char *r;
    if (gh_date_parse_iso(s, &days, &r)) return -1;
    int hh = 0, mi = 0, ss = 0, n = 0;
    int64_t frac = 0;
    if (*r == ' ' || *r == 'T') {
        if (sscanf(r + 1, "%2d:%2d:%2d%n", &hh, &mi, &ss, &n) != 3) return -1;
        r += 1 + n;
        if (*r == '.') {
            int digits = 0;
            r++;
            while (isdigit((unsigned char)*r)) {
                if (digits < 6) {
                    frac = frac * 10 + (*r - '0');
                    digits++;
                }
                r++;
            }
            while (digits++ < 6)
                frac *= 10;
        }
    }
    int64_t off = 0;
    if (*r == '+' || *r == '-') {
        int oh = 0, om = 0, sign = *r == '-' ? -1 : 1;
        if (sscanf(r + 1, "%2d", &oh) != 1) return -1;
        r += 3;
        if (*r == ':') r++;
        if (isdigit((unsigned char)*r)) {
            sscanf(r, "%2d", &om);
            r += 2;
        }
        off = sign * (oh * 3600 + om * 60);
    } else if (*r == 'Z') {
        r++;
    }
    if (*r) return -1;
    *us = ((days * 86400 + hh * 3600 + mi * 60 + ss) - off) * 1000000 + frac;
    return 0;
}

static gh_err_t bad(char *errstr, size_t errstr_size, const gh_map_table_t *t,
                    const field_t *f, const char *why, const char *val) {
    return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                     "%s.%s column %s -> field %s: %s (value \"%.80s\")",
                     t->schema, t->table, f->column, f->name, why,
                     val ? val : "");
}

static gh_err_t set_value(gh_map_table_t *t, field_t *f, avro_value_t *fv,
                          const char *s, char *errstr, size_t errstr_size) {
    avro_value_t v = *fv;
    if (f->value_branch >= 0 && avro_value_set_branch(fv, f->value_branch, &v))
        return bad(errstr, errstr_size, t, f, avro_strerror(), s);
    char *end;
    switch (f->target) {
    case T_STRING:
        if (avro_value_set_string(&v, s))
            return bad(errstr, errstr_size, t, f, avro_strerror(), s);
        return GH_OK;
    case T_INT:
    case T_LONG: {
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (errno || end == s || *end)
            return bad(errstr, errstr_size, t, f, "not an integer", s);
        if (f->target == T_INT) {
            if (n < INT32_MIN || n > INT32_MAX)
                return bad(errstr, errstr_size, t, f, "out of int range", s);
            avro_value_set_int(&v, (int32_t)n);
        } else {
            avro_value_set_long(&v, n);
        }
        return GH_OK;
    }
    case T_DOUBLE: {
        errno = 0;
        double d = strtod(s, &end);
        if (errno || end == s || *end)
            return bad(errstr, errstr_size, t, f, "not a number", s);
        avro_value_set_double(&v, d);
        return GH_OK;
    }
    case T_BOOL:
        if (!strcmp(s, "t") || !strcmp(s, "true"))
            avro_value_set_boolean(&v, 1);
        else if (!strcmp(s, "f") || !strcmp(s, "false"))
            avro_value_set_boolean(&v, 0);
        else
            return bad(errstr, errstr_size, t, f, "not a boolean", s);
        return GH_OK;
    case T_ENUM: {
        int sym = avro_schema_enum_get_by_name(f->value_schema, s);
        if (sym < 0)
            return bad(errstr, errstr_size, t, f, "not a symbol of the enum",
                       s);
        avro_value_set_enum(&v, sym);
        return GH_OK;
    }
    case T_DATE: {
        int64_t days;
        if (gh_date_parse_iso(s, &days, NULL) || days < INT32_MIN ||
            days > INT32_MAX)
            return bad(errstr, errstr_size, t, f, "not a valid date", s);
        avro_value_set_int(&v, (int32_t)days);
        return GH_OK;
    }
    case T_TS_MICROS: {
        int64_t us;
        if (parse_timestamp(s, &us))
            return bad(errstr, errstr_size, t, f, "not a valid timestamp", s);
        avro_value_set_long(&v, us);
        return GH_OK;
    }
    }
    return GH_OK;
}

static gh_err_t set_null(gh_map_table_t *t, field_t *f, avro_value_t *fv,
                         char *errstr, size_t errstr_size) {
    avro_value_t v;
    if (f->null_branch < 0)
        return bad(errstr, errstr_size, t, f,
                   "NULL in a field that cannot be null", NULL);
    avro_value_set_branch(fv, f->null_branch, &v);
    avro_value_set_null(&v);
    return GH_OK;
}

/* Runs the transform pipeline; returns the text or NULL for SQL NULL. The
 * result lives in `scratch`. */
static gh_err_t transform(gh_map_table_t *t, field_t *f, const char *in,
                          gh_buf_t *scratch, const char **out, char *errstr,
                          size_t errstr_size) {
    gh_buf_reset(scratch);
    gh_buf_puts(scratch, in);
    const char *cur = scratch->data;
    for (int x = 0; x < f->nxf && cur; x++) {
        xf_t *xf = &f->xfs[x];
        switch (xf->kind) {
        case XF_TRIM: {
            char *s = scratch->data;
            size_t n = strlen(s), a = 0;
            while (a < n && isspace((unsigned char)s[a]))
                a++;
            while (n > a && isspace((unsigned char)s[n - 1]))
                n--;
            memmove(s, s + a, n - a);
            s[n - a] = '\0';
            scratch->len = n - a;
            break;
        }
        case XF_UPPER:
            for (char *p = scratch->data; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            break;
        case XF_LOWER:
            for (char *p = scratch->data; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            break;
        case XF_NULLIF:
            if (!strcmp(scratch->data, xf->arg)) cur = NULL;
            break;
        case XF_DATE: {
            char iso[11];
            if (apply_date_pattern(xf->arg, scratch->data, iso))
                return bad(errstr, errstr_size, t, f,
                           "does not match date pattern", scratch->data);
            gh_buf_reset(scratch);
            gh_buf_puts(scratch, iso);
            break;
        }
        case XF_CODE: {
            codes_t *c = xf->codes;
            const char *to = NULL;
            for (int k = 0; k < c->n && !to; k++)
                if (!strcmp(c->e[k].from, scratch->data)) to = c->e[k].to;
            if (!to) to = c->fallback;
            if (!to) {
                char why[160];
                snprintf(why, sizeof(why), "unknown code in code table %s",
                         c->name);
                return bad(errstr, errstr_size, t, f, why, scratch->data);
            }
            char *dup = gh_xstrdup(to);
            gh_buf_reset(scratch);
            gh_buf_puts(scratch, dup);
            free(dup);
            break;
        }
        }
        if (cur) cur = scratch->data;
    }
    *out = cur;
    return GH_OK;
}

gh_err_t gh_map_row(gh_map_table_t *t, const gh_pgo_value_t *vals, int nvals,
                    avro_value_t *row, gh_buf_t *key, char *errstr,
                    size_t errstr_size) {
    gh_buf_t raw = {0}, scratch = {0};
    gh_err_t err = GH_OK;
    int have_key = 0;
    /* Unmapped nullable fields: null. */
    size_t nf = avro_schema_record_size(t->row_schema);
    for (size_t i = 0; i < nf; i++) {
        avro_value_t fv, v;
        avro_value_get_by_index(row, i, &fv, NULL);
        if (avro_value_get_type(&fv) == AVRO_UNION) {
            avro_schema_t us = avro_value_get_schema(&fv);
            for (size_t b = 0; b < avro_schema_union_size(us); b++)
                if (is_avro_null(avro_schema_union_branch(us, (int)b))) {
                    avro_value_set_branch(&fv, (int)b, &v);
                    avro_value_set_null(&v);
                    break;
                }
        }
    }
    for (int i = 0; i < t->nfields && !err; i++) {
        field_t *f = &t->fields[i];
        avro_value_t fv;
        avro_value_get_by_index(row, (size_t)f->index, &fv, NULL);
        const gh_pgo_value_t *pv =
            f->col_pos >= 0 && f->col_pos < nvals ? &vals[f->col_pos] : NULL;
        if (!pv || pv->kind == GH_PGO_NULL) {
            if (i == t->key_field && pv)
                err =
                    bad(errstr, errstr_size, t, f, "source key is NULL", NULL);
            else
                err = set_null(t, f, &fv, errstr, errstr_size);
            continue;
        }
        if (pv->kind == GH_PGO_UNCHANGED) {
            avro_value_t v;
            if (f->unchanged_branch < 0) {
                err = bad(errstr, errstr_size, t, f,
                          "unchanged TOAST value in a "
                          "field that cannot carry UNCHANGED",
                          NULL);
                continue;
            }
            avro_value_set_branch(&fv, f->unchanged_branch, &v);
            avro_value_set_enum(&v, 0);
            continue;
        }
        gh_buf_reset(&raw);
        gh_buf_append(&raw, pv->data, pv->len);
        if (memchr(pv->data, '\0', pv->len)) {
            err = bad(errstr, errstr_size, t, f, "value contains a NUL byte",
                      NULL);
            continue;
        }
        const char *text = NULL;
        err = transform(t, f, raw.data, &scratch, &text, errstr, errstr_size);
        if (err) continue;
        if (!text) {
            err = set_null(t, f, &fv, errstr, errstr_size);
            continue;
        }
        err = set_value(t, f, &fv, text, errstr, errstr_size);
        if (!err && i == t->key_field) {
            gh_buf_puts(key, text);
            have_key = 1;
        }
    }
    if (!err && !have_key)
        err = gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                        "%s.%s: row has no source key value", t->schema,
                        t->table);
    gh_buf_free(&raw);
    gh_buf_free(&scratch);
    return err;
}
