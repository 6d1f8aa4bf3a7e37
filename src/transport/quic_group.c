/*
 * Hand-over of QUIC datagrams between the workers of one listener (see quic_group.h). Groups
 * live in a process-wide list keyed by listener, guarded by one mutex; each group has its own
 * lock for membership and the queues, held for a pointer swap or an append only.
 */
#include "transport/quic_group.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct quic_group {
    const void *key;
    pthread_mutex_t lock;
    struct quic_group_member *members[QUIC_GROUP_SLOTS];
    unsigned count;
    struct quic_group *next;
};

static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static struct quic_group *groups;

static void on_wake(uv_async_t *h)
{
    struct quic_group_member *m = h->data;
    pthread_mutex_lock(&m->group->lock);
    struct quic_handoff *list = m->head;
    m->head = m->tail = NULL;
    pthread_mutex_unlock(&m->group->lock);
    while (list) {
        struct quic_handoff *next = list->next;
        m->deliver(m, list);
        free(list);
        list = next;
    }
}

int quic_group_join(struct quic_group_member *m, const void *key, unsigned slot, uv_loop_t *loop,
                    void (*deliver)(struct quic_group_member *, const struct quic_handoff *))
{
    if (slot >= QUIC_GROUP_SLOTS)
        return -1;
    pthread_mutex_lock(&groups_lock);
    struct quic_group *g = groups;
    while (g && g->key != key)
        g = g->next;
    if (!g) {
        g = calloc(1, sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&groups_lock);
            return -1;
        }
        g->key = key;
        pthread_mutex_init(&g->lock, NULL);
        g->next = groups;
        groups = g;
    }
    m->group = g;
    m->slot = slot;
    m->deliver = deliver;
    m->head = m->tail = NULL;
    uv_async_init(loop, &m->wake, on_wake);
    m->wake.data = m;
    pthread_mutex_lock(&g->lock);
    g->members[slot] = m;
    g->count++;
    m->receiving = true;
    pthread_mutex_unlock(&g->lock);
    pthread_mutex_unlock(&groups_lock);
    return 0;
}

bool quic_group_forward(struct quic_group_member *m, unsigned slot, const struct sockaddr *from,
                        socklen_t from_len, const uint8_t *data, size_t len)
{
    if (slot == m->slot || slot >= QUIC_GROUP_SLOTS || from_len > sizeof(struct sockaddr_storage))
        return false;
    struct quic_group *g = m->group;
    pthread_mutex_lock(&g->lock);
    struct quic_group_member *to = g->members[slot];
    if (!to || !to->receiving) {
        pthread_mutex_unlock(&g->lock);
        return false;
    }
    struct quic_handoff *h = malloc(sizeof *h + len);
    if (!h) {
        pthread_mutex_unlock(&g->lock);
        return true; /* dropped, as the network may: QUIC recovers */
    }
    h->next = NULL;
    memcpy(&h->from, from, from_len);
    h->from_len = from_len;
    h->len = len;
    memcpy(h->data, data, len);
    if (to->tail)
        to->tail->next = h;
    else
        to->head = h;
    to->tail = h;
    /* Under the lock: the owner closes its wake handle only after quic_group_stop. */
    uv_async_send(&to->wake);
    pthread_mutex_unlock(&g->lock);
    return true;
}

void quic_group_stop(struct quic_group_member *m)
{
    pthread_mutex_lock(&m->group->lock);
    m->receiving = false;
    pthread_mutex_unlock(&m->group->lock);
}

void quic_group_leave(struct quic_group_member *m)
{
    struct quic_group *g = m->group;
    if (!g)
        return;
    pthread_mutex_lock(&groups_lock);
    pthread_mutex_lock(&g->lock);
    g->members[m->slot] = NULL;
    bool last = --g->count == 0;
    struct quic_handoff *list = m->head;
    m->head = m->tail = NULL;
    pthread_mutex_unlock(&g->lock);
    if (last) {
        struct quic_group **p = &groups;
        while (*p != g)
            p = &(*p)->next;
        *p = g->next;
        pthread_mutex_destroy(&g->lock);
        free(g);
    }
    pthread_mutex_unlock(&groups_lock);
    while (list) {
        struct quic_handoff *next = list->next;
        free(list);
        list = next;
    }
    m->group = NULL;
}
