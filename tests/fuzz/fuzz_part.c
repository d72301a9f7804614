/*
 * fuzz_part.c - a partition harness for fuzz targets; see fuzz_part.h.
 *
 * The values are edges on purpose: int64 and int32 limits, -0.0, the
 * largest and smallest doubles, escaped and non-BMP strings, and event
 * times at the limits the decoder accepts, so that a fuzzed expression or
 * window meets the arithmetic cases (overflow, division by -1, windows
 * next to SL_TS_MAX) that ordinary data never reaches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/flatbuf.h"
#include "engine/window.h"
#include "tests/fuzz/fuzz_part.h"

#define RING_CAP 4096
#define MAX_FEED 64

int fuzz_part_init(struct fuzz_part *fp, const struct sl_plan *p, uint32_t src)
{
        memset(fp, 0, sizeof *fp);
        atomic_store_explicit(&fp->stop, true, memory_order_relaxed);
        if (sl_ring_init(&fp->ring, RING_CAP) != 0)
                return -ENOMEM;
        fp->oq = (struct sl_outq){.ring = &fp->ring, .stop = &fp->stop};
        fp->plan = p;
        fp->src = src;
        fp->pt = sl_part_new(p, src, 0, &fp->oq);
        if (!fp->pt) {
                sl_ring_destroy(&fp->ring);
                return -ENOMEM;
        }
        return 0;
}

void fuzz_part_drain(struct fuzz_part *fp)
{
        void *b;
        /* A push refused on a full ring leaves the batch in oq.cur: popping
         * below makes room, and fini frees what is left. */
        sl_outq_flush(&fp->oq, 0);
        while (sl_ring_pop1_spsc(&fp->ring, &b)) {
                struct sl_outbatch *ob = b;
                for (uint32_t off = 0; off < ob->used;) {
                        const struct sl_row *r = (const struct sl_row *)(ob->data + off);
                        const unsigned char *t = (const unsigned char *)sl_row_text(r);
                        if (r->klen > r->len || r->xlen > r->len - r->klen)
                                abort();
                        for (uint32_t k = 0; k < r->len; k++)
                                fp->sum += t[k];
                        fp->rows++;
                        off += sl_row_size(r->len);
                }
                free(b);
        }
}

void fuzz_part_fini(struct fuzz_part *fp)
{
        fuzz_part_drain(fp);
        sl_part_destroy(fp->pt);
        free(fp->oq.cur);
        sl_ring_destroy(&fp->ring);
        sl_buf_free(&fp->rec);
}

static const char *const v_bigint[] = {
        "0", "-1", "9223372036854775807", "-9223372036854775808", "7", "1000", "-3",
};
static const char *const v_int[] = {
        "0", "2147483647", "-2147483648", "-1", "5", "1000",
};
static const char *const v_double[] = {
        "0.5", "-0.0", "1e308", "-1.7976931348623157e308", "3", "5e-324", "-2.5",
};
static const char *const v_string[] = {
        "\"\"", "\"a\"", "\"caf\\u00e9\"", "\"k1\"", "\"a\\\"b\"", "\"\\ud83d\\ude00\"",
};
static const char *const v_bool[] = {"true", "false"};

/* Event times: in order, late, duplicate, negative, and the limits. */
static const int64_t v_ts[] = {
        1000, 2500, 61000, 1000, 0, -7000, 3600000, 3599999,
        SL_TS_MAX, SL_TS_MIN, 12000, 86400000,
};

static const char *const v_key[] = {
        NULL, "k1", "42", "-9223372036854775808", "true", "1.5", "", "2147483648",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void add_name(struct sl_buf *b, const char *name)
{
        sl_buf_addc(b, '"');
        for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
                if (*s == '"' || *s == '\\') {
                        sl_buf_addc(b, '\\');
                        sl_buf_addc(b, (char)*s);
                } else if (*s < 0x20) {
                        sl_buf_addf(b, "\\u%04x", *s);
                } else {
                        sl_buf_addc(b, (char)*s);
                }
        }
        sl_buf_addc(b, '"');
}

void fuzz_record(const struct sl_source *src, uint32_t i, uint32_t salt, struct sl_buf *b)
{
        sl_buf_addc(b, '{');
        for (uint32_t c = 0; c < src->ncols; c++) {
                uint32_t k = i * 7 + c * 3 + salt;
                if (c)
                        sl_buf_addc(b, ',');
                add_name(b, src->cols[c].name);
                sl_buf_addc(b, ':');
                if ((int)c == src->ts_col) {
                        if ((i + salt) % 11 == 10)
                                sl_buf_adds(b, "null");
                        else
                                sl_buf_addf(b, "%lld", (long long)v_ts[(i + salt) % N(v_ts)]);
                        continue;
                }
                if ((i + c + salt) % 6 == 5) {
                        sl_buf_adds(b, "null");
                        continue;
                }
                switch (src->cols[c].type) {
                case SL_T_BIGINT:
                        sl_buf_adds(b, v_bigint[k % N(v_bigint)]);
                        break;
                case SL_T_INT:
                        sl_buf_adds(b, v_int[k % N(v_int)]);
                        break;
                case SL_T_DOUBLE:
                        sl_buf_adds(b, v_double[k % N(v_double)]);
                        break;
                case SL_T_STRING:
                        sl_buf_adds(b, v_string[k % N(v_string)]);
                        break;
                case SL_T_BOOL:
                        sl_buf_adds(b, v_bool[k % N(v_bool)]);
                        break;
                default:
                        sl_buf_adds(b, "null");
                        break;
                }
        }
        sl_buf_addc(b, '}');
}

/* The same series as values, for a FLATBUFFERS source. */
static const int64_t fb_bigint[] = {0, -1, INT64_MAX, INT64_MIN, 7, 1000, -3};
static const int64_t fb_int[] = {0, INT32_MAX, INT32_MIN, -1, 5, 1000};
static const double fb_double[] = {0.5, -0.0, 1e308, -1.7976931348623157e308, 3, 5e-324, -2.5};
static const char *const fb_string[] = {"", "a", "caf\xc3\xa9", "k1", "a\"b", "\xf0\x9f\x98\x80"};

void fuzz_record_fb(const struct sl_source *src, uint32_t i, uint32_t salt, struct sl_buf *b)
{
        enum sl_type types[SL_MAX_COLS];
        struct sl_value vals[SL_MAX_COLS];
        for (uint32_t c = 0; c < src->ncols; c++) {
                uint32_t k = i * 7 + c * 3 + salt;
                struct sl_value *v = &vals[c];
                types[c] = src->cols[c].type;
                *v = (struct sl_value){.type = (uint8_t)types[c]};
                if ((int)c == src->ts_col) {
                        if ((i + salt) % 11 == 10)
                                v->type = SL_T_NULL;
                        else
                                v->u.i = v_ts[(i + salt) % N(v_ts)];
                        continue;
                }
                if ((i + c + salt) % 6 == 5) {
                        v->type = SL_T_NULL;
                        continue;
                }
                switch (types[c]) {
                case SL_T_BIGINT:
                        v->u.i = fb_bigint[k % N(fb_bigint)];
                        break;
                case SL_T_INT:
                        v->u.i = fb_int[k % N(fb_int)];
                        break;
                case SL_T_DOUBLE:
                        v->u.d = fb_double[k % N(fb_double)];
                        break;
                case SL_T_STRING:
                        v->u.s.p = fb_string[k % N(fb_string)];
                        v->u.s.len = (uint32_t)strlen(v->u.s.p);
                        break;
                case SL_T_BOOL:
                        v->u.b = k % 2;
                        break;
                default:
                        v->type = SL_T_NULL;
                        break;
                }
        }
        sl_fb_encode(types, vals, src->ncols, b);
}

const char *fuzz_record_key(uint32_t i, uint32_t salt)
{
        return v_key[(i * 5 + salt) % N(v_key)];
}

int fuzz_part_feed(struct fuzz_part *fp, int64_t first, uint32_t n, uint32_t salt)
{
        const struct sl_source *src = &fp->plan->sources[fp->src];
        struct sl_msg m[MAX_FEED] = {{0}};
        size_t at[MAX_FEED];
        int rc = 0;
        if (n > MAX_FEED)
                n = MAX_FEED;
        sl_buf_reset(&fp->rec);
        bool fb = src->format == SL_FMT_FLATBUFFERS;
        for (uint32_t i = 0; i < n; i++) {
                at[i] = fp->rec.len;
                if (fb)
                        fuzz_record_fb(src, i, salt, &fp->rec);
                else
                        fuzz_record(src, i, salt, &fp->rec);
        }
        if (!sl_buf_ok(&fp->rec))
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                const char *key = fuzz_record_key(i, salt);
                size_t end = i + 1 < n ? at[i + 1] : fp->rec.len;
                size_t skip = fb ? SL_FB_FRAME_HEAD : 0; /* a Kafka value: the bare buffer */
                m[i] = (struct sl_msg){.offset = first + i, .key = key,
                                       .klen = key ? strlen(key) : 0,
                                       .val = (i + salt) % 13 == 12 ? NULL : fp->rec.p + at[i] + skip,
                                       .vlen = end - at[i] - skip, .ts = 5000 + (int64_t)i * 1000};
        }
        uint32_t half = n / 2;
        rc = sl_part_records(fp->pt, m, half);
        fuzz_part_drain(fp);
        for (uint32_t i = half; i < n && rc == 0; i++) {
                rc = sl_part_record(fp->pt, m[i].offset, m[i].key, m[i].klen, m[i].val,
                                    m[i].vlen, m[i].ts);
                fuzz_part_drain(fp);
        }
        return rc;
}
