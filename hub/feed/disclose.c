/* What a subscriber record discloses, for the audit log: each field the
 * subscriber receives with a value, and the departments it came from (the
 * full record's provenance; for `sources`, the departments listed). */
#include <stdlib.h>
#include <string.h>

#include "feed_int.h"

/* 1 if the field holds something: not a null branch, not an empty array. */
static int has_value(avro_value_t *v) {
    avro_value_t cur = *v;
    if (avro_value_get_type(&cur) == AVRO_UNION) {
        avro_value_t br;
        if (avro_value_get_current_branch(&cur, &br)) return 0;
        cur = br;
    }
    avro_type_t t = avro_value_get_type(&cur);
    if (t == AVRO_NULL) return 0;
    if (t == AVRO_ARRAY) {
        size_t n = 0;
        avro_value_get_size(&cur, &n);
        return n > 0;
    }
    return 1;
}

static const char *str_field(avro_value_t *rec, const char *name) {
    avro_value_t f, br;
    if (avro_value_get_by_name(rec, name, &f, NULL)) return NULL;
    if (avro_value_get_type(&f) == AVRO_UNION) {
        if (avro_value_get_current_branch(&f, &br)) return NULL;
        f = br;
    }
    const char *s = NULL;
    size_t n;
    if (avro_value_get_type(&f) != AVRO_STRING ||
        avro_value_get_string(&f, &s, &n))
        return NULL;
    return s;
}

/* Adds the department of each item of the array field `name` of rec (items
 * are records with a `department`, and with `field` when keyed_by_field,
 * for provenance) to the JSON arrays of `out`. */
static void departments_of(avro_value_t *rec, const char *name,
                           const char *keyed, json_t *out) {
    avro_value_t arr;
    if (avro_value_get_by_name(rec, name, &arr, NULL) ||
        avro_value_get_type(&arr) != AVRO_ARRAY)
        return;
    size_t n = 0;
    avro_value_get_size(&arr, &n);
    for (size_t i = 0; i < n; i++) {
        avro_value_t it;
        if (avro_value_get_by_index(&arr, i, &it, NULL)) continue;
        const char *dep = str_field(&it, "department");
        const char *field = keyed ? str_field(&it, keyed) : name;
        if (!dep || !field) continue;
        json_t *a = json_object_get(out, field);
        if (!a) json_object_set_new(out, field, a = json_array());
        size_t k;
        json_t *x;
        int seen = 0;
        json_array_foreach(a, k, x) seen |= !strcmp(json_string_value(x), dep);
        if (!seen) json_array_append_new(a, json_string(dep));
    }
}

json_t *gh__feed_sources_of(avro_value_t *full) {
    json_t *by_field = json_object();
    departments_of(full, "provenance", "field", by_field);
    return by_field;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Built as text rather than through jansson: it runs for every record of
 * every subscriber, and building, copying and dumping a JSON tree for
 * each cost the hub more than the rest of the audit log together. */
char *gh__feed_disclosed(const gh_policy_plan_t *pl, avro_value_t *sent,
                         const json_t *by_field) {
    size_t n = 0;
    avro_value_get_size(sent, &n);
    const char **f = gh_xcalloc(n + 1, sizeof(*f));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        avro_value_t v;
        const char *name = NULL;
        if (!avro_value_get_by_index(sent, i, &v, &name) && name &&
            has_value(&v))
            f[m++] = name;
    }
    qsort(f, m, sizeof(*f), by_name);
    gh_buf_t b = {0};
    gh_buf_puts(&b, "{");
    for (size_t i = 0; i < m; i++) {
        const char *name = f[i];
        char as[32];
        const char *a = gh_policy_plan_action(pl, name, as, sizeof(as));
        if (i) gh_buf_puts(&b, ",");
        gh_buf_json_string(&b, name);
        gh_buf_puts(&b, ":{\"as\":");
        gh_buf_json_string(&b, a ? a : "clear");
        gh_buf_puts(&b, ",\"from\":[");
        /* sources and provenance come from the departments they list;
         * any other field from the full record's provenance for it. */
        json_t *own = NULL, *deps = NULL;
        if (!strcmp(name, "sources") || !strcmp(name, "provenance")) {
            own = json_object();
            departments_of(sent, name, NULL, own);
            deps = json_object_get(own, name);
        }
        if (!deps) deps = json_object_get(by_field, name);
        size_t k;
        json_t *d;
        json_array_foreach(deps, k, d) {
            if (k) gh_buf_puts(&b, ",");
            gh_buf_json_string(&b, json_string_value(d));
        }
        json_decref(own);
        gh_buf_puts(&b, "]}");
    }
    gh_buf_puts(&b, "}");
    free(f);
    return gh_buf_detach(&b);
}
