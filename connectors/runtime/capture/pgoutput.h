/*
 * Decoder for PostgreSQL's `pgoutput` logical replication messages,
 * protocol version 1 (PostgreSQL 10+). See the PostgreSQL documentation,
 * "Logical Replication Message Formats".
 *
 * Protocol 1 is chosen on purpose: the server sends a transaction only once
 * it committed (spilling large ones to disk on its side, see
 * logical_decoding_work_mem), so the connector never publishes a change that
 * is later rolled back, and it handles a large transaction one row at a time
 * without holding it whole. Streaming of in-progress transactions (protocol
 * 2) would force either buffering or phantom events.
 *
 * Decoding is zero-copy: tuple values point into the message buffer and are
 * valid until that buffer is released.
 */
#ifndef GH_PGOUTPUT_H
#define GH_PGOUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "gridhub/error.h"

/* Microseconds between the Unix epoch and PostgreSQL's 2000-01-01. */
#define GH_PG_EPOCH_OFFSET_US INT64_C(946684800000000)

typedef enum gh_pgo_kind {
    GH_PGO_BEGIN = 'B',
    GH_PGO_COMMIT = 'C',
    GH_PGO_ORIGIN = 'O',
    GH_PGO_RELATION = 'R',
    GH_PGO_TYPE = 'Y',
    GH_PGO_INSERT = 'I',
    GH_PGO_UPDATE = 'U',
    GH_PGO_DELETE = 'D',
    GH_PGO_TRUNCATE = 'T',
    GH_PGO_MESSAGE = 'M',
} gh_pgo_kind_t;

typedef enum gh_pgo_val_kind {
    GH_PGO_NULL = 'n',
    GH_PGO_UNCHANGED = 'u', /* unchanged TOASTed value: not sent */
    GH_PGO_TEXT = 't',
} gh_pgo_val_kind_t;

typedef struct gh_pgo_value {
    char kind;        /* gh_pgo_val_kind_t */
    const char *data; /* GH_PGO_TEXT only: not NUL-terminated */
    uint32_t len;
} gh_pgo_value_t;

#define GH_PGO_MAX_COLS 1664 /* PostgreSQL's MaxTupleAttributeNumber */

typedef struct gh_pgo_tuple {
    int ncols;
    gh_pgo_value_t *cols; /* points into gh_pgo_msg_t's storage */
    /* An old tuple with only the replica identity (key) columns: the NULLs
     * of the other columns mean "not sent", not "empty". */
    int key_only;
} gh_pgo_tuple_t;

typedef struct gh_pgo_column {
    int key;          /* part of the replica identity */
    const char *name; /* NUL-terminated, inside the message */
    uint32_t type_oid;
    int32_t typmod;
} gh_pgo_column_t;

typedef struct gh_pgo_msg {
    char kind; /* gh_pgo_kind_t */
    /* BEGIN */
    uint64_t final_lsn;
    int64_t commit_time_us; /* Unix epoch µs (BEGIN and COMMIT) */
    uint32_t xid;
    /* COMMIT */
    uint64_t commit_lsn, end_lsn;
    /* RELATION / INSERT / UPDATE / DELETE */
    uint32_t relid;
    const char *nspname, *relname; /* RELATION */
    char replident;
    int ncolumns;
    gh_pgo_column_t *columns; /* RELATION, inside storage */
    char old_kind;            /* UPDATE/DELETE: 'K', 'O' or 0 */
    gh_pgo_tuple_t old_tuple, new_tuple;
    /* TRUNCATE */
    int nrelids;
    uint32_t *relids;
    int truncate_options;
    /* storage reused across decodes; free with gh_pgo_msg_free */
    gh_pgo_value_t *vals_store;
    size_t vals_cap;
    gh_pgo_column_t *cols_store;
    size_t cols_cap;
    uint32_t *relids_store;
    size_t relids_cap;
} gh_pgo_msg_t;

/* Decodes one pgoutput message (the payload of an XLogData message) into
 * *msg, reusing its storage. String and value pointers borrow from `buf`,
 * which must stay alive (and, for names, writable: NULs are not added —
 * names are NUL-terminated on the wire already). Returns GH_ERR_PROTOCOL
 * with a description for truncated or malformed input; never reads past
 * buf + len. */
gh_err_t gh_pgo_decode(const char *buf, size_t len, gh_pgo_msg_t *msg,
                       char *errstr, size_t errstr_size);

void gh_pgo_msg_free(gh_pgo_msg_t *msg);

/* Formats an LSN as PostgreSQL does ("16/B374D848"); out needs 18 bytes. */
void gh_lsn_format(uint64_t lsn, char out[18]);
/* Parses "X/Y"; returns 0 on success. */
int gh_lsn_parse(const char *s, uint64_t *out);

#endif
