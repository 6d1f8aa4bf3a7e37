/*
 * Tests of the retained message store: set, replace, delete, wildcard matching with the '$'
 * rule, early stop, pruning, and that every message is released exactly once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/retained.h"
#include "broker/topic.h"

/* Messages are indices into this array; a release bumps the count of its message. */
#define MESSAGES 4096
static unsigned released[MESSAGES];

static void *msg(unsigned i)
{
    return &released[i];
}

static void release(void *m)
{
    (*(unsigned *)m)++;
}

static int reset(void **state)
{
    memset(released, 0, sizeof released);
    return 0;
}

static size_t set(struct retained_store *s, const char *topic, void *m)
{
    return retained_set(s, (const uint8_t *)topic, strlen(topic), m);
}

#define MAX_FOUND 64

struct found {
    size_t n;
    char topics[MAX_FOUND][32];
    void *messages[MAX_FOUND];
    size_t stop_after; /* 0 = never stop */
};

static int collect(void *ctx, const uint8_t *topic, size_t len, void *message)
{
    struct found *f = ctx;
    assert_true(len < sizeof f->topics[0]);
    if (f->n < MAX_FOUND) {
        memcpy(f->topics[f->n], topic, len);
        f->topics[f->n][len] = 0;
        f->messages[f->n] = message;
    }
    f->n++;
    return f->stop_after && f->n >= f->stop_after;
}

static struct found match(const struct retained_store *s, const char *filter)
{
    struct found f;
    memset(&f, 0, sizeof f);
    retained_match(s, (const uint8_t *)filter, strlen(filter), collect, &f);
    return f;
}

static bool found_topic(const struct found *f, const char *topic)
{
    for (size_t i = 0; i < f->n && i < MAX_FOUND; i++)
        if (strcmp(f->topics[i], topic) == 0)
            return true;
    return false;
}

static void test_set_replace_and_delete_keep_the_count_and_release_once(void **state)
{
    struct retained_store *s = retained_new(release);
    assert_non_null(s);
    assert_int_equal(set(s, "a/b", msg(1)), 1);
    assert_int_equal(set(s, "a/c", msg(2)), 2);
    assert_int_equal(set(s, "a/b", msg(3)), 2); /* replaces 1 */
    assert_int_equal(released[1], 1);
    assert_int_equal(released[3], 0);
    assert_int_equal(set(s, "a/b", NULL), 1); /* deletes 3 */
    assert_int_equal(released[3], 1);
    assert_int_equal(set(s, "a/b", NULL), 1); /* nothing to delete */
    assert_int_equal(set(s, "zzz", NULL), 1);
    assert_int_equal(retained_count(s), 1);
    struct found f = match(s, "a/c");
    assert_int_equal(f.n, 1);
    assert_ptr_equal(f.messages[0], msg(2));
    assert_string_equal(f.topics[0], "a/c");
    retained_free(s);
    assert_int_equal(released[2], 1); /* freed with the store */
    for (unsigned i = 0; i < 4; i++)
        assert_true(released[i] <= 1);
}

static void test_storing_the_same_message_again_does_not_release_it(void **state)
{
    struct retained_store *s = retained_new(release);
    set(s, "t", msg(5));
    assert_int_equal(set(s, "t", msg(5)), 1);
    assert_int_equal(released[5], 0);
    retained_free(s);
    assert_int_equal(released[5], 1);
}

static void test_wildcard_filters_find_matching_retained_messages(void **state)
{
    struct retained_store *s = retained_new(release);
    set(s, "sport", msg(1));
    set(s, "sport/tennis/player1", msg(2));
    set(s, "sport/tennis/player1/ranking", msg(3));
    set(s, "sport/tennis/player2", msg(4));
    set(s, "sport/", msg(5));
    set(s, "/finance", msg(6));
    set(s, "weather", msg(7));

    struct found f = match(s, "sport/tennis/player1/#");
    assert_int_equal(f.n, 2);
    assert_true(found_topic(&f, "sport/tennis/player1"));
    assert_true(found_topic(&f, "sport/tennis/player1/ranking"));

    f = match(s, "sport/#");
    assert_int_equal(f.n, 5);
    assert_true(found_topic(&f, "sport"));
    assert_true(found_topic(&f, "sport/"));

    f = match(s, "sport/tennis/+");
    assert_int_equal(f.n, 2);
    assert_true(found_topic(&f, "sport/tennis/player2"));

    f = match(s, "sport/+");
    assert_int_equal(f.n, 1);
    assert_true(found_topic(&f, "sport/"));

    f = match(s, "+/+");
    assert_int_equal(f.n, 2);
    assert_true(found_topic(&f, "/finance"));
    assert_true(found_topic(&f, "sport/"));

    f = match(s, "/+");
    assert_int_equal(f.n, 1);
    assert_true(found_topic(&f, "/finance"));

    f = match(s, "+");
    assert_int_equal(f.n, 2);
    assert_true(found_topic(&f, "sport"));
    assert_true(found_topic(&f, "weather"));

    f = match(s, "#");
    assert_int_equal(f.n, 7);

    f = match(s, "sport/tennis");
    assert_int_equal(f.n, 0);
    f = match(s, "Sport"); /* [MQTT-4.7.3-4] case sensitive */
    assert_int_equal(f.n, 0);
    retained_free(s);
}

/* [MQTT-4.7.2-1] */
static void test_leading_wildcards_do_not_find_dollar_topics(void **state)
{
    struct retained_store *s = retained_new(release);
    set(s, "$SYS/broker/uptime", msg(1));
    set(s, "$SYS", msg(2));
    set(s, "a/$b", msg(3));

    struct found all = match(s, "#");
    assert_int_equal(all.n, 1);
    assert_true(found_topic(&all, "a/$b"));
    assert_int_equal(match(s, "+/broker/uptime").n, 0);
    assert_int_equal(match(s, "+").n, 0);
    assert_int_equal(match(s, "$SYS/#").n, 2);
    assert_int_equal(match(s, "$SYS/+/uptime").n, 1);
    assert_int_equal(match(s, "$SYS").n, 1);
    assert_int_equal(match(s, "a/+").n, 1);
    retained_free(s);
}

static void test_callback_returning_non_zero_stops_the_walk(void **state)
{
    struct retained_store *s = retained_new(release);
    for (unsigned i = 0; i < 20; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "t/%u", i);
        set(s, topic, msg(i));
    }
    struct found f;
    memset(&f, 0, sizeof f);
    f.stop_after = 3;
    retained_match(s, (const uint8_t *)"#", 1, collect, &f);
    assert_int_equal(f.n, 3);
    memset(&f, 0, sizeof f);
    f.stop_after = 4;
    retained_match(s, (const uint8_t *)"t/+", 3, collect, &f);
    assert_int_equal(f.n, 4);
    retained_free(s);
}

static void test_deleting_prunes_nodes_no_longer_needed(void **state)
{
    struct retained_store *s = retained_new(release);
    assert_int_equal(retained_node_count(s), 1);
    set(s, "a/b/c/d", msg(1));
    set(s, "a/b", msg(2));
    set(s, "a/x/y", msg(3));
    assert_int_equal(retained_node_count(s), 7);
    set(s, "a/b/c/d", NULL);
    assert_int_equal(retained_node_count(s), 5); /* b holds a message: c, d go */
    set(s, "a/x/y", NULL);
    assert_int_equal(retained_node_count(s), 3); /* a has child b: x, y go */
    set(s, "a/b", NULL);
    assert_int_equal(retained_node_count(s), 1);
    assert_int_equal(retained_count(s), 0);
    retained_free(s);
    assert_int_equal(released[1] + released[2] + released[3], 3);
}

static void test_many_retained_topics_are_each_released_exactly_once(void **state)
{
    struct retained_store *s = retained_new(release);
    char topic[32];
    for (unsigned i = 0; i < 3000; i++) {
        snprintf(topic, sizeof topic, "fan/%u", i);
        assert_int_equal(set(s, topic, msg(i)), i + 1);
    }
    assert_int_equal(match(s, "fan/+").n, 3000);
    assert_int_equal(match(s, "fan/1234").n, 1);
    for (unsigned i = 0; i < 3000; i += 3) {
        snprintf(topic, sizeof topic, "fan/%u", i);
        set(s, topic, NULL);
    }
    for (unsigned i = 1; i < 3000; i += 3) {
        snprintf(topic, sizeof topic, "fan/%u", i);
        set(s, topic, msg(3000 + i % 1000));
    }
    assert_int_equal(retained_count(s), 2000);
    assert_int_equal(match(s, "fan/#").n, 2000);
    retained_free(s);
    for (unsigned i = 0; i < 3000; i++)
        assert_int_equal(released[i], 1);
}

/* Random topics over a tiny alphabet, checked against the reference matcher. */
static uint32_t rng = 777;

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
        strcat(out, w);
        if (w[0] == '#')
            break;
    }
}

#define RANDOM_TOPICS 200

struct tally {
    char (*topics)[32];
    unsigned counts[RANDOM_TOPICS];
};

static int on_tally(void *ctx, const uint8_t *topic, size_t len, void *message)
{
    struct tally *t = ctx;
    unsigned i = (unsigned)((unsigned *)message - released);
    assert_true(i < RANDOM_TOPICS);
    assert_int_equal(len, strlen(t->topics[i]));
    assert_memory_equal(topic, t->topics[i], len);
    t->counts[i]++;
    return 0;
}

static void test_random_filters_find_what_the_reference_matcher_finds(void **state)
{
    static char topics[RANDOM_TOPICS][32];
    struct retained_store *s = retained_new(release);
    unsigned n = 0;
    while (n < RANDOM_TOPICS) {
        random_levels(topics[n], false);
        if (strlen(topics[n]) == 0)
            continue;
        bool dup = false;
        for (unsigned k = 0; k < n; k++)
            dup |= strcmp(topics[k], topics[n]) == 0;
        if (dup)
            continue; /* 339 distinct topics exist, so this ends */
        set(s, topics[n], msg(n));
        n++;
    }
    for (unsigned round = 0; round < 2000; round++) {
        char filter[32];
        do
            random_levels(filter, true);
        while (!topic_filter_valid((const uint8_t *)filter, strlen(filter), 0, 0));
        struct tally tally = {topics, {0}};
        retained_match(s, (const uint8_t *)filter, strlen(filter), on_tally, &tally);
        for (unsigned i = 0; i < n; i++) {
            bool want = topic_matches((const uint8_t *)filter, strlen(filter),
                                      (const uint8_t *)topics[i], strlen(topics[i]));
            if (tally.counts[i] != (unsigned)want)
                fail_msg("filter '%s' topic '%s': store %u, reference %d", filter, topics[i],
                         tally.counts[i], want);
        }
    }
    for (unsigned i = 0; i < n; i++)
        set(s, topics[i], NULL);
    assert_int_equal(retained_count(s), 0);
    assert_int_equal(retained_node_count(s), 1);
    retained_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_set_replace_and_delete_keep_the_count_and_release_once, reset),
        cmocka_unit_test_setup(test_storing_the_same_message_again_does_not_release_it, reset),
        cmocka_unit_test_setup(test_wildcard_filters_find_matching_retained_messages, reset),
        cmocka_unit_test_setup(test_leading_wildcards_do_not_find_dollar_topics, reset),
        cmocka_unit_test_setup(test_callback_returning_non_zero_stops_the_walk, reset),
        cmocka_unit_test_setup(test_deleting_prunes_nodes_no_longer_needed, reset),
        cmocka_unit_test_setup(test_many_retained_topics_are_each_released_exactly_once, reset),
        cmocka_unit_test_setup(test_random_filters_find_what_the_reference_matcher_finds, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
