/*
 * hello_broker: a complete MQTT broker with application logic, built on libmqttd.
 *
 *   - clients whose id starts with "banned" are refused (reason 0x87, Not authorized);
 *   - a subscriber to anything under "greetings/#" gets a welcome message, to itself alone;
 *   - readings on "sensors/ID/celsius" that are not numbers are dropped, and every valid one is
 *     also published converted, on "sensors/ID/fahrenheit";
 *   - disconnections are logged, and the broker's counters are printed on exit.
 *
 * Usage: example_hello_broker [URL]   (default mqtt://127.0.0.1:1883; Ctrl-C stops it)
 * docs/EMBEDDING.md walks through this file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqttd.h"

static int refuse_banned(void *user, const mqttd_client *client)
{
    if (strncmp(client->client_id, "banned", strlen("banned")) == 0)
        return 0x87;
    return 0;
}

/* The reply is copied after the handler returns, so it must not live on the handler's stack. */
static const char welcome_text[] = "welcome to the greetings channel";

static void welcome(void *user, const mqttd_client *client, const char *filter,
                    mqttd_subscribe_reply *reply)
{
    reply->reply_topic = "greetings/welcome";
    reply->reply_payload = welcome_text;
    reply->reply_payload_len = strlen(welcome_text);
}

/* Parses the whole payload as a finite decimal number; the payload is not NUL-terminated. */
static int parse_number(const void *payload, size_t len, double *out)
{
    char text[64];
    if (len == 0 || len >= sizeof text)
        return -1;
    memcpy(text, payload, len);
    text[len] = '\0';
    char *end;
    *out = strtod(text, &end);
    return *end == '\0' && isfinite(*out) ? 0 : -1;
}

/* Called for topics matching "sensors/+/celsius"; user is the app, to publish with. */
static enum mqttd_publish_verdict convert_celsius(void *user, const mqttd_client *from,
                                                  mqttd_message *message)
{
    double celsius;
    if (parse_number(message->payload, message->payload_len, &celsius) != 0)
        return MQTTD_PUBLISH_DROP;

    /* "sensors/ID/celsius" -> "sensors/ID/fahrenheit": keep everything up to the last '/'. */
    size_t prefix_len = (size_t)(strrchr(message->topic, '/') + 1 - message->topic);
    char *topic = malloc(prefix_len + sizeof "fahrenheit");
    if (!topic)
        return MQTTD_PUBLISH_CONTINUE;
    memcpy(topic, message->topic, prefix_len);
    strcpy(topic + prefix_len, "fahrenheit");

    char value[32];
    int len = snprintf(value, sizeof value, "%.1f", celsius * 9.0 / 5.0 + 32.0);
    mqttd_publish(user, topic, value, (size_t)len, message->qos, false);
    free(topic);
    return MQTTD_PUBLISH_CONTINUE;
}

static void log_disconnect(void *user, const mqttd_client *client, int reason_code)
{
    fprintf(stderr, "hello_broker: %s (%s) disconnected, reason 0x%02x\n", client->client_id,
            client->peer, reason_code);
}

static void print_stats(mqttd_app *app)
{
    struct mqttd_stats s;
    mqttd_app_stats(app, &s);
    printf("messages received %llu, sent %llu, dropped %llu; sessions %llu\n",
           (unsigned long long)s.messages_received, (unsigned long long)s.messages_sent,
           (unsigned long long)s.messages_dropped, (unsigned long long)s.sessions);
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "mqtt://127.0.0.1:1883";
    char err[256];
    mqttd_app *app = mqttd_app_new();
    if (!app)
        return 1;
    if (mqttd_app_listen(app, url, err, sizeof err) != 0) {
        fprintf(stderr, "hello_broker: %s: %s\n", url, err);
        mqttd_app_free(app);
        return 1;
    }
    if (mqttd_on_connect(app, refuse_banned, NULL) != 0 ||
        mqttd_on_subscribe(app, "greetings/#", welcome, NULL) != 0 ||
        mqttd_on_publish(app, "sensors/+/celsius", convert_celsius, app) != 0 ||
        mqttd_on_disconnect(app, log_disconnect, NULL) != 0) {
        fprintf(stderr, "hello_broker: cannot register handlers\n");
        mqttd_app_free(app);
        return 1;
    }
    mqttd_app_stop_on_signals(app);

    int rc = mqttd_app_run(app, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "hello_broker: %s\n", err);
    else
        print_stats(app);
    mqttd_app_free(app);
    return rc == 0 ? 0 : 1;
}
