/*
 * -L URL parsing (see url.h). The string is copied once and cut in place with NUL bytes.
 */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int parse_host_port(struct url_parts *out, char *hostport, char *err, size_t errlen)
{
    char *colon;
    if (hostport[0] == '[') {
        char *close = strchr(hostport, ']');
        if (!close) {
            snprintf(err, errlen, "Invalid URL: unterminated IPv6 address");
            return -1;
        }
        *close = '\0';
        out->host = hostport + 1;
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close[1] != '\0') {
            snprintf(err, errlen, "Invalid URL: unexpected text after the IPv6 address");
            return -1;
        }
    } else {
        out->host = hostport;
        colon = strrchr(hostport, ':');
    }
    if (colon) {
        *colon = '\0';
        out->port = colon + 1;
        if (out->port[0] == '\0' || strspn(out->port, "0123456789") != strlen(out->port) ||
            atoi(out->port) < 1 || atoi(out->port) > 65535) {
            snprintf(err, errlen, "Invalid URL: bad port \"%s\"", out->port);
            return -1;
        }
    }
    if (out->host[0] == '\0') {
        snprintf(err, errlen, "Invalid URL: no host");
        return -1;
    }
    return 0;
}

int url_parse(const char *url, struct url_parts *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *sep = strstr(url, "://");
    if (!sep) {
        snprintf(err, errlen, "Invalid URL \"%s\": expected mqtt://host[:port]/topic", url);
        return -1;
    }
    size_t scheme_len = (size_t)(sep - url);
    bool tls = scheme_len == 5 && strncmp(url, "mqtts", 5) == 0;
    bool quic = scheme_len == 4 && strncmp(url, "quic", 4) == 0;
    bool ws = scheme_len == 2 && strncmp(url, "ws", 2) == 0;
    bool wss = scheme_len == 3 && strncmp(url, "wss", 3) == 0;
    if (!tls && !quic && !ws && !wss && (scheme_len != 4 || strncmp(url, "mqtt", 4) != 0)) {
        snprintf(err, errlen,
                 "Unknown URL scheme \"%.*s\" (expected mqtt://, mqtts://, ws://, wss:// or "
                 "quic://)",
                 (int)scheme_len, url);
        return -1;
    }
    out->storage = strdup(sep + 3);
    if (!out->storage) {
        snprintf(err, errlen, "Out of memory");
        return -1;
    }
    out->tls = tls;
    out->quic = quic;
    out->ws = ws || wss;
    out->tls |= wss;
    char *rest = out->storage;
    char *slash = strchr(rest, '/');
    if (!slash || slash[1] == '\0') {
        snprintf(err, errlen, "Invalid URL \"%s\": no topic after the host", url);
        url_free(out);
        return -1;
    }
    *slash = '\0';
    out->topic = slash + 1;
    char *at = strrchr(rest, '@');
    if (at) {
        *at = '\0';
        out->username = rest;
        char *colon = strchr(rest, ':');
        if (colon) {
            *colon = '\0';
            out->password = colon + 1;
        }
        rest = at + 1;
    }
    if (parse_host_port(out, rest, err, errlen) < 0) {
        url_free(out);
        return -1;
    }
    return 0;
}

void url_free(struct url_parts *u)
{
    free(u->storage);
    memset(u, 0, sizeof *u);
}
