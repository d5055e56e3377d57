/*
 * gh_norm_address_parts(): building, unit and room from the end of a
 * normalized address, read backwards:
 *   [N栋|N组] [N单元] [N层|N楼] room
 * where the room is the trailing number after one of those words (or
 * "N号" after a village group: 3组12号). A trailing number after anything
 * else (人民路12) is a house number, not a room.
 */
#include <string.h>

#include "gridhub/norm.h"

/* More digits than this is not a building, unit or room number. */
#define NUM_DIGITS_MAX 9

/* If s[0..end) ends with lit, stores where it starts and returns 1. */
static int ends(const char *s, size_t end, const char *lit, size_t *start) {
    size_t l = strlen(lit);
    if (end < l || memcmp(s + end - l, lit, l)) return 0;
    *start = end - l;
    return 1;
}

/* If s[0..end) ends with 1..NUM_DIGITS_MAX ASCII digits, stores their value
 * and start and returns 1. */
static int ends_num(const char *s, size_t end, int *v, size_t *start) {
    size_t b = end;
    while (b && s[b - 1] >= '0' && s[b - 1] <= '9' && end - b <= NUM_DIGITS_MAX)
        b--;
    if (b == end || end - b > NUM_DIGITS_MAX) return 0;
    int x = 0;
    for (size_t i = b; i < end; i++)
        x = x * 10 + (s[i] - '0');
    *v = x;
    *start = b;
    return 1;
}

/* s[0..end) ends with "N<word>": value and start of N. */
static int ends_numbered(const char *s, size_t end, const char *word, int *v,
                         size_t *start) {
    size_t w;
    return ends(s, end, word, &w) && ends_num(s, w, v, start);
}

int gh_norm_address_parts(const char *norm, int *building, int *unit,
                          int *room) {
    int b = 0, u = 0, r = 0, found = 0, v;
    size_t e = norm ? strlen(norm) : 0, p, q;
    if (e && ends_num(norm, e, &v, &p)) {
        if (ends(norm, p, "单元", &q) || ends(norm, p, "栋", &q) ||
            ends(norm, p, "层", &q) || ends(norm, p, "楼", &q)) {
            r = v;
            found = 1;
            e = p;
        }
    } else if (e && ends_numbered(norm, e, "号", &v, &p) &&
               ends_numbered(norm, p, "组", &b, &q)) {
        r = v;
        found = 1;
        e = p;
    }
    if (found && (ends_numbered(norm, e, "层", &v, &p) ||
                  ends_numbered(norm, e, "楼", &v, &p)))
        e = p; /* the floor, which the room number repeats */
    if (ends_numbered(norm, e, "单元", &u, &p)) e = p;
    if (!ends_numbered(norm, e, "栋", &b, &p) &&
        !ends_numbered(norm, e, "组", &b, &p))
        b = 0;
    if (building) *building = b;
    if (unit) *unit = u;
    if (room) *room = r;
    return found;
}
