/*
 * test_ring.c - cmocka tests of engine/ring.{h,c}: the SPSC pointer ring.
 *
 * Single-thread cases check the contract item by item (full, empty,
 * partial bulk push/pop, FIFO order across the end of the slot array) and
 * the free-running counters across UINT32_MAX, by starting head and tail
 * just below it.  The threaded case is Concurrency Kit's ring validator
 * in spirit: one producer pushes 10M sequence numbers in random-size
 * bulks, one consumer pops random-size bulks and checks every number
 * arrives once and in order; it runs with the counters starting near
 * UINT32_MAX so they wrap mid-stream.  Run it under -fsanitize=thread.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ring.h"

static void *P(uintptr_t v)
{
        return (void *)v;
}

/* Sets every index (and each side's cached copy) to start. */
static void set_counters(struct sl_ring *r, uint32_t start)
{
        atomic_store(&r->head, start);
        atomic_store(&r->tail, start);
        r->head_cache = start;
        r->tail_cache = start;
}

static void test_init(void **state)
{
        (void)state;
        struct sl_ring r;
        assert_int_equal(sl_ring_init(&r, 0), -EINVAL);
        assert_int_equal(sl_ring_init(&r, 1), -EINVAL);
        assert_int_equal(sl_ring_init(&r, 3), -EINVAL);
        assert_int_equal(sl_ring_init(&r, 1000), -EINVAL);
        assert_int_equal(sl_ring_init(&r, 0x80000001u), -EINVAL);
        assert_int_equal(sl_ring_init(&r, 2), 0);
        assert_int_equal(r.mask, 1);
        assert_int_equal(atomic_load(&r.head), 0);
        assert_int_equal(atomic_load(&r.tail), 0);
        sl_ring_destroy(&r);
        assert_null(r.slots);
        assert_int_equal(sl_ring_init(&r, 1024), 0);
        assert_int_equal(r.mask, 1023);
        sl_ring_destroy(&r);
        /* the two sides' indices are on different cache lines */
        assert_true(offsetof(struct sl_ring, tail) - offsetof(struct sl_ring, head) >= SL_CACHELINE);
}

static void fill_and_drain(struct sl_ring *r, uint32_t cap, uintptr_t base)
{
        void *x;
        assert_false(sl_ring_pop1_spsc(r, &x)); /* empty */
        for (uint32_t i = 0; i < cap; i++)
                assert_true(sl_ring_push1_spsc(r, P(base + i)));
        assert_false(sl_ring_push1_spsc(r, P(0xdead))); /* full */
        assert_false(sl_ring_push1_spsc(r, P(0xdead)));
        for (uint32_t i = 0; i < cap; i++) {
                x = NULL;
                assert_true(sl_ring_pop1_spsc(r, &x));
                assert_ptr_equal(x, P(base + i));
        }
        x = P(0x1234);
        assert_false(sl_ring_pop1_spsc(r, &x));
        assert_ptr_equal(x, P(0x1234)); /* untouched on failure */
}

static void test_full_empty(void **state)
{
        (void)state;
        struct sl_ring r;
        assert_int_equal(sl_ring_init(&r, 8), 0);
        fill_and_drain(&r, 8, 100);
        /* again, now that the indices are not at 0 */
        fill_and_drain(&r, 8, 200);
        /* interleaved: one in, one out, many times round the slots */
        for (uintptr_t i = 1; i <= 1000; i++) {
                void *x;
                assert_true(sl_ring_push1_spsc(&r, P(i)));
                assert_true(sl_ring_push1_spsc(&r, P(i + 100000)));
                assert_true(sl_ring_pop1_spsc(&r, &x));
                assert_ptr_equal(x, P(i));
                assert_true(sl_ring_pop1_spsc(&r, &x));
                assert_ptr_equal(x, P(i + 100000));
        }
        /* a capacity-2 ring */
        struct sl_ring r2;
        assert_int_equal(sl_ring_init(&r2, 2), 0);
        fill_and_drain(&r2, 2, 7);
        fill_and_drain(&r2, 2, 9);
        sl_ring_destroy(&r2);
        sl_ring_destroy(&r);
}

static void test_bulk_partial(void **state)
{
        (void)state;
        struct sl_ring r;
        assert_int_equal(sl_ring_init(&r, 8), 0);
        void *in[16], *out[16];
        for (uintptr_t i = 0; i < 16; i++)
                in[i] = P(i + 1);
        assert_int_equal(sl_ring_push_spsc(&r, in, 5), 5);
        /* only 3 fit: the first 3 of the bulk go in */
        assert_int_equal(sl_ring_push_spsc(&r, in + 5, 5), 3);
        assert_int_equal(sl_ring_push_spsc(&r, in, 1), 0);
        assert_int_equal(sl_ring_push_spsc(&r, in, 0), 0);
        /* pop more than there is: get all 8, in order */
        memset(out, 0, sizeof out);
        assert_int_equal(sl_ring_pop_spsc(&r, out, 16), 8);
        for (uintptr_t i = 0; i < 8; i++)
                assert_ptr_equal(out[i], P(i + 1));
        assert_null(out[8]);
        assert_int_equal(sl_ring_pop_spsc(&r, out, 4), 0);
        /* partial pop, then a push that wraps the slot array */
        assert_int_equal(sl_ring_push_spsc(&r, in, 6), 6);   /* 1..6 */
        assert_int_equal(sl_ring_pop_spsc(&r, out, 4), 4);   /* 1..4 */
        for (uintptr_t i = 0; i < 4; i++)
                assert_ptr_equal(out[i], P(i + 1));
        assert_int_equal(sl_ring_push_spsc(&r, in + 10, 6), 6); /* 11..16, wraps */
        assert_int_equal(sl_ring_push_spsc(&r, in, 1), 0);      /* full: 8 */
        assert_int_equal(sl_ring_pop_spsc(&r, out, 16), 8);
        static const uintptr_t want[] = {5, 6, 11, 12, 13, 14, 15, 16};
        for (int i = 0; i < 8; i++)
                assert_ptr_equal(out[i], P(want[i]));
        /* a bulk larger than the ring */
        assert_int_equal(sl_ring_push_spsc(&r, in, 16), 8);
        assert_int_equal(sl_ring_pop_spsc(&r, out, 3), 3);
        assert_int_equal(sl_ring_push_spsc(&r, in + 8, 8), 3);
        assert_int_equal(sl_ring_pop_spsc(&r, out, 16), 8);
        static const uintptr_t want2[] = {4, 5, 6, 7, 8, 9, 10, 11};
        for (int i = 0; i < 8; i++)
                assert_ptr_equal(out[i], P(want2[i]));
        sl_ring_destroy(&r);
}

/* Counters wrap from UINT32_MAX to 0: full, empty and order still hold. */
static void test_counter_wrap(void **state)
{
        (void)state;
        static const uint32_t starts[] = {UINT32_MAX - 3, UINT32_MAX, UINT32_MAX - 7,
                                          UINT32_MAX - 8, 0x80000000u - 2};
        for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
                struct sl_ring r;
                assert_int_equal(sl_ring_init(&r, 8), 0);
                set_counters(&r, starts[k]);
                fill_and_drain(&r, 8, 1000);  /* crosses the wrap */
                fill_and_drain(&r, 8, 2000);
                /* bulk across the wrap, with full detection on both sides */
                set_counters(&r, starts[k]);
                void *in[8], *out[8];
                for (uintptr_t i = 0; i < 8; i++)
                        in[i] = P(i + 1);
                assert_int_equal(sl_ring_push_spsc(&r, in, 6), 6);
                assert_int_equal(sl_ring_pop_spsc(&r, out, 5), 5);
                assert_int_equal(sl_ring_push_spsc(&r, in, 8), 7);
                assert_int_equal(sl_ring_pop_spsc(&r, out, 8), 8);
                assert_ptr_equal(out[0], P(6));
                for (uintptr_t i = 1; i < 8; i++)
                        assert_ptr_equal(out[i], P(i));
                assert_int_equal(sl_ring_pop_spsc(&r, out, 8), 0);
                assert_int_equal(atomic_load(&r.head), (uint32_t)(starts[k] + 13));
                assert_int_equal(atomic_load(&r.tail), (uint32_t)(starts[k] + 13));
                sl_ring_destroy(&r);
        }
}

/* ---- two threads ---------------------------------------------------- */

#define NITEMS 10000000u
#define MAXBULK 61

struct shared {
        struct sl_ring r;
        uint64_t consumer_errors;
        uintptr_t first_bad, got_bad;
        uint64_t received;
        uint64_t push_full, pop_empty;
};

static uint32_t xorshift(uint32_t *s)
{
        uint32_t x = *s;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return *s = x;
}

static void *producer(void *arg)
{
        struct shared *sh = arg;
        uint32_t seed = 12345;
        void *buf[MAXBULK];
        uintptr_t next = 1;
        while (next <= NITEMS) {
                uint32_t n = 1 + xorshift(&seed) % MAXBULK;
                if (n > NITEMS - next + 1)
                        n = (uint32_t)(NITEMS - next + 1);
                for (uint32_t i = 0; i < n; i++)
                        buf[i] = P(next + i);
                uint32_t done = 0;
                while (done < n) {
                        uint32_t k = sl_ring_push_spsc(&sh->r, buf + done, n - done);
                        if (k == 0) {
                                sh->push_full++;
                                sched_yield();
                        }
                        done += k;
                }
                next += n;
        }
        return NULL;
}

static void *consumer(void *arg)
{
        struct shared *sh = arg;
        uint32_t seed = 777;
        void *buf[MAXBULK];
        uintptr_t expect = 1;
        while (expect <= NITEMS) {
                uint32_t n = 1 + xorshift(&seed) % MAXBULK;
                uint32_t k = sl_ring_pop_spsc(&sh->r, buf, n);
                if (k == 0) {
                        sh->pop_empty++;
                        sched_yield();
                        continue;
                }
                for (uint32_t i = 0; i < k; i++, expect++)
                        if ((uintptr_t)buf[i] != expect) {
                                if (sh->consumer_errors++ == 0) {
                                        sh->first_bad = expect;
                                        sh->got_bad = (uintptr_t)buf[i];
                                }
                                expect = (uintptr_t)buf[i]; /* resync */
                        }
                sh->received += k;
        }
        return NULL;
}

static void run_threads(uint32_t capacity, uint32_t start)
{
        static struct shared sh;
        memset(&sh, 0, sizeof sh);
        assert_int_equal(sl_ring_init(&sh.r, capacity), 0);
        set_counters(&sh.r, start);
        pthread_t pt, ct;
        assert_int_equal(pthread_create(&ct, NULL, consumer, &sh), 0);
        assert_int_equal(pthread_create(&pt, NULL, producer, &sh), 0);
        assert_int_equal(pthread_join(pt, NULL), 0);
        assert_int_equal(pthread_join(ct, NULL), 0);
        if (sh.consumer_errors)
                fail_msg("%llu order errors; first: expected %lu, got %lu",
                         (unsigned long long)sh.consumer_errors,
                         (unsigned long)sh.first_bad, (unsigned long)sh.got_bad);
        assert_true(sh.received == NITEMS);
        void *x;
        assert_false(sl_ring_pop1_spsc(&sh.r, &x)); /* nothing extra */
        assert_int_equal(atomic_load(&sh.r.head), (uint32_t)(start + NITEMS));
        assert_int_equal(atomic_load(&sh.r.tail), (uint32_t)(start + NITEMS));
        sl_ring_destroy(&sh.r);
}

static void test_threads_10m(void **state)
{
        (void)state;
        /* counters wrap past UINT32_MAX about 1000 items in */
        run_threads(1024, UINT32_MAX - 1000);
}

static void test_threads_small_ring(void **state)
{
        (void)state;
        /* a ring smaller than the bulks: partial pushes all the time */
        run_threads(16, UINT32_MAX - 5);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_init),
                cmocka_unit_test(test_full_empty),
                cmocka_unit_test(test_bulk_partial),
                cmocka_unit_test(test_counter_wrap),
                cmocka_unit_test(test_threads_10m),
                cmocka_unit_test(test_threads_small_ring),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
