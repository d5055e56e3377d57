/*
 * Survivorship: the golden value of each field of a person, chosen among
 * the person's source records by a configured department trust order per
 * field (`survivorship.<field>=gongan,zongzhi,...`), then recency (the
 * department's own update time, else the change position), then the
 * oldest record. A steward's chosen value wins over all of them. Every
 * golden value keeps its provenance: department, source key, time.
 */
#ifndef GH_HUB_GOLDEN_H
#define GH_HUB_GOLDEN_H

#include <stdint.h>

#include "gridhub/conf.h"

/* Golden fields, in view-schema order. */
enum {
    GH_GOLDEN_ID,
    GH_GOLDEN_NAME,
    GH_GOLDEN_SEX,
    GH_GOLDEN_BIRTH,
    GH_GOLDEN_PHONE,
    GH_GOLDEN_ADDRESS,
    GH_GOLDEN_GRID,
    GH_GOLDEN_NFIELDS
};

/* "id_number", "name", "sex", "birth_date", "phone", "address",
 * "grid_code"; -1 from gh_golden_field_index for another name. */
const char *gh_golden_field_name(int f);
int gh_golden_field_index(const char *name);

/* The survivorship.* entries for a component's property table. */
extern const gh_conf_prop_t gh_golden_conf_props[];
#define GH_GOLDEN_CONF_PROPS GH_CONF_INCLUDE_TABLE(gh_golden_conf_props)

/* One source record's candidate values (borrowed strings, NULL = none). */
typedef struct gh_golden_src {
    const char *department;
    const char *source_key;
    const char *value[GH_GOLDEN_NFIELDS];
    int64_t updated_us; /* department's update time, or INT64_MIN */
    int64_t position;   /* change position (tie-break for recency) */
    int64_t rec_id;     /* oldest first on a full tie */
} gh_golden_src_t;

/* The chosen value of one field: index into the sources, or -1 for none;
 * -2 when a steward override supplied it. */
typedef struct gh_golden_pick {
    int src[GH_GOLDEN_NFIELDS];
} gh_golden_pick_t;

typedef struct gh_golden gh_golden_t;

/* Reads the survivorship.* properties of `conf` (NULL: defaults). Never
 * NULL (aborts on out of memory). */
gh_golden_t *gh_golden_new(const gh_conf_t *conf);
void gh_golden_destroy(gh_golden_t *g);

/* Picks per field among `n` sources; overrides[f] non-NULL means a
 * steward's value for field f (pick -2). */
void gh_golden_choose(const gh_golden_t *g, const gh_golden_src_t *srcs, int n,
                      const char *const *overrides, gh_golden_pick_t *out);

/* Non-zero if a department other than the chosen one holds a different,
 * more recent value of field f: survivorship preferred a trusted but
 * possibly stale source, which a steward should confirm. */
int gh_golden_conflict(const gh_golden_t *g, const gh_golden_src_t *srcs, int n,
                       const gh_golden_pick_t *pick, int f);

#endif
