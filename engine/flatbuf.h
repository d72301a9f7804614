/*
 * flatbuf.h - FlatBuffers records (VALUE_FORMAT='FLATBUFFERS'): the
 * verifying decoder of input records, the encoder of output rows, and the
 * .fbs text that `sluice schema` prints.  Written from the FlatBuffers
 * binary format (no FlatBuffers library is linked).
 *
 * Layout.  A record is one table, the root of its buffer.  Field i is
 * column i of the CREATE STREAM column list (for a query's output: output
 * column i, in SELECT order), so the schema is fixed by the SQL:
 *
 *   STRING  -> string          BIGINT  -> long     INTEGER -> int
 *   DOUBLE  -> double          BOOLEAN -> bool
 *   the TIMESTAMP column       -> long (or int) of epoch milliseconds
 *
 * NULL.  Scalars are optional scalars (`= null` in the schema): an absent
 * field is SQL NULL and a present field holds its value, zero included,
 * which is what a missing or null member means in JSON.  An absent string
 * is NULL.  (A producer compiled from another schema, whose builder leaves
 * out fields equal to their default, must force defaults, or its zeros read
 * as NULL.)
 *
 * Framing.  Files hold size-prefixed buffers back to back: a 4-byte
 * little-endian length, then the buffer (flatc's FinishSizePrefixed).  A
 * Kafka message value is one bare buffer.
 *
 * Threads: a schema is immutable once planning is done; any number of
 * threads decode and encode at once.
 */
#ifndef SL_FLATBUF_H
#define SL_FLATBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/buf.h"
#include "engine/value.h"

/* Buffers are at least a root offset, a table's vtable offset and a
 * vtable header long, and shorter than 2 GiB (flatc's bounds). */
#define SL_FB_MIN_SIZE 12u
#define SL_FB_MAX_SIZE 0x7FFFFFFEu

/* Bytes of an output row (a frame) before the bare buffer; see sl_fb_row. */
#define SL_FB_FRAME_HEAD 8u

static inline uint32_t sl_fb_load_u32(const void *p)
{
        uint32_t v;
        memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap32(v);
#endif
        return v;
}

/* ---- decoding ----------------------------------------------------- */

/* A FLATBUFFERS source's layout and the columns its queries read. */
struct sl_fb_schema;

/* Copies types[0, ncols).  NULL on allocation failure. */
struct sl_fb_schema *sl_fb_schema_new(const enum sl_type *types, uint32_t ncols);
void sl_fb_schema_free(struct sl_fb_schema *fs);
/* Planning: column col is read by some query (or is the event time).
 * Decoding reads only such columns.  Idempotent. */
void sl_fb_schema_read(struct sl_fb_schema *fs, uint32_t col);
uint32_t sl_fb_schema_nread(const struct sl_fb_schema *fs);

enum sl_fb_status {
        SL_FB_OK = 0,
        SL_FB_ERR_SIZE,   /* shorter than SL_FB_MIN_SIZE or longer than SL_FB_MAX_SIZE */
        SL_FB_ERR_BOUNDS, /* an offset is 0 or negative where it may not be, or it or
                           * the element it leads to reaches outside the buffer */
        SL_FB_ERR_ALIGN,  /* a table, vtable, field or string is not aligned to its size */
        SL_FB_ERR_VTABLE, /* the vtable's size is odd, or the vtable runs past the end */
        SL_FB_ERR_STRING, /* a string runs past the end, or its terminating NUL is missing */
        SL_FB_ERR_UTF8,   /* a string that is read is not valid UTF-8 */
};

struct sl_fb_error {
        enum sl_fb_status status;
        uint32_t offset; /* where the failing element is (a string: its field) */
        int32_t field;   /* the column being read, or -1 (root, vtable) */
};

/*
 * Verifies and decodes buf[0, len), one bare buffer.  Sets out[c] for each
 * column c that sl_fb_schema_read() marked (SL_T_NULL when absent); other
 * columns are not written.  Strings point into buf (the caller owns it).
 *
 * What is verified is what is read, with flatc's Verifier rules: the root
 * offset (non-zero, positive, inside), the root table's vtable offset,
 * the vtable (even size, entirely inside), each field read (inside, and
 * aligned to its size), and each string read (its offset non-zero,
 * positive and inside, its length inside, the NUL after it inside, and
 * valid UTF-8).  Only the root table is read, so nesting depth and table
 * count limits cannot be reached.  Alignment is taken relative to the end
 * of the buffer: builders align every scalar relative to the end and pad
 * the finished buffer (size prefix included, when there is one) to its
 * largest alignment, so for any buffer a builder wrote this is the check
 * flatc makes relative to the start, whether the buffer came size-prefixed
 * from a file or bare from a Kafka message.
 *
 * O(columns read); no allocation.  Returns SL_FB_OK or the status also
 * stored in err->status.
 */
enum sl_fb_status sl_fb_decode(const struct sl_fb_schema *fs, const char *buf,
                               size_t len, struct sl_value *out,
                               struct sl_fb_error *err);

const char *sl_fb_status_str(enum sl_fb_status st);

/* ---- encoding ----------------------------------------------------- */

/*
 * Output rows are frames that read both ways:
 *
 *   [u32 n][u32 r + 4][ buffer X: u32 r | vtable | table | strings ]
 *    \____ a size-prefixed buffer of n = 4 + |X| bytes ____________/
 *
 * X alone (frame + SL_FB_FRAME_HEAD) is a complete buffer aligned to its
 * own start, with |X| a multiple of 8: what a Kafka message value holds.
 * Read as a size-prefixed buffer (file mode), the root offset r + 4 skips
 * X's own root offset and reaches the same table, and X's alignment holds
 * relative to the frame, since X starts 8 bytes in.  Both pass flatc's
 * Verifier with alignment checks.
 *
 * Layout of X, front to back: the root offset, the vtable (every field has
 * an entry; NULL values have 0), the table (8-byte fields, then 4-byte
 * ones, then bools; NULL fields keep their zeroed slot), the strings.
 */

/* Appends a frame of one table whose field i is vals[i] of declared type
 * types[i] (NULL values absent; SL_T_NULL types are always absent).
 * Allocation failure shows in sl_buf_ok(b). */
void sl_fb_encode(const enum sl_type *types, const struct sl_value *vals,
                  uint32_t n, struct sl_buf *b);

/* Appends the frame of one output row of q, from its environment (see
 * sl_row_json). */
struct sl_query;
void sl_fb_row(const struct sl_query *q, const struct sl_value *env,
               struct sl_buf *b);

/* ---- schema text -------------------------------------------------- */

/* The FlatBuffers type a column or output of type t is written as. */
const char *sl_fb_type_name(enum sl_type t);

/*
 * Appends the .fbs text of the plan: every FLATBUFFERS stream and query
 * when name is NULL, else the stream or query called name (whatever its
 * format) followed by its root_type.  Returns 0, -ENOENT (no stream or
 * query of that name) or -ENODATA (name NULL and nothing is FLATBUFFERS).
 */
struct sl_plan;
int sl_fb_schema_text(const struct sl_plan *p, const char *name, struct sl_buf *b);

#endif
