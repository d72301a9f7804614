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
                uint64_t first, const char *text, uint32_t len)
{
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
                             .len = len, .query = query};
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
