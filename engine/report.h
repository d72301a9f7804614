/*
 * report.h - the public API's objects, and the summary of a run (file
 * mode and Kafka mode print the same lines for the same counters).
 */
#ifndef SL_REPORT_H
#define SL_REPORT_H

#include "engine/buf.h"
#include "engine/plan.h"
#include "engine/stats.h"
#include "include/sluice/sluice.h"

struct sluice_pipeline {
        struct sl_plan *plan;
};

struct sluice_report {
        struct sluice_totals t;
        struct sl_buf text;
};

/*
 * Builds the report of a run: totals and the text (a first line, one line
 * per stream and per query, totals).  rows_label names what the row
 * counts are ("rows written", "rows produced").  The text is left
 * unterminated so the caller may append lines; sl_report_end finishes it.
 * NULL on allocation failure.
 */
struct sluice_report *sl_report_new(const struct sl_plan *p,
                                    const struct sl_source_stats *ss,
                                    const struct sl_query_stats *qs,
                                    double secs, unsigned workers,
                                    const char *rows_label);
/* NUL-terminates the text; NULL (and frees) on allocation failure. */
struct sluice_report *sl_report_end(struct sluice_report *r);

void sl_human_bytes(char *out, size_t cap, uint64_t b);

#endif
