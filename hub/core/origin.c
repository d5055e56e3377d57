#include "origin.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/pg.h"
#include "gridhub/util.h"

typedef struct src {
    char *topic, *dept, *entity;
    const gh_schema_t *envelope;
} src_t;

typedef struct pos {
    char *dept;
    int64_t lsn; /* highest accepted; 0: none yet */
} pos_t;

struct gh_origin {
    src_t *srcs;
    int nsrcs;
    pos_t *pos;
    int npos;
    int64_t max_jump;
};

static pos_t *pos_of(gh_origin_t *o, const char *dept) {
    for (int i = 0; i < o->npos; i++)
        if (!strcmp(o->pos[i].dept, dept)) return &o->pos[i];
    o->pos = gh_xrealloc(o->pos, (size_t)(o->npos + 1) * sizeof(*o->pos));
    o->pos[o->npos] = (pos_t){gh_xstrdup(dept), 0};
    return &o->pos[o->npos++];
}

gh_origin_t *gh_origin_new(const gh_conf_t *conf, const gh_schemas_t *schemas,
                           char *errstr, size_t errstr_size) {
    gh_origin_t *o = gh_xcalloc(1, sizeof(*o));
    o->max_jump = gh_conf_get_int(conf, "source.lsn.max.jump");
    const char *prefix = gh_conf_get(conf, "source.topic.prefix");
    size_t pl = strlen(prefix);
    char **list = gh_conf_get_list(conf, "source.topics");
    for (int i = 0; list[i]; i++) {
        const char *t = list[i];
        const char *d = t + pl + 1, *dot = strchr(d, '.');
        if (strncmp(t, prefix, pl) || t[pl] != '.' || !dot || dot == d ||
            !dot[1] || strchr(dot + 1, '.')) {
            gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "source.topics: \"%s\" is not <source.topic.prefix>."
                      "<department>.<entity> with source.topic.prefix=%s: "
                      "the hub trusts a topic to speak for the department "
                      "its name says, so the name must say one",
                      t, prefix);
            gh_conf_list_free(list);
            gh_origin_destroy(o);
            return NULL;
        }
        const gh_schema_t *env = NULL;
        if (!gh_schemas_entity(schemas, dot + 1, &env)) {
            gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "source.topics: \"%s\": no entity \"%s\" in "
                      "schemas.dir (no %s.avsc marked gridhub.entity)",
                      t, dot + 1, dot + 1);
            gh_conf_list_free(list);
            gh_origin_destroy(o);
            return NULL;
        }
        o->srcs = gh_xrealloc(o->srcs, (size_t)(o->nsrcs + 1) * sizeof(src_t));
        o->srcs[o->nsrcs++] =
            (src_t){gh_xstrdup(t), gh_xstrndup(d, (size_t)(dot - d)),
                    gh_xstrdup(dot + 1), env};
    }
    gh_conf_list_free(list);
    return o;
}

void gh_origin_destroy(gh_origin_t *o) {
    if (!o) return;
    for (int i = 0; i < o->nsrcs; i++) {
        free(o->srcs[i].topic);
        free(o->srcs[i].dept);
        free(o->srcs[i].entity);
    }
    for (int i = 0; i < o->npos; i++)
        free(o->pos[i].dept);
    free(o->srcs);
    free(o->pos);
    free(o);
}

const char *gh_origin_department(const gh_origin_t *o, const char *topic) {
    for (int i = 0; i < o->nsrcs; i++)
        if (!strcmp(o->srcs[i].topic, topic)) return o->srcs[i].dept;
    return NULL;
}

const char *gh_origin_entity(const gh_origin_t *o, const char *topic,
                             const gh_schema_t **envelope) {
    for (int i = 0; i < o->nsrcs; i++)
        if (!strcmp(o->srcs[i].topic, topic)) {
            if (envelope) *envelope = o->srcs[i].envelope;
            return o->srcs[i].entity;
        }
    if (envelope) *envelope = NULL;
    return NULL;
}

gh_err_t gh_origin_load(gh_origin_t *o, PGconn *db, char *errstr,
                        size_t errstr_size) {
    PGresult *r = gh_pg_query_what(
        db,
        "SELECT department, max(lsn) FROM (SELECT department, max(pos_lsn) "
        "lsn FROM source_person GROUP BY department UNION ALL SELECT "
        "department, max(pos_lsn) FROM source_row GROUP BY department UNION "
        "ALL SELECT "
        "department, max(pos_lsn) FROM table_watermark GROUP BY department) "
        "x GROUP BY department",
        0, NULL, "read source positions", errstr, errstr_size);
    if (!r) return GH_ERR_PG;
    for (int i = 0; i < PQntuples(r); i++) {
        pos_t *p = pos_of(o, PQgetvalue(r, i, 0));
        int64_t l = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        if (l > p->lsn) p->lsn = l;
    }
    PQclear(r);
    return GH_OK;
}

static void lsn_text(int64_t l, char out[24]) {
    snprintf(out, 24, "%" PRIX64 "/%" PRIX64, (uint64_t)l >> 32,
             (uint64_t)l & 0xffffffffu);
}

/* The position check of gh_origin_check; an accepted position raises the
 * department's. */
static int plausible(gh_origin_t *o, const char *dept, int64_t lsn, char *why,
                     size_t why_size) {
    pos_t *p = pos_of(o, dept);
    if (lsn < 0 || (p->lsn > 0 && lsn - p->lsn > o->max_jump)) {
        char a[24], b[24];
        lsn_text(lsn, a);
        lsn_text(p->lsn, b);
        snprintf(why, why_size,
                 "untrusted: source position %s is implausibly far past "
                 "department %s's highest accepted position %s "
                 "(source.lsn.max.jump=%" PRId64 ")",
                 a, dept, b, o->max_jump);
        return -1;
    }
    if (lsn > p->lsn) p->lsn = lsn;
    return 0;
}

int gh_origin_check(gh_origin_t *o, const char *topic, avro_value_t *env,
                    char *why, size_t why_size) {
    const char *want = gh_origin_department(o, topic);
    if (!want) {
        snprintf(why, why_size, "topic %s is not a configured source", topic);
        return -1;
    }
    avro_value_t src, v;
    const char *dept = NULL;
    size_t dl = 0;
    int64_t lsn = 0;
    if (avro_value_get_by_name(env, "source", &src, NULL) ||
        avro_value_get_by_name(&src, "department", &v, NULL) ||
        avro_value_get_string(&v, &dept, &dl) ||
        avro_value_get_by_name(&src, "lsn", &v, NULL) ||
        avro_value_get_long(&v, &lsn)) {
        snprintf(why, why_size, "not a change envelope (no source)");
        return -1;
    }
    if (strcmp(dept, want)) {
        gh_buf_t shown = {0};
        gh_buf_append(&shown, "", 0);
        gh_utf8_escape(&shown, dept, strnlen(dept, 64));
        snprintf(why, why_size,
                 "untrusted: the message says department \"%s\" but topic "
                 "%s belongs to department %s",
                 shown.data, topic, want);
        gh_buf_free(&shown);
        return -1;
    }
    return plausible(o, want, lsn, why, why_size);
}

int gh_origin_check_position(gh_origin_t *o, const char *topic, int64_t lsn,
                             const char **dept, char *why, size_t why_size) {
    *dept = gh_origin_department(o, topic);
    if (!*dept) {
        snprintf(why, why_size, "topic %s is not a configured source", topic);
        return -1;
    }
    return plausible(o, *dept, lsn, why, why_size);
}
