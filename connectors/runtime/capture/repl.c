#include "repl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/select.h>

#include "gridhub/util.h"
#include "pgoutput.h"

gh_err_t gh_repl_create_slot(PGconn *c, const char *slot,
                             uint64_t *consistent_lsn, char **snapshot_name,
                             char *errstr, size_t errstr_size) {
    char *q = PQescapeIdentifier(c, slot, strlen(slot));
    char *sql = gh_xasprintf(
        "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput EXPORT_SNAPSHOT", q);
    PQfreemem(q);
    PGresult *r = gh_pg_query(c, sql, 0, NULL, errstr, errstr_size);
    free(sql);
    if (!r) return GH_ERR_PG;
    /* Columns: slot_name, consistent_point, snapshot_name, output_plugin. */
    if (PQntuples(r) != 1 || PQnfields(r) < 3 ||
        gh_lsn_parse(PQgetvalue(r, 0, 1), consistent_lsn)) {
        PQclear(r);
        return gh_seterr(errstr, errstr_size, GH_ERR_PROTOCOL,
                         "CREATE_REPLICATION_SLOT %s: unexpected reply", slot);
    }
    *snapshot_name = gh_xstrdup(PQgetvalue(r, 0, 2));
    PQclear(r);
    return GH_OK;
}

gh_err_t gh_repl_start(PGconn *c, const char *slot, uint64_t start_lsn,
                       const char *publication, char *errstr,
                       size_t errstr_size) {
    char lsn[18];
    gh_lsn_format(start_lsn, lsn);
    char *qs = PQescapeIdentifier(c, slot, strlen(slot));
    char *qp = PQescapeLiteral(c, publication, strlen(publication));
    char *sql = gh_xasprintf("START_REPLICATION SLOT %s LOGICAL %s "
                             "(proto_version '1', publication_names %s)",
                             qs, lsn, qp);
    PQfreemem(qs);
    PQfreemem(qp);
    PGresult *r = PQexec(c, sql);
    gh_err_t err = GH_OK;
    if (PQresultStatus(r) != PGRES_COPY_BOTH)
        err =
            gh_pg_result_error(r, c, "START_REPLICATION", errstr, errstr_size);
    PQclear(r);
    free(sql);
    return err;
}

static uint64_t be64(const char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

static void put64(char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (char)(v & 0xff);
        v >>= 8;
    }
}

void gh_repl_release(gh_repl_msg_t *m) {
    if (m->payload) PQfreemem((void *)(m->payload - 25));
    m->payload = NULL;
}

int gh_repl_read(PGconn *c, gh_repl_msg_t *m, int timeout_ms, char *errstr,
                 size_t errstr_size) {
    gh_repl_release(m);
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(c, &buf, 1);
        if (n > 0) {
            if (buf[0] == 'w' && n >= 25) {
                m->type = 'w';
                m->data_start = be64(buf + 1);
                m->wal_end = be64(buf + 9);
                m->payload = buf + 25;
                m->payload_len = (size_t)n - 25;
                return 1;
            }
            if (buf[0] == 'k' && n >= 18) {
                m->type = 'k';
                m->wal_end = be64(buf + 1);
                m->reply_requested = buf[17] != 0;
                PQfreemem(buf);
                return 1;
            }
            char t = buf[0];
            PQfreemem(buf);
            gh_seterr(errstr, errstr_size, GH_ERR_PROTOCOL,
                      "unexpected replication message '%c' (%d bytes)", t, n);
            return -1;
        }
        if (n == -1) {
            PGresult *r = PQgetResult(c);
            gh_pg_result_error(r, c, "replication stream ended", errstr,
                               errstr_size);
            PQclear(r);
            return -1;
        }
        if (n == -2) {
            gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT,
                      "replication stream: %s", PQerrorMessage(c));
            return -1;
        }
        /* n == 0: wait for the socket, then let libpq read. */
        if (timeout_ms <= 0) return 0;
        int fd = PQsocket(c);
        fd_set rfds;
        FD_ZERO(&rfds);
        FD_SET(fd, &rfds);
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        int s = select(fd + 1, &rfds, NULL, NULL, &tv);
        if (s < 0 && errno != EINTR) {
            gh_seterr(errstr, errstr_size, GH_ERR_IO, "select: %s",
                      strerror(errno));
            return -1;
        }
        if (s <= 0) return 0;
        if (!PQconsumeInput(c)) {
            gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT,
                      "replication stream: %s", PQerrorMessage(c));
            return -1;
        }
        timeout_ms = 0;
    }
}

gh_err_t gh_repl_send_status(PGconn *c, uint64_t received, uint64_t flushed,
                             int reply, char *errstr, size_t errstr_size) {
    char msg[34];
    msg[0] = 'r';
    put64(msg + 1, received);
    put64(msg + 9, flushed);
    put64(msg + 17, flushed);
    put64(msg + 25, (uint64_t)(gh_wallclock_us() - GH_PG_EPOCH_OFFSET_US));
    msg[33] = reply ? 1 : 0;
    if (PQputCopyData(c, msg, sizeof(msg)) <= 0 || PQflush(c))
        return gh_seterr(errstr, errstr_size, GH_ERR_PG_CONNECT,
                         "cannot send standby status: %s", PQerrorMessage(c));
    return GH_OK;
}
