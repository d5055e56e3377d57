/*
 * PostgreSQL COPY text format (one row per PQgetCopyData call): fields
 * separated by tab, \N for NULL, backslash escapes. Used by the snapshot,
 * which COPYs far faster than it could SELECT row by row.
 */
#ifndef GH_COPY_TEXT_H
#define GH_COPY_TEXT_H

#include <stddef.h>

#include "pgoutput.h"

/* Splits `line` (len bytes, a trailing newline allowed) in place into
 * exactly ncols values, unescaping; vals point into `line`. Returns 0, or
 * -1 if the column count differs. */
int gh_copy_text_split(char *line, size_t len, gh_pgo_value_t *vals, int ncols);

#endif
