/* The pull feed's cursor (GET /v1/feed/{entity}?cursor=): where a reader
 * of one subscriber topic stands, as the next offset of every partition.
 * The client keeps it, so that the API holds nothing a client needs to
 * resume: after a restart of the API, or from another API instance, the
 * same cursor reads on from the same place.
 *
 * Text form: "v1.<entity>.<offset>-<offset>-..." (partition 0 first),
 * URL-safe as it is. Documented as opaque: clients store and send it back,
 * never build it. Apart from libmicrohttpd and Kafka so that it can be
 * fuzzed (tests/fuzz/fuzz_api_cursor.c). */
#ifndef GH_API_CURSOR_H
#define GH_API_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "gridhub/error.h"

/* More partitions than any topic of the hub has; a cursor naming more is
 * refused before anything is allocated for it. */
#define GH_API_CURSOR_MAX_PARTITIONS 1024
/* The longest cursor text accepted. */
#define GH_API_CURSOR_MAX_LEN (GH_API_CURSOR_MAX_PARTITIONS * 20 + 64)

/* The cursor of `entity` at offsets offs[0..n-1]. Caller frees. */
char *gh__api_cursor_make(const char *entity, const int64_t *offs, int n);

/* Reads cursor `text` given for `entity`: *offs (caller frees; NULL when
 * *n is 0) and *n. GH_ERR_INVALID_ARG, errstr saying what is wrong, when
 * it is not a cursor of this feed (malformed, another version or entity,
 * an offset negative or out of range, too many partitions). No I/O. */
gh_err_t gh__api_cursor_parse(const char *text, const char *entity,
                              int64_t **offs, int *n, char *errstr,
                              size_t errstr_size);

#endif
