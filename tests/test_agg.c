/*
 * test_agg.c - cmocka tests of engine/agg.{h,c}: the accumulators.
 *
 * Each case feeds values (NULLs included) through sl_agg_update, reads the
 * result with sl_agg_result and checks its type and value.  Merging is
 * checked against sequential updates: a random sequence is split into
 * panes at random cut points, the panes are merged in order, and the
 * merged accumulator must equal the one that saw every value.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/agg.h"

static struct sl_value vi(int64_t i)
{
        return (struct sl_value){.u.i = i, .type = SL_T_BIGINT};
}

static struct sl_value vd(double d)
{
        return (struct sl_value){.u.d = d, .type = SL_T_DOUBLE};
}

static struct sl_value vnull(void)
{
        return (struct sl_value){.type = SL_T_NULL};
}

static struct sl_value run(enum sl_agg_kind kind, enum sl_type arg,
                           const struct sl_value *xs, size_t n)
{
        struct sl_agg_desc d = {.kind = kind, .arg_type = arg};
        struct sl_acc a;
        memset(&a, 0, sizeof a);
        for (size_t i = 0; i < n; i++)
                sl_agg_update(&d, &a, &xs[i], 1);
        struct sl_value out;
        memset(&out, 0x77, sizeof out);
        sl_agg_result(&d, &a, &out);
        return out;
}

#define RUN(kind, arg, ...)                                                     \
        run(kind, arg, (const struct sl_value[]){__VA_ARGS__},                 \
            sizeof((const struct sl_value[]){__VA_ARGS__}) / sizeof(struct sl_value))

static void assert_int_value(struct sl_value v, int64_t want)
{
        assert_int_equal(v.type, SL_T_BIGINT);
        assert_true(v.u.i == want);
}

static void assert_double_value(struct sl_value v, double want)
{
        assert_int_equal(v.type, SL_T_DOUBLE);
        assert_memory_equal(&v.u.d, &want, sizeof want); /* bit-exact */
}

static void test_lookup_and_types(void **state)
{
        (void)state;
        assert_int_equal(sl_agg_lookup("COUNT"), SL_AGG_COUNT);
        assert_int_equal(sl_agg_lookup("count"), SL_AGG_COUNT);
        assert_int_equal(sl_agg_lookup("Sum"), SL_AGG_SUM);
        assert_int_equal(sl_agg_lookup("avg"), SL_AGG_AVG);
        assert_int_equal(sl_agg_lookup("MIN"), SL_AGG_MIN);
        assert_int_equal(sl_agg_lookup("mAx"), SL_AGG_MAX);
        assert_int_equal(sl_agg_lookup("MEDIAN"), -1);
        assert_int_equal(sl_agg_lookup(""), -1);
        assert_int_equal(sl_agg_lookup("COUNTS"), -1);
        assert_string_equal(sl_agg_name(SL_AGG_COUNT_STAR), "COUNT");
        assert_string_equal(sl_agg_name(SL_AGG_AVG), "AVG");

        const char *why = NULL;
        assert_int_equal(sl_agg_result_type(SL_AGG_COUNT_STAR, SL_T_NULL, &why), SL_T_BIGINT);
        assert_int_equal(sl_agg_result_type(SL_AGG_COUNT, SL_T_STRING, &why), SL_T_BIGINT);
        assert_int_equal(sl_agg_result_type(SL_AGG_SUM, SL_T_INT, &why), SL_T_BIGINT);
        assert_int_equal(sl_agg_result_type(SL_AGG_SUM, SL_T_BIGINT, &why), SL_T_BIGINT);
        assert_int_equal(sl_agg_result_type(SL_AGG_SUM, SL_T_DOUBLE, &why), SL_T_DOUBLE);
        assert_int_equal(sl_agg_result_type(SL_AGG_AVG, SL_T_INT, &why), SL_T_DOUBLE);
        assert_int_equal(sl_agg_result_type(SL_AGG_MIN, SL_T_INT, &why), SL_T_BIGINT);
        assert_int_equal(sl_agg_result_type(SL_AGG_MAX, SL_T_DOUBLE, &why), SL_T_DOUBLE);
        assert_null(why);
        assert_int_equal(sl_agg_result_type(SL_AGG_MIN, SL_T_STRING, &why), SL_T_NULL);
        assert_string_equal(why, "needs a numeric argument (INTEGER, BIGINT or DOUBLE)");
        why = NULL;
        assert_int_equal(sl_agg_result_type(SL_AGG_SUM, SL_T_BOOL, &why), SL_T_NULL);
        assert_non_null(why);
        why = NULL;
        assert_int_equal(sl_agg_result_type(SL_AGG_AVG, SL_T_NULL, &why), SL_T_NULL);
        assert_non_null(why);
}

static void test_count(void **state)
{
        (void)state;
        /* COUNT(*) counts every row, NULL or not; COUNT(x) skips NULL */
        assert_int_value(RUN(SL_AGG_COUNT_STAR, SL_T_NULL, vi(1), vnull(), vnull(), vd(2)), 4);
        assert_int_value(RUN(SL_AGG_COUNT, SL_T_BIGINT, vi(1), vnull(), vi(0), vnull()), 2);
        /* never null, even when empty */
        assert_int_value(RUN(SL_AGG_COUNT, SL_T_BIGINT, vnull(), vnull()), 0);
        struct sl_agg_desc d = {.kind = SL_AGG_COUNT_STAR};
        struct sl_acc a = {0};
        struct sl_value out = vnull();
        sl_agg_result(&d, &a, &out);
        assert_int_value(out, 0);
        /* COUNT of strings counts them */
        struct sl_value s = {.u.s = {"x", 1}, .type = SL_T_STRING};
        assert_int_value(RUN(SL_AGG_COUNT, SL_T_STRING, s, s, vnull()), 2);
}

static void test_sum_int(void **state)
{
        (void)state;
        assert_int_value(RUN(SL_AGG_SUM, SL_T_BIGINT, vi(1), vi(-5), vnull(), vi(40)), 36);
        assert_int_value(RUN(SL_AGG_SUM, SL_T_INT, vi(2147483647), vi(2147483647)),
                         4294967294LL); /* INTEGER sums to BIGINT, no 32-bit wrap */
        /* BIGINT wraps like a Java long (and is not UB here: run with UBSan) */
        assert_int_value(RUN(SL_AGG_SUM, SL_T_BIGINT, vi(INT64_MAX), vi(1)), INT64_MIN);
        assert_int_value(RUN(SL_AGG_SUM, SL_T_BIGINT, vi(INT64_MIN), vi(-1)), INT64_MAX);
        assert_int_value(RUN(SL_AGG_SUM, SL_T_BIGINT, vi(INT64_MAX), vi(INT64_MAX), vi(2)), 0);
        /* a sum of zero from values is 0, not NULL */
        assert_int_value(RUN(SL_AGG_SUM, SL_T_BIGINT, vi(5), vi(-5)), 0);
        /* all NULL or empty: NULL */
        assert_int_equal(RUN(SL_AGG_SUM, SL_T_BIGINT, vnull(), vnull()).type, SL_T_NULL);
        assert_int_equal(run(SL_AGG_SUM, SL_T_BIGINT, NULL, 0).type, SL_T_NULL);
}

static void test_sum_double(void **state)
{
        (void)state;
        assert_double_value(RUN(SL_AGG_SUM, SL_T_DOUBLE, vd(0.5), vnull(), vd(0.25)), 0.75);
        assert_double_value(RUN(SL_AGG_SUM, SL_T_DOUBLE, vd(1e308), vd(1e308)), INFINITY);
        assert_double_value(RUN(SL_AGG_SUM, SL_T_DOUBLE, vd(-2.5), vd(2.5)), 0.0);
        assert_int_equal(RUN(SL_AGG_SUM, SL_T_DOUBLE, vnull()).type, SL_T_NULL);
        struct sl_value nan = RUN(SL_AGG_SUM, SL_T_DOUBLE, vd(1), vd(NAN));
        assert_int_equal(nan.type, SL_T_DOUBLE);
        assert_true(isnan(nan.u.d));
}

static void test_avg(void **state)
{
        (void)state;
        assert_double_value(RUN(SL_AGG_AVG, SL_T_BIGINT, vi(1), vi(2)), 1.5);
        assert_double_value(RUN(SL_AGG_AVG, SL_T_BIGINT, vi(1), vnull(), vi(2), vi(6)), 3.0);
        assert_double_value(RUN(SL_AGG_AVG, SL_T_INT, vi(-3), vi(-4)), -3.5);
        assert_double_value(RUN(SL_AGG_AVG, SL_T_DOUBLE, vd(0.5), vd(1.0), vnull()), 0.75);
        /* empty or all NULL: NULL, never 0/0 */
        assert_int_equal(RUN(SL_AGG_AVG, SL_T_DOUBLE, vnull()).type, SL_T_NULL);
        assert_int_equal(run(SL_AGG_AVG, SL_T_BIGINT, NULL, 0).type, SL_T_NULL);
}

static void test_min_max(void **state)
{
        (void)state;
        assert_int_value(RUN(SL_AGG_MIN, SL_T_BIGINT, vi(5), vnull(), vi(3), vi(9)), 3);
        assert_int_value(RUN(SL_AGG_MAX, SL_T_BIGINT, vi(5), vnull(), vi(3), vi(9)), 9);
        /* the zeroed empty state is not a value: MAX of negatives, MIN of
         * positives, first value NULL */
        assert_int_value(RUN(SL_AGG_MAX, SL_T_BIGINT, vi(-5), vi(-3), vi(-7)), -3);
        assert_int_value(RUN(SL_AGG_MIN, SL_T_BIGINT, vnull(), vi(5), vi(7)), 5);
        assert_int_value(RUN(SL_AGG_MIN, SL_T_BIGINT, vi(INT64_MIN), vi(INT64_MAX)), INT64_MIN);
        assert_int_value(RUN(SL_AGG_MAX, SL_T_BIGINT, vi(INT64_MIN), vi(INT64_MAX)), INT64_MAX);
        assert_double_value(RUN(SL_AGG_MAX, SL_T_DOUBLE, vd(-2.5), vd(-1.25)), -1.25);
        assert_double_value(RUN(SL_AGG_MIN, SL_T_DOUBLE, vd(2.5), vnull(), vd(1.25)), 1.25);
        assert_double_value(RUN(SL_AGG_MIN, SL_T_DOUBLE, vd(-INFINITY), vd(0)), -INFINITY);
        assert_int_equal(RUN(SL_AGG_MIN, SL_T_BIGINT, vnull()).type, SL_T_NULL);
        assert_int_equal(run(SL_AGG_MAX, SL_T_DOUBLE, NULL, 0).type, SL_T_NULL);
        /* INTEGER argument reads back as BIGINT */
        assert_int_value(RUN(SL_AGG_MAX, SL_T_INT, vi(-1), vi(-2)), -1);
}

static void test_merge_empty(void **state)
{
        (void)state;
        static const struct sl_agg_desc descs[] = {
                {.kind = SL_AGG_COUNT_STAR, .arg_type = SL_T_NULL}, {.kind = SL_AGG_COUNT, .arg_type = SL_T_BIGINT},
                {.kind = SL_AGG_SUM, .arg_type = SL_T_BIGINT},      {.kind = SL_AGG_SUM, .arg_type = SL_T_DOUBLE},
                {.kind = SL_AGG_AVG, .arg_type = SL_T_BIGINT},      {.kind = SL_AGG_AVG, .arg_type = SL_T_DOUBLE},
                {.kind = SL_AGG_MIN, .arg_type = SL_T_BIGINT},      {.kind = SL_AGG_MIN, .arg_type = SL_T_DOUBLE},
                {.kind = SL_AGG_MAX, .arg_type = SL_T_BIGINT},      {.kind = SL_AGG_MAX, .arg_type = SL_T_DOUBLE},
        };
        for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
                const struct sl_agg_desc *d = &descs[i];
                struct sl_value x = d->arg_type == SL_T_DOUBLE ? vd(-7.5) : vi(-7);
                struct sl_acc full = {0}, empty = {0}, a, b;
                sl_agg_update(d, &full, &x, 1);
                /* full (+) empty = full */
                a = full;
                sl_agg_merge(d, &a, &empty);
                assert_memory_equal(&a, &full, sizeof a);
                /* empty (+) full = full: MIN/MAX must take src, not keep 0 */
                b = empty;
                sl_agg_merge(d, &b, &full);
                assert_memory_equal(&b, &full, sizeof b);
                /* empty (+) empty = empty, with a NULL result except COUNT */
                struct sl_acc e2 = {0};
                sl_agg_merge(d, &e2, &empty);
                assert_memory_equal(&e2, &empty, sizeof e2);
                struct sl_value out;
                sl_agg_result(d, &e2, &out);
                if (d->kind == SL_AGG_COUNT || d->kind == SL_AGG_COUNT_STAR)
                        assert_int_value(out, 0);
                else
                        assert_int_equal(out.type, SL_T_NULL);
        }
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* Merging panes in order equals updating with every value. */
static void test_merge_equals_sequential(void **state)
{
        (void)state;
        static const struct sl_agg_desc descs[] = {
                {.kind = SL_AGG_COUNT_STAR, .arg_type = SL_T_NULL}, {.kind = SL_AGG_COUNT, .arg_type = SL_T_BIGINT},
                {.kind = SL_AGG_SUM, .arg_type = SL_T_BIGINT},      {.kind = SL_AGG_SUM, .arg_type = SL_T_DOUBLE},
                {.kind = SL_AGG_AVG, .arg_type = SL_T_BIGINT},      {.kind = SL_AGG_AVG, .arg_type = SL_T_DOUBLE},
                {.kind = SL_AGG_MIN, .arg_type = SL_T_BIGINT},      {.kind = SL_AGG_MIN, .arg_type = SL_T_DOUBLE},
                {.kind = SL_AGG_MAX, .arg_type = SL_T_BIGINT},      {.kind = SL_AGG_MAX, .arg_type = SL_T_DOUBLE},
        };
        for (int round = 0; round < 500; round++) {
                size_t n = rnd() % 40;
                struct sl_value xs[40];
                for (size_t i = 0; i < n; i++) {
                        uint64_t r = rnd();
                        if (r % 5 == 0)
                                xs[i] = vnull();
                        else if (r % 3 == 0) /* huge: sums wrap */
                                xs[i] = vi((int64_t)rnd());
                        else
                                xs[i] = vi((int64_t)(rnd() % 2001) - 1000);
                }
                for (size_t k = 0; k < sizeof descs / sizeof descs[0]; k++) {
                        const struct sl_agg_desc *d = &descs[k];
                        struct sl_value ys[40];
                        for (size_t i = 0; i < n; i++) {
                                ys[i] = xs[i];
                                /* doubles: small integers, so sums are exact */
                                if (d->arg_type == SL_T_DOUBLE && xs[i].type != SL_T_NULL)
                                        ys[i] = vd((double)(xs[i].u.i % 100000));
                        }
                        struct sl_acc seq = {0}, merged = {0}, pane = {0};
                        for (size_t i = 0; i < n; i++) {
                                sl_agg_update(d, &seq, &ys[i], 1);
                                sl_agg_update(d, &pane, &ys[i], 1);
                                if (rnd() % 4 == 0) { /* cut a pane (maybe empty) */
                                        sl_agg_merge(d, &merged, &pane);
                                        memset(&pane, 0, sizeof pane);
                                        if (rnd() % 2) /* an empty pane in between */
                                                sl_agg_merge(d, &merged, &pane);
                                }
                        }
                        sl_agg_merge(d, &merged, &pane);
                        struct sl_value a, b;
                        sl_agg_result(d, &seq, &a);
                        sl_agg_result(d, &merged, &b);
                        assert_int_equal(a.type, b.type);
                        assert_true(seq.n == merged.n);
                        if (a.type != SL_T_NULL)
                                assert_memory_equal(&a.u, &b.u, 8);
                }
        }
}

static void test_merge_wraps(void **state)
{
        (void)state;
        struct sl_agg_desc d = {.kind = SL_AGG_SUM, .arg_type = SL_T_BIGINT};
        struct sl_acc a = {0}, b = {0};
        struct sl_value x = vi(INT64_MAX), y = vi(2);
        sl_agg_update(&d, &a, &x, 1);
        sl_agg_update(&d, &b, &y, 1);
        sl_agg_merge(&d, &a, &b);
        struct sl_value out;
        sl_agg_result(&d, &a, &out);
        assert_int_value(out, INT64_MIN + 1);
        assert_true(a.n == 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lookup_and_types),
                cmocka_unit_test(test_count),
                cmocka_unit_test(test_sum_int),
                cmocka_unit_test(test_sum_double),
                cmocka_unit_test(test_avg),
                cmocka_unit_test(test_min_max),
                cmocka_unit_test(test_merge_empty),
                cmocka_unit_test(test_merge_equals_sequential),
                cmocka_unit_test(test_merge_wraps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
