/*
 * test_ktable.c - cmocka tests of engine/ktable.{h,c}: the latest row per
 * primary key of a source table.
 *
 * Upsert, latest wins, delete (present and absent), rows that own their
 * strings, key encodings (INTEGER and BIGINT alike, -0.0 as 0.0), and
 * random upserts and deletes over a small key space checked after every
 * step against a plain array model (growth and backward-shift deletion).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/ktable.h"

static struct sl_value str(const char *s)
{
        struct sl_value v = {.type = SL_T_STRING};
        v.u.s.p = s;
        v.u.s.len = (uint32_t)strlen(s);
        return v;
}

static struct sl_value num(int64_t i, enum sl_type t)
{
        struct sl_value v = {.type = (uint8_t)t};
        v.u.i = i;
        return v;
}

static void assert_str(const struct sl_value *v, const char *s)
{
        assert_int_equal(v->type, SL_T_STRING);
        assert_int_equal(v->u.s.len, strlen(s));
        assert_memory_equal(v->u.s.p, s, strlen(s));
}

static int put(struct sl_ktable *kt, const struct sl_value *row)
{
        char buf[8];
        const char *key;
        uint32_t klen;
        sl_ktable_key_of(&row[0], buf, &key, &klen);
        return sl_ktable_upsert(kt, key, klen, row);
}

static const struct sl_value *get(struct sl_ktable *kt, struct sl_value k)
{
        char buf[8];
        const char *key;
        uint32_t klen;
        sl_ktable_key_of(&k, buf, &key, &klen);
        return sl_ktable_get(kt, key, klen);
}

static bool del(struct sl_ktable *kt, struct sl_value k)
{
        char buf[8];
        const char *key;
        uint32_t klen;
        sl_ktable_key_of(&k, buf, &key, &klen);
        return sl_ktable_delete(kt, key, klen);
}

static void test_upsert_latest_delete(void **state)
{
        (void)state;
        struct sl_ktable *kt = sl_ktable_new(3);
        assert_non_null(kt);
        assert_null(get(kt, str("c1")));

        char tier[16] = "silver"; /* the row must copy it */
        struct sl_value row[3] = {str("c1"), str(tier), {.type = SL_T_NULL}};
        assert_int_equal(put(kt, row), 0);
        memcpy(tier, "XXXXXX", 6);
        const struct sl_value *r = get(kt, str("c1"));
        assert_non_null(r);
        assert_str(&r[0], "c1");
        assert_str(&r[1], "silver");
        assert_int_equal(r[2].type, SL_T_NULL);
        assert_int_equal(sl_ktable_count(kt), 1);

        /* latest wins, the whole row is replaced */
        struct sl_value row2[3] = {str("c1"), str("gold"), str("EU")};
        assert_int_equal(put(kt, row2), 0);
        r = get(kt, str("c1"));
        assert_str(&r[1], "gold");
        assert_str(&r[2], "EU");
        assert_int_equal(sl_ktable_count(kt), 1);
        struct sl_value row3[3] = {str("c1"), {.type = SL_T_NULL}, str("US")};
        assert_int_equal(put(kt, row3), 0);
        r = get(kt, str("c1"));
        assert_int_equal(r[1].type, SL_T_NULL);
        assert_str(&r[2], "US");

        struct sl_value other[3] = {str("c2"), str("bronze"), str("")};
        assert_int_equal(put(kt, other), 0);
        assert_int_equal(sl_ktable_count(kt), 2);
        assert_str(&get(kt, str("c2"))[2], "");

        /* a delete removes the key; deleting an absent key changes nothing */
        assert_true(del(kt, str("c1")));
        assert_null(get(kt, str("c1")));
        assert_false(del(kt, str("c1")));
        assert_false(del(kt, str("nobody")));
        assert_int_equal(sl_ktable_count(kt), 1);
        assert_str(&get(kt, str("c2"))[1], "bronze");
        /* and a key comes back after its delete */
        assert_int_equal(put(kt, row2), 0);
        assert_str(&get(kt, str("c1"))[1], "gold");
        assert_true(sl_ktable_bytes(kt) > 0);
        sl_ktable_destroy(kt);
        sl_ktable_destroy(NULL);
}

static void test_keys(void **state)
{
        (void)state;
        struct sl_ktable *kt = sl_ktable_new(2);
        struct sl_value row[2] = {num(42, SL_T_BIGINT), str("answer")};
        assert_int_equal(put(kt, row), 0);
        /* an INTEGER stream column finds a BIGINT key */
        assert_non_null(get(kt, num(42, SL_T_INT)));
        assert_null(get(kt, num(43, SL_T_INT)));
        assert_null(get(kt, num(42LL << 32, SL_T_BIGINT)));
        /* the string "42" is not the number 42 in a table of numbers */
        struct sl_value s42 = str("42");
        assert_null(get(kt, s42));

        struct sl_value d = {.type = SL_T_DOUBLE};
        d.u.d = -0.0;
        struct sl_value drow[2] = {d, str("zero")};
        assert_int_equal(put(kt, drow), 0);
        struct sl_value z = {.type = SL_T_DOUBLE};
        z.u.d = 0.0;
        assert_str(&get(kt, z)[1], "zero");

        struct sl_value b = {.type = SL_T_BOOL};
        b.u.b = true;
        struct sl_value brow[2] = {b, str("yes")};
        assert_int_equal(put(kt, brow), 0);
        assert_str(&get(kt, b)[1], "yes");
        b.u.b = false;
        assert_null(get(kt, b));

        /* the empty string is a key like any other */
        struct sl_value erow[2] = {str(""), str("empty")};
        assert_int_equal(put(kt, erow), 0);
        assert_str(&get(kt, str(""))[1], "empty");
        assert_int_equal(sl_ktable_count(kt), 4);
        sl_ktable_destroy(kt);
}

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

#define NKEYS 600

static void test_random_against_model(void **state)
{
        (void)state;
        struct sl_ktable *kt = sl_ktable_new(2);
        int64_t model[NKEYS]; /* value per key, -1: absent */
        char names[NKEYS][16];
        uint64_t present = 0;
        for (int k = 0; k < NKEYS; k++) {
                model[k] = -1;
                snprintf(names[k], sizeof names[k], "cust-%d", k);
        }
        for (int step = 0; step < 60000; step++) {
                int k = (int)(rng() % NKEYS);
                /* phases: grow, churn, shrink, so that runs of deletes shift */
                unsigned pdel = step < 20000 ? 10 : step < 40000 ? 50 : 85;
                if (rng() % 100 < pdel) {
                        assert_int_equal(del(kt, str(names[k])), model[k] >= 0);
                        present -= model[k] >= 0;
                        model[k] = -1;
                } else {
                        struct sl_value row[2] = {str(names[k]), num(step, SL_T_BIGINT)};
                        assert_int_equal(put(kt, row), 0);
                        present += model[k] < 0;
                        model[k] = step;
                }
                assert_int_equal(sl_ktable_count(kt), present);
                if (step % 997 == 0 || step > 59000) {
                        for (int j = 0; j < NKEYS; j++) {
                                const struct sl_value *r = get(kt, str(names[j]));
                                if (model[j] < 0) {
                                        assert_null(r);
                                } else {
                                        assert_non_null(r);
                                        assert_str(&r[0], names[j]);
                                        assert_int_equal(r[1].u.i, model[j]);
                                }
                        }
                }
        }
        sl_ktable_destroy(kt);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_upsert_latest_delete),
                cmocka_unit_test(test_keys),
                cmocka_unit_test(test_random_against_model),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
