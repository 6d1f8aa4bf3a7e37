/*
 * UTF-8 validation as MQTT requires it (spec 1.5.4): well-formed per RFC 3629 (so no overlong
 * forms and nothing above U+10FFFF), no surrogates U+D800..U+DFFF, no U+0000. U+FEFF is an
 * ordinary character here and is kept [MQTT-1.5.4-3]. Runs of ASCII are checked eight bytes
 * at a time because topics and client ids are nearly always ASCII.
 */
#include "codec/codec_internal.h"

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when some byte of v is zero (the classic bit trick; exact for ASCII words). */
static inline uint64_t has_zero_byte(uint64_t v)
{
    return (v - ONES) & ~v & HIGHS;
}

static inline uint64_t has_byte(uint64_t v, uint8_t b)
{
    return has_zero_byte(v ^ (ONES * b));
}

static inline bool is_cont(uint8_t c)
{
    return (c & 0xC0u) == 0x80u;
}

bool mq_utf8_scan(const uint8_t *s, size_t len, bool *has_wildcard)
{
    bool wild = false;
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & HIGHS) && !has_zero_byte(w)) {
                if (has_byte(w, '+') | has_byte(w, '#'))
                    wild = true;
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80u) {
            if (c == 0)
                return false;
            wild |= (c == '+') | (c == '#');
            i++;
            continue;
        }
        /* Lead byte ranges and the second-byte limits that exclude overlong forms,
         * surrogates and code points above U+10FFFF (RFC 3629 section 4). */
        size_t need;
        uint8_t lo = 0x80u, hi = 0xBFu;
        if (c >= 0xC2u && c <= 0xDFu) {
            need = 1;
        } else if (c >= 0xE0u && c <= 0xEFu) {
            need = 2;
            if (c == 0xE0u)
                lo = 0xA0u;
            else if (c == 0xEDu)
                hi = 0x9Fu;
        } else if (c >= 0xF0u && c <= 0xF4u) {
            need = 3;
            if (c == 0xF0u)
                lo = 0x90u;
            else if (c == 0xF4u)
                hi = 0x8Fu;
        } else {
            return false;
        }
        if (len - i - 1 < need)
            return false;
        uint8_t c1 = s[i + 1];
        if (c1 < lo || c1 > hi)
            return false;
        if (need >= 2 && !is_cont(s[i + 2]))
            return false;
        if (need == 3 && !is_cont(s[i + 3]))
            return false;
        i += need + 1;
    }
    if (has_wildcard)
        *has_wildcard = wild;
    return true;
}

bool mq_utf8_valid(const uint8_t *s, size_t len)
{
    return mq_utf8_scan(s, len, NULL);
}
