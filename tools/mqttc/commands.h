/*
 * The mqttc sub-commands. Each takes argv with argv[0] being the sub-command's name and returns
 * the process exit status.
 */
#ifndef MQTTC_COMMANDS_H
#define MQTTC_COMMANDS_H

#include <signal.h>
#include <stdbool.h>

#include "client.h"

int pub_main(int argc, char **argv);
int sub_main(int argc, char **argv);

/* Publishes, running the client loop while the server's Receive Maximum window is full.
 * Returns what mqttc_client_publish or mqttc_client_loop returned last. (pub.c) */
int pub_publish_waiting(struct mqttc_client *c, const char *topic, const void *payload, size_t len,
                        uint8_t qos, bool retain, const mq_props *props);

/* Installs SIGINT/SIGTERM handlers that set the returned flag, for a clean DISCONNECT. (main.c) */
const volatile sig_atomic_t *signals_install(void);

#endif
