/*
 * Fuzz target for the wire codec. The first input byte picks the protocol level (3, 4 or 5) and
 * the direction (client to server or the reverse); the rest is fed to mq_frame and mq_decode.
 * Whatever decodes must survive decode -> encode -> decode unchanged: the second decode has to
 * succeed, give the same packet, and encoding it again has to give the same bytes. A packet the
 * decoder accepts but the encoder cannot write back, or writes back differently, is a codec bug
 * (a forwarded message would be corrupted), so it aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

/* Repeatable properties and SUBSCRIBE entries in a decoded packet's wire bytes, copied into
 * the arrays the encoder reads. Bounded by the input: each takes at least 2 bytes. */
struct encodable {
    mq_user_property users[2][4096];
    uint32_t sub_ids[2048];
    mq_topic_request entries[8192];
};

static struct encodable scratch[2];

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "codec round trip: %s\n", what);
        abort();
    }
}

static int bytes_eq(mq_bytes a, mq_bytes b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* Makes decoded properties encodable: the repeatable ones move from the wire view to arrays. */
static void props_prepare(mq_props *p, mq_user_property *users, size_t users_cap, uint32_t *ids,
                          size_t ids_cap)
{
    uint32_t cursor = 0, n = 0;
    mq_user_property u;
    while (mq_props_next_user_property(p, &cursor, &u)) {
        check(n < users_cap, "more user properties than the input can hold");
        users[n++] = u;
    }
    check(n == p->user_property_count, "user property count differs from the iteration");
    p->user_properties = users;
    p->user_properties_len = n;
    cursor = n = 0;
    uint32_t id;
    while (mq_props_next_subscription_id(p, &cursor, &id)) {
        check(n < ids_cap, "more subscription identifiers than the input can hold");
        ids[n++] = id;
    }
    check(n == p->subscription_id_count, "subscription id count differs from the iteration");
    p->subscription_ids = ids;
    p->subscription_ids_len = n;
    p->present &= ~MQ_PROP_BIT(MQ_PROP_SUBSCRIPTION_IDENTIFIER);
    p->forward = (mq_bytes){NULL, 0};
}

static void props_equal(const mq_props *a, const mq_props *b)
{
    check(a->present == b->present, "property set changed");
    check(a->payload_format_indicator == b->payload_format_indicator, "payload format");
    check(a->message_expiry_interval == b->message_expiry_interval, "message expiry");
    check(bytes_eq(a->content_type, b->content_type), "content type");
    check(bytes_eq(a->response_topic, b->response_topic), "response topic");
    check(bytes_eq(a->correlation_data, b->correlation_data), "correlation data");
    check(a->session_expiry_interval == b->session_expiry_interval, "session expiry");
    check(bytes_eq(a->assigned_client_identifier, b->assigned_client_identifier), "assigned id");
    check(a->server_keep_alive == b->server_keep_alive, "server keep alive");
    check(bytes_eq(a->authentication_method, b->authentication_method), "auth method");
    check(bytes_eq(a->authentication_data, b->authentication_data), "auth data");
    check(a->request_problem_information == b->request_problem_information, "problem info");
    check(a->will_delay_interval == b->will_delay_interval, "will delay");
    check(a->request_response_information == b->request_response_information, "resp info req");
    check(bytes_eq(a->response_information, b->response_information), "response information");
    check(bytes_eq(a->server_reference, b->server_reference), "server reference");
    check(bytes_eq(a->reason_string, b->reason_string), "reason string");
    check(a->receive_maximum == b->receive_maximum, "receive maximum");
    check(a->topic_alias_maximum == b->topic_alias_maximum, "topic alias maximum");
    check(a->topic_alias == b->topic_alias, "topic alias");
    check(a->maximum_qos == b->maximum_qos, "maximum qos");
    check(a->retain_available == b->retain_available, "retain available");
    check(a->maximum_packet_size == b->maximum_packet_size, "maximum packet size");
    check(a->wildcard_subscription_available == b->wildcard_subscription_available, "wildcard");
    check(a->subscription_identifier_available == b->subscription_identifier_available, "sid av");
    check(a->shared_subscription_available == b->shared_subscription_available, "shared av");
    check(a->user_property_count == b->user_property_count, "user property count");
    check(a->subscription_id_count == b->subscription_id_count, "subscription id count");
    uint32_t ca = 0, cb = 0;
    mq_user_property ua, ub;
    while (mq_props_next_user_property(a, &ca, &ua)) {
        check(mq_props_next_user_property(b, &cb, &ub), "user property lost");
        check(bytes_eq(ua.key, ub.key) && bytes_eq(ua.value, ub.value), "user property changed");
    }
    ca = cb = 0;
    uint32_t ia, ib;
    while (mq_props_next_subscription_id(a, &ca, &ia)) {
        check(mq_props_next_subscription_id(b, &cb, &ib), "subscription id lost");
        check(ia == ib, "subscription id changed");
    }
}

/* Turns a decoded packet into one the encoder can write, using the arrays in *e. */
static void prepare(struct mq_packet *p, struct encodable *e)
{
    switch (p->type) {
    case MQ_CONNECT:
        props_prepare(&p->u.connect.props, e->users[0], 4096, e->sub_ids, 2048);
        props_prepare(&p->u.connect.will_props, e->users[1], 4096, e->sub_ids, 2048);
        break;
    case MQ_CONNACK:
        props_prepare(&p->u.connack.props, e->users[0], 4096, e->sub_ids, 2048);
        break;
    case MQ_PUBLISH:
        props_prepare(&p->u.publish.props, e->users[0], 4096, e->sub_ids, 2048);
        break;
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        props_prepare(&p->u.ack.props, e->users[0], 4096, e->sub_ids, 2048);
        break;
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE: {
        struct mq_subscribe *s = &p->u.subscribe;
        props_prepare(&s->props, e->users[0], 4096, e->sub_ids, 2048);
        uint32_t cursor = 0, n = 0;
        mq_topic_request r = {{NULL, 0}, 0};
        if (p->type == MQ_SUBSCRIBE) {
            while (mq_subscribe_next(s, &cursor, &r)) {
                check(n < 8192, "more filters than the input can hold");
                e->entries[n++] = r;
            }
        } else {
            while (mq_unsubscribe_next(s, &cursor, &r.filter)) {
                check(n < 8192, "more filters than the input can hold");
                e->entries[n++] = r;
            }
        }
        check(n == s->entry_count, "entry count differs from the iteration");
        s->entries = e->entries;
        s->entries_len = n;
        break;
    }
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        props_prepare(&p->u.suback.props, e->users[0], 4096, e->sub_ids, 2048);
        break;
    case MQ_DISCONNECT:
    case MQ_AUTH:
        props_prepare(&p->u.disconnect.props, e->users[0], 4096, e->sub_ids, 2048);
        break;
    default:
        break;
    }
}

static void connect_equal(const struct mq_connect *a, const struct mq_connect *b)
{
    check(a->protocol_version == b->protocol_version, "protocol version");
    check(a->clean_start == b->clean_start && a->keep_alive == b->keep_alive, "connect flags");
    check(bytes_eq(a->client_id, b->client_id), "client id");
    check(a->will_flag == b->will_flag && a->username_flag == b->username_flag &&
              a->password_flag == b->password_flag,
          "connect flags");
    props_equal(&a->props, &b->props);
    if (a->will_flag) {
        check(a->will_qos == b->will_qos && a->will_retain == b->will_retain, "will flags");
        check(bytes_eq(a->will_topic, b->will_topic), "will topic");
        check(bytes_eq(a->will_payload, b->will_payload), "will payload");
        props_equal(&a->will_props, &b->will_props);
    }
    if (a->username_flag)
        check(bytes_eq(a->username, b->username), "username");
    if (a->password_flag)
        check(bytes_eq(a->password, b->password), "password");
}

static void packet_equal(const struct mq_packet *a, const struct mq_packet *b)
{
    check(a->type == b->type, "type");
    switch (a->type) {
    case MQ_CONNECT:
        connect_equal(&a->u.connect, &b->u.connect);
        break;
    case MQ_CONNACK:
        check(a->u.connack.session_present == b->u.connack.session_present, "session present");
        check(a->u.connack.reason_code == b->u.connack.reason_code, "connack code");
        props_equal(&a->u.connack.props, &b->u.connack.props);
        break;
    case MQ_PUBLISH: {
        const struct mq_publish *x = &a->u.publish, *y = &b->u.publish;
        check(a->flags == b->flags, "publish flags");
        check(bytes_eq(x->topic, y->topic), "topic");
        check(bytes_eq(x->payload, y->payload), "payload");
        check(x->qos == 0 || x->packet_id == y->packet_id, "packet id");
        props_equal(&x->props, &y->props);
        break;
    }
    case MQ_PUBACK:
    case MQ_PUBREC:
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        check(a->u.ack.packet_id == b->u.ack.packet_id, "ack packet id");
        check(a->u.ack.reason_code == b->u.ack.reason_code, "ack reason code");
        props_equal(&a->u.ack.props, &b->u.ack.props);
        break;
    case MQ_SUBSCRIBE:
    case MQ_UNSUBSCRIBE:
        check(a->u.subscribe.packet_id == b->u.subscribe.packet_id, "subscribe packet id");
        check(a->u.subscribe.entry_count == b->u.subscribe.entry_count, "entry count");
        check(bytes_eq(a->u.subscribe.entries_raw, b->u.subscribe.entries_raw), "entries");
        props_equal(&a->u.subscribe.props, &b->u.subscribe.props);
        break;
    case MQ_SUBACK:
    case MQ_UNSUBACK:
        check(a->u.suback.packet_id == b->u.suback.packet_id, "suback packet id");
        check(a->u.suback.reason_code_count == b->u.suback.reason_code_count, "code count");
        check(a->u.suback.reason_code_count == 0 ||
                  memcmp(a->u.suback.reason_codes, b->u.suback.reason_codes,
                         a->u.suback.reason_code_count) == 0,
              "suback codes");
        props_equal(&a->u.suback.props, &b->u.suback.props);
        break;
    case MQ_DISCONNECT:
    case MQ_AUTH:
        check(a->u.disconnect.reason_code == b->u.disconnect.reason_code, "reason code");
        props_equal(&a->u.disconnect.props, &b->u.disconnect.props);
        break;
    default:
        break;
    }
}

static uint8_t *encode(const struct mq_packet *p, uint8_t version, size_t *len)
{
    long n = mq_encode(p, version, NULL, 0);
    check(n > 0, "a decoded packet cannot be encoded");
    uint8_t *buf = malloc((size_t)n);
    check(buf != NULL, "out of memory");
    check(mq_encode(p, version, buf, (size_t)n) == n, "encode wrote another size");
    size_t framed;
    check(mq_frame(buf, (size_t)n, 0, &framed) == 1 && framed == (size_t)n, "encoded framing");
    *len = (size_t)n;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t version = (uint8_t)(MQ_V31 + (data[0] & 3u) % 3u);
    bool from_client = !(data[0] & 4u);
    uint32_t max_size = data[0] & 8u ? 64u : 0u;
    data++;
    size--;

    size_t packet_len = 0;
    int framed = mq_frame(data, size, max_size, &packet_len);
    check(framed <= 1, "mq_frame result");
    if (framed != 1)
        return 0;
    check(packet_len <= size, "mq_frame claims more bytes than given");

    struct mq_packet first;
    memset(&first, 0, sizeof first);
    if (mq_decode(data, packet_len, version, from_client, &first) != 0)
        return 0;
    if (first.type == MQ_CONNECT)
        version = first.u.connect.protocol_version;

    struct mq_packet to_encode = first;
    prepare(&to_encode, &scratch[0]);
    size_t len2;
    uint8_t *bytes2 = encode(&to_encode, version, &len2);
    struct mq_packet second;
    memset(&second, 0, sizeof second);
    check(mq_decode(bytes2, len2, version, from_client, &second) == 0,
          "the encoding of a decoded packet does not decode");
    packet_equal(&first, &second);

    prepare(&second, &scratch[1]);
    size_t len3;
    uint8_t *bytes3 = encode(&second, version, &len3);
    check(len3 == len2 && memcmp(bytes2, bytes3, len2) == 0, "encoding is not stable");
    free(bytes3);
    free(bytes2);
    return 0;
}
