/*
 * A small synthetic population for the matching tests, independent of the
 * city generator and of the name normalizer: records are built already
 * normalized (pinyin from a table of our own), so homophones are exact.
 */
#ifndef TEST_MATCH_SYNTH_H
#define TEST_MATCH_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "gridhub/match.h"

enum {
    SYNTH_E_NO_ID,
    SYNTH_E_LEGACY,
    SYNTH_E_BAD_CHECK,
    SYNTH_E_HOMOPHONE,
    SYNTH_E_SWAPPED,
    SYNTH_E_NO_BIRTH,
    SYNTH_E_OUTDATED,
    SYNTH_E_NO_PHONE,
    SYNTH_E__COUNT
};

typedef struct synth {
    gh_match_set_t *set;
    uint32_t *truth; /* person index per record */
    uint32_t *kinds; /* SYNTH_E_* bitmask per record */
    size_t n, persons;
} synth_t;

/* About 2.4 records per person in households of 1-4 (shared surname,
 * address, often phone; some twins). Deterministic for a seed. */
void synth_build(synth_t *s, size_t persons, uint64_t seed);
void synth_free(synth_t *s);

/* An 18-character ID from its first 17 characters. */
void synth_id(const char *first17, char out[19]);

/* A record as gh_match_normalize leaves it, built by hand (no name
 * normalizer: the pinyin is given); strings are borrowed; id, birth
 * (YYYY-MM-DD), phone and address may be NULL; sex 0, 1 or 2. The ID is
 * not used to fill anything in (gh_match_fill_from_id does that). */
gh_match_rec_t synth_rec(const char *name, const char *pinyin, const char *id,
                         int sex, const char *birth, const char *phone,
                         const char *address);

/* The built-in model (priors, no EM); caller destroys. */
gh_match_model_t *synth_model(void);

/* The agreement level of field f for a and b under the built-in model. */
int synth_level(const gh_match_rec_t *a, const gh_match_rec_t *b,
                gh_match_field_t f);

#endif
