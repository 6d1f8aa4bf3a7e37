/*
 * The password file in Mosquitto's format, one `username:HASH` a line, where HASH is
 *   $7$ITERATIONS$SALT$HASH   PBKDF2-HMAC-SHA512, as mosquitto_passwd 2.x writes,
 *   $6$SALT$HASH              SHA-512(password + salt), as mosquitto_passwd 1.x wrote,
 *   $scram-sha-256$ITERATIONS$SALT$STORED_KEY$SERVER_KEY
 *                             mqttd's own: SCRAM-SHA-256 credentials (RFC 5802, RFC 7677),
 *                             which also check a plain CONNECT password,
 * with salts and hashes in base64. Blank lines and lines starting with '#' are skipped.
 *
 * A loaded file is immutable and may be read from any thread, except for its cache of verified
 * passwords, which has a lock of its own (see pw_file_check).
 */
#ifndef MQTTD_AUTH_PASSWORD_FILE_H
#define MQTTD_AUTH_PASSWORD_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* mosquitto_passwd's default iteration count for $7$ (Debian 12's mosquitto 2.0.11 writes
 * $7$101$...). */
#define PW_DEFAULT_ITERATIONS 101
/* SCRAM-SHA-256 entries: RFC 7677 asks for at least 4096. */
#define PW_SCRAM_DEFAULT_ITERATIONS 4096
/* Iterations accepted from a file: above this one login would stall a worker for seconds. */
#define PW_MAX_ITERATIONS 10000000u

enum pw_kind {
    PW_PBKDF2_SHA512, /* $7$ */
    PW_SHA512,        /* $6$ */
    PW_SCRAM_SHA256,  /* $scram-sha-256$ */
};

struct pw_entry {
    char *username; /* NUL-terminated, owned by the file */
    enum pw_kind kind;
    uint32_t iterations;
    uint8_t salt[64];
    uint8_t salt_len;
    uint8_t hash[64];       /* $7$, $6$: the hash; SCRAM: StoredKey (32 bytes) */
    uint8_t server_key[32]; /* SCRAM only */
    uint8_t hash_len;
};

struct pw_file;

/*
 * Parses a whole file held in text[0..len) (need not be NUL-terminated); `name` (borrowed)
 * prefixes errors: "NAME:LINE: message". Returns 0 and a new file in *out, or -1 with err set.
 * This is the entry point for fuzzing.
 */
int pw_file_parse(const char *text, size_t len, const char *name, struct pw_file **out, char *err,
                  size_t errlen);
/* Reads and parses the file at `path` (borrowed). */
int pw_file_load(const char *path, struct pw_file **out, char *err, size_t errlen);
void pw_file_free(struct pw_file *f);

/* The entry of `username` (len bytes, need not be NUL-terminated), or NULL. Valid as long as f. */
const struct pw_entry *pw_file_find(const struct pw_file *f, const char *username, size_t len);
size_t pw_file_count(const struct pw_file *f);

/* Whether `password` is the entry's, compared in constant time. Costs the entry's iterations. */
bool pw_entry_verify(const struct pw_entry *e, const uint8_t *password, size_t len);

/*
 * Checks a username and password against the file: 0 when they match, -1 otherwise. A match
 * is remembered (keyed by an HMAC of username and password under a per-process random key, so
 * the cache holds no password), and the same pair is then accepted without hashing again: a
 * reconnect storm costs no PBKDF2. Thread-safe.
 */
int pw_file_check(struct pw_file *f, const char *username, size_t username_len,
                  const uint8_t *password, size_t password_len);

/*
 * Formats a new line "username:HASH\n" for `password` with a fresh random salt, as
 * `mqttd passwd` writes it: kind PW_PBKDF2_SHA512 or PW_SCRAM_SHA256. Returns the line
 * (caller frees) or NULL when out of memory.
 */
char *pw_entry_format(const char *username, const char *password, size_t password_len,
                      enum pw_kind kind, uint32_t iterations);

#endif
