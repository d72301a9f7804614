/*
 * worker.c - the worker thread loop.
 *
 * Pops input batches from its ring (filled by the dispatcher), applies
 * each item to the state of its query, and queues output rows for the
 * merger.  Records of one batch are walked twice: a first pass collects
 * them, the second applies them while the table entries of records a few
 * places ahead are being prefetched, so that cache misses on a large table
 * overlap instead of adding up.
 *
 * After each batch the worker pushes an output batch carrying the input
 * batch's progress, so the merger can release rows of other workers.  On
 * the end-of-input batch it flushes every query (EMIT FINAL of open
 * windows) and pushes progress SL_SEQ_DONE.
 *
 * Shares nothing writable with other threads but its two rings and the
 * stop flag.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "engine/probes.h"
#include "engine/worker.h"

#define PREFETCH_AHEAD 8
#define MAX_ITEMS (SL_BATCH_BYTES / sizeof(struct sl_item) + 1)

int sl_worker_init(struct sl_worker *w, uint32_t id, const struct sl_plan *p,
                   _Atomic bool *stop)
{
        *w = (struct sl_worker){.id = id, .cpu = -1, .plan = p, .stop = stop};
        int rc = sl_ring_init(&w->in, 64);
        if (rc == 0)
                rc = sl_ring_init(&w->out, 256);
        if (rc)
                return rc;
        w->oq = (struct sl_outq){.ring = &w->out, .stop = stop};
        w->ops = calloc(p->nqueries, sizeof *w->ops);
        w->proj_rows = calloc(p->nqueries, sizeof *w->proj_rows);
        if (!w->ops || !w->proj_rows)
                return -ENOMEM;
        for (uint32_t q = 0; q < p->nqueries; q++) {
                if (p->queries[q].kind != SL_Q_AGGREGATE)
                        continue;
                w->ops[q] = sl_aggop_new(&p->queries[q]);
                if (!w->ops[q])
                        return -ENOMEM;
        }
        return 0;
}

void sl_worker_fini(struct sl_worker *w)
{
        void *b;
        if (w->in.slots)
                while (sl_ring_pop1_spsc(&w->in, &b))
                        free(b);
        if (w->out.slots)
                while (sl_ring_pop1_spsc(&w->out, &b))
                        free(b);
        sl_ring_destroy(&w->in);
        sl_ring_destroy(&w->out);
        free(w->oq.cur);
        if (w->ops)
                for (uint32_t q = 0; q < w->plan->nqueries; q++)
                        sl_aggop_destroy(w->ops[q]);
        free(w->ops);
        free(w->proj_rows);
        sl_buf_free(&w->row);
}

static int project(struct sl_worker *w, struct sl_item *it)
{
        const struct sl_query *q = &w->plan->queries[it->query];
        sl_buf_reset(&w->row);
        sl_row_json(q, sl_item_vals(it), &w->row);
        if (!sl_buf_ok(&w->row))
                return -ENOMEM;
        w->proj_rows[it->query]++;
        return sl_outq_row(&w->oq, it->seq, it->query, 0, 0, w->row.p,
                           (uint32_t)w->row.len, 0);
}

static int run_batch(struct sl_worker *w, struct sl_inbatch *b)
{
        static _Thread_local struct sl_item *items[MAX_ITEMS];
        uint32_t n = 0;
        for (uint32_t off = 0; off < b->used; n++) {
                items[n] = (struct sl_item *)(b->data + off);
                off += items[n]->size;
        }
        int rc = 0;
        SL_PROBE2(batch_begin, w->id, n);
        for (uint32_t i = 0; i < n && rc == 0; i++) {
                for (int stage = 0; stage < 2; stage++) {
                        uint32_t j = i + (stage ? PREFETCH_AHEAD : 2 * PREFETCH_AHEAD);
                        if (j >= n)
                                continue;
                        struct sl_item *ahead = items[j];
                        if (ahead->kind == SL_ITEM_RECORD && w->ops[ahead->query])
                                sl_aggop_prefetch(w->ops[ahead->query], ahead, stage);
                }
                struct sl_item *it = items[i];
                struct sl_aggop *op = w->ops[it->query];
                if (it->kind == SL_ITEM_TICK)
                        rc = sl_aggop_advance(op, it->st, it->seq, &w->oq);
                else if (op)
                        rc = sl_aggop_record(op, it, &w->oq);
                else
                        rc = project(w, it);
        }
        SL_PROBE2(batch_end, w->id, n);
        return rc;
}

static void *worker_main(void *arg)
{
        struct sl_worker *w = arg;
        int rc = 0;
        uint32_t spins = 0;
        for (;;) {
                void *p;
                if (!sl_ring_pop1_spsc(&w->in, &p)) {
                        if (atomic_load_explicit(w->stop, memory_order_relaxed)) {
                                rc = -ECANCELED;
                                break;
                        }
                        sl_backoff(&spins);
                        continue;
                }
                spins = 0;
                struct sl_inbatch *b = p;
                rc = run_batch(w, b);
                bool eof = b->eof;
                uint64_t progress = b->progress;
                free(b);
                if (rc == 0 && eof) {
                        for (uint32_t q = 0; q < w->plan->nqueries && rc == 0; q++)
                                if (w->ops[q])
                                        rc = sl_aggop_flush(w->ops[q], &w->oq);
                        if (rc == 0)
                                rc = sl_outq_flush(&w->oq, SL_SEQ_DONE);
                        break;
                }
                if (rc == 0)
                        rc = sl_outq_flush(&w->oq, progress);
                if (rc)
                        break;
        }
        w->rc = rc;
        if (rc)
                atomic_store_explicit(w->stop, true, memory_order_relaxed);
        return NULL;
}

int sl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int cpu)
{
        int rc = pthread_create(t, NULL, fn, arg);
        if (rc)
                return -rc;
        if (cpu >= 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(cpu, &set);
                /* Pinning is an optimisation: a refusal (cgroup limits) is fine. */
                (void)pthread_setaffinity_np(*t, sizeof set, &set);
        }
        return 0;
}

int sl_worker_start(struct sl_worker *w)
{
        return sl_thread_start(&w->thread, worker_main, w, w->cpu);
}
