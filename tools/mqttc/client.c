/*
 * The mqttc client connection (see client.h): socket I/O through two byte buffers, the codec for
 * every packet, and the per-connection protocol state (packet identifiers, both QoS flows, the
 * server's limits, incoming topic aliases, keep-alive).
 */
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bytebuf.h"
#include "net.h"
#include "net_quic.h"
#include "net_tls.h"
#include "net_ws.h"
#include "trace.h"

/* What we wait for on one of our packet identifiers. */
enum outbound_state {
    OUT_FREE = 0,
    OUT_PUBACK,
    OUT_PUBREC,
    OUT_PUBCOMP,
    OUT_SUBACK,
    OUT_UNSUBACK,
};

struct alias_topic {
    char *name; /* owned */
    uint32_t len;
};

struct mqttc_client {
    struct mqttc_callbacks cb;
    int fd;
    struct net_tls *tls; /* NULL on plain TCP */
    struct net_ws *ws;   /* NULL unless ws:// or wss:// (then above tls, if any) */
    uint8_t version;
    bool debug;
    bool in_loop;
    char client_id[256];
    char error[512];

    struct bytebuf in;
    struct bytebuf out;

    struct mqttc_server_info server;
    uint32_t max_incoming_packet; /* our Maximum Packet Size */
    uint16_t our_receive_maximum;
    uint16_t our_topic_alias_maximum;
    struct alias_topic *aliases; /* [1..our_topic_alias_maximum], owned */

    uint8_t outbound[65536]; /* enum outbound_state per packet identifier */
    uint16_t next_packet_id;
    unsigned ids_in_use;
    unsigned inflight;
    uint8_t inbound_qos2[65536 / 8]; /* bit set: PUBREC sent, PUBREL not yet received */
    unsigned inbound_qos2_count;

    int64_t last_sent_ms;
    int64_t ping_sent_ms; /* 0: no PINGREQ outstanding */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fail(struct mqttc_client *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
    return rc;
}

static mq_bytes cstr_bytes(const char *s)
{
    mq_bytes b = {(const uint8_t *)s, s ? (uint32_t)strlen(s) : 0};
    return b;
}

static const char *const v3_connack_text[] = {
    "Connection Accepted", "Unacceptable protocol version", "Identifier rejected",
    "Server unavailable",  "Bad user name or password",     "Not authorized",
};

const char *mqttc_reason_text(uint8_t version, bool connack, uint8_t code)
{
    if (connack && version != MQ_V5)
        return code < sizeof v3_connack_text / sizeof v3_connack_text[0] ? v3_connack_text[code]
                                                                         : "Unknown return code";
    const char *name = mq_reason_code_name(code);
    return name ? name : "Unknown reason code";
}

struct mqttc_client *mqttc_client_new(const struct mqttc_callbacks *cb)
{
    struct mqttc_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (cb)
        c->cb = *cb;
    c->fd = -1;
    c->next_packet_id = 1;
    return c;
}

/* Writes as much of the output buffer as the socket takes now. */
static int flush_some(struct mqttc_client *c)
{
    while (bytebuf_len(&c->out) > 0) {
        const uint8_t *head = c->out.data + c->out.start;
        ssize_t n = c->ws    ? net_ws_write(c->ws, head, bytebuf_len(&c->out))
                    : c->tls ? net_tls_write(c->tls, head, bytebuf_len(&c->out))
                             : write(c->fd, head, bytebuf_len(&c->out));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return fail(c, -ECONNRESET, "Connection lost: %s", strerror(errno));
        }
        bytebuf_consume(&c->out, (size_t)n);
    }
    return 0;
}

static int send_packet(struct mqttc_client *c, const struct mq_packet *pkt)
{
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "Not connected");
    long size = mq_encode(pkt, c->version, NULL, 0);
    if (size < 0)
        return fail(c, -EINVAL, "Cannot encode %s: %s", mq_packet_type_name(pkt->type),
                    mqttc_reason_text(c->version, false, (uint8_t)-size));
    if (c->server.maximum_packet_size && (unsigned long)size > c->server.maximum_packet_size)
        return fail(c, -EMSGSIZE, "%s of %ld bytes is over the server's Maximum Packet Size %u",
                    mq_packet_type_name(pkt->type), size, c->server.maximum_packet_size);
    if (bytebuf_reserve(&c->out, (size_t)size) < 0)
        return fail(c, -ENOMEM, "Out of memory");
    mq_encode(pkt, c->version, c->out.data + c->out.end, (size_t)size);
    c->out.end += (size_t)size;
    c->last_sent_ms = now_ms();
    if (c->debug)
        trace_packet(c->client_id, true, pkt);
    return flush_some(c);
}

static int send_ack(struct mqttc_client *c, uint8_t type, uint16_t packet_id, uint8_t reason)
{
    struct mq_packet p = {.type = type};
    p.u.ack.packet_id = packet_id;
    p.u.ack.reason_code = reason;
    return send_packet(c, &p);
}

/* Tells the server why we are leaving (v5 only) and marks the connection over. */
static int protocol_error(struct mqttc_client *c, uint8_t reason, const char *what)
{
    if (c->version == MQ_V5) {
        struct mq_packet p = {.type = MQ_DISCONNECT};
        p.u.disconnect.reason_code = reason;
        send_packet(c, &p);
    }
    return fail(c, -EPROTO, "Protocol error: %s: %s (0x%02x)", what,
                mqttc_reason_text(c->version, false, reason), reason);
}

static uint16_t take_packet_id(struct mqttc_client *c, enum outbound_state state)
{
    while (c->outbound[c->next_packet_id] != OUT_FREE || c->next_packet_id == 0)
        c->next_packet_id++;
    uint16_t id = c->next_packet_id++;
    c->outbound[id] = (uint8_t)state;
    c->ids_in_use++;
    return id;
}

static void release_packet_id(struct mqttc_client *c, uint16_t id)
{
    c->outbound[id] = OUT_FREE;
    c->ids_in_use--;
}

/* take_packet_id must never be called then: it would search forever. */
static bool all_packet_ids_taken(const struct mqttc_client *c)
{
    return c->ids_in_use >= 65535u;
}

static int resolve_topic_alias(struct mqttc_client *c, struct mq_publish *p)
{
    if (!(p->props.present & MQ_PROP_BIT(MQ_PROP_TOPIC_ALIAS))) {
        if (p->topic.len == 0)
            return protocol_error(c, MQ_RC_PROTOCOL_ERROR, "PUBLISH with no topic and no alias");
        return 0;
    }
    uint16_t alias = p->props.topic_alias;
    if (alias == 0 || alias > c->our_topic_alias_maximum)
        return protocol_error(c, MQ_RC_TOPIC_ALIAS_INVALID, "topic alias out of range");
    struct alias_topic *a = &c->aliases[alias];
    if (p->topic.len > 0) {
        char *name = malloc(p->topic.len);
        if (!name)
            return fail(c, -ENOMEM, "Out of memory");
        memcpy(name, p->topic.data, p->topic.len);
        free(a->name);
        a->name = name;
        a->len = p->topic.len;
        return 0;
    }
    if (!a->name)
        return protocol_error(c, MQ_RC_PROTOCOL_ERROR, "unknown topic alias");
    p->topic.data = (const uint8_t *)a->name;
    p->topic.len = a->len;
    return 0;
}

static void deliver(struct mqttc_client *c, const struct mq_publish *p)
{
    if (!c->cb.on_message)
        return;
    struct mqttc_message m = {
        .topic = p->topic,
        .payload = p->payload,
        .qos = p->qos,
        .retain = p->retain,
        .dup = p->dup,
        .packet_id = p->packet_id,
        .props = &p->props,
    };
    c->cb.on_message(c->cb.user, &m);
}

static int handle_publish(struct mqttc_client *c, struct mq_publish *p)
{
    if (c->version == MQ_V5) {
        int rc = resolve_topic_alias(c, p);
        if (rc < 0)
            return rc;
    }
    if (p->qos == 0) {
        deliver(c, p);
        return 0;
    }
    if (p->qos == 1) {
        deliver(c, p);
        return send_ack(c, MQ_PUBACK, p->packet_id, MQ_RC_SUCCESS);
    }
    /* QoS 2, delivered on PUBLISH and remembered until PUBREL so a resend is not delivered
     * twice [MQTT-4.3.3-9]. */
    uint8_t bit = (uint8_t)(1u << (p->packet_id & 7));
    uint8_t *slot = &c->inbound_qos2[p->packet_id >> 3];
    if (!(*slot & bit)) {
        if (c->inbound_qos2_count >= c->our_receive_maximum)
            return protocol_error(c, MQ_RC_RECEIVE_MAXIMUM_EXCEEDED, "too many QoS 2 in flight");
        *slot |= bit;
        c->inbound_qos2_count++;
        deliver(c, p);
    }
    return send_ack(c, MQ_PUBREC, p->packet_id, MQ_RC_SUCCESS);
}

static int handle_pubrel(struct mqttc_client *c, const struct mq_ack *a)
{
    uint8_t bit = (uint8_t)(1u << (a->packet_id & 7));
    uint8_t *slot = &c->inbound_qos2[a->packet_id >> 3];
    uint8_t reason = MQ_RC_PACKET_IDENTIFIER_NOT_FOUND;
    if (*slot & bit) {
        *slot &= (uint8_t)~bit;
        c->inbound_qos2_count--;
        reason = MQ_RC_SUCCESS;
    }
    return send_ack(c, MQ_PUBCOMP, a->packet_id, reason);
}

static void finish_publish(struct mqttc_client *c, uint16_t packet_id, uint8_t reason)
{
    release_packet_id(c, packet_id);
    c->inflight--;
    if (c->cb.on_publish_done)
        c->cb.on_publish_done(c->cb.user, packet_id, reason);
}

/* Acknowledgements of our own packets; one for a packet id we do not wait on is ignored. */
static int handle_ack(struct mqttc_client *c, uint8_t type, const struct mq_ack *a)
{
    uint8_t state = c->outbound[a->packet_id];
    if (type == MQ_PUBACK && state == OUT_PUBACK) {
        finish_publish(c, a->packet_id, a->reason_code);
    } else if (type == MQ_PUBREC && state == OUT_PUBREC) {
        if (a->reason_code >= 0x80) {
            finish_publish(c, a->packet_id, a->reason_code);
            return 0;
        }
        c->outbound[a->packet_id] = OUT_PUBCOMP;
        return send_ack(c, MQ_PUBREL, a->packet_id, MQ_RC_SUCCESS);
    } else if (type == MQ_PUBREC && state == OUT_PUBCOMP) {
        return send_ack(c, MQ_PUBREL, a->packet_id, MQ_RC_SUCCESS);
    } else if (type == MQ_PUBREC) {
        return send_ack(c, MQ_PUBREL, a->packet_id, MQ_RC_PACKET_IDENTIFIER_NOT_FOUND);
    } else if (type == MQ_PUBCOMP && state == OUT_PUBCOMP) {
        finish_publish(c, a->packet_id, a->reason_code);
    }
    return 0;
}

static int handle_suback(struct mqttc_client *c, uint8_t type, const struct mq_suback *s)
{
    bool unsubscribe = type == MQ_UNSUBACK;
    if (c->outbound[s->packet_id] != (unsubscribe ? OUT_UNSUBACK : OUT_SUBACK))
        return 0;
    release_packet_id(c, s->packet_id);
    if (c->cb.on_suback)
        c->cb.on_suback(c->cb.user, unsubscribe, s->packet_id, s->reason_codes,
                        s->reason_code_count);
    return 0;
}

static int handle_disconnect(struct mqttc_client *c, const struct mq_disconnect *d)
{
    const mq_props *p = &d->props;
    if (p->present & MQ_PROP_BIT(MQ_PROP_REASON_STRING))
        return fail(c, -ECONNRESET, "Disconnected by server: %s (0x%02x): %.*s",
                    mqttc_reason_text(c->version, false, d->reason_code), d->reason_code,
                    (int)p->reason_string.len, (const char *)p->reason_string.data);
    return fail(c, -ECONNRESET, "Disconnected by server: %s (0x%02x)",
                mqttc_reason_text(c->version, false, d->reason_code), d->reason_code);
}

static int handle_connack(struct mqttc_client *c, const struct mq_connack *a)
{
    if (a->reason_code != 0) {
        const mq_props *p = &a->props;
        if (p->present & MQ_PROP_BIT(MQ_PROP_REASON_STRING))
            return fail(c, -ECONNREFUSED, "Connection error: %s (0x%02x): %.*s",
                        mqttc_reason_text(c->version, true, a->reason_code), a->reason_code,
                        (int)p->reason_string.len, (const char *)p->reason_string.data);
        return fail(c, -ECONNREFUSED, "Connection error: %s (0x%02x)",
                    mqttc_reason_text(c->version, true, a->reason_code), a->reason_code);
    }
    struct mqttc_server_info *s = &c->server;
    const mq_props *p = &a->props;
    s->session_present = a->session_present;
    s->receive_maximum = 65535;
    s->maximum_qos = 2;
    s->retain_available = true;
    if (p->present & MQ_PROP_BIT(MQ_PROP_RECEIVE_MAXIMUM))
        s->receive_maximum = p->receive_maximum;
    if (p->present & MQ_PROP_BIT(MQ_PROP_MAXIMUM_QOS))
        s->maximum_qos = p->maximum_qos;
    if (p->present & MQ_PROP_BIT(MQ_PROP_RETAIN_AVAILABLE))
        s->retain_available = p->retain_available;
    if (p->present & MQ_PROP_BIT(MQ_PROP_MAXIMUM_PACKET_SIZE))
        s->maximum_packet_size = p->maximum_packet_size;
    if (p->present & MQ_PROP_BIT(MQ_PROP_TOPIC_ALIAS_MAXIMUM))
        s->topic_alias_maximum = p->topic_alias_maximum;
    if (p->present & MQ_PROP_BIT(MQ_PROP_SERVER_KEEP_ALIVE))
        s->keep_alive = p->server_keep_alive;
    if (p->present & MQ_PROP_BIT(MQ_PROP_ASSIGNED_CLIENT_IDENTIFIER)) {
        uint32_t len = p->assigned_client_identifier.len;
        if (len >= sizeof c->client_id)
            len = sizeof c->client_id - 1;
        memcpy(c->client_id, p->assigned_client_identifier.data, len);
        c->client_id[len] = '\0';
    }
    return 0;
}

static int handle_packet(struct mqttc_client *c, struct mq_packet *pkt, bool *connack_seen)
{
    /* CONNACK is traced after handling so the line names an assigned client identifier. */
    if (c->debug && pkt->type != MQ_CONNACK)
        trace_packet(c->client_id, false, pkt);
    if (!*connack_seen && pkt->type != MQ_CONNACK)
        return protocol_error(c, MQ_RC_PROTOCOL_ERROR, "first packet is not CONNACK");
    switch (pkt->type) {
    case MQ_CONNACK: {
        if (*connack_seen)
            return protocol_error(c, MQ_RC_PROTOCOL_ERROR, "second CONNACK");
        *connack_seen = true;
        int rc = handle_connack(c, &pkt->u.connack);
        if (c->debug)
            trace_packet(c->client_id, false, pkt);
        return rc;
    }
    case MQ_PUBLISH:
        return handle_publish(c, &pkt->u.publish);
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBCOMP:
        return handle_ack(c, pkt->type, &pkt->u.ack);
    case MQ_PUBREL:
        return handle_pubrel(c, &pkt->u.ack);
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        return handle_suback(c, pkt->type, &pkt->u.suback);
    case MQ_PINGRESP:
        c->ping_sent_ms = 0;
        return 0;
    case MQ_DISCONNECT:
        return handle_disconnect(c, &pkt->u.disconnect);
    default:
        return protocol_error(c, MQ_RC_PROTOCOL_ERROR, "unexpected packet");
    }
}

/* Reads what the socket has; returns 0, or -ECONNRESET when the server closed it. */
static int read_available(struct mqttc_client *c)
{
    for (;;) {
        if (bytebuf_reserve(&c->in, 16384) < 0)
            return fail(c, -ENOMEM, "Out of memory");
        uint8_t *tail = c->in.data + c->in.end;
        size_t room = c->in.cap - c->in.end;
        ssize_t n = c->ws    ? net_ws_read(c->ws, tail, room)
                    : c->tls ? net_tls_read(c->tls, tail, room)
                             : read(c->fd, tail, room);
        if (n > 0) {
            c->in.end += (size_t)n;
            continue;
        }
        if (n == 0)
            return fail(c, -ECONNRESET, "Connection closed by the server");
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return fail(c, -ECONNRESET, "Connection lost: %s", strerror(errno));
    }
}

/* Handles every whole packet in the input buffer. */
static int process_input(struct mqttc_client *c, bool *connack_seen)
{
    for (;;) {
        size_t packet_len = 0;
        const uint8_t *start = c->in.data + c->in.start;
        int rc = mq_frame(start, bytebuf_len(&c->in), c->max_incoming_packet, &packet_len);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return protocol_error(c, (uint8_t)-rc, "bad packet from server");
        struct mq_packet pkt;
        rc = mq_decode(start, packet_len, c->version, false, &pkt);
        if (rc < 0)
            return protocol_error(c, (uint8_t)-rc, "bad packet from server");
        rc = handle_packet(c, &pkt, connack_seen);
        bytebuf_consume(&c->in, packet_len);
        if (rc < 0)
            return rc;
    }
}

static int keep_alive_due_ms(const struct mqttc_client *c)
{
    if (c->server.keep_alive == 0)
        return -1;
    int64_t period = (int64_t)c->server.keep_alive * 1000;
    int64_t due = c->ping_sent_ms ? c->ping_sent_ms + period : c->last_sent_ms + period;
    int64_t left = due - now_ms();
    return left < 0 ? 0 : (int)(left > 1000000 ? 1000000 : left);
}

static int keep_alive(struct mqttc_client *c)
{
    if (c->server.keep_alive == 0 || keep_alive_due_ms(c) > 0)
        return 0;
    if (c->ping_sent_ms)
        return fail(c, -ETIMEDOUT, "No PINGRESP from the server within the keep-alive");
    struct mq_packet p = {.type = MQ_PINGREQ};
    int rc = send_packet(c, &p);
    c->ping_sent_ms = now_ms();
    return rc;
}

static int loop_once(struct mqttc_client *c, int timeout_ms, bool *connack_seen)
{
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "Not connected");
    struct pollfd pfd;
    int ka = mqttc_client_pollfd(c, &pfd);
    if (ka >= 0 && (timeout_ms < 0 || ka < timeout_ms))
        timeout_ms = ka;
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0 && errno != EINTR)
        return fail(c, -EIO, "poll: %s", strerror(errno));
    int rc = 0;
    if (n > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
        rc = read_available(c);
        /* Packets that arrived before a close still count (e.g. a DISCONNECT's reason). */
        int prc = process_input(c, connack_seen);
        if (prc < 0)
            return prc;
        if (rc < 0)
            return rc;
    }
    rc = flush_some(c);
    if (rc < 0)
        return rc;
    return keep_alive(c);
}

int mqttc_client_loop(struct mqttc_client *c, int timeout_ms)
{
    if (c->in_loop)
        return fail(c, -EBUSY, "mqttc_client_loop called from a callback");
    c->in_loop = true;
    bool connack_seen = true;
    int rc = loop_once(c, timeout_ms, &connack_seen);
    c->in_loop = false;
    return rc;
}

int mqttc_client_pollfd(const struct mqttc_client *c, struct pollfd *pfd)
{
    pfd->fd = c->fd;
    pfd->events = POLLIN;
    pfd->revents = 0;
    if (bytebuf_len(&c->out) > 0)
        pfd->events |= POLLOUT;
    return keep_alive_due_ms(c);
}

static void fill_connect(const struct mqttc_connect_options *o, struct mq_connect *cn)
{
    cn->protocol_version = o->version;
    cn->clean_start = o->clean_start;
    cn->keep_alive = o->keep_alive;
    cn->props = o->props;
    cn->client_id = cstr_bytes(o->client_id);
    if (o->will.topic) {
        cn->will_flag = true;
        cn->will_qos = o->will.qos;
        cn->will_retain = o->will.retain;
        cn->will_props = o->will.props;
        cn->will_topic = cstr_bytes(o->will.topic);
        cn->will_payload.data = o->will.payload;
        cn->will_payload.len = (uint32_t)o->will.payload_len;
    }
    if (o->username) {
        cn->username_flag = true;
        cn->username = cstr_bytes(o->username);
    }
    if (o->password) {
        cn->password_flag = true;
        cn->password = cstr_bytes(o->password);
    }
}

/* A new connection starts with nothing in flight and no aliases: a resumed session's
 * unacknowledged packets are not resent by this client. */
static void reset_state(struct mqttc_client *c)
{
    if (c->aliases)
        for (uint32_t i = 0; i <= c->our_topic_alias_maximum; i++)
            free(c->aliases[i].name);
    free(c->aliases);
    c->aliases = NULL;
    bytebuf_consume(&c->in, bytebuf_len(&c->in));
    bytebuf_consume(&c->out, bytebuf_len(&c->out));
    memset(&c->server, 0, sizeof c->server);
    memset(c->outbound, 0, sizeof c->outbound);
    memset(c->inbound_qos2, 0, sizeof c->inbound_qos2);
    c->ids_in_use = 0;
    c->inflight = 0;
    c->inbound_qos2_count = 0;
    c->ping_sent_ms = 0;
}

/* Our own limits from the CONNECT properties: what the server must respect towards us. */
static int apply_own_limits(struct mqttc_client *c, const mq_props *p)
{
    c->max_incoming_packet = MQ_MAX_PACKET_SIZE;
    c->our_receive_maximum = 65535;
    c->our_topic_alias_maximum = 0;
    if (c->version != MQ_V5)
        return 0;
    if (p->present & MQ_PROP_BIT(MQ_PROP_MAXIMUM_PACKET_SIZE) && p->maximum_packet_size)
        c->max_incoming_packet = p->maximum_packet_size;
    if (p->present & MQ_PROP_BIT(MQ_PROP_RECEIVE_MAXIMUM) && p->receive_maximum)
        c->our_receive_maximum = p->receive_maximum;
    if (p->present & MQ_PROP_BIT(MQ_PROP_TOPIC_ALIAS_MAXIMUM) && p->topic_alias_maximum) {
        c->our_topic_alias_maximum = p->topic_alias_maximum;
        c->aliases = calloc((size_t)p->topic_alias_maximum + 1, sizeof *c->aliases);
        if (!c->aliases)
            return fail(c, -ENOMEM, "Out of memory");
    }
    return 0;
}

int mqttc_client_connect(struct mqttc_client *c, const struct mqttc_connect_options *o)
{
    if (c->fd >= 0)
        return fail(c, -EISCONN, "Already connected");
    c->version = o->version;
    c->debug = o->debug;
    snprintf(c->client_id, sizeof c->client_id, "%s", o->client_id ? o->client_id : "");
    reset_state(c);
    int rc = apply_own_limits(c, &o->props);
    if (rc < 0)
        return rc;
    c->fd = o->quic ? net_quic_connect(o->host, o->port, o->quic, o->timeout_ms, NULL, c->error,
                                       sizeof c->error)
                    : net_connect(o->host, o->port, o->timeout_ms, c->error, sizeof c->error);
    if (c->fd < 0)
        return -ECONNREFUSED;
    if (o->tls && net_tls_start(c->fd, o->host, o->tls, o->timeout_ms, &c->tls, c->error,
                                sizeof c->error) < 0) {
        close(c->fd);
        c->fd = -1;
        return -ECONNREFUSED;
    }
    if (o->ws_path && net_ws_start(c->fd, c->tls, o->host, o->port, o->ws_path, o->timeout_ms,
                                   &c->ws, c->error, sizeof c->error) < 0) {
        net_tls_close(c->tls);
        c->tls = NULL;
        close(c->fd);
        c->fd = -1;
        return -ECONNREFUSED;
    }
    c->server.keep_alive = o->keep_alive;

    struct mq_packet p = {.type = MQ_CONNECT};
    fill_connect(o, &p.u.connect);
    rc = send_packet(c, &p);
    if (rc < 0)
        return rc;

    int64_t deadline = now_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 30000);
    bool connack_seen = false;
    c->in_loop = true;
    while (!connack_seen && rc == 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            rc = fail(c, -ETIMEDOUT, "Connection error: no CONNACK from the server");
            break;
        }
        rc = loop_once(c, (int)left, &connack_seen);
    }
    c->in_loop = false;
    /* Keep-alive counts from CONNACK on, with the Server Keep Alive if the server set one. */
    c->last_sent_ms = now_ms();
    return rc;
}

int mqttc_client_publish(struct mqttc_client *c, const char *topic, const void *payload,
                         size_t payload_len, uint8_t qos, bool retain, const mq_props *props,
                         uint16_t *packet_id)
{
    if (qos > 2)
        return fail(c, -EINVAL, "QoS %u does not exist", qos);
    if (qos > c->server.maximum_qos)
        return fail(c, -EINVAL, "The server supports QoS up to %u only", c->server.maximum_qos);
    if (retain && !c->server.retain_available)
        return fail(c, -EINVAL, "The server does not support retained messages");
    if (props && (props->present & MQ_PROP_BIT(MQ_PROP_TOPIC_ALIAS)) &&
        props->topic_alias > c->server.topic_alias_maximum)
        return fail(c, -EINVAL, "Topic Alias %u is over the server's Topic Alias Maximum %u",
                    props->topic_alias, c->server.topic_alias_maximum);
    if (payload_len > MQ_MAX_REMAINING_LENGTH)
        return fail(c, -EMSGSIZE, "Payload too large");
    if (qos > 0 && (c->inflight >= c->server.receive_maximum || all_packet_ids_taken(c)))
        return fail(c, -EAGAIN, "Receive Maximum reached");

    struct mq_packet p = {.type = MQ_PUBLISH};
    struct mq_publish *pub = &p.u.publish;
    pub->qos = qos;
    pub->retain = retain;
    pub->topic = cstr_bytes(topic);
    pub->payload.data = payload;
    pub->payload.len = (uint32_t)payload_len;
    if (props)
        pub->props = *props;
    if (qos > 0)
        pub->packet_id = take_packet_id(c, qos == 1 ? OUT_PUBACK : OUT_PUBREC);
    int rc = send_packet(c, &p);
    if (rc < 0 && rc != -ECONNRESET) {
        /* Nothing went out: give the identifier back. */
        if (qos > 0)
            release_packet_id(c, pub->packet_id);
        return rc;
    }
    if (qos > 0) {
        c->inflight++;
        if (packet_id)
            *packet_id = pub->packet_id;
    }
    return rc;
}

static int send_subscribe(struct mqttc_client *c, uint8_t type, const mq_topic_request *entries,
                          uint32_t count, const mq_props *props, uint16_t *packet_id)
{
    if (count == 0)
        return fail(c, -EINVAL, "No topic filter given");
    if (all_packet_ids_taken(c))
        return fail(c, -EAGAIN, "No packet identifier free");
    struct mq_packet p = {.type = type};
    struct mq_subscribe *s = &p.u.subscribe;
    s->entries = entries;
    s->entries_len = count;
    if (props)
        s->props = *props;
    s->packet_id = take_packet_id(c, type == MQ_SUBSCRIBE ? OUT_SUBACK : OUT_UNSUBACK);
    int rc = send_packet(c, &p);
    if (rc < 0 && rc != -ECONNRESET) {
        release_packet_id(c, s->packet_id);
        return rc;
    }
    if (packet_id)
        *packet_id = s->packet_id;
    return rc;
}

int mqttc_client_subscribe(struct mqttc_client *c, const mq_topic_request *entries, uint32_t count,
                           const mq_props *props, uint16_t *packet_id)
{
    return send_subscribe(c, MQ_SUBSCRIBE, entries, count, props, packet_id);
}

int mqttc_client_unsubscribe(struct mqttc_client *c, const mq_topic_request *entries,
                             uint32_t count, const mq_props *props, uint16_t *packet_id)
{
    return send_subscribe(c, MQ_UNSUBSCRIBE, entries, count, props, packet_id);
}

unsigned mqttc_client_inflight(const struct mqttc_client *c)
{
    return c->inflight;
}

unsigned mqttc_client_inbound_pending(const struct mqttc_client *c)
{
    return c->inbound_qos2_count;
}

int mqttc_client_disconnect(struct mqttc_client *c, uint8_t reason_code, const mq_props *props,
                            int timeout_ms)
{
    if (c->fd < 0)
        return fail(c, -ENOTCONN, "Not connected");
    struct mq_packet p = {.type = MQ_DISCONNECT};
    p.u.disconnect.reason_code = reason_code;
    if (props)
        p.u.disconnect.props = *props;
    int rc = send_packet(c, &p);
    int64_t deadline = now_ms() + timeout_ms;
    while (rc == 0 && bytebuf_len(&c->out) > 0) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            rc = fail(c, -ETIMEDOUT, "DISCONNECT not written in time");
            break;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
            rc = fail(c, -EIO, "poll: %s", strerror(errno));
        else
            rc = flush_some(c);
    }
    net_ws_close(c->ws);
    c->ws = NULL;
    net_tls_close(c->tls);
    c->tls = NULL;
    close(c->fd);
    c->fd = -1;
    return rc;
}

const char *mqttc_client_id(const struct mqttc_client *c)
{
    return c->client_id;
}

const struct mqttc_server_info *mqttc_client_server(const struct mqttc_client *c)
{
    return &c->server;
}

const char *mqttc_client_error(const struct mqttc_client *c)
{
    return c->error;
}

void mqttc_client_free(struct mqttc_client *c)
{
    if (!c)
        return;
    net_ws_close(c->ws);
    net_tls_close(c->tls);
    if (c->fd >= 0)
        close(c->fd);
    reset_state(c);
    bytebuf_free(&c->in);
    bytebuf_free(&c->out);
    free(c);
}
