/*
 * Tests of the QUIC connection ID table: every ID of a connection finds it, the table survives
 * growth, removal only drops an ID still owned by the connection asking, and IDs longer than
 * QUIC allows are refused instead of overrunning an entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/quic_cid_map.h"

#define IDS 5000

static void make_id(uint8_t id[8], unsigned i)
{
    memset(id, 0, 8);
    memcpy(id, &i, sizeof i);
    id[7] = (uint8_t)(i * 31u);
}

static void test_every_id_finds_its_value_after_the_table_grew(void **state)
{
    struct quic_cid_map m = {0};
    static int values[IDS];
    uint8_t id[8];
    for (unsigned i = 0; i < IDS; i++) {
        make_id(id, i);
        assert_int_equal(quic_cid_map_put(&m, id, sizeof id, &values[i]), 0);
    }
    assert_int_equal(m.count, IDS);
    for (unsigned i = 0; i < IDS; i++) {
        make_id(id, i);
        assert_ptr_equal(quic_cid_map_get(&m, id, sizeof id), &values[i]);
    }
    quic_cid_map_free(&m);
}

static void test_same_bytes_with_another_length_are_another_id(void **state)
{
    struct quic_cid_map m = {0};
    int a, b;
    const uint8_t id[4] = {1, 2, 3, 4};
    assert_int_equal(quic_cid_map_put(&m, id, 4, &a), 0);
    assert_int_equal(quic_cid_map_put(&m, id, 3, &b), 0);
    assert_ptr_equal(quic_cid_map_get(&m, id, 4), &a);
    assert_ptr_equal(quic_cid_map_get(&m, id, 3), &b);
    assert_null(quic_cid_map_get(&m, id, 2));
    quic_cid_map_free(&m);
}

static void test_remove_leaves_an_id_now_owned_by_another_connection(void **state)
{
    struct quic_cid_map m = {0};
    int old_owner, new_owner;
    const uint8_t id[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    assert_int_equal(quic_cid_map_put(&m, id, 8, &old_owner), 0);
    assert_int_equal(quic_cid_map_put(&m, id, 8, &new_owner), 0);
    assert_int_equal(m.count, 1);
    assert_int_equal(quic_cid_map_remove(&m, id, 8, &old_owner), 0);
    assert_ptr_equal(quic_cid_map_get(&m, id, 8), &new_owner);
    assert_int_equal(quic_cid_map_remove(&m, id, 8, &new_owner), 1);
    assert_null(quic_cid_map_get(&m, id, 8));
    assert_int_equal(m.count, 0);
    quic_cid_map_free(&m);
}

static void test_removing_half_keeps_the_other_half(void **state)
{
    struct quic_cid_map m = {0};
    static int values[IDS];
    uint8_t id[8];
    for (unsigned i = 0; i < IDS; i++) {
        make_id(id, i);
        quic_cid_map_put(&m, id, sizeof id, &values[i]);
    }
    for (unsigned i = 0; i < IDS; i += 2) {
        make_id(id, i);
        assert_int_equal(quic_cid_map_remove(&m, id, sizeof id, &values[i]), 1);
    }
    for (unsigned i = 0; i < IDS; i++) {
        make_id(id, i);
        if (i % 2)
            assert_ptr_equal(quic_cid_map_get(&m, id, sizeof id), &values[i]);
        else
            assert_null(quic_cid_map_get(&m, id, sizeof id));
    }
    quic_cid_map_free(&m);
}

static void test_id_longer_than_quic_allows_is_refused(void **state)
{
    struct quic_cid_map m = {0};
    uint8_t id[QUIC_CID_MAX + 1] = {0};
    int v;
    assert_int_equal(quic_cid_map_put(&m, id, sizeof id, &v), -1);
    assert_null(quic_cid_map_get(&m, id, sizeof id));
    assert_int_equal(quic_cid_map_remove(&m, id, sizeof id, &v), 0);
    assert_int_equal(quic_cid_map_put(&m, id, QUIC_CID_MAX, &v), 0);
    quic_cid_map_free(&m);
}

static void test_lookup_in_an_empty_map_allocates_nothing_and_finds_nothing(void **state)
{
    struct quic_cid_map m = {0};
    const uint8_t id[1] = {7};
    assert_null(quic_cid_map_get(&m, id, 1));
    assert_int_equal(quic_cid_map_remove(&m, id, 1, NULL), 0);
    assert_null(m.buckets);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_id_finds_its_value_after_the_table_grew),
        cmocka_unit_test(test_same_bytes_with_another_length_are_another_id),
        cmocka_unit_test(test_remove_leaves_an_id_now_owned_by_another_connection),
        cmocka_unit_test(test_removing_half_keeps_the_other_half),
        cmocka_unit_test(test_id_longer_than_quic_allows_is_refused),
        cmocka_unit_test(test_lookup_in_an_empty_map_allocates_nothing_and_finds_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
