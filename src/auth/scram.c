/*
 * SCRAM-SHA-256, the server side (see scram.h). Messages are parsed strictly: attributes in
 * the order RFC 5802 section 7 fixes, and anything unexpected ends the exchange.
 */
#include "auth/scram.h"

#include <gnutls/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64.h"
#include "auth/password_file.h"

#define NONCE_BYTES 18
#define MAX_MESSAGE 2048 /* a longer SCRAM message is not a client's */

struct scram_server {
    char *username;
    char *client_first_bare;
    char *server_first;
    size_t server_first_len;
    char *nonce; /* client's then ours */
    char gs2_header64[16];
    uint8_t stored_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
    char server_final[3 + AUTH_BASE64_LEN(SCRAM_KEY_LEN) + 1];
};

int scram_derive_keys(const uint8_t *password, size_t password_len, const uint8_t *salt,
                      size_t salt_len, uint32_t iterations, uint8_t stored_key[SCRAM_KEY_LEN],
                      uint8_t server_key[SCRAM_KEY_LEN])
{
    uint8_t salted[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN];
    gnutls_datum_t key = {(unsigned char *)password, (unsigned)password_len};
    gnutls_datum_t s = {(unsigned char *)salt, (unsigned)salt_len};
    int rc = gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &s, iterations, salted, sizeof salted);
    if (rc == 0)
        rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, salted, sizeof salted, "Client Key", 10,
                              client_key);
    if (rc == 0)
        rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, client_key, sizeof client_key, stored_key);
    if (rc == 0)
        rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, salted, sizeof salted, "Server Key", 10,
                              server_key);
    memset(salted, 0, sizeof salted);
    memset(client_key, 0, sizeof client_key);
    return rc == 0 ? 0 : -1;
}

const char *scram_server_username(const struct scram_server *s)
{
    return s->username;
}

void scram_server_free(struct scram_server *s)
{
    if (!s)
        return;
    free(s->username);
    free(s->client_first_bare);
    free(s->server_first);
    free(s->nonce);
    free(s);
}

/* Reads "k=value" at *p (up to the next ',' or end); advances past the ','. */
static bool attribute(const char **p, const char *end, char k, const char **value, size_t *len)
{
    if (end - *p < 2 || (*p)[0] != k || (*p)[1] != '=')
        return false;
    const char *v = *p + 2;
    const char *comma = memchr(v, ',', (size_t)(end - v));
    *value = v;
    *len = comma ? (size_t)(comma - v) : (size_t)(end - v);
    *p = comma ? comma + 1 : end;
    return true;
}

/* saslname: "=2C" is ',' and "=3D" is '='; any other '=' is malformed (RFC 5802 5.1). */
static char *decode_saslname(const char *s, size_t len)
{
    char *out = malloc(len + 1), *w = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == 0)
            goto bad;
        if (s[i] != '=') {
            *w++ = s[i];
        } else if (i + 2 < len && s[i + 1] == '2' && s[i + 2] == 'C') {
            *w++ = ',';
            i += 2;
        } else if (i + 2 < len && s[i + 1] == '3' && s[i + 2] == 'D') {
            *w++ = '=';
            i += 2;
        } else {
            goto bad;
        }
    }
    *w = 0;
    if (w == out)
        goto bad;
    return out;
bad:
    free(out);
    return NULL;
}

static bool printable_nonce(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
            return false;
    return len > 0;
}

/* What may follow the nonce: nothing, or extensions "k=..." that are not mandatory ('m'). */
static bool optional_extensions(const char *p, const char *end)
{
    return p == end || (end - p >= 2 && p[0] >= 'a' && p[0] <= 'z' && p[0] != 'm' && p[1] == '=');
}

int scram_server_start(const uint8_t *client_first, size_t len, const struct pw_file *passwords,
                       struct scram_server **out, const char **reply, size_t *reply_len,
                       const char **username)
{
    *out = NULL;
    const char *p = (const char *)client_first, *end = p + len;
    if (len > MAX_MESSAGE || len < 3)
        return -1;
    /* gs2-header: "n,," (no channel binding) or "y,," (client could, thinks we cannot). */
    if ((p[0] != 'n' && p[0] != 'y') || p[1] != ',' || p[2] != ',')
        return -1;
    struct scram_server *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    auth_base64_encode((const uint8_t *)p, 3, s->gs2_header64);
    const char *bare = p + 3;
    p = bare;
    const char *name, *cnonce;
    size_t name_len, cnonce_len;
    if (!attribute(&p, end, 'n', &name, &name_len) ||
        !attribute(&p, end, 'r', &cnonce, &cnonce_len) || !printable_nonce(cnonce, cnonce_len) ||
        !optional_extensions(p, end))
        goto fail;
    if (!(s->username = decode_saslname(name, name_len)))
        goto fail;
    const struct pw_entry *e = pw_file_find(passwords, s->username, strlen(s->username));
    if (!e || e->kind != PW_SCRAM_SHA256)
        goto fail;
    memcpy(s->stored_key, e->hash, SCRAM_KEY_LEN);
    memcpy(s->server_key, e->server_key, SCRAM_KEY_LEN);
    if (!(s->client_first_bare = strndup(bare, (size_t)(end - bare))))
        goto fail;
    uint8_t ours[NONCE_BYTES];
    char ours64[AUTH_BASE64_LEN(NONCE_BYTES) + 1], salt64[AUTH_BASE64_LEN(64) + 1];
    if (gnutls_rnd(GNUTLS_RND_NONCE, ours, sizeof ours) != 0)
        goto fail;
    auth_base64_encode(ours, sizeof ours, ours64);
    auth_base64_encode(e->salt, e->salt_len, salt64);
    if (!(s->nonce = malloc(cnonce_len + sizeof ours64)))
        goto fail;
    memcpy(s->nonce, cnonce, cnonce_len);
    strcpy(s->nonce + cnonce_len, ours64);
    size_t cap = strlen(s->nonce) + strlen(salt64) + 32;
    if (!(s->server_first = malloc(cap)))
        goto fail;
    s->server_first_len =
        (size_t)snprintf(s->server_first, cap, "r=%s,s=%s,i=%u", s->nonce, salt64, e->iterations);
    *out = s;
    *reply = s->server_first;
    *reply_len = s->server_first_len;
    *username = s->username;
    return 0;
fail:
    scram_server_free(s);
    return -1;
}

int scram_server_finish(struct scram_server *s, const uint8_t *client_final, size_t len,
                        const char **reply, size_t *reply_len)
{
    const char *p = (const char *)client_final, *end = p + len;
    if (len > MAX_MESSAGE)
        return -1;
    const char *cb, *nonce, *proof;
    size_t cb_len, nonce_len, proof_len;
    if (!attribute(&p, end, 'c', &cb, &cb_len) || cb_len != strlen(s->gs2_header64) ||
        memcmp(cb, s->gs2_header64, cb_len) != 0)
        return -1;
    if (!attribute(&p, end, 'r', &nonce, &nonce_len) || nonce_len != strlen(s->nonce) ||
        memcmp(nonce, s->nonce, nonce_len) != 0)
        return -1;
    const char *without_proof_end = p - 1; /* the ',' before "p=" */
    if (!attribute(&p, end, 'p', &proof, &proof_len) || p != end)
        return -1;
    uint8_t client_proof[SCRAM_KEY_LEN + 2];
    if (auth_base64_decode(proof, proof_len, client_proof, sizeof client_proof) != SCRAM_KEY_LEN)
        return -1;
    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    size_t bare_len = strlen(s->client_first_bare);
    size_t final_len = (size_t)(without_proof_end - (const char *)client_final);
    size_t auth_len = bare_len + 1 + s->server_first_len + 1 + final_len;
    char *auth = malloc(auth_len);
    if (!auth)
        return -1;
    memcpy(auth, s->client_first_bare, bare_len);
    auth[bare_len] = ',';
    memcpy(auth + bare_len + 1, s->server_first, s->server_first_len);
    auth[bare_len + 1 + s->server_first_len] = ',';
    memcpy(auth + bare_len + 2 + s->server_first_len, client_final, final_len);
    uint8_t signature[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN], stored[SCRAM_KEY_LEN],
        server_signature[SCRAM_KEY_LEN];
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, s->stored_key, SCRAM_KEY_LEN, auth, auth_len,
                              signature);
    for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
        client_key[i] = client_proof[i] ^ signature[i];
    if (rc == 0)
        rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, client_key, SCRAM_KEY_LEN, stored);
    if (rc == 0)
        rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, s->server_key, SCRAM_KEY_LEN, auth, auth_len,
                              server_signature);
    free(auth);
    if (rc != 0 || gnutls_memcmp(stored, s->stored_key, SCRAM_KEY_LEN) != 0)
        return -1;
    memcpy(s->server_final, "v=", 2);
    auth_base64_encode(server_signature, SCRAM_KEY_LEN, s->server_final + 2);
    *reply = s->server_final;
    *reply_len = strlen(s->server_final);
    return 0;
}
