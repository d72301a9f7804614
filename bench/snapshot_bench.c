/*
 * snapshot_bench.c - checkpoint costs for P1.3: a partition holding K keys
 * with open windows (5-minute tumbling AVG+COUNT, one open window per key):
 *   - worker stall: sl_part_save into the file image (what a worker does),
 *     into a new buffer (as kafka_run.c does: each snapshot's buffer goes
 *     to the writer thread, which frees it) and again into the same buffer,
 *     its pages already touched (what reusing buffers would give);
 *   - write: the writer thread's write + fsync + publish (io_uring);
 *   - restore: sl_ckpt_load (read with io_uring, XXH3 check) + sl_part_load,
 *     into new memory (a process that starts); then sl_part_load again into
 *     another partition after the first is destroyed, malloc keeping and
 *     reusing the freed memory (mostly: what the second needs beyond it is
 *     new), which is the cost of the code without first page touches;
 *   - for scale: a memcpy of the snapshot's bytes into new memory and again
 *     into the same memory.  On a VM whose host backs guest pages lazily
 *     the first is far slower, and varies with the host's load: it bounds
 *     what a stall or a restore into new memory can reach.
 *
 *   snapshot_bench KEYS [DIR]      (DIR default /tmp; files are removed)
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "engine/buf.h"
#include "engine/part.h"
#include "engine/plan.h"
#include "engine/ring.h"
#include "engine/snapshot.h"

static const char sql[] =
        "CREATE STREAM s (userId STRING KEY, amount DOUBLE, ts BIGINT)\n"
        "  WITH (KAFKA_TOPIC='in', VALUE_FORMAT='JSON', TIMESTAMP='ts');\n"
        "CREATE TABLE t WITH (KAFKA_TOPIC='t') AS SELECT userId, COUNT(*) AS n, AVG(amount) AS a,\n"
        "  WINDOWSTART AS ws FROM s WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY userId EMIT FINAL;\n";

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: snapshot_bench KEYS [DIR]\n");
                return 2;
        }
        uint64_t keys = strtoull(argv[1], NULL, 10);
        char dir[512];
        snprintf(dir, sizeof dir, "%s/snapbench-%d", argc > 2 ? argv[2] : "/tmp", (int)getpid());
        char err[256];
        struct sl_plan *p = sl_plan_load_string(sql, sizeof sql - 1, "b.sql", err, sizeof err);
        if (!p) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        struct sl_ring ring;
        _Atomic bool stop = false;
        sl_ring_init(&ring, 1024);
        struct sl_outq oq = {.ring = &ring, .stop = &stop};
        struct sl_part *pt = sl_part_new(p, 0, 0, &oq);
        char key[32], val[96];
        double t0 = now();
        for (uint64_t i = 0; i < keys; i++) {
                int kl = snprintf(key, sizeof key, "user%" PRIu64, i);
                int vl = snprintf(val, sizeof val, "{\"amount\":%" PRIu64 ".5,\"ts\":1700000000000}", i % 1000);
                if (sl_part_record(pt, (int64_t)i, key, (size_t)kl, val, (size_t)vl, 0) != 0)
                        return 1;
        }
        double t_fill = now() - t0;

        struct sl_snap_meta m = {.hash = p->hash, .partition = 0, .offset = (int64_t)keys};
        snprintf(m.topic, sizeof m.topic, "in");
        struct sl_buf enc = {0};
        size_t start;
        t0 = now();
        sl_snap_begin(&enc, m.topic, &start);
        sl_part_save(pt, &enc, &m.stream_time, &m.entries);
        sl_snap_finish(&enc, start, &m);
        double t_save = now() - t0;
        size_t bytes = enc.len;
        sl_buf_reset(&enc);
        m.entries = 0; /* sl_part_save adds to it */
        t0 = now();
        sl_snap_begin(&enc, m.topic, &start);
        sl_part_save(pt, &enc, &m.stream_time, &m.entries);
        sl_snap_finish(&enc, start, &m);
        double t_save_reuse = now() - t0;
        if (enc.len != bytes || !sl_buf_ok(&enc)) {
                fprintf(stderr, "second save: %zu bytes, first %zu\n", enc.len, bytes);
                return 1;
        }

        int e = 0;
        struct sl_ckpt_writer *w = sl_ckpt_writer_new(dir, NULL, NULL, &e);
        if (!w) {
                fprintf(stderr, "writer: %d\n", e);
                return 1;
        }
        t0 = now();
        sl_ckpt_submit(w, &m, &enc);
        struct sl_ckpt_done d;
        while (sl_ckpt_poll(w, &d, 1) == 0)
                usleep(200);
        double t_write = now() - t0;
        sl_ckpt_writer_destroy(w);

        struct sl_part *q = sl_part_new(p, 0, 0, &oq);
        struct sl_snap_meta lm;
        void *payload = NULL;
        t0 = now();
        int rc = sl_ckpt_load(dir, "in", 0, INT64_MAX, p->hash, &lm, &payload, NULL, NULL);
        double t_read = now() - t0;
        double t1 = now();
        if (rc == 0)
                rc = sl_part_load(q, payload, lm.payload_len);
        double t_load = now() - t1;
        uint64_t restored = sl_part_keys(q);

        /* Freed memory stays in the heap and serves the next allocations
         * (glibc: no trimming, no mmap). */
        mallopt(M_TRIM_THRESHOLD, INT_MAX);
        mallopt(M_MMAP_MAX, 0);
        sl_part_destroy(q);
        q = sl_part_new(p, 0, 0, &oq);
        t1 = now();
        int rc2 = rc == 0 ? sl_part_load(q, payload, lm.payload_len) : rc;
        double t_load_reused = now() - t1;
        if (rc == 0 && (rc2 != 0 || sl_part_keys(q) != restored))
                rc = rc2 ? rc2 : -1;
        sl_part_destroy(q);

        double t_fresh = 0, t_same = 0;
        char *copy = rc == 0 ? mmap(NULL, lm.payload_len, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                             : MAP_FAILED;
        if (copy != MAP_FAILED) {
                t0 = now();
                memcpy(copy, payload, lm.payload_len);
                t_fresh = now() - t0;
                t0 = now();
                memcpy(copy, payload, lm.payload_len);
                t_same = now() - t0;
                munmap(copy, lm.payload_len);
        }
        printf("keys=%" PRIu64 " fill=%.2fs snapshot_bytes=%zu stall_save_ms=%.1f (%.2f GB/s) "
               "stall_save_reused_buffer_ms=%.1f (%.2f GB/s) "
               "write_publish_ms=%.1f (%.2f GB/s, %s) restore_read_check_ms=%.1f (%.2f GB/s) "
               "restore_load_ms=%.1f restore_total_ms=%.1f (%.2f GB/s) "
               "restore_load_reused_memory_ms=%.1f keys_restored=%" PRIu64 " "
               "memcpy_new_pages_ms=%.1f (%.2f GB/s) memcpy_same_pages_ms=%.1f (%.2f GB/s) rc=%d\n",
               keys, t_fill, bytes, t_save * 1e3, (double)bytes / t_save / 1e9,
               t_save_reuse * 1e3, (double)bytes / t_save_reuse / 1e9, t_write * 1e3,
               (double)bytes / t_write / 1e9, d.rc ? "FAILED" : "published",
               t_read * 1e3, (double)bytes / t_read / 1e9, t_load * 1e3,
               (t_read + t_load) * 1e3, (double)bytes / (t_read + t_load) / 1e9,
               t_load_reused * 1e3, restored, t_fresh * 1e3,
               (double)lm.payload_len / t_fresh / 1e9, t_same * 1e3,
               (double)lm.payload_len / t_same / 1e9, rc);
        free(payload);
        sl_ckpt_reset(dir);
        rmdir(dir);
        sl_part_destroy(pt);
        sl_plan_free(p);
        return rc ? 1 : 0;
}
