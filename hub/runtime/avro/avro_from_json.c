/*
 * Avro values from natural JSON (gh_avro_from_json): the hub derives its
 * grid and event views in SQL, as jsonb, and encodes them for subscribers
 * with the view schemas. The walk follows the Avro C schema; the
 * schema's JSON is not needed because logical types only change how a
 * date may be written (a string), which the int branch accepts anyway.
 */
#include "gridhub/avro.h"

#include <stdio.h>
#include <string.h>

#include "gridhub/util.h"

static avro_schema_t deref(avro_schema_t s) {
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

static gh_err_t bad(char *errstr, size_t errstr_size, const char *path,
                    const char *want) {
    return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                     "view value: %s must be %s", path[0] ? path : "(record)",
                     want);
}

static gh_err_t fill(avro_schema_t sc, const json_t *j, avro_value_t *v,
                     const char *path, char *errstr, size_t errstr_size);

static gh_err_t fill_record(avro_schema_t sc, const json_t *j, avro_value_t *v,
                            const char *path, char *errstr,
                            size_t errstr_size) {
    if (!json_is_object(j)) return bad(errstr, errstr_size, path, "an object");
    size_t n = avro_schema_record_size(sc);
    for (size_t i = 0; i < n; i++) {
        const char *name = avro_schema_record_field_name(sc, (int)i);
        avro_value_t fv;
        if (avro_value_get_by_index(v, i, &fv, NULL))
            return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                             "view value: %s: %s", path, avro_strerror());
        char sub[512];
        snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", name);
        const json_t *m = json_object_get(j, name);
        avro_schema_t fs = deref(avro_schema_record_field_get_by_index(sc, i));
        /* A missing array is empty, as the view schemas' defaults say. */
        if (!m && avro_typeof(fs) == AVRO_ARRAY) {
            avro_value_reset(&fv);
            continue;
        }
        gh_err_t e =
            fill(fs, m ? m : json_null(), &fv, sub, errstr, errstr_size);
        if (e) return e;
    }
    return GH_OK;
}

static gh_err_t fill_union(avro_schema_t sc, const json_t *j, avro_value_t *v,
                           const char *path, char *errstr, size_t errstr_size) {
    int nb = (int)avro_schema_union_size(sc), nullb = -1, valb = -1;
    for (int b = 0; b < nb; b++) {
        if (is_avro_null(avro_schema_union_branch(sc, b)))
            nullb = b;
        else if (valb < 0)
            valb = b;
    }
    avro_value_t bv;
    if (json_is_null(j)) {
        if (nullb < 0) return bad(errstr, errstr_size, path, "given");
        avro_value_set_branch(v, nullb, &bv);
        return avro_value_set_null(&bv) ? GH_ERR_SCHEMA : GH_OK;
    }
    if (valb < 0) return bad(errstr, errstr_size, path, "null");
    avro_value_set_branch(v, valb, &bv);
    return fill(deref(avro_schema_union_branch(sc, valb)), j, &bv, path, errstr,
                errstr_size);
}

static gh_err_t fill(avro_schema_t sc, const json_t *j, avro_value_t *v,
                     const char *path, char *errstr, size_t errstr_size) {
    switch (avro_typeof(sc)) {
    case AVRO_RECORD:
        return fill_record(sc, j, v, path, errstr, errstr_size);
    case AVRO_UNION:
        return fill_union(sc, j, v, path, errstr, errstr_size);
    case AVRO_NULL:
        if (!json_is_null(j)) return bad(errstr, errstr_size, path, "null");
        avro_value_set_null(v);
        return GH_OK;
    case AVRO_STRING:
        if (!json_is_string(j)) return bad(errstr, errstr_size, path, "text");
        avro_value_set_string_len(v, json_string_value(j),
                                  json_string_length(j) + 1);
        return GH_OK;
    case AVRO_BOOLEAN:
        if (!json_is_boolean(j))
            return bad(errstr, errstr_size, path, "true or false");
        avro_value_set_boolean(v, json_is_true(j));
        return GH_OK;
    case AVRO_INT32: {
        int64_t days;
        if (json_is_string(j) &&
            !gh_date_parse_iso(json_string_value(j), &days, NULL)) {
            avro_value_set_int(v, (int32_t)days);
            return GH_OK;
        }
        if (!json_is_integer(j) || json_integer_value(j) > INT32_MAX ||
            json_integer_value(j) < INT32_MIN)
            return bad(errstr, errstr_size, path, "a 32-bit integer or date");
        avro_value_set_int(v, (int32_t)json_integer_value(j));
        return GH_OK;
    }
    case AVRO_INT64:
        if (!json_is_integer(j))
            return bad(errstr, errstr_size, path, "an integer");
        avro_value_set_long(v, (int64_t)json_integer_value(j));
        return GH_OK;
    case AVRO_DOUBLE:
    case AVRO_FLOAT:
        if (!json_is_number(j))
            return bad(errstr, errstr_size, path, "a number");
        if (avro_typeof(sc) == AVRO_DOUBLE)
            avro_value_set_double(v, json_number_value(j));
        else
            avro_value_set_float(v, (float)json_number_value(j));
        return GH_OK;
    case AVRO_ENUM: {
        int sym = json_is_string(j)
                      ? avro_schema_enum_get_by_name(sc, json_string_value(j))
                      : -1;
        if (sym < 0)
            return bad(errstr, errstr_size, path, "a symbol of its enum");
        avro_value_set_enum(v, sym);
        return GH_OK;
    }
    case AVRO_ARRAY: {
        if (!json_is_array(j))
            return bad(errstr, errstr_size, path, "an array");
        avro_value_reset(v);
        avro_schema_t it = deref(avro_schema_array_items(sc));
        size_t i;
        const json_t *x;
        json_array_foreach(j, i, x) {
            avro_value_t ev;
            avro_value_append(v, &ev, NULL);
            char sub[512];
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            gh_err_t e = fill(it, x, &ev, sub, errstr, errstr_size);
            if (e) return e;
        }
        return GH_OK;
    }
    default:
        return bad(errstr, errstr_size, path,
                   "of a type views do not use (maps, bytes, fixed)");
    }
}

gh_err_t gh_avro_from_json(const gh_schema_t *s, const json_t *j,
                           avro_value_t *out, char *errstr,
                           size_t errstr_size) {
    return fill(deref(gh_schema_avro(s)), j, out, "", errstr, errstr_size);
}
