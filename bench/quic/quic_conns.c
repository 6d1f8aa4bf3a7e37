/*
 * quic_conns: opens many idle MQTT-over-QUIC connections from one thread over a few UDP
 * sockets, told apart by connection ID, and holds them (bench/quic/idle.py drives it). A
 * process cannot hold 100,000 TCP sockets here (20,000 open files), but QUIC connections need
 * no socket of their own: this is the generator for the broker's idle QUIC connection test.
 *
 *     quic_conns HOST PORT COUNT [SOCKETS [IN_FLIGHT]]
 *
 * Each connection: QUIC handshake (ALPN mqtt, the server certificate not checked), one stream,
 * CONNECT (v5, clean start, no keep alive, the server assigns the id), CONNACK. Prints
 * "connected N in S s (R/s)" when all are up (or failed), then holds them until stdin closes.
 * Our connection IDs are 8 bytes whose first 4 are the connection's index, so a datagram finds
 * its connection without a table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CID_LEN 8
#define MAX_SOCKETS 256
#define SCAN_MS 20

enum state { HANDSHAKING, WAITING_CONNACK, CONNECTED, FAILED };

struct qconn {
    ngtcp2_crypto_conn_ref ref;
    ngtcp2_conn *qc;
    gnutls_session_t tls;
    int sock;
    int64_t stream;
    size_t connect_sent;
    enum state state;
};

/* CONNECT, MQTT 5, clean start, keep alive 0, no properties, empty client id. */
static const uint8_t connect_packet[] = {0x10, 13,   0, 4, 'M', 'Q', 'T', 'T',
                                         5,    0x02, 0, 0, 0,   0,   0};

static struct qconn *conns;
static unsigned count, started, connected, failed, nsock;
static int socks[MAX_SOCKETS];
static struct sockaddr_storage locals[MAX_SOCKETS];
static socklen_t local_lens[MAX_SOCKETS];
static struct sockaddr_storage server;
static socklen_t server_len;
static gnutls_certificate_credentials_t cred;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((struct qconn *)ref->user_data)->qc;
}

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    gnutls_rnd(GNUTLS_RND_NONCE, dest, len);
}

static void make_cid(ngtcp2_cid *cid, uint32_t index)
{
    cid->datalen = CID_LEN;
    memcpy(cid->data, &index, 4);
    gnutls_rnd(GNUTLS_RND_NONCE, cid->data + 4, CID_LEN - 4);
}

static int cb_new_cid(ngtcp2_conn *qc, ngtcp2_cid *cid, uint8_t *token, size_t cidlen, void *user)
{
    struct qconn *c = user;
    make_cid(cid, (uint32_t)(c - conns));
    gnutls_rnd(GNUTLS_RND_NONCE, token, NGTCP2_STATELESS_RESET_TOKENLEN);
    return 0;
}

static int cb_extend_bidi(ngtcp2_conn *qc, uint64_t max, void *user)
{
    struct qconn *c = user;
    if (c->stream < 0 && ngtcp2_conn_open_bidi_stream(qc, &c->stream, NULL) != 0)
        c->stream = -1;
    return 0;
}

static int cb_recv_stream(ngtcp2_conn *qc, uint32_t flags, int64_t id, uint64_t offset,
                          const uint8_t *data, size_t len, void *user, void *stream_user)
{
    struct qconn *c = user;
    ngtcp2_conn_extend_max_stream_offset(qc, id, len);
    ngtcp2_conn_extend_max_offset(qc, len);
    if (c->state == WAITING_CONNACK && offset == 0 && len > 0) {
        c->state = data[0] == 0x20 ? CONNECTED : FAILED;
        if (c->state == CONNECTED)
            connected++;
        else
            failed++;
    }
    return 0;
}

static int cb_handshake_completed(ngtcp2_conn *qc, void *user)
{
    ((struct qconn *)user)->state = WAITING_CONNACK;
    return 0;
}

static const ngtcp2_callbacks callbacks = {
    .client_initial = ngtcp2_crypto_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .handshake_completed = cb_handshake_completed,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_stream_data = cb_recv_stream,
    .recv_retry = ngtcp2_crypto_recv_retry_cb,
    .extend_max_local_streams_bidi = cb_extend_bidi,
    .rand = cb_rand,
    .get_new_connection_id = cb_new_cid,
    .update_key = ngtcp2_crypto_update_key_cb,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

static void fail(struct qconn *c)
{
    if (c->state != FAILED && c->state != CONNECTED)
        failed++;
    c->state = FAILED;
}

static int start(struct qconn *c, uint32_t index)
{
    static const char priority[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE";
    gnutls_datum_t alpn = {(unsigned char *)"mqtt", 4};
    c->ref.get_conn = get_conn;
    c->ref.user_data = c;
    c->stream = -1;
    c->sock = (int)(index % nsock);
    if (gnutls_init(&c->tls, GNUTLS_CLIENT) != 0 ||
        ngtcp2_crypto_gnutls_configure_client_session(c->tls) != 0 ||
        gnutls_priority_set_direct(c->tls, priority, NULL) != 0 ||
        gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, cred) != 0 ||
        gnutls_alpn_set_protocols(c->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0)
        return -1;
    gnutls_session_set_ptr(c->tls, &c->ref);
    ngtcp2_cid dcid = {.datalen = 18}, scid;
    gnutls_rnd(GNUTLS_RND_NONCE, dcid.data, dcid.datalen);
    make_cid(&scid, index);
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    settings.handshake_timeout = 60 * NGTCP2_SECONDS;
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = 4096;
    params.initial_max_data = 4096;
    ngtcp2_path path = {.local = {(struct sockaddr *)&locals[c->sock], local_lens[c->sock]},
                        .remote = {(struct sockaddr *)&server, server_len}};
    if (ngtcp2_conn_client_new(&c->qc, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &callbacks,
                               &settings, &params, NULL, c) != 0)
        return -1;
    ngtcp2_conn_set_tls_native_handle(c->qc, c->tls);
    return 0;
}

static void write_conn(struct qconn *c)
{
    if (c->state == FAILED)
        return;
    uint8_t buf[1452];
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    for (;;) {
        size_t left = sizeof connect_packet - c->connect_sent;
        bool data = c->stream >= 0 && left > 0 && c->state != HANDSHAKING;
        ngtcp2_vec v = {(uint8_t *)connect_packet + c->connect_sent, left};
        ngtcp2_ssize taken = -1;
        ngtcp2_pkt_info pi;
        ngtcp2_ssize n = ngtcp2_conn_writev_stream(
            c->qc, &ps.path, &pi, buf, sizeof buf, &taken, NGTCP2_WRITE_STREAM_FLAG_MORE,
            data ? c->stream : -1, data ? &v : NULL, data ? 1 : 0, now_ns());
        if (taken > 0)
            c->connect_sent += (size_t)taken;
        if (n == NGTCP2_ERR_WRITE_MORE)
            continue;
        if (n < 0) {
            fail(c);
            return;
        }
        if (n == 0)
            return;
        send(socks[c->sock], buf, (size_t)n, 0);
    }
}

static void read_socket(int s)
{
    static uint8_t buf[65536];
    for (;;) {
        ssize_t n = recv(socks[s], buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
            return;
        ngtcp2_version_cid vc;
        if (ngtcp2_pkt_decode_version_cid(&vc, buf, (size_t)n, CID_LEN) != 0 ||
            vc.dcidlen != CID_LEN)
            continue;
        uint32_t index;
        memcpy(&index, vc.dcid, 4);
        if (index >= started)
            continue;
        struct qconn *c = &conns[index];
        if (c->state == FAILED)
            continue;
        ngtcp2_path path = {.local = {(struct sockaddr *)&locals[s], local_lens[s]},
                            .remote = {(struct sockaddr *)&server, server_len}};
        ngtcp2_pkt_info pi = {0};
        if (ngtcp2_conn_read_pkt(c->qc, &path, &pi, buf, (size_t)n, now_ns()) != 0) {
            fail(c);
            continue;
        }
        write_conn(c);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: quic_conns HOST PORT COUNT [SOCKETS [IN_FLIGHT]]\n");
        return 2;
    }
    count = (unsigned)strtoul(argv[3], NULL, 10);
    nsock = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 16;
    unsigned in_flight = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 200;
    if (nsock < 1 || nsock > MAX_SOCKETS || count < 1 || in_flight < 1)
        return 2;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res;
    if (getaddrinfo(argv[1], argv[2], &hints, &res) != 0)
        return 2;
    memcpy(&server, res->ai_addr, res->ai_addrlen);
    server_len = res->ai_addrlen;
    freeaddrinfo(res);
    for (unsigned i = 0; i < MAX_SOCKETS; i++)
        socks[i] = -1;
    for (unsigned i = 0; i < nsock; i++) {
        socks[i] = socket(server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        int buffer = 4 << 20;
        setsockopt(socks[i], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        local_lens[i] = sizeof locals[i];
        if (connect(socks[i], (struct sockaddr *)&server, server_len) != 0 ||
            getsockname(socks[i], (struct sockaddr *)&locals[i], &local_lens[i]) != 0)
            return 1;
    }
    gnutls_certificate_allocate_credentials(&cred);
    conns = calloc(count, sizeof *conns);
    if (!conns)
        return 1;
    struct pollfd pfd[MAX_SOCKETS + 1];
    uint64_t t0 = now_ns(), last_scan = 0;
    bool reported = false;
    for (;;) {
        while (started < count && started - connected - failed < in_flight) {
            struct qconn *c = &conns[started];
            if (start(c, started) != 0) {
                c->state = FAILED;
                failed++;
            }
            started++;
            write_conn(c);
        }
        for (unsigned i = 0; i < nsock; i++)
            pfd[i] = (struct pollfd){.fd = socks[i], .events = POLLIN};
        pfd[nsock] = (struct pollfd){.fd = reported ? 0 : -1, .events = POLLIN};
        poll(pfd, nsock + 1, SCAN_MS);
        for (unsigned i = 0; i < nsock; i++)
            if (pfd[i].revents & POLLIN)
                read_socket((int)i);
        if (reported && (pfd[nsock].revents & (POLLIN | POLLHUP))) {
            char b[64];
            if (read(0, b, sizeof b) <= 0)
                break;
        }
        uint64_t now = now_ns();
        if (now - last_scan >= SCAN_MS * NGTCP2_MILLISECONDS) {
            last_scan = now;
            for (unsigned i = 0; i < started; i++) {
                struct qconn *c = &conns[i];
                if (c->state == FAILED || ngtcp2_conn_get_expiry(c->qc) > now)
                    continue;
                if (ngtcp2_conn_handle_expiry(c->qc, now) != 0)
                    fail(c);
                else
                    write_conn(c);
            }
        }
        if (!reported && connected + failed == count) {
            double s = (double)(now_ns() - t0) / NGTCP2_SECONDS;
            printf("connected %u in %.1f s (%.0f/s), %u failed\n", connected, s, connected / s,
                   failed);
            fflush(stdout);
            reported = true;
        }
    }
    return 0;
}
