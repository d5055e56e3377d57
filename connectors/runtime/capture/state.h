/*
 * The connector's state file: which slot it streams from and whether that
 * slot's initial snapshot finished (and was acknowledged by Kafka). The
 * streaming position itself lives in PostgreSQL (the slot's confirmed
 * flush LSN), so this file changes once per slot, not per event. Written
 * with write-temp, fsync, rename, fsync-directory so a crash leaves either
 * the old or the new file.
 */
#ifndef GH_STATE_H
#define GH_STATE_H

#include <stdint.h>

#include "gridhub/error.h"

typedef struct gh_state {
    char slot[128];
    int snapshot_done;
    uint64_t snapshot_lsn;
} gh_state_t;

/* Fills *st; a missing or unreadable file yields an empty state. */
void gh_state_read(const char *path, gh_state_t *st);
gh_err_t gh_state_write(const char *path, const char *slot,
                        uint64_t snapshot_lsn, char *errstr,
                        size_t errstr_size);

#endif
