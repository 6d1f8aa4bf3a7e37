/*
 * SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), the server side, sans-I/O: the caller hands
 * in each client message and sends back what comes out. Used as the built-in MQTT 5 enhanced
 * authentication method "SCRAM-SHA-256" (auth.c), with credentials from the password file's
 * $scram-sha-256$ entries.
 *
 *   client-first  "n,,n=USER,r=CNONCE"          -> server-first "r=CNONCE SNONCE,s=SALT,i=ITER"
 *   client-final  "c=biws,r=NONCE,p=PROOF"      -> server-final "v=SIGNATURE"
 *
 * Names and passwords are taken as bytes: no SASLprep (names and passwords outside ASCII must
 * be written the same way by the client and `mqttd passwd`). Channel binding is not offered.
 */
#ifndef MQTTD_AUTH_SCRAM_H
#define MQTTD_AUTH_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_LEN 32 /* SHA-256 */

struct pw_file;
struct scram_server;

/* SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iterations); then
 * StoredKey = SHA256(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword,
 * "Server Key"). Returns 0 or -1. */
int scram_derive_keys(const uint8_t *password, size_t password_len, const uint8_t *salt,
                      size_t salt_len, uint32_t iterations, uint8_t stored_key[SCRAM_KEY_LEN],
                      uint8_t server_key[SCRAM_KEY_LEN]);

/*
 * Reads a client-first message and answers it. `passwords` (borrowed for this call) gives the
 * user's credentials. Returns 0 with a new exchange in *out, its server-first message in
 * *reply / *reply_len (owned by the exchange) and the user's name in *username (owned by the
 * exchange, NUL-terminated); -1 when the message is malformed or the user has no SCRAM
 * credentials (*out NULL).
 */
int scram_server_start(const uint8_t *client_first, size_t len, const struct pw_file *passwords,
                       struct scram_server **out, const char **reply, size_t *reply_len,
                       const char **username);

/* Reads the client-final message. Returns 0 when the proof is right, with the server-final
 * message in *reply (owned by the exchange); -1 otherwise. */
int scram_server_finish(struct scram_server *s, const uint8_t *client_final, size_t len,
                        const char **reply, size_t *reply_len);

/* The user the exchange is about (owned by the exchange). */
const char *scram_server_username(const struct scram_server *s);

void scram_server_free(struct scram_server *s);

#endif
