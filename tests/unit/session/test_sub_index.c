/*
 * A session's subscriptions by (share group, filter): found, replaced and removed the same with
 * few (a list) and many (the hash index, sub_index.c), including across the index's growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "broker/broker.h"
#include "server/config.h"
#include "session/session.h"
#include "session/sub_index.h"

#define U8(s) ((const uint8_t *)(s))

static int add(struct session *s, const char *group, const char *filter, uint32_t id)
{
    return session_subscription_add_locked(s, U8(group), (uint16_t)strlen(group), U8(filter),
                                           (uint16_t)strlen(filter), 1, id);
}

static struct session_subscription *find(struct session *s, const char *group, const char *filter)
{
    return session_subscription_find_locked(s, U8(group), (uint16_t)strlen(group), U8(filter),
                                            (uint16_t)strlen(filter));
}

static bool drop(struct session *s, const char *group, const char *filter)
{
    return session_subscription_remove_locked(s, U8(group), (uint16_t)strlen(group), U8(filter),
                                              (uint16_t)strlen(filter));
}

static void check_many(uint32_t count)
{
    struct mq_config cfg;
    struct broker b;
    assert_int_equal(config_init(&cfg), 0);
    assert_int_equal(broker_init(&b, &cfg), 0);
    struct session *s = session_new(&b, "c", 1);
    assert_non_null(s);
    char filter[32];
    for (uint32_t i = 0; i < count; i++) {
        snprintf(filter, sizeof filter, "t/%u", i);
        assert_int_equal(add(s, i % 3 ? "" : "g", filter, i), 0);
    }
    assert_int_equal(s->subscription_count, count);
    assert_true((count >= SUB_INDEX_MIN) == (s->sub_index != NULL));
    snprintf(filter, sizeof filter, "t/%u", count - 1);
    assert_int_equal(add(s, (count - 1) % 3 ? "" : "g", filter, 7), 1); /* replaced */
    assert_int_equal(find(s, (count - 1) % 3 ? "" : "g", filter)->subscription_id, 7);
    /* A group and a filter whose concatenations are equal are different subscriptions. */
    assert_null(find(s, "g", "t/1"));
    assert_null(find(s, "gt", "/0"));
    for (uint32_t i = 0; i < count; i += 2) {
        snprintf(filter, sizeof filter, "t/%u", i);
        assert_true(drop(s, i % 3 ? "" : "g", filter));
        assert_false(drop(s, i % 3 ? "" : "g", filter));
    }
    for (uint32_t i = 0; i < count; i++) {
        snprintf(filter, sizeof filter, "t/%u", i);
        struct session_subscription *sub = find(s, i % 3 ? "" : "g", filter);
        if (i % 2)
            assert_non_null(sub);
        else
            assert_null(sub);
    }
    uint32_t listed = 0;
    for (struct session_subscription *sub = s->subscriptions; sub; sub = sub->next)
        listed++;
    assert_int_equal(listed, s->subscription_count);
    session_unref(s);
    broker_destroy(&b);
    config_free(&cfg);
}

static void test_few_subscriptions_live_in_a_list(void **state)
{
    check_many(SUB_INDEX_MIN - 1);
}

static void test_many_subscriptions_are_indexed(void **state)
{
    check_many(5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_few_subscriptions_live_in_a_list),
        cmocka_unit_test(test_many_subscriptions_are_indexed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
