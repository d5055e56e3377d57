/* Internals shared by the grid reports (grid_report.c, household.c,
 * building.c). */
#ifndef GH_HUB_GRID_INT_H
#define GH_HUB_GRID_INT_H

#include <libpq-fe.h>

#include "grid.h"

/* A result value for printing: "-" for NULL. Borrowed from r. */
const char *gh__grid_val(PGresult *r, int row, int col);

/* The value to fill for a view entity ("grid", "event") and its schema;
 * NULL when the schema set given to gh_grid_use_views lacks it. Borrowed
 * from g. */
avro_value_t *gh__grid_view_value(gh_grid_t *g, const char *entity);
const gh_schema_t *gh__grid_view_schema(gh_grid_t *g, const char *entity);

/* Adds `us` microseconds to step `step` of gh_grid_times. */
void gh__grid_time(gh_grid_t *g, int step, long long us);
/* The attributes' transaction was sent; it is done (step 1 of
 * gh_grid_times: its wall time, beside the caller's other statements). */
void gh__grid_attr_sent(gh_grid_t *g);
void gh__grid_attr_done(gh_grid_t *g);

#endif
