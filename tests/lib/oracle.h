/*
 * The oracle of the pipeline suites: what subscriber "test" must see,
 * computed from the department table (tests/data/dept) independently of
 * the hub — one golden person per normalized resident ID (a person of its
 * own for a row without a valid ID), each field the most recently changed
 * non-null value (gxsj, which every change in these tests sets).
 */
#ifndef GH_TEST_ORACLE_H
#define GH_TEST_ORACLE_H

#include <jansson.h>

#include "stack.h"

/* Asserts that the folded view (gh_test_fold of hub.view.test.person)
 * holds exactly the expected persons of the department table. Returns
 * rkbh -> person_id (new reference). */
json_t *gh_test_check_view_equals_dept(gh_test_stack_t *s, const json_t *fold);

/* Asserts the view's message headers agree with their values, and that no
 * (person_id, version) was ever published with two different contents.
 * Returns how many messages repeated an earlier one. */
int gh_test_check_view_lines(const json_t *lines);

/* "k1,k2,..." sorted, from an array of strings or of {source_key}
 * objects. Caller frees. */
char *gh_test_sorted_keys(const json_t *arr);

#endif
