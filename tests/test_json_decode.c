/*
 * test_json_decode.c - unit tests of engine/json_decode.c.
 *
 * Every input is copied into a heap block of exactly its length, so that
 * AddressSanitizer flags any read past the record (the decoder promises
 * to need no NUL and no padding).  Besides hand-written cases the program
 * runs: every proper prefix of valid records, exhaustive UTF-8 sequences
 * against a reference classifier, random doubles against strtod(), a
 * mutation fuzz differential against a small recursive reference
 * validator, and the corpora tests/corpus/json_{good,bad}.
 *
 * Usage: test_json_decode [CORPUS_DIR]; CORPUS_DIR defaults to
 * $SL_CORPUS_DIR, then "tests/corpus".
 */
#define _POSIX_C_SOURCE 200809L /* opendir, strdup */

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine/json_decode.h"

static const char *corpus_dir = "tests/corpus";

/* One decoded record: owns the exact-size input copy and the scratch. */
struct rec {
        char *buf;
        char *scratch;
        size_t len;
        struct sl_value out[64];
        struct sl_json_error err;
        enum sl_json_status st;
};

static enum sl_json_status rec_run(struct rec *r, const struct sl_json_schema *js,
                                   const char *text, size_t len)
{
        r->len = len;
        r->buf = malloc(len ? len : 1);
        r->scratch = malloc(len ? len : 1);
        assert_non_null(r->buf);
        assert_non_null(r->scratch);
        memcpy(r->buf, text, len);
        memset(r->out, 0xA5, sizeof r->out); /* decoder must overwrite */
        r->st = sl_json_decode(js, r->buf, len, r->out, r->scratch, &r->err);
        assert_int_equal(r->st, r->err.status);
        return r->st;
}

static void rec_free(struct rec *r)
{
        free(r->buf);
        free(r->scratch);
        r->buf = r->scratch = NULL;
}

/* Decodes text, frees the copies, returns status (and err through r). */
static enum sl_json_status run_once(const struct sl_json_schema *js,
                                    const char *text, size_t len,
                                    struct sl_json_error *err)
{
        struct rec r;
        enum sl_json_status st = rec_run(&r, js, text, len);
        if (err)
                *err = r.err;
        rec_free(&r);
        return st;
}

static enum sl_json_status run_str(const struct sl_json_schema *js,
                                   const char *text, struct sl_json_error *err)
{
        return run_once(js, text, strlen(text), err);
}

static void assert_str(const struct sl_value *v, const char *want, size_t n)
{
        assert_int_equal(v->type, SL_T_STRING);
        assert_int_equal(v->u.s.len, n);
        assert_memory_equal(v->u.s.p, want, n);
}

static void assert_double_bits(double got, double want)
{
        uint64_t a, b;
        memcpy(&a, &got, 8);
        memcpy(&b, &want, 8);
        if (a != b)
                fail_msg("double %.17g (%016llx) != %.17g (%016llx)", got,
                         (unsigned long long)a, want, (unsigned long long)b);
}

/* The transaction schema of the benchmarks, plus two more types. */
enum { TX_ID, TX_USER, TX_AMOUNT, TX_TS, TX_COUNT, TX_FLAG, TX_N };
static const struct sl_json_field tx_fields[TX_N] = {
        { "transactionId", SL_T_STRING }, { "userId", SL_T_STRING },
        { "amount", SL_T_DOUBLE },        { "timestamp", SL_T_BIGINT },
        { "count", SL_T_INT },            { "flag", SL_T_BOOL },
};

static int setup_tx(void **state)
{
        *state = sl_json_schema_new(tx_fields, TX_N);
        return *state ? 0 : -1;
}

static int teardown_schema(void **state)
{
        sl_json_schema_free(*state);
        return 0;
}

static void test_basic_record(void **state)
{
        const struct sl_json_schema *js = *state;
        const char *t = "{\"transactionId\":\"txn123456\",\"userId\":\"user456\","
                        "\"amount\":200.50,\"timestamp\":1678901234000}";
        struct rec r;
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_str(&r.out[TX_ID], "txn123456", 9);
        assert_str(&r.out[TX_USER], "user456", 7);
        /* zero-copy: unescaped strings point into the record itself */
        assert_ptr_equal(r.out[TX_ID].u.s.p, r.buf + strlen("{\"transactionId\":\""));
        assert_int_equal(r.out[TX_AMOUNT].type, SL_T_DOUBLE);
        assert_double_bits(r.out[TX_AMOUNT].u.d, 200.5);
        assert_int_equal(r.out[TX_TS].type, SL_T_BIGINT);
        assert_true(r.out[TX_TS].u.i == 1678901234000LL);
        assert_int_equal(r.out[TX_COUNT].type, SL_T_NULL);
        assert_int_equal(r.out[TX_FLAG].type, SL_T_NULL);
        assert_int_equal(r.err.field, -1);
        rec_free(&r);
}

static void test_absent_and_null_initialise_out(void **state)
{
        const struct sl_json_schema *js = *state;
        const char *t = "{\"amount\":null,\"other\":{\"a\":[1,2]},\"flag\":false}";
        struct rec r;
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        for (int i = 0; i < TX_N; i++) {
                if (i == TX_FLAG)
                        continue;
                assert_int_equal(r.out[i].type, SL_T_NULL);
                assert_true(r.out[i].u.i == 0);
        }
        assert_int_equal(r.out[TX_FLAG].type, SL_T_BOOL);
        assert_false(r.out[TX_FLAG].u.b);
        rec_free(&r);

        assert_int_equal(rec_run(&r, js, "{}", 2), SL_JSON_OK);
        for (int i = 0; i < TX_N; i++)
                assert_int_equal(r.out[i].type, SL_T_NULL);
        rec_free(&r);
}

static void test_duplicates_last_wins(void **state)
{
        const struct sl_json_schema *js = *state;
        const char *t = "{\"userId\":\"a\",\"count\":1,\"userId\":\"b\\n\","
                        "\"amount\":1.5,\"amount\":null,\"count\":7}";
        struct rec r;
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_str(&r.out[TX_USER], "b\n", 2);
        assert_int_equal(r.out[TX_AMOUNT].type, SL_T_NULL);
        assert_int_equal(r.out[TX_COUNT].type, SL_T_INT);
        assert_true(r.out[TX_COUNT].u.i == 7);
        rec_free(&r);
}

static void test_string_escapes(void **state)
{
        const struct sl_json_schema *js = *state;
        const char *t = "{\"userId\":\"caf\\u00e9 \\ud83d\\ude00 \\\"\\\\\\/\\b\\f\\n\\r\\t"
                        "\\u0000\\uFFFF\\u20AC\",\"transactionId\":\"\\uD834\\uDD1E\"}";
        const char want[] = "caf\xc3\xa9 \xf0\x9f\x98\x80 \"\\/\b\f\n\r\t"
                            "\0\xef\xbf\xbf\xe2\x82\xac";
        struct rec r;
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_str(&r.out[TX_USER], want, sizeof want - 1);
        /* decoded into scratch at the string's own offset */
        assert_ptr_equal(r.out[TX_USER].u.s.p, r.scratch + strlen("{\"userId\":\""));
        assert_str(&r.out[TX_ID], "\xf0\x9d\x84\x9e", 4);
        rec_free(&r);
}

static void test_escaped_key_matches(void **state)
{
        const struct sl_json_schema *js = *state;
        const char *t = "{\"user\\u0049d\":\"u1\",\"\\u0061mount\":2,\"amoun\\t\":3}";
        struct rec r;
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_str(&r.out[TX_USER], "u1", 2);
        assert_double_bits(r.out[TX_AMOUNT].u.d, 2.0);
        rec_free(&r);
}

static void test_lone_surrogates(void **state)
{
        const struct sl_json_schema *js = *state;
        struct sl_json_error err;
        static const char *bad[] = {
                "{\"userId\":\"\\ud800\"}",       "{\"userId\":\"ab\\udc00\"}",
                "{\"userId\":\"\\ud800\\ud800\"}", "{\"userId\":\"\\ud800x\"}",
                "{\"userId\":\"\\ud800\\n\"}",     "{\"userId\":\"\\udbff\\ue000\"}",
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                assert_int_equal(run_str(js, bad[i], &err), SL_JSON_ERR_SYNTAX);
                assert_int_equal(err.field, -1);
                assert_int_equal(bad[i][err.offset], '\\'); /* at the escape */
        }
        /* Grammar allows them: skipped strings and keys are fine. */
        struct rec r;
        const char *ok = "{\"other\":\"\\ud800\",\"\\udc00\":1,\"userId\":\"x\"}";
        assert_int_equal(rec_run(&r, js, ok, strlen(ok)), SL_JSON_OK);
        assert_str(&r.out[TX_USER], "x", 1);
        rec_free(&r);
}

static void test_integers(void **state)
{
        const struct sl_json_schema *js = *state;
        static const struct {
                const char *text;
                int col;
                enum sl_json_status st;
                long long want;
        } cases[] = {
                { "{\"timestamp\":9223372036854775807}", TX_TS, SL_JSON_OK, INT64_MAX },
                { "{\"timestamp\":-9223372036854775808}", TX_TS, SL_JSON_OK, INT64_MIN },
                { "{\"timestamp\":-0}", TX_TS, SL_JSON_OK, 0 },
                { "{\"timestamp\":0}", TX_TS, SL_JSON_OK, 0 },
                { "{\"timestamp\":1000000000000000000}", TX_TS, SL_JSON_OK, 1000000000000000000LL },
                { "{\"timestamp\":9223372036854775808}", TX_TS, SL_JSON_ERR_TYPE, 0 },
                { "{\"timestamp\":-9223372036854775809}", TX_TS, SL_JSON_ERR_TYPE, 0 },
                { "{\"timestamp\":18446744073709551616}", TX_TS, SL_JSON_ERR_TYPE, 0 },
                { "{\"timestamp\":99999999999999999999}", TX_TS, SL_JSON_ERR_TYPE, 0 },
                { "{\"timestamp\":1.0}", TX_TS, SL_JSON_ERR_TYPE, 0 },
                { "{\"timestamp\":1e2}", TX_TS, SL_JSON_ERR_TYPE, 0 },
                { "{\"timestamp\":-0.5}", TX_TS, SL_JSON_ERR_TYPE, 0 },
                { "{\"timestamp\":1E+0}", TX_TS, SL_JSON_ERR_TYPE, 0 },
                { "{\"timestamp\":1.}", TX_TS, SL_JSON_ERR_SYNTAX, 0 },
                { "{\"timestamp\":01}", TX_TS, SL_JSON_ERR_SYNTAX, 0 },
                { "{\"timestamp\":-}", TX_TS, SL_JSON_ERR_SYNTAX, 0 },
                { "{\"timestamp\":-a}", TX_TS, SL_JSON_ERR_SYNTAX, 0 },
                { "{\"count\":2147483647}", TX_COUNT, SL_JSON_OK, INT32_MAX },
                { "{\"count\":-2147483648}", TX_COUNT, SL_JSON_OK, INT32_MIN },
                { "{\"count\":2147483648}", TX_COUNT, SL_JSON_ERR_TYPE, 0 },
                { "{\"count\":-2147483649}", TX_COUNT, SL_JSON_ERR_TYPE, 0 },
                { "{\"count\":9223372036854775807}", TX_COUNT, SL_JSON_ERR_TYPE, 0 },
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                struct rec r;
                enum sl_json_status st = rec_run(&r, js, cases[i].text,
                                                 strlen(cases[i].text));
                if (st != cases[i].st)
                        fail_msg("%s: status %d, want %d", cases[i].text, st,
                                 cases[i].st);
                if (st == SL_JSON_OK) {
                        assert_int_equal(r.out[cases[i].col].type,
                                         cases[i].col == TX_COUNT ? SL_T_INT : SL_T_BIGINT);
                        assert_true(r.out[cases[i].col].u.i == cases[i].want);
                } else if (st == SL_JSON_ERR_TYPE) {
                        assert_int_equal(r.err.field, cases[i].col);
                        /* the offset is the value's first byte */
                        assert_int_equal(r.err.offset, strchr(cases[i].text, ':') + 1 -
                                                               cases[i].text);
                }
                rec_free(&r);
        }
}

static double decode_double(const struct sl_json_schema *js, const char *num,
                            enum sl_json_status *st)
{
        size_t n = strlen(num);
        char *t = malloc(n + 16);
        assert_non_null(t);
        memcpy(t, "{\"amount\":", 10);
        memcpy(t + 10, num, n);
        t[10 + n] = '}';
        struct rec r;
        *st = rec_run(&r, js, t, n + 11);
        double d = NAN;
        if (*st == SL_JSON_OK) {
                assert_int_equal(r.out[TX_AMOUNT].type, SL_T_DOUBLE);
                d = r.out[TX_AMOUNT].u.d;
        }
        rec_free(&r);
        free(t);
        return d;
}

static void check_double(const struct sl_json_schema *js, const char *num, double want)
{
        enum sl_json_status st;
        double d = decode_double(js, num, &st);
        if (st != SL_JSON_OK)
                fail_msg("%.60s: status %d", num, st);
        assert_double_bits(d, want);
}

static void test_doubles(void **state)
{
        const struct sl_json_schema *js = *state;
        static const char *nums[] = {
                "200.50", "0.1", "0.3", "1E+2", "0.1e-3", "1e23", "8.98846567431158e307",
                "9007199254740993", "9007199254740992", "123456789012345678901234567890",
                "2.2250738585072011e-308", "2.2250738585072014e-308", "4.9e-324",
                "2.4703282292062327e-324", "2.4703282292062328e-324",
                "1.7976931348623157e308", "1.7976931348623158e308", "1e-400",
                "0.000001", "1e22", "1e-22", "123456789e-30", "3.14159265358979323846",
                "1678901234000", "-1.5", "100000000000000000000000", "1.5e+007",
                "0.1e1", "7.3177701707893310e+15", "1e0", "1E-0",
        };
        for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
                check_double(js, nums[i], strtod(nums[i], NULL));

        check_double(js, "-0", -0.0);
        check_double(js, "-0.0e5", -0.0);
        check_double(js, "0e999999999", 0.0);
        check_double(js, "1e-99999999999999999999", 0.0);
        check_double(js, "-1e-99999999999999999999", -0.0);
        /* integer syntax rounds to nearest, ties to even */
        check_double(js, "9007199254740993", 9007199254740992.0);
        check_double(js, "9007199254740995", 9007199254740996.0);

        enum sl_json_status st;
        decode_double(js, "1e400", &st);
        assert_int_equal(st, SL_JSON_ERR_TYPE); /* no finite double */
        decode_double(js, "-17976931348623159e292", &st);
        assert_int_equal(st, SL_JSON_ERR_TYPE);
        decode_double(js, "1e99999999999999999999999", &st);
        assert_int_equal(st, SL_JSON_ERR_TYPE);
        decode_double(js, "1.", &st);
        assert_int_equal(st, SL_JSON_ERR_SYNTAX);
}

/* Past SL_NUM_DIGITS digits only "nonzero tail or not" may matter. */
static void test_double_long_mantissa(void **state)
{
        const struct sl_json_schema *js = *state;
        static char num[4096];
        /* exactly halfway between 2^53 and 2^53 + 2: ties to even (down) */
        int n = sprintf(num, "9007199254740993.");
        memset(num + n, '0', 2000);
        num[n + 2000] = '\0';
        check_double(js, num, 9007199254740992.0);
        /* a 1 far past the 800th digit breaks the tie upwards */
        num[n + 1999] = '1';
        check_double(js, num, 9007199254740994.0);
        /* the same digits as an integer with an exponent */
        n = sprintf(num, "9007199254740993");
        memset(num + n, '0', 1500);
        n += 1500;
        sprintf(num + n, "1e-1501");
        check_double(js, num, 9007199254740994.0);
        /* 3000 digits of a plain fraction */
        n = sprintf(num, "0.");
        for (int i = 0; i < 3000; i++)
                num[n++] = (char)('0' + (i * 7 + 3) % 10);
        num[n] = '\0';
        check_double(js, num, strtod(num, NULL));
        /* many leading zeros */
        n = sprintf(num, "0.");
        memset(num + n, '0', 3000);
        sprintf(num + n + 3000, "123e3000");
        check_double(js, num, 0.123);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
        /* splitmix64 */
        uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

static void test_double_random(void **state)
{
        const struct sl_json_schema *js = *state;
        char num[64];
        for (int i = 0; i < 20000; i++) {
                uint64_t bits = rng();
                double d;
                memcpy(&d, &bits, 8);
                if (!isfinite(d))
                        continue;
                snprintf(num, sizeof num, "%.17g", d);
                check_double(js, num, d);
                snprintf(num, sizeof num, "%.*e", (int)(rng() % 17), d);
                check_double(js, num, strtod(num, NULL));
        }
        /* random short decimals: the fast path's territory */
        for (int i = 0; i < 20000; i++) {
                int nd = 1 + (int)(rng() % 20);
                int dot = 1 + (int)(rng() % (unsigned)nd); /* nd: no point */
                int k = 0;
                if (rng() & 1)
                        num[k++] = '-';
                for (int j = 0; j < nd; j++) {
                        if (j == dot)
                                num[k++] = '.';
                        num[k++] = (char)(j ? '0' + rng() % 10 : '1' + rng() % 9);
                }
                sprintf(num + k, "e%d", (int)(rng() % 60) - 30);
                check_double(js, num, strtod(num, NULL));
        }
}

static void test_type_errors(void **state)
{
        const struct sl_json_schema *js = *state;
        static const struct {
                const char *text;
                int field;
        } cases[] = {
                { "{\"timestamp\":\"123\"}", TX_TS },
                { "{\"userId\":123}", TX_USER },
                { "{\"userId\":true}", TX_USER },
                { "{\"amount\":false}", TX_AMOUNT },
                { "{\"amount\":\"1.5\"}", TX_AMOUNT },
                { "{\"flag\":1}", TX_FLAG },
                { "{\"flag\":\"true\"}", TX_FLAG },
                { "{\"userId\":{\"a\":1}}", TX_USER },
                { "{\"count\":[1]}", TX_COUNT },
                { "{\"count\":1.5}", TX_COUNT },
                /* first type error is reported */
                { "{\"userId\":\"ok\",\"amount\":[],\"flag\":0}", TX_AMOUNT },
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                struct sl_json_error err;
                assert_int_equal(run_str(js, cases[i].text, &err), SL_JSON_ERR_TYPE);
                assert_int_equal(err.status, SL_JSON_ERR_TYPE);
                assert_int_equal(err.field, cases[i].field);
                const char *key = strstr(cases[i].text, tx_fields[cases[i].field].name);
                assert_non_null(key);
                assert_int_equal(err.offset, strchr(key, ':') + 1 - cases[i].text);
        }
}

static void test_syntax_beats_type(void **state)
{
        const struct sl_json_schema *js = *state;
        struct sl_json_error err;
        assert_int_equal(run_str(js, "{\"userId\":1,\"x\":01}", &err), SL_JSON_ERR_SYNTAX);
        assert_int_equal(err.offset, 17);
        assert_int_equal(err.field, -1);
        assert_int_equal(run_str(js, "{\"amount\":\"x\",", &err), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js, "{\"amount\":\"x\"} x", &err), SL_JSON_ERR_SYNTAX);
        assert_int_equal(err.offset, 15);
}

static void test_syntax_offsets(void **state)
{
        const struct sl_json_schema *js = *state;
        static const struct {
                const char *text;
                uint32_t off;
        } cases[] = {
                { "{\"a\":1,}", 7 },
                { "{\"a\":1 \"b\":2}", 7 },
                { "{\"a\" 1}", 5 },
                { "{\"a\":[1,2,]}", 10 },
                { "{\"a\":\"\\x\"}", 6 },
                { "{\"a\":\"\\u12\"}", 6 },
                { "{\"a\":tru}", 5 },
                { "{\"a\":\"x\xc0\xaf\"}", 7 },
                { "{\"userId\":\"a\tb\"}", 12 },
                { "{\"a\":1} x", 8 },
                { "{'a':1}", 1 },
                { "  ", 2 },
                { "{\"a\":1.}", 7 },
                { "{\"a\":-}", 6 },
                { "{\"a\":{\"b\":1]}", 11 },
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                struct sl_json_error err;
                if (run_str(js, cases[i].text, &err) != SL_JSON_ERR_SYNTAX ||
                    err.offset != cases[i].off)
                        fail_msg("%s: status %d offset %u, want syntax at %u",
                                 cases[i].text, err.status, err.offset, cases[i].off);
                assert_int_equal(err.field, -1);
        }
        struct sl_json_error err;
        assert_int_equal(run_once(js, "", 0, &err), SL_JSON_ERR_SYNTAX);
        assert_int_equal(err.offset, 0);
}

static void test_not_object(void **state)
{
        const struct sl_json_schema *js = *state;
        static const char *nobj[] = { "[1,2]", "  \"x\"", "42", "null", "true",
                                      "[{\"a\":[]}]", "-1.5e3 ", "\"\\ud800\"" };
        for (size_t i = 0; i < sizeof nobj / sizeof *nobj; i++) {
                struct sl_json_error err;
                assert_int_equal(run_str(js, nobj[i], &err), SL_JSON_ERR_NOT_OBJECT);
                assert_int_equal(err.offset, strspn(nobj[i], " "));
        }
        static const char *bad[] = { "[1,2", "\"x", "42 43", "nul", "[1,]", "01" };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
                assert_int_equal(run_str(js, bad[i], NULL), SL_JSON_ERR_SYNTAX);
}

static char *nested(int levels, bool arrays)
{
        /* levels containers in all, the top level object included */
        char *t = malloc((size_t)levels * 16 + 16);
        assert_non_null(t);
        int k = 0;
        k += sprintf(t + k, "{\"a\":");
        for (int i = 1; i < levels; i++)
                k += sprintf(t + k, arrays ? "[" : "{\"b\":");
        t[k++] = '1';
        for (int i = 1; i < levels; i++)
                t[k++] = arrays ? ']' : '}';
        t[k++] = '}';
        t[k] = '\0';
        return t;
}

static void test_depth_limit(void **state)
{
        const struct sl_json_schema *js = *state;
        for (int arrays = 0; arrays < 2; arrays++) {
                char *t = nested(SL_JSON_MAX_DEPTH, arrays);
                assert_int_equal(run_str(js, t, NULL), SL_JSON_OK);
                free(t);
                t = nested(SL_JSON_MAX_DEPTH + 1, arrays);
                struct sl_json_error err;
                assert_int_equal(run_str(js, t, &err), SL_JSON_ERR_SYNTAX);
                /* at the opening bracket of level 65 */
                assert_int_equal(t[err.offset], arrays ? '[' : '{');
                free(t);
                t = nested(100000, arrays);
                assert_int_equal(run_str(js, t, NULL), SL_JSON_ERR_SYNTAX);
                free(t);
        }
        /* a value of a declared column is skipped with the same limit */
        for (int inner = 63; inner <= 64; inner++) {
                char t[512];
                int k = sprintf(t, "{\"userId\":");
                memset(t + k, '[', (size_t)inner);
                k += inner;
                memset(t + k, ']', (size_t)inner);
                k += inner;
                strcpy(t + k, "}");
                assert_int_equal(run_str(js, t, NULL),
                                 inner + 1 <= SL_JSON_MAX_DEPTH ? SL_JSON_ERR_TYPE
                                                                : SL_JSON_ERR_SYNTAX);
        }
}

static void test_truncated_prefixes(void **state)
{
        const struct sl_json_schema *js = *state;
        static const char *recs[] = {
                "{\"transactionId\":\"txn123456\",\"userId\":\"us\\u00e9r\","
                "\"amount\":-200.50e-1,\"timestamp\":1678901234000,\"count\":3,"
                "\"flag\":true,\"x\":[null,false,{\"y\":\"\xe2\x82\xac\xf0\x9f\x98\x80\"}]}",
                "{\"a\":{\"b\":[1,2,{\"c\":\"\\ud83d\\ude00\"}]},\"\xc3\xa9\":1E+2}",
        };
        for (size_t i = 0; i < sizeof recs / sizeof *recs; i++) {
                size_t n = strlen(recs[i]);
                assert_int_equal(run_once(js, recs[i], n, NULL), SL_JSON_OK);
                for (size_t k = 0; k < n; k++) {
                        struct sl_json_error err;
                        if (run_once(js, recs[i], k, &err) != SL_JSON_ERR_SYNTAX)
                                fail_msg("prefix %zu of record %zu accepted", k, i);
                        assert_true(err.offset <= k);
                }
        }
}

/* Reference: is s[0..n) one valid UTF-8 scalar value (RFC 3629)? */
static bool ref_utf8(const unsigned char *s, size_t n)
{
        uint32_t cp;
        size_t want;
        if (s[0] < 0x80)
                return n == 1;
        if ((s[0] & 0xE0) == 0xC0) {
                want = 2;
                cp = s[0] & 0x1F;
        } else if ((s[0] & 0xF0) == 0xE0) {
                want = 3;
                cp = s[0] & 0x0F;
        } else if ((s[0] & 0xF8) == 0xF0) {
                want = 4;
                cp = s[0] & 0x07;
        } else {
                return false;
        }
        if (n != want)
                return false;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return false;
                cp = cp << 6 | (s[i] & 0x3F);
        }
        static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        return cp >= min[n] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

static void check_utf8_seq(const struct sl_json_schema *js, const unsigned char *seq,
                           size_t n)
{
        /* the sequence in a skipped string and in a key */
        char t[32];
        int k = sprintf(t, "{\"o\":\"");
        memcpy(t + k, seq, n);
        k += (int)n;
        k += sprintf(t + k, "\"}");
        bool ok = ref_utf8(seq, n);
        enum sl_json_status st = run_once(js, t, (size_t)k, NULL);
        if ((st == SL_JSON_OK) != ok)
                fail_msg("utf8 %02x %02x %02x %02x (n=%zu): status %d, want ok=%d",
                         seq[0], n > 1 ? seq[1] : 0, n > 2 ? seq[2] : 0,
                         n > 3 ? seq[3] : 0, n, st, ok);
        k = sprintf(t, "{\"");
        memcpy(t + k, seq, n);
        k += (int)n;
        k += sprintf(t + k, "\":1}");
        st = run_once(js, t, (size_t)k, NULL);
        assert_int_equal(st == SL_JSON_OK, ok);
}

static void test_utf8_exhaustive(void **state)
{
        const struct sl_json_schema *js = *state;
        unsigned char s[4];
        /* every 1- and 2-byte sequence of non-ASCII, non-special bytes */
        for (unsigned a = 0x80; a < 0x100; a++) {
                s[0] = (unsigned char)a;
                check_utf8_seq(js, s, 1);
                for (unsigned b = 0x20; b < 0x100; b++) {
                        if (b == '"' || b == '\\')
                                continue;
                        s[1] = (unsigned char)b;
                        check_utf8_seq(js, s, 2);
                }
        }
        /* 3-byte: every lead E0..EF and second byte, two third bytes */
        for (unsigned a = 0xE0; a < 0xF0; a++)
                for (unsigned b = 0x20; b < 0x100; b++) {
                        if (b == '"' || b == '\\')
                                continue;
                        static const unsigned char third[] = { 0x80, 0xBF, 0x7F, 0xC0 };
                        for (int c = 0; c < 4; c++) {
                                s[0] = (unsigned char)a;
                                s[1] = (unsigned char)b;
                                s[2] = third[c];
                                check_utf8_seq(js, s, 3);
                        }
                }
        /* 4-byte: every lead F0..FF and second byte */
        for (unsigned a = 0xF0; a < 0x100; a++)
                for (unsigned b = 0x20; b < 0x100; b++) {
                        if (b == '"' || b == '\\')
                                continue;
                        s[0] = (unsigned char)a;
                        s[1] = (unsigned char)b;
                        s[2] = 0x80;
                        s[3] = 0xBF;
                        check_utf8_seq(js, s, 4);
                        s[3] = 0x41;
                        check_utf8_seq(js, s, 4);
                }
}

static void test_control_chars(void **state)
{
        const struct sl_json_schema *js = *state;
        for (unsigned c = 0; c < 0x20; c++) {
                char t[16];
                int k = sprintf(t, "{\"o\":\"a");
                t[k++] = (char)c;
                t[k++] = '"';
                t[k++] = '}';
                assert_int_equal(run_once(js, t, (size_t)k, NULL), SL_JSON_ERR_SYNTAX);
        }
        struct rec r;
        const char *t = "{\"userId\":\"\\u0001\\u001F\\u007f\"}";
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_str(&r.out[TX_USER], "\x01\x1f\x7f", 3);
        rec_free(&r);
}

/*
 * A special byte at every position of strings of every length up to 40,
 * with the string last in the record (tail loads) and not last: the
 * 16-, 8- and 1-byte scan steps must all see it.
 */
static void test_string_positions(void **state)
{
        const struct sl_json_schema *js = *state;
        static const struct {
                const char *ins;   /* bytes inserted at pos */
                const char *dec;   /* what the column holds then */
                enum sl_json_status st;
        } sp[] = {
                { "\\n", "\n", SL_JSON_OK },
                { "\\u00e9", "\xc3\xa9", SL_JSON_OK },
                { "\xc3\xa9", "\xc3\xa9", SL_JSON_OK },
                { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", SL_JSON_OK },
                { "\x01", NULL, SL_JSON_ERR_SYNTAX },
                { "\x7f", "\x7f", SL_JSON_OK },
                { "\xff", NULL, SL_JSON_ERR_SYNTAX },
                { "\xc3", NULL, SL_JSON_ERR_SYNTAX },
                { "\\x", NULL, SL_JSON_ERR_SYNTAX },
        };
        char t[128], want[64];
        for (int len = 0; len <= 40; len++)
                for (int pos = 0; pos <= len; pos++)
                        for (size_t k = 0; k < sizeof sp / sizeof *sp; k++)
                                for (int last = 0; last < 2; last++) {
                                        int n = sprintf(t, last ? "{\"flag\":true,\"userId\":\""
                                                                : "{\"userId\":\"");
                                        int w = 0;
                                        for (int i = 0; i < len; i++) {
                                                if (i == pos) {
                                                        n += sprintf(t + n, "%s", sp[k].ins);
                                                        if (sp[k].dec)
                                                                w += sprintf(want + w, "%s", sp[k].dec);
                                                }
                                                t[n++] = (char)('a' + i % 26);
                                                want[w++] = (char)('a' + i % 26);
                                        }
                                        n += sprintf(t + n, last ? "\"}" : "\",\"flag\":false}");
                                        if (pos == len)
                                                continue; /* covered as pos 0 of len + 1 */
                                        struct rec r;
                                        enum sl_json_status st = rec_run(&r, js, t, (size_t)n);
                                        if (st != sp[k].st)
                                                fail_msg("len %d pos %d case %zu last %d: status %d",
                                                         len, pos, k, last, st);
                                        if (st == SL_JSON_OK) {
                                                assert_str(&r.out[TX_USER], want, (size_t)w);
                                                assert_int_equal(r.out[TX_FLAG].type, SL_T_BOOL);
                                                assert_int_equal(r.out[TX_FLAG].u.b, last);
                                        } else {
                                                /* the error is at the inserted byte */
                                                size_t at = strlen(last ? "{\"flag\":true,\"userId\":\""
                                                                        : "{\"userId\":\"") + (size_t)pos;
                                                assert_int_equal(r.err.offset, at);
                                        }
                                        rec_free(&r);
                                        /* cut inside the string: unterminated */
                                        assert_int_equal(run_once(js, t, strlen(last ? "{\"flag\":true,\"userId\":\""
                                                                                     : "{\"userId\":\"") + (size_t)pos,
                                                                  NULL),
                                                         SL_JSON_ERR_SYNTAX);
                                }
}

/* Records shorter than one 8-byte word take the bytewise paths. */
static void test_tiny_records(void **state)
{
        (void)state;
        static const struct sl_json_field f[] = { { "a", SL_T_BIGINT }, { "s", SL_T_STRING } };
        struct sl_json_schema *js = sl_json_schema_new(f, 2);
        assert_non_null(js);
        struct rec r;
        assert_int_equal(rec_run(&r, js, "{\"a\":7}", 7), SL_JSON_OK);
        assert_true(r.out[0].type == SL_T_BIGINT && r.out[0].u.i == 7);
        rec_free(&r);
        assert_int_equal(rec_run(&r, js, "{\"s\":\"\"}", 8), SL_JSON_OK);
        assert_str(&r.out[1], "", 0);
        rec_free(&r);
        assert_int_equal(rec_run(&r, js, "{\"s\":\"x\"}", 9), SL_JSON_OK);
        assert_str(&r.out[1], "x", 1);
        rec_free(&r);
        assert_int_equal(run_once(js, "{\"s\":\"\x01\"}", 9, NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_once(js, "{\"\":1}", 6, NULL), SL_JSON_OK);
        assert_int_equal(run_once(js, "{\"a\":}", 6, NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_once(js, "{\"a\"", 4, NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_once(js, "{}", 2, NULL), SL_JSON_OK);
        assert_int_equal(run_once(js, "{", 1, NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_once(js, "1", 1, NULL), SL_JSON_ERR_NOT_OBJECT);
        assert_int_equal(run_once(js, "\"\xc3\xa9\"", 4, NULL), SL_JSON_ERR_NOT_OBJECT);
        assert_int_equal(run_once(js, "\"\xc3\"", 3, NULL), SL_JSON_ERR_SYNTAX);
        sl_json_schema_free(js);
}

static void test_whitespace_and_layout(void **state)
{
        const struct sl_json_schema *js = *state;
        const char *t = " \r\n\t{ \n\"userId\" \t: \"u\" ,\n \"amount\"\r:\n-1.25 , "
                        "\"\":\"\", \"o\" : [ ] , \"p\" : { } } \n";
        struct rec r;
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_str(&r.out[TX_USER], "u", 1);
        assert_double_bits(r.out[TX_AMOUNT].u.d, -1.25);
        rec_free(&r);
        /* only the four RFC whitespace bytes */
        assert_int_equal(run_str(js, "{\f}", NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js, "{\v}", NULL), SL_JSON_ERR_SYNTAX);
}

static void test_empty_schema_validates(void **state)
{
        (void)state;
        struct sl_json_schema *js = sl_json_schema_new(NULL, 0);
        assert_non_null(js);
        assert_int_equal(run_once(js, "{\"a\":[1,{\"b\":null}]}", 20, NULL), SL_JSON_OK);
        assert_int_equal(run_str(js, "{\"a\":[1,{\"b\":nul}]}", NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js, "[]", NULL), SL_JSON_ERR_NOT_OBJECT);
        sl_json_schema_free(js);
        sl_json_schema_free(NULL);
}

static void test_many_fields_and_collisions(void **state)
{
        (void)state;
        /* 40 names sharing length and first/last byte: all collide */
        static char names[40][8];
        struct sl_json_field f[41];
        for (int i = 0; i < 40; i++) {
                sprintf(names[i], "k%02dz", i);
                f[i].name = names[i];
                f[i].type = SL_T_BIGINT;
        }
        f[40].name = "k00z"; /* duplicate: the first column keeps it */
        f[40].type = SL_T_STRING;
        struct sl_json_schema *js = sl_json_schema_new(f, 41);
        assert_non_null(js);
        char t[2048];
        int k = sprintf(t, "{");
        for (int i = 39; i >= 0; i--)
                k += sprintf(t + k, "\"k%02dz\":%d,", i, i * 1000 + 7);
        sprintf(t + k, "\"k40z\":1,\"k00\":2,\"k00zz\":3}");
        struct rec r;
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        for (int i = 0; i < 40; i++) {
                assert_int_equal(r.out[i].type, SL_T_BIGINT);
                assert_true(r.out[i].u.i == i * 1000 + 7);
        }
        assert_int_equal(r.out[40].type, SL_T_NULL);
        rec_free(&r);
        sl_json_schema_free(js);

        /* names of every length 0..20, including the empty name */
        static char lens[21][24];
        struct sl_json_field g[21];
        for (int i = 0; i < 21; i++) {
                memset(lens[i], 'a' + i % 3, (size_t)i);
                lens[i][i] = '\0';
                g[i].name = lens[i];
                g[i].type = SL_T_INT;
        }
        js = sl_json_schema_new(g, 21);
        assert_non_null(js);
        k = sprintf(t, "{");
        for (int i = 0; i < 21; i++)
                k += sprintf(t + k, "%s\"%s\":%d", i ? "," : "", lens[i], i);
        sprintf(t + k, ",\"%sb\":99}", lens[20]);
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        for (int i = 0; i < 21; i++)
                assert_true(r.out[i].type == SL_T_INT && r.out[i].u.i == i);
        rec_free(&r);
        sl_json_schema_free(js);
}

/* The decoder guesses members in column order; wrong guesses must fall back. */
static void test_guess_order(void **state)
{
        (void)state;
        static const struct sl_json_field f[] = {
                { "a", SL_T_BIGINT }, { "b", SL_T_BIGINT }, { "a", SL_T_STRING },
                { "longer_name_17chr", SL_T_BIGINT }, { "caf\xc3\xa9", SL_T_BIGINT },
        };
        struct sl_json_schema *js = sl_json_schema_new(f, 5);
        assert_non_null(js);
        struct rec r;
        /* after "b" the guess is column 2, the duplicate "a": column 0 gets it */
        const char *t = "{\"b\":2,\"a\":1}";
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_true(r.out[0].type == SL_T_BIGINT && r.out[0].u.i == 1);
        assert_true(r.out[1].type == SL_T_BIGINT && r.out[1].u.i == 2);
        assert_int_equal(r.out[2].type, SL_T_NULL);
        rec_free(&r);
        /* keys that extend, shorten or escape the guessed name */
        t = "{\"a\":1,\"bb\":5,\"b\":2,\"a\":3,\"longer_n\\u0061me_17chr\":4,\"caf\xc3\xa9\":6}";
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_true(r.out[0].u.i == 3 && r.out[1].u.i == 2);
        assert_true(r.out[3].type == SL_T_BIGINT && r.out[3].u.i == 4);
        assert_true(r.out[4].type == SL_T_BIGINT && r.out[4].u.i == 6);
        rec_free(&r);
        static const char *near[] = { "longer_name_17chX", "longer_name_17chr_", "longer_name_17ch",
                                      "Longer_name_17chr", "longer_nXme_17chr" };
        static const struct sl_json_field two[] = { { "id", SL_T_BIGINT },
                                                    { "longer_name_17chr", SL_T_BIGINT } };
        struct sl_json_schema *js2 = sl_json_schema_new(two, 2);
        assert_non_null(js2);
        for (size_t i = 0; i < sizeof near / sizeof *near; i++) {
                char u[128];
                /* after "id" column 1 is guessed: the near miss comes there, last */
                sprintf(u, "{\"id\":0,\"longer_name_17chr\":1,\"id\":0,\"%s\":\"no\"}", near[i]);
                assert_int_equal(rec_run(&r, js2, u, strlen(u)), SL_JSON_OK);
                assert_true(r.out[1].type == SL_T_BIGINT && r.out[1].u.i == 1);
                rec_free(&r);
        }
        assert_int_equal(run_str(js2, "{\"id\":0,\"longer_name_17chr", NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js2, "{\"id\":0,\"longer_name_17chr\"", NULL), SL_JSON_ERR_SYNTAX);
        sl_json_schema_free(js2);
        /* reversed order, and the guessed name right at the record's end */
        t = "{\"caf\xc3\xa9\":1,\"longer_name_17chr\":2,\"b\":3,\"a\":4}";
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_true(r.out[0].u.i == 4 && r.out[1].u.i == 3 && r.out[3].u.i == 2 &&
                    r.out[4].u.i == 1);
        rec_free(&r);
        assert_int_equal(run_str(js, "{\"a\":1,\"b\"", NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js, "{\"a\":1,\"b", NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js, "{\"a\":1,\"longer_name_17chr", NULL), SL_JSON_ERR_SYNTAX);
        sl_json_schema_free(js);

        /* names a JSON key can only spell with escapes never match raw bytes */
        static const struct sl_json_field odd[] = {
                { "q\"x", SL_T_BIGINT }, { "b\\s", SL_T_BIGINT }, { "\xff", SL_T_BIGINT },
                { "t\tb", SL_T_BIGINT },
        };
        js = sl_json_schema_new(odd, 4);
        assert_non_null(js);
        /* (a long member follows so that the guess has 8 bytes to load) */
        assert_int_equal(run_str(js, "{\"q\"x\":1,\"zzzzzzzz\":0}", NULL), SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js, "{\"q\\\"x\":1,\"b\\s\":1,\"zzzzzzzz\":0}", NULL),
                         SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js, "{\"b\\\\s\":1,\"\xff\":1,\"zzzzzzzz\":0}", NULL),
                         SL_JSON_ERR_SYNTAX);
        assert_int_equal(run_str(js, "{\"\\u00ff\":1,\"t\tb\":1,\"zzzzzzzz\":0}", NULL),
                         SL_JSON_ERR_SYNTAX);
        t = "{\"q\\\"x\":1,\"b\\\\s\":2,\"t\\tb\":4}";
        assert_int_equal(rec_run(&r, js, t, strlen(t)), SL_JSON_OK);
        assert_true(r.out[0].u.i == 1 && r.out[1].u.i == 2 && r.out[3].u.i == 4);
        rec_free(&r);
        sl_json_schema_free(js);
}

/*
 * Reference validator for the fuzz differential: plain recursive descent
 * straight from the RFC 8259 grammar, sharing no code with the decoder.
 */
struct ref {
        const unsigned char *p, *end;
        int depth;
};

static void ref_ws(struct ref *r)
{
        while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' ||
                                 *r->p == '\r'))
                r->p++;
}

static bool ref_string(struct ref *r)
{
        if (r->p >= r->end || *r->p != '"')
                return false;
        r->p++;
        while (r->p < r->end) {
                unsigned c = *r->p;
                if (c == '"') {
                        r->p++;
                        return true;
                }
                if (c < 0x20)
                        return false;
                if (c == '\\') {
                        if (r->end - r->p < 2)
                                return false;
                        c = r->p[1];
                        if (c == 'u') {
                                if (r->end - r->p < 6)
                                        return false;
                                for (int i = 2; i < 6; i++)
                                        if (!strchr("0123456789abcdefABCDEF", r->p[i]) ||
                                            !r->p[i])
                                                return false;
                                r->p += 6;
                        } else if (c && strchr("\"\\/bfnrt", (int)c)) {
                                r->p += 2;
                        } else {
                                return false;
                        }
                        continue;
                }
                if (c < 0x80) {
                        r->p++;
                        continue;
                }
                size_t n = 1;
                while (n < 4 && r->p + n < r->end && (r->p[n] & 0xC0) == 0x80)
                        n++;
                /* try the longest valid prefix */
                bool ok = false;
                for (size_t k = n; k >= 2 && !ok; k--)
                        if (ref_utf8(r->p, k)) {
                                r->p += k;
                                ok = true;
                        }
                if (!ok)
                        return false;
        }
        return false;
}

static bool ref_digits(struct ref *r)
{
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
                return false;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
                r->p++;
        return true;
}

static bool ref_value(struct ref *r);

static bool ref_value(struct ref *r)
{
        if (r->p >= r->end)
                return false;
        unsigned c = *r->p;
        if (c == '{' || c == '[') {
                if (++r->depth > SL_JSON_MAX_DEPTH)
                        return false;
                r->p++;
                ref_ws(r);
                unsigned close = c == '{' ? '}' : ']';
                if (r->p < r->end && *r->p == close) {
                        r->p++;
                        r->depth--;
                        return true;
                }
                for (;;) {
                        if (c == '{') {
                                if (!ref_string(r))
                                        return false;
                                ref_ws(r);
                                if (r->p >= r->end || *r->p != ':')
                                        return false;
                                r->p++;
                                ref_ws(r);
                        }
                        if (!ref_value(r))
                                return false;
                        ref_ws(r);
                        if (r->p >= r->end)
                                return false;
                        if (*r->p == ',') {
                                r->p++;
                                ref_ws(r);
                                continue;
                        }
                        if (*r->p != close)
                                return false;
                        r->p++;
                        r->depth--;
                        return true;
                }
        }
        if (c == '"')
                return ref_string(r);
        static const char *lits[] = { "true", "false", "null" };
        for (int i = 0; i < 3; i++) {
                size_t n = strlen(lits[i]);
                if (c == (unsigned char)lits[i][0])
                        return (size_t)(r->end - r->p) >= n &&
                               memcmp(r->p, lits[i], n) == 0 && (r->p += n, true);
        }
        if (c == '-')
                r->p++;
        if (r->p < r->end && *r->p == '0')
                r->p++;
        else if (!ref_digits(r))
                return false;
        if (r->p < r->end && *r->p == '.') {
                r->p++;
                if (!ref_digits(r))
                        return false;
        }
        if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
                r->p++;
                if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
                        r->p++;
                if (!ref_digits(r))
                        return false;
        }
        return true;
}

/* 0 = object, 1 = other valid JSON, -1 = invalid */
static int ref_doc(const char *s, size_t n)
{
        struct ref r = { (const unsigned char *)s, (const unsigned char *)s + n, 0 };
        ref_ws(&r);
        bool obj = r.p < r.end && *r.p == '{';
        if (!ref_value(&r))
                return -1;
        ref_ws(&r);
        if (r.p != r.end)
                return -1;
        return obj ? 0 : 1;
}

static void test_fuzz_differential(void **state)
{
        (void)state;
        struct sl_json_schema *js = sl_json_schema_new(NULL, 0);
        assert_non_null(js);
        static const char *seeds[] = {
                "{\"a\":[1,-2.5e+3,{\"b\":\"c\\u00e9\\n\"}],\"d\":true,\"e\":null}",
                "{\"txn\":\"t1\",\"amt\":0.5,\"ts\":1678901234000,\"x\":[[],{}]}",
                "{\"k\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\"n\":-0}",
                "[1,2,{\"a\":false}]",
        };
        static const char alphabet[] = "{}[]\":,\\/ -+.0123456789eEtrufalsn\x80\xc3\xe2\xf0\xed\xbf\x1f";
        char buf[256];
        for (int it = 0; it < 300000; it++) {
                const char *s = seeds[rng() % 4];
                size_t n = strlen(s);
                memcpy(buf, s, n);
                int muts = 1 + (int)(rng() % 3);
                for (int m = 0; m < muts; m++) {
                        size_t at = n ? rng() % n : 0;
                        switch (rng() % 3) {
                        case 0: /* replace */
                                if (n)
                                        buf[at] = alphabet[rng() % (sizeof alphabet - 1)];
                                break;
                        case 1: /* insert */
                                if (n + 1 < sizeof buf) {
                                        memmove(buf + at + 1, buf + at, n - at);
                                        buf[at] = alphabet[rng() % (sizeof alphabet - 1)];
                                        n++;
                                }
                                break;
                        default: /* delete */
                                if (n) {
                                        memmove(buf + at, buf + at + 1, n - at - 1);
                                        n--;
                                }
                        }
                }
                int want = ref_doc(buf, n);
                enum sl_json_status st = run_once(js, buf, n, NULL);
                enum sl_json_status exp = want == 0   ? SL_JSON_OK
                                          : want == 1 ? SL_JSON_ERR_NOT_OBJECT
                                                      : SL_JSON_ERR_SYNTAX;
                if (st != exp)
                        fail_msg("fuzz case %d: status %d, reference %d: %.*s", it, st,
                                 exp, (int)n, buf);
        }
        sl_json_schema_free(js);
}

/* ---- corpora ---------------------------------------------------------- */

enum { C_ID, C_S, C_N, C_I, C_X, C_OK, C_CAFE, C_NFIELDS };
static const struct sl_json_field corpus_fields[C_NFIELDS] = {
        { "id", SL_T_STRING }, { "s", SL_T_STRING },  { "n", SL_T_BIGINT },
        { "i", SL_T_INT },     { "x", SL_T_DOUBLE },  { "ok", SL_T_BOOL },
        { "caf\xc3\xa9", SL_T_STRING },
};

static int cmp_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.json names of dir; *n set; NULL when dir is missing. */
static char **list_json(const char *dir, size_t *n)
{
        DIR *d = opendir(dir);
        if (!d)
                return NULL;
        size_t cap = 16;
        char **v = malloc(cap * sizeof *v);
        assert_non_null(v);
        *n = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
                size_t l = strlen(e->d_name);
                if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
                        continue;
                if (*n == cap) {
                        cap *= 2;
                        v = realloc(v, cap * sizeof *v);
                        assert_non_null(v);
                }
                v[(*n)++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(v, *n, sizeof *v, cmp_names);
        return v;
}

static char *read_file(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        size_t cap = 4096, n = 0;
        char *b = malloc(cap);
        assert_non_null(b);
        size_t r;
        while ((r = fread(b + n, 1, cap - n, f)) > 0) {
                n += r;
                if (n == cap) {
                        cap *= 2;
                        b = realloc(b, cap);
                        assert_non_null(b);
                }
        }
        assert_int_equal(ferror(f), 0);
        fclose(f);
        *len = n;
        return b;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                if (s[i] < 0x80) {
                        i++;
                        continue;
                }
                size_t k = (s[i] & 0xE0) == 0xC0 ? 2 : (s[i] & 0xF0) == 0xE0 ? 3 : 4;
                if (i + k > n || !ref_utf8(s + i, k))
                        return false;
                i += k;
        }
        return true;
}

static size_t run_corpus(const char *sub, bool good)
{
        char dir[4096], path[8192];
        snprintf(dir, sizeof dir, "%s/%s", corpus_dir, sub);
        size_t n = 0;
        char **names = list_json(dir, &n);
        if (!names)
                fail_msg("corpus directory %s missing (pass the corpus root as "
                         "argv[1] or SL_CORPUS_DIR)", dir);
        struct sl_json_schema *js = sl_json_schema_new(corpus_fields, C_NFIELDS);
        assert_non_null(js);
        for (size_t i = 0; i < n; i++) {
                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                size_t len;
                char *text = read_file(path, &len);
                struct rec r;
                enum sl_json_status st = rec_run(&r, js, text, len);
                enum sl_json_status want =
                        good ? SL_JSON_OK
                             : strncmp(names[i], "notobj_", 7) == 0 ? SL_JSON_ERR_NOT_OBJECT
                                                                    : SL_JSON_ERR_SYNTAX;
                if (st != want)
                        fail_msg("%s: %s (offset %u), want %s", path, sl_json_status_str(st),
                                 r.err.offset, sl_json_status_str(want));
                if (!good)
                        assert_true(r.err.offset <= len);
                for (int c = 0; good && c < C_NFIELDS; c++) {
                        const struct sl_value *v = &r.out[c];
                        assert_true(v->type <= SL_T_STRING);
                        if (v->type != SL_T_NULL)
                                assert_int_equal(v->type, corpus_fields[c].type);
                        if (v->type != SL_T_STRING)
                                continue;
                        /* borrowed from the record or scratch, valid UTF-8 */
                        bool in_buf = v->u.s.p >= r.buf && v->u.s.p + v->u.s.len <= r.buf + len;
                        bool in_scr = v->u.s.p >= r.scratch &&
                                      v->u.s.p + v->u.s.len <= r.scratch + len;
                        assert_true(in_buf || in_scr);
                        assert_true(valid_utf8((const unsigned char *)v->u.s.p, v->u.s.len));
                }
                if (good && strcmp(names[i], "escapes.json") == 0) {
                        assert_str(&r.out[C_ID], "\xf0\x9f\x98\x80", 4);
                        assert_str(&r.out[C_S], "caf\xc3\xa9 \"q\" \\ / \b\f\n\r\t", 19);
                }
                if (good && strcmp(names[i], "duplicates_last_wins.json") == 0) {
                        assert_str(&r.out[C_ID], "second", 6);
                        assert_int_equal(r.out[C_N].type, SL_T_NULL);
                        assert_double_bits(r.out[C_X].u.d, 2.5);
                }
                if (good && strcmp(names[i], "unicode_key_escaped.json") == 0)
                        assert_str(&r.out[C_CAFE], "z", 1);
                if (good && strcmp(names[i], "num_int_as_double.json") == 0)
                        assert_double_bits(r.out[C_X].u.d, 9007199254740992.0);
                if (good && strcmp(names[i], "num_int64_limits.json") == 0)
                        assert_true(r.out[C_N].u.i == INT64_MIN && r.out[C_I].u.i == INT32_MIN);
                rec_free(&r);
                free(text);
                free(names[i]);
        }
        free(names);
        sl_json_schema_free(js);
        return n;
}

static void test_corpus_bad(void **state)
{
        (void)state;
        assert_true(run_corpus("json_bad", false) >= 40);
}

static void test_corpus_good(void **state)
{
        (void)state;
        assert_true(run_corpus("json_good", true) >= 20);
}

int main(int argc, char **argv)
{
        const char *env = getenv("SL_CORPUS_DIR");
        if (argc > 1)
                corpus_dir = argv[1];
        else if (env && *env)
                corpus_dir = env;

        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_basic_record, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_absent_and_null_initialise_out, setup_tx,
                                                teardown_schema),
                cmocka_unit_test_setup_teardown(test_duplicates_last_wins, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_string_escapes, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_escaped_key_matches, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_lone_surrogates, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_integers, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_doubles, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_double_long_mantissa, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_double_random, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_type_errors, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_syntax_beats_type, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_syntax_offsets, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_not_object, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_depth_limit, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_truncated_prefixes, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_utf8_exhaustive, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_control_chars, setup_tx, teardown_schema),
                cmocka_unit_test_setup_teardown(test_string_positions, setup_tx, teardown_schema),
                cmocka_unit_test(test_tiny_records),
                cmocka_unit_test_setup_teardown(test_whitespace_and_layout, setup_tx, teardown_schema),
                cmocka_unit_test(test_empty_schema_validates),
                cmocka_unit_test(test_many_fields_and_collisions),
                cmocka_unit_test(test_guess_order),
                cmocka_unit_test(test_fuzz_differential),
                cmocka_unit_test(test_corpus_bad),
                cmocka_unit_test(test_corpus_good),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
