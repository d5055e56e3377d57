#include "view.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct gh_view {
    gh_serde_t *serde;
    const gh_schema_t *schema;
    char *topic;
    avro_value_t val;
};

gh_view_t *gh_view_new(gh_serde_t *serde, const gh_schema_t *view,
                       const char *topic, char *errstr, size_t errstr_size) {
    gh_view_t *v = gh_xcalloc(1, sizeof(*v));
    v->serde = serde;
    v->schema = view;
    v->topic = gh_xstrdup(topic);
    if (gh_schema_new_value(view, &v->val, errstr, errstr_size)) {
        free(v->topic);
        free(v);
        return NULL;
    }
    return v;
}

void gh_view_destroy(gh_view_t *v) {
    if (!v) return;
    avro_value_decref(&v->val);
    free(v->topic);
    free(v);
}

/* Selects the non-null branch of a nullable field (or null when text is
 * NULL or not a symbol of an enum branch); returns the value to fill, or
 * NULL when the field was set to null. */
static avro_value_t *branch(avro_value_t *fv, avro_value_t *v,
                            const char *text) {
    *v = *fv;
    if (avro_value_get_type(fv) != AVRO_UNION) return text ? v : NULL;
    avro_schema_t us = avro_value_get_schema(fv);
    int nb = (int)avro_schema_union_size(us), nullb = -1, valb = -1;
    for (int b = 0; b < nb; b++) {
        if (is_avro_null(avro_schema_union_branch(us, b)))
            nullb = b;
        else if (valb < 0)
            valb = b;
    }
    avro_schema_t vs = valb >= 0 ? avro_schema_union_branch(us, valb) : NULL;
    if (!text || valb < 0 ||
        (is_avro_enum(vs) && avro_schema_enum_get_by_name(vs, text) < 0)) {
        if (nullb >= 0) {
            avro_value_set_branch(fv, nullb, v);
            avro_value_set_null(v);
        }
        return NULL;
    }
    avro_value_set_branch(fv, valb, v);
    return v;
}

/* Sets a (possibly nullable) field from text, converting by its Avro type
 * (date from YYYY-MM-DD, enum by symbol, long from decimal). */
static void set_text(avro_value_t *rec, const char *name, const char *text) {
    avro_value_t fv, v;
    if (avro_value_get_by_name(rec, name, &fv, NULL)) return;
    if (!branch(&fv, &v, text)) return;
    switch (avro_value_get_type(&v)) {
    case AVRO_STRING:
        avro_value_set_string(&v, text);
        break;
    case AVRO_ENUM: {
        int sym = avro_schema_enum_get_by_name(avro_value_get_schema(&v), text);
        avro_value_set_enum(&v, sym < 0 ? 0 : sym);
        break;
    }
    case AVRO_INT32: {
        int64_t days;
        avro_value_set_int(&v, gh_date_parse_iso(text, &days, NULL) == 0
                                   ? (int32_t)days
                                   : atoi(text));
        break;
    }
    case AVRO_INT64:
        avro_value_set_long(&v, strtoll(text, NULL, 10));
        break;
    default:
        break;
    }
}

static void set_bool(avro_value_t *rec, const char *name, int x) {
    avro_value_t fv;
    if (!avro_value_get_by_name(rec, name, &fv, NULL))
        avro_value_set_boolean(&fv, x);
}

/* The attribute fields from person_attr's JSON (NULL: none known),
 * family-planning records included (the policy decides who sees them). A
 * current grid derived there (docs/grid.md, "Current grid") replaces the
 * golden one. */
static void set_attrs(avro_value_t *v, json_t *a) {
    static const char *const text[][2] = {
        {"registration_type", "registration_type"},
        {"registration_valid_until", "valid_until"},
        {"staff_role", "staff_role"},
        {"household_id", "household_id"},
        {"grid_basis", "grid_basis"},
        {"building_id", "building_id"},
        {"building_no", "building_no"},
        {"unit_no", "unit_no"},
        {"room_no", "room_no"}};
    for (size_t i = 0; i < sizeof(text) / sizeof(*text); i++)
        set_text(v, text[i][0],
                 json_string_value(json_object_get(a, text[i][1])));
    if (json_object_get(a, "grid_code"))
        set_text(v, "grid_code",
                 json_string_value(json_object_get(a, "grid_code")));
    set_bool(v, "party_member",
             json_is_true(json_object_get(a, "party_member")));
    set_bool(v, "volunteer", json_is_true(json_object_get(a, "volunteer")));
    avro_value_t arr, el;
    size_t i;
    json_t *r;
    if (!avro_value_get_by_name(v, "family_planning", &arr, NULL))
        json_array_foreach(json_object_get(a, "family_planning"), i, r) {
            avro_value_append(&arr, &el, NULL);
            set_text(&el, "record_type",
                     json_string_value(json_object_get(r, "record_type")));
            set_text(&el, "event_date",
                     json_string_value(json_object_get(r, "event_date")));
            set_text(&el, "department",
                     json_string_value(json_object_get(r, "department")));
            set_text(&el, "source_key",
                     json_string_value(json_object_get(r, "source_key")));
        }
}

/* Whether the current grid came from the residence's building: then the
 * registration that names the building is grid_code's provenance. */
static int grid_by_building(json_t *a) {
    const char *b = json_string_value(json_object_get(a, "grid_basis"));
    return b && !strcmp(b, "BUILDING") &&
           json_is_string(json_object_get(a, "grid_source"));
}

static void set_long(avro_value_t *rec, const char *name, int64_t x) {
    avro_value_t fv, v;
    if (avro_value_get_by_name(rec, name, &fv, NULL)) return;
    if (branch(&fv, &v, "")) avro_value_set_long(&v, x);
}

avro_value_t *gh_view_fill(gh_view_t *vw, const gh_view_person_t *p) {
    avro_value_t *v = &vw->val, arr, el, x;
    avro_value_reset(v);
    set_text(v, "person_id", p->person_id);
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++)
        set_text(v, gh_golden_field_name(f), p->value[f]);
    set_long(v, "version", p->version);
    set_long(v, "updated_at", p->updated_us);
    json_t *attrs = p->attrs ? json_loads(p->attrs, 0, NULL) : NULL;
    set_attrs(v, attrs);
    int by_building = grid_by_building(attrs);
    if (!avro_value_get_by_name(v, "sources", &arr, NULL))
        for (int i = 0; i < p->nsources; i++) {
            avro_value_append(&arr, &el, NULL);
            set_text(&el, "department", p->src_department[i]);
            set_text(&el, "source_key", p->src_key[i]);
        }
    if (!avro_value_get_by_name(v, "provenance", &arr, NULL))
        for (int i = 0; i < p->nprov; i++) {
            if (by_building && p->prov_field[i] &&
                !strcmp(p->prov_field[i], "grid_code"))
                continue;
            avro_value_append(&arr, &el, NULL);
            set_text(&el, "field", p->prov_field[i]);
            set_text(&el, "department", p->prov_department[i]);
            set_text(&el, "source_key", p->prov_key[i]);
            avro_value_t fv, bv;
            if (!avro_value_get_by_name(&el, "at", &fv, NULL) &&
                branch(&fv, &bv, p->prov_at[i] == INT64_MIN ? NULL : ""))
                avro_value_set_long(&bv, p->prov_at[i]);
        }
    if (by_building && !avro_value_get_by_name(v, "provenance", &arr, NULL)) {
        /* "department:source_key" of the residence registration */
        const char *src =
            json_string_value(json_object_get(attrs, "grid_source"));
        const char *colon = strchr(src, ':');
        char *dept = gh_xstrndup(src, colon ? (size_t)(colon - src) : 0);
        json_t *at = json_object_get(attrs, "grid_at");
        avro_value_t fv, bv;
        avro_value_append(&arr, &el, NULL);
        set_text(&el, "field", "grid_code");
        set_text(&el, "department", dept);
        set_text(&el, "source_key", colon ? colon + 1 : src);
        if (!avro_value_get_by_name(&el, "at", &fv, NULL) &&
            branch(&fv, &bv, json_is_integer(at) ? "" : NULL))
            avro_value_set_long(&bv, json_integer_value(at));
        free(dept);
    }
    json_decref(attrs);
    if (!avro_value_get_by_name(v, "absorbed_ids", &arr, NULL))
        for (int i = 0; i < p->nabsorbed; i++) {
            avro_value_append(&arr, &x, NULL);
            avro_value_set_string(&x, p->absorbed[i]);
        }
    return v;
}

gh_err_t gh_view_encode(gh_view_t *vw, const gh_view_person_t *p, gh_buf_t *out,
                        char *errstr, size_t errstr_size) {
    avro_value_t *v = gh_view_fill(vw, p);
    gh_buf_reset(out);
    return gh_serde_encode(vw->serde, vw->topic, vw->schema, v, out, errstr,
                           errstr_size);
}

/* Column c of row i as text, NULL for SQL NULL. */
static const char *col(PGresult *res, int i, int c) {
    return PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);
}

static int64_t icol(PGresult *res, int i, int c) {
    return PQgetisnull(res, i, c) ? 0
                                  : strtoll(PQgetvalue(res, i, c), NULL, 10);
}

avro_value_t *gh_view_fill_row(gh_view_t *vw, PGresult *res, int i) {
    gh_view_person_t v;
    memset(&v, 0, sizeof(v));
    v.person_id = PQgetvalue(res, i, 0);
    v.version = icol(res, i, 1);
    v.updated_us = icol(res, i, 2);
    int ac = PQfnumber(res, "attrs");
    if (ac >= 0) v.attrs = col(res, i, ac);
    for (int f = 0; f < GH_GOLDEN_NFIELDS; f++)
        v.value[f] = col(res, i, 3 + f);
    json_t *s = json_loads(PQgetvalue(res, i, 10), 0, NULL);
    json_t *pr = json_loads(PQgetvalue(res, i, 11), 0, NULL);
    json_t *ab = json_loads(PQgetvalue(res, i, 12), 0, NULL);
    size_t ns = json_array_size(s), np = json_array_size(pr),
           na = json_array_size(ab);
    const char **sd = gh_xcalloc(ns + 1, sizeof(char *));
    const char **sk = gh_xcalloc(ns + 1, sizeof(char *));
    const char **pf = gh_xcalloc(np + 1, sizeof(char *));
    const char **pd = gh_xcalloc(np + 1, sizeof(char *));
    const char **pk = gh_xcalloc(np + 1, sizeof(char *));
    int64_t *pa = gh_xcalloc(np + 1, sizeof(int64_t));
    const char **av = gh_xcalloc(na + 1, sizeof(char *));
    for (size_t k = 0; k < ns; k++) {
        json_t *o = json_array_get(s, k);
        sd[k] = json_string_value(json_object_get(o, "department"));
        sk[k] = json_string_value(json_object_get(o, "source_key"));
    }
    for (size_t k = 0; k < np; k++) {
        json_t *o = json_array_get(pr, k), *at = json_object_get(o, "at");
        pf[k] = json_string_value(json_object_get(o, "field"));
        pd[k] = json_string_value(json_object_get(o, "department"));
        pk[k] = json_string_value(json_object_get(o, "source_key"));
        pa[k] =
            json_is_integer(at) ? (int64_t)json_integer_value(at) : INT64_MIN;
    }
    for (size_t k = 0; k < na; k++)
        av[k] = json_string_value(json_array_get(ab, k));
    v.nsources = (int)ns;
    v.src_department = sd;
    v.src_key = sk;
    v.nprov = (int)np;
    v.prov_field = pf;
    v.prov_department = pd;
    v.prov_key = pk;
    v.prov_at = pa;
    v.nabsorbed = (int)na;
    v.absorbed = av;
    avro_value_t *out = gh_view_fill(vw, &v);
    free(sd);
    free(sk);
    free(pf);
    free(pd);
    free(pk);
    free(pa);
    free(av);
    json_decref(s);
    json_decref(pr);
    json_decref(ab);
    return out;
}
