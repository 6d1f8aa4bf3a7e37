/*
 * The QUIC session ticket file (see net_quic_ticket.h).
 */
#include "net_quic_ticket.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "MQ0R"
#define PART_MAX 65536u /* far above a ticket or a parameter block; guards the reads */

static int read_part(FILE *f, uint8_t **out, size_t *len)
{
    uint8_t be[4];
    if (fread(be, 1, sizeof be, f) != sizeof be)
        return -1;
    size_t n = (size_t)be[0] << 24 | (size_t)be[1] << 16 | (size_t)be[2] << 8 | be[3];
    if (n == 0 || n > PART_MAX)
        return -1;
    uint8_t *p = malloc(n);
    if (!p)
        return -1;
    if (fread(p, 1, n, f) != n) {
        free(p);
        return -1;
    }
    *out = p;
    *len = n;
    return 0;
}

int net_quic_ticket_load(const char *path, struct net_quic_ticket *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char magic[4];
    int rc = fread(magic, 1, sizeof magic, f) == sizeof magic &&
                     memcmp(magic, MAGIC, sizeof magic) == 0 &&
                     read_part(f, &out->session, &out->session_len) == 0 &&
                     read_part(f, &out->params, &out->params_len) == 0
                 ? 0
                 : -1;
    fclose(f);
    if (rc != 0)
        net_quic_ticket_free(out);
    return rc;
}

static int write_part(FILE *f, const uint8_t *p, size_t n)
{
    uint8_t be[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    return fwrite(be, 1, sizeof be, f) == sizeof be && fwrite(p, 1, n, f) == n ? 0 : -1;
}

int net_quic_ticket_save(const char *path, const uint8_t *session, size_t session_len,
                         const uint8_t *params, size_t params_len)
{
    if (session_len == 0 || session_len > PART_MAX || params_len == 0 || params_len > PART_MAX)
        return -1;
    char tmp[4096];
    static atomic_ulong serial;
    int n = snprintf(tmp, sizeof tmp, "%s.%ld.%lu.tmp", path, (long)getpid(),
                     (unsigned long)atomic_fetch_add(&serial, 1));
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    int rc = fwrite(MAGIC, 1, 4, f) == 4 && write_part(f, session, session_len) == 0 &&
                     write_part(f, params, params_len) == 0
                 ? 0
                 : -1;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

void net_quic_ticket_free(struct net_quic_ticket *t)
{
    free(t->session);
    free(t->params);
    memset(t, 0, sizeof *t);
}
