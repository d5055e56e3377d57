/* Shared inside hub/audit: the entry's canonical head, written by the
 * appender (log.c) and rebuilt from the columns by `verify` (verify.c). */
#ifndef GH_AUDIT_INT_H
#define GH_AUDIT_INT_H

#include <stdint.h>

#include "gridhub/util.h"

/* "2026-12-03T09:40:05.527123Z" from Unix microseconds; out holds 40. */
void gh__audit_utc_micros(int64_t us, char out[40]);

/* Appends an entry's first members, in this order and always all of
 * them: {"seq":N,"at":"...","kind":"...","subscriber":...,"entity":...,
 * "key":... (null when absent). The body's members follow, then "}".
 * Because every column is written at a fixed place, an entry whose text
 * starts with the head rebuilt from its row's columns agrees with them. */
void gh__audit_entry_head(gh_buf_t *b, uint64_t seq, const char *at,
                          const char *kind, const char *subscriber,
                          const char *entity, const char *key);

#endif
