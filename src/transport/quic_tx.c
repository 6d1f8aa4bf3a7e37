/*
 * Batched, segmented UDP sends for QUIC (see quic_tx.h).
 */
#include "transport/quic_tx.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

void quic_tx_init(struct quic_tx *tx, int fd)
{
    tx->fd = fd;
    tx->gso = true;
    tx->len = tx->seg = 0;
    tx->count = 0;
}

uint8_t *quic_tx_slot(struct quic_tx *tx)
{
    return tx->data + tx->len;
}

static void send_one(struct quic_tx *tx, const uint8_t *data, size_t len)
{
    ssize_t n;
    do {
        n = sendto(tx->fd, data, len, 0, (const struct sockaddr *)&tx->to, tx->to_len);
    } while (n < 0 && errno == EINTR);
}

static bool send_segmented(struct quic_tx *tx)
{
    struct iovec iov = {tx->data, tx->len};
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {.msg_name = &tx->to,
                         .msg_namelen = tx->to_len,
                         .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = (uint16_t)tx->seg;
    memcpy(CMSG_DATA(cm), &seg, sizeof seg);
    ssize_t n;
    do {
        n = sendmsg(tx->fd, &msg, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
        tx->gso = false;
        return false;
    }
    return true;
}

void quic_tx_flush(struct quic_tx *tx)
{
    if (tx->count == 0)
        return;
    if (tx->count == 1 || !tx->gso || !send_segmented(tx))
        for (size_t off = 0; off < tx->len; off += tx->seg)
            send_one(tx, tx->data + off, tx->len - off < tx->seg ? tx->len - off : tx->seg);
    tx->len = tx->seg = 0;
    tx->count = 0;
}

void quic_tx_push(struct quic_tx *tx, const struct sockaddr *to, socklen_t to_len, size_t n)
{
    if (tx->count &&
        (n > tx->seg || to_len != tx->to_len || memcmp(to, &tx->to, (size_t)to_len) != 0)) {
        /* This packet cannot join the train: send the train, then start a new one with it. */
        uint8_t *packet = tx->data + tx->len;
        quic_tx_flush(tx);
        memmove(tx->data, packet, n);
    }
    if (tx->count == 0) {
        memcpy(&tx->to, to, (size_t)to_len);
        tx->to_len = to_len;
        tx->seg = n;
    }
    tx->len += n;
    tx->count++;
    if (n < tx->seg || tx->count == QUIC_TX_SEGMENTS)
        quic_tx_flush(tx); /* a short packet ends a GSO train */
}
