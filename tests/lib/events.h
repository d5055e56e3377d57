/*
 * Accessors for the JSON lines `gridhub tail` prints (see gh_test_tail):
 * {"topic", "partition", "offset", "key", "headers", "schema", "value"},
 * where a change event's value is {"op", "before", "after", "source", "ts"}.
 * Returned pointers are borrowed from the line.
 */
#ifndef GH_TEST_EVENTS_H
#define GH_TEST_EVENTS_H

#include <jansson.h>

const json_t *gh_test_ev_value(const json_t *line);
const char *gh_test_ev_key(const json_t *line);
/* A null value: the tombstone that follows a delete. */
int gh_test_ev_is_tombstone(const json_t *line);
const char *gh_test_ev_op(const json_t *line);
const json_t *gh_test_ev_source(const json_t *line);
const char *gh_test_ev_source_str(const json_t *line, const char *field);
/* Fails the test if source.<field> is not an integer. */
json_int_t gh_test_ev_source_int(const json_t *line, const char *field);

/* Compact, key-sorted JSON for messages; "(none)" for NULL. Caller frees. */
char *gh_test_json_dump(const json_t *j);

#endif
