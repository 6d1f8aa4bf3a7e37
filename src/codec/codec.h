/*
 * The MQTT wire codec: pure functions between bytes and packet structs, for protocol levels
 * 3 (3.1, "MQIsdp"), 4 (3.1.1) and 5. No I/O, no allocation.
 *
 * Decoding is zero-copy: every mq_bytes in a decoded packet points into the caller's input
 * buffer, which must outlive the packet. Variable-length lists (user properties, subscription
 * identifiers, SUBSCRIBE/UNSUBSCRIBE filters) are kept as views over their wire bytes and read
 * with the iterators below, so decoding never allocates.
 *
 * Errors: functions return 0 on success, or a negative value whose negation is the MQTT 5
 * reason code the error maps to (-MQ_RC_MALFORMED_PACKET, -MQ_RC_PROTOCOL_ERROR,
 * -MQ_RC_PACKET_TOO_LARGE, ...). For protocol levels 3 and 4 the caller turns that into closing
 * the connection (or the matching CONNACK return code during CONNECT).
 */
#ifndef MQTTD_CODEC_H
#define MQTTD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/reason_codes.h"

enum mq_packet_type {
    MQ_CONNECT = 1,
    MQ_CONNACK = 2,
    MQ_PUBLISH = 3,
    MQ_PUBACK = 4,
    MQ_PUBREC = 5,
    MQ_PUBREL = 6,
    MQ_PUBCOMP = 7,
    MQ_SUBSCRIBE = 8,
    MQ_SUBACK = 9,
    MQ_UNSUBSCRIBE = 10,
    MQ_UNSUBACK = 11,
    MQ_PINGREQ = 12,
    MQ_PINGRESP = 13,
    MQ_DISCONNECT = 14,
    MQ_AUTH = 15,
};

enum mq_protocol_version {
    MQ_V31 = 3,
    MQ_V311 = 4,
    MQ_V5 = 5,
};

/* The largest remaining length the 4-byte variable byte integer can carry. */
#define MQ_MAX_REMAINING_LENGTH 268435455u
/* The largest packet on the wire: 1 type byte, 4 length bytes, the remaining length. */
#define MQ_MAX_PACKET_SIZE (MQ_MAX_REMAINING_LENGTH + 5u)

/* A view of bytes owned by someone else (the input buffer when decoding). */
typedef struct {
    const uint8_t *data;
    uint32_t len;
} mq_bytes;

enum mq_property_id {
    MQ_PROP_PAYLOAD_FORMAT_INDICATOR = 0x01,
    MQ_PROP_MESSAGE_EXPIRY_INTERVAL = 0x02,
    MQ_PROP_CONTENT_TYPE = 0x03,
    MQ_PROP_RESPONSE_TOPIC = 0x08,
    MQ_PROP_CORRELATION_DATA = 0x09,
    MQ_PROP_SUBSCRIPTION_IDENTIFIER = 0x0B,
    MQ_PROP_SESSION_EXPIRY_INTERVAL = 0x11,
    MQ_PROP_ASSIGNED_CLIENT_IDENTIFIER = 0x12,
    MQ_PROP_SERVER_KEEP_ALIVE = 0x13,
    MQ_PROP_AUTHENTICATION_METHOD = 0x15,
    MQ_PROP_AUTHENTICATION_DATA = 0x16,
    MQ_PROP_REQUEST_PROBLEM_INFORMATION = 0x17,
    MQ_PROP_WILL_DELAY_INTERVAL = 0x18,
    MQ_PROP_REQUEST_RESPONSE_INFORMATION = 0x19,
    MQ_PROP_RESPONSE_INFORMATION = 0x1A,
    MQ_PROP_SERVER_REFERENCE = 0x1C,
    MQ_PROP_REASON_STRING = 0x1F,
    MQ_PROP_RECEIVE_MAXIMUM = 0x21,
    MQ_PROP_TOPIC_ALIAS_MAXIMUM = 0x22,
    MQ_PROP_TOPIC_ALIAS = 0x23,
    MQ_PROP_MAXIMUM_QOS = 0x24,
    MQ_PROP_RETAIN_AVAILABLE = 0x25,
    MQ_PROP_USER_PROPERTY = 0x26,
    MQ_PROP_MAXIMUM_PACKET_SIZE = 0x27,
    MQ_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28,
    MQ_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29,
    MQ_PROP_SHARED_SUBSCRIPTION_AVAILABLE = 0x2A,
};

/* Bit for a property id in mq_props.present. */
#define MQ_PROP_BIT(id) (1ull << (id))

typedef struct {
    mq_bytes key;
    mq_bytes value;
} mq_user_property;

/*
 * The properties of one packet (or of a CONNECT's will). A scalar or string field is meaningful
 * only when its bit is set in `present`.
 *
 * Decoding fills the scalar fields, sets `raw` to the whole property block (without its length
 * prefix) and counts user properties and subscription identifiers; read those with
 * mq_props_next_user_property() / mq_props_next_subscription_id(). The first subscription
 * identifier is also put in `subscription_id`.
 *
 * Encoding writes, in this order: every scalar/string field whose bit is set, then the
 * `subscription_ids` array, then the `user_properties` array, then `forward` verbatim (an
 * already-encoded property run, e.g. the properties a broker forwards unchanged from a
 * publisher). `raw` is ignored by the encoder. User properties keep their order.
 */
typedef struct {
    uint64_t present;

    uint8_t payload_format_indicator;
    uint32_t message_expiry_interval;
    mq_bytes content_type;
    mq_bytes response_topic;
    mq_bytes correlation_data;
    uint32_t subscription_id;
    uint32_t session_expiry_interval;
    mq_bytes assigned_client_identifier;
    uint16_t server_keep_alive;
    mq_bytes authentication_method;
    mq_bytes authentication_data;
    uint8_t request_problem_information;
    uint32_t will_delay_interval;
    uint8_t request_response_information;
    mq_bytes response_information;
    mq_bytes server_reference;
    mq_bytes reason_string;
    uint16_t receive_maximum;
    uint16_t topic_alias_maximum;
    uint16_t topic_alias;
    uint8_t maximum_qos;
    uint8_t retain_available;
    uint32_t maximum_packet_size;
    uint8_t wildcard_subscription_available;
    uint8_t subscription_identifier_available;
    uint8_t shared_subscription_available;

    /* Decoded: the whole property block and the counts of the repeatable properties. */
    mq_bytes raw;
    uint32_t user_property_count;
    uint32_t subscription_id_count;

    /* Encoded: repeatable properties supplied by the caller, and a pre-encoded run. */
    const mq_user_property *user_properties;
    uint32_t user_properties_len;
    const uint32_t *subscription_ids;
    uint32_t subscription_ids_len;
    mq_bytes forward;
} mq_props;

struct mq_connect {
    uint8_t protocol_version; /* enum mq_protocol_version */
    bool clean_start;         /* Clean Session for levels 3 and 4 */
    uint16_t keep_alive;
    mq_props props;
    mq_bytes client_id;
    bool will_flag;
    uint8_t will_qos;
    bool will_retain;
    mq_props will_props;
    mq_bytes will_topic;
    mq_bytes will_payload;
    bool username_flag;
    mq_bytes username;
    bool password_flag;
    mq_bytes password;
};

struct mq_connack {
    bool session_present;
    uint8_t reason_code; /* v5 reason code, or the 3.1.1 return code (0..5) for levels 3/4 */
    mq_props props;
};

struct mq_publish {
    uint8_t qos;
    bool dup;
    bool retain;
    mq_bytes topic;     /* may be empty in v5 when a topic alias is present */
    uint16_t packet_id; /* only for QoS 1 and 2 */
    mq_props props;
    mq_bytes payload;
};

/* PUBACK, PUBREC, PUBREL and PUBCOMP. */
struct mq_ack {
    uint16_t packet_id;
    uint8_t reason_code; /* 0 when absent on the wire */
    mq_props props;
};

/* Subscription options byte of SUBSCRIBE v5 (for 3.1.1 only the QoS bits exist). */
#define MQ_SUBOPT_QOS_MASK 0x03u
#define MQ_SUBOPT_NO_LOCAL 0x04u
#define MQ_SUBOPT_RETAIN_AS_PUBLISHED 0x08u
#define MQ_SUBOPT_RETAIN_HANDLING_SHIFT 4
#define MQ_SUBOPT_RETAIN_HANDLING_MASK 0x30u

typedef struct {
    mq_bytes filter;
    uint8_t options;
} mq_topic_request;

/*
 * SUBSCRIBE and UNSUBSCRIBE. Decoding sets `entries_raw`/`entry_count` (read them with
 * mq_subscribe_next / mq_unsubscribe_next); encoding reads `entries`/`entries_len`.
 * For UNSUBSCRIBE the options byte is unused.
 */
struct mq_subscribe {
    uint16_t packet_id;
    mq_props props;
    mq_bytes entries_raw;
    uint32_t entry_count;
    const mq_topic_request *entries;
    uint32_t entries_len;
};

/* SUBACK and UNSUBACK: one reason code per requested filter (none for a 3.1.1 UNSUBACK). */
struct mq_suback {
    uint16_t packet_id;
    mq_props props;
    const uint8_t *reason_codes;
    uint32_t reason_code_count;
};

/* DISCONNECT and AUTH. */
struct mq_disconnect {
    uint8_t reason_code;
    mq_props props;
};

struct mq_packet {
    uint8_t type;  /* enum mq_packet_type */
    uint8_t flags; /* low nibble of the fixed header as received */
    union {
        struct mq_connect connect;
        struct mq_connack connack;
        struct mq_publish publish;
        struct mq_ack ack;
        struct mq_subscribe subscribe;   /* SUBSCRIBE and UNSUBSCRIBE */
        struct mq_suback suback;         /* SUBACK and UNSUBACK */
        struct mq_disconnect disconnect; /* DISCONNECT and AUTH */
    } u;
};

/*
 * Finds the next whole packet at the start of `buf`.
 * Returns 1 and sets *packet_len (fixed header included) when a whole packet is there;
 * 0 when more bytes are needed; -MQ_RC_MALFORMED_PACKET for a remaining length over 4 bytes;
 * -MQ_RC_PACKET_TOO_LARGE when the packet would exceed `max_packet_size` (known as soon as
 * the length bytes are in, before the body arrives). `max_packet_size` 0 means the protocol's
 * own limit, MQ_MAX_PACKET_SIZE. A remaining length in more bytes than needed is malformed too
 * [MQTT-1.5.5-1].
 */
int mq_frame(const uint8_t *buf, size_t len, uint32_t max_packet_size, size_t *packet_len);

/*
 * Decodes one whole packet (as delimited by mq_frame) sent by a client to a server when
 * `from_client` is true, or by a server to a client otherwise; direction decides which packet
 * types are legal (a server never receives CONNACK). `version` is the connection's protocol
 * level; for CONNECT it is ignored and taken from the packet (then out->u.connect tells it).
 * Validates everything the spec calls malformed: reserved flag bits, property ids not allowed
 * in this packet, duplicated properties, ill-formed UTF-8 and U+0000 in strings, packet id 0,
 * QoS 3, wildcards in a PUBLISH topic, empty SUBSCRIBE/UNSUBSCRIBE, trailing bytes.
 * Topic filter syntax in SUBSCRIBE is NOT checked here (it is a per-filter reason code, 0x8F).
 * A CONNECT with an unknown protocol name or level returns -MQ_RC_UNSUPPORTED_PROTOCOL_VERSION
 * with out->u.connect.protocol_version set to the level seen (so the caller can answer in kind).
 */
int mq_decode(const uint8_t *buf, size_t len, uint8_t version, bool from_client,
              struct mq_packet *out);

/*
 * Encodes `pkt` for protocol level `version` into buf[0..cap). Returns the number of bytes the
 * packet needs; writes it only if that is <= cap (so call with cap 0 to size it). Properties
 * and v5-only fields are left out for levels 3 and 4. Returns a negative reason code when the
 * packet cannot be encoded (e.g. remaining length over the maximum).
 */
long mq_encode(const struct mq_packet *pkt, uint8_t version, uint8_t *buf, size_t cap);

/* Size of the encoded property block, length prefix included (0 for levels 3 and 4). Also 0
 * when the properties cannot be encoded (a string over 65535 bytes, a subscription identifier
 * of 0 or over 268435455, a block over the maximum length); mq_encode then fails with -0x81. */
size_t mq_props_encoded_size(const mq_props *props);
/* Writes the property block, length prefix included; returns bytes written. */
size_t mq_props_encode(const mq_props *props, uint8_t *buf);

/* Iterate over decoded repeatable properties; *cursor starts at 0. Return 1 with an item, 0 at
 * the end. */
int mq_props_next_user_property(const mq_props *props, uint32_t *cursor, mq_user_property *out);
int mq_props_next_subscription_id(const mq_props *props, uint32_t *cursor, uint32_t *out);
/* Iterate over decoded SUBSCRIBE / UNSUBSCRIBE entries; same protocol as above. */
int mq_subscribe_next(const struct mq_subscribe *sub, uint32_t *cursor, mq_topic_request *out);
int mq_unsubscribe_next(const struct mq_subscribe *unsub, uint32_t *cursor, mq_bytes *filter);

/*
 * Copies into buf the properties of a client's PUBLISH that a server forwards unchanged
 * (payload format indicator, content type, response topic, correlation data, user properties
 * in order), leaving out topic alias, subscription identifiers and message expiry, which the
 * server rewrites. Returns bytes written (at most props->raw.len). Use as mq_props.forward.
 */
size_t mq_props_copy_forwardable(const mq_props *props, uint8_t *buf);

/* Variable byte integer helpers. */
size_t mq_varint_size(uint32_t value);
size_t mq_varint_encode(uint32_t value, uint8_t *buf);
/* Returns bytes consumed (1..4), 0 if more bytes are needed, -MQ_RC_MALFORMED_PACKET if bad. */
int mq_varint_decode(const uint8_t *buf, size_t len, uint32_t *value);

/* UTF-8 as MQTT requires: well-formed, no surrogates, no U+0000 [MQTT-1.5.4-1], [MQTT-1.5.4-2]. */
bool mq_utf8_valid(const uint8_t *s, size_t len);

/* Human-readable packet type name ("PUBLISH"), for logs. */
const char *mq_packet_type_name(uint8_t type);

#endif
