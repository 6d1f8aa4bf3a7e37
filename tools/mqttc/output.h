/*
 * How `mqttc sub` prints a message: the payload alone, "topic payload" with -v, or a -F format
 * made of mosquitto_sub's % fields.
 */
#ifndef MQTTC_OUTPUT_H
#define MQTTC_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "client.h"

/* `format` may be NULL; then `verbose` chooses between payload and "topic payload". A newline
 * follows unless `no_eol`. */
void output_message(FILE *f, const char *format, bool verbose, bool no_eol,
                    const struct mqttc_message *m);

#endif
