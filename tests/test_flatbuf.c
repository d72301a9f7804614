/*
 * test_flatbuf.c - unit tests of engine/flatbuf.c: the FlatBuffers
 * decoder and verifier, the row encoder, the .fbs text, and FLATBUFFERS
 * pipelines end to end in file mode (framing, drops, warnings).
 *
 * Buffers under test are built by hand here, byte by byte, with a layout
 * sluice's encoder never uses (the vtable after its table), so that the
 * decoder is not only checked against its own encoder.  Every buffer is
 * decoded from a heap block of exactly its length, so AddressSanitizer
 * flags any read outside it.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/aggop.h"
#include "engine/buf.h"
#include "engine/flatbuf.h"
#include "engine/plan.h"
#include "engine/record.h"
#include "include/sluice/sluice.h"

/* ---- hand-built buffers ----------------------------------------------- */

static void w16(unsigned char *b, size_t off, uint16_t v)
{
        b[off] = (unsigned char)v;
        b[off + 1] = (unsigned char)(v >> 8);
}

static void w32(unsigned char *b, size_t off, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                b[off + (size_t)i] = (unsigned char)(v >> (8 * i));
}

static void w64(unsigned char *b, size_t off, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                b[off + (size_t)i] = (unsigned char)(v >> (8 * i));
}

/*
 * The standard record, columns
 *   0 s STRING, 1 i BIGINT, 2 n INTEGER, 3 d DOUBLE, 4 b BOOLEAN, 5 u STRING
 * laid out as
 *   0 root = 8 | 4 pad | 8 table: soffset, 12 n, 16 i, 24 d, 32 s-off,
 *   36 u-off, 40 b | 44 vtable (16 bytes) | 60 string s | string u | pad to 8
 */
enum { T = 8, F_N = 12, F_I = 16, F_D = 24, F_S = 32, F_U = 36, F_B = 40, VT = 44, S0 = 60 };

struct std_rec {
        const char *s, *u; /* NULL: absent */
        int64_t i;
        int32_t n;
        double d;
        uint8_t b;
        bool has_i, has_n, has_d, has_b;
};

static const enum sl_type std_types[6] = {SL_T_STRING, SL_T_BIGINT, SL_T_INT,
                                          SL_T_DOUBLE, SL_T_BOOL, SL_T_STRING};

/* Builds r into b (cap 512); returns its length; *s_at and *u_at get
 * where the strings start (0 when absent). */
static size_t build_std(const struct std_rec *r, unsigned char *b, size_t *s_at, size_t *u_at)
{
        memset(b, 0, 512);
        w32(b, 0, T);
        w32(b, T, (uint32_t)(int32_t)(T - VT)); /* negative: the vtable follows */
        w16(b, VT, 16);
        w16(b, VT + 2, F_B + 1 - T);
        if (r->has_n) {
                w32(b, F_N, (uint32_t)r->n);
                w16(b, VT + 4 + 2 * 2, F_N - T);
        }
        if (r->has_i) {
                w64(b, F_I, (uint64_t)r->i);
                w16(b, VT + 4 + 2 * 1, F_I - T);
        }
        if (r->has_d) {
                uint64_t bits;
                memcpy(&bits, &r->d, 8);
                w64(b, F_D, bits);
                w16(b, VT + 4 + 2 * 3, F_D - T);
        }
        if (r->has_b) {
                b[F_B] = r->b;
                w16(b, VT + 4 + 2 * 4, F_B - T);
        }
        size_t s = S0;
        const char *strs[2] = {r->s, r->u};
        const size_t fields[2] = {F_S, F_U}, ids[2] = {0, 5};
        size_t *at[2] = {s_at, u_at};
        for (int k = 0; k < 2; k++) {
                *at[k] = 0;
                if (!strs[k])
                        continue;
                size_t n = strlen(strs[k]);
                w32(b, fields[k], (uint32_t)(s - fields[k]));
                w16(b, VT + 4 + 2 * ids[k], (uint16_t)(fields[k] - T));
                w32(b, s, (uint32_t)n);
                memcpy(b + s + 4, strs[k], n + 1);
                *at[k] = s;
                s = (s + 4 + n + 1 + 3) & ~(size_t)3;
        }
        return (s + 7) & ~(size_t)7;
}

static const struct std_rec std_full = {
        .s = "hello", .u = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
        .i = INT64_MIN, .n = -123456, .d = -2.5, .b = 1,
        .has_i = true, .has_n = true, .has_d = true, .has_b = true,
};

static struct sl_fb_schema *std_schema(bool read_all)
{
        struct sl_fb_schema *fs = sl_fb_schema_new(std_types, 6);
        assert_non_null(fs);
        if (read_all)
                for (uint32_t c = 0; c < 6; c++)
                        sl_fb_schema_read(fs, c);
        return fs;
}

/* Decodes an exact-size heap copy of b[0, len). */
static enum sl_fb_status decode_copy(const struct sl_fb_schema *fs, const void *b, size_t len,
                                     struct sl_value *out, struct sl_fb_error *err)
{
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, b, len);
        enum sl_fb_status st = sl_fb_decode(fs, copy, len, out, err);
        assert_int_equal(st, err->status);
        /* Strings point into the buffer, before their NUL. */
        for (int c = 0; c < (int)sl_fb_schema_nread(fs) && st == SL_FB_OK; c++)
                if (out[c].type == SL_T_STRING) {
                        assert_true(out[c].u.s.p >= copy && out[c].u.s.p + out[c].u.s.len < copy + len);
                        assert_int_equal(copy[out[c].u.s.p - copy + out[c].u.s.len], 0);
                }
        free(copy);
        return st;
}

static void expect_reject(const struct sl_fb_schema *fs, const unsigned char *b, size_t len,
                          enum sl_fb_status want, int32_t field)
{
        struct sl_value out[6];
        struct sl_fb_error err;
        enum sl_fb_status st = decode_copy(fs, b, len, out, &err);
        if (st != want)
                fail_msg("status %s, wanted %s", sl_fb_status_str(st), sl_fb_status_str(want));
        assert_int_equal(err.field, field);
}

/* ---- decoding ---------------------------------------------------------- */

static void test_decode_every_type(void **state)
{
        (void)state;
        unsigned char b[512];
        size_t sa, ua;
        size_t len = build_std(&std_full, b, &sa, &ua);
        struct sl_fb_schema *fs = std_schema(true);
        struct sl_value out[6];
        struct sl_fb_error err;
        char *copy = malloc(len);
        memcpy(copy, b, len);
        assert_int_equal(sl_fb_decode(fs, copy, len, out, &err), SL_FB_OK);
        assert_int_equal(out[0].type, SL_T_STRING);
        assert_int_equal(out[0].u.s.len, 5);
        assert_memory_equal(out[0].u.s.p, "hello", 5);
        assert_ptr_equal(out[0].u.s.p, copy + sa + 4); /* borrowed, not copied */
        assert_int_equal(out[1].type, SL_T_BIGINT);
        assert_true(out[1].u.i == INT64_MIN);
        assert_int_equal(out[2].type, SL_T_INT);
        assert_int_equal(out[2].u.i, -123456);
        assert_int_equal(out[3].type, SL_T_DOUBLE);
        assert_true(out[3].u.d == -2.5);
        assert_int_equal(out[4].type, SL_T_BOOL);
        assert_true(out[4].u.b);
        assert_int_equal(out[5].type, SL_T_STRING);
        assert_int_equal(out[5].u.s.len, strlen(std_full.u));
        assert_memory_equal(out[5].u.s.p, std_full.u, strlen(std_full.u));
        free(copy);

        /* Extremes and odd encodings of each type. */
        struct std_rec r = std_full;
        r.i = INT64_MAX;
        r.n = INT32_MIN;
        r.d = -0.0;
        r.b = 2; /* any non-zero byte is true, as flatc reads it */
        r.s = "";
        len = build_std(&r, b, &sa, &ua);
        assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);
        assert_true(out[1].u.i == INT64_MAX);
        assert_true(out[2].u.i == INT32_MIN);
        assert_true(out[3].u.d == 0 && signbit(out[3].u.d));
        assert_true(out[4].u.b);
        assert_int_equal(out[0].type, SL_T_STRING);
        assert_int_equal(out[0].u.s.len, 0);
        r.d = NAN;
        len = build_std(&r, b, &sa, &ua);
        assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);
        assert_true(isnan(out[3].u.d)); /* a double field can hold NaN; JSON output writes null */
        sl_fb_schema_free(fs);
}

static void test_absent_fields_and_defaults(void **state)
{
        (void)state;
        unsigned char b[512];
        size_t sa, ua;
        struct sl_fb_schema *fs = std_schema(true);
        struct sl_value out[6];
        struct sl_fb_error err;

        /* Nothing present: every column NULL (optional scalars). */
        struct std_rec none = {0};
        size_t len = build_std(&none, b, &sa, &ua);
        memset(out, 0xA5, sizeof out);
        assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);
        for (int c = 0; c < 6; c++)
                assert_int_equal(out[c].type, SL_T_NULL);

        /* Present zeros are values, not NULL: the schema says `= null`, so
         * a builder writes them. */
        struct std_rec zeros = {.s = "", .has_i = true, .has_n = true, .has_d = true, .has_b = true};
        len = build_std(&zeros, b, &sa, &ua);
        assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);
        assert_int_equal(out[1].type, SL_T_BIGINT);
        assert_int_equal(out[1].u.i, 0);
        assert_int_equal(out[2].type, SL_T_INT);
        assert_int_equal(out[3].type, SL_T_DOUBLE);
        assert_true(out[3].u.d == 0);
        assert_int_equal(out[4].type, SL_T_BOOL);
        assert_false(out[4].u.b);
        assert_int_equal(out[0].type, SL_T_STRING);
        assert_int_equal(out[5].type, SL_T_NULL);

        /* A vtable shorter than the schema (an older writer with fewer
         * fields): the missing entries are absent. */
        len = build_std(&std_full, b, &sa, &ua);
        w16(b, VT, 4 + 2 * 3); /* only fields 0..2 */
        assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);
        assert_int_equal(out[0].type, SL_T_STRING);
        assert_int_equal(out[2].type, SL_T_INT);
        assert_int_equal(out[3].type, SL_T_NULL);
        assert_int_equal(out[4].type, SL_T_NULL);
        assert_int_equal(out[5].type, SL_T_NULL);
        w16(b, VT, 2); /* a vtable with no field entries at all (flatc accepts it) */
        assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);
        for (int c = 0; c < 6; c++)
                assert_int_equal(out[c].type, SL_T_NULL);

        /* A vtable longer than the schema (a newer writer): extra fields are ignored. */
        len = build_std(&std_full, b, &sa, &ua);
        struct sl_fb_schema *three = sl_fb_schema_new(std_types, 3);
        for (uint32_t c = 0; c < 3; c++)
                sl_fb_schema_read(three, c);
        assert_int_equal(decode_copy(three, b, len, out, &err), SL_FB_OK);
        assert_int_equal(out[2].u.i, -123456);
        sl_fb_schema_free(three);
        sl_fb_schema_free(fs);
}

static void test_unused_columns_not_read(void **state)
{
        (void)state;
        unsigned char b[512];
        size_t sa, ua;
        size_t len = build_std(&std_full, b, &sa, &ua);
        /* Damage the fields of columns 1 (out of bounds), 3 (misaligned)
         * and 5 (string without its NUL and invalid UTF-8). */
        w16(b, VT + 4 + 2 * 1, 0xFFF0);
        w16(b, VT + 4 + 2 * 3, F_D - T + 4);
        b[ua + 4] = 0xFF;
        b[ua + 4 + strlen(std_full.u)] = 'x';
        struct sl_fb_schema *fs = std_schema(false);
        sl_fb_schema_read(fs, 2);
        sl_fb_schema_read(fs, 0);
        sl_fb_schema_read(fs, 2); /* idempotent */
        assert_int_equal(sl_fb_schema_nread(fs), 2);
        struct sl_value out[6];
        struct sl_fb_error err;
        memset(out, 0xA5, sizeof out);
        assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);
        assert_int_equal(out[0].type, SL_T_STRING);
        assert_int_equal(out[2].u.i, -123456);
        /* Columns not read are not written either. */
        unsigned char sentinel[sizeof out[0]];
        memset(sentinel, 0xA5, sizeof sentinel);
        for (int c = 1; c < 6; c++)
                if (c != 2)
                        assert_memory_equal(&out[c], sentinel, sizeof sentinel);
        /* Reading them finds the damage. */
        sl_fb_schema_read(fs, 1);
        expect_reject(fs, b, len, SL_FB_ERR_BOUNDS, 1);
        sl_fb_schema_free(fs);
}

static void test_verifier_rejections(void **state)
{
        (void)state;
        unsigned char b[512], c[512];
        size_t sa, ua;
        size_t len = build_std(&std_full, b, &sa, &ua);
        struct sl_fb_schema *fs = std_schema(true);
        struct sl_value out[6];
        struct sl_fb_error err;
        assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);

#define MUT(stmt, want, field) do {             \
                memcpy(c, b, len);              \
                stmt;                           \
                expect_reject(fs, c, len, want, field); \
        } while (0)

        /* Sizes. */
        expect_reject(fs, b, 0, SL_FB_ERR_SIZE, -1);
        expect_reject(fs, b, SL_FB_MIN_SIZE - 1, SL_FB_ERR_SIZE, -1);
        /* The root offset: zero, past the end, negative as a signed offset, misaligned. */
        MUT(w32(c, 0, 0), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, 0, (uint32_t)len), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, 0, (uint32_t)len - 3), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, 0, 0x80000008u), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, 0, 0xFFFFFFFCu), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, 0, T + 2), SL_FB_ERR_ALIGN, -1);
        /* The vtable offset: before the buffer, past it, misaligned. */
        MUT(w32(c, T, 0x7FFFFFFFu), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, T, T + 1), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, T, (uint32_t)(int32_t)-(int32_t)len), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, T, 0x80000000u), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, T, (uint32_t)(int32_t)(T - (int32_t)len + 1)), SL_FB_ERR_BOUNDS, -1);
        MUT(w32(c, T, (uint32_t)(int32_t)(T - VT - 1)), SL_FB_ERR_ALIGN, -1);
        /* The vtable: odd size, longer than what is left, huge. */
        MUT(w16(c, VT, 15), SL_FB_ERR_VTABLE, -1);
        MUT(w16(c, VT, (uint16_t)(len - VT + 2)), SL_FB_ERR_VTABLE, -1);
        MUT(w16(c, VT, 0xFFFE), SL_FB_ERR_VTABLE, -1);
        /* Right at the end is fine. */
        memcpy(c, b, len);
        w16(c, VT, (uint16_t)(len - VT));
        assert_int_equal(decode_copy(fs, c, len, out, &err), SL_FB_OK);
        /* Fields: past the end, straddling the end, misaligned. */
        MUT(w16(c, VT + 4 + 2 * 1, (uint16_t)(len - T)), SL_FB_ERR_BOUNDS, 1);
        MUT(w16(c, VT + 4 + 2 * 3, (uint16_t)(len - T - 4)), SL_FB_ERR_BOUNDS, 3);
        MUT(w16(c, VT + 4 + 2 * 2, (uint16_t)(len - T - 2)), SL_FB_ERR_BOUNDS, 2);
        MUT(w16(c, VT + 4 + 2 * 1, F_I - T + 4), SL_FB_ERR_ALIGN, 1);
        MUT(w16(c, VT + 4 + 2 * 3, F_D - T + 2), SL_FB_ERR_ALIGN, 3);
        MUT(w16(c, VT + 4 + 2 * 2, F_N - T + 1), SL_FB_ERR_ALIGN, 2);
        MUT(w16(c, VT + 4 + 2 * 0, F_S - T + 2), SL_FB_ERR_ALIGN, 0);
        MUT(w16(c, VT + 4 + 2 * 4, (uint16_t)(len - T)), SL_FB_ERR_BOUNDS, 4);
        /* String offsets: zero, past the end, negative, misaligned target. */
        MUT(w32(c, F_S, 0), SL_FB_ERR_BOUNDS, 0);
        MUT(w32(c, F_S, (uint32_t)(len - F_S)), SL_FB_ERR_BOUNDS, 0);
        MUT(w32(c, F_S, (uint32_t)(len - F_S - 3)), SL_FB_ERR_BOUNDS, 0);
        MUT(w32(c, F_S, 0xFFFFFFF0u), SL_FB_ERR_BOUNDS, 0);
        MUT(w32(c, F_S, 0x80000000u), SL_FB_ERR_BOUNDS, 0);
        MUT(w32(c, F_S, (uint32_t)(sa - F_S + 1)), SL_FB_ERR_ALIGN, 0);
        /* Strings: length past the end, no room for the NUL, no NUL. */
        MUT(w32(c, sa, (uint32_t)len), SL_FB_ERR_STRING, 0);
        MUT(w32(c, sa, 0xFFFFFFFFu), SL_FB_ERR_STRING, 0);
        MUT(w32(c, ua, (uint32_t)(len - ua - 4)), SL_FB_ERR_STRING, 5);
        MUT(c[sa + 4 + 5] = 'x', SL_FB_ERR_STRING, 0);
        MUT(w32(c, sa, 4), SL_FB_ERR_STRING, 0); /* "hell" is followed by 'o', not NUL */
        /* UTF-8. */
        MUT(c[sa + 4] = 0x80, SL_FB_ERR_UTF8, 0);
        MUT(c[sa + 4] = 0xC0, SL_FB_ERR_UTF8, 0);
        MUT(c[ua + 4 + 1] = 0xC3; c[ua + 4 + 2] = 'x', SL_FB_ERR_UTF8, 5);
#undef MUT
        sl_fb_schema_free(fs);
}

/* Reference UTF-8 classifier: decode, then check length, range, surrogates. */
static bool ref_utf8(const unsigned char *s, size_t n)
{
        size_t i = 0;
        while (i < n) {
                unsigned c = s[i];
                size_t k;
                uint32_t cp, min;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xE0) == 0xC0) {
                        k = 1, cp = c & 0x1F, min = 0x80;
                } else if ((c & 0xF0) == 0xE0) {
                        k = 2, cp = c & 0x0F, min = 0x800;
                } else if ((c & 0xF8) == 0xF0) {
                        k = 3, cp = c & 0x07, min = 0x10000;
                } else {
                        return false;
                }
                if (i + k >= n)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xC0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + j] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                i += k + 1;
        }
        return true;
}

static void test_utf8_exhaustive(void **state)
{
        (void)state;
        struct sl_fb_schema *fs = std_schema(false);
        sl_fb_schema_read(fs, 0);
        unsigned char b[512];
        size_t sa, ua;
        /* Column 0 holds "a" + 4 bytes + "b"; sequences under test are
         * padded with ASCII so the string length stays fixed. */
        struct std_rec r = {.s = "a....b"};
        size_t len = build_std(&r, b, &sa, &ua);
        struct sl_value out[6];
        struct sl_fb_error err;
        unsigned long checked = 0;
        /* Every lead byte with every second byte; every third byte after
         * 3-byte leads; boundary third and fourth bytes after 4-byte leads. */
        static const unsigned char edge[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
        for (unsigned c0 = 0x80; c0 < 0x100; c0++)
                for (unsigned c1 = 0; c1 < 0x100; c1++) {
                        unsigned n2 = c0 >= 0xF0 ? sizeof edge : c0 >= 0xE0 ? 256 : 1;
                        unsigned n3 = c0 >= 0xF0 ? sizeof edge : 1;
                        for (unsigned i2 = 0; i2 < n2; i2++)
                                for (unsigned i3 = 0; i3 < n3; i3++) {
                                        unsigned char seq[4] = {(unsigned char)c0, (unsigned char)c1, '.', '.'};
                                        if (c0 >= 0xE0)
                                                seq[2] = c0 >= 0xF0 ? edge[i2] : (unsigned char)i2;
                                        if (c0 >= 0xF0)
                                                seq[3] = edge[i3];
                                        memcpy(b + sa + 5, seq, 4);
                                        enum sl_fb_status st = sl_fb_decode(fs, (const char *)b, len, out, &err);
                                        bool want = ref_utf8(b + sa + 4, 6);
                                        if ((st == SL_FB_OK) != want)
                                                fail_msg("%02x %02x %02x %02x: decoder %s, reference %s",
                                                         seq[0], seq[1], seq[2], seq[3],
                                                         sl_fb_status_str(st), want ? "valid" : "invalid");
                                        if (!want)
                                                assert_int_equal(st, SL_FB_ERR_UTF8);
                                        checked++;
                                }
                }
        assert_true(checked > 1000000);
        /* Long ASCII runs take the 8-byte path; one bad byte anywhere is found. */
        char longs[200];
        memset(longs, 'x', sizeof longs - 1);
        longs[sizeof longs - 1] = 0;
        r.s = longs;
        for (size_t at = 0; at < sizeof longs - 1; at++) {
                len = build_std(&r, b, &sa, &ua);
                assert_int_equal(decode_copy(fs, b, len, out, &err), SL_FB_OK);
                b[sa + 4 + at] = 0xFF;
                expect_reject(fs, b, len, SL_FB_ERR_UTF8, 0);
        }
        sl_fb_schema_free(fs);
}

/* Every prefix of a valid record: no read outside it (ASan), and rejected
 * unless the cut falls in the final padding and what is read is intact. */
static void check_prefixes(const struct sl_fb_schema *fs, const unsigned char *b, size_t len,
                           size_t data_end, uint32_t ncols)
{
        struct sl_value full[64], out[64];
        struct sl_fb_error err;
        assert_int_equal(sl_fb_decode(fs, (const char *)b, len, full, &err), SL_FB_OK);
        for (size_t k = 0; k < len; k++) {
                char *copy = malloc(k ? k : 1);
                memcpy(copy, b, k);
                enum sl_fb_status st = sl_fb_decode(fs, copy, k, out, &err);
                if (k < data_end && st == SL_FB_OK)
                        fail_msg("a prefix of %zu of %zu bytes verified", k, len);
                if (st == SL_FB_OK)
                        for (uint32_t c = 0; c < ncols; c++) {
                                assert_int_equal(out[c].type, full[c].type);
                                if (out[c].type == SL_T_STRING) {
                                        assert_int_equal(out[c].u.s.len, full[c].u.s.len);
                                        assert_int_equal(out[c].u.s.p - copy,
                                                         (const unsigned char *)full[c].u.s.p - b);
                                } else if (out[c].type != SL_T_NULL) {
                                        assert_memory_equal(&out[c].u, &full[c].u, 8);
                                }
                        }
                free(copy);
        }
}

static void test_truncated_at_every_byte(void **state)
{
        (void)state;
        unsigned char b[512];
        size_t sa, ua;
        size_t len = build_std(&std_full, b, &sa, &ua);
        struct sl_fb_schema *fs = std_schema(true);
        check_prefixes(fs, b, len, ua + 4 + strlen(std_full.u) + 1, 6);

        /* The same for sluice's own rows (bare and size-prefixed views). */
        struct sl_value v[6] = {
                {.type = SL_T_STRING, .u.s = {"key-1", 5}}, {.type = SL_T_BIGINT, .u.i = 7},
                {.type = SL_T_INT, .u.i = -1}, {.type = SL_T_DOUBLE, .u.d = 0.1},
                {.type = SL_T_BOOL, .u.b = true}, {.type = SL_T_STRING, .u.s = {"z", 1}}};
        struct sl_buf out = {0};
        sl_fb_encode(std_types, v, 6, &out);
        assert_true(sl_buf_ok(&out));
        size_t xl = out.len - SL_FB_FRAME_HEAD;
        /* The last string's NUL is at most 7 bytes before the end. */
        check_prefixes(fs, (const unsigned char *)out.p + SL_FB_FRAME_HEAD, xl, xl - 7, 6);
        check_prefixes(fs, (const unsigned char *)out.p + 4, out.len - 4, out.len - 4 - 7, 6);
        sl_buf_free(&out);
        sl_fb_schema_free(fs);
}

/* Random single-byte and multi-byte damage: never a read outside (ASan), and
 * whatever verifies decodes to values whose strings lie inside. */
static void test_mutation_fuzz(void **state)
{
        (void)state;
        unsigned char b[512], c[512];
        size_t sa, ua;
        size_t len = build_std(&std_full, b, &sa, &ua);
        struct sl_fb_schema *fs = std_schema(true);
        uint64_t x = 88172645463325252ull;
        unsigned ok = 0, bad = 0;
        for (int round = 0; round < 200000; round++) {
                memcpy(c, b, len);
                int nmut = 1 + (int)(x % 4);
                for (int m = 0; m < nmut; m++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        c[x % len] = (unsigned char)(x >> 32);
                }
                struct sl_value out[6];
                struct sl_fb_error err;
                if (decode_copy(fs, c, len, out, &err) == SL_FB_OK)
                        ok++;
                else
                        bad++;
        }
        assert_true(ok > 1000 && bad > 1000);
        sl_fb_schema_free(fs);
}

/* ---- encoding ---------------------------------------------------------- */

static void check_frame(const struct sl_buf *out, size_t start)
{
        const unsigned char *f = (const unsigned char *)out->p + start;
        size_t flen = out->len - start;
        assert_int_equal(flen % 8, 0);
        assert_int_equal(sl_fb_load_u32(f), flen - 4);
        /* Both views reach the same table. */
        assert_int_equal(sl_fb_load_u32(f + 4), sl_fb_load_u32(f + 8) + 4);
}

static void test_encode_roundtrip(void **state)
{
        (void)state;
        struct sl_fb_schema *fs = std_schema(true);
        uint64_t x = 0x9E3779B97F4A7C15ull;
        const char *words[] = {"", "a", "user42", "h\xc3\xa9llo", "a much longer string value"};
        struct sl_buf out = {0};
        for (int round = 0; round < 20000; round++) {
                struct sl_value v[6];
                for (int c = 0; c < 6; c++) {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        v[c].type = x % 5 == 0 ? SL_T_NULL : (uint8_t)std_types[c];
                        uint64_t r = x * 0x2545F4914F6CDD1Dull;
                        switch (std_types[c]) {
                        case SL_T_STRING: {
                                const char *w = words[r % 5];
                                v[c].u.s.p = w;
                                v[c].u.s.len = (uint32_t)strlen(w);
                                break;
                        }
                        case SL_T_BIGINT: v[c].u.i = (int64_t)r; break;
                        case SL_T_INT: v[c].u.i = (int32_t)r; break;
                        case SL_T_DOUBLE: memcpy(&v[c].u.d, &r, 8); if (isnan(v[c].u.d)) v[c].u.d = 1; break;
                        case SL_T_BOOL: v[c].u.b = r & 1; break;
                        default: break;
                        }
                }
                /* Frames append after what is in the buffer (a Kafka key). */
                sl_buf_reset(&out);
                size_t start = (size_t)(x % 5);
                sl_buf_add(&out, "kkkkk", start);
                sl_fb_encode(std_types, v, 6, &out);
                assert_true(sl_buf_ok(&out));
                check_frame(&out, start);
                struct sl_value got[6];
                struct sl_fb_error err;
                /* The bare view (Kafka) and the size-prefixed view (files). */
                for (int view = 0; view < 2; view++) {
                        size_t off = start + (view ? 4 : SL_FB_FRAME_HEAD);
                        assert_int_equal(decode_copy(fs, out.p + off, out.len - off, got, &err), SL_FB_OK);
                        for (int c = 0; c < 6; c++) {
                                assert_int_equal(got[c].type, v[c].type);
                                if (v[c].type == SL_T_STRING)
                                        assert_int_equal(got[c].u.s.len, v[c].u.s.len);
                                else if (v[c].type != SL_T_NULL && v[c].type != SL_T_BOOL)
                                        assert_memory_equal(&got[c].u, &v[c].u, 8);
                                else if (v[c].type == SL_T_BOOL)
                                        assert_int_equal(got[c].u.b, v[c].u.b);
                        }
                }
        }
        sl_buf_free(&out);
        sl_fb_schema_free(fs);
}

static struct sl_plan *plan(const char *sql)
{
        char err[512];
        struct sl_plan *p = sl_plan_load_string(sql, strlen(sql), "t.sql", err, sizeof err);
        if (!p)
                fail_msg("%s", err);
        return p;
}

#define FB_STREAM                                                                        \
        "CREATE STREAM readings (sensor STRING KEY, site INTEGER, `value` DOUBLE, ok BOOLEAN,\n" \
        "                        seq BIGINT, note STRING, ts BIGINT)\n"                  \
        "  WITH (KAFKA_TOPIC = 'readings', VALUE_FORMAT = 'FlatBuffers', TIMESTAMP = 'ts');\n"

static void test_row_encoder(void **state)
{
        (void)state;
        struct sl_plan *p = plan(FB_STREAM
                "CREATE STREAM o WITH (VALUE_FORMAT = 'FLATBUFFERS') AS SELECT sensor, site, `value`, ok,\n"
                "  seq * 2 AS seq2, `value` > 1.5 AS big, NULL AS nothing, 'lit' AS l, note FROM readings;\n");
        const struct sl_query *q = &p->queries[0];
        assert_int_equal(q->format, SL_FMT_FLATBUFFERS);
        enum sl_type types[9];
        for (uint32_t i = 0; i < q->nout; i++)
                types[i] = sl_prog_type(q->out[i].prog);
        assert_int_equal(q->nout, 9);
        assert_int_equal(types[6], SL_T_NULL);
        struct sl_fb_schema *fs = sl_fb_schema_new(types, q->nout);
        for (uint32_t i = 0; i < q->nout; i++)
                sl_fb_schema_read(fs, i);
        struct sl_value env[7] = {
                {.type = SL_T_STRING, .u.s = {"s-1", 3}}, {.type = SL_T_INT, .u.i = 12},
                {.type = SL_T_DOUBLE, .u.d = 2.25}, {.type = SL_T_BOOL, .u.b = false},
                {.type = SL_T_BIGINT, .u.i = 21}, {.type = SL_T_NULL}, {.type = SL_T_BIGINT, .u.i = 5}};
        struct sl_buf row = {0};
        sl_buf_add(&row, "key", 3);
        sl_row_json(q, env, &row); /* the one entry point of every row */
        assert_true(sl_buf_ok(&row));
        check_frame(&row, 3);
        struct sl_value got[9];
        struct sl_fb_error err;
        assert_int_equal(sl_fb_decode(fs, row.p + 3 + SL_FB_FRAME_HEAD, row.len - 3 - SL_FB_FRAME_HEAD,
                                      got, &err), SL_FB_OK);
        assert_memory_equal(got[0].u.s.p, "s-1", 3);
        assert_int_equal(got[1].type, SL_T_INT);
        assert_int_equal(got[1].u.i, 12);
        assert_true(got[2].u.d == 2.25);
        assert_int_equal(got[3].type, SL_T_BOOL);
        assert_false(got[3].u.b);
        assert_int_equal(got[4].type, SL_T_BIGINT);
        assert_int_equal(got[4].u.i, 42);
        assert_int_equal(got[5].type, SL_T_BOOL);
        assert_true(got[5].u.b);
        assert_int_equal(got[6].type, SL_T_NULL);
        assert_int_equal(got[7].u.s.len, 3);
        assert_memory_equal(got[7].u.s.p, "lit", 3);
        assert_int_equal(got[8].type, SL_T_NULL); /* note was NULL: absent */
        sl_buf_free(&row);
        sl_fb_schema_free(fs);
        sl_plan_free(p);
}

/* ---- planning and schema text ------------------------------------------ */

static void test_plan_formats(void **state)
{
        (void)state;
        char err[512];
        const char *bad = "CREATE STREAM s (a BIGINT) WITH (VALUE_FORMAT = 'XML');\n"
                          "CREATE STREAM o AS SELECT a FROM s;\n";
        assert_null(sl_plan_load_string(bad, strlen(bad), "t.sql", err, sizeof err));
        assert_string_equal(err, "t.sql:1:49: VALUE_FORMAT 'XML' is not supported (supported: JSON, FLATBUFFERS)");
        const char *bad2 = "CREATE STREAM s (a BIGINT) WITH (VALUE_FORMAT = 'JSON');\n"
                           "CREATE STREAM o WITH (VALUE_FORMAT = 'AVRO') AS SELECT a FROM s;\n";
        assert_null(sl_plan_load_string(bad2, strlen(bad2), "t.sql", err, sizeof err));
        assert_string_equal(err, "t.sql:2:38: VALUE_FORMAT 'AVRO' is not supported (supported: JSON, FLATBUFFERS)");
        const char *mixed = "CREATE STREAM s (a BIGINT);\n"
                            "CREATE STREAM o WITH (KAFKA_TOPIC = 'x') AS SELECT a FROM s;\n"
                            "CREATE STREAM p WITH (KAFKA_TOPIC = 'x', VALUE_FORMAT = 'FLATBUFFERS') AS SELECT a FROM s;\n";
        assert_null(sl_plan_load_string(mixed, strlen(mixed), "t.sql", err, sizeof err));
        assert_string_equal(err, "t.sql:3:15: query 'p' writes topic 'x' in another VALUE_FORMAT than query 'o'");

        /* Decoding reads what the queries use: WHERE, GROUP BY, arguments,
         * projections, and the event time; nothing else. */
        struct sl_plan *p = plan(FB_STREAM
                "CREATE TABLE t AS SELECT site, COUNT(*) AS n FROM readings\n"
                "  WINDOW TUMBLING (SIZE 1 MINUTE) WHERE ok GROUP BY site;\n"
                "CREATE TABLE u AS SELECT sensor, SUM(seq) FROM readings GROUP BY sensor;\n");
        const struct sl_source *s = &p->sources[0];
        assert_int_equal(s->format, SL_FMT_FLATBUFFERS);
        assert_non_null(s->fb);
        /* ts, ok (WHERE), site (group), sensor (group), seq (argument) */
        assert_int_equal(sl_fb_schema_nread(s->fb), 5);
        assert_int_equal(p->queries[0].format, SL_FMT_JSON);
        sl_plan_free(p);
        p = plan("CREATE STREAM s (a BIGINT, b STRING);\nCREATE STREAM o AS SELECT a FROM s;\n");
        assert_int_equal(p->sources[0].format, SL_FMT_JSON);
        assert_null(p->sources[0].fb);
        sl_plan_free(p);
}

static void test_schema_text(void **state)
{
        (void)state;
        struct sl_plan *p = plan(FB_STREAM
                "CREATE TABLE per_site WITH (KAFKA_TOPIC = 'sites', VALUE_FORMAT = 'FLATBUFFERS') AS\n"
                "  SELECT site, COUNT(*) AS n, AVG(`value`) AS mean, WINDOWSTART AS ws FROM readings\n"
                "  WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY site;\n"
                "CREATE STREAM plain AS SELECT `value` + 1 AS v1, NOT ok AS `bad-flag` FROM readings;\n");
        struct sl_buf b = {0};
        assert_int_equal(sl_fb_schema_text(p, NULL, &b), 0);
        sl_buf_addc(&b, 0);
        const char *want =
                "// FlatBuffers schema of t.sql, printed by `sluice schema`.\n"
                "//\n"
                "// A record is one table, the root of its buffer.  Field i is column i of\n"
                "// the CREATE STREAM (for a query: output column i, in SELECT order): the\n"
                "// ids are fixed by the SQL.  Scalars are optional (= null): an absent field\n"
                "// is SQL NULL, a present one holds its value, 0 included.  Files hold\n"
                "// size-prefixed buffers (FinishSizePrefixed); a Kafka message value is one\n"
                "// buffer.  Compile with flatc (e.g. flatc --cpp FILE.fbs).\n"
                "\n"
                "namespace sluice;\n"
                "\n"
                "// stream readings <- topic 'readings' (VALUE_FORMAT='FLATBUFFERS')\n"
                "table readings {\n"
                "  sensor: string (id: 0);  // KEY: the Kafka message key when there is one\n"
                "  site: int = null (id: 1);\n"
                "  value: double = null (id: 2);\n"
                "  ok: bool = null (id: 3);\n"
                "  seq: long = null (id: 4);\n"
                "  note: string (id: 5);\n"
                "  ts: long = null (id: 6);  // TIMESTAMP: event time, epoch milliseconds\n"
                "}\n"
                "\n"
                "// table per_site -> topic 'sites' (VALUE_FORMAT='FLATBUFFERS'): one table per output row\n"
                "table per_site {\n"
                "  site: int = null (id: 0);\n"
                "  n: long = null (id: 1);\n"
                "  mean: double = null (id: 2);\n"
                "  ws: long = null (id: 3);\n"
                "}\n";
        assert_string_equal(b.p, want);
        /* One by name, whatever its format, with its root_type; names that
         * are not identifiers are made into ones. */
        sl_buf_reset(&b);
        assert_int_equal(sl_fb_schema_text(p, "plain", &b), 0);
        sl_buf_addc(&b, 0);
        assert_non_null(strstr(b.p, "\ntable plain {\n  v1: double = null (id: 0);\n"
                                    "  bad_flag: bool = null (id: 1);\n}\n\nroot_type plain;\n"));
        assert_null(strstr(b.p, "table readings"));
        sl_buf_reset(&b);
        assert_int_equal(sl_fb_schema_text(p, "nope", &b), -ENOENT);
        sl_buf_free(&b);
        sl_plan_free(p);
        p = plan("CREATE STREAM s (a BIGINT);\nCREATE STREAM o AS SELECT a FROM s;\n");
        assert_int_equal(sl_fb_schema_text(p, NULL, &b), -ENODATA);
        sl_buf_free(&b);
        sl_plan_free(p);
        /* A JSON query with an ARRAY (TOPK) has no FlatBuffers table yet. */
        p = plan("CREATE STREAM s (k BIGINT, a BIGINT);\n"
                 "CREATE TABLE o AS SELECT k, TOPK(a, 2) AS t FROM s GROUP BY k;\n");
        assert_int_equal(sl_fb_schema_text(p, "o", &b), -ENOTSUP);
        sl_buf_reset(&b);
        assert_int_equal(sl_fb_schema_text(p, "s", &b), 0);
        sl_buf_free(&b);
        sl_plan_free(p);
}

static void test_record_drop_reasons(void **state)
{
        (void)state;
        struct sl_plan *p = plan(FB_STREAM
                "CREATE STREAM o AS SELECT sensor, seq FROM readings;\n");
        const struct sl_source *src = &p->sources[0];
        const enum sl_type types[7] = {SL_T_STRING, SL_T_INT, SL_T_DOUBLE, SL_T_BOOL,
                                       SL_T_BIGINT, SL_T_STRING, SL_T_BIGINT};
        struct sl_value v[7] = {{.type = SL_T_STRING, .u.s = {"a", 1}}, {.type = SL_T_NULL},
                                {.type = SL_T_NULL}, {.type = SL_T_NULL},
                                {.type = SL_T_BIGINT, .u.i = 9}, {.type = SL_T_NULL},
                                {.type = SL_T_BIGINT, .u.i = 1700000000000}};
        struct sl_buf b = {0};
        struct sl_value vals[SL_MAX_COLS] = {{.type = SL_T_NULL}};
        struct sl_scratch scratch = {0};
        int64_t ts = 0;
        sl_fb_encode(types, v, 7, &b);
        const char *x = b.p + SL_FB_FRAME_HEAD;
        size_t xl = b.len - SL_FB_FRAME_HEAD;
        assert_int_equal(sl_record_decode(src, x, xl, vals, &scratch, 0, &ts), SL_DROP_COUNT);
        assert_int_equal(ts, 1700000000000);
        assert_int_equal(vals[4].u.i, 9);
        sl_buf_reset(&b);
        v[6].type = SL_T_NULL;
        sl_fb_encode(types, v, 7, &b);
        assert_int_equal(sl_record_decode(src, b.p + 8, b.len - 8, vals, &scratch, 0, &ts), SL_DROP_NO_TS);
        sl_buf_reset(&b);
        v[6] = (struct sl_value){.type = SL_T_BIGINT, .u.i = INT64_MAX};
        sl_fb_encode(types, v, 7, &b);
        assert_int_equal(sl_record_decode(src, b.p + 8, b.len - 8, vals, &scratch, 0, &ts), SL_DROP_BAD_TS);
        assert_int_equal(sl_record_decode(src, b.p + 8, 7, vals, &scratch, 0, &ts), SL_DROP_BAD_FLATBUFFER);
        assert_string_equal(sl_drop_name(SL_DROP_BAD_FLATBUFFER), "not a valid FlatBuffer");
        free(scratch.p);
        sl_buf_free(&b);
        sl_plan_free(p);
}

/* ---- file mode: framing, counting, warnings ---------------------------- */

static char tmpdir[64];

static void write_file(const char *path, const void *p, size_t n)
{
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(p, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
}

static char *read_all(const char *path, size_t *n)
{
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        struct sl_buf b = {0};
        char chunk[4096];
        size_t k;
        while ((k = fread(chunk, 1, sizeof chunk, f)) > 0)
                sl_buf_add(&b, chunk, k);
        fclose(f);
        sl_buf_addc(&b, 0);
        *n = b.len - 1;
        return b.p;
}

struct run_result {
        struct sluice_totals t;
        char *report;
        char *rows;
};

static void run_pipeline(const char *sql, const char *input, size_t max_record, unsigned workers,
                         struct run_result *res)
{
        char err[512], out[128];
        struct sluice_pipeline *pl = sluice_pipeline_parse(sql, strlen(sql), "t.sql", err, sizeof err);
        if (!pl)
                fail_msg("%s", err);
        snprintf(out, sizeof out, "%s/out.ndjson", tmpdir);
        struct sluice_input in = {.path = input};
        struct sluice_file_opts o = {.inputs = &in, .ninputs = 1, .output = out, .workers = workers,
                                     .max_record = max_record, .no_pin = true};
        struct sluice_report *rep = NULL;
        int rc = sluice_run_files(pl, &o, &rep, err, sizeof err);
        if (rc)
                fail_msg("run: %s", err);
        sluice_report_totals(rep, &res->t);
        res->report = strdup(sluice_report_text(rep));
        size_t n;
        res->rows = read_all(out, &n);
        sluice_report_free(rep);
        sluice_pipeline_free(pl);
}

static void test_file_mode_framing(void **state)
{
        (void)state;
        const char *sql = FB_STREAM "CREATE STREAM o AS SELECT sensor, seq, note FROM readings WHERE seq > 0;\n";
        const enum sl_type types[7] = {SL_T_STRING, SL_T_INT, SL_T_DOUBLE, SL_T_BOOL,
                                       SL_T_BIGINT, SL_T_STRING, SL_T_BIGINT};
        struct sl_buf file = {0}, rec = {0}, want = {0};
        unsigned valid = 0, damaged = 0;
        for (int i = 0; i < 300; i++) {
                char name[32];
                snprintf(name, sizeof name, "s%d", i % 17);
                struct sl_value v[7] = {
                        {.type = SL_T_STRING, .u.s = {name, (uint32_t)strlen(name)}},
                        {.type = SL_T_NULL}, {.type = SL_T_NULL}, {.type = SL_T_NULL},
                        {.type = SL_T_BIGINT, .u.i = i}, {.type = i % 3 ? SL_T_NULL : SL_T_STRING, .u.s = {"n\"q", 3}},
                        {.type = SL_T_BIGINT, .u.i = 1000 + i}};
                sl_buf_reset(&rec);
                sl_fb_encode(types, v, 7, &rec);
                /* File frames: [u32 n][buffer]; sluice's own rows are frames already. */
                if (i % 10 == 7) {
                        /* The root offset of the size-prefixed view: past the end. */
                        memset(rec.p + 4, 0xEE, 4);
                        damaged++;
                } else if (i > 0) {
                        valid++;
                        sl_buf_addf(&want, "{\"sensor\":\"%s\",\"seq\":%d,\"note\":%s}\n", name, i,
                                    i % 3 ? "null" : "\"n\\\"q\"");
                }
                sl_buf_add(&file, rec.p, rec.len);
        }
        /* A frame over the limit, then a record cut short by the end of the file. */
        uint32_t big = 5000;
        sl_buf_add(&file, &big, 4);
        for (uint32_t k = 0; k < big; k++)
                sl_buf_addc(&file, 0);
        sl_buf_add(&file, rec.p, rec.len - 9);
        sl_buf_addc(&want, 0);
        assert_true(sl_buf_ok(&file));

        char path[128], fifo[128];
        snprintf(path, sizeof path, "%s/in.fb", tmpdir);
        write_file(path, file.p, file.len);
        struct run_result r1, r2;
        run_pipeline(sql, path, 4096, 2, &r1);
        assert_int_equal(r1.t.records, 300 + 2);
        assert_int_equal(r1.t.dropped, damaged + 2);
        assert_int_equal(r1.t.rows, valid);
        assert_string_equal(r1.rows, want.p);
        assert_non_null(strstr(r1.report, "not a valid FlatBuffer"));
        assert_non_null(strstr(r1.report, "2 oversize"));
        assert_non_null(strstr(r1.report, "warning: stream readings: the FlatBuffers frame at byte"));
        assert_non_null(strstr(r1.report, "is 5000 bytes, over the 4096-byte record limit"));
        assert_non_null(strstr(r1.report, "warning: stream readings: the input ends inside a FlatBuffers frame"));

        /* The same bytes through a pipe (read, not mapped): the same result. */
        snprintf(fifo, sizeof fifo, "%s/in.fifo", tmpdir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                FILE *f = fopen(fifo, "wb");
                /* In small pieces, so frames straddle reads. */
                for (size_t off = 0; f && off < file.len; off += 1000) {
                        fwrite(file.p + off, 1, file.len - off < 1000 ? file.len - off : 1000, f);
                        fflush(f);
                }
                _exit(f && fclose(f) == 0 ? 0 : 1);
        }
        run_pipeline(sql, fifo, 4096, 1, &r2);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(r2.t.records, r1.t.records);
        assert_int_equal(r2.t.dropped, r1.t.dropped);
        assert_string_equal(r2.rows, r1.rows);
        assert_non_null(strstr(r2.report, "is 5000 bytes, over the 4096-byte record limit"));
        assert_non_null(strstr(r2.report, "the input ends inside a FlatBuffers frame"));
        unlink(fifo);
        unlink(path);
        free(r1.report);
        free(r1.rows);
        free(r2.report);
        free(r2.rows);

        /* A file that ends inside a length: one truncated record. */
        write_file(path, "\x10\x00", 2);
        run_pipeline(sql, path, 0, 1, &r1);
        assert_int_equal(r1.t.records, 1);
        assert_int_equal(r1.t.dropped, 1);
        assert_non_null(strstr(r1.report, "(2 of 4 bytes there)"));
        free(r1.report);
        free(r1.rows);
        unlink(path);
        sl_buf_free(&file);
        sl_buf_free(&rec);
        sl_buf_free(&want);
}

/* FlatBuffers output rows in a file: size-prefixed frames, DIR/<topic>.fb. */
static void test_file_mode_output(void **state)
{
        (void)state;
        const char *sql = FB_STREAM
                "CREATE TABLE per_sensor WITH (KAFKA_TOPIC = 'ps', VALUE_FORMAT = 'FLATBUFFERS') AS\n"
                "  SELECT sensor, COUNT(*) AS n, SUM(seq) AS total FROM readings GROUP BY sensor;\n";
        const enum sl_type types[7] = {SL_T_STRING, SL_T_INT, SL_T_DOUBLE, SL_T_BOOL,
                                       SL_T_BIGINT, SL_T_STRING, SL_T_BIGINT};
        struct sl_buf file = {0};
        for (int i = 0; i < 10; i++) {
                struct sl_value v[7] = {{.type = SL_T_STRING, .u.s = {i % 2 ? "b" : "a", 1}},
                                        {.type = SL_T_NULL}, {.type = SL_T_NULL}, {.type = SL_T_NULL},
                                        {.type = SL_T_BIGINT, .u.i = i}, {.type = SL_T_NULL},
                                        {.type = SL_T_BIGINT, .u.i = 1000 + i}};
                sl_fb_encode(types, v, 7, &file);
        }
        char path[128], dir[128], err[512];
        snprintf(path, sizeof path, "%s/in.fb", tmpdir);
        snprintf(dir, sizeof dir, "%s/out", tmpdir);
        write_file(path, file.p, file.len);
        assert_int_equal(mkdir(dir, 0700), 0);
        struct sluice_pipeline *pl = sluice_pipeline_parse(sql, strlen(sql), "t.sql", err, sizeof err);
        assert_non_null(pl);
        struct sluice_input in = {.path = path};
        struct sluice_file_opts o = {.inputs = &in, .ninputs = 1, .output = dir, .workers = 2, .no_pin = true};
        struct sluice_report *rep = NULL;
        assert_int_equal(sluice_run_files(pl, &o, &rep, err, sizeof err), 0);
        sluice_report_free(rep);
        sluice_pipeline_free(pl);
        char out[160];
        snprintf(out, sizeof out, "%s/ps.fb", dir);
        size_t n;
        char *rows = read_all(out, &n);
        const enum sl_type otypes[3] = {SL_T_STRING, SL_T_BIGINT, SL_T_BIGINT};
        struct sl_fb_schema *fs = sl_fb_schema_new(otypes, 3);
        for (uint32_t c = 0; c < 3; c++)
                sl_fb_schema_read(fs, c);
        /* EMIT CHANGES: one row per record, running count and sum per sensor. */
        int64_t cnt[2] = {0}, sum[2] = {0};
        size_t off = 0;
        for (int i = 0; i < 10; i++) {
                assert_true(off + 4 <= n);
                uint32_t len = sl_fb_load_u32(rows + off);
                assert_int_equal(off % 8, 0);
                struct sl_value v[3];
                struct sl_fb_error fe;
                assert_int_equal(sl_fb_decode(fs, rows + off + 4, len, v, &fe), SL_FB_OK);
                cnt[i % 2]++;
                sum[i % 2] += i;
                assert_memory_equal(v[0].u.s.p, i % 2 ? "b" : "a", 1);
                assert_int_equal(v[1].u.i, cnt[i % 2]);
                assert_int_equal(v[2].u.i, sum[i % 2]);
                off += 4 + len;
        }
        assert_int_equal(off, n);
        free(rows);
        sl_fb_schema_free(fs);
        unlink(out);
        rmdir(dir);
        unlink(path);
        sl_buf_free(&file);
}

static int setup_dir(void **state)
{
        (void)state;
        snprintf(tmpdir, sizeof tmpdir, "/tmp/sl_fbtest.XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
        (void)state;
        char p[128];
        snprintf(p, sizeof p, "%s/out.ndjson", tmpdir);
        unlink(p);
        return rmdir(tmpdir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode_every_type),
                cmocka_unit_test(test_absent_fields_and_defaults),
                cmocka_unit_test(test_unused_columns_not_read),
                cmocka_unit_test(test_verifier_rejections),
                cmocka_unit_test(test_utf8_exhaustive),
                cmocka_unit_test(test_truncated_at_every_byte),
                cmocka_unit_test(test_mutation_fuzz),
                cmocka_unit_test(test_encode_roundtrip),
                cmocka_unit_test(test_row_encoder),
                cmocka_unit_test(test_plan_formats),
                cmocka_unit_test(test_schema_text),
                cmocka_unit_test(test_record_drop_reasons),
                cmocka_unit_test(test_file_mode_framing),
                cmocka_unit_test(test_file_mode_output),
        };
        return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
