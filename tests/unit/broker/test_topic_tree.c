/*
 * Tests of the subscription trie: subscribe/replace/unsubscribe, pruning, matching with
 * wildcards and '$' topics, shared groups, a 100,000-topic fan-out, and a randomized comparison
 * against the reference matcher topic_matches.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/topic.h"
#include "broker/topic_tree.h"

#define MAX_SEEN 64

struct seen {
    size_t subs;
    size_t groups;
    const struct subscription *sub[MAX_SEEN];
    struct share_group *group[MAX_SEEN];
};

static void on_sub(void *ctx, const struct subscription *s)
{
    struct seen *seen = ctx;
    if (seen->subs < MAX_SEEN)
        seen->sub[seen->subs] = s;
    seen->subs++;
}

static void on_group(void *ctx, struct share_group *g)
{
    struct seen *seen = ctx;
    if (seen->groups < MAX_SEEN)
        seen->group[seen->groups] = g;
    seen->groups++;
}

static mq_bytes B(const char *s)
{
    mq_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
    return b;
}

static const mq_bytes NO_GROUP = {NULL, 0};

static int sub(struct topic_tree *t, const char *filter, void *who)
{
    return topic_tree_subscribe(t, NO_GROUP, B(filter), who, 1, 0);
}

static int unsub(struct topic_tree *t, const char *filter, void *who)
{
    return topic_tree_unsubscribe(t, NO_GROUP, B(filter), who);
}

static struct seen match(const struct topic_tree *t, const char *topic)
{
    struct seen seen = {0};
    size_t calls =
        topic_tree_match(t, (const uint8_t *)topic, strlen(topic), on_sub, on_group, &seen);
    assert_int_equal(calls, seen.subs + seen.groups);
    return seen;
}

static bool seen_subscriber(const struct seen *s, void *who)
{
    for (size_t i = 0; i < s->subs && i < MAX_SEEN; i++)
        if (s->sub[i]->subscriber == who)
            return true;
    return false;
}

static int A, Bee, C, D, E;

/* Section 4.7 examples through the trie. */
static void test_spec_examples_match_through_the_tree(void **state)
{
    struct topic_tree *t = topic_tree_new();
    assert_non_null(t);
    assert_int_equal(sub(t, "sport/tennis/player1/#", &A), 0);
    assert_int_equal(sub(t, "sport/+", &Bee), 0);
    assert_int_equal(sub(t, "+/+", &C), 0);
    assert_int_equal(sub(t, "/+", &D), 0);
    assert_int_equal(sub(t, "#", &E), 0);

    struct seen s = match(t, "sport/tennis/player1");
    assert_int_equal(s.subs, 2);
    assert_true(seen_subscriber(&s, &A));
    assert_true(seen_subscriber(&s, &E));

    s = match(t, "sport/tennis/player1/score/wimbledon");
    assert_int_equal(s.subs, 2);
    assert_true(seen_subscriber(&s, &A));

    s = match(t, "sport");
    assert_int_equal(s.subs, 1); /* only "#": "sport/+" needs a second level */
    assert_true(seen_subscriber(&s, &E));

    s = match(t, "sport/");
    assert_int_equal(s.subs, 3);
    assert_true(seen_subscriber(&s, &Bee));
    assert_true(seen_subscriber(&s, &C));

    s = match(t, "/finance");
    assert_int_equal(s.subs, 3);
    assert_true(seen_subscriber(&s, &C));
    assert_true(seen_subscriber(&s, &D));
    assert_true(seen_subscriber(&s, &E));

    assert_int_equal(topic_tree_count(t), 5);
    topic_tree_free(t);
}

static void test_multi_level_wildcard_matches_its_parent_level(void **state)
{
    struct topic_tree *t = topic_tree_new();
    sub(t, "sport/tennis/player1/#", &A);
    struct seen s = match(t, "sport/tennis/player1");
    assert_int_equal(s.subs, 1);
    s = match(t, "sport/tennis");
    assert_int_equal(s.subs, 0);
    topic_tree_free(t);
}

/* [MQTT-4.7.2-1] */
static void test_leading_wildcards_do_not_match_dollar_topics(void **state)
{
    struct topic_tree *t = topic_tree_new();
    sub(t, "#", &A);
    sub(t, "+/monitor/Clients", &Bee);
    sub(t, "$SYS/#", &C);
    sub(t, "$SYS/monitor/+", &D);
    struct seen s = match(t, "$SYS/monitor/Clients");
    assert_int_equal(s.subs, 2);
    assert_true(seen_subscriber(&s, &C));
    assert_true(seen_subscriber(&s, &D));
    s = match(t, "SYS/monitor/Clients");
    assert_int_equal(s.subs, 2);
    assert_true(seen_subscriber(&s, &A));
    assert_true(seen_subscriber(&s, &Bee));
    topic_tree_free(t);
}

/* [MQTT-4.7.3-4] */
static void test_matching_is_case_sensitive(void **state)
{
    struct topic_tree *t = topic_tree_new();
    sub(t, "ACCOUNTS", &A);
    assert_int_equal(match(t, "Accounts").subs, 0);
    assert_int_equal(match(t, "ACCOUNTS").subs, 1);
    topic_tree_free(t);
}

/* [MQTT-3.8.4-3] a second SUBSCRIBE on the same filter replaces the first. */
static void test_subscribing_again_to_same_filter_replaces_subscription(void **state)
{
    struct topic_tree *t = topic_tree_new();
    assert_int_equal(topic_tree_subscribe(t, NO_GROUP, B("a/b"), &A, 0, 7), 0);
    assert_int_equal(topic_tree_subscribe(t, NO_GROUP, B("a/b"), &A, 2, 9), 1);
    assert_int_equal(topic_tree_count(t), 1);
    struct seen s = match(t, "a/b");
    assert_int_equal(s.subs, 1);
    assert_int_equal(s.sub[0]->options, 2);
    assert_int_equal(s.sub[0]->subscription_id, 9);
    assert_int_equal(topic_tree_subscribe(t, NO_GROUP, B("a/b"), &Bee, 1, 0), 0);
    assert_int_equal(topic_tree_count(t), 2);
    topic_tree_free(t);
}

/* [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.7.3-1] filters; [MQTT-4.8.2-2] share names. */
static void test_invalid_filter_or_share_name_is_refused(void **state)
{
    struct topic_tree *t = topic_tree_new();
    assert_int_equal(sub(t, "sport/tennis#", &A), -MQ_RC_TOPIC_FILTER_INVALID);
    assert_int_equal(sub(t, "sport/#/ranking", &A), -MQ_RC_TOPIC_FILTER_INVALID);
    assert_int_equal(sub(t, "sport+", &A), -MQ_RC_TOPIC_FILTER_INVALID);
    assert_int_equal(sub(t, "", &A), -MQ_RC_TOPIC_FILTER_INVALID);
    assert_int_equal(topic_tree_subscribe(t, B("g/h"), B("x"), &A, 0, 0),
                     -MQ_RC_TOPIC_FILTER_INVALID);
    assert_int_equal(topic_tree_subscribe(t, B("g+"), B("x"), &A, 0, 0),
                     -MQ_RC_TOPIC_FILTER_INVALID);
    assert_int_equal(topic_tree_count(t), 0);
    assert_int_equal(topic_tree_node_count(t), 1);
    topic_tree_free(t);
}

static void test_subscriber_with_several_matching_filters_is_reported_once_per_filter(void **state)
{
    struct topic_tree *t = topic_tree_new();
    sub(t, "a/b", &A);
    sub(t, "a/+", &A);
    sub(t, "a/#", &A);
    sub(t, "#", &A);
    sub(t, "+/+", &A);
    sub(t, "a/c", &A);
    struct seen s = match(t, "a/b");
    assert_int_equal(s.subs, 5);
    for (size_t i = 0; i < s.subs; i++)
        assert_ptr_equal(s.sub[i]->subscriber, &A);
    topic_tree_free(t);
}

static void test_unsubscribe_of_unknown_subscription_returns_zero(void **state)
{
    struct topic_tree *t = topic_tree_new();
    sub(t, "a/b", &A);
    assert_int_equal(unsub(t, "a/b", &Bee), 0);
    assert_int_equal(unsub(t, "a/c", &A), 0);
    assert_int_equal(unsub(t, "a", &A), 0);
    assert_int_equal(unsub(t, "a/b/c", &A), 0);
    assert_int_equal(topic_tree_unsubscribe(t, B("g"), B("a/b"), &A), 0);
    assert_int_equal(topic_tree_count(t), 1);
    assert_int_equal(unsub(t, "a/b", &A), 1);
    assert_int_equal(unsub(t, "a/b", &A), 0);
    assert_int_equal(topic_tree_count(t), 0);
    assert_int_equal(match(t, "a/b").subs, 0);
    topic_tree_free(t);
}

static void test_unsubscribe_prunes_empty_nodes_but_keeps_shared_prefixes(void **state)
{
    struct topic_tree *t = topic_tree_new();
    sub(t, "a/b/c/d", &A);
    assert_int_equal(topic_tree_node_count(t), 5);
    sub(t, "a/b", &Bee);
    sub(t, "a/+/x/#", &C);
    assert_int_equal(topic_tree_node_count(t), 8);

    /* b holds a subscription, so only c and d go. */
    assert_int_equal(unsub(t, "a/b/c/d", &A), 1);
    assert_int_equal(topic_tree_node_count(t), 6);
    assert_int_equal(match(t, "a/b").subs, 1);

    /* a has another child, so +, x and # go. */
    assert_int_equal(unsub(t, "a/+/x/#", &C), 1);
    assert_int_equal(topic_tree_node_count(t), 3);
    assert_int_equal(unsub(t, "a/b", &Bee), 1);
    assert_int_equal(topic_tree_node_count(t), 1);
    assert_int_equal(topic_tree_count(t), 0);

    /* A node holding a subscription stays while its descendants go. */
    sub(t, "x", &A);
    sub(t, "x/y/z", &A);
    assert_int_equal(unsub(t, "x/y/z", &A), 1);
    assert_int_equal(topic_tree_node_count(t), 2);
    assert_int_equal(match(t, "x").subs, 1);

    /* So does a node holding only a shared group. */
    topic_tree_subscribe(t, B("g"), B("x/q"), &A, 0, 0);
    sub(t, "x/q/r", &A);
    assert_int_equal(unsub(t, "x/q/r", &A), 1);
    assert_int_equal(topic_tree_node_count(t), 3);
    assert_int_equal(match(t, "x/q").groups, 1);
    topic_tree_free(t);
}

static struct share_group *find_seen_group(const struct seen *s, const char *name)
{
    for (size_t i = 0; i < s->groups && i < MAX_SEEN; i++)
        if (s->group[i]->name.len == strlen(name) &&
            memcmp(s->group[i]->name.data, name, strlen(name)) == 0)
            return s->group[i];
    return NULL;
}

static void test_shared_group_is_reported_once_with_all_its_members(void **state)
{
    struct topic_tree *t = topic_tree_new();
    assert_int_equal(topic_tree_subscribe(t, B("g"), B("x/+"), &A, 1, 0), 0);
    assert_int_equal(topic_tree_subscribe(t, B("g"), B("x/+"), &Bee, 2, 0), 0);
    assert_int_equal(topic_tree_subscribe(t, B("g"), B("x/+"), &C, 0, 5), 0);
    assert_int_equal(topic_tree_subscribe(t, B("h"), B("x/#"), &D, 0, 0), 0);
    assert_int_equal(topic_tree_subscribe(t, B("g"), B("x/#"), &D, 0, 0), 0);
    sub(t, "x/y", &E);
    /* The same subscriber in a group again replaces its options [MQTT-3.8.4-3]. */
    assert_int_equal(topic_tree_subscribe(t, B("g"), B("x/+"), &C, 1, 6), 1);
    assert_int_equal(topic_tree_count(t), 6);

    struct seen s = match(t, "x/y");
    assert_int_equal(s.subs, 1);
    assert_ptr_equal(s.sub[0]->subscriber, &E);
    assert_int_equal(s.groups, 3); /* g on x/+, h on x/#, g on x/# */
    struct share_group *g = NULL;
    for (size_t i = 0; i < s.groups; i++)
        if (s.group[i]->member_count == 3)
            g = s.group[i];
    assert_non_null(g);
    assert_int_equal(g->name.len, 1);
    assert_memory_equal(g->name.data, "g", 1);
    bool a = false, b = false, c = false;
    for (uint32_t i = 0; i < g->member_count; i++) {
        a |= g->members[i].subscriber == &A;
        b |= g->members[i].subscriber == &Bee;
        if (g->members[i].subscriber == &C) {
            c = true;
            assert_int_equal(g->members[i].subscription_id, 6);
        }
    }
    assert_true(a && b && c);
    assert_non_null(find_seen_group(&s, "h"));

    s = match(t, "x");
    assert_int_equal(s.subs, 0);
    assert_int_equal(s.groups, 2); /* the two x/# groups */
    topic_tree_free(t);
}

static void test_shared_and_plain_subscription_of_one_subscriber_are_separate(void **state)
{
    struct topic_tree *t = topic_tree_new();
    assert_int_equal(sub(t, "a", &A), 0);
    assert_int_equal(topic_tree_subscribe(t, B("g"), B("a"), &A, 0, 0), 0);
    assert_int_equal(topic_tree_count(t), 2);
    struct seen s = match(t, "a");
    assert_int_equal(s.subs, 1);
    assert_int_equal(s.groups, 1);
    assert_int_equal(unsub(t, "a", &A), 1);
    s = match(t, "a");
    assert_int_equal(s.subs, 0);
    assert_int_equal(s.groups, 1);
    topic_tree_free(t);
}

static void test_share_group_next_takes_members_in_turn(void **state)
{
    struct topic_tree *t = topic_tree_new();
    topic_tree_subscribe(t, B("g"), B("q"), &A, 0, 0);
    topic_tree_subscribe(t, B("g"), B("q"), &Bee, 0, 0);
    topic_tree_subscribe(t, B("g"), B("q"), &C, 0, 0);
    struct seen s = match(t, "q");
    assert_int_equal(s.groups, 1);
    int hits[3] = {0};
    void *who[3] = {&A, &Bee, &C};
    for (int i = 0; i < 30; i++) {
        const struct subscription *m = share_group_next(s.group[0]);
        for (int k = 0; k < 3; k++)
            hits[k] += m->subscriber == who[k];
    }
    assert_int_equal(hits[0], 10);
    assert_int_equal(hits[1], 10);
    assert_int_equal(hits[2], 10);
    topic_tree_free(t);
}

static void test_last_member_leaving_removes_the_group(void **state)
{
    struct topic_tree *t = topic_tree_new();
    topic_tree_subscribe(t, B("g"), B("a/b"), &A, 0, 0);
    topic_tree_subscribe(t, B("g"), B("a/b"), &Bee, 0, 0);
    assert_int_equal(topic_tree_unsubscribe(t, B("g"), B("a/b"), &A), 1);
    struct seen s = match(t, "a/b");
    assert_int_equal(s.groups, 1);
    assert_int_equal(s.group[0]->member_count, 1);
    assert_ptr_equal(s.group[0]->members[0].subscriber, &Bee);
    assert_int_equal(topic_tree_unsubscribe(t, B("g"), B("a/b"), &Bee), 1);
    assert_int_equal(match(t, "a/b").groups, 0);
    assert_int_equal(topic_tree_count(t), 0);
    assert_int_equal(topic_tree_node_count(t), 1);
    topic_tree_free(t);
}

static void test_null_callbacks_skip_that_kind(void **state)
{
    struct topic_tree *t = topic_tree_new();
    sub(t, "a", &A);
    topic_tree_subscribe(t, B("g"), B("a"), &A, 0, 0);
    struct seen s = {0};
    assert_int_equal(topic_tree_match(t, (const uint8_t *)"a", 1, on_sub, NULL, &s), 1);
    assert_int_equal(topic_tree_match(t, (const uint8_t *)"a", 1, NULL, on_group, &s), 1);
    assert_int_equal(s.subs, 1);
    assert_int_equal(s.groups, 1);
    topic_tree_free(t);
}

#define READERS 4
#define READS 30000

struct reader {
    const struct topic_tree *tree;
    unsigned picks[3];
    size_t calls;
};

static void on_reader_group(void *ctx, struct share_group *g)
{
    struct reader *r = ctx;
    const struct subscription *m = share_group_next(g);
    r->picks[(uintptr_t)m->subscriber - 1]++;
}

static void on_reader_sub(void *ctx, const struct subscription *s)
{
    struct reader *r = ctx;
    r->calls++;
}

static void *read_tree(void *arg)
{
    struct reader *r = arg;
    for (unsigned i = 0; i < READS; i++)
        topic_tree_match(r->tree, (const uint8_t *)"q/x", 3, on_reader_sub, on_reader_group, r);
    return NULL;
}

/* Many readers match at once; the only shared write is the group's atomic cursor, so the
 * members still take exactly equal turns. Run under MQTTD_SANITIZE=thread to check for races. */
static void test_concurrent_readers_share_the_round_robin_cursor(void **state)
{
    struct topic_tree *t = topic_tree_new();
    for (uintptr_t i = 1; i <= 3; i++)
        topic_tree_subscribe(t, B("g"), B("q/+"), (void *)i, 0, 0);
    sub(t, "q/#", &A);
    pthread_t threads[READERS];
    struct reader readers[READERS];
    memset(readers, 0, sizeof readers);
    for (int i = 0; i < READERS; i++) {
        readers[i].tree = t;
        assert_int_equal(pthread_create(&threads[i], NULL, read_tree, &readers[i]), 0);
    }
    unsigned picks[3] = {0};
    for (int i = 0; i < READERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(readers[i].calls, READS);
        for (int k = 0; k < 3; k++)
            picks[k] += readers[i].picks[k];
    }
    for (int k = 0; k < 3; k++)
        assert_int_equal(picks[k], READERS * READS / 3);
    topic_tree_free(t);
}

#define FAN 100000u

static void *fan_who(unsigned i)
{
    return (void *)(uintptr_t)(i + 1);
}

static void on_fan(void *ctx, const struct subscription *s)
{
    void **slot = ctx;
    if (s->subscriber != &A && s->subscriber != &Bee)
        *slot = s->subscriber;
}

static void check_fan(const struct topic_tree *t, unsigned i, size_t want, void *want_who)
{
    char topic[32];
    int n = snprintf(topic, sizeof topic, "fan/%u", i);
    void *got = NULL;
    assert_int_equal(topic_tree_match(t, (const uint8_t *)topic, (size_t)n, on_fan, NULL, &got),
                     want);
    assert_ptr_equal(got, want_who);
}

static void test_hundred_thousand_siblings_match_correctly(void **state)
{
    struct topic_tree *t = topic_tree_new();
    char filter[32];
    for (unsigned i = 0; i < FAN; i++) {
        snprintf(filter, sizeof filter, "fan/%u", i);
        assert_int_equal(sub(t, filter, fan_who(i)), 0);
    }
    sub(t, "fan/+", &A);
    sub(t, "#", &Bee);
    assert_int_equal(topic_tree_count(t), FAN + 2);
    for (unsigned i = 0; i < FAN; i++)
        check_fan(t, i, 3, fan_who(i));
    check_fan(t, FAN, 2, NULL);

    for (unsigned i = 0; i < FAN; i += 2) {
        snprintf(filter, sizeof filter, "fan/%u", i);
        assert_int_equal(unsub(t, filter, fan_who(i)), 1);
    }
    for (unsigned i = 0; i < FAN; i++)
        check_fan(t, i, i % 2 ? 3 : 2, i % 2 ? fan_who(i) : NULL);

    for (unsigned i = 1; i < FAN; i += 2) {
        snprintf(filter, sizeof filter, "fan/%u", i);
        assert_int_equal(unsub(t, filter, fan_who(i)), 1);
    }
    assert_int_equal(topic_tree_count(t), 2);
    assert_int_equal(topic_tree_node_count(t), 4); /* root, fan, +, # */
    topic_tree_free(t);
}

/* Random filters and topics over a tiny alphabet, so that collisions and wildcards abound. */
static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 16;
}

static void random_levels(char *out, bool filter)
{
    static const char *const words[] = {"a", "b", "", "$s", "+", "#"};
    unsigned levels = 1 + next_rand() % 4;
    out[0] = 0;
    for (unsigned i = 0; i < levels; i++) {
        const char *w = words[next_rand() % (filter ? 6 : 4)];
        if (i)
            strcat(out, "/");
        if (!filter && i > 0 && w[0] == '$')
            w = "c";
        strcat(out, w);
        if (w[0] == '#')
            break;
    }
}

#define RANDOM_FILTERS 300

struct tally {
    unsigned counts[RANDOM_FILTERS];
};

static void on_tally(void *ctx, const struct subscription *s)
{
    struct tally *t = ctx;
    t->counts[(uintptr_t)s->subscriber - 1]++;
}

static void test_random_filters_match_like_the_reference_matcher(void **state)
{
    static char filters[RANDOM_FILTERS][32];
    struct topic_tree *t = topic_tree_new();
    for (unsigned i = 0; i < RANDOM_FILTERS; i++) {
        do
            random_levels(filters[i], true);
        while (!topic_filter_valid((const uint8_t *)filters[i], strlen(filters[i]), 0, 0));
        assert_true(sub(t, filters[i], (void *)(uintptr_t)(i + 1)) >= 0);
    }
    for (unsigned round = 0; round < 2000; round++) {
        char topic[32];
        do
            random_levels(topic, false);
        while (strlen(topic) == 0);
        struct tally tally = {{0}};
        topic_tree_match(t, (const uint8_t *)topic, strlen(topic), on_tally, NULL, &tally);
        for (unsigned i = 0; i < RANDOM_FILTERS; i++) {
            bool want = topic_matches((const uint8_t *)filters[i], strlen(filters[i]),
                                      (const uint8_t *)topic, strlen(topic));
            if (tally.counts[i] != (unsigned)want)
                fail_msg("filter '%s' topic '%s': tree %u, reference %d", filters[i], topic,
                         tally.counts[i], want);
        }
    }
    for (unsigned i = 0; i < RANDOM_FILTERS; i++)
        unsub(t, filters[i], (void *)(uintptr_t)(i + 1));
    assert_int_equal(topic_tree_count(t), 0);
    assert_int_equal(topic_tree_node_count(t), 1);
    topic_tree_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples_match_through_the_tree),
        cmocka_unit_test(test_multi_level_wildcard_matches_its_parent_level),
        cmocka_unit_test(test_leading_wildcards_do_not_match_dollar_topics),
        cmocka_unit_test(test_matching_is_case_sensitive),
        cmocka_unit_test(test_subscribing_again_to_same_filter_replaces_subscription),
        cmocka_unit_test(test_invalid_filter_or_share_name_is_refused),
        cmocka_unit_test(test_subscriber_with_several_matching_filters_is_reported_once_per_filter),
        cmocka_unit_test(test_unsubscribe_of_unknown_subscription_returns_zero),
        cmocka_unit_test(test_unsubscribe_prunes_empty_nodes_but_keeps_shared_prefixes),
        cmocka_unit_test(test_shared_group_is_reported_once_with_all_its_members),
        cmocka_unit_test(test_shared_and_plain_subscription_of_one_subscriber_are_separate),
        cmocka_unit_test(test_share_group_next_takes_members_in_turn),
        cmocka_unit_test(test_last_member_leaving_removes_the_group),
        cmocka_unit_test(test_null_callbacks_skip_that_kind),
        cmocka_unit_test(test_concurrent_readers_share_the_round_robin_cursor),
        cmocka_unit_test(test_hundred_thousand_siblings_match_correctly),
        cmocka_unit_test(test_random_filters_match_like_the_reference_matcher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
