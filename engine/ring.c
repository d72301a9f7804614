/*
 * ring.c - allocation of struct sl_ring; the push/pop paths are inline in
 * ring.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "engine/ring.h"

int sl_ring_init(struct sl_ring *r, uint32_t capacity)
{
        if (capacity < 2 || (capacity & (capacity - 1)))
                return -EINVAL;
        r->slots = calloc(capacity, sizeof *r->slots);
        if (!r->slots)
                return -ENOMEM;
        r->mask = capacity - 1;
        atomic_init(&r->head, 0);
        atomic_init(&r->tail, 0);
        r->head_cache = 0;
        r->tail_cache = 0;
        return 0;
}

void sl_ring_destroy(struct sl_ring *r)
{
        free(r->slots);
        r->slots = NULL;
}
