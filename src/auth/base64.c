/*
 * Base64 (see base64.h). Decoding is strict: a credential that is not exactly base64 is a
 * broken file line or a malformed SCRAM message, and both are refused rather than guessed at.
 */
#include "auth/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void auth_base64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = alphabet[(v >> 6) & 63];
        *out++ = alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *out++ = alphabet[v >> 18];
        *out++ = alphabet[(v >> 12) & 63];
        *out++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        *out++ = '=';
    }
    *out = 0;
}

static int value_of(char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

long auth_base64_decode(const char *text, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int pad = 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            char ch = text[i + k];
            int d;
            if (ch == '=' && i + 4 == len && k >= 2 && (k == 3 || text[i + 3] == '=')) {
                pad++;
                d = 0;
            } else if ((d = value_of(ch)) < 0 || pad) {
                return -1;
            }
            v = v << 6 | (uint32_t)d;
        }
        size_t bytes = 3u - (size_t)pad;
        if (n + bytes > cap)
            return -1;
        out[n++] = (uint8_t)(v >> 16);
        if (bytes > 1)
            out[n++] = (uint8_t)(v >> 8);
        if (bytes > 2)
            out[n++] = (uint8_t)v;
    }
    return (long)n;
}
