/*
 * merge.c - k-way merge of worker outputs by (seq, query, wend, first).
 *
 * Each worker's rows arrive in key order, and every batch carries its
 * worker's progress: no later row of that worker has seq <= progress.  A
 * row may be written once every other worker either has a pending row
 * with a larger key, or has progress >= the row's seq.  Rows caused by one
 * record come from one worker (its key's owner) except rows closed by a
 * tick, which are ordered by (wend, first) across workers; so the output
 * is a pure function of the input.
 *
 * Runs on its own thread; owns the sink FILEs while it runs.
 */
#include <errno.h>
#include <stdlib.h>

#include "engine/merge.h"

struct cursor {
        struct sl_outbatch *b;
        uint32_t off;
        uint64_t progress;
};

static int cmp_row(const struct sl_row *a, const struct sl_row *b)
{
        if (a->seq != b->seq)
                return a->seq < b->seq ? -1 : 1;
        if (a->query != b->query)
                return a->query < b->query ? -1 : 1;
        if (a->wend != b->wend)
                return a->wend < b->wend ? -1 : 1;
        return (a->first > b->first) - (a->first < b->first);
}

/* The cursor's current row, refilling from the ring; NULL if none yet. */
static const struct sl_row *head(struct cursor *c, struct sl_ring *r)
{
        for (;;) {
                if (c->b && c->off < c->b->used)
                        return (const struct sl_row *)(c->b->data + c->off);
                void *p;
                if (c->progress == SL_SEQ_DONE || !sl_ring_pop1_spsc(r, &p))
                        return NULL;
                free(c->b);
                c->b = p;
                c->off = 0;
                c->progress = c->b->progress;
        }
}

int sl_merge_run(struct sl_worker *workers, uint32_t n,
                 struct sl_sink_map *sinks, const _Atomic bool *stop)
{
        struct cursor *cur = calloc(n, sizeof *cur);
        if (!cur)
                return -ENOMEM;
        int rc = 0;
        uint32_t spins = 0;
        for (;;) {
                const struct sl_row *best = NULL;
                uint32_t bi = 0;
                uint64_t min_progress = SL_SEQ_DONE;
                bool all_done = true;
                for (uint32_t w = 0; w < n; w++) {
                        const struct sl_row *r = head(&cur[w], &workers[w].out);
                        if (r) {
                                all_done = false;
                                if (!best || cmp_row(r, best) < 0) {
                                        best = r;
                                        bi = w;
                                }
                                continue;
                        }
                        if (cur[w].progress != SL_SEQ_DONE)
                                all_done = false;
                        if (cur[w].progress < min_progress)
                                min_progress = cur[w].progress;
                }
                if (all_done)
                        break;
                /* Workers without a pending row bound what may be written. */
                if (!best || best->seq > min_progress) {
                        if (atomic_load_explicit(stop, memory_order_relaxed)) {
                                rc = -ECANCELED;
                                break;
                        }
                        sl_backoff(&spins);
                        continue;
                }
                spins = 0;
                FILE *f = sinks->by_query[best->query];
                if (fwrite(sl_row_text(best), 1, best->len, f) != best->len) {
                        rc = -EIO;
                        break;
                }
                sinks->rows[best->query]++;
                cur[bi].off += sl_row_size(best->len);
        }
        for (uint32_t w = 0; w < n; w++)
                free(cur[w].b);
        free(cur);
        return rc;
}
