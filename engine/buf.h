/*
 * buf.h - a growable byte buffer for building output rows and messages.
 *
 * Appends never fail silently: growth failure sets oom and later appends
 * become no-ops, so a caller checks once at the end (sl_buf_ok) instead of
 * after every byte.  Single-threaded.
 */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct sl_buf {
        char *p;
        size_t len;
        size_t cap;
        bool oom;
};

bool sl_buf_grow(struct sl_buf *b, size_t need);
/* Appends printf-formatted text (at most 1023 bytes per call). */
void sl_buf_addf(struct sl_buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void sl_buf_free(struct sl_buf *b);

static inline bool sl_buf_ok(const struct sl_buf *b)
{
        return !b->oom;
}

static inline void sl_buf_reset(struct sl_buf *b)
{
        b->len = 0;
}

static inline bool sl_buf_reserve(struct sl_buf *b, size_t n)
{
        if (b->cap - b->len >= n)
                return true;
        return sl_buf_grow(b, n);
}

static inline void sl_buf_add(struct sl_buf *b, const void *src, size_t n)
{
        /* Nothing to add may come with b->p (empty buffer) or src (empty
         * string) NULL, which memcpy does not allow even for 0 bytes. */
        if (n == 0 || !sl_buf_reserve(b, n))
                return;
        memcpy(b->p + b->len, src, n);
        b->len += n;
}

static inline void sl_buf_addc(struct sl_buf *b, char c)
{
        if (!sl_buf_reserve(b, 1))
                return;
        b->p[b->len++] = c;
}

static inline void sl_buf_adds(struct sl_buf *b, const char *s)
{
        sl_buf_add(b, s, strlen(s));
}

#endif
