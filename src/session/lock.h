/*
 * A four-byte mutex on a futex, for the locks every connection and session carries: glibc's
 * pthread_mutex_t is 40 bytes, and with hundreds of thousands of idle clients that difference
 * is most of the memory a connection costs. Uncontended, acquire and release are one atomic
 * operation each; a waiter sleeps in the kernel instead of spinning.
 */
#ifndef MQTTD_LOCK_H
#define MQTTD_LOCK_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* 0 = free, 1 = held, 2 = held and someone may be waiting. Zero-initialised is free. */
typedef struct {
    atomic_int state;
} mq_lock;

static inline void mq_lock_init(mq_lock *l)
{
    atomic_init(&l->state, 0);
}

static inline void mq_lock_acquire(mq_lock *l)
{
    int expected = 0;
    if (atomic_compare_exchange_strong_explicit(&l->state, &expected, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return;
    if (expected != 2)
        expected = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
    while (expected != 0) {
        syscall(SYS_futex, &l->state, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
        expected = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
    }
}

static inline void mq_lock_release(mq_lock *l)
{
    if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
        syscall(SYS_futex, &l->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

#endif
