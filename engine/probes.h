/*
 * probes.h - USDT probes (statically defined tracepoints) of sluice.
 *
 * Each probe is a single nop in the code until a tracer attaches to it
 * (perf, bpftrace, systemtap); its arguments are read only then.  Built
 * with <sys/sdt.h> (Debian: systemtap-sdt-dev) when meson finds it, else
 * every probe compiles to nothing.  The provider is "sluice":
 *
 *   batch_begin(worker, records)       a worker starts a batch of input
 *   batch_end(worker, records)         ... and finished it (the tracer
 *                                      takes the time: no clock is read
 *                                      for a probe nobody attached to)
 *   window_close(query, wend, rows)    a close round queued rows; wend is
 *                                      the last window end (ms) of the round
 *   txn_commit(txns, rows, us, status) a commit (Kafka mode) ended:
 *                                      transactions committed and rows
 *                                      produced so far (a tracer takes the
 *                                      differences), the microseconds the
 *                                      commit took, its enum sl_txn_status
 *   snapshot_take(worker, parts, ns)   a worker copied its partitions' state
 *                                      (ns: the worker's stall)
 *   snapshot_write(partition, offset, bytes, ns, rc)
 *                                      the writer thread wrote and published
 *                                      one snapshot (ns since it was taken)
 *
 * How to use them: perf/probes.md (perf probe, perf record, bpftrace).
 */
#ifndef SL_PROBES_H
#define SL_PROBES_H

#if defined(SL_HAVE_SDT) && SL_HAVE_SDT
#include <sys/sdt.h>
#define SL_PROBE2(name, a, b) DTRACE_PROBE2(sluice, name, a, b)
#define SL_PROBE3(name, a, b, c) DTRACE_PROBE3(sluice, name, a, b, c)
#define SL_PROBE4(name, a, b, c, d) DTRACE_PROBE4(sluice, name, a, b, c, d)
#define SL_PROBE5(name, a, b, c, d, e) DTRACE_PROBE5(sluice, name, a, b, c, d, e)
#else
#define SL_PROBE2(name, a, b) ((void)0)
#define SL_PROBE3(name, a, b, c) ((void)0)
#define SL_PROBE4(name, a, b, c, d) ((void)0)
#define SL_PROBE5(name, a, b, c, d, e) ((void)0)
#endif

#endif
