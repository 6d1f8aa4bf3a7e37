/*
 * Retained messages whose Message Expiry Interval has passed are freed by the broker's sweep
 * (they are already no longer sent [MQTT-3.3.2-5]); the others stay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "broker/message.h"
#include "broker/retained.h"
#include "server/config.h"

static void publish_retained(struct broker *b, const char *topic, uint32_t expiry_s,
                             uint64_t now_ms)
{
    struct message *m = message_new((const uint8_t *)topic, (uint16_t)strlen(topic), NULL, 0,
                                    (const uint8_t *)"x", 1, 0, true, expiry_s, now_ms);
    assert_non_null(m);
    broker_publish(b, m, now_ms);
    message_unref(m);
}

static void test_sweep_frees_expired_retained_messages_only(void **state)
{
    struct mq_config cfg;
    struct broker b;
    assert_int_equal(config_init(&cfg), 0);
    assert_int_equal(broker_init(&b, &cfg), 0);
    uint64_t now = 1000000;
    publish_retained(&b, "keeps", 0, now);
    publish_retained(&b, "short", 1, now);
    publish_retained(&b, "$SYS/short", 1, now);
    publish_retained(&b, "long", 60, now);
    assert_int_equal(retained_count(b.retained), 4);
    broker_sweep(&b, now + 500);
    assert_int_equal(retained_count(b.retained), 4);
    broker_sweep(&b, now + 1500);
    assert_int_equal(retained_count(b.retained), 2);
    broker_sweep(&b, now + 61000);
    assert_int_equal(retained_count(b.retained), 1);
    assert_int_equal(b.retained_expiry_ms, 0); /* nothing left that expires: no more walks */
    broker_destroy(&b);
    config_free(&cfg);
}

static void test_replacing_an_expiring_message_does_not_lose_the_next_expiry(void **state)
{
    struct mq_config cfg;
    struct broker b;
    assert_int_equal(config_init(&cfg), 0);
    assert_int_equal(broker_init(&b, &cfg), 0);
    uint64_t now = 1000000;
    publish_retained(&b, "a", 1, now);
    publish_retained(&b, "a", 0, now + 100); /* replaced by one that never expires */
    publish_retained(&b, "b", 5, now + 100);
    broker_sweep(&b, now + 2000); /* the walk finds nothing expired, and notes b's expiry */
    assert_int_equal(retained_count(b.retained), 2);
    broker_sweep(&b, now + 5200);
    assert_int_equal(retained_count(b.retained), 1);
    broker_destroy(&b);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_frees_expired_retained_messages_only),
        cmocka_unit_test(test_replacing_an_expiring_message_does_not_lose_the_next_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
