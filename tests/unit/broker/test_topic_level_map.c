/*
 * Tests of the level-keyed child map: lookups in linear and hashed form, and that removals in
 * any order (which shift probe runs back) never lose the remaining children.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/topic.h"

struct node {
    struct topic_level level;
    uint8_t name[12];
};

#define NAME_OFFSET offsetof(struct node, name)
#define NODES 5000

static struct node nodes[NODES];

static void init_node(struct node *n, unsigned i)
{
    int len = snprintf((char *)n->name, sizeof n->name, "n%u", i);
    n->level.len = (uint32_t)len;
    n->level.hash = topic_level_hash(n->name, (size_t)len);
}

static struct topic_level *find(const struct topic_level_map *m, const char *name)
{
    return topic_level_map_find(m, (const uint8_t *)name, strlen(name),
                                topic_level_hash((const uint8_t *)name, strlen(name)), NAME_OFFSET);
}

static void check_present(const struct topic_level_map *m, const bool *present)
{
    char name[12];
    for (unsigned i = 0; i < NODES; i++) {
        snprintf(name, sizeof name, "n%u", i);
        struct topic_level *got = find(m, name);
        if (present[i])
            assert_ptr_equal(got, &nodes[i].level);
        else
            assert_null(got);
    }
}

static void test_empty_map_finds_nothing(void **state)
{
    struct topic_level_map m = {0};
    assert_null(find(&m, "x"));
    topic_level_map_clear(&m);
    assert_int_equal(m.count, 0);
}

static void test_small_map_stays_linear_and_finds_children(void **state)
{
    struct topic_level_map m = {0};
    for (unsigned i = 0; i < TOPIC_LEVEL_MAP_LINEAR; i++) {
        init_node(&nodes[i], i);
        assert_int_equal(topic_level_map_add(&m, &nodes[i].level), 0);
    }
    assert_true(m.cap <= TOPIC_LEVEL_MAP_LINEAR);
    assert_ptr_equal(find(&m, "n3"), &nodes[3].level);
    assert_null(find(&m, "n30"));
    topic_level_map_remove(&m, &nodes[3].level);
    assert_null(find(&m, "n3"));
    assert_int_equal(m.count, TOPIC_LEVEL_MAP_LINEAR - 1);
    topic_level_map_clear(&m);
}

static void test_removals_in_scattered_order_keep_every_other_child_findable(void **state)
{
    static bool present[NODES];
    struct topic_level_map m = {0};
    for (unsigned i = 0; i < NODES; i++) {
        init_node(&nodes[i], i);
        assert_int_equal(topic_level_map_add(&m, &nodes[i].level), 0);
        present[i] = true;
    }
    assert_int_equal(m.count, NODES);
    assert_true(m.cap > TOPIC_LEVEL_MAP_LINEAR);
    check_present(&m, present);

    /* 7919 is prime and coprime with NODES, so this visits every index once. */
    for (unsigned k = 0; k < NODES; k++) {
        unsigned i = (k * 7919u) % NODES;
        topic_level_map_remove(&m, &nodes[i].level);
        present[i] = false;
        if (k % 500 == 0 || NODES - k < 20)
            check_present(&m, present);
    }
    assert_int_equal(m.count, 0);
    topic_level_map_clear(&m);
}

/*
 * Hashes chosen so that probe runs start at the end of the table and wrap around to its start;
 * every removal order of a small set must leave the others findable.
 */
static void test_removal_from_probe_runs_that_wrap_around_keeps_the_rest(void **state)
{
    enum { N = 20 };
    for (unsigned first = 0; first < N; first++) {
        struct topic_level_map m = {0};
        for (unsigned i = 0; i < N; i++) {
            init_node(&nodes[i], i);
            /* Homes in {cap-3, cap-2, cap-1, 0} for any power-of-two cap. */
            nodes[i].level.hash = i % 4 == 3 ? 0u : UINT32_MAX - i % 4;
            assert_int_equal(topic_level_map_add(&m, &nodes[i].level), 0);
        }
        assert_true(m.cap > TOPIC_LEVEL_MAP_LINEAR);
        bool present[N];
        for (unsigned i = 0; i < N; i++)
            present[i] = true;
        for (unsigned k = 0; k < N; k++) {
            unsigned gone = (first + k * 7u) % N;
            topic_level_map_remove(&m, &nodes[gone].level);
            present[gone] = false;
            for (unsigned i = 0; i < N; i++) {
                struct topic_level *got = topic_level_map_find(
                    &m, nodes[i].name, nodes[i].level.len, nodes[i].level.hash, NAME_OFFSET);
                assert_ptr_equal(got, present[i] ? &nodes[i].level : NULL);
            }
        }
        assert_int_equal(m.count, 0);
        topic_level_map_clear(&m);
    }
}

static void test_removing_an_absent_child_changes_nothing(void **state)
{
    struct topic_level_map m = {0};
    struct node other;
    init_node(&other, 99999);
    for (unsigned i = 0; i < 100; i++) {
        init_node(&nodes[i], i);
        topic_level_map_add(&m, &nodes[i].level);
    }
    topic_level_map_remove(&m, &other.level);
    assert_int_equal(m.count, 100);
    assert_ptr_equal(find(&m, "n42"), &nodes[42].level);
    topic_level_map_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_map_finds_nothing),
        cmocka_unit_test(test_small_map_stays_linear_and_finds_children),
        cmocka_unit_test(test_removals_in_scattered_order_keep_every_other_child_findable),
        cmocka_unit_test(test_removal_from_probe_runs_that_wrap_around_keeps_the_rest),
        cmocka_unit_test(test_removing_an_absent_child_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
