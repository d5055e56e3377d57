/*
 * Unit tests for the static compatibility check (gh_avro_check_backward,
 * gh_avro_check_full) and the schema-evolution policy of a schema
 * directory (gh_schemas_check_history), including the project's own
 * schemas/ directory.
 *
 * The rule-by-rule cases are a table in data/avro/compat/cases.txt (its
 * header describes the format); every case is checked in both directions.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gridhub/avro.h"

#define CASES GH_TEST_DATA_DIR "/avro/compat/cases.txt"
#define SCHEMAS GH_SOURCE_DIR "/schemas"

/* ---- The case table ------------------------------------------------------ */

typedef struct expect {
    int given, ok;
    char *text; /* substring of errstr when !ok */
} expect_t;

typedef struct ccase {
    char *name;
    gh_buf_t writer, reader;
    expect_t backward, forward;
} ccase_t;

static void case_free(ccase_t *c) {
    free(c->name);
    gh_buf_free(&c->writer);
    gh_buf_free(&c->reader);
    free(c->backward.text);
    free(c->forward.text);
    memset(c, 0, sizeof(*c));
}

static void parse_expect(expect_t *e, const char *rest, const char *name) {
    cr_assert(!e->given, "case \"%s\": expectation given twice", name);
    e->given = 1;
    if (strcmp(rest, "ok") == 0) {
        e->ok = 1;
    } else {
        cr_assert(strncmp(rest, "fail ", 5) == 0 && rest[5],
                  "case \"%s\": expected \"ok\" or \"fail <text>\", got "
                  "\"%s\"",
                  name, rest);
        e->text = gh_xstrdup(rest + 5);
    }
}

static void run_direction(const ccase_t *c, const char *dir, const char *w,
                          const char *r, const expect_t *e) {
    char err[4096] = "";
    gh_err_t rc = gh_avro_check_backward(w, r, err, sizeof(err));
    if (e->ok) {
        cr_expect_eq(rc, GH_OK,
                     "case \"%s\" (%s): expected compatible, got: %s", c->name,
                     dir, err);
    } else {
        cr_expect_eq(rc, GH_ERR_SCHEMA,
                     "case \"%s\" (%s): expected incompatible, got %s", c->name,
                     dir, gh_strerror(rc));
        cr_expect(strstr(err, e->text) != NULL,
                  "case \"%s\" (%s): errstr lacks \"%s\": %s", c->name, dir,
                  e->text, err);
    }
}

static void run_case(const ccase_t *c) {
    cr_assert(c->writer.len && c->reader.len && c->backward.given,
              "case \"%s\" needs a writer, a reader and a backward line",
              c->name);
    run_direction(c, "backward", c->writer.data, c->reader.data, &c->backward);
    if (!c->forward.given) return;
    run_direction(c, "forward", c->reader.data, c->writer.data, &c->forward);
    char err[4096] = "";
    gh_err_t rc =
        gh_avro_check_full(c->writer.data, c->reader.data, err, sizeof(err));
    int full_ok = c->backward.ok && c->forward.ok;
    cr_expect_eq(rc, full_ok ? GH_OK : GH_ERR_SCHEMA,
                 "case \"%s\" (full): got %s: %s", c->name, gh_strerror(rc),
                 err);
}

/* Runs every case of the table; returns how many there were. */
static int run_table(const char *path) {
    char *text = gh_read_file(path, NULL);
    cr_assert_not_null(text, "cannot read %s", path);
    ccase_t c = {0};
    gh_buf_t *into = NULL;
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "//", 2) == 0) continue;
        if (strncmp(line, "== ", 3) == 0) {
            if (c.name) {
                run_case(&c);
                n++;
            }
            case_free(&c);
            c.name = gh_xstrdup(line + 3);
            into = NULL;
        } else if (strcmp(line, "-- writer") == 0) {
            into = &c.writer;
        } else if (strcmp(line, "-- reader") == 0) {
            into = &c.reader;
        } else if (strncmp(line, "-- backward ", 12) == 0) {
            parse_expect(&c.backward, line + 12, c.name);
            into = NULL;
        } else if (strncmp(line, "-- forward ", 11) == 0) {
            parse_expect(&c.forward, line + 11, c.name);
            into = NULL;
        } else if (into) {
            gh_buf_puts(into, line);
            gh_buf_puts(into, "\n");
        } else {
            cr_assert(strspn(line, " \t\r") == strlen(line),
                      "%s: stray line \"%s\"", path, line);
        }
    }
    if (c.name) {
        run_case(&c);
        n++;
    }
    case_free(&c);
    free(text);
    return n;
}

Test(avro_compat, table_of_cases) {
    int n = run_table(CASES);
    /* Guards against a format slip that silently drops cases. */
    cr_expect_geq(n, 40, "only %d cases ran from %s", n, CASES);
}

/* ---- Messages ------------------------------------------------------------ */

static const char *PERSON_V1 =
    "{\"type\":\"record\",\"name\":\"Person\",\"namespace\":\"t\","
    "\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"sex\",\"type\":{\"type\":\"enum\",\"name\":\"Sex\","
    "\"symbols\":[\"MALE\",\"FEMALE\",\"OTHER\"]}},"
    "{\"name\":\"level\",\"type\":\"string\"}]}";

/* Three breaks at once: a removed symbol, a new field without default and
 * a narrowed type. */
static const char *PERSON_V2_BROKEN =
    "{\"type\":\"record\",\"name\":\"Person\",\"namespace\":\"t\","
    "\"fields\":["
    "{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"sex\",\"type\":{\"type\":\"enum\",\"name\":\"Sex\","
    "\"symbols\":[\"MALE\",\"FEMALE\"]}},"
    "{\"name\":\"level\",\"type\":\"int\"},"
    "{\"name\":\"age\",\"type\":\"int\"}]}";

Test(avro_compat, reports_every_problem_with_its_path) {
    char err[2048] = "";
    cr_assert_eq(
        gh_avro_check_backward(PERSON_V1, PERSON_V2_BROKEN, err, sizeof(err)),
        GH_ERR_SCHEMA);
    cr_expect(strstr(err, "Person.sex: writer enum symbol OTHER missing from "
                          "reader enum Sex, which has no default") != NULL,
              "%s", err);
    cr_expect(strstr(err, "Person.level: type changed from string to int") !=
                  NULL,
              "%s", err);
    cr_expect(strstr(err, "Person.age: reader field has no default and the "
                          "writer lacks it") != NULL,
              "%s", err);
    /* The same pair the other way round only loses fields: fine. */
    cr_expect_eq(
        gh_avro_check_backward(PERSON_V2_BROKEN, PERSON_V1, err, sizeof(err)),
        GH_ERR_SCHEMA, "string -> int narrowing both ways");
    cr_expect(strstr(err, "Person.level: type changed from int to string") !=
                  NULL,
              "%s", err);
    cr_expect(strstr(err, "Person.age") == NULL, "%s", err);
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

Test(avro_compat, recursive_record_checked_once) {
    const char *w = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                    "{\"name\":\"v\",\"type\":\"int\"},"
                    "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]},"
                    "{\"name\":\"kids\",\"type\":{\"type\":\"array\","
                    "\"items\":\"Node\"}}]}";
    const char *r = "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["
                    "{\"name\":\"v\",\"type\":\"int\"},"
                    "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]},"
                    "{\"name\":\"kids\",\"type\":{\"type\":\"array\","
                    "\"items\":\"Node\"}},"
                    "{\"name\":\"tag\",\"type\":\"string\"}]}";
    char err[1024] = "";
    cr_assert_eq(gh_avro_check_backward(w, r, err, sizeof(err)), GH_ERR_SCHEMA);
    cr_expect_eq(count(err, "reader field has no default"), 1, "%s", err);
    cr_expect(strstr(err, "Node.tag:") != NULL, "%s", err);
    cr_expect_eq(gh_avro_check_backward(w, w, err, sizeof(err)), GH_OK, "%s",
                 err);
}

Test(avro_compat, unparsable_schema_names_its_side) {
    char err[512] = "";
    cr_expect_eq(
        gh_avro_check_backward("{not json", PERSON_V1, err, sizeof(err)),
        GH_ERR_PARSE);
    cr_expect(strncmp(err, "writer schema:", 14) == 0, "%s", err);
    const char *undefined = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                            "{\"name\":\"x\",\"type\":\"Missing\"}]}";
    cr_expect_eq(gh_avro_check_backward(PERSON_V1, undefined, err, sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_expect(strncmp(err, "reader schema:", 14) == 0, "%s", err);
    cr_expect(strstr(err, "Missing") != NULL, "%s", err);
}

Test(avro_compat, full_says_which_direction) {
    const char *a = "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}";
    const char *b =
        "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}";
    char err[1024] = "";
    cr_expect_eq(gh_avro_check_backward(a, b, err, sizeof(err)), GH_OK, "%s",
                 err);
    cr_assert_eq(gh_avro_check_full(a, b, err, sizeof(err)), GH_ERR_SCHEMA);
    cr_expect(strstr(err, "forward (old reads new): E: writer enum symbol B") !=
                  NULL,
              "%s", err);
    cr_expect(strstr(err, "backward") == NULL, "%s", err);
    cr_assert_eq(gh_avro_check_full(b, a, err, sizeof(err)), GH_ERR_SCHEMA);
    cr_expect(strstr(err, "backward (new reads old)") != NULL, "%s", err);
    cr_expect_eq(gh_avro_check_full(a, a, err, sizeof(err)), GH_OK, "%s", err);
}

/* ---- Schema directories -------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir) {
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fputs(text, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
}

static void copy_avsc(const char *from, const char *to) {
    DIR *d = opendir(from);
    cr_assert_not_null(d, "cannot open %s", from);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 5 || strcmp(e->d_name + n - 5, ".avsc") != 0) continue;
        char *src = gh_xasprintf("%s/%s", from, e->d_name);
        char *dst = gh_xasprintf("%s/%s", to, e->d_name);
        char *text = gh_read_file(src, NULL);
        cr_assert_not_null(text, "cannot read %s", src);
        write_file(dst, text);
        free(text);
        free(src);
        free(dst);
    }
    closedir(d);
}

/* A fresh copy of schemas/ (current files and history) in a temporary
 * directory; the caller removes it with rm_tree and frees the name. */
static char *copy_schemas(void) {
    const char *tmp = getenv("TMPDIR");
    char *dir = gh_xasprintf("%s/gh-compat-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
    char *hist = gh_xasprintf("%s/history", dir);
    cr_assert_eq(mkdir(hist, 0700), 0);
    copy_avsc(SCHEMAS, dir);
    copy_avsc(SCHEMAS "/history", hist);
    free(hist);
    return dir;
}

/* Replaces the one occurrence of `from` in <dir>/<file> with `to`. */
static void edit(const char *dir, const char *file, const char *from,
                 const char *to) {
    char *path = gh_xasprintf("%s/%s", dir, file);
    char *text = gh_read_file(path, NULL);
    cr_assert_not_null(text, "cannot read %s", path);
    char *at = strstr(text, from);
    cr_assert_not_null(at, "%s does not contain %s", path, from);
    cr_assert_null(strstr(at + 1, from), "%s contains %s twice", path, from);
    *at = '\0';
    char *out = gh_xasprintf("%s%s%s", text, to, at + strlen(from));
    write_file(path, out);
    free(out);
    free(text);
    free(path);
}

Test(avro_compat, project_schemas_evolve_backward_compatibly) {
    /* The project's policy (schemas/README.md): every .avsc is BACKWARD
     * compatible with its previous version, and every named type is
     * defined in one current file. */
    char err[8192] = "";
    cr_expect_eq(gh_schemas_check_history(SCHEMAS, err, sizeof(err)), GH_OK,
                 "%s", err);
    cr_expect_eq(gh_schemas_check_history(GH_TEST_DATA_DIR "/avro/evolve/v2",
                                          err, sizeof(err)),
                 GH_OK, "%s", err);
}

Test(avro_compat, history_check_on_the_copy_passes_unchanged) {
    char *dir = copy_schemas();
    char err[8192] = "";
    cr_expect_eq(gh_schemas_check_history(dir, err, sizeof(err)), GH_OK, "%s",
                 err);
    rm_tree(dir);
    free(dir);
}

Test(avro_compat, history_check_catches_field_without_default) {
    char *dir = copy_schemas();
    /* ethnicity is new in v2: without its default, v1 data cannot be read. */
    edit(dir, "person.avsc",
         "\"name\": \"ethnicity\", \"type\": [\"null\", \"string\"], "
         "\"default\": null, ",
         "\"name\": \"ethnicity\", \"type\": [\"null\", \"string\"], ");
    char err[8192] = "";
    cr_expect_eq(gh_schemas_check_history(dir, err, sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_expect(strstr(err, "1 schema evolution problem in ") != NULL, "%s", err);
    cr_expect(strstr(err,
                     "person.avsc cannot read data written with "
                     "history/person.v1.avsc: Person.ethnicity: reader "
                     "field has no default and the writer lacks it") != NULL,
              "%s", err);
    rm_tree(dir);
    free(dir);
}

Test(avro_compat, history_check_catches_type_change) {
    char *dir = copy_schemas();
    edit(dir, "person.avsc",
         "{\"name\": \"remark\", \"type\": [\"null\", \"string\"]",
         "{\"name\": \"remark\", \"type\": [\"null\", \"int\"]");
    char err[8192] = "";
    cr_expect_eq(gh_schemas_check_history(dir, err, sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_expect(strstr(err, "Person.remark: writer union branch string matches "
                          "no branch of the reader union [null, int]") != NULL,
              "%s", err);
    rm_tree(dir);
    free(dir);
}

Test(avro_compat, history_check_reports_every_problem) {
    char *dir = copy_schemas();
    edit(dir, "person.avsc",
         "\"name\": \"ethnicity\", \"type\": [\"null\", \"string\"], "
         "\"default\": null, ",
         "\"name\": \"ethnicity\", \"type\": [\"null\", \"string\"], ");
    /* A second current file defining person.avsc's enum. */
    char *path = gh_xasprintf("%s/sex.avsc", dir);
    write_file(path, "{\"type\":\"enum\",\"name\":\"Sex\",\"namespace\":"
                     "\"gridhub.canonical\",\"symbols\":[\"MALE\",\"FEMALE\","
                     "\"UNKNOWN\"]}");
    free(path);
    /* A history without its current file, and a misnamed history file. */
    path = gh_xasprintf("%s/history/ghost.v1.avsc", dir);
    write_file(path, "{\"type\":\"record\",\"name\":\"Ghost\",\"fields\":[]}");
    free(path);
    path = gh_xasprintf("%s/history/person-old.avsc", dir);
    write_file(path, "\"string\"");
    free(path);

    char err[16384] = "";
    cr_expect_eq(gh_schemas_check_history(dir, err, sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_expect(strstr(err, "4 schema evolution problems in ") != NULL, "%s",
              err);
    cr_expect(strstr(err, "Person.ethnicity: reader field has no default") !=
                  NULL,
              "%s", err);
    cr_expect(strstr(err, "person.avsc and sex.avsc both define "
                          "gridhub.canonical.Sex") != NULL,
              "%s", err);
    cr_expect(strstr(err, "history/ghost.v1.avsc has no current version "
                          "ghost.avsc") != NULL,
              "%s", err);
    cr_expect(strstr(err, "history/person-old.avsc: a history file is named "
                          "<name>.v<N>.avsc") != NULL,
              "%s", err);
    rm_tree(dir);
    free(dir);
}

Test(avro_compat, history_check_catches_gap_in_versions) {
    char *dir = copy_schemas();
    char *from = gh_xasprintf("%s/person.avsc", dir);
    char *text = gh_read_file(from, NULL);
    cr_assert_not_null(text);
    char *to = gh_xasprintf("%s/history/person.v3.avsc", dir);
    write_file(to, text);
    char err[8192] = "";
    cr_expect_eq(gh_schemas_check_history(dir, err, sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_expect(strstr(err, "history/person.v2.avsc is missing") != NULL, "%s",
              err);
    cr_expect(strstr(err, "1 schema evolution problem in") != NULL, "%s", err);
    free(text);
    free(from);
    free(to);
    rm_tree(dir);
    free(dir);
}

/* v1 -> v2 and v2 -> current are each compatible, but the current version
 * cannot read v1's data, which it has to: the check is transitive. */
Test(avro_compat, history_check_is_transitive_to_the_current_version) {
    const char *tmp = getenv("TMPDIR");
    char *dir = gh_xasprintf("%s/gh-compat-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(dir));
    char *p = gh_xasprintf("%s/history", dir);
    cr_assert_eq(mkdir(p, 0700), 0);
    free(p);
    p = gh_xasprintf("%s/history/w.v1.avsc", dir);
    write_file(p, "{\"type\":\"record\",\"name\":\"W\",\"fields\":["
                  "{\"name\":\"x\",\"type\":\"string\"}]}");
    free(p);
    p = gh_xasprintf("%s/history/w.v2.avsc", dir);
    write_file(p, "{\"type\":\"record\",\"name\":\"W\",\"fields\":[]}");
    free(p);
    p = gh_xasprintf("%s/w.avsc", dir);
    write_file(p, "{\"type\":\"record\",\"name\":\"W\",\"fields\":["
                  "{\"name\":\"x\",\"type\":\"int\",\"default\":0}]}");
    free(p);
    char err[4096] = "";
    cr_expect_eq(gh_schemas_check_history(dir, err, sizeof(err)),
                 GH_ERR_SCHEMA);
    cr_expect(strstr(err, "1 schema evolution problem in") != NULL, "%s", err);
    cr_expect(strstr(err, "w.avsc (the current version) cannot read data "
                          "written with history/w.v1.avsc: W.x: type changed "
                          "from string to int") != NULL,
              "%s", err);
    rm_tree(dir);
    free(dir);
}

Test(avro_compat, history_check_needs_a_directory) {
    char err[512] = "";
    cr_expect_eq(gh_schemas_check_history(GH_TEST_DATA_DIR "/no/such/dir", err,
                                          sizeof(err)),
                 GH_ERR_IO);
    cr_expect(strstr(err, "no/such/dir") != NULL, "%s", err);
}
