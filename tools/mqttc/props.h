/*
 * The -D option: MQTT 5 properties given on the command line in mosquitto's form,
 * `-D COMMAND PROPERTY VALUE` (user-property takes two values, key and value), collected into
 * one mq_props per packet kind, ready for the encoder.
 */
#ifndef MQTTC_PROPS_H
#define MQTTC_PROPS_H

#include <stddef.h>

#include "codec/codec.h"

enum props_packet {
    PROPS_CONNECT,
    PROPS_PUBLISH,
    PROPS_SUBSCRIBE,
    PROPS_UNSUBSCRIBE,
    PROPS_DISCONNECT,
    PROPS_WILL,
    PROPS_PACKET_COUNT,
};

/* Must not move once filled: the mq_props point into it. */
struct props_set {
    mq_props props[PROPS_PACKET_COUNT];
    mq_user_property *user[PROPS_PACKET_COUNT]; /* owned, grown as -D user-property arrive */
    uint32_t subscription_id;
};

/* How many values PROPERTY takes after its name (2 for user-property, else 1), or -1 when the
 * name is unknown. */
int props_value_count(const char *property);

/*
 * Adds one property. `command` is connect, publish, subscribe, unsubscribe, disconnect or will;
 * `value2` is used by user-property only. The strings are borrowed and must outlive the set
 * (argv does). Returns 0, or -1 with a message in err[errlen] (unknown command or property, a
 * property not allowed in that packet, a value out of range, a duplicate).
 */
int props_add(struct props_set *set, const char *command, const char *property, const char *value,
              const char *value2, char *err, size_t errlen);

/* Frees the user property arrays. */
void props_free(struct props_set *set);

#endif
