/*
 * 0-RTT state shared by the QUIC endpoints (see quic_early.h). The anti-replay cache is an
 * open-addressed table of 128-bit fingerprints of the keys GnuTLS hands us, each with its
 * expiry; a full neighbourhood refuses early data rather than forget a live entry.
 */
#include "transport/quic_early.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define CACHE_SLOTS 16384u /* a 10 s window at over a thousand 0-RTT handshakes a second */
#define CACHE_PROBES 32u

struct cache_slot {
    uint64_t h1, h2;
    time_t expires; /* 0: never used */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_result = -1;
static gnutls_datum_t ticket_key;
static gnutls_anti_replay_t anti_replay;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_slot cache[CACHE_SLOTS];

/* FNV-1a, twice with different bases: a fingerprint, not a defence against chosen keys (the
 * keys are ClientHello digests made by GnuTLS). */
static uint64_t fnv1a(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

int quic_early_cache_add(time_t now, time_t expires, const uint8_t *key, size_t len)
{
    uint64_t h1 = fnv1a(key, len, 14695981039346656037ull);
    uint64_t h2 = fnv1a(key, len, 0x9e3779b97f4a7c15ull);
    int rc = GNUTLS_E_DB_ERROR;
    pthread_mutex_lock(&cache_lock);
    struct cache_slot *free_slot = NULL;
    for (uint32_t i = 0; i < CACHE_PROBES; i++) {
        struct cache_slot *s = &cache[(h1 + i) % CACHE_SLOTS];
        bool live = s->expires > now;
        if (live && s->h1 == h1 && s->h2 == h2) {
            rc = GNUTLS_E_DB_ENTRY_EXISTS;
            free_slot = NULL;
            break;
        }
        if (!live && !free_slot)
            free_slot = s;
    }
    if (free_slot) {
        free_slot->h1 = h1;
        free_slot->h2 = h2;
        free_slot->expires = expires;
        rc = 0;
    }
    pthread_mutex_unlock(&cache_lock);
    return rc;
}

static int add_entry(void *ptr, time_t expires, const gnutls_datum_t *key,
                     const gnutls_datum_t *data)
{
    return quic_early_cache_add(time(NULL), expires, key->data, key->size);
}

static void init_once(void)
{
    if (gnutls_session_ticket_key_generate(&ticket_key) != 0)
        return;
    if (gnutls_anti_replay_init(&anti_replay) != 0) {
        gnutls_free(ticket_key.data);
        ticket_key.data = NULL;
        return;
    }
    gnutls_anti_replay_set_add_function(anti_replay, add_entry);
    gnutls_anti_replay_set_ptr(anti_replay, NULL);
    init_result = 0;
}

int quic_early_init(void)
{
    pthread_once(&once, init_once);
    return init_result;
}

const gnutls_datum_t *quic_early_ticket_key(void)
{
    return &ticket_key;
}

gnutls_anti_replay_t quic_early_anti_replay(void)
{
    return anti_replay;
}
