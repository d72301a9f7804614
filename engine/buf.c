/*
 * buf.c - growth policy of struct sl_buf: doubling, at least 256 bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/buf.h"

bool sl_buf_grow(struct sl_buf *b, size_t need)
{
        if (b->oom)
                return false;
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < need) {
                if (cap > ((size_t)-1) / 2)
                        goto oom;
                cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p)
                goto oom;
        b->p = p;
        b->cap = cap;
        return true;
oom:
        b->oom = true;
        return false;
}

void sl_buf_free(struct sl_buf *b)
{
        free(b->p);
        b->p = NULL;
        b->len = b->cap = 0;
        b->oom = false;
}

void sl_buf_addf(struct sl_buf *b, const char *fmt, ...)
{
        char tmp[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (n > 0)
                sl_buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
