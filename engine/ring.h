/*
 * ring.h - bounded single-producer single-consumer ring of pointers.
 *
 * The contract of Concurrency Kit's ck_ring_*_spsc: one thread pushes, one
 * thread pops, capacity a power of two, never blocks, push fails when full
 * and pop when empty.  Written with C11 atomics instead of using ck_ring
 * because ThreadSanitizer cannot see ck's inline-assembly fences, and the
 * threaded paths must run clean under TSan; bench/bench_ring.cc compares
 * the two.
 *
 * Layout (ck_ring, DPDK rte_ring, rigtorp SPSCQueue): the producer's and
 * the consumer's indices live on separate cache lines, each side keeps a
 * cached copy of the other side's index and reloads it only when the cache
 * says full/empty, and the indices are free-running uint32_t counters
 * masked on use, compared by unsigned difference (wrap-around is fine).
 * Bulk push and pop move up to n pointers with one index update.
 */
#ifndef SL_RING_H
#define SL_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SL_CACHELINE 64

struct sl_ring {
        alignas(SL_CACHELINE) _Atomic uint32_t head; /* consumer stores (release), producer loads (acquire) */
        uint32_t tail_cache;                        /* consumer only: last tail seen */
        alignas(SL_CACHELINE) _Atomic uint32_t tail; /* producer stores (release), consumer loads (acquire) */
        uint32_t head_cache;                        /* producer only: last head seen */
        alignas(SL_CACHELINE) uint32_t mask;        /* immutable after init */
        void **slots;
};

/* capacity: a power of two >= 2.  Returns 0 or -ENOMEM / -EINVAL. */
int sl_ring_init(struct sl_ring *r, uint32_t capacity);
void sl_ring_destroy(struct sl_ring *r);

/* Producer thread only.  Pushes up to n items; returns how many. */
static inline uint32_t sl_ring_push_spsc(struct sl_ring *r, void *const *items,
                                         uint32_t n)
{
        uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed); /* own index */
        uint32_t cap = r->mask + 1;
        uint32_t room = cap - (t - r->head_cache);
        if (room < n) {
                /* A1: pairs with R2 in sl_ring_pop_spsc: slots the consumer
                 * released are free to overwrite. */
                r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
                room = cap - (t - r->head_cache);
                if (room < n)
                        n = room;
        }
        for (uint32_t i = 0; i < n; i++)
                r->slots[(t + i) & r->mask] = items[i];
        /* R1: publishes the slots written above; pairs with A2. */
        atomic_store_explicit(&r->tail, t + n, memory_order_release);
        return n;
}

static inline bool sl_ring_push1_spsc(struct sl_ring *r, void *item)
{
        return sl_ring_push_spsc(r, &item, 1) == 1;
}

/* Consumer thread only.  Pops up to n items; returns how many. */
static inline uint32_t sl_ring_pop_spsc(struct sl_ring *r, void **items,
                                        uint32_t n)
{
        uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed); /* own index */
        uint32_t avail = r->tail_cache - h;
        if (avail < n) {
                /* A2: pairs with R1: the slots up to tail are written. */
                r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
                avail = r->tail_cache - h;
                if (avail < n)
                        n = avail;
        }
        for (uint32_t i = 0; i < n; i++)
                items[i] = r->slots[(h + i) & r->mask];
        /* R2: hands the slots back to the producer; pairs with A1. */
        atomic_store_explicit(&r->head, h + n, memory_order_release);
        return n;
}

static inline bool sl_ring_pop1_spsc(struct sl_ring *r, void **item)
{
        return sl_ring_pop_spsc(r, item, 1) == 1;
}

#endif
