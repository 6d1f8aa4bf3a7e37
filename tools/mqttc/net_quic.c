/*
 * The QUIC transport of mqttc (see net_quic.h). One bridge per connection: a thread owning the
 * UDP socket(s) and the ngtcp2 client, relaying the MQTT stream to a socket pair. The thread
 * waits in poll() on the UDP sockets, its end of the pair and ngtcp2's next timer.
 *
 * Flow control follows the application: stream credit is returned to the server only for
 * bytes written to the socket pair, so a slow reader slows the server instead of growing a
 * buffer here.
 */
#include "net_quic.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "net_quic_ticket.h"
#include "transport/quic_sendbuf.h"

#define ALPN "mqtt"
#define DEFAULT_HANDSHAKE_MS 1000
#define LINGER_MS 1000 /* after the application closed: waiting for the last ACKs */
#define TICK_MS 100    /* poll() wakes this often to notice exit() */
#define TX_DATAGRAM NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
#define STREAM_WINDOW (256u * 1024u)
#define CONN_WINDOW (1024u * 1024u)
#define OUT_LIMIT (1024u * 1024u) /* unsent bytes buffered before we stop reading the app */

enum bridge_state { BRIDGE_CONNECTING, BRIDGE_UP, BRIDGE_FAILED };

/* Counts PUBLISH packets in one direction of the MQTT byte stream (for --quic-migrate-after). */
struct publish_counter {
    int stage; /* 0: fixed header byte, 1: remaining length, 2: body */
    uint8_t type;
    uint32_t remaining, multiplier;
};

struct bridge {
    ngtcp2_crypto_conn_ref ref;
    ngtcp2_conn *qc;
    gnutls_session_t tls;
    gnutls_certificate_credentials_t cred;
    int udp[2]; /* [0] the current path's socket, [1] the previous one after a migration */
    struct sockaddr_storage local[2];
    socklen_t local_len[2];
    struct sockaddr_storage remote;
    socklen_t remote_len;
    int app; /* our end of the socket pair */
    int64_t stream_id;
    struct quic_sendbuf out; /* from the application, until acknowledged */
    uint8_t *in;             /* from the server, not yet taken by the application */
    size_t in_len, in_cap;
    bool app_eof, server_done;
    uint64_t linger_until_ms;
    long migrate_after, publishes;
    bool migrated, debug;
    struct publish_counter up, down;
    ngtcp2_connection_close_error ccerr;
    char *ticket_file;             /* --quic-ticket (owned copy); NULL: no 0-RTT */
    struct net_quic_ticket ticket; /* what the file held when this connection started */
    bool early;                    /* CONNECT may go out in 0-RTT packets */

    pthread_mutex_t lock; /* guards state, abandon, exiting */
    pthread_cond_t changed;
    enum bridge_state state;
    bool abandon; /* the connecting thread gave up: end at once */
    bool exiting; /* the process is exiting: finish like after the application closed */
    char error[200];
    pthread_t thread;
    struct bridge *next;
};

static atomic_ulong early_accepted;
static pthread_mutex_t bridges_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bridge *bridges;
static bool exit_hook_installed;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
    return now_ns() / NGTCP2_MILLISECONDS;
}

static long count_publishes(struct publish_counter *f, const uint8_t *p, size_t n)
{
    long count = 0;
    size_t i = 0;
    while (i < n) {
        if (f->stage == 0) {
            f->type = p[i++] >> 4;
            f->remaining = 0;
            f->multiplier = 1;
            f->stage = 1;
        } else if (f->stage == 1) {
            uint8_t b = p[i++];
            f->remaining += (uint32_t)(b & 127) * f->multiplier;
            f->multiplier *= 128;
            if (!(b & 128) || f->multiplier > 128u * 128u * 128u) {
                count += f->type == 3;
                f->stage = f->remaining ? 2 : 0;
            }
        } else {
            size_t take = n - i < f->remaining ? n - i : f->remaining;
            i += take;
            f->remaining -= (uint32_t)take;
            if (f->remaining == 0)
                f->stage = 0;
        }
    }
    return count;
}

static void set_state(struct bridge *b, enum bridge_state s, const char *error)
{
    pthread_mutex_lock(&b->lock);
    if (b->state == BRIDGE_CONNECTING || s == BRIDGE_FAILED) {
        if (b->state == BRIDGE_CONNECTING && error)
            snprintf(b->error, sizeof b->error, "%s", error);
        b->state = s;
    }
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
}

/* ---- ngtcp2 callbacks ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((struct bridge *)ref->user_data)->qc;
}

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

static int cb_get_new_cid(ngtcp2_conn *qc, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                          void *user)
{
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0 ||
        gnutls_rnd(GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->datalen = cidlen;
    return 0;
}

static int cb_extend_max_bidi(ngtcp2_conn *qc, uint64_t max_streams, void *user)
{
    struct bridge *b = user;
    if (b->stream_id < 0 && ngtcp2_conn_open_bidi_stream(qc, &b->stream_id, NULL) != 0)
        b->stream_id = -1;
    return 0;
}

/* A refused 0-RTT: QUIC dropped the stream, so it is opened again and every byte resent. */
static int early_refused(struct bridge *b)
{
    if (ngtcp2_conn_early_data_rejected(b->qc) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    quic_sendbuf_rewind(&b->out);
    b->stream_id = -1;
    if (ngtcp2_conn_open_bidi_stream(b->qc, &b->stream_id, NULL) != 0)
        b->stream_id = -1; /* opened when the server grants a stream (cb_extend_max_bidi) */
    if (b->debug)
        fprintf(stderr, "QUIC: the server refused 0-RTT; CONNECT resent after the handshake\n");
    return 0;
}

static int cb_handshake_completed(ngtcp2_conn *qc, void *user)
{
    struct bridge *b = user;
    if (b->early) {
        b->early = false;
        if (!(gnutls_session_get_flags(b->tls) & GNUTLS_SFLAGS_EARLY_DATA)) {
            if (early_refused(b) != 0)
                return NGTCP2_ERR_CALLBACK_FAILURE;
        } else {
            atomic_fetch_add(&early_accepted, 1);
            if (b->debug)
                fprintf(stderr, "QUIC: CONNECT went out in 0-RTT (the server accepted it)\n");
        }
    }
    set_state(b, BRIDGE_UP, NULL);
    return 0;
}

unsigned long net_quic_early_accepted(void)
{
    return atomic_load(&early_accepted);
}

/* A session ticket arrived: kept with the server's transport parameters for next time. */
static int on_ticket(gnutls_session_t session, unsigned int htype, unsigned when,
                     unsigned int incoming, const gnutls_datum_t *msg)
{
    struct bridge *b = ((ngtcp2_crypto_conn_ref *)gnutls_session_get_ptr(session))->user_data;
    gnutls_datum_t data = {NULL, 0};
    uint8_t params[512];
    ngtcp2_ssize plen = ngtcp2_encode_transport_params(
        params, sizeof params, NGTCP2_TRANSPORT_PARAMS_TYPE_ENCRYPTED_EXTENSIONS,
        ngtcp2_conn_get_remote_transport_params(b->qc));
    if (plen > 0 && gnutls_session_get_data2(session, &data) == 0 &&
        net_quic_ticket_save(b->ticket_file, data.data, data.size, params, (size_t)plen) != 0 &&
        b->debug)
        fprintf(stderr, "QUIC: cannot write the session ticket to %s\n", b->ticket_file);
    gnutls_free(data.data);
    return 0;
}

static int cb_recv_stream_data(ngtcp2_conn *qc, uint32_t flags, int64_t stream_id, uint64_t offset,
                               const uint8_t *data, size_t len, void *user, void *stream_user)
{
    struct bridge *b = user;
    if (stream_id != b->stream_id)
        return 0;
    if (b->in_len + len > b->in_cap) {
        size_t cap = b->in_cap ? b->in_cap : 4096;
        while (cap < b->in_len + len)
            cap *= 2;
        uint8_t *in = realloc(b->in, cap);
        if (!in)
            return NGTCP2_ERR_CALLBACK_FAILURE;
        b->in = in;
        b->in_cap = cap;
    }
    memcpy(b->in + b->in_len, data, len);
    b->in_len += len;
    b->publishes += count_publishes(&b->down, data, len);
    if (flags & NGTCP2_STREAM_DATA_FLAG_FIN)
        b->server_done = true;
    return 0;
}

static int cb_acked_stream_data(ngtcp2_conn *qc, int64_t stream_id, uint64_t offset, uint64_t len,
                                void *user, void *stream_user)
{
    struct bridge *b = user;
    if (stream_id == b->stream_id)
        quic_sendbuf_acked(&b->out, offset + len);
    return 0;
}

static int cb_stream_close(ngtcp2_conn *qc, uint32_t flags, int64_t stream_id, uint64_t code,
                           void *user, void *stream_user)
{
    struct bridge *b = user;
    if (stream_id == b->stream_id)
        b->server_done = true;
    return 0;
}

static const ngtcp2_callbacks client_callbacks = {
    .client_initial = ngtcp2_crypto_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .handshake_completed = cb_handshake_completed,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_stream_data = cb_recv_stream_data,
    .acked_stream_data_offset = cb_acked_stream_data,
    .stream_close = cb_stream_close,
    .recv_retry = ngtcp2_crypto_recv_retry_cb,
    .extend_max_local_streams_bidi = cb_extend_max_bidi,
    .rand = cb_rand,
    .get_new_connection_id = cb_get_new_cid,
    .update_key = ngtcp2_crypto_update_key_cb,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

/* ---- set-up ---- */

static int open_udp(struct bridge *b, int slot)
{
    int fd = socket(b->remote.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    b->local_len[slot] = sizeof b->local[slot];
    if (connect(fd, (struct sockaddr *)&b->remote, b->remote_len) != 0 ||
        getsockname(fd, (struct sockaddr *)&b->local[slot], &b->local_len[slot]) != 0) {
        close(fd);
        return -1;
    }
    b->udp[slot] = fd;
    return 0;
}

static int tls_setup(struct bridge *b, const char *host, const struct net_quic_options *o)
{
    static const char priority[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:%DISABLE_TLS13_COMPAT_MODE";
    gnutls_datum_t alpn = {(unsigned char *)ALPN, sizeof ALPN - 1};
    if (gnutls_certificate_allocate_credentials(&b->cred) < 0)
        return -1;
    int rc = o->cafile
                 ? gnutls_certificate_set_x509_trust_file(b->cred, o->cafile, GNUTLS_X509_FMT_PEM)
                 : gnutls_certificate_set_x509_system_trust(b->cred);
    if (rc <= 0 && o->cafile) {
        snprintf(b->error, sizeof b->error, "cannot load CA file %s", o->cafile);
        return -1;
    }
    b->early = b->ticket_file && net_quic_ticket_load(b->ticket_file, &b->ticket) == 0;
    unsigned flags = GNUTLS_CLIENT | GNUTLS_NO_END_OF_EARLY_DATA;
    if (b->early)
        flags |= GNUTLS_ENABLE_EARLY_DATA;
    if (gnutls_init(&b->tls, flags) != 0 ||
        ngtcp2_crypto_gnutls_configure_client_session(b->tls) != 0 ||
        gnutls_priority_set_direct(b->tls, priority, NULL) != 0 ||
        gnutls_credentials_set(b->tls, GNUTLS_CRD_CERTIFICATE, b->cred) != 0 ||
        gnutls_alpn_set_protocols(b->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY) != 0)
        return -1;
    if (b->early && gnutls_session_set_data(b->tls, b->ticket.session, b->ticket.session_len) != 0)
        b->early = false; /* a stale or foreign ticket: a full handshake */
    if (b->ticket_file)
        gnutls_handshake_set_hook_function(b->tls, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
                                           GNUTLS_HOOK_POST, on_ticket);
    gnutls_session_set_ptr(b->tls, &b->ref);
    gnutls_server_name_set(b->tls, GNUTLS_NAME_DNS, host, strlen(host));
    gnutls_session_set_verify_cert(b->tls, o->insecure ? NULL : host, 0);
    return 0;
}

/* 0-RTT: the stream opens at once on the remembered transport parameters, so the
 * application's first bytes (CONNECT) leave in 0-RTT packets with the ClientHello. */
static int early_setup(struct bridge *b)
{
    ngtcp2_transport_params params;
    if (ngtcp2_decode_transport_params(&params, NGTCP2_TRANSPORT_PARAMS_TYPE_ENCRYPTED_EXTENSIONS,
                                       b->ticket.params, b->ticket.params_len) != 0) {
        b->early = false;
        return 0;
    }
    ngtcp2_conn_set_early_remote_transport_params(b->qc, &params);
    if (ngtcp2_conn_open_bidi_stream(b->qc, &b->stream_id, NULL) != 0) {
        b->stream_id = -1;
        b->early = false;
    }
    return 0;
}

static int quic_setup(struct bridge *b, uint16_t keep_alive, int handshake_timeout_ms)
{
    ngtcp2_cid dcid = {.datalen = NGTCP2_MIN_INITIAL_DCIDLEN}, scid = {.datalen = 8};
    gnutls_rnd(GNUTLS_RND_RANDOM, dcid.data, dcid.datalen);
    gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    /* The bridge gives up by itself, also when nobody waits for it (net_quic_open). */
    settings.handshake_timeout = (uint64_t)handshake_timeout_ms * NGTCP2_MILLISECONDS;
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = STREAM_WINDOW;
    params.initial_max_data = CONN_WINDOW;
    params.initial_max_streams_bidi = 0;
    params.initial_max_streams_uni = 0;
    /* Idle timeout tied to the MQTT keep alive, as the broker expects (1.5 x keep alive). */
    params.max_idle_timeout = (uint64_t)keep_alive * 3 / 2 * NGTCP2_SECONDS;
    ngtcp2_path path = {
        .local = {(struct sockaddr *)&b->local[0], b->local_len[0]},
        .remote = {(struct sockaddr *)&b->remote, b->remote_len},
    };
    if (ngtcp2_conn_client_new(&b->qc, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &client_callbacks,
                               &settings, &params, NULL, b) != 0)
        return -1;
    ngtcp2_conn_set_tls_native_handle(b->qc, b->tls);
    return b->early ? early_setup(b) : 0;
}

/* ---- the bridge thread ---- */

static int socket_for(const struct bridge *b, const ngtcp2_addr *local)
{
    if (b->udp[1] >= 0 && local->addrlen == b->local_len[1] &&
        memcmp(local->addr, &b->local[1], local->addrlen) == 0)
        return b->udp[1];
    return b->udp[0];
}

static int write_packets(struct bridge *b)
{
    uint8_t buf[TX_DATAGRAM];
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    uint64_t ts = now_ns();
    bool blocked = false;
    for (;;) {
        size_t unsent = 0;
        const uint8_t *pending = NULL;
        if (b->stream_id >= 0 && !blocked)
            pending = quic_sendbuf_unsent(&b->out, &unsent);
        ngtcp2_vec v = {(uint8_t *)pending, unsent};
        ngtcp2_ssize taken = -1;
        ngtcp2_pkt_info pi;
        ngtcp2_ssize n = ngtcp2_conn_writev_stream(
            b->qc, &ps.path, &pi, buf, sizeof buf, &taken, NGTCP2_WRITE_STREAM_FLAG_MORE,
            unsent ? b->stream_id : -1, unsent ? &v : NULL, unsent ? 1 : 0, ts);
        if (taken > 0)
            quic_sendbuf_consumed(&b->out, (size_t)taken);
        if (n == NGTCP2_ERR_WRITE_MORE)
            continue;
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR) {
            blocked = true;
            continue;
        }
        if (n < 0) {
            ngtcp2_connection_close_error_set_transport_error_liberr(&b->ccerr, (int)n, NULL, 0);
            return -1;
        }
        if (n == 0)
            return 0;
        /* A datagram the socket refuses is a lost packet; QUIC resends. */
        if (send(socket_for(b, &ps.path.local), buf, (size_t)n, 0) < 0 && errno == ECONNREFUSED &&
            b->state == BRIDGE_CONNECTING) {
            set_state(b, BRIDGE_FAILED, "the server's UDP port is closed");
            return -1;
        }
    }
}

static int read_packets(struct bridge *b, int slot)
{
    uint8_t buf[65536];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(b->udp[slot], buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from,
                             &from_len);
        if (n < 0) {
            if (errno == ECONNREFUSED && b->state == BRIDGE_CONNECTING) {
                set_state(b, BRIDGE_FAILED, "the server's UDP port is closed");
                return -1;
            }
            return 0;
        }
        ngtcp2_path path = {
            .local = {(struct sockaddr *)&b->local[slot], b->local_len[slot]},
            .remote = {(struct sockaddr *)&from, from_len},
        };
        ngtcp2_pkt_info pi = {0};
        int rc = ngtcp2_conn_read_pkt(b->qc, &path, &pi, buf, (size_t)n, now_ns());
        if (rc == NGTCP2_ERR_DRAINING) {
            b->server_done = true;
            return 0;
        }
        if (rc != 0) {
            if (rc == NGTCP2_ERR_CRYPTO) {
                char msg[160];
                snprintf(msg, sizeof msg, "QUIC handshake failed: TLS alert %s",
                         gnutls_alert_get_name(ngtcp2_conn_get_tls_alert(b->qc)));
                set_state(b, BRIDGE_FAILED, msg);
                ngtcp2_connection_close_error_set_transport_error_tls_alert(
                    &b->ccerr, ngtcp2_conn_get_tls_alert(b->qc), NULL, 0);
            } else {
                set_state(b, BRIDGE_FAILED, ngtcp2_strerror(rc));
                ngtcp2_connection_close_error_set_transport_error_liberr(&b->ccerr, rc, NULL, 0);
            }
            return -1;
        }
    }
}

/* Hands server bytes to the application and returns their credit to the server. */
static void deliver_to_app(struct bridge *b)
{
    if (b->in_len == 0)
        return;
    ssize_t n = send(b->app, b->in, b->in_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            b->app_eof = true; /* the application is gone */
        return;
    }
    memmove(b->in, b->in + n, b->in_len - (size_t)n);
    b->in_len -= (size_t)n;
    ngtcp2_conn_extend_max_stream_offset(b->qc, b->stream_id, (uint64_t)n);
    ngtcp2_conn_extend_max_offset(b->qc, (uint64_t)n);
}

static void read_from_app(struct bridge *b)
{
    uint8_t buf[16384];
    ssize_t n = recv(b->app, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        b->app_eof = true;
        b->linger_until_ms = now_ms() + LINGER_MS;
        return;
    }
    if (n < 0)
        return;
    b->publishes += count_publishes(&b->up, buf, (size_t)n);
    if (quic_sendbuf_append(&b->out, buf, (size_t)n) != 0)
        b->app_eof = true;
}

/* Moves the connection to a new UDP socket: a new local port, as when a phone changes network.
 * The old socket stays open for packets still in flight on the old path. */
static void migrate(struct bridge *b)
{
    if (b->udp[1] >= 0 || ngtcp2_conn_get_handshake_completed(b->qc) == 0)
        return;
    b->udp[1] = b->udp[0];
    b->local[1] = b->local[0];
    b->local_len[1] = b->local_len[0];
    if (open_udp(b, 0) != 0) {
        b->udp[0] = b->udp[1];
        b->udp[1] = -1;
        return;
    }
    ngtcp2_path path = {
        .local = {(struct sockaddr *)&b->local[0], b->local_len[0]},
        .remote = {(struct sockaddr *)&b->remote, b->remote_len},
    };
    if (ngtcp2_conn_initiate_migration(b->qc, &path, now_ns()) != 0) {
        close(b->udp[0]);
        b->udp[0] = b->udp[1];
        b->local[0] = b->local[1];
        b->local_len[0] = b->local_len[1];
        b->udp[1] = -1;
        return; /* not possible yet (no spare connection ID): try again later */
    }
    b->migrated = true;
    if (b->debug)
        fprintf(stderr, "QUIC connection migrated to a new local address after %ld PUBLISH\n",
                b->publishes);
}

static bool should_stop(struct bridge *b)
{
    pthread_mutex_lock(&b->lock);
    bool abandon = b->abandon, exiting = b->exiting;
    pthread_mutex_unlock(&b->lock);
    if (exiting && !b->app_eof) {
        b->app_eof = true;
        b->linger_until_ms = now_ms() + LINGER_MS;
    }
    return abandon;
}

static void *bridge_run(void *arg)
{
    struct bridge *b = arg;
    bool send_close = true;
    if (write_packets(b) != 0)
        goto end;
    while (!should_stop(b)) {
        uint64_t expiry = ngtcp2_conn_get_expiry(b->qc), now = now_ns();
        uint64_t wait = expiry <= now ? 0 : (expiry - now) / NGTCP2_MILLISECONDS;
        if (wait > TICK_MS)
            wait = TICK_MS;
        struct pollfd p[3] = {{.fd = b->udp[0], .events = POLLIN},
                              {.fd = b->udp[1], .events = POLLIN},
                              {.fd = b->app, .events = 0}};
        if (b->stream_id >= 0 && !b->app_eof &&
            (b->early || ngtcp2_conn_get_handshake_completed(b->qc))) {
            size_t unsent;
            quic_sendbuf_unsent(&b->out, &unsent);
            if (unsent < OUT_LIMIT)
                p[2].events |= POLLIN;
        }
        if (b->in_len && !b->app_eof)
            p[2].events |= POLLOUT;
        if (poll(p, 3, (int)wait) < 0 && errno != EINTR)
            break;
        for (int slot = 0; slot < 2; slot++)
            if (p[slot].fd >= 0 && (p[slot].revents & (POLLIN | POLLERR)) &&
                read_packets(b, slot) != 0)
                goto end;
        if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
            read_from_app(b);
        if (!b->app_eof)
            deliver_to_app(b);
        if (ngtcp2_conn_get_expiry(b->qc) <= now_ns() &&
            ngtcp2_conn_handle_expiry(b->qc, now_ns()) != 0) {
            set_state(b, BRIDGE_FAILED, "QUIC handshake timed out");
            send_close = false; /* idle timeout: QUIC ends silently */
            goto end;
        }
        if (b->migrate_after > 0 && !b->migrated && b->publishes >= b->migrate_after)
            migrate(b);
        if (b->server_done) {
            deliver_to_app(b);
            send_close = false;
            goto end;
        }
        if (write_packets(b) != 0)
            goto end;
        if (b->app_eof && (quic_sendbuf_unacked(&b->out) == 0 || now_ms() >= b->linger_until_ms))
            goto end;
    }
end:
    if (send_close && !ngtcp2_conn_is_in_closing_period(b->qc) &&
        !ngtcp2_conn_is_in_draining_period(b->qc)) {
        uint8_t buf[TX_DATAGRAM];
        ngtcp2_path_storage ps;
        ngtcp2_path_storage_zero(&ps);
        ngtcp2_pkt_info pi;
        ngtcp2_ssize n = ngtcp2_conn_write_connection_close(b->qc, &ps.path, &pi, buf, sizeof buf,
                                                            &b->ccerr, now_ns());
        if (n > 0)
            send(socket_for(b, &ps.path.local), buf, (size_t)n, 0);
    }
    set_state(b, BRIDGE_FAILED, "QUIC connection closed");
    shutdown(b->app, SHUT_RDWR); /* the application sees the end of the stream */
    return NULL;
}

static void bridge_free(struct bridge *b)
{
    for (int i = 0; i < 2; i++)
        if (b->udp[i] >= 0)
            close(b->udp[i]);
    if (b->app >= 0)
        close(b->app);
    if (b->qc)
        ngtcp2_conn_del(b->qc);
    if (b->tls)
        gnutls_deinit(b->tls);
    if (b->cred)
        gnutls_certificate_free_credentials(b->cred);
    quic_sendbuf_free(&b->out);
    net_quic_ticket_free(&b->ticket);
    free(b->ticket_file);
    free(b->in);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->changed);
    free(b);
}

/* exit() waits for each bridge to finish its goodbye (bounded by LINGER_MS). */
static void join_bridges(void)
{
    pthread_mutex_lock(&bridges_lock);
    struct bridge *list = bridges;
    bridges = NULL;
    pthread_mutex_unlock(&bridges_lock);
    while (list) {
        struct bridge *next = list->next;
        pthread_mutex_lock(&list->lock);
        list->exiting = true;
        pthread_mutex_unlock(&list->lock);
        pthread_join(list->thread, NULL);
        bridge_free(list);
        list = next;
    }
}

static int resolve(struct bridge *b, const char *host, const char *port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "Unable to resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&b->remote, res->ai_addr, res->ai_addrlen);
    b->remote_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Keeps a running bridge until exit, which waits for its goodbye (join_bridges). */
static void bridge_register(struct bridge *b)
{
    pthread_mutex_lock(&bridges_lock);
    b->next = bridges;
    bridges = b;
    if (!exit_hook_installed)
        exit_hook_installed = atexit(join_bridges) == 0;
    pthread_mutex_unlock(&bridges_lock);
}

/* Creates a bridge and starts its thread; *app_fd is the application's end of the pair. */
static struct bridge *bridge_start(const char *host, const char *port,
                                   const struct net_quic_options *o, int *app_fd, char *err,
                                   size_t errlen)
{
    struct bridge *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "Out of memory");
        return NULL;
    }
    b->udp[0] = b->udp[1] = b->app = -1;
    b->stream_id = -1;
    b->ref.get_conn = get_conn;
    b->ref.user_data = b;
    b->migrate_after = o->migrate_after;
    b->debug = o->debug;
    b->ticket_file = o->ticket_file ? strdup(o->ticket_file) : NULL;
    ngtcp2_connection_close_error_default(&b->ccerr);
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->changed, &attr);
    pthread_condattr_destroy(&attr);
    int pair[2] = {-1, -1};
    if (resolve(b, host, port, err, errlen) != 0) {
        bridge_free(b);
        return NULL;
    }
    int timeout = o->handshake_timeout_ms > 0 ? o->handshake_timeout_ms : DEFAULT_HANDSHAKE_MS;
    if (open_udp(b, 0) != 0 || tls_setup(b, host, o) != 0 ||
        quic_setup(b, o->keep_alive, timeout) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        snprintf(err, errlen, "Unable to set up QUIC to %s port %s%s%s", host, port,
                 b->error[0] ? ": " : "", b->error);
        bridge_free(b);
        return NULL;
    }
    b->app = pair[0];
    fcntl(pair[1], F_SETFL, fcntl(pair[1], F_GETFL) | O_NONBLOCK);
    if (pthread_create(&b->thread, NULL, bridge_run, b) != 0) {
        close(pair[1]);
        bridge_free(b);
        snprintf(err, errlen, "Unable to start the QUIC thread");
        return NULL;
    }
    *app_fd = pair[1];
    return b;
}

/* Starts a bridge and waits for its handshake. Returns the application's socket or -1. */
static int quic_try(const char *host, const char *port, const struct net_quic_options *o, char *err,
                    size_t errlen)
{
    int app = -1;
    struct bridge *b = bridge_start(host, port, o, &app, err, errlen);
    if (!b)
        return -1;
    int timeout = o->handshake_timeout_ms > 0 ? o->handshake_timeout_ms : DEFAULT_HANDSHAKE_MS;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout / 1000;
    until.tv_nsec += (long)(timeout % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->lock);
    while (b->state == BRIDGE_CONNECTING &&
           pthread_cond_timedwait(&b->changed, &b->lock, &until) == 0)
        ;
    bool up = b->state == BRIDGE_UP;
    if (!up) {
        b->abandon = true;
        snprintf(err, errlen, "%s", b->error[0] ? b->error : "QUIC handshake timed out");
    }
    pthread_mutex_unlock(&b->lock);
    if (!up) {
        pthread_join(b->thread, NULL);
        close(app);
        bridge_free(b);
        return -1;
    }
    bridge_register(b);
    return app;
}

int net_quic_open(const char *host, const char *port, const struct net_quic_options *o, char *err,
                  size_t errlen)
{
    int app = -1;
    struct bridge *b = bridge_start(host, port ? port : "14567", o, &app, err, errlen);
    if (!b)
        return -1;
    bridge_register(b);
    return app;
}

int net_quic_parse_fallback(const char *url, char *host, size_t hostlen, char *port, size_t portlen)
{
    if (strncmp(url, "mqtt://", 7) == 0)
        url += 7;
    size_t end = strcspn(url, "/");
    const char *colon = NULL;
    size_t host_start = 0, host_end = end;
    if (url[0] == '[') {
        const char *close = memchr(url, ']', end);
        if (!close)
            return -1;
        host_start = 1;
        host_end = (size_t)(close - url);
        if (host_end + 1 < end) {
            if (close[1] != ':')
                return -1;
            colon = close + 1;
        }
    } else {
        for (size_t i = 0; i < end; i++)
            if (url[i] == ':')
                colon = url + i;
        if (colon)
            host_end = (size_t)(colon - url);
    }
    size_t host_len = host_end - host_start;
    if (host_len == 0 || host_len >= hostlen)
        return -1;
    memcpy(host, url + host_start, host_len);
    host[host_len] = '\0';
    const char *p = colon ? colon + 1 : "1883";
    size_t port_len = colon ? (size_t)(url + end - p) : 4;
    if (port_len == 0 || port_len >= portlen || port_len > 5 || strspn(p, "0123456789") < port_len)
        return -1;
    memcpy(port, p, port_len);
    port[port_len] = '\0';
    long n = strtol(port, NULL, 10);
    return n >= 1 && n <= 65535 ? 0 : -1;
}

int net_quic_connect(const char *host, const char *port, const struct net_quic_options *o,
                     int timeout_ms, bool *used_quic, char *err, size_t errlen)
{
    char why[256];
    int fd = quic_try(host, port ? port : "14567", o, why, sizeof why);
    if (used_quic)
        *used_quic = fd >= 0;
    if (fd >= 0)
        return fd;
    char fb_host[256], fb_port[8] = "1883";
    snprintf(fb_host, sizeof fb_host, "%s", host);
    if (o->fallback && net_quic_parse_fallback(o->fallback, fb_host, sizeof fb_host, fb_port,
                                               sizeof fb_port) != 0) {
        snprintf(err, errlen, "Invalid --fallback \"%s\"", o->fallback);
        return -1;
    }
    fprintf(stderr, "QUIC to %s port %s failed (%s); falling back to TCP %s port %s\n", host,
            port ? port : "14567", why, fb_host, fb_port);
    return net_connect(fb_host, fb_port, timeout_ms, err, errlen);
}
