/*
 * -D property parsing (see props.h). One table says, for each property name, its identifier,
 * its value type and which packets may carry it (MQTT 5 section 2.2.2.2), so a misplaced
 * property is refused here rather than by the server.
 */
#include "props.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum value_type { V_BYTE, V_U16, V_U32, V_VARINT, V_STRING, V_BINARY, V_PAIR };

#define IN(p) (1u << (p))

struct property_def {
    const char *name;
    uint8_t id;
    uint8_t type;
    unsigned allowed; /* IN(PROPS_...) bits */
    uint32_t min;
    uint32_t max;
};

static const struct property_def defs[] = {
    {"payload-format-indicator", MQ_PROP_PAYLOAD_FORMAT_INDICATOR, V_BYTE,
     IN(PROPS_PUBLISH) | IN(PROPS_WILL), 0, 1},
    {"message-expiry-interval", MQ_PROP_MESSAGE_EXPIRY_INTERVAL, V_U32,
     IN(PROPS_PUBLISH) | IN(PROPS_WILL), 0, UINT32_MAX},
    {"content-type", MQ_PROP_CONTENT_TYPE, V_STRING, IN(PROPS_PUBLISH) | IN(PROPS_WILL), 0, 0},
    {"response-topic", MQ_PROP_RESPONSE_TOPIC, V_STRING, IN(PROPS_PUBLISH) | IN(PROPS_WILL), 0, 0},
    {"correlation-data", MQ_PROP_CORRELATION_DATA, V_BINARY, IN(PROPS_PUBLISH) | IN(PROPS_WILL), 0,
     0},
    {"subscription-identifier", MQ_PROP_SUBSCRIPTION_IDENTIFIER, V_VARINT, IN(PROPS_SUBSCRIBE), 1,
     MQ_MAX_REMAINING_LENGTH},
    {"session-expiry-interval", MQ_PROP_SESSION_EXPIRY_INTERVAL, V_U32,
     IN(PROPS_CONNECT) | IN(PROPS_DISCONNECT), 0, UINT32_MAX},
    {"authentication-method", MQ_PROP_AUTHENTICATION_METHOD, V_STRING, IN(PROPS_CONNECT), 0, 0},
    {"authentication-data", MQ_PROP_AUTHENTICATION_DATA, V_BINARY, IN(PROPS_CONNECT), 0, 0},
    {"request-problem-information", MQ_PROP_REQUEST_PROBLEM_INFORMATION, V_BYTE, IN(PROPS_CONNECT),
     0, 1},
    {"will-delay-interval", MQ_PROP_WILL_DELAY_INTERVAL, V_U32, IN(PROPS_WILL), 0, UINT32_MAX},
    {"request-response-information", MQ_PROP_REQUEST_RESPONSE_INFORMATION, V_BYTE,
     IN(PROPS_CONNECT), 0, 1},
    {"receive-maximum", MQ_PROP_RECEIVE_MAXIMUM, V_U16, IN(PROPS_CONNECT), 1, UINT16_MAX},
    {"topic-alias-maximum", MQ_PROP_TOPIC_ALIAS_MAXIMUM, V_U16, IN(PROPS_CONNECT), 0, UINT16_MAX},
    {"topic-alias", MQ_PROP_TOPIC_ALIAS, V_U16, IN(PROPS_PUBLISH), 1, UINT16_MAX},
    {"maximum-packet-size", MQ_PROP_MAXIMUM_PACKET_SIZE, V_U32, IN(PROPS_CONNECT), 1, UINT32_MAX},
    {"user-property", MQ_PROP_USER_PROPERTY, V_PAIR,
     IN(PROPS_CONNECT) | IN(PROPS_PUBLISH) | IN(PROPS_SUBSCRIBE) | IN(PROPS_UNSUBSCRIBE) |
         IN(PROPS_DISCONNECT) | IN(PROPS_WILL),
     0, 0},
};

static const char *const packet_names[PROPS_PACKET_COUNT] = {
    "connect", "publish", "subscribe", "unsubscribe", "disconnect", "will",
};

static const struct property_def *find_def(const char *name)
{
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

int props_value_count(const char *property)
{
    const struct property_def *d = find_def(property);
    if (!d)
        return -1;
    return d->type == V_PAIR ? 2 : 1;
}

static int parse_number(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '\0')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int add_user_property(struct props_set *set, enum props_packet pk, const char *key,
                             const char *value)
{
    mq_props *p = &set->props[pk];
    mq_user_property *grown =
        realloc(set->user[pk], (p->user_properties_len + 1) * sizeof *set->user[pk]);
    if (!grown)
        return -1;
    set->user[pk] = grown;
    grown[p->user_properties_len].key.data = (const uint8_t *)key;
    grown[p->user_properties_len].key.len = (uint32_t)strlen(key);
    grown[p->user_properties_len].value.data = (const uint8_t *)value;
    grown[p->user_properties_len].value.len = (uint32_t)strlen(value);
    p->user_properties = grown;
    p->user_properties_len++;
    return 0;
}

static void set_scalar(mq_props *p, uint8_t id, uint32_t n, mq_bytes b)
{
    switch (id) {
    case MQ_PROP_PAYLOAD_FORMAT_INDICATOR:
        p->payload_format_indicator = (uint8_t)n;
        break;
    case MQ_PROP_MESSAGE_EXPIRY_INTERVAL:
        p->message_expiry_interval = n;
        break;
    case MQ_PROP_CONTENT_TYPE:
        p->content_type = b;
        break;
    case MQ_PROP_RESPONSE_TOPIC:
        p->response_topic = b;
        break;
    case MQ_PROP_CORRELATION_DATA:
        p->correlation_data = b;
        break;
    case MQ_PROP_SESSION_EXPIRY_INTERVAL:
        p->session_expiry_interval = n;
        break;
    case MQ_PROP_AUTHENTICATION_METHOD:
        p->authentication_method = b;
        break;
    case MQ_PROP_AUTHENTICATION_DATA:
        p->authentication_data = b;
        break;
    case MQ_PROP_REQUEST_PROBLEM_INFORMATION:
        p->request_problem_information = (uint8_t)n;
        break;
    case MQ_PROP_WILL_DELAY_INTERVAL:
        p->will_delay_interval = n;
        break;
    case MQ_PROP_REQUEST_RESPONSE_INFORMATION:
        p->request_response_information = (uint8_t)n;
        break;
    case MQ_PROP_RECEIVE_MAXIMUM:
        p->receive_maximum = (uint16_t)n;
        break;
    case MQ_PROP_TOPIC_ALIAS_MAXIMUM:
        p->topic_alias_maximum = (uint16_t)n;
        break;
    case MQ_PROP_TOPIC_ALIAS:
        p->topic_alias = (uint16_t)n;
        break;
    case MQ_PROP_MAXIMUM_PACKET_SIZE:
        p->maximum_packet_size = n;
        break;
    default:
        return;
    }
    p->present |= MQ_PROP_BIT(id);
}

int props_add(struct props_set *set, const char *command, const char *property, const char *value,
              const char *value2, char *err, size_t errlen)
{
    int pk = -1;
    for (int i = 0; i < PROPS_PACKET_COUNT; i++)
        if (strcmp(packet_names[i], command) == 0)
            pk = i;
    if (pk < 0) {
        snprintf(err, errlen, "Invalid command \"%s\" for -D", command);
        return -1;
    }
    const struct property_def *d = find_def(property);
    if (!d) {
        snprintf(err, errlen, "Invalid property \"%s\" for -D", property);
        return -1;
    }
    if (!(d->allowed & IN(pk))) {
        snprintf(err, errlen, "Property \"%s\" is not allowed for %s", property, command);
        return -1;
    }
    mq_props *p = &set->props[pk];
    if (d->type == V_PAIR) {
        if (add_user_property(set, (enum props_packet)pk, value, value2) < 0) {
            snprintf(err, errlen, "Out of memory");
            return -1;
        }
        return 0;
    }
    bool seen = d->id == MQ_PROP_SUBSCRIPTION_IDENTIFIER ? p->subscription_ids_len > 0
                                                         : (p->present & MQ_PROP_BIT(d->id)) != 0;
    if (seen) {
        snprintf(err, errlen, "Duplicate property \"%s\" for %s", property, command);
        return -1;
    }
    uint32_t n = 0;
    mq_bytes b = {(const uint8_t *)value, (uint32_t)strlen(value)};
    if (d->type != V_STRING && d->type != V_BINARY && parse_number(value, d->min, d->max, &n)) {
        snprintf(err, errlen, "Invalid value \"%s\" for property \"%s\" (%u to %u)", value,
                 property, d->min, d->max);
        return -1;
    }
    if (d->type == V_STRING && (b.len > UINT16_MAX || !mq_utf8_valid(b.data, b.len))) {
        snprintf(err, errlen, "Invalid UTF-8 string for property \"%s\"", property);
        return -1;
    }
    if (d->id == MQ_PROP_SUBSCRIPTION_IDENTIFIER) {
        /* The encoder writes subscription identifiers from the array, so several could go. */
        set->subscription_id = n;
        p->subscription_ids = &set->subscription_id;
        p->subscription_ids_len = 1;
        return 0;
    }
    set_scalar(p, d->id, n, b);
    return 0;
}

void props_free(struct props_set *set)
{
    for (int i = 0; i < PROPS_PACKET_COUNT; i++) {
        free(set->user[i]);
        set->user[i] = NULL;
        set->props[i].user_properties = NULL;
        set->props[i].user_properties_len = 0;
    }
}
