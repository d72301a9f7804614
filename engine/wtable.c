/*
 * wtable.c - the per-worker, per-query hash table of group keys (wtable.h).
 *
 * Called only by the worker thread that owns the table; nothing here is
 * shared, locked or atomic.
 *
 * Index.  A power-of-two array of uint64_t slots, linear probing.  An empty
 * slot is 0; a used one is
 *         (uint64_t)tag << 32 | (id + 1)
 * with tag = the low 32 bits of the key's hash and id the entry id; id + 1
 * >= 1 keeps a used slot non-zero whatever the tag.  The key's home slot is
 * hash & mask = tag & mask (the index is capped at 2^32 slots), so the slot
 * alone names its home: growth and backward-shift deletion never read an
 * entry, and deleting a key costs no cache miss beyond its own probe run.
 * The price of taking tag and position from the same bits: for keys of the
 * same home the tag only discriminates by its 32 - log2(slots) upper bits
 * (8 bits at 16M slots), so at that size roughly one lookup in 500 reads
 * an entry for a false tag match; the full 64-bit hash in the entry,
 * compared before the key bytes, rejects it.  Keys of different homes
 * always have different tags.
 *
 * Load.  The index doubles when an insert would take it past 3/4 full:
 * linear probing then expects about 2.5 slots read per hit and 8.5 per
 * miss, one or two 64-byte lines of 8 slots, and the index costs 10.7 to
 * 21 bytes per key.  It never shrinks.
 *
 * Deletion.  Backward shift, no tombstones: after a slot is emptied, each
 * later slot of the run whose home lies cyclically at or before the hole
 * moves into it.  Every key stays reachable from its home without crossing
 * an empty slot, and probe lengths depend on the live keys only.
 *
 * Entries.  An entry is a header (struct wt_entry, 40 bytes) followed by the
 * caller's value block (value_size rounded up to 8); the value pointer
 * handed out points just past the header, which is how sl_wtable_key, _hash
 * and _live find it.  Entries live in chunks that are never moved or freed
 * before sl_wtable_destroy, so a value pointer stays valid until its key is
 * deleted.  Chunk c holds 16 << c entries for c < 8 and 4096 after that: a
 * table of a few keys costs a few hundred bytes, and a table of 10M keys
 * has a chunk table of at most 32 KB, which stays in cache.  The id ->
 * entry map is branch-free (see wt_chunk_of).  Deleted entries go on a
 * LIFO free list threaded through their key field and are reused before
 * new ids; a dead entry keeps its id in its header so that iteration can
 * go on from it.
 * Ids are below 2^31 (they share a word with the live bit); an insert
 * past that fails as an allocation failure does.
 *
 * Keys of up to SL_WT_INLINE_KEY bytes sit in the header; longer ones in one
 * malloc per inserted key, freed on delete.
 *
 * Work per call.  A find, a hit or a delete is one probe run.  An insert
 * may also allocate a chunk (malloc of at most 4096 entries) or double the
 * index (calloc of the new index and one pass over the old one: O(slots)).
 * A caller that must keep growth off the event path passes initial_cap:
 * index and chunks for that many keys are allocated up front.  Nothing is
 * allocated on an update of an existing key.
 *
 * Snapshots.  sl_wtable_save writes the table's own layout: the index
 * slots and the entry chunks are copied as they are (one memcpy each, ids
 * [0, next_id)), the long keys follow in id order and their pointers are
 * written as 0.  sl_wtable_load copies them back into chunks of the usual
 * scheme, so nothing is inserted again, and checks the image in two
 * sequential passes:
 *   - the index: every used slot names an id below next_id and is
 *     reachable from its home (its distance from the home is shorter than
 *     the run of used slots that ends at it), and the used slots are as
 *     many as the live entries, at most 3/4 of the slots;
 *   - the entries, chunk by chunk while the chunk is in cache: each
 *     carries its own id, and a long key takes its bytes from the key
 *     section, which must be used up exactly.
 * What ties the two together, that the slots name exactly the live
 * entries, each once, with the low 32 bits of its hash as tag, would take
 * a read of the entries in index order, one cache miss per key.  Instead
 * each pass sums a fingerprint modulo p = 2^61 - 1:
 *         sum over used slots     of  a[id >> 12] * b[id & 4095] * (tag + rho)
 *         sum over live entries   of  a[id >> 12] * b[id & 4095] * ((u32)hash + rho)
 * with a, b and rho drawn at random for each load, and the two must be
 * equal.  Their difference, sum over ids of a[.] * b[.] * ((slots naming
 * id - live(id)) * rho + (their tags - the hash's)), is a polynomial of
 * degree 3 in the random values that is zero only if each live entry is
 * named once with its tag and nothing else is named; if it is not zero, it
 * vanishes at a random point with probability at most 3/p
 * (Schwartz-Zippel), whoever wrote the image.  The tables of a and b are
 * small (b: 32 KB), so both passes run at the speed of the copy.
 * A slot that names the wrong entry is the one defect that would break the
 * table (a delete would search for a slot value that is not there, a
 * lookup would read a dead entry's key), hence the check.  Dead entries
 * keep whatever the image has, except their free list link: the list is
 * rebuilt in id order rather than validated (a walk of it would be a
 * pointer chase over the dead entries).
 *
 * Memory comes from malloc/calloc/realloc (jemalloc in the process).
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/wtable.h"
#include "engine/wtable_int.h"

#define WT_MIN_SLOTS 16u
#define WT_MAX_SLOTS ((uint64_t)1 << 32) /* tag & mask is the home */
#define WT_MAX_ENTRIES ((uint32_t)1 << 31) /* id << 1 | live: 32 bits */
#define WT_LIVE 1u
/* see sl_wtable_prefetch */
#define WT_PREFETCH_ENTRY_BYTES ((size_t)2 << 20)

#define WT_CHUNK_MIN_SHIFT 4 /* chunk 0: 16 entries */
#define WT_CHUNK_SHIFT 12    /* chunks from 8 on: 4096 entries */
#define WT_CHUNK_MIN (1u << WT_CHUNK_MIN_SHIFT)
#define WT_CHUNK_ENTRIES (1u << WT_CHUNK_SHIFT)

struct wt_entry {
        uint64_t hash;
        uint32_t klen;
        uint32_t flags; /* id << 1 | WT_LIVE; the id stays when dead */
        union {
                char inline_key[SL_WT_INLINE_KEY]; /* klen <= INLINE_KEY */
                char *long_key;                    /* klen > INLINE_KEY */
                uint32_t next_free; /* dead: id + 1 of the next, 0 ends */
        } k;
};

_Static_assert(sizeof(struct wt_entry) % 8 == 0, "value blocks are 8-aligned");
/* The image layout that wtable_int.h describes to tests. */
_Static_assert(sizeof(struct wt_entry) == SL_WT_ENTRY_HEAD &&
                       offsetof(struct wt_entry, hash) == SL_WT_OFF_HASH &&
                       offsetof(struct wt_entry, klen) == SL_WT_OFF_KLEN &&
                       offsetof(struct wt_entry, flags) == SL_WT_OFF_FLAGS &&
                       offsetof(struct wt_entry, k) == SL_WT_OFF_KEY,
               "wtable_int.h describes the entry header");

struct sl_wtable {
        uint64_t *slots;
        uint64_t mask;     /* slots - 1 */
        size_t count;      /* live entries */
        size_t grow_at;    /* 3/4 of the slots */
        uint32_t esize;    /* header + value block */
        uint32_t vsize;    /* value_size rounded up to 8 */
        uint32_t next_id;  /* ids below it have been handed out */
        uint32_t id_cap;   /* ids below it have memory in a chunk */
        uint32_t free_head; /* id + 1 of the last freed entry, 0: none */
        uint32_t nchunks;
        uint32_t chunks_cap;
        char **chunks;
        size_t key_bytes;    /* bytes of long keys */
        bool prefetch_entry; /* index + entries over WT_PREFETCH_ENTRY_BYTES */
};

/*
 * Chunk and offset of entry id.  With x = id + 16, chunk c < 8 holds the x
 * of [16 << c, 32 << c) (x has its top bit at lg = c + 4); chunk 8 + k holds
 * [4096 * (k + 1), 4096 * (k + 2)).  Capping lg at 12 makes one formula of
 * both without a branch.
 */
static inline uint32_t wt_chunk_of(uint32_t id, uint32_t *off)
{
        uint32_t x = id + WT_CHUNK_MIN;
        uint32_t lg = 31 - (uint32_t)__builtin_clz(x);

        lg = lg < WT_CHUNK_SHIFT ? lg : WT_CHUNK_SHIFT;
        *off = x & ((1u << lg) - 1);
        return lg - WT_CHUNK_MIN_SHIFT + (x >> WT_CHUNK_SHIFT) -
               (x >= WT_CHUNK_ENTRIES);
}

static inline uint32_t wt_chunk_entries(uint32_t c)
{
        return c < WT_CHUNK_SHIFT - WT_CHUNK_MIN_SHIFT
                       ? WT_CHUNK_MIN << c
                       : WT_CHUNK_ENTRIES;
}

static inline struct wt_entry *wt_entry_at(const struct sl_wtable *wt,
                                           uint32_t id)
{
        uint32_t off;
        uint32_t c = wt_chunk_of(id, &off);

        assert(id < wt->next_id && c < wt->nchunks);
        return (struct wt_entry *)(wt->chunks[c] + (size_t)off * wt->esize);
}

static inline void *wt_value(struct wt_entry *e)
{
        return (char *)e + sizeof(*e);
}

static inline struct wt_entry *wt_entry_of(const void *value)
{
        return (struct wt_entry *)((char *)(uintptr_t)value -
                                   sizeof(struct wt_entry));
}

static inline uint32_t wt_id(const struct wt_entry *e)
{
        return e->flags >> 1;
}

static inline const char *wt_key_bytes(const struct wt_entry *e)
{
        return e->klen <= SL_WT_INLINE_KEY ? e->k.inline_key : e->k.long_key;
}

static inline uint64_t wt_slot(uint64_t hash, uint32_t id)
{
        return (uint64_t)(uint32_t)hash << 32 | (uint64_t)(id + 1);
}

/* 8-byte keys (integers, doubles) are compared inline, others by memcmp. */
static inline bool wt_key_eq(const struct wt_entry *e, const void *key,
                             uint32_t klen)
{
        if (klen == 8) {
                uint64_t a, b;
                memcpy(&a, e->k.inline_key, 8);
                memcpy(&b, key, 8);
                return a == b;
        }
        return klen == 0 || memcmp(wt_key_bytes(e), key, klen) == 0;
}

/*
 * The entry of key, or NULL with *pos set to the empty slot that ends the
 * probe run (where key would go).
 */
static inline struct wt_entry *wt_lookup(const struct sl_wtable *wt,
                                         uint64_t hash, const void *key,
                                         uint32_t klen, uint64_t *pos)
{
        const uint64_t mask = wt->mask;
        const uint32_t tag = (uint32_t)hash;
        uint64_t i = hash & mask;

        for (;; i = (i + 1) & mask) {
                uint64_t s = wt->slots[i];
                if (s == 0)
                        break;
                if ((uint32_t)(s >> 32) != tag)
                        continue;
                struct wt_entry *e = wt_entry_at(wt, (uint32_t)s - 1);
                if (e->hash == hash && e->klen == klen &&
                    wt_key_eq(e, key, klen))
                        return e;
        }
        *pos = i;
        return NULL;
}

static uint64_t wt_empty_slot(const struct sl_wtable *wt, uint64_t hash)
{
        uint64_t i = hash & wt->mask;

        while (wt->slots[i] != 0)
                i = (i + 1) & wt->mask;
        return i;
}

static void wt_sized(struct sl_wtable *wt)
{
        size_t bytes = (size_t)(wt->mask + 1) * sizeof(*wt->slots) +
                       (size_t)wt->id_cap * wt->esize;

        wt->prefetch_entry = bytes > WT_PREFETCH_ENTRY_BYTES;
}

static int wt_index_alloc(struct sl_wtable *wt, uint64_t nslots)
{
        uint64_t *slots = calloc(nslots, sizeof(*slots));

        if (!slots)
                return -ENOMEM;
        wt->slots = slots;
        wt->mask = nslots - 1;
        wt->grow_at = nslots / 4 * 3;
        wt_sized(wt);
        return 0;
}

/* Doubles the index; on failure the table is unchanged. */
static int wt_grow(struct sl_wtable *wt)
{
        uint64_t *old = wt->slots;
        uint64_t old_slots = wt->mask + 1;

        if (old_slots * 2 > WT_MAX_SLOTS)
                return -ENOMEM;
        int err = wt_index_alloc(wt, old_slots * 2);
        if (err)
                return err;
        for (uint64_t i = 0; i < old_slots; i++) {
                uint64_t s = old[i];
                if (s == 0)
                        continue;
                uint64_t j = (s >> 32) & wt->mask;
                while (wt->slots[j] != 0)
                        j = (j + 1) & wt->mask;
                wt->slots[j] = s;
        }
        free(old);
        return 0;
}

int sl_wtable_reserve(struct sl_wtable *wt, size_t n)
{
        while (wt->grow_at < n) {
                int err = wt_grow(wt);
                if (err)
                        return err;
        }
        return 0;
}

static int wt_add_chunk(struct sl_wtable *wt)
{
        uint32_t n = wt_chunk_entries(wt->nchunks);

        if (wt->id_cap >= WT_MAX_ENTRIES - n)
                return -ENOMEM;
        if (wt->nchunks == wt->chunks_cap) {
                uint32_t cap = wt->chunks_cap ? wt->chunks_cap * 2 : 16;
                char **chunks = realloc(wt->chunks, cap * sizeof(*chunks));
                if (!chunks)
                        return -ENOMEM;
                wt->chunks = chunks;
                wt->chunks_cap = cap;
        }
        char *chunk = malloc((size_t)n * wt->esize);
        if (!chunk)
                return -ENOMEM;
        wt->chunks[wt->nchunks++] = chunk;
        wt->id_cap += n;
        wt_sized(wt);
        return 0;
}

/* A free entry: the last deleted one, else a new id. */
static int wt_take_entry(struct sl_wtable *wt, struct wt_entry **ep)
{
        if (wt->free_head != 0) {
                struct wt_entry *e = wt_entry_at(wt, wt->free_head - 1);
                assert(!(e->flags & WT_LIVE));
                wt->free_head = e->k.next_free;
                *ep = e;
                return 0;
        }
        if (wt->next_id == wt->id_cap) {
                int err = wt_add_chunk(wt);
                if (err)
                        return err;
        }
        uint32_t id = wt->next_id++;
        struct wt_entry *e = wt_entry_at(wt, id);
        e->flags = id << 1;
        *ep = e;
        return 0;
}

static void wt_put_entry(struct sl_wtable *wt, struct wt_entry *e)
{
        e->flags &= ~WT_LIVE;
        e->k.next_free = wt->free_head;
        wt->free_head = wt_id(e) + 1;
}

struct sl_wtable *sl_wtable_new(uint32_t value_size, uint32_t initial_cap)
{
        uint64_t vsize = ((uint64_t)value_size + 7) & ~(uint64_t)7;
        uint64_t esize = sizeof(struct wt_entry) + vsize;
        uint64_t nslots = WT_MIN_SLOTS;

        if (esize > UINT32_MAX || initial_cap >= WT_MAX_ENTRIES)
                return NULL;
        while (nslots / 4 * 3 < initial_cap)
                nslots *= 2;

        struct sl_wtable *wt = calloc(1, sizeof(*wt));
        if (!wt)
                return NULL;
        wt->vsize = (uint32_t)vsize;
        wt->esize = (uint32_t)esize;
        if (wt_index_alloc(wt, nslots) != 0)
                goto fail;
        while (wt->id_cap < initial_cap)
                if (wt_add_chunk(wt) != 0)
                        goto fail;
        return wt;
fail:
        sl_wtable_destroy(wt);
        return NULL;
}

void sl_wtable_destroy(struct sl_wtable *wt)
{
        if (!wt)
                return;
        for (void *v = sl_wtable_next(wt, NULL); v; v = sl_wtable_next(wt, v)) {
                struct wt_entry *e = wt_entry_of(v);
                if (e->klen > SL_WT_INLINE_KEY)
                        free(e->k.long_key);
        }
        for (uint32_t c = 0; c < wt->nchunks; c++)
                free(wt->chunks[c]);
        free(wt->chunks);
        free(wt->slots);
        free(wt);
}

/*
 * Two misses stand between a hash and its value: the index line and the
 * entry.  Prefetching the index line alone leaves the entry miss to the
 * upsert, where it serializes.  So on a table too large for a core's L2
 * (index + entries over WT_PREFETCH_ENTRY_BYTES) this also reads the index
 * (an ordinary load: the out-of-order core keeps the loads of a batch of
 * prefetch calls in flight together) and prefetches, for write, the first
 * entry of the run whose tag matches: its header and the start of its
 * value block.  Only the 8 slots from the home are looked at; a longer run
 * leaves the rest to the lookup.  On a small table that second probe is
 * pure cost.  Measured (bench/WTABLE.md, batches of 16): 10K keys (1 MB)
 * 63M/s with the index prefetch only, 40M/s with the entry prefetch;
 * 100K keys (9.5 MB) 18M/s and 24M/s.
 */
void sl_wtable_prefetch(const struct sl_wtable *wt, uint64_t hash)
{
        __builtin_prefetch(&wt->slots[hash & wt->mask], 0);
}

void sl_wtable_prefetch_entry(const struct sl_wtable *wt, uint64_t hash)
{
        const uint64_t mask = wt->mask;
        const uint32_t tag = (uint32_t)hash;
        uint64_t i = hash & mask;

        if (!wt->prefetch_entry)
                return;
        for (int n = 0; n < 8; n++, i = (i + 1) & mask) {
                uint64_t s = wt->slots[i];
                if (s == 0)
                        return;
                if ((uint32_t)(s >> 32) == tag) {
                        const char *e = (const char *)wt_entry_at(
                                wt, (uint32_t)s - 1);
                        uint32_t span = wt->esize < 128 ? wt->esize : 128;
                        __builtin_prefetch(e, 1);
                        __builtin_prefetch(e + span - 1, 1);
                        return;
                }
        }
}

/* The miss path of upsert, kept out of the hit path's code. */
static __attribute__((noinline)) void *
wt_insert(struct sl_wtable *wt, uint64_t pos, uint64_t hash, const void *key,
          uint32_t klen, bool *inserted)
{
        struct wt_entry *e;
        char *long_key = NULL;

        if (wt->count >= wt->grow_at) {
                if (wt_grow(wt) != 0)
                        return NULL;
                pos = wt_empty_slot(wt, hash);
        }
        if (klen > SL_WT_INLINE_KEY) {
                long_key = malloc(klen);
                if (!long_key)
                        return NULL;
        }
        if (wt_take_entry(wt, &e) != 0) {
                free(long_key);
                return NULL;
        }
        e->hash = hash;
        e->klen = klen;
        e->flags |= WT_LIVE;
        if (long_key) {
                memcpy(long_key, key, klen);
                e->k.long_key = long_key;
                wt->key_bytes += klen;
        } else if (klen) {
                memcpy(e->k.inline_key, key, klen);
        }
        void *value = wt_value(e);
        memset(value, 0, wt->vsize);
        wt->slots[pos] = wt_slot(hash, wt_id(e));
        wt->count++;
        *inserted = true;
        return value;
}

void *sl_wtable_upsert(struct sl_wtable *wt, uint64_t hash, const void *key,
                       uint32_t klen, bool *inserted)
{
        uint64_t pos;

        assert(wt && inserted && (key || klen == 0));
        struct wt_entry *e = wt_lookup(wt, hash, key, klen, &pos);
        if (e) {
                *inserted = false;
                return wt_value(e);
        }
        return wt_insert(wt, pos, hash, key, klen, inserted);
}

void *sl_wtable_find(const struct sl_wtable *wt, uint64_t hash,
                     const void *key, uint32_t klen)
{
        uint64_t pos;

        assert(wt && (key || klen == 0));
        struct wt_entry *e = wt_lookup(wt, hash, key, klen, &pos);
        return e ? wt_value(e) : NULL;
}

void sl_wtable_delete(struct sl_wtable *wt, void *value)
{
        struct wt_entry *e = wt_entry_of(value);
        const uint64_t mask = wt->mask;
        const uint64_t want = wt_slot(e->hash, wt_id(e));
        uint64_t *slots = wt->slots;
        uint64_t hole = e->hash & mask;

        assert(e->flags & WT_LIVE);
        assert(wt_entry_at(wt, wt_id(e)) == e);
        while (slots[hole] != want) {
                assert(slots[hole] != 0);
                hole = (hole + 1) & mask;
        }
        for (uint64_t j = (hole + 1) & mask; slots[j]; j = (j + 1) & mask) {
                uint64_t home = (slots[j] >> 32) & mask;
                if (((j - home) & mask) >= ((j - hole) & mask)) {
                        slots[hole] = slots[j];
                        hole = j;
                }
        }
        slots[hole] = 0;

        if (e->klen > SL_WT_INLINE_KEY) {
                free(e->k.long_key);
                /* no stale address in the dead entry (snapshots copy it) */
                e->k.long_key = NULL;
                wt->key_bytes -= e->klen;
        }
        wt_put_entry(wt, e);
        wt->count--;
}

const void *sl_wtable_key(const void *value, uint32_t *klen)
{
        const struct wt_entry *e = wt_entry_of(value);

        if (klen)
                *klen = e->klen;
        return wt_key_bytes(e);
}

uint64_t sl_wtable_hash(const void *value)
{
        return wt_entry_of(value)->hash;
}

bool sl_wtable_live(const void *value)
{
        return wt_entry_of(value)->flags & WT_LIVE;
}

size_t sl_wtable_count(const struct sl_wtable *wt)
{
        return wt->count;
}

size_t sl_wtable_memory(const struct sl_wtable *wt)
{
        return sizeof(*wt) + (size_t)(wt->mask + 1) * sizeof(*wt->slots) +
               (size_t)wt->chunks_cap * sizeof(*wt->chunks) +
               (size_t)wt->id_cap * wt->esize + wt->key_bytes;
}

void *sl_wtable_next(const struct sl_wtable *wt, const void *value)
{
        uint32_t id = value ? wt_id(wt_entry_of(value)) + 1 : 0;

        while (id < wt->next_id) {
                uint32_t off;
                uint32_t c = wt_chunk_of(id, &off);
                uint32_t n = wt_chunk_entries(c) - off;
                char *p = wt->chunks[c] + (size_t)off * wt->esize;

                if (n > wt->next_id - id)
                        n = wt->next_id - id;
                for (; n; n--, id++, p += wt->esize) {
                        struct wt_entry *e = (struct wt_entry *)p;
                        if (e->flags & WT_LIVE)
                                return wt_value(e);
                }
        }
        return NULL;
}

/* ---- snapshots ------------------------------------------------------ */

#define WT_FP_P (((uint64_t)1 << 61) - 1) /* the fingerprint's prime */
#define WT_FP_LO 12 /* a row of coefficients: 2^12 ids, 32 KB (stays in L1) */
#define WT_FP_LO_MASK ((1u << WT_FP_LO) - 1)

/* An empty table, whatever it held before: WT_MIN_SLOTS empty slots, no
 * entries (its memory is no part of its state). */
static int wt_save_empty(const struct sl_wtable *wt, struct sl_buf *out)
{
        const struct sl_wtable_image h = {
                .magic = SL_WT_IMAGE_MAGIC, .head = sizeof(struct wt_entry),
                .inline_key = SL_WT_INLINE_KEY, .esize = wt->esize, .slots = WT_MIN_SLOTS};
        const size_t total = sizeof h + WT_MIN_SLOTS * sizeof(*wt->slots);

        if (!sl_buf_reserve(out, total))
                return -ENOMEM;
        memcpy(out->p + out->len, &h, sizeof h);
        memset(out->p + out->len + sizeof h, 0, total - sizeof h);
        out->len += total;
        return 0;
}

/* The layout is in wtable_int.h.  A long key's pointer is written as 0:
 * the image holds no addresses. */
int sl_wtable_save(const struct sl_wtable *wt, struct sl_buf *out)
{
        const size_t slot_bytes = (size_t)(wt->mask + 1) * sizeof(*wt->slots);
        const size_t entry_bytes = (size_t)wt->next_id * wt->esize;
        const size_t total = sizeof(struct sl_wtable_image) + slot_bytes + entry_bytes +
                             wt->key_bytes;
        const struct sl_wtable_image h = {
                .magic = SL_WT_IMAGE_MAGIC, .head = sizeof(struct wt_entry),
                .inline_key = SL_WT_INLINE_KEY, .esize = wt->esize,
                .slots = wt->mask + 1, .count = wt->count,
                .key_bytes = wt->key_bytes, .next_id = wt->next_id};

        if (wt->count == 0)
                return wt_save_empty(wt, out);
        if (!sl_buf_reserve(out, total))
                return -ENOMEM;
        char *dst = out->p + out->len;
        char *keys = dst + sizeof h + slot_bytes + entry_bytes;
        memcpy(dst, &h, sizeof h);
        dst += sizeof h;
        memcpy(dst, wt->slots, slot_bytes);
        dst += slot_bytes;
        for (uint32_t c = 0, id = 0; id < wt->next_id; c++) {
                uint32_t n = wt_chunk_entries(c);
                if (n > wt->next_id - id)
                        n = wt->next_id - id;
                memcpy(dst, wt->chunks[c], (size_t)n * wt->esize);
                /* Long keys: while the chunk is in cache.  dst may be
                 * unaligned: bytes only. */
                for (uint32_t k = 0; wt->key_bytes && k < n; k++) {
                        const struct wt_entry *e = (const struct wt_entry *)(
                                wt->chunks[c] + (size_t)k * wt->esize);
                        if (!(e->flags & WT_LIVE) || e->klen <= SL_WT_INLINE_KEY)
                                continue;
                        memcpy(keys, e->k.long_key, e->klen);
                        keys += e->klen;
                        memset(dst + (size_t)k * wt->esize + offsetof(struct wt_entry, k), 0,
                               sizeof(e->k.long_key));
                }
                dst += (size_t)n * wt->esize;
                id += n;
        }
        assert(keys == out->p + out->len + total);
        out->len += total;
        return 0;
}

/* Arithmetic modulo p = 2^61 - 1 (2^61 = 1 mod p).  z < 2^128. */
static inline uint64_t wt_fp_reduce(unsigned __int128 z)
{
        z = (z & WT_FP_P) + (z >> 61); /* < 2^68 */
        z = (z & WT_FP_P) + (z >> 61); /* < 2^61 + 2^7 */
        uint64_t r = (uint64_t)z;
        return r >= WT_FP_P ? r - WT_FP_P : r;
}

static inline uint64_t wt_fp_mul(uint64_t x, uint64_t y)
{
        return wt_fp_reduce((unsigned __int128)x * y);
}

/* b * (t + rho) for x = t + rho < 2^62, folded once: < 2^63, so that 2^32
 * of them add up in 128 bits without a reduction each. */
static inline uint64_t wt_fp_term(uint64_t b, uint64_t x)
{
        unsigned __int128 z = (unsigned __int128)b * x;
        return (uint64_t)(z & WT_FP_P) + (uint64_t)(z >> 61);
}

/*
 * n coefficients, uniform modulo p, that whoever wrote the image cannot
 * know: splitmix64 from a seed out of getrandom (the clock where getrandom
 * is not allowed: still not in the image).
 */
static void wt_fp_coeffs(uint64_t *r, size_t n)
{
        uint64_t s;

        if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                s = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                    (uint64_t)(uintptr_t)r;
        }
        for (size_t i = 0; i < n; i++) {
                uint64_t x = (s += 0x9e3779b97f4a7c15ull);
                x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
                x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
                x = (x ^ (x >> 31)) >> 3;
                r[i] = x >= WT_FP_P ? x - WT_FP_P : x;
        }
}

/* What the passes of sl_wtable_load share. */
struct wt_load {
        struct sl_wtable_image h;
        const char *slots, *entries, *keys; /* the sections in the image */
        const uint64_t *a;       /* coefficient of a row: id >> WT_FP_LO */
        const uint64_t *b;       /* coefficient in a row: id & WT_FP_LO_MASK */
        uint64_t rho;            /* added to every tag */
        unsigned __int128 *rows; /* the slots' sums, per row */
        uint32_t done;           /* ids [0, done) are loaded (long keys allocated) */
};

/*
 * First pass: copies the index and checks it (see the top of the file),
 * in cyclic order from the first empty slot, so that every run is seen
 * whole.  Branch-free per slot (half the slots are empty, at random): an
 * empty slot adds 0 to row 0.  Returns the slots' fingerprint in *fp.
 */
static int wt_load_index(struct sl_wtable *wt, struct wt_load *ld, uint64_t *fp)
{
        const uint64_t n = wt->mask + 1, mask = wt->mask;
        const uint32_t next_id = ld->h.next_id;
        const uint32_t nrows = next_id ? ((next_id - 1) >> WT_FP_LO) + 1 : 1;
        uint64_t first_empty = 0, used = 0, run = 0, bad = 0;

        for (;; first_empty++) {
                if (first_empty == n)
                        return -EINVAL; /* full: a miss would never end */
                uint64_t s;
                memcpy(&s, ld->slots + first_empty * sizeof(s), sizeof(s));
                if (s == 0)
                        break;
        }
        for (uint64_t k = 1; k <= n; k++) {
                uint64_t i = (first_empty + k) & mask, s;
                memcpy(&s, ld->slots + i * sizeof(s), sizeof(s));
                wt->slots[i] = s;
                uint64_t u = s != 0;
                uint32_t id = (uint32_t)s - 1; /* id word 0: UINT32_MAX */
                uint64_t tag = s >> 32;
                run = (run + 1) & (0 - u);
                bad |= u & ((id >= next_id) | (((i - (tag & mask)) & mask) >= run));
                id = id < next_id ? id : 0;
                ld->rows[id >> WT_FP_LO] +=
                        wt_fp_term(ld->b[id & WT_FP_LO_MASK], (tag + ld->rho) & (0 - u));
                used += u;
        }
        if (bad || used != ld->h.count)
                return -EINVAL;
        uint64_t sum = 0;
        for (uint32_t r = 0; r < nrows; r++) {
                sum += wt_fp_mul(wt_fp_reduce(ld->rows[r]), ld->a[r]);
                sum = sum >= WT_FP_P ? sum - WT_FP_P : sum;
        }
        *fp = sum;
        return 0;
}

/*
 * Second pass, chunk by chunk: copies the entries, checks each against the
 * index, gives long keys their memory, rebuilds the free list and calls
 * each.  Returns the entries' fingerprint in *fp.
 */
static int wt_load_entries(struct sl_wtable *wt, struct wt_load *ld,
                           sl_wtable_load_fn each, void *arg, uint64_t *fp)
{
        const uint32_t next_id = ld->h.next_id, esize = wt->esize;
        const char *src = ld->entries, *keys = ld->keys;
        uint64_t keys_left = ld->h.key_bytes, live = 0, total = 0;
        unsigned __int128 row = 0; /* < 2^12 terms of 2^63 */
        struct wt_entry *last_dead = NULL;
        uint32_t id = 0;
        int err;

        for (uint32_t c = 0; id < next_id; c++) {
                if (c == wt->nchunks && (err = wt_add_chunk(wt)) != 0)
                        return err;
                uint32_t n = wt_chunk_entries(c);
                if (n > next_id - id)
                        n = next_id - id;
                char *chunk = wt->chunks[c];
                memcpy(chunk, src, (size_t)n * esize);
                src += (size_t)n * esize;
                for (uint32_t k = 0; k < n; k++, id++) {
                        struct wt_entry *e = (struct wt_entry *)(chunk + (size_t)k * esize);
                        if ((id & WT_FP_LO_MASK) == 0 && id != 0) {
                                total += wt_fp_mul(wt_fp_reduce(row),
                                                   ld->a[(id >> WT_FP_LO) - 1]);
                                total = total >= WT_FP_P ? total - WT_FP_P : total;
                                row = 0;
                        }
                        if (wt_id(e) != id)
                                return -EINVAL;
                        if (!(e->flags & WT_LIVE)) {
                                e->k.next_free = 0;
                                if (last_dead)
                                        last_dead->k.next_free = id + 1;
                                else
                                        wt->free_head = id + 1;
                                last_dead = e;
                                continue;
                        }
                        if (e->klen > SL_WT_INLINE_KEY) {
                                if (e->klen > keys_left)
                                        return -EINVAL;
                                char *key = malloc(e->klen);
                                if (!key)
                                        return -ENOMEM;
                                memcpy(key, keys, e->klen);
                                keys += e->klen;
                                keys_left -= e->klen;
                                e->k.long_key = key;
                        }
                        ld->done = id + 1;
                        live++;
                        row += wt_fp_term(ld->b[id & WT_FP_LO_MASK],
                                          (uint32_t)e->hash + ld->rho);
                        if (each && (err = each(arg, wt_value(e))) != 0)
                                return err;
                }
        }
        if (id != 0) {
                total += wt_fp_mul(wt_fp_reduce(row), ld->a[(id - 1) >> WT_FP_LO]);
                total = total >= WT_FP_P ? total - WT_FP_P : total;
        }
        if (keys_left != 0 || live != ld->h.count)
                return -EINVAL;
        *fp = total;
        return 0;
}

/* Back to an empty table after a failed load; the memory stays. */
static void wt_load_undo(struct sl_wtable *wt, uint32_t done)
{
        for (uint32_t c = 0, id = 0; id < done; c++) {
                uint32_t n = wt_chunk_entries(c);
                if (n > done - id)
                        n = done - id;
                for (uint32_t k = 0; k < n; k++) {
                        struct wt_entry *e = (struct wt_entry *)(wt->chunks[c] +
                                                                 (size_t)k * wt->esize);
                        if ((e->flags & WT_LIVE) && e->klen > SL_WT_INLINE_KEY)
                                free(e->k.long_key);
                }
                id += n;
        }
        memset(wt->slots, 0, (size_t)(wt->mask + 1) * sizeof(*wt->slots));
        wt->count = 0;
        wt->next_id = 0;
        wt->free_head = 0;
        wt->key_bytes = 0;
        wt_sized(wt);
}

int sl_wtable_load(struct sl_wtable *wt, const char **p, const char *end,
                   sl_wtable_load_fn each, void *arg)
{
        struct wt_load ld = {0};
        uint64_t *coef = NULL, fp_slots = 0, fp_entries = 0;
        size_t avail = (size_t)(end - *p);
        int err = -EINVAL;

        if (wt->next_id != 0 || avail < sizeof(ld.h))
                return -EINVAL;
        memcpy(&ld.h, *p, sizeof(ld.h));
        avail -= sizeof(ld.h);
        const struct sl_wtable_image *h = &ld.h;
        if (h->magic != SL_WT_IMAGE_MAGIC || h->head != sizeof(struct wt_entry) ||
            h->inline_key != SL_WT_INLINE_KEY || h->esize != wt->esize || h->zero != 0 ||
            h->slots < WT_MIN_SLOTS || h->slots > WT_MAX_SLOTS ||
            (h->slots & (h->slots - 1)) != 0 ||
            h->next_id > WT_MAX_ENTRIES - WT_CHUNK_ENTRIES || h->count > h->next_id ||
            h->count > h->slots / 4 * 3)
                return -EINVAL;
        /* Each section within the input, checked one at a time: no sum
         * of untrusted sizes can wrap. */
        const uint64_t slot_bytes = h->slots * sizeof(uint64_t);
        const uint64_t entry_bytes = (uint64_t)h->next_id * h->esize;
        if (slot_bytes > avail)
                return -EINVAL;
        avail -= slot_bytes;
        if (entry_bytes > avail)
                return -EINVAL;
        avail -= entry_bytes;
        if (h->key_bytes > avail)
                return -EINVAL;
        ld.slots = *p + sizeof(ld.h);
        ld.entries = ld.slots + slot_bytes;
        ld.keys = ld.entries + entry_bytes;

        const size_t nb = (size_t)1 << WT_FP_LO;
        const size_t na = h->next_id ? ((size_t)(h->next_id - 1) >> WT_FP_LO) + 1 : 1;
        ld.rows = calloc(na, sizeof(*ld.rows));
        coef = malloc((na + nb + 1) * sizeof(*coef));
        if (!ld.rows || !coef) {
                err = -ENOMEM;
                goto out;
        }
        wt_fp_coeffs(coef, na + nb + 1);
        ld.a = coef;
        ld.b = coef + na;
        ld.rho = coef[na + nb];
        if (h->slots != wt->mask + 1) {
                uint64_t *slots = malloc(slot_bytes);
                if (!slots) {
                        err = -ENOMEM;
                        goto out;
                }
                free(wt->slots);
                wt->slots = slots;
                wt->mask = h->slots - 1;
                wt->grow_at = h->slots / 4 * 3;
        }
        err = wt_load_index(wt, &ld, &fp_slots);
        if (err == 0)
                err = wt_load_entries(wt, &ld, each, arg, &fp_entries);
        if (err == 0 && fp_slots != fp_entries)
                err = -EINVAL;
        if (err != 0) {
                wt_load_undo(wt, ld.done);
                goto out;
        }
        wt->count = h->count;
        wt->next_id = h->next_id;
        wt->key_bytes = h->key_bytes;
        wt_sized(wt);
        *p = ld.keys + h->key_bytes;
out:
        free(coef);
        free(ld.rows);
        return err;
}
