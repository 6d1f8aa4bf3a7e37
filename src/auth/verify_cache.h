/*
 * Remembers (username, password) pairs that verified, so that checking the same pair again
 * costs one HMAC instead of a password hash. A pair is stored as HMAC-SHA256 under a random key
 * made once per process, so the cache holds nothing a memory dump could turn back into a
 * password, and the slot is chosen from that MAC, so nobody can aim collisions at it.
 * Bounded: a fixed table where a new pair takes the slot of whatever was there.
 */
#ifndef MQTTD_AUTH_VERIFY_CACHE_H
#define MQTTD_AUTH_VERIFY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct verify_cache;

/* A new empty cache, or NULL when out of memory. */
struct verify_cache *verify_cache_new(void);
void verify_cache_free(struct verify_cache *c);

/* Whether the pair was stored. Thread-safe. */
bool verify_cache_has(struct verify_cache *c, const char *username, size_t username_len,
                      const uint8_t *password, size_t password_len);
/* Stores the pair. Thread-safe. */
void verify_cache_put(struct verify_cache *c, const char *username, size_t username_len,
                      const uint8_t *password, size_t password_len);

#endif
