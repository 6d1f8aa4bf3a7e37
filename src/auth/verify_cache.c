/*
 * The cache of verified passwords (see verify_cache.h): 1024 slots of 32-byte MACs under one
 * mutex, held only for a lookup or a copy.
 */
#include "auth/verify_cache.h"

#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 1024u
#define MAC_LEN 32u

struct verify_cache {
    pthread_mutex_t lock;
    uint8_t macs[SLOTS][MAC_LEN];
    bool used[SLOTS];
};

static uint8_t process_key[32];
static pthread_once_t process_key_once = PTHREAD_ONCE_INIT;

static void make_process_key(void)
{
    gnutls_rnd(GNUTLS_RND_KEY, process_key, sizeof process_key);
}

struct verify_cache *verify_cache_new(void)
{
    pthread_once(&process_key_once, make_process_key);
    struct verify_cache *c = calloc(1, sizeof *c);
    if (c)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void verify_cache_free(struct verify_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* MAC of "username NUL password": the NUL keeps ("ab","c") and ("a","bc") apart, since a
 * username never holds one (MQTT strings exclude U+0000). */
static bool pair_mac(const char *username, size_t username_len, const uint8_t *password,
                     size_t password_len, uint8_t mac[MAC_LEN])
{
    size_t len = username_len + 1 + password_len;
    uint8_t *buf = malloc(len);
    if (!buf)
        return false;
    memcpy(buf, username, username_len);
    buf[username_len] = 0;
    memcpy(buf + username_len + 1, password, password_len);
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, process_key, sizeof process_key, buf, len, mac);
    memset(buf, 0, len);
    free(buf);
    return rc == 0;
}

static unsigned slot_of(const uint8_t mac[MAC_LEN])
{
    return ((unsigned)mac[0] | (unsigned)mac[1] << 8) % SLOTS;
}

bool verify_cache_has(struct verify_cache *c, const char *username, size_t username_len,
                      const uint8_t *password, size_t password_len)
{
    uint8_t mac[MAC_LEN];
    if (!c || !pair_mac(username, username_len, password, password_len, mac))
        return false;
    unsigned slot = slot_of(mac);
    pthread_mutex_lock(&c->lock);
    bool hit = c->used[slot] && gnutls_memcmp(c->macs[slot], mac, MAC_LEN) == 0;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void verify_cache_put(struct verify_cache *c, const char *username, size_t username_len,
                      const uint8_t *password, size_t password_len)
{
    uint8_t mac[MAC_LEN];
    if (!c || !pair_mac(username, username_len, password, password_len, mac))
        return;
    unsigned slot = slot_of(mac);
    pthread_mutex_lock(&c->lock);
    memcpy(c->macs[slot], mac, MAC_LEN);
    c->used[slot] = true;
    pthread_mutex_unlock(&c->lock);
}
