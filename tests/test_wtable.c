/*
 * test_wtable.c - cmocka tests of engine/wtable.c.
 *
 * Hashes are made up here (the table takes the caller's hash), which lets
 * the tests force whole-hash, tag and home-slot collisions and probe runs
 * that wrap around the end of the index.  Every case checks the stored
 * bytes, not only return codes; the last one runs 200k random operations
 * against a direct-indexed reference with a fixed seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/wtable.h"

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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
