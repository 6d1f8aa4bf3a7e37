/*
 * A hash index over one session's subscriptions by (share group, filter), so that a client
 * holding 100,000 subscriptions subscribes and unsubscribes in constant time instead of walking
 * its list for each filter. Only sessions past SUB_INDEX_MIN subscriptions build one: the many
 * with a few keep just their list, and no memory for an index.
 */
#ifndef MQTTD_SESSION_SUB_INDEX_H
#define MQTTD_SESSION_SUB_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "session/session.h"

#define SUB_INDEX_MIN 32

struct sub_index;

uint32_t sub_index_hash(const uint8_t *group, uint16_t group_len, const uint8_t *filter,
                        uint16_t filter_len);
/* Whether `sub` is the subscription on (group, filter). */
bool sub_index_is(const struct session_subscription *sub, const uint8_t *group, uint16_t group_len,
                  const uint8_t *filter, uint16_t filter_len);

/* An index of every entry of `list` (count entries), or NULL when out of memory. */
struct sub_index *sub_index_build(struct session_subscription *list, uint32_t count);
void sub_index_free(struct sub_index *ix);
/* Adds `sub` (its hash set); `count` is how many the index will hold. Returns -1 when the index
 * could not grow: it is then freed and *ix set to NULL (the list still has everything). */
int sub_index_insert(struct sub_index **ix, struct session_subscription *sub, uint32_t count);
void sub_index_remove(struct sub_index *ix, struct session_subscription *sub);
struct session_subscription *sub_index_find(const struct sub_index *ix, uint32_t hash,
                                            const uint8_t *group, uint16_t group_len,
                                            const uint8_t *filter, uint16_t filter_len);

#endif
