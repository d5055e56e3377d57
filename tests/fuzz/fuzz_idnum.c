/*
 * Resident ID-number normalization (gh_idnum_normalize, idnum.h). The
 * input is the text a clerk typed. Whatever it is, an accepted ID is 18
 * characters with a real birth date and a right check character, the
 * decoded fields are those of the ID, and normalizing the result again
 * changes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "gridhub/idnum.h"
#include "util.h"

static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + s[i] - '0';
    return v;
}

static void check_id(const char *id, gh_idnum_status_t st,
                     const gh_idnum_info_t *info) {
    GH_FUZZ_CHECK(strlen(id) == 18, "status %d with \"%s\"", st, id);
    for (int i = 0; i < 17; i++)
        GH_FUZZ_CHECK(id[i] >= '0' && id[i] <= '9', "\"%s\"", id);
    GH_FUZZ_CHECK((id[17] >= '0' && id[17] <= '9') || id[17] == 'X', "\"%s\"",
                  id);
    int right = gh_idnum_check_char(id) == id[17];
    GH_FUZZ_CHECK(right == (st != GH_IDNUM_BAD_CHECK),
                  "status %d, check character of \"%s\" %s", st, id,
                  right ? "right" : "wrong");
    GH_FUZZ_CHECK(st != GH_IDNUM_UPGRADED || !strncmp(id + 6, "19", 2),
                  "upgraded to \"%s\"", id);
    GH_FUZZ_CHECK(!strncmp(info->region, id, 6) && !info->region[6],
                  "region %s of %s", info->region, id);
    int y = digits(id + 6, 4), m = digits(id + 10, 2), d = digits(id + 12, 2);
    GH_FUZZ_CHECK(info->birth_year == y && info->birth_month == m &&
                      info->birth_day == d,
                  "birth %d-%d-%d of %s", info->birth_year, info->birth_month,
                  info->birth_day, id);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    GH_FUZZ_CHECK(y >= 1900 && m >= 1 && m <= 12 && d >= 1 &&
                      d <= mdays[m - 1] - (m == 2 && !leap),
                  "accepted date %d-%d-%d", y, m, d);
    GH_FUZZ_CHECK(info->sex ==
                      ((id[16] - '0') % 2 ? GH_IDNUM_MALE : GH_IDNUM_FEMALE),
                  "sex %d of %s", info->sex, id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *raw = malloc(size + 1);
    memcpy(raw, data, size);
    raw[size] = '\0';
    char out[19];
    gh_idnum_info_t info;
    gh_idnum_status_t st = gh_idnum_normalize(raw, out, &info);
    GH_FUZZ_CHECK(st >= 0 && st < GH_IDNUM__COUNT, "status %d", st);
    GH_FUZZ_CHECK(strcmp(gh_idnum_status_str(st), "unknown ID-number status"),
                  "status %d has no description", st);
    if (st == GH_IDNUM_OK || st == GH_IDNUM_UPGRADED ||
        st == GH_IDNUM_BAD_CHECK) {
        check_id(out, st, &info);
        char again[19];
        gh_idnum_status_t st2 = gh_idnum_normalize(out, again, NULL);
        GH_FUZZ_CHECK(!strcmp(out, again) &&
                          st2 == (st == GH_IDNUM_UPGRADED ? GH_IDNUM_OK : st),
                      "\"%s\" (%d) normalizes to \"%s\" (%d)", out, st, again,
                      st2);
    } else {
        static const gh_idnum_info_t zero;
        GH_FUZZ_CHECK(!out[0], "status %d with \"%s\"", st, out);
        GH_FUZZ_CHECK(!memcmp(&info, &zero, sizeof(info)),
                      "status %d with fields", st);
    }
    GH_FUZZ_CHECK(gh_idnum_is_valid(st) ==
                      (st == GH_IDNUM_OK || st == GH_IDNUM_UPGRADED),
                  "validity of status %d", st);
    free(raw);
    return 0;
}
