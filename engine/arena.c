/*
 * arena.c - bump allocation in a list of malloc'd chunks.
 *
 * Design: allocations bump a cursor through the current chunk (the list
 * head).  When a request does not fit, a new chunk is started; each new
 * regular chunk is twice the previous one, up to SL_ARENA_MAX_CHUNK, so
 * that a big script costs O(log n) mallocs and a small one wastes little.
 * A request larger than a quarter of the regular chunk size gets a chunk
 * of its own, linked behind the head: the head keeps its free space for
 * the small allocations that follow, and one big array does not force a
 * half-empty regular chunk.
 *
 * Guarantees: every pointer returned is SL_ARENA_ALIGN-aligned (computed
 * on the address, so it does not rely on malloc's alignment); no size
 * arithmetic can wrap; nothing is freed before sl_arena_destroy().
 *
 * Single-threaded, no locks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/arena.h"

#define SL_ARENA_DEFAULT_CHUNK 4096
#define SL_ARENA_MAX_CHUNK (1u << 20)

struct sl_arena_chunk {
        struct sl_arena_chunk *next;
        size_t cap;  /* bytes in data[] */
        size_t used; /* bytes of data[] handed out, including alignment padding */
        unsigned char data[];
};

struct sl_arena {
        struct sl_arena_chunk *head; /* allocations bump here; NULL until the first */
        size_t next_chunk;           /* data size of the next regular chunk */
};

struct sl_arena *sl_arena_new(size_t chunk)
{
        struct sl_arena *a = malloc(sizeof(*a));
        if (!a)
                return NULL;
        a->head = NULL;
        a->next_chunk = chunk ? chunk : SL_ARENA_DEFAULT_CHUNK;
        return a;
}

/* Returns a pointer into c for size bytes, or NULL if it does not fit. */
static void *chunk_take(struct sl_arena_chunk *c, size_t size)
{
        uintptr_t base = (uintptr_t)c->data;
        uintptr_t at = base + c->used;
        size_t pad = (SL_ARENA_ALIGN - (at & (SL_ARENA_ALIGN - 1))) & (SL_ARENA_ALIGN - 1);
        if (c->cap - c->used < pad || c->cap - c->used - pad < size)
                return NULL;
        c->used += pad + size;
        return (void *)(at + pad);
}

/* A chunk whose data can hold size bytes at any malloc alignment. */
static struct sl_arena_chunk *chunk_new(size_t size)
{
        if (size > SIZE_MAX - sizeof(struct sl_arena_chunk) - SL_ARENA_ALIGN)
                return NULL;
        size_t cap = size + SL_ARENA_ALIGN;
        struct sl_arena_chunk *c = malloc(sizeof(*c) + cap);
        if (!c)
                return NULL;
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
        return c;
}

void *sl_arena_alloc(struct sl_arena *a, size_t size)
{
        /* Size 0 still gets its own byte so that pointers stay distinct. */
        if (size == 0)
                size = 1;
        if (a->head) {
                void *p = chunk_take(a->head, size);
                if (p)
                        return p;
        }
        struct sl_arena_chunk *c;
        if (size > a->next_chunk / 4) {
                c = chunk_new(size);
                if (!c)
                        return NULL;
                if (a->head) {
                        c->next = a->head->next;
                        a->head->next = c;
                } else {
                        a->head = c;
                }
                return chunk_take(c, size);
        }
        c = chunk_new(a->next_chunk);
        if (!c)
                return NULL;
        c->next = a->head;
        a->head = c;
        if (a->next_chunk < SL_ARENA_MAX_CHUNK)
                a->next_chunk *= 2;
        return chunk_take(c, size);
}

char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n)
{
        if (n == SIZE_MAX)
                return NULL;
        char *p = sl_arena_alloc(a, n + 1);
        if (!p)
                return NULL;
        if (n)
                memcpy(p, s, n);
        p[n] = '\0';
        return p;
}

void sl_arena_destroy(struct sl_arena *a)
{
        if (!a)
                return;
        struct sl_arena_chunk *c = a->head;
        while (c) {
                struct sl_arena_chunk *next = c->next;
                free(c);
                c = next;
        }
        free(a);
}
