/*
 * The connection engine's core (see conn.h): framing of input into packets, dispatch to the
 * packet handlers by state, the output buffer, keep alive and CONNECT timeouts, and the end of
 * a connection (will, session expiry, takeover).
 */
#include "session/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/enhanced_auth.h"
#include "broker/broker.h"
#include "server/log.h"
#include "server/worker.h"
#include "session/session.h"
#include "store/store.h"

struct conn *conn_new(struct broker *b, const struct conn_transport *t, void *transport_ctx,
                      uint64_t now_ms)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    atomic_init(&c->refs, 1);
    atomic_init(&c->kicked, false);
    atomic_init(&c->write_backlog, 0);
    mq_lock_init(&c->out_lock);
    c->broker = b;
    c->transport = t;
    c->transport_ctx = transport_ctx;
    c->state = CONN_AWAIT_CONNECT;
    c->last_packet_ms = now_ms;
    c->max_packet_out = MQ_MAX_PACKET_SIZE;
    c->request_problem_info = true;
    c->disconnect_reason = MQ_RC_UNSPECIFIED_ERROR; /* until a DISCONNECT says otherwise */
    return c;
}

const char *conn_peer(const struct conn *c)
{
    static _Thread_local char text[64];
    if (c->transport->peer_name)
        c->transport->peer_name(c, text, sizeof text);
    else
        snprintf(text, sizeof text, "unknown peer");
    return text;
}

static void out_lock(struct conn *c)
{
    mq_lock_acquire(&c->out_lock);
}

static void out_unlock(struct conn *c)
{
    mq_lock_release(&c->out_lock);
}

struct conn *conn_ref(struct conn *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void conn_unref(struct conn *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    struct topic_aliases *a = c->aliases;
    if (a) {
        if (a->in)
            for (unsigned i = 0; i <= c->alias_in_max; i++)
                free((void *)a->in[i].data);
        free(a->in);
        for (unsigned i = 0; i < a->out_count; i++)
            free(a->out[i].topic);
        free(a->out);
        free(a);
    }
    session_unref(c->session);
    enhanced_auth_release(c);
    free(c->username);
    free(c->in);
    free(c->out);
    free(c);
}

struct topic_aliases *conn_aliases(struct conn *c)
{
    if (!c->aliases)
        c->aliases = calloc(1, sizeof *c->aliases);
    return c->aliases;
}

void conn_client_info(const struct conn *c, mqttd_client *out)
{
    out->client_id = c->session ? c->session->client_id : "";
    out->username = c->username;
    out->peer = conn_peer(c);
    out->protocol_version = c->version;
}

struct session *conn_lock_session(struct conn *c)
{
    struct session *s = c->session;
    if (!s)
        return NULL;
    mq_lock_acquire(&s->lock);
    if (s->conn == c)
        return s;
    mq_lock_release(&s->lock);
    return NULL;
}

/* Grows the output buffer to hold `extra` more bytes (out_lock held). */
static bool out_reserve(struct conn *c, size_t extra)
{
    if (c->out_len + extra <= c->out_cap)
        return true;
    if (c->out_len + extra > UINT32_MAX)
        return false;
    uint64_t cap = c->out_cap ? c->out_cap : 256;
    while (cap < c->out_len + extra)
        cap *= 2;
    uint8_t *out = realloc(c->out, cap);
    if (!out)
        return false;
    c->out = out;
    c->out_cap = (uint32_t)cap;
    return true;
}

/* Marks output pending and tells the transport once per batch (out_lock held on entry,
 * released on return). */
static void out_commit_unlock(struct conn *c, size_t added)
{
    bool schedule = !c->flush_scheduled;
    c->flush_scheduled = true;
    atomic_fetch_add_explicit(&c->write_backlog, added, memory_order_relaxed);
    out_unlock(c);
    atomic_fetch_add_explicit(&c->broker->stats.bytes_sent, added, memory_order_relaxed);
    if (schedule)
        c->transport->schedule_flush(c);
}

void conn_write(struct conn *c, const uint8_t *data, size_t len)
{
    out_lock(c);
    if (!out_reserve(c, len)) {
        out_unlock(c);
        return;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += (uint32_t)len;
    out_commit_unlock(c, len);
}

/* The properties of a packet the server sends, for the ones that carry a Reason String. */
static mq_props *reply_props(struct mq_packet *p)
{
    switch (p->type) {
    case MQ_CONNACK:
        return &p->u.connack.props;
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        return &p->u.ack.props;
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        return &p->u.suback.props;
    case MQ_DISCONNECT:
    case MQ_AUTH:
        return &p->u.disconnect.props;
    default:
        return NULL;
    }
}

int conn_send_packet(struct conn *c, const struct mq_packet *p)
{
    long size = mq_encode(p, c->version, NULL, 0);
    if (size < 0)
        return (int)size;
    if ((uint64_t)size > c->max_packet_out && p->type != MQ_PUBLISH) {
        /* A Reason String or User Property that would make a packet larger than the client
         * accepts is left out [MQTT-3.1.2-25], [MQTT-3.2.2-19], [MQTT-3.14.2-3]. */
        struct mq_packet trimmed = *p;
        mq_props *props = reply_props(&trimmed);
        if (props) {
            props->present &= ~MQ_PROP_BIT(MQ_PROP_REASON_STRING);
            props->user_properties_len = 0;
            size = mq_encode(&trimmed, c->version, NULL, 0);
            if (size < 0)
                return (int)size;
            return conn_send_sized(c, &trimmed, (size_t)size);
        }
    }
    return conn_send_sized(c, p, (size_t)size);
}

int conn_send_sized(struct conn *c, const struct mq_packet *p, size_t size)
{
    out_lock(c);
    if (!out_reserve(c, (size_t)size)) {
        out_unlock(c);
        return -MQ_RC_UNSPECIFIED_ERROR;
    }
    mq_encode(p, c->version, c->out + c->out_len, (size_t)size);
    c->out_len += (uint32_t)size;
    out_commit_unlock(c, (size_t)size);
    return 0;
}

uint8_t *conn_take_output(struct conn *c, size_t *len)
{
    out_lock(c);
    uint8_t *out = c->out;
    *len = c->out_len;
    c->out = NULL;
    c->out_len = c->out_cap = 0;
    c->flush_scheduled = false;
    out_unlock(c);
    return out;
}

void conn_set_identity(struct conn *c, const char *identity)
{
    free(c->username);
    c->username = identity ? strdup(identity) : NULL;
}

void conn_output_queued(struct conn *c, size_t n)
{
    atomic_fetch_add_explicit(&c->write_backlog, n, memory_order_relaxed);
}

void conn_output_written(struct conn *c, size_t n)
{
    atomic_fetch_sub_explicit(&c->write_backlog, n, memory_order_relaxed);
}

static void begin_close(struct conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    c->transport->close(c);
}

void conn_disconnect(struct conn *c, uint8_t reason, const char *reason_string)
{
    if (c->state == CONN_CLOSING)
        return;
    if (c->version == MQ_V5 && c->state == CONN_CONNECTED) {
        struct mq_packet p = {.type = MQ_DISCONNECT, .u.disconnect = {.reason_code = reason}};
        if (reason_string && c->request_problem_info) {
            p.u.disconnect.props.present |= MQ_PROP_BIT(MQ_PROP_REASON_STRING);
            p.u.disconnect.props.reason_string =
                (mq_bytes){(const uint8_t *)reason_string, (uint32_t)strlen(reason_string)};
        }
        conn_send_packet(c, &p);
    }
    c->disconnect_reason = reason;
    log_debug("%s: disconnecting: %s (0x%02x)%s%s", conn_peer(c), mq_reason_code_name(reason),
              reason, reason_string ? ": " : "", reason_string ? reason_string : "");
    begin_close(c);
}

/* The CONNACK for a CONNECT that cannot be decoded, in the protocol level it claimed. */
static void refuse_undecodable_connect(struct conn *c, const struct mq_packet *p, int rc)
{
    uint8_t level = p->u.connect.protocol_version;
    if (rc == -MQ_RC_UNSUPPORTED_PROTOCOL_VERSION) {
        /* Answer in a level the client understands, then close [MQTT-3.1.2-2]. */
        c->version = level >= MQ_V5 ? MQ_V5 : MQ_V311;
        struct mq_packet ack = {.type = MQ_CONNACK};
        ack.u.connack.reason_code = c->version == MQ_V5 ? MQ_RC_UNSUPPORTED_PROTOCOL_VERSION
                                                        : MQ_V3_REFUSED_PROTOCOL_VERSION;
        conn_send_packet(c, &ack);
    } else if (level == MQ_V5) {
        c->version = MQ_V5;
        struct mq_packet ack = {.type = MQ_CONNACK, .u.connack = {.reason_code = (uint8_t)-rc}};
        conn_send_packet(c, &ack);
    }
    log_info("%s: CONNECT refused: %s", conn_peer(c), mq_reason_code_name((unsigned)-rc));
    begin_close(c);
}

static int dispatch(struct conn *c, struct mq_packet *p, uint64_t now_ms)
{
    switch (p->type) {
    case MQ_PUBLISH:
        return handle_publish(c, &p->u.publish, now_ms);
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBCOMP:
        return handle_puback(c, p->type, &p->u.ack, now_ms);
    case MQ_PUBREL:
        return handle_pubrel(c, &p->u.ack, now_ms);
    case MQ_SUBSCRIBE:
        return handle_subscribe(c, &p->u.subscribe, now_ms);
    case MQ_UNSUBSCRIBE:
        return handle_unsubscribe(c, &p->u.subscribe, now_ms);
    case MQ_PINGREQ: {
        struct mq_packet resp = {.type = MQ_PINGRESP};
        conn_send_packet(c, &resp);
        return 0;
    }
    case MQ_DISCONNECT:
        return handle_disconnect(c, &p->u.disconnect, now_ms);
    case MQ_AUTH:
        return enhanced_auth_packet(c, &p->u.disconnect, now_ms);
    default:
        /* A second CONNECT is a protocol error [MQTT-3.1.0-2]. */
        return -MQ_RC_PROTOCOL_ERROR;
    }
}

/* Handles one whole packet. Returns false when the connection is closing. */
static bool handle_packet(struct conn *c, const uint8_t *buf, size_t len, uint64_t now_ms)
{
    struct mq_packet p;
    atomic_fetch_add_explicit(&c->broker->stats.bytes_received, len, memory_order_relaxed);
    if (c->state == CONN_AWAIT_CONNECT && enhanced_auth_pending(c)) {
        /* Between a CONNECT with an Authentication Method and its CONNACK the client answers
         * the server's AUTH with AUTH [MQTT-4.12.0-3]; anything else ends the connection. */
        int rc =
            (buf[0] >> 4) == MQ_AUTH ? mq_decode(buf, len, MQ_V5, true, &p) : -MQ_RC_PROTOCOL_ERROR;
        if (rc == 0) {
            c->last_packet_ms = now_ms;
            rc = enhanced_auth_packet(c, &p.u.disconnect, now_ms);
        }
        if (rc < 0)
            begin_close(c);
        return c->state != CONN_CLOSING;
    }
    if (c->state == CONN_AWAIT_CONNECT) {
        if ((buf[0] >> 4) != MQ_CONNECT) {
            /* The first packet from a client must be CONNECT [MQTT-3.1.0-1]. */
            log_info("%s: first packet is %s, not CONNECT: closing", conn_peer(c),
                     mq_packet_type_name(buf[0] >> 4));
            begin_close(c);
            return false;
        }
        memset(&p, 0, sizeof p);
        int rc = mq_decode(buf, len, 0, true, &p);
        if (rc < 0) {
            refuse_undecodable_connect(c, &p, rc);
            return false;
        }
        c->last_packet_ms = now_ms;
        rc = handle_connect(c, &p.u.connect, (mq_bytes){buf, (uint32_t)len}, now_ms);
        if (rc < 0)
            begin_close(c);
        return c->state != CONN_CLOSING;
    }
    /* A second CONNECT is a protocol error whatever it holds [MQTT-3.1.0-2]; decoding it could
     * give 0x84, which a DISCONNECT may not carry. */
    int rc = (buf[0] >> 4) == MQ_CONNECT ? -MQ_RC_PROTOCOL_ERROR
                                         : mq_decode(buf, len, c->version, true, &p);
    if (rc == 0) {
        c->last_packet_ms = now_ms;
        rc = dispatch(c, &p, now_ms);
    }
    if (rc < 0) {
        conn_disconnect(c, (uint8_t)-rc, NULL);
        return false;
    }
    return c->state != CONN_CLOSING;
}

static uint32_t max_packet_in(const struct conn *c)
{
    return c->broker->config->max_packet_size;
}

/* A client over max_messages_per_second or max_bytes_per_second: its input waits (reading
 * paused, TCP pushes back) until its buckets refill, or it is disconnected with 0x96 where the
 * transport cannot pause. */
static void pause_input(struct conn *c)
{
    if (c->input_paused)
        return;
    if (!c->transport->pause_reading) {
        LIMITS_COUNT(&c->broker->limits, rate_disconnected);
        conn_disconnect(c, MQ_RC_MESSAGE_RATE_TOO_HIGH, "message rate too high");
        return;
    }
    LIMITS_COUNT(&c->broker->limits, rate_throttled);
    c->input_paused = true;
    c->transport->pause_reading(c, true);
}

/* Frames and handles every whole packet in buf; returns bytes consumed. Sets *blocked when it
 * stopped before a packet the rate limits do not admit yet. */
static size_t process(struct conn *c, const uint8_t *buf, size_t len, uint64_t now_ms,
                      bool *blocked)
{
    const struct mq_config *cfg = c->broker->config;
    size_t done = 0;
    *blocked = false;
    while (done < len && c->state != CONN_CLOSING) {
        size_t packet_len;
        int rc = mq_frame(buf + done, len - done, max_packet_in(c), &packet_len);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (rc == -MQ_RC_PACKET_TOO_LARGE)
                LIMITS_COUNT(&c->broker->limits, packets_too_large);
            if (c->state == CONN_AWAIT_CONNECT)
                begin_close(c);
            else
                conn_disconnect(c, (uint8_t)-rc, NULL);
            return len;
        }
        if (c->state == CONN_CONNECTED && limits_rates_on(cfg) &&
            !limits_admit_packet(&c->limits, cfg, (buf[done] >> 4) == MQ_PUBLISH,
                                 (uint32_t)packet_len, (uint32_t)now_ms)) {
            *blocked = true;
            pause_input(c);
            break;
        }
        if (!handle_packet(c, buf + done, packet_len, now_ms))
            return len;
        done += packet_len;
        if (c->held) {
            *blocked = true; /* backpressure: the rest waits until the subscriber drained */
            break;
        }
    }
    return done;
}

/* Appends to the input buffer; false (and closing) when out of memory. */
static bool keep_input(struct conn *c, const uint8_t *data, size_t len)
{
    if (c->in_len + len > c->in_cap) {
        uint64_t cap = c->in_cap ? c->in_cap : 1024;
        while (cap < c->in_len + len)
            cap *= 2;
        uint8_t *in = cap <= UINT32_MAX ? realloc(c->in, cap) : NULL;
        if (!in) {
            begin_close(c);
            return false;
        }
        c->in = in;
        c->in_cap = (uint32_t)cap;
    }
    memcpy(c->in + c->in_len, data, len);
    c->in_len += (uint32_t)len;
    return true;
}

/* Handles what the input buffer holds; returns true when it stopped at a packet the rate
 * limits hold back. The buffer is freed as soon as it is empty. */
static bool process_kept(struct conn *c, uint64_t now_ms)
{
    bool blocked;
    if (c->in_len == 0)
        return false; /* paused with nothing waiting: c->in is NULL */
    size_t used = process(c, c->in, c->in_len, now_ms, &blocked);
    if (c->state == CONN_CLOSING)
        return false;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= (uint32_t)used;
    if (c->in_len == 0) {
        free(c->in);
        c->in = NULL;
        c->in_cap = 0;
    }
    return blocked;
}

void conn_feed(struct conn *c, const uint8_t *data, size_t len, uint64_t now_ms)
{
    if (c->state == CONN_CLOSING || len == 0)
        return;
    if (c->in_len == 0 && !c->input_paused) {
        bool blocked;
        size_t used = process(c, data, len, now_ms, &blocked);
        /* Keep only the rest: a packet's beginning, or packets waiting for a rate limit. */
        if (used < len && c->state != CONN_CLOSING)
            keep_input(c, data + used, len - used);
        return;
    }
    /* While paused, bytes the transport had already read wait behind the others. */
    if (keep_input(c, data, len) && !c->input_paused)
        process_kept(c, now_ms);
}

/* On the tick of a paused connection: handles what waited as far as the buckets allow now,
 * and reads again once nothing waits for them. */
static void resume_input(struct conn *c, uint64_t now_ms)
{
    if (process_kept(c, now_ms) || c->state == CONN_CLOSING)
        return;
    c->input_paused = false;
    c->transport->pause_reading(c, false);
}

/* A subscriber that drains nothing for this long no longer holds its publishers back. */
#define HOLD_STALL_MS 500

void conn_hold_for(struct conn *c, struct session *congested, uint64_t now_ms)
{
    struct worker *w = worker_current();
    /* A client subscribed to its own messages drains its queue only while it is read. */
    if (c->held || !w || !c->transport->pause_reading || c->state == CONN_CLOSING ||
        congested == c->session) {
        session_unref(congested);
        return;
    }
    c->held = true;
    if (!c->input_paused) {
        c->input_paused = true;
        c->transport->pause_reading(c, true);
    }
    atomic_fetch_add_explicit(&c->broker->stats.publishers_held, 1, memory_order_relaxed);
    worker_hold(w, conn_ref(c), congested, now_ms);
}

bool conn_hold_check(struct conn *c, struct session *congested, uint64_t held_since_ms,
                     uint64_t now_ms)
{
    if (c->state != CONN_CLOSING && !session_congestion_eased(congested)) {
        if (now_ms - held_since_ms < HOLD_STALL_MS)
            return false;
        session_mark_stalled(congested);
    }
    session_unref(congested);
    c->held = false;
    if (c->state != CONN_CLOSING)
        resume_input(c, now_ms);
    return true;
}

void conn_tick(struct conn *c, uint64_t now_ms)
{
    if (c->state == CONN_AWAIT_CONNECT) {
        if (now_ms - c->last_packet_ms >= c->broker->config->connect_timeout_ms) {
            LIMITS_COUNT(&c->broker->limits, connect_timeouts);
            log_info("%s: no CONNECT within %u ms: closing", conn_peer(c),
                     c->broker->config->connect_timeout_ms);
            begin_close(c);
        }
    } else if (c->input_paused && !c->held) {
        /* A client held back by a rate limit is sending, not silent: no keep alive check. */
        resume_input(c, now_ms);
    } else if (c->state == CONN_CONNECTED && c->keep_alive_s &&
               now_ms - c->last_packet_ms >= (uint64_t)c->keep_alive_s * 1500u) {
        /* Nothing within one and a half keep alive periods [MQTT-3.1.2-22]. */
        conn_disconnect(c, MQ_RC_KEEP_ALIVE_TIMEOUT, "keep alive timeout");
    }
}

void conn_shutdown(struct conn *c)
{
    if (c->state == CONN_AWAIT_CONNECT)
        begin_close(c);
    else
        conn_disconnect(c, MQ_RC_SERVER_SHUTTING_DOWN, "server shutting down");
}

void conn_kick_now(struct conn *c)
{
    uint8_t reason = atomic_load(&c->kick_reason);
    if (reason)
        conn_disconnect(c, reason, "the server's administrator ended this connection");
    else
        conn_disconnect(c, MQ_RC_SESSION_TAKEN_OVER, "another connection took over the session");
}

void conn_transport_closed(struct conn *c, uint64_t now_ms)
{
    struct broker *b = c->broker;
    bool was_connected = c->session != NULL;
    c->state = CONN_CLOSING;
    enhanced_auth_release(c); /* an exchange's end handler runs on the owner, like its steps */
    if (was_connected) {
        atomic_fetch_sub(&b->stats.connections, 1);
        for (struct handler *h = b->on_disconnect; h; h = h->next) {
            mqttd_client info;
            conn_client_info(c, &info);
            ((mqttd_disconnect_handler)h->fn)(h->user, &info, c->disconnect_reason);
        }
    }
    struct session *s = conn_lock_session(c);
    if (!s)
        return; /* never connected, or taken over: the session is someone else's now */
    s->conn = NULL;
    atomic_store(&s->online, false);
    struct message *will_now = NULL;
    bool end_now = s->expiry_interval_s == 0;
    if (s->will) {
        if (s->will_delay_s == 0 || end_now) {
            will_now = s->will;
            s->will = NULL;
        } else {
            s->will_at_ms = now_ms + (uint64_t)s->will_delay_s * 1000u;
        }
    }
    if (!end_now && s->expiry_interval_s != UINT32_MAX)
        s->expires_at_ms = now_ms + (uint64_t)s->expiry_interval_s * 1000u;
    if (will_now && !end_now && s->stored && b->store)
        store_session_put(b->store, s); /* its will is gone */
    mq_lock_release(&s->lock);
    if (will_now)
        broker_publish_will(b, will_now, now_ms);
    if (end_now)
        broker_session_end(b, s, now_ms);
}
