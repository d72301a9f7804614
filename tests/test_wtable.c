/*
 * test_wtable.c - cmocka tests of engine/wtable.c.
 *
 * Hashes are made up here (the table takes the caller's hash), which lets
 * the tests force whole-hash, tag and home-slot collisions and probe runs
 * that wrap around the end of the index.  Every case checks the stored
 * bytes, not only return codes; the last one runs 200k random operations
 * against a direct-indexed reference with a fixed seed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buf.h"
#include "engine/wtable.h"
#include "engine/wtable_int.h"

struct val {
        uint64_t id;
        uint64_t data;
};

static uint64_t mix64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ull;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        return x ^ (x >> 31);
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
        rng_state += 0x9e3779b97f4a7c15ull;
        return mix64(rng_state);
}

static bool all_zero(const void *p, size_t n)
{
        const unsigned char *b = p;

        for (size_t i = 0; i < n; i++)
                if (b[i])
                        return false;
        return true;
}

static struct val *put(struct sl_wtable *wt, uint64_t h, const void *key,
                       uint32_t klen, bool want_inserted)
{
        bool inserted = !want_inserted;
        struct val *v = sl_wtable_upsert(wt, h, key, klen, &inserted);

        assert_non_null(v);
        assert_int_equal(inserted, want_inserted);
        return v;
}

static void test_insert_find_delete(void **state)
{
        (void)state;
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        assert_non_null(wt);
        assert_int_equal(sl_wtable_count(wt), 0);
        sl_wtable_prefetch(wt, 1);
        assert_null(sl_wtable_find(wt, 1, "alpha", 5));

        struct val *a = put(wt, 111, "alpha", 5, true);
        assert_true(all_zero(a, sizeof(*a)));
        assert_int_equal((uintptr_t)a % 8, 0);
        a->id = 1;
        a->data = 0xa1;
        struct val *b = put(wt, 222, "beta", 4, true);
        b->id = 2;
        b->data = 0xb2;

        assert_ptr_equal(put(wt, 111, "alpha", 5, false), a);
        assert_ptr_equal(sl_wtable_find(wt, 111, "alpha", 5), a);
        assert_ptr_equal(sl_wtable_find(wt, 222, "beta", 4), b);
        assert_int_equal(a->data, 0xa1);
        assert_int_equal(b->data, 0xb2);
        /* same bytes, other hash; same hash, other bytes: both absent */
        assert_null(sl_wtable_find(wt, 112, "alpha", 5));
        assert_null(sl_wtable_find(wt, 111, "alphb", 5));
        assert_int_equal(sl_wtable_count(wt), 2);

        uint32_t klen = 0;
        const void *k = sl_wtable_key(a, &klen);
        assert_int_equal(klen, 5);
        assert_memory_equal(k, "alpha", 5);
        assert_int_equal(sl_wtable_hash(a), 111);
        assert_true(sl_wtable_live(a));

        sl_wtable_delete(wt, a);
        assert_false(sl_wtable_live(a));
        assert_null(sl_wtable_find(wt, 111, "alpha", 5));
        assert_ptr_equal(sl_wtable_find(wt, 222, "beta", 4), b);
        assert_int_equal(b->data, 0xb2);
        assert_int_equal(sl_wtable_count(wt), 1);

        sl_wtable_delete(wt, b);
        assert_int_equal(sl_wtable_count(wt), 0);
        assert_null(sl_wtable_next(wt, NULL));
        sl_wtable_destroy(wt);
        sl_wtable_destroy(NULL);
}

/* 2^20 keys from an empty table: 17 doublings of the index. */
static void test_growth(void **state)
{
        (void)state;
        enum { N = 1 << 20, KEEP = 4096 };
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        struct val **kept = calloc(KEEP, sizeof(*kept));
        assert_non_null(wt);
        assert_non_null(kept);

        size_t mem = sl_wtable_memory(wt);
        for (uint64_t i = 0; i < N; i++) {
                struct val *v = put(wt, mix64(i), &i, sizeof(i), true);
                v->id = i;
                v->data = ~i;
                if (i < KEEP)
                        kept[i] = v;
                size_t m = sl_wtable_memory(wt);
                assert_true(m >= mem);
                mem = m;
        }
        assert_int_equal(sl_wtable_count(wt), N);
        /* entries and an index at most 3/4 full: at least 40 + 16 + 8 / 0.75 */
        assert_true(mem >= (size_t)N * (40 + 16 + 10));

        for (uint64_t i = 0; i < N; i++) {
                sl_wtable_prefetch(wt, mix64(i));
                sl_wtable_prefetch_entry(wt, mix64(i)); /* the entry prefetch path */
                struct val *v = sl_wtable_find(wt, mix64(i), &i, sizeof(i));
                assert_non_null(v);
                assert_int_equal(v->id, i);
                assert_int_equal(v->data, ~i);
                if (i < KEEP)
                        assert_ptr_equal(v, kept[i]);
        }
        for (uint64_t i = N; i < N + 1000; i++)
                assert_null(sl_wtable_find(wt, mix64(i), &i, sizeof(i)));
        for (uint64_t i = 0; i < KEEP; i++)
                assert_ptr_equal(put(wt, mix64(i), &i, sizeof(i), false),
                                 kept[i]);
        free(kept);
        sl_wtable_destroy(wt);
}

/*
 * Homes 13, 14, 15, 0, 1, 2 of a 16-slot index (its size while it holds at
 * most 12 keys): runs cluster and wrap around.  Bits 16..17 of the tag vary,
 * so some keys of one home share their tag and some do not; the high half
 * of the hash always differs.
 */
static void test_backward_shift(void **state)
{
        (void)state;
        static const uint32_t homes[] = {0xfffd, 0xfffe, 0xffff, 0, 1, 2};
        enum { K = 12, TRIALS = 3000 };

        rng_state = 42;
        for (int t = 0; t < TRIALS; t++) {
                struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
                assert_non_null(wt);
                size_t mem = 0;
                uint64_t h[K];
                struct val *v[K];
                bool live[K];
                int order[K];

                for (uint64_t i = 0; i < K; i++) {
                        uint32_t lo = homes[rnd() % 6] | (uint32_t)(rnd() % 4) << 16;
                        h[i] = (i + 1) << 32 | lo;
                        v[i] = put(wt, h[i], &i, sizeof(i), true);
                        v[i]->id = i;
                        v[i]->data = h[i];
                        live[i] = true;
                        order[i] = (int)i;
                        if (i == 0)
                                mem = sl_wtable_memory(wt);
                }
                assert_int_equal(sl_wtable_memory(wt), mem); /* no growth */
                for (int i = K - 1; i > 0; i--) {
                        int j = (int)(rnd() % (uint64_t)(i + 1));
                        int x = order[i];
                        order[i] = order[j];
                        order[j] = x;
                }
                for (int d = 0; d < K; d++) {
                        uint64_t x = (uint64_t)order[d];
                        sl_wtable_delete(wt, v[x]);
                        live[x] = false;
                        assert_int_equal(sl_wtable_count(wt), (size_t)(K - d - 1));
                        for (uint64_t i = 0; i < K; i++) {
                                struct val *f = sl_wtable_find(wt, h[i], &i, sizeof(i));
                                if (!live[i]) {
                                        assert_null(f);
                                        continue;
                                }
                                assert_ptr_equal(f, v[i]);
                                assert_int_equal(f->id, i);
                                assert_int_equal(f->data, h[i]);
                        }
                }
                sl_wtable_destroy(wt);
        }
}

/* Deletion in runs of a large table with many equal homes. */
static void test_backward_shift_large(void **state)
{
        (void)state;
        enum { N = 50000 };
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        assert_non_null(wt);

        /* groups of 8 keys share the low 32 bits: home and tag */
        for (uint64_t i = 0; i < N; i++) {
                uint64_t hh = (uint32_t)mix64(i / 8);
                struct val *v = put(wt, hh | (i << 32), &i, sizeof(i), true);
                v->id = i;
        }
        for (uint64_t i = 0; i < N; i += 3) {
                uint64_t hh = (uint32_t)mix64(i / 8);
                struct val *v = sl_wtable_find(wt, hh | (i << 32), &i, sizeof(i));
                assert_non_null(v);
                sl_wtable_delete(wt, v);
        }
        for (uint64_t i = 0; i < N; i++) {
                uint64_t hh = (uint32_t)mix64(i / 8);
                struct val *v = sl_wtable_find(wt, hh | (i << 32), &i, sizeof(i));
                if (i % 3 == 0) {
                        assert_null(v);
                } else {
                        assert_non_null(v);
                        assert_int_equal(v->id, i);
                }
        }
        assert_int_equal(sl_wtable_count(wt), N - (N + 2) / 3);
        sl_wtable_destroy(wt);
}

static void test_collisions(void **state)
{
        (void)state;
        enum { N = 300 };
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        assert_non_null(wt);
        char key[64];

        /* one full hash for N keys of varied length and bytes */
        for (uint64_t i = 0; i < N; i++) {
                int n = snprintf(key, sizeof(key), "k%llu%.*s",
                                 (unsigned long long)i, (int)(i % 30),
                                 "................................");
                struct val *v = put(wt, 0x1234567887654321ull, key, (uint32_t)n, true);
                v->id = i;
        }
        /* one tag (low 32 bits), N different high halves, one key */
        for (uint64_t i = 0; i < N; i++) {
                struct val *v = put(wt, (i + 1) << 32 | 0xabcdef01u, "same", 4, true);
                v->id = 1000 + i;
        }
        /* one hash, keys that differ only in length, across the inline limit */
        char as[41];
        memset(as, 'a', sizeof(as));
        for (uint32_t len = 0; len <= 40; len++) {
                struct val *v = put(wt, 77, as, len, true);
                v->id = 2000 + len;
        }
        /* a NUL byte is key data like any other: "aa\0" is not "aaa" */
        struct val *z = put(wt, 77, "aa\0", 3, true);
        z->id = 3000;
        assert_int_equal(sl_wtable_count(wt), 2 * N + 42);
        /* runs far longer than the 8 slots prefetch looks at */
        sl_wtable_prefetch(wt, 0x1234567887654321ull);
        sl_wtable_prefetch(wt, 77);

        for (uint64_t i = 0; i < N; i++) {
                int n = snprintf(key, sizeof(key), "k%llu%.*s",
                                 (unsigned long long)i, (int)(i % 30),
                                 "................................");
                struct val *v = sl_wtable_find(wt, 0x1234567887654321ull, key,
                                               (uint32_t)n);
                assert_non_null(v);
                assert_int_equal(v->id, i);
                v = sl_wtable_find(wt, (i + 1) << 32 | 0xabcdef01u, "same", 4);
                assert_non_null(v);
                assert_int_equal(v->id, 1000 + i);
        }
        assert_null(sl_wtable_find(wt, (uint64_t)(N + 1) << 32 | 0xabcdef01u, "same", 4));
        for (uint32_t len = 0; len <= 40; len++) {
                struct val *v = sl_wtable_find(wt, 77, as, len);
                assert_non_null(v);
                assert_int_equal(v->id, 2000 + len);
                uint32_t kl;
                const void *k = sl_wtable_key(v, &kl);
                assert_int_equal(kl, len);
                assert_memory_equal(k, as, len);
        }
        assert_null(sl_wtable_find(wt, 77, "ab", 2));
        assert_ptr_equal(sl_wtable_find(wt, 77, "aa\0", 3), z);
        assert_int_equal(z->id, 3000);

        /* delete the even lengths; odd ones stay */
        for (uint32_t len = 0; len <= 40; len += 2)
                sl_wtable_delete(wt, sl_wtable_find(wt, 77, as, len));
        for (uint32_t len = 0; len <= 40; len++) {
                struct val *v = sl_wtable_find(wt, 77, as, len);
                if (len % 2 == 0) {
                        assert_null(v);
                } else {
                        assert_non_null(v);
                        assert_int_equal(v->id, 2000 + len);
                }
        }
        sl_wtable_destroy(wt);
}

static void test_long_and_empty_keys(void **state)
{
        (void)state;
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        assert_non_null(wt);
        static const uint32_t lens[] = {SL_WT_INLINE_KEY, SL_WT_INLINE_KEY + 1,
                                        100, 10000};
        enum { NL = sizeof(lens) / sizeof(lens[0]) };
        char *buf = malloc(10000);
        assert_non_null(buf);

        struct val *e = put(wt, 5, NULL, 0, true);
        e->id = 99;
        assert_ptr_equal(put(wt, 5, "", 0, false), e);
        uint32_t kl = 1;
        sl_wtable_key(e, &kl);
        assert_int_equal(kl, 0);

        struct val *v[NL];
        size_t mem = sl_wtable_memory(wt);
        for (int i = 0; i < NL; i++) {
                for (uint32_t j = 0; j < lens[i]; j++)
                        buf[j] = (char)(j * 7 + i);
                v[i] = put(wt, 1000 + lens[i], buf, lens[i], true);
                v[i]->id = lens[i];
                buf[0] ^= 1; /* the table holds its own copy */
                const void *k = sl_wtable_key(v[i], &kl);
                assert_ptr_not_equal(k, buf);
                assert_int_equal(kl, lens[i]);
                buf[0] ^= 1;
                assert_memory_equal(k, buf, lens[i]);
        }
        /* long keys are counted */
        assert_true(sl_wtable_memory(wt) >= mem + 25 + 100 + 10000);
        for (int i = 0; i < NL; i++) {
                for (uint32_t j = 0; j < lens[i]; j++)
                        buf[j] = (char)(j * 7 + i);
                assert_ptr_equal(sl_wtable_find(wt, 1000 + lens[i], buf, lens[i]), v[i]);
                buf[lens[i] - 1] ^= 1;
                assert_null(sl_wtable_find(wt, 1000 + lens[i], buf, lens[i]));
                assert_null(sl_wtable_find(wt, 1000 + lens[i], buf, lens[i] - 1));
        }
        size_t before = sl_wtable_memory(wt);
        sl_wtable_delete(wt, v[3]);
        assert_int_equal(sl_wtable_memory(wt), before - 10000);
        assert_ptr_equal(sl_wtable_find(wt, 5, NULL, 0), e);
        assert_int_equal(e->id, 99);
        sl_wtable_delete(wt, e);
        assert_null(sl_wtable_find(wt, 5, NULL, 0));
        free(buf);
        sl_wtable_destroy(wt); /* frees the remaining long keys (ASan checks) */
}

static void test_reuse(void **state)
{
        (void)state;
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        assert_non_null(wt);

        struct val *a = put(wt, 1, "a", 1, true);
        struct val *b = put(wt, 2, "b", 1, true);
        a->id = 0xaaaa;
        a->data = 0xaaaa;
        b->id = 0xbbbb;
        size_t mem = sl_wtable_memory(wt);

        sl_wtable_delete(wt, a);
        assert_false(sl_wtable_live(a));
        assert_true(sl_wtable_live(b));
        /* the freed entry is the next one handed out, zeroed */
        struct val *c = put(wt, 3, "a long key that does not fit inline", 35, true);
        assert_ptr_equal(c, a);
        assert_true(sl_wtable_live(a));
        assert_true(all_zero(c, sizeof(*c)));
        uint32_t kl;
        assert_memory_equal(sl_wtable_key(c, &kl), "a long key that does not fit inline", 35);
        assert_int_equal(sl_wtable_hash(c), 3);
        assert_null(sl_wtable_find(wt, 1, "a", 1));
        assert_int_equal(b->id, 0xbbbb);
        assert_int_equal(sl_wtable_memory(wt), mem + 35);

        /* churn: the same key coming and going uses no new memory */
        mem = sl_wtable_memory(wt);
        for (int i = 0; i < 10000; i++) {
                struct val *d = put(wt, 4, "d", 1, true);
                assert_true(all_zero(d, sizeof(*d)));
                d->data = (uint64_t)i;
                sl_wtable_delete(wt, d);
                assert_false(sl_wtable_live(d));
        }
        assert_int_equal(sl_wtable_memory(wt), mem);
        assert_int_equal(sl_wtable_count(wt), 2);
        sl_wtable_destroy(wt);
}

static void test_iteration(void **state)
{
        (void)state;
        enum { N = 20000 };
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        unsigned char *seen = calloc(N, 1);
        assert_non_null(wt);
        assert_non_null(seen);
        assert_null(sl_wtable_next(wt, NULL));

        for (uint64_t i = 0; i < N; i++)
                put(wt, mix64(i), &i, sizeof(i), true)->id = i;
        /* dead entries in between */
        for (uint64_t i = 0; i < N; i += 5)
                sl_wtable_delete(wt, sl_wtable_find(wt, mix64(i), &i, sizeof(i)));

        size_t n = 0;
        for (struct val *v = sl_wtable_next(wt, NULL); v; v = sl_wtable_next(wt, v)) {
                assert_true(v->id < N && v->id % 5 != 0);
                assert_int_equal(seen[v->id], 0);
                seen[v->id] = 1;
                uint32_t kl;
                const void *k = sl_wtable_key(v, &kl);
                assert_int_equal(kl, 8);
                assert_memory_equal(k, &v->id, 8);
                n++;
        }
        assert_int_equal(n, sl_wtable_count(wt));
        assert_int_equal(n, N - N / 5);

        /* delete the current entry when its id is odd */
        memset(seen, 0, N);
        n = 0;
        for (struct val *v = sl_wtable_next(wt, NULL); v; v = sl_wtable_next(wt, v)) {
                assert_int_equal(seen[v->id], 0);
                seen[v->id] = 1;
                n++;
                if (v->id % 2)
                        sl_wtable_delete(wt, v);
        }
        assert_int_equal(n, N - N / 5);
        for (uint64_t i = 0; i < N; i++)
                assert_int_equal(seen[i], i % 5 != 0);
        memset(seen, 0, N);
        n = 0;
        for (struct val *v = sl_wtable_next(wt, NULL); v; v = sl_wtable_next(wt, v)) {
                assert_true(v->id % 2 == 0 && v->id % 5 != 0);
                assert_int_equal(seen[v->id], 0);
                seen[v->id] = 1;
                n++;
        }
        assert_int_equal(n, sl_wtable_count(wt));

        /* delete everything while iterating */
        for (struct val *v = sl_wtable_next(wt, NULL); v; v = sl_wtable_next(wt, v))
                sl_wtable_delete(wt, v);
        assert_int_equal(sl_wtable_count(wt), 0);
        assert_null(sl_wtable_next(wt, NULL));
        free(seen);
        sl_wtable_destroy(wt);
}

static void test_count_memory(void **state)
{
        (void)state;
        enum { N = 100000 };

        /* initial_cap: no allocation until N keys */
        struct sl_wtable *wt = sl_wtable_new(100, N);
        assert_non_null(wt);
        size_t mem = sl_wtable_memory(wt);
        /* 104-byte value blocks + 40-byte headers, index for N at 3/4 */
        assert_true(mem >= (size_t)N * (104 + 40) + (size_t)N * 8 * 4 / 3);
        for (uint64_t i = 0; i < N; i++) {
                unsigned char *v = sl_wtable_upsert(wt, mix64(i), &i, 8, &(bool){0});
                assert_non_null(v);
                assert_true(all_zero(v, 100));
                memset(v, 0xff, 104); /* the rounded-up block is ours */
                assert_int_equal(sl_wtable_count(wt), i + 1);
        }
        assert_int_equal(sl_wtable_memory(wt), mem);
        for (uint64_t i = 0; i < N; i++) {
                unsigned char *v = sl_wtable_find(wt, mix64(i), &i, 8);
                assert_non_null(v);
                assert_int_equal(v[103], 0xff);
        }
        /* past initial_cap the table grows */
        for (uint64_t i = N; i < 2 * N; i++)
                assert_non_null(sl_wtable_upsert(wt, mix64(i), &i, 8, &(bool){0}));
        assert_true(sl_wtable_memory(wt) > mem);
        assert_int_equal(sl_wtable_count(wt), 2 * N);
        sl_wtable_destroy(wt);

        /* a small table stays small */
        wt = sl_wtable_new(32, 0);
        assert_non_null(wt);
        for (uint64_t k = 0; k < 8; k++)
                sl_wtable_upsert(wt, mix64(k), &k, 8, &(bool){0});
        assert_int_equal(sl_wtable_count(wt), 8);
        assert_true(sl_wtable_memory(wt) < 4096);
        sl_wtable_destroy(wt);

        /* value_size 0 */
        wt = sl_wtable_new(0, 0);
        assert_non_null(wt);
        void *a = sl_wtable_upsert(wt, 1, "x", 1, &(bool){0});
        void *b = sl_wtable_upsert(wt, 2, "y", 1, &(bool){0});
        assert_non_null(a);
        assert_non_null(b);
        assert_ptr_not_equal(a, b);
        assert_ptr_equal(sl_wtable_find(wt, 1, "x", 1), a);
        sl_wtable_destroy(wt);
}

/*
 * The reference: key i of a universe of K has fixed bytes (its number in
 * the first 4 bytes, then a pattern; length 4..40) and a fixed hash.  A
 * third of the keys share their full hash with 3 others, a fifth share
 * their tag with 7 others.  present/data/ptr say what the table must hold.
 */
enum { RK = 60000 };

struct ref {
        bool present[RK];
        uint64_t data[RK];
        struct val *ptr[RK];
        size_t count;
};

static uint64_t ref_hash(uint32_t i)
{
        if (i % 3 == 0)
                return mix64(i / 12 + 1000000);
        uint64_t h = mix64(i);
        if (i % 5 == 0)
                h = (h & 0xffffffff00000000ull) | (mix64(i / 40 + 2000000) & 0xffffffffu);
        return h;
}

static uint32_t ref_key(uint32_t i, unsigned char *k)
{
        uint32_t len = 4 + i % 37;

        memcpy(k, &i, 4);
        for (uint32_t j = 4; j < len; j++)
                k[j] = (unsigned char)(i * 31 + j);
        return len;
}

static void ref_check_all(struct sl_wtable *wt, struct ref *r, unsigned char *seen)
{
        unsigned char k[64];

        assert_int_equal(sl_wtable_count(wt), r->count);
        memset(seen, 0, RK);
        size_t n = 0;
        for (struct val *v = sl_wtable_next(wt, NULL); v; v = sl_wtable_next(wt, v)) {
                assert_true(v->id < RK);
                assert_true(r->present[v->id]);
                assert_int_equal(seen[v->id], 0);
                seen[v->id] = 1;
                assert_ptr_equal(r->ptr[v->id], v);
                assert_int_equal(v->data, r->data[v->id]);
                uint32_t kl;
                const void *key = sl_wtable_key(v, &kl);
                assert_int_equal(kl, ref_key((uint32_t)v->id, k));
                assert_memory_equal(key, k, kl);
                assert_int_equal(sl_wtable_hash(v), ref_hash((uint32_t)v->id));
                n++;
        }
        assert_int_equal(n, r->count);
}

static void test_random_vs_reference(void **state)
{
        (void)state;
        enum { OPS = 200000 };
        struct ref *r = calloc(1, sizeof(*r));
        unsigned char *seen = malloc(RK);
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        unsigned char k[64];
        assert_non_null(r);
        assert_non_null(seen);
        assert_non_null(wt);

        rng_state = 20261123;
        for (int op = 0; op < OPS; op++) {
                /* grow in the first half, shrink in the second */
                unsigned upsert_pct = op < OPS / 2 ? 60 : 25;
                uint32_t i = (uint32_t)(rnd() % RK);
                uint32_t klen = ref_key(i, k);
                uint64_t h = ref_hash(i);
                unsigned dice = (unsigned)(rnd() % 100);

                sl_wtable_prefetch(wt, h); /* never changes the table */
                sl_wtable_prefetch_entry(wt, h);

                if (dice < upsert_pct) {
                        bool inserted = false;
                        struct val *v = sl_wtable_upsert(wt, h, k, klen, &inserted);
                        assert_non_null(v);
                        assert_int_equal(inserted, !r->present[i]);
                        if (inserted) {
                                assert_true(all_zero(v, sizeof(*v)));
                                v->id = i;
                                r->present[i] = true;
                                r->ptr[i] = v;
                                r->count++;
                        } else {
                                assert_ptr_equal(v, r->ptr[i]);
                                assert_int_equal(v->data, r->data[i]);
                        }
                        v->data = r->data[i] = rnd();
                } else if (!r->present[i]) {
                        assert_null(sl_wtable_find(wt, h, k, klen));
                } else if (dice < upsert_pct + 20) {
                        struct val *v = sl_wtable_find(wt, h, k, klen);
                        assert_ptr_equal(v, r->ptr[i]);
                        assert_int_equal(v->id, i);
                        assert_int_equal(v->data, r->data[i]);
                } else {
                        struct val *v = sl_wtable_find(wt, h, k, klen);
                        assert_ptr_equal(v, r->ptr[i]);
                        sl_wtable_delete(wt, v);
                        assert_false(sl_wtable_live(v));
                        r->present[i] = false;
                        r->count--;
                }
                if (op % 10000 == 9999)
                        ref_check_all(wt, r, seen);
        }
        ref_check_all(wt, r, seen);
        for (uint32_t i = 0; i < RK; i++) {
                uint32_t klen = ref_key(i, k);
                struct val *v = sl_wtable_find(wt, ref_hash(i), k, klen);
                if (r->present[i])
                        assert_ptr_equal(v, r->ptr[i]);
                else
                        assert_null(v);
        }
        sl_wtable_destroy(wt);
        free(seen);
        free(r);
}

/* ---- snapshots (sl_wtable_save / sl_wtable_load) ------------------------ */

static struct sl_buf image_of(const struct sl_wtable *wt)
{
        struct sl_buf b = {0};

        sl_buf_add(&b, "pre", 3); /* an image need not start aligned */
        assert_int_equal(sl_wtable_save(wt, &b), 0);
        return b;
}

/* Loads image b (after its 3-byte prefix) into a fresh table; checks that
 * the load takes exactly the image, also with bytes after it. */
static struct sl_wtable *load_image(const struct sl_buf *b, uint32_t vsize, uint32_t cap)
{
        struct sl_wtable *wt = sl_wtable_new(vsize, cap);
        assert_non_null(wt);
        char *copy = malloc(b->len + 5);
        assert_non_null(copy);
        memcpy(copy, b->p, b->len);
        memcpy(copy + b->len, "tail!", 5);
        const char *p = copy + 3;
        assert_int_equal(sl_wtable_load(wt, &p, copy + b->len + 5, NULL, NULL), 0);
        assert_ptr_equal(p, copy + b->len);
        memset(copy, 0xee, b->len + 5); /* the table must not point into it */
        free(copy);
        return wt;
}

/* Same entries under the same ids (iteration goes by id): keys, hashes,
 * value blocks; every key found in b at its own value block. */
static void same_tables(struct sl_wtable *a, struct sl_wtable *b, size_t vsize)
{
        assert_int_equal(sl_wtable_count(a), sl_wtable_count(b));
        void *va = sl_wtable_next(a, NULL), *vb = sl_wtable_next(b, NULL);
        size_t n = 0;
        for (; va && vb; va = sl_wtable_next(a, va), vb = sl_wtable_next(b, vb), n++) {
                uint32_t ka, kb;
                const void *keya = sl_wtable_key(va, &ka), *keyb = sl_wtable_key(vb, &kb);
                assert_int_equal(ka, kb);
                assert_memory_equal(keya, keyb, ka);
                assert_ptr_not_equal(keya, keyb);
                assert_int_equal(sl_wtable_hash(va), sl_wtable_hash(vb));
                if (vsize)
                        assert_memory_equal(va, vb, vsize);
                assert_true(sl_wtable_live(vb));
                assert_ptr_equal(sl_wtable_find(b, sl_wtable_hash(vb), keyb, kb), vb);
        }
        assert_null(va);
        assert_null(vb);
        assert_int_equal(n, sl_wtable_count(a));
}

/* Every entry of wt found by its own hash and key; deleting them all
 * terminates and empties the table. */
static void check_and_empty(struct sl_wtable *wt)
{
        size_t n = 0;
        for (void *v = sl_wtable_next(wt, NULL); v; v = sl_wtable_next(wt, v), n++) {
                uint32_t kl;
                const void *k = sl_wtable_key(v, &kl);
                assert_ptr_equal(sl_wtable_find(wt, sl_wtable_hash(v), k, kl), v);
        }
        assert_int_equal(n, sl_wtable_count(wt));
        for (void *v = sl_wtable_next(wt, NULL); v;) {
                void *next = sl_wtable_next(wt, v);
                sl_wtable_delete(wt, v);
                v = next;
        }
        assert_int_equal(sl_wtable_count(wt), 0);
        assert_null(sl_wtable_next(wt, NULL));
}

/* Key i of test_random_vs_reference (4..40 bytes, shared hashes and
 * tags), its value block (vsize bytes) starting as a struct val. */
static void *put_ref_v(struct sl_wtable *wt, uint32_t i, uint32_t vsize)
{
        unsigned char k[64];
        uint32_t kl = ref_key(i, k);
        bool inserted;
        void *v = sl_wtable_upsert(wt, ref_hash(i), k, kl, &inserted);
        assert_non_null(v);
        if (inserted) {
                struct val x = {.id = i, .data = mix64(i) ^ 0x5a5a};
                memcpy(v, &x, vsize < sizeof x ? vsize : sizeof x);
        }
        return v;
}

static struct val *put_ref(struct sl_wtable *wt, uint32_t i)
{
        return put_ref_v(wt, i, sizeof(struct val));
}

static void del_ref(struct sl_wtable *wt, uint32_t i)
{
        unsigned char k[64];
        uint32_t kl = ref_key(i, k);
        void *v = sl_wtable_find(wt, ref_hash(i), k, kl);
        assert_non_null(v);
        sl_wtable_delete(wt, v);
}

/*
 * Saves a, loads it, compares; saving the copy gives an image that loads
 * to the same bytes again; then both tables take the same inserts and
 * deletes and must agree (by key: after a load ids of new keys may differ,
 * the free list being rebuilt).
 */
static void round_trip(struct sl_wtable *a, uint32_t vsize, uint32_t universe)
{
        struct sl_buf img = image_of(a);
        struct sl_wtable *b = load_image(&img, vsize, 0);
        same_tables(a, b, vsize);
        struct sl_buf img2 = image_of(b);
        struct sl_wtable *c = load_image(&img2, vsize, 1024);
        struct sl_buf img3 = image_of(c);
        assert_int_equal(img2.len, img3.len);
        assert_memory_equal(img2.p, img3.p, img2.len);
        same_tables(b, c, vsize);
        sl_wtable_destroy(c);

        for (uint32_t i = 0; i < universe; i++) {
                if (i % 3 == 0) {
                        put_ref_v(a, i, vsize);
                        put_ref_v(b, i, vsize);
                } else if (i % 7 == 1) {
                        unsigned char k[64];
                        uint32_t kl = ref_key(i, k);
                        void *va = sl_wtable_find(a, ref_hash(i), k, kl);
                        void *vb = sl_wtable_find(b, ref_hash(i), k, kl);
                        assert_true((va == NULL) == (vb == NULL));
                        if (va) {
                                sl_wtable_delete(a, va);
                                sl_wtable_delete(b, vb);
                        }
                }
        }
        assert_int_equal(sl_wtable_count(a), sl_wtable_count(b));
        for (void *v = sl_wtable_next(a, NULL); v; v = sl_wtable_next(a, v)) {
                uint32_t kl;
                const void *k = sl_wtable_key(v, &kl);
                void *w = sl_wtable_find(b, sl_wtable_hash(v), k, kl);
                assert_non_null(w);
                assert_memory_equal(v, w, vsize);
        }
        check_and_empty(b);
        sl_wtable_destroy(b);
        sl_buf_free(&img);
        sl_buf_free(&img2);
        sl_buf_free(&img3);
}

static void test_snapshot_round_trip(void **state)
{
        (void)state;
        const uint32_t vs = sizeof(struct val);

        /* empty, never used; and a small one */
        struct sl_wtable *a = sl_wtable_new(vs, 0);
        assert_non_null(a);
        round_trip(a, vs, 0);
        for (uint32_t i = 0; i < 10; i++)
                put_ref(a, i);
        round_trip(a, vs, 40);
        sl_wtable_destroy(a);

        /* deletes: a free list, long keys (up to 40 bytes), shared hashes
         * and tags; then everything deleted */
        a = sl_wtable_new(vs, 0);
        for (uint32_t i = 0; i < 3000; i++)
                put_ref(a, i);
        for (uint32_t i = 0; i < 3000; i += 4)
                del_ref(a, i);
        for (uint32_t i = 1; i < 3000; i += 10)
                del_ref(a, i);
        round_trip(a, vs, 6000);
        check_and_empty(a);
        struct sl_buf empty = image_of(a); /* nothing live: a minimal image */
        assert_true(empty.len < 3 + 48 + 16 * 8 + 1);
        sl_buf_free(&empty);
        round_trip(a, vs, 100);
        sl_wtable_destroy(a);

        /* after growth: 2^17 keys from a table of 16 slots, loaded into
         * tables whose index has another size */
        a = sl_wtable_new(vs, 0);
        for (uint32_t i = 0; i < (1u << 17); i++) {
                uint64_t k = i;
                struct val *v = put(a, mix64(k), &k, 8, true);
                v->id = i;
                v->data = ~k;
        }
        round_trip(a, vs, 1000);
        sl_wtable_destroy(a);

        /* value_size 0 and odd: the image keeps the rounded block */
        a = sl_wtable_new(0, 0);
        for (uint32_t i = 0; i < 50; i++)
                put_ref_v(a, i, 0);
        round_trip(a, 0, 60);
        sl_wtable_destroy(a);
        a = sl_wtable_new(13, 0);
        for (uint32_t i = 0; i < 50; i++)
                memset(put_ref_v(a, i, 13), (int)i, 13);
        round_trip(a, 13, 60);
        sl_wtable_destroy(a);

        /* keys of 0, 24, 25 and 300 bytes */
        a = sl_wtable_new(vs, 0);
        static char big[300];
        memset(big, 'x', sizeof big);
        put(a, 1, big, 0, true)->data = 1;
        put(a, 2, big, 24, true)->data = 2;
        put(a, 3, big, 25, true)->data = 3;
        put(a, 4, big, 300, true)->data = 4;
        struct sl_buf img = image_of(a);
        struct sl_wtable *b = load_image(&img, vs, 0);
        same_tables(a, b, vs);
        assert_int_equal(((struct val *)sl_wtable_find(b, 4, big, 300))->data, 4);
        assert_true(sl_wtable_memory(b) >= 325);
        sl_buf_free(&img);
        sl_wtable_destroy(b);
        sl_wtable_destroy(a);
}

/* The callback sees every live entry once, in id order, can change it;
 * its error stops the load and leaves an empty table that loads again. */
struct each_log {
        uint64_t ids[64];
        size_t n, fail_at;
};

static int each_entry(void *arg, void *value)
{
        struct each_log *l = arg;
        struct val *v = value;
        if (l->n == l->fail_at)
                return -ENOSPC;
        l->ids[l->n++] = v->id;
        v->data += 1000;
        return 0;
}

static void test_snapshot_each(void **state)
{
        (void)state;
        struct sl_wtable *a = sl_wtable_new(sizeof(struct val), 0);
        for (uint32_t i = 0; i < 40; i++)
                put_ref(a, i);
        for (uint32_t i = 0; i < 40; i += 5)
                del_ref(a, i);
        struct sl_buf img = image_of(a);
        struct sl_wtable *b = sl_wtable_new(sizeof(struct val), 0);

        for (size_t fail_at = 0; fail_at < 32; fail_at += 7) {
                struct each_log l = {.fail_at = fail_at};
                const char *p = img.p + 3;
                assert_int_equal(sl_wtable_load(b, &p, img.p + img.len, each_entry, &l), -ENOSPC);
                assert_ptr_equal(p, img.p + 3);
                assert_int_equal(l.n, fail_at);
                assert_int_equal(sl_wtable_count(b), 0);
                assert_null(sl_wtable_next(b, NULL));
                unsigned char k[64];
                uint32_t kl = ref_key(1, k);
                assert_null(sl_wtable_find(b, ref_hash(1), k, kl));
        }
        struct each_log l = {.fail_at = SIZE_MAX};
        const char *p = img.p + 3;
        assert_int_equal(sl_wtable_load(b, &p, img.p + img.len, each_entry, &l), 0);
        assert_int_equal(l.n, 32);
        size_t n = 0;
        for (struct val *v = sl_wtable_next(a, NULL); v; v = sl_wtable_next(a, v), n++) {
                assert_int_equal(l.ids[n], v->id);
                unsigned char k[64];
                uint32_t kl = ref_key((uint32_t)v->id, k);
                struct val *w = sl_wtable_find(b, ref_hash((uint32_t)v->id), k, kl);
                assert_non_null(w);
                assert_int_equal(w->data, v->data + 1000);
        }
        /* a second load into a loaded table is refused */
        p = img.p + 3;
        assert_int_equal(sl_wtable_load(b, &p, img.p + img.len, NULL, NULL), -EINVAL);
        assert_int_equal(sl_wtable_count(b), 32);
        sl_wtable_destroy(b);

        /* so is a load into a table that was used, even if empty now */
        b = sl_wtable_new(sizeof(struct val), 0);
        put_ref(b, 1);
        del_ref(b, 1);
        p = img.p + 3;
        assert_int_equal(sl_wtable_load(b, &p, img.p + img.len, NULL, NULL), -EINVAL);
        sl_wtable_destroy(b);
        sl_buf_free(&img);
        sl_wtable_destroy(a);
}

/* ---- damaged images ---- */

struct dmg {
        struct sl_buf img;        /* the good image, after 3 bytes */
        struct sl_wtable_image h; /* its header */
        size_t slots, entries, keys; /* offsets of the sections in img */
        uint32_t esize;
};

static void dmg_init(struct dmg *d, const struct sl_wtable *wt)
{
        d->img = image_of(wt);
        memcpy(&d->h, d->img.p + 3, sizeof d->h);
        d->slots = 3 + sizeof d->h;
        d->entries = d->slots + d->h.slots * 8;
        d->keys = d->entries + (size_t)d->h.next_id * d->h.esize;
        d->esize = d->h.esize;
        assert_int_equal(d->keys + d->h.key_bytes, d->img.len);
}

static uint64_t get64(const char *p)
{
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
}

static uint32_t get32(const char *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
}

static void put64(char *p, uint64_t v)
{
        memcpy(p, &v, 8);
}

static void put32(char *p, uint32_t v)
{
        memcpy(p, &v, 4);
}

/* A copy of the good image for damaging. */
static char *dmg_copy(const struct dmg *d)
{
        char *c = malloc(d->img.len);
        assert_non_null(c);
        memcpy(c, d->img.p, d->img.len);
        return c;
}

/* img must be refused: -EINVAL, *p unchanged, the table empty, and the good
 * image then loads into the same table. */
static void refused_(const struct dmg *d, char *img, size_t len, const char *what, int line)
{
        struct sl_wtable *wt = sl_wtable_new(d->esize - SL_WT_ENTRY_HEAD, 0);
        assert_non_null(wt);
        const char *p = img + 3;
        int rc = sl_wtable_load(wt, &p, img + len, NULL, NULL);
        if (rc != -EINVAL)
                fail_msg("line %d (%s): load returned %d, want -EINVAL", line, what, rc);
        assert_ptr_equal(p, img + 3);
        assert_int_equal(sl_wtable_count(wt), 0);
        assert_null(sl_wtable_next(wt, NULL));
        p = d->img.p + 3;
        assert_int_equal(sl_wtable_load(wt, &p, d->img.p + d->img.len, NULL, NULL), 0);
        assert_int_equal(sl_wtable_count(wt), d->h.count);
        check_and_empty(wt);
        sl_wtable_destroy(wt);
        free(img);
}
#define refused(d, image, what) refused_(d, image, (d)->img.len, what, __LINE__)

/* Slot index of the first used slot (after start) whose entry is live and
 * whose key is long (want_long) or not. */
static size_t used_slot(const struct dmg *d, size_t start, int want_long)
{
        for (size_t i = start; i < d->h.slots; i++) {
                uint64_t s = get64(d->img.p + d->slots + i * 8);
                if (s == 0)
                        continue;
                const char *e = d->img.p + d->entries + (size_t)((uint32_t)s - 1) * d->esize;
                uint32_t kl = get32(e + SL_WT_OFF_KLEN);
                if (want_long < 0 || (kl > SL_WT_INLINE_KEY) == (want_long == 1))
                        return i;
        }
        fail_msg("no such slot");
        return 0;
}

static uint32_t dead_id(const struct dmg *d, uint32_t nth)
{
        for (uint32_t id = 0; id < d->h.next_id; id++) {
                uint32_t f = get32(d->img.p + d->entries + (size_t)id * d->esize + SL_WT_OFF_FLAGS);
                if (!(f & 1) && nth-- == 0)
                        return id;
        }
        fail_msg("no dead entry");
        return 0;
}

/*
 * The image of d with its index rebuilt at nslots slots (linear probing
 * from each tag's home), header and sections to match; its length is
 * d->img.len - (d->h.slots - nslots) * 8.
 */
static char *reindex(const struct dmg *d, uint64_t nslots)
{
        size_t len = d->img.len - (d->h.slots - nslots) * 8;
        char *r = calloc(1, len);
        assert_non_null(r);
        memcpy(r, d->img.p, d->slots);
        put64(r + 3 + 16, nslots);
        for (size_t i = 0; i < d->h.slots; i++) {
                uint64_t s = get64(d->img.p + d->slots + i * 8);
                if (s == 0)
                        continue;
                uint64_t j = (s >> 32) & (nslots - 1);
                while (get64(r + d->slots + j * 8) != 0)
                        j = (j + 1) & (nslots - 1);
                put64(r + d->slots + j * 8, s);
        }
        memcpy(r + d->slots + nslots * 8, d->img.p + d->entries, d->img.len - d->entries);
        return r;
}

static void test_snapshot_rejects(void **state)
{
        (void)state;
        /* 48 keys, some long, sharing hashes and tags; 12 deleted */
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        for (uint32_t i = 0; i < 60; i++)
                put_ref(wt, i);
        for (uint32_t i = 0; i < 60; i += 5)
                del_ref(wt, i);
        struct dmg d;
        dmg_init(&d, wt);
        assert_int_equal(d.h.count, 48);
        assert_int_equal(d.h.next_id, 60);
        assert_true(d.h.key_bytes > 0);
        char *c;
        const size_t H = 3; /* the header */

        /* header fields */
        c = dmg_copy(&d), c[H] ^= 1, refused(&d, c, "magic");
        c = dmg_copy(&d), put32(c + H + 4, 48), refused(&d, c, "entry header size");
        c = dmg_copy(&d), put32(c + H + 8, 16), refused(&d, c, "inline key size");
        c = dmg_copy(&d), put32(c + H + 12, d.esize + 8), refused(&d, c, "entry size");
        c = dmg_copy(&d), put32(c + H + 44, 1), refused(&d, c, "zero field");
        c = dmg_copy(&d), put64(c + H + 16, 8), refused(&d, c, "8 slots");
        c = dmg_copy(&d), put64(c + H + 16, d.h.slots - 8), refused(&d, c, "slots not 2^k");
        c = dmg_copy(&d), put64(c + H + 16, d.h.slots * 2), refused(&d, c, "slots: more than the input");
        c = dmg_copy(&d), put64(c + H + 16, (uint64_t)1 << 33), refused(&d, c, "2^33 slots");
        c = dmg_copy(&d), put64(c + H + 16, 0), refused(&d, c, "0 slots");
        c = dmg_copy(&d), put64(c + H + 24, d.h.count + 1), refused(&d, c, "count + 1");
        c = dmg_copy(&d), put64(c + H + 24, d.h.count - 1), refused(&d, c, "count - 1");
        c = dmg_copy(&d), put64(c + H + 24, d.h.next_id + 1), refused(&d, c, "count > next_id");
        c = dmg_copy(&d), put64(c + H + 24, UINT64_MAX), refused(&d, c, "count huge");
        c = dmg_copy(&d), put64(c + H + 32, d.h.key_bytes + 1), refused(&d, c, "key bytes + 1");
        c = dmg_copy(&d), put64(c + H + 32, d.h.key_bytes - 1), refused(&d, c, "key bytes - 1");
        c = dmg_copy(&d), put64(c + H + 32, UINT64_MAX), refused(&d, c, "key bytes huge");
        c = dmg_copy(&d), put32(c + H + 40, d.h.next_id + 1), refused(&d, c, "next_id + 1");
        c = dmg_copy(&d), put32(c + H + 40, d.h.next_id - 1), refused(&d, c, "next_id - 1");
        c = dmg_copy(&d), put32(c + H + 40, UINT32_MAX), refused(&d, c, "next_id huge");
        /* an index fuller than 3/4, or full (a miss would never end),
         * everything else consistent: n keys re-indexed into 16 slots */
        for (uint32_t n = 12; n <= 16; n++) {
                struct sl_wtable *t = sl_wtable_new(0, 0);
                for (uint64_t k = 0; k < n; k++)
                        put(t, mix64(k), &k, 8, true);
                struct dmg f;
                dmg_init(&f, t);
                char *r = reindex(&f, 16);
                if (n == 12) { /* the most a table holds: loads */
                        struct sl_wtable *u = sl_wtable_new(0, 0);
                        const char *p = r + 3;
                        assert_int_equal(sl_wtable_load(u, &p, r + f.img.len - (f.h.slots - 16) * 8,
                                                        NULL, NULL), 0);
                        assert_int_equal(sl_wtable_count(u), 12);
                        for (uint64_t k = 0; k < n; k++)
                                assert_non_null(sl_wtable_find(u, mix64(k), &k, 8));
                        check_and_empty(u);
                        sl_wtable_destroy(u);
                        free(r);
                } else {
                        refused_(&f, r, f.img.len - (f.h.slots - 16) * 8, "over 3/4 full",
                                 __LINE__);
                }
                sl_buf_free(&f.img);
                sl_wtable_destroy(t);
        }

        /* slots */
        size_t s0 = used_slot(&d, 0, -1), s1 = used_slot(&d, s0 + 1, -1);
        uint64_t v0 = get64(d.img.p + d.slots + s0 * 8), v1 = get64(d.img.p + d.slots + s1 * 8);
        c = dmg_copy(&d);
        put64(c + d.slots + s0 * 8, (v0 & ~0xffffffffull) | (uint32_t)v1);
        refused(&d, c, "two slots name one entry");
        c = dmg_copy(&d);
        put64(c + d.slots + s0 * 8, (v0 & ~0xffffffffull) | (dead_id(&d, 0) + 1));
        refused(&d, c, "a slot names a dead entry");
        c = dmg_copy(&d);
        put64(c + d.slots + s0 * 8, (v0 & ~0xffffffffull) | (d.h.next_id + 1));
        refused(&d, c, "a slot names an id past next_id");
        c = dmg_copy(&d);
        put64(c + d.slots + s0 * 8, v0 & ~0xffffffffull);
        refused(&d, c, "a slot with a tag and id word 0");
        c = dmg_copy(&d);
        put64(c + d.slots + s0 * 8, v0 ^ ((uint64_t)1 << 63));
        refused(&d, c, "a tag bit above the mask (same home)");
        c = dmg_copy(&d);
        put64(c + d.slots + s0 * 8, v0 ^ ((uint64_t)1 << 32));
        refused(&d, c, "a tag bit in the home");
        c = dmg_copy(&d);
        put64(c + d.slots + s0 * 8, 0);
        refused(&d, c, "a slot emptied");
        /* two tags swapped: each slot still names a live entry, counts
         * agree, only the fingerprint sees it */
        c = dmg_copy(&d);
        put64(c + d.slots + s0 * 8, (v1 >> 32) << 32 | (uint32_t)v0);
        put64(c + d.slots + s1 * 8, (v0 >> 32) << 32 | (uint32_t)v1);
        refused(&d, c, "two tags swapped");
        /* two entries' hashes swapped: the index is as good as ever, counts
         * agree, only the fingerprint of tags against hashes sees it */
        c = dmg_copy(&d);
        {
                uint32_t id0 = (uint32_t)v0 - 1, id1 = (uint32_t)v1 - 1;
                char *e0 = c + d.entries + (size_t)id0 * d.esize;
                char *e1 = c + d.entries + (size_t)id1 * d.esize;
                uint64_t h0 = get64(e0), h1 = get64(e1);
                put64(e0, h1);
                put64(e1, h0);
        }
        refused(&d, c, "two entries' hashes swapped");
        /* an entry's hash changed above the tag: fine (the tag is all the
         * index knows), and the entry is found by its new hash */
        {
                c = dmg_copy(&d);
                uint32_t id0 = (uint32_t)v0 - 1;
                char *e0 = c + d.entries + (size_t)id0 * d.esize;
                put64(e0, get64(e0) ^ ((uint64_t)1 << 60));
                struct sl_wtable *t = sl_wtable_new(sizeof(struct val), 0);
                const char *p = c + 3;
                assert_int_equal(sl_wtable_load(t, &p, c + d.img.len, NULL, NULL), 0);
                check_and_empty(t);
                sl_wtable_destroy(t);
                free(c);
        }
        /* a slot moved past an empty slot: not reachable from its home */
        {
                size_t i = 0;
                while (get64(d.img.p + d.slots + i * 8) == 0 ||
                       ((i - (get64(d.img.p + d.slots + i * 8) >> 32)) & (d.h.slots - 1)) != 0)
                        i++; /* a slot in its home */
                size_t j = (i + 1) % d.h.slots;
                while (get64(d.img.p + d.slots + j * 8) != 0)
                        j = (j + 1) % d.h.slots;
                size_t k = (j + 1) % d.h.slots; /* past the empty slot j */
                while (get64(d.img.p + d.slots + k * 8) != 0)
                        k = (k + 1) % d.h.slots;
                c = dmg_copy(&d);
                put64(c + d.slots + k * 8, get64(c + d.slots + i * 8));
                put64(c + d.slots + i * 8, 0);
                refused(&d, c, "a slot not reachable from its home");
        }

        /* entries */
        uint32_t live0 = (uint32_t)v0 - 1, dead0 = dead_id(&d, 0);
        char *fl;
        c = dmg_copy(&d), fl = c + d.entries + (size_t)live0 * d.esize + SL_WT_OFF_FLAGS;
        put32(fl, get32(fl) & ~1u), refused(&d, c, "a named entry marked dead");
        c = dmg_copy(&d), fl = c + d.entries + (size_t)dead0 * d.esize + SL_WT_OFF_FLAGS;
        put32(fl, get32(fl) | 1u), refused(&d, c, "a dead entry marked live");
        c = dmg_copy(&d), fl = c + d.entries + (size_t)live0 * d.esize + SL_WT_OFF_FLAGS;
        put32(fl, get32(fl) + 2), refused(&d, c, "a live entry with another id");
        c = dmg_copy(&d), fl = c + d.entries + (size_t)dead0 * d.esize + SL_WT_OFF_FLAGS;
        put32(fl, get32(fl) + 2), refused(&d, c, "a dead entry with another id");

        /* key lengths against the long key section */
        size_t sl = used_slot(&d, 0, 1), ss = used_slot(&d, 0, 0);
        uint32_t idl = (uint32_t)get64(d.img.p + d.slots + sl * 8) - 1;
        uint32_t ids = (uint32_t)get64(d.img.p + d.slots + ss * 8) - 1;
        char *kl;
        c = dmg_copy(&d), kl = c + d.entries + (size_t)idl * d.esize + SL_WT_OFF_KLEN;
        put32(kl, get32(kl) + 1), refused(&d, c, "a long key one byte longer");
        c = dmg_copy(&d), kl = c + d.entries + (size_t)idl * d.esize + SL_WT_OFF_KLEN;
        put32(kl, get32(kl) - 1), refused(&d, c, "a long key one byte shorter");
        c = dmg_copy(&d), kl = c + d.entries + (size_t)idl * d.esize + SL_WT_OFF_KLEN;
        put32(kl, UINT32_MAX), refused(&d, c, "a long key of 4 GB");
        c = dmg_copy(&d), kl = c + d.entries + (size_t)idl * d.esize + SL_WT_OFF_KLEN;
        put32(kl, 3), refused(&d, c, "a long key made inline");
        c = dmg_copy(&d), kl = c + d.entries + (size_t)ids * d.esize + SL_WT_OFF_KLEN;
        put32(kl, SL_WT_INLINE_KEY + 1), refused(&d, c, "an inline key made long");

        /* truncated anywhere */
        for (size_t cut = 3; cut < d.img.len; cut++)
                refused_(&d, dmg_copy(&d), cut, "truncated", __LINE__);

        /* into a table of another value size */
        {
                struct sl_wtable *t = sl_wtable_new(sizeof(struct val) + 8, 0);
                const char *p = d.img.p + 3;
                assert_int_equal(sl_wtable_load(t, &p, d.img.p + d.img.len, NULL, NULL), -EINVAL);
                sl_wtable_destroy(t);
        }
        sl_buf_free(&d.img);
        sl_wtable_destroy(wt);
}

/*
 * The free list of an image is not trusted: dead entries' links made into
 * a cycle, pointed at live entries or past the end load fine, and the
 * table then reuses exactly the dead entries, each once, before new ids.
 */
static void test_snapshot_free_list(void **state)
{
        (void)state;
        enum { N = 1008 }; /* chunks 0..5 exactly: the next id needs a chunk */
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        for (uint32_t i = 0; i < N; i++)
                put_ref(wt, i);
        for (uint32_t i = 0; i < N; i += 9)
                del_ref(wt, i);
        const uint32_t dead = (N + 8) / 9;
        struct dmg d;
        dmg_init(&d, wt);
        assert_int_equal(d.h.next_id, N);
        char *c = dmg_copy(&d);
        uint32_t a = dead_id(&d, 0), b = dead_id(&d, 1), x = dead_id(&d, 2), y = dead_id(&d, 3);
        put32(c + d.entries + (size_t)a * d.esize + SL_WT_OFF_KEY, b + 1);
        put32(c + d.entries + (size_t)b * d.esize + SL_WT_OFF_KEY, a + 1); /* a cycle */
        put32(c + d.entries + (size_t)x * d.esize + SL_WT_OFF_KEY, 2);      /* a live entry */
        put32(c + d.entries + (size_t)y * d.esize + SL_WT_OFF_KEY, UINT32_MAX);
        struct sl_wtable *t = sl_wtable_new(sizeof(struct val), 0);
        const char *p = c + 3;
        assert_int_equal(sl_wtable_load(t, &p, c + d.img.len, NULL, NULL), 0);
        free(c);
        same_tables(wt, t, sizeof(struct val));
        /* 8-byte keys: no long key memory to tell apart from chunks */
        size_t mem = sl_wtable_memory(t);
        for (uint64_t k = 1u << 20; k < (1u << 20) + dead; k++) {
                struct val *v = put(t, mix64(k), &k, 8, true);
                v->id = k;
                assert_int_equal(sl_wtable_memory(t), mem); /* a dead entry again */
        }
        assert_int_equal(sl_wtable_count(t), N);
        uint64_t k = 1u << 21;
        put(t, mix64(k), &k, 8, true)->id = k;
        assert_true(sl_wtable_memory(t) > mem); /* then a new chunk */
        for (k = 1u << 20; k < (1u << 20) + dead; k++)
                assert_int_equal(((struct val *)sl_wtable_find(t, mix64(k), &k, 8))->id, k);
        k = 1u << 21;
        assert_int_equal(((struct val *)sl_wtable_find(t, mix64(k), &k, 8))->id, k);
        check_and_empty(t);
        sl_wtable_destroy(t);
        sl_buf_free(&d.img);
        sl_wtable_destroy(wt);
}

/*
 * Every byte of a small image flipped in turn: the load refuses it or
 * gives a table that works (each entry found by its own hash and key,
 * all deletable); under ASan, without a report.
 */
static void test_snapshot_every_byte(void **state)
{
        (void)state;
        struct sl_wtable *wt = sl_wtable_new(sizeof(struct val), 0);
        for (uint32_t i = 0; i < 30; i++)
                put_ref(wt, i);
        for (uint32_t i = 0; i < 30; i += 4)
                del_ref(wt, i);
        struct dmg d;
        dmg_init(&d, wt);
        size_t accepted = 0;
        for (size_t i = 3; i < d.img.len; i++) {
                for (int flip = 0; flip < 2; flip++) {
                        char *c = dmg_copy(&d);
                        c[i] ^= flip ? (char)0x80 : (char)0x01;
                        struct sl_wtable *t = sl_wtable_new(sizeof(struct val), 0);
                        const char *p = c + 3;
                        int rc = sl_wtable_load(t, &p, c + d.img.len, NULL, NULL);
                        free(c);
                        if (rc == 0) {
                                accepted++;
                                check_and_empty(t);
                                put_ref(t, 99);
                        } else {
                                assert_int_equal(rc, -EINVAL);
                                assert_int_equal(sl_wtable_count(t), 0);
                        }
                        sl_wtable_destroy(t);
                }
        }
        /* value blocks, key bytes, hashes above the tag, dead entries'
         * contents: not the table's to judge */
        assert_true(accepted > 0);
        sl_buf_free(&d.img);
        sl_wtable_destroy(wt);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_insert_find_delete),
                cmocka_unit_test(test_growth),
                cmocka_unit_test(test_backward_shift),
                cmocka_unit_test(test_backward_shift_large),
                cmocka_unit_test(test_collisions),
                cmocka_unit_test(test_long_and_empty_keys),
                cmocka_unit_test(test_reuse),
                cmocka_unit_test(test_iteration),
                cmocka_unit_test(test_count_memory),
                cmocka_unit_test(test_random_vs_reference),
                cmocka_unit_test(test_snapshot_round_trip),
                cmocka_unit_test(test_snapshot_each),
                cmocka_unit_test(test_snapshot_rejects),
                cmocka_unit_test(test_snapshot_free_list),
                cmocka_unit_test(test_snapshot_every_byte),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
