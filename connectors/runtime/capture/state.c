#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gridhub/util.h"
#include "pgoutput.h"

void gh_state_read(const char *path, gh_state_t *st) {
    memset(st, 0, sizeof(*st));
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strncmp(line, "slot=", 5))
            snprintf(st->slot, sizeof(st->slot), "%.127s", line + 5);
        else if (!strcmp(line, "snapshot=done"))
            st->snapshot_done = 1;
        else if (!strncmp(line, "snapshot_lsn=", 13))
            gh_lsn_parse(line + 13, &st->snapshot_lsn);
    }
    fclose(f);
}

gh_err_t gh_state_write(const char *path, const char *slot,
                        uint64_t snapshot_lsn, char *errstr,
                        size_t errstr_size) {
    char *tmp = gh_xasprintf("%s.tmp", path);
    char l[18];
    gh_lsn_format(snapshot_lsn, l);
    /* A leftover of a crash is removed (unlink never follows a link); the
     * new file is created, never reused (a planted link or file makes the
     * write fail instead of going through it), and private. */
    unlink(tmp);
    int fd =
        open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    gh_err_t e = GH_OK;
    if (fd < 0) {
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "state file %s: %s", tmp,
                      strerror(errno));
        free(tmp);
        return e;
    }
    char *body =
        gh_xasprintf("slot=%s\nsnapshot=done\nsnapshot_lsn=%s\n", slot, l);
    ssize_t n = write(fd, body, strlen(body));
    if (n != (ssize_t)strlen(body) || fsync(fd))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "state file %s: %s", tmp,
                      strerror(errno));
    close(fd);
    free(body);
    if (!e && rename(tmp, path))
        e = gh_seterr(errstr, errstr_size, GH_ERR_IO, "state file %s: %s", path,
                      strerror(errno));
    if (!e) {
        char *d = gh_xstrdup(path);
        int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(d);
    }
    free(tmp);
    return e;
}
