/*
 * The retained store behind retained.h: a trie with one node per topic level. A node that
 * holds a message also holds a copy of the full topic, so a wildcard walk can hand the topic to
 * its callback without rebuilding it from the levels.
 */
#include "broker/retained.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/topic.h"

struct rt_entry {
    void *message;
    size_t topic_len;
    uint8_t topic[];
};

struct rt_node {
    struct topic_level level; /* first member: see topic_level_map */
    struct topic_level_map kids;
    struct rt_entry *entry;
    uint8_t name[];
};

#define NODE_NAME_OFFSET offsetof(struct rt_node, name)

struct retained_store {
    struct rt_node *root;
    void (*release)(void *message);
    size_t count;
    size_t nodes;
};

static struct rt_node *node_new(struct retained_store *store, const uint8_t *name, size_t len)
{
    struct rt_node *n = calloc(1, sizeof *n + len);
    if (!n)
        return NULL;
    store->nodes++;
    if (len)
        memcpy(n->name, name, len);
    n->level.len = (uint32_t)len;
    n->level.hash = topic_level_hash(name, len);
    return n;
}

static void release_message(const struct retained_store *store, void *message)
{
    if (store->release)
        store->release(message);
}

static void node_free(struct retained_store *store, struct rt_node *n)
{
    for (uint32_t i = 0; i < n->kids.cap; i++)
        if (n->kids.slots[i])
            node_free(store, (struct rt_node *)n->kids.slots[i]);
    topic_level_map_clear(&n->kids);
    if (n->entry) {
        release_message(store, n->entry->message);
        free(n->entry);
        store->count--;
    }
    free(n);
    store->nodes--;
}

static struct rt_node *child(const struct rt_node *n, const uint8_t *name, size_t len)
{
    return (struct rt_node *)topic_level_map_find(&n->kids, name, len, topic_level_hash(name, len),
                                                  NODE_NAME_OFFSET);
}

static struct rt_node *child_or_new(struct retained_store *store, struct rt_node *n,
                                    const uint8_t *name, size_t len)
{
    struct rt_node *c = child(n, name, len);
    if (c)
        return c;
    c = node_new(store, name, len);
    if (c && topic_level_map_add(&n->kids, &c->level) != 0) {
        node_free(store, c);
        c = NULL;
    }
    return c;
}

struct retained_store *retained_new(void (*release)(void *message))
{
    struct retained_store *store = calloc(1, sizeof *store);
    if (!store)
        return NULL;
    store->root = node_new(store, NULL, 0);
    if (!store->root) {
        free(store);
        return NULL;
    }
    store->release = release;
    return store;
}

void retained_free(struct retained_store *store)
{
    if (!store)
        return;
    node_free(store, store->root);
    free(store);
}

/*
 * Frees the nodes of the topic's path that hold nothing any more: everything below the deepest
 * node that must stay (the root, or one with a message or other children). Iterative, so a
 * topic with many levels needs no deep stack.
 */
static void prune_path(struct retained_store *store, const uint8_t *topic, size_t len)
{
    struct rt_node *keep = store->root, *cut = NULL, *n = store->root;
    struct topic_levels it;
    const uint8_t *level;
    size_t level_len;
    topic_levels_init(&it, topic, len);
    while (topic_levels_next(&it, &level, &level_len)) {
        struct rt_node *c = child(n, level, level_len);
        if (!c)
            return;
        if (n == store->root || n->entry || n->kids.count > 1) {
            keep = n;
            cut = c;
        }
        n = c;
    }
    if (cut && !n->entry && n->kids.count == 0) {
        topic_level_map_remove(&keep->kids, &cut->level);
        node_free(store, cut);
    }
}

static struct rt_node *find_node(struct retained_store *store, const uint8_t *topic, size_t len,
                                 bool create)
{
    struct rt_node *n = store->root;
    struct topic_levels it;
    const uint8_t *level;
    size_t level_len;
    topic_levels_init(&it, topic, len);
    while (n && topic_levels_next(&it, &level, &level_len))
        n = create ? child_or_new(store, n, level, level_len) : child(n, level, level_len);
    return n;
}

size_t retained_set(struct retained_store *store, const uint8_t *topic, size_t len, void *message)
{
    if (!message) {
        struct rt_node *n = find_node(store, topic, len, false);
        if (n && n->entry) {
            release_message(store, n->entry->message);
            free(n->entry);
            n->entry = NULL;
            store->count--;
            prune_path(store, topic, len);
        }
        return store->count;
    }
    struct rt_node *n = find_node(store, topic, len, true);
    if (n && n->entry) {
        if (n->entry->message != message)
            release_message(store, n->entry->message);
        n->entry->message = message;
        return store->count;
    }
    struct rt_entry *e = n ? malloc(sizeof *e + len) : NULL;
    if (!e) {
        release_message(store, message);
        prune_path(store, topic, len);
        return store->count;
    }
    e->message = message;
    e->topic_len = len;
    if (len)
        memcpy(e->topic, topic, len);
    n->entry = e;
    store->count++;
    return store->count;
}

struct walk {
    int (*fn)(void *ctx, const uint8_t *topic, size_t topic_len, void *message);
    void *ctx;
};

static int emit(const struct rt_node *n, const struct walk *w)
{
    if (!n->entry)
        return 0;
    return w->fn(w->ctx, n->entry->topic, n->entry->topic_len, n->entry->message);
}

/* A first level starting with '$' is hidden from wildcards at the root [MQTT-4.7.2-1]. */
static bool hidden(const struct rt_node *kid, bool at_root)
{
    return at_root && kid->level.len > 0 && kid->name[0] == '$';
}

static int emit_subtree(const struct rt_node *n, const struct walk *w)
{
    int stop = emit(n, w);
    for (uint32_t i = 0; !stop && i < n->kids.cap; i++)
        if (n->kids.slots[i])
            stop = emit_subtree((const struct rt_node *)n->kids.slots[i], w);
    return stop;
}

/* Walks the literal levels of the filter iteratively; recurses for '+' and '#'. */
static int walk_from(const struct rt_node *n, struct topic_levels it, bool at_root,
                     const struct walk *w)
{
    const uint8_t *level;
    size_t len;
    for (;;) {
        if (!topic_levels_next(&it, &level, &len))
            return emit(n, w);
        bool is_hash = len == 1 && level[0] == '#';
        bool is_plus = len == 1 && level[0] == '+';
        if (is_hash || is_plus) {
            /* '#' also matches the parent level itself: "sport/#" matches "sport". */
            int stop = is_hash ? emit(n, w) : 0;
            for (uint32_t i = 0; !stop && i < n->kids.cap; i++) {
                const struct rt_node *kid = (const struct rt_node *)n->kids.slots[i];
                if (!kid || hidden(kid, at_root))
                    continue;
                stop = is_hash ? emit_subtree(kid, w) : walk_from(kid, it, false, w);
            }
            return stop;
        }
        n = child(n, level, len);
        if (!n)
            return 0;
        at_root = false;
    }
}

void retained_match(const struct retained_store *store, const uint8_t *filter, size_t len,
                    int (*fn)(void *ctx, const uint8_t *topic, size_t topic_len, void *message),
                    void *ctx)
{
    struct walk w = {fn, ctx};
    struct topic_levels it;
    topic_levels_init(&it, filter, len);
    walk_from(store->root, it, true, &w);
}

void retained_each(const struct retained_store *store,
                   int (*fn)(void *ctx, const uint8_t *topic, size_t topic_len, void *message),
                   void *ctx)
{
    struct walk w = {fn, ctx};
    emit_subtree(store->root, &w);
}

size_t retained_count(const struct retained_store *store)
{
    return store->count;
}

size_t retained_node_count(const struct retained_store *store)
{
    return store->nodes;
}
