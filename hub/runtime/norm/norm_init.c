/*
 * The process-wide converters of the name functions: OpenCC t2s (繁→简) and
 * ICU's Any-Latin transliterator (pinyin).
 *
 * Loaded once, on the first name call or by gh_norm_init(), and kept until
 * the process exits: loading the OpenCC dictionaries costs milliseconds,
 * which a per-call or per-batch handle would pay millions of times.
 */
#include <stdio.h>
#include <string.h>

#include <unicode/ustring.h>

#include "gridhub/norm.h"
#include "norm_int.h"

static gh__norm_ctx_t g_ctx = {.lock = PTHREAD_MUTEX_INITIALIZER};
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void append_err(const char *msg) {
    size_t n = strlen(g_ctx.err);
    snprintf(g_ctx.err + n, sizeof(g_ctx.err) - n, "%s%s", n ? "; " : "", msg);
}

static void load(void) {
    opencc_t cc = opencc_open(OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP);
    if (cc == (opencc_t)-1) {
        char msg[200];
        const char *why = opencc_error();
        snprintf(msg, sizeof(msg),
                 "OpenCC could not load %s (%s): install the OpenCC data "
                 "files (Debian: libopencc-data, in /usr/share/opencc)",
                 OPENCC_DEFAULT_CONFIG_TRAD_TO_SIMP, why ? why : "?");
        append_err(msg);
    } else {
        g_ctx.t2s = cc;
    }

    UErrorCode st = U_ZERO_ERROR;
    UParseError pe;
    UChar id[16];
    u_uastrcpy(id, "Any-Latin");
    UTransliterator *t =
        utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, &pe, &st);
    if (U_FAILURE(st)) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "ICU has no Any-Latin transliterator (%s): install the ICU "
                 "data (Debian: libicu72)",
                 u_errorName(st));
        append_err(msg);
    } else {
        g_ctx.latin = t;
    }
}

gh__norm_ctx_t *gh__norm_ctx(void) {
    pthread_once(&g_once, load);
    return &g_ctx;
}

gh_err_t gh_norm_init(char *errstr, size_t errstr_size) {
    const gh__norm_ctx_t *c = gh__norm_ctx();
    if (c->err[0])
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG, "%s", c->err);
    if (errstr && errstr_size) errstr[0] = '\0';
    return GH_OK;
}
