/*
 * arena.h - a bump allocator for data that dies all at once.
 *
 * The SQL front end puts every token string and syntax-tree node of a
 * script in one arena and frees them with one call, so that an error
 * anywhere in a parse needs no unwinding of partial trees.
 *
 * Single-threaded: an arena belongs to whoever created it.
 */
#ifndef SL_ARENA_H
#define SL_ARENA_H

#include <stddef.h>

/* Every pointer sl_arena_alloc() returns is aligned to this. */
#define SL_ARENA_ALIGN 16

struct sl_arena;

/*
 * chunk: size in bytes of the first chunk (0 picks a default); later
 * chunks double, up to a cap.  Allocates nothing until the first
 * sl_arena_alloc().  Returns NULL on allocation failure.
 */
struct sl_arena *sl_arena_new(size_t chunk);

/*
 * Returns size bytes (uninitialised, SL_ARENA_ALIGN-aligned) owned by the
 * arena, valid until sl_arena_destroy(); NULL on allocation failure or if
 * size cannot be represented.  size 0 returns a distinct valid pointer.
 */
void *sl_arena_alloc(struct sl_arena *a, size_t size);

/*
 * Copies n bytes of s (which may contain NUL bytes; s may be NULL when n
 * is 0) and appends a NUL.  Returns NULL on allocation failure.
 */
char *sl_arena_strndup(struct sl_arena *a, const char *s, size_t n);

/* Frees every allocation and the arena.  NULL is a no-op. */
void sl_arena_destroy(struct sl_arena *a);

#endif
