/* Row conditions of the policy (docs/policy.md, "Conditions"): a small
 * recursive-descent parser, type-checked against the entity at load, and
 * an evaluator with SQL's three-valued logic. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

typedef enum nkind {
    N_TRUE,
    N_FALSE,
    N_AND,
    N_OR,
    N_NOT,
    N_CMP,
    N_IN,
    N_BETWEEN,
    N_ISNULL,
    N_UNDER,
    N_OWN,
    N_HELD
} nkind_t;

typedef enum okind { O_FIELD, O_STR, O_NUM, O_AGE, O_YEAR } okind_t;
enum { T_TEXT = 1, T_NUM = 2 };
enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

typedef struct operand {
    okind_t k;
    int field;
    char *s;
    int64_t n;
    int type;
} operand_t;

struct pcond {
    nkind_t k;
    struct pcond *a, *b;
    int op, negate; /* N_CMP; N_ISNULL: negate = "is not null" */
    operand_t x;
    operand_t *lits; /* N_IN; N_BETWEEN: lits[0..1] */
    int nlits;
    char *s; /* N_UNDER, N_HELD */
    int uses_age;
    char *text; /* root only */
};

typedef struct parser {
    const char *src, *p;
    const pentity_t *e;
    char *err;
    size_t errsz;
    int failed;
    int uses_age;
    int depth;
} parser_t;

static void fail(parser_t *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(parser_t *ps, const char *fmt, ...) {
    if (ps->failed) return;
    ps->failed = 1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->errsz, "at column %d: %s", (int)(ps->p - ps->src) + 1,
             msg);
}

static void skip_ws(parser_t *ps) {
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

/* Reads an identifier into out (empty if none). */
static int ident(parser_t *ps, char *out, size_t size) {
    skip_ws(ps);
    const char *s = ps->p;
    if (!(isalpha((unsigned char)*s) || *s == '_')) {
        out[0] = '\0';
        return 0;
    }
    while (isalnum((unsigned char)*ps->p) || *ps->p == '_')
        ps->p++;
    size_t n = (size_t)(ps->p - s);
    if (n >= size) {
        ps->p = s;
        fail(ps, "name too long");
        out[0] = '\0';
        return 0;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return 1;
}

/* Consumes keyword kw if it comes next (as a whole word). */
static int keyword(parser_t *ps, const char *kw) {
    skip_ws(ps);
    size_t n = strlen(kw);
    if (strncmp(ps->p, kw, n) || isalnum((unsigned char)ps->p[n]) ||
        ps->p[n] == '_')
        return 0;
    ps->p += n;
    return 1;
}

static int punct(parser_t *ps, const char *t) {
    skip_ws(ps);
    size_t n = strlen(t);
    if (strncmp(ps->p, t, n)) return 0;
    ps->p += n;
    return 1;
}

static void expect(parser_t *ps, const char *t) {
    if (!punct(ps, t)) fail(ps, "expected '%s'", t);
}

/* A quoted string ('' is a quote); NULL if none comes next. */
static char *string_lit(parser_t *ps) {
    skip_ws(ps);
    if (*ps->p != '\'') return NULL;
    gh_buf_t b = {0};
    ps->p++;
    for (;;) {
        if (!*ps->p) {
            fail(ps, "unterminated string");
            gh_buf_free(&b);
            return NULL;
        }
        if (*ps->p == '\'') {
            if (ps->p[1] != '\'') break;
            ps->p++;
        }
        gh_buf_append(&b, ps->p, 1);
        ps->p++;
    }
    ps->p++;
    if (!b.data) gh_buf_puts(&b, "");
    return gh_buf_detach(&b);
}

static int number_lit(parser_t *ps, int64_t *out) {
    skip_ws(ps);
    const char *s = ps->p;
    if (*s == '-') s++;
    if (!isdigit((unsigned char)*s)) return 0;
    int64_t v = 0;
    int neg = *ps->p == '-';
    while (isdigit((unsigned char)*s)) {
        if (v > (INT64_MAX - 9) / 10) {
            fail(ps, "number too large");
            return 0;
        }
        v = v * 10 + (*s - '0');
        s++;
    }
    ps->p = s;
    *out = neg ? -v : v;
    return 1;
}

static int literal(parser_t *ps, operand_t *o) {
    memset(o, 0, sizeof(*o));
    char *s = string_lit(ps);
    if (s) {
        o->k = O_STR;
        o->s = s;
        o->type = T_TEXT;
        return 1;
    }
    if (ps->failed) return 0;
    if (number_lit(ps, &o->n)) {
        o->k = O_NUM;
        o->type = T_NUM;
        return 1;
    }
    return 0;
}

static int scalar_type(const pfield_t *f) {
    switch (f->kind) {
    case PK_STRING:
    case PK_ENUM:
    case PK_DATE:
        return T_TEXT;
    case PK_INT:
    case PK_TIMESTAMP:
    case PK_BOOL:
        return T_NUM;
    default:
        return 0;
    }
}

/* A field name of the entity usable in conditions; -1 after failing. */
static int field_ref(parser_t *ps, const char *name) {
    int i = gh__policy_field_find(ps->e, name);
    if (i < 0 || ps->e->f[i].parent >= 0) {
        fail(ps, "unknown field \"%s\"", name);
        return -1;
    }
    if (!scalar_type(&ps->e->f[i])) {
        fail(ps,
             "field \"%s\" is not a scalar (conditions compare strings, "
             "enums, dates and numbers)",
             name);
        return -1;
    }
    return i;
}

static int operand(parser_t *ps, operand_t *o) {
    if (literal(ps, o)) return 1;
    if (ps->failed) return 0;
    memset(o, 0, sizeof(*o));
    char name[128];
    const char *at = ps->p;
    if (!ident(ps, name, sizeof(name))) {
        fail(ps, "expected a field, a literal, age() or year()");
        return 0;
    }
    if (!strcmp(name, "age") || !strcmp(name, "year")) {
        skip_ws(ps);
        if (*ps->p == '(') {
            ps->p++;
            char arg[128];
            if (!ident(ps, arg, sizeof(arg))) {
                fail(ps, "expected a date field in %s()", name);
                return 0;
            }
            int f = field_ref(ps, arg);
            if (f < 0) return 0;
            if (ps->e->f[f].kind != PK_DATE) {
                fail(ps, "%s() takes a date field", name);
                return 0;
            }
            expect(ps, ")");
            o->k = name[0] == 'a' ? O_AGE : O_YEAR;
            o->field = f;
            o->type = T_NUM;
            if (o->k == O_AGE) ps->uses_age = 1;
            return !ps->failed;
        }
    }
    ps->p = at;
    ident(ps, name, sizeof(name));
    int f = field_ref(ps, name);
    if (f < 0) return 0;
    o->k = O_FIELD;
    o->field = f;
    o->type = scalar_type(&ps->e->f[f]);
    return 1;
}

static pcond_t *node(nkind_t k) {
    pcond_t *c = gh_xcalloc(1, sizeof(*c));
    c->k = k;
    return c;
}

static void operand_free(operand_t *o) {
    free(o->s);
}

void gh__cond_free(pcond_t *c) {
    if (!c) return;
    gh__cond_free(c->a);
    gh__cond_free(c->b);
    operand_free(&c->x);
    for (int i = 0; i < c->nlits; i++)
        operand_free(&c->lits[i]);
    free(c->lits);
    free(c->s);
    free(c->text);
    free(c);
}

static pcond_t *parse_or(parser_t *ps);

static void type_check(parser_t *ps, const operand_t *a, const operand_t *b) {
    if (a->type != b->type) fail(ps, "cannot compare text with a number");
}

static pcond_t *parse_primary(parser_t *ps) {
    if (++ps->depth > 64) {
        fail(ps, "nested too deeply");
        return NULL;
    }
    pcond_t *c = NULL;
    if (punct(ps, "(")) {
        c = parse_or(ps);
        expect(ps, ")");
    } else if (keyword(ps, "all")) {
        c = node(N_TRUE);
    } else if (keyword(ps, "none")) {
        c = node(N_FALSE);
    } else if (keyword(ps, "own_department")) {
        if (ps->e->sources < 0)
            fail(ps, "own_department needs a \"sources\" field of records "
                     "with a department");
        c = node(N_OWN);
    } else if (keyword(ps, "held_by")) {
        expect(ps, "(");
        c = node(N_HELD);
        c->s = string_lit(ps);
        if (!c->s) fail(ps, "expected a department name in quotes");
        expect(ps, ")");
        if (ps->e->sources < 0)
            fail(ps, "held_by() needs a \"sources\" field of records with a "
                     "department");
    } else {
        operand_t x;
        if (!operand(ps, &x)) {
            ps->depth--;
            return NULL;
        }
        c = node(N_CMP);
        c->x = x;
        static const char *const ops[] = {"<=", ">=", "!=", "=", "<", ">"};
        static const int opv[] = {OP_LE, OP_GE, OP_NE, OP_EQ, OP_LT, OP_GT};
        int found = 0;
        for (int i = 0; i < 6 && !found; i++)
            if (punct(ps, ops[i])) {
                c->op = opv[i];
                found = 1;
            }
        if (found) {
            c->lits = gh_xcalloc(1, sizeof(operand_t));
            c->nlits = 1;
            if (!operand(ps, &c->lits[0]))
                fail(ps, "expected a value after the operator");
            else
                type_check(ps, &c->x, &c->lits[0]);
        } else if (keyword(ps, "in")) {
            c->k = N_IN;
            expect(ps, "(");
            do {
                c->lits = gh_xrealloc(c->lits, (size_t)(c->nlits + 1) *
                                                   sizeof(operand_t));
                if (!literal(ps, &c->lits[c->nlits])) {
                    fail(ps, "expected a literal in the list");
                    break;
                }
                type_check(ps, &c->x, &c->lits[c->nlits++]);
            } while (!ps->failed && punct(ps, ","));
            expect(ps, ")");
        } else if (keyword(ps, "between")) {
            c->k = N_BETWEEN;
            c->lits = gh_xcalloc(2, sizeof(operand_t));
            if (!literal(ps, &c->lits[0])) {
                fail(ps, "expected a literal after 'between'");
            } else {
                c->nlits = 1;
                type_check(ps, &c->x, &c->lits[0]);
                if (!keyword(ps, "and"))
                    fail(ps, "expected 'and' in 'between ... and ...'");
                else if (!literal(ps, &c->lits[1]))
                    fail(ps, "expected a literal after 'and'");
                else {
                    c->nlits = 2;
                    type_check(ps, &c->x, &c->lits[1]);
                }
            }
        } else if (keyword(ps, "is")) {
            c->k = N_ISNULL;
            c->negate = keyword(ps, "not");
            if (!keyword(ps, "null")) fail(ps, "expected 'null'");
        } else if (keyword(ps, "under")) {
            c->k = N_UNDER;
            if (c->x.type != T_TEXT) fail(ps, "'under' takes a text field");
            c->s = string_lit(ps);
            if (!c->s && !ps->failed)
                fail(ps, "expected a grid code in quotes after 'under'");
        } else {
            fail(ps, "expected an operator (= != < <= > >= in between is "
                     "under)");
        }
    }
    ps->depth--;
    if (ps->failed) {
        gh__cond_free(c);
        return NULL;
    }
    return c;
}

static pcond_t *parse_not(parser_t *ps) {
    if (keyword(ps, "not")) {
        if (++ps->depth > 64) {
            fail(ps, "nested too deeply");
            return NULL;
        }
        pcond_t *a = parse_not(ps);
        ps->depth--;
        if (!a) return NULL;
        pcond_t *c = node(N_NOT);
        c->a = a;
        return c;
    }
    return parse_primary(ps);
}

static pcond_t *parse_and(parser_t *ps) {
    pcond_t *a = parse_not(ps);
    while (a && keyword(ps, "and")) {
        pcond_t *b = parse_not(ps);
        if (!b) {
            gh__cond_free(a);
            return NULL;
        }
        pcond_t *c = node(N_AND);
        c->a = a;
        c->b = b;
        a = c;
    }
    return a;
}

static pcond_t *parse_or(parser_t *ps) {
    pcond_t *a = parse_and(ps);
    while (a && keyword(ps, "or")) {
        pcond_t *b = parse_and(ps);
        if (!b) {
            gh__cond_free(a);
            return NULL;
        }
        pcond_t *c = node(N_OR);
        c->a = a;
        c->b = b;
        a = c;
    }
    return a;
}

pcond_t *gh__cond_parse(const char *text, const pentity_t *e, char *errstr,
                        size_t errstr_size) {
    parser_t ps = {text, text, e, errstr, errstr_size, 0, 0, 0};
    skip_ws(&ps);
    if (!*ps.p) {
        fail(&ps, "empty condition (write all or none)");
        return NULL;
    }
    pcond_t *c = parse_or(&ps);
    skip_ws(&ps);
    if (c && *ps.p) {
        fail(&ps, "unexpected \"%.20s\"", ps.p);
        gh__cond_free(c);
        return NULL;
    }
    if (!c) {
        if (!ps.failed) fail(&ps, "not a condition");
        return NULL;
    }
    c->uses_age = ps.uses_age;
    c->text = gh_xstrdup(text);
    return c;
}

int gh__cond_uses_age(const pcond_t *c) {
    return c && c->uses_age;
}
const char *gh__cond_text(const pcond_t *c) {
    return c ? c->text : "all";
}

/* ---- Evaluation ----------------------------------------------------------
 */

typedef struct ev {
    int isnull;
    const char *s;
    int64_t n;
} ev_t;

static int64_t civil_year(int64_t days, int *m, int *d) {
    char buf[11];
    gh_date_format(days, buf);
    *m = atoi(buf + 5);
    *d = atoi(buf + 8);
    return strtoll(buf, NULL, 10);
}

static ev_t value(const operand_t *o, const pctx_t *x) {
    ev_t r = {0, NULL, 0};
    switch (o->k) {
    case O_STR:
        r.s = o->s;
        break;
    case O_NUM:
        r.n = o->n;
        break;
    case O_FIELD: {
        const pval_t *v = &x->v[o->field];
        r.isnull = v->isnull;
        r.s = v->s;
        r.n = v->n;
        break;
    }
    case O_AGE:
    case O_YEAR: {
        const pval_t *v = &x->v[o->field];
        int64_t days;
        if (v->isnull || !v->s || gh_date_parse_iso(v->s, &days, NULL)) {
            r.isnull = 1;
            break;
        }
        int bm, bd, tm, td;
        int64_t by = civil_year(days, &bm, &bd);
        if (o->k == O_YEAR) {
            r.n = by;
            break;
        }
        int64_t ty = civil_year(x->today, &tm, &td);
        r.n = ty - by - ((tm < bm || (tm == bm && td < bd)) ? 1 : 0);
        break;
    }
    }
    return r;
}

static int compare(const ev_t *a, const ev_t *b, int type) {
    if (type == T_NUM) return a->n < b->n ? -1 : a->n > b->n;
    int c = strcmp(a->s ? a->s : "", b->s ? b->s : "");
    return c < 0 ? -1 : c > 0;
}

static int not3(int v) {
    return v == PC_UNKNOWN ? v : !v;
}

int gh__cond_eval(const pcond_t *c, const pctx_t *x) {
    switch (c->k) {
    case N_TRUE:
        return PC_TRUE;
    case N_FALSE:
        return PC_FALSE;
    case N_NOT:
        return not3(gh__cond_eval(c->a, x));
    case N_AND: {
        int a = gh__cond_eval(c->a, x);
        if (a == PC_FALSE) return PC_FALSE;
        int b = gh__cond_eval(c->b, x);
        if (b == PC_FALSE) return PC_FALSE;
        return a == PC_TRUE && b == PC_TRUE ? PC_TRUE : PC_UNKNOWN;
    }
    case N_OR: {
        int a = gh__cond_eval(c->a, x);
        if (a == PC_TRUE) return PC_TRUE;
        int b = gh__cond_eval(c->b, x);
        if (b == PC_TRUE) return PC_TRUE;
        return a == PC_FALSE && b == PC_FALSE ? PC_FALSE : PC_UNKNOWN;
    }
    case N_OWN:
    case N_HELD: {
        const char *d = c->k == N_OWN ? x->own : c->s;
        for (int i = 0; d && i < x->ndepts; i++)
            if (x->depts[i] && !strcmp(x->depts[i], d)) return PC_TRUE;
        return PC_FALSE;
    }
    case N_ISNULL: {
        ev_t a = value(&c->x, x);
        return c->negate ? !a.isnull : a.isnull;
    }
    case N_UNDER: {
        ev_t a = value(&c->x, x);
        if (a.isnull) return PC_UNKNOWN;
        size_t n = strlen(c->s);
        return !strncmp(a.s, c->s, n) && (a.s[n] == '\0' || a.s[n] == '-');
    }
    case N_CMP: {
        ev_t a = value(&c->x, x), b = value(&c->lits[0], x);
        if (a.isnull || b.isnull) return PC_UNKNOWN;
        int r = compare(&a, &b, c->x.type);
        switch (c->op) {
        case OP_EQ:
            return r == 0;
        case OP_NE:
            return r != 0;
        case OP_LT:
            return r < 0;
        case OP_LE:
            return r <= 0;
        case OP_GT:
            return r > 0;
        default:
            return r >= 0;
        }
    }
    case N_IN: {
        ev_t a = value(&c->x, x);
        if (a.isnull) return PC_UNKNOWN;
        for (int i = 0; i < c->nlits; i++) {
            ev_t b = value(&c->lits[i], x);
            if (!compare(&a, &b, c->x.type)) return PC_TRUE;
        }
        return PC_FALSE;
    }
    case N_BETWEEN: {
        ev_t a = value(&c->x, x);
        if (a.isnull) return PC_UNKNOWN;
        ev_t lo = value(&c->lits[0], x), hi = value(&c->lits[1], x);
        return compare(&a, &lo, c->x.type) >= 0 &&
               compare(&a, &hi, c->x.type) <= 0;
    }
    }
    return PC_UNKNOWN;
}

static int operand_const(const operand_t *o) {
    return o->k == O_STR || o->k == O_NUM;
}

/* 1 if the condition's value depends on no record and no subscriber: it
 * names no field and no department. */
static int is_const(const pcond_t *c) {
    switch (c->k) {
    case N_TRUE:
    case N_FALSE:
        return 1;
    case N_NOT:
        return is_const(c->a);
    case N_AND:
    case N_OR:
        return is_const(c->a) && is_const(c->b);
    case N_OWN:
    case N_HELD:
    case N_UNDER:
        return 0;
    case N_CMP:
    case N_IN:
    case N_BETWEEN:
    case N_ISNULL:
        break;
    }
    if (!operand_const(&c->x)) return 0;
    for (int i = 0; i < c->nlits; i++)
        if (!operand_const(&c->lits[i])) return 0;
    return 1;
}

/* `all`, and any condition true whatever the record and subscriber
 * (`1 = 1`): a field denied by it is left out of the schema, so that the
 * subscriber cannot even learn that it exists (docs/policy.md). */
int gh__cond_is_all(const pcond_t *c) {
    if (!c || c->k == N_TRUE) return 1;
    if (!is_const(c)) return 0;
    pctx_t none;
    memset(&none, 0, sizeof(none));
    return gh__cond_eval(c, &none) == PC_TRUE;
}
