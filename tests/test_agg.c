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
#include <stdlib.h>
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
        struct sl_acc a[2]; /* room for STDDEV_SAMP's 24 bytes */
        assert_true(sl_agg_state_size(&d) <= sizeof a);
        memset(a, 0, sizeof a);
        for (size_t i = 0; i < n; i++)
                sl_agg_update(&d, a, &xs[i], 1);
        struct sl_value out;
        memset(&out, 0x77, sizeof out);
        sl_agg_result(&d, a, &out);
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

/* ---- the kinds past MAX ------------------------------------------------ */

/* A state block big enough for any kind, zeroed (the empty state). */
union block {
        struct sl_acc acc;
        struct sl_agg_hll hll;
        unsigned char bytes[sizeof(struct sl_agg_hll) + 16 * SL_AGG_TOPK_MAX];
};

static struct sl_acc *fresh(union block *b)
{
        memset(b, 0, sizeof *b);
        return &b->acc;
}

static void test_ext_lookup_and_types(void **state)
{
        (void)state;
        const char *why = "";
        assert_int_equal(sl_agg_lookup("count_distinct"), SL_AGG_COUNT_DISTINCT);
        assert_int_equal(sl_agg_lookup("TopK"), SL_AGG_TOPK);
        assert_int_equal(sl_agg_lookup("TOPKDISTINCT"), SL_AGG_TOPKDISTINCT);
        assert_int_equal(sl_agg_lookup("latest_by_offset"), SL_AGG_LATEST);
        assert_int_equal(sl_agg_lookup("EARLIEST_BY_OFFSET"), SL_AGG_EARLIEST);
        assert_int_equal(sl_agg_lookup("stddev_samp"), SL_AGG_STDDEV);
        assert_int_equal(sl_agg_lookup("ema"), SL_AGG_EMA);
        assert_int_equal(sl_agg_lookup("STDDEV"), -1);
        assert_int_equal(sl_agg_nparams(SL_AGG_TOPK), 1);
        assert_int_equal(sl_agg_nparams(SL_AGG_EMA), 1);
        assert_int_equal(sl_agg_nparams(SL_AGG_LATEST), 0);
        assert_true(sl_agg_mergeable(SL_AGG_TOPK));
        assert_false(sl_agg_mergeable(SL_AGG_EMA));
        struct sl_agg_desc d = {.kind = SL_AGG_TOPK, .k = 5};
        assert_int_equal(sl_agg_state_size(&d), 8 + 5 * 8);
        d.kind = SL_AGG_COUNT_DISTINCT;
        assert_int_equal(sl_agg_state_size(&d), 8 + 4096);
        d.kind = SL_AGG_STDDEV;
        assert_int_equal(sl_agg_state_size(&d), 24);
        d.kind = SL_AGG_EMA;
        assert_int_equal(sl_agg_state_size(&d), 16);

        assert_int_equal(sl_agg_result_type(SL_AGG_COUNT_DISTINCT, SL_T_STRING, &why), SL_T_BIGINT);
        assert_int_equal(sl_agg_result_type(SL_AGG_COUNT_DISTINCT, SL_T_BOOL, &why), SL_T_BIGINT);
        assert_int_equal(sl_agg_result_type(SL_AGG_COUNT_DISTINCT, SL_T_NULL, &why), SL_T_NULL);
        assert_string_equal(why, "needs a typed argument, not a NULL literal");
        assert_int_equal(sl_agg_result_type(SL_AGG_TOPK, SL_T_INT, &why), SL_T_ARRAY);
        assert_int_equal(sl_agg_result_type(SL_AGG_TOPKDISTINCT, SL_T_DOUBLE, &why), SL_T_ARRAY);
        assert_int_equal(sl_agg_result_type(SL_AGG_TOPK, SL_T_STRING, &why), SL_T_NULL);
        assert_string_equal(why, "needs a numeric argument (INTEGER, BIGINT or DOUBLE)");
        assert_int_equal(sl_agg_result_type(SL_AGG_LATEST, SL_T_BOOL, &why), SL_T_BOOL);
        assert_int_equal(sl_agg_result_type(SL_AGG_EARLIEST, SL_T_INT, &why), SL_T_INT);
        assert_int_equal(sl_agg_result_type(SL_AGG_LATEST, SL_T_STRING, &why), SL_T_NULL);
        assert_string_equal(why, "needs an INTEGER, BIGINT, DOUBLE or BOOLEAN argument (STRING is not supported yet)");
        assert_int_equal(sl_agg_result_type(SL_AGG_STDDEV, SL_T_INT, &why), SL_T_DOUBLE);
        assert_int_equal(sl_agg_result_type(SL_AGG_EMA, SL_T_BIGINT, &why), SL_T_DOUBLE);
        assert_int_equal(sl_agg_result_type(SL_AGG_EMA, SL_T_BOOL, &why), SL_T_NULL);
}

static int64_t distinct_of(const struct sl_agg_desc *d, struct sl_acc *a)
{
        struct sl_value out;
        sl_agg_result(d, a, &out);
        assert_int_equal(out.type, SL_T_BIGINT);
        return out.u.i;
}

static void test_count_distinct_small_exact(void **state)
{
        (void)state;
        struct sl_agg_desc d = {.kind = SL_AGG_COUNT_DISTINCT, .arg_type = SL_T_BIGINT};
        union block b;
        struct sl_acc *a = fresh(&b);
        assert_int_equal(distinct_of(&d, a), 0); /* never null */
        struct sl_value n = vnull();
        sl_agg_update(&d, a, &n, 1);
        assert_int_equal(distinct_of(&d, a), 0);
        /* Exact while sparse: every count up to SL_AGG_HLL_SPARSE, each
         * value repeated. */
        for (int64_t i = 0; i < SL_AGG_HLL_SPARSE; i++) {
                struct sl_value x = vi(i * 7919);
                sl_agg_update(&d, a, &x, 2);
                sl_agg_update(&d, a, &x, 3);
                assert_int_equal(distinct_of(&d, a), i + 1);
                assert_int_equal(b.hll.dense, 0);
        }
        assert_true(sl_agg_valid(&d, a, INT64_MAX));
        /* One more turns it into registers; the estimate stays close. */
        struct sl_value x = vi(-1);
        sl_agg_update(&d, a, &x, 4);
        assert_int_equal(b.hll.dense, 1);
        int64_t est = distinct_of(&d, a);
        assert_true(llabs(est - (SL_AGG_HLL_SPARSE + 1)) <= (SL_AGG_HLL_SPARSE + 1) * 5 / 100);
        assert_true(sl_agg_valid(&d, a, INT64_MAX));

        /* Strings by their bytes, doubles with -0.0 == 0.0, booleans. */
        struct sl_agg_desc ds = {.kind = SL_AGG_COUNT_DISTINCT, .arg_type = SL_T_STRING};
        a = fresh(&b);
        const char *words[] = {"a", "b", "a", "", "ab", "b"};
        for (int i = 0; i < 6; i++) {
                struct sl_value w = {.u.s = {words[i], (uint32_t)strlen(words[i])}, .type = SL_T_STRING};
                sl_agg_update(&ds, a, &w, (uint64_t)i + 1);
        }
        assert_int_equal(distinct_of(&ds, a), 4);
        struct sl_agg_desc dd = {.kind = SL_AGG_COUNT_DISTINCT, .arg_type = SL_T_DOUBLE};
        a = fresh(&b);
        struct sl_value z1 = vd(0.0), z2 = vd(-0.0), h = vd(0.5);
        sl_agg_update(&dd, a, &z1, 1);
        sl_agg_update(&dd, a, &z2, 2);
        sl_agg_update(&dd, a, &h, 3);
        assert_int_equal(distinct_of(&dd, a), 2);
        struct sl_agg_desc db = {.kind = SL_AGG_COUNT_DISTINCT, .arg_type = SL_T_BOOL};
        a = fresh(&b);
        struct sl_value t = {.u.b = true, .type = SL_T_BOOL}, f = {.u.b = false, .type = SL_T_BOOL};
        sl_agg_update(&db, a, &t, 1);
        sl_agg_update(&db, a, &f, 2);
        sl_agg_update(&db, a, &t, 3);
        assert_int_equal(distinct_of(&db, a), 2);
}

/*
 * The documented error: standard error 1.04 / sqrt(4096) = 1.6 %.  For
 * each count, 20 disjoint sets of values; every estimate within 5 % (3.1
 * standard errors) and the root mean square error within 2.4 % (1.5 times
 * the standard error: 20 samples).  Merging the sets' panes gives the same
 * registers as adding every value to one sketch.
 */
static void test_count_distinct_error(void **state)
{
        (void)state;
        static const int64_t counts[] = {600, 2000, 10000, 30000, 100000};
        struct sl_agg_desc d = {.kind = SL_AGG_COUNT_DISTINCT, .arg_type = SL_T_BIGINT};
        static union block one, pane, merged;
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
                double sq = 0;
                for (int set = 0; set < 20; set++) {
                        struct sl_acc *a = fresh(&one);
                        struct sl_acc *m = fresh(&merged);
                        struct sl_acc *p = fresh(&pane);
                        int64_t base = ((int64_t)c * 100 + set) << 32;
                        for (int64_t i = 0; i < counts[c]; i++) {
                                struct sl_value x = vi(base + i);
                                sl_agg_update(&d, a, &x, 1);
                                sl_agg_update(&d, a, &x, 2); /* repeats change nothing */
                                sl_agg_update(&d, p, &x, 1);
                                if (i % 997 == 996) { /* panes of various fill */
                                        sl_agg_merge(&d, m, p);
                                        p = fresh(&pane);
                                }
                        }
                        sl_agg_merge(&d, m, p);
                        assert_memory_equal(&merged, &one, sizeof one.hll);
                        double err = (double)(distinct_of(&d, a) - counts[c]) / (double)counts[c];
                        if (fabs(err) >= 0.05)
                                print_error("count %lld set %d: error %.4f\n", (long long)counts[c], set, err);
                        assert_true(fabs(err) < 0.05);
                        sq += err * err;
                }
                double rmse = sqrt(sq / 20);
                print_message("COUNT_DISTINCT %6lld values: rms error %.4f over 20 sets\n",
                              (long long)counts[c], rmse);
                assert_true(rmse < 0.024);
        }
}

/* Sparse with sparse (overflowing or not), sparse into dense, dense into
 * sparse: always the state of one sketch of every value. */
static void test_count_distinct_merge(void **state)
{
        (void)state;
        struct sl_agg_desc d = {.kind = SL_AGG_COUNT_DISTINCT, .arg_type = SL_T_BIGINT};
        static const int64_t sizes[][2] = {{0, 0}, {10, 0}, {0, 10}, {300, 300}, {100, 412},
                                           {400, 400}, {2000, 5}, {5, 2000}, {3000, 3000}};
        static union block x, y, all;
        for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
                struct sl_acc *a = fresh(&x), *b = fresh(&y), *s = fresh(&all);
                /* Overlapping halves: b repeats a's first 50 values. */
                for (int64_t i = 0; i < sizes[t][0]; i++) {
                        struct sl_value v = vi(i);
                        sl_agg_update(&d, a, &v, 1);
                        sl_agg_update(&d, s, &v, 1);
                }
                for (int64_t i = 0; i < sizes[t][1]; i++) {
                        struct sl_value v = vi(i < 50 ? i : 1000000 + i);
                        sl_agg_update(&d, b, &v, 1);
                        sl_agg_update(&d, s, &v, 1);
                }
                sl_agg_merge(&d, a, b);
                assert_memory_equal(&x, &all, sizeof all.hll);
                assert_true(sl_agg_valid(&d, a, INT64_MAX));
        }
}

static void topk_run(const struct sl_agg_desc *d, union block *b, const struct sl_value *xs,
                     size_t n, struct sl_value *out)
{
        struct sl_acc *a = fresh(b);
        for (size_t i = 0; i < n; i++)
                sl_agg_update(d, a, &xs[i], i + 1);
        sl_agg_result(d, a, out);
        assert_true(sl_agg_valid(d, a, INT64_MAX));
}

static void test_topk(void **state)
{
        (void)state;
        union block b;
        struct sl_value out;
        struct sl_agg_desc d = {.kind = SL_AGG_TOPK, .arg_type = SL_T_BIGINT, .k = 3};
        /* Empty (NULLs only): an empty array, not NULL, as ksqlDB. */
        struct sl_value nulls[] = {vnull(), vnull()};
        topk_run(&d, &b, nulls, 2, &out);
        assert_int_equal(out.type, SL_T_ARRAY);
        assert_int_equal(out.u.a.n, 0);
        /* Fewer than k, then duplicates kept, then descending. */
        struct sl_value xs[] = {vi(5), vnull(), vi(1), vi(5), vi(9), vi(-3), vi(5), vi(7)};
        topk_run(&d, &b, xs, 2, &out);
        assert_int_equal(out.u.a.n, 1);
        assert_int_equal(((const int64_t *)out.u.a.p)[0], 5);
        topk_run(&d, &b, xs, 8, &out);
        assert_int_equal(out.u.a.elem, SL_T_BIGINT);
        assert_int_equal(out.u.a.n, 3);
        const int64_t *v = out.u.a.p;
        assert_true(v[0] == 9 && v[1] == 7 && v[2] == 5);
        d.kind = SL_AGG_TOPKDISTINCT;
        d.k = 4;
        topk_run(&d, &b, xs, 8, &out);
        assert_int_equal(out.u.a.n, 4);
        v = out.u.a.p;
        assert_true(v[0] == 9 && v[1] == 7 && v[2] == 5 && v[3] == 1);
        /* k = 1 and k = SL_AGG_TOPK_MAX. */
        d.kind = SL_AGG_TOPK;
        d.k = 1;
        topk_run(&d, &b, xs, 8, &out);
        assert_true(out.u.a.n == 1 && ((const int64_t *)out.u.a.p)[0] == 9);
        d.k = SL_AGG_TOPK_MAX;
        struct sl_value many[300];
        for (int i = 0; i < 300; i++)
                many[i] = vi((i * 37) % 300);
        topk_run(&d, &b, many, 300, &out);
        assert_int_equal(out.u.a.n, SL_AGG_TOPK_MAX);
        for (int i = 0; i < SL_AGG_TOPK_MAX; i++)
                assert_int_equal(((const int64_t *)out.u.a.p)[i], 299 - i);
        /* Doubles; NaN has no place in the order and is ignored. */
        struct sl_agg_desc dd = {.kind = SL_AGG_TOPKDISTINCT, .arg_type = SL_T_DOUBLE, .k = 3};
        struct sl_value ds[] = {vd(1.5), vd(NAN), vd(-1e300), vd(1.5), vd(2.25), vd(1e-300)};
        topk_run(&dd, &b, ds, 6, &out);
        assert_int_equal(out.u.a.elem, SL_T_DOUBLE);
        assert_int_equal(out.u.a.n, 3);
        const double *w = out.u.a.p;
        assert_true(w[0] == 2.25 && w[1] == 1.5 && w[2] == 1e-300);
}

/* Random values split into panes: merging the panes in any order gives
 * the state one accumulator reaches (TOPK, TOPKDISTINCT, LATEST,
 * EARLIEST: exactly; STDDEV_SAMP within rounding). */
static void test_ext_merge_equals_sequential(void **state)
{
        (void)state;
        static const struct sl_agg_desc descs[] = {
                {.kind = SL_AGG_TOPK, .arg_type = SL_T_BIGINT, .k = 4},
                {.kind = SL_AGG_TOPK, .arg_type = SL_T_DOUBLE, .k = 1},
                {.kind = SL_AGG_TOPKDISTINCT, .arg_type = SL_T_BIGINT, .k = 3},
                {.kind = SL_AGG_TOPKDISTINCT, .arg_type = SL_T_DOUBLE, .k = 5},
                {.kind = SL_AGG_LATEST, .arg_type = SL_T_BIGINT},
                {.kind = SL_AGG_EARLIEST, .arg_type = SL_T_DOUBLE},
                {.kind = SL_AGG_STDDEV, .arg_type = SL_T_DOUBLE},
                {.kind = SL_AGG_STDDEV, .arg_type = SL_T_BIGINT},
        };
        static union block seq, merged, panes[4];
        for (int round = 0; round < 500; round++) {
                size_t n = rnd() % 40;
                struct sl_value xs[40];
                int which[40];
                for (size_t i = 0; i < n; i++) {
                        which[i] = (int)(rnd() % 4); /* records land in any pane */
                        if (rnd() % 5 == 0)
                                xs[i] = vnull();
                        else if (rnd() % 2)
                                xs[i] = vi((int64_t)(rnd() % 10) - 5);
                        else
                                xs[i] = vd((double)((int64_t)(rnd() % 2000) - 1000) / 8);
                }
                for (size_t k = 0; k < sizeof descs / sizeof descs[0]; k++) {
                        const struct sl_agg_desc *d = &descs[k];
                        struct sl_value ys[40];
                        for (size_t i = 0; i < n; i++) {
                                ys[i] = xs[i];
                                if (ys[i].type == SL_T_BIGINT && d->arg_type == SL_T_DOUBLE)
                                        ys[i] = vd((double)ys[i].u.i);
                                else if (ys[i].type == SL_T_DOUBLE && d->arg_type != SL_T_DOUBLE)
                                        ys[i] = vi((int64_t)ys[i].u.d);
                        }
                        struct sl_acc *s = fresh(&seq), *m = fresh(&merged);
                        for (int p = 0; p < 4; p++)
                                fresh(&panes[p]);
                        for (size_t i = 0; i < n; i++) {
                                sl_agg_update(d, s, &ys[i], i + 1);
                                sl_agg_update(d, &panes[which[i]].acc, &ys[i], i + 1);
                        }
                        for (int p = 0; p < 4; p++)
                                sl_agg_merge(d, m, &panes[(p + round) % 4].acc);
                        struct sl_value a, b;
                        sl_agg_result(d, s, &a);
                        sl_agg_result(d, m, &b);
                        assert_int_equal(a.type, b.type);
                        if (d->kind == SL_AGG_STDDEV) {
                                if (a.type == SL_T_DOUBLE)
                                        assert_true(fabs(a.u.d - b.u.d) <= 1e-9 * (1 + fabs(a.u.d)));
                        } else {
                                assert_memory_equal(&seq, &merged, sl_agg_state_size(d));
                        }
                        assert_true(sl_agg_valid(d, m, INT64_MAX));
                }
        }
}

static void test_latest_earliest(void **state)
{
        (void)state;
        union block b;
        struct sl_value out;
        struct sl_agg_desc d = {.kind = SL_AGG_LATEST, .arg_type = SL_T_BOOL};
        struct sl_acc *a = fresh(&b);
        sl_agg_result(&d, a, &out);
        assert_int_equal(out.type, SL_T_NULL);
        struct sl_value t = {.u.b = true, .type = SL_T_BOOL}, f = {.u.b = false, .type = SL_T_BOOL};
        struct sl_value n = vnull();
        sl_agg_update(&d, a, &t, 3);
        sl_agg_update(&d, a, &f, 4);
        sl_agg_update(&d, a, &n, 5); /* NULLs ignored */
        sl_agg_result(&d, a, &out);
        assert_int_equal(out.type, SL_T_BOOL);
        assert_false(out.u.b);
        /* A pane with earlier records merged after a later one. */
        struct sl_agg_desc e = {.kind = SL_AGG_EARLIEST, .arg_type = SL_T_BIGINT};
        union block b1, b2;
        struct sl_acc *p1 = fresh(&b1), *p2 = fresh(&b2);
        struct sl_value x = vi(10), y = vi(20), z = vi(30);
        sl_agg_update(&e, p1, &x, 7);
        sl_agg_update(&e, p2, &y, 2);
        sl_agg_update(&e, p2, &z, 9);
        sl_agg_merge(&e, p1, p2);
        sl_agg_result(&e, p1, &out);
        assert_int_value(out, 20);
        struct sl_agg_desc l = {.kind = SL_AGG_LATEST, .arg_type = SL_T_DOUBLE};
        p1 = fresh(&b1);
        p2 = fresh(&b2);
        struct sl_value u = vd(1.25), w = vd(-2.5);
        sl_agg_update(&l, p1, &u, 12);
        sl_agg_update(&l, p2, &w, 11);
        sl_agg_merge(&l, p1, p2);
        sl_agg_result(&l, p1, &out);
        assert_double_value(out, 1.25);
}

static void test_stddev_ema(void **state)
{
        (void)state;
        assert_int_equal(RUN(SL_AGG_STDDEV, SL_T_BIGINT, vnull()).type, SL_T_NULL);
        assert_int_equal(RUN(SL_AGG_STDDEV, SL_T_BIGINT, vi(4), vnull()).type, SL_T_NULL);
        assert_double_value(RUN(SL_AGG_STDDEV, SL_T_BIGINT, vi(4), vi(4), vnull()), 0.0);
        /* 2, 4, 4, 4, 5, 5, 7, 9: sum of squares 32, sample variance 32/7 */
        struct sl_value s = RUN(SL_AGG_STDDEV, SL_T_DOUBLE, vd(2), vd(4), vd(4), vd(4),
                                vd(5), vd(5), vd(7), vd(9));
        assert_int_equal(s.type, SL_T_DOUBLE);
        assert_true(fabs(s.u.d - sqrt(32.0 / 7.0)) < 1e-15);
        /* Large offset: Welford keeps the precision a naive sum of
         * squares loses. */
        s = RUN(SL_AGG_STDDEV, SL_T_DOUBLE, vd(1e9 + 4), vd(1e9 + 7), vd(1e9 + 13), vd(1e9 + 16));
        assert_true(fabs(s.u.d - sqrt(30.0)) < 1e-6);

        /* EMA: first value as is, then alpha*x + (1-alpha)*old. */
        union block b;
        struct sl_agg_desc d = {.kind = SL_AGG_EMA, .arg_type = SL_T_BIGINT, .alpha = 0.25};
        struct sl_acc *a = fresh(&b);
        struct sl_value out;
        sl_agg_result(&d, a, &out);
        assert_int_equal(out.type, SL_T_NULL);
        struct sl_value xs[] = {vi(8), vnull(), vi(16), vi(0)};
        for (int i = 0; i < 4; i++)
                sl_agg_update(&d, a, &xs[i], (uint64_t)i + 1);
        sl_agg_result(&d, a, &out);
        assert_double_value(out, 0.75 * (0.25 * 16 + 0.75 * 8)); /* 7.5 */
        d.alpha = 1.0;
        a = fresh(&b);
        for (int i = 0; i < 4; i++)
                sl_agg_update(&d, a, &xs[i], (uint64_t)i + 1);
        sl_agg_result(&d, a, &out);
        assert_double_value(out, 0.0);
}

/* States no update could leave are refused (snapshot restore). */
static void test_ext_valid(void **state)
{
        (void)state;
        union block b;
        struct sl_agg_desc t = {.kind = SL_AGG_TOPK, .arg_type = SL_T_BIGINT, .k = 3};
        struct sl_agg_topk *tk = (struct sl_agg_topk *)fresh(&b);
        assert_true(sl_agg_valid(&t, &b.acc, 10));
        tk->n = 2;
        tk->v[0].i = 5;
        tk->v[1].i = 5;
        assert_true(sl_agg_valid(&t, &b.acc, 10));
        t.kind = SL_AGG_TOPKDISTINCT; /* repeats: not distinct */
        assert_false(sl_agg_valid(&t, &b.acc, 10));
        t.kind = SL_AGG_TOPK;
        tk->v[1].i = 6; /* ascending */
        assert_false(sl_agg_valid(&t, &b.acc, 10));
        tk->n = 4; /* more than k */
        assert_false(sl_agg_valid(&t, &b.acc, 10));
        tk->n = -1;
        assert_false(sl_agg_valid(&t, &b.acc, 10));

        struct sl_agg_desc h = {.kind = SL_AGG_COUNT_DISTINCT, .arg_type = SL_T_BIGINT};
        fresh(&b);
        b.hll.nsparse = 2;
        b.hll.u.h[0] = 9;
        b.hll.u.h[1] = 3; /* unsorted */
        assert_false(sl_agg_valid(&h, &b.acc, 10));
        b.hll.u.h[1] = 10;
        assert_true(sl_agg_valid(&h, &b.acc, 10));
        b.hll.nsparse = SL_AGG_HLL_SPARSE + 1;
        assert_false(sl_agg_valid(&h, &b.acc, 10));
        fresh(&b);
        b.hll.dense = 1;
        b.hll.u.reg[7] = 64 - SL_AGG_HLL_P + 1;
        assert_true(sl_agg_valid(&h, &b.acc, 10));
        b.hll.u.reg[7] = 64 - SL_AGG_HLL_P + 2;
        assert_false(sl_agg_valid(&h, &b.acc, 10));
        b.hll.u.reg[7] = 0;
        b.hll.dense = 2;
        assert_false(sl_agg_valid(&h, &b.acc, 10));

        struct sl_agg_desc l = {.kind = SL_AGG_LATEST, .arg_type = SL_T_BOOL};
        fresh(&b);
        b.acc.n = 3;
        b.acc.v.i = 1;
        assert_true(sl_agg_valid(&l, &b.acc, 10));
        b.acc.v.i = 2;
        assert_false(sl_agg_valid(&l, &b.acc, 10));
        struct sl_agg_desc s = {.kind = SL_AGG_STDDEV, .arg_type = SL_T_DOUBLE};
        fresh(&b);
        ((struct sl_agg_welford *)&b.acc)->n = 11;
        assert_false(sl_agg_valid(&s, &b.acc, 10));
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
                cmocka_unit_test(test_ext_lookup_and_types),
                cmocka_unit_test(test_count_distinct_small_exact),
                cmocka_unit_test(test_count_distinct_error),
                cmocka_unit_test(test_count_distinct_merge),
                cmocka_unit_test(test_topk),
                cmocka_unit_test(test_ext_merge_equals_sequential),
                cmocka_unit_test(test_latest_earliest),
                cmocka_unit_test(test_stddev_ema),
                cmocka_unit_test(test_ext_valid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
