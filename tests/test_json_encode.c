/*
 * test_json_encode.c - unit tests of engine/json_encode.c.
 *
 * Doubles: fixed cases, then 10^5 random bit patterns, each checked to
 * (1) be a valid JSON number, (2) read back to the same bits through both
 * strtod() and the engine's own decoder, and (3) for the first 20000,
 * have exactly the digits of the shortest "%.*e" that round-trips.
 * Strings: escapes byte by byte, and random UTF-8 through the decoder.
 * The locale case needs de_DE.UTF-8 (or fr_FR.UTF-8); without one it is
 * reported as skipped.
 */
#include <locale.h>
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
#include "engine/json_encode.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rng(void)
{
        uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
}

static uint64_t bits_of(double d)
{
        uint64_t u;
        memcpy(&u, &d, 8);
        return u;
}

/* The buffer's text as a NUL-terminated string (owned by b). */
static const char *text(struct sl_buf *b)
{
        sl_buf_addc(b, '\0');
        assert_true(sl_buf_ok(b));
        b->len--;
        return b->p;
}

static void assert_buf(struct sl_buf *b, const char *want, size_t n)
{
        assert_true(sl_buf_ok(b));
        if (b->len != n || memcmp(b->p, want, n) != 0)
                fail_msg("got \"%.*s\" (%zu bytes), want \"%.*s\"", (int)b->len, b->p, b->len,
                         (int)n, want);
}

/* RFC 8259 number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool json_number(const char *s, size_t n)
{
        size_t i = 0;
#define DIG(c) ((c) >= '0' && (c) <= '9')
        if (i < n && s[i] == '-')
                i++;
        if (i < n && s[i] == '0')
                i++;
        else if (i < n && s[i] >= '1' && s[i] <= '9')
                while (i < n && DIG(s[i]))
                        i++;
        else
                return false;
        if (i < n && s[i] == '.') {
                if (++i >= n || !DIG(s[i]))
                        return false;
                while (i < n && DIG(s[i]))
                        i++;
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                if (i >= n || !DIG(s[i]))
                        return false;
                while (i < n && DIG(s[i]))
                        i++;
        }
#undef DIG
        return i == n;
}

static void test_put_string(void **state)
{
        (void)state;
        struct sl_buf b = { 0 };
        sl_json_put_string(&b, "", 0);
        assert_buf(&b, "\"\"", 2);
        sl_buf_reset(&b);
        sl_json_put_string(&b, "plain text", 10);
        assert_buf(&b, "\"plain text\"", 12);
        sl_buf_reset(&b);
        sl_json_put_string(&b, "a\"b\\c/d\b\f\n\r\t", 12);
        assert_string_equal(text(&b), "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\"");
        sl_buf_reset(&b);
        /* NUL and the other controls, DEL and UTF-8 pass through */
        sl_json_put_string(&b, "\0\x01\x1f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80", 15);
        static const char want_mixed[] = "\"\\u0000\\u0001\\u001f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80\"";
        assert_buf(&b, want_mixed, sizeof want_mixed - 1);
        sl_buf_reset(&b);

        /* every control byte alone */
        static const char *named[0x20] = {
                [8] = "\\b", [9] = "\\t", [10] = "\\n", [12] = "\\f", [13] = "\\r",
        };
        for (unsigned c = 0; c < 0x20; c++) {
                char in = (char)c, want[16];
                int n = named[c] ? sprintf(want, "\"%s\"", named[c])
                                 : sprintf(want, "\"\\u%04x\"", c);
                sl_buf_reset(&b);
                sl_json_put_string(&b, &in, 1);
                assert_buf(&b, want, (size_t)n);
        }
        sl_buf_free(&b);
}

/* Random code points as UTF-8, escaped, decoded again: same bytes. */
static void test_string_round_trip(void **state)
{
        (void)state;
        static const struct sl_json_field f[] = { { "s", SL_T_STRING } };
        struct sl_json_schema *js = sl_json_schema_new(f, 1);
        assert_non_null(js);
        struct sl_buf b = { 0 };
        char raw[512];
        for (int it = 0; it < 20000; it++) {
                size_t n = 0;
                int count = (int)(rng() % 40);
                for (int k = 0; k < count; k++) {
                        uint32_t cp;
                        switch (rng() % 4) {
                        case 0: cp = (uint32_t)(rng() % 0x80); break; /* ASCII incl. controls */
                        case 1: cp = (uint32_t)(rng() % 0x20); break;
                        case 2: cp = 0x80 + (uint32_t)(rng() % 0xFF80); break;
                        default: cp = 0x10000 + (uint32_t)(rng() % 0x100000); break;
                        }
                        if (cp >= 0xD800 && cp <= 0xDFFF)
                                cp = '"';
                        if (cp < 0x80) {
                                raw[n++] = (char)cp;
                        } else if (cp < 0x800) {
                                raw[n++] = (char)(0xC0 | cp >> 6);
                                raw[n++] = (char)(0x80 | (cp & 0x3F));
                        } else if (cp < 0x10000) {
                                raw[n++] = (char)(0xE0 | cp >> 12);
                                raw[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
                                raw[n++] = (char)(0x80 | (cp & 0x3F));
                        } else {
                                raw[n++] = (char)(0xF0 | cp >> 18);
                                raw[n++] = (char)(0x80 | (cp >> 12 & 0x3F));
                                raw[n++] = (char)(0x80 | (cp >> 6 & 0x3F));
                                raw[n++] = (char)(0x80 | (cp & 0x3F));
                        }
                }
                sl_buf_reset(&b);
                sl_buf_adds(&b, "{\"s\":");
                sl_json_put_string(&b, raw, n);
                sl_buf_addc(&b, '}');
                assert_true(sl_buf_ok(&b));
                char *scratch = malloc(b.len);
                assert_non_null(scratch);
                struct sl_value out[1];
                struct sl_json_error err;
                enum sl_json_status st = sl_json_decode(js, b.p, b.len, out, scratch, &err);
                if (st != SL_JSON_OK)
                        fail_msg("encoded string rejected at %u: %.*s", err.offset, (int)b.len, b.p);
                assert_int_equal(out[0].type, SL_T_STRING);
                assert_int_equal(out[0].u.s.len, n);
                assert_memory_equal(out[0].u.s.p, raw, n);
                free(scratch);
        }
        sl_buf_free(&b);
        sl_json_schema_free(js);
}

static void test_put_int(void **state)
{
        (void)state;
        static const int64_t v[] = {
                0, 1, -1, 9, 10, -10, 99, 100, 101, 999, 1000, 12345, -98765,
                2147483647, -2147483648LL, 1678901234000LL, 9999999999999999LL,
                INT64_MAX, INT64_MIN, INT64_MIN + 1, 1000000000000000000LL,
        };
        struct sl_buf b = { 0 };
        char want[32];
        for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
                sl_buf_reset(&b);
                sl_json_put_int(&b, v[i]);
                int n = sprintf(want, "%lld", (long long)v[i]);
                assert_buf(&b, want, (size_t)n);
        }
        sl_buf_reset(&b);
        sl_json_put_int(&b, INT64_MIN);
        assert_string_equal(text(&b), "-9223372036854775808");
        for (int i = 0; i < 100000; i++) {
                int64_t x = (int64_t)rng() >> (rng() % 64);
                sl_buf_reset(&b);
                sl_json_put_int(&b, x);
                int n = sprintf(want, "%lld", (long long)x);
                assert_buf(&b, want, (size_t)n);
        }
        sl_buf_free(&b);
}

static void test_put_double_cases(void **state)
{
        (void)state;
        static const struct {
                double v;
                const char *want;
        } cases[] = {
                { 0.1, "0.1" },
                { 180.75, "180.75" },
                { 250.0, "250.0" },
                { 100, "100.0" },
                { -2.5, "-2.5" },
                { 0.0, "0.0" },
                { -0.0, "-0.0" },
                { 0.3, "0.3" },
                { 0.1 + 0.2, "0.30000000000000004" },
                { 1.0 / 3, "0.3333333333333333" },
                { 2.0 / 3, "0.6666666666666666" },
                { 1e21, "1e+21" },
                { 1e20, "100000000000000000000.0" },
                { 1.5e300, "1.5e+300" },
                { 1e-7, "1e-7" },
                { 1.25e-7, "1.25e-7" },
                { 1e-6, "0.000001" },
                { 1e-5, "0.00001" },
                { 123456.789, "123456.789" },
                { 9007199254740992.0, "9007199254740992.0" },
                { 1.2345678901234568e20, "123456789012345680000.0" },
                { 5e-324, "5e-324" },
                { 1e-323, "1e-323" },
                { 2.5e-322, "2.5e-322" },
                { -4.9406564584124654e-320, "-4.9407e-320" },
                { 2.225073858507201e-308, "2.225073858507201e-308" },
                { 2.2250738585072014e-308, "2.2250738585072014e-308" },
                { 1.7976931348623157e308, "1.7976931348623157e+308" },
                { -1e100, "-1e+100" },
                { 200.5, "200.5" },
                { 1678901234000.0, "1678901234000.0" },
                /* Powers of two: the nearest 16-digit decimal misses the
                 * narrow lower half of the interval, the next one up fits. */
                { 0x1p89, "6.189700196426902e+26" },
                { 79.995, "79.995" },
                { 5000.01, "5000.01" },
                { 1234.5600000000002, "1234.5600000000002" },
        };
        struct sl_buf b = { 0 };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                sl_buf_reset(&b);
                sl_json_put_double(&b, cases[i].v);
                assert_string_equal(text(&b), cases[i].want);
                char out[32];
                size_t n = sl_double_shortest(cases[i].v, out);
                assert_int_equal(n, strlen(cases[i].want));
                assert_memory_equal(out, cases[i].want, n);
        }
        static const double nonfinite[] = { NAN, -NAN, INFINITY, -INFINITY };
        for (size_t i = 0; i < 4; i++) {
                sl_buf_reset(&b);
                sl_json_put_double(&b, nonfinite[i]);
                assert_string_equal(text(&b), "null");
        }
        sl_buf_free(&b);
}

/* Significant digits of a shortest() text (no sign, point, exponent). */
static int sig_digits(const char *s, size_t n)
{
        int d = 0, first = -1, last = -1;
        for (size_t i = 0; i < n && s[i] != 'e'; i++) {
                if (s[i] < '0' || s[i] > '9')
                        continue;
                if (s[i] != '0') {
                        if (first < 0)
                                first = d;
                        last = d;
                }
                d++;
        }
        return first < 0 ? 1 : last - first + 1;
}

static void test_double_random_round_trip(void **state)
{
        (void)state;
        static const struct sl_json_field f[] = { { "d", SL_T_DOUBLE } };
        struct sl_json_schema *js = sl_json_schema_new(f, 1);
        assert_non_null(js);
        char rec[96], scratch[96], tmp[64];
        int tested = 0;
        for (int i = 0; tested < 100000; i++) {
                uint64_t u = rng();
                if (i % 4 == 0) /* also values of everyday magnitude */
                        u = (u & 0x800FFFFFFFFFFFFFull) | (uint64_t)(1023 - 30 + rng() % 60) << 52;
                else if (i % 4 == 1) /* and subnormals with few bits */
                        u = (u & 0x8000000000000000ull) | (rng() >> (12 + rng() % 52));
                double v;
                memcpy(&v, &u, 8);
                if (!isfinite(v))
                        continue;
                tested++;
                char out[32];
                size_t n = sl_double_shortest(v, out);
                assert_true(n > 0 && n <= 32);
                if (!json_number(out, n))
                        fail_msg("not a JSON number: %.*s", (int)n, out);
                memcpy(tmp, out, n);
                tmp[n] = '\0';
                if (bits_of(strtod(tmp, NULL)) != u)
                        fail_msg("%.17g -> %s does not round-trip", v, tmp);
                /* and through the engine's decoder */
                int k = sprintf(rec, "{\"d\":%s}", tmp);
                struct sl_value val[1];
                assert_int_equal(sl_json_decode(js, rec, (size_t)k, val, scratch, NULL), SL_JSON_OK);
                assert_true(bits_of(val[0].u.d) == u);
                /* plain notation keeps a fraction so readers see a double */
                if (!memchr(out, 'e', n))
                        assert_non_null(memchr(out, '.', n));
                if (tested > 20000)
                        continue;
                /* shortest: no "%.*e" with fewer digits round-trips */
                int want = 17;
                for (int p = 1; p < 17; p++) {
                        snprintf(tmp, sizeof tmp, "%.*e", p - 1, v);
                        if (bits_of(strtod(tmp, NULL)) == u) {
                                want = p;
                                break;
                        }
                }
                if (sig_digits(out, n) != want)
                        fail_msg("%.17g -> %.*s has %d digits, shortest has %d", v, (int)n, out,
                                 sig_digits(out, n), want);
        }
        sl_json_schema_free(js);
}

static void test_put_value(void **state)
{
        (void)state;
        struct sl_buf b = { 0 };
        struct sl_value v[6];
        memset(v, 0, sizeof v);
        v[0].type = SL_T_NULL;
        v[1].type = SL_T_BOOL;
        v[1].u.b = true;
        v[2].type = SL_T_BOOL;
        v[2].u.b = false;
        v[3].type = SL_T_BIGINT;
        v[3].u.i = -42;
        v[4].type = SL_T_DOUBLE;
        v[4].u.d = 250.0;
        v[5].type = SL_T_STRING;
        v[5].u.s.p = "q\"x";
        v[5].u.s.len = 3;
        for (int i = 0; i < 6; i++) {
                sl_json_put_value(&b, &v[i]);
                sl_buf_addc(&b, ',');
        }
        struct sl_value iv = { .u.i = 7, .type = SL_T_INT };
        sl_json_put_value(&b, &iv);
        assert_string_equal(text(&b), "null,true,false,-42,250.0,\"q\\\"x\",7");
        sl_buf_free(&b);
}

/* A comma decimal separator in LC_NUMERIC must not leak into JSON. */
static void test_locale_independent(void **state)
{
        (void)state;
        const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
        if (!loc)
                loc = setlocale(LC_NUMERIC, "fr_FR.UTF-8");
        if (!loc) {
                print_message("no de_DE/fr_FR locale installed: locale case skipped\n");
                skip();
        }
        char probe[16];
        snprintf(probe, sizeof probe, "%.1f", 1.5);
        assert_string_equal(probe, "1,5"); /* the locale really is active */
        struct sl_buf b = { 0 };
        sl_json_put_double(&b, 180.75);
        sl_buf_addc(&b, ' ');
        sl_json_put_double(&b, 1.25e-7);
        sl_buf_addc(&b, ' ');
        sl_json_put_double(&b, 0.1 + 0.2);
        assert_string_equal(text(&b), "180.75 1.25e-7 0.30000000000000004");
        sl_buf_free(&b);
        /* the decoder's strtod fallback too */
        static const struct sl_json_field f[] = { { "d", SL_T_DOUBLE } };
        struct sl_json_schema *js = sl_json_schema_new(f, 1);
        assert_non_null(js);
        const char *rec = "{\"d\":0.30000000000000004441}";
        char scratch[64];
        struct sl_value val[1];
        assert_int_equal(sl_json_decode(js, rec, strlen(rec), val, scratch, NULL), SL_JSON_OK);
        assert_true(bits_of(val[0].u.d) == bits_of(0.1 + 0.2));
        sl_json_schema_free(js);
        setlocale(LC_NUMERIC, "C");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_put_string),
                cmocka_unit_test(test_string_round_trip),
                cmocka_unit_test(test_put_int),
                cmocka_unit_test(test_put_double_cases),
                cmocka_unit_test(test_double_random_round_trip),
                cmocka_unit_test(test_put_value),
                cmocka_unit_test(test_locale_independent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
