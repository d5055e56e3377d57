/* Turning a department row into a canonical record: the transform
 * pipeline, type conversion, row filters. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping_int.h"

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

/* Tries each ';'-separated pattern in turn. */
static int apply_date_patterns(const char *patterns, const char *in,
                               char out[11]) {
    char pat[64];
    const char *p = patterns;
    while (*p) {
        size_t n = strcspn(p, ";");
        if (n < sizeof(pat)) {
            memcpy(pat, p, n);
            pat[n] = '\0';
            if (!apply_date_pattern(pat, in, out)) return 0;
        }
        p += n;
        if (*p) p++;
    }
    return -1;
}

/* Reads exactly `n` ASCII digits at *r (advancing it); -1 if fewer. */
static int digits(const char **r, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*r)[i])) return -1;
        v = v * 10 + ((*r)[i] - '0');
    }
    *r += n;
    return v;
}

/* PostgreSQL's ISO timestamp text: "YYYY-MM-DD[( |T)HH:MM:SS[.f...]]
 * [Z|(+|-)HH[[:]MM]]". Every field is read digit by digit, so a short or
 * malformed value stops at its own end. */
static int parse_timestamp(const char *s, int64_t *us) {
    int64_t days;
    const char *r;
    if (gh_date_parse_iso(s, &days, &r)) return -1;
    int hh = 0, mi = 0, ss = 0;
    int64_t frac = 0;
    if (*r == ' ' || *r == 'T') {
        r++;
        if ((hh = digits(&r, 2)) < 0 || *r != ':') return -1;
        r++;
        if ((mi = digits(&r, 2)) < 0 || *r != ':') return -1;
        r++;
        if ((ss = digits(&r, 2)) < 0) return -1;
        if (hh > 24 || mi > 59 || ss > 60 || (hh == 24 && (mi || ss)))
            return -1;
        if (*r == '.') {
            int nd = 0;
            r++;
            while (isdigit((unsigned char)*r)) {
                if (nd < 6) {
                    frac = frac * 10 + (*r - '0');
                    nd++;
                }
                r++;
            }
            if (nd == 0) return -1;
            while (nd++ < 6)
                frac *= 10;
        }
    }
    int64_t off = 0;
    if (*r == '+' || *r == '-') {
        int sign = *r++ == '-' ? -1 : 1, oh, om = 0;
        if ((oh = digits(&r, 2)) < 0 || oh > 15) return -1;
        if (*r == ':') r++;
        if (isdigit((unsigned char)*r) && (om = digits(&r, 2)) < 0) return -1;
        if (om > 59) return -1;
        off = sign * (oh * 3600 + om * 60);
    } else if (*r == 'Z') {
        r++;
    }
    if (*r) return -1;
    *us = ((days * 86400 + hh * 3600 + mi * 60 + ss) - off) * 1000000 + frac;
    return 0;
}

static const char *source_name(const field_t *f) {
    for (int k = 0; k < f->nterms; k++)
        if (!f->terms[k].literal) return f->terms[k].text;
    return "(literal)";
}

/* The value itself is not quoted: reasons go to logs and message headers,
 * and a value is as likely to be an ID number or a phone as a typo. The
 * dead letter's body carries the row for whoever may read it. */
static gh_err_t bad(char *errstr, size_t errstr_size, const gh_map_table_t *t,
                    const field_t *f, const char *why, const char *val) {
    return gh_seterr(errstr, errstr_size, GH_ERR_MAPPING,
                     "%s.%s column %s -> field %s: %s (a value of %zu bytes)",
                     t->schema, t->table, source_name(f), f->name, why,
                     val ? strlen(val) : 0);
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

/* Full-width forms U+FF01..U+FF5E become ASCII 0x21..0x7E and the
 * ideographic space U+3000 a space: departments type IDs, phones and codes
 * with either. In place (the result is never longer). */
static void fullwidth_to_halfwidth(gh_buf_t *b) {
    unsigned char *s = (unsigned char *)b->data, *o = s;
    size_t i = 0, n = b->len;
    while (i < n) {
        if (i + 2 < n && s[i] == 0xEF &&
            (s[i + 1] == 0xBC || s[i + 1] == 0xBD)) {
            unsigned cp = ((s[i] & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) |
                          (s[i + 2] & 0x3Fu);
            if (cp >= 0xFF01 && cp <= 0xFF5E) {
                *o++ = (unsigned char)(cp - 0xFF01 + 0x21);
                i += 3;
                continue;
            }
        }
        if (i + 2 < n && s[i] == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x80) {
            *o++ = ' ';
            i += 3;
            continue;
        }
        *o++ = s[i++];
    }
    *o = '\0';
    b->len = (size_t)(o - s);
}

/* Runs of ASCII whitespace become one space. In place. */
static void collapse_spaces(gh_buf_t *b) {
    char *s = b->data, *o = s;
    int prev_space = 0;
    for (char *p = s; *p; p++) {
        int sp = isspace((unsigned char)*p);
        if (sp && prev_space) continue;
        *o++ = sp ? ' ' : *p;
        prev_space = sp;
    }
    *o = '\0';
    b->len = (size_t)(o - s);
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
            if (apply_date_patterns(xf->arg, scratch->data, iso))
                return bad(errstr, errstr_size, t, f,
                           "does not match date pattern", scratch->data);
            gh_buf_reset(scratch);
            gh_buf_puts(scratch, iso);
            break;
        }
        case XF_CODE: {
            const char *to = gh__codes_lookup(xf->codes, scratch->data);
            if (!to) {
                char why[160];
                snprintf(why, sizeof(why), "unknown code in code table %s",
                         xf->codes->name);
                return bad(errstr, errstr_size, t, f, why, scratch->data);
            }
            gh_buf_reset(scratch);
            gh_buf_puts(scratch, to);
            break;
        }
        case XF_FULLWIDTH:
            fullwidth_to_halfwidth(scratch);
            break;
        case XF_COLLAPSE:
            collapse_spaces(scratch);
            break;
        }
        if (cur) cur = scratch->data;
    }
    *out = cur;
    return GH_OK;
}

gh_err_t gh_map_row(gh_map_table_t *t, const gh_pgo_value_t *vals, int nvals,
                    int key_only, avro_value_t *row, gh_buf_t *key,
                    char *errstr, size_t errstr_size) {
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
    /* The key first, so that a dead letter for any other field carries it. */
    for (int n = 0; n < t->nfields && !err; n++) {
        int i = n == 0 ? t->key_field : n <= t->key_field ? n - 1 : n;
        field_t *f = &t->fields[i];
        avro_value_t fv;
        avro_value_get_by_index(row, (size_t)f->index, &fv, NULL);
        /* The source value: the concatenation of the field's terms; NULL
         * if a column is NULL, UNCHANGED if a column was not sent. */
        int kind = GH_PGO_TEXT;
        gh_buf_reset(&raw);
        for (int k = 0; k < f->nterms && kind == GH_PGO_TEXT; k++) {
            const term_t *term = &f->terms[k];
            if (term->literal) {
                gh_buf_puts(&raw, term->text);
                continue;
            }
            const gh_pgo_value_t *pv =
                term->col_pos >= 0 && term->col_pos < nvals
                    ? &vals[term->col_pos]
                    : NULL;
            if (!pv || pv->kind == GH_PGO_NULL)
                kind = GH_PGO_NULL;
            else if (pv->kind == GH_PGO_UNCHANGED)
                kind = GH_PGO_UNCHANGED;
            else if (memchr(pv->data, '\0', pv->len))
                kind = -1;
            else
                gh_buf_append(&raw, pv->data, pv->len);
        }
        if (kind == -1) {
            err = bad(errstr, errstr_size, t, f, "value contains a NUL byte",
                      NULL);
            continue;
        }
        if (kind == GH_PGO_NULL && key_only && f->null_branch < 0)
            kind = GH_PGO_UNCHANGED;
        if (kind == GH_PGO_NULL) {
            if (i == t->key_field)
                err =
                    bad(errstr, errstr_size, t, f, "source key is NULL", NULL);
            else
                err = set_null(t, f, &fv, errstr, errstr_size);
            continue;
        }
        if (kind == GH_PGO_UNCHANGED) {
            avro_value_t v;
            if (f->unchanged_branch < 0) {
                err = bad(errstr, errstr_size, t, f,
                          "unchanged TOAST value in a field that cannot carry "
                          "UNCHANGED",
                          NULL);
                continue;
            }
            avro_value_set_branch(&fv, f->unchanged_branch, &v);
            avro_value_set_enum(&v, 0);
            continue;
        }
        if (!raw.data) gh_buf_puts(&raw, "");
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

int gh_map_row_matches(const gh_map_table_t *t, const gh_pgo_value_t *vals,
                       int nvals) {
    const filter_t *fl = &t->filter;
    if (fl->op == F_NONE) return 1;
    const gh_pgo_value_t *v =
        fl->col_pos >= 0 && fl->col_pos < nvals ? &vals[fl->col_pos] : NULL;
    int is_null = !v || v->kind == GH_PGO_NULL;
    if (fl->op == F_IS_NULL) return is_null;
    if (fl->op == F_NOT_NULL) return !is_null;
    if (is_null) return 0; /* as in SQL: NULL = 'x' and NULL != 'x' are false */
    if (v->kind == GH_PGO_UNCHANGED) return 1; /* unknowable: keep the row */
    int eq = 0;
    for (int i = 0; i < fl->nvalues && !eq; i++)
        eq = strlen(fl->values[i]) == v->len &&
             !memcmp(fl->values[i], v->data, v->len);
    return fl->op == F_NE ? !eq : eq;
}
