/*
 * Topic names and filters: syntax checks, $share parsing, the single-filter matcher, and the
 * child map the topic tries share. See topic.h for the rules each function implements.
 */
#include "broker/topic.h"

#include <stdlib.h>
#include <string.h>

void topic_levels_init(struct topic_levels *it, const uint8_t *s, size_t len)
{
    it->s = s;
    it->len = len;
    it->pos = 0;
    it->done = false;
}

bool topic_levels_next(struct topic_levels *it, const uint8_t **level, size_t *level_len)
{
    if (it->done)
        return false;
    size_t rest = it->len - it->pos;
    const uint8_t *start = it->s + it->pos;
    /* memchr is not called on an empty rest because s may be NULL when len is 0. */
    const uint8_t *slash = rest ? memchr(start, '/', rest) : NULL;
    *level = start;
    if (slash) {
        *level_len = (size_t)(slash - start);
        it->pos += *level_len + 1;
    } else {
        *level_len = rest;
        it->pos = it->len;
        it->done = true;
    }
    return true;
}

static bool within_limits(size_t len, size_t levels, unsigned max_levels, unsigned max_len)
{
    return (max_len == 0 || len <= max_len) && (max_levels == 0 || levels <= max_levels);
}

bool topic_name_valid(const uint8_t *s, size_t len, unsigned max_levels, unsigned max_len)
{
    if (len == 0)
        return false;
    size_t levels = 1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+' || s[i] == '#')
            return false;
        if (s[i] == '/')
            levels++;
    }
    return within_limits(len, levels, max_levels, max_len);
}

bool topic_filter_valid(const uint8_t *s, size_t len, unsigned max_levels, unsigned max_len)
{
    if (len == 0)
        return false;
    struct topic_levels it;
    const uint8_t *level;
    size_t level_len;
    size_t levels = 0;
    topic_levels_init(&it, s, len);
    while (topic_levels_next(&it, &level, &level_len)) {
        levels++;
        bool has_hash = memchr(level, '#', level_len) != NULL;
        bool has_plus = memchr(level, '+', level_len) != NULL;
        if (has_hash && (level_len != 1 || !it.done))
            return false;
        if (has_plus && level_len != 1)
            return false;
    }
    return within_limits(len, levels, max_levels, max_len);
}

int topic_share_parse(const uint8_t *s, size_t len, mq_bytes *group, mq_bytes *filter)
{
    if (len < TOPIC_SHARE_PREFIX_LEN || memcmp(s, TOPIC_SHARE_PREFIX, TOPIC_SHARE_PREFIX_LEN) != 0)
        return 0;
    if (len > UINT32_MAX)
        return -1;
    const uint8_t *name = s + TOPIC_SHARE_PREFIX_LEN;
    size_t rest = len - TOPIC_SHARE_PREFIX_LEN;
    const uint8_t *slash = rest ? memchr(name, '/', rest) : NULL;
    if (!slash)
        return -1;
    size_t name_len = (size_t)(slash - name);
    size_t filter_len = rest - name_len - 1;
    if (name_len == 0 || filter_len == 0)
        return -1;
    if (memchr(name, '+', name_len) || memchr(name, '#', name_len))
        return -1;
    group->data = name;
    group->len = (uint32_t)name_len;
    filter->data = slash + 1;
    filter->len = (uint32_t)filter_len;
    return 1;
}

static bool is_level(const uint8_t *level, size_t len, uint8_t c)
{
    return len == 1 && level[0] == c;
}

bool topic_matches(const uint8_t *filter, size_t filter_len, const uint8_t *topic, size_t topic_len)
{
    struct topic_levels f, t;
    const uint8_t *fl, *tl;
    size_t fn, tn;
    bool dollar = topic_len > 0 && topic[0] == '$';
    bool first = true;

    topic_levels_init(&f, filter, filter_len);
    topic_levels_init(&t, topic, topic_len);
    while (topic_levels_next(&f, &fl, &fn)) {
        bool wildcard_at_start = first && dollar; /* [MQTT-4.7.2-1] */
        if (is_level(fl, fn, '#'))
            return !wildcard_at_start;
        if (!topic_levels_next(&t, &tl, &tn))
            return false;
        if (is_level(fl, fn, '+')) {
            if (wildcard_at_start)
                return false;
        } else if (fn != tn || memcmp(fl, tl, fn) != 0) {
            return false;
        }
        first = false;
    }
    return !topic_levels_next(&t, &tl, &tn);
}

uint32_t topic_level_hash(const uint8_t *name, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= name[i];
        h *= 16777619u;
    }
    return h;
}

static bool map_is_hashed(const struct topic_level_map *map)
{
    return map->cap > TOPIC_LEVEL_MAP_LINEAR;
}

static bool level_is(const struct topic_level *child, const uint8_t *name, size_t len,
                     uint32_t hash, size_t name_offset)
{
    return child->hash == hash && child->len == len &&
           memcmp((const uint8_t *)child + name_offset, name, len) == 0;
}

struct topic_level *topic_level_map_find(const struct topic_level_map *map, const uint8_t *name,
                                         size_t len, uint32_t hash, size_t name_offset)
{
    if (!map_is_hashed(map)) {
        for (uint32_t i = 0; i < map->count; i++)
            if (level_is(map->slots[i], name, len, hash, name_offset))
                return map->slots[i];
        return NULL;
    }
    uint32_t mask = map->cap - 1;
    for (uint32_t i = hash & mask; map->slots[i]; i = (i + 1) & mask)
        if (level_is(map->slots[i], name, len, hash, name_offset))
            return map->slots[i];
    return NULL;
}

/* Puts every child of `map` into a fresh slot array of `cap` slots (linear or hashed). */
static int map_rebuild(struct topic_level_map *map, uint32_t cap)
{
    struct topic_level **slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    uint32_t n = 0;
    for (uint32_t i = 0; i < map->cap; i++) {
        struct topic_level *child = map->slots[i];
        if (!child)
            continue;
        if (cap <= TOPIC_LEVEL_MAP_LINEAR) {
            slots[n++] = child;
        } else {
            uint32_t j = child->hash & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = child;
        }
    }
    free(map->slots);
    map->slots = slots;
    map->cap = cap;
    return 0;
}

int topic_level_map_add(struct topic_level_map *map, struct topic_level *child)
{
    uint32_t want = map->count + 1;
    if (!map_is_hashed(map)) {
        if (want > map->cap) {
            /* Past the linear limit, hash at a load factor of at most one half. */
            uint32_t cap = want <= TOPIC_LEVEL_MAP_LINEAR ? (map->cap ? map->cap * 2 : 2)
                                                          : TOPIC_LEVEL_MAP_LINEAR * 4;
            if (map_rebuild(map, cap) != 0)
                return -1;
        }
    } else if ((uint64_t)want * 2 > map->cap) {
        if (map->cap > UINT32_MAX / 2 || map_rebuild(map, map->cap * 2) != 0)
            return -1;
    }
    if (!map_is_hashed(map)) {
        map->slots[map->count++] = child;
        return 0;
    }
    uint32_t mask = map->cap - 1;
    uint32_t i = child->hash & mask;
    while (map->slots[i])
        i = (i + 1) & mask;
    map->slots[i] = child;
    map->count++;
    return 0;
}

/*
 * Linear-probing deletion without tombstones: later entries of the same probe run are moved
 * back into the hole so every lookup still finds them before reaching an empty slot.
 */
static void map_unhash_slot(struct topic_level_map *map, uint32_t hole)
{
    uint32_t mask = map->cap - 1;
    uint32_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        struct topic_level *e = map->slots[j];
        if (!e)
            break;
        uint32_t home = e->hash & mask;
        /* e may fill the hole unless its home lies cyclically in (hole, j]. */
        bool home_between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_between) {
            map->slots[hole] = e;
            hole = j;
        }
    }
    map->slots[hole] = NULL;
}

void topic_level_map_remove(struct topic_level_map *map, struct topic_level *child)
{
    if (!map_is_hashed(map)) {
        for (uint32_t i = 0; i < map->count; i++) {
            if (map->slots[i] == child) {
                map->slots[i] = map->slots[--map->count];
                map->slots[map->count] = NULL;
                break;
            }
        }
        if (map->count == 0)
            topic_level_map_clear(map);
        return;
    }
    uint32_t mask = map->cap - 1;
    uint32_t i = child->hash & mask;
    while (map->slots[i] && map->slots[i] != child)
        i = (i + 1) & mask;
    if (!map->slots[i])
        return;
    map_unhash_slot(map, i);
    map->count--;
    /* Shrinking is an optimisation: if it fails the larger table stays valid. */
    if (map->count <= TOPIC_LEVEL_MAP_LINEAR / 2)
        map_rebuild(map, TOPIC_LEVEL_MAP_LINEAR);
    else if ((uint64_t)map->count * 8 < map->cap)
        map_rebuild(map, map->cap / 2);
}

void topic_level_map_clear(struct topic_level_map *map)
{
    free(map->slots);
    map->slots = NULL;
    map->count = 0;
    map->cap = 0;
}
