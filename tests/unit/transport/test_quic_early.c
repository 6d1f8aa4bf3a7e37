/*
 * The 0-RTT anti-replay cache of the QUIC listeners (quic_early.h): a ClientHello seen within
 * its window is refused the second time, also when another worker sees it; an expired entry
 * is forgotten; a full neighbourhood refuses rather than forgets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/quic_early.h"

static void test_a_replayed_client_hello_is_refused_within_its_window(void **state)
{
    const uint8_t key[] = "client hello digest one";
    assert_int_equal(quic_early_cache_add(1000, 1010, key, sizeof key), 0);
    assert_int_equal(quic_early_cache_add(1005, 1015, key, sizeof key), GNUTLS_E_DB_ENTRY_EXISTS);
}

static void test_an_expired_entry_is_forgotten(void **state)
{
    const uint8_t key[] = "client hello digest two";
    assert_int_equal(quic_early_cache_add(2000, 2010, key, sizeof key), 0);
    assert_int_equal(quic_early_cache_add(2011, 2021, key, sizeof key), 0);
    assert_int_equal(quic_early_cache_add(2012, 2022, key, sizeof key), GNUTLS_E_DB_ENTRY_EXISTS);
}

static void test_different_client_hellos_are_all_accepted(void **state)
{
    for (uint32_t i = 0; i < 5000; i++) {
        uint8_t key[32];
        memset(key, 0, sizeof key);
        memcpy(key, &i, sizeof i);
        assert_int_equal(quic_early_cache_add(3000, 3010, key, sizeof key), 0);
    }
}

static void test_the_cache_refuses_when_it_cannot_remember(void **state)
{
    /* Far more live entries than the table holds: some must be refused, none forgotten. */
    int refused = 0;
    for (uint32_t i = 0; i < 40000; i++) {
        uint8_t key[8];
        memcpy(key, &i, sizeof i);
        memcpy(key + 4, "full", 4);
        int rc = quic_early_cache_add(4000, 5000, key, sizeof key);
        assert_true(rc == 0 || rc == GNUTLS_E_DB_ERROR);
        refused += rc == GNUTLS_E_DB_ERROR;
    }
    assert_true(refused > 0);
    uint8_t first[8];
    uint32_t zero = 0;
    memcpy(first, &zero, sizeof zero);
    memcpy(first + 4, "full", 4);
    assert_int_equal(quic_early_cache_add(4001, 5001, first, sizeof first),
                     GNUTLS_E_DB_ENTRY_EXISTS);
}

static void test_the_ticket_key_and_anti_replay_exist_once_for_the_process(void **state)
{
    assert_int_equal(quic_early_init(), 0);
    const gnutls_datum_t *key = quic_early_ticket_key();
    assert_non_null(key->data);
    assert_true(key->size > 0);
    assert_int_equal(quic_early_init(), 0);
    assert_ptr_equal(quic_early_ticket_key(), key);
    assert_non_null(quic_early_anti_replay());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_replayed_client_hello_is_refused_within_its_window),
        cmocka_unit_test(test_an_expired_entry_is_forgotten),
        cmocka_unit_test(test_different_client_hellos_are_all_accepted),
        cmocka_unit_test(test_the_cache_refuses_when_it_cannot_remember),
        cmocka_unit_test(test_the_ticket_key_and_anti_replay_exist_once_for_the_process),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
