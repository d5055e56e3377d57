#include "oracle.h"
#include "policy.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "gridhub/util.h"
#include "pipeline.h"

/* ---- the oracle: expected persons from the department table -------------
 */

/* Expected golden persons keyed by match key ("id:<id>" or "src:<rkbh>"),
 * each {id_number, name, sex, birth_date, phone, address, grid_code,
 * sources: [rkbh...] sorted}; plus rkbh -> match key in *row_mk. */
static json_t *expected_persons(PGconn *dept, json_t **row_mk) {
    PGresult *r = PQexec(
        dept,
        "SELECT rkbh, nullif(btrim(xm), ''), btrim(gmsfhm), CASE btrim(xb) "
        "WHEN '1' THEN 'MALE' WHEN '2' THEN 'FEMALE' WHEN '0' THEN 'UNKNOWN' "
        "WHEN '9' THEN 'UNKNOWN' END, csrq::text, nullif(btrim(lxdh), ''), "
        "nullif(jzdz, ''), nullif(wgbm, '') FROM zz_syrk ORDER BY gxsj, rkbh");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s",
                 PQerrorMessage(dept));
    static const char *const fields[] = {"name",  "sex",     "birth_date",
                                         "phone", "address", "grid_code"};
    static const int cols[] = {1, 3, 4, 5, 6, 7};
    json_t *exp = json_object();
    *row_mk = json_object();
    for (int i = 0; i < PQntuples(r); i++) { /* oldest change first */
        const char *rkbh = PQgetvalue(r, i, 0);
        char id[19], mk[128];
        int valid =
            !PQgetisnull(r, i, 2) && gh_test_norm_id(PQgetvalue(r, i, 2), id);
        snprintf(mk, sizeof(mk), valid ? "id:%s" : "src:%s", valid ? id : rkbh);
        json_t *p = json_object_get(exp, mk);
        if (!p) {
            p = json_pack("{s:o, s:[]}", "id_number",
                          valid ? json_string(id) : json_null(), "sources");
            for (size_t f = 0; f < 6; f++)
                json_object_set_new(p, fields[f], json_null());
            json_object_set_new(exp, mk, p);
        }
        for (size_t f = 0; f < 6; f++) /* the most recent non-null wins */
            if (!PQgetisnull(r, i, cols[f]))
                json_object_set_new(p, fields[f],
                                    json_string(PQgetvalue(r, i, cols[f])));
        json_array_append_new(json_object_get(p, "sources"), json_string(rkbh));
        json_object_set_new(*row_mk, rkbh, json_string(mk));
    }
    PQclear(r);
    return exp;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *gh_test_sorted_keys(const json_t *arr) {
    size_t n = json_array_size(arr);
    const char **k = gh_xcalloc(n + 1, sizeof(*k));
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        k[i] = json_is_string(e)
                   ? json_string_value(e)
                   : json_string_value(json_object_get(e, "source_key"));
        cr_assert_not_null(k[i], "bad source entry");
    }
    qsort(k, n, sizeof(*k), cmp_str);
    gh_buf_t b = {0};
    gh_buf_puts(&b, "");
    for (size_t i = 0; i < n; i++)
        gh_buf_printf(&b, "%s%s", i ? "," : "", k[i]);
    free(k);
    return gh_buf_detach(&b);
}

static int json_str_eq(const json_t *a, const json_t *b) {
    if (json_is_null(a) || !a) return json_is_null(b) || !b;
    return json_is_string(b) &&
           strcmp(json_string_value(a), json_string_value(b)) == 0;
}

/* Asserts that the folded view holds exactly the expected persons of the
 * department table. Returns rkbh -> person_id (new reference). */
json_t *gh_test_check_view_equals_dept(gh_test_stack_t *s, const json_t *fold) {
    json_t *row_mk = NULL;
    json_t *exp = expected_persons(s->dept, &row_mk);
    json_t *matched = json_object();
    json_t *row_pid = json_object();
    const char *pid;
    json_t *v;
    json_object_foreach((json_t *)fold, pid, v) {
        const json_t *srcs = json_object_get(v, "sources");
        cr_assert(json_array_size(srcs) > 0, "person %s has no sources: %s",
                  pid, json_dumps(v, JSON_COMPACT));
        size_t i;
        const json_t *e;
        json_array_foreach(srcs, i, e) cr_assert_str_eq(
            json_string_value(json_object_get(e, "department")), "test");
        const char *first = json_string_value(
            json_object_get(json_array_get(srcs, 0), "source_key"));
        const char *mk = json_string_value(json_object_get(row_mk, first));
        cr_assert_not_null(mk,
                           "view person %s is of row %s, which is not in the "
                           "department table (should have been tombstoned)",
                           pid, first);
        cr_assert_null(json_object_get(matched, mk),
                       "two view persons (%s, %s) for match key %s", pid,
                       json_string_value(json_object_get(matched, mk)), mk);
        json_object_set_new(matched, mk, json_string(pid));
        const json_t *x = json_object_get(exp, mk);
        cr_assert_str_eq(json_string_value(json_object_get(v, "person_id")),
                         pid);
        char *got_src = gh_test_sorted_keys(srcs);
        char *want_src = gh_test_sorted_keys(json_object_get(x, "sources"));
        cr_assert_str_eq(got_src, want_src, "sources of person %s (%s)", pid,
                         mk);
        free(got_src);
        free(want_src);
        static const char *const fields[] = {"id_number",  "name",  "sex",
                                             "birth_date", "phone", "address",
                                             "grid_code"};
        for (size_t f = 0; f < 7; f++) {
            const json_t *got = json_object_get(v, fields[f]);
            const json_t *want = json_object_get(x, fields[f]);
            cr_assert(json_str_eq(want, got),
                      "person %s (%s): %s is %s, department says %s", pid, mk,
                      fields[f], json_dumps(got, JSON_ENCODE_ANY),
                      json_dumps(want, JSON_ENCODE_ANY));
        }
        const char *idn = json_string_value(json_object_get(v, "id_number"));
        if (idn) cr_assert_eq(strlen(idn), 18, "id_number %s", idn);
        cr_assert(json_integer_value(json_object_get(v, "version")) >= 1);
        json_array_foreach(srcs, i, e) json_object_set_new(
            row_pid, json_string_value(json_object_get(e, "source_key")),
            json_string(pid));
    }
    cr_assert_eq(json_object_size(matched), json_object_size(exp),
                 "the view holds %zu persons, the department table %zu",
                 json_object_size(matched), json_object_size(exp));
    json_decref(exp);
    json_decref(row_mk);
    json_decref(matched);
    return row_pid;
}

/* Asserts the view's message headers agree with their values, and that no
 * (person_id, version) was ever published with two different contents.
 * Returns how many messages repeated an earlier one. */
int gh_test_check_view_lines(const json_t *lines) {
    int dups = 0;
    json_t *seen = json_object();
    size_t i;
    const json_t *l;
    json_array_foreach(lines, i, l) {
        const char *key = json_string_value(json_object_get(l, "key"));
        cr_assert_not_null(key, "view message without a key");
        const json_t *h = json_object_get(l, "headers");
        const char *ver =
            json_string_value(json_object_get(h, "gh.person.version"));
        cr_assert_not_null(ver, "view message without gh.person.version");
        cr_assert_not_null(json_object_get(h, "gh.outbox.id"),
                           "view message without gh.outbox.id");
        cr_assert_null(json_object_get(l, "error"),
                       "undecodable view "
                       "message: %s",
                       json_dumps(l, JSON_COMPACT));
        const json_t *v = json_object_get(l, "value");
        if (v && !json_is_null(v)) {
            /* The key is the person's pseudonym for "test", computed here
             * independently of the hub. */
            char pseudo[33];
            gh_test_pseudonym(
                "test", "person",
                json_string_value(json_object_get(v, "person_id")), pseudo);
            cr_assert_str_eq(
                key, pseudo, "key of %s",
                json_string_value(json_object_get(v, "person_id")));
            cr_assert_eq(json_integer_value(json_object_get(v, "version")),
                         atoll(ver), "header version %s, value %s", ver,
                         json_dumps(v, JSON_COMPACT));
        }
        char k[256];
        snprintf(k, sizeof(k), "%s@%s", key, ver);
        json_t *prev = json_object_get(seen, k);
        if (prev && ++dups)
            cr_assert(json_equal(prev, v ? (json_t *)v : json_null()),
                      "person %s version %s published twice with different "
                      "contents:\n%s\n%s",
                      key, ver,
                      json_dumps(prev, JSON_COMPACT | JSON_ENCODE_ANY),
                      json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY));
        else
            json_object_set(seen, k, v ? (json_t *)v : json_null());
    }
    json_decref(seen);
    return dups;
}
