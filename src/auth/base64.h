/*
 * Base64 (RFC 4648, standard alphabet with '=' padding) for the credential formats: Mosquitto's
 * password file stores salts and hashes in it, and SCRAM messages carry nonces and proofs in it.
 */
#ifndef MQTTD_AUTH_BASE64_H
#define MQTTD_AUTH_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters auth_base64_encode writes for `len` bytes, without the terminating NUL. */
#define AUTH_BASE64_LEN(len) ((((len) + 2) / 3) * 4)

/* Writes the encoding of in[0..len) and a NUL to out (AUTH_BASE64_LEN(len) + 1 bytes). */
void auth_base64_encode(const uint8_t *in, size_t len, char *out);

/* Decodes text[0..len) (padding required, no whitespace) into out, at most cap bytes. Returns
 * the number of bytes written, or -1 when the text is not base64 or does not fit. */
long auth_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap);

#endif
