/*
 * Growable byte buffer (see bytebuf.h). Consumed bytes are reclaimed by moving the remainder to
 * the front only when more room is needed, so consuming is O(1).
 */
#include "bytebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bytebuf_reserve(struct bytebuf *b, size_t extra)
{
    size_t used = b->end - b->start;
    if (b->cap - b->end >= extra)
        return 0;
    if (b->start > 0) {
        memmove(b->data, b->data + b->start, used);
        b->start = 0;
        b->end = used;
        if (b->cap - b->end >= extra)
            return 0;
    }
    if (extra > SIZE_MAX / 2 - used)
        return -ENOMEM;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - used < extra)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int bytebuf_append(struct bytebuf *b, const void *src, size_t len)
{
    int rc = bytebuf_reserve(b, len);
    if (rc < 0)
        return rc;
    if (len > 0)
        memcpy(b->data + b->end, src, len);
    b->end += len;
    return 0;
}

void bytebuf_consume(struct bytebuf *b, size_t len)
{
    b->start += len;
    if (b->start >= b->end)
        b->start = b->end = 0;
}

size_t bytebuf_len(const struct bytebuf *b)
{
    return b->end - b->start;
}

void bytebuf_free(struct bytebuf *b)
{
    free(b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
}
