/*
 * mqttc pub: connect, publish one message (-m, -f, -s, -n) or one per line of standard input
 * (-l), wait until every QoS 1/2 message is acknowledged, and disconnect cleanly.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytebuf.h"
#include "commands.h"
#include "options.h"

struct pub_state {
    const volatile sig_atomic_t *stop;
    int failures;
};

static void on_publish_done(void *user, uint16_t packet_id, uint8_t reason_code)
{
    struct pub_state *st = user;
    if (reason_code >= 0x80) {
        fprintf(stderr, "Publish %u failed: %s (0x%02x)\n", packet_id,
                mqttc_reason_text(MQ_V5, false, reason_code), reason_code);
        st->failures++;
    }
}

int pub_publish_waiting(struct mqttc_client *c, const char *topic, const void *payload, size_t len,
                        uint8_t qos, bool retain, const mq_props *props)
{
    for (;;) {
        int rc = mqttc_client_publish(c, topic, payload, len, qos, retain, props, NULL);
        if (rc != -EAGAIN)
            return rc;
        rc = mqttc_client_loop(c, 1000);
        if (rc < 0)
            return rc;
    }
}

/* Reads all of `fd` into `b`; returns 0 or -1 with errno set. */
static int read_all(int fd, struct bytebuf *b)
{
    for (;;) {
        if (bytebuf_len(b) > MQ_MAX_REMAINING_LENGTH) {
            errno = EFBIG;
            return -1;
        }
        if (bytebuf_reserve(b, 65536) < 0) {
            errno = ENOMEM;
            return -1;
        }
        ssize_t n = read(fd, b->data + b->end, b->cap - b->end);
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        b->end += (size_t)n;
    }
}

static int load_payload(const struct mqttc_options *o, struct bytebuf *b)
{
    if (o->payload == PAYLOAD_MESSAGE)
        return bytebuf_append(b, o->message, strlen(o->message));
    if (o->payload == PAYLOAD_STDIN && read_all(STDIN_FILENO, b) < 0) {
        fprintf(stderr, "Error: reading standard input: %s\n", strerror(errno));
        return -1;
    }
    if (o->payload == PAYLOAD_FILE) {
        FILE *f = fopen(o->message, "rb");
        if (!f || read_all(fileno(f), b) < 0) {
            fprintf(stderr, "Error: unable to read file \"%s\": %s\n", o->message, strerror(errno));
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
    }
    return 0;
}

/* Publishes each complete line in `lines`, leaving an unfinished one in place. */
static int publish_lines(struct mqttc_client *c, const struct mqttc_options *o,
                         struct bytebuf *lines, bool at_eof)
{
    const mq_props *props = &o->props.props[PROPS_PUBLISH];
    while (bytebuf_len(lines) > 0) {
        const uint8_t *start = lines->data + lines->start;
        const uint8_t *nl = memchr(start, '\n', bytebuf_len(lines));
        if (!nl && !at_eof)
            return 0;
        size_t len = nl ? (size_t)(nl - start) : bytebuf_len(lines);
        if (len > 0) {
            int rc = pub_publish_waiting(c, o->topic, start, len, o->qos, o->retain, props);
            if (rc < 0)
                return rc;
        }
        bytebuf_consume(lines, nl ? len + 1 : len);
    }
    return 0;
}

/* -l: stdin and the connection are watched together, so keep-alive and acknowledgements go on
 * while we wait for the next line. */
static int pub_stdin_lines(struct mqttc_client *c, const struct mqttc_options *o,
                           const volatile sig_atomic_t *stop)
{
    struct bytebuf lines = {0};
    bool eof = false;
    int rc = 0;
    while (!eof && !*stop && rc == 0) {
        struct pollfd pfd[2];
        pfd[0].fd = STDIN_FILENO;
        pfd[0].events = POLLIN;
        pfd[0].revents = 0;
        int timeout = mqttc_client_pollfd(c, &pfd[1]);
        if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (bytebuf_reserve(&lines, 65536) < 0) {
                rc = -ENOMEM;
                break;
            }
            ssize_t n = read(STDIN_FILENO, lines.data + lines.end, lines.cap - lines.end);
            if (n > 0)
                lines.end += (size_t)n;
            else if (n == 0 || errno != EINTR)
                eof = true;
            rc = publish_lines(c, o, &lines, eof);
        }
        if (rc == 0)
            rc = mqttc_client_loop(c, 0);
    }
    bytebuf_free(&lines);
    return rc;
}

static int run(struct mqttc_client *c, const struct mqttc_options *o,
               const volatile sig_atomic_t *stop)
{
    int rc;
    if (o->payload == PAYLOAD_LINES) {
        rc = pub_stdin_lines(c, o, stop);
    } else {
        struct bytebuf payload = {0};
        if (load_payload(o, &payload) < 0)
            return -EINVAL;
        rc = pub_publish_waiting(c, o->topic, payload.data + payload.start, bytebuf_len(&payload),
                                 o->qos, o->retain, &o->props.props[PROPS_PUBLISH]);
        bytebuf_free(&payload);
    }
    while (rc == 0 && mqttc_client_inflight(c) > 0 && !*stop)
        rc = mqttc_client_loop(c, 1000);
    return rc;
}

int pub_main(int argc, char **argv)
{
    struct mqttc_options o;
    int prc = options_parse(&o, OPTIONS_PUB, argc, argv);
    if (prc != 0) {
        options_free(&o);
        return prc > 0 ? 0 : 1;
    }
    struct pub_state st = {.stop = signals_install()};
    struct mqttc_callbacks cb = {.on_publish_done = on_publish_done, .user = &st};
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
        rc = run(c, &o, st.stop);
        if (rc == 0 || rc == -EINVAL || rc == -EMSGSIZE) {
            int drc = mqttc_client_disconnect(c, MQ_RC_NORMAL_DISCONNECTION,
                                              &o.props.props[PROPS_DISCONNECT], 5000);
            if (rc == 0)
                rc = drc;
        }
    }
    if (rc < 0 && mqttc_client_error(c)[0])
        fprintf(stderr, "%s\n", mqttc_client_error(c));
    mqttc_client_free(c);
    options_free(&o);
    return rc < 0 || st.failures > 0 ? 1 : 0;
}
