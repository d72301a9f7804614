/*
 * ring_shim.c - C entry points to sluice's ring and Concurrency Kit's
 * ck_ring for bench_ring.cc (neither header compiles as C++).  Both rings
 * pay the same out-of-line call, so the comparison stays fair.
 */
#include <ck_ring.h>
#include <stdlib.h>

#include "bench/ring_shim.h"
#include "engine/ring.h"

void *shim_sl_new(uint32_t cap)
{
        struct sl_ring *r = malloc(sizeof *r);
        if (r && sl_ring_init(r, cap) != 0) {
                free(r);
                r = NULL;
        }
        return r;
}

void shim_sl_free(void *r)
{
        sl_ring_destroy(r);
        free(r);
}

uint32_t shim_sl_push(void *r, void *const *items, uint32_t n)
{
        return sl_ring_push_spsc(r, items, n);
}

uint32_t shim_sl_pop(void *r, void **items, uint32_t n)
{
        return sl_ring_pop_spsc(r, items, n);
}

struct ckr {
        ck_ring_t ring;
        ck_ring_buffer_t *buf;
};

void *shim_ck_new(uint32_t cap)
{
        struct ckr *r = malloc(sizeof *r);
        if (!r)
                return NULL;
        r->buf = calloc(cap, sizeof *r->buf);
        if (!r->buf) {
                free(r);
                return NULL;
        }
        ck_ring_init(&r->ring, cap);
        return r;
}

void shim_ck_free(void *p)
{
        struct ckr *r = p;
        free(r->buf);
        free(r);
}

/* ck_ring has no bulk push or pop: n single operations. */
uint32_t shim_ck_push(void *p, void *const *items, uint32_t n)
{
        struct ckr *r = p;
        uint32_t i = 0;
        while (i < n && ck_ring_enqueue_spsc(&r->ring, r->buf, items[i]))
                i++;
        return i;
}

uint32_t shim_ck_pop(void *p, void **items, uint32_t n)
{
        struct ckr *r = p;
        uint32_t i = 0;
        while (i < n && ck_ring_dequeue_spsc(&r->ring, r->buf, &items[i]))
                i++;
        return i;
}
