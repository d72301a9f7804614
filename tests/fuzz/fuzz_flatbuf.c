/*
 * fuzz_flatbuf.c - fuzz target of the FlatBuffers verifier and decoder
 * (sl_fb_decode, engine/flatbuf.c), with the encoder as its oracle.
 *
 * Input: byte 0 picks a column layout, byte 1 which columns are read
 * (bit c % 8 for column c), the rest is one bare buffer, copied into a heap
 * block of exactly its size so that ASan sees any read past it.  Checked
 * against flatbuf.h:
 *
 *   - the status returned is err.status; the error offset lies inside the
 *     buffer (but for ERR_BOUNDS) and err.field is -1 or a column;
 *   - columns not read are never written;
 *   - on success a read column is NULL or of its declared type, an INTEGER
 *     fits int32, a string lies inside the buffer and is valid UTF-8;
 *   - the values decoded, encoded again with sl_fb_encode, decode to the
 *     same values from the frame's bare buffer (a Kafka value) and from
 *     its size-prefixed form (a file), both copied to exact-size blocks.
 */
#include <string.h>

#include "engine/buf.h"
#include "engine/flatbuf.h"
#include "tests/fuzz/fuzz_target.h"

#define MAX_COLS 20

static const enum sl_type layout_mixed[] = {
        SL_T_STRING, SL_T_BIGINT, SL_T_INT, SL_T_DOUBLE, SL_T_BOOL, SL_T_STRING,
};
static const enum sl_type layout_one[] = {SL_T_BIGINT};
static const enum sl_type layout_small[] = {SL_T_BOOL, SL_T_STRING, SL_T_BOOL, SL_T_INT};
static const enum sl_type layout_wide[MAX_COLS] = {
        SL_T_INT,    SL_T_DOUBLE, SL_T_STRING, SL_T_BOOL,   SL_T_BIGINT,
        SL_T_STRING, SL_T_INT,    SL_T_BOOL,   SL_T_DOUBLE, SL_T_BIGINT,
        SL_T_BOOL,   SL_T_STRING, SL_T_DOUBLE, SL_T_INT,    SL_T_BIGINT,
        SL_T_STRING, SL_T_BOOL,   SL_T_BIGINT, SL_T_DOUBLE, SL_T_INT,
};

#define NLAYOUTS 4

static const struct {
        const enum sl_type *types;
        uint32_t n;
} layouts[NLAYOUTS] = {
        {layout_mixed, sizeof layout_mixed / sizeof layout_mixed[0]},
        {layout_one, 1},
        {layout_small, sizeof layout_small / sizeof layout_small[0]},
        {layout_wide, MAX_COLS},
};

static bool utf8_ok(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                unsigned c = s[i];
                size_t k;
                uint32_t cp, min;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xE0) == 0xC0) {
                        k = 2, cp = c & 0x1F, min = 0x80;
                } else if ((c & 0xF0) == 0xE0) {
                        k = 3, cp = c & 0x0F, min = 0x800;
                } else if ((c & 0xF8) == 0xF0) {
                        k = 4, cp = c & 0x07, min = 0x10000;
                } else {
                        return false;
                }
                if (n - i < k)
                        return false;
                for (size_t j = 1; j < k; j++) {
                        if ((s[i + j] & 0xC0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + j] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                i += k;
        }
        return true;
}

static bool same_value(const struct sl_value *a, const struct sl_value *b)
{
        if (a->type != b->type)
                return false;
        switch (a->type) {
        case SL_T_NULL:
                return true;
        case SL_T_BOOL:
                return a->u.b == b->u.b;
        case SL_T_INT:
        case SL_T_BIGINT:
                return a->u.i == b->u.i;
        case SL_T_DOUBLE:
                return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
        case SL_T_STRING:
                return a->u.s.len == b->u.s.len &&
                       (a->u.s.len == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0);
        default:
                return false;
        }
}

/* Decodes buf[0, len) and checks everything that does not need an oracle. */
static enum sl_fb_status decode_checked(const struct sl_fb_schema *fs, const enum sl_type *types,
                                        uint32_t n, const bool *read, const char *buf,
                                        size_t len, struct sl_value *out)
{
        struct sl_fb_error err;
        memset(out, 0xA5, MAX_COLS * sizeof *out);
        memset(&err, 0xA5, sizeof err);
        enum sl_fb_status st = sl_fb_decode(fs, buf, len, out, &err);
        FUZZ_CHECK(err.status == st);
        FUZZ_CHECK(sl_fb_status_str(st) != NULL);
        if (st != SL_FB_OK) {
                /* A bounds failure names where the element would be. */
                FUZZ_CHECK(err.offset <= len || st == SL_FB_ERR_BOUNDS);
                FUZZ_CHECK(err.field == -1 || (err.field >= 0 && (uint32_t)err.field < n));
        }
        for (uint32_t c = 0; c < n; c++) {
                struct sl_value *v = &out[c];
                if (!read[c]) {
                        const unsigned char *p = (const unsigned char *)v;
                        for (size_t k = 0; k < sizeof *v; k++)
                                FUZZ_CHECK(p[k] == 0xA5);
                        continue;
                }
                if (st != SL_FB_OK || v->type == SL_T_NULL)
                        continue;
                FUZZ_CHECK(v->type == types[c]);
                if (v->type == SL_T_INT)
                        FUZZ_CHECK(v->u.i >= INT32_MIN && v->u.i <= INT32_MAX);
                if (v->type == SL_T_STRING) {
                        uintptr_t p = (uintptr_t)v->u.s.p, b = (uintptr_t)buf;
                        FUZZ_CHECK(p >= b && p - b <= len && v->u.s.len <= len - (p - b));
                        FUZZ_CHECK(utf8_ok((const unsigned char *)v->u.s.p, v->u.s.len));
                }
        }
        return st;
}

static void check_again(const struct sl_fb_schema *fs, const enum sl_type *types, uint32_t n,
                        const bool *read, const char *bytes, size_t len,
                        const struct sl_value *want)
{
        char *copy = malloc(len ? len : 1);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, bytes, len);
        struct sl_value got[MAX_COLS];
        enum sl_fb_status st = decode_checked(fs, types, n, read, copy, len, got);
        if (st != SL_FB_OK) {
                fprintf(stderr, "an encoded buffer does not decode: %s\n", sl_fb_status_str(st));
                abort();
        }
        for (uint32_t c = 0; c < n; c++)
                if (read[c])
                        FUZZ_CHECK(same_value(&got[c], &want[c]));
        free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        const enum sl_type *types = layouts[data[0] % NLAYOUTS].types;
        uint32_t n = layouts[data[0] % NLAYOUTS].n;
        bool read[MAX_COLS] = {false};
        struct sl_fb_schema *fs = sl_fb_schema_new(types, n);
        FUZZ_CHECK(fs != NULL);
        for (uint32_t c = 0; c < n; c++) {
                if ((data[1] >> (c % 8)) & 1) {
                        read[c] = true;
                        sl_fb_schema_read(fs, c);
                }
        }
        size_t len = size - 2;
        char *buf = malloc(len ? len : 1);
        FUZZ_CHECK(buf != NULL);
        memcpy(buf, data + 2, len);

        struct sl_value out[MAX_COLS];
        if (decode_checked(fs, types, n, read, buf, len, out) == SL_FB_OK) {
                struct sl_value vals[MAX_COLS];
                for (uint32_t c = 0; c < n; c++)
                        vals[c] = read[c] ? out[c] : (struct sl_value){.type = SL_T_NULL};
                struct sl_buf frame = {0};
                sl_fb_encode(types, vals, n, &frame);
                FUZZ_CHECK(sl_buf_ok(&frame) && frame.len >= SL_FB_FRAME_HEAD);
                uint32_t prefix = sl_fb_load_u32(frame.p);
                FUZZ_CHECK(prefix == frame.len - 4);
                check_again(fs, types, n, read, frame.p + SL_FB_FRAME_HEAD,
                            frame.len - SL_FB_FRAME_HEAD, vals);
                check_again(fs, types, n, read, frame.p + 4, prefix, vals);
                sl_buf_free(&frame);
        }
        free(buf);
        sl_fb_schema_free(fs);
        return 0;
}
