/* An entity row as the JSON text source_row stores, written straight from
 * the Avro value: no JSON tree per row (a snapshot brings hundreds of
 * thousands), logical types from the entity's schema, sensitive values
 * sealed on the way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_int.h"
#include "gridhub/util.h"

enum { LT_NONE, LT_DATE, LT_TS_MICROS };

/* How an entity's fields are written: by name, the logical type its
 * schema gives (the Avro C values do not carry it). */
struct gh_apply_rowfmt {
    char *entity;
    json_t *logical; /* field name -> LT_* (only those not LT_NONE) */
};

static int logical_of(const json_t *type) {
    if (json_is_array(type)) {
        size_t i;
        const json_t *b;
        json_array_foreach(type, i, b) {
            int lt = logical_of(b);
            if (lt != LT_NONE) return lt;
        }
        return LT_NONE;
    }
    const char *lt = json_string_value(json_object_get(type, "logicalType"));
    if (!lt) return LT_NONE;
    if (!strcmp(lt, "date")) return LT_DATE;
    if (!strcmp(lt, "timestamp-micros")) return LT_TS_MICROS;
    return LT_NONE;
}

static const struct gh_apply_rowfmt *rowfmt(gh_apply_t *a, const char *entity) {
    for (int i = 0; i < a->nfmts; i++)
        if (!strcmp(a->fmts[i].entity, entity)) return &a->fmts[i];
    a->fmts = gh_xrealloc(a->fmts, (size_t)(a->nfmts + 1) * sizeof(*a->fmts));
    struct gh_apply_rowfmt *f = &a->fmts[a->nfmts++];
    f->entity = gh_xstrdup(entity);
    f->logical = json_object();
    const gh_schema_t *ent = gh_schemas_entity(a->schemas, entity, NULL);
    const json_t *fields =
        ent ? json_object_get(gh_schema_jsonv(ent), "fields") : NULL;
    size_t i;
    const json_t *fd;
    json_array_foreach(fields, i, fd) {
        int lt = logical_of(json_object_get(fd, "type"));
        const char *name = json_string_value(json_object_get(fd, "name"));
        if (lt != LT_NONE && name)
            json_object_set_new(f->logical, name, json_integer(lt));
    }
    return f;
}

void gh_apply_rowfmts_free(gh_apply_t *a) {
    for (int i = 0; i < a->nfmts; i++) {
        free(a->fmts[i].entity);
        json_decref(a->fmts[i].logical);
    }
    free(a->fmts);
    a->fmts = NULL;
    a->nfmts = 0;
}

/* The crypt field an entity field is sealed as, by the end of its name
 * (head_id_number, registered_address, contact_phone, ...); NULL: kept
 * in clear. docs/encryption.md lists what this seals. */
static const char *sealed_as(const char *field) {
    static const char *const classes[] = {"id_number", "phone", "address"};
    size_t fl = strlen(field);
    for (size_t i = 0; i < sizeof(classes) / sizeof(*classes); i++) {
        size_t cl = strlen(classes[i]);
        if (fl >= cl && !strcmp(field + fl - cl, classes[i]) &&
            (fl == cl || field[fl - cl - 1] == '_'))
            return classes[i];
    }
    return NULL;
}

/* The field whose ID number links a row to a golden person (id_key): the
 * resident's own, or for a household its head's. */
static int names_resident(const char *field) {
    return !strcmp(field, "id_number") || !strcmp(field, "head_id_number");
}

/* Writes one string field's value (sealed if its name says so); -1 with
 * why if the database could not hold it. */
static int put_string(gh_apply_t *a, gh_buf_t *b, const char *name,
                      const char *s, size_t n, gh_apply_ev_t *ev, char *why,
                      size_t why_size) {
    size_t bad = 0;
    if (memchr(s, 0, n)) {
        snprintf(why, why_size,
                 "field %s holds a NUL character, which no text column can "
                 "store",
                 name);
        return -1;
    }
    if (!gh_utf8_valid(s, n, &bad)) {
        snprintf(why, why_size,
                 "field %s is not valid UTF-8 (byte %zu): connectors convert "
                 "department encodings, so the producer is not one",
                 name, bad);
        return -1;
    }
    if (names_resident(name) && a->resolver)
        ev->id_key = (int64_t)gh_resolver_id_key(a->resolver, s);
    const char *cls = sealed_as(name);
    if (a->crypt && cls && n) {
        char *sealed = gh_crypt_seal(a->crypt, cls, s, n);
        gh_buf_json_string(b, sealed);
        free(sealed);
    } else {
        char *copy = gh_xstrndup(s, n);
        gh_buf_json_string(b, copy);
        free(copy);
    }
    return 0;
}

int gh_apply_row_render(gh_apply_t *a, const char *entity, avro_value_t *row,
                        gh_apply_ev_t *ev, char *why, size_t why_size) {
    const struct gh_apply_rowfmt *f = rowfmt(a, entity);
    gh_buf_t b = {0};
    gh_buf_puts(&b, "{");
    size_t nf = 0;
    avro_value_get_size(row, &nf);
    int rc = 0, first = 1;
    for (size_t i = 0; i < nf && !rc; i++) {
        avro_value_t fv, v;
        const char *name = NULL;
        if (avro_value_get_by_index(row, i, &fv, &name) || !name) continue;
        if (gh_apply_is_unchanged(&fv)) {
            ev->partial = 1;
            if (names_resident(name)) ev->id_key = -1;
            continue;
        }
        v = fv;
        if (avro_value_get_type(&fv) == AVRO_UNION &&
            avro_value_get_current_branch(&fv, &v))
            continue;
        if (!first) gh_buf_puts(&b, ",");
        first = 0;
        gh_buf_json_string(&b, name);
        gh_buf_puts(&b, ":");
        int lt = (int)json_integer_value(json_object_get(f->logical, name));
        switch (avro_value_get_type(&v)) {
        case AVRO_STRING: {
            const char *s = "";
            size_t n = 0;
            avro_value_get_string(&v, &s, &n);
            rc = put_string(a, &b, name, s, n ? n - 1 : 0, ev, why, why_size);
            break;
        }
        case AVRO_INT32: {
            int32_t x = 0;
            avro_value_get_int(&v, &x);
            if (lt == LT_DATE) {
                char d[11];
                gh_date_format(x, d);
                gh_buf_printf(&b, "\"%s\"", d);
            } else {
                gh_buf_printf(&b, "%d", (int)x);
            }
            break;
        }
        case AVRO_INT64: {
            int64_t x = 0;
            avro_value_get_long(&v, &x);
            if (lt == LT_TS_MICROS) {
                /* As gh_avro_to_json writes timestamps. */
                char t[48];
                gh_micros_format(x, 'T', "Z", t);
                gh_buf_printf(&b, "\"%s\"", t);
            } else
                gh_buf_printf(&b, "%lld", (long long)x);
            break;
        }
        case AVRO_ENUM: {
            int sym = 0;
            avro_value_get_enum(&v, &sym);
            const char *s =
                avro_schema_enum_get(avro_value_get_schema(&v), sym);
            gh_buf_json_string(&b, s ? s : "");
            break;
        }
        case AVRO_BOOLEAN: {
            int x = 0;
            avro_value_get_boolean(&v, &x);
            gh_buf_puts(&b, x ? "true" : "false");
            break;
        }
        case AVRO_DOUBLE:
        case AVRO_FLOAT: {
            double x = 0;
            if (avro_value_get_type(&v) == AVRO_FLOAT) {
                float fl = 0;
                avro_value_get_float(&v, &fl);
                x = fl;
            } else {
                avro_value_get_double(&v, &x);
            }
            /* JSON has no NaN or infinity. */
            if (isfinite(x))
                gh_buf_printf(&b, "%.17g", x);
            else
                gh_buf_puts(&b, "null");
            break;
        }
        case AVRO_NULL:
            gh_buf_puts(&b, "null");
            break;
        default: {
            /* Not in any entity today (rows are flat); kept whole. */
            json_t *j = gh_avro_to_json(NULL, &v);
            char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
            gh_buf_puts(&b, t ? t : "null");
            free(t);
            json_decref(j);
        }
        }
    }
    gh_buf_puts(&b, "}");
    if (rc)
        gh_buf_free(&b);
    else
        ev->text = gh_buf_detach(&b);
    return rc;
}
