/* Internals shared by the per-event (apply.c) and set-based
 * (apply_batch.c) paths of applying person change events. */
#ifndef GH_HUB_APPLY_INT_H
#define GH_HUB_APPLY_INT_H

#include <avro.h>
#include <jansson.h>
#include <stdint.h>

#include "apply.h"
#include "gridhub/norm.h"

struct gh_apply {
    PGconn *db;
    gh_resolver_t *resolver;
    const gh_schemas_t *schemas; /* entity envelopes, to render rows */
    gh_crypt_t *crypt;           /* the resolver's; NULL: stored in clear */
    int64_t *changed;            /* rec_ids changed in the open batch */
    size_t nchanged, capchanged;
    /* Entities (other than persons) whose rows the open batch changed;
     * "*" after a TRUNCATE, which can touch any. */
    char *touched[16];
    int ntouched;
    /* How each entity's rows are written (apply_row_json.c). */
    struct gh_apply_rowfmt *fmts;
    int nfmts;
};

void gh_apply_rowfmts_free(gh_apply_t *a);

/* After a failed batch: frees the dead-letter reasons and clears the
 * statuses of its n events (nothing of it is kept). */
void gh_apply_forget(int n, int *status, char **why);

/* Notes that the open batch changed rows of `entity`. */
void gh_apply_touch(gh_apply_t *a, const char *entity);

/* The person fields stored per source record, in table-column order. */
enum {
    GH_AF_ID_RAW,
    GH_AF_NAME,
    GH_AF_SEX,
    GH_AF_BIRTH,
    GH_AF_PHONE,
    GH_AF_ADDRESS,
    GH_AF_GRID,
    GH_AF_HOUSEHOLD,
    GH_AF_REMARK,
    GH_AF_UPDATED,
    GH_AF_N
};
/* Canonical field names, GH_AF_* order. */
extern const char *const gh_apply_fields[GH_AF_N];
/* The stored columns of the same fields, as text, for SELECT lists. */
#define GH_APPLY_STORED_COLS                                                   \
    "id_number_raw, name, sex, birth_date::text, phone, address, grid_code, "  \
    "household_key, remark, source_updated_at::text"

/* One change event, parsed. Strings are owned (gh_apply_ev_free). Values
 * are SQL text (dates YYYY-MM-DD, timestamps ISO with zone); NULL = null. */
typedef struct gh_apply_ev {
    char op;                  /* c u r d t */
    char *dept, *table, *key; /* key NULL for 't' */
    int64_t lsn, seq;
    char *val[GH_AF_N];
    unsigned char unchanged[GH_AF_N]; /* TOAST: keep the stored value */
    /* Entity rows (apply_row.c): the row as JSON text (NULL for d and t),
     * and whether it lacks fields the change left Unchanged. */
    char *text;
    int partial;
    int64_t id_key; /* gh_resolver_id_key of the id_number (or head_id_number)
                       field, 0: none,
                       -1: the field is Unchanged */
} gh_apply_ev_t;

/* Parses what every change envelope has: op, source, position and, but
 * for a TRUNCATE, the row's source_key; *row receives the row record
 * (`after`, or `before` for a delete). GH_ERR_SCHEMA with errstr if env is
 * not a change envelope. On error ev holds nothing to free. */
gh_err_t gh_apply_ev_head(avro_value_t *env, gh_apply_ev_t *ev,
                          avro_value_t *row, char *errstr, size_t errstr_size);
/* Parses a person envelope (the head and the person fields). */
gh_err_t gh_apply_ev_parse(avro_value_t *env, gh_apply_ev_t *ev, char *errstr,
                           size_t errstr_size);
void gh_apply_ev_free(gh_apply_ev_t *ev);
/* Renders the row record of a c/u/r event of `entity` into ev->text
 * (sealed where the field's name says; ev->partial and ev->id_key set).
 * -1 with why if the row holds what no database column can (a NUL, bytes
 * that are not UTF-8): the event's fault, a dead letter. */
int gh_apply_row_render(gh_apply_t *a, const char *entity, avro_value_t *row,
                        gh_apply_ev_t *ev, char *why, size_t why_size);
/* Non-zero if a row field's value is the Unchanged branch (TOAST). */
int gh_apply_is_unchanged(avro_value_t *field);

/* Where a key stands while a batch is folded: the position and table of
 * its current state, whether it was stored before the batch, changed by
 * it, deleted now. */
typedef struct gh_apply_pos {
    int64_t lsn, seq;
    const char *table; /* borrowed from the event */
    int exists, dirty, deleted;
} gh_apply_pos_t;

/* Folds event x into p: 0 if x is stale (a TRUNCATE of its table in wm is
 * at or after it, or it is not after p's position: a replay or an older
 * reordered event), else 1 with p moved to x (deleted for a 'd'). */
int gh_apply_advance(gh_apply_pos_t *p, PGresult *wm, const gh_apply_ev_t *x);

/* The truncate watermarks (department, table, lsn, seq), or NULL with
 * errstr set; and whether one makes event ev stale. */
PGresult *gh_apply_read_watermarks(gh_apply_t *a, char *errstr,
                                   size_t errstr_size);
int gh_apply_truncated(PGresult *wm, const gh_apply_ev_t *ev);

/* The person and entity-row halves of gh_apply_batch / gh_apply_event,
 * with the same contracts. */
gh_err_t gh_apply_person_batch(gh_apply_t *a, avro_value_t *envs, int n,
                               int *status, char **why, char *errstr,
                               size_t errstr_size);
gh_err_t gh_apply_person_event(gh_apply_t *a, avro_value_t *env, int *applied,
                               char *errstr, size_t errstr_size);
gh_err_t gh_apply_row_batch(gh_apply_t *a, avro_value_t *envs,
                            const char *const *entity, int n, int *status,
                            char **why, char *errstr, size_t errstr_size);

/* Normalized copies of a record's values, for matching. */
typedef struct gh_apply_norm {
    char idn[19];       /* gh_idnum output */
    char code[8];       /* gh_idnum status as a number */
    const char *valid;  /* idn when valid, else NULL */
    const char *status; /* gh_idnum_status_str */
    const char *sex;    /* "0", "1", "2" */
    char name[GH_NORM_NAME_MAX], pinyin[GH_NORM_PINYIN_MAX];
    char phone[GH_NORM_PHONE_MAX], address[GH_NORM_ADDR_MAX];
} gh_apply_norm_t;

void gh_apply_normalize(char *const *val, gh_apply_norm_t *out);

/* The 24 parameters of a source_person upsert (apply.c's order): replaces
 * the ID numbers, phones and addresses in v by their sealed forms, which
 * go to sealed[] for gh_apply_sealed_free. Nothing with a->crypt NULL. */
#define GH_APPLY_NSEALED 7
void gh_apply_seal(const gh_apply_t *a, const char **v,
                   char *sealed[GH_APPLY_NSEALED]);
void gh_apply_sealed_free(char *sealed[GH_APPLY_NSEALED]);
/* Opens, in place, the sealed ones of the GH_APPLY_STORED_COLS read from
 * column `first` of r on. */
gh_err_t gh_apply_open_stored(const gh_apply_t *a, PGresult *r, int first,
                              char *errstr, size_t errstr_size);
/* The string, or NULL when empty. */
const char *gh_apply_nz(const char *s);

/* Remembers a changed record for the batch's resolution; old_name and
 * old_pinyin (may be NULL) are uncounted from the term frequencies. */
void gh_apply_changed(gh_apply_t *a, int64_t rec_id, const char *old_name,
                      const char *old_pinyin);

/* Applies a TRUNCATE event. */
gh_err_t gh_apply_truncate(gh_apply_t *a, const gh_apply_ev_t *ev, char *errstr,
                           size_t errstr_size);

#endif
