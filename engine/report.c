/*
 * report.c - the summary of a run; see report.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "engine/report.h"

void sl_human_bytes(char *out, size_t cap, uint64_t b)
{
        if (b >= (1ull << 30))
                snprintf(out, cap, "%.2f GiB", (double)b / (1ull << 30));
        else if (b >= (1ull << 20))
                snprintf(out, cap, "%.1f MiB", (double)b / (1ull << 20));
        else
                snprintf(out, cap, "%.1f KiB", (double)b / 1024);
}

/* Evaluations of q's expressions whose built string was too long (NULL). */
static uint64_t query_overflows(const struct sl_query *q)
{
        uint64_t n = 0;
        if (q->where)
                n += sl_prog_overflows(q->where);
        if (q->having)
                n += sl_prog_overflows(q->having);
        for (uint32_t o = 0; o < q->nout; o++)
                n += sl_prog_overflows(q->out[o].prog);
        for (uint32_t a = 0; a < q->nagg; a++)
                if (q->aggs[a].arg)
                        n += sl_prog_overflows(q->aggs[a].arg);
        return n;
}

struct sluice_report *sl_report_new(const struct sl_plan *p,
                                    const struct sl_source_stats *ss,
                                    const struct sl_query_stats *qs,
                                    double secs, unsigned workers,
                                    const char *rows_label)
{
        struct sluice_report *rep = calloc(1, sizeof *rep);
        if (!rep)
                return NULL;
        struct sluice_totals *t = &rep->t;
        t->workers = workers;
        t->seconds = secs;
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0)
                t->peak_rss = (uint64_t)ru.ru_maxrss * 1024;
        for (uint32_t q = 0; q < p->nqueries; q++) {
                t->late += qs[q].late;
                t->filtered += qs[q].filtered;
                t->rows += qs[q].rows;
        }
        for (uint32_t s = 0; s < p->nsources; s++) {
                t->records += ss[s].read;
                t->bytes += ss[s].bytes;
                for (int k = 0; k < SL_DROP_COUNT; k++)
                        t->dropped += ss[s].dropped[k];
        }
        char h[32];
        struct sl_buf *b = &rep->text;
        double rate = secs > 0 ? (double)t->records / secs : 0;
        sl_buf_addf(b, "sluice: %llu records in %.3f s (%.2f M records/s, %.2f M/s per worker, %u workers)\n",
             (unsigned long long)t->records, secs, rate / 1e6, rate / 1e6 / workers, workers);
        for (uint32_t s = 0; s < p->nsources; s++) {
                if (!p->sources[s].nqueries && !p->sources[s].joined)
                        continue;
                sl_human_bytes(h, sizeof h, ss[s].bytes);
                uint64_t drop = 0;
                for (int k = 0; k < SL_DROP_COUNT; k++)
                        drop += ss[s].dropped[k];
                sl_buf_addf(b, "  %s %s: %llu read (%s), ", p->sources[s].table ? "table" : "stream",
                            p->sources[s].name, (unsigned long long)ss[s].read, h);
                if (p->sources[s].table)
                        sl_buf_addf(b, "%llu upserts, %llu deletes, ", (unsigned long long)ss[s].upserts,
                                    (unsigned long long)ss[s].deletes);
                sl_buf_addf(b, "%llu dropped", (unsigned long long)drop);
                const char *sep = " (";
                for (int k = 0; k < SL_DROP_COUNT; k++)
                        if (ss[s].dropped[k]) {
                                sl_buf_addf(b, "%s%llu %s", sep, (unsigned long long)ss[s].dropped[k],
                                     sl_drop_name((enum sl_drop)k));
                                sep = ", ";
                        }
                sl_buf_addf(b, "%s\n", drop ? ")" : "");
        }
        for (uint32_t q = 0; q < p->nqueries; q++) {
                sl_buf_addf(b, "  query %s -> %s: %llu %s, %llu late, %llu filtered, %llu null key",
                     p->queries[q].name, p->queries[q].topic, (unsigned long long)qs[q].rows,
                     rows_label, (unsigned long long)qs[q].late,
                     (unsigned long long)qs[q].filtered, (unsigned long long)qs[q].null_key);
                if (p->queries[q].join >= 0 && !p->queries[q].join_left)
                        sl_buf_addf(b, ", %llu without a table row", (unsigned long long)qs[q].unmatched);
                if (p->queries[q].kind == SL_Q_AGGREGATE) {
                        sl_human_bytes(h, sizeof h, qs[q].state_bytes);
                        sl_buf_addf(b, ", peak %llu keys/worker-sum, state %s",
                             (unsigned long long)qs[q].keys_max, h);
                }
                uint64_t too_long = query_overflows(&p->queries[q]);
                if (too_long)
                        sl_buf_addf(b, ", %llu strings over %d bytes set to NULL",
                                    (unsigned long long)too_long, SL_EXPR_STR_MAX);
                sl_buf_addf(b, "\n");
        }
        sl_human_bytes(h, sizeof h, t->peak_rss);
        sl_buf_addf(b, "  totals: %llu dropped, %llu late, %llu %s; peak RSS %s\n",
             (unsigned long long)t->dropped, (unsigned long long)t->late,
             (unsigned long long)t->rows, rows_label, h);
        return rep;
}

struct sluice_report *sl_report_end(struct sluice_report *r)
{
        if (!r)
                return NULL;
        sl_buf_addc(&r->text, '\0');
        if (!sl_buf_ok(&r->text)) {
                sl_buf_free(&r->text);
                free(r);
                return NULL;
        }
        return r;
}
