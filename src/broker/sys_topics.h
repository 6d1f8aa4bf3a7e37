/*
 * $SYS topics: the broker's counters as retained messages under $SYS/broker/, republished every
 * `sys_interval` seconds, with Mosquitto's names where Mosquitto has the same figure, so the
 * dashboards and `mosquitto_sub -v -t '$SYS/#'` people already use keep working.
 *
 * They are never written to the durable store (they describe this process), and clients may not
 * publish under $SYS (handle_publish refuses them as not authorized).
 */
#ifndef MQTTD_BROKER_SYS_TOPICS_H
#define MQTTD_BROKER_SYS_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;

/* Whether a topic name is $SYS or lies under it. */
bool sys_topic(const uint8_t *topic, size_t len);

/* Publishes the $SYS messages when sys_interval has passed since the last time (one worker's
 * tick; any thread, one at a time). */
void sys_topics_tick(struct broker *b, uint64_t now_ms);

#endif
