/*
 * mqttc sub: connect, subscribe to every -t filter (and unsubscribe from every -U one), print
 * each message as -v/-F/-N say, and stop after -C messages, after -W seconds (exit status 27, as
 * mosquitto_sub) or on SIGINT/SIGTERM, always with a clean DISCONNECT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "options.h"
#include "output.h"

#define EXIT_TIMEOUT 27

struct sub_state {
    const struct mqttc_options *o;
    long printed;
    bool done;
    int exit_code;
    unsigned acks_pending; /* SUBACK and UNSUBACK still to come */
};

/* Whether `topic` matches `filter` by MQTT's rules, including that a filter starting with a
 * wildcard does not match a topic starting with '$' [MQTT-4.7.2-1]. */
static bool topic_matches(const char *filter, mq_bytes topic)
{
    const char *t = (const char *)topic.data;
    const char *end = t + topic.len;
    if (topic.len > 0 && t[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return false;
    for (;;) {
        if (filter[0] == '#')
            return true;
        const char *t_level_end = memchr(t, '/', (size_t)(end - t));
        if (!t_level_end)
            t_level_end = end;
        const char *f_level_end = strchr(filter, '/');
        if (!f_level_end)
            f_level_end = filter + strlen(filter);
        if (!(filter[0] == '+' && f_level_end == filter + 1)) {
            size_t flen = (size_t)(f_level_end - filter);
            if (flen != (size_t)(t_level_end - t) || memcmp(filter, t, flen) != 0)
                return false;
        }
        bool t_more = t_level_end < end;
        bool f_more = *f_level_end == '/';
        if (!t_more && !f_more)
            return true;
        if (!t_more)
            return strcmp(f_level_end, "/#") == 0; /* "a/#" matches "a" */
        if (!f_more)
            return false;
        t = t_level_end + 1;
        filter = f_level_end + 1;
    }
}

static void on_message(void *user, const struct mqttc_message *m)
{
    struct sub_state *st = user;
    const struct mqttc_options *o = st->o;
    if (st->done || (o->no_retained && m->retain))
        return;
    for (size_t i = 0; i < o->filter_out_count; i++)
        if (topic_matches(o->filter_out[i], m->topic))
            return;
    output_message(stdout, o->format, o->verbose, o->no_eol, m);
    st->printed++;
    if (o->count > 0 && st->printed >= o->count)
        st->done = true;
}

static void on_suback(void *user, bool unsubscribe, uint16_t packet_id, const uint8_t *codes,
                      uint32_t count)
{
    struct sub_state *st = user;
    const struct mqttc_options *o = st->o;
    const char **filters = unsubscribe ? o->unsubscribe : o->topics;
    size_t filter_count = unsubscribe ? o->unsubscribe_count : o->topic_count;
    uint32_t refused = 0;
    if (o->debug && !unsubscribe) {
        printf("Subscribed (mid: %u):", packet_id);
        for (uint32_t i = 0; i < count; i++)
            printf(" %u", codes[i]);
        printf("\n");
    }
    for (uint32_t i = 0; i < count; i++) {
        if (codes[i] < 0x80)
            continue;
        refused++;
        fprintf(stderr, "%s %s refused: %s (0x%02x)\n",
                unsubscribe ? "Unsubscribe from" : "Subscription to",
                i < filter_count ? filters[i] : "?", mqttc_reason_text(o->version, false, codes[i]),
                codes[i]);
    }
    if (!unsubscribe && count > 0 && refused == count) {
        fprintf(stderr, "All subscription requests were denied.\n");
        st->done = true;
        st->exit_code = 1;
    }
    st->acks_pending--;
    if (st->acks_pending == 0 && o->topic_count == 0)
        st->done = true; /* only -U: nothing left to wait for */
}

static int subscribe_all(struct mqttc_client *c, struct sub_state *st)
{
    const struct mqttc_options *o = st->o;
    size_t n = o->topic_count > o->unsubscribe_count ? o->topic_count : o->unsubscribe_count;
    mq_topic_request *entries = calloc(n, sizeof *entries);
    if (!entries)
        return -ENOMEM;
    uint8_t options = o->qos;
    if (o->no_local)
        options |= MQ_SUBOPT_NO_LOCAL;
    if (o->retain_as_published)
        options |= MQ_SUBOPT_RETAIN_AS_PUBLISHED;
    int rc = 0;
    if (o->topic_count > 0) {
        for (size_t i = 0; i < o->topic_count; i++) {
            entries[i].filter.data = (const uint8_t *)o->topics[i];
            entries[i].filter.len = (uint32_t)strlen(o->topics[i]);
            entries[i].options = options;
        }
        rc = mqttc_client_subscribe(c, entries, (uint32_t)o->topic_count,
                                    &o->props.props[PROPS_SUBSCRIBE], NULL);
        st->acks_pending += rc == 0;
    }
    if (rc == 0 && o->unsubscribe_count > 0) {
        for (size_t i = 0; i < o->unsubscribe_count; i++) {
            entries[i].filter.data = (const uint8_t *)o->unsubscribe[i];
            entries[i].filter.len = (uint32_t)strlen(o->unsubscribe[i]);
            entries[i].options = 0;
        }
        rc = mqttc_client_unsubscribe(c, entries, (uint32_t)o->unsubscribe_count,
                                      &o->props.props[PROPS_UNSUBSCRIBE], NULL);
        st->acks_pending += rc == 0;
    }
    free(entries);
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(struct mqttc_client *c, struct sub_state *st, const volatile sig_atomic_t *stop)
{
    int rc = subscribe_all(c, st);
    int64_t deadline = st->o->timeout > 0 ? now_ms() + st->o->timeout * 1000 : 0;
    while (rc == 0 && !st->done && !*stop) {
        int wait = 1000;
        if (deadline) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                st->exit_code = EXIT_TIMEOUT;
                break;
            }
            if (left < wait)
                wait = (int)left;
        }
        rc = mqttc_client_loop(c, wait);
    }
    /* Let QoS 2 deliveries already printed finish with their PUBCOMP, so the server does not
     * keep them for a session that may never come back. */
    int64_t grace_end = now_ms() + 2000;
    while (rc == 0 && mqttc_client_inbound_pending(c) > 0 && !*stop && now_ms() < grace_end)
        rc = mqttc_client_loop(c, (int)(grace_end - now_ms()));
    return rc;
}

int sub_main(int argc, char **argv)
{
    struct mqttc_options o;
    int prc = options_parse(&o, OPTIONS_SUB, argc, argv);
    if (prc != 0) {
        options_free(&o);
        return prc > 0 ? 0 : 1;
    }
    const volatile sig_atomic_t *stop = signals_install();
    struct sub_state st = {.o = &o};
    struct mqttc_callbacks cb = {.on_message = on_message, .on_suback = on_suback, .user = &st};
    struct mqttc_client *c = mqttc_client_new(&cb);
    if (!c) {
        fprintf(stderr, "Error: out of memory\n");
        options_free(&o);
        return 1;
    }
    struct mqttc_connect_options co;
    options_connect(&o, &co);
    int rc = mqttc_client_connect(c, &co);
    if (rc == 0) {
        rc = run(c, &st, stop);
        if (rc == 0)
            rc = mqttc_client_disconnect(c, MQ_RC_NORMAL_DISCONNECTION,
                                         &o.props.props[PROPS_DISCONNECT], 5000);
    }
    if (rc < 0)
        fprintf(stderr, "%s\n", rc == -ENOMEM ? "Error: out of memory" : mqttc_client_error(c));
    mqttc_client_free(c);
    options_free(&o);
    return rc < 0 ? 1 : st.exit_code;
}
