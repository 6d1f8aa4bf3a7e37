/*
 * The bytes of the MQTT stream on their way out over QUIC. QUIC may resend any byte until the
 * peer acknowledges it, so bytes stay here from the moment the engine hands them over until
 * the ACK, in three regions:
 *
 *     [ acknowledged (dropped) | sent, awaiting ACK | not yet packetised ]
 *     base                     data[0]              data[sent]          data[len]
 *
 * `base` is the stream offset of data[0]. Used by the broker's QUIC links and by mqttc.
 *
 * ngtcp2 does not copy stream data: it keeps pointers to the bytes it packetised and resends
 * from them until they are acknowledged (ngtcp2_conn_writev_stream: "the caller must keep the
 * portion of data ... intact"). So sent bytes never move: an acknowledgement only advances
 * `data`, and when the block is full the unacknowledged bytes are copied to a new block while
 * the old one is kept, retired, until the bytes sent from it are acknowledged.
 */
#ifndef MQTTD_QUIC_SENDBUF_H
#define MQTTD_QUIC_SENDBUF_H

#include <stddef.h>
#include <stdint.h>

struct quic_sendbuf_block;

struct quic_sendbuf {
    uint8_t *data; /* the first unacknowledged byte, inside `block` (NULL when empty) */
    size_t len;    /* bytes from data on: sent and awaiting ACK, then not yet sent */
    size_t cap;    /* bytes from data to the end of the block */
    size_t sent;   /* bytes of data[] already given to QUIC */
    uint64_t base; /* stream offset of data[0] */
    struct quic_sendbuf_block *block;   /* owned */
    struct quic_sendbuf_block *retired; /* older blocks QUIC may still resend from (owned) */
};

/* Copies len bytes to the end. Returns 0, or -1 when memory runs out (nothing appended). */
int quic_sendbuf_append(struct quic_sendbuf *b, const uint8_t *data, size_t len);

/* Bytes not yet given to QUIC: *len of them at the returned pointer (borrowed until the next
 * call that changes the buffer). */
const uint8_t *quic_sendbuf_unsent(const struct quic_sendbuf *b, size_t *len);

/* QUIC took n of the unsent bytes into packets. */
void quic_sendbuf_consumed(struct quic_sendbuf *b, size_t n);

/* The peer acknowledged the stream up to (not including) offset `end`; earlier bytes are
 * dropped. Offsets at or before base, or past what was sent, change only what they can. */
void quic_sendbuf_acked(struct quic_sendbuf *b, uint64_t end);

/* The peer refused 0-RTT: it saw none of the bytes, so all of them are offered again. Only
 * before any acknowledgement (base 0); does nothing otherwise. */
void quic_sendbuf_rewind(struct quic_sendbuf *b);

/* Bytes sent or waiting, not yet acknowledged. */
size_t quic_sendbuf_unacked(const struct quic_sendbuf *b);

void quic_sendbuf_free(struct quic_sendbuf *b);

#endif
