/* The API's TLS material from api.tls.*; see api_int.h. */
#include <errno.h>
#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api_int.h"
#include "gridhub/log.h"
#include "gridhub/util.h"

/* The PEM text of `prop`'s file; a secret one must be closed to group and
 * others, as the project's other key files are. */
static gh_err_t read_pem(const char *prop, const char *path, int secret,
                         char **out, size_t *len, char *errstr,
                         size_t errstr_size) {
    struct stat st;
    if (stat(path, &st))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: cannot read %s: %s", prop, path, strerror(errno));
    if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)))
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: %s is open to group or others (mode %03o): "
                         "chmod 600 it",
                         prop, path, (unsigned)(st.st_mode & 0777));
    *out = gh_read_file(path, len);
    if (!*out)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s: cannot read %s: %s", prop, path, strerror(errno));
    return GH_OK;
}

/* The first OpenSSL error as text, for a message that says why. */
static const char *ssl_why(char *buf, size_t n) {
    unsigned long e = ERR_peek_last_error();
    if (!e) return "no PEM block found";
    ERR_error_string_n(e, buf, n);
    ERR_clear_error();
    return buf;
}

/* Parses what GnuTLS will be given, so that a wrong file, a wrong
 * passphrase or a key of another certificate is told by property name
 * before the daemon starts (libmicrohttpd would only fail to start). */
static gh_err_t check_pair(const gh__api_tls_t *t, const char *cert_path,
                           const char *key_path, char *errstr,
                           size_t errstr_size) {
    char why[256];
    gh_err_t e = GH_OK;
    BIO *b = BIO_new_mem_buf(t->cert, (int)strlen(t->cert));
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!x)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "api.tls.cert.file: %s is not a PEM certificate (%s)",
                         cert_path, ssl_why(why, sizeof(why)));
    b = BIO_new_mem_buf(t->key, (int)t->key_len);
    EVP_PKEY *k =
        PEM_read_bio_PrivateKey(b, NULL, NULL, t->password ? t->password : "");
    BIO_free(b);
    if (!k)
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "api.tls.key.file: %s is not a PEM private key%s (%s)",
                      key_path,
                      t->password ? " or api.tls.key.password.file does not "
                                    "open it"
                                  : " (an encrypted one needs "
                                    "api.tls.key.password.file)",
                      ssl_why(why, sizeof(why)));
    else if (X509_check_private_key(x, k) != 1)
        e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                      "api.tls.key.file: %s is not the key of "
                      "api.tls.cert.file %s",
                      key_path, cert_path);
    else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
        gh_log_warn("api",
                    "api.tls.cert.file: %s has expired: clients will refuse "
                    "it",
                    cert_path);
    ERR_clear_error();
    EVP_PKEY_free(k);
    X509_free(x);
    return e;
}

gh_err_t gh__api_tls_load(const gh_conf_t *conf, gh__api_tls_t *t, char *errstr,
                          size_t errstr_size) {
    memset(t, 0, sizeof(*t));
    const char *cert = gh_conf_get(conf, "api.tls.cert.file");
    const char *key = gh_conf_get(conf, "api.tls.key.file");
    const char *pass = gh_conf_get(conf, "api.tls.key.password.file");
    if (!cert && !key) {
        if (pass)
            return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                             "api.tls.key.password.file is set without "
                             "api.tls.key.file");
        return GH_OK;
    }
    if (!cert || !key)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "%s is set without %s: TLS needs both",
                         cert ? "api.tls.cert.file" : "api.tls.key.file",
                         cert ? "api.tls.key.file" : "api.tls.cert.file");
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                         "api.tls.cert.file is set but this libmicrohttpd "
                         "was built without TLS: install one with GnuTLS "
                         "(Debian's libmicrohttpd12 has it) or leave TLS to "
                         "a proxy in front");
    size_t len;
    gh_err_t e = read_pem("api.tls.cert.file", cert, 0, &t->cert, &len, errstr,
                          errstr_size);
    if (!e)
        e = read_pem("api.tls.key.file", key, 1, &t->key, &t->key_len, errstr,
                     errstr_size);
    if (!e && pass) {
        if (MHD_is_feature_supported(MHD_FEATURE_HTTPS_KEY_PASSWORD) != MHD_YES)
            e = gh_seterr(errstr, errstr_size, GH_ERR_CONFIG,
                          "api.tls.key.password.file: this libmicrohttpd "
                          "cannot open encrypted keys; decrypt the key "
                          "(openssl pkey) and chmod 600 it");
        else
            e = read_pem("api.tls.key.password.file", pass, 1, &t->password,
                         &t->password_len, errstr, errstr_size);
        /* The first line is the passphrase, as for openssl -passin file:. */
        if (!e) t->password[strcspn(t->password, "\r\n")] = '\0';
    }
    if (!e) e = check_pair(t, cert, key, errstr, errstr_size);
    if (e) gh__api_tls_clear(t);
    return e;
}

void gh__api_tls_clear(gh__api_tls_t *t) {
    free(t->cert);
    gh_free_secret(t->key, t->key_len);
    gh_free_secret(t->password, t->password_len);
    memset(t, 0, sizeof(*t));
}
