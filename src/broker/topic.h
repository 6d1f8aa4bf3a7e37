/*
 * Topic names and topic filters: validation, $share parsing, the reference matcher, and the
 * level-keyed child map that both tries (topic_tree.c, retained.c) use to find a node's
 * children by level name.
 *
 * All functions take raw bytes with an explicit length; none of them require NUL termination.
 * UTF-8 well-formedness is the codec's job (mq_utf8_valid) and is not rechecked here.
 * Only the child map allocates.
 */
#ifndef MQTTD_BROKER_TOPIC_H
#define MQTTD_BROKER_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

/* The prefix of a shared subscription filter [MQTT-4.8.2-1]. */
#define TOPIC_SHARE_PREFIX "$share/"
#define TOPIC_SHARE_PREFIX_LEN 7u

/*
 * A topic name a PUBLISH may carry: non-empty [MQTT-4.7.3-1], no '+' or '#' [MQTT-4.7.0-1],
 * at most max_levels levels and max_len bytes (0 = no limit for either).
 */
bool topic_name_valid(const uint8_t *s, size_t len, unsigned max_levels, unsigned max_len);

/*
 * A topic filter a SUBSCRIBE may carry: non-empty [MQTT-4.7.3-1], '#' only as the whole last
 * level [MQTT-4.7.1-1], '+' only as a whole level [MQTT-4.7.1-2], within the same limits as
 * topic_name_valid. A "$share/..." filter is checked as written; parse it with
 * topic_share_parse first to check its inner filter.
 */
bool topic_filter_valid(const uint8_t *s, size_t len, unsigned max_levels, unsigned max_len);

/*
 * Splits a shared subscription "$share/<group>/<filter>".
 * Returns 1 and points *group and *filter into s when it is one; 0 when s does not start with
 * "$share/" (an ordinary filter; outputs untouched); -1 when it starts with "$share/" but the
 * share name is empty or holds '+' or '#', or no '/' and non-empty filter follow it
 * [MQTT-4.8.2-1], [MQTT-4.8.2-2]. The inner filter is not validated here.
 */
int topic_share_parse(const uint8_t *s, size_t len, mq_bytes *group, mq_bytes *filter);

/*
 * Whether `filter` matches `topic`, level by level: '+' matches exactly one level (possibly
 * empty), '#' matches the parent level and any number of levels below it, comparison is
 * byte-exact with no normalization [MQTT-4.7.3-4], and a filter starting with a wildcard does
 * not match a topic starting with '$' [MQTT-4.7.2-1]. The reference for the tries below.
 */
bool topic_matches(const uint8_t *filter, size_t filter_len, const uint8_t *topic,
                   size_t topic_len);

/*
 * Iterates over the '/'-separated levels of a topic or filter. "a//b" has three levels, the
 * middle one empty; "" has one empty level.
 */
struct topic_levels {
    const uint8_t *s;
    size_t len;
    size_t pos;
    bool done;
};

void topic_levels_init(struct topic_levels *it, const uint8_t *s, size_t len);
/* Returns true and sets *level and *level_len to the next level, false when none is left. */
bool topic_levels_next(struct topic_levels *it, const uint8_t **level, size_t *level_len);

/*
 * The identity of a trie node in its parent's child map. It must be the first member of the
 * node struct, and the node must keep its level name at a fixed offset from the node's start
 * (a flexible array member); that offset is the `name_offset` argument below.
 */
struct topic_level {
    uint32_t hash;
    uint32_t len;
};

/*
 * A node's literal children, keyed by level name. Up to TOPIC_LEVEL_MAP_LINEAR children are
 * kept in a plain array; beyond that the array becomes an open-addressing hash table, so a
 * level with 100,000 children is still found in constant time. Unused slots are NULL, so a
 * walk over all `cap` slots visits every child. Zero-initialize to get an empty map.
 */
#define TOPIC_LEVEL_MAP_LINEAR 8u

struct topic_level_map {
    struct topic_level **slots;
    uint32_t count;
    uint32_t cap;
};

uint32_t topic_level_hash(const uint8_t *name, size_t len);

/* Returns the child named name[0..len) whose hash is `hash`, or NULL. Never allocates. */
struct topic_level *topic_level_map_find(const struct topic_level_map *map, const uint8_t *name,
                                         size_t len, uint32_t hash, size_t name_offset);

/*
 * Adds a child that is not in the map yet. The map keeps the pointer, not ownership.
 * Returns 0, or -1 when growing the table fails (the map is unchanged).
 */
int topic_level_map_add(struct topic_level_map *map, struct topic_level *child);

/* Removes `child` (by pointer) if it is in the map; may shrink the table. */
void topic_level_map_remove(struct topic_level_map *map, struct topic_level *child);

/* Frees the slot array (not the children). */
void topic_level_map_clear(struct topic_level_map *map);

#endif
