/*
 * Listener URL parsing and formatting. Deliberately narrower than RFC 3986: no user info, query
 * or fragment, and only the characters a host name or an IP address can contain, so a typo is
 * reported here rather than as a puzzling bind failure later.
 */
#include "server/listener_url.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest DNS name; IPv6 text with a zone id fits too. */
#define HOST_MAX 253

struct scheme {
    const char *name;
    enum mq_transport_kind transport;
    uint16_t default_port;
};

static const struct scheme schemes[] = {
    {"mqtt", MQ_TRANSPORT_TCP, 1883},   {"mqtts", MQ_TRANSPORT_TLS, 8883},
    {"ws", MQ_TRANSPORT_WS, 8080},      {"wss", MQ_TRANSPORT_WSS, 8443},
    {"quic", MQ_TRANSPORT_QUIC, 14567},
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(char c)
{
    return is_alnum(c) || c == '.' || c == '-' || c == '_';
}

/* Inside brackets: hex digits, ':' and '.' (IPv4-mapped), '%' and a zone name (fe80::1%eth0). */
static bool is_ipv6_char(char c)
{
    return is_alnum(c) || c == ':' || c == '.' || c == '%' || c == '-' || c == '_';
}

/* Path characters allowed unescaped in an HTTP request target (no blanks or controls). */
static bool is_path_char(char c)
{
    return c > ' ' && c < 0x7f && c != '?' && c != '#';
}

static const struct scheme *find_scheme(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        if (strlen(schemes[i].name) == len && strncasecmp(name, schemes[i].name, len) == 0)
            return &schemes[i];
    }
    return NULL;
}

static int parse_port(const char *url, const char *p, size_t len, uint16_t *port, char *err,
                      size_t errlen)
{
    unsigned v = 0;
    if (len == 0 || len > 5)
        return fail(err, errlen, "'%.100s': port must be a number between 1 and 65535", url);
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return fail(err, errlen, "'%.100s': port must be a number between 1 and 65535", url);
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return fail(err, errlen, "'%.100s': port must be a number between 1 and 65535", url);
    *port = (uint16_t)v;
    return 0;
}

/* Splits authority [host][:port] into host (start, length) and port. */
static int parse_authority(const char *url, const char *a, size_t len, const char **host,
                           size_t *host_len, uint16_t *port, char *err, size_t errlen)
{
    const char *rest;
    if (len > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', len);
        if (close == NULL)
            return fail(err, errlen, "'%.100s': '[' without ']'", url);
        *host = a + 1;
        *host_len = (size_t)(close - a - 1);
        if (*host_len == 0 || memchr(*host, ':', *host_len) == NULL)
            return fail(err, errlen, "'%.100s': brackets must hold an IPv6 address", url);
        for (size_t i = 0; i < *host_len; i++) {
            if (!is_ipv6_char((*host)[i]))
                return fail(err, errlen, "'%.100s': bad character in IPv6 address", url);
        }
        rest = close + 1;
        if (rest != a + len && *rest != ':')
            return fail(err, errlen, "'%.100s': expected ':PORT' after ']'", url);
    } else {
        const char *colon = memchr(a, ':', len);
        *host = a;
        *host_len = colon != NULL ? (size_t)(colon - a) : len;
        if (colon != NULL && memchr(colon + 1, ':', len - *host_len - 1) != NULL)
            return fail(err, errlen, "'%.100s': an IPv6 address must be written in brackets", url);
        for (size_t i = 0; i < *host_len; i++) {
            if (!is_name_char(a[i]))
                return fail(err, errlen, "'%.100s': bad character '%c' in host", url, a[i]);
        }
        rest = a + *host_len;
    }
    if (*host_len > HOST_MAX)
        return fail(err, errlen, "'%.100s': host longer than %d characters", url, HOST_MAX);
    if (rest == a + len)
        return 0;
    return parse_port(url, rest + 1, (size_t)(a + len - rest - 1), port, err, errlen);
}

int listener_url_parse(const char *url, struct mq_listener_config *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->allow_anonymous = -1;
    const char *sep = strstr(url, "://");
    if (sep == NULL)
        return fail(err, errlen, "'%.100s' is not a listener URL (expected SCHEME://HOST:PORT)",
                    url);
    const struct scheme *s = find_scheme(url, (size_t)(sep - url));
    if (s == NULL)
        return fail(err, errlen,
                    "'%.100s': unknown scheme '%.*s' (expected mqtt, mqtts, ws, wss or "
                    "quic)",
                    url, (int)(sep - url > 16 ? 16 : sep - url), url);
    const char *a = sep + 3;
    size_t alen = strcspn(a, "/");
    const char *path = a + alen;
    if (strpbrk(url, "?#") != NULL)
        return fail(err, errlen, "'%.100s': a listener URL has no query or fragment", url);
    if (memchr(a, '@', alen) != NULL)
        return fail(err, errlen, "'%.100s': a listener URL has no user name or password", url);

    const char *host = NULL;
    size_t host_len = 0;
    uint16_t port = s->default_port;
    if (parse_authority(url, a, alen, &host, &host_len, &port, err, errlen) != 0)
        return -1;

    bool websocket = s->transport == MQ_TRANSPORT_WS || s->transport == MQ_TRANSPORT_WSS;
    if (!websocket && path[0] != '\0' && strcmp(path, "/") != 0)
        return fail(err, errlen, "'%.100s': only ws:// and wss:// listeners have a path", url);
    for (const char *p = path; *p != '\0'; p++) {
        if (!is_path_char(*p))
            return fail(err, errlen, "'%.100s': bad character in path", url);
    }

    char *host_copy = NULL, *path_copy = NULL;
    if (host_len > 0 && (host_copy = strndup(host, host_len)) == NULL)
        return fail(err, errlen, "out of memory");
    if (websocket && path[0] != '\0' && (path_copy = strdup(path)) == NULL) {
        free(host_copy);
        return fail(err, errlen, "out of memory");
    }
    out->host = host_copy;
    out->path = path_copy;
    out->port = port;
    out->transport = s->transport;
    return 0;
}

int listener_url_format(const struct mq_listener_config *l, char *buf, size_t len)
{
    const char *scheme = "mqtt";
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        if (schemes[i].transport == l->transport)
            scheme = schemes[i].name;
    }
    const char *host = l->host != NULL ? l->host : "";
    bool ipv6 = strchr(host, ':') != NULL;
    bool websocket = l->transport == MQ_TRANSPORT_WS || l->transport == MQ_TRANSPORT_WSS;
    const char *path = websocket && l->path != NULL ? l->path : "";
    int n = snprintf(buf, len, "%s://%s%s%s:%u%s", scheme, ipv6 ? "[" : "", host, ipv6 ? "]" : "",
                     (unsigned)l->port, path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int config_add_listener_url(struct mq_config *config, const char *url, char *err, size_t errlen)
{
    struct mq_listener_config l;
    if (listener_url_parse(url, &l, err, errlen) != 0)
        return -1;
    return config_add_listener(config, &l, err, errlen);
}
