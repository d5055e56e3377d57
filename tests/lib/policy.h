/*
 * Policy and key files for tests: a key per key name derived from the
 * name (so tests compute pseudonyms on their own, with OpenSSL directly),
 * and the default test policy under which subscriber "test" receives every
 * record and field in clear.
 */
#ifndef GH_TEST_POLICY_H
#define GH_TEST_POLICY_H

/* The default policy: subscriber `test` sees everything. */
extern const char *const GH_TEST_POLICY;

/* Writes `text` to <dir>/test.policy and a key file <dir>/test.keys
 * (mode 0600) with the test key of every subscriber.<name>.key (or name)
 * the text declares plus "test". The paths (caller frees) go to
 * *policy_out and *keys_out (each may be NULL). */
void gh_test_policy_write(const char *dir, const char *text, char **policy_out,
                          char **keys_out);

/* The test key of a key name as 64 hex digits. */
void gh_test_key_hex(const char *name, char out[65]);

/* The pseudonym of `id` of `entity` for key name `key`: HMAC-SHA256 of
 * "<entity>:<id>", first 16 bytes in hex (docs/policy.md). */
void gh_test_pseudonym(const char *key, const char *entity, const char *id,
                       char out[33]);

#endif
