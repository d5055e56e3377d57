/*
 * Natural JSON rendering of Avro values, for the CLI, logs and the HTTP
 * views: what a person or a JSON consumer expects to read, not Avro's JSON
 * encoding (no {"type": value} wrappers around union branches).
 *
 * The value is walked together with the schema's qualified JSON because
 * Avro C drops logicalType, and dates and timestamps as bare integers are
 * useless to a reader.
 */
#include "gridhub/avro.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gridhub/util.h"

#define UNCHANGED_ENUM "gridhub.change.Unchanged"

static avro_schema_t deref(avro_schema_t s) {
    while (s && is_avro_link(s))
        s = avro_schema_link_target(s);
    return s;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    static const struct {
        unsigned char mask, lead;
        size_t len;
        uint32_t min;
    } forms[] = {{0xe0, 0xc0, 2, 0x80},
                 {0xf0, 0xe0, 3, 0x800},
                 {0xf8, 0xf0, 4, 0x10000}};
    if (p[0] < 0x80) return 1;
    size_t len = 0;
    uint32_t min = 0, cp = 0;
    for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
        if ((p[0] & forms[f].mask) == forms[f].lead) {
            len = forms[f].len;
            min = forms[f].min;
            cp = p[0] & (unsigned char)~forms[f].mask;
        }
    if (len == 0) return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* A JSON string of s; Avro strings are not checked for UTF-8 on decode, so
 * invalid sequences become U+FFFD rather than losing the whole value. */
static json_t *utf8_string(const char *s, size_t n) {
    json_t *j = json_stringn(s, n);
    if (j) return j;
    gh_buf_t b = {0};
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k) {
            gh_buf_append(&b, p + i, k);
            i += k;
        } else {
            gh_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    j = json_stringn(b.data ? b.data : "", b.len);
    gh_buf_free(&b);
    return j;
}

/* Bytes as the string whose code points are the byte values, as Avro's own
 * JSON encoding does (jansson then writes U+0080-U+00FF as UTF-8 or, with
 * JSON_ENSURE_ASCII, as \u00XX). */
static json_t *latin1_string(const void *buf, size_t n) {
    const unsigned char *p = buf;
    char *s = gh_xmalloc(2 * n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            s[o++] = (char)p[i];
        } else {
            s[o++] = (char)(0xc0 | (p[i] >> 6));
            s[o++] = (char)(0x80 | (p[i] & 0x3f));
        }
    }
    json_t *j = json_stringn(s, o);
    free(s);
    return j;
}

static json_t *render_date(int32_t days) {
    time_t t = (time_t)days * 86400;
    struct tm tm;
    char buf[64];
    if (!gmtime_r(&t, &tm)) return json_integer(days);
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday);
    return json_string(buf);
}

/* per_second is 1000000 for timestamp-micros, 1000 for timestamp-millis. */
static json_t *render_timestamp(int64_t v, int64_t per_second) {
    /* Floor division, so that instants before 1970 render correctly;
     * secs * per_second would overflow for the earliest ones. */
    int64_t secs = v / per_second, frac = v % per_second;
    if (frac < 0) {
        secs--;
        frac += per_second;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    char buf[96];
    if (!gmtime_r(&t, &tm)) return json_integer(v);
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%0*" PRId64 "Z",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, per_second == 1000 ? 3 : 6, frac);
    return json_string(buf);
}

/* JSON has no NaN or infinities; say what they were instead of failing. */
static json_t *render_real(double d) {
    if (isnan(d)) return json_string("NaN");
    if (isinf(d)) return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

static json_t *render(const gh_schema_t *s, const json_t *type,
                      avro_value_t *v) {
    const json_t *n = s && type ? gh_schema_resolve_json(s, type) : NULL;
    const char *logical =
        json_is_object(n) ? json_string_value(json_object_get(n, "logicalType"))
                          : NULL;
    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        return json_null();
    case AVRO_BOOLEAN: {
        int b = 0;
        avro_value_get_boolean(v, &b);
        return json_boolean(b);
    }
    case AVRO_INT32: {
        int32_t i = 0;
        avro_value_get_int(v, &i);
        if (logical && strcmp(logical, "date") == 0) return render_date(i);
        return json_integer(i);
    }
    case AVRO_INT64: {
        int64_t l = 0;
        avro_value_get_long(v, &l);
        if (logical && strcmp(logical, "timestamp-micros") == 0)
            return render_timestamp(l, 1000000);
        if (logical && strcmp(logical, "timestamp-millis") == 0)
            return render_timestamp(l, 1000);
        return json_integer(l);
    }
    case AVRO_FLOAT: {
        float f = 0;
        avro_value_get_float(v, &f);
        return render_real(f);
    }
    case AVRO_DOUBLE: {
        double d = 0;
        avro_value_get_double(v, &d);
        return render_real(d);
    }
    case AVRO_STRING: {
        const char *str = NULL;
        size_t size = 0;
        if (avro_value_get_string(v, &str, &size) || !str)
            return json_string("");
        return utf8_string(str, size ? size - 1 : 0);
    }
    case AVRO_BYTES: {
        const void *buf = NULL;
        size_t size = 0;
        avro_value_get_bytes(v, &buf, &size);
        return latin1_string(buf, size);
    }
    case AVRO_FIXED: {
        const void *buf = NULL;
        size_t size = 0;
        avro_value_get_fixed(v, &buf, &size);
        return latin1_string(buf, size);
    }
    case AVRO_ENUM: {
        int idx = 0;
        avro_schema_t es = deref(avro_value_get_schema(v));
        avro_value_get_enum(v, &idx);
        const char *ns = avro_schema_namespace(es);
        const char *name = avro_schema_type_name(es);
        char full[512];
        snprintf(full, sizeof(full), "%s%s%s", ns ? ns : "", ns ? "." : "",
                 name ? name : "");
        if (strcmp(full, UNCHANGED_ENUM) == 0)
            return json_string("__unchanged__");
        const char *sym = avro_schema_enum_get(es, idx);
        return sym ? json_string(sym) : json_integer(idx);
    }
    case AVRO_ARRAY: {
        json_t *a = json_array();
        size_t size = 0;
        const json_t *items = json_object_get(n, "items");
        avro_value_get_size(v, &size);
        for (size_t i = 0; i < size; i++) {
            avro_value_t e;
            if (avro_value_get_by_index(v, i, &e, NULL) == 0)
                json_array_append_new(a, render(s, items, &e));
        }
        return a;
    }
    case AVRO_MAP: {
        json_t *o = json_object();
        size_t size = 0;
        const json_t *values = json_object_get(n, "values");
        avro_value_get_size(v, &size);
        for (size_t i = 0; i < size; i++) {
            avro_value_t e;
            const char *key = NULL;
            if (avro_value_get_by_index(v, i, &e, &key) == 0 && key)
                json_object_set_new(o, key, render(s, values, &e));
        }
        return o;
    }
    case AVRO_RECORD: {
        json_t *o = json_object();
        size_t size = 0;
        const json_t *fields = json_object_get(n, "fields");
        avro_value_get_size(v, &size);
        for (size_t i = 0; i < size; i++) {
            avro_value_t f;
            const char *name = NULL;
            if (avro_value_get_by_index(v, i, &f, &name) == 0 && name) {
                const json_t *ft =
                    json_object_get(json_array_get(fields, i), "type");
                json_object_set_new(o, name, render(s, ft, &f));
            }
        }
        return o;
    }
    case AVRO_UNION: {
        int disc = -1;
        avro_value_t b;
        if (avro_value_get_discriminant(v, &disc) || disc < 0 ||
            avro_value_get_current_branch(v, &b))
            return json_null();
        return render(s, json_array_get(n, (size_t)disc), &b);
    }
    default:
        return json_null();
    }
}

json_t *gh_avro_to_json(const gh_schema_t *s, avro_value_t *v) {
    return render(s, s ? gh_schema_jsonv(s) : NULL, v);
}
