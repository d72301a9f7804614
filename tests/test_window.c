/*
 * test_window.c - cmocka tests of engine/window.{h,c}.
 *
 * The pane/window arithmetic is checked against brute force: for many
 * (size, advance, grace) and event times, including negative ones, the
 * windows containing an event are enumerated directly (every multiple of
 * the advance near the event) and compared with first_start/last_start,
 * pane_of, close_of, pane_free_at and next_close_index.  The max_panes
 * bound is checked by counting, at every stream time of a range, the
 * panes that can hold data and still have an open window.  Validation
 * errors are checked by their messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/window.h"

static int init(struct sl_window *w, enum sl_window_kind kind, int64_t size,
                int64_t advance, int64_t grace, char *err, size_t errlen)
{
        struct sl_window_def d = {.kind = kind, .size_ms = size,
                                  .advance_ms = advance, .grace_ms = grace,
                                  .has_grace = grace != 0};
        err[0] = '\0';
        return sl_window_init(w, &d, err, errlen);
}

static void must_init(struct sl_window *w, enum sl_window_kind kind,
                      int64_t size, int64_t advance, int64_t grace)
{
        char err[256];
        int rc = init(w, kind, size, advance, grace, err, sizeof err);
        if (rc != 0)
                fail_msg("init(%lld, %lld, %lld): %s", (long long)size,
                         (long long)advance, (long long)grace, err);
}

static uint64_t rng = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static void test_floordiv_floormod(void **state)
{
        (void)state;
        static const struct {
                int64_t a, b, q, m;
        } cases[] = {
                {7, 3, 2, 1},    {-7, 3, -3, 2},  {6, 3, 2, 0},   {-6, 3, -2, 0},
                {-1, 1000, -1, 999}, {0, 5, 0, 0}, {-5, 5, -1, 0}, {4, 5, 0, 4},
                {-4, 5, -1, 1},  {SL_TS_MIN, 1000, SL_TS_MIN / 1000 - 1,
                                  SL_TS_MIN - (SL_TS_MIN / 1000 - 1) * 1000},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                assert_true(sl_floordiv(cases[i].a, cases[i].b) == cases[i].q);
                assert_true(sl_floormod(cases[i].a, cases[i].b) == cases[i].m);
                /* a = q * b + m with 0 <= m < b */
                assert_true(cases[i].q * cases[i].b + cases[i].m == cases[i].a);
        }
}

static void test_tumbling_fields(void **state)
{
        (void)state;
        struct sl_window w;
        must_init(&w, SL_WIN_TUMBLING, 5000, 12345 /* ignored */, 0);
        assert_int_equal(w.kind, SL_WIN_TUMBLING);
        assert_true(w.size == 5000);
        assert_true(w.advance == 5000);
        assert_true(w.grace == 0);
        assert_true(w.pane == 5000);
        assert_int_equal(w.pane_per_window, 1);
        assert_int_equal(w.max_panes, 1);

        /* 5 minutes with 30 s grace: a key holds the closing pane and the next. */
        must_init(&w, SL_WIN_TUMBLING, 300000, 0, 30000);
        assert_true(w.grace == 30000);
        assert_int_equal(w.pane_per_window, 1);
        assert_int_equal(w.max_panes, 2);

        /* grace of exactly k sizes: ceil((size + k size) / size) = k + 1 */
        must_init(&w, SL_WIN_TUMBLING, 1000, 0, 3000);
        assert_int_equal(w.max_panes, 4);
        must_init(&w, SL_WIN_TUMBLING, 1000, 0, 3001);
        assert_int_equal(w.max_panes, 5);
}

static void test_hopping_fields(void **state)
{
        (void)state;
        struct sl_window w;
        must_init(&w, SL_WIN_HOPPING, 10000, 4000, 0);
        assert_true(w.advance == 4000);
        assert_true(w.pane == 2000);
        assert_int_equal(w.pane_per_window, 5);
        assert_int_equal(w.max_panes, 5);

        must_init(&w, SL_WIN_HOPPING, 10000, 4000, 3000);
        assert_true(w.pane == 2000);
        assert_int_equal(w.max_panes, 7); /* ceil(13000 / 2000) */

        must_init(&w, SL_WIN_HOPPING, 60000, 60000, 0); /* advance = size */
        assert_true(w.pane == 60000);
        assert_int_equal(w.pane_per_window, 1);
        assert_int_equal(w.max_panes, 1);

        must_init(&w, SL_WIN_HOPPING, 7, 3, 0); /* coprime: 1 ms panes */
        assert_true(w.pane == 1);
        assert_int_equal(w.pane_per_window, 7);
        assert_int_equal(w.max_panes, 7);
}

static void test_none(void **state)
{
        (void)state;
        struct sl_window w;
        memset(&w, 0x5a, sizeof w);
        must_init(&w, SL_WIN_NONE, 0, 0, 0);
        assert_int_equal(w.kind, SL_WIN_NONE);
        assert_true(w.size == 0 && w.advance == 0 && w.grace == 0 && w.pane == 0);
        assert_int_equal(w.pane_per_window, 1);
        assert_int_equal(w.max_panes, 1);
        /* every event time is in the single pane 0 */
        assert_true(sl_window_pane_of(&w, 0) == 0);
        assert_true(sl_window_pane_of(&w, -123456789) == 0);
        assert_true(sl_window_pane_of(&w, SL_TS_MAX) == 0);
}

static void test_negative_timestamps(void **state)
{
        (void)state;
        struct sl_window w;
        must_init(&w, SL_WIN_TUMBLING, 1000, 0, 0);
        /* -1 is in [-1000, 0), not in [0, 1000) (no truncation toward 0) */
        assert_true(sl_window_pane_of(&w, -1) == -1);
        assert_true(sl_window_first_start(&w, -1) == -1000);
        assert_true(sl_window_last_start(&w, -1) == -1000);
        assert_true(sl_window_pane_of(&w, -1000) == -1);
        assert_true(sl_window_first_start(&w, -1000) == -1000);
        assert_true(sl_window_pane_of(&w, -1001) == -2);
        assert_true(sl_window_first_start(&w, -1001) == -2000);
        assert_true(sl_window_pane_of(&w, 0) == 0);
        assert_true(sl_window_first_start(&w, 0) == 0);
        assert_true(sl_window_first_start(&w, 999) == 0);
        assert_true(sl_window_close_of(&w, -1000) == 0);

        must_init(&w, SL_WIN_HOPPING, 10, 4, 0);
        /* windows containing -1: starts -8 ([-8, 2)) and -4 ([-4, 6)) */
        assert_true(sl_window_first_start(&w, -1) == -8);
        assert_true(sl_window_last_start(&w, -1) == -4);
        assert_true(sl_window_pane_of(&w, -1) == -1); /* P = 2: [-2, 0) */
        assert_true(sl_window_pane_of(&w, -3) == -2);
        /* -9 is in [-16, -6) and [-12, -2) */
        assert_true(sl_window_first_start(&w, -9) == -16);
        assert_true(sl_window_last_start(&w, -9) == -12);
}

/* Brute force: the windows containing ts are starts s = k * A with
 * s <= ts < s + size. */
static void brute_windows(const struct sl_window *w, int64_t ts, int64_t *lo,
                          int64_t *hi)
{
        *lo = INT64_MAX;
        *hi = INT64_MIN;
        int64_t k0 = ts / w->advance - w->size / w->advance - 3;
        int64_t k1 = ts / w->advance + 3;
        for (int64_t k = k0; k <= k1; k++) {
                int64_t s = k * w->advance;
                if (s <= ts && ts < s + w->size) {
                        if (s < *lo)
                                *lo = s;
                        if (s > *hi)
                                *hi = s;
                }
        }
}

static void check_ts(const struct sl_window *w, int64_t ts)
{
        int64_t lo, hi;
        brute_windows(w, ts, &lo, &hi);
        int64_t fs = sl_window_first_start(w, ts), ls = sl_window_last_start(w, ts);
        if (fs != lo || ls != hi)
                fail_msg("size %lld adv %lld ts %lld: first/last %lld/%lld, want %lld/%lld",
                         (long long)w->size, (long long)w->advance, (long long)ts,
                         (long long)fs, (long long)ls, (long long)lo, (long long)hi);
        /* ts is in floor(size / A) or ceil(size / A) windows */
        int64_t nwin = (ls - fs) / w->advance + 1;
        assert_true(nwin >= w->size / w->advance && nwin <= (w->size + w->advance - 1) / w->advance);
        /* pane: ts in [p * P, (p + 1) * P) */
        int64_t p = sl_window_pane_of(w, ts);
        assert_true(p * w->pane <= ts && ts < (p + 1) * w->pane);
        /* a window start is a pane boundary and the window is ppw panes */
        assert_true(sl_floormod(fs, w->pane) == 0);
        assert_true((int64_t)w->pane_per_window * w->pane == w->size);
        /* close times */
        assert_true(sl_window_close_of(w, fs) == fs + w->size + w->grace);
}

static void check_pane(const struct sl_window *w, int64_t p)
{
        /* The last window containing pane p: max close over all windows
         * that overlap [p * P, (p + 1) * P). */
        int64_t want = INT64_MIN;
        int64_t k0 = (p * w->pane) / w->advance - w->size / w->advance - 3;
        int64_t k1 = (p * w->pane) / w->advance + 3;
        for (int64_t k = k0; k <= k1; k++) {
                int64_t s = k * w->advance;
                if (s < (p + 1) * w->pane && p * w->pane < s + w->size) {
                        /* panes never straddle a window edge */
                        assert_true(s <= p * w->pane && (p + 1) * w->pane <= s + w->size);
                        int64_t c = s + w->size + w->grace;
                        if (c > want)
                                want = c;
                }
        }
        assert_true(sl_window_pane_free_at(w, p) == want);
}

static void check_close_index(const struct sl_window *w, int64_t st)
{
        int64_t k = sl_window_next_close_index(w, st);
        /* smallest k with k * A + size + grace > st */
        assert_true(k * w->advance + w->size + w->grace > st);
        assert_true((k - 1) * w->advance + w->size + w->grace <= st);
}

static void test_brute_force(void **state)
{
        (void)state;
        static const int64_t shapes[][3] = {
                {1000, 1000, 0}, {1000, 1000, 500}, {10, 4, 0}, {10, 4, 3},
                {10, 5, 0}, {7, 3, 11}, {60000, 15000, 0}, {6, 6, 6},
                {9, 1, 2}, {12, 8, 0}, {100, 30, 1},
        };
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                struct sl_window w;
                must_init(&w, shapes[i][0] == shapes[i][1] ? SL_WIN_TUMBLING : SL_WIN_HOPPING,
                          shapes[i][0], shapes[i][1], shapes[i][2]);
                for (int64_t ts = -3 * w.size - 7; ts <= 3 * w.size + 7; ts++) {
                        check_ts(&w, ts);
                        check_close_index(&w, ts);
                }
                for (int64_t p = -40; p <= 40; p++)
                        check_pane(&w, p);
                for (int r = 0; r < 2000; r++) {
                        int64_t ts = (int64_t)(rnd() % (2 * (uint64_t)SL_TS_MAX / 1024)) -
                                     SL_TS_MAX / 1024;
                        check_ts(&w, ts);
                        check_close_index(&w, ts);
                }
        }
}

/*
 * The bound sizing the per-key pane ring: at stream time st, a pane p can
 * hold data only if p * P <= st, and is still needed only while
 * pane_free_at(p) > st.  Their number never exceeds max_panes, and the
 * bound is reached (it is exact).
 */
static void test_max_panes_bound(void **state)
{
        (void)state;
        static const int64_t shapes[][3] = {
                {1000, 1000, 0}, {1000, 1000, 500}, {1000, 1000, 1000},
                {1000, 1000, 2500}, {10, 4, 0}, {10, 4, 3}, {7, 3, 11},
                {12, 8, 5}, {9, 1, 2}, {100, 25, 0},
        };
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                struct sl_window w;
                must_init(&w, shapes[i][0] == shapes[i][1] ? SL_WIN_TUMBLING : SL_WIN_HOPPING,
                          shapes[i][0], shapes[i][1], shapes[i][2]);
                uint32_t seen_max = 0;
                for (int64_t st = -2 * (w.size + w.grace); st <= 2 * (w.size + w.grace); st++) {
                        uint32_t live = 0;
                        int64_t plo = sl_window_pane_of(&w, st) - (w.size + w.grace) / w.pane - 4;
                        for (int64_t p = plo; p * w.pane <= st; p++)
                                if (sl_window_pane_free_at(&w, p) > st)
                                        live++;
                        assert_true(live <= w.max_panes);
                        if (live > seen_max)
                                seen_max = live;
                }
                assert_int_equal(seen_max, w.max_panes);
        }
}

/*
 * Session windows: the list holds ceil((gap + grace) / gap) sessions, at
 * least as many as can be open at once (ends more than gap apart, within
 * (st - gap - grace, st]: packed from st down, every gap + 1 ms), and
 * exactly as many for the shapes where ms granularity does not help.
 */
static void test_session_sizes(void **state)
{
        (void)state;
        static const int64_t shapes[][3] = {
                /* gap, grace, expected list */
                {1, 0, 1}, {10, 0, 1}, {10, 5, 2}, {10, 10, 2}, {10, 20, 3},
                {10, 25, 4}, {30 * 60000, 5 * 60000, 2}, {1, 255, 256}, {3, 40, 15},
        };
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                struct sl_window w;
                must_init(&w, SL_WIN_SESSION, shapes[i][0], 0, shapes[i][1]);
                assert_true(w.size == shapes[i][0] && w.advance == w.size && w.pane == w.size);
                assert_int_equal(w.grace, shapes[i][1]);
                assert_int_equal(w.max_panes, (uint32_t)shapes[i][2]);
                uint32_t packed = 0;
                for (int64_t end = 0; end > -(w.size + w.grace); end -= w.size + 1)
                        packed++;
                assert_true(packed <= w.max_panes);
                if (w.grace == 0 || w.size >= 10)
                        assert_int_equal(packed, w.max_panes);
        }
        char err[256];
        struct sl_window w;
        assert_int_equal(init(&w, SL_WIN_SESSION, 1, 0, 256, err, sizeof err), -EINVAL);
        assert_string_equal(err, "this SESSION window keeps up to 257 sessions per key "
                                 "(ceil((gap + grace) / gap)); at most 256 are supported: "
                                 "shorten the GRACE PERIOD or widen the gap");
        assert_int_equal(init(&w, SL_WIN_SESSION, 0, 0, 0, err, sizeof err), -EINVAL);
        assert_string_equal(err, "SESSION gap must be between 1 ms and 576460752303423488 ms");
        assert_int_equal(init(&w, SL_WIN_SESSION, 10, 0, -1, err, sizeof err), -EINVAL);
        assert_string_equal(err, "GRACE PERIOD out of range");
}

static void test_extreme_times(void **state)
{
        (void)state;
        struct sl_window w;
        /* the largest window and grace accepted: sums stay in range (UBSan) */
        must_init(&w, SL_WIN_HOPPING, SL_TS_MAX / 4, SL_TS_MAX / 4, SL_TS_MAX / 4);
        assert_int_equal(w.max_panes, 2);
        int64_t ts[] = {SL_TS_MIN, SL_TS_MIN + 1, -1, 0, 1, SL_TS_MAX - 1, SL_TS_MAX};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
                int64_t fs = sl_window_first_start(&w, ts[i]);
                int64_t ls = sl_window_last_start(&w, ts[i]);
                assert_true(fs == ls);
                assert_true(fs <= ts[i] && ts[i] < fs + w.size);
                int64_t c = sl_window_close_of(&w, ls);
                assert_true(c > ts[i]);
                int64_t k = sl_window_next_close_index(&w, ts[i]);
                assert_true(k * w.advance + w.size + w.grace > ts[i]);
                int64_t p = sl_window_pane_of(&w, ts[i]);
                assert_true(sl_window_pane_free_at(&w, p) == c);
        }
        /* 1 ms tumbling windows at the ends of the range */
        must_init(&w, SL_WIN_TUMBLING, 1, 0, 0);
        assert_true(sl_window_first_start(&w, SL_TS_MIN) == SL_TS_MIN);
        assert_true(sl_window_close_of(&w, SL_TS_MAX) == SL_TS_MAX + 1);
        assert_true(sl_window_next_close_index(&w, SL_TS_MAX) == SL_TS_MAX);
}

static void expect_error(enum sl_window_kind kind, int64_t size, int64_t advance,
                         int64_t grace, const char *want)
{
        struct sl_window w;
        char err[256];
        int rc = init(&w, kind, size, advance, grace, err, sizeof err);
        assert_int_equal(rc, -EINVAL);
        assert_string_equal(err, want);
}

static void test_validation(void **state)
{
        (void)state;
        char size_msg[128];
        snprintf(size_msg, sizeof size_msg, "window SIZE must be between 1 ms and %lld ms",
                 (long long)(SL_TS_MAX / 4));
        expect_error(SL_WIN_TUMBLING, 0, 0, 0, size_msg);
        expect_error(SL_WIN_TUMBLING, -5, 0, 0, size_msg);
        expect_error(SL_WIN_HOPPING, SL_TS_MAX / 4 + 1, 1000, 0, size_msg);
        expect_error(SL_WIN_HOPPING, 1000, 0, 0,
                     "ADVANCE BY must be greater than 0 and at most the window SIZE");
        expect_error(SL_WIN_HOPPING, 1000, -1, 0,
                     "ADVANCE BY must be greater than 0 and at most the window SIZE");
        expect_error(SL_WIN_HOPPING, 1000, 1001, 0,
                     "ADVANCE BY must be greater than 0 and at most the window SIZE");
        expect_error(SL_WIN_TUMBLING, 1000, 0, -1, "GRACE PERIOD out of range");
        expect_error(SL_WIN_TUMBLING, 1000, 0, SL_TS_MAX / 4 + 1, "GRACE PERIOD out of range");

        /* the pane bound, at and just over SL_MAX_PANES */
        struct sl_window w;
        must_init(&w, SL_WIN_HOPPING, 4096, 1, 0);
        assert_int_equal(w.max_panes, 4096);
        expect_error(SL_WIN_HOPPING, 4097, 1, 0,
                     "this window keeps 4097 panes of 1 ms per key (size + grace over "
                     "gcd(size, advance)); at most 4096 are supported");
        must_init(&w, SL_WIN_TUMBLING, 1000, 0, 4095 * 1000);
        assert_int_equal(w.max_panes, 4096);
        expect_error(SL_WIN_TUMBLING, 1000, 0, 4095 * 1000 + 1,
                     "this window keeps 4097 panes of 1000 ms per key (size + grace over "
                     "gcd(size, advance)); at most 4096 are supported");
        /* 1 day hopping by 7 s: gcd 1 s, 86400 panes */
        expect_error(SL_WIN_HOPPING, 86400000, 7000, 0,
                     "this window keeps 86400 panes of 1000 ms per key (size + grace over "
                     "gcd(size, advance)); at most 4096 are supported");
        /* a small error buffer is truncated, never overrun */
        char small[8];
        memset(small, 'x', sizeof small);
        struct sl_window_def d = {.kind = SL_WIN_TUMBLING, .size_ms = 0};
        assert_int_equal(sl_window_init(&w, &d, small, 6), -EINVAL);
        assert_string_equal(small, "windo");
        assert_int_equal(small[6], 'x');
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_floordiv_floormod),
                cmocka_unit_test(test_tumbling_fields),
                cmocka_unit_test(test_hopping_fields),
                cmocka_unit_test(test_none),
                cmocka_unit_test(test_negative_timestamps),
                cmocka_unit_test(test_brute_force),
                cmocka_unit_test(test_max_panes_bound),
                cmocka_unit_test(test_session_sizes),
                cmocka_unit_test(test_extreme_times),
                cmocka_unit_test(test_validation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
