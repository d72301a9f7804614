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
 * Doubles: the shortest of 15, 16, 17 significant digits (trailing
 * zeros trimmed) that reads back to the same bits.  17 digits always
 * round-trip.  The fast path takes the digits from one long double
 * multiply and checks them with exact double arithmetic (fast_candidate);
 * the slow path prints with "%.*e" and checks with strtod().  For a normal double, 15 digits give the shortest form
 * whenever it has <= 15 digits: the 15-digit grid is coarser than the
 * double's spacing (10^-15 > 2^-52 relative), so a shorter decimal that
 * rounds to v is also the 15-digit decimal nearest to v.  Subnormals
 * have less precision, so for them the digit count is binary searched
 * over 1..17 (5e-324, not 4.94065645841247e-324).  Exact powers of two
 * also try the decimal one unit above the nearest (see below).  The
 * digits are then laid out as JavaScript does:
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

static const double p10d[23] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* 10^k for k <= 27 is exact in x87 long double (5^27 < 2^64). */
static const long double p10l[28] = {
        1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L, 1e6L, 1e7L, 1e8L, 1e9L, 1e10L,
        1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
        1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};

/*
 * Fast path: the prec-digit decimal m * 10^q nearest to av (av > 0), from
 * one long double multiply, and whether it reads back as av, decided with
 * exact double arithmetic (Clinger: m < 2^53 and |q| <= 22 make
 * m * 10^q a single correctly rounded operation).  Returns 1 (round-trips),
 * 0 (does not), -1 (cannot tell here: take the slow path).  m may be off
 * by one from the nearest when the long double product lands within 2^-64
 * of a half; that only costs a slow path, never a wrong answer, because a
 * candidate that round-trips is the only prec-digit decimal that does
 * (prec <= 16 digits are coarser than the double's spacing).
 */
static int fast_candidate(double av, int prec, uint64_t *m, int *x)
{
        int e2;
        (void)frexp(av, &e2);
        int e10 = (int)floor((e2 - 1) * 0.30102999566398120);
        for (int tries = 0; tries < 3; tries++) {
                int s = prec - 1 - e10;
                if (s < -27 || s > 27)
                        return -1;
                long double t = s >= 0 ? (long double)av * p10l[s] : (long double)av / p10l[-s];
                if (t >= p10l[prec]) {
                        e10++;
                        continue;
                }
                if (t < p10l[prec - 1]) {
                        e10--;
                        continue;
                }
                uint64_t mm = (uint64_t)llroundl(t);
                if ((long double)mm >= p10l[prec]) {
                        mm /= 10;
                        e10++;
                }
                int q = e10 - (prec - 1);
                *m = mm;
                *x = e10;
                if (mm > (1ull << 53) || q < -22 || q > 22)
                        return -1;
                double d = q >= 0 ? (double)mm * p10d[q] : (double)mm / p10d[-q];
                return d == av;
        }
        return -1;
}

static void u64_digits(uint64_t m, int n, char *digits)
{
        for (int i = n - 1; i >= 0; i--) {
                digits[i] = (char)('0' + m % 10);
                m /= 10;
        }
}

/* digits + 1 ulp in the last place; carries into a new leading 1. */
static void digits_inc(char *digits, int n, int *x)
{
        int i = n - 1;
        while (i >= 0 && digits[i] == '9')
                digits[i--] = '0';
        if (i >= 0) {
                digits[i]++;
        } else {
                digits[0] = '1';
                (*x)++;
        }
}

size_t sl_double_shortest(double v, char *out)
{
        char digits[24];
        int x = 0, n = 17;
        bool neg = signbit(v) != 0;
        double av = fabs(v);
        uint64_t m;

        int r15 = av >= DBL_MIN ? fast_candidate(av, 15, &m, &x) : -1;
        if (av == 0) {
                digits[0] = '0';
                n = 1;
        } else if (r15 == 1) {
                n = 15;
                u64_digits(m, n, digits);
        } else if (r15 == 0 && fast_candidate(av, 16, &m, &x) == 1) {
                /* 15 digits are known not to round-trip; 16 do. */
                n = 16;
                u64_digits(m, n, digits);
        } else if (av >= DBL_MIN) {
                /*
                 * Exact powers of two have a rounding interval twice as
                 * wide above as below, so the nearest decimal of some
                 * length can miss it while the next one up does not (2^89
                 * is 6.189700196426902e+26, not ...9014e+26): try that
                 * candidate too, from one digit up.
                 */
                bool pow2 = (sl_dbits(av) & ((1ull << 52) - 1)) == 0;
                bool found = false;
                for (int prec = pow2 ? 1 : 15; prec <= 17 && !found; prec++) {
                        sl_double_digits(v, prec, digits, &x);
                        n = prec;
                        if (sl_dbits(sl_digits_value(neg, digits, n, x)) == sl_dbits(v)) {
                                found = true;
                        } else if (pow2) {
                                char up[24];
                                int xu = x;
                                memcpy(up, digits, (size_t)n);
                                digits_inc(up, n, &xu);
                                if (sl_dbits(sl_digits_value(neg, up, n, xu)) == sl_dbits(v)) {
                                        memcpy(digits, up, (size_t)n);
                                        x = xu;
                                        found = true;
                                }
                        }
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
        if (digits[0] == '0') /* zero */
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
        case SL_T_ARRAY:
                sl_buf_addc(b, '[');
                for (uint32_t i = 0; i < v->u.a.n; i++) {
                        if (i)
                                sl_buf_addc(b, ',');
                        if (v->u.a.elem == SL_T_DOUBLE)
                                sl_json_put_double(b, ((const double *)v->u.a.p)[i]);
                        else
                                sl_json_put_int(b, ((const int64_t *)v->u.a.p)[i]);
                }
                sl_buf_addc(b, ']');
                return;
        }
        assert(!"sl_json_put_value: unknown type tag");
        sl_buf_add(b, "null", 4); /* release builds: keep the output JSON */
}
