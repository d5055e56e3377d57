/* Internals shared by the grid reports (grid_report.c, household.c,
 * building.c). */
#ifndef GH_HUB_GRID_INT_H
#define GH_HUB_GRID_INT_H

#include <libpq-fe.h>

/* A result value for printing: "-" for NULL. Borrowed from r. */
const char *gh__grid_val(PGresult *r, int row, int col);

#endif
