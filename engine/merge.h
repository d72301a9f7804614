/*
 * merge.h - merges the workers' output rings into the sinks, in one order
 * that does not depend on the number of workers.
 *
 * Merger thread only.
 */
#ifndef SL_MERGE_H
#define SL_MERGE_H

#include <stdint.h>
#include <stdio.h>

#include "engine/worker.h"

/* Where rows go: one FILE per query (queries may share one). */
struct sl_sink_map {
        FILE **by_query;
        uint64_t *rows; /* per query: rows written */
};

/*
 * Runs until every worker has sent SL_SEQ_DONE, or stop is set.  Writes
 * each row to sinks->by_query[row.query].  Returns 0, -ECANCELED or -EIO.
 */
int sl_merge_run(struct sl_worker *workers, uint32_t n,
                 struct sl_sink_map *sinks, const _Atomic bool *stop);

#endif
