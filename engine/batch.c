/*
 * batch.c - allocation of batches, the output queue, and the backoff used
 * by every thread that waits on a ring.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/batch.h"
#include "engine/plan.h"

struct sl_inbatch *sl_inbatch_new(uint32_t cap)
{
        struct sl_inbatch *b = malloc(sizeof *b + cap);
        if (b) {
                b->progress = 0;
                b->used = 0;
                b->cap = cap;
                b->eof = false;
        }
        return b;
}

struct sl_outbatch *sl_outbatch_new(uint32_t cap)
{
        struct sl_outbatch *b = malloc(sizeof *b + cap);
        if (b) {
                b->progress = 0;
                b->cut = 0;
                b->snap = NULL;
                b->used = 0;
                b->cap = cap;
        }
        return b;
}

void sl_backoff(uint32_t *n)
{
        uint32_t k = (*n)++;
        if (k < 64) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
        } else if (k < 128) {
                sched_yield();
        } else {
                struct timespec ts = {0, 50 * 1000};
                nanosleep(&ts, NULL);
        }
}

static int push(struct sl_outq *oq)
{
        uint32_t spins = 0;
        while (!sl_ring_push1_spsc(oq->ring, oq->cur)) {
                if (atomic_load_explicit(oq->stop, memory_order_relaxed))
                        return -ECANCELED;
                sl_backoff(&spins);
        }
        oq->cur = NULL;
        return 0;
}

int sl_outq_row(struct sl_outq *oq, uint64_t seq, uint16_t query, int64_t wend,
                uint64_t first, const char *text, uint32_t len, uint32_t klen)
{
        return sl_outq_row_ex(oq, seq, query, wend, first, text, len, klen,
                              SL_ROW_OUTPUT, 0);
}

int sl_outq_row_ex(struct sl_outq *oq, uint64_t seq, uint16_t query, int64_t wend,
                   uint64_t first, const char *text, uint32_t len, uint32_t klen,
                   enum sl_row_kind kind, uint32_t xlen)
{
        if (oq->suppress)
                return 0;
        uint32_t need = sl_row_size(len);
        if (oq->cur && oq->cur->cap - oq->cur->used < need) {
                /* Progress of a mid-input flush: rows before this one are
                 * complete only up to seq - 1. */
                oq->cur->progress = seq - 1;
                int rc = push(oq);
                if (rc)
                        return rc;
        }
        if (!oq->cur) {
                oq->cur = sl_outbatch_new(need > SL_BATCH_BYTES ? need : SL_BATCH_BYTES);
                if (!oq->cur)
                        return -ENOMEM;
        }
        struct sl_row *r = (struct sl_row *)(oq->cur->data + oq->cur->used);
        *r = (struct sl_row){.seq = seq, .wend = wend, .first = first,
                             .cause_ts = oq->cause_ts, .rx_us = oq->rx_us, .len = len, .klen = klen,
                             .xlen = xlen, .query = query, .kind = (uint8_t)kind};
        memcpy(r + 1, text, len);
        oq->cur->used += need;
        return 0;
}

int sl_outq_flush(struct sl_outq *oq, uint64_t progress)
{
        if (!oq->cur) {
                oq->cur = sl_outbatch_new(256);
                if (!oq->cur)
                        return -ENOMEM;
        }
        oq->cur->progress = progress;
        return push(oq);
}

int sl_outq_mark(struct sl_outq *oq, uint64_t cut)
{
        if (!oq->cur) {
                oq->cur = sl_outbatch_new(256);
                if (!oq->cur)
                        return -ENOMEM;
        }
        oq->cur->cut = cut;
        return push(oq);
}

uint32_t sl_item_need(const struct sl_query *q, const struct sl_value *vals,
                      uint32_t nvals, uint32_t klen)
{
        size_t strbytes = 0;
        for (uint32_t i = 0; i < q->used_cols; i++) {
                const struct sl_value *v = &vals[q->used[i]];
                if (v->type == SL_T_STRING)
                        strbytes += v->u.s.len;
        }
        size_t need = sizeof(struct sl_item) + nvals * sizeof(struct sl_value) + klen + strbytes;
        need = (need + 7) & ~(size_t)7;
        return need > UINT32_MAX / 2 ? UINT32_MAX : (uint32_t)need;
}

void sl_item_fill(struct sl_item *it, uint32_t need, const struct sl_query *q,
                  const struct sl_value *vals, uint32_t nvals,
                  const char *key, uint32_t klen)
{
        it->size = need;
        it->klen = klen;
        it->query = (uint16_t)q->index;
        it->kind = SL_ITEM_RECORD;
        it->nvals = nvals;
        struct sl_value *iv = sl_item_vals(it);
        for (uint32_t c = 0; c < nvals; c++)
                iv[c].type = SL_T_NULL;
        char *k = (char *)(iv + nvals);
        if (klen) /* an empty group key ('') may come as NULL */
                memcpy(k, key, klen);
        char *s = k + klen;
        for (uint32_t i = 0; i < q->used_cols; i++) {
                uint32_t c = q->used[i];
                iv[c] = vals[c];
                if (iv[c].type == SL_T_STRING) {
                        memcpy(s, iv[c].u.s.p, iv[c].u.s.len);
                        iv[c].u.s.p = s;
                        s += iv[c].u.s.len;
                }
        }
}
