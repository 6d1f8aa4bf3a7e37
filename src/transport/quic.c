/*
 * MQTT over QUIC, broker side (see quic.h). An endpoint reads datagrams from its UDP socket in
 * batches (recvmmsg), finds the connection by Destination Connection ID, and hands the packet
 * to ngtcp2. Stream bytes that ngtcp2 reports are gathered during the read and fed to the
 * engine only after ngtcp2 has returned, so the engine may close the link without re-entering
 * the library. Engine output goes into the link's send buffer and is packetised on flush,
 * leaving in GSO trains (quic_tx.c). A datagram for a connection of another worker (the first
 * byte of our connection IDs names it) is handed over to that worker (quic_group.c).
 *
 * A link holds no reference-counted engine until the handshake completes: half-open
 * handshakes cost only QUIC and TLS state, dropped by ngtcp2's handshake timeout.
 */
#include "transport/quic.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "broker/broker.h"
#include "server/ip_table.h"
#include "server/listener.h"
#include "server/log.h"
#include "server/worker.h"
#include "session/conn.h"
#include "session/limits.h"
#include "transport/quic_cid_map.h"
#include "transport/quic_group.h"
#include "transport/quic_sendbuf.h"
#include "transport/quic_tls.h"
#include "transport/quic_tx.h"

#define SCID_LEN 18
#define LINK_MAX_CIDS 10 /* ours (active_connection_id_limit) + the client's first DCID */
#define ACTIVE_CID_LIMIT 7
#define RX_BATCH 32
#define RX_DATAGRAM 2048 /* QUIC datagrams are at most 1452 bytes here (PMTUD ceiling) */
#define RX_ROUNDS 8      /* batches per wake-up before other handles get a turn */
#define TX_DATAGRAM NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
#define TX_BURST 64 /* packets per write call; congestion control usually stops us first */
#define HANDSHAKE_TIMEOUT_S 10
#define CLOSE_LINGER_MS 2000 /* how long a closing link waits for its last bytes' ACK */
#define STREAM_WINDOW (256u * 1024u)
#define CONN_WINDOW (1024u * 1024u)
#define RETRY_TOKEN_TIMEOUT (10 * NGTCP2_SECONDS)
#define EARLY_MAX 65536 /* stream bytes kept for a client whose handshake has not completed */
/* Application error code on streams beyond the MQTT one (refused with STOP_SENDING and
 * RESET_STREAM). */
#define QUIC_ERR_EXTRA_STREAM 0x1

struct quic_link;

struct quic_endpoint {
    uv_poll_t poll;
    int fd;
    struct quic_group_member group; /* group.group NULL: this endpoint works alone */
    bool stopping;
    struct worker *worker;
    const struct listener *listener;
    struct quic_tls_server tls;
    struct quic_cid_map cids;
    struct sockaddr_storage local;
    socklen_t local_len;
    uint8_t secret[32]; /* stateless reset and address validation tokens */
    uint64_t idle_timeout_ns;
    struct quic_link *links;
    /* Stream bytes gathered while ngtcp2 reads one packet: one link at a time, so shared. */
    uint8_t *stream_in;
    size_t stream_in_len, stream_in_cap;
    struct quic_tx tx;
    uint8_t rx[RX_BATCH][RX_DATAGRAM];
    struct sockaddr_storage rx_addr[RX_BATCH];
};

struct quic_link {
    ngtcp2_crypto_conn_ref ref;
    struct quic_endpoint *ep;
    ngtcp2_conn *qc;
    gnutls_session_t tls;
    struct conn *conn; /* once the handshake completed */
    uv_timer_t timer;
    int64_t stream_id; /* the MQTT stream, -1 until the client opens it */
    struct quic_sendbuf out;
    uint8_t *early; /* stream bytes that overtook the handshake's end, until the engine exists */
    size_t early_len;
    bool peer_finished; /* the client ended or reset the MQTT stream */
    /* The engine paused reading (conn_transport.pause_reading): the stream's flow-control
     * credit for what the client sent meanwhile is held back, so it stops within its window. */
    bool read_paused;
    uint64_t credit_held;
    uint32_t ip_slot; /* its address's entry in the broker's ip_table, 0 = none */
    bool close_requested;
    bool closed;
    uint64_t close_deadline_ms;
    ngtcp2_connection_close_error ccerr;
    char peer[64];
    unsigned cid_count;
    ngtcp2_cid cids[LINK_MAX_CIDS];
    struct quic_link *prev, *next;
};

static void link_write(struct quic_link *link);
static void link_close_now(struct quic_link *link, bool send_close);

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, len, "%s:%u", host, port);
}

/* A datagram the socket does not take is a lost packet: QUIC's recovery resends it. */
static void send_datagram(struct quic_endpoint *ep, const struct sockaddr *to, socklen_t to_len,
                          const uint8_t *data, size_t len)
{
    ssize_t n;
    do {
        n = sendto(ep->fd, data, len, 0, to, to_len);
    } while (n < 0 && errno == EINTR);
}

static void link_add_cid(struct quic_link *link, const ngtcp2_cid *cid)
{
    if (link->cid_count == LINK_MAX_CIDS ||
        quic_cid_map_put(&link->ep->cids, cid->data, cid->datalen, link) != 0)
        return;
    link->cids[link->cid_count++] = *cid;
}

static void link_remove_cid(struct quic_link *link, const ngtcp2_cid *cid)
{
    quic_cid_map_remove(&link->ep->cids, cid->data, cid->datalen, link);
    for (unsigned i = 0; i < link->cid_count; i++)
        if (ngtcp2_cid_eq(&link->cids[i], cid)) {
            link->cids[i] = link->cids[--link->cid_count];
            return;
        }
}

/* ---- ngtcp2 callbacks (never call into the engine from here) ---- */

static ngtcp2_conn *get_conn(ngtcp2_crypto_conn_ref *ref)
{
    return ((struct quic_link *)ref->user_data)->qc;
}

static void cb_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
    gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

static int cb_get_new_cid(ngtcp2_conn *qc, ngtcp2_cid *cid, uint8_t *token, size_t cidlen,
                          void *user)
{
    struct quic_link *link = user;
    if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    cid->data[0] = (uint8_t)link->ep->group.slot; /* routes datagrams to this worker */
    cid->datalen = cidlen;
    if (ngtcp2_crypto_generate_stateless_reset_token(token, link->ep->secret,
                                                     sizeof link->ep->secret, cid) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    link_add_cid(link, cid);
    return 0;
}

static int cb_remove_cid(ngtcp2_conn *qc, const ngtcp2_cid *cid, void *user)
{
    link_remove_cid(user, cid);
    return 0;
}

static const struct conn_transport quic_transport;

static int link_start_engine(struct quic_link *link)
{
    struct worker *w = link->ep->worker;
    link->conn = conn_new(w->broker, &quic_transport, link, broker_now_ms());
    if (!link->conn)
        return -1;
    link->conn->listener = link->ep->listener->config;
    worker_add_conn(w, link->conn);
    return 0;
}

static int cb_handshake_completed(ngtcp2_conn *qc, void *user)
{
    struct quic_link *link = user;
    /* A client that sent its CONNECT in 0-RTT has its engine already (link_deliver). */
    if (!link->conn && link_start_engine(link) != 0)
        return NGTCP2_ERR_CALLBACK_FAILURE;
    if (quic_tls_send_ticket(link->tls) != 0)
        log_debug("%s: quic: no session ticket sent", link->peer);
    log_debug("%s: quic handshake completed%s", link->peer,
              gnutls_session_get_flags(link->tls) & GNUTLS_SFLAGS_EARLY_DATA ? " (0-RTT accepted)"
                                                                             : "");
    return 0;
}

static int cb_stream_open(ngtcp2_conn *qc, int64_t stream_id, void *user)
{
    struct quic_link *link = user;
    if (link->stream_id < 0 && ngtcp2_is_bidi_stream(stream_id)) {
        link->stream_id = stream_id;
        return 0;
    }
    ngtcp2_conn_shutdown_stream(qc, stream_id, QUIC_ERR_EXTRA_STREAM);
    return 0;
}

static int cb_recv_stream_data(ngtcp2_conn *qc, uint32_t flags, int64_t stream_id, uint64_t offset,
                               const uint8_t *data, size_t len, void *user, void *stream_user)
{
    struct quic_link *link = user;
    struct quic_endpoint *ep = link->ep;
    /* Everything is consumed at once (the engine copies partial packets), so the peer's
     * windows open again by what it sent, unless the engine asked to read no more. */
    if (stream_id == link->stream_id && link->read_paused) {
        link->credit_held += len;
    } else {
        ngtcp2_conn_extend_max_stream_offset(qc, stream_id, len);
        ngtcp2_conn_extend_max_offset(qc, len);
    }
    if (stream_id != link->stream_id)
        return 0;
    if (flags & NGTCP2_STREAM_DATA_FLAG_FIN)
        link->peer_finished = true;
    if (ep->stream_in_len + len > ep->stream_in_cap) {
        size_t cap = ep->stream_in_cap ? ep->stream_in_cap : 4096;
        while (cap < ep->stream_in_len + len)
            cap *= 2;
        uint8_t *in = realloc(ep->stream_in, cap);
        if (!in)
            return NGTCP2_ERR_CALLBACK_FAILURE;
        ep->stream_in = in;
        ep->stream_in_cap = cap;
    }
    memcpy(ep->stream_in + ep->stream_in_len, data, len);
    ep->stream_in_len += len;
    return 0;
}

static int cb_acked_stream_data(ngtcp2_conn *qc, int64_t stream_id, uint64_t offset, uint64_t len,
                                void *user, void *stream_user)
{
    struct quic_link *link = user;
    if (stream_id == link->stream_id)
        quic_sendbuf_acked(&link->out, offset + len);
    return 0;
}

static int cb_stream_close(ngtcp2_conn *qc, uint32_t flags, int64_t stream_id, uint64_t code,
                           void *user, void *stream_user)
{
    struct quic_link *link = user;
    if (stream_id == link->stream_id)
        link->peer_finished = true;
    return 0;
}

static int cb_stream_reset(ngtcp2_conn *qc, int64_t stream_id, uint64_t final_size, uint64_t code,
                           void *user, void *stream_user)
{
    return cb_stream_close(qc, 0, stream_id, code, user, stream_user);
}

static int cb_path_validation(ngtcp2_conn *qc, uint32_t flags, const ngtcp2_path *path,
                              ngtcp2_path_validation_result res, void *user)
{
    struct quic_link *link = user;
    if (res != NGTCP2_PATH_VALIDATION_RESULT_SUCCESS)
        return 0;
    char peer[64];
    format_addr(path->remote.addr, peer, sizeof peer);
    if (strcmp(peer, link->peer) != 0) {
        log_notice("%s: quic connection migrated to %s", link->peer, peer);
        memcpy(link->peer, peer, sizeof peer);
    }
    return 0;
}

static const ngtcp2_callbacks server_callbacks = {
    .recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
    .recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb,
    .handshake_completed = cb_handshake_completed,
    .encrypt = ngtcp2_crypto_encrypt_cb,
    .decrypt = ngtcp2_crypto_decrypt_cb,
    .hp_mask = ngtcp2_crypto_hp_mask_cb,
    .recv_stream_data = cb_recv_stream_data,
    .acked_stream_data_offset = cb_acked_stream_data,
    .stream_open = cb_stream_open,
    .stream_close = cb_stream_close,
    .rand = cb_rand,
    .get_new_connection_id = cb_get_new_cid,
    .remove_connection_id = cb_remove_cid,
    .update_key = ngtcp2_crypto_update_key_cb,
    .path_validation = cb_path_validation,
    .stream_reset = cb_stream_reset,
    .delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
    .delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
    .get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
    .version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

/* ---- links ---- */

/* The engine learns of the end here, in libuv's close phase, never inside one of its own calls
 * (conn_feed, conn_tick) that closed the link: the engine may be freed by its last unref. */
static void on_link_freed(uv_handle_t *h)
{
    struct quic_link *link = h->data;
    struct conn *c = link->conn;
    if (c) {
        size_t unsent;
        quic_sendbuf_unsent(&link->out, &unsent);
        conn_output_written(c, unsent);
        link->conn = NULL;
        conn_transport_closed(c, broker_now_ms());
        worker_remove_conn(link->ep->worker, c);
        c->transport_ctx = NULL;
        conn_unref(c);
    }
    if (link->ip_slot)
        ip_table_release(link->ep->worker->broker->limits.ip_table, link->ip_slot, broker_now_ms());
    if (link->qc)
        ngtcp2_conn_del(link->qc);
    if (link->tls)
        gnutls_deinit(link->tls);
    quic_sendbuf_free(&link->out);
    free(link->early);
    free(link);
}

/* Ends the link now: CONNECTION_CLOSE when `send_close` (not after an idle timeout or when the
 * peer is already draining); the engine is told and memory freed in the close phase of this
 * loop turn, so callers up the stack may still look at link->closed. */
static void link_close_now(struct quic_link *link, bool send_close)
{
    if (link->closed)
        return;
    link->closed = true;
    struct quic_endpoint *ep = link->ep;
    if (send_close && !ngtcp2_conn_is_in_closing_period(link->qc) &&
        !ngtcp2_conn_is_in_draining_period(link->qc)) {
        uint8_t buf[TX_DATAGRAM];
        ngtcp2_path_storage ps;
        ngtcp2_path_storage_zero(&ps);
        ngtcp2_pkt_info pi;
        ngtcp2_ssize n = ngtcp2_conn_write_connection_close(link->qc, &ps.path, &pi, buf,
                                                            sizeof buf, &link->ccerr, now_ns());
        if (n > 0)
            send_datagram(ep, ps.path.remote.addr, ps.path.remote.addrlen, buf, (size_t)n);
    }
    while (link->cid_count)
        link_remove_cid(link, &link->cids[link->cid_count - 1]);
    if (link->prev)
        link->prev->next = link->next;
    else
        ep->links = link->next;
    if (link->next)
        link->next->prev = link->prev;
    uv_timer_stop(&link->timer);
    uv_close((uv_handle_t *)&link->timer, on_link_freed);
}

static void on_link_timer(uv_timer_t *t);

static void link_arm_timer(struct quic_link *link)
{
    uint64_t expiry = ngtcp2_conn_get_expiry(link->qc), now = now_ns();
    uint64_t ms =
        expiry <= now ? 0 : (expiry - now + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS;
    if (link->close_requested) {
        uint64_t now_ms = broker_now_ms();
        uint64_t left = link->close_deadline_ms > now_ms ? link->close_deadline_ms - now_ms : 0;
        if (left < ms)
            ms = left;
    }
    if (ms > 3600 * 1000)
        ms = 3600 * 1000;
    uv_timer_start(&link->timer, on_link_timer, ms, 0);
}

/* Packetises what is waiting: stream bytes, ACKs, retransmissions, handshake data. */
static void link_write(struct quic_link *link)
{
    if (link->closed)
        return;
    struct quic_tx *tx = &link->ep->tx;
    ngtcp2_path_storage ps;
    ngtcp2_path_storage_zero(&ps);
    uint64_t ts = now_ns();
    bool stream_blocked = false;
    for (int packets = 0; packets < TX_BURST;) {
        size_t unsent = 0;
        const uint8_t *pending = NULL;
        if (link->stream_id >= 0 && !stream_blocked)
            pending = quic_sendbuf_unsent(&link->out, &unsent);
        ngtcp2_vec v = {(uint8_t *)pending, unsent};
        int64_t sid = unsent ? link->stream_id : -1;
        ngtcp2_ssize taken = -1;
        ngtcp2_pkt_info pi;
        ngtcp2_ssize n = ngtcp2_conn_writev_stream(
            link->qc, &ps.path, &pi, quic_tx_slot(tx), QUIC_TX_DATAGRAM, &taken,
            NGTCP2_WRITE_STREAM_FLAG_MORE, sid, unsent ? &v : NULL, unsent ? 1 : 0, ts);
        if (taken > 0) {
            quic_sendbuf_consumed(&link->out, (size_t)taken);
            if (link->conn)
                conn_output_written(link->conn, (size_t)taken);
        }
        if (n == NGTCP2_ERR_WRITE_MORE)
            continue;
        if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED || n == NGTCP2_ERR_STREAM_SHUT_WR ||
            n == NGTCP2_ERR_STREAM_NOT_FOUND) {
            stream_blocked = true;
            continue;
        }
        if (n < 0) {
            quic_tx_flush(tx);
            log_debug("%s: quic write: %s", link->peer, ngtcp2_strerror((int)n));
            ngtcp2_connection_close_error_set_transport_error_liberr(&link->ccerr, (int)n, NULL, 0);
            link_close_now(link, true);
            return;
        }
        if (n == 0)
            break;
        quic_tx_push(tx, ps.path.remote.addr, ps.path.remote.addrlen, (size_t)n);
        packets++;
    }
    quic_tx_flush(tx);
    if (link->close_requested && quic_sendbuf_unacked(&link->out) == 0) {
        link_close_now(link, true);
        return;
    }
    link_arm_timer(link);
}

static void on_link_timer(uv_timer_t *t)
{
    struct quic_link *link = t->data;
    if (link->close_requested && broker_now_ms() >= link->close_deadline_ms) {
        link_close_now(link, true);
        return;
    }
    int rc = ngtcp2_conn_handle_expiry(link->qc, now_ns());
    if (rc != 0) {
        /* Idle timeout or handshake timeout: QUIC closes silently. */
        log_debug("%s: quic: %s", link->peer, ngtcp2_strerror(rc));
        link_close_now(link, false);
        return;
    }
    link_write(link);
}

/* Before the handshake completes (0-RTT, or 1-RTT packets that overtook the one completing it)
 * stream bytes wait in link->early. Returns 0, or -1 when the link was closed. */
static int link_hold(struct quic_link *link, const uint8_t *data, size_t len)
{
    uint8_t *early =
        len <= EARLY_MAX - link->early_len ? realloc(link->early, link->early_len + len) : NULL;
    if (!early) {
        link_close_now(link, true);
        return -1;
    }
    memcpy(early + link->early_len, data, len);
    link->early = early;
    link->early_len += len;
    return 0;
}

/* 0-RTT: a CONNECT at the head of the held bytes starts the engine before the handshake
 * completes, so the CONNACK leaves half a round trip after the client's first flight. Only
 * the CONNECT: whatever follows it waits for the handshake, which a replayer of the 0-RTT
 * packets cannot complete (quic_early.h). */
static void link_early_connect(struct quic_link *link)
{
    size_t plen = 0;
    if (link->conn || link->early_len == 0 || (link->early[0] >> 4) != MQ_CONNECT ||
        mq_frame(link->early, link->early_len, 0, &plen) != 1)
        return;
    if (link_start_engine(link) != 0) {
        link_close_now(link, true);
        return;
    }
    log_debug("%s: quic: CONNECT in 0-RTT", link->peer);
    conn_feed(link->conn, link->early, plen, broker_now_ms());
    memmove(link->early, link->early + plen, link->early_len - plen);
    link->early_len -= plen;
}

/* Stream bytes of the packet just read go to the engine, now that ngtcp2 has returned. */
static void link_deliver(struct quic_link *link)
{
    struct quic_endpoint *ep = link->ep;
    size_t len = ep->stream_in_len;
    ep->stream_in_len = 0;
    bool complete = ngtcp2_conn_get_handshake_completed(link->qc) != 0;
    if (len && (!complete || !link->conn || link->early_len)) {
        if (link_hold(link, ep->stream_in, len) != 0)
            return;
        len = 0;
    }
    if (!complete)
        link_early_connect(link);
    if (complete && link->conn && link->early_len && !link->closed) {
        conn_feed(link->conn, link->early, link->early_len, broker_now_ms());
        free(link->early);
        link->early = NULL;
        link->early_len = 0;
    }
    if (len && link->conn && !link->closed)
        conn_feed(link->conn, ep->stream_in, len, broker_now_ms());
    if (ep->stream_in_cap > 65536) {
        free(ep->stream_in);
        ep->stream_in = NULL;
        ep->stream_in_cap = 0;
    }
    if (link->closed)
        return;
    if (link->peer_finished) {
        link_close_now(link, true);
        return;
    }
    if (link->conn)
        worker_mark_dirty(ep->worker, link->conn); /* ACKs leave with the engine's answer */
    else
        link_write(link);
}

static void link_read(struct quic_link *link, const struct sockaddr *from, socklen_t from_len,
                      const uint8_t *data, size_t len)
{
    struct quic_endpoint *ep = link->ep;
    ngtcp2_path path = {
        .local = {(struct sockaddr *)&ep->local, ep->local_len},
        .remote = {(struct sockaddr *)from, from_len},
    };
    ngtcp2_pkt_info pi = {0};
    ep->stream_in_len = 0;
    int rc = ngtcp2_conn_read_pkt(link->qc, &path, &pi, data, len, now_ns());
    if (rc != 0) {
        log_debug("%s: quic read: %s", link->peer, ngtcp2_strerror(rc));
        ep->stream_in_len = 0;
        if (rc == NGTCP2_ERR_DRAINING || rc == NGTCP2_ERR_DROP_CONN || rc == NGTCP2_ERR_RETRY) {
            link_close_now(link, false);
            return;
        }
        if (rc == NGTCP2_ERR_CRYPTO)
            ngtcp2_connection_close_error_set_transport_error_tls_alert(
                &link->ccerr, ngtcp2_conn_get_tls_alert(link->qc), NULL, 0);
        else
            ngtcp2_connection_close_error_set_transport_error_liberr(&link->ccerr, rc, NULL, 0);
        if (rc == NGTCP2_ERR_CRYPTO)
            log_notice("%s: quic handshake failed: TLS alert %s", link->peer,
                       gnutls_alert_get_name(ngtcp2_conn_get_tls_alert(link->qc)));
        else if (!ngtcp2_conn_get_handshake_completed(link->qc))
            log_notice("%s: quic handshake failed: %s", link->peer, ngtcp2_strerror(rc));
        link_close_now(link, true);
        return;
    }
    link_deliver(link);
}

static struct quic_link *link_new(struct quic_endpoint *ep, const ngtcp2_pkt_hd *hd,
                                  const ngtcp2_cid *odcid, const struct sockaddr *from,
                                  socklen_t from_len)
{
    struct quic_link *link = calloc(1, sizeof *link);
    if (!link)
        return NULL;
    link->ep = ep;
    link->stream_id = -1;
    link->ref.get_conn = get_conn;
    link->ref.user_data = link;
    ngtcp2_connection_close_error_default(&link->ccerr);
    format_addr(from, link->peer, sizeof link->peer);

    ngtcp2_cid scid = {.datalen = SCID_LEN};
    gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
    scid.data[0] = (uint8_t)ep->group.slot;

    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    settings.handshake_timeout = HANDSHAKE_TIMEOUT_S * NGTCP2_SECONDS;
    if (odcid) /* a Retry token we verified: the address is proven */
        settings.token = (ngtcp2_vec){(uint8_t *)hd->token.base, hd->token.len};

    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_remote = STREAM_WINDOW;
    params.initial_max_data = CONN_WINDOW;
    params.initial_max_streams_bidi = 1; /* single-stream mode: one MQTT stream per client */
    params.initial_max_streams_uni = 0;
    params.max_idle_timeout = ep->idle_timeout_ns;
    params.active_connection_id_limit = ACTIVE_CID_LIMIT;
    params.stateless_reset_token_present = 1;
    if (odcid) {
        params.original_dcid = *odcid;
        params.retry_scid = hd->dcid;
        params.retry_scid_present = 1;
    } else {
        params.original_dcid = hd->dcid;
    }
    ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, ep->secret,
                                                 sizeof ep->secret, &scid);

    ngtcp2_path path = {
        .local = {(struct sockaddr *)&ep->local, ep->local_len},
        .remote = {(struct sockaddr *)from, from_len},
    };
    if (ngtcp2_conn_server_new(&link->qc, &hd->scid, &scid, &path, hd->version, &server_callbacks,
                               &settings, &params, NULL, link) != 0) {
        free(link);
        return NULL;
    }
    if (quic_tls_server_session(&ep->tls, &link->ref, &link->tls) != 0) {
        ngtcp2_conn_del(link->qc);
        free(link);
        return NULL;
    }
    ngtcp2_conn_set_tls_native_handle(link->qc, link->tls);
    uv_timer_init(&ep->worker->loop, &link->timer);
    link->timer.data = link;
    link_add_cid(link, &scid);
    link_add_cid(link, &hd->dcid); /* the client's Initials are addressed to its own choice */
    link->next = ep->links;
    if (ep->links)
        ep->links->prev = link;
    ep->links = link;
    return link;
}

/* ---- the engine's view (struct conn_transport) ---- */

static void quic_flush(struct conn *c)
{
    struct quic_link *link = c->transport_ctx;
    size_t len;
    uint8_t *data = conn_take_output(c, &len);
    if (data && (!link || link->closed || quic_sendbuf_append(&link->out, data, len) != 0)) {
        conn_output_written(c, len);
        free(data);
        if (link && !link->closed)
            link_close_now(link, true);
        return;
    }
    free(data);
    if (link)
        link_write(link);
}

static void quic_schedule_flush(struct conn *c)
{
    struct quic_link *link = c->transport_ctx;
    if (!link)
        return;
    struct worker *w = link->ep->worker;
    if (worker_current() == w)
        worker_mark_dirty(w, c);
    else
        worker_post(w, INBOX_FLUSH, conn_ref(c));
}

static void quic_close(struct conn *c)
{
    struct quic_link *link = c->transport_ctx;
    if (!link || link->closed)
        return;
    if (link->close_requested) {
        /* Asked twice (the stop's grace period is over): do not wait for ACKs. */
        link_close_now(link, true);
        return;
    }
    link->close_requested = true;
    link->close_deadline_ms = broker_now_ms() + CLOSE_LINGER_MS;
    quic_flush(c);
}

static void quic_post_kick(struct conn *c)
{
    struct quic_link *link = c->transport_ctx;
    if (link)
        worker_post(link->ep->worker, INBOX_KICK, conn_ref(c));
}

static void quic_pause_reading(struct conn *c, bool paused)
{
    struct quic_link *link = c->transport_ctx;
    if (!link || link->closed)
        return;
    link->read_paused = paused;
    if (paused || !link->credit_held)
        return;
    ngtcp2_conn_extend_max_stream_offset(link->qc, link->stream_id, link->credit_held);
    ngtcp2_conn_extend_max_offset(link->qc, link->credit_held);
    link->credit_held = 0;
    link_write(link); /* MAX_STREAM_DATA and MAX_DATA tell the client */
}

static void quic_peer_name(const struct conn *c, char *buf, size_t len)
{
    const struct quic_link *link = c->transport_ctx;
    snprintf(buf, len, "%s", link ? link->peer : "?");
}

static const struct conn_transport quic_transport = {
    .schedule_flush = quic_schedule_flush,
    .close = quic_close,
    .post_kick = quic_post_kick,
    .flush = quic_flush,
    .peer_name = quic_peer_name,
    .pause_reading = quic_pause_reading,
};

/* ---- the endpoint ---- */

static void send_version_negotiation(struct quic_endpoint *ep, const ngtcp2_version_cid *vc,
                                     const struct sockaddr *to, socklen_t to_len)
{
    uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
    uint8_t buf[256], unused;
    gnutls_rnd(GNUTLS_RND_NONCE, &unused, 1);
    ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(
        buf, sizeof buf, unused, vc->scid, vc->scidlen, vc->dcid, vc->dcidlen, versions, 1);
    if (n > 0)
        send_datagram(ep, to, to_len, buf, (size_t)n);
}

/* Asks the client to prove its address: it must echo the token, which only reaches it if the
 * source address of its Initial was really its own. Costs one round trip; stateless. */
static void send_retry(struct quic_endpoint *ep, const ngtcp2_pkt_hd *hd, const struct sockaddr *to,
                       socklen_t to_len)
{
    ngtcp2_cid scid = {.datalen = SCID_LEN};
    gnutls_rnd(GNUTLS_RND_RANDOM, scid.data, scid.datalen);
    scid.data[0] = (uint8_t)ep->group.slot;
    uint8_t token[NGTCP2_CRYPTO_MAX_RETRY_TOKENLEN];
    ngtcp2_ssize token_len = ngtcp2_crypto_generate_retry_token(
        token, ep->secret, sizeof ep->secret, hd->version, to, to_len, &scid, &hd->dcid, now_ns());
    if (token_len < 0)
        return;
    uint8_t buf[256];
    ngtcp2_ssize n = ngtcp2_crypto_write_retry(buf, sizeof buf, hd->version, &hd->scid, &scid,
                                               &hd->dcid, token, (size_t)token_len);
    if (n > 0)
        send_datagram(ep, to, to_len, buf, (size_t)n);
}

/* The per-address limits for a new QUIC connection, as TCP applies them at accept. A refused
 * Initial is dropped without an answer: no state, no handshake work; its retransmissions are
 * refused the same way until the client gives up. */
static bool admit_peer(struct quic_endpoint *ep, const struct sockaddr *from, uint32_t *ip_slot)
{
    return limits_admit_address(&ep->worker->broker->limits, from, broker_now_ms(), ip_slot) ==
           IP_ADMITTED;
}

/* A datagram for this worker: `forwarded` when another worker handed it over. */
static void handle_datagram(struct quic_endpoint *ep, const struct sockaddr *from,
                            socklen_t from_len, const uint8_t *data, size_t len, bool forwarded)
{
    ngtcp2_version_cid vc;
    int rc = ngtcp2_pkt_decode_version_cid(&vc, data, len, SCID_LEN);
    if (rc == NGTCP2_ERR_VERSION_NEGOTIATION) {
        send_version_negotiation(ep, &vc, from, from_len);
        return;
    }
    if (rc != 0)
        return;
    /* Our IDs name their worker in the first byte; a client's own 18-byte Initial ID picks one
     * the same way, consistently for all its Initials. Other lengths stay here. */
    if (!forwarded && ep->group.group && vc.dcidlen == SCID_LEN && vc.dcid[0] != ep->group.slot &&
        quic_group_forward(&ep->group, vc.dcid[0], from, from_len, data, len))
        return;
    struct quic_link *link = quic_cid_map_get(&ep->cids, vc.dcid, vc.dcidlen);
    if (link) {
        if (!ngtcp2_conn_is_in_closing_period(link->qc) &&
            !ngtcp2_conn_is_in_draining_period(link->qc))
            link_read(link, from, from_len, data, len);
        return;
    }
    ngtcp2_pkt_hd hd;
    if (ep->stopping || ngtcp2_accept(&hd, data, len) != 0)
        return;
    ngtcp2_cid odcid;
    bool validated = false;
    if (ep->listener->config->quic_retry) {
        if (hd.token.len == 0 || hd.token.base[0] != NGTCP2_CRYPTO_TOKEN_MAGIC_RETRY) {
            char peer[64];
            format_addr(from, peer, sizeof peer);
            log_info("%s: quic: Retry sent (address validation)", peer);
            send_retry(ep, &hd, from, from_len);
            return;
        }
        /* Forged, expired, or made for another address: dropped without an answer. */
        if (ngtcp2_crypto_verify_retry_token(&odcid, hd.token.base, hd.token.len, ep->secret,
                                             sizeof ep->secret, hd.version, from, from_len,
                                             &hd.dcid, RETRY_TOKEN_TIMEOUT, now_ns()) != 0)
            return;
        validated = true;
    }
    uint32_t ip_slot = 0;
    if (!admit_peer(ep, from, &ip_slot))
        return;
    link = link_new(ep, &hd, validated ? &odcid : NULL, from, from_len);
    if (!link) {
        if (ip_slot)
            ip_table_release(ep->worker->broker->limits.ip_table, ip_slot, broker_now_ms());
        return;
    }
    link->ip_slot = ip_slot;
    link_read(link, from, from_len, data, len);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    struct quic_endpoint *ep = h->data;
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    for (int round = 0; round < RX_ROUNDS; round++) {
        for (int i = 0; i < RX_BATCH; i++) {
            iov[i] = (struct iovec){ep->rx[i], RX_DATAGRAM};
            msgs[i].msg_hdr = (struct msghdr){.msg_name = &ep->rx_addr[i],
                                              .msg_namelen = sizeof ep->rx_addr[i],
                                              .msg_iov = &iov[i],
                                              .msg_iovlen = 1};
        }
        int n = recvmmsg(ep->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++) {
            if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
                continue;
            handle_datagram(ep, (const struct sockaddr *)&ep->rx_addr[i],
                            msgs[i].msg_hdr.msg_namelen, ep->rx[i], msgs[i].msg_len, false);
        }
        if (n < RX_BATCH)
            return;
    }
}

static void on_handoff(struct quic_group_member *m, const struct quic_handoff *h)
{
    struct quic_endpoint *ep =
        (struct quic_endpoint *)((char *)m - offsetof(struct quic_endpoint, group));
    handle_datagram(ep, (const struct sockaddr *)&h->from, h->from_len, h->data, h->len, true);
}

int quic_endpoint_start(struct worker *w, const struct listener *l, int fd,
                        struct quic_endpoint **out, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    struct quic_endpoint *ep = calloc(1, sizeof *ep);
    if (!ep) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ep->fd = fd;
    quic_tx_init(&ep->tx, fd);
    ep->worker = w;
    ep->listener = l;
    ep->local_len = sizeof ep->local;
    /* The MQTT keep alive bounds how long a silent client may stay: the server advertises
     * 1.5 x max_keepalive, the client its own 1.5 x keep alive, and QUIC takes the smaller. */
    ep->idle_timeout_ns = (uint64_t)w->broker->config->max_keepalive * 3 / 2 * NGTCP2_SECONDS;
    if (getsockname(fd, (struct sockaddr *)&ep->local, &ep->local_len) != 0 ||
        gnutls_rnd(GNUTLS_RND_KEY, ep->secret, sizeof ep->secret) != 0 ||
        quic_tls_server_init(&ep->tls, l->config->certfile, l->config->keyfile, err, errlen) != 0) {
        if (!err[0])
            snprintf(err, errlen, "quic: cannot set up the endpoint");
        close(fd);
        free(ep);
        return -1;
    }
    if (uv_poll_init(&w->loop, &ep->poll, fd) != 0) {
        snprintf(err, errlen, "quic: cannot watch the UDP socket");
        quic_tls_server_free(&ep->tls);
        close(fd);
        free(ep);
        return -1;
    }
    ep->poll.data = ep;
    uv_poll_start(&ep->poll, UV_READABLE, on_readable);
    /* Past the group's slots a worker serves only what the kernel gives its socket. */
    if (quic_group_join(&ep->group, l, w->index, &w->loop, on_handoff) != 0)
        ep->group.slot = w->index & 0xff;
    *out = ep;
    return 0;
}

void quic_endpoint_stop(struct quic_endpoint *ep)
{
    if (ep->stopping)
        return;
    ep->stopping = true;
    if (ep->group.group)
        quic_group_stop(&ep->group);
    struct quic_link *link = ep->links;
    while (link) {
        struct quic_link *next = link->next;
        if (!link->conn)
            link_close_now(link, true);
        link = next;
    }
}

void quic_endpoint_free(struct quic_endpoint *ep)
{
    if (!ep)
        return;
    quic_group_leave(&ep->group);
    quic_cid_map_free(&ep->cids);
    quic_tls_server_free(&ep->tls);
    free(ep->stream_in);
    close(ep->fd);
    free(ep);
}
