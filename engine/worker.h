/*
 * worker.h - a worker thread: owns the aggregation state of the keys
 * routed to it, for every query, and turns input batches into output rows.
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "engine/aggop.h"
#include "engine/batch.h"
#include "engine/plan.h"
#include "engine/ring.h"

struct sl_worker {
        uint32_t id;
        int cpu;                   /* pin to this cpu, or -1 */
        const struct sl_plan *plan;
        struct sl_ring in;         /* dispatcher -> this worker */
        struct sl_ring out;        /* this worker -> merger */
        struct sl_outq oq;         /* worker thread only */
        struct sl_aggop **ops;     /* per query; NULL for projections */
        struct sl_buf row;         /* worker thread only */
        uint64_t *proj_rows;       /* per query: rows of projections */
        _Atomic bool *stop;        /* any thread that fails sets it (relaxed: it only
                                    * tells waiters to give up; results travel in rings) */
        int rc;                    /* worker thread writes; read after join */
        pthread_t thread;
};

/* Allocates rings and per-query state.  0 or -ENOMEM. */
int sl_worker_init(struct sl_worker *w, uint32_t id, const struct sl_plan *p,
                   _Atomic bool *stop);
void sl_worker_fini(struct sl_worker *w);
int sl_worker_start(struct sl_worker *w);

/* Starts a thread, pinned to cpu when cpu >= 0 (a refused pin is ignored).
 * 0 or -errno. */
int sl_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, int cpu);

#endif
