/*
 * The session registry: client identifier -> session, a chained hash table that doubles when
 * it fills. Guarded by broker.registry_lock; it owns one reference to each session in it.
 */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "session/session.h"

struct registry_entry {
    struct registry_entry *next;
    uint32_t hash;
    struct session *session;
};

struct registry {
    struct registry_entry **buckets;
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
        struct registry_entry *e = r->buckets[i];
        while (e) {
            struct registry_entry *next = e->next;
            release(e->session);
            free(e);
            e = next;
        }
    }
    free(r->buckets);
    free(r);
}

struct session *registry_get(struct registry *r, const char *client_id, uint16_t len)
{
    uint32_t h = hash_bytes(client_id, len);
    for (struct registry_entry *e = r->buckets[h & (r->bucket_count - 1)]; e; e = e->next)
        if (e->hash == h && e->session->client_id_len == len &&
            memcmp(e->session->client_id, client_id, len) == 0)
            return e->session;
    return NULL;
}

static void grow(struct registry *r)
{
    size_t n = r->bucket_count * 2;
    struct registry_entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* keep the longer chains; still correct */
    for (size_t i = 0; i < r->bucket_count; i++) {
        struct registry_entry *e = r->buckets[i];
        while (e) {
            struct registry_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(r->buckets);
    r->buckets = b;
    r->bucket_count = n;
}

int registry_put(struct registry *r, struct session *s)
{
    struct registry_entry *e = malloc(sizeof *e);
    if (!e)
        return -1;
    if (r->count >= r->bucket_count)
        grow(r);
    e->hash = hash_bytes(s->client_id, s->client_id_len);
    e->session = session_ref(s);
    e->next = r->buckets[e->hash & (r->bucket_count - 1)];
    r->buckets[e->hash & (r->bucket_count - 1)] = e;
    r->count++;
    return 0;
}

void registry_remove(struct registry *r, struct session *s)
{
    uint32_t h = hash_bytes(s->client_id, s->client_id_len);
    struct registry_entry **p = &r->buckets[h & (r->bucket_count - 1)];
    for (; *p; p = &(*p)->next) {
        if ((*p)->session == s) {
            struct registry_entry *e = *p;
            *p = e->next;
            r->count--;
            session_unref(s);
            free(e);
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
        for (struct registry_entry *e = r->buckets[i]; e; e = e->next)
            fn(ctx, e->session);
}
