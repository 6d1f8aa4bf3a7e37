/*
 * The retained message store: at most one message per topic name, kept in a trie by topic
 * level so that a subscription with wildcards walks only the branches its filter can match.
 *
 * Messages are opaque to the store (the broker stores reference-counted struct message
 * pointers); the store calls `release` exactly once for every message it gave up: replaced,
 * deleted, or still held when the store is freed.
 *
 * Locking: none inside. retained_match and retained_count may run in many threads at once;
 * retained_set and retained_free need exclusive access (the broker's reader-writer lock).
 */
#ifndef MQTTD_BROKER_RETAINED_H
#define MQTTD_BROKER_RETAINED_H

#include <stddef.h>
#include <stdint.h>

struct retained_store;

/*
 * Returns a new empty store, or NULL when out of memory. `release` (may be NULL) is called with
 * each message the store lets go of.
 */
struct retained_store *retained_new(void (*release)(void *message));

/* Releases every stored message, then frees the store. NULL is allowed. */
void retained_free(struct retained_store *store);

/*
 * Stores `message` as the retained message of topic[0..len), taking ownership of it and
 * releasing the one it replaces (unless it is the very same pointer). A NULL message deletes
 * the topic's retained message (if any) and frees the nodes left empty. The topic bytes are
 * copied. If memory runs out the new message is released at once and the old one is kept.
 * Returns the number of retained messages after the operation.
 */
size_t retained_set(struct retained_store *store, const uint8_t *topic, size_t len, void *message);

/*
 * Calls fn for every retained message whose topic matches filter[0..len) under the rules of
 * topic_matches (including: a filter starting with '+' or '#' does not match '$' topics
 * [MQTT-4.7.2-1]). fn gets the stored topic bytes (valid until the next retained_set) and the
 * message (still owned by the store: take a reference to keep it). fn returns 0 to go on or
 * non-zero to stop, and must not modify the store. Never allocates.
 */
void retained_match(const struct retained_store *store, const uint8_t *filter, size_t len,
                    int (*fn)(void *ctx, const uint8_t *topic, size_t topic_len, void *message),
                    void *ctx);

/* Calls fn for every retained message, '$' topics included, as retained_match does. */
void retained_each(const struct retained_store *store,
                   int (*fn)(void *ctx, const uint8_t *topic, size_t topic_len, void *message),
                   void *ctx);

/* The number of retained messages. */
size_t retained_count(const struct retained_store *store);

/* The number of trie nodes, the root included: for memory metrics, and to see pruning work. */
size_t retained_node_count(const struct retained_store *store);

#endif
