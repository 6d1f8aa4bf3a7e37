/*
 * Names for logs (reason codes, spec 2.4, and packet types) and which reason codes each packet
 * type may carry (the per-packet tables in chapter 3), so the decoder can refuse a code a
 * packet cannot have.
 */
#include "codec/codec_internal.h"

const char *mq_reason_code_name(unsigned code)
{
    switch (code) {
    case MQ_RC_SUCCESS:
        return "Success";
    case MQ_RC_GRANTED_QOS_1:
        return "Granted QoS 1";
    case MQ_RC_GRANTED_QOS_2:
        return "Granted QoS 2";
    case MQ_RC_DISCONNECT_WITH_WILL:
        return "Disconnect with Will Message";
    case MQ_RC_NO_MATCHING_SUBSCRIBERS:
        return "No matching subscribers";
    case MQ_RC_NO_SUBSCRIPTION_EXISTED:
        return "No subscription existed";
    case MQ_RC_CONTINUE_AUTHENTICATION:
        return "Continue authentication";
    case MQ_RC_REAUTHENTICATE:
        return "Re-authenticate";
    case MQ_RC_UNSPECIFIED_ERROR:
        return "Unspecified error";
    case MQ_RC_MALFORMED_PACKET:
        return "Malformed Packet";
    case MQ_RC_PROTOCOL_ERROR:
        return "Protocol Error";
    case MQ_RC_IMPLEMENTATION_SPECIFIC_ERROR:
        return "Implementation specific error";
    case MQ_RC_UNSUPPORTED_PROTOCOL_VERSION:
        return "Unsupported Protocol Version";
    case MQ_RC_CLIENT_IDENTIFIER_NOT_VALID:
        return "Client Identifier not valid";
    case MQ_RC_BAD_USER_NAME_OR_PASSWORD:
        return "Bad User Name or Password";
    case MQ_RC_NOT_AUTHORIZED:
        return "Not authorized";
    case MQ_RC_SERVER_UNAVAILABLE:
        return "Server unavailable";
    case MQ_RC_SERVER_BUSY:
        return "Server busy";
    case MQ_RC_BANNED:
        return "Banned";
    case MQ_RC_SERVER_SHUTTING_DOWN:
        return "Server shutting down";
    case MQ_RC_BAD_AUTHENTICATION_METHOD:
        return "Bad authentication method";
    case MQ_RC_KEEP_ALIVE_TIMEOUT:
        return "Keep Alive timeout";
    case MQ_RC_SESSION_TAKEN_OVER:
        return "Session taken over";
    case MQ_RC_TOPIC_FILTER_INVALID:
        return "Topic Filter invalid";
    case MQ_RC_TOPIC_NAME_INVALID:
        return "Topic Name invalid";
    case MQ_RC_PACKET_IDENTIFIER_IN_USE:
        return "Packet Identifier in use";
    case MQ_RC_PACKET_IDENTIFIER_NOT_FOUND:
        return "Packet Identifier not found";
    case MQ_RC_RECEIVE_MAXIMUM_EXCEEDED:
        return "Receive Maximum exceeded";
    case MQ_RC_TOPIC_ALIAS_INVALID:
        return "Topic Alias invalid";
    case MQ_RC_PACKET_TOO_LARGE:
        return "Packet too large";
    case MQ_RC_MESSAGE_RATE_TOO_HIGH:
        return "Message rate too high";
    case MQ_RC_QUOTA_EXCEEDED:
        return "Quota exceeded";
    case MQ_RC_ADMINISTRATIVE_ACTION:
        return "Administrative action";
    case MQ_RC_PAYLOAD_FORMAT_INVALID:
        return "Payload format invalid";
    case MQ_RC_RETAIN_NOT_SUPPORTED:
        return "Retain not supported";
    case MQ_RC_QOS_NOT_SUPPORTED:
        return "QoS not supported";
    case MQ_RC_USE_ANOTHER_SERVER:
        return "Use another server";
    case MQ_RC_SERVER_MOVED:
        return "Server moved";
    case MQ_RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED:
        return "Shared Subscriptions not supported";
    case MQ_RC_CONNECTION_RATE_EXCEEDED:
        return "Connection rate exceeded";
    case MQ_RC_MAXIMUM_CONNECT_TIME:
        return "Maximum connect time";
    case MQ_RC_SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED:
        return "Subscription Identifiers not supported";
    case MQ_RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED:
        return "Wildcard Subscriptions not supported";
    default:
        return "Unknown reason code";
    }
}

static const uint8_t connack_v5[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                     0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                     0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
static const uint8_t puback_v5[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t pubrel_v5[] = {0x00, 0x92};
static const uint8_t suback_v5[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                    0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t suback_v3[] = {0x00, 0x01, 0x02, 0x80};
static const uint8_t unsuback_v5[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t disconnect_v5[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                        0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                        0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t auth_v5[] = {0x00, 0x18, 0x19};

static bool in(const uint8_t *set, size_t n, uint8_t rc)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == rc)
            return true;
    return false;
}

#define IN(set, rc) in(set, sizeof set, rc)

bool mq_reason_code_allowed(uint8_t type, uint8_t version, uint8_t rc)
{
    if (version != MQ_V5) {
        if (type == MQ_CONNACK)
            return rc <= MQ_V3_REFUSED_NOT_AUTHORIZED;
        return type == MQ_SUBACK && IN(suback_v3, rc);
    }
    switch (type) {
    case MQ_CONNACK:
        return IN(connack_v5, rc);
    case MQ_PUBACK:
    case MQ_PUBREC:
        return IN(puback_v5, rc);
    case MQ_PUBREL:
    case MQ_PUBCOMP:
        return IN(pubrel_v5, rc);
    case MQ_SUBACK:
        return IN(suback_v5, rc);
    case MQ_UNSUBACK:
        return IN(unsuback_v5, rc);
    case MQ_DISCONNECT:
        return IN(disconnect_v5, rc);
    case MQ_AUTH:
        return IN(auth_v5, rc);
    default:
        return false;
    }
}

const char *mq_packet_type_name(uint8_t type)
{
    static const char *const names[16] = {
        "RESERVED", "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
        "PUBREL",   "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
        "PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH",
    };
    return type < 16 ? names[type] : "UNKNOWN";
}
