/*
 * The logical replication protocol over libpq (a connection opened with
 * gh_pg_connect(..., replication=1)): slot creation with an exported
 * snapshot, START_REPLICATION with pgoutput, the CopyBoth stream of
 * XLogData and keepalive messages, and standby status updates.
 */
#ifndef GH_REPL_H
#define GH_REPL_H

#include <libpq-fe.h>
#include <stdint.h>

#include "gridhub/error.h"
#include "gridhub/pg.h"

typedef struct gh_repl_msg {
    char type; /* 'w' XLogData, 'k' keepalive */
    uint64_t data_start, wal_end;
    int reply_requested;
    const char *payload; /* 'w': pgoutput message, valid until next read */
    size_t payload_len;
} gh_repl_msg_t;

/* CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput, exporting a snapshot.
 * *snapshot_name is a new string (caller frees); the snapshot stays valid
 * only until the next command on this connection. */
gh_err_t gh_repl_create_slot(PGconn *c, const char *slot,
                             uint64_t *consistent_lsn, char **snapshot_name,
                             char *errstr, size_t errstr_size);

/* START_REPLICATION with pgoutput protocol 1 and the publication. */
gh_err_t gh_repl_start(PGconn *c, const char *slot, uint64_t start_lsn,
                       const char *publication, char *errstr,
                       size_t errstr_size);

/* Reads one message, waiting up to timeout_ms. Returns 1 with *m filled, 0
 * when nothing arrived in time, -1 on error or end of stream (errstr set).
 * The previous message's payload is released. */
int gh_repl_read(PGconn *c, gh_repl_msg_t *m, int timeout_ms, char *errstr,
                 size_t errstr_size);

/* Standby status update: written/flushed/applied LSNs. */
gh_err_t gh_repl_send_status(PGconn *c, uint64_t received, uint64_t flushed,
                             int reply, char *errstr, size_t errstr_size);

/* Releases the buffer held for the last message. */
void gh_repl_release(gh_repl_msg_t *m);

#endif
