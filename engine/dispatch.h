/*
 * dispatch.h - decodes input records and routes them to workers.
 *
 * For each record of a source: decode the declared columns, check the
 * event time, then for every query reading the source: WHERE, group key
 * (encoded and hashed), stream time, and an item appended to the batch of
 * the worker that owns the key.  Stream time is kept here, per query, and
 * travels in band: every item carries it, and when it passes a window
 * close time a tick goes to every worker, so that windows close at the
 * same record whatever the number of workers.
 *
 * Dispatcher thread only (the thread that reads the input).
 */
#ifndef SL_DISPATCH_H
#define SL_DISPATCH_H

#include <stdint.h>

#include "engine/plan.h"
#include "engine/stats.h"
#include "engine/worker.h"

#define SL_FLUSH_RECORDS 2048

struct sl_dispatch;

struct sl_dispatch *sl_dispatch_new(const struct sl_plan *p,
                                    struct sl_worker *workers, uint32_t n,
                                    const _Atomic bool *stop);
void sl_dispatch_destroy(struct sl_dispatch *d);

/* One record of source src, numbered seq (increasing, from 1). 0 or -errno. */
int sl_dispatch_record(struct sl_dispatch *d, uint32_t src, uint64_t seq,
                       const char *rec, size_t len);
/* A record too large to read: counted as dropped. */
void sl_dispatch_oversize(struct sl_dispatch *d, uint32_t src);
/* End of input: pushes the last batches, marked eof.  0 or -errno. */
int sl_dispatch_finish(struct sl_dispatch *d);

const struct sl_source_stats *sl_dispatch_source_stats(const struct sl_dispatch *d,
                                                       uint32_t src);
const struct sl_query_stats *sl_dispatch_query_stats(const struct sl_dispatch *d,
                                                     uint32_t q);

#endif
