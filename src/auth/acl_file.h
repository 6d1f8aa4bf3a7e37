/*
 * The ACL file in Mosquitto's format (mosquitto.conf(5), acl_file):
 *
 *   topic [read|write|readwrite|deny] FILTER    rules of the current owner: anonymous clients
 *                                               before any `user` line, else that user
 *   user NAME                                   later `topic` lines are NAME's
 *   pattern [read|write|readwrite|deny] FILTER  rules of every client, where a level that is
 *                                               exactly %c or %u stands for the client id or
 *                                               the username
 *
 * With no access word the rule is readwrite. '#' starts a comment line. Semantics, as
 * Mosquitto's: a deny rule that matches wins over any grant; otherwise a grant of the access
 * asked for must match, so with an ACL loaded no matching rule means denied. A rule whose first
 * level is a wildcard does not match topics starting with '$' (as subscriptions do not,
 * [MQTT-4.7.2-1]), so $SYS topics need rules that name them. A %u pattern never matches a
 * client without a username, and a pattern whose client id or username holds '/', '+' or '#'
 * never matches.
 *
 * A parsed ACL is immutable: any thread may check against it.
 */
#ifndef MQTTD_AUTH_ACL_FILE_H
#define MQTTD_AUTH_ACL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum acl_access {
    ACL_READ = 1,  /* receive messages on the topic (subscribe, delivery) */
    ACL_WRITE = 2, /* publish to the topic (PUBLISH, will) */
};

/* What a SUBSCRIBE filter may receive. */
enum acl_verdict {
    ACL_DENIED,    /* no topic the filter matches may be read: refuse the filter */
    ACL_GRANTED,   /* every topic it matches may be read: no check per message */
    ACL_PER_TOPIC, /* some may, some not: grant and check each delivered topic */
};

struct acl;

/* Who is asking: client id and username (NULL for none), both NUL-terminated, borrowed. */
struct acl_client {
    const char *client_id;
    const char *username;
};

/*
 * Parses a whole ACL file held in text[0..len) (need not be NUL-terminated); `name` (borrowed)
 * prefixes errors: "NAME:LINE: message". Returns 0 and a new ACL in *out, or -1 with err set.
 * This is the entry point for fuzzing.
 */
int acl_parse(const char *text, size_t len, const char *name, struct acl **out, char *err,
              size_t errlen);
/* Reads and parses the file at `path` (borrowed). */
int acl_load(const char *path, struct acl **out, char *err, size_t errlen);
void acl_free(struct acl *acl);

/* Whether the client may read or write (one enum acl_access) the topic `topic`. */
bool acl_allows(const struct acl *acl, const struct acl_client *client, const uint8_t *topic,
                size_t topic_len, enum acl_access access);

/* What a subscription on `filter` (a valid filter, no $share prefix) may read. */
enum acl_verdict acl_check_filter(const struct acl *acl, const struct acl_client *client,
                                  const uint8_t *filter, size_t filter_len);

#endif
