/*
 * The subscription index: a trie of topic filters, one node per level, that answers "who is
 * subscribed to this topic?" for every PUBLISH.
 *
 * Each node keeps its '+' and '#' children apart from its literal children, so matching a
 * topic visits only nodes whose filter prefix matches. Literal children live in a
 * topic_level_map (a hash table once a level has more than a handful of children).
 *
 * Locking: none inside. Any number of threads may call topic_tree_match / topic_tree_count at
 * once (the only write they make is the atomic round-robin cursor of a share group); subscribe,
 * unsubscribe and free need exclusive access. The broker wraps the tree in a reader-writer lock.
 *
 * Recursion and stack: matching recurses once per '+' level on the path and freeing recurses
 * once per level, so stack depth is bounded by the deepest subscribed filter; the broker caps
 * filter levels (topic_filter_valid's max_levels) to keep that small.
 */
#ifndef MQTTD_BROKER_TOPIC_TREE_H
#define MQTTD_BROKER_TOPIC_TREE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"

struct topic_tree;

/*
 * One subscription: who (an opaque pointer owned by the caller, e.g. a session; the tree never
 * dereferences it), the SUBSCRIBE options byte (MQ_SUBOPT_* bits from codec.h) and the
 * subscription identifier (0 = none).
 */
struct subscription {
    void *subscriber;
    uint32_t subscription_id;
    uint8_t options;
};

/*
 * The members of one shared subscription group ($share/<name>/<filter>) on one filter.
 * Callers read it only, except through share_group_next. `name` points into the group itself
 * and lives as long as the group has members. The pointer stays valid until the group's last
 * member unsubscribes or the tree is freed.
 */
struct share_group {
    mq_bytes name;
    struct subscription *members;
    uint32_t member_count;
    _Atomic uint32_t next; /* round-robin cursor */
};

/* Returns a new empty tree (free it with topic_tree_free), or NULL when out of memory. */
struct topic_tree *topic_tree_new(void);
/* Frees the tree and its nodes; never touches the subscriber pointers. NULL is allowed. */
void topic_tree_free(struct topic_tree *tree);

/*
 * Adds the subscription of `subscriber` on `filter`, shared in group `group` when group.len > 0
 * (group and filter as split by topic_share_parse). If that subscriber already has a
 * subscription on the same (group, filter), its options and identifier are replaced
 * [MQTT-3.8.4-3]. The tree copies the bytes it needs; group and filter stay the caller's.
 * Returns 0 when added, 1 when it replaced one, -MQ_RC_TOPIC_FILTER_INVALID when the filter or
 * the share name is not valid, -ENOMEM when out of memory (the tree is then unchanged).
 */
int topic_tree_subscribe(struct topic_tree *tree, mq_bytes group, mq_bytes filter, void *subscriber,
                         uint8_t options, uint32_t subscription_id);

/*
 * Removes the subscription of `subscriber` on (group, filter). Nodes and groups left empty are
 * freed. Returns 1 when it was removed, 0 when there was none.
 */
int topic_tree_unsubscribe(struct topic_tree *tree, mq_bytes group, mq_bytes filter,
                           void *subscriber);

/*
 * Calls on_subscription for every non-shared subscription whose filter matches `topic` (a
 * subscriber with several matching filters is reported once per filter; the broker merges
 * them), and on_group once for every share group whose filter matches. Either callback may be
 * NULL to skip that kind. Callbacks must not modify the tree. Pointers passed to them are valid
 * until the next write to the tree. Never allocates. Returns the number of callbacks made.
 */
size_t topic_tree_match(const struct topic_tree *tree, const uint8_t *topic, size_t len,
                        void (*on_subscription)(void *ctx, const struct subscription *sub),
                        void (*on_group)(void *ctx, struct share_group *group), void *ctx);

/* The total number of subscriptions, shared ones included. */
size_t topic_tree_count(const struct topic_tree *tree);

/* The number of trie nodes, the root included: for memory metrics, and to see pruning work. */
size_t topic_tree_node_count(const struct topic_tree *tree);

/*
 * The group's next member in round-robin order; safe from concurrent readers. Returns NULL only
 * for a group with no members, which the tree never hands out.
 */
const struct subscription *share_group_next(struct share_group *group);

#endif
