/* A record as one subscriber receives it: the full view value carried
 * field by field into the plan's schema, each field as its action says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"

/* The branch of a union schema matching a value of schema `want` (same
 * type, and same name for named types); -1 if none. */
static int match_branch(avro_schema_t u, avro_schema_t want) {
    size_t n = avro_schema_union_size(u);
    for (size_t i = 0; i < n; i++) {
        avro_schema_t b = avro_schema_union_branch(u, (int)i);
        if (avro_typeof(b) != avro_typeof(want)) continue;
        if (is_avro_named_type(b) &&
            strcmp(avro_schema_name(b), avro_schema_name(want)))
            continue;
        return (int)i;
    }
    return -1;
}

static int null_branch(avro_schema_t u) {
    size_t n = avro_schema_union_size(u);
    for (size_t i = 0; i < n; i++)
        if (is_avro_null(avro_schema_union_branch(u, (int)i))) return (int)i;
    return -1;
}

/* Sets dst (a union or not) to null; -1 if it cannot be null. */
static int set_null(avro_value_t *dst) {
    if (avro_value_get_type(dst) != AVRO_UNION)
        return avro_value_get_type(dst) == AVRO_NULL ? avro_value_set_null(dst)
                                                     : -1;
    avro_value_t b;
    int nb = null_branch(avro_value_get_schema(dst));
    if (nb < 0 || avro_value_set_branch(dst, nb, &b)) return -1;
    return avro_value_set_null(&b);
}

/* The value to fill in dst for a non-null value of type `t`: dst itself,
 * or its union branch of that type. -1 if there is none. */
static int target(avro_value_t *dst, avro_type_t t, avro_schema_t named,
                  avro_value_t *out) {
    if (avro_value_get_type(dst) != AVRO_UNION) {
        *out = *dst;
        return 0;
    }
    avro_schema_t u = avro_value_get_schema(dst);
    int b = -1;
    if (named) {
        b = match_branch(u, named);
    } else {
        size_t n = avro_schema_union_size(u);
        for (size_t i = 0; i < n && b < 0; i++)
            if (avro_typeof(avro_schema_union_branch(u, (int)i)) == t)
                b = (int)i;
    }
    return b < 0 ? -1 : avro_value_set_branch(dst, b, out);
}

/* Deep copy across schemas that agree on what is kept (records by field
 * name: the destination's fields only). */
static int copy_val(avro_value_t *src, avro_value_t *dst) {
    avro_value_t s, d;
    if (!gh__policy_unwrap(src, &s)) return set_null(dst);
    avro_type_t t = avro_value_get_type(&s);
    avro_schema_t ss = avro_value_get_schema(&s);
    if (target(dst, t, is_avro_named_type(ss) ? ss : NULL, &d)) return -1;
    switch (t) {
    case AVRO_STRING: {
        const char *x = NULL;
        size_t n = 0;
        avro_value_get_string(&s, &x, &n);
        return avro_value_set_string_len(&d, x ? x : "", x ? n : 1);
    }
    case AVRO_BYTES: {
        const void *x = NULL;
        size_t n = 0;
        avro_value_get_bytes(&s, &x, &n);
        return avro_value_set_bytes(&d, (void *)x, n);
    }
    case AVRO_INT32: {
        int32_t x = 0;
        avro_value_get_int(&s, &x);
        return avro_value_set_int(&d, x);
    }
    case AVRO_INT64: {
        int64_t x = 0;
        avro_value_get_long(&s, &x);
        return avro_value_set_long(&d, x);
    }
    case AVRO_FLOAT: {
        float x = 0;
        avro_value_get_float(&s, &x);
        return avro_value_set_float(&d, x);
    }
    case AVRO_DOUBLE: {
        double x = 0;
        avro_value_get_double(&s, &x);
        return avro_value_set_double(&d, x);
    }
    case AVRO_BOOLEAN: {
        int x = 0;
        avro_value_get_boolean(&s, &x);
        return avro_value_set_boolean(&d, x);
    }
    case AVRO_NULL:
        return avro_value_set_null(&d);
    case AVRO_ENUM: {
        int sym = 0;
        avro_value_get_enum(&s, &sym);
        const char *name = avro_schema_enum_get(ss, sym);
        int ds =
            name ? avro_schema_enum_get_by_name(avro_value_get_schema(&d), name)
                 : -1;
        return ds < 0 ? -1 : avro_value_set_enum(&d, ds);
    }
    case AVRO_FIXED: {
        const void *x = NULL;
        size_t n = 0;
        avro_value_get_fixed(&s, &x, &n);
        return avro_value_set_fixed(&d, (void *)x, n);
    }
    case AVRO_RECORD: {
        size_t n = 0;
        avro_value_get_size(&d, &n);
        avro_schema_t ds = avro_value_get_schema(&d);
        for (size_t i = 0; i < n; i++) {
            avro_value_t sf, df;
            const char *name = avro_schema_record_field_name(ds, (int)i);
            if (avro_value_get_by_index(&d, i, &df, NULL) ||
                avro_value_get_by_name(&s, name, &sf, NULL) ||
                copy_val(&sf, &df))
                return -1;
        }
        return 0;
    }
    case AVRO_ARRAY: {
        size_t n = 0;
        avro_value_get_size(&s, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_t se, de;
            if (avro_value_get_by_index(&s, i, &se, NULL) ||
                avro_value_append(&d, &de, NULL) || copy_val(&se, &de))
                return -1;
        }
        return 0;
    }
    case AVRO_MAP: {
        size_t n = 0;
        avro_value_get_size(&s, &n);
        for (size_t i = 0; i < n; i++) {
            avro_value_t se, de;
            const char *k = NULL;
            if (avro_value_get_by_index(&s, i, &se, &k) ||
                avro_value_add(&d, k, &de, NULL, NULL) || copy_val(&se, &de))
                return -1;
        }
        return 0;
    }
    default:
        return -1;
    }
}

/* first/last code points kept, the rest '*'; all '*' if too short. */
static void mask(const char *s, size_t n, int first, int last, gh_buf_t *out) {
    size_t cps = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = gh_utf8_next((const unsigned char *)s + i, n - i, &cp);
        i += l > 0 ? (size_t)l : 1;
        cps++;
    }
    int all = cps <= (size_t)first + (size_t)last;
    size_t k = 0;
    for (size_t i = 0; i < n; k++) {
        uint32_t cp;
        int l = gh_utf8_next((const unsigned char *)s + i, n - i, &cp);
        size_t len = l > 0 ? (size_t)l : 1;
        if (!all && (k < (size_t)first || k >= cps - (size_t)last))
            gh_buf_append(out, s + i, len);
        else
            gh_buf_puts(out, "*");
        i += len;
    }
    if (!out->data) gh_buf_puts(out, "");
}

/* The keyed hash of one string value of field f. */
static void hash_one(const gh_policy_plan_t *pl, const pfield_t *f,
                     const char *v, char out[33]) {
    if (f->is_key || f->ref) {
        gh__plan_ref_hash(pl, f->is_key ? pl->e->name : f->ref, v, out);
        return;
    }
    gh_buf_t b = {0};
    gh_buf_printf(&b, "%s.%s:%s", pl->e->name, f->name, v);
    gh__plan_hmac_hex(pl, b.data, b.len, out);
    gh_buf_free(&b);
}

static int set_string(avro_value_t *dst, const char *s) {
    avro_value_t d;
    if (target(dst, AVRO_STRING, NULL, &d)) return -1;
    return avro_value_set_string(&d, s);
}

static int set_year(avro_value_t *src, pkind_t kind, avro_value_t *dst) {
    avro_value_t s, d;
    if (!gh__policy_unwrap(src, &s)) return set_null(dst);
    int64_t days;
    if (kind == PK_DATE) {
        int32_t x = 0;
        avro_value_get_int(&s, &x);
        days = x;
    } else {
        int64_t us = 0;
        avro_value_get_long(&s, &us);
        days = us >= 0 ? us / 86400000000LL : -((-us - 1) / 86400000000LL) - 1;
    }
    char buf[11];
    gh_date_format(days, buf);
    if (target(dst, AVRO_INT32, NULL, &d)) return -1;
    return avro_value_set_int(&d, (int32_t)strtol(buf, NULL, 10));
}

static int apply_field(gh_policy_plan_t *pl, int i, avro_value_t *src,
                       avro_value_t *dst);

/* An array of records: each element's kept fields, by their own actions;
 * `own` keeps the subscriber's department's elements only. */
static int apply_records(gh_policy_plan_t *pl, int i, pact_t a,
                         avro_value_t *src, avro_value_t *dst) {
    const pfield_t *f = &pl->e->f[i];
    avro_value_t s, d;
    if (!gh__policy_unwrap(src, &s)) return set_null(dst);
    if (target(dst, AVRO_ARRAY, NULL, &d)) return -1;
    const char *own = pl->p->subs[pl->sub].dept;
    size_t n = 0;
    avro_value_get_size(&s, &n);
    for (size_t e = 0; e < n; e++) {
        avro_value_t se, de;
        if (avro_value_get_by_index(&s, e, &se, NULL)) return -1;
        if (a.k == PA_OWN) {
            avro_value_t dv;
            const char *dept = NULL;
            size_t dl = 0;
            if (avro_value_get_by_name(&se, "department", &dv, NULL) ||
                avro_value_get_string(&dv, &dept, &dl) || strcmp(dept, own))
                continue;
        }
        if (avro_value_append(&d, &de, NULL)) return -1;
        for (int k = f->sub_first; k < f->sub_first + f->nsub; k++) {
            if (!pl->f[k].in_schema) continue;
            avro_value_t sf, df;
            if (avro_value_get_by_name(&se, pl->e->f[k].leaf, &sf, NULL) ||
                avro_value_get_by_name(&de, pl->e->f[k].leaf, &df, NULL) ||
                apply_field(pl, k, &sf, &df))
                return -1;
        }
    }
    return 0;
}

static int apply_field(gh_policy_plan_t *pl, int i, avro_value_t *src,
                       avro_value_t *dst) {
    const pfield_t *f = &pl->e->f[i];
    pact_t a = pl->cur[i];
    avro_value_t s;
    switch (a.k) {
    case PA_DROP:
        return set_null(dst);
    case PA_CLEAR:
    case PA_INHERIT:
    case PA_OWN:
        if (f->kind == PK_ARRAY_RECORD)
            return apply_records(pl, i, a, src, dst);
        return copy_val(src, dst);
    case PA_YEAR:
        return set_year(src, f->kind, dst);
    case PA_MASK:
    case PA_HASH:
        break;
    }
    if (!gh__policy_unwrap(src, &s)) return set_null(dst);
    if (f->kind == PK_ARRAY_STRING) {
        avro_value_t d;
        if (target(dst, AVRO_ARRAY, NULL, &d)) return -1;
        size_t n = 0;
        avro_value_get_size(&s, &n);
        for (size_t e = 0; e < n; e++) {
            avro_value_t se, de;
            const char *x = NULL;
            size_t xl = 0;
            char h[33];
            if (avro_value_get_by_index(&s, e, &se, NULL) ||
                avro_value_get_string(&se, &x, &xl) ||
                avro_value_append(&d, &de, NULL))
                return -1;
            hash_one(pl, f, x, h);
            if (avro_value_set_string(&de, h)) return -1;
        }
        return 0;
    }
    const char *x = NULL;
    size_t xl = 0;
    if (avro_value_get_string(&s, &x, &xl)) return -1;
    if (a.k == PA_HASH) {
        char h[33];
        hash_one(pl, f, x, h);
        return set_string(dst, h);
    }
    gh_buf_t b = {0};
    mask(x, xl ? xl - 1 : 0, a.first, a.last, &b);
    int r = set_string(dst, b.data);
    gh_buf_free(&b);
    return r;
}

gh_err_t gh_policy_plan_apply(gh_policy_plan_t *pl, const gh_policy_rec_t *r,
                              avro_value_t **out, char *errstr,
                              size_t errstr_size) {
    pctx_t x;
    gh__policy_ctx(r, pl->sub, pl->today, &x);
    for (int i = 0; i < pl->e->nf; i++) {
        pl->cur[i] = gh__plan_decide(pl, i, &x, NULL);
        /* A sub-field follows its array unless it has rules of its own. */
        int parent = pl->e->f[i].parent;
        if (parent >= 0 && pl->cur[parent].k == PA_DROP) pl->cur[i].k = PA_DROP;
        if (pl->cur[i].k == PA_INHERIT) pl->cur[i].k = PA_CLEAR;
    }
    avro_value_reset(&pl->out);
    for (int i = 0; i < pl->e->ntop; i++) {
        if (!pl->f[i].in_schema) continue;
        avro_value_t sf, df;
        if (avro_value_get_by_index(r->full, (size_t)i, &sf, NULL) ||
            avro_value_get_by_name(&pl->out, pl->e->f[i].leaf, &df, NULL) ||
            apply_field(pl, i, &sf, &df))
            return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                             "%s for subscriber %s: cannot carry field %s "
                             "into its schema",
                             pl->e->name, pl->p->subs[pl->sub].name,
                             pl->e->f[i].name);
    }
    *out = &pl->out;
    return GH_OK;
}

const char *gh_policy_plan_action(const gh_policy_plan_t *pl, const char *field,
                                  char *out, size_t outsz) {
    int i = gh__policy_field_find(pl->e, field);
    if (i < 0 || i >= pl->e->ntop || !pl->f[i].in_schema) return NULL;
    pact_t a = pl->cur[i];
    switch (a.k) {
    case PA_CLEAR:
        snprintf(out, outsz, "clear");
        break;
    case PA_HASH:
        snprintf(out, outsz, "hash");
        break;
    case PA_YEAR:
        snprintf(out, outsz, "year");
        break;
    case PA_OWN:
        snprintf(out, outsz, "own");
        break;
    case PA_MASK:
        snprintf(out, outsz, "mask %d %d", a.first, a.last);
        break;
    default:
        return NULL;
    }
    return out;
}
