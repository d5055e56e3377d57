/*
 * Text at the edge: the one UTF-8 decoder (gh_utf8_*, hub/runtime/base/util.c),
 * dead-letter escaping, the connector's encoding checks and conversions
 * (connectors/runtime/capture/encoding.c) and private output files.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding.h"
#include "gridhub/util.h"

TestSuite(text, .timeout = 30);

Test(text, utf8_accepts_what_is_well_formed) {
    const char *ok[] = {"",
                        "abc",
                        "张伟",
                        "尉迟·敬德",
                        "\xF0\x9F\x98\x80",
                        "\xEF\xBC\xA1" /* full-width A */};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_assert(gh_utf8_valid(ok[i], strlen(ok[i]), NULL), "%zu", i);
}

Test(text, utf8_rejects_what_is_not) {
    struct {
        const char *s;
        size_t bad;
    } bad[] = {
        {"\xD5\xC5\xCE\xB0", 0},  /* 张伟 in GBK */
        {"ab\xC0\x80", 2},        /* overlong NUL */
        {"\xED\xA0\x80", 0},      /* surrogate */
        {"\xF4\x90\x80\x80", 0},  /* past U+10FFFF */
        {"\xE5\xBC", 0},          /* truncated */
        {"x\xE5\xBC\xA0\xE4", 4}, /* truncated at the end */
        {"\x80", 0},              /* lone continuation */
        {"\xFF", 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t at = 99;
        cr_assert_not(gh_utf8_valid(bad[i].s, strlen(bad[i].s), &at), "%zu", i);
        cr_assert_eq(at, bad[i].bad, "case %zu: bad at %zu", i, at);
    }
    /* Bounded: a sequence cut by the length is bad even if bytes follow. */
    cr_assert_not(gh_utf8_valid("\xE5\xBC\xA0", 2, NULL));
}

Test(text, escape_keeps_utf8_and_shows_other_bytes) {
    gh_buf_t b = {0};
    gh_buf_append(&b, "", 0);
    size_t n = gh_utf8_escape(&b, "张\xD5\xC5x\0y", 8);
    cr_assert_eq(n, 3, "two GBK bytes and a NUL escaped, got %zu", n);
    cr_assert_str_eq(b.data, "张\\xD5\\xC5x\\x00y");
    gh_buf_free(&b);
}

Test(text, enc_checks_utf8_and_names_the_column) {
    char err[256];
    gh_enc_t *e = gh_enc_new(NULL, err, sizeof(err));
    cr_assert_not_null(e, "%s", err);
    gh_pgo_value_t v[3] = {{GH_PGO_TEXT, "张伟", 6},
                           {GH_PGO_NULL, NULL, 0},
                           {GH_PGO_TEXT, "\xD5\xC5\xCE\xB0", 4}};
    int bad = -1;
    cr_assert_eq(gh_enc_values(e, v, 3, &bad, err, sizeof(err)),
                 GH_ERR_MAPPING);
    cr_assert_eq(bad, 2);
    cr_assert(strstr(err, "UTF-8") && strstr(err, "source.encoding"), "%s",
              err);
    cr_assert_null(strstr(err, "\xD5"), "the value is not quoted: %s", err);
    cr_assert_eq(gh_enc_values(e, v, 2, &bad, err, sizeof(err)), GH_OK);
    gh_enc_destroy(e);
}

Test(text, enc_converts_gbk) {
    char err[256];
    gh_enc_t *e = gh_enc_new("GBK", err, sizeof(err));
    cr_assert_not_null(e, "%s", err);
    /* 张伟, 刘慧佳 in GBK, an ASCII value, and one long enough to need
     * several conversion chunks. */
    char *big = malloc(9000);
    for (int i = 0; i < 9000; i += 2) {
        big[i] = (char)0xD5;
        big[i + 1] = (char)0xC5;
    }
    gh_pgo_value_t v[4] = {{GH_PGO_TEXT, "\xD5\xC5\xCE\xB0", 4},
                           {GH_PGO_TEXT, "\xC1\xF5\xBB\xDB\xBC\xD1", 6},
                           {GH_PGO_TEXT, "A1", 2},
                           {GH_PGO_TEXT, big, 9000}};
    int bad = -1;
    cr_assert_eq(gh_enc_values(e, v, 4, &bad, err, sizeof(err)), GH_OK, "%s",
                 err);
    cr_assert_eq(v[0].len, 6);
    cr_assert(!memcmp(v[0].data, "张伟", 6));
    cr_assert(!memcmp(v[1].data, "刘慧佳", 9));
    cr_assert(!memcmp(v[2].data, "A1", 2));
    cr_assert_eq(v[3].len, 4500 * 3);
    cr_assert(!memcmp(v[3].data + 13497, "张", 3));
    /* Half a GBK character is not GBK. */
    gh_pgo_value_t w[1] = {{GH_PGO_TEXT, "ab\xD5", 3}};
    cr_assert_eq(gh_enc_values(e, w, 1, &bad, err, sizeof(err)),
                 GH_ERR_MAPPING);
    cr_assert_eq(bad, 0);
    free(big);
    gh_enc_destroy(e);
    cr_assert_null(gh_enc_new("NO-SUCH-CHARSET", err, sizeof(err)));
    cr_assert(strstr(err, "NO-SUCH-CHARSET"), "%s", err);
}

Test(text, private_files_are_0600_and_never_reused) {
    char dir[] = "/tmp/gh-text-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256], link[256];
    snprintf(path, sizeof(path), "%s/out", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    FILE *f = gh_fopen_private(path, 0);
    cr_assert_not_null(f);
    fputs("x", f);
    fclose(f);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_null(gh_fopen_private(path, 0), "an existing file is not reused");
    cr_assert_eq(errno, EEXIST);
    cr_assert_eq(chmod(path, 0644), 0);
    f = gh_fopen_private(path, 1);
    cr_assert_not_null(f, "replace truncates an existing file");
    fclose(f);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "and narrows its mode");
    cr_assert_eq(st.st_size, 0);
    cr_assert_eq(symlink(path, link), 0);
    cr_assert_null(gh_fopen_private(link, 0), "a symlink is not followed");
    cr_assert_null(gh_fopen_private(link, 1), "nor when replacing");
    unlink(link);
    unlink(path);
    /* Not a regular file (an operator's --out /dev/null, a FIFO): written
     * to, its mode left alone. */
    char fifo[256];
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0644), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    cr_assert_geq(rd, 0);
    f = gh_fopen_private(fifo, 1);
    cr_assert_not_null(f, "a FIFO is written to");
    fclose(f);
    close(rd);
    cr_assert_eq(stat(fifo, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644, "and its mode is not changed");
    unlink(fifo);
    rmdir(dir);
}
