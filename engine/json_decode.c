/*
 * json_decode.c - the record decoder: one JSON object in, one struct
 * sl_value per declared column out.  This is the engine's hot path; every
 * input record of a JSON stream goes through sl_json_decode() once.
 *
 * Design
 *
 * One forward pass over the bytes, no allocation, no recursion.  The top
 * level object is walked by sl_json_decode() itself: each key is looked up
 * in the schema, a declared column's value is parsed straight into out[],
 * any other value is skipped by skip_value(), which validates it with an
 * explicit stack of container kinds (one bit per level in a uint64_t, so
 * SL_JSON_MAX_DEPTH = 64 open containers, the top level object included).
 *
 * Strings are scanned 16 bytes at a time with SSE2 where the compiler
 * targets it (all of x86-64), else 8 at a time in a uint64_t (SWAR): one
 * load finds the first byte that is '"', '\\', a control character or
 * non-ASCII, so plain ASCII runs cost a few instructions per 8-16 bytes.
 * The last bytes of a record are read as the word ending at buf + len,
 * shifted, so there is no byte loop at the end of a record either.
 * Non-ASCII bytes are validated as UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF) wherever they appear, keys and
 * skipped values included.
 *
 * Keys are found through a small open-addressing table built by
 * sl_json_schema_new(): one multiply hashes (first 8 bytes, length),
 * linear probing at <= 25% load, a slot matches on (first word, length)
 * and then on the rest in word compares.  For keys under 8 bytes the one
 * SWAR load that finds the closing quote also yields the hash input, so
 * such a key costs one load, one multiply and one slot compare.  Before
 * that, the decoder guesses that members come in the declared column
 * order and checks the guessed name in place (no scan, no hash).  A key
 * that contains escapes is unescaped into scratch first (rare path).
 *
 * Numbers: digits are read 8 at a time (SWAR), integers exactly, checked
 * against int64 (int32 for INTEGER).  Doubles take Clinger's fast path
 * (<= 19 digits, mantissa <= 2^53, |power of ten| <= 22: one exact
 * multiply or divide, correctly rounded under FLT_EVAL_METHOD 0); all
 * other numbers are rewritten as "[-]DIGITSeEXP" in a fixed stack buffer
 * and given to strtod().  That form has no decimal point, so the result
 * does not depend on LC_NUMERIC.  Numbers of any length are handled: past
 * 800 significant digits the rest only matters as "nonzero or not" for
 * rounding (a halfway point between doubles needs at most 767 digits), so
 * it is kept as one sticky '1' digit.  A number whose magnitude rounds to
 * infinity is an ERR_TYPE for a DOUBLE column: the column cannot hold it.
 *
 * Strings of STRING columns point into buf when they have no escape;
 * otherwise they are decoded into scratch at the same offset as in buf,
 * so distinct strings never overlap in scratch and nothing needs a cursor
 * (a decoded string is never longer than its source).
 *
 * Guarantees
 *
 * - The whole record is validated against RFC 8259, so a record that is
 *   not JSON is ERR_SYNTAX even if its damage lies in a skipped member.
 *   ERR_SYNTAX wins over ERR_TYPE: a type error is remembered and
 *   reported only once the rest of the record proved to be valid JSON.
 *   Likewise ERR_NOT_OBJECT is only reported for valid JSON.
 * - A lone surrogate escape (\ud800) is valid JSON grammar and is
 *   accepted in skipped strings; in a STRING column it cannot become
 *   UTF-8 and is ERR_SYNTAX; in a key it cannot match any column name and
 *   the member is skipped.
 * - Reads never go past buf + len; no NUL terminator or padding needed.
 * - Records must be shorter than 4 GiB (offsets and string lengths are
 *   32-bit); longer ones are rejected as ERR_SYNTAX at offset 0.
 * - A column name declared twice: the first column gets the member, the
 *   later one stays NULL.  The planner rejects such schemas anyway.
 *
 * Threads: a schema is immutable after sl_json_schema_new(); any number
 * of threads may call sl_json_decode() with it at once, each with its own
 * out[] and scratch.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json_decode.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SL_LIKELY(x) __builtin_expect(!!(x), 1)
#define SL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SL_COLD __attribute__((cold, noinline))
#define SL_INLINE inline __attribute__((always_inline))
#else
#define SL_LIKELY(x) (x)
#define SL_UNLIKELY(x) (x)
#define SL_COLD
#define SL_INLINE inline
#endif

/* Significant digits kept for strtod() before the sticky digit. */
#define SL_NUM_DIGITS 800

/* A slot is matched by its first word and length before any byte compare. */
struct sl_json_slot {
        uint64_t word;    /* first min(len, 8) name bytes, zero padded (memcpy order) */
        uint32_t len;     /* UINT32_MAX: empty slot, matches no key */
        uint32_t col;
        const char *name; /* into the schema's own copy, not NUL-terminated */
};

/*
 * Column i's name for the in-order guess (see sl_json_decode): the name
 * as the record would spell it without escapes, matched in place.
 */
struct sl_json_guess {
        uint64_t word;    /* first min(len, 8) bytes, as sl_key_word() */
        uint64_t mask;    /* selects those bytes of a loaded word */
        uint32_t len;
        bool usable;      /* no byte that JSON would escape; not a duplicate */
        const char *name;
};

struct sl_json_schema {
        uint32_t nfields;
        uint32_t mask;   /* number of slots - 1 */
        uint32_t maxlen; /* longest column name: longer keys skip the lookup */
        uint8_t *types;  /* [nfields], enum sl_type */
        struct sl_json_slot *slots;
        struct sl_json_guess *guess; /* [nfields] */
};

struct sl_json_dec {
        const char *buf;
        const char *end;
        char *scratch;
        uint32_t err_off;  /* ERR_SYNTAX position */
        int32_t type_col;  /* first ERR_TYPE column, -1 while none */
        uint32_t type_off;
};

/* One multiply: the key's first word is already in a register when the
 * scanner found its closing quote (see sl_json_decode). */
static inline uint32_t sl_json_key_hash(uint64_t word, uint32_t n)
{
        return (uint32_t)(((word + n) * 0x9E3779B97F4A7C15ull) >> 40);
}

static inline uint64_t sl_key_word(const char *k, uint32_t n)
{
        uint64_t w = 0;
        memcpy(&w, k, n < 8 ? n : 8);
        return w;
}

struct sl_json_schema *sl_json_schema_new(const struct sl_json_field *fields,
                                          uint32_t nfields)
{
        if (nfields > (1u << 24)) /* no real schema; keeps 4 * nfields in range */
                return NULL;
        uint32_t nslots = 8;
        while (nslots < 4 * nfields)
                nslots *= 2;
        size_t names = 0;
        for (uint32_t i = 0; i < nfields; i++) {
                size_t n = strlen(fields[i].name);
                if (n >= UINT32_MAX)
                        return NULL;
                names += n;
        }

        /* One block: schema, slots, guesses, name bytes, types. */
        size_t sz = sizeof(struct sl_json_schema) +
                    nslots * sizeof(struct sl_json_slot) +
                    nfields * sizeof(struct sl_json_guess) + names + nfields;
        struct sl_json_schema *js = calloc(1, sz);
        if (!js)
                return NULL;
        js->nfields = nfields;
        js->mask = nslots - 1;
        js->slots = (struct sl_json_slot *)(js + 1);
        js->guess = (struct sl_json_guess *)(js->slots + nslots);
        char *np = (char *)(js->guess + nfields);
        js->types = (uint8_t *)(np + names);

        for (uint32_t i = 0; i < nslots; i++)
                js->slots[i].len = UINT32_MAX;
        for (uint32_t i = 0; i < nfields; i++) {
                uint32_t n = (uint32_t)strlen(fields[i].name);
                memcpy(np, fields[i].name, n);
                js->types[i] = (uint8_t)fields[i].type;
                if (n > js->maxlen)
                        js->maxlen = n;
                uint64_t w = sl_key_word(np, n);
                struct sl_json_guess *g = &js->guess[i];
                g->word = w;
                g->mask = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
                g->len = n;
                g->name = np;
                /* Matching such a name byte for byte proves the key is
                 * plain ASCII/UTF-8 the scanner would have accepted. */
                g->usable = true;
                for (uint32_t k = 0; k < n; k++) {
                        unsigned char c = (unsigned char)np[k];
                        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
                                g->usable = false;
                }
                uint32_t h = sl_json_key_hash(w, n) & js->mask;
                for (;;) {
                        struct sl_json_slot *s = &js->slots[h];
                        if (s->len == UINT32_MAX) {
                                s->word = w;
                                s->name = np;
                                s->len = n;
                                s->col = i;
                                break;
                        }
                        if (s->len == n && memcmp(s->name, np, n) == 0) {
                                g->usable = false; /* duplicate: first column keeps it */
                                break;
                        }
                        h = (h + 1) & js->mask;
                }
                np += n;
        }
        return js;
}

void sl_json_schema_free(struct sl_json_schema *js)
{
        free(js);
}

const char *sl_json_status_str(enum sl_json_status st)
{
        switch (st) {
        case SL_JSON_OK: return "ok";
        case SL_JSON_ERR_SYNTAX: return "invalid JSON";
        case SL_JSON_ERR_NOT_OBJECT: return "top-level value is not an object";
        case SL_JSON_ERR_TYPE: return "value of the wrong type for its column";
        }
        return "?";
}

static inline uint64_t sl_load64(const char *p)
{
        uint64_t x;
        memcpy(&x, p, 8);
        return x;
}

/* a[8..n) == b[8..n) for n > 8, in word loads, the last one overlapping. */
static inline bool sl_json_tail_eq(const char *a, const char *b, uint32_t n)
{
        uint32_t i = 8;
        for (; i + 8 < n; i += 8)
                if (sl_load64(a + i) != sl_load64(b + i))
                        return false;
        return sl_load64(a + n - 8) == sl_load64(b + n - 8);
}

/*
 * Finds the column of key k[0..n) whose first word is w.  Empty slots
 * have len UINT32_MAX and never match.
 */
static inline int32_t sl_json_lookup_word(const struct sl_json_schema *js,
                                          uint64_t w, const char *k, uint32_t n)
{
        uint32_t h = sl_json_key_hash(w, n) & js->mask;
        for (;;) {
                const struct sl_json_slot *s = &js->slots[h];
                if (s->word == w && s->len == n &&
                    (n <= 8 || sl_json_tail_eq(s->name, k, n)))
                        return (int32_t)s->col;
                if (s->len == UINT32_MAX)
                        return -1;
                h = (h + 1) & js->mask;
        }
}

static inline int32_t sl_json_lookup(const struct sl_json_schema *js,
                                     const char *k, uint32_t n)
{
        if (n > js->maxlen)
                return -1;
        return sl_json_lookup_word(js, n >= 8 ? sl_load64(k) : sl_key_word(k, n), k, n);
}

static SL_COLD const char *sl_json_fail(struct sl_json_dec *d, const char *p)
{
        d->err_off = (uint32_t)(p - d->buf);
        return NULL;
}

#define SL_WS_MASK ((1ull << ' ') | (1ull << '\t') | (1ull << '\n') | (1ull << '\r'))

static SL_INLINE const char *sl_json_ws(const char *p, const char *end)
{
        while (p < end && (unsigned char)*p <= ' ' &&
               ((SL_WS_MASK >> (unsigned char)*p) & 1))
                p++;
        return p;
}

/* Compact JSON has no whitespace: test one byte before entering the loop. */
#define SL_WS(p, end)                                                          \
        do {                                                                   \
                if (SL_UNLIKELY((p) < (end) && (unsigned char)*(p) <= ' '))    \
                        (p) = sl_json_ws((p), (end));                          \
        } while (0)

static inline bool sl_is_digit(char c)
{
        return (unsigned)(c - '0') < 10;
}

static inline int sl_hexval(char c)
{
        unsigned u = (unsigned char)c;
        if (u - '0' < 10)
                return (int)(u - '0');
        u |= 0x20;
        if (u - 'a' < 6)
                return (int)(u - 'a' + 10);
        return -1;
}

/* p[0..4) are hex digits (validated by the scanner). */
static inline uint32_t sl_hex4(const char *p)
{
        return (uint32_t)(sl_hexval(p[0]) << 12 | sl_hexval(p[1]) << 8 |
                          sl_hexval(p[2]) << 4 | sl_hexval(p[3]));
}

/* Length of the UTF-8 sequence at p (p[0] >= 0x80), 0 if invalid. */
static size_t sl_utf8_len(const unsigned char *p, const unsigned char *end)
{
        unsigned c = p[0];
        size_t avail = (size_t)(end - p);
        unsigned lo = 0x80, hi = 0xBF;

        if (c < 0xC2) /* continuation byte, or overlong C0/C1 lead */
                return 0;
        if (c < 0xE0)
                return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
        if (c < 0xF0) {
                if (c == 0xE0)
                        lo = 0xA0; /* overlong */
                else if (c == 0xED)
                        hi = 0x9F; /* UTF-16 surrogates */
                if (avail < 3 || p[1] < lo || p[1] > hi ||
                    (p[2] & 0xC0) != 0x80)
                        return 0;
                return 3;
        }
        if (c < 0xF5) {
                if (c == 0xF0)
                        lo = 0x90; /* overlong */
                else if (c == 0xF4)
                        hi = 0x8F; /* above U+10FFFF */
                if (avail < 4 || p[1] < lo || p[1] > hi ||
                    (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
                        return 0;
                return 4;
        }
        return 0;
}

/*
 * Flags (high bit of the byte) every byte of x that needs a closer look
 * inside a string: '"', '\\', < 0x20, >= 0x80.  A byte's high bit after
 * "- 1" (or "- 0x20") is set when it was 0 (below 0x20), or when it was
 * >= 0x80, which "| x" flags anyway: so the usual "& ~x" masks are not
 * needed.  A subtraction can borrow into the bytes after a true hit,
 * never before one, so the lowest flagged byte in memory order is always
 * a true hit.
 */
static inline uint64_t sl_str_special(uint64_t x)
{
        const uint64_t ones = 0x0101010101010101ull;
        uint64_t q = x ^ (ones * '"');
        uint64_t b = x ^ (ones * '\\');
        return ((q - ones) | (b - ones) | (x - ones * 0x20) | x) & (ones * 0x80);
}

/*
 * The last avail (1..7) bytes of a record of at least 8 bytes, as one
 * word starting at p: the word ending at end, shifted so that the bytes
 * before p drop out.  The zero bytes shifted in read as control
 * characters (strings) or non-digits (numbers), so they stop any scan.
 */
static inline uint64_t sl_load_tail(const char *end, size_t avail)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        return sl_load64(end - 8) << (64 - 8 * avail);
#else
        return sl_load64(end - 8) >> (64 - 8 * avail);
#endif
}

static inline unsigned sl_first_byte(uint64_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        return (unsigned)__builtin_clzll(m) >> 3;
#else
        return (unsigned)__builtin_ctzll(m) >> 3;
#endif
}

static const uint64_t sl_pow10_u64[9] = {
        1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};

/* Value of 8 ASCII digits, first digit in the lowest byte (Lemire). */
static inline uint64_t sl_parse8(uint64_t x)
{
        x &= 0x0F0F0F0F0F0F0F0Full;
        x = (x * (10 * 256 + 1)) >> 8;
        x = ((x & 0x00FF00FF00FF00FFull) * (100 * 65536 + 1)) >> 16;
        return ((x & 0x0000FFFF0000FFFFull) * (10000 * (1ull << 32) + 1)) >> 32;
}

/*
 * Accumulates the run of digits at p into *val (v * 10^k + digits,
 * wrapping past 19 digits: callers check the run's length) and returns
 * its end.  Eight digits per step, so a run's length costs no branch
 * per digit: the loop exit of a byte loop is what mispredicts on
 * numbers of varying length.
 */
static SL_INLINE const char *sl_json_digits(const char *p, const char *lo,
                                            const char *end, uint64_t *val)
{
        uint64_t v = *val;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        for (;;) {
                uint64_t x;
                size_t avail = (size_t)(end - p);
                if (SL_LIKELY(avail >= 8))
                        x = sl_load64(p);
                else if (avail && end - lo >= 8)
                        x = sl_load_tail(end, avail);
                else
                        break;
                /* high bit of each byte that is not '0'..'9' */
                uint64_t nd = (((x & 0xF0F0F0F0F0F0F0F0ull) ^ 0x3030303030303030ull) |
                               (((x + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) ^
                                0x3030303030303030ull));
                nd = (nd | (nd << 1) | (nd << 2) | (nd << 3)) & 0x8080808080808080ull;
                if (!nd) {
                        v = v * 100000000 + sl_parse8(x);
                        p += 8;
                        continue;
                }
                unsigned n = sl_first_byte(nd);
                /* shift the n digits to the top; zeros become leading digits */
                uint64_t t = n ? x << (64 - 8 * n) : 0;
                *val = v * sl_pow10_u64[n] + sl_parse8(t);
                return p + n;
        }
#endif
        while (p < end && sl_is_digit(*p))
                v = v * 10 + (unsigned)(*p++ - '0');
        *val = v;
        return p;
}

/*
 * One byte of a string body that the word scan stopped at, other than
 * the closing quote: an escape (validated, sets *esc), a UTF-8 sequence
 * (validated), a control character (error), or, in records shorter than
 * 8 bytes, plain ASCII.  Returns the position after it, or NULL.
 */
static const char *sl_json_string_byte(struct sl_json_dec *d, const char *p,
                                       bool *esc)
{
        const char *end = d->end;
        unsigned char c = (unsigned char)*p;
        if (c == '\\') {
                if (end - p < 2)
                        return sl_json_fail(d, p);
                switch (p[1]) {
                case '"': case '\\': case '/': case 'b':
                case 'f': case 'n': case 'r': case 't':
                        *esc = true;
                        return p + 2;
                case 'u':
                        if (end - p < 6 || sl_hexval(p[2]) < 0 || sl_hexval(p[3]) < 0 ||
                            sl_hexval(p[4]) < 0 || sl_hexval(p[5]) < 0)
                                return sl_json_fail(d, p);
                        *esc = true;
                        return p + 6;
                default:
                        return sl_json_fail(d, p);
                }
        }
        if (c < 0x20)
                return sl_json_fail(d, p);
        if (c >= 0x80) {
                size_t n = sl_utf8_len((const unsigned char *)p, (const unsigned char *)end);
                return n ? p + n : sl_json_fail(d, p);
        }
        return p + 1;
}

/*
 * Validates a string body; p is just past the opening quote.  Returns the
 * position just past the closing quote and sets *esc if a backslash was
 * seen, or NULL on a syntax error.
 */
static SL_INLINE const char *sl_json_scan_string(struct sl_json_dec *d,
                                                 const char *p, bool *esc)
{
        const char *end = d->end;
        for (;;) {
                size_t avail = (size_t)(end - p);
#if defined(__SSE2__)
                /* 16 bytes a step; the signed compare with 0x20 catches
                 * control characters and bytes >= 0x80 at once. */
                if (SL_LIKELY(avail >= 16)) {
                        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
                        __m128i q = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
                        __m128i b = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
                        __m128i c = _mm_cmplt_epi8(x, _mm_set1_epi8(0x20));
                        unsigned m16 = (unsigned)_mm_movemask_epi8(
                                _mm_or_si128(_mm_or_si128(q, b), c));
                        if (!m16) {
                                p += 16;
                                continue;
                        }
                        p += __builtin_ctz(m16);
                        goto found;
                }
#endif
                uint64_t x;
                if (SL_LIKELY(avail >= 8))
                        x = sl_load64(p);
                else if (avail && end - d->buf >= 8)
                        x = sl_load_tail(end, avail);
                else if (avail)
                        x = (unsigned char)*p; /* record < 8 bytes: bytewise */
                else
                        return sl_json_fail(d, p);
                uint64_t m = sl_str_special(x);
                if (!m) {
                        p += 8;
                        continue;
                }
                p += sl_first_byte(m);
#if defined(__SSE2__)
        found:
#endif
                if (SL_LIKELY(p < end && *p == '"'))
                        return p + 1;
                if (p >= end)
                        return sl_json_fail(d, end);
                p = sl_json_string_byte(d, p, esc);
                if (!p)
                        return NULL;
        }
}

static size_t sl_utf8_put(char *o, uint32_t cp)
{
        if (cp < 0x80) {
                o[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                o[0] = (char)(0xC0 | cp >> 6);
                o[1] = (char)(0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                o[0] = (char)(0xE0 | cp >> 12);
                o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
                o[2] = (char)(0x80 | (cp & 0x3F));
                return 3;
        }
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
}

/*
 * Decodes the already validated string body s..q (q at the closing quote)
 * into dst.  Returns NULL with *bad at the offending escape if the body
 * holds a lone surrogate, else dst's end.
 */
static SL_COLD char *sl_json_unescape(const char *s, const char *q, char *dst,
                                      const char **bad)
{
        char *o = dst;
        while (s < q) {
                const char *bs = memchr(s, '\\', (size_t)(q - s));
                if (!bs) {
                        memcpy(o, s, (size_t)(q - s));
                        return o + (q - s);
                }
                memcpy(o, s, (size_t)(bs - s));
                o += bs - s;
                s = bs;
                switch (s[1]) {
                case 'b': *o++ = '\b'; s += 2; continue;
                case 'f': *o++ = '\f'; s += 2; continue;
                case 'n': *o++ = '\n'; s += 2; continue;
                case 'r': *o++ = '\r'; s += 2; continue;
                case 't': *o++ = '\t'; s += 2; continue;
                case 'u': break;
                default: *o++ = s[1]; s += 2; continue; /* " \ / */
                }
                uint32_t cp = sl_hex4(s + 2);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                        uint32_t lo;
                        if (q - s < 12 || s[6] != '\\' || s[7] != 'u' ||
                            (lo = sl_hex4(s + 8)) < 0xDC00 || lo > 0xDFFF) {
                                *bad = s;
                                return NULL;
                        }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        s += 12;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        *bad = s;
                        return NULL;
                } else {
                        s += 6;
                }
                o += sl_utf8_put(o, cp);
        }
        return o;
}

/* Validates a number starting at p (at '-' or a digit). */
static const char *sl_json_skip_number(struct sl_json_dec *d, const char *p)
{
        const char *end = d->end;
        if (*p == '-')
                p++;
        if (p >= end)
                return sl_json_fail(d, p);
        if (*p == '0')
                p++;
        else if (sl_is_digit(*p))
                do
                        p++;
                while (p < end && sl_is_digit(*p));
        else
                return sl_json_fail(d, p);
        if (p < end && *p == '.') {
                p++;
                if (p >= end || !sl_is_digit(*p))
                        return sl_json_fail(d, p);
                do
                        p++;
                while (p < end && sl_is_digit(*p));
        }
        if (p < end && (*p | 0x20) == 'e') {
                p++;
                if (p < end && (*p == '+' || *p == '-'))
                        p++;
                if (p >= end || !sl_is_digit(*p))
                        return sl_json_fail(d, p);
                do
                        p++;
                while (p < end && sl_is_digit(*p));
        }
        return p;
}

static inline bool sl_json_lit(const char *p, const char *end, const char *lit,
                               size_t n)
{
        return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/*
 * Validates one value of any kind starting at p (p < end, not whitespace).
 * depth: containers already open around it.  Returns the position after
 * the value, or NULL.
 */
static const char *sl_json_skip_value(struct sl_json_dec *d, const char *p,
                                      unsigned depth)
{
        const char *end = d->end;
        uint64_t kinds = 0; /* bit i set: container i (inside this call) is an object */
        unsigned n = 0;     /* containers open inside this call */
        bool esc;

value:
        if (*p == '"') {
                p = sl_json_scan_string(d, p + 1, &esc);
                if (!p)
                        return NULL;
                goto close;
        }
        switch (*p) {
        case '{':
                if (depth + n >= SL_JSON_MAX_DEPTH)
                        return sl_json_fail(d, p);
                kinds |= 1ull << n;
                n++;
                p++;
                SL_WS(p, end);
                if (p < end && *p == '}') {
                        p++;
                        n--;
                        goto close;
                }
                goto key;
        case '[':
                if (depth + n >= SL_JSON_MAX_DEPTH)
                        return sl_json_fail(d, p);
                kinds &= ~(1ull << n);
                n++;
                p++;
                SL_WS(p, end);
                if (p >= end)
                        return sl_json_fail(d, p);
                if (*p == ']') {
                        p++;
                        n--;
                        goto close;
                }
                goto value;
        case 't':
                if (!sl_json_lit(p, end, "true", 4))
                        return sl_json_fail(d, p);
                p += 4;
                goto close;
        case 'f':
                if (!sl_json_lit(p, end, "false", 5))
                        return sl_json_fail(d, p);
                p += 5;
                goto close;
        case 'n':
                if (!sl_json_lit(p, end, "null", 4))
                        return sl_json_fail(d, p);
                p += 4;
                goto close;
        case '-': case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
                p = sl_json_skip_number(d, p);
                if (!p)
                        return NULL;
                goto close;
        default:
                return sl_json_fail(d, p);
        }

key:
        if (p >= end || *p != '"')
                return sl_json_fail(d, p);
        p = sl_json_scan_string(d, p + 1, &esc);
        if (!p)
                return NULL;
        SL_WS(p, end);
        if (p >= end || *p != ':')
                return sl_json_fail(d, p);
        p++;
        SL_WS(p, end);
        if (p >= end)
                return sl_json_fail(d, p);
        goto value;

close:
        if (n == 0)
                return p;
        SL_WS(p, end);
        if (p >= end)
                return sl_json_fail(d, p);
        if (*p == ',') {
                p++;
                SL_WS(p, end);
                if ((kinds >> (n - 1)) & 1)
                        goto key;
                if (p >= end)
                        return sl_json_fail(d, p);
                goto value;
        }
        if (*p == (((kinds >> (n - 1)) & 1) ? '}' : ']')) {
                p++;
                n--;
                goto close;
        }
        return sl_json_fail(d, p);
}

/* Remembers the first wrong-typed column; the scan goes on. */
static const char *sl_json_type_err(struct sl_json_dec *d, int32_t col,
                                    const char *at, const char *next)
{
        if (d->type_col < 0) {
                d->type_col = col;
                d->type_off = (uint32_t)(at - d->buf);
        }
        return next;
}

/* Integer-syntax number for an INTEGER/BIGINT column; p at '-' or digit. */
static const char *sl_json_parse_int(struct sl_json_dec *d, const char *p,
                                     int32_t col, uint8_t type,
                                     struct sl_value *v)
{
        const char *end = d->end;
        const char *start = p;
        bool neg = *p == '-';
        p += neg;
        if (p >= end)
                return sl_json_fail(d, p);

        const char *ds = p;
        uint64_t u = 0;
        if (*p == '0') {
                p++;
        } else if (sl_is_digit(*p)) {
                /* Wraps past 19 digits; the digit count below catches it. */
                p = sl_json_digits(p, d->buf, end, &u);
        } else {
                return sl_json_fail(d, p);
        }
        if (SL_UNLIKELY(p < end && (*p == '.' || (*p | 0x20) == 'e'))) {
                p = sl_json_skip_number(d, start);
                return p ? sl_json_type_err(d, col, start, p) : NULL;
        }

        /* 19 digits cannot wrap a uint64; int64 needs <= 2^63 - 1 + neg. */
        if (p - ds > 19 || u > (uint64_t)INT64_MAX + neg)
                return sl_json_type_err(d, col, start, p);
        /* u - 1 fits int64 even for INT64_MIN's magnitude 2^63. */
        int64_t i = !neg ? (int64_t)u : u == 0 ? 0 : -(int64_t)(u - 1) - 1;
        if (type == SL_T_INT && (i < INT32_MIN || i > INT32_MAX))
                return sl_json_type_err(d, col, start, p);
        v->u.i = i;
        v->type = type;
        return p;
}

/*
 * Slow path of sl_json_parse_double: s..e is a valid JSON number.  Builds
 * "[-]DIGITSeEXP" (see the header comment) and hands it to strtod().
 */
static SL_COLD double sl_json_strtod(const char *s, const char *e)
{
        char tmp[SL_NUM_DIGITS + 32];
        size_t k = 0;
        bool neg = *s == '-';
        int64_t point = 0; /* value = 0.DIGITS * 10^(point + exp) */
        size_t kept = 0;
        bool seen = false, sticky = false, frac = false;

        if (neg) {
                tmp[k++] = '-';
                s++;
        }
        for (; s < e && (sl_is_digit(*s) || *s == '.'); s++) {
                if (*s == '.') {
                        frac = true;
                        continue;
                }
                if (!seen && *s == '0') {
                        point -= frac; /* leading zero: only moves the point */
                        continue;
                }
                seen = true;
                point += !frac;
                if (kept < SL_NUM_DIGITS) {
                        tmp[k++] = *s;
                        kept++;
                } else if (*s != '0') {
                        sticky = true;
                }
        }
        if (!seen)
                return neg ? -0.0 : 0.0;
        if (sticky) {
                tmp[k++] = '1';
                kept++;
        }

        int64_t x = 0;
        if (s < e) { /* exponent; saturates, far past any double's range */
                s++;
                bool eneg = *s == '-';
                if (*s == '+' || *s == '-')
                        s++;
                for (; s < e; s++)
                        if (x < 100000000)
                                x = x * 10 + (*s - '0');
                if (eneg)
                        x = -x;
        }
        x += point - (int64_t)kept;
        /* With <= 801 digits, beyond +-99999 the result is 0 or inf anyway. */
        if (x > 99999)
                x = 99999;
        if (x < -99999)
                x = -99999;

        tmp[k++] = 'e';
        if (x < 0) {
                tmp[k++] = '-';
                x = -x;
        }
        char rev[8];
        int r = 0;
        do
                rev[r++] = (char)('0' + x % 10);
        while ((x /= 10) != 0);
        while (r)
                tmp[k++] = rev[--r];
        tmp[k] = '\0';
        return strtod(tmp, NULL);
}

static const double sl_pow10[23] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Any JSON number for a DOUBLE column; p at '-' or digit. */
static const char *sl_json_parse_double(struct sl_json_dec *d, const char *p,
                                        int32_t col, struct sl_value *v)
{
        const char *end = d->end;
        const char *start = p;
        bool neg = *p == '-';
        p += neg;
        if (p >= end)
                return sl_json_fail(d, p);

        /* m = all digits, integer and fraction, exact while <= 19 of them */
        uint64_t m = 0;
        const char *ds = p;
        if (*p == '0')
                p++;
        else if (sl_is_digit(*p))
                p = sl_json_digits(p, d->buf, end, &m);
        else
                return sl_json_fail(d, p);
        int64_t ndig = p - ds, e10 = 0;
        if (p < end && *p == '.') {
                p++;
                if (p >= end || !sl_is_digit(*p))
                        return sl_json_fail(d, p);
                const char *fs = p;
                p = sl_json_digits(p, d->buf, end, &m);
                ndig += p - fs;
                e10 = -(p - fs);
        }
        if (p < end && (*p | 0x20) == 'e') {
                p++;
                bool eneg = false;
                if (p < end && (*p == '+' || *p == '-'))
                        eneg = *p++ == '-';
                if (p >= end || !sl_is_digit(*p))
                        return sl_json_fail(d, p);
                int64_t x = 0;
                do
                        if (x < 100000000) /* saturate: far past any double */
                                x = x * 10 + (*p - '0');
                while (++p < end && sl_is_digit(*p));
                e10 += eneg ? -x : x;
        }

        double r;
#if FLT_EVAL_METHOD == 0
        if (SL_LIKELY(ndig <= 19 && m <= (1ull << 53) && e10 >= -22 && e10 <= 22)) {
                /* Clinger: m and 10^|e10| are exact doubles, so one
                 * IEEE operation rounds the exact value correctly. */
                r = (double)m;
                r = e10 < 0 ? r / sl_pow10[-e10] : r * sl_pow10[e10];
                if (neg)
                        r = -r;
        } else
#endif
        if (ndig <= 19 && m == 0) {
                r = neg ? -0.0 : 0.0;
        } else {
                r = sl_json_strtod(start, p);
                if (isinf(r))
                        return sl_json_type_err(d, col, start, p);
        }
        v->u.d = r;
        v->type = SL_T_DOUBLE;
        return p;
}

/* The value of declared column col; p < end, at the value's first byte. */
static SL_INLINE const char *sl_json_parse_member(struct sl_json_dec *d,
                                                  const struct sl_json_schema *js,
                                                  int32_t col, const char *p,
                                                  struct sl_value *v)
{
        const char *end = d->end;
        uint8_t type = js->types[col];
        const char *q;
        bool esc = false;

        switch (*p) {
        case '"':
                q = sl_json_scan_string(d, p + 1, &esc);
                if (!q)
                        return NULL;
                if (type != SL_T_STRING)
                        return sl_json_type_err(d, col, p, q);
                if (SL_LIKELY(!esc)) {
                        v->u.s.p = p + 1;
                        v->u.s.len = (uint32_t)(q - p - 2);
                } else {
                        char *dst = d->scratch + (p + 1 - d->buf);
                        const char *bad;
                        char *o = sl_json_unescape(p + 1, q - 1, dst, &bad);
                        if (!o)
                                return sl_json_fail(d, bad);
                        v->u.s.p = dst;
                        v->u.s.len = (uint32_t)(o - dst);
                }
                v->type = SL_T_STRING;
                return q;
        case '-': case '0': case '1': case '2': case '3': case '4':
        case '5': case '6': case '7': case '8': case '9':
                if (type == SL_T_BIGINT || type == SL_T_INT)
                        return sl_json_parse_int(d, p, col, type, v);
                if (type == SL_T_DOUBLE)
                        return sl_json_parse_double(d, p, col, v);
                q = sl_json_skip_number(d, p);
                return q ? sl_json_type_err(d, col, p, q) : NULL;
        case 't':
        case 'f': {
                bool t = *p == 't';
                if (!(t ? sl_json_lit(p, end, "true", 4)
                        : sl_json_lit(p, end, "false", 5)))
                        return sl_json_fail(d, p);
                q = p + 5 - t;
                if (type != SL_T_BOOL)
                        return sl_json_type_err(d, col, p, q);
                v->u.b = t;
                v->type = SL_T_BOOL;
                return q;
        }
        case 'n':
                if (!sl_json_lit(p, end, "null", 4))
                        return sl_json_fail(d, p);
                /* An earlier duplicate member may have set v: last wins. */
                v->u.i = 0;
                v->type = SL_T_NULL;
                return p + 4;
        case '{':
        case '[':
                q = sl_json_skip_value(d, p, 1);
                return q ? sl_json_type_err(d, col, p, q) : NULL;
        default:
                return sl_json_fail(d, p);
        }
}

/* Rare path: a key with escapes, unescaped into scratch to be matched. */
static SL_COLD int32_t sl_json_lookup_escaped(struct sl_json_dec *d,
                                              const struct sl_json_schema *js,
                                              const char *s, const char *q)
{
        char *dst = d->scratch + (s - d->buf);
        const char *bad;
        char *o = sl_json_unescape(s, q, dst, &bad);
        if (!o)
                return -1; /* lone surrogate: equals no (UTF-8) column name */
        return sl_json_lookup(js, dst, (uint32_t)(o - dst));
}

enum sl_json_status sl_json_decode(const struct sl_json_schema *js,
                                   const char *buf, size_t len,
                                   struct sl_value *out, char *scratch,
                                   struct sl_json_error *err)
{
        struct sl_json_dec d = {
                .buf = buf,
                .end = buf + len,
                .scratch = scratch,
                .type_col = -1,
        };
        const char *end = d.end;
        const char *p;
        enum sl_json_status st;

        if (len == 0 || len > UINT32_MAX) {
                d.err_off = 0;
                goto syntax;
        }
        if (js->nfields)
                memset(out, 0, js->nfields * sizeof *out); /* SL_T_NULL == 0 */

        p = buf;
        SL_WS(p, end);
        if (p >= end) {
                sl_json_fail(&d, p);
                goto syntax;
        }
        if (SL_UNLIKELY(*p != '{')) {
                const char *top = p;
                p = sl_json_skip_value(&d, p, 0);
                if (!p)
                        goto syntax;
                SL_WS(p, end);
                if (p != end) {
                        sl_json_fail(&d, p);
                        goto syntax;
                }
                d.err_off = (uint32_t)(top - buf);
                st = SL_JSON_ERR_NOT_OBJECT;
                goto error;
        }

        p++;
        SL_WS(p, end);
        if (p < end && *p == '}') {
                p++;
                goto done;
        }
        uint32_t expect = 0; /* column guessed to come next */
        for (;;) {
                bool esc = false;
                int32_t col;
                if (SL_UNLIKELY(p >= end || *p != '"')) {
                        sl_json_fail(&d, p);
                        goto syntax;
                }
                const char *ks = p + 1;
                /*
                 * Guess: members come in the order of the declared
                 * columns, as they usually do.  A right guess is checked
                 * in place and moves p by the name's length, a constant,
                 * so the CPU runs ahead without waiting on the scan.
                 */
                if (expect < js->nfields) {
                        const struct sl_json_guess *g = &js->guess[expect];
                        size_t avail = (size_t)(end - ks);
                        if (g->usable && avail >= 8 && avail > g->len &&
                            (sl_load64(ks) & g->mask) == g->word && ks[g->len] == '"' &&
                            (g->len <= 8 || sl_json_tail_eq(g->name, ks, g->len))) {
                                col = (int32_t)expect;
                                p = ks + g->len + 1;
                                goto key_done;
                        }
                }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                /* Keys under 8 plain ASCII bytes: one load scans the key
                 * and is its hash input too. */
                if (SL_LIKELY(end - ks >= 8)) {
                        uint64_t x = sl_load64(ks);
                        uint64_t m = sl_str_special(x);
                        unsigned n = m ? sl_first_byte(m) : 8;
                        if (SL_LIKELY(n < 8 && ks[n] == '"')) {
                                col = sl_json_lookup_word(
                                        js, x & ((1ull << (8 * n)) - 1), ks, n);
                                p = ks + n + 1;
                                goto key_done;
                        }
                        /* 8 plain bytes: the scan goes on after them */
                        p = sl_json_scan_string(&d, n == 8 ? ks + 8 : ks, &esc);
                } else {
                        p = sl_json_scan_string(&d, ks, &esc);
                }
#else
                p = sl_json_scan_string(&d, ks, &esc);
#endif
                if (!p)
                        goto syntax;
                col = SL_LIKELY(!esc) ? sl_json_lookup(js, ks, (uint32_t)(p - 1 - ks))
                                      : sl_json_lookup_escaped(&d, js, ks, p - 1);
        key_done:
                if (col >= 0)
                        expect = (uint32_t)col + 1;
                SL_WS(p, end);
                if (SL_UNLIKELY(p >= end || *p != ':')) {
                        sl_json_fail(&d, p);
                        goto syntax;
                }
                p++;
                SL_WS(p, end);
                if (SL_UNLIKELY(p >= end)) {
                        sl_json_fail(&d, p);
                        goto syntax;
                }
                if (col >= 0)
                        p = sl_json_parse_member(&d, js, col, p, &out[col]);
                else if (*p == '"') /* most skipped values: no call */
                        p = sl_json_scan_string(&d, p + 1, &esc);
                else
                        p = sl_json_skip_value(&d, p, 1);
                if (!p)
                        goto syntax;

                SL_WS(p, end);
                if (SL_UNLIKELY(p >= end)) {
                        sl_json_fail(&d, p);
                        goto syntax;
                }
                if (*p == ',') {
                        p++;
                        SL_WS(p, end);
                        continue;
                }
                if (SL_LIKELY(*p == '}')) {
                        p++;
                        break;
                }
                sl_json_fail(&d, p);
                goto syntax;
        }

done:
        SL_WS(p, end);
        if (SL_UNLIKELY(p != end)) {
                sl_json_fail(&d, p); /* trailing garbage */
                goto syntax;
        }
        if (SL_UNLIKELY(d.type_col >= 0)) {
                if (err) {
                        err->status = SL_JSON_ERR_TYPE;
                        err->offset = d.type_off;
                        err->field = d.type_col;
                }
                return SL_JSON_ERR_TYPE;
        }
        if (err) {
                err->status = SL_JSON_OK;
                err->offset = 0;
                err->field = -1;
        }
        return SL_JSON_OK;

syntax:
        st = SL_JSON_ERR_SYNTAX;
error:
        if (err) {
                err->status = st;
                err->offset = d.err_off;
                err->field = -1;
        }
        return st;
}
