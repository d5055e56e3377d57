/* Preparing the department databases (schema, truncate, sequences) and the
 * grid crosswalks: checking the connectors' files against the generated
 * divisions and writing complete ones for the generated city. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen_int.h"
#include "gridhub/log.h"
#include "gridhub/pg.h"
#include "gridhub/util.h"

#define LOG "gen"

gh_err_t gh_gen_setup_dept(int dept, const char *conninfo,
                           const char *connectors_dir, int append, char *errstr,
                           size_t errstr_size) {
    PGconn *c = gh_pg_connect(conninfo, 0, errstr, errstr_size);
    if (!c) return GH_ERR_PG_CONNECT;
    gh_err_t e = GH_OK;
    const char *enc = PQparameterStatus(c, "server_encoding");
    if (enc && strcmp(enc, "UTF8")) {
        e = gh_seterr(
            errstr, errstr_size, GH_ERR_CONFIG,
            "%s.conninfo: the database's encoding is %s; the "
            "department tables hold Chinese text and need UTF8 "
            "(CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)",
            gh_gen_dept_name(dept), enc);
        goto out;
    }
    char *path = gh_xasprintf("%s/%s/schema.sql", connectors_dir,
                              gh_gen_dept_name(dept));
    char *sql = gh_read_file(path, NULL);
    if (!sql) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                      "cannot read %s: %s (set connectors.dir to the "
                      "directory holding <department>/schema.sql)",
                      path, strerror(errno));
        free(path);
        goto out;
    }
    e = gh_pg_exec(c, sql, errstr, errstr_size);
    free(sql);
    free(path);
    if (e || append) goto out;
    gh_buf_t b = {0};
    gh_buf_puts(&b, "TRUNCATE ");
    int n = 0;
    for (int t = 0; t < GH_GEN_NTABLES; t++)
        if (gh_gen_tables[t].dept == dept)
            gh_buf_printf(&b, "%s%s", n++ ? ", " : "", gh_gen_tables[t].name);
    gh_buf_puts(&b, " RESTART IDENTITY");
    e = gh_pg_exec(c, b.data, errstr, errstr_size);
    gh_buf_free(&b);
out:
    PQfinish(c);
    return e;
}

gh_err_t gh_gen_setup_after(int dept, const char *conninfo, char *errstr,
                            size_t errstr_size) {
    PGconn *c = gh_pg_connect(conninfo, 0, errstr, errstr_size);
    if (!c) return GH_ERR_PG_CONNECT;
    gh_err_t e = gh_gen_setup_after_conn(dept, c, errstr, errstr_size);
    PQfinish(c);
    return e;
}

gh_err_t gh_gen_setup_after_conn(int dept, PGconn *c, char *errstr,
                                 size_t errstr_size) {
    gh_err_t e = GH_OK;
    for (int t = 0; t < GH_GEN_NTABLES && !e; t++) {
        const gh_gen_table_t *tb = &gh_gen_tables[t];
        if (tb->dept != dept) continue;
        char sql[512];
        if (tb->identity) {
            snprintf(sql, sizeof(sql),
                     "SELECT setval(pg_get_serial_sequence('%s', '%s'), "
                     "(SELECT coalesce(max(%s), 0) + 1 FROM %s), false)",
                     tb->name, tb->identity, tb->identity, tb->name);
            e = gh_pg_exec(c, sql, errstr, errstr_size);
        }
        if (!e) {
            snprintf(sql, sizeof(sql), "ANALYZE %s", tb->name);
            e = gh_pg_exec(c, sql, errstr, errstr_size);
        }
    }
    return e;
}

/* ---- crosswalks
 * -------------------------------------------------------------- */

typedef void(unit_cb)(const char *code, const char *target, void *arg);

/* Every unit of a department's own division with the 综治 unit it stands
 * for, as its crosswalk would list it. */
static void units(const gh_gen_city_t *c, int dept, unit_cb *cb, void *arg) {
    char code[64], target[64];
    for (int s = 0; s < c->n_subs; s++) {
        const gh_gen_sub_t *sb = &c->subs[s];
        if (dept == GH_GEN_ZUZHI) {
            gh_gen_code_dj(c, s, -1, 0, code, sizeof(code));
            cb(code, sb->zz, arg);
        }
        if (dept == GH_GEN_CHUANGWEN) {
            gh_gen_code_cw(c, s, 0, code, sizeof(code));
            cb(code, sb->zz, arg);
        }
        int last_area = 0;
        for (int k = sb->first_comm; k < sb->first_comm + sb->n_comms; k++) {
            const gh_gen_comm_t *cm = &c->comms[k];
            switch (dept) {
            case GH_GEN_GONGAN:
                gh_gen_code_beat(c, k, code, sizeof(code));
                cb(code, cm->zz, arg);
                break;
            case GH_GEN_JISHENG:
                gh_gen_code_stat(c, s, k, code, sizeof(code));
                cb(code, cm->zz, arg);
                break;
            case GH_GEN_ZUZHI:
                gh_gen_code_dj(c, s, k, 0, code, sizeof(code));
                cb(code, cm->zz, arg);
                for (int pg = 1; pg <= cm->n_party; pg++) {
                    gh_gen_code_dj(c, s, k, pg, code, sizeof(code));
                    gh_gen_code_dj_target(c, k, pg, target, sizeof(target));
                    cb(code, target, arg);
                }
                break;
            case GH_GEN_CHUANGWEN:
                for (int g = cm->first_grid; g < cm->first_grid + cm->n_grids;
                     g++) {
                    int area = c->grids[g].area;
                    if (area == last_area) continue;
                    last_area = area;
                    gh_gen_code_cw(c, s, area, code, sizeof(code));
                    gh_gen_code_cw_target(c, s, area, target, sizeof(target));
                    cb(code, target, arg);
                }
                break;
            default:
                break;
            }
        }
    }
}

typedef struct xw_line {
    char *code, *target;
    int line;
    int seen;
} xw_line_t;

typedef struct xw_check {
    xw_line_t *lines;
    size_t n;
    const char *file;
    int generated, missing, mismatched;
} xw_check_t;

static void check_cb(const char *code, const char *target, void *arg) {
    xw_check_t *x = arg;
    x->generated++;
    for (size_t i = 0; i < x->n; i++)
        if (!strcmp(x->lines[i].code, code)) {
            x->lines[i].seen = 1;
            if (strcmp(x->lines[i].target, target)) {
                if (x->mismatched++ < 5)
                    gh_log_warn(LOG,
                                "%s:%d: %s maps to %s, but in the generated "
                                "city it covers %s",
                                x->file, x->lines[i].line, code,
                                x->lines[i].target, target);
            }
            return;
        }
    x->missing++;
}

void gh_gen_crosswalk_check(const gh_gen_city_t *c,
                            const char *connectors_dir) {
    static const int depts[] = {GH_GEN_GONGAN, GH_GEN_JISHENG, GH_GEN_ZUZHI,
                                GH_GEN_CHUANGWEN};
    for (size_t d = 0; d < sizeof(depts) / sizeof(depts[0]); d++) {
        char *path = gh_xasprintf("%s/%s/grid_crosswalk.csv", connectors_dir,
                                  gh_gen_dept_name(depts[d]));
        char *text = gh_read_file(path, NULL);
        xw_check_t x = {NULL, 0, path, 0, 0, 0};
        if (text) {
            int ln = 0;
            char *save = NULL;
            for (char *l = strtok_r(text, "\n", &save); l;
                 l = strtok_r(NULL, "\n", &save)) {
                ln++;
                char *comma = strchr(l, ',');
                if (!comma || l[0] == '#') continue;
                *comma = '\0';
                char *t = gh_str_trim(comma + 1);
                x.lines = gh_xrealloc(x.lines, (x.n + 1) * sizeof(*x.lines));
                x.lines[x.n++] = (xw_line_t){gh_xstrdup(gh_str_trim(l)),
                                             gh_xstrdup(t), ln, 0};
            }
        }
        units(c, depts[d], check_cb, &x);
        int agree = 0;
        for (size_t i = 0; i < x.n; i++)
            agree += x.lines[i].seen;
        agree -= x.mismatched;
        if (x.mismatched)
            gh_log_warn(
                LOG, "%s: %d line(s) disagree with the generated %s division",
                path, x.mismatched, gh_gen_dept_name(depts[d]));
        if (x.missing)
            gh_log_info(LOG,
                        "%s: %d of %d generated %s codes are not in the file "
                        "(%d agree); the connector gives those rows no grid "
                        "code (crosswalk.dir writes complete files)",
                        path, x.missing, x.generated,
                        gh_gen_dept_name(depts[d]), agree);
        for (size_t i = 0; i < x.n; i++) {
            free(x.lines[i].code);
            free(x.lines[i].target);
        }
        free(x.lines);
        free(text);
        free(path);
    }
}

static void write_cb(const char *code, const char *target, void *arg) {
    fprintf((FILE *)arg, "%s,%s\n", code, target);
}

gh_err_t gh_gen_crosswalk_write(const gh_gen_city_t *c, const char *dir,
                                char *errstr, size_t errstr_size) {
    static const int depts[] = {GH_GEN_GONGAN, GH_GEN_JISHENG, GH_GEN_ZUZHI,
                                GH_GEN_CHUANGWEN};
    if (mkdir(dir, 0755) && errno != EEXIST)
        return gh_seterr(errstr, errstr_size, GH_ERR_IO, "cannot create %s: %s",
                         dir, strerror(errno));
    for (size_t d = 0; d < sizeof(depts) / sizeof(depts[0]); d++) {
        char *sub = gh_xasprintf("%s/%s", dir, gh_gen_dept_name(depts[d]));
        char *path = gh_xasprintf("%s/grid_crosswalk.csv", sub);
        gh_err_t e = GH_OK;
        if (mkdir(sub, 0755) && errno != EEXIST) {
            e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                          "cannot create %s: %s", sub, strerror(errno));
        } else {
            FILE *f = fopen(path, "w");
            if (!f) {
                e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                              "cannot create %s: %s", path, strerror(errno));
            } else {
                units(c, depts[d], write_cb, f);
                if (fclose(f))
                    e = gh_seterr(errstr, errstr_size, GH_ERR_IO,
                                  "writing %s failed: %s", path,
                                  strerror(errno));
            }
        }
        free(path);
        free(sub);
        if (e) return e;
    }
    return GH_OK;
}
