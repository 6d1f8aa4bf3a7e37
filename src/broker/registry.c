/*
 * The session registry: client identifier -> session, a chained hash table that doubles when
 * it fills. The chain links live in the sessions themselves (no allocation per entry). Guarded
 * by broker.registry_lock; it owns one reference to each session in it.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "session/session.h"

struct registry {
    struct session **buckets;
    size_t bucket_count; /* a power of two */
    size_t count;
};

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

struct registry *registry_new(void)
{
    struct registry *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->bucket_count = 1024;
    r->buckets = calloc(r->bucket_count, sizeof *r->buckets);
    if (!r->buckets) {
        free(r);
        return NULL;
    }
    return r;
}

void registry_free(struct registry *r, void (*release)(struct session *))
{
    if (!r)
        return;
    for (size_t i = 0; i < r->bucket_count; i++) {
        struct session *s = r->buckets[i];
        while (s) {
            struct session *next = s->registry_next;
            release(s);
            s = next;
        }
    }
    free(r->buckets);
    free(r);
}

struct session *registry_get(struct registry *r, const char *client_id, uint16_t len)
{
    uint32_t h = hash_bytes(client_id, len);
    for (struct session *s = r->buckets[h & (r->bucket_count - 1)]; s; s = s->registry_next)
        if (s->registry_hash == h && s->client_id_len == len &&
            memcmp(s->client_id, client_id, len) == 0)
            return s;
    return NULL;
}

static void grow(struct registry *r)
{
    size_t n = r->bucket_count * 2;
    struct session **b = calloc(n, sizeof *b);
    if (!b)
        return; /* keep the longer chains; still correct */
    for (size_t i = 0; i < r->bucket_count; i++) {
        struct session *s = r->buckets[i];
        while (s) {
            struct session *next = s->registry_next;
            s->registry_next = b[s->registry_hash & (n - 1)];
            b[s->registry_hash & (n - 1)] = s;
            s = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->bucket_count = n;
}

int registry_put(struct registry *r, struct session *s)
{
    if (r->count >= r->bucket_count)
        grow(r);
    s->registry_hash = hash_bytes(s->client_id, s->client_id_len);
    struct session **bucket = &r->buckets[s->registry_hash & (r->bucket_count - 1)];
    s->registry_next = *bucket;
    *bucket = session_ref(s);
    r->count++;
    return 0;
}

void registry_remove(struct registry *r, struct session *s)
{
    struct session **p = &r->buckets[s->registry_hash & (r->bucket_count - 1)];
    for (; *p; p = &(*p)->registry_next) {
        if (*p == s) {
            *p = s->registry_next;
            s->registry_next = NULL;
            r->count--;
            session_unref(s);
            return;
        }
    }
}

size_t registry_count(const struct registry *r)
{
    return r->count;
}

void registry_each(struct registry *r, void (*fn)(void *ctx, struct session *s), void *ctx)
{
    for (size_t i = 0; i < r->bucket_count; i++)
        for (struct session *s = r->buckets[i]; s; s = s->registry_next)
            fn(ctx, s);
}
