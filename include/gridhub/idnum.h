/*
 * Resident ID-number normalization (GB 11643-1999).
 *
 * Department systems hand us ID numbers as typed by clerks: with spaces in
 * the middle, full-width digits from a Chinese input method, a lowercase x,
 * or in the legacy 15-digit form. gh_idnum_normalize() turns all of those
 * into the canonical 18-character form and says precisely what is wrong when
 * it cannot.
 *
 * Layout of an 18-character ID: 6-digit region (address) code, 8-digit birth
 * date YYYYMMDD, 3-digit sequence (odd = male, even = female), 1 check
 * character computed by ISO 7064 MOD 11-2 (digit or 'X'). A legacy 15-digit
 * ID has a 2-digit year (19YY) and no check character.
 *
 * Nothing here allocates; every function is thread-safe. ID numbers are
 * sensitive personal information under PIPL: callers must not log them.
 */
#ifndef GRIDHUB_IDNUM_H
#define GRIDHUB_IDNUM_H

/* Result of gh_idnum_normalize(). Values are never renumbered, only appended.
 */
typedef enum gh_idnum_status {
    GH_IDNUM_OK = 0,         /* valid 18-character ID */
    GH_IDNUM_UPGRADED = 1,   /* valid legacy 15-digit ID, upgraded to 18 */
    GH_IDNUM_EMPTY = 2,      /* NULL, empty, or only whitespace */
    GH_IDNUM_BAD_LENGTH = 3, /* neither 15 nor 18 characters after cleaning */
    GH_IDNUM_BAD_CHAR = 4,   /* a character other than a digit (or a final X
                                in an 18-character ID), or invalid UTF-8 */
    GH_IDNUM_BAD_DATE =
        5, /* birth date is not a real date in 1900..this year */
    GH_IDNUM_BAD_CHECK =
        6, /* 18 characters, well-formed, wrong check character */
    GH_IDNUM__COUNT
} gh_idnum_status_t;

typedef enum gh_idnum_sex {
    GH_IDNUM_SEX_UNKNOWN = 0, /* info not filled (status without an ID) */
    GH_IDNUM_MALE = 1,        /* 17th digit odd */
    GH_IDNUM_FEMALE = 2       /* 17th digit even */
} gh_idnum_sex_t;

/* Fields decoded from an ID number; see gh_idnum_normalize(). */
typedef struct gh_idnum_info {
    char region[7];  /* 6-digit region code, NUL-terminated */
    int birth_year;  /* e.g. 1949 */
    int birth_month; /* 1..12 */
    int birth_day;   /* 1..31 */
    gh_idnum_sex_t sex;
} gh_idnum_info_t;

/*
 * Cleans and validates one ID number.
 *
 * raw:  NUL-terminated UTF-8 as typed, or NULL (-> GH_IDNUM_EMPTY). Read up
 *       to its NUL and never beyond; any byte sequence is accepted as input
 *       (invalid UTF-8 -> GH_IDNUM_BAD_CHAR).
 *       Removed anywhere in the string: ASCII whitespace, U+3000 ideographic
 *       space and the other Unicode spaces (U+0085, U+00A0, U+1680,
 *       U+2000..U+200A, U+2028, U+2029, U+202F, U+205F), plus the invisible
 *       U+200B zero-width space and U+FEFF byte-order mark that copy-paste
 *       leaves behind. Full-width digits U+FF10..U+FF19 and full-width X/x
 *       (U+FF38/U+FF58) become ASCII; x becomes X.
 * out:  OUT: caller-owned buffer of at least 19 bytes, must not be NULL.
 *       Receives the 18 canonical characters plus NUL for GH_IDNUM_OK,
 *       GH_IDNUM_UPGRADED and GH_IDNUM_BAD_CHECK (the cleaned input as given,
 *       so the caller can report it); the empty string for every other status.
 * info: OUT, may be NULL. Filled from `out` for OK, UPGRADED and BAD_CHECK;
 *       zeroed (region "", sex GH_IDNUM_SEX_UNKNOWN) otherwise.
 *
 * Checks in this order, returning the first failure: empty, characters,
 * length (15 or 18), position of X (last of 18 only), birth date, check
 * character. The birth year must lie in 1900..the current local year.
 */
gh_idnum_status_t gh_idnum_normalize(const char *raw, char out[19],
                                     gh_idnum_info_t *info);

/*
 * The ISO 7064 MOD 11-2 check character ('0'..'9' or 'X') for the first 17
 * characters of an ID. Reads exactly 17 bytes of first17 (no NUL needed).
 * Returns '\0' if any of them is not an ASCII digit.
 */
char gh_idnum_check_char(const char first17[17]);

/* Static, never NULL: a short English description, e.g. "wrong check
 * character". Unknown values give "unknown ID-number status". */
const char *gh_idnum_status_str(gh_idnum_status_t s);

/* Non-zero for GH_IDNUM_OK and GH_IDNUM_UPGRADED, i.e. when `out` holds a
 * usable canonical ID; zero for every other status. */
int gh_idnum_is_valid(gh_idnum_status_t s);

#endif
