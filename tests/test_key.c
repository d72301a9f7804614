/*
 * test_key.c - cmocka tests of engine/key.{h,c}: the byte encoding of
 * group keys.
 *
 * The query is built by hand (only ngroup, group_cols and group_types are
 * read).  Every case checks the exact bytes written (the encoding is the
 * table key and the routing hash input, so it must not drift) and that
 * decoding gives the values back, borrowing from the key bytes.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/key.h"

static struct sl_query query(uint32_t ngroup, const uint32_t *cols,
                             const enum sl_type *types)
{
        struct sl_query q;
        memset(&q, 0, sizeof q);
        q.ngroup = ngroup;
        for (uint32_t g = 0; g < ngroup; g++) {
                q.group_cols[g] = cols[g];
                q.group_types[g] = types[g];
        }
        return q;
}

static struct sl_value vi(enum sl_type t, int64_t i)
{
        return (struct sl_value){.u.i = i, .type = (uint8_t)t};
}

static struct sl_value vd(double d)
{
        return (struct sl_value){.u.d = d, .type = SL_T_DOUBLE};
}

static struct sl_value vb(bool b)
{
        return (struct sl_value){.u.b = b, .type = SL_T_BOOL};
}

static struct sl_value vs(const char *s, uint32_t len)
{
        return (struct sl_value){.u.s = {s, len}, .type = SL_T_STRING};
}

static void encode(const struct sl_query *q, const struct sl_value *vals,
                   struct sl_buf *b)
{
        b->len = 0;
        sl_key_encode(q, vals, b);
        assert_true(sl_buf_ok(b));
}

static void test_string_single(void **state)
{
        (void)state;
        enum sl_type t = SL_T_STRING;
        uint32_t c = 1;
        struct sl_query q = query(1, &c, &t);
        struct sl_value vals[2] = {vi(SL_T_BIGINT, 99), vs("user-42", 7)};
        struct sl_buf b = {0};
        encode(&q, vals, &b);
        /* a single string key is its bytes: no prefix, no terminator */
        assert_int_equal(b.len, 7);
        assert_memory_equal(b.p, "user-42", 7);
        struct sl_value out[1];
        sl_key_decode(&q, b.p, (uint32_t)b.len, out);
        assert_int_equal(out[0].type, SL_T_STRING);
        assert_int_equal(out[0].u.s.len, 7);
        assert_ptr_equal(out[0].u.s.p, b.p); /* borrows */
        /* empty string and bytes with NUL */
        vals[1] = vs("", 0);
        encode(&q, vals, &b);
        assert_int_equal(b.len, 0);
        sl_key_decode(&q, b.p, 0, out);
        assert_int_equal(out[0].type, SL_T_STRING);
        assert_int_equal(out[0].u.s.len, 0);
        static const char nul[] = {'a', '\0', 'b'};
        vals[1] = vs(nul, 3);
        encode(&q, vals, &b);
        assert_int_equal(b.len, 3);
        assert_memory_equal(b.p, nul, 3);
        sl_key_decode(&q, b.p, 3, out);
        assert_int_equal(out[0].u.s.len, 3);
        assert_memory_equal(out[0].u.s.p, nul, 3);
        sl_buf_free(&b);
}

static void test_int_single(void **state)
{
        (void)state;
        static const enum sl_type types[] = {SL_T_BIGINT, SL_T_INT};
        for (int k = 0; k < 2; k++) {
                uint32_t c = 0;
                struct sl_query q = query(1, &c, &types[k]);
                struct sl_buf b = {0};
                struct sl_value v = vi(types[k], 0x0102030405060708LL);
                encode(&q, &v, &b);
                assert_int_equal(b.len, 8); /* INTEGER too: 8 bytes */
                assert_memory_equal(b.p, "\x08\x07\x06\x05\x04\x03\x02\x01", 8); /* LE */
                v = vi(types[k], -2);
                encode(&q, &v, &b);
                assert_memory_equal(b.p, "\xfe\xff\xff\xff\xff\xff\xff\xff", 8);
                static const int64_t cases[] = {0, 1, -1, INT32_MIN, INT32_MAX,
                                                INT64_MIN, INT64_MAX, 1234567890123LL};
                for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                        v = vi(types[k], cases[i]);
                        encode(&q, &v, &b);
                        struct sl_value out;
                        memset(&out, 0, sizeof out);
                        sl_key_decode(&q, b.p, (uint32_t)b.len, &out);
                        assert_int_equal(out.type, types[k]);
                        assert_true(out.u.i == cases[i]);
                }
                sl_buf_free(&b);
        }
}

static void test_double_single(void **state)
{
        (void)state;
        enum sl_type t = SL_T_DOUBLE;
        uint32_t c = 0;
        struct sl_query q = query(1, &c, &t);
        struct sl_buf b = {0}, b2 = {0};
        struct sl_value v = vd(1.5);
        encode(&q, &v, &b);
        assert_int_equal(b.len, 8);
        double one5 = 1.5;
        uint64_t bits;
        memcpy(&bits, &one5, 8);
        for (int i = 0; i < 8; i++)
                assert_int_equal((unsigned char)b.p[i], (bits >> (8 * i)) & 0xff);

        /* -0.0 and 0.0 are one key, and decode as +0.0 */
        v = vd(-0.0);
        encode(&q, &v, &b);
        v = vd(0.0);
        encode(&q, &v, &b2);
        assert_int_equal(b.len, 8);
        assert_memory_equal(b.p, b2.p, 8);
        assert_memory_equal(b.p, "\0\0\0\0\0\0\0\0", 8);
        struct sl_value out;
        sl_key_decode(&q, b.p, 8, &out);
        assert_int_equal(out.type, SL_T_DOUBLE);
        assert_true(out.u.d == 0.0 && !signbit(out.u.d));

        static const double cases[] = {1.0, -1.0, 0.1, -1e308, 5e-324, INFINITY, -INFINITY,
                                       1.7976931348623157e308};
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                v = vd(cases[i]);
                encode(&q, &v, &b);
                sl_key_decode(&q, b.p, 8, &out);
                assert_memory_equal(&out.u.d, &cases[i], 8);
        }
        /* NaN keeps its bits */
        v = vd(NAN);
        encode(&q, &v, &b);
        sl_key_decode(&q, b.p, 8, &out);
        assert_true(isnan(out.u.d));
        assert_memory_equal(&out.u.d, &v.u.d, 8);
        sl_buf_free(&b);
        sl_buf_free(&b2);
}

static void test_bool_single(void **state)
{
        (void)state;
        enum sl_type t = SL_T_BOOL;
        uint32_t c = 0;
        struct sl_query q = query(1, &c, &t);
        struct sl_buf b = {0};
        for (int k = 0; k < 2; k++) {
                struct sl_value v = vb(k);
                encode(&q, &v, &b);
                assert_int_equal(b.len, 1);
                assert_int_equal(b.p[0], k);
                struct sl_value out;
                sl_key_decode(&q, b.p, 1, &out);
                assert_int_equal(out.type, SL_T_BOOL);
                assert_int_equal(out.u.b, k);
        }
        sl_buf_free(&b);
}

static void test_multi(void **state)
{
        (void)state;
        /* group columns out of source order, every type, two strings */
        static const uint32_t cols[] = {3, 0, 5, 1, 2, 4};
        static const enum sl_type types[] = {SL_T_STRING, SL_T_BIGINT, SL_T_STRING,
                                             SL_T_BOOL, SL_T_DOUBLE, SL_T_INT};
        struct sl_query q = query(6, cols, types);
        struct sl_value vals[6] = {
                [0] = vi(SL_T_BIGINT, -7),  [1] = vb(true),       [2] = vd(-0.0),
                [3] = vs("ab", 2),          [4] = vi(SL_T_INT, 300), [5] = vs("", 0),
        };
        struct sl_buf b = {0};
        encode(&q, vals, &b);
        /* "ab" with a 4-byte length, 8-byte int, "" with its length, bool,
         * double, 8-byte INTEGER */
        assert_int_equal(b.len, (4 + 2) + 8 + (4 + 0) + 1 + 8 + 8);
        uint32_t len;
        memcpy(&len, b.p, 4);
        assert_int_equal(len, 2);
        assert_memory_equal(b.p + 4, "ab", 2);
        assert_memory_equal(b.p + 6, "\xf9\xff\xff\xff\xff\xff\xff\xff", 8);
        memcpy(&len, b.p + 14, 4);
        assert_int_equal(len, 0);
        assert_int_equal(b.p[18], 1);
        assert_memory_equal(b.p + 19, "\0\0\0\0\0\0\0\0", 8); /* -0.0 folded */
        assert_memory_equal(b.p + 27, "\x2c\x01\0\0\0\0\0\0", 8);

        struct sl_value out[6];
        memset(out, 0, sizeof out);
        sl_key_decode(&q, b.p, (uint32_t)b.len, out);
        assert_int_equal(out[0].type, SL_T_STRING);
        assert_int_equal(out[0].u.s.len, 2);
        assert_memory_equal(out[0].u.s.p, "ab", 2);
        assert_ptr_equal(out[0].u.s.p, b.p + 4);
        assert_int_equal(out[1].type, SL_T_BIGINT);
        assert_true(out[1].u.i == -7);
        assert_int_equal(out[2].type, SL_T_STRING);
        assert_int_equal(out[2].u.s.len, 0);
        assert_int_equal(out[3].type, SL_T_BOOL);
        assert_true(out[3].u.b);
        assert_int_equal(out[4].type, SL_T_DOUBLE);
        assert_true(out[4].u.d == 0.0 && !signbit(out[4].u.d));
        assert_int_equal(out[5].type, SL_T_INT);
        assert_true(out[5].u.i == 300);
        sl_buf_free(&b);
}

/* With several columns the encoding is unambiguous: ("a", "bc") and
 * ("ab", "c") differ; a single column needs no prefix. */
static void test_unambiguous(void **state)
{
        (void)state;
        static const uint32_t cols[] = {0, 1};
        static const enum sl_type types[] = {SL_T_STRING, SL_T_STRING};
        struct sl_query q = query(2, cols, types);
        struct sl_value x[2] = {vs("a", 1), vs("bc", 2)};
        struct sl_value y[2] = {vs("ab", 2), vs("c", 1)};
        struct sl_buf bx = {0}, by = {0};
        encode(&q, x, &bx);
        encode(&q, y, &by);
        assert_int_equal(bx.len, by.len);
        assert_memory_not_equal(bx.p, by.p, bx.len);
        struct sl_value out[2];
        sl_key_decode(&q, by.p, (uint32_t)by.len, out);
        assert_int_equal(out[0].u.s.len, 2);
        assert_memory_equal(out[0].u.s.p, "ab", 2);
        assert_int_equal(out[1].u.s.len, 1);
        assert_memory_equal(out[1].u.s.p, "c", 1);
        sl_buf_free(&bx);
        sl_buf_free(&by);
}

/* sl_key_encode appends: two keys back to back in one buffer. */
static void test_appends(void **state)
{
        (void)state;
        enum sl_type t = SL_T_BIGINT;
        uint32_t c = 0;
        struct sl_query q = query(1, &c, &t);
        struct sl_buf b = {0};
        sl_buf_add(&b, "pre", 3);
        struct sl_value v = vi(SL_T_BIGINT, 1);
        sl_key_encode(&q, &v, &b);
        v.u.i = 2;
        sl_key_encode(&q, &v, &b);
        assert_int_equal(b.len, 19);
        assert_memory_equal(b.p, "pre\x01\0\0\0\0\0\0\0\x02\0\0\0\0\0\0\0", 19);
        sl_buf_free(&b);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

/* Random multi-column keys round-trip, and equal keys encode equally. */
static void test_random_round_trip(void **state)
{
        (void)state;
        static const enum sl_type all[] = {SL_T_STRING, SL_T_BIGINT, SL_T_INT,
                                           SL_T_DOUBLE, SL_T_BOOL};
        char pool[16][32];
        for (int round = 0; round < 2000; round++) {
                uint32_t n = 1 + (uint32_t)(rnd() % SL_MAX_GROUP);
                uint32_t cols[SL_MAX_GROUP];
                enum sl_type types[SL_MAX_GROUP];
                struct sl_value vals[SL_MAX_GROUP];
                for (uint32_t g = 0; g < n; g++) {
                        cols[g] = n - 1 - g; /* reversed */
                        types[g] = all[rnd() % 5];
                }
                for (uint32_t g = 0; g < n; g++) {
                        uint32_t c = cols[g];
                        switch (types[g]) {
                        case SL_T_STRING: {
                                uint32_t len = (uint32_t)(rnd() % 32);
                                for (uint32_t i = 0; i < len; i++)
                                        pool[c][i] = (char)rnd();
                                vals[c] = vs(pool[c], len);
                                break;
                        }
                        case SL_T_DOUBLE: {
                                uint64_t bits = rnd();
                                double d;
                                memcpy(&d, &bits, 8);
                                if (isnan(d))
                                        d = 0.25;
                                vals[c] = vd(d);
                                break;
                        }
                        case SL_T_BOOL:
                                vals[c] = vb(rnd() & 1);
                                break;
                        default:
                                vals[c] = vi(types[g], (int64_t)rnd());
                        }
                }
                struct sl_query q = query(n, cols, types);
                struct sl_buf b = {0}, b2 = {0};
                encode(&q, vals, &b);
                encode(&q, vals, &b2);
                assert_int_equal(b.len, b2.len);
                assert_memory_equal(b.p, b2.p, b.len);
                struct sl_value out[SL_MAX_GROUP];
                sl_key_decode(&q, b.p, (uint32_t)b.len, out);
                /* re-encoding the decoded values (as a row of one column
                 * per group) gives the same bytes */
                struct sl_value row[SL_MAX_GROUP];
                for (uint32_t g = 0; g < n; g++) {
                        const struct sl_value *in = &vals[cols[g]];
                        assert_int_equal(out[g].type, types[g]);
                        switch (types[g]) {
                        case SL_T_STRING:
                                assert_int_equal(out[g].u.s.len, in->u.s.len);
                                if (in->u.s.len)
                                        assert_memory_equal(out[g].u.s.p, in->u.s.p, in->u.s.len);
                                assert_true(out[g].u.s.p >= b.p &&
                                            out[g].u.s.p + out[g].u.s.len <= b.p + b.len);
                                break;
                        case SL_T_DOUBLE:
                                assert_true(out[g].u.d == in->u.d);
                                break;
                        case SL_T_BOOL:
                                assert_int_equal(out[g].u.b, in->u.b);
                                break;
                        default:
                                assert_true(out[g].u.i == in->u.i);
                        }
                        row[cols[g]] = out[g];
                }
                encode(&q, row, &b2);
                assert_int_equal(b.len, b2.len);
                assert_memory_equal(b.p, b2.p, b.len);
                sl_buf_free(&b);
                sl_buf_free(&b2);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_string_single),
                cmocka_unit_test(test_int_single),
                cmocka_unit_test(test_double_single),
                cmocka_unit_test(test_bool_single),
                cmocka_unit_test(test_multi),
                cmocka_unit_test(test_unambiguous),
                cmocka_unit_test(test_appends),
                cmocka_unit_test(test_random_round_trip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
