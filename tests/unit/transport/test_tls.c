/*
 * Tests of the TLS layer with plain buffers: a GnuTLS client session in memory talks to the
 * server layer, with no socket. Handshake and data both ways, plain MQTT refused, client
 * certificates (required, identity, expired), bytes written before the handshake, pinned
 * versions, priority strings, reload of credentials while sessions run, close_notify, and an
 * engine closing the connection from inside up().
 *
 * The certificates below were made once with certtool (valid 2020-2099, ECDSA P-256): a CA,
 * two server certificates for localhost (serials 2 and 3), a client "alice" and an expired
 * client "old".
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "server/config.h"
#include "transport/tls.h"

static const char CA_CRT[] = "-----BEGIN CERTIFICATE-----\n"
                             "MIIBVzCB/aADAgECAgEBMAoGCCqGSM49BAMCMBIxEDAOBgNVBAMTB3VuaXQgQ0Ew\n"
                             "IBcNMjAwMTAxMDAwMDAwWhgPMjA5OTEyMzEwMDAwMDBaMBIxEDAOBgNVBAMTB3Vu\n"
                             "aXQgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQR9ltyrhdhYk34F5A6TyLS\n"
                             "Bx526fxo+Z5meNqNT3mIgNchIYhDmd6IWTYK34OxVifQiZDJUAYhUdkkt1QkME69\n"
                             "o0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICBDAdBgNVHQ4EFgQU\n"
                             "y8LWSVvB6P/XksbZsxsjbJnbQxUwCgYIKoZIzj0EAwIDSQAwRgIhANwBlEb9HLVs\n"
                             "cHjPiQo4NlRiefUJK3TyrgQ267lNme6HAiEAnuNnA6Hj5J9wiJSphvZrkJqBhuAv\n"
                             "9lWoFDTOHEmTd+A=\n"
                             "-----END CERTIFICATE-----\n";

static const char SERVER_CRT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBpDCCAUqgAwIBAgIBAjAKBggqhkjOPQQDAjASMRAwDgYDVQQDEwd1bml0IENB\n"
    "MCAXDTIwMDEwMTAwMDAwMFoYDzIwOTkxMjMxMDAwMDAwWjAUMRIwEAYDVQQDEwls\n"
    "b2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQTrs2ZcY4wCkmgBpOf\n"
    "u3wkPmwdXX72eaz8N7srRq87CIKzguG44Rg3Ubph/qKOBiURmeL0KrgvhvHe/qFz\n"
    "/fXto4GMMIGJMAwGA1UdEwEB/wQCMAAwFAYDVR0RBA0wC4IJbG9jYWxob3N0MBMG\n"
    "A1UdJQQMMAoGCCsGAQUFBwMBMA4GA1UdDwEB/wQEAwIHgDAdBgNVHQ4EFgQUJUei\n"
    "rzffiRb1JucH5S7056DArvAwHwYDVR0jBBgwFoAUy8LWSVvB6P/XksbZsxsjbJnb\n"
    "QxUwCgYIKoZIzj0EAwIDSAAwRQIhAM5ZNE3ykoG/bIipeH99vdjZnhAoQetuEtwV\n"
    "mLZREyZsAiAyqvBaeuUVKw+7JAUysI4WOjyJtgug8uzbtgYIVJqK4Q==\n"
    "-----END CERTIFICATE-----\n";

static const char SERVER_KEY[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHgCAQEEIQCS6IlOkefZXNnR8sH21G+Fsojf2mbnVKWGD+vINBaZMKAKBggqhkjO\n"
    "PQMBB6FEA0IABBOuzZlxjjAKSaAGk5+7fCQ+bB1dfvZ5rPw3uytGrzsIgrOC4bjh\n"
    "GDdRumH+oo4GJRGZ4vQquC+G8d7+oXP99e0=\n"
    "-----END EC PRIVATE KEY-----\n";

static const char SERVER2_CRT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBpDCCAUqgAwIBAgIBAzAKBggqhkjOPQQDAjASMRAwDgYDVQQDEwd1bml0IENB\n"
    "MCAXDTIwMDEwMTAwMDAwMFoYDzIwOTkxMjMxMDAwMDAwWjAUMRIwEAYDVQQDEwls\n"
    "b2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQEVmxDDnbZN2yOjUD8\n"
    "I6JCqs1MiIZyMmxiSNHS4uawAsAl6zbY27lR5fo34F9Cf8Rs0d5HgXF532UkBftg\n"
    "swkro4GMMIGJMAwGA1UdEwEB/wQCMAAwFAYDVR0RBA0wC4IJbG9jYWxob3N0MBMG\n"
    "A1UdJQQMMAoGCCsGAQUFBwMBMA4GA1UdDwEB/wQEAwIHgDAdBgNVHQ4EFgQUd95i\n"
    "K6jOAPAcszkWFpCgl2FdeTowHwYDVR0jBBgwFoAUy8LWSVvB6P/XksbZsxsjbJnb\n"
    "QxUwCgYIKoZIzj0EAwIDSAAwRQIhAIkI57D5V8DhjRvt/ctaGlLmDiwpK9X1LKUq\n"
    "JQ9exHLfAiBQTQzk34Ni9cMsQoJ65ydYfdzDMHfYiG1Ehsy6PyGNlw==\n"
    "-----END CERTIFICATE-----\n";

static const char SERVER2_KEY[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHgCAQEEIQCpPIaXwCfkAN4rkwRZib3jkbkAF7HSEBAqHi/CJGZ58qAKBggqhkjO\n"
    "PQMBB6FEA0IABARWbEMOdtk3bI6NQPwjokKqzUyIhnIybGJI0dLi5rACwCXrNtjb\n"
    "uVHl+jfgX0J/xGzR3keBcXnfZSQF+2CzCSs=\n"
    "-----END EC PRIVATE KEY-----\n";

static const char ALICE_CRT[] = "-----BEGIN CERTIFICATE-----\n"
                                "MIIBiTCCAS6gAwIBAgIBBDAKBggqhkjOPQQDAjASMRAwDgYDVQQDEwd1bml0IENB\n"
                                "MCAXDTIwMDEwMTAwMDAwMFoYDzIwOTkxMjMxMDAwMDAwWjAQMQ4wDAYDVQQDEwVh\n"
                                "bGljZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABA53yyslIvFl7UkBiROi28UW\n"
                                "YNAbpi7l6aQMUKG8XjHKrohtJME7f4VkZ6mrFR3McB2YIff9cnfJz0H8lXWUm0aj\n"
                                "dTBzMAwGA1UdEwEB/wQCMAAwEwYDVR0lBAwwCgYIKwYBBQUHAwIwDgYDVR0PAQH/\n"
                                "BAQDAgeAMB0GA1UdDgQWBBT/w7czErGjw6pDif26s6yiiBs67DAfBgNVHSMEGDAW\n"
                                "gBTLwtZJW8Ho/9eSxtmzGyNsmdtDFTAKBggqhkjOPQQDAgNJADBGAiEAtOao11p1\n"
                                "7jJxpkiF/Kjzc7g2PM87o9aQ8l0N0dUf/44CIQDiHBLaWclh8XzExRososdnuwgl\n"
                                "NN9gUat/5B18SqCttw==\n"
                                "-----END CERTIFICATE-----\n";

static const char ALICE_KEY[] = "-----BEGIN EC PRIVATE KEY-----\n"
                                "MHcCAQEEIE4d1RlRIPO2x81RDSG3W/DCWAEV0Fc9xh8fj8HrgebDoAoGCCqGSM49\n"
                                "AwEHoUQDQgAEDnfLKyUi8WXtSQGJE6LbxRZg0BumLuXppAxQobxeMcquiG0kwTt/\n"
                                "hWRnqasVHcxwHZgh9/1yd8nPQfyVdZSbRg==\n"
                                "-----END EC PRIVATE KEY-----\n";

static const char EXPIRED_CRT[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBhDCCASqgAwIBAgIBBTAKBggqhkjOPQQDAjASMRAwDgYDVQQDEwd1bml0IENB\n"
    "MB4XDTIwMDEwMTAwMDAwMFoXDTIwMTIzMTAwMDAwMFowDjEMMAoGA1UEAxMDb2xk\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVC1ixwY8SqxHTpmzaPDPTXpIQDpQ\n"
    "M/TmMu7AJQ8a8cRlYdqEEK2yyFcLXMPaQnUZiaktar93GQLBzNLuwGAuX6N1MHMw\n"
    "DAYDVR0TAQH/BAIwADATBgNVHSUEDDAKBggrBgEFBQcDAjAOBgNVHQ8BAf8EBAMC\n"
    "B4AwHQYDVR0OBBYEFK+Bkk+efvNprZwr+Fjfgz/bZh9WMB8GA1UdIwQYMBaAFMvC\n"
    "1klbwej/15LG2bMbI2yZ20MVMAoGCCqGSM49BAMCA0gAMEUCIDDYga+vOQW2Ycmr\n"
    "sJa1wEtb91w+cqmwYlNkYqRkeOKaAiEAhmR2TVZYJJzVCiy6LjWtG6aKWVB2vh3t\n"
    "MRYEziH8cfI=\n"
    "-----END CERTIFICATE-----\n";

static const char EXPIRED_KEY[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHgCAQEEIQCXSVDuXlKxPOMhKNNkFkc/Du35MnyW+5E7+hgjMGfMtaAKBggqhkjO\n"
    "PQMBB6FEA0IABFQtYscGPEqsR06Zs2jwz016SEA6UDP05jLuwCUPGvHEZWHahBCt\n"
    "sshXC1zD2kJ1GYmpLWq/dxkCwczS7sBgLl8=\n"
    "-----END EC PRIVATE KEY-----\n";

struct buf {
    uint8_t data[65536];
    size_t len, off;
};

/* One connection: the server layer under test and the client talking to it. */
struct peer {
    struct layer layer;
    struct layer_io io;
    struct buf to_client; /* what the layer sent down (the socket) */
    struct buf to_server; /* what the client sent */
    struct buf up;        /* plaintext the layer handed to the engine */
    int fails;
    char reason[256];
    char identity[256];
    bool close_on_up; /* the engine answers and closes on the first bytes it gets */
    gnutls_session_t client;
    gnutls_certificate_credentials_t cred;
};

static char dir[64];
static struct mq_listener_config cfg;
static struct tls_listener *listener;

static void put(struct buf *b, const void *data, size_t len)
{
    assert_true(b->len + len <= sizeof b->data);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void on_up(void *link, const uint8_t *data, size_t len)
{
    struct peer *p = link;
    put(&p->up, data, len);
    if (p->close_on_up) {
        p->close_on_up = false;
        p->layer.ops->from_above(p->layer.state, (const uint8_t *)"bye", 3);
        p->layer.ops->closing(p->layer.state);
    }
}

static void on_down(void *link, const uint8_t *data, size_t len)
{
    put(&((struct peer *)link)->to_client, data, len);
}

static void on_fail(void *link, const char *reason)
{
    struct peer *p = link;
    p->fails++;
    snprintf(p->reason, sizeof p->reason, "%s", reason);
}

static void on_identity(void *link, const char *identity)
{
    struct peer *p = link;
    snprintf(p->identity, sizeof p->identity, "%s", identity);
}

static ssize_t client_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
    put(&((struct peer *)ptr)->to_server, data, len);
    return (ssize_t)len;
}

static ssize_t client_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
    struct peer *p = ptr;
    size_t avail = p->to_client.len - p->to_client.off;
    if (avail == 0) {
        gnutls_transport_set_errno(p->client, EAGAIN);
        return -1;
    }
    if (len > avail)
        len = avail;
    memcpy(data, p->to_client.data + p->to_client.off, len);
    p->to_client.off += len;
    return (ssize_t)len;
}

static void write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *path_of(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return strdup(path);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/mqttd-tls-unit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file("ca.crt", CA_CRT);
    write_file("server.crt", SERVER_CRT);
    write_file("server.key", SERVER_KEY);
    memset(&cfg, 0, sizeof cfg);
    cfg.certfile = path_of("server.crt");
    cfg.keyfile = path_of("server.key");
    cfg.transport = MQ_TRANSPORT_TLS;
    listener = NULL;
    return 0;
}

static int teardown(void **state)
{
    tls_listener_free(listener);
    const char *names[] = {"ca.crt", "server.crt", "server.key", "client.crt", "client.key"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = path_of(names[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
    free(cfg.certfile);
    free(cfg.keyfile);
    free(cfg.cafile);
    free(cfg.tls_version);
    free(cfg.ciphers);
    return 0;
}

static void start_listener(void)
{
    char err[256] = "";
    if (tls_listener_new(&cfg, &listener, err, sizeof err) != 0)
        fail_msg("tls_listener_new: %s", err);
}

static void require_client_certificates(void)
{
    cfg.cafile = path_of("ca.crt");
    cfg.require_certificate = true;
}

/* A new connection: the server layer and a client trusting the test CA, with an optional
 * client certificate, pinned to `priority` when not NULL. */
static struct peer *connect_peer(const char *crt, const char *key, const char *priority)
{
    struct peer *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->io = (struct layer_io){on_up, on_down, on_fail, on_identity, p};
    assert_int_equal(tls_layer_new(listener, &p->io, &p->layer), 0);
    assert_int_equal(gnutls_certificate_allocate_credentials(&p->cred), 0);
    gnutls_datum_t ca = {(unsigned char *)CA_CRT, (unsigned)strlen(CA_CRT)};
    assert_true(gnutls_certificate_set_x509_trust_mem(p->cred, &ca, GNUTLS_X509_FMT_PEM) > 0);
    if (crt) {
        gnutls_datum_t c = {(unsigned char *)crt, (unsigned)strlen(crt)};
        gnutls_datum_t k = {(unsigned char *)key, (unsigned)strlen(key)};
        assert_int_equal(gnutls_certificate_set_x509_key_mem(p->cred, &c, &k, GNUTLS_X509_FMT_PEM),
                         0);
    }
    assert_int_equal(gnutls_init(&p->client, GNUTLS_CLIENT | GNUTLS_NONBLOCK), 0);
    if (priority)
        assert_int_equal(gnutls_priority_set_direct(p->client, priority, NULL), 0);
    else
        assert_int_equal(gnutls_set_default_priority(p->client), 0);
    gnutls_credentials_set(p->client, GNUTLS_CRD_CERTIFICATE, p->cred);
    gnutls_server_name_set(p->client, GNUTLS_NAME_DNS, "localhost", 9);
    gnutls_session_set_verify_cert(p->client, "localhost", 0);
    gnutls_transport_set_ptr(p->client, p);
    gnutls_transport_set_push_function(p->client, client_push);
    gnutls_transport_set_pull_function(p->client, client_pull);
    return p;
}

static void free_peer(struct peer *p)
{
    p->layer.ops->free(p->layer.state);
    gnutls_deinit(p->client);
    gnutls_certificate_free_credentials(p->cred);
    free(p);
}

/* Hands what the client wrote to the layer. */
static void deliver(struct peer *p)
{
    if (p->to_server.len == 0)
        return;
    size_t len = p->to_server.len;
    p->to_server.len = 0;
    p->layer.ops->from_below(p->layer.state, p->to_server.data, len);
}

/* Runs the client's handshake against the layer; returns GnuTLS's final result. */
static int handshake(struct peer *p)
{
    for (int round = 0; round < 20; round++) {
        int rc = gnutls_handshake(p->client);
        if (rc == 0 || (rc < 0 && gnutls_error_is_fatal(rc))) {
            deliver(p); /* the client's last flight (TLS 1.3: its Finished, certificate) */
            return rc;
        }
        deliver(p);
    }
    return GNUTLS_E_TIMEDOUT;
}

static void client_send(struct peer *p, const char *text)
{
    assert_int_equal(gnutls_record_send(p->client, text, strlen(text)), (ssize_t)strlen(text));
    deliver(p);
}

/* Plaintext the client receives (tickets and alerts skipped), NUL-terminated; "" when none. */
static const char *client_recv(struct peer *p)
{
    static char text[4096];
    size_t len = 0;
    for (;;) {
        ssize_t n = gnutls_record_recv(p->client, text + len, sizeof text - 1 - len);
        if (n > 0)
            len += (size_t)n;
        else if (n == 0 || gnutls_error_is_fatal((int)n) ||
                 (n == GNUTLS_E_AGAIN && p->to_client.off == p->to_client.len))
            break; /* GnuTLS also says EAGAIN after a session ticket, with records behind */
    }
    text[len] = '\0';
    return text;
}

static void test_handshake_then_plaintext_flows_both_ways(void **state)
{
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(p), 0);
    client_send(p, "CONNECT");
    assert_int_equal(p->up.len, 7);
    assert_memory_equal(p->up.data, "CONNECT", 7);
    assert_int_equal(p->layer.ops->from_above(p->layer.state, (const uint8_t *)"CONNACK", 7), 0);
    assert_string_equal(client_recv(p), "CONNACK");
    assert_int_equal(p->fails, 0);
    assert_string_equal(p->identity, "");
    free_peer(p);
}

static void test_handshake_and_records_split_into_single_bytes_are_reassembled(void **state)
{
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    for (int round = 0; round < 20 && gnutls_handshake(p->client) != 0; round++) {
        size_t len = p->to_server.len;
        p->to_server.len = 0;
        for (size_t i = 0; i < len; i++)
            p->layer.ops->from_below(p->layer.state, p->to_server.data + i, 1);
    }
    assert_int_equal(gnutls_record_send(p->client, "split", 5), 5);
    size_t len = p->to_server.len;
    p->to_server.len = 0;
    for (size_t i = 0; i < len; i++)
        p->layer.ops->from_below(p->layer.state, p->to_server.data + i, 1);
    assert_int_equal(p->fails, 0);
    assert_int_equal(p->up.len, 5);
    assert_memory_equal(p->up.data, "split", 5);
    free_peer(p);
}

static void test_a_large_write_is_cut_into_records_the_client_reads_whole(void **state)
{
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(p), 0);
    client_recv(p);
    static uint8_t big[50000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(p->layer.ops->from_above(p->layer.state, big, sizeof big), 0);
    static uint8_t got[sizeof big];
    size_t len = 0;
    while (len < sizeof got) {
        ssize_t n = gnutls_record_recv(p->client, got + len, sizeof got - len);
        if (n == GNUTLS_E_AGAIN && p->to_client.off < p->to_client.len)
            continue;
        assert_true(n > 0);
        len += (size_t)n;
    }
    assert_memory_equal(got, big, sizeof big);
    free_peer(p);
}

static void test_plain_mqtt_on_the_tls_port_fails_the_handshake(void **state)
{
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    const uint8_t connect[] = {0x10, 0x10, 0,  4, 'M', 'Q', 'T', 'T', 4,
                               2,    0,    60, 0, 4,   'a', 'b', 'c', 'd'};
    assert_int_equal(p->layer.ops->from_below(p->layer.state, connect, sizeof connect), -1);
    assert_int_equal(p->fails, 1);
    assert_non_null(strstr(p->reason, "handshake failed"));
    assert_int_equal(p->up.len, 0);
    /* Whatever follows is ignored: the link is closing. */
    assert_int_equal(p->layer.ops->from_below(p->layer.state, connect, sizeof connect), 0);
    assert_int_equal(p->fails, 1);
    free_peer(p);
}

static void test_bytes_from_above_before_the_handshake_are_sent_after_it(void **state)
{
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    assert_int_equal(p->layer.ops->from_above(p->layer.state, (const uint8_t *)"early", 5), 0);
    assert_int_equal(handshake(p), 0);
    assert_string_equal(client_recv(p), "early");
    free_peer(p);
}

static void test_client_without_required_certificate_is_refused(void **state)
{
    require_client_certificates();
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    handshake(p);
    assert_int_equal(p->fails, 1);
    assert_non_null(strstr(p->reason, "Certificate is required"));
    assert_int_equal(p->up.len, 0);
    free_peer(p);
}

static void test_trusted_client_certificate_gives_its_cn_as_identity(void **state)
{
    require_client_certificates();
    start_listener();
    struct peer *p = connect_peer(ALICE_CRT, ALICE_KEY, NULL);
    assert_int_equal(handshake(p), 0);
    assert_int_equal(p->fails, 0);
    assert_string_equal(p->identity, "alice");
    client_send(p, "hi");
    assert_int_equal(p->up.len, 2);
    free_peer(p);
}

static void test_expired_client_certificate_is_refused(void **state)
{
    require_client_certificates();
    start_listener();
    struct peer *p = connect_peer(EXPIRED_CRT, EXPIRED_KEY, NULL);
    handshake(p);
    assert_int_equal(p->fails, 1);
    assert_non_null(strstr(p->reason, "expired"));
    assert_string_equal(p->identity, "");
    free_peer(p);
}

static void test_tls_version_is_the_lowest_version_accepted(void **state)
{
    cfg.tls_version = strdup("tlsv1.3");
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(p), 0);
    assert_int_equal(gnutls_protocol_get_version(p->client), GNUTLS_TLS1_3);
    free_peer(p);
    p = connect_peer(NULL, NULL, "NORMAL:-VERS-ALL:+VERS-TLS1.2");
    assert_true(handshake(p) < 0);
    assert_int_equal(p->fails, 1);
    free_peer(p);
}

static void test_tls_1_0_and_1_1_are_refused_by_default(void **state)
{
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, "NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0");
    assert_true(handshake(p) < 0);
    assert_int_equal(p->fails, 1);
    free_peer(p);
}

static void test_ciphers_priority_string_can_exclude_tls_1_3(void **state)
{
    cfg.ciphers = strdup("NORMAL:-VERS-TLS1.3");
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(p), 0);
    assert_int_equal(gnutls_protocol_get_version(p->client), GNUTLS_TLS1_2);
    free_peer(p);
}

static void test_a_bad_priority_string_is_refused(void **state)
{
    cfg.ciphers = strdup("NOT-A-PRIORITY");
    char err[256] = "";
    assert_int_equal(tls_listener_new(&cfg, &listener, err, sizeof err), -1);
    assert_non_null(strstr(err, "ciphers"));
}

static void test_required_certificate_without_a_ca_is_refused(void **state)
{
    cfg.require_certificate = true;
    char err[256] = "";
    assert_int_equal(tls_listener_new(&cfg, &listener, err, sizeof err), -1);
    assert_non_null(strstr(err, "cafile"));
}

static unsigned server_serial(struct peer *p)
{
    unsigned n = 0;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(p->client, &n);
    assert_non_null(certs);
    gnutls_x509_crt_t crt;
    gnutls_x509_crt_init(&crt);
    assert_int_equal(gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER), 0);
    unsigned char serial[20];
    size_t size = sizeof serial;
    assert_int_equal(gnutls_x509_crt_get_serial(crt, serial, &size), 0);
    gnutls_x509_crt_deinit(crt);
    return serial[size - 1];
}

static void test_reload_serves_new_certificate_and_open_sessions_go_on(void **state)
{
    start_listener();
    struct peer *old = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(old), 0);
    assert_int_equal(server_serial(old), 2);
    write_file("server.crt", SERVER2_CRT);
    write_file("server.key", SERVER2_KEY);
    char err[256] = "";
    assert_int_equal(tls_listener_reload(listener, err, sizeof err), 0);
    struct peer *fresh = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(fresh), 0);
    assert_int_equal(server_serial(fresh), 3);
    client_send(old, "still");
    assert_int_equal(old->up.len, 5);
    assert_int_equal(old->layer.ops->from_above(old->layer.state, (const uint8_t *)"ok", 2), 0);
    assert_string_equal(client_recv(old), "ok");
    free_peer(old);
    free_peer(fresh);
}

static void test_failed_reload_keeps_the_old_credentials(void **state)
{
    start_listener();
    write_file("server.crt", "not a certificate\n");
    char err[256] = "";
    assert_int_equal(tls_listener_reload(listener, err, sizeof err), -1);
    assert_non_null(strstr(err, "certfile"));
    struct peer *p = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(p), 0);
    assert_int_equal(server_serial(p), 2);
    free_peer(p);
}

static void test_closing_sends_close_notify(void **state)
{
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(p), 0);
    client_recv(p);
    p->layer.ops->closing(p->layer.state);
    char byte;
    assert_int_equal(gnutls_record_recv(p->client, &byte, 1), 0); /* close_notify */
    assert_int_equal(p->layer.ops->from_above(p->layer.state, (const uint8_t *)"late", 4), 0);
    free_peer(p);
}

static void test_engine_closing_from_inside_up_is_tolerated(void **state)
{
    start_listener();
    struct peer *p = connect_peer(NULL, NULL, NULL);
    assert_int_equal(handshake(p), 0);
    p->close_on_up = true;
    /* Two records in one read: the second arrives after the engine closed and is dropped. */
    assert_int_equal(gnutls_record_send(p->client, "one", 3), 3);
    assert_int_equal(gnutls_record_send(p->client, "two", 3), 3);
    deliver(p);
    assert_int_equal(p->up.len, 3);
    assert_string_equal(client_recv(p), "bye");
    assert_int_equal(p->fails, 0);
    free_peer(p);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_handshake_then_plaintext_flows_both_ways),
        T(test_handshake_and_records_split_into_single_bytes_are_reassembled),
        T(test_a_large_write_is_cut_into_records_the_client_reads_whole),
        T(test_plain_mqtt_on_the_tls_port_fails_the_handshake),
        T(test_bytes_from_above_before_the_handshake_are_sent_after_it),
        T(test_client_without_required_certificate_is_refused),
        T(test_trusted_client_certificate_gives_its_cn_as_identity),
        T(test_expired_client_certificate_is_refused),
        T(test_tls_version_is_the_lowest_version_accepted),
        T(test_tls_1_0_and_1_1_are_refused_by_default),
        T(test_ciphers_priority_string_can_exclude_tls_1_3),
        T(test_a_bad_priority_string_is_refused),
        T(test_required_certificate_without_a_ca_is_refused),
        T(test_reload_serves_new_certificate_and_open_sessions_go_on),
        T(test_failed_reload_keeps_the_old_credentials),
        T(test_closing_sends_close_notify),
        T(test_engine_closing_from_inside_up_is_tolerated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
