#include "events.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#include "gridhub/util.h"

const json_t *gh_test_ev_value(const json_t *line) {
    return json_object_get(line, "value");
}

const char *gh_test_ev_key(const json_t *line) {
    return json_string_value(json_object_get(line, "key"));
}

int gh_test_ev_is_tombstone(const json_t *line) {
    const json_t *v = gh_test_ev_value(line);
    return v && json_is_null(v);
}

const char *gh_test_ev_op(const json_t *line) {
    return json_string_value(json_object_get(gh_test_ev_value(line), "op"));
}

const json_t *gh_test_ev_source(const json_t *line) {
    return json_object_get(gh_test_ev_value(line), "source");
}

const char *gh_test_ev_source_str(const json_t *line, const char *field) {
    return json_string_value(json_object_get(gh_test_ev_source(line), field));
}

json_int_t gh_test_ev_source_int(const json_t *line, const char *field) {
    const json_t *v = json_object_get(gh_test_ev_source(line), field);
    if (!json_is_integer(v)) {
        char *d = gh_test_json_dump(line);
        cr_assert_fail("source.%s is not an integer in %s", field, d);
        free(d);
    }
    return json_integer_value(v);
}

char *gh_test_json_dump(const json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                : NULL;
    return s ? s : gh_xstrdup("(none)");
}
