/*
 * flatbuf.c - FlatBuffers records: decoder, encoder, schema text; see
 * flatbuf.h for the layout, the NULL rules and the framing.
 *
 * Decoding is the hot path of a FLATBUFFERS stream: every input record
 * goes through sl_fb_decode() once, on the file-mode dispatcher or on the
 * Kafka worker that owns the partition.  It costs a fixed number of loads
 * and bounds checks for the root table and its vtable, then one vtable
 * load, one bounds check, one alignment check and one typed load per
 * column the queries read (strings: their offset, length, terminator and
 * a UTF-8 pass, 8 bytes per step for ASCII).  Columns no query reads are
 * never looked at, so a record whose unread fields are damaged is still
 * decoded; this is the FlatBuffers contract (flatc's Verifier, too, only
 * checks the fields its schema declares).  All offset arithmetic is done
 * in 64 bits on values bounded by the buffer length (< 2^31), so nothing
 * wraps.
 *
 * Encoding builds one output row front to back into a struct sl_buf
 * without a builder: the layout of a row is fixed by its output types, so
 * the positions of the root offset, vtable, table and fields are known
 * before any value is written; only strings are appended as they come.
 * Workers call it (sl_row_json, for every row of a FLATBUFFERS query);
 * so does tests/fb_convert, which turns NDJSON test inputs into records.
 *
 * The schema text is built at start, on the calling thread.  Also here:
 * sluice_pipeline_schema(), the public API around it.
 */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/flatbuf.h"
#include "engine/plan.h"
#include "engine/report.h"

/* ---- little-endian access ----------------------------------------- */

static inline uint16_t ld16(const unsigned char *p)
{
        uint16_t v;
        memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap16(v);
#endif
        return v;
}

static inline uint32_t ld32(const unsigned char *p)
{
        return sl_fb_load_u32(p);
}

static inline uint64_t ld64(const unsigned char *p)
{
        uint64_t v;
        memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        return v;
}

static inline void st16(unsigned char *p, uint16_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap16(v);
#endif
        memcpy(p, &v, sizeof v);
}

static inline void st32(unsigned char *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap32(v);
#endif
        memcpy(p, &v, sizeof v);
}

static inline void st64(unsigned char *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
#endif
        memcpy(p, &v, sizeof v);
}

/* Bytes a field of type t takes in a table (a string: its offset); 0:
 * never stored. */
static const uint8_t fb_size[] = {
        [SL_T_NULL] = 0, [SL_T_BOOL] = 1, [SL_T_INT] = 4,
        [SL_T_BIGINT] = 8, [SL_T_DOUBLE] = 8, [SL_T_STRING] = 4,
};

static inline uint32_t field_size(enum sl_type t)
{
        assert((unsigned)t < sizeof fb_size);
        return fb_size[t];
}

/* ---- schema ------------------------------------------------------- */

struct fb_field {
        uint16_t col;
        uint16_t slot; /* byte offset of its entry in the vtable: 4 + 2 * col */
        uint8_t type;  /* enum sl_type */
        uint8_t size;  /* field_size(type) */
};

struct sl_fb_schema {
        uint32_t ncols;
        uint32_t nread;
        uint8_t *types;          /* [ncols] */
        struct fb_field read[];  /* [nread], in the order they were marked */
};

struct sl_fb_schema *sl_fb_schema_new(const enum sl_type *types, uint32_t ncols)
{
        /* A vtable entry's offset is a uint16_t. */
        if (ncols > (UINT16_MAX - 4) / 2)
                return NULL;
        struct sl_fb_schema *fs = malloc(sizeof *fs + ncols * sizeof fs->read[0] + ncols);
        if (!fs)
                return NULL;
        fs->ncols = ncols;
        fs->nread = 0;
        fs->types = (uint8_t *)(fs->read + ncols);
        for (uint32_t c = 0; c < ncols; c++)
                fs->types[c] = (uint8_t)types[c];
        return fs;
}

void sl_fb_schema_free(struct sl_fb_schema *fs)
{
        free(fs);
}

void sl_fb_schema_read(struct sl_fb_schema *fs, uint32_t col)
{
        assert(col < fs->ncols);
        for (uint32_t i = 0; i < fs->nread; i++)
                if (fs->read[i].col == col)
                        return;
        enum sl_type t = (enum sl_type)fs->types[col];
        fs->read[fs->nread++] = (struct fb_field){
                .col = (uint16_t)col, .slot = (uint16_t)(4 + 2 * col),
                /* A NULL-typed column (only a query output can be one)
                 * reads as NULL whatever a writer put there. */
                .type = (uint8_t)t, .size = (uint8_t)(field_size(t) ? field_size(t) : 1)};
}

uint32_t sl_fb_schema_nread(const struct sl_fb_schema *fs)
{
        return fs->nread;
}

/* ---- decoding ----------------------------------------------------- */

/*
 * RFC 3629 UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF),
 * ASCII 8 bytes per step.
 */
static bool utf8_valid(const unsigned char *s, size_t n)
{
        size_t i = 0;
        for (;;) {
                while (i + 8 <= n) {
                        uint64_t w;
                        memcpy(&w, s + i, 8);
                        if (w & 0x8080808080808080ull)
                                break;
                        i += 8;
                }
                while (i < n && s[i] < 0x80)
                        i++;
                if (i == n)
                        return true;
                unsigned c = s[i];
                unsigned lo = 0x80, hi = 0xBF;
                size_t k;
                if (c >= 0xC2 && c <= 0xDF) {
                        k = 1;
                } else if (c >= 0xE0 && c <= 0xEF) {
                        k = 2;
                        if (c == 0xE0)
                                lo = 0xA0;
                        else if (c == 0xED)
                                hi = 0x9F;
                } else if (c >= 0xF0 && c <= 0xF4) {
                        k = 3;
                        if (c == 0xF0)
                                lo = 0x90;
                        else if (c == 0xF4)
                                hi = 0x8F;
                } else {
                        return false;
                }
                if (n - i <= k)
                        return false;
                if (s[i + 1] < lo || s[i + 1] > hi)
                        return false;
                for (size_t j = 2; j <= k; j++)
                        if ((s[i + j] & 0xC0) != 0x80)
                                return false;
                i += k + 1;
        }
}

/* Aligned to a (a power of two) relative to the end of a len-byte buffer. */
static inline bool aligned(uint64_t len, uint64_t pos, uint64_t a)
{
        return ((len - pos) & (a - 1)) == 0;
}

/*
 * The string whose offset is at pos: the offset non-zero and positive, the
 * string 4-aligned with its length inside, its bytes and NUL inside, its
 * bytes UTF-8.  Short ASCII strings (user ids, names) cost one or two
 * 8-byte loads: a string under 8 bytes is read as the masked word at its
 * start when the buffer has 8 bytes there, else byte by byte.
 */
static inline enum sl_fb_status string_at(const unsigned char *b, uint64_t n, uint64_t pos,
                                          struct sl_value *v)
{
        uint64_t o = ld32(b + pos);
        if (o == 0 || o > 0x7FFFFFFFu || pos + o > n - 4)
                return SL_FB_ERR_BOUNDS;
        uint64_t s = pos + o;
        if (!aligned(n, s, 4))
                return SL_FB_ERR_ALIGN;
        uint64_t slen = ld32(b + s);
        /* The bytes and the NUL after them are inside (n - s >= 4 here). */
        if (slen + 5 > n - s || b[s + 4 + slen] != 0)
                return SL_FB_ERR_STRING;
        const unsigned char *t = b + s + 4;
        uint64_t acc = 0;
        if (slen >= 8) {
                /* First and last word; the loop only runs past 16 bytes. */
                acc = ld64(t) | ld64(t + slen - 8);
                for (uint64_t i = 8; i + 8 < slen; i += 8)
                        acc |= ld64(t + i);
        } else if (n - (s + 4) >= 8) {
                acc = ld64(t) & ((1ull << (8 * slen)) - 1);
        } else {
                for (uint64_t i = 0; i < slen; i++)
                        acc |= t[i];
        }
        if ((acc & 0x8080808080808080ull) && !utf8_valid(t, slen))
                return SL_FB_ERR_UTF8;
        v->u.s.p = (const char *)t;
        v->u.s.len = (uint32_t)slen;
        return SL_FB_OK;
}

__attribute__((cold, noinline))
static enum sl_fb_status fail(struct sl_fb_error *err, enum sl_fb_status st,
                              uint64_t offset, int32_t field)
{
        err->status = st;
        err->offset = offset > UINT32_MAX ? UINT32_MAX : (uint32_t)offset;
        err->field = field;
        return st;
}

enum sl_fb_status sl_fb_decode(const struct sl_fb_schema *restrict fs, const char *buf,
                               size_t len, struct sl_value *restrict out,
                               struct sl_fb_error *err)
{
        const unsigned char *b = (const unsigned char *)buf;
        if (len < SL_FB_MIN_SIZE || len > SL_FB_MAX_SIZE)
                return fail(err, SL_FB_ERR_SIZE, 0, -1);
        uint64_t n = len;

        /* Root offset: non-zero, positive, and a table's soffset fits there. */
        uint64_t root = ld32(b);
        if (root == 0 || root > n - 4)
                return fail(err, SL_FB_ERR_BOUNDS, 0, -1);
        if (!aligned(n, root, 4))
                return fail(err, SL_FB_ERR_ALIGN, root, -1);

        /* vtable = table - soffset: inside, 2-aligned, even size, all inside. */
        int64_t vt = (int64_t)root - (int32_t)ld32(b + root);
        if (vt < 0 || (uint64_t)vt > n - 2)
                return fail(err, SL_FB_ERR_BOUNDS, root, -1);
        if (!aligned(n, (uint64_t)vt, 2))
                return fail(err, SL_FB_ERR_ALIGN, (uint64_t)vt, -1);
        uint32_t vsize = ld16(b + vt);
        if ((vsize & 1) || vsize > n - (uint64_t)vt)
                return fail(err, SL_FB_ERR_VTABLE, (uint64_t)vt, -1);
        const unsigned char *vtab = b + vt;

        const uint32_t nread = fs->nread;
        enum sl_fb_status st;
        uint64_t pos;
        uint32_t i;
        for (i = 0; i < nread; i++) {
                const struct fb_field *f = &fs->read[i];
                struct sl_value *v = &out[f->col];
                uint32_t fo = f->slot < vsize ? ld16(vtab + f->slot) : 0;
                if (fo == 0) {
                        v->type = SL_T_NULL;
                        continue;
                }
                pos = root + fo;
                uint32_t size = f->size;
                /* One test for both; the cold path tells them apart. */
                if (pos > n - size || !aligned(n, pos, size)) {
                        st = pos > n - size ? SL_FB_ERR_BOUNDS : SL_FB_ERR_ALIGN;
                        goto bad;
                }
                const unsigned char *p = b + pos;
                /* By width: BIGINT and DOUBLE are the same 8 bytes in the
                 * union, so only strings and the narrow types differ. */
                if (f->type == SL_T_STRING) {
                        if ((st = string_at(b, n, pos, v)) != SL_FB_OK)
                                goto bad;
                } else if (size == 8) {
                        uint64_t bits = ld64(p);
                        memcpy(&v->u, &bits, sizeof bits);
                } else if (size == 4) {
                        v->u.i = (int32_t)ld32(p);
                } else {
                        v->u.b = *p != 0;
                }
                v->type = f->type;
        }
        err->status = SL_FB_OK;
        return SL_FB_OK;
bad:
        return fail(err, st, pos, fs->read[i].col);
}

const char *sl_fb_status_str(enum sl_fb_status st)
{
        switch (st) {
        case SL_FB_OK: return "ok";
        case SL_FB_ERR_SIZE: return "buffer too short or too long";
        case SL_FB_ERR_BOUNDS: return "offset out of bounds";
        case SL_FB_ERR_ALIGN: return "misaligned";
        case SL_FB_ERR_VTABLE: return "bad vtable";
        case SL_FB_ERR_STRING: return "bad string";
        case SL_FB_ERR_UTF8: return "string is not UTF-8";
        }
        return "?";
}

/* ---- encoding ----------------------------------------------------- */

/*
 * One frame being written into b.  Offsets are relative to b->p (which
 * may move as strings are appended); x is where buffer X starts.
 */
struct fb_writer {
        struct sl_buf *b;
        size_t x;
        uint32_t tpos;       /* table, relative to x */
        uint32_t cur[3];     /* next 8-, 4-, 1-byte field slot, relative to x */
        bool ok;
};

/* Fields are laid out 8-byte ones first, then 4-byte ones, then bools. */
static inline uint32_t size_class(uint32_t size)
{
        return (9 - size) >> 2; /* 8 -> 0, 4 -> 1, 1 -> 2 */
}

/* Writes n (< 8) zero bytes: padding, too short for a memset call. */
static inline void zero_small(unsigned char *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                p[i] = 0;
}

/* Reserves and zeroes the fixed part: frame head, root, vtable, table. */
static void fbw_begin(struct fb_writer *w, struct sl_buf *b, uint32_t n,
                      const uint32_t count[3])
{
        uint32_t vsize = 4 + 2 * n;
        /* The table starts at 4 mod 8, so 8-byte fields after its soffset
         * are 8-aligned. */
        uint32_t tpos = (4 + vsize + 3) & ~3u;
        if ((tpos & 7) == 0)
                tpos += 4;
        uint32_t tsize = 4 + 8 * count[0] + 4 * count[1] + count[2];
        uint32_t fixed = (tpos + tsize + 3) & ~3u;
        *w = (struct fb_writer){.b = b, .x = b->len + SL_FB_FRAME_HEAD, .tpos = tpos};
        w->ok = sl_buf_reserve(b, SL_FB_FRAME_HEAD + fixed + 8);
        if (!w->ok)
                return;
        unsigned char *f = (unsigned char *)b->p + b->len;
        memset(f, 0, SL_FB_FRAME_HEAD + fixed);
        unsigned char *x = f + SL_FB_FRAME_HEAD;
        st32(x, tpos);
        st16(x + 4, (uint16_t)vsize);
        st16(x + 6, (uint16_t)tsize);
        st32(x + tpos, tpos - 4); /* soffset: the vtable (at 4) is tpos - 4 before */
        b->len += SL_FB_FRAME_HEAD + fixed;
        w->cur[0] = tpos + 4;
        w->cur[1] = w->cur[0] + 8 * count[0];
        w->cur[2] = w->cur[1] + 4 * count[1];
}

/* Field i of declared type t: takes its slot, and stores v unless NULL. */
static inline void fbw_field(struct fb_writer *w, uint32_t i, enum sl_type t,
                             const struct sl_value *v)
{
        uint32_t size = field_size(t);
        if (size == 0)
                return;
        uint32_t c = size_class(size);
        uint32_t pos = w->cur[c];
        w->cur[c] = pos + size;
        if (v->type == SL_T_NULL || !w->ok)
                return;
        struct sl_buf *b = w->b;
        if (t == SL_T_STRING) {
                assert(v->type == SL_T_STRING);
                size_t s = (b->len - w->x + 3) & ~(size_t)3;
                size_t need = (s - (b->len - w->x)) + 4 + (size_t)v->u.s.len + 1 + 8;
                if (s + 4 + (size_t)v->u.s.len + 1 > SL_FB_MAX_SIZE - 16 ||
                    !sl_buf_reserve(b, need)) {
                        w->ok = false;
                        b->oom = true;
                        return;
                }
                unsigned char *x = (unsigned char *)b->p + w->x;
                zero_small(x + (b->len - w->x), s - (b->len - w->x));
                st32(x + s, v->u.s.len);
                memcpy(x + s + 4, v->u.s.p, v->u.s.len);
                x[s + 4 + v->u.s.len] = 0;
                b->len = w->x + s + 4 + v->u.s.len + 1;
                st32(x + pos, (uint32_t)(s - pos));
        } else if (size == 8) {
                /* BIGINT and DOUBLE: the union's 8 bytes, except that an
                 * integer-valued expression may feed a DOUBLE field. */
                assert(t == SL_T_DOUBLE || sl_type_is_int((enum sl_type)v->type));
                uint64_t bits;
                if (t == SL_T_DOUBLE && v->type != SL_T_DOUBLE) {
                        double d = (double)v->u.i;
                        memcpy(&bits, &d, sizeof d);
                } else {
                        memcpy(&bits, &v->u, sizeof bits);
                }
                st64((unsigned char *)b->p + w->x + pos, bits);
        } else if (size == 4) { /* values of INTEGER expressions are in range */
                assert(sl_type_is_int((enum sl_type)v->type));
                st32((unsigned char *)b->p + w->x + pos, (uint32_t)(int32_t)v->u.i);
        } else {
                *((unsigned char *)b->p + w->x + pos) = v->u.b ? 1 : 0;
        }
        st16((unsigned char *)b->p + w->x + 8 + 2 * i, (uint16_t)(pos - w->tpos));
}

/* Pads X to a multiple of 8 and writes the frame head. */
static void fbw_end(struct fb_writer *w)
{
        struct sl_buf *b = w->b;
        if (!w->ok)
                return;
        size_t xl = b->len - w->x;
        size_t pad = (8 - (xl & 7)) & 7;
        zero_small((unsigned char *)b->p + b->len, pad); /* every append left 8 spare */
        b->len += pad;
        xl += pad;
        unsigned char *f = (unsigned char *)b->p + w->x - SL_FB_FRAME_HEAD;
        st32(f, (uint32_t)(xl + 4));
        st32(f + 4, w->tpos + 4);
}

void sl_fb_encode(const enum sl_type *types, const struct sl_value *vals,
                  uint32_t n, struct sl_buf *b)
{
        uint32_t count[3] = {0};
        for (uint32_t i = 0; i < n; i++)
                if (field_size(types[i]))
                        count[size_class(field_size(types[i]))]++;
        struct fb_writer w;
        fbw_begin(&w, b, n, count);
        for (uint32_t i = 0; i < n; i++)
                fbw_field(&w, i, types[i], &vals[i]);
        fbw_end(&w);
}

void sl_fb_row(const struct sl_query *q, const struct sl_value *env,
               struct sl_buf *b)
{
        uint32_t count[3] = {0};
        for (uint32_t i = 0; i < q->nout; i++) {
                uint32_t size = field_size(sl_prog_type(q->out[i].prog));
                if (size)
                        count[size_class(size)]++;
        }
        struct fb_writer w;
        fbw_begin(&w, b, q->nout, count);
        for (uint32_t i = 0; i < q->nout; i++) {
                struct sl_value v;
                sl_prog_eval(q->out[i].prog, env, &v);
                fbw_field(&w, i, sl_prog_type(q->out[i].prog), &v);
        }
        fbw_end(&w);
}

/* ---- schema text -------------------------------------------------- */

const char *sl_fb_type_name(enum sl_type t)
{
        switch (t) {
        case SL_T_BOOL: return "bool";
        case SL_T_INT: return "int";
        case SL_T_BIGINT: return "long";
        case SL_T_DOUBLE: return "double";
        case SL_T_STRING:
        case SL_T_NULL: /* a literal NULL: a field that is always absent */
        case SL_T_ARRAY: /* never: the planner refuses arrays in FlatBuffers rows */
                break;
        }
        return "string";
}

/* name as a FlatBuffers identifier: [A-Za-z_][A-Za-z0-9_]*. */
static void ident(const char *name, char *out, size_t cap)
{
        size_t k = 0;
        if (!(*name >= 'A' && *name <= 'Z') && !(*name >= 'a' && *name <= 'z') && *name != '_')
                out[k++] = '_';
        for (const char *c = name; *c && k + 1 < cap; c++) {
                bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                          (*c >= '0' && *c <= '9') || *c == '_';
                out[k++] = ok ? *c : '_';
        }
        out[k] = '\0';
}

/* A unique identifier among names[0, i) (their identifiers), suffixed
 * with _<i> when sanitising made two names equal. */
static void unique_ident(const char *const *names, uint32_t i, char *out, size_t cap)
{
        char other[160];
        ident(names[i], out, cap);
        for (uint32_t j = 0; j < i; j++) {
                ident(names[j], other, sizeof other);
                if (strcmp(other, out) == 0) {
                        size_t k = strlen(out);
                        snprintf(out + k, cap - k, "_%u", i);
                        return;
                }
        }
}

static void add_table(struct sl_buf *b, const char *tname, uint32_t n,
                      const char *const *names, const enum sl_type *types,
                      const char *const *notes)
{
        char id[160];
        ident(tname, id, sizeof id);
        sl_buf_addf(b, "table %s {\n", id);
        for (uint32_t i = 0; i < n; i++) {
                unique_ident(names, i, id, sizeof id);
                bool scalar = types[i] != SL_T_STRING && types[i] != SL_T_NULL;
                sl_buf_addf(b, "  %s: %s%s (id: %u);", id, sl_fb_type_name(types[i]),
                            scalar ? " = null" : "", i);
                if (notes[i])
                        sl_buf_addf(b, "  // %s", notes[i]);
                sl_buf_addc(b, '\n');
        }
        sl_buf_adds(b, "}\n");
}

static int source_table(const struct sl_source *s, struct sl_buf *b)
{
        const char **names = calloc(s->ncols, sizeof *names);
        const char **notes = calloc(s->ncols, sizeof *notes);
        enum sl_type *types = calloc(s->ncols, sizeof *types);
        int rc = -ENOMEM;
        if (!names || !notes || !types)
                goto out;
        for (uint32_t c = 0; c < s->ncols; c++) {
                names[c] = s->cols[c].name;
                types[c] = s->cols[c].type;
                if ((int)c == s->ts_col)
                        notes[c] = "TIMESTAMP: event time, epoch milliseconds";
                else if (s->cols[c].key)
                        notes[c] = "KEY: the Kafka message key when there is one";
        }
        sl_buf_addf(b, "\n// stream %s <- topic '%s' (VALUE_FORMAT='%s')\n", s->name, s->topic,
                    s->format == SL_FMT_FLATBUFFERS ? "FLATBUFFERS" : "JSON");
        add_table(b, s->name, s->ncols, names, types, notes);
        rc = 0;
out:
        free(names);
        free(notes);
        free(types);
        return rc;
}

static int query_table(const struct sl_query *q, struct sl_buf *b)
{
        uint32_t n = q->nout;
        const char **names = calloc(n ? n : 1, sizeof *names);
        const char **notes = calloc(n ? n : 1, sizeof *notes);
        enum sl_type *types = calloc(n ? n : 1, sizeof *types);
        int rc = -ENOMEM;
        if (!names || !notes || !types)
                goto out;
        for (uint32_t i = 0; i < n; i++) {
                names[i] = q->out[i].name;
                types[i] = sl_prog_type(q->out[i].prog);
                notes[i] = types[i] == SL_T_NULL ? "always NULL" : NULL;
        }
        sl_buf_addf(b, "\n// %s %s -> topic '%s' (VALUE_FORMAT='%s'): one table per output row\n",
                    q->kind == SL_Q_AGGREGATE ? "table" : "stream", q->name, q->topic,
                    q->format == SL_FMT_FLATBUFFERS ? "FLATBUFFERS" : "JSON");
        add_table(b, q->name, n, names, types, notes);
        rc = 0;
out:
        free(names);
        free(notes);
        free(types);
        return rc;
}

int sl_fb_schema_text(const struct sl_plan *p, const char *name, struct sl_buf *b)
{
        int src = -1, qry = -1;
        if (name) {
                src = sl_plan_source_index(p, name);
                for (uint32_t i = 0; i < p->nqueries && src < 0; i++)
                        if (strcmp(p->queries[i].name, name) == 0)
                                qry = (int)i;
                if (src < 0 && qry < 0)
                        return -ENOENT;
                /* Only a JSON query can have an ARRAY (the planner keeps
                 * them out of FlatBuffers rows): no table for its rows. */
                for (uint32_t i = 0; qry >= 0 && i < p->queries[qry].nout; i++)
                        if (sl_prog_type(p->queries[qry].out[i].prog) == SL_T_ARRAY)
                                return -ENOTSUP;
        } else {
                bool any = false;
                for (uint32_t i = 0; i < p->nsources; i++)
                        any |= p->sources[i].format == SL_FMT_FLATBUFFERS;
                for (uint32_t i = 0; i < p->nqueries; i++)
                        any |= p->queries[i].format == SL_FMT_FLATBUFFERS;
                if (!any)
                        return -ENODATA;
        }
        const char *base = strrchr(p->file, '/');
        base = base ? base + 1 : p->file;
        sl_buf_addf(b,
                "// FlatBuffers schema of %s, printed by `sluice schema`.\n"
                "//\n"
                "// A record is one table, the root of its buffer.  Field i is column i of\n"
                "// the CREATE STREAM (for a query: output column i, in SELECT order): the\n"
                "// ids are fixed by the SQL.  Scalars are optional (= null): an absent field\n"
                "// is SQL NULL, a present one holds its value, 0 included.  Files hold\n"
                "// size-prefixed buffers (FinishSizePrefixed); a Kafka message value is one\n"
                "// buffer.  Compile with flatc (e.g. flatc --cpp FILE.fbs).\n"
                "\nnamespace sluice;\n",
                base);
        int rc = 0;
        for (uint32_t i = 0; i < p->nsources && rc == 0; i++)
                if (name ? (int)i == src : p->sources[i].format == SL_FMT_FLATBUFFERS)
                        rc = source_table(&p->sources[i], b);
        for (uint32_t i = 0; i < p->nqueries && rc == 0; i++)
                if (name ? (int)i == qry : p->queries[i].format == SL_FMT_FLATBUFFERS)
                        rc = query_table(&p->queries[i], b);
        if (rc == 0 && name) {
                char id[160];
                ident(name, id, sizeof id);
                sl_buf_addf(b, "\nroot_type %s;\n", id);
        }
        if (rc == 0 && !sl_buf_ok(b))
                rc = -ENOMEM;
        return rc;
}

char *sluice_pipeline_schema(const struct sluice_pipeline *p, const char *name,
                             char *err, size_t errlen)
{
        struct sl_buf b = {0};
        int rc = sl_fb_schema_text(p->plan, name, &b);
        if (rc == 0) {
                sl_buf_addc(&b, '\0');
                if (sl_buf_ok(&b))
                        return b.p;
                rc = -ENOMEM;
        }
        if (rc == -ENOENT)
                snprintf(err, errlen, "%s: no stream or query named '%s'", p->plan->file, name);
        else if (rc == -ENOTSUP)
                snprintf(err, errlen,
                         "%s: query '%s' has an ARRAY field, which FlatBuffers rows cannot hold yet",
                         p->plan->file, name);
        else if (rc == -ENODATA)
                snprintf(err, errlen,
                         "%s: no stream or query has VALUE_FORMAT='FLATBUFFERS' "
                         "(name one to print its layout anyway)", p->plan->file);
        else
                snprintf(err, errlen, "out of memory");
        sl_buf_free(&b);
        return NULL;
}
