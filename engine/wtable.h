/*
 * wtable.h - the per-worker, per-query hash table of group keys.
 *
 * Maps a group key (a byte string, with its 64-bit XXH3 hash computed by
 * the caller) to a fixed-size, caller-defined value block (the key's window
 * slots and accumulators).
 *
 * Layout: an open-addressing index of 8-byte slots (32-bit hash tag +
 * 32-bit entry id), power-of-two sized, linear probing, backward-shift
 * deletion; entries live in fixed-size chunks that never move, so a value
 * pointer stays valid until that key is deleted, whatever else is inserted.
 * Freed entries are reused (free list).  Keys of up to SL_WT_INLINE_KEY
 * bytes are stored in the entry; longer ones in one allocation per key
 * (per new key, never per update).
 *
 * Single-threaded: a table belongs to one worker thread.
 */
#ifndef SL_WTABLE_H
#define SL_WTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_WT_INLINE_KEY 24

struct sl_wtable;

/*
 * value_size: bytes of caller state per key (rounded up to 8); the value
 * block is zeroed on insert.  initial_cap: expected number of keys (may
 * be 0).  Returns NULL on allocation failure.
 */
struct sl_wtable *sl_wtable_new(uint32_t value_size, uint32_t initial_cap);
void sl_wtable_destroy(struct sl_wtable *wt);
/* Grows the index so that n keys fit without another growth (restores).
 * 0 or -ENOMEM. */
int sl_wtable_reserve(struct sl_wtable *wt, size_t n);

/*
 * Two-stage prefetch for a stream of lookups: sl_wtable_prefetch starts
 * loading the index slot of hash (never stalls); sl_wtable_prefetch_entry
 * reads that slot and starts loading the entry, so call it some keys
 * later, once the slot has arrived (on small tables it does nothing: the
 * entries are cached anyway).
 */
void sl_wtable_prefetch(const struct sl_wtable *wt, uint64_t hash);
void sl_wtable_prefetch_entry(const struct sl_wtable *wt, uint64_t hash);

/*
 * Returns the value block of key, inserting a zeroed one if absent
 * (*inserted tells which).  NULL only on allocation failure.
 */
void *sl_wtable_upsert(struct sl_wtable *wt, uint64_t hash, const void *key,
                       uint32_t klen, bool *inserted);

/* Returns the value block of key, or NULL. */
void *sl_wtable_find(const struct sl_wtable *wt, uint64_t hash,
                     const void *key, uint32_t klen);

/*
 * Removes the entry whose value block is value (as returned by upsert or
 * find).  The block and its key are invalid afterwards.
 */
void sl_wtable_delete(struct sl_wtable *wt, void *value);

/* The key and hash of the entry that owns value. */
const void *sl_wtable_key(const void *value, uint32_t *klen);
uint64_t sl_wtable_hash(const void *value);

/*
 * Is value a live entry?  A value pointer kept after its key was deleted
 * points to a dead (or reused) entry: this tells dead from live.
 */
bool sl_wtable_live(const void *value);

size_t sl_wtable_count(const struct sl_wtable *wt);
/* Bytes held by the table: index, chunks, long keys. */
size_t sl_wtable_memory(const struct sl_wtable *wt);

/*
 * Iteration over live entries, in no particular order:
 *   for (void *v = sl_wtable_next(wt, NULL); v; v = sl_wtable_next(wt, v))
 * Deleting the current entry during iteration is allowed.
 */
void *sl_wtable_next(const struct sl_wtable *wt, const void *value);

#endif
