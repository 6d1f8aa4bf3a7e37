/*
 * Tests of the password file: lines written by Debian's mosquitto_passwd (2.0.11: $7$ with 101
 * iterations, and -H sha512's $6$), mqttd's $scram-sha-256$ entries, what `mqttd passwd`
 * writes, errors with FILE:LINE, and the cache of verified passwords.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/base64.h"
#include "auth/password_file.h"

/* Made with: mosquitto_passwd -c -b pw alice secret; mosquitto_passwd -H sha512 -b pw bob pw6 */
static const char mosquitto_lines[] =
    "alice:$7$101$jtwdcuW5qcjp0k0k$azPxW2Yn9BQavkwWkN2TYAAcwN1hFVRPSqyLV0/"
    "y2eQ3f/RdFoLoRdVFNdBzOdFeugA1sxhvQSAUoZTYCQISSA==\n"
    "bob:$6$Fp6QGfBI616E3OMk$g0Ry9/"
    "RsJhrygq53rBJqzBREmMQiCVuxrabxobNTMfH9sqSiDUXO0ndcVHLCoGN8fRpjAaq7KVSynGRLjVXGfA==\n";

static struct pw_file *parse_ok(const char *text)
{
    struct pw_file *f = NULL;
    char err[256] = "";
    assert_int_equal(pw_file_parse(text, strlen(text), "pw", &f, err, sizeof err), 0);
    assert_non_null(f);
    return f;
}

static void parse_fails(const char *text, const char *expected_error)
{
    struct pw_file *f = NULL;
    char err[256] = "";
    assert_int_equal(pw_file_parse(text, strlen(text), "pw", &f, err, sizeof err), -1);
    assert_null(f);
    if (!strstr(err, expected_error))
        fail_msg("error '%s' lacks '%s'", err, expected_error);
}

static int check(struct pw_file *f, const char *user, const char *password)
{
    return pw_file_check(f, user, strlen(user), (const uint8_t *)password, strlen(password));
}

static void test_mosquitto_passwd_pbkdf2_entry_verifies(void **state)
{
    struct pw_file *f = parse_ok(mosquitto_lines);
    const struct pw_entry *e = pw_file_find(f, "alice", 5);
    assert_non_null(e);
    assert_int_equal(e->kind, PW_PBKDF2_SHA512);
    assert_int_equal(e->iterations, 101);
    assert_true(pw_entry_verify(e, (const uint8_t *)"secret", 6));
    assert_false(pw_entry_verify(e, (const uint8_t *)"secreT", 6));
    assert_false(pw_entry_verify(e, (const uint8_t *)"", 0));
    pw_file_free(f);
}

static void test_mosquitto_passwd_sha512_entry_verifies(void **state)
{
    struct pw_file *f = parse_ok(mosquitto_lines);
    assert_int_equal(check(f, "bob", "pw6"), 0);
    assert_int_equal(check(f, "bob", "pw7"), -1);
    assert_int_equal(check(f, "bo", "pw6"), -1);
    assert_int_equal(check(f, "carol", "pw6"), -1);
    pw_file_free(f);
}

static void test_written_entries_verify_and_lookup_is_exact(void **state)
{
    char *a = pw_entry_format("zed", "p1", 2, PW_PBKDF2_SHA512, 1000);
    char *b = pw_entry_format("amy", "p:2", 3, PW_SCRAM_SHA256, 4096);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(strstr(a, "zed:$7$1000$"));
    assert_non_null(strstr(b, "amy:$scram-sha-256$4096$"));
    char text[1024];
    snprintf(text, sizeof text, "# comment\n\n%s  %s", a, b);
    struct pw_file *f = parse_ok(text);
    assert_int_equal(pw_file_count(f), 2);
    assert_int_equal(check(f, "zed", "p1"), 0);
    assert_int_equal(check(f, "zed", "p2"), -1);
    assert_int_equal(check(f, "amy", "p:2"), 0);
    assert_int_equal(check(f, "amy", "p:3"), -1);
    assert_null(pw_file_find(f, "zedd", 4));
    assert_non_null(pw_file_find(f, "zedd", 3));
    pw_file_free(f);
    free(a);
    free(b);
}

static void test_crlf_lines_are_accepted(void **state)
{
    char *a = pw_entry_format("u", "p", 1, PW_PBKDF2_SHA512, 101);
    a[strlen(a) - 1] = 0;
    char text[512];
    snprintf(text, sizeof text, "%s\r\n", a);
    struct pw_file *f = parse_ok(text);
    assert_int_equal(check(f, "u", "p"), 0);
    pw_file_free(f);
    free(a);
}

static void test_bad_lines_name_file_and_line(void **state)
{
    parse_fails("\n\nalice\n", "pw:3: expected username:hash");
    parse_fails(":$6$abcd$efgh\n", "pw:1: expected username:hash");
    parse_fails("a:plaintext\n", "pw:1: user 'a': not a hashed password");
    parse_fails("a:$5$x$y\n", "pw:1: user 'a': unknown hash type");
    parse_fails("# c\na:$7$0$AAAA$AAAA\n", "pw:2: user 'a': bad iteration count");
    parse_fails("a:$7$99999999999$AAAA$AAAA\n", "bad iteration count");
    parse_fails("a:$7$10$A!AA$AAAA\n", "bad salt");
    parse_fails("a:$7$10$AAAA$AAAA\n", "bad hash");
    parse_fails("a:$7$10$AAAA\n", "$7$ITERATIONS$SALT$HASH");
    parse_fails("a:$6$AAAA$AAAA$AAAA\n", "$6$SALT$HASH");
    parse_fails("a:$scram-sha-256$4096$AAAA$AAAA$AAAA\n", "bad stored key");
}

static void test_a_user_twice_is_an_error(void **state)
{
    char text[1024];
    snprintf(text, sizeof text, "%s%s", mosquitto_lines,
             "alice:$6$Fp6QGfBI616E3OMk$g0Ry9/"
             "RsJhrygq53rBJqzBREmMQiCVuxrabxobNTMfH9sq"
             "SiDUXO0ndcVHLCoGN8fRpjAaq7KVSynGRLjVXGfA"
             "==\n");
    parse_fails(text, "user 'alice' appears twice");
}

static void test_verified_pair_is_cached_but_not_its_neighbours(void **state)
{
    struct pw_file *f = parse_ok(mosquitto_lines);
    assert_int_equal(check(f, "alice", "secret"), 0);
    assert_int_equal(check(f, "alice", "secret"), 0); /* from the cache */
    assert_int_equal(check(f, "alice", "secret2"), -1);
    assert_int_equal(check(f, "bob", "secret"), -1);
    pw_file_free(f);
}

static void test_base64_roundtrip_and_strictness(void **state)
{
    const uint8_t in[5] = {0xff, 0x00, 0x10, 0x20, 0x7f};
    for (size_t n = 0; n <= 5; n++) {
        char text[16];
        uint8_t out[8];
        auth_base64_encode(in, n, text);
        assert_int_equal(strlen(text), AUTH_BASE64_LEN(n));
        assert_int_equal(auth_base64_decode(text, strlen(text), out, sizeof out), (long)n);
        assert_memory_equal(in, out, n);
    }
    uint8_t out[8];
    assert_int_equal(auth_base64_decode("QQ=", 3, out, sizeof out), -1);
    assert_int_equal(auth_base64_decode("Q=QQ", 4, out, sizeof out), -1);
    assert_int_equal(auth_base64_decode("QQ==QQ==", 8, out, sizeof out), -1);
    assert_int_equal(auth_base64_decode("QUJD", 4, out, 2), -1);
    assert_int_equal(auth_base64_decode("QUJD", 4, out, 3), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mosquitto_passwd_pbkdf2_entry_verifies),
        cmocka_unit_test(test_mosquitto_passwd_sha512_entry_verifies),
        cmocka_unit_test(test_written_entries_verify_and_lookup_is_exact),
        cmocka_unit_test(test_crlf_lines_are_accepted),
        cmocka_unit_test(test_bad_lines_name_file_and_line),
        cmocka_unit_test(test_a_user_twice_is_an_error),
        cmocka_unit_test(test_verified_pair_is_cached_but_not_its_neighbours),
        cmocka_unit_test(test_base64_roundtrip_and_strictness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
