/*
 * Fuzz target for the ACL file parser (src/auth/acl_file.c). Input: the file text, then
 * optionally a NUL and four NUL-separated fields: client id, username (empty = none), a topic
 * and a subscription filter. Whatever parses is then asked about that client.
 *
 * Checked beyond memory safety: the subscribe-time verdict agrees with the per-topic check.
 * When a filter is GRANTED, every topic it matches must be readable; when it is DENIED, none
 * may be (a wrong verdict would deliver what the ACL forbids, or refuse what it allows).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/acl_file.h"
#include "broker/topic.h"

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "acl invariant broken: %s\n", what);
        abort();
    }
}

/* The next NUL-terminated field of buf[*at..len), or "" past the end. */
static const char *field(const char *buf, size_t len, size_t *at)
{
    if (*at >= len)
        return "";
    const char *f = buf + *at;
    *at += strlen(f) + 1;
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t text_len = nul ? (size_t)(nul - data) : size;
    struct acl *acl = NULL;
    char err[256];
    memset(err, 'x', sizeof err);
    if (acl_parse((const char *)data, text_len, "fuzz", &acl, err, sizeof err) != 0) {
        check(memchr(err, '\0', sizeof err) != NULL, "error message not terminated");
        return 0;
    }
    check(acl != NULL, "parse succeeded without an ACL");

    /* The query fields, NUL-terminated in a copy with room for a final NUL. */
    size_t rest_len = nul ? size - text_len - 1 : 0;
    char *rest = malloc(rest_len + 1);
    check(rest != NULL, "out of memory");
    if (rest_len)
        memcpy(rest, nul + 1, rest_len);
    rest[rest_len] = '\0';
    size_t at = 0;
    const char *client_id = field(rest, rest_len, &at);
    const char *username = field(rest, rest_len, &at);
    const char *topic = field(rest, rest_len, &at);
    const char *filter = field(rest, rest_len, &at);
    struct acl_client client = {client_id, username[0] ? username : NULL};

    size_t topic_len = strlen(topic), filter_len = strlen(filter);
    bool topic_ok = topic_name_valid((const uint8_t *)topic, topic_len, 0, 0);
    if (topic_ok) {
        acl_allows(acl, &client, (const uint8_t *)topic, topic_len, ACL_WRITE);
    }
    if (topic_filter_valid((const uint8_t *)filter, filter_len, 0, 0) &&
        strncmp(filter, TOPIC_SHARE_PREFIX, TOPIC_SHARE_PREFIX_LEN) != 0) {
        enum acl_verdict v = acl_check_filter(acl, &client, (const uint8_t *)filter, filter_len);
        check(v == ACL_DENIED || v == ACL_GRANTED || v == ACL_PER_TOPIC, "verdict");
        if (topic_ok &&
            topic_matches((const uint8_t *)filter, filter_len, (const uint8_t *)topic, topic_len)) {
            bool readable = acl_allows(acl, &client, (const uint8_t *)topic, topic_len, ACL_READ);
            check(v != ACL_GRANTED || readable, "a GRANTED filter matches an unreadable topic");
            check(v != ACL_DENIED || !readable, "a DENIED filter matches a readable topic");
        }
    }
    free(rest);
    acl_free(acl);
    return 0;
}
