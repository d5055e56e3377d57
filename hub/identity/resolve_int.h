/* Internals of the hub's incremental resolution, shared by resolve*.c:
 * the working set of records, the steps' helpers. */
#ifndef GH_HUB_RESOLVE_INT_H
#define GH_HUB_RESOLVE_INT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "gridhub/util.h"
#include "resolve.h"
#include "gridhub/sqlarr.h"
#include "feed.h"
#include "view.h"

/* Columns of a source record as the resolver reads them. */
#define REC_COLS                                                               \
    "rec_id, department, source_key, person_id, deleted::int, n_name, "        \
    "n_pinyin, n_phone, n_address, id_clean, id_code, sex_code, "              \
    "birth_date - date '1970-01-01', household_key, id_number, name, sex, "    \
    "birth_date::text, phone, address, grid_code, "                            \
    "floor(extract(epoch from source_updated_at) * 1000000)::bigint, "         \
    "pos_lsn, pos_seq"
enum {
    C_REC,
    C_DEPT,
    C_KEY,
    C_PID,
    C_DELETED,
    C_NNAME,
    C_PINYIN,
    C_NPHONE,
    C_NADDR,
    C_IDCLEAN,
    C_IDCODE,
    C_SEX,
    C_BIRTH,
    C_HH,
    C_ID,
    C_NAME,
    C_SEXTXT,
    C_BIRTHTXT,
    C_PHONE,
    C_ADDR,
    C_GRID,
    C_UPDATED,
    C_LSN,
    C_SEQ
};

/* A record of the working set. Strings point into kept PGresults. */
typedef struct wrec {
    int64_t rec_id;
    const char *dept, *key, *old_pid;
    int changed, deleted, member;
    const char *heir; /* person id of a deleted record this one links to */
    int sex_unknown;  /* the department recorded sex as UNKNOWN */
    uint32_t midx;    /* index in the match set */
    int comp;         /* member: cluster (index of its root member) */
    gh_golden_src_t g;
} wrec_t;

struct gh_resolver {
    const gh_conf_t *conf;
    gh_match_model_t *model;
    gh_golden_t *golden;
    gh_feed_t *feed;   /* borrowed; NULL: no views are written */
    gh_crypt_t *crypt; /* the feed's; NULL: personal data in clear */
    int feed_entity;
    gh_view_t *view; /* fills the full person view */
    /* gh_resolver_defer_feed: persons written are kept here (a text[]
     * being built) for gh_resolver_publish_later instead of put at once. */
    int defer_feed;
    gh_sqlarr_t written;
    /* gh_resolver_lock_run: the transaction holds the resolution lock
     * shared, and runs lock their neighbourhoods (resolve_locks.c). */
    int shared;
    long long block_max;
    int apart_max;
    int conflict_field[GH_GOLDEN_NFIELDS];
    /* per run */
    gh_match_set_t *set;
    wrec_t *w;
    size_t nw, capw;
    int64_t *hkeys; /* rec_id -> w index + 1, open addressing */
    uint32_t *hvals;
    size_t hmask;
    PGresult **keep;
    size_t nkeep, capkeep;
    gh_buf_t buf;
};

typedef struct pair {
    int64_t a, b;
} pair_t;

typedef struct fresh {
    int64_t a, b;
    int kind;
    double score;
    char *evidence; /* JSON, review and ID-conflict pairs only */
} fresh_t;

typedef struct comp {
    size_t *mem; /* w indexes, sorted by (department, source_key) */
    size_t n;
    const char *pid; /* final id (borrowed: an old pid or a new-id result) */
    int new_id;
} comp_t;

typedef struct item {
    const char *kind, *pa, *pb, *field;
    int64_t ra, rb;
    double score;
    char *evidence;
} item_t;

/* ---- Neighbourhood locks (resolve_locks.c) */
enum { GH_RES_LOCK_KEYS = 7274010, GH_RES_LOCK_PERSONS = 7274011 };
typedef struct gh__res_lockset {
    int32_t *held; /* sorted */
    size_t nheld, capheld;
    int32_t *want; /* gathered for the next gh__res_lock_take */
    size_t nwant, capwant;
} gh__res_lockset_t;
int32_t gh__res_key_lock_id(int64_t block_key);
int32_t gh__res_person_lock_id(const char *pid);
void gh__res_lock_want(gh__res_lockset_t *s, int32_t id);
/* Locks, in ascending order, what is wanted and not held yet: advisory
 * locks (cls, id) for the rest of the caller's transaction. */
gh_err_t gh__res_lock_take(gh__res_lockset_t *s, PGconn *db, int cls,
                           gh_sqlarr_t *scratch, const char *what, char *errstr,
                           size_t errstr_size);
void gh__res_lock_free(gh__res_lockset_t *s);

/* ---- Working set (resolve_set.c) */
const char *gh__res_val(PGresult *r, int i, int c);
/* Opens, in place, the sealed columns (3, 7, 8) of person rows read as
 * the view reads them. */
gh_err_t gh__res_open_person(gh_resolver_t *r, PGresult *res, char *errstr,
                             size_t errstr_size);
/* Opens, in place, the sealed columns of rows read with REC_COLS. */
gh_err_t gh__res_open_recs(gh_resolver_t *r, PGresult *res, char *errstr,
                           size_t errstr_size);
int64_t gh__res_ival(PGresult *r, int i, int c, int64_t dflt);
void gh__res_keep(gh_resolver_t *r, PGresult *res);
uint64_t gh__res_mix(uint64_t x);
void gh__res_hash_grow(gh_resolver_t *r);
long gh__res_find(const gh_resolver_t *r, int64_t rec_id);
size_t gh__res_add_row(gh_resolver_t *r, PGresult *res, int i, int changed);
const gh_match_rec_t *gh__res_mrec(const gh_resolver_t *r, size_t wi);
void gh__res_reset_run(gh_resolver_t *r);
gh_err_t gh__res_load_rows(gh_resolver_t *r, PGconn *db, const char *sql,
                           const char *param, int changed, const char *what,
                           char *errstr, size_t errstr_size);
/* The first row of `r` (sorted by column 0 in byte order) whose column 0
 * is `key`, or the row where it would be. */
int gh__res_first_row(PGresult *r, const char *key);
int gh__res_cmp_str(const void *x, const void *y);
int gh__res_in_strs(char **v, size_t n, const char *s);
size_t gh__res_uniq_strs(char **v, size_t n);

/* ---- Blocking and scoring (resolve_pairs.c) */
void gh__res_date_text(int32_t d, char out[11]);
const char *gh__res_field_value(const gh_match_rec_t *m, int f, char *tmp);
/* The evidence of a scored pair as JSON: the waterfall of the score and
 * the compared values side by side, ID numbers, phones and addresses
 * sealed under c (caller frees). */
char *gh__res_evidence_json(gh_crypt_t *c, const gh_match_rec_t *a,
                            const gh_match_rec_t *b, gh_match_decision_t d,
                            const gh_match_explain_t *ex);
/* The blinded blocking keys of working record wi, as person_block stores
 * them, into out[16]; how many. */
size_t gh__res_rec_keys(gh_resolver_t *r, size_t wi, int64_t out[16]);
int gh__res_cmp_pair(const void *x, const void *y);
gh_err_t gh__res_block_and_pair(gh_resolver_t *r, PGconn *db, gh_sqlarr_t *a1,
                                gh_sqlarr_t *a2, pair_t **pairs_out,
                                size_t *npairs_out, long long *oversize,
                                char *errstr, size_t errstr_size);

/* ---- Holders' addresses (resolve_lend.c) */
/* The records outside the working set whose address a changed record of
 * it lends or lent (a foreign number without an address of its own, the
 * changed record holding that number): they are scored again, as if they
 * had changed. *out: malloc'd rec ids (caller frees), *nout of them. */
gh_err_t gh__res_borrowers(gh_resolver_t *r, PGconn *db, gh_sqlarr_t *scratch,
                           int64_t **out, size_t *nout, char *errstr,
                           size_t errstr_size);
/* Every live borrower of the working set borrows its number's holders'
 * address from the database, or none (gh_match_set_lend_address). With
 * `lk` (a run under the shared resolution lock; NULL otherwise) the
 * holders' id17 keys are locked first, `lscratch` the statement's. */
gh_err_t gh__res_lend(gh_resolver_t *r, PGconn *db, gh_sqlarr_t *scratch,
                      gh__res_lockset_t *lk, gh_sqlarr_t *lscratch,
                      char *errstr, size_t errstr_size);

/* ---- Person ids (resolve_ids.c) */
int gh__res_cmp_member(const void *x, const void *y, void *ctx);
/* Gives each cluster its person id (see resolve.h, step 4). Fills
 * comps[].pid for clusters that own an old id and returns how many need a
 * new one; retired ids and what absorbed them go to ret/into. */
size_t gh__res_assign_ids(gh_resolver_t *r, comp_t *comps, size_t ncomp,
                          char **touched, size_t ntouched, char **dormant,
                          size_t ndormant, char ***ret, const char ***into,
                          size_t *nret);

/* ---- Golden records and outbox (resolve_out.c) */
void gh__res_person_json(gh_resolver_t *r, const comp_t *c,
                         const gh_golden_pick_t *pk, const char *const *ov,
                         const int64_t *ov_at, const char *absorbed_old,
                         char **ret, const char **into, size_t nret,
                         char **sources, char **prov, char **absorbed);

/* The person upsert of a run, built person by person: its columns. */
#define GH__RES_GOLDEN_COLS 11
typedef struct gh__res_golden {
    gh_sqlarr_t col[GH__RES_GOLDEN_COLS];
} gh__res_golden_t;
void gh__res_golden_begin(gh__res_golden_t *g);
/* Adds the golden record of cluster cp (ovr: steward choices, cur: the
 * persons' absorbed ids, both sorted by person id); attribute conflicts
 * found go to *items. */
void gh__res_golden_add(gh_resolver_t *r, gh__res_golden_t *g, const comp_t *cp,
                        PGresult *ovr, PGresult *cur, char **ret,
                        const char **into, size_t nret, item_t **items,
                        size_t *nitems);
/* Writes the persons; *out (caller keeps/clears) holds the rows of those
 * that changed: for the outbox, or with `ids_only` their person ids alone
 * (to be noted). Frees g's columns. */
gh_err_t gh__res_golden_write(PGconn *db, gh__res_golden_t *g, int ids_only,
                              PGresult **out, char *errstr, size_t errstr_size);
/* Notes that the persons of `res` (column 0) went out at their current
 * version (migration 026), in the caller's transaction; a person another
 * transaction is writing is left (its write gives a new version). For
 * what is published straight from a write (no deferral) and sweeps. */
gh_err_t gh__res_mark_published(PGconn *db, PGresult *res, char *errstr,
                                size_t errstr_size);
/* Hands the feed the person of row i of the person upsert's RETURNING
 * list (the columns of gh_view_fill_row). No-op without a feed. */
gh_err_t gh__res_feed_row(gh_resolver_t *r, PGresult *res, int i, char *errstr,
                          size_t errstr_size);

/* ---- Steward queue (resolve_items.c) */
int gh__res_cmp_item(const void *x, const void *y);
/* Step 10: the open items about the persons of this run become exactly
 * the ones the current state supports: pairs scored for review (or one ID
 * on two people) that sit in two persons not kept apart, and attribute
 * conflicts found by survivorship. */
gh_err_t gh__res_refresh_items(gh_resolver_t *r, PGconn *db,
                               const size_t *members, size_t nm, char **touched,
                               size_t ntouched, char **ret, size_t nret,
                               const comp_t *comps, size_t ncomp,
                               item_t *conflicts, size_t nconflicts,
                               gh_resolve_stats_t *st, char *errstr,
                               size_t errstr_size);

#endif
