/* Loading, checking and binding of department mapping files. */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/conf.h"
#include "mapping_int.h"

/* ---- parsing helpers -------------------------------------------------------
 */

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

/* Splits `s` at `sep` outside single quotes into new strings (trimmed).
 * Returns the count; -1 for an unterminated quote. */
static int split_unquoted(const char *s, char sep, char ***out) {
    char **v = NULL;
    int n = 0, inq = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '\'') inq = !inq;
        if (*p == '\0' || (*p == sep && !inq)) {
            char *part = gh_xstrndup(start, (size_t)(p - start));
            char *t = gh_str_trim(part);
            v = gh_xrealloc(v, (size_t)(n + 1) * sizeof(char *));
            v[n++] = gh_xstrdup(t);
            free(part);
            if (!*p) break;
            start = p + 1;
        }
    }
    *out = v;
    if (inq) {
        for (int i = 0; i < n; i++)
            free(v[i]);
        free(v);
        *out = NULL;
        return -1;
    }
    return n;
}

static void free_strv(char **v, int n) {
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* 'text' -> text (new string); NULL if not a quoted literal. */
static char *unquote(const char *s) {
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'')
        return gh_xstrndup(s + 1, n - 2);
    return NULL;
}

static int is_identifier(const char *s) {
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_')) return 0;
    return 1;
}

static gh_err_t parse_field_spec(field_t *f, const char *origin,
                                 const char *spec, char *errstr,
                                 size_t errstr_size) {
    char **parts = NULL;
    int np = split_unquoted(spec, '|', &parts);
    if (np < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s: field %s: unterminated quote", origin, f->name);
    gh_err_t err = GH_OK;
    char **terms = NULL;
    int nt = split_unquoted(parts[0], '+', &terms);
    for (int i = 0; i < nt && !err; i++) {
        term_t t = {0, NULL, -1};
        char *lit = unquote(terms[i]);
        if (lit) {
            t.literal = 1;
            t.text = lit;
        } else if (is_identifier(terms[i])) {
            t.text = gh_xstrdup(terms[i]);
        } else {
            err = gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                            "%s: field %s: \"%s\" is neither a column name nor "
                            "a 'quoted literal'",
                            origin, f->name, terms[i]);
            break;
        }
        f->terms =
            gh_xrealloc(f->terms, (size_t)(f->nterms + 1) * sizeof(*f->terms));
        f->terms[f->nterms++] = t;
    }
    free_strv(terms, nt);
    for (int i = 1; i < np && !err; i++) {
        char *p = parts[i];
        char *colon = strchr(p, ':');
        char *arg = NULL;
        if (colon) {
            *colon = '\0';
            arg = gh_str_trim(colon + 1);
            gh_str_trim(p);
        }
        xf_t x = {0};
        static const struct {
            const char *name;
            xf_kind_t kind;
            int arg; /* 0 none, 1 required non-empty, 2 required may be empty */
        } known[] = {
            {"trim", XF_TRIM, 0},        {"upper", XF_UPPER, 0},
            {"lower", XF_LOWER, 0},      {"nullif", XF_NULLIF, 2},
            {"date", XF_DATE, 1},        {"code", XF_CODE, 1},
            {"crosswalk", XF_CODE, 1},   {"fullwidth", XF_FULLWIDTH, 0},
            {"collapse", XF_COLLAPSE, 0}};
        int k = -1;
        for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++)
            if (!strcmp(p, known[j].name)) k = (int)j;
        if (k < 0) {
            err = gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                            "%s: field %s: unknown transform \"%s\" (known: "
                            "trim, upper, lower, fullwidth, collapse, nullif:, "
                            "date:, code:, crosswalk:)",
                            origin, f->name, p);
            break;
        }
        x.kind = known[k].kind;
        if ((known[k].arg == 1 && (!arg || !*arg)) ||
            (known[k].arg == 2 && !arg) || (known[k].arg == 0 && arg)) {
            err = gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                            "%s: field %s: transform %s %s", origin, f->name, p,
                            known[k].arg ? "needs an argument (name:arg)"
                                         : "takes no argument");
            break;
        }
        if (x.kind == XF_NULLIF && arg) {
            char *lit = unquote(arg);
            x.arg = lit ? lit : gh_xstrdup(arg);
        } else {
            x.arg = arg ? gh_xstrdup(arg) : NULL;
        }
        f->xfs = gh_xrealloc(f->xfs, (size_t)(f->nxf + 1) * sizeof(*f->xfs));
        f->xfs[f->nxf++] = x;
    }
    free_strv(parts, np);
    return err;
}

/* column = 'v' | column != 'v' | column in ('a','b') | column is [not] null */
static gh_err_t parse_filter(filter_t *flt, const char *origin, const char *s,
                             char *errstr, size_t errstr_size) {
    char col[128];
    int n = 0;
    if (sscanf(s, " %127[A-Za-z0-9_] %n", col, &n) != 1) goto bad;
    const char *rest = s + n;
    flt->column = gh_xstrdup(col);
    flt->col_pos = -1;
    if (!strncasecmp(rest, "is not null", 11) &&
        !rest[11 + strspn(rest + 11, " ")]) {
        flt->op = F_NOT_NULL;
        return GH_OK;
    }
    if (!strncasecmp(rest, "is null", 7) && !rest[7 + strspn(rest + 7, " ")]) {
        flt->op = F_IS_NULL;
        return GH_OK;
    }
    if (!strncmp(rest, "!=", 2) || rest[0] == '=') {
        flt->op = rest[0] == '=' ? F_EQ : F_NE;
        rest += flt->op == F_EQ ? 1 : 2;
        char *copy = gh_xstrdup(rest);
        char *lit = unquote(gh_str_trim(copy));
        free(copy);
        if (!lit) goto bad;
        flt->values = gh_xmalloc(sizeof(char *));
        flt->values[0] = lit;
        flt->nvalues = 1;
        return GH_OK;
    }
    if (!strncasecmp(rest, "in", 2)) {
        rest += 2;
        rest += strspn(rest, " ");
        size_t len = strlen(rest);
        if (rest[0] != '(' || len < 2 || rest[len - 1] != ')') goto bad;
        char *inner = gh_xstrndup(rest + 1, len - 2);
        char **items = NULL;
        int ni = split_unquoted(inner, ',', &items);
        free(inner);
        if (ni <= 0) goto bad;
        flt->op = F_IN;
        flt->values = gh_xcalloc((size_t)ni, sizeof(char *));
        for (int i = 0; i < ni; i++) {
            flt->values[i] = unquote(items[i]);
            if (!flt->values[i]) {
                free_strv(items, ni);
                goto bad;
            }
            flt->nvalues++;
        }
        free_strv(items, ni);
        return GH_OK;
    }
bad:
    return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                     "%s: filter \"%s\": expected column = 'v', column != "
                     "'v', column in ('a','b'), column is null or column is "
                     "not null",
                     origin, s);
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const code_entry_t *)a)->from,
                  ((const code_entry_t *)b)->from);
}

static gh_err_t codes_add(codes_t *c, const char *origin, const char *from,
                          const char *to, char *errstr, size_t errstr_size) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].from, from))
            return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                             "%s: code table %s: \"%s\" defined twice", origin,
                             c->name, from);
    c->e = gh_xrealloc(c->e, (size_t)(c->n + 1) * sizeof(*c->e));
    c->e[c->n].from = gh_xstrdup(from);
    c->e[c->n].to = gh_xstrdup(to);
    c->n++;
    return GH_OK;
}

typedef struct codes_ctx {
    codes_t *c;
    const char *origin;
} codes_ctx_t;

static gh_err_t codes_pair(void *ctx, const char *where, const char *from,
                           const char *to, char *errstr, size_t errstr_size) {
    codes_ctx_t *x = ctx;
    return codes_add(x->c, where, from, to, errstr, errstr_size);
}

/* Loads `from,to` lines of a CSV file (no quoting; # comments). */
static gh_err_t codes_load_file(gh_mapping_t *m, codes_t *c, const char *origin,
                                char *errstr, size_t errstr_size) {
    char *dir = gh_xstrdup(m->path);
    char *path = c->file[0] == '/'
                     ? gh_xstrdup(c->file)
                     : gh_xasprintf("%s/%s", dirname(dir), c->file);
    free(dir);
    codes_ctx_t x = {c, origin};
    char why[1024];
    gh_err_t e = gh_read_pairs_file(path, codes_pair, &x, why, sizeof(why));
    if (e == GH_ERR_MAPPING)
        gh_seterr(errstr, errstr_size, e, "%s: %s", origin, why);
    else if (e)
        e = gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                      "%s: code table %s: %s", origin, c->name, why);
    free(path);
    return e;
}

static gh_err_t on_line(const char *origin, const char *key, const char *value,
                        void *opaque, char *errstr, size_t errstr_size) {
    gh_mapping_t *m = opaque;
    if (!strcmp(key, "department")) {
        free(m->department);
        m->department = gh_xstrdup(value);
        if (!*value)
            return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                             "%s: department is empty (it names topics and "
                             "slots)",
                             origin);
        for (const char *p = value; *p; p++)
            if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
                  *p == '_'))
                return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                 "%s: department \"%s\": use [a-z0-9_] (it "
                                 "names topics and slots)",
                                 origin, value);
        return GH_OK;
    }
    if (!strcmp(key, "department.name")) return GH_OK;
    if (!strcmp(key, "tables")) {
        char **ids = NULL;
        int n = split_unquoted(value, ',', &ids);
        for (int i = 0; i < n; i++) {
            if (!is_identifier(ids[i]) ||
                table_by_id(m, ids[i], strlen(ids[i]))) {
                gh_err_t e = gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                       "%s: tables: bad or repeated id \"%s\"",
                                       origin, ids[i]);
                free_strv(ids, n);
                return e;
            }
            m->tables = gh_xrealloc(m->tables, (size_t)(m->ntables + 1) *
                                                   sizeof(*m->tables));
            gh_map_table_t *tb = &m->tables[m->ntables++];
            memset(tb, 0, sizeof(*tb));
            tb->id = gh_xstrdup(ids[i]);
            tb->origin = gh_xstrdup(origin);
            tb->key_field = -1;
        }
        free_strv(ids, n);
        return GH_OK;
    }
    if (!strncmp(key, "table.", 6)) {
        const char *id = key + 6;
        const char *dot = strchr(id, '.');
        gh_map_table_t *t = dot ? table_by_id(m, id, (size_t)(dot - id)) : NULL;
        if (!t)
            return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                             "%s: %s: table id not declared in `tables=` "
                             "(declare it before use)",
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
            free(t->entity);
            free(t->entity_origin);
            t->entity = gh_xstrdup(value);
            t->entity_origin = gh_xstrdup(origin);
            return GH_OK;
        }
        if (!strcmp(prop, "filter"))
            return parse_filter(&t->filter, origin, value, errstr, errstr_size);
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
            return parse_field_spec(f, origin, value, errstr, errstr_size);
        }
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s: %s: unknown table property \"%s\" (known: "
                         "source, entity, filter, field.<name>)",
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
            return GH_OK;
        }
        if (!strcmp(dot + 1, "file")) {
            free(c->file);
            c->file = gh_xstrdup(value);
            return codes_load_file(m, c, origin, errstr, errstr_size);
        }
        return codes_add(c, origin, dot + 1, value, errstr, errstr_size);
    }
    return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                     "%s: %s: unknown mapping key (known: department, tables, "
                     "table.<id>.*, codes.<table>.*)",
                     origin, key);
}

/* ---- checking against the schemas ------------------------------------------
 */

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
            while (is_avro_link(br))
                br = avro_schema_link_target(br);
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
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s: field %s: its Avro type cannot be mapped from a "
                         "column (only string, int, long, boolean, double, "
                         "enum, date, timestamp-micros)",
                         f->origin, f->name);
    }
    return GH_OK;
}

static void add_column(gh_map_table_t *t, const char *col) {
    for (int c = 0; c < t->ncolumns; c++)
        if (!strcmp(t->columns[c], col)) return;
    t->columns =
        gh_xrealloc(t->columns, (size_t)(t->ncolumns + 1) * sizeof(char *));
    t->columns[t->ncolumns++] = gh_xstrdup(col);
}

static gh_err_t check_enum_codes(const field_t *f, char *errstr,
                                 size_t errstr_size) {
    /* Every code-table output feeding an enum must be one of its symbols:
     * found at load time rather than as a dead letter per row. */
    for (int x = 0; x < f->nxf; x++) {
        const codes_t *c = f->xfs[x].codes;
        if (!c) continue;
        for (int k = 0; k <= c->n; k++) {
            const char *sym = k < c->n ? c->e[k].to : c->fallback;
            if (sym && avro_schema_enum_get_by_name(f->value_schema, sym) < 0)
                return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                 "%s: field %s: code table %s yields \"%s\", "
                                 "not a symbol of %s",
                                 f->origin, f->name, c->name, sym,
                                 avro_schema_type_name(f->value_schema));
        }
    }
    return GH_OK;
}

static gh_err_t finish_table(gh_mapping_t *m, gh_map_table_t *t, char *errstr,
                             size_t errstr_size) {
    if (!t->schema || !t->entity)
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s: table %s: table.%s.source and table.%s.entity "
                         "are required",
                         t->origin, t->id, t->id, t->id);
    const gh_schema_t *ent =
        gh_schemas_entity(m->schemas, t->entity, &t->envelope);
    if (!t->envelope || !ent)
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s: table %s: unknown entity \"%s\" (no "
                         "schemas/%s.avsc marked gridhub.entity)",
                         t->entity_origin, t->id, t->entity, t->entity);
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
                return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                 "%s: field %s: code table \"%s\" is not "
                                 "defined (add codes.%s.<value>=... or "
                                 "codes.%s.file=...)",
                                 f->origin, f->name, f->xfs[x].arg,
                                 f->xfs[x].arg, f->xfs[x].arg);
        }
        if (f->target == T_ENUM) {
            e = check_enum_codes(f, errstr, errstr_size);
            if (e) return e;
        }
        for (int k = 0; k < f->nterms; k++)
            if (!f->terms[k].literal) add_column(t, f->terms[k].text);
    }
    if (t->filter.op != F_NONE) add_column(t, t->filter.column);
    if (t->key_field < 0)
        return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                         "%s: table %s: field source_key must be mapped (it "
                         "is the Kafka key that keeps a row's changes in "
                         "order)",
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
            return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                             "%s: table %s: entity field %s is required but "
                             "not mapped",
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
    for (int i = 0; i < m->ncodes; i++)
        if (m->codes[i].n) /* a table of only a fallback has no entries */
            qsort(m->codes[i].e, (size_t)m->codes[i].n, sizeof(code_entry_t),
                  cmp_entry);
    for (int i = 0; i < m->ntables; i++)
        if (finish_table(m, &m->tables[i], errstr, errstr_size)) {
            gh_mapping_destroy(m);
            return NULL;
        }
    return m;
}

const char *gh__codes_lookup(const codes_t *c, const char *from) {
    code_entry_t key = {(char *)from, NULL};
    const code_entry_t *e =
        c->n ? bsearch(&key, c->e, (size_t)c->n, sizeof(*c->e), cmp_entry)
             : NULL;
    return e ? e->to : c->fallback;
}

void gh_mapping_destroy(gh_mapping_t *m) {
    if (!m) return;
    for (int i = 0; i < m->ntables; i++) {
        gh_map_table_t *t = &m->tables[i];
        for (int k = 0; k < t->nfields; k++) {
            field_t *f = &t->fields[k];
            for (int x = 0; x < f->nxf; x++)
                free(f->xfs[x].arg);
            for (int x = 0; x < f->nterms; x++)
                free(f->terms[x].text);
            free(f->terms);
            free(f->xfs);
            free(f->name);
            free(f->origin);
        }
        for (int c = 0; c < t->ncolumns; c++)
            free(t->columns[c]);
        free_strv(t->filter.values, t->filter.nvalues);
        free(t->filter.column);
        free(t->columns);
        free(t->fields);
        free(t->id);
        free(t->schema);
        free(t->table);
        free(t->entity);
        free(t->origin);
        free(t->entity_origin);
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
        free(m->codes[i].file);
    }
    free(m->codes);
    free(m->department);
    free(m->path);
    free(m);
}

/* ---- accessors -------------------------------------------------------------
 */

const char *gh_mapping_department(const gh_mapping_t *m) {
    return m->department;
}
int gh_mapping_table_count(const gh_mapping_t *m) {
    return m->ntables;
}
gh_map_table_t *gh_mapping_table(const gh_mapping_t *m, int i) {
    return &m->tables[i];
}

int gh_mapping_find_all(const gh_mapping_t *m, const char *nsp, const char *rel,
                        gh_map_table_t **out, int max) {
    int n = 0;
    for (int i = 0; i < m->ntables; i++)
        if (!strcmp(m->tables[i].schema, nsp) &&
            !strcmp(m->tables[i].table, rel)) {
            if (n < max) out[n] = &m->tables[i];
            n++;
        }
    return n;
}

const char *gh_map_table_id(const gh_map_table_t *t) {
    return t->id;
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

static int position_of(int ncols, const char *const *names, const char *col) {
    for (int c = 0; c < ncols; c++)
        if (!strcmp(names[c], col)) return c;
    return -1;
}

gh_err_t gh_map_table_bind(gh_map_table_t *t, int ncols,
                           const char *const *names, char *errstr,
                           size_t errstr_size) {
    for (int i = 0; i < t->nfields; i++) {
        field_t *f = &t->fields[i];
        for (int k = 0; k < f->nterms; k++) {
            term_t *term = &f->terms[k];
            if (term->literal) continue;
            term->col_pos = position_of(ncols, names, term->text);
            if (term->col_pos < 0)
                return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                                 "%s: field %s: column %s.%s.%s does not "
                                 "exist",
                                 f->origin, f->name, t->schema, t->table,
                                 term->text);
        }
    }
    if (t->filter.op != F_NONE) {
        t->filter.col_pos = position_of(ncols, names, t->filter.column);
        if (t->filter.col_pos < 0)
            return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                             "%s: table %s: filter column %s.%s.%s does not "
                             "exist",
                             t->origin, t->id, t->schema, t->table,
                             t->filter.column);
    }
    return GH_OK;
}
