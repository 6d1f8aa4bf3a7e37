/*
 * Tests of the SCRAM-SHA-256 server: key derivation against RFC 7677's example, a whole
 * exchange with a client computed here, and the refusals (wrong password, changed nonce,
 * channel binding asked for, unknown user, user without SCRAM credentials, malformed input).
 */
#include <gnutls/crypto.h>
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
#include "auth/scram.h"

/* RFC 7677 section 3: user "user", password "pencil". */
static const char rfc_salt64[] = "W22ZaJ0SNY7soEsUEjb6gQ==";
static const char rfc_auth_message[] =
    "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

static void test_keys_give_rfc7677_server_signature(void **state)
{
    uint8_t salt[16], stored[32], server[32], sig[32];
    assert_int_equal(auth_base64_decode(rfc_salt64, strlen(rfc_salt64), salt, sizeof salt), 16);
    assert_int_equal(
        scram_derive_keys((const uint8_t *)"pencil", 6, salt, 16, 4096, stored, server), 0);
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, server, 32, rfc_auth_message, strlen(rfc_auth_message),
                     sig);
    char sig64[64];
    auth_base64_encode(sig, 32, sig64);
    assert_string_equal(sig64, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

static struct pw_file *passwords(void)
{
    char *scram = pw_entry_format("user", "pencil", 6, PW_SCRAM_SHA256, 4096);
    char *plain = pw_entry_format("plain", "pencil", 6, PW_PBKDF2_SHA512, 101);
    char text[1024];
    snprintf(text, sizeof text, "%s%s", scram, plain);
    free(scram);
    free(plain);
    struct pw_file *f = NULL;
    char err[256];
    assert_int_equal(pw_file_parse(text, strlen(text), "pw", &f, err, sizeof err), 0);
    return f;
}

/* The client's final message for a server-first, computed as RFC 5802 says. */
static void client_final(const char *first, const char *server_first, const char *password,
                         char *out, size_t cap)
{
    const char *bare = first + 3;
    char gs2[8];
    auth_base64_encode((const uint8_t *)first, 3, gs2); /* "n,," is "biws" */
    char nonce[128], salt64[128];
    unsigned iterations;
    assert_int_equal(sscanf(server_first, "r=%127[^,],s=%127[^,],i=%u", nonce, salt64, &iterations),
                     3);
    uint8_t salt[64], salted[32], client_key[32], stored[32], sig[32], proof[32];
    long salt_len = auth_base64_decode(salt64, strlen(salt64), salt, sizeof salt);
    gnutls_datum_t key = {(unsigned char *)password, (unsigned)strlen(password)};
    gnutls_datum_t s = {salt, (unsigned)salt_len};
    gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &s, iterations, salted, 32);
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, salted, 32, "Client Key", 10, client_key);
    gnutls_hash_fast(GNUTLS_DIG_SHA256, client_key, 32, stored);
    char without_proof[256], auth[1024];
    snprintf(without_proof, sizeof without_proof, "c=%s,r=%s", gs2, nonce);
    snprintf(auth, sizeof auth, "%s,%s,%s", bare, server_first, without_proof);
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, stored, 32, auth, strlen(auth), sig);
    for (int i = 0; i < 32; i++)
        proof[i] = client_key[i] ^ sig[i];
    char proof64[64];
    auth_base64_encode(proof, 32, proof64);
    snprintf(out, cap, "%s,p=%s", without_proof, proof64);
}

static int exchange(struct pw_file *f, const char *first, const char *password,
                    const char **username_out)
{
    struct scram_server *s;
    const char *reply, *username;
    size_t reply_len;
    int rc = scram_server_start((const uint8_t *)first, strlen(first), f, &s, &reply, &reply_len,
                                &username);
    if (rc != 0)
        return -1;
    char server_first[256];
    snprintf(server_first, sizeof server_first, "%.*s", (int)reply_len, reply);
    char final[512];
    client_final(first, server_first, password, final, sizeof final);
    rc = scram_server_finish(s, (const uint8_t *) final, strlen(final), &reply, &reply_len);
    if (rc == 0) {
        assert_true(reply_len > 2 && memcmp(reply, "v=", 2) == 0);
        if (username_out)
            *username_out = strcmp(username, "user") == 0 ? "user" : "other";
    }
    scram_server_free(s);
    return rc;
}

static void test_whole_exchange_succeeds_with_the_right_password(void **state)
{
    struct pw_file *f = passwords();
    const char *who = NULL;
    assert_int_equal(exchange(f, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", "pencil", &who), 0);
    assert_string_equal(who, "user");
    assert_int_equal(exchange(f, "y,,n=user,r=abc", "pencil", NULL), 0);
    pw_file_free(f);
}

static void test_wrong_password_fails(void **state)
{
    struct pw_file *f = passwords();
    assert_int_equal(exchange(f, "n,,n=user,r=abc", "pencil2", NULL), -1);
    pw_file_free(f);
}

static void test_first_messages_refused(void **state)
{
    struct pw_file *f = passwords();
    const char *bad[] = {
        "",
        "n,,",
        "p=tls-unique,,n=user,r=abc", /* channel binding: not offered */
        "n,,n=nobody,r=abc",          /* unknown user */
        "n,,n=plain,r=abc",           /* a $7$ entry cannot do SCRAM */
        "n,,n=us=er,r=abc",           /* bad saslname escape */
        "n,,r=abc,n=user",            /* attributes out of order */
        "n,,n=user,r=a,bc",           /* ',' ends the nonce: "bc" is no extension */
        "n,,n=user,r=",
        "n,,n=user,r=abc,m=ext", /* mandatory extension */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct scram_server *s = (struct scram_server *)1;
        const char *reply, *username;
        size_t reply_len;
        if (scram_server_start((const uint8_t *)bad[i], strlen(bad[i]), f, &s, &reply, &reply_len,
                               &username) == 0) {
            scram_server_free(s);
            fail_msg("accepted '%s'", bad[i]);
        } else {
            assert_null(s);
        }
    }
    pw_file_free(f);
}

static void test_final_with_another_nonce_fails(void **state)
{
    struct pw_file *f = passwords();
    struct scram_server *s;
    const char *reply, *username;
    size_t reply_len;
    const char *first = "n,,n=user,r=abc";
    assert_int_equal(scram_server_start((const uint8_t *)first, strlen(first), f, &s, &reply,
                                        &reply_len, &username),
                     0);
    const char *finals[] = {"c=biws,r=abc,p=AAAA", "c=biws,r=abcXYZ,p=", "c=eSws,r=abc,p=AAAA",
                            "garbage"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(scram_server_finish(s, (const uint8_t *)finals[i], strlen(finals[i]),
                                             &reply, &reply_len),
                         -1);
    scram_server_free(s);
    pw_file_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_give_rfc7677_server_signature),
        cmocka_unit_test(test_whole_exchange_succeeds_with_the_right_password),
        cmocka_unit_test(test_wrong_password_fails),
        cmocka_unit_test(test_first_messages_refused),
        cmocka_unit_test(test_final_with_another_nonce_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
