/*
 * The ground truth and the source records: for every department row that
 * a mapping turns into a canonical person, one line in each file.
 *
 * truth.file:
 *   {"department":"gongan","source_key":"hjrk/R431302000000001","true_id":"431302198001010013"}
 * where source_key is exactly what the mapping's source_key rule produces
 * and true_id the resident's true 18-character ID number.
 *
 * records.file: the row as the department has it, in the input format of
 * `gridhub resolve`, plus the errors that show in it:
 *   {"department":"gongan","source_key":"hjrk/R431302000000001",
 *    "name":"刘建国","id_number":"431302198001010013","sex":"MALE",
 *    "birth_date":"1980-01-01","phone":"13807381001",
 *    "address":"湖南省娄底市…","household_key":"1000000001",
 *    "errors":["outdated_address"]}
 * (one line). Both files are sorted bytewise (LC_ALL=C sort), i.e. by
 * department, then source_key (keys are unique and end at the quote, which
 * sorts before every key character), so their lines correspond one to one.
 *
 * While generating, lines go to one part file per person mapping and file,
 * next to it; finish sorts the parts that did not come in key order (the
 * others are copied as they are) and concatenates them in mapping order
 * into the file, via a temporary name.
 */
#ifndef GH_GEN_TRUTH_H
#define GH_GEN_TRUTH_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "gridhub/error.h"

/* The person mappings, in the order of their lines in the file. */
enum {
    GH_GEN_TM_CW_VOL = 0, /* chuangwen vol_person: id */
    GH_GEN_TM_GA_HJRK,    /* gongan hjrk: 'hjrk/' + rybh */
    GH_GEN_TM_GA_LDRK,    /* gongan ldrk: 'ldrk/' + ldrybh */
    GH_GEN_TM_JS_JTCY,    /* jisheng jtcy: cybh */
    GH_GEN_TM_ZZ_SYRK,    /* zongzhi syrk: rkbh */
    GH_GEN_TM_DJ_DY,      /* zuzhi dy_person: dyid */
    GH_GEN_TM__COUNT
};

#define GH_GEN_NO_DATE INT32_MIN

/* A person-mapped row as its department has it, with the formats its
 * mapping canonicalizes (sex code, date) but the values as typed. NULL
 * strings are null; the others are trimmed and, when empty, null too (the
 * mappings' `trim | nullif:`). */
typedef struct gh_gen_record {
    const char *name;
    const char *id_number;
    int sex;       /* 1 male, 2 female, else unknown */
    int32_t birth; /* days since 1970-01-01, or GH_GEN_NO_DATE */
    const char *phone;
    const char *address;
    const char *household_key;
    unsigned errors; /* GH_GEN_ERR_BIT mask of the errors that show */
} gh_gen_record_t;

/* Fills rec from a typed copy of person p: name, ID number, sex, birth and
 * phone, with the errors of those values (OUTDATED_ADDRESS is left out:
 * the caller adds it when the address it sets is the former one); no
 * address, no household key. `ty` must outlive rec. */
void gh_gen_record_of(const gh_gen_typed_t *ty, const gh_gen_person_t *p,
                      gh_gen_record_t *rec);

typedef struct gh_gen_truth gh_gen_truth_t;

/* The department and source_key prefix of a mapping. */
const char *gh_gen_truth_dept(int mapping);
const char *gh_gen_truth_prefix(int mapping);

/* Opens the part files next to `truth_path` and next to `records_path`;
 * either may be NULL (that file is not written), not both. */
gh_gen_truth_t *gh_gen_truth_open(const char *truth_path,
                                  const char *records_path, char *errstr,
                                  size_t errstr_size);
/* Adds a line to each file; `key` is the row's key without the mapping's
 * prefix. `rec` is borrowed for the call. t NULL is a no-op. */
void gh_gen_truth_add(gh_gen_truth_t *t, int mapping, const char *key,
                      const char *true_id, const gh_gen_record_t *rec);
/* Sorts, writes the files, removes the parts. *truth_lines and
 * *record_lines receive the counts (0 for a file not written). */
gh_err_t gh_gen_truth_finish(gh_gen_truth_t *t, long long *truth_lines,
                             long long *record_lines, char *errstr,
                             size_t errstr_size);
/* Removes the part files (if not finished) and frees. NULL is a no-op. */
void gh_gen_truth_destroy(gh_gen_truth_t *t);

/* Formats one truth line (with the newline) into out; returns its length. */
size_t gh_gen_truth_line(int mapping, const char *key, const char *true_id,
                         char *out, size_t size);
/* Formats one records line (with the newline) into out; returns its
 * length (0 if it does not fit: 4096 bytes always do). */
size_t gh_gen_record_line(int mapping, const char *key,
                          const gh_gen_record_t *rec, char *out, size_t size);

/* Live mode: rewrites `path` with `added` lines (each a whole line with
 * its newline, any order) merged in and the lines of `removed` keys
 * (mapping, key pairs as "<department>\t<source_key>") dropped. */
gh_err_t gh_gen_truth_rewrite(const char *path, char **added, size_t n_added,
                              char **removed, size_t n_removed,
                              long long *lines, char *errstr,
                              size_t errstr_size);

#endif
