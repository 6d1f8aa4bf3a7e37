/*
 * The connection ID table of a QUIC endpoint (see quic_cid_map.h).
 */
#include "transport/quic_cid_map.h"

#include <stdlib.h>
#include <string.h>

static size_t cid_hash(const uint8_t *id, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= id[i];
        h *= 16777619u;
    }
    return h;
}

void quic_cid_map_free(struct quic_cid_map *m)
{
    for (size_t i = 0; i < m->bucket_count; i++) {
        struct quic_cid_entry *e = m->buckets[i];
        while (e) {
            struct quic_cid_entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

static struct quic_cid_entry **find_slot(const struct quic_cid_map *m, const uint8_t *id,
                                         size_t len)
{
    struct quic_cid_entry **slot = &m->buckets[cid_hash(id, len) & (m->bucket_count - 1)];
    while (*slot && ((*slot)->len != len || memcmp((*slot)->id, id, len) != 0))
        slot = &(*slot)->next;
    return slot;
}

void *quic_cid_map_get(const struct quic_cid_map *m, const uint8_t *id, size_t len)
{
    if (m->bucket_count == 0 || len > QUIC_CID_MAX)
        return NULL;
    struct quic_cid_entry *e = *find_slot(m, id, len);
    return e ? e->value : NULL;
}

static int grow(struct quic_cid_map *m)
{
    size_t count = m->bucket_count ? m->bucket_count * 2 : 64;
    struct quic_cid_entry **buckets = calloc(count, sizeof *buckets);
    if (!buckets)
        return -1;
    for (size_t i = 0; i < m->bucket_count; i++) {
        struct quic_cid_entry *e = m->buckets[i];
        while (e) {
            struct quic_cid_entry *next = e->next;
            size_t b = cid_hash(e->id, e->len) & (count - 1);
            e->next = buckets[b];
            buckets[b] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = buckets;
    m->bucket_count = count;
    return 0;
}

int quic_cid_map_put(struct quic_cid_map *m, const uint8_t *id, size_t len, void *value)
{
    if (len > QUIC_CID_MAX)
        return -1;
    if (m->count >= m->bucket_count && grow(m) != 0 && m->bucket_count == 0)
        return -1;
    struct quic_cid_entry **slot = find_slot(m, id, len);
    if (*slot) {
        (*slot)->value = value;
        return 0;
    }
    struct quic_cid_entry *e = calloc(1, sizeof *e);
    if (!e)
        return -1;
    e->value = value;
    e->len = (uint8_t)len;
    memcpy(e->id, id, len);
    *slot = e;
    m->count++;
    return 0;
}

int quic_cid_map_remove(struct quic_cid_map *m, const uint8_t *id, size_t len, const void *value)
{
    if (m->bucket_count == 0 || len > QUIC_CID_MAX)
        return 0;
    struct quic_cid_entry **slot = find_slot(m, id, len);
    if (!*slot || (*slot)->value != value)
        return 0;
    struct quic_cid_entry *e = *slot;
    *slot = e->next;
    free(e);
    m->count--;
    return 1;
}
