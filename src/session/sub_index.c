/*
 * The per-session subscription index (sub_index.h): chained buckets, twice as many as entries
 * at most, the chains threaded through the subscriptions themselves (hash_next).
 */
#include "session/sub_index.h"

#include <stdlib.h>
#include <string.h>

struct sub_index {
    uint32_t mask; /* buckets - 1, a power of two minus one */
    struct session_subscription *buckets[];
};

uint32_t sub_index_hash(const uint8_t *group, uint16_t group_len, const uint8_t *filter,
                        uint16_t filter_len)
{
    uint32_t h = 2166136261u;
    for (uint16_t i = 0; i < group_len; i++)
        h = (h ^ group[i]) * 16777619u;
    h = (h ^ 0xFFu) * 16777619u; /* no byte of a UTF-8 string: "a"+"bc" differs from "ab"+"c" */
    for (uint16_t i = 0; i < filter_len; i++)
        h = (h ^ filter[i]) * 16777619u;
    return h;
}

bool sub_index_is(const struct session_subscription *sub, const uint8_t *group, uint16_t group_len,
                  const uint8_t *filter, uint16_t filter_len)
{
    return sub->group_len == group_len && sub->filter_len == filter_len &&
           (group_len == 0 || memcmp(sub->text, group, group_len) == 0) &&
           memcmp(sub->text + group_len, filter, filter_len) == 0;
}

static struct sub_index *index_new(uint32_t count)
{
    uint32_t buckets = 64;
    while (buckets < 2 * (uint64_t)count && buckets < (1u << 30))
        buckets *= 2;
    struct sub_index *ix = calloc(1, sizeof *ix + buckets * sizeof ix->buckets[0]);
    if (ix)
        ix->mask = buckets - 1;
    return ix;
}

static void link_in(struct sub_index *ix, struct session_subscription *sub)
{
    struct session_subscription **b = &ix->buckets[sub->hash & ix->mask];
    sub->hash_next = *b;
    *b = sub;
}

struct sub_index *sub_index_build(struct session_subscription *list, uint32_t count)
{
    struct sub_index *ix = index_new(count);
    if (!ix)
        return NULL;
    for (struct session_subscription *sub = list; sub; sub = sub->next)
        link_in(ix, sub);
    return ix;
}

void sub_index_free(struct sub_index *ix)
{
    free(ix);
}

int sub_index_insert(struct sub_index **ix, struct session_subscription *sub, uint32_t count)
{
    struct sub_index *old = *ix;
    if (count > old->mask + 1) {
        struct sub_index *grown = index_new(count);
        if (!grown) {
            free(old);
            *ix = NULL;
            return -1;
        }
        for (uint32_t i = 0; i <= old->mask; i++) {
            struct session_subscription *next;
            for (struct session_subscription *s = old->buckets[i]; s; s = next) {
                next = s->hash_next;
                link_in(grown, s);
            }
        }
        free(old);
        *ix = old = grown;
    }
    link_in(old, sub);
    return 0;
}

void sub_index_remove(struct sub_index *ix, struct session_subscription *sub)
{
    for (struct session_subscription **p = &ix->buckets[sub->hash & ix->mask]; *p;
         p = &(*p)->hash_next) {
        if (*p == sub) {
            *p = sub->hash_next;
            return;
        }
    }
}

struct session_subscription *sub_index_find(const struct sub_index *ix, uint32_t hash,
                                            const uint8_t *group, uint16_t group_len,
                                            const uint8_t *filter, uint16_t filter_len)
{
    for (struct session_subscription *s = ix->buckets[hash & ix->mask]; s; s = s->hash_next)
        if (s->hash == hash && sub_index_is(s, group, group_len, filter, filter_len))
            return s;
    return NULL;
}
