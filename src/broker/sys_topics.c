/*
 * $SYS/broker/... messages (see sys_topics.h). Each figure is one retained QoS 0 message whose
 * payload is the number as text, as Mosquitto publishes them.
 */
#include "broker/sys_topics.h"

#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/message.h"
#include "mqttd.h"
#include "session/limits.h"

#define PREFIX "$SYS/broker/"

bool sys_topic(const uint8_t *topic, size_t len)
{
    return len >= 4 && memcmp(topic, "$SYS", 4) == 0 && (len == 4 || topic[4] == '/');
}

static void publish_text(struct broker *b, const char *name, const char *text, uint64_t now_ms)
{
    char topic[128];
    int n = snprintf(topic, sizeof topic, PREFIX "%s", name);
    struct message *m =
        message_new((const uint8_t *)topic, (uint16_t)n, NULL, 0, (const uint8_t *)text,
                    (uint32_t)strlen(text), 0, true, 0, now_ms);
    if (!m)
        return;
    broker_publish(b, m, now_ms);
    message_unref(m);
}

static void publish_count(struct broker *b, const char *name, uint64_t value, uint64_t now_ms)
{
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long)value);
    publish_text(b, name, text, now_ms);
}

struct sys_counter {
    const char *name;
    size_t offset; /* of a uint64_t in struct mqttd_stats */
};

#define COUNTER(name, field)                                                                       \
    {                                                                                              \
        name, offsetof(struct mqttd_stats, field)                                                  \
    }

static const struct sys_counter counters[] = {
    COUNTER("clients/connected", connections),
    COUNTER("clients/total", sessions),
    COUNTER("subscriptions/count", subscriptions),
    COUNTER("retained messages/count", retained_messages),
    COUNTER("publish/messages/received", messages_received),
    COUNTER("publish/messages/sent", messages_sent),
    COUNTER("publish/messages/dropped", messages_dropped),
    COUNTER("bytes/received", bytes_received),
    COUNTER("bytes/sent", bytes_sent),
    COUNTER("publishers/held", publishers_held),
    COUNTER("limits/connections_refused", limits_connections_refused),
    COUNTER("limits/ip_connections_refused", limits_ip_connections_refused),
    COUNTER("limits/ip_rate_refused", limits_ip_rate_refused),
    COUNTER("limits/rate_throttled", limits_rate_throttled),
    COUNTER("limits/rate_disconnected", limits_rate_disconnected),
    COUNTER("limits/subscribe_rate_refused", limits_subscribe_rate_refused),
    COUNTER("limits/subscriptions_refused", limits_subscriptions_refused),
    COUNTER("limits/packets_too_large", limits_packets_too_large),
    COUNTER("limits/payloads_too_large", limits_payloads_too_large),
    COUNTER("limits/connect_timeouts", limits_connect_timeouts),
    COUNTER("limits/receive_maximum_exceeded", limits_receive_maximum_exceeded),
    COUNTER("limits/memory_refused", limits_memory_refused),
    COUNTER("limits/memory_used", limits_memory_used),
    COUNTER("limits/memory_over", limits_memory_over),
};

void sys_topics_tick(struct broker *b, uint64_t now_ms)
{
    uint64_t interval_ms = (uint64_t)b->config->sys_interval_s * 1000;
    if (!b->started_ms)
        b->started_ms = now_ms;
    if (!interval_ms || (b->sys_published_ms && now_ms - b->sys_published_ms < interval_ms))
        return;
    b->sys_published_ms = now_ms;
    struct mqttd_stats stats;
    broker_stats(b, &stats);
    limits_stats(&b->limits, &stats);
    publish_text(b, "version", "mqttd " MQTTD_VERSION, now_ms);
    char uptime[40];
    snprintf(uptime, sizeof uptime, "%llu seconds",
             (unsigned long long)((now_ms - b->started_ms) / 1000));
    publish_text(b, "uptime", uptime, now_ms);
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
        uint64_t value;
        memcpy(&value, (const char *)&stats + counters[i].offset, sizeof value);
        publish_count(b, counters[i].name, value, now_ms);
    }
}
