/* `gridhub gen`: the properties, and the run — build the city, prepare the
 * department databases, walk the grids feeding one COPY per table, finish
 * the hierarchies, the ground truth, the source records and the summary,
 * then live mode. With records.only every department is generated into
 * null streams and only the two files are written. */
#include "gen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"
#include "gridhub/log.h"
#include "gridhub/shutdown.h"
#include "gridhub/util.h"

#define LOG "gen"

static int validate_prob(const char *key, const char *value, char *errstr,
                         size_t errstr_size) {
    (void)key;
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !(v >= 0 && v <= 1)) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                  "\"%s\" is not a probability (a number from 0 to 1)", value);
        return -1;
    }
    return 0;
}

static int validate_scale(const char *key, const char *value, char *errstr,
                          size_t errstr_size) {
    (void)key;
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !(v > 0 && v <= 4)) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                  "\"%s\" is not a scale factor (a number > 0 and <= 4, "
                  "e.g. 0.05)",
                  value);
        return -1;
    }
    return 0;
}

static int validate_rate(const char *key, const char *value, char *errstr,
                         size_t errstr_size) {
    (void)key;
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !(v >= 0 && v <= 100000)) {
        gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                  "\"%s\" is not a rate (changes per second, 0 to 100000)",
                  value);
        return -1;
    }
    return 0;
}

#define CONNINFO_PROP(dept, what)                                              \
    {                                                                          \
        dept ".conninfo", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,              \
            "libpq connection string of the " what                             \
            " database; its tables are "                                       \
            "created from connectors/" dept                                    \
            "/schema.sql if missing. Unset: the "                              \
            "department is not generated."                                     \
    }
#define ERROR_PROP(kind, def, what)                                            \
    {                                                                          \
        "error." kind, GH_CONF_STR, def, 0, 0, 0, NULL, validate_prob,         \
            "Base probability of " what ", per department copy of a record, "  \
            "multiplied by a per-department factor (docs/generator.md)."       \
    }

const gh_conf_prop_t gh_gen_props[] = {
    {"preset", GH_CONF_ENUM, "demo", 0, 0, 0, "demo|city", NULL,
     "`demo`: 乐坪街道 of 娄星区, 12 communities, 131 grids, about 40,000 "
     "residents; `city`: all of 娄底市, 5 districts and counties, 13,187 "
     "grids, about 3.9 million residents."},
    {"seed", GH_CONF_INT, "1", 0, 0, 9007199254740991LL, NULL, NULL,
     "Seed of the city: the same seed and properties give byte-identical "
     "tables and ground truth."},
    {"scale", GH_CONF_STR, "1", 0, 0, 0, NULL, validate_scale,
     "Multiplier on residents per grid (grids stay as the preset has them), "
     "e.g. 0.05 for tests; at most 4 (the departments' key formats)."},
    CONNINFO_PROP("zongzhi", "综治 comprehensive-governance"),
    CONNINFO_PROP("gongan", "公安 public-security"),
    CONNINFO_PROP("jisheng", "计生 family-planning"),
    CONNINFO_PROP("zuzhi", "组织部 organization-department"),
    CONNINFO_PROP("chuangwen", "创文 civilization-campaign"),
    {"connectors.dir", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Directory holding <department>/schema.sql and grid_crosswalk.csv; "
     "default: connectors/ of the source tree the binary was built from."},
    {"append", GH_CONF_BOOL, "false", 0, 0, 0, NULL, NULL,
     "Keep the rows already in the department tables (default: TRUNCATE "
     "them first). Generated keys do not depend on the seed: rows already "
     "generated make the load fail on their primary keys."},
    {"truth.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Ground-truth JSON lines: one per person-mapped row, "
     "{department, source_key, true_id}, sorted. Unset: none."},
    {"records.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Source records as `gridhub resolve --in` reads them: one JSON line "
     "per person-mapped row, the same rows in the same order as truth.file, "
     "{department, source_key, name, id_number, sex, birth_date, phone, "
     "address, household_key} as the department has them, plus `errors`, "
     "the injected errors that show in the row. Holds the load (live mode "
     "does not update it). Unset: none."},
    {"records.only", GH_CONF_BOOL, "false", 0, 0, 0, NULL, NULL,
     "Generate all five departments in memory and write only truth.file "
     "and records.file: no database is connected to (no conninfo needed; "
     "any set is ignored). Not with live mode (live.rate)."},
    {"crosswalk.dir", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "If set, <dir>/<department>/grid_crosswalk.csv is written for the "
     "generated city (the connectors' files cover only the sample "
     "communities)."},
    ERROR_PROP("legacy_id", "0.03",
               "a legacy 15-digit ID number (people "
               "born 1900-1999)"),
    ERROR_PROP("bad_check", "0.01", "a wrong ID check character"),
    ERROR_PROP("traditional", "0.01",
               "a name typed in traditional "
               "characters (張 陳 劉 黃 趙 吳 鄭 ...)"),
    ERROR_PROP("homophone", "0.01",
               "a name character replaced by a "
               "homophone (章/张, 琳/林 ...)"),
    ERROR_PROP("fullwidth", "0.02",
               "full-width digits and letters in an ID "
               "number or phone"),
    ERROR_PROP("space", "0.02", "stray spaces in a name, ID number or phone"),
    ERROR_PROP("swapped_birth", "0.01",
               "birth day and month swapped (only "
               "where the result is a date)"),
    ERROR_PROP("outdated_address", "0.05",
               "a former address (and grid) "
               "instead of the current one"),
    ERROR_PROP("missing_phone", "0.10", "a phone number not recorded"),
    /* Issue 14: errors the matcher was not built for, off by default;
     * ops/gen/real-errors.properties turns them on. */
    ERROR_PROP("fuzzy_pinyin", "0",
               "a name character replaced by one whose pinyin differs by a "
               "fuzzy-pinyin merge (n/l, f/h, r/l, an/ang, en/eng, in/ing, "
               "ian/iang, z/zh, c/ch, s/sh)"),
    ERROR_PROP("name_char_dropped", "0",
               "a two-character given name typed with one of them"),
    ERROR_PROP("name_char_added", "0",
               "a one-character given name typed with a second character"),
    ERROR_PROP("birth_year_off", "0", "a birth year one off"),
    ERROR_PROP("birth_digit", "0",
               "one digit of the birth date mistyped (still a date)"),
    ERROR_PROP("birth_placeholder", "0",
               "a placeholder birth date (YYYY-01-01, the 1st of the month "
               "or 1900-01-01)"),
    ERROR_PROP("sex_wrong", "0", "the sex recorded wrongly"),
    ERROR_PROP("phone_old", "0", "a former phone number (another mobile)"),
    ERROR_PROP("phone_digit", "0", "one phone digit mistyped"),
    ERROR_PROP("id_digit", "0",
               "one of the first 17 ID digits mistyped (the check fails)"),
    ERROR_PROP("id_transposed", "0",
               "two adjacent different ID digits swapped (the check fails)"),
    ERROR_PROP("foreign_id", "0",
               "the ID number of another member of the household (or a "
               "neighbour)"),
    ERROR_PROP("two_ids", "0",
               "a second valid ID number held by the resident (一人多号, "
               "under the pre-1999 娄底地区 code; born before 1999; the rate "
               "is the share of residents with one)"),
    ERROR_PROP("id_missing", "0",
               "an ID number not recorded at all (a stress test, factor 1 "
               "in every department: ops/gen/half-ids.properties sets 0.5 "
               "so that the other fields have to decide)"),
    {"live.rate", GH_CONF_STR, "0", 0, 0, 0, NULL, validate_rate,
     "Live mode: changes per second made in the department databases after "
     "the load (births, move-ins, moves, deaths, grid events, civility "
     "tasks); 0: no live mode."},
    {"live.duration.s", GH_CONF_INT, "0", 0, 0, 31536000, NULL, NULL,
     "Live mode: seconds to run; 0: until SIGTERM or SIGINT."},
    {"live.max.changes", GH_CONF_INT, "0", 0, 0, 1000000000, NULL, NULL,
     "Live mode: stop after this many changes; 0: no limit. The changes and "
     "their (simulated) times are determined by the seed, so a bounded live "
     "run is reproducible."},
    {"copy.buffer.kb", GH_CONF_INT, "1024", 0, 16, 262144, NULL, NULL,
     "Bytes (KiB) of rows gathered per table before they are sent with "
     "PQputCopyData."},
    GH_SHUTDOWN_TIMEOUT_PROP,
    GH_CONF_LOG_PROPS,
    GH_CONF_END};

static double conf_double(const gh_conf_t *conf, const char *key) {
    const char *v = gh_conf_get(conf, key);
    return v ? strtod(v, NULL) : 0;
}

static void read_opts(const gh_conf_t *conf, gh_gen_opts_t *o) {
    memset(o, 0, sizeof(*o));
    o->preset = strcmp(gh_conf_get(conf, "preset"), "city")
                    ? GH_GEN_PRESET_DEMO
                    : GH_GEN_PRESET_CITY;
    o->seed = (uint64_t)gh_conf_get_int(conf, "seed");
    o->scale = conf_double(conf, "scale");
    for (int d = 0; d < GH_GEN_NDEPT; d++) {
        char key[64];
        snprintf(key, sizeof(key), "%s.conninfo", gh_gen_dept_name(d));
        const char *v = gh_conf_get(conf, key);
        o->conninfo[d] = v && *v ? v : NULL;
    }
    o->connectors_dir = gh_conf_get(conf, "connectors.dir");
    o->truth_file = gh_conf_get(conf, "truth.file");
    if (o->truth_file && !*o->truth_file) o->truth_file = NULL;
    o->records_file = gh_conf_get(conf, "records.file");
    if (o->records_file && !*o->records_file) o->records_file = NULL;
    o->records_only = gh_conf_get_bool(conf, "records.only");
    o->crosswalk_dir = gh_conf_get(conf, "crosswalk.dir");
    if (o->crosswalk_dir && !*o->crosswalk_dir) o->crosswalk_dir = NULL;
    o->append = gh_conf_get_bool(conf, "append");
    for (int k = 0; k < GH_GEN_ERR__COUNT; k++) {
        char key[64];
        snprintf(key, sizeof(key), "error.%s", gh_gen_err_name(k));
        o->errs.rate[k] = conf_double(conf, key);
    }
    o->live_rate = conf_double(conf, "live.rate");
    o->live_duration_s = gh_conf_get_int(conf, "live.duration.s");
    o->live_max_changes = gh_conf_get_int(conf, "live.max.changes");
    o->copy_buffer = (size_t)gh_conf_get_int(conf, "copy.buffer.kb") * 1024;
}

typedef void (*grid_fn)(gh_gen_t *, uint32_t);
static const grid_fn GRID_FN[GH_GEN_NDEPT] = {
    gh_gen_zongzhi_grid, gh_gen_gongan_grid, gh_gen_jisheng_grid,
    gh_gen_zuzhi_grid, gh_gen_chuangwen_grid};

static void abort_all(gh_gen_t *g) {
    for (int t = 0; t < GH_GEN_NTABLES; t++)
        gh_gen_copy_abort(&g->copy[t]);
}

static int any_failed(gh_gen_t *g, int *which) {
    for (int t = 0; t < GH_GEN_NTABLES; t++)
        if (gh_gen_copy_failed(&g->copy[t])) {
            *which = t;
            return 1;
        }
    return 0;
}

static void free_gen(gh_gen_t *g) {
    gh_gen_truth_destroy(g->truth);
    gh_gen_city_destroy(g->city);
    free(g->dj_members);
    free(g->dj_secretary);
    free(g->cw_vol_day);
}

static void summary(gh_gen_t *g, double secs, long long truth_lines,
                    long long record_lines) {
    long long total = 0;
    printf("%-10s %-14s %12s\n", "department", "table", "rows");
    for (int t = 0; t < GH_GEN_NTABLES; t++) {
        if (!g->on[gh_gen_tables[t].dept]) continue;
        printf("%-10s %-14s %12lld\n", gh_gen_dept_name(gh_gen_tables[t].dept),
               gh_gen_tables[t].name, g->copy[t].rows);
        total += g->copy[t].rows;
    }
    uint32_t residents = 0;
    for (uint32_t i = 0; i < g->city->n_persons; i++)
        residents += gh_gen_person_current(&g->city->persons[i]);
    const char *how =
        g->opts->records_only ? "generated (records only: none loaded) " : "";
    printf("total: %lld rows %sin %.1f s (%.0f rows/s); %u grids, %u "
           "residents (seed %llu, scale %g)\n",
           total, how, secs, secs > 0 ? (double)total / secs : 0.0,
           g->city->n_grids, residents, (unsigned long long)g->seed,
           g->city->scale);
    if (g->opts->truth_file)
        printf("truth: %lld lines in %s\n", truth_lines, g->opts->truth_file);
    if (g->opts->records_file)
        printf("records: %lld lines in %s\n", record_lines,
               g->opts->records_file);
    fflush(stdout);
}

gh_err_t gh_gen_run(const gh_conf_t *conf, char *errstr, size_t errstr_size) {
    gh_gen_opts_t o;
    read_opts(conf, &o);
    char *connectors = o.connectors_dir
                           ? gh_xstrdup(o.connectors_dir)
                           : gh_xstrdup(GH_SCHEMAS_DIR "/../connectors");
    o.connectors_dir = connectors;
    int any = 0;
    for (int d = 0; d < GH_GEN_NDEPT; d++)
        any |= o.conninfo[d] != NULL;
    if (o.records_only) {
        gh_err_t ce = GH_OK;
        if (o.live_rate > 0)
            ce = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                           "records.only=true writes files only, but live "
                           "mode (live.rate=%g) changes the department "
                           "databases: unset live.rate, or records.only "
                           "(and set the conninfo properties)",
                           o.live_rate);
        else if (!o.truth_file && !o.records_file)
            ce = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                           "nothing to do: records.only=true writes only "
                           "truth.file and records.file; set at least one");
        if (ce) {
            free(connectors);
            return ce;
        }
        if (any)
            gh_log_warn(LOG, "records.only=true: the conninfo properties are "
                             "ignored, no database is written");
    } else if (!any && !o.truth_file && !o.records_file && !o.crosswalk_dir) {
        free(connectors);
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "nothing to do: set at least one of zongzhi.conninfo, "
                         "gongan.conninfo, jisheng.conninfo, zuzhi.conninfo, "
                         "chuangwen.conninfo (or records.only=true with "
                         "truth.file or records.file)");
    } else if (!any && (o.truth_file || o.records_file)) {
        gh_log_warn(LOG, "no department configured: truth.file and "
                         "records.file will be empty (records.only=true "
                         "generates all five without databases)");
    }
    if (o.records_file && o.live_rate > 0)
        gh_log_info(LOG, "records.file holds the rows of the load: live mode "
                         "does not update it");
    int64_t t0 = gh_now_ms();
    gh_gen_t g;
    memset(&g, 0, sizeof(g));
    g.opts = &o;
    g.seed = o.seed;
    g.errs = o.errs;
    g.city = gh_gen_city_new(o.preset, o.seed, o.scale);
    g.errs.city = g.city; /* foreign_id: whose ID is typed by mistake */
    gh_gen_city_t *c = g.city;
    g.dj_members = gh_xcalloc(c->n_grids, sizeof(uint32_t));
    g.dj_secretary = gh_xmalloc(c->n_grids * sizeof(uint32_t));
    for (uint32_t i = 0; i < c->n_grids; i++)
        g.dj_secretary[i] = GH_GEN_NONE;
    g.cw_vol_day = gh_xcalloc(5 * GH_GEN_VOL_DAYS, sizeof(uint16_t));
    gh_log_info(LOG,
                "%s preset: %d districts, %d sub-districts, %d communities, "
                "%u grids; seed %llu, scale %g",
                o.preset == GH_GEN_PRESET_CITY ? "city" : "demo", c->n_dists,
                c->n_subs, c->n_comms, c->n_grids, (unsigned long long)o.seed,
                o.scale);
    gh_gen_crosswalk_check(c, connectors);
    gh_err_t e = GH_OK;
    if (o.crosswalk_dir) {
        e = gh_gen_crosswalk_write(c, o.crosswalk_dir, errstr, errstr_size);
        if (e) goto out;
    }
    for (int d = 0; d < GH_GEN_NDEPT && !e; d++) {
        if (o.records_only) {
            g.on[d] = 1;
            continue;
        }
        if (!o.conninfo[d]) continue;
        g.on[d] = 1;
        e = gh_gen_setup_dept(d, o.conninfo[d], connectors, o.append, errstr,
                              errstr_size);
    }
    if (e) goto out;
    for (int t = 0; t < GH_GEN_NTABLES && !e; t++) {
        const gh_gen_table_t *tb = &gh_gen_tables[t];
        if (!g.on[tb->dept]) continue;
        if (o.records_only)
            gh_gen_copy_open_null(&g.copy[t], tb->name);
        else
            e = gh_gen_copy_open(&g.copy[t], o.conninfo[tb->dept], tb->name,
                                 tb->columns, o.copy_buffer, errstr,
                                 errstr_size);
    }
    if (e) goto out;
    if (o.truth_file || o.records_file) {
        g.truth = gh_gen_truth_open(o.truth_file, o.records_file, errstr,
                                    errstr_size);
        if (!g.truth) {
            e = GH_ERR_IO;
            goto out;
        }
    }
    int64_t last_log = gh_now_ms();
    for (uint32_t gi = 0; gi < c->n_grids; gi++) {
        gh_gen_city_grid(c, gi);
        for (int d = 0; d < GH_GEN_NDEPT; d++)
            if (g.on[d]) GRID_FN[d](&g, gi);
        if ((gi & 63) == 63) {
            int which;
            if (gh_shutdown_requested()) {
                e = gh_seterr(errstr, errstr_size, GH_ERR_STOPPED,
                              "stopped after %u of %u grids; nothing of this "
                              "load was committed",
                              gi + 1, c->n_grids);
                goto out;
            }
            if (any_failed(&g, &which)) break;
            if (gh_now_ms() - last_log > 10000) {
                last_log = gh_now_ms();
                gh_log_info(LOG, "%u of %u grids, %u residents so far (%.0f s)",
                            gi + 1, c->n_grids, c->n_persons,
                            (double)(gh_now_ms() - t0) / 1000.0);
            }
        }
    }
    if (g.on[GH_GEN_ZONGZHI]) gh_gen_zongzhi_finish(&g);
    if (g.on[GH_GEN_ZUZHI]) gh_gen_zuzhi_finish(&g);
    if (g.on[GH_GEN_CHUANGWEN]) gh_gen_chuangwen_finish(&g);
    for (int t = 0; t < GH_GEN_NTABLES; t++) {
        char err[1024];
        gh_err_t te = gh_gen_copy_finish(&g.copy[t], err, sizeof(err));
        if (te && !e) e = gh_seterr(errstr, errstr_size, te, "%s", err);
    }
    if (e && o.append && strstr(errstr, "[23505]")) {
        size_t n = strlen(errstr);
        snprintf(errstr + n, errstr_size > n ? errstr_size - n : 0,
                 " HINT: append=true keeps the rows already there, and "
                 "generated keys are the same for every seed: append only to "
                 "tables without generated rows");
    }
    if (e) goto out;
    for (int d = 0; d < GH_GEN_NDEPT && !e && !o.records_only; d++)
        if (g.on[d])
            e = gh_gen_setup_after(d, o.conninfo[d], errstr, errstr_size);
    if (e) goto out;
    long long lines = 0, records = 0;
    if (g.truth) {
        gh_log_info(LOG, "merging the part files of %s%s%s",
                    o.truth_file ? o.truth_file : "",
                    o.truth_file && o.records_file ? " and " : "",
                    o.records_file ? o.records_file : "");
        e = gh_gen_truth_finish(g.truth, &lines, &records, errstr, errstr_size);
        if (e) goto out;
    }
    summary(&g, (double)(gh_now_ms() - t0) / 1000.0, lines, records);
    if (o.live_rate > 0) e = gh_gen_live_run(&g, errstr, errstr_size);
out:
    if (e) abort_all(&g);
    free_gen(&g);
    free(connectors);
    return e;
}
