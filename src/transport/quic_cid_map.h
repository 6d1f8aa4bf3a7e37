/*
 * QUIC connection IDs -> connections, for one UDP endpoint. Every datagram names its connection
 * by the Destination Connection ID, and a connection answers to several of them at once (the
 * client's first random one, each one we issued with NEW_CONNECTION_ID), so lookups are by
 * bytes, not by address: the address changes when the client migrates, the IDs do not.
 *
 * A chained hash table that doubles when it is full on average; IDs we issue are random, so
 * a plain FNV-1a hash spreads them well. Single-threaded (the endpoint's worker).
 */
#ifndef MQTTD_QUIC_CID_MAP_H
#define MQTTD_QUIC_CID_MAP_H

#include <stddef.h>
#include <stdint.h>

#define QUIC_CID_MAX 20

struct quic_cid_entry {
    struct quic_cid_entry *next;
    void *value;
    uint8_t len;
    uint8_t id[QUIC_CID_MAX];
};

struct quic_cid_map {
    struct quic_cid_entry **buckets;
    size_t bucket_count; /* a power of two, or 0 before the first insert */
    size_t count;
};

/* An empty map needs no allocation: zero the struct. */
void quic_cid_map_free(struct quic_cid_map *m);

/* The value stored for the ID, or NULL. */
void *quic_cid_map_get(const struct quic_cid_map *m, const uint8_t *id, size_t len);

/* Stores value (borrowed) under the ID, replacing any value it had. Returns 0, or -1 when the
 * ID is longer than QUIC_CID_MAX or memory runs out. */
int quic_cid_map_put(struct quic_cid_map *m, const uint8_t *id, size_t len, void *value);

/* Removes the ID when it maps to `value` (an ID re-used by another connection is left alone).
 * Returns 1 when removed, 0 otherwise. */
int quic_cid_map_remove(struct quic_cid_map *m, const uint8_t *id, size_t len, const void *value);

#endif
