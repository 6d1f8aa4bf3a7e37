/*
 * The password file (see password_file.h): parsing into a sorted array of entries, lookup by
 * binary search, verification of the three hash kinds, and the line `mqttd passwd` writes.
 */
#include "auth/password_file.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/base64.h"
#include "auth/file_text.h"
#include "auth/scram.h"
#include "auth/verify_cache.h"

#define SALT_LEN 12 /* bytes, as mosquitto_passwd makes them */

struct pw_file {
    struct pw_entry *entries; /* sorted by username */
    size_t count;
    struct verify_cache *verified;
};

static int by_username(const void *a, const void *b)
{
    return strcmp(((const struct pw_entry *)a)->username, ((const struct pw_entry *)b)->username);
}

/* Splits "$A$B$C..." (after the leading '$') into at most max fields; returns how many. */
static size_t split_fields(const char *s, size_t len, const char **field, size_t *field_len,
                           size_t max)
{
    size_t n = 0;
    const char *end = s + len;
    while (n < max) {
        const char *sep = memchr(s, '$', (size_t)(end - s));
        field[n] = s;
        field_len[n] = sep ? (size_t)(sep - s) : (size_t)(end - s);
        n++;
        if (!sep)
            return n;
        s = sep + 1;
    }
    return n + 1; /* more fields than expected */
}

static bool parse_iterations(const char *s, size_t len, uint32_t *out)
{
    if (len == 0 || len > 9)
        return false;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v == 0 || v > PW_MAX_ITERATIONS)
        return false;
    *out = v;
    return true;
}

static bool decode_into(const char *s, size_t len, uint8_t *out, size_t cap, uint8_t *out_len)
{
    long n = auth_base64_decode(s, len, out, cap);
    if (n <= 0)
        return false;
    *out_len = (uint8_t)n;
    return true;
}

/* Parses the part after "username:"; returns NULL or what is wrong with it. */
static const char *parse_hash(const char *s, size_t len, struct pw_entry *e)
{
    const char *f[6] = {0};
    size_t fl[6] = {0};
    if (len < 1 || s[0] != '$')
        return "not a hashed password ($7$, $6$ or $scram-sha-256$)";
    size_t n = split_fields(s + 1, len - 1, f, fl, 6);
    uint8_t key_len;
    if (fl[0] == 1 && f[0][0] == '7') {
        e->kind = PW_PBKDF2_SHA512;
        if (n != 4)
            return "a $7$ entry is $7$ITERATIONS$SALT$HASH";
        if (!parse_iterations(f[1], fl[1], &e->iterations))
            return "bad iteration count";
        if (!decode_into(f[2], fl[2], e->salt, sizeof e->salt, &e->salt_len))
            return "bad salt";
        if (!decode_into(f[3], fl[3], e->hash, sizeof e->hash, &e->hash_len) || e->hash_len != 64)
            return "bad hash (64 bytes of base64 expected)";
    } else if (fl[0] == 1 && f[0][0] == '6') {
        e->kind = PW_SHA512;
        if (n != 3)
            return "a $6$ entry is $6$SALT$HASH";
        if (!decode_into(f[1], fl[1], e->salt, sizeof e->salt, &e->salt_len))
            return "bad salt";
        if (!decode_into(f[2], fl[2], e->hash, sizeof e->hash, &e->hash_len) || e->hash_len != 64)
            return "bad hash (64 bytes of base64 expected)";
    } else if (fl[0] == 13 && memcmp(f[0], "scram-sha-256", 13) == 0) {
        e->kind = PW_SCRAM_SHA256;
        if (n != 5)
            return "a $scram-sha-256$ entry is $scram-sha-256$ITERATIONS$SALT$STOREDKEY$SERVERKEY";
        if (!parse_iterations(f[1], fl[1], &e->iterations))
            return "bad iteration count";
        if (!decode_into(f[2], fl[2], e->salt, sizeof e->salt, &e->salt_len))
            return "bad salt";
        if (!decode_into(f[3], fl[3], e->hash, sizeof e->hash, &e->hash_len) ||
            e->hash_len != SCRAM_KEY_LEN)
            return "bad stored key (32 bytes of base64 expected)";
        if (!decode_into(f[4], fl[4], e->server_key, sizeof e->server_key, &key_len) ||
            key_len != SCRAM_KEY_LEN)
            return "bad server key (32 bytes of base64 expected)";
    } else {
        return "unknown hash type (expected $7$, $6$ or $scram-sha-256$)";
    }
    return NULL;
}

void pw_file_free(struct pw_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        free(f->entries[i].username);
    free(f->entries);
    verify_cache_free(f->verified);
    free(f);
}

int pw_file_parse(const char *text, size_t len, const char *name, struct pw_file **out, char *err,
                  size_t errlen)
{
    struct pw_file *f = calloc(1, sizeof *f);
    size_t cap = 0;
    if (!f || !(f->verified = verify_cache_new()))
        goto oom;
    struct file_line line;
    for (size_t pos = 0; file_text_next_line(text, len, &pos, &line);) {
        if (line.len == 0 || line.text[0] == '#')
            continue;
        const char *colon = memchr(line.text, ':', line.len);
        if (!colon || colon == line.text) {
            snprintf(err, errlen, "%s:%u: expected username:hash", name, line.number);
            goto fail;
        }
        size_t ulen = (size_t)(colon - line.text);
        if (memchr(line.text, 0, ulen) || ulen > 65535) {
            snprintf(err, errlen, "%s:%u: invalid username", name, line.number);
            goto fail;
        }
        if (f->count == cap) {
            cap = cap ? cap * 2 : 16;
            struct pw_entry *more = realloc(f->entries, cap * sizeof *more);
            if (!more)
                goto oom;
            f->entries = more;
        }
        struct pw_entry *e = &f->entries[f->count];
        memset(e, 0, sizeof *e);
        const char *why = parse_hash(colon + 1, line.len - ulen - 1, e);
        if (why) {
            snprintf(err, errlen, "%s:%u: user '%.*s': %s", name, line.number, (int)ulen, line.text,
                     why);
            goto fail;
        }
        if (!(e->username = strndup(line.text, ulen)))
            goto oom;
        f->count++;
    }
    /* An empty file has no entries array, and qsort must not be given NULL. */
    if (f->count > 1)
        qsort(f->entries, f->count, sizeof *f->entries, by_username);
    for (size_t i = 1; i < f->count; i++)
        if (strcmp(f->entries[i - 1].username, f->entries[i].username) == 0) {
            snprintf(err, errlen, "%s: user '%s' appears twice", name, f->entries[i].username);
            goto fail;
        }
    *out = f;
    return 0;
oom:
    snprintf(err, errlen, "%s: out of memory", name);
fail:
    pw_file_free(f);
    return -1;
}

int pw_file_load(const char *path, struct pw_file **out, char *err, size_t errlen)
{
    size_t len;
    char *text = file_text_read(path, &len, err, errlen);
    if (!text)
        return -1;
    int rc = pw_file_parse(text, len, path, out, err, errlen);
    free(text);
    return rc;
}

const struct pw_entry *pw_file_find(const struct pw_file *f, const char *username, size_t len)
{
    size_t lo = 0, hi = f ? f->count : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *u = f->entries[mid].username;
        int c = strncmp(u, username, len);
        if (c == 0)
            c = u[len] ? 1 : 0;
        if (c == 0)
            return &f->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t pw_file_count(const struct pw_file *f)
{
    return f ? f->count : 0;
}

bool pw_entry_verify(const struct pw_entry *e, const uint8_t *password, size_t len)
{
    uint8_t got[64], server_key[SCRAM_KEY_LEN];
    gnutls_datum_t key = {(unsigned char *)password, (unsigned)len};
    gnutls_datum_t salt = {(unsigned char *)e->salt, e->salt_len};
    int rc = -1;
    switch (e->kind) {
    case PW_PBKDF2_SHA512:
        rc = gnutls_pbkdf2(GNUTLS_MAC_SHA512, &key, &salt, e->iterations, got, 64);
        break;
    case PW_SHA512: {
        gnutls_hash_hd_t h;
        if ((rc = gnutls_hash_init(&h, GNUTLS_DIG_SHA512)) == 0) {
            gnutls_hash(h, password, len);
            gnutls_hash(h, e->salt, e->salt_len);
            gnutls_hash_deinit(h, got);
        }
        break;
    }
    case PW_SCRAM_SHA256:
        rc = scram_derive_keys(password, len, e->salt, e->salt_len, e->iterations, got, server_key);
        break;
    }
    bool same = rc == 0 && gnutls_memcmp(got, e->hash, e->hash_len) == 0;
    memset(got, 0, sizeof got);
    return same;
}

int pw_file_check(struct pw_file *f, const char *username, size_t username_len,
                  const uint8_t *password, size_t password_len)
{
    const struct pw_entry *e = pw_file_find(f, username, username_len);
    if (!e)
        return -1;
    if (verify_cache_has(f->verified, username, username_len, password, password_len))
        return 0;
    if (!pw_entry_verify(e, password, password_len))
        return -1;
    verify_cache_put(f->verified, username, username_len, password, password_len);
    return 0;
}

char *pw_entry_format(const char *username, const char *password, size_t password_len,
                      enum pw_kind kind, uint32_t iterations)
{
    uint8_t salt[SALT_LEN], hash[64], server_key[SCRAM_KEY_LEN];
    char salt64[AUTH_BASE64_LEN(SALT_LEN) + 1], hash64[AUTH_BASE64_LEN(64) + 1],
        server64[AUTH_BASE64_LEN(SCRAM_KEY_LEN) + 1];
    if (gnutls_rnd(GNUTLS_RND_NONCE, salt, sizeof salt) != 0)
        return NULL;
    auth_base64_encode(salt, sizeof salt, salt64);
    gnutls_datum_t key = {(unsigned char *)password, (unsigned)password_len};
    gnutls_datum_t salt_datum = {salt, sizeof salt};
    size_t cap = strlen(username) + 200;
    char *line = malloc(cap);
    if (!line)
        return NULL;
    if (kind == PW_SCRAM_SHA256) {
        if (scram_derive_keys((const uint8_t *)password, password_len, salt, sizeof salt,
                              iterations, hash, server_key) != 0)
            goto fail;
        auth_base64_encode(hash, SCRAM_KEY_LEN, hash64);
        auth_base64_encode(server_key, SCRAM_KEY_LEN, server64);
        snprintf(line, cap, "%s:$scram-sha-256$%u$%s$%s$%s\n", username, iterations, salt64, hash64,
                 server64);
    } else {
        if (gnutls_pbkdf2(GNUTLS_MAC_SHA512, &key, &salt_datum, iterations, hash, 64) != 0)
            goto fail;
        auth_base64_encode(hash, 64, hash64);
        snprintf(line, cap, "%s:$7$%u$%s$%s\n", username, iterations, salt64, hash64);
    }
    return line;
fail:
    free(line);
    return NULL;
}
