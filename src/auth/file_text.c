/*
 * File reading and line splitting for the credential files (see file_text.h).
 */
#include "auth/file_text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *file_text_read(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= FILE_TEXT_MAX) {
                snprintf(err, errlen, "%s: larger than %u bytes", path, FILE_TEXT_MAX);
                free(buf);
                fclose(f);
                return NULL;
            }
            char *more = realloc(buf, cap * 2);
            if (!more)
                break;
            buf = more;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (!buf || ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

bool file_text_next_line(const char *text, size_t len, size_t *pos, struct file_line *line)
{
    if (*pos >= len)
        return false;
    if (*pos == 0)
        line->number = 0;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    size_t n = nl ? (size_t)(nl - start) : len - *pos;
    *pos += n + (nl ? 1 : 0);
    while (n && blank(*start)) {
        start++;
        n--;
    }
    while (n && blank(start[n - 1]))
        n--;
    line->text = start;
    line->len = n;
    line->number++;
    return true;
}
