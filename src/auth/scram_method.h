/*
 * The built-in enhanced authentication method "SCRAM-SHA-256": scram.c's exchange behind the
 * public handler signature (mqttd_auth_handler), with credentials from the password file in
 * force. Registered by auth_init with the struct auth as `user`.
 */
#ifndef MQTTD_AUTH_SCRAM_METHOD_H
#define MQTTD_AUTH_SCRAM_METHOD_H

#include "mqttd.h"

#define SCRAM_METHOD_NAME "SCRAM-SHA-256"

enum mqttd_auth_result scram_method_step(void *user, void **exchange, const mqttd_client *client,
                                         const void *data, size_t len, mqttd_auth_reply *reply);
void scram_method_end(void *user, void *exchange);

#endif
