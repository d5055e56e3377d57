/*
 * End-to-end tests of `gridhub gen` against a real PostgreSQL: the demo
 * preset at scale 0.05 written into five fresh department databases.
 *
 * - The same seed gives identical tables (md5 of every row in primary-key
 *   order, per table) and an identical ground-truth file; another seed
 *   gives another city.
 * - The ground truth is exactly the person-mapped rows: for every
 *   department, the set of source_keys the mappings produce from the
 *   tables (connectors/<dept>/mapping.properties: 'hjrk/' + rybh, ...,
 *   with their row filters) equals the set in the file; true IDs are
 *   valid and the departments' copies point at the same people.
 * - Live mode, bounded by live.max.changes, is reproducible too and keeps
 *   the ground truth in step with the tables.
 * - records.file holds, line for line with the truth, each person-mapped
 *   row's values as the mapping reads them from the tables; records.only
 *   (no database) writes the same two files byte for byte.
 * - The real connectors map every generated row: zero dead letters.
 */
#include "stack.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "gridhub/util.h"

#define NDEPT 5
#define GEN_TIMEOUT_MS 180000

static const char *const DEPTS[NDEPT] = {"zongzhi", "gongan", "jisheng",
                                         "zuzhi", "chuangwen"};

typedef struct tbl {
    int dept;
    const char *name, *pk;
} tbl_t;

static const tbl_t TABLES[] = {
    {0, "zz_syrk", "rkbh"},      {0, "zz_wg", "wgbm"},
    {0, "zz_fw", "fwbh"},        {0, "zz_wgy", "wgybh"},
    {0, "zz_wgsj", "sjbh"},      {1, "ga_bzdz", "dzbm"},
    {1, "ga_hu", "hh"},          {1, "ga_hjrk", "rybh"},
    {1, "ga_ldrk", "ldrybh"},    {2, "js_jtda", "jtbh"},
    {2, "js_jtcy", "cybh"},      {2, "js_csdj", "csdjbh"},
    {2, "js_yfn", "yfnbh"},      {2, "js_jycs", "jlbh"},
    {3, "dj_wg", "wgdm"},        {3, "dj_dzb", "dzzdm"},
    {3, "dj_dyxx", "dyid"},      {3, "dj_xcgb", "xcid"},
    {4, "cw_area", "area_code"}, {4, "cw_volunteer", "id"},
    {4, "cw_task", "id"},
};
#define NTABLES (sizeof(TABLES) / sizeof(TABLES[0]))

/* What each department's person mapping(s) make the source_key of, with
 * the mapping's filter (connectors/<dept>/mapping.properties). */
static const char *const PERSON_KEYS[NDEPT] = {
    "SELECT trim(rkbh) AS k FROM zz_syrk",
    "SELECT 'hjrk/' || rybh AS k FROM ga_hjrk WHERE zxbz = '0' UNION ALL "
    "SELECT 'ldrk/' || ldrybh FROM ga_ldrk WHERE zxbz = '0'",
    "SELECT trim(cybh) AS k FROM js_jtcy WHERE zxbz = '0'",
    "SELECT trim(dyid) AS k FROM dj_dyxx WHERE dyzt IN ('正常', '停止党籍')",
    "SELECT id::text AS k FROM cw_volunteer WHERE status = '1'",
};

typedef struct gen_run {
    char *db[NDEPT];
    char *ci[NDEPT], *key[NDEPT]; /* command-line arguments */
    char *dir;
    char *truth;
    char *log;
} gen_run_t;

#define MAX_RUNS 8
static gen_run_t *runs[MAX_RUNS];
static gh_test_stack_t *cur_stack;

static void free_run(gen_run_t *r) {
    if (!r) return;
    for (int d = 0; d < NDEPT; d++) {
        gh_test_drop_db(r->db[d]);
        free(r->db[d]);
        free(r->ci[d]);
        free(r->key[d]);
    }
    free(r->log);
    gh_test_rmtree(r->dir);
    free(r->dir);
    free(r->truth);
    free(r);
}

static void teardown(void) {
    for (int i = 0; i < MAX_RUNS; i++) {
        free_run(runs[i]);
        runs[i] = NULL;
    }
    gh_test_stack_t *s = cur_stack;
    cur_stack = NULL;
    gh_test_stack_free(s);
}

TestSuite(gen, .fini = teardown, .timeout = 600);

/* Prepares a run of `gridhub gen --preset demo --scale 0.05 --seed <seed>`
 * into five new databases; extra: more "--key", "value" arguments,
 * NULL-terminated. argv (64 entries) receives the command, whose strings
 * live until gen_args_free(r). */
static gen_run_t *gen_args(const char *seed, const char *const *extra,
                           const char **argv) {
    gen_run_t *r = gh_xcalloc(1, sizeof(*r));
    int slot = 0;
    while (slot < MAX_RUNS && runs[slot])
        slot++;
    cr_assert_lt(slot, MAX_RUNS);
    runs[slot] = r;
    r->dir = gh_test_tmpdir();
    r->truth = gh_xasprintf("%s/truth.jsonl", r->dir);
    r->log = gh_xasprintf("%s/gen.log", r->dir);
    int n = 0;
    argv[n++] = GH_BINARY;
    argv[n++] = "gen";
    argv[n++] = "--preset";
    argv[n++] = "demo";
    argv[n++] = "--scale";
    argv[n++] = "0.05";
    argv[n++] = "--seed";
    argv[n++] = seed;
    argv[n++] = "--truth-file";
    argv[n++] = r->truth;
    for (int d = 0; d < NDEPT; d++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "gen_%s", DEPTS[d]);
        r->db[d] = gh_test_create_db(prefix);
        r->ci[d] = gh_test_conninfo(r->db[d]);
        r->key[d] = gh_xasprintf("--%s-conninfo", DEPTS[d]);
        argv[n++] = r->key[d];
        argv[n++] = r->ci[d];
    }
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return r;
}

/* Runs the generator to completion (see gen_args). */
static gen_run_t *gen(const char *seed, const char *const *extra) {
    const char *argv[64];
    gen_run_t *r = gen_args(seed, extra, argv);
    int rc = gh_test_run(argv, r->log, GEN_TIMEOUT_MS);
    char *tail = gh_test_file_tail(r->log, 3000);
    cr_assert_eq(rc, 0, "gridhub gen exited %d; %s ends:\n%s", rc, r->log,
                 tail);
    cr_log_info("gridhub gen (seed %s):\n%s", seed, tail);
    free(tail);
    return r;
}

static char *table_md5(PGconn *c, const tbl_t *t) {
    return gh_test_scalar(c,
                          "SELECT md5(coalesce(string_agg(t::text, E'\\n' "
                          "ORDER BY %s), '')) FROM %s t",
                          t->pk, t->name);
}

static char *slurp(const char *path) {
    char *s = gh_read_file(path, NULL);
    cr_assert_not_null(s, "cannot read %s", path);
    return s;
}

Test(gen, same_seed_same_databases_other_seed_differs) {
    gen_run_t *a = gen("7", NULL), *b = gen("7", NULL), *c = gen("8", NULL);
    PGconn *ca[NDEPT], *cb[NDEPT], *cc[NDEPT];
    for (int d = 0; d < NDEPT; d++) {
        ca[d] = gh_test_pg_connect(a->db[d]);
        cb[d] = gh_test_pg_connect(b->db[d]);
        cc[d] = gh_test_pg_connect(c->db[d]);
    }
    int differ = 0;
    for (size_t i = 0; i < NTABLES; i++) {
        const tbl_t *t = &TABLES[i];
        long rows =
            gh_test_count(ca[t->dept], "SELECT count(*) FROM %s", t->name);
        cr_assert_gt(rows, 0, "%s.%s is empty", DEPTS[t->dept], t->name);
        char *ma = table_md5(ca[t->dept], t), *mb = table_md5(cb[t->dept], t),
             *mc = table_md5(cc[t->dept], t);
        cr_assert_str_eq(ma, mb, "%s.%s differs between two runs of seed 7",
                         DEPTS[t->dept], t->name);
        differ += strcmp(ma, mc) != 0;
        free(ma);
        free(mb);
        free(mc);
    }
    /* Every table holding residents or their records changes with the
     * seed (the hierarchy tables may not). */
    cr_assert_geq(differ, 15, "only %d of %zu tables differ for seed 8", differ,
                  NTABLES);
    char *ta = slurp(a->truth), *tb = slurp(b->truth), *tc = slurp(c->truth);
    cr_assert_gt(strlen(ta), 1000);
    cr_assert(!strcmp(ta, tb), "the truth files of two runs of seed 7 differ");
    cr_assert(strcmp(ta, tc), "seeds 7 and 8 gave the same truth");
    free(ta);
    free(tb);
    free(tc);
    for (int d = 0; d < NDEPT; d++) {
        PQfinish(ca[d]);
        PQfinish(cb[d]);
        PQfinish(cc[d]);
    }
}

/* Loads the truth file into truth(dept, k, id) in the database of `c`,
 * checking every line's shape and ID on the way; returns lines per
 * department. */
static void load_truth(PGconn *c, const char *path, long per_dept[NDEPT]) {
    memset(per_dept, 0, NDEPT * sizeof(long));
    gh_test_exec(c, "CREATE TEMP TABLE truth (dept text, k text, id text, "
                    "PRIMARY KEY (dept, k))");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    char *line = NULL, *prev = NULL;
    size_t cap = 0;
    gh_buf_t sql = {0};
    long n = 0;
    while (getline(&line, &cap, f) > 0) {
        if (prev)
            cr_assert_lt(strcmp(prev, line), 0, "truth not sorted at:\n%s",
                         line);
        free(prev);
        prev = gh_xstrdup(line);
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        cr_assert_not_null(o, "bad truth line: %s", line);
        cr_assert_eq(json_object_size(o), 3,
                     "truth line with other members: %s", line);
        const char *dept = json_string_value(json_object_get(o, "department"));
        const char *key = json_string_value(json_object_get(o, "source_key"));
        const char *id = json_string_value(json_object_get(o, "true_id"));
        cr_assert(dept && key && id, "truth line lacks a member: %s", line);
        int d = 0;
        while (d < NDEPT && strcmp(DEPTS[d], dept))
            d++;
        cr_assert_lt(d, NDEPT, "unknown department in %s", line);
        per_dept[d]++;
        char out[19];
        cr_assert_eq(gh_idnum_normalize(id, out, NULL), GH_IDNUM_OK,
                     "true_id %s is not a valid ID number", id);
        cr_assert_str_eq(out, id, "true_id must be canonical");
        for (const char *p = key; *p; p++)
            cr_assert(strchr("/", *p) || (*p >= '0' && *p <= '9') ||
                          (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'),
                      "odd source_key %s", key);
        gh_buf_printf(&sql, "%s('%s','%s','%s')", sql.len ? "," : "", dept, key,
                      id);
        if (++n % 2000 == 0) {
            gh_test_exec(c, "INSERT INTO truth VALUES %s", sql.data);
            gh_buf_reset(&sql);
        }
        json_decref(o);
    }
    if (sql.len) gh_test_exec(c, "INSERT INTO truth VALUES %s", sql.data);
    gh_buf_free(&sql);
    free(line);
    free(prev);
    fclose(f);
}

/* Every truth line's key is a person-mapped row of its department and
 * every such row has its line. */
static void check_truth(gen_run_t *r) {
    PGconn *c[NDEPT];
    for (int d = 0; d < NDEPT; d++)
        c[d] = gh_test_pg_connect(r->db[d]);
    long lines[NDEPT];
    load_truth(c[0], r->truth, lines);
    long rows[NDEPT];
    for (int d = 0; d < NDEPT; d++) {
        rows[d] =
            gh_test_count(c[d], "SELECT count(*) FROM (%s) x", PERSON_KEYS[d]);
        cr_assert_eq(lines[d], rows[d],
                     "%s: %ld truth lines for %ld person-mapped rows", DEPTS[d],
                     lines[d], rows[d]);
        cr_assert_gt(rows[d], 0, "%s has no persons", DEPTS[d]);
        /* The keys, compared as sets in the department's database. */
        gh_test_exec(c[d],
                     "CREATE TEMP TABLE tk (k text PRIMARY KEY, id text)");
        PGresult *res =
            PQexecParams(c[0], "SELECT k, id FROM truth WHERE dept = $1", 1,
                         NULL, (const char *const[]){DEPTS[d]}, NULL, NULL, 0);
        cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
        gh_buf_t sql = {0};
        for (int i = 0; i < PQntuples(res); i++) {
            gh_buf_printf(&sql, "%s('%s','%s')", sql.len ? "," : "",
                          PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
            if ((i + 1) % 2000 == 0 || i + 1 == PQntuples(res)) {
                gh_test_exec(c[d], "INSERT INTO tk VALUES %s", sql.data);
                gh_buf_reset(&sql);
            }
        }
        gh_buf_free(&sql);
        PQclear(res);
        long missing = gh_test_count(
            c[d],
            "SELECT count(*) FROM tk WHERE k NOT IN (SELECT k FROM (%s) x)",
            PERSON_KEYS[d]);
        cr_assert_eq(missing, 0, "%s: %ld truth keys have no person-mapped row",
                     DEPTS[d], missing);
        long extra = gh_test_count(
            c[d],
            "SELECT count(*) FROM (%s) x WHERE k NOT IN (SELECT k FROM tk)",
            PERSON_KEYS[d]);
        cr_assert_eq(extra, 0,
                     "%s: %ld person-mapped rows are not in the truth",
                     DEPTS[d], extra);
    }
    /* The truth really is the truth: 公安's clean register mostly holds the
     * true ID as typed, 综治's most of the time. */
    long hj = gh_test_count(c[1], "SELECT count(*) FROM tk JOIN ga_hjrk ON "
                                  "tk.k = 'hjrk/' || rybh");
    long hj_same =
        gh_test_count(c[1], "SELECT count(*) FROM tk JOIN ga_hjrk ON "
                            "tk.k = 'hjrk/' || rybh WHERE gmsfhm = tk.id");
    cr_assert_gt(hj, 0);
    cr_assert_geq(hj_same * 100, hj * 97,
                  "公安: only %ld of %ld IDs are the true ones", hj_same, hj);
    long zz = rows[0];
    long zz_same =
        gh_test_count(c[0], "SELECT count(*) FROM tk JOIN zz_syrk ON "
                            "tk.k = rkbh WHERE gmsfhm = tk.id");
    cr_assert_geq(zz_same * 100, zz * 80,
                  "综治: only %ld of %ld IDs are the true ones", zz_same, zz);
    cr_assert_lt(zz_same, zz, "综治's copy must carry some errors");
    /* The same people across departments: party members are on 公安's
     * register (or its floating list). */
    long dj = gh_test_count(
        c[0], "SELECT count(DISTINCT id) FROM truth WHERE dept = 'zuzhi'");
    long dj_ga =
        gh_test_count(c[0], "SELECT count(DISTINCT id) FROM truth WHERE "
                            "dept = 'zuzhi' AND id IN (SELECT id FROM truth "
                            "WHERE dept = 'gongan')");
    cr_assert_geq(dj_ga * 100, dj * 85,
                  "only %ld of %ld party members known to 公安", dj_ga, dj);
    /* Coverage: 公安 has the most persons; 组织部 and 创文 far fewer. */
    for (int d = 0; d < NDEPT; d++)
        if (d != 1)
            cr_assert_lt(rows[d], rows[1], "%s has more persons than 公安",
                         DEPTS[d]);
    cr_assert_lt(rows[3] * 5, rows[1], "组织部 %ld vs 公安 %ld", rows[3],
                 rows[1]);
    cr_assert_lt(rows[4] * 10, rows[1], "创文 %ld vs 公安 %ld", rows[4],
                 rows[1]);
    cr_log_info("persons: zongzhi %ld, gongan %ld, jisheng %ld, zuzhi %ld, "
                "chuangwen %ld",
                rows[0], rows[1], rows[2], rows[3], rows[4]);
    for (int d = 0; d < NDEPT; d++)
        PQfinish(c[d]);
}

Test(gen, truth_is_exactly_the_person_rows) {
    gen_run_t *r = gen("7", NULL);
    check_truth(r);
}

/* Each person mapping's reading of its table (mapping.properties): the
 * source_key and the person fields, as SQL over the row. */
typedef struct person_map {
    int dept;
    const char *from, *key, *name, *id, *sex, *birth, *phone, *addr, *hh;
} person_map_t;

#define SEX_CODE "CASE trim(xb) WHEN '1' THEN 'MALE' WHEN '2' THEN 'FEMALE' END"
#define SEX_TEXT                                                               \
    "CASE trim(xb) WHEN '男' THEN 'MALE' WHEN '女' THEN 'FEMALE' END"

static const person_map_t PERSON_MAPS[] = {
    {0, "zz_syrk", "trim(rkbh)", "trim(xm)", "gmsfhm", SEX_CODE, "csrq::text",
     "lxdh", "jzdz", NULL},
    {1, "ga_hjrk WHERE zxbz = '0'", "'hjrk/' || rybh", "trim(xm)", "gmsfhm",
     SEX_CODE, "csrq::text", "lxdh", "sjjzdz", "trim(hh)"},
    {1, "ga_ldrk WHERE zxbz = '0'", "'ldrk/' || ldrybh", "trim(xm)", "gmsfhm",
     SEX_CODE, "csrq::text", "lxdh", "zzdz", NULL},
    {2, "js_jtcy WHERE zxbz = '0'", "trim(cybh)", "trim(xm)", "sfzh", SEX_TEXT,
     "CASE WHEN trim(csrq) IN ('', '00000000') THEN NULL "
     "ELSE to_char(to_date(trim(csrq), 'YYYYMMDD'), 'YYYY-MM-DD') END",
     "lxdh", NULL, "trim(jtbh)"},
    {3, "dj_dyxx WHERE dyzt IN ('正常', '停止党籍')", "trim(dyid)", "trim(xm)",
     "gmsfhm", SEX_TEXT, "csrq::text", "lxdh", "jtzz", NULL},
    {4, "cw_volunteer WHERE status = '1'", "id::text", "trim(real_name)",
     "id_card",
     "CASE upper(trim(translate(gender, 'ＭＦ', 'MF'))) WHEN 'M' THEN 'MALE' "
     "WHEN 'F' THEN 'FEMALE' END",
     "to_char(to_date(replace(trim(birthday), '-', '/'), 'YYYY/MM/DD'), "
     "'YYYY-MM-DD')",
     "mobile", NULL, NULL},
};
#define NPERSON_MAPS (sizeof(PERSON_MAPS) / sizeof(PERSON_MAPS[0]))

/* A department's person rows as "key\tname\tid_number\tsex\tbirth_date\t
 * phone\taddress\thousehold_key" (\N for null; optional text trimmed,
 * empty as null), in the records file's order. */
static PGresult *person_rows(PGconn *c, int dept) {
    gh_buf_t sql = {0};
    for (size_t i = 0; i < NPERSON_MAPS; i++) {
        const person_map_t *m = &PERSON_MAPS[i];
        if (m->dept != dept) continue;
        gh_buf_printf(
            &sql,
            "%sSELECT %s AS k, concat_ws(E'\\t', %s, coalesce(%s, '\\N'), "
            "coalesce(nullif(trim(%s), ''), '\\N'), coalesce(%s, '\\N'), "
            "coalesce(%s, '\\N'), coalesce(nullif(trim(%s), ''), '\\N'), "
            "coalesce(nullif(trim(%s), ''), '\\N'), coalesce(%s, '\\N')) "
            "AS line FROM %s",
            sql.len ? " UNION ALL " : "", m->key, m->key, m->name, m->id,
            m->sex, m->birth, m->phone, m->addr ? m->addr : "NULL",
            m->hh ? m->hh : "NULL", m->from);
    }
    char *q = gh_xasprintf("SELECT line FROM (%s) u ORDER BY k COLLATE \"C\"",
                           sql.data);
    PGresult *res = PQexec(c, q);
    cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s: %s\n%s",
                 DEPTS[dept], PQerrorMessage(c), q);
    free(q);
    gh_buf_free(&sql);
    return res;
}

static void put_field(gh_buf_t *b, json_t *rec, const char *key) {
    json_t *v = json_object_get(rec, key);
    cr_assert(v && (json_is_string(v) || json_is_null(v)), "%s", key);
    gh_buf_printf(b, "%s%s", b->len ? "\t" : "",
                  json_is_string(v) ? json_string_value(v) : "\\N");
}

Test(gen, records_are_the_mapped_person_rows) {
    char *rdir = gh_test_tmpdir();
    char *records = gh_xasprintf("%s/records.jsonl", rdir);
    const char *extra[] = {"--records-file", records, NULL};
    gen_run_t *r = gen("7", extra);
    /* Line for line with the truth. */
    FILE *rf = fopen(records, "r"), *tf = fopen(r->truth, "r");
    cr_assert(rf && tf);
    char *rl = NULL, *tl = NULL;
    size_t rcap = 0, tcap = 0;
    long n = 0;
    gh_buf_t want = {0};
    PGconn *c[NDEPT];
    PGresult *res[NDEPT];
    int row[NDEPT] = {0}, depts = 0;
    for (int d = 0; d < NDEPT; d++) {
        c[d] = gh_test_pg_connect(r->db[d]);
        res[d] = person_rows(c[d], d);
    }
    while (getline(&rl, &rcap, rf) > 0) {
        cr_assert_gt(getline(&tl, &tcap, tf), 0, "more records than truth");
        json_error_t je;
        json_t *rec = json_loads(rl, 0, &je), *tr = json_loads(tl, 0, &je);
        cr_assert(rec && tr, "line %ld: %s", n + 1, rl);
        const char *dept =
            json_string_value(json_object_get(rec, "department"));
        cr_assert_str_eq(dept,
                         json_string_value(json_object_get(tr, "department")));
        cr_assert_str_eq(json_string_value(json_object_get(rec, "source_key")),
                         json_string_value(json_object_get(tr, "source_key")));
        cr_assert(json_is_array(json_object_get(rec, "errors")));
        int d = 0;
        while (d < NDEPT && strcmp(DEPTS[d], dept))
            d++;
        cr_assert_lt(d, NDEPT, "%s", dept);
        gh_buf_reset(&want);
        static const char *const keys[] = {
            "source_key", "name",  "id_number", "sex",
            "birth_date", "phone", "address",   "household_key"};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            put_field(&want, rec, keys[k]);
        cr_assert_lt(row[d], PQntuples(res[d]), "%s: more records than rows",
                     dept);
        row[d]++;
        cr_assert_str_eq(want.data, PQgetvalue(res[d], row[d] - 1, 0),
                         "%s row %d: the record says\n%s\nthe table\n%s", dept,
                         row[d], want.data, PQgetvalue(res[d], row[d] - 1, 0));
        json_decref(rec);
        json_decref(tr);
        n++;
    }
    cr_assert_lt(getline(&tl, &tcap, tf), 0, "more truth than records");
    for (int d = 0; d < NDEPT; d++) {
        cr_assert_eq(row[d], PQntuples(res[d]), "%s: %d records for %d rows",
                     DEPTS[d], row[d], PQntuples(res[d]));
        depts += row[d] > 0;
        PQclear(res[d]);
        PQfinish(c[d]);
    }
    cr_assert_eq(depts, NDEPT);
    free(rl);
    free(tl);
    gh_buf_free(&want);
    fclose(rf);
    fclose(tf);
    /* records.only: the same files, without a database. */
    char *t2 = gh_xasprintf("%s/truth2.jsonl", rdir);
    char *r2 = gh_xasprintf("%s/records2.jsonl", rdir);
    char *log = gh_xasprintf("%s/records-only.log", rdir);
    const char *argv[] = {GH_BINARY,
                          "gen",
                          "--preset",
                          "demo",
                          "--scale",
                          "0.05",
                          "--seed",
                          "7",
                          "--records-only",
                          "true",
                          "--truth-file",
                          t2,
                          "--records-file",
                          r2,
                          NULL};
    int rc = gh_test_run(argv, log, GEN_TIMEOUT_MS);
    char *tail = gh_test_file_tail(log, 2000);
    cr_assert_eq(rc, 0, "records-only exited %d:\n%s", rc, tail);
    free(tail);
    char *a = slurp(records), *b = slurp(r2);
    cr_assert_str_eq(a, b, "records.only wrote other records");
    free(a);
    free(b);
    a = slurp(r->truth);
    b = slurp(t2);
    cr_assert_str_eq(a, b, "records.only wrote another truth");
    free(a);
    free(b);
    /* Live mode refuses records.only. */
    const char *bad[] = {GH_BINARY,
                         "gen",
                         "--records-only",
                         "true",
                         "--records-file",
                         r2,
                         "--live-rate",
                         "5",
                         NULL};
    cr_assert_eq(gh_test_run(bad, log, 30000), 2, "bad arguments exit 2");
    tail = gh_test_file_tail(log, 2000);
    cr_assert(strstr(tail, "records.only") && strstr(tail, "live"), "log:\n%s",
              tail);
    free(tail);
    cr_log_info("records: %ld lines, as the mappings read the tables", n);
    free(log);
    free(t2);
    free(r2);
    free(records);
    gh_test_rmtree(rdir);
    free(rdir);
}

Test(gen, bounded_live_mode_is_reproducible_and_keeps_truth) {
    const char *const live[] = {"--live-rate", "2000", "--live-max-changes",
                                "400", NULL};
    gen_run_t *a = gen("7", live), *b = gen("7", live);
    for (size_t i = 0; i < NTABLES; i++) {
        const tbl_t *t = &TABLES[i];
        PGconn *ca = gh_test_pg_connect(a->db[t->dept]);
        PGconn *cb = gh_test_pg_connect(b->db[t->dept]);
        char *ma = table_md5(ca, t), *mb = table_md5(cb, t);
        cr_assert_str_eq(ma, mb, "%s.%s differs between two bounded live runs",
                         DEPTS[t->dept], t->name);
        free(ma);
        free(mb);
        PQfinish(ca);
        PQfinish(cb);
    }
    char *ta = slurp(a->truth), *tb = slurp(b->truth);
    cr_assert(!strcmp(ta, tb), "truth differs between two bounded live runs");
    free(ta);
    free(tb);
    /* Live mode did its work (simulated time starts after 2023-09-30). */
    PGconn *zz = gh_test_pg_connect(a->db[0]);
    PGconn *ga = gh_test_pg_connect(a->db[1]);
    PGconn *cw = gh_test_pg_connect(a->db[4]);
    cr_assert_gt(
        gh_test_count(
            zz, "SELECT count(*) FROM zz_wgsj WHERE sbsj >= '2023-10-01'"),
        10);
    cr_assert_gt(
        gh_test_count(
            zz, "SELECT count(*) FROM zz_syrk WHERE gxsj >= '2023-10-01'"),
        10);
    cr_assert_gt(
        gh_test_count(
            ga, "SELECT count(*) FROM ga_hjrk WHERE zxrq >= '2023-10-01'"),
        0, "no death reached 公安");
    cr_assert_gt(
        gh_test_count(
            cw,
            "SELECT count(*) FROM cw_task WHERE found_time >= '2023-10-01'"),
        5);
    /* The identity sequence follows the ids live mode gave. */
    long next = gh_test_count(
        cw, "SELECT nextval(pg_get_serial_sequence('cw_task', 'id'))");
    cr_assert_gt(next, gh_test_count(cw, "SELECT max(id) FROM cw_task"));
    PQfinish(zz);
    PQfinish(ga);
    PQfinish(cw);
    check_truth(a);
}

/* A stop during live mode is a clean stop (exit 0), and the sequences
 * still follow the ids live mode gave: the fix-up runs on the connection
 * the loop holds, since a stopping process opens no new ones. */
Test(gen, stopped_live_mode_exits_cleanly) {
    const char *const live[] = {"--live-rate", "200", "--live-duration-s",
                                "600", NULL};
    const char *argv[64];
    gen_run_t *r = gen_args("3", live, argv);
    gh_test_proc_t *p = gh_test_spawn(argv, r->log);
    char *l = gh_test_wait_for_text(r->log, "live: ", 120000);
    cr_assert_not_null(l, "live mode did not log progress; log ends:\n%s",
                       gh_test_file_tail(r->log, 2000));
    free(l);
    int rc = gh_test_stop(p, 10000);
    gh_test_proc_free(p);
    cr_assert_eq(rc, 0, "gen exited %d on SIGTERM; log ends:\n%s", rc,
                 gh_test_file_tail(r->log, 2000));
    PGconn *cw = gh_test_pg_connect(r->db[4]);
    long next = gh_test_count(
        cw, "SELECT nextval(pg_get_serial_sequence('cw_task', 'id'))");
    cr_assert_gt(next, gh_test_count(cw, "SELECT max(id) FROM cw_task"));
    PQfinish(cw);
}

Test(gen, rejects_bad_properties) {
    char *dir = gh_test_tmpdir();
    char *log = gh_xasprintf("%s/bad.log", dir);
    const char *a1[] = {GH_BINARY, "gen", "--error-space", "1.5", NULL};
    cr_assert_eq(gh_test_run(a1, log, 30000), 2);
    char *t = gh_test_file_tail(log, 2000);
    cr_assert(strstr(t, "error.space") && strstr(t, "probability"), "log:\n%s",
              t);
    free(t);
    const char *a2[] = {GH_BINARY, "gen", "--preset", "town", NULL};
    cr_assert_eq(gh_test_run(a2, log, 30000), 2);
    const char *a3[] = {GH_BINARY, "gen", "--scale", "0", NULL};
    cr_assert_eq(gh_test_run(a3, log, 30000), 2);
    const char *a4[] = {GH_BINARY, "gen", NULL};
    cr_assert_eq(gh_test_run(a4, log, 30000), 2, "bad arguments exit 2");
    t = gh_test_file_tail(log, 2000);
    cr_assert(strstr(t, "nothing to do"), "log:\n%s", t);
    free(t);
    free(log);
    gh_test_rmtree(dir);
    free(dir);
}

/* ---- the connectors on generated data
 * -------------------------------------------- */

/* Slots are cluster-wide: this test's own name, so that it never meets a
 * department connector running on the same cluster. A test killed by its
 * timeout leaves its database and slot behind: drop them. */
#define SLOT_PREFIX "ghgen_test_"

static void drop_stale_slot(const char *slot) {
    PGconn *admin = gh_test_pg_connect("postgres");
    char *db = gh_test_scalar(admin,
                              "SELECT database FROM pg_replication_slots "
                              "WHERE slot_name = '%s' AND database "
                              "LIKE 'ghdept\\_%%'",
                              slot);
    PQfinish(admin);
    gh_test_drop_db(db);
    free(db);
}

typedef struct snap_wait {
    const char *log;
    gh_test_proc_t *proc;
} snap_wait_t;

/* The snapshot finished, or the connector gave up. */
static int snapshot_over(void *arg) {
    snap_wait_t *w = arg;
    char *done = gh_test_wait_for_text(w->log, "snapshot done: ", 0);
    int over = done != NULL || !gh_test_proc_alive(w->proc);
    free(done);
    return over;
}

Test(gen, connectors_map_every_generated_row) {
    for (int d = 0; d < NDEPT; d++) {
        char slot[64], slot_prop[96];
        snprintf(slot, sizeof(slot), SLOT_PREFIX "%s", DEPTS[d]);
        snprintf(slot_prop, sizeof(slot_prop), "slot.name=%s", slot);
        drop_stale_slot(slot);
        char schema[512], mapping[512];
        snprintf(schema, sizeof(schema),
                 GH_SOURCE_DIR "/connectors/%s/schema.sql", DEPTS[d]);
        snprintf(mapping, sizeof(mapping),
                 GH_SOURCE_DIR "/connectors/%s/mapping.properties", DEPTS[d]);
        cur_stack = gh_test_stack_new(schema, mapping);
        gh_test_stack_t *s = cur_stack;
        char *ci = gh_test_conninfo(s->dept_db);
        char *key = gh_xasprintf("--%s-conninfo", DEPTS[d]);
        char *log = gh_xasprintf("%s/gen.log", s->dir);
        const char *argv[] = {GH_BINARY, "gen",  "--preset", "demo",
                              "--scale", "0.05", "--seed",   "3",
                              key,       ci,     NULL};
        int rc = gh_test_run(argv, log, GEN_TIMEOUT_MS);
        char *tail = gh_test_file_tail(log, 2000);
        cr_assert_eq(rc, 0, "gen for %s exited %d:\n%s", DEPTS[d], rc, tail);
        free(tail);
        long rows = 0;
        for (size_t i = 0; i < NTABLES; i++)
            if (TABLES[i].dept == d)
                rows += gh_test_count(s->dept, "SELECT count(*) FROM %s",
                                      TABLES[i].name);
        const char *const extra[] = {slot_prop, NULL};
        gh_test_stack_start_connector(s, extra);
        const char *clog = gh_test_stack_connector_log(s);
        snap_wait_t w = {clog, s->connector};
        gh_test_wait_until(snapshot_over, &w, 90000);
        char *done = gh_test_wait_for_text(clog, "snapshot done: ", 0);
        if (!done) {
            char *t2 = gh_test_file_tail(clog, 3000);
            cr_assert_fail("%s: the connector did not finish its snapshot:\n%s",
                           DEPTS[d], t2);
        }
        free(done);
        int stop = gh_test_stop(s->connector, 30000);
        char *totals = gh_test_wait_for_text(clog, "stopping, totals: ", 1000);
        char *t3 = gh_test_file_tail(clog, 3000);
        cr_assert_eq(stop, 0, "%s connector exited %d:\n%s", DEPTS[d], stop,
                     t3);
        cr_assert_not_null(totals, "%s: no totals line:\n%s", DEPTS[d], t3);
        cr_assert(strstr(totals, " dead_letters=0 "),
                  "%s: the mapping rejected generated rows: %s\n%s", DEPTS[d],
                  totals, t3);
        long long events = 0;
        const char *ev = strstr(totals, "events=");
        cr_assert_not_null(ev);
        events = atoll(ev + 7);
        /* Each row gives at least one event, unless its mappings filter it
         * out (cancelled records). */
        cr_assert_geq(events, rows / 2, "%s: %lld events for %ld rows",
                      DEPTS[d], events, rows);
        cr_log_info("%s: %ld rows -> %s", DEPTS[d], rows, totals);
        free(totals);
        free(t3);
        free(ci);
        free(key);
        free(log);
        gh_test_proc_free(s->connector);
        s->connector = NULL;
        cur_stack = NULL;
        /* Passed: its logs are not needed (gh_test_stack_free keeps them). */
        gh_test_rmtree(s->dir);
        gh_test_stack_free(s);
    }
}
