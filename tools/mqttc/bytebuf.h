/*
 * A growable byte buffer with a read cursor: bytes are appended at the end and consumed from the
 * front. The client keeps one for bytes received but not yet decoded and one for bytes encoded
 * but not yet written, so partial reads and writes never lose anything.
 */
#ifndef MQTTC_BYTEBUF_H
#define MQTTC_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

struct bytebuf {
    uint8_t *data; /* owned; freed by bytebuf_free */
    size_t start;  /* first unconsumed byte */
    size_t end;    /* one past the last byte */
    size_t cap;
};

/* Makes room for `extra` more bytes after `end`; returns 0 or -ENOMEM. */
int bytebuf_reserve(struct bytebuf *b, size_t extra);
/* Appends len bytes copied from `src`; returns 0 or -ENOMEM. */
int bytebuf_append(struct bytebuf *b, const void *src, size_t len);
/* Drops `len` bytes from the front. */
void bytebuf_consume(struct bytebuf *b, size_t len);
/* Number of unconsumed bytes; they start at b->data + b->start. */
size_t bytebuf_len(const struct bytebuf *b);
void bytebuf_free(struct bytebuf *b);

#endif
