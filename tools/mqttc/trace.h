/*
 * The -d packet trace: one line on stdout per packet sent or received, worded like mosquitto's
 * clients ("Client ID sending CONNECT") so people can compare the two side by side.
 */
#ifndef MQTTC_TRACE_H
#define MQTTC_TRACE_H

#include <stdbool.h>

#include "codec/codec.h"

/* `client_id` may be NULL or empty (printed as "(null)", as mosquitto does). */
void trace_packet(const char *client_id, bool sending, const struct mq_packet *pkt);

#endif
