/*
 * Retransmittable stream output (see quic_sendbuf.h). Bytes given to QUIC stay where they are
 * until acknowledged: an ACK advances the start, a full block is replaced by a new one (the
 * unacknowledged bytes copied over) and kept on the retired list until the ACKs pass its last
 * sent byte. Everything is freed once everything is acknowledged, so an idle link holds
 * nothing.
 */
#include "transport/quic_sendbuf.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN 1024u

struct quic_sendbuf_block {
    struct quic_sendbuf_block *next; /* on the retired list */
    uint64_t end;                    /* retired: stream offset after its last sent byte */
    size_t size;
    uint8_t bytes[];
};

/* Moves the unacknowledged bytes to a block with room for `more`; the old block is retired
 * when QUIC may still resend from it, else freed. */
static int new_block(struct quic_sendbuf *b, size_t more)
{
    size_t size = b->block && b->block->size > BLOCK_MIN ? b->block->size : BLOCK_MIN;
    while (size < b->len + more)
        size *= 2;
    struct quic_sendbuf_block *nb = malloc(sizeof *nb + size);
    if (!nb)
        return -1;
    nb->next = NULL;
    nb->end = 0;
    nb->size = size;
    if (b->len)
        memcpy(nb->bytes, b->data, b->len);
    struct quic_sendbuf_block *old = b->block;
    if (old && b->sent > 0) {
        old->end = b->base + b->sent;
        old->next = b->retired;
        b->retired = old;
    } else {
        free(old);
    }
    b->block = nb;
    b->data = nb->bytes;
    b->cap = size;
    return 0;
}

int quic_sendbuf_append(struct quic_sendbuf *b, const uint8_t *data, size_t len)
{
    if (len == 0)
        return 0;
    if (len > SIZE_MAX / 4 - b->len)
        return -1;
    if ((!b->block || b->cap - b->len < len) && new_block(b, len) != 0)
        return -1;
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

static void free_retired(struct quic_sendbuf *b, uint64_t acked_to)
{
    struct quic_sendbuf_block **p = &b->retired;
    while (*p) {
        struct quic_sendbuf_block *r = *p;
        if (r->end <= acked_to) {
            *p = r->next;
            free(r);
        } else {
            p = &r->next;
        }
    }
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
    b->data += drop;
    b->len -= (size_t)drop;
    b->cap -= (size_t)drop;
    b->sent -= (size_t)drop;
    b->base += drop;
    free_retired(b, b->base);
    if (b->len == 0) {
        free(b->block);
        b->block = NULL;
        b->data = NULL;
        b->cap = 0;
    }
}

void quic_sendbuf_rewind(struct quic_sendbuf *b)
{
    if (b->base != 0)
        return;
    b->sent = 0;
    /* QUIC dropped the refused streams, and with them every pointer into retired blocks. */
    free_retired(b, UINT64_MAX);
}

size_t quic_sendbuf_unacked(const struct quic_sendbuf *b)
{
    return b->len;
}

void quic_sendbuf_free(struct quic_sendbuf *b)
{
    free_retired(b, UINT64_MAX);
    free(b->block);
    memset(b, 0, sizeof *b);
}
