/*
 * json_encode.c - writes scalars as JSON text into a struct sl_buf, for
 * the sinks that emit output rows.
 *
 * Strings: '"', '\\' and the control characters below 0x20 are escaped
 * (\b \f \n \r \t, else \u00xx); everything else, UTF-8 included, is
 * copied in runs.  Bytes are not re-validated: values come from the
 * decoder (valid UTF-8) or from functions that keep UTF-8 valid.
 *
 * Integers: two digits per step from a 200-byte table; INT64_MIN is
 * handled by working on the unsigned magnitude.
 *
 * Doubles: the shortest of "%.15e", "%.16e", "%.17e" (trailing zeros
 * trimmed) that strtod() reads back to the same bits.  17 digits always
 * round-trip.  For a normal double, 15 digits give the shortest form
 * whenever it has <= 15 digits: the 15-digit grid is coarser than the
 * double's spacing (10^-15 > 2^-52 relative), so a shorter decimal that
 * rounds to v is also the 15-digit decimal nearest to v.  Subnormals
 * have less precision, so for them the digit count is binary searched
 * over 1..17 (5e-324, not 4.94065645841247e-324).  At 16 digits the
 * nearest 16-digit decimal is the one tried, so in rare cases 17 digits
 * are written where some other 16-digit form would also round-trip.  The digits are then laid out as JavaScript does:
 * plain notation for 1e-7 < |v| < 1e21, else "d.ddde+XX" / "de-XX"; plain
 * notation without a fraction gets ".0" (250.0, -0.0), as Jackson and
 * ksqlDB print a DOUBLE, so that a reader still sees a double.
 *
 * Locale: printf and strtod use LC_NUMERIC's decimal point.  The digits
 * are taken from printf's output skipping whatever radix text it wrote,
 * and strtod() is given "DIGITSeEXP", which has no decimal point, so the
 * output is the same in every locale.
 *
 * Single-threaded per struct sl_buf; no shared state.
 */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json_encode.h"

static const char sl_hex[] = "0123456789abcdef";

void sl_json_put_string(struct sl_buf *b, const char *s, size_t len)
{
        /* Most strings need no escape: reserve once for the common case. */
        sl_buf_reserve(b, len + 2);
        sl_buf_addc(b, '"');
        size_t run = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                sl_buf_add(b, s + run, i - run);
                run = i + 1;
                char e[6] = { '\\', 0 };
                size_t n = 2;
                switch (c) {
                case '"': e[1] = '"'; break;
                case '\\': e[1] = '\\'; break;
                case '\b': e[1] = 'b'; break;
                case '\f': e[1] = 'f'; break;
                case '\n': e[1] = 'n'; break;
                case '\r': e[1] = 'r'; break;
                case '\t': e[1] = 't'; break;
                default:
                        memcpy(e + 1, "u00", 3);
                        e[4] = sl_hex[c >> 4];
                        e[5] = sl_hex[c & 15];
                        n = 6;
                }
                sl_buf_add(b, e, n);
        }
        sl_buf_add(b, s + run, len - run);
        sl_buf_addc(b, '"');
}

static const char sl_digits2[200] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";

void sl_json_put_int(struct sl_buf *b, int64_t v)
{
        char tmp[20];
        char *e = tmp + sizeof tmp, *p = e;
        /* Unsigned magnitude: -INT64_MIN does not fit int64. */
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
        while (u >= 100) {
                unsigned r = (unsigned)(u % 100);
                u /= 100;
                p -= 2;
                memcpy(p, sl_digits2 + 2 * r, 2);
        }
        if (u >= 10) {
                p -= 2;
                memcpy(p, sl_digits2 + 2 * u, 2);
        } else {
                *--p = (char)('0' + u);
        }
        if (v < 0)
                *--p = '-';
        sl_buf_add(b, p, (size_t)(e - p));
}

static uint64_t sl_dbits(double v)
{
        uint64_t u;
        memcpy(&u, &v, sizeof u);
        return u;
}

/*
 * Writes v with prec significant digits: digits[0..prec) and the decimal
 * exponent of the first digit.  Locale-proof (see the header comment).
 */
static void sl_double_digits(double v, int prec, char *digits, int *exp10)
{
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        const char *p = tmp;
        int n = 0;
        while (*p && (*p < '0' || *p > '9'))
                p++; /* sign */
        digits[n++] = *p++;
        while (*p && *p != 'e' && *p != 'E') {
                if (*p >= '0' && *p <= '9')
                        digits[n++] = *p;
                p++; /* the radix, whatever bytes the locale uses */
        }
        *exp10 = *p ? atoi(p + 1) : 0;
}

/* strtod of digits[0..n) * 10^(exp10 - n + 1), with no decimal point. */
static double sl_digits_value(bool neg, const char *digits, int n, int exp10)
{
        char tmp[64];
        int k = 0;
        if (neg)
                tmp[k++] = '-';
        memcpy(tmp + k, digits, (size_t)n);
        k += n;
        snprintf(tmp + k, sizeof tmp - (size_t)k, "e%d", exp10 - n + 1);
        return strtod(tmp, NULL);
}

size_t sl_double_shortest(double v, char *out)
{
        char digits[24];
        int x = 0, n = 17;
        bool neg = signbit(v) != 0;

        if (fabs(v) >= DBL_MIN || v == 0) {
                for (int prec = 15; prec <= 17; prec++) {
                        sl_double_digits(v, prec, digits, &x);
                        n = prec;
                        if (sl_dbits(sl_digits_value(neg, digits, n, x)) == sl_dbits(v))
                                break;
                }
        } else {
                /* Subnormals carry fewer than 15 digits' worth of bits, so
                 * 15 digits can be too many (5e-324).  Round-tripping is
                 * monotone in the digit count: binary search 1..17. */
                int lo = 1, hi = 17;
                while (lo < hi) {
                        int mid = (lo + hi) / 2;
                        sl_double_digits(v, mid, digits, &x);
                        if (sl_dbits(sl_digits_value(neg, digits, mid, x)) == sl_dbits(v))
                                hi = mid;
                        else
                                lo = mid + 1;
                }
                n = lo;
                sl_double_digits(v, n, digits, &x);
        }
        while (n > 1 && digits[n - 1] == '0')
                n--;
        if (digits[0] == '0') /* zero: printf gives 0e+00 */
                x = 0;

        char *o = out;
        if (neg)
                *o++ = '-';
        if (x >= 0 && x < 21) {
                if (n <= x + 1) {
                        memcpy(o, digits, (size_t)n);
                        o += n;
                        memset(o, '0', (size_t)(x + 1 - n));
                        o += x + 1 - n;
                        memcpy(o, ".0", 2);
                        o += 2;
                } else {
                        memcpy(o, digits, (size_t)x + 1);
                        o += x + 1;
                        *o++ = '.';
                        memcpy(o, digits + x + 1, (size_t)(n - x - 1));
                        o += n - x - 1;
                }
        } else if (x < 0 && x > -7) {
                *o++ = '0';
                *o++ = '.';
                memset(o, '0', (size_t)(-x - 1));
                o += -x - 1;
                memcpy(o, digits, (size_t)n);
                o += n;
        } else {
                *o++ = digits[0];
                if (n > 1) {
                        *o++ = '.';
                        memcpy(o, digits + 1, (size_t)n - 1);
                        o += n - 1;
                }
                *o++ = 'e';
                *o++ = x < 0 ? '-' : '+';
                unsigned ax = (unsigned)(x < 0 ? -x : x);
                if (ax >= 100)
                        *o++ = (char)('0' + ax / 100);
                if (ax >= 10)
                        *o++ = (char)('0' + ax / 10 % 10);
                *o++ = (char)('0' + ax % 10);
        }
        return (size_t)(o - out);
}

void sl_json_put_double(struct sl_buf *b, double v)
{
        if (!isfinite(v)) {
                sl_buf_add(b, "null", 4);
                return;
        }
        char tmp[32];
        sl_buf_add(b, tmp, sl_double_shortest(v, tmp));
}

void sl_json_put_value(struct sl_buf *b, const struct sl_value *v)
{
        switch ((enum sl_type)v->type) {
        case SL_T_NULL:
                sl_buf_add(b, "null", 4);
                return;
        case SL_T_BOOL:
                if (v->u.b)
                        sl_buf_add(b, "true", 4);
                else
                        sl_buf_add(b, "false", 5);
                return;
        case SL_T_INT:
        case SL_T_BIGINT:
                sl_json_put_int(b, v->u.i);
                return;
        case SL_T_DOUBLE:
                sl_json_put_double(b, v->u.d);
                return;
        case SL_T_STRING:
                sl_json_put_string(b, v->u.s.p, v->u.s.len);
                return;
        }
        assert(!"sl_json_put_value: unknown type tag");
        sl_buf_add(b, "null", 4); /* release builds: keep the output JSON */
}
