/*
 * file_run.c - running a pipeline over NDJSON files (sluice run --input).
 *
 * Threads:
 *   caller      reads each input in 4 MiB chunks, splits lines and hands
 *               them to the dispatcher (decode, WHERE, key, route);
 *   workers     one per --workers, pinned, each owning a share of the keys;
 *   merger      merges worker outputs in record order and writes the sinks.
 * The file is one partition whatever the number of workers: the dispatcher
 * keeps stream time and sends it in band, so the output is identical for
 * every worker count.  Inputs of several streams are read one after the
 * other, in the order the streams were declared.  Tables are read first,
 * each to its end, so that every stream record is joined with the final
 * table state (a GlobalKTable's bootstrap; see docs/architecture.md).
 *
 * Also the public API around plans (load, explain) and reports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/dispatch.h"
#include "engine/flatbuf.h"
#include "engine/merge.h"
#include "engine/plan.h"
#include "engine/report.h"
#include "engine/worker.h"
#include "include/sluice/sluice.h"

#define READ_CHUNK (4u << 20)
#define DEFAULT_MAX_RECORD (16u << 20)


static void errf(char *err, size_t errlen, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

struct sluice_pipeline *sluice_pipeline_load(const char *path, char *err, size_t errlen)
{
        struct sluice_pipeline *p = calloc(1, sizeof *p);
        if (!p) {
                errf(err, errlen, "out of memory");
                return NULL;
        }
        p->plan = sl_plan_load_file(path, err, errlen);
        if (!p->plan) {
                free(p);
                return NULL;
        }
        return p;
}

struct sluice_pipeline *sluice_pipeline_parse(const char *src, size_t len,
                                              const char *name, char *err, size_t errlen)
{
        struct sluice_pipeline *p = calloc(1, sizeof *p);
        if (!p) {
                errf(err, errlen, "out of memory");
                return NULL;
        }
        p->plan = sl_plan_load_string(src, len, name, err, errlen);
        if (!p->plan) {
                free(p);
                return NULL;
        }
        return p;
}

void sluice_pipeline_free(struct sluice_pipeline *p)
{
        if (!p)
                return;
        sl_plan_free(p->plan);
        free(p);
}

char *sluice_pipeline_explain(const struct sluice_pipeline *p)
{
        struct sl_buf b = {0};
        sl_plan_explain(p->plan, &b);
        sl_buf_addc(&b, '\0');
        if (!sl_buf_ok(&b)) {
                sl_buf_free(&b);
                return NULL;
        }
        return b.p;
}

const char *sluice_version(void)
{
        return "0.1.0";
}

void sluice_report_totals(const struct sluice_report *r, struct sluice_totals *t)
{
        *t = r->t;
}

const char *sluice_report_text(const struct sluice_report *r)
{
        return r->text.p ? r->text.p : "";
}

void sluice_report_free(struct sluice_report *r)
{
        if (!r)
                return;
        sl_buf_free(&r->text);
        free(r);
}

/* ---- the run -------------------------------------------------------- */

struct run {
        const struct sl_plan *plan;
        const struct sluice_file_opts *opts;
        const char *paths[64];  /* per source */
        FILE **files;            /* distinct sink files */
        uint32_t nfiles;
        struct sl_sink_map sinks;
        struct sl_worker *workers;
        uint32_t nworkers;
        struct sl_dispatch *d;
        _Atomic bool stop;
        int merge_rc;
        pthread_t merger;
        uint64_t seq;
        struct sl_buf warn;      /* report lines about the inputs (FlatBuffers framing) */
        uint64_t warned[2];      /* per source bit: oversize / truncated frame said */
};

static void *merger_main(void *arg)
{
        struct run *r = arg;
        r->merge_rc = sl_merge_run(r->workers, r->nworkers, &r->sinks, &r->stop);
        if (r->merge_rc)
                atomic_store_explicit(&r->stop, true, memory_order_relaxed);
        return NULL;
}

static int bind_inputs(struct run *r, char *err, size_t errlen)
{
        const struct sl_plan *p = r->plan;
        const struct sluice_file_opts *o = r->opts;
        if (p->nsources > 64) {
                errf(err, errlen, "too many streams (at most 64)");
                return -EINVAL;
        }
        for (unsigned i = 0; i < o->ninputs; i++) {
                const struct sluice_input *in = &o->inputs[i];
                int si;
                if (!in->stream) {
                        if (p->nsources != 1) {
                                errf(err, errlen,
                                     "the pipeline reads %u streams: name each input, --input STREAM=FILE",
                                     p->nsources);
                                return -EINVAL;
                        }
                        si = 0;
                } else if ((si = sl_plan_source_index(p, in->stream)) < 0) {
                        errf(err, errlen, "--input %s=%s: the pipeline has no stream '%s'",
                             in->stream, in->path, in->stream);
                        return -EINVAL;
                }
                if (r->paths[si]) {
                        errf(err, errlen, "two inputs for stream '%s'", p->sources[si].name);
                        return -EINVAL;
                }
                r->paths[si] = in->path;
        }
        for (uint32_t s = 0; s < p->nsources; s++) {
                const struct sl_source *src = &p->sources[s];
                if (src->table && src->joined && !r->paths[s]) {
                        errf(err, errlen, "no input for table '%s': add --input %s=FILE",
                             src->name, src->name);
                        return -EINVAL;
                }
                if (!src->nqueries)
                        continue;
                if (!r->paths[s]) {
                        errf(err, errlen, "no input for stream '%s': add --input %s%s",
                             src->name, p->nsources > 1 ? src->name : "", p->nsources > 1 ? "=FILE" : "FILE");
                        return -EINVAL;
                }
                for (uint32_t k = 0; k < src->nqueries; k++) {
                        const struct sl_query *q = &p->queries[src->queries[k]];
                        if (q->kind == SL_Q_AGGREGATE && q->win.kind != SL_WIN_NONE &&
                            src->ts_col < 0) {
                                errf(err, errlen,
                                     "query '%s' is windowed but stream '%s' has no event time in a file: "
                                     "add TIMESTAMP='column' to its WITH (...)",
                                     q->name, src->name);
                                return -EINVAL;
                        }
                }
        }
        return 0;
}

static int open_sinks(struct run *r, char *err, size_t errlen)
{
        const struct sl_plan *p = r->plan;
        const char *out = r->opts->output ? r->opts->output : "-";
        r->sinks.by_query = calloc(p->nqueries, sizeof *r->sinks.by_query);
        r->sinks.rows = calloc(p->nqueries, sizeof *r->sinks.rows);
        r->files = calloc(p->nqueries, sizeof *r->files);
        if (!r->sinks.by_query || !r->sinks.rows || !r->files) {
                errf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        struct stat sb;
        bool dir = strcmp(out, "-") != 0 && stat(out, &sb) == 0 && S_ISDIR(sb.st_mode);
        uint32_t ntopics = 0;
        for (uint32_t q = 0; q < p->nqueries; q++) {
                bool seen = false;
                for (uint32_t j = 0; j < q; j++)
                        seen |= strcmp(p->queries[j].topic, p->queries[q].topic) == 0;
                ntopics += !seen;
        }
        if (!dir && strcmp(out, "-") != 0 && ntopics > 1) {
                errf(err, errlen,
                     "the pipeline writes %u topics: --output must be an existing directory "
                     "(one DIR/<topic>.ndjson per topic) or -", ntopics);
                return -EINVAL;
        }
        for (uint32_t q = 0; q < p->nqueries; q++) {
                for (uint32_t j = 0; j < q; j++)
                        if (strcmp(p->queries[j].topic, p->queries[q].topic) == 0)
                                r->sinks.by_query[q] = r->sinks.by_query[j];
                if (r->sinks.by_query[q])
                        continue;
                FILE *f;
                char path[4096];
                if (strcmp(out, "-") == 0) {
                        f = stdout;
                } else {
                        if (dir)
                                snprintf(path, sizeof path, "%s/%s.%s", out, p->queries[q].topic,
                                         p->queries[q].format == SL_FMT_FLATBUFFERS ? "fb" : "ndjson");
                        else
                                snprintf(path, sizeof path, "%s", out);
                        f = fopen(path, "w");
                        if (!f) {
                                errf(err, errlen, "cannot create %s: %s", path, strerror(errno));
                                return -EINVAL;
                        }
                        r->files[r->nfiles++] = f;
                }
                setvbuf(f, NULL, _IOFBF, 1 << 20);
                r->sinks.by_query[q] = f;
        }
        return 0;
}

/* Whitespace-only lines are not records. */
static bool blank(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return false;
        return true;
}

/*
 * A regular file is mapped and split in place: no copy into a read buffer
 * (the decoder copies only the values it keeps).  Records point into the
 * mapping only while the dispatcher handles them.
 */
static int split_mapped(struct run *r, uint32_t si, const char *base, size_t size,
                        size_t max_record)
{
        int rc = 0;
        const char *p = base, *end = base + size;
        const char *released = base; /* pages before this are given back */
        while (p < end && rc == 0) {
                /* Give back pages already split: the decoder copied what it
                 * keeps, so peak RSS does not grow with the input size. */
                if (p - released >= (64 << 20)) {
                        size_t n = (size_t)(p - released) & ~(size_t)((64 << 20) - 1);
                        (void)madvise((void *)released, n, MADV_DONTNEED);
                        released += n;
                }
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *e = nl ? nl : end;
                size_t l = (size_t)(e - p);
                if (l > max_record) {
                        sl_dispatch_oversize(r->d, si);
                        r->seq++;
                } else if (!blank(p, l)) {
                        if (p[l - 1] == '\r')
                                l--;
                        rc = sl_dispatch_record(r->d, si, ++r->seq, p, l);
                }
                p = e + 1;
        }
        return rc;
}

/*
 * FLATBUFFERS input: size-prefixed buffers back to back (a 4-byte
 * little-endian length, then the buffer).  A frame longer than max_record
 * is skipped by its length; a file that ends inside a frame or inside a
 * length loses that last record.  Both count as oversize drops and leave a
 * warning in the report (the first of each kind per stream).  No byte
 * outside the input is ever read: a length is checked against what is
 * there before the frame is handed to the decoder.
 */
static void frame_drop(struct run *r, uint32_t si, bool truncated, uint64_t at,
                       uint64_t have, uint64_t n, size_t max_record)
{
        sl_dispatch_oversize(r->d, si);
        r->seq++;
        uint64_t bit = 1ull << (si & 63);
        if (r->warned[truncated] & bit)
                return;
        r->warned[truncated] |= bit;
        const char *s = r->plan->sources[si].name;
        if (truncated)
                sl_buf_addf(&r->warn, "  warning: stream %s: the input ends inside a FlatBuffers frame "
                            "at byte %llu (%llu of %llu bytes there): dropped, counted as oversize\n",
                            s, (unsigned long long)at, (unsigned long long)have,
                            (unsigned long long)n);
        else
                sl_buf_addf(&r->warn, "  warning: stream %s: the FlatBuffers frame at byte %llu is "
                            "%llu bytes, over the %zu-byte record limit (--max-record): skipped, "
                            "counted as oversize\n",
                            s, (unsigned long long)at, (unsigned long long)n, max_record);
}

static int split_frames(struct run *r, uint32_t si, const char *base, size_t size,
                        size_t max_record)
{
        int rc = 0;
        const char *p = base, *end = base + size;
        const char *released = base;
        while (p < end && rc == 0) {
                if (p - released >= (64 << 20)) {
                        size_t n = (size_t)(p - released) & ~(size_t)((64 << 20) - 1);
                        (void)madvise((void *)released, n, MADV_DONTNEED);
                        released += n;
                }
                size_t avail = (size_t)(end - p);
                uint64_t n = avail >= 4 ? sl_fb_load_u32(p) : 4;
                if (avail < 4 || (n <= max_record && n > avail - 4)) {
                        frame_drop(r, si, true, (uint64_t)(p - base), avail, n + 4 * (avail >= 4), max_record);
                        break;
                }
                if (n > max_record) {
                        frame_drop(r, si, false, (uint64_t)(p - base), avail, n, max_record);
                        if (n > avail - 4)
                                break;
                } else {
                        rc = sl_dispatch_record(r->d, si, ++r->seq, p + 4, (size_t)n);
                }
                p += 4 + n;
        }
        return rc;
}

/* The same from a pipe: frames are read into a buffer that grows to the
 * largest frame within the limit; an oversize frame is read and discarded. */
static int read_frames(struct run *r, uint32_t si, int fd, const char *path,
                       size_t max_record, char *err, size_t errlen)
{
        size_t cap = READ_CHUNK, len = 0, start = 0;
        uint64_t base = 0; /* input offset of buf[0] */
        uint64_t skip = 0; /* bytes of an oversize frame still to discard */
        bool eof = false;
        int rc = 0;
        char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        while (rc == 0) {
                /* Take every whole frame in buf[start, len). */
                for (;;) {
                        if (skip) {
                                size_t k = len - start < skip ? len - start : (size_t)skip;
                                start += k;
                                skip -= k;
                                if (skip)
                                        break;
                        }
                        size_t avail = len - start;
                        if (avail < 4)
                                break;
                        uint64_t n = sl_fb_load_u32(buf + start);
                        if (n > max_record) {
                                frame_drop(r, si, false, base + start, avail, n, max_record);
                                start += 4;
                                skip = n;
                                continue;
                        }
                        if (n > avail - 4)
                                break;
                        rc = sl_dispatch_record(r->d, si, ++r->seq, buf + start + 4, (size_t)n);
                        if (rc)
                                goto out;
                        start += 4 + (size_t)n;
                }
                if (eof) {
                        if (len > start && !skip)
                                frame_drop(r, si, true, base + start, len - start,
                                           len - start >= 4 ? 4 + (uint64_t)sl_fb_load_u32(buf + start) : 4,
                                           max_record);
                        break;
                }
                /* Keep the partial frame at the front, with room for all of it. */
                memmove(buf, buf + start, len - start);
                base += start;
                len -= start;
                start = 0;
                size_t want = len >= 4 && !skip ? 4 + (size_t)sl_fb_load_u32(buf) : 0;
                if (want < len + READ_CHUNK / 2)
                        want = len + READ_CHUNK / 2;
                if (want > cap) {
                        size_t ncap = cap;
                        while (ncap < want)
                                ncap *= 2;
                        char *nb = realloc(buf, ncap);
                        if (!nb) {
                                rc = -ENOMEM;
                                goto out;
                        }
                        buf = nb;
                        cap = ncap;
                }
                ssize_t got = read(fd, buf + len, cap - len);
                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        rc = -errno;
                        errf(err, errlen, "read %s: %s", path, strerror(errno));
                        goto out;
                }
                eof = got == 0;
                len += (size_t)got;
        }
out:
        free(buf);
        return rc;
}

static int read_source(struct run *r, uint32_t si, const char *path,
                       char *err, size_t errlen)
{
        size_t max_record = r->opts->max_record ? r->opts->max_record : DEFAULT_MAX_RECORD;
        int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
                return -errno;
        }
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        struct stat sb;
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
            (uint64_t)sb.st_size <= SIZE_MAX) {
                size_t size = (size_t)sb.st_size;
                const char *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
                if (base != MAP_FAILED) {
                        (void)madvise((void *)base, size, MADV_SEQUENTIAL);
                        int rc = r->plan->sources[si].format == SL_FMT_FLATBUFFERS
                                ? split_frames(r, si, base, size, max_record)
                                : split_mapped(r, si, base, size, max_record);
                        munmap((void *)base, size);
                        close(fd);
                        return rc;
                }
                /* Not mappable (a special file system): read it instead. */
        }
        if (r->plan->sources[si].format == SL_FMT_FLATBUFFERS) {
                int rc = read_frames(r, si, fd, path, max_record, err, errlen);
                if (fd > 0)
                        close(fd);
                return rc;
        }
        size_t cap = READ_CHUNK, len = 0;
        char *buf = malloc(cap);
        int rc = 0;
        bool skipping = false; /* inside an oversize record */
        if (!buf) {
                rc = -ENOMEM;
                goto out;
        }
        for (;;) {
                if (cap - len < READ_CHUNK / 2) {
                        size_t ncap = cap * 2;
                        char *nb = realloc(buf, ncap);
                        if (!nb) {
                                rc = -ENOMEM;
                                goto out;
                        }
                        buf = nb;
                        cap = ncap;
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        rc = -errno;
                        errf(err, errlen, "read %s: %s", path, strerror(errno));
                        goto out;
                }
                bool eof = n == 0;
                len += (size_t)n;
                size_t start = 0;
                for (;;) {
                        char *nl = memchr(buf + start, '\n', len - start);
                        size_t end = nl ? (size_t)(nl - buf) : len;
                        if (!nl && !eof)
                                break;
                        if (!nl && start == len)
                                break;
                        size_t l = end - start;
                        if (skipping) {
                                skipping = false;
                        } else if (l > max_record) {
                                sl_dispatch_oversize(r->d, si);
                                r->seq++;
                        } else if (!blank(buf + start, l)) {
                                if (l && buf[start + l - 1] == '\r')
                                        l--;
                                rc = sl_dispatch_record(r->d, si, ++r->seq, buf + start, l);
                                if (rc)
                                        goto out;
                        }
                        start = end + 1;
                        if (!nl)
                                break;
                }
                if (eof)
                        break;
                if (skipping) {
                        /* No newline yet: all of it belongs to the oversize record. */
                        len = 0;
                        continue;
                }
                memmove(buf, buf + start, len - start);
                len -= start;
                if (len > max_record) {
                        /* A record longer than the limit: count it once,
                         * drop what we hold and skip to its newline. */
                        sl_dispatch_oversize(r->d, si);
                        r->seq++;
                        len = 0;
                        skipping = true;
                }
        }
out:
        free(buf);
        if (fd > 0)
                close(fd);
        return rc;
}

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct sluice_report *make_report(struct run *r, double secs)
{
        const struct sl_plan *p = r->plan;
        struct sl_query_stats *qs = calloc(p->nqueries, sizeof *qs);
        struct sl_source_stats *ss = calloc(p->nsources, sizeof *ss);
        struct sluice_report *rep = NULL;
        if (!qs || !ss)
                goto out;
        for (uint32_t q = 0; q < p->nqueries; q++) {
                qs[q] = *sl_dispatch_query_stats(r->d, q);
                qs[q].rows = r->sinks.rows[q];
                for (uint32_t w = 0; w < r->nworkers; w++) {
                        if (!r->workers[w].ops || !r->workers[w].ops[q])
                                continue;
                        struct sl_aggop_stats as;
                        sl_aggop_stats(r->workers[w].ops[q], &as);
                        qs[q].late += as.late;
                        qs[q].keys_max += as.keys_max;
                        qs[q].state_bytes += as.bytes;
                }
        }
        for (uint32_t s = 0; s < p->nsources; s++)
                ss[s] = *sl_dispatch_source_stats(r->d, s);
        rep = sl_report_new(p, ss, qs, secs, r->nworkers, "rows written");
        if (rep && r->warn.len)
                sl_buf_add(&rep->text, r->warn.p, r->warn.len);
        rep = sl_report_end(rep);
out:
        free(qs);
        free(ss);
        return rep;
}

static unsigned online_cpus(void)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned)n : 1;
}

int sluice_run_files(const struct sluice_pipeline *pl, const struct sluice_file_opts *opts,
                     struct sluice_report **report, char *err, size_t errlen)
{
        struct run r = {.plan = pl->plan, .opts = opts};
        int rc;
        bool merger_started = false;
        uint32_t started = 0;
        *report = NULL;
        err[0] = '\0';
        atomic_init(&r.stop, false);
        if ((rc = bind_inputs(&r, err, errlen)) != 0 ||
            (rc = open_sinks(&r, err, errlen)) != 0)
                goto out;
        unsigned ncpu = online_cpus();
        r.nworkers = opts->workers ? opts->workers : ncpu;
        if (r.nworkers > 256) {
                errf(err, errlen, "--workers %u: at most 256", r.nworkers);
                rc = -EINVAL;
                goto out;
        }
        r.workers = calloc(r.nworkers, sizeof *r.workers);
        if (!r.workers) {
                rc = -ENOMEM;
                goto out;
        }
        for (uint32_t w = 0; w < r.nworkers; w++) {
                if ((rc = sl_worker_init(&r.workers[w], w, r.plan, &r.stop)) != 0)
                        goto out;
                r.workers[w].cpu = opts->no_pin ? -1 : (int)(w % ncpu);
        }
        r.d = sl_dispatch_new(r.plan, r.workers, r.nworkers, &r.stop);
        if (!r.d) {
                rc = -ENOMEM;
                goto out;
        }
        double t0 = now();
        for (; started < r.nworkers; started++)
                if ((rc = sl_worker_start(&r.workers[started])) != 0)
                        goto stop;
        if ((rc = -pthread_create(&r.merger, NULL, merger_main, &r)) != 0)
                goto stop;
        merger_started = true;
        for (uint32_t s = 0; s < r.plan->nsources && rc == 0; s++)
                if (r.paths[s] && r.plan->sources[s].table && r.plan->sources[s].joined)
                        rc = read_source(&r, s, r.paths[s], err, errlen);
        for (uint32_t s = 0; s < r.plan->nsources && rc == 0; s++)
                if (r.paths[s] && r.plan->sources[s].nqueries)
                        rc = read_source(&r, s, r.paths[s], err, errlen);
        if (rc == 0)
                rc = sl_dispatch_finish(r.d);
stop:
        if (rc)
                atomic_store_explicit(&r.stop, true, memory_order_relaxed);
        for (uint32_t w = 0; w < started; w++) {
                pthread_join(r.workers[w].thread, NULL);
                if (rc == 0 && r.workers[w].rc)
                        rc = r.workers[w].rc;
        }
        if (merger_started) {
                pthread_join(r.merger, NULL);
                if (rc == 0)
                        rc = r.merge_rc;
        }
        double secs = now() - t0;
        for (uint32_t q = 0; q < r.plan->nqueries; q++)
                if (r.sinks.by_query[q] && fflush(r.sinks.by_query[q]) != 0 && rc == 0) {
                        rc = -EIO;
                        errf(err, errlen, "writing output: %s", strerror(errno));
                }
        if (rc && !err[0])
                errf(err, errlen, "run failed: %s", strerror(-rc));
        if (rc != -EINVAL)
                *report = make_report(&r, secs);
out:
        if (rc == -EINVAL && !err[0])
                errf(err, errlen, "invalid configuration");
        for (uint32_t i = 0; i < r.nfiles; i++)
                if (fclose(r.files[i]) != 0 && rc == 0) {
                        rc = -EIO;
                        errf(err, errlen, "closing output: %s", strerror(errno));
                }
        sl_dispatch_destroy(r.d);
        if (r.workers)
                for (uint32_t w = 0; w < r.nworkers; w++)
                        sl_worker_fini(&r.workers[w]);
        free(r.workers);
        free(r.files);
        free(r.sinks.by_query);
        free(r.sinks.rows);
        sl_buf_free(&r.warn);
        return rc;
}
