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

#include "engine/buf.h"

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

/*
 * Snapshots of the table's own layout (checkpoints, aggop.c).
 *
 * sl_wtable_save appends an image of wt to out: a header, the index slots
 * as they are, the entries of every id handed out (live and dead) as they
 * lie in the chunks, then the bytes of the long keys in id order.  It grows
 * out once and copies contiguous memory, so the cost is about a memcpy of
 * the table; the image's size follows the table's memory (index, and the
 * most entries it held at once), not its live keys, except that a table
 * with no live key writes a minimal image.  The image is in native byte order and layout: it is read
 * back by a build of the same source on the same kind of machine (the
 * snapshot file names its format version; the header here has its own
 * magic and the entry sizes).  0, or -ENOMEM (out is then marked oom).
 *
 * sl_wtable_load reads an image from *p (at most end - *p bytes) into wt,
 * which must have the same value_size and be fresh (never inserted into,
 * or left by a failed load); on success *p is advanced past the image.
 * The image is not trusted: everything the table relies on is checked in
 * sequential passes before the table is usable (index size, that every
 * used slot is reachable from its home, counts, entry ids, long key
 * lengths against their section, and that the slots name exactly the live
 * entries, once each, with their hashes' tags), so a hostile image can
 * make it neither read nor write out of bounds nor loop.  The last check
 * is a fingerprint with random coefficients (a bad image passes it with
 * probability below 2^-59, whatever the image: see wtable.c); the rest is
 * exact.  The free list is not taken from the image but rebuilt, in id
 * order.  each, if not NULL, is called once per live entry
 * in id order, while the entry is in cache, with the table not yet usable
 * (each may read and change its value block and read its key, nothing
 * else); a non-zero return stops the load and is returned.
 * Returns 0, -EINVAL (bad image, or wt not fresh), -ENOMEM, or each's
 * error; on failure wt is left empty and usable, and *p unchanged.
 */
typedef int (*sl_wtable_load_fn)(void *arg, void *value);

int sl_wtable_save(const struct sl_wtable *wt, struct sl_buf *out);
int sl_wtable_load(struct sl_wtable *wt, const char **p, const char *end,
                   sl_wtable_load_fn each, void *arg);

#endif
