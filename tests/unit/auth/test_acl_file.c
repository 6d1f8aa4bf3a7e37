/*
 * Tests of the ACL file: Mosquitto's syntax and semantics (anonymous rules before any user,
 * user rules, patterns with %c and %u, deny wins, no rule means denied, $ topics), errors with
 * FILE:LINE, and the subscribe-time decision for a filter (granted, denied, or per topic).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/acl_file.h"

static const char example[] = "# anonymous clients\n"
                              "topic read public/#\n"
                              "\n"
                              "user alice\n"
                              "topic readwrite home/#\n"
                              "topic deny home/secret/#\n"
                              "topic write log\n"
                              "user bob\n"
                              "topic home/bob/+\n"
                              "topic read $SYS/#\n"
                              "user alice\n"
                              "topic read extra\n"
                              "pattern write devices/%c/state\n"
                              "pattern read users/%u/#\n";

static struct acl *parse_ok(const char *text)
{
    struct acl *acl = NULL;
    char err[256] = "";
    if (acl_parse(text, strlen(text), "acl", &acl, err, sizeof err) != 0)
        fail_msg("parse failed: %s", err);
    return acl;
}

static void parse_fails(const char *text, const char *expected)
{
    struct acl *acl = NULL;
    char err[256] = "";
    assert_int_equal(acl_parse(text, strlen(text), "acl", &acl, err, sizeof err), -1);
    if (!strstr(err, expected))
        fail_msg("error '%s' lacks '%s'", err, expected);
}

static bool allows(const struct acl *acl, const char *id, const char *user, const char *topic,
                   enum acl_access a)
{
    struct acl_client c = {id, user};
    return acl_allows(acl, &c, (const uint8_t *)topic, strlen(topic), a);
}

static enum acl_verdict verdict(const struct acl *acl, const char *id, const char *user,
                                const char *filter)
{
    struct acl_client c = {id, user};
    return acl_check_filter(acl, &c, (const uint8_t *)filter, strlen(filter));
}

static void test_anonymous_rules_are_those_before_any_user(void **state)
{
    struct acl *acl = parse_ok(example);
    assert_true(allows(acl, "c", NULL, "public/news", ACL_READ));
    assert_true(allows(acl, "c", NULL, "public", ACL_READ)); /* '#' covers its parent */
    assert_false(allows(acl, "c", NULL, "public/news", ACL_WRITE));
    assert_false(allows(acl, "c", NULL, "home/x", ACL_READ));
    /* A named user does not get the anonymous rules. */
    assert_false(allows(acl, "c", "bob", "public/news", ACL_READ));
    acl_free(acl);
}

static void test_user_rules_merge_and_deny_wins(void **state)
{
    struct acl *acl = parse_ok(example);
    assert_true(allows(acl, "c", "alice", "home/kitchen/temp", ACL_WRITE));
    assert_true(allows(acl, "c", "alice", "home/kitchen/temp", ACL_READ));
    assert_false(allows(acl, "c", "alice", "home/secret/pin", ACL_READ));
    assert_false(allows(acl, "c", "alice", "home/secret", ACL_WRITE));
    assert_true(allows(acl, "c", "alice", "log", ACL_WRITE));
    assert_false(allows(acl, "c", "alice", "log", ACL_READ));
    assert_true(allows(acl, "c", "alice", "extra", ACL_READ)); /* second `user alice` block */
    assert_false(allows(acl, "c", "alice", "nothing/here", ACL_READ));
    assert_false(allows(acl, "c", "carol", "home/kitchen/temp", ACL_READ));
    assert_true(allows(acl, "c", "bob", "home/bob/x", ACL_WRITE));
    assert_false(allows(acl, "c", "bob", "home/bob/x/y", ACL_WRITE));
    acl_free(acl);
}

static void test_dollar_topics_need_rules_naming_them(void **state)
{
    struct acl *acl = parse_ok("topic #\ntopic +/x\nuser bob\ntopic read $SYS/#\n");
    assert_true(allows(acl, "c", NULL, "a/x", ACL_READ));
    assert_false(allows(acl, "c", NULL, "$SYS/broker/uptime", ACL_READ)); /* [MQTT-4.7.2-1] */
    assert_false(allows(acl, "c", NULL, "$SYS/x", ACL_READ));
    assert_true(allows(acl, "c", "bob", "$SYS/broker/uptime", ACL_READ));
    assert_false(allows(acl, "c", "bob", "$SYS/broker/uptime", ACL_WRITE));
    acl_free(acl);
}

static void test_patterns_substitute_client_id_and_username(void **state)
{
    struct acl *acl = parse_ok(example);
    assert_true(allows(acl, "dev1", "alice", "devices/dev1/state", ACL_WRITE));
    assert_true(allows(acl, "dev1", NULL, "devices/dev1/state", ACL_WRITE)); /* everyone */
    assert_false(allows(acl, "dev1", "alice", "devices/dev2/state", ACL_WRITE));
    assert_true(allows(acl, "x", "carol", "users/carol/inbox", ACL_READ));
    assert_false(allows(acl, "x", "carol", "users/dave/inbox", ACL_READ));
    assert_false(allows(acl, "x", NULL, "users//inbox", ACL_READ)); /* no username */
    /* A client id with wildcard characters or '/' never matches a pattern. */
    assert_false(allows(acl, "+", "alice", "devices/+/state", ACL_WRITE));
    assert_false(allows(acl, "a/b", "alice", "devices/a/b/state", ACL_WRITE));
    acl_free(acl);
}

static void test_empty_acl_denies_everything(void **state)
{
    struct acl *acl = parse_ok("# nothing\n");
    assert_false(allows(acl, "c", NULL, "a", ACL_READ));
    assert_false(allows(acl, "c", "u", "a", ACL_WRITE));
    assert_int_equal(verdict(acl, "c", "u", "#"), ACL_DENIED);
    acl_free(acl);
}

static void test_filter_verdicts(void **state)
{
    struct acl *acl = parse_ok(example);
    assert_int_equal(verdict(acl, "c", NULL, "public/#"), ACL_GRANTED);
    assert_int_equal(verdict(acl, "c", NULL, "public/+/x"), ACL_GRANTED);
    assert_int_equal(verdict(acl, "c", NULL, "#"), ACL_PER_TOPIC);
    assert_int_equal(verdict(acl, "c", NULL, "private/#"), ACL_DENIED);
    assert_int_equal(verdict(acl, "c", "alice", "home/kitchen/#"), ACL_GRANTED);
    /* home/# overlaps the deny on home/secret/#: each topic is checked. */
    assert_int_equal(verdict(acl, "c", "alice", "home/#"), ACL_PER_TOPIC);
    assert_int_equal(verdict(acl, "c", "alice", "home/+/pin"), ACL_PER_TOPIC);
    assert_int_equal(verdict(acl, "c", "alice", "home/secret/#"), ACL_DENIED);
    assert_int_equal(verdict(acl, "c", "alice", "log"), ACL_DENIED); /* write only */
    assert_int_equal(verdict(acl, "c", "bob", "$SYS/#"), ACL_GRANTED);
    assert_int_equal(verdict(acl, "c", "bob", "#"), ACL_PER_TOPIC);
    assert_int_equal(verdict(acl, "c", "carol", "users/carol/#"), ACL_GRANTED);
    assert_int_equal(verdict(acl, "c", "carol", "users/+/#"), ACL_PER_TOPIC);
    acl_free(acl);
}

static void test_wildcard_filter_is_not_granted_dollar_topics(void **state)
{
    struct acl *acl = parse_ok("topic read #\ntopic read $SYS/#\n");
    assert_int_equal(verdict(acl, "c", NULL, "#"), ACL_GRANTED);
    assert_int_equal(verdict(acl, "c", NULL, "$SYS/#"), ACL_GRANTED);
    acl_free(acl);
    acl = parse_ok("topic read #\n");
    assert_int_equal(verdict(acl, "c", NULL, "$SYS/#"), ACL_DENIED);
    assert_int_equal(verdict(acl, "c", NULL, "+/x"), ACL_GRANTED);
    acl_free(acl);
}

static void test_access_word_is_optional(void **state)
{
    struct acl *acl = parse_ok("topic a/b\ntopic   read  c d\n");
    assert_true(allows(acl, "c", NULL, "a/b", ACL_WRITE));
    assert_true(allows(acl, "c", NULL, "a/b", ACL_READ));
    assert_true(allows(acl, "c", NULL, "c d", ACL_READ)); /* the rest of the line is the topic */
    assert_false(allows(acl, "c", NULL, "c d", ACL_WRITE));
    acl_free(acl);
}

static void test_bad_lines_name_file_and_line(void **state)
{
    parse_fails("topic a\nfoo bar\n", "acl:2: unknown keyword 'foo'");
    parse_fails("\nuser\n", "acl:2: user: missing or invalid name");
    parse_fails("topic read\n", "acl:1: invalid topic filter");
    parse_fails("topic a/#/b\n", "acl:1: invalid topic filter 'a/#/b'");
    parse_fails("pattern write a+/b\n", "acl:1: invalid topic filter");
    struct acl *acl = NULL;
    char err[256];
    const char nul[] = "topic read a\0b\n";
    assert_int_equal(acl_parse(nul, sizeof nul - 1, "acl", &acl, err, sizeof err), -1);
    assert_non_null(strstr(err, "acl:1: invalid topic filter"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anonymous_rules_are_those_before_any_user),
        cmocka_unit_test(test_user_rules_merge_and_deny_wins),
        cmocka_unit_test(test_dollar_topics_need_rules_naming_them),
        cmocka_unit_test(test_patterns_substitute_client_id_and_username),
        cmocka_unit_test(test_empty_acl_denies_everything),
        cmocka_unit_test(test_filter_verdicts),
        cmocka_unit_test(test_wildcard_filter_is_not_granted_dollar_topics),
        cmocka_unit_test(test_access_word_is_optional),
        cmocka_unit_test(test_bad_lines_name_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
