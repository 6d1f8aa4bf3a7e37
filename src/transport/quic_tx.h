/*
 * Outgoing QUIC datagrams of one endpoint, batched for UDP GSO: consecutive packets to the same
 * address, all of one size but the last, leave in one sendmsg with a UDP_SEGMENT size, and the
 * kernel cuts them. Without GSO (an old kernel, or the send refused) each packet goes alone.
 * A datagram the socket does not take is a lost packet: QUIC resends.
 */
#ifndef MQTTD_QUIC_TX_H
#define MQTTD_QUIC_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define QUIC_TX_DATAGRAM 1452 /* NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE */
#define QUIC_TX_SEGMENTS 40   /* 40 x 1452 stays under the 64 KiB of one UDP send */

struct quic_tx {
    int fd;
    bool gso; /* cleared after the kernel refuses a GSO send */
    struct sockaddr_storage to;
    socklen_t to_len;
    size_t len, seg;
    unsigned count;
    uint8_t data[QUIC_TX_SEGMENTS * QUIC_TX_DATAGRAM];
};

void quic_tx_init(struct quic_tx *tx, int fd);

/* Where to write the next packet: QUIC_TX_DATAGRAM bytes, valid until quic_tx_push/flush. */
uint8_t *quic_tx_slot(struct quic_tx *tx);

/* Adds the n-byte packet just written at the slot, for `to`; may send the batch. */
void quic_tx_push(struct quic_tx *tx, const struct sockaddr *to, socklen_t to_len, size_t n);

/* Sends what is batched. */
void quic_tx_flush(struct quic_tx *tx);

#endif
