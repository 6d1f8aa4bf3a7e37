/*
 * The broker's authentication and authorization state: the password file and ACL in force
 * (replaced together by auth_load, on start-up and on SIGHUP) and the enhanced authentication
 * methods (MQTT 5 AUTH) registered by name, SCRAM-SHA-256 among them.
 *
 * Threads: every function may be called from any thread. The rules sit behind a reader-writer
 * lock held only while one check runs; a reload swaps them under the write lock, so a check sees
 * the old rules or the new, never a mix. `generation` changes with every successful load, which
 * lets a session remember "all my subscriptions were granted whole under generation G" and skip
 * per-message checks while G is current.
 */
#ifndef MQTTD_AUTH_AUTH_H
#define MQTTD_AUTH_AUTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/acl_file.h"
#include "mqttd.h"

struct pw_file;

/* One enhanced authentication method, as registered with mqttd_on_auth. */
struct auth_method {
    struct auth_method *next;
    char *name;
    mqttd_auth_handler step;
    mqttd_auth_end_handler end;
    void *user;
};

struct auth {
    pthread_rwlock_t lock;
    struct pw_file *passwords; /* NULL: no password file */
    struct acl *acl;           /* NULL: no ACL file, everything allowed */
    atomic_bool has_passwords, has_acl;
    atomic_uint_fast64_t generation;
    struct auth_method *methods; /* set before the workers start, read-only after */
};

/* Initializes with no files and the built-in SCRAM-SHA-256 method. Returns 0 or -1 (memory). */
int auth_init(struct auth *a);
void auth_destroy(struct auth *a);

/*
 * Loads both files (paths borrowed; NULL = none) and, only when both parse, puts them in force
 * and bumps the generation. On error the old rules stay and err reads "FILE:LINE: message".
 */
int auth_load(struct auth *a, const char *password_file, const char *acl_file, char *err,
              size_t errlen);

/* Registers a method (name copied); a later registration of the same name wins. 0 or -1. */
int auth_add_method(struct auth *a, const char *name, mqttd_auth_handler step,
                    mqttd_auth_end_handler end, void *user);
/* The method called name[0..len), or NULL. */
const struct auth_method *auth_find_method(const struct auth *a, const uint8_t *name, size_t len);

static inline uint64_t auth_generation(struct auth *a)
{
    return atomic_load_explicit(&a->generation, memory_order_acquire);
}
static inline bool auth_has_passwords(struct auth *a)
{
    return atomic_load_explicit(&a->has_passwords, memory_order_acquire);
}
static inline bool auth_has_acl(struct auth *a)
{
    return atomic_load_explicit(&a->has_acl, memory_order_acquire);
}

/* Checks a CONNECT's username and password against the password file: 0 when they match,
 * -1 otherwise (also when no password file is loaded). */
int auth_check_password(struct auth *a, const char *username, size_t username_len,
                        const uint8_t *password, size_t password_len);
/* Whether the password file has `username` (false when none is loaded). */
bool auth_user_exists(struct auth *a, const char *username);

/* Whether the client may publish to / receive from `topic`: always true without an ACL. */
bool auth_may_write(struct auth *a, const struct acl_client *client, const uint8_t *topic,
                    size_t len);
bool auth_may_read(struct auth *a, const struct acl_client *client, const uint8_t *topic,
                   size_t len);
/* What a subscription on `filter` may receive (ACL_GRANTED without an ACL), and the generation
 * the verdict belongs to. */
enum acl_verdict auth_filter_verdict(struct auth *a, const struct acl_client *client,
                                     const uint8_t *filter, size_t len, uint64_t *generation);

/* Runs fn with the password file in force (NULL when none) under the read lock. */
void auth_with_passwords(struct auth *a, void (*fn)(void *ctx, const struct pw_file *pw),
                         void *ctx);

#endif
