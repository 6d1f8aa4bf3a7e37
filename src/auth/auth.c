/*
 * The rules in force and the method registry (see auth.h).
 */
#include "auth/auth.h"

#include <stdlib.h>
#include <string.h>

#include "auth/password_file.h"
#include "auth/scram_method.h"

int auth_init(struct auth *a)
{
    memset(a, 0, sizeof *a);
    pthread_rwlock_init(&a->lock, NULL);
    atomic_init(&a->generation, 1);
    return auth_add_method(a, SCRAM_METHOD_NAME, scram_method_step, scram_method_end, a);
}

void auth_destroy(struct auth *a)
{
    pw_file_free(a->passwords);
    acl_free(a->acl);
    while (a->methods) {
        struct auth_method *next = a->methods->next;
        free(a->methods->name);
        free(a->methods);
        a->methods = next;
    }
    pthread_rwlock_destroy(&a->lock);
}

int auth_load(struct auth *a, const char *password_file, const char *acl_file, char *err,
              size_t errlen)
{
    struct pw_file *pw = NULL;
    struct acl *acl = NULL;
    if (password_file && pw_file_load(password_file, &pw, err, errlen) != 0)
        return -1;
    if (acl_file && acl_load(acl_file, &acl, err, errlen) != 0) {
        pw_file_free(pw);
        return -1;
    }
    pthread_rwlock_wrlock(&a->lock);
    struct pw_file *old_pw = a->passwords;
    struct acl *old_acl = a->acl;
    a->passwords = pw;
    a->acl = acl;
    atomic_store(&a->has_passwords, pw != NULL);
    atomic_store(&a->has_acl, acl != NULL);
    atomic_fetch_add(&a->generation, 1);
    pthread_rwlock_unlock(&a->lock);
    pw_file_free(old_pw);
    acl_free(old_acl);
    return 0;
}

int auth_add_method(struct auth *a, const char *name, mqttd_auth_handler step,
                    mqttd_auth_end_handler end, void *user)
{
    struct auth_method *m = calloc(1, sizeof *m);
    if (!m || !step || !name || !(m->name = strdup(name))) {
        free(m);
        return -1;
    }
    m->step = step;
    m->end = end;
    m->user = user;
    m->next = a->methods; /* found first: replaces an earlier one of the same name */
    a->methods = m;
    return 0;
}

const struct auth_method *auth_find_method(const struct auth *a, const uint8_t *name, size_t len)
{
    for (const struct auth_method *m = a->methods; m; m = m->next)
        if (strlen(m->name) == len && memcmp(m->name, name, len) == 0)
            return m;
    return NULL;
}

int auth_check_password(struct auth *a, const char *username, size_t username_len,
                        const uint8_t *password, size_t password_len)
{
    pthread_rwlock_rdlock(&a->lock);
    int rc = a->passwords
                 ? pw_file_check(a->passwords, username, username_len, password, password_len)
                 : -1;
    pthread_rwlock_unlock(&a->lock);
    return rc;
}

bool auth_user_exists(struct auth *a, const char *username)
{
    pthread_rwlock_rdlock(&a->lock);
    bool found = a->passwords && pw_file_find(a->passwords, username, strlen(username));
    pthread_rwlock_unlock(&a->lock);
    return found;
}

static bool may(struct auth *a, const struct acl_client *client, const uint8_t *topic, size_t len,
                enum acl_access access)
{
    if (!auth_has_acl(a))
        return true;
    pthread_rwlock_rdlock(&a->lock);
    bool ok = !a->acl || acl_allows(a->acl, client, topic, len, access);
    pthread_rwlock_unlock(&a->lock);
    return ok;
}

bool auth_may_write(struct auth *a, const struct acl_client *client, const uint8_t *topic,
                    size_t len)
{
    return may(a, client, topic, len, ACL_WRITE);
}

bool auth_may_read(struct auth *a, const struct acl_client *client, const uint8_t *topic,
                   size_t len)
{
    return may(a, client, topic, len, ACL_READ);
}

enum acl_verdict auth_filter_verdict(struct auth *a, const struct acl_client *client,
                                     const uint8_t *filter, size_t len, uint64_t *generation)
{
    pthread_rwlock_rdlock(&a->lock);
    *generation = auth_generation(a);
    enum acl_verdict v = a->acl ? acl_check_filter(a->acl, client, filter, len) : ACL_GRANTED;
    pthread_rwlock_unlock(&a->lock);
    return v;
}

void auth_with_passwords(struct auth *a, void (*fn)(void *ctx, const struct pw_file *pw), void *ctx)
{
    pthread_rwlock_rdlock(&a->lock);
    fn(ctx, a->passwords);
    pthread_rwlock_unlock(&a->lock);
}
