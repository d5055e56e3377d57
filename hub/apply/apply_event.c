/* Reading a person change envelope into a gh_apply_ev_t, and the
 * normalized copies of its values. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_int.h"
#include "gridhub/idnum.h"
#include "gridhub/util.h"

const char *const gh_apply_fields[GH_AF_N] = {
    "id_number", "name",      "sex",           "birth_date", "phone",
    "address",   "grid_code", "household_key", "remark",     "updated_at"};

enum { V_NULL = 0, V_VALUE = 1, V_UNCHANGED = 2 };

/* Reads a scalar (possibly union) field as text into out. */
static int field_text(avro_value_t *rec, const char *name, gh_buf_t *out) {
    avro_value_t fv, v;
    gh_buf_reset(out);
    if (avro_value_get_by_name(rec, name, &fv, NULL)) return V_NULL;
    v = fv;
    if (avro_value_get_type(&fv) == AVRO_UNION)
        avro_value_get_current_branch(&fv, &v);
    switch (avro_value_get_type(&v)) {
    case AVRO_NULL:
        return V_NULL;
    case AVRO_ENUM: {
        avro_schema_t s = avro_value_get_schema(&v);
        int sym;
        avro_value_get_enum(&v, &sym);
        if (!strcmp(avro_schema_type_name(s), "Unchanged")) return V_UNCHANGED;
        gh_buf_puts(out, avro_schema_enum_get(s, sym));
        return V_VALUE;
    }
    case AVRO_STRING: {
        /* Initialized: avro's accessors leave them unset on error. */
        const char *p = "";
        size_t n = 0;
        avro_value_get_string(&v, &p, &n);
        gh_buf_append(out, p, n ? n - 1 : 0);
        return V_VALUE;
    }
    case AVRO_INT32: {
        int32_t i = 0;
        avro_value_get_int(&v, &i);
        gh_buf_printf(out, "%" PRId32, i);
        return V_VALUE;
    }
    case AVRO_INT64: {
        int64_t l = 0;
        avro_value_get_long(&v, &l);
        gh_buf_printf(out, "%" PRId64, l);
        return V_VALUE;
    }
    default:
        return V_NULL;
    }
}

static int64_t get_long(avro_value_t *rec, const char *name) {
    avro_value_t v;
    int64_t l = 0;
    if (!avro_value_get_by_name(rec, name, &v, NULL))
        avro_value_get_long(&v, &l);
    return l;
}

/* Avro timestamp-micros -> "YYYY-MM-DD HH:MM:SS.ffffff+00" (new string). */
static char *micros_to_iso(int64_t us) {
    char t[48];
    gh_micros_format(us, ' ', "+00", t);
    return gh_xstrdup(t);
}

void gh_apply_ev_free(gh_apply_ev_t *ev) {
    free(ev->dept);
    free(ev->table);
    free(ev->key);
    free(ev->text);
    for (int f = 0; f < GH_AF_N; f++)
        free(ev->val[f]);
    memset(ev, 0, sizeof(*ev));
}

gh_err_t gh_apply_ev_head(avro_value_t *env, gh_apply_ev_t *ev,
                          avro_value_t *row, char *errstr, size_t errstr_size) {
    memset(ev, 0, sizeof(*ev));
    gh_buf_t b = {0};
    avro_value_t src, opv, rowu;
    if (avro_value_get_by_name(env, "source", &src, NULL) ||
        avro_value_get_by_name(env, "op", &opv, NULL))
        return gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                         "not a change envelope");
    field_text(env, "op", &b);
    ev->op = b.data ? b.data[0] : '?';
    field_text(&src, "department", &b);
    ev->dept = gh_buf_detach(&b);
    field_text(&src, "table", &b);
    ev->table = gh_buf_detach(&b);
    ev->lsn = get_long(&src, "lsn");
    ev->seq = get_long(&src, "seq");
    gh_err_t e = GH_OK;
    if (ev->op == 't') goto out;
    if (!strchr("curd", ev->op)) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA, "unknown op '%c'",
                      ev->op);
        goto out;
    }
    /* The row this event is about: `after`, or `before` for a delete. */
    avro_value_get_by_name(env, ev->op == 'd' ? "before" : "after", &rowu,
                           NULL);
    if (avro_value_get_current_branch(&rowu, row) ||
        avro_value_get_type(row) != AVRO_RECORD) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                      "'%c' event without a row", ev->op);
        goto out;
    }
    if (field_text(row, "source_key", &b) != V_VALUE) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_SCHEMA,
                      "event without source_key");
        goto out;
    }
    ev->key = gh_buf_detach(&b);
out:
    gh_buf_free(&b);
    if (e) gh_apply_ev_free(ev);
    return e;
}

int gh_apply_is_unchanged(avro_value_t *fv) {
    avro_value_t v;
    if (avro_value_get_type(fv) != AVRO_UNION ||
        avro_value_get_current_branch(fv, &v) ||
        avro_value_get_type(&v) != AVRO_ENUM)
        return 0;
    return !strcmp(avro_schema_type_name(avro_value_get_schema(&v)),
                   "Unchanged");
}

gh_err_t gh_apply_ev_parse(avro_value_t *env, gh_apply_ev_t *ev, char *errstr,
                           size_t errstr_size) {
    avro_value_t row;
    gh_err_t e = gh_apply_ev_head(env, ev, &row, errstr, errstr_size);
    if (e || ev->op == 't' || ev->op == 'd') return e;
    gh_buf_t b = {0};
    /* Avro dates and timestamps arrive as numbers (negative before 1970)
     * and are formatted here, not guessed from their text later. */
    for (int f = 0; f < GH_AF_N; f++) {
        int k = field_text(&row, gh_apply_fields[f], &b);
        if (k == V_UNCHANGED)
            ev->unchanged[f] = 1;
        else if (k == V_VALUE && f == GH_AF_BIRTH) {
            char d[11];
            gh_date_format(strtoll(b.data, NULL, 10), d);
            ev->val[f] = gh_xstrdup(d);
        } else if (k == V_VALUE && f == GH_AF_UPDATED)
            ev->val[f] = micros_to_iso(strtoll(b.data, NULL, 10));
        else if (k == V_VALUE)
            ev->val[f] = gh_buf_detach(&b);
    }
    gh_buf_free(&b);
    return GH_OK;
}

const char *gh_apply_nz(const char *s) {
    return s && *s ? s : NULL;
}

void gh_apply_normalize(char *const *val, gh_apply_norm_t *n) {
    gh_idnum_status_t st = gh_idnum_normalize(val[GH_AF_ID_RAW], n->idn, NULL);
    n->valid = gh_idnum_is_valid(st) ? n->idn : NULL;
    n->status = gh_idnum_status_str(st);
    snprintf(n->code, sizeof(n->code), "%d", (int)st);
    const char *sex = val[GH_AF_SEX];
    n->sex = !sex                     ? "0"
             : !strcmp(sex, "MALE")   ? "1"
             : !strcmp(sex, "FEMALE") ? "2"
                                      : "0";
    gh_norm_name(val[GH_AF_NAME], n->name, sizeof(n->name));
    gh_norm_pinyin(n->name, n->pinyin, sizeof(n->pinyin));
    gh_norm_phone(val[GH_AF_PHONE], n->phone, sizeof(n->phone));
    gh_norm_address(val[GH_AF_ADDRESS], n->address, sizeof(n->address));
}
