/*
 * Retransmittable stream output (see quic_sendbuf.h). Acknowledged bytes are dropped from the
 * front with one memmove per ACK; the buffer is small in steady state (a window of in-flight
 * data), and freed entirely once everything is acknowledged so an idle link holds nothing.
 */
#include "transport/quic_sendbuf.h"

#include <stdlib.h>
#include <string.h>

int quic_sendbuf_append(struct quic_sendbuf *b, const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    if (len > SIZE_MAX / 2 - b->len)
        return -1;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

const uint8_t *quic_sendbuf_unsent(const struct quic_sendbuf *b, size_t *len)
{
    *len = b->len - b->sent;
    return b->data ? b->data + b->sent : NULL;
}

void quic_sendbuf_consumed(struct quic_sendbuf *b, size_t n)
{
    if (n > b->len - b->sent)
        n = b->len - b->sent;
    b->sent += n;
}

void quic_sendbuf_acked(struct quic_sendbuf *b, uint64_t end)
{
    if (end <= b->base)
        return;
    uint64_t drop = end - b->base;
    if (drop > b->sent)
        drop = b->sent;
    if (drop == 0)
        return;
    memmove(b->data, b->data + drop, b->len - (size_t)drop);
    b->len -= (size_t)drop;
    b->sent -= (size_t)drop;
    b->base += drop;
    if (b->len == 0) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

size_t quic_sendbuf_unacked(const struct quic_sendbuf *b)
{
    return b->len;
}

void quic_sendbuf_free(struct quic_sendbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}
