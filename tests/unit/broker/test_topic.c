/*
 * Tests of topic name/filter validation, $share parsing, level iteration and the reference
 * matcher, using the examples of MQTT 5.0 section 4.7 and 4.8.2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker/topic.h"

#define S(str) (const uint8_t *)(str), strlen(str)

static bool name_ok(const char *s)
{
    return topic_name_valid(S(s), 0, 0);
}

static bool filter_ok(const char *s)
{
    return topic_filter_valid(S(s), 0, 0);
}

static bool matches(const char *filter, const char *topic)
{
    return topic_matches(S(filter), S(topic));
}

/* [MQTT-4.7.3-1] */
static void test_empty_topic_name_and_filter_are_invalid(void **state)
{
    assert_false(topic_name_valid((const uint8_t *)"", 0, 0, 0));
    assert_false(topic_filter_valid((const uint8_t *)"", 0, 0, 0));
    assert_false(topic_name_valid(NULL, 0, 0, 0));
    assert_false(topic_filter_valid(NULL, 0, 0, 0));
}

/* [MQTT-4.7.0-1] */
static void test_topic_name_with_wildcard_is_invalid(void **state)
{
    assert_false(name_ok("sport/+"));
    assert_false(name_ok("sport/#"));
    assert_false(name_ok("#"));
    assert_false(name_ok("+"));
    assert_false(name_ok("a+b"));
    assert_true(name_ok("sport/tennis/player1"));
    assert_true(name_ok("/"));
    assert_true(name_ok("$SYS/broker"));
    assert_true(name_ok(" "));
}

static void test_topic_name_limits_count_levels_and_bytes(void **state)
{
    assert_true(topic_name_valid(S("a/b/c"), 3, 5));
    assert_false(topic_name_valid(S("a/b/c"), 2, 0));
    assert_false(topic_name_valid(S("a/b/c"), 0, 4));
    assert_true(topic_name_valid(S("a//"), 3, 0));
    assert_false(topic_name_valid(S("a//"), 2, 0));
}

static void test_spec_example_filters_are_valid(void **state)
{
    assert_true(filter_ok("sport/tennis/player1/#"));
    assert_true(filter_ok("sport/#"));
    assert_true(filter_ok("#"));
    assert_true(filter_ok("+"));
    assert_true(filter_ok("sport/tennis/+"));
    assert_true(filter_ok("+/tennis/#"));
    assert_true(filter_ok("sport/+/player1"));
    assert_true(filter_ok("+/+"));
    assert_true(filter_ok("/+"));
    assert_true(filter_ok("$SYS/#"));
    assert_true(filter_ok("/"));
    assert_true(filter_ok("//#"));
}

/* [MQTT-4.7.1-1] '#' must be a whole level and the last one. */
static void test_multi_level_wildcard_not_last_or_not_whole_level_is_invalid(void **state)
{
    assert_false(filter_ok("sport/tennis#"));
    assert_false(filter_ok("sport/#/ranking"));
    assert_false(filter_ok("#/a"));
    assert_false(filter_ok("##"));
    assert_false(filter_ok("a#"));
    assert_false(filter_ok("#/"));
}

/* [MQTT-4.7.1-2] '+' must be a whole level. */
static void test_single_level_wildcard_not_whole_level_is_invalid(void **state)
{
    assert_false(filter_ok("sport+"));
    assert_false(filter_ok("sport/+tennis"));
    assert_false(filter_ok("++"));
    assert_false(filter_ok("a/+b/c"));
    assert_false(filter_ok("+#"));
}

static void test_filter_limits_count_levels_and_bytes(void **state)
{
    assert_true(topic_filter_valid(S("a/+/#"), 3, 5));
    assert_false(topic_filter_valid(S("a/+/#"), 2, 0));
    assert_false(topic_filter_valid(S("a/+/#"), 0, 4));
}

static void test_levels_iterator_yields_empty_levels(void **state)
{
    struct topic_levels it;
    const uint8_t *l;
    size_t n;
    topic_levels_init(&it, S("a//bc/"));
    assert_true(topic_levels_next(&it, &l, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(l, "a", 1);
    assert_true(topic_levels_next(&it, &l, &n));
    assert_int_equal(n, 0);
    assert_true(topic_levels_next(&it, &l, &n));
    assert_int_equal(n, 2);
    assert_memory_equal(l, "bc", 2);
    assert_true(topic_levels_next(&it, &l, &n));
    assert_int_equal(n, 0);
    assert_false(topic_levels_next(&it, &l, &n));

    topic_levels_init(&it, NULL, 0);
    assert_true(topic_levels_next(&it, &l, &n));
    assert_int_equal(n, 0);
    assert_false(topic_levels_next(&it, &l, &n));
}

static void check_share(const char *s, const char *group, const char *filter)
{
    mq_bytes g, f;
    assert_int_equal(topic_share_parse(S(s), &g, &f), 1);
    assert_int_equal(g.len, strlen(group));
    assert_memory_equal(g.data, group, g.len);
    assert_int_equal(f.len, strlen(filter));
    assert_memory_equal(f.data, filter, f.len);
}

/* [MQTT-4.8.2-1] [MQTT-4.8.2-2] */
static void test_shared_subscription_is_split_into_group_and_filter(void **state)
{
    check_share("$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+");
    check_share("$share/g/#", "g", "#");
    check_share("$share/g//", "g", "/");
    check_share("$share/g/$SYS/x", "g", "$SYS/x");
}

static void test_non_shared_filter_is_not_parsed_as_shared(void **state)
{
    mq_bytes g = {NULL, 7}, f = {NULL, 9};
    assert_int_equal(topic_share_parse(S("sport/tennis"), &g, &f), 0);
    assert_int_equal(topic_share_parse(S("$shar/g/x"), &g, &f), 0);
    assert_int_equal(topic_share_parse(S("$SHARE/g/x"), &g, &f), 0);
    assert_int_equal(topic_share_parse(S("$share"), &g, &f), 0);
    assert_int_equal(topic_share_parse(S("#"), &g, &f), 0);
    assert_int_equal(g.len, 7);
    assert_int_equal(f.len, 9);
}

/* [MQTT-4.8.2-1] ShareName at least one character; [MQTT-4.8.2-2] no '/', '+', '#' in it and
 * followed by '/' and a topic filter. */
static void test_malformed_shared_subscription_is_rejected(void **state)
{
    mq_bytes g, f;
    assert_int_equal(topic_share_parse(S("$share/"), &g, &f), -1);
    assert_int_equal(topic_share_parse(S("$share/grp"), &g, &f), -1);
    assert_int_equal(topic_share_parse(S("$share//x"), &g, &f), -1);
    assert_int_equal(topic_share_parse(S("$share/grp/"), &g, &f), -1);
    assert_int_equal(topic_share_parse(S("$share/g+/x"), &g, &f), -1);
    assert_int_equal(topic_share_parse(S("$share/+/x"), &g, &f), -1);
    assert_int_equal(topic_share_parse(S("$share/#/x"), &g, &f), -1);
    assert_int_equal(topic_share_parse(S("$share/a#b/x"), &g, &f), -1);
}

/* Section 4.7.1.2: the "sport/tennis/player1/#" example [MQTT-4.7.1-1]. */
static void test_multi_level_wildcard_matches_parent_and_descendants(void **state)
{
    assert_true(matches("sport/tennis/player1/#", "sport/tennis/player1"));
    assert_true(matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
    assert_true(matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
    assert_false(matches("sport/tennis/player1/#", "sport/tennis/player2"));
    assert_false(matches("sport/tennis/player1/#", "sport/tennis"));
    assert_true(matches("sport/#", "sport"));
    assert_true(matches("sport/#", "sport/"));
    assert_true(matches("#", "sport"));
    assert_true(matches("#", "/"));
    assert_true(matches("#", "a/b/c"));
}

/* Section 4.7.1.3: the "sport/tennis/+" and "sport/+" examples [MQTT-4.7.1-2]. */
static void test_single_level_wildcard_matches_exactly_one_level(void **state)
{
    assert_true(matches("sport/tennis/+", "sport/tennis/player1"));
    assert_true(matches("sport/tennis/+", "sport/tennis/player2"));
    assert_false(matches("sport/tennis/+", "sport/tennis/player1/ranking"));
    assert_false(matches("sport/+", "sport"));
    assert_true(matches("sport/+", "sport/"));
    assert_true(matches("+", "sport"));
    assert_false(matches("+", "sport/tennis"));
    assert_true(matches("+/tennis/#", "sport/tennis/player1"));
    assert_true(matches("sport/+/player1", "sport/tennis/player1"));
}

/* Section 4.7.1.3: "+" matches empty levels [MQTT-4.7.1-2]. */
static void test_single_level_wildcard_matches_empty_level(void **state)
{
    assert_true(matches("+/+", "/finance"));
    assert_true(matches("/+", "/finance"));
    assert_false(matches("+", "/finance"));
    assert_true(matches("+/+", "/"));
    assert_true(matches("a/+/b", "a//b"));
}

/* [MQTT-4.7.2-1] */
static void test_leading_wildcard_does_not_match_dollar_topics(void **state)
{
    assert_false(matches("#", "$SYS/monitor/Clients"));
    assert_false(matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert_false(matches("+", "$SYS"));
    assert_false(matches("#", "$"));
    assert_true(matches("$SYS/#", "$SYS/monitor/Clients"));
    assert_true(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert_true(matches("$SYS/#", "$SYS"));
    assert_true(matches("+/$x", "a/$x"));
    assert_true(matches("a/#", "a/$x"));
}

/* [MQTT-4.7.3-4] no normalization; topics are case sensitive. */
static void test_matching_is_byte_exact_and_case_sensitive(void **state)
{
    assert_false(matches("ACCOUNTS", "Accounts"));
    assert_true(matches("Accounts", "Accounts"));
    assert_false(matches("a/b", "a/b/"));
    assert_false(matches("a/b/", "a/b"));
    assert_false(matches("a b", "a  b"));
    assert_true(matches("/", "/"));
    assert_false(matches("/", "//"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_topic_name_and_filter_are_invalid),
        cmocka_unit_test(test_topic_name_with_wildcard_is_invalid),
        cmocka_unit_test(test_topic_name_limits_count_levels_and_bytes),
        cmocka_unit_test(test_spec_example_filters_are_valid),
        cmocka_unit_test(test_multi_level_wildcard_not_last_or_not_whole_level_is_invalid),
        cmocka_unit_test(test_single_level_wildcard_not_whole_level_is_invalid),
        cmocka_unit_test(test_filter_limits_count_levels_and_bytes),
        cmocka_unit_test(test_levels_iterator_yields_empty_levels),
        cmocka_unit_test(test_shared_subscription_is_split_into_group_and_filter),
        cmocka_unit_test(test_non_shared_filter_is_not_parsed_as_shared),
        cmocka_unit_test(test_malformed_shared_subscription_is_rejected),
        cmocka_unit_test(test_multi_level_wildcard_matches_parent_and_descendants),
        cmocka_unit_test(test_single_level_wildcard_matches_exactly_one_level),
        cmocka_unit_test(test_single_level_wildcard_matches_empty_level),
        cmocka_unit_test(test_leading_wildcard_does_not_match_dollar_topics),
        cmocka_unit_test(test_matching_is_byte_exact_and_case_sensitive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
