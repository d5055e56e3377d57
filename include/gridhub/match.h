/*
 * Identity matching: the same engine for `gridhub resolve` (batch) and the
 * hub (incremental).
 *
 *  - gh_match_set_t holds source records, normalized (gridhub/norm.h,
 *    gridhub/idnum.h) and interned in one arena, compact enough for
 *    millions of records.
 *  - gh_match_model_t is a Fellegi-Sunter model: per compared field a few
 *    agreement levels, each with m (P(level | same person)) and u
 *    (P(level | different persons)); the weight of a level is log2(m/u).
 *    m/u come from built-in priors, from EM on the data (no labels), or are
 *    pinned in configuration (`match.pin.m.<field>.<level>`). Name
 *    agreement is adjusted by term frequency, so 王伟 agreeing weighs less
 *    than 欧阳子涵 agreeing.
 *  - Blocking keys bound the candidate pairs; scoring a pair gives a total
 *    weight, a decision (link / review / none, by thresholds) and, on
 *    request, the per-field evidence (the score's waterfall).
 *  - gh_match_cluster() turns links into clusters honouring kept-apart
 *    pairs and forced (manual) links, never joining two valid ID numbers
 *    and leaving a record that fits two of them equally well alone; it is
 *    the only clustering, for the batch and the hub alike.
 *  - gh_match_resolve() does it all for a whole set; gh_match_evaluate()
 *    scores a clustering against a ground truth.
 * The model is described in docs/identity.md.
 *
 * Thread-safety: a model may be read (scored with) from several threads
 * once trained; sets and models are otherwise single-threaded.
 */
#ifndef GRIDHUB_MATCH_H
#define GRIDHUB_MATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gridhub/conf.h"
#include "gridhub/error.h"

#define GH_MATCH_NO_DATE INT32_MIN

/* One source record as it arrives, raw (not yet normalized). Any field may
 * be NULL. Strings are borrowed for the duration of the call they are
 * passed to. */
typedef struct gh_match_raw {
    const char *department;
    const char *source_key;
    const char *name;
    const char *id_number;
    const char *sex;        /* MALE/FEMALE/男/女/1/2/M/F/...; else unknown */
    const char *birth_date; /* YYYY-MM-DD */
    const char *phone;
    const char *address;
    const char *household_key;
} gh_match_raw_t;

/* A record prepared for matching. String members point into the owning
 * set's arena (NULL when absent) and live as long as the set. */
typedef struct gh_match_rec {
    const char *department;
    const char *source_key;
    const char *name;    /* gh_norm_name */
    const char *pinyin;  /* gh_norm_pinyin of name */
    const char *phone;   /* gh_norm_phone */
    const char *address; /* gh_norm_address */
    const char *household_key;
    char id_number[19];      /* canonical 18 chars when id_status is OK or
                                UPGRADED; the cleaned 18 chars for BAD_CHECK;
                                "" otherwise */
    uint8_t id_status;       /* gh_idnum_status_t */
    uint8_t sex;             /* 0 unknown, 1 male, 2 female */
    uint8_t id_foreign;      /* 1: a number (valid, or with only its check
                                character wrong) whose embedded birth date is
                                not the record's (gh_match_fill_from_id): likely
                                another resident's, so never compared, never an
                                anchor */
    uint8_t birth_from_id;   /* 1: the record gave no birth date; birth is
                                its ID number's (gh_match_fill_from_id) */
    uint8_t address_from_id; /* 1: the record gave no address and carries
                                a foreign number; address is the one of
                                the number's holders (gh_match_set_lend_
                                addresses): evidence when it agrees, none
                                when it does not, never a blocking key */
    int32_t birth;           /* days since 1970-01-01, or GH_MATCH_NO_DATE */
} gh_match_rec_t;

typedef struct gh_match_set gh_match_set_t;

/* Never returns NULL (aborts on out of memory). */
gh_match_set_t *gh_match_set_new(void);
/* NULL is a no-op. Invalidates every record pointer of the set. */
void gh_match_set_destroy(gh_match_set_t *set);
/* Normalizes `raw` and appends it; returns its index. When the ID number
 * gives a birth date or sex and the record has none, they are filled from
 * it. An unparsable birth_date is treated as absent. */
size_t gh_match_set_add_raw(gh_match_set_t *set, const gh_match_raw_t *raw);
/* Normalizes `raw` into `out` without adding it anywhere (as
 * gh_match_set_add_raw does before adding), e.g. on worker threads, to be
 * added with gh_match_set_add. out's department, source_key and
 * household_key borrow raw's strings; its other strings point into buf,
 * caller-owned scratch of GH_MATCH_NORM_BUF bytes. Thread-safe once
 * gh_norm_init() has returned. */
#define GH_MATCH_NORM_BUF 1024
void gh_match_normalize(const gh_match_raw_t *raw, gh_match_rec_t *out,
                        char *buf);
/* Fills r's birth date and sex from its ID number where r has none (a
 * valid number, an upgraded legacy one, or one with only its check
 * character wrong: its date passed the date check), and sets
 * r->id_foreign when such a number's embedded birth date disagrees with
 * the record's own beyond the typos the birth levels forgive (not equal,
 * not day/month swapped, not one digit off, not a placeholder, and at
 * least two of the 8 digits differ): a clerk typed a relative's or a
 * neighbour's number (docs/identity.md, "Foreign ID numbers").
 * gh_match_normalize does it; a record normalized elsewhere (the hub's,
 * read back from its database) goes through it too, so that both score
 * the same record the same way. */
void gh_match_fill_from_id(gh_match_rec_t *r);
/* Where a foreign number came from. A clerk who types another resident's
 * number mostly types a relative's, and the relative mostly lives in the
 * same flat (计生's rosters list a family together, without addresses). So
 * a record with a foreign number and no address of its own borrows the
 * address of the number's holders: the records whose own valid number
 * (GH_IDNUM_OK, not foreign) has the same first 17 characters and which
 * give an address; of several, the smallest in byte order, so that the
 * choice depends on the records and not on their order. The borrowed
 * address only ever agrees (level 2 at best) or says nothing
 * (docs/identity.md, "Foreign ID numbers"). */
/* 1 if r would borrow an address: id_foreign, no address of its own. */
int gh_match_borrows_address(const gh_match_rec_t *r);
/* 1 if h holds the number borrower r carries (and has an address). */
int gh_match_holds_number(const gh_match_rec_t *h, const gh_match_rec_t *r);
/* Record i borrows `address` (copied into the arena; NULL gives the
 * record its own again: none). The hub's resolver calls it with what it
 * found in its database. */
void gh_match_set_lend_address(gh_match_set_t *set, size_t i,
                               const char *address);
/* The batch's lending: every borrower of the set gets the address of its
 * number's holders in the set, or none. gh_match_resolve does it; call it
 * also before training on a set. Returns the number of records that
 * borrowed one. */
size_t gh_match_set_lend_addresses(gh_match_set_t *set);
/* Appends an already normalized record (e.g. read back from the hub
 * database): its strings are copied into the arena. Returns its index. */
size_t gh_match_set_add(gh_match_set_t *set, const gh_match_rec_t *rec);
size_t gh_match_set_count(const gh_match_set_t *set);
/* Borrowed; valid until the next add (the array may move) or destroy. */
const gh_match_rec_t *gh_match_set_get(const gh_match_set_t *set, size_t i);
/* Empties the set, keeping its memory for reuse. */
void gh_match_set_clear(gh_match_set_t *set);

/* Compared fields and their agreement levels. Level 0 of every field means
 * "cannot compare" (a value missing on either side) and weighs 0. */
typedef enum gh_match_field {
    GH_MATCH_F_ID = 0,  /* 1 equal, 2 first 17 equal (bad check), 3 one
                           digit off (one substitution or adjacent swap
                           over the 18 characters, at least one number
                           failing the check), 4 another area code (both
                           valid, characters 7..17 equal), 5 differ;
                           0 also when either number is id_foreign */
    GH_MATCH_F_NAME,    /* 1 equal, 2 same pinyin, 3 fuzzy pinyin (n/l,
                           r/l, f/h, an/ang merged too), 4 one character
                           differs, 5 differ */
    GH_MATCH_F_BIRTH,   /* 1 equal, 2 day/month swapped, 3 one digit off
                           (one substitution in YYYYMMDD, or the year one
                           off with month and day equal), 4 placeholder on
                           one side (YYYY-01-01 with the same year, or the
                           1st of the month with the same year and month),
                           5 same year, 6 differ */
    GH_MATCH_F_SEX,     /* 1 equal, 2 differ */
    GH_MATCH_F_PHONE,   /* 1 equal, 2 one digit off, 3 differ */
    GH_MATCH_F_ADDRESS, /* 1 equal, 2 same building/unit/room, 3 similar
                           (Jaro-Winkler >= 0.9), 4 differ */
    GH_MATCH_F__COUNT
} gh_match_field_t;

#define GH_MATCH_MAX_LEVELS 7

/* Jaro-Winkler similarity (0..1) of two UTF-8 strings, computed on code
 * points (so one Chinese character is one character); NULL gives 0. */
double gh_match_jaro_winkler(const char *a, const char *b);

/* "id", "name", "birth", "sex", "phone", "address". */
const char *gh_match_field_name(gh_match_field_t f);
/* Number of levels of a field including level 0. */
int gh_match_field_levels(gh_match_field_t f);
/* Short English name of a level, e.g. "same pinyin"; static. */
const char *gh_match_level_name(gh_match_field_t f, int level);

typedef enum gh_match_decision {
    GH_MATCH_NONE = 0,        /* different persons */
    GH_MATCH_REVIEW = 1,      /* between the thresholds: a steward decides */
    GH_MATCH_LINK = 2,        /* probabilistic link (score >= link threshold) */
    GH_MATCH_LINK_ID = 3,     /* deterministic: valid, agreeing ID numbers */
    GH_MATCH_ID_CONFLICT = 4, /* valid, agreeing ID numbers but the rest
                                 says different persons (one ID used by two
                                 people): not linked, a steward decides */
    GH_MATCH_TWO_IDS = 5,     /* two different valid ID numbers, but the
                                 rest scores a link: one person with two
                                 numbers (一人多号) or two people (twins);
                                 not linked, a steward decides */
} gh_match_decision_t;

/* "none", "review", "link", "link-id", "id-conflict", "two-ids". */
const char *gh_match_decision_name(gh_match_decision_t d);

/* The evidence of one scored pair. */
typedef struct gh_match_explain {
    double prior;                     /* log2(lambda / (1 - lambda)) */
    int level[GH_MATCH_F__COUNT];     /* agreement level per field */
    double weight[GH_MATCH_F__COUNT]; /* log2(m/u), TF-adjusted */
    double total;                     /* prior + sum of weights */
    double probability;               /* 2^total / (1 + 2^total) */
} gh_match_explain_t;

typedef struct gh_match_model gh_match_model_t;

/* Configuration properties of the model, for a component's table: the
 * thresholds, EM settings, blocking limits and pins:
 *   match.link.threshold, match.review.threshold (log2 weights),
 *   match.em.max.pairs, match.em.iterations, match.tf.enabled,
 *   match.block.max.size, match.pin. (prefix: match.pin.m.<field>.<level>
 *   and match.pin.u.<field>.<level> = probability; match.pin.lambda;
 *   match.pin.u.household, the probability that two different persons'
 *   records share both phone and address)
 * Use as `GH_MATCH_CONF_PROPS,` inside a gh_conf_prop_t table: it splices
 * in gh_match_conf_props[] (GH_MATCH_CONF_NPROPS entries, then
 * GH_CONF_END). */
extern const gh_conf_prop_t gh_match_conf_props[];
#define GH_MATCH_CONF_NPROPS 7
#define GH_MATCH_CONF_PROPS GH_CONF_INCLUDE_TABLE(gh_match_conf_props)

/* A model with the built-in priors, configured from `conf` (which must hold
 * the GH_MATCH_CONF_PROPS; NULL = all defaults). Pinned values are applied
 * and are never changed by EM. Returns NULL with errstr on a bad pin. */
gh_match_model_t *gh_match_model_new(const gh_conf_t *conf, char *errstr,
                                     size_t errstr_size);
void gh_match_model_destroy(gh_match_model_t *m);

/* Term frequencies: count (delta +1) or uncount (-1) a record's name and
 * pinyin (exact name agreement is weighed by the name's frequency, same
 * pinyin by the pinyin's). The model keeps its own copies of the strings.
 * Training does not count: the caller counts every record it scores
 * against (gridhub resolve counts the whole input). */
void gh_match_model_tf_add(gh_match_model_t *m, const gh_match_rec_t *r,
                           int delta);

/* Estimates u from `set` (value frequencies and random pairs) and m and
 * lambda by EM over its blocked candidate pairs, one session per blocking
 * key (at most match.em.max.pairs pairs in all; docs/identity.md), leaving
 * pinned values alone. Does not count term frequencies (see
 * gh_match_model_tf_add). Writes one line per iteration to `log` if not
 * NULL. Returns GH_OK, or GH_ERR_INVALID_ARG if the set is too small
 * (fewer than 100 records) to learn from (the model is then unchanged). */
gh_err_t gh_match_model_train(gh_match_model_t *m, const gh_match_set_t *set,
                              FILE *log, char *errstr, size_t errstr_size);
/* The most EM iterations a session of the last training ran (0: no
 * session had enough pairs; m and lambda kept their values), and whether
 * every session converged (largest parameter change below 1e-4). */
int gh_match_model_iterations(const gh_match_model_t *m, int *converged);
double gh_match_model_m(const gh_match_model_t *m, gh_match_field_t f,
                        int level);
double gh_match_model_u(const gh_match_model_t *m, gh_match_field_t f,
                        int level);
double gh_match_model_lambda(const gh_match_model_t *m);
/* Writes the m/u/lambda values as `match.pin.*` properties (loadable as
 * configuration to pin them), with each level's weight as a comment. */
void gh_match_model_write(const gh_match_model_t *m, FILE *out);

/*
 * Compares two records. `ex` may be NULL. The decision:
 *  - both ID numbers valid and equal: LINK_ID, or ID_CONFLICT when the name
 *    differs completely and so does the birth date (beyond the day) or the
 *    sex, or either birth date was taken from the number; when either is
 *    id_foreign the number is not compared, and the pair is ID_CONFLICT
 *    unless the rest scores a link;
 *  - else by total weight: >= match.link.threshold LINK, >= the review
 *    threshold REVIEW, else NONE; but a total above the link threshold
 *    gives TWO_IDS when both ID numbers are valid and different (no typo
 *    passes the check character: two people, or one person with two
 *    numbers), and REVIEW when neither the names sound alike (same or
 *    fuzzy pinyin) nor the first 17 ID characters agree (twins share
 *    everything but the given name).
 * Thread-safe for concurrent readers of one model.
 */
gh_match_decision_t gh_match_score(const gh_match_model_t *m,
                                   const gh_match_rec_t *a,
                                   const gh_match_rec_t *b,
                                   gh_match_explain_t *ex);

/* Blocking keys of a record (64-bit hashes of the key texts): candidates
 * are pairs that share one. Writes at most `max` keys (16 always
 * suffice); returns the number written. */
size_t gh_match_block_keys(const gh_match_rec_t *r, uint64_t *keys, size_t max);
/* The one blocking key of `kind` ("id17", "pinyin+birth", "phone", ...:
 * the names `gridhub resolve` reports) for r, 0 when r lacks its fields or
 * the kind is unknown. Lets a search find the records a key catches (a
 * name with its homophones and traditional forms and a birth date, a
 * phone) the way the matcher pairs them. */
uint64_t gh_match_block_key(const gh_match_rec_t *r, const char *kind);

/* ---- clustering ---------------------------------------------------- */

typedef struct gh_match_edge {
    uint32_t a, b; /* record indexes */
    float score;   /* total weight (gh_match_explain_t.total): orders
                      the unions, and the ambiguity filter compares the
                      scores of rival links, so it must be that scale */
    uint8_t kind;  /* gh_match_decision_t; GH_MATCH_FORCED for a manual
                      merge, which always holds */
} gh_match_edge_t;

#define GH_MATCH_FORCED 100

/* What gh_match_cluster set aside. */
typedef struct gh_match_cluster_stats {
    size_t ambiguous;  /* records without an anchor that link about as well
                          to two different anchors: their links to
                          anchored records were dropped */
    size_t kept_apart; /* non-forced edges refused: they would have put a
                          kept-apart pair, or two different anchors, into
                          one cluster */
} gh_match_cluster_stats_t;

/*
 * The engine's one clustering, used by gh_match_resolve (batch) and by the
 * hub's incremental resolution alike, so both cluster the same edges the
 * same way.
 *
 * Clusters `n` records in two steps:
 *  1. Ambiguity filter (needs anchors): a record without an anchor whose
 *     links (LINK, LINK_ID) to records of two different anchors score
 *     within 2 bits of each other cannot be placed (a 计生 row of a child
 *     without ID that fits two children of one name born the same day):
 *     joining either is a coin toss, joining both would merge two people.
 *     All its links to anchored records are dropped. FORCED edges are never
 *     dropped and are not candidates; neither is a link between a
 *     kept-apart pair (the steward already ruled it out).
 *  2. Union-find: edges of kind LINK, LINK_ID and FORCED join their ends
 *     (FORCED first, then by descending score, ties by record indexes);
 *     a non-forced edge is refused (and counted) when it would put a
 *     kept-apart pair (`apart`, pairs of record indexes) into one cluster
 *     or join two clusters carrying different anchors. Other kinds, and
 *     edges naming a record >= n, are ignored.
 * edges: caller-owned, FILTERED IN PLACE: on return edges[0..*n_edges)
 *   are the edges the clustering saw, the dropped ones removed and the
 *   others in their original order; the rest of the array is unspecified.
 * anchor: NULL (no anchors: step 1 does nothing), or n values: an identity
 *   the record is known to carry, 0 for none; gh_match_anchor() gives the
 *   checked ID number's (two different numbers that both pass the check
 *   character are two people unless a steward merges them). Not
 *   modified.
 * cluster_of: OUT, caller-owned array of n; receives for each record the
 *   smallest record index of its cluster.
 * st: OUT, may be NULL.
 * cluster_of and st do not depend on the order of the edges.
 */
void gh_match_cluster(size_t n, gh_match_edge_t *edges, size_t *n_edges,
                      const uint32_t (*apart)[2], size_t n_apart,
                      const uint64_t *anchor, uint32_t *cluster_of,
                      gh_match_cluster_stats_t *st);

/* A record's anchor: a non-zero hash of its ID number when the number
 * passed its own check character (GH_IDNUM_OK: an upgraded 15-digit
 * number had none, so a typo in it is undetectable) and is not
 * id_foreign, else 0. */
uint64_t gh_match_anchor(const gh_match_rec_t *r);

/* ---- batch --------------------------------------------------------- */

typedef struct gh_match_batch_stats {
    size_t records;
    size_t candidate_pairs; /* scored pairs */
    size_t links, links_id, reviews, id_conflicts;
    size_t clusters;
    size_t oversize_blocks; /* blocks skipped for exceeding
                               match.block.max.size */
    size_t ambiguous;      /* records without a valid ID that link about as well
                              to two persons with different valid IDs: left
                              unlinked from both */
    size_t kept_apart;     /* links refused by clustering: they would have
                              joined two different valid IDs */
    size_t two_ids;        /* TWO_IDS pairs (also counted in none of the
                              above) */
    size_t foreign_ids;    /* records whose valid ID number is id_foreign */
    size_t lent_addresses; /* of them, those without an address of their
                              own that borrowed the holder's */
    double block_s, score_s, cluster_s; /* wall-clock seconds per phase */
} gh_match_batch_stats_t;

/* Lend the holders' addresses (gh_match_set_lend_addresses), then block,
 * score and cluster the whole set: cluster_of as for
 * gh_match_cluster (caller-owned array of gh_match_set_count(set)), its
 * links as edges (scored as (float) of the total weight) and valid ID
 * numbers as anchors. Uses up to 8 threads (the online CPUs);
 * the result does not depend on their number. */
gh_err_t gh_match_resolve(const gh_match_model_t *m, gh_match_set_t *set,
                          uint32_t *cluster_of, gh_match_batch_stats_t *st,
                          char *errstr, size_t errstr_size);

/* As gh_match_resolve, and also hands back the steward's queue: every
 * scored pair of kind REVIEW, ID_CONFLICT or TWO_IDS whose records ended
 * in two clusters, as edges in *items (malloc'd, caller frees; NULL when
 * there are none) and their number in *n_items. */
gh_err_t gh_match_resolve_items(const gh_match_model_t *m, gh_match_set_t *set,
                                uint32_t *cluster_of,
                                gh_match_batch_stats_t *st,
                                gh_match_edge_t **items, size_t *n_items,
                                char *errstr, size_t errstr_size);

/* ---- evaluation against ground truth ------------------------------- */

#define GH_MATCH_EVAL_KINDS 32

/* Pairwise accuracy of a clustering: pairs are unordered pairs of records
 * in one cluster (predicted) or of one true person (true). Computed from
 * cluster x person counts, never by listing pairs. */
typedef struct gh_match_eval {
    size_t records; /* records with a truth label (the others are left
                       out) */
    size_t true_clusters, predicted_clusters;
    double true_pairs, predicted_pairs, correct_pairs;
    double precision, recall, f1; /* 1 when the denominator is 0 */
    /* Of the correct pairs, those whose two records carry the same valid
     * ID number (gh_match_evaluate_id; 0 until it is called): the pairs
     * the ID alone decides, since the deterministic rule links them
     * whatever the other fields say. */
    double id_pairs;
    /* Per kind of error (bit k of a record's kinds): records having it,
     * true pairs involving at least one of them, how many of those were
     * found, and the predicted pairs involving one that are wrong. */
    struct {
        size_t records;
        double true_pairs, found_pairs, false_pairs;
        double id_pairs; /* found pairs with one valid ID on both sides */
    } kind[GH_MATCH_EVAL_KINDS];
} gh_match_eval_t;

/* cluster[i]: any cluster label; truth[i]: true-person label or UINT32_MAX
 * when unknown; kinds[i]: bitmask of error kinds, or kinds NULL. */
void gh_match_evaluate(size_t n, const uint32_t *cluster, const uint32_t *truth,
                       const uint32_t *kinds, gh_match_eval_t *out);

/* The record's ID number as a key for gh_match_evaluate_id: 1 + its first
 * 17 digits when it is valid (OK or UPGRADED: the check character then
 * follows from them) and not id_foreign, 0 when it has none, an invalid
 * one or a foreign one. */
uint64_t gh_match_id_key(const gh_match_rec_t *r);

/* Adds to `out` (filled by gh_match_evaluate with the same arrays) the
 * correct pairs whose two records have one non-zero id_key: overall
 * (out->id_pairs) and per kind of error. From (cluster, person, ID)
 * counts, like the rest. */
void gh_match_evaluate_id(size_t n, const uint32_t *cluster,
                          const uint32_t *truth, const uint32_t *kinds,
                          const uint64_t *id_key, gh_match_eval_t *out);

/* True persons split by valid ID numbers: their records sit in clusters
 * carrying two or more different anchors (gh_match_anchor). A steward can
 * join them only when told: `told` counts those with a steward item
 * (items, as gh_match_resolve_items gives them) between two of their
 * records in different clusters. The `kind_` counts are the same for the
 * persons having a record with error bit `kind_bit` (-1: none). */
typedef struct gh_match_split_eval {
    size_t split, told;
    size_t kind_split, kind_told;
} gh_match_split_eval_t;
void gh_match_evaluate_split(size_t n, const uint32_t *cluster,
                             const uint32_t *truth, const uint64_t *anchor,
                             const uint32_t *kinds, int kind_bit,
                             const gh_match_edge_t *items, size_t n_items,
                             gh_match_split_eval_t *out);

#endif
