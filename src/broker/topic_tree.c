/*
 * The subscription trie behind topic_tree.h. A node stands for one filter level; the
 * subscriptions of a filter sit on the node of its last level. '#' nodes never have children
 * because a valid filter ends at '#'.
 *
 * Arrays of subscriptions, groups and members keep no capacity field: their capacity is the
 * count rounded up to a power of two, which keeps nodes small when millions exist.
 */
#include "broker/topic_tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/topic.h"

struct tt_node {
    struct topic_level level; /* first member: see topic_level_map */
    struct topic_level_map kids;
    struct tt_node *plus;
    struct tt_node *hash;
    struct subscription *subs;
    struct share_group **groups;
    uint32_t sub_count;
    uint32_t group_count;
    uint8_t name[];
};

#define NODE_NAME_OFFSET offsetof(struct tt_node, name)

struct topic_tree {
    struct tt_node *root;
    size_t count;
    size_t nodes;
};

static bool is_pow2(uint32_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* The array to hold count + 1 elements: arr itself, a reallocation, or NULL (arr kept). */
static void *array_grow(void *arr, uint32_t count, size_t elem)
{
    if (count != 0 && !is_pow2(count))
        return arr;
    if (count > UINT32_MAX / 2)
        return NULL;
    return realloc(arr, (count ? (size_t)count * 2 : 1) * elem);
}

/* The array after shrinking to `count` elements (NULL when empty). */
static void *array_shrink(void *arr, uint32_t count, size_t elem)
{
    if (count == 0) {
        free(arr);
        return NULL;
    }
    if (!is_pow2(count))
        return arr;
    void *smaller = realloc(arr, (size_t)count * elem);
    return smaller ? smaller : arr;
}

static struct tt_node *node_new(struct topic_tree *tree, const uint8_t *name, size_t len)
{
    struct tt_node *n = calloc(1, sizeof *n + len);
    if (!n)
        return NULL;
    tree->nodes++;
    if (len)
        memcpy(n->name, name, len);
    n->level.len = (uint32_t)len;
    n->level.hash = topic_level_hash(name, len);
    return n;
}

static void group_free(struct share_group *g)
{
    free(g->members);
    free(g);
}

static void node_free(struct topic_tree *tree, struct tt_node *n)
{
    if (!n)
        return;
    for (uint32_t i = 0; i < n->kids.cap; i++)
        if (n->kids.slots[i])
            node_free(tree, (struct tt_node *)n->kids.slots[i]);
    topic_level_map_clear(&n->kids);
    node_free(tree, n->plus);
    node_free(tree, n->hash);
    for (uint32_t i = 0; i < n->group_count; i++)
        group_free(n->groups[i]);
    free(n->groups);
    free(n->subs);
    free(n);
    tree->nodes--;
}

static uint32_t child_count(const struct tt_node *n)
{
    return n->kids.count + (n->plus != NULL) + (n->hash != NULL);
}

static struct tt_node *literal_child(const struct tt_node *n, const uint8_t *name, size_t len)
{
    return (struct tt_node *)topic_level_map_find(&n->kids, name, len, topic_level_hash(name, len),
                                                  NODE_NAME_OFFSET);
}

/* The child of n for one filter level, created when `create` is set; NULL if absent/no memory. */
static struct tt_node *child_for_level(struct topic_tree *tree, struct tt_node *n,
                                       const uint8_t *level, size_t len, bool create)
{
    struct tt_node **wild = NULL;
    if (len == 1 && level[0] == '+')
        wild = &n->plus;
    else if (len == 1 && level[0] == '#')
        wild = &n->hash;
    if (wild) {
        if (!*wild && create)
            *wild = node_new(tree, level, len);
        return *wild;
    }
    struct tt_node *child = literal_child(n, level, len);
    if (child || !create)
        return child;
    child = node_new(tree, level, len);
    if (child && topic_level_map_add(&n->kids, &child->level) != 0) {
        node_free(tree, child);
        child = NULL;
    }
    return child;
}

static void detach_child(struct tt_node *parent, struct tt_node *child)
{
    if (parent->plus == child)
        parent->plus = NULL;
    else if (parent->hash == child)
        parent->hash = NULL;
    else
        topic_level_map_remove(&parent->kids, &child->level);
}

/*
 * Frees the nodes of `filter`'s path that hold nothing any more: from the deepest node that
 * must stay (the root, or one with subscriptions or other children) downwards. Iterative, so a
 * deep filter needs no deep stack here.
 */
static void prune_path(struct topic_tree *tree, mq_bytes filter)
{
    struct tt_node *keep = tree->root, *cut = NULL, *n = tree->root;
    struct topic_levels it;
    const uint8_t *level;
    size_t len;
    topic_levels_init(&it, filter.data, filter.len);
    while (topic_levels_next(&it, &level, &len)) {
        struct tt_node *child = child_for_level(tree, n, level, len, false);
        if (!child)
            return;
        if (n == tree->root || n->sub_count || n->group_count || child_count(n) > 1) {
            keep = n;
            cut = child;
        }
        n = child;
    }
    if (cut && !n->sub_count && !n->group_count && child_count(n) == 0) {
        detach_child(keep, cut);
        node_free(tree, cut);
    }
}

static struct tt_node *find_node(struct topic_tree *tree, mq_bytes filter, bool create)
{
    struct tt_node *n = tree->root;
    struct topic_levels it;
    const uint8_t *level;
    size_t len;
    topic_levels_init(&it, filter.data, filter.len);
    while (n && topic_levels_next(&it, &level, &len))
        n = child_for_level(tree, n, level, len, create);
    return n;
}

static bool share_name_valid(mq_bytes group)
{
    for (uint32_t i = 0; i < group.len; i++)
        if (group.data[i] == '/' || group.data[i] == '+' || group.data[i] == '#')
            return false;
    return true;
}

struct topic_tree *topic_tree_new(void)
{
    struct topic_tree *tree = calloc(1, sizeof *tree);
    if (!tree)
        return NULL;
    tree->root = node_new(tree, NULL, 0);
    if (!tree->root) {
        free(tree);
        return NULL;
    }
    return tree;
}

void topic_tree_free(struct topic_tree *tree)
{
    if (!tree)
        return;
    node_free(tree, tree->root);
    free(tree);
}

static struct subscription *find_sub(struct subscription *subs, uint32_t count, void *subscriber)
{
    for (uint32_t i = 0; i < count; i++)
        if (subs[i].subscriber == subscriber)
            return &subs[i];
    return NULL;
}

static struct share_group *find_group(const struct tt_node *n, mq_bytes name)
{
    for (uint32_t i = 0; i < n->group_count; i++) {
        struct share_group *g = n->groups[i];
        if (g->name.len == name.len && memcmp(g->name.data, name.data, name.len) == 0)
            return g;
    }
    return NULL;
}

/* Appends to *subs (count *count); returns the new slot or NULL when out of memory. */
static struct subscription *append_sub(struct subscription **subs, uint32_t *count)
{
    struct subscription *grown = array_grow(*subs, *count, sizeof **subs);
    if (!grown)
        return NULL;
    *subs = grown;
    return &grown[(*count)++];
}

static struct share_group *add_group(struct tt_node *n, mq_bytes name)
{
    struct share_group **groups = array_grow(n->groups, n->group_count, sizeof *groups);
    if (!groups)
        return NULL;
    n->groups = groups;
    struct share_group *g = calloc(1, sizeof *g + name.len);
    if (!g)
        return NULL;
    uint8_t *copy = (uint8_t *)(g + 1);
    memcpy(copy, name.data, name.len);
    g->name.data = copy;
    g->name.len = name.len;
    atomic_init(&g->next, 0);
    n->groups[n->group_count++] = g;
    return g;
}

static void remove_group(struct tt_node *n, struct share_group *g)
{
    for (uint32_t i = 0; i < n->group_count; i++) {
        if (n->groups[i] == g) {
            n->groups[i] = n->groups[--n->group_count];
            n->groups = array_shrink(n->groups, n->group_count, sizeof *n->groups);
            group_free(g);
            return;
        }
    }
}

/* Adds to node n; returns 0 new, 1 replaced, -ENOMEM. */
static int node_subscribe(struct tt_node *n, mq_bytes group, void *subscriber, uint8_t options,
                          uint32_t subscription_id)
{
    struct subscription **subs = &n->subs;
    uint32_t *count = &n->sub_count;
    struct share_group *g = NULL;
    if (group.len) {
        g = find_group(n, group);
        if (!g && !(g = add_group(n, group)))
            return -ENOMEM;
        subs = &g->members;
        count = &g->member_count;
    }
    int replaced = 1;
    struct subscription *s = find_sub(*subs, *count, subscriber);
    if (!s) {
        replaced = 0;
        s = append_sub(subs, count);
        if (!s) {
            if (g && g->member_count == 0)
                remove_group(n, g);
            return -ENOMEM;
        }
    }
    s->subscriber = subscriber;
    s->options = options;
    s->subscription_id = subscription_id;
    return replaced;
}

int topic_tree_subscribe(struct topic_tree *tree, mq_bytes group, mq_bytes filter, void *subscriber,
                         uint8_t options, uint32_t subscription_id)
{
    if (!topic_filter_valid(filter.data, filter.len, 0, 0) || !share_name_valid(group))
        return -MQ_RC_TOPIC_FILTER_INVALID;
    struct tt_node *n = find_node(tree, filter, true);
    int rc = n ? node_subscribe(n, group, subscriber, options, subscription_id) : -ENOMEM;
    if (rc < 0)
        prune_path(tree, filter);
    else if (rc == 0)
        tree->count++;
    return rc;
}

/* Removes the element at s from subs[0..*count) by moving the last one into its place. */
static void remove_sub(struct subscription **subs, uint32_t *count, struct subscription *s)
{
    *s = (*subs)[--*count];
    *subs = array_shrink(*subs, *count, sizeof **subs);
}

int topic_tree_unsubscribe(struct topic_tree *tree, mq_bytes group, mq_bytes filter,
                           void *subscriber)
{
    struct tt_node *n = find_node(tree, filter, false);
    if (!n)
        return 0;
    if (group.len == 0) {
        struct subscription *s = find_sub(n->subs, n->sub_count, subscriber);
        if (!s)
            return 0;
        remove_sub(&n->subs, &n->sub_count, s);
    } else {
        struct share_group *g = find_group(n, group);
        struct subscription *s = g ? find_sub(g->members, g->member_count, subscriber) : NULL;
        if (!s)
            return 0;
        remove_sub(&g->members, &g->member_count, s);
        if (g->member_count == 0)
            remove_group(n, g);
    }
    tree->count--;
    prune_path(tree, filter);
    return 1;
}

struct match {
    void (*on_subscription)(void *ctx, const struct subscription *sub);
    void (*on_group)(void *ctx, struct share_group *group);
    void *ctx;
    size_t calls;
};

static void report(const struct tt_node *n, struct match *m)
{
    if (m->on_subscription) {
        for (uint32_t i = 0; i < n->sub_count; i++)
            m->on_subscription(m->ctx, &n->subs[i]);
        m->calls += n->sub_count;
    }
    if (m->on_group) {
        for (uint32_t i = 0; i < n->group_count; i++)
            m->on_group(m->ctx, n->groups[i]);
        m->calls += n->group_count;
    }
}

/*
 * Walks the literal path of the topic iteratively and recurses only into '+' branches.
 * `no_wildcards` is set for the root of a '$' topic [MQTT-4.7.2-1].
 */
static void match_from(const struct tt_node *n, struct topic_levels it, bool no_wildcards,
                       struct match *m)
{
    const uint8_t *level;
    size_t len;
    for (;;) {
        /* '#' also matches the parent level itself: "sport/#" matches "sport". */
        if (n->hash && !no_wildcards)
            report(n->hash, m);
        if (!topic_levels_next(&it, &level, &len)) {
            report(n, m);
            return;
        }
        if (n->plus && !no_wildcards)
            match_from(n->plus, it, false, m);
        n = literal_child(n, level, len);
        if (!n)
            return;
        no_wildcards = false;
    }
}

size_t topic_tree_match(const struct topic_tree *tree, const uint8_t *topic, size_t len,
                        void (*on_subscription)(void *ctx, const struct subscription *sub),
                        void (*on_group)(void *ctx, struct share_group *group), void *ctx)
{
    struct match m = {on_subscription, on_group, ctx, 0};
    struct topic_levels it;
    topic_levels_init(&it, topic, len);
    match_from(tree->root, it, len > 0 && topic[0] == '$', &m);
    return m.calls;
}

size_t topic_tree_count(const struct topic_tree *tree)
{
    return tree->count;
}

const struct subscription *share_group_next(struct share_group *group)
{
    if (group->member_count == 0)
        return NULL;
    uint32_t turn = atomic_fetch_add_explicit(&group->next, 1, memory_order_relaxed);
    return &group->members[turn % group->member_count];
}

size_t topic_tree_node_count(const struct topic_tree *tree)
{
    return tree->nodes;
}
