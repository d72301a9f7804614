/*
 * snapshot.h - checkpoint storage: the snapshot file format, a writer
 * thread (io_uring), the reader, retention, and the listing of a
 * checkpoint directory.  The state itself is an opaque payload here
 * (sl_part_save produces it, sl_part_load consumes it).
 *
 * File format, every integer little-endian, written byte by byte:
 *
 *   magic           8  "SLSNAP\0\1"
 *   format version  u32 (1)
 *   pipeline hash   u64
 *   partition       i32
 *   topic length    u16 (1..249), then the topic bytes
 *   offset          i64  the next input offset after the state
 *   stream time     i64  informational (INT64_MIN: none)
 *   entries         u64  number of keys, informational
 *   payload length  u64, then the payload
 *   checksum        u64  XXH3-64 of every byte before it
 *
 * Layout of a checkpoint directory DIR:
 *
 *   DIR/<topic>/<partition>/<offset as 20 digits>.snap
 *   DIR/<topic>/<partition>/MANIFEST   published snapshot names, newest first
 *
 * A snapshot is published by writing <name>.tmp, fsyncing it, renaming it
 * to <name>; then MANIFEST.tmp is written (from the *.snap files present),
 * fsynced and renamed to MANIFEST, and the partition directory fsynced.
 * Only files of those names are ever created or removed here.
 *
 * Threads: the encode/decode functions and the free functions (load,
 * prune, hash_mismatch, reset, list) may be called from any thread;
 * manifest rewrites of one process are serialised by a lock in this
 * module.  A writer is used by one owner thread (submit, poll, destroy);
 * the writer thread does the file I/O.  One process per directory.
 *
 * I/O goes through io_uring; where the ring cannot be set up (seccomp in a
 * container, an old kernel, or SLUICE_NO_URING=1 in the environment) plain
 * pwrite/pread and fsync are used instead, and the warn callback says so
 * once.
 */
#ifndef SL_SNAPSHOT_H
#define SL_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"

#define SL_SNAP_MAGIC "SLSNAP\0\1"    /* 8 bytes, with the NUL inside */
#define SL_SNAP_VERSION 1u
#define SL_SNAP_TOPIC_MAX 249
/* Largest header (everything before the payload). */
#define SL_SNAP_HEADER_MAX (8 + 4 + 8 + 4 + 2 + SL_SNAP_TOPIC_MAX + 8 + 8 + 8 + 8)

struct sl_snap_meta {
        uint64_t hash;          /* pipeline hash */
        int32_t partition;
        char topic[256];        /* NUL-terminated */
        int64_t offset;         /* next input offset after the state */
        int64_t stream_time;
        uint64_t entries;
        uint64_t payload_len;   /* decode sets it; encode uses its len argument */
};

/* A Kafka topic name: 1..249 of [A-Za-z0-9._-], not "." or "..". */
bool sl_snap_topic_ok(const char *topic);

/*
 * Appends the encoded snapshot of (m, payload[0..len)) to out.  0, -EINVAL
 * (a topic that is not a Kafka topic name, a negative partition or offset)
 * or -ENOMEM (out is then marked oom and holds what it held before).
 */
int sl_snap_encode(const struct sl_snap_meta *m, const void *payload, size_t len,
                   struct sl_buf *out);

/*
 * The same bytes without copying a payload built in place:
 *   sl_snap_begin(out, topic, &start);      (the header's room)
 *   ...append the payload to out...         (e.g. sl_part_save(pt, out, ...))
 *   sl_snap_finish(out, start, &m);         (the header, then the checksum)
 * finish takes the payload length from out->len and ignores m->payload_len;
 * m->topic must be begin's topic.  0, -EINVAL or -ENOMEM (also when out
 * went oom in between).
 */
int sl_snap_begin(struct sl_buf *out, const char *topic, size_t *start);
int sl_snap_finish(struct sl_buf *out, size_t start, const struct sl_snap_meta *m);

/*
 * Checks and decodes a whole snapshot: fills *m and points *payload into
 * buf (m->payload_len bytes).  expect_hash 0: any pipeline hash.  Returns 0,
 * or -EINVAL with why set to one of: "bad magic", "format version 7,
 * expected 1", "truncated in <section> (N of M bytes)", "topic length N,
 * expected 1 to 249", "N trailing bytes after the checksum", "checksum
 * mismatch", "pipeline hash X, expected Y", or a field that is out of range
 * (topic name, partition, offset).  why may be NULL.
 */
int sl_snap_decode(const void *buf, size_t len, uint64_t expect_hash,
                   struct sl_snap_meta *m, const void **payload, char *why, size_t whylen);

/* ---- the writer ------------------------------------------------------ */

typedef void (*sl_ckpt_warn_fn)(void *arg, const char *msg);

struct sl_ckpt_writer;

/* One finished snapshot write, from sl_ckpt_poll. */
struct sl_ckpt_done {
        char topic[256];
        int32_t partition;
        int64_t offset;
        uint64_t bytes;         /* file size */
        uint64_t write_ns;      /* from submit to published (directory fsynced) */
        int rc;                 /* 0: published; else -errno, nothing published */
        char why[320];          /* rc != 0: the step and the file that failed */
};

/*
 * Creates DIR (mkdir -p), removes temporaries a crashed run left under it,
 * sets up the ring and starts the writer thread.  warn (may be NULL) gets
 * one-line messages: the io_uring fallback (once, from this call) and
 * failures of sl_ckpt_writer_prune (from the writer thread).  NULL with
 * *err = -errno on failure.
 */
struct sl_ckpt_writer *sl_ckpt_writer_new(const char *dir, sl_ckpt_warn_fn warn, void *arg,
                                          int *err);

/*
 * Queues an encoded snapshot (sl_snap_encode output, exactly one snapshot)
 * of m->topic / m->partition at m->offset.  Takes the bytes: on success
 * *encoded is emptied ({0}); on failure it is left to the caller.  Never
 * waits for I/O.  0, -EINVAL (m does not match the encoded header, or not
 * a snapshot), -ENOMEM, or -ESHUTDOWN after sl_ckpt_writer_destroy_finish.
 */
int sl_ckpt_submit(struct sl_ckpt_writer *w, const struct sl_snap_meta *m,
                   struct sl_buf *encoded);

/*
 * Queues sl_ckpt_prune(dir, topic, partition, committed) for the writer
 * thread, after the writes queued before it.  A failure is reported through
 * warn.  0, -EINVAL, -ENOMEM or -ESHUTDOWN.
 */
int sl_ckpt_writer_prune(struct sl_ckpt_writer *w, const char *topic, int32_t partition,
                         int64_t committed);

/* Up to max finished writes, oldest first, without waiting.  Returns how
 * many were stored in out. */
unsigned sl_ckpt_poll(struct sl_ckpt_writer *w, struct sl_ckpt_done *out, unsigned max);

/* Whether the writer does its I/O with io_uring (false: the fallback). */
bool sl_ckpt_writer_uring(const struct sl_ckpt_writer *w);

/* Finishes every queued job and stops the thread; results stay available
 * to sl_ckpt_poll.  Idempotent. */
void sl_ckpt_writer_destroy_finish(struct sl_ckpt_writer *w);

/* sl_ckpt_writer_destroy_finish, then frees the writer and any results not
 * polled.  NULL is fine. */
void sl_ckpt_writer_destroy(struct sl_ckpt_writer *w);

/* ---- reading and maintenance ----------------------------------------- */

/*
 * Retention: once a snapshot with offset <= committed exists (its header
 * and size check out), every snapshot older than it is removed and MANIFEST
 * rewritten; snapshots newer than committed are kept.  Does no writes when
 * there is nothing to remove.  0 (also for a missing directory), -EINVAL
 * for a bad topic, or -errno.
 */
int sl_ckpt_prune(const char *dir, const char *topic, int32_t partition, int64_t committed);

/*
 * The newest snapshot of topic/partition with offset <= max_offset that
 * decodes cleanly with expect_hash (0: any), from the names in MANIFEST (and
 * the *.snap files present when MANIFEST is missing, damaged or names a
 * missing file).  Every snapshot skipped is reported through warn (may be
 * NULL) with its path and the reason.  On 0, *m is filled and *payload is a
 * malloc'd copy of the payload (m->payload_len bytes, the caller frees).
 * 0, -ENOENT (none usable, or no such directory), -EINVAL (bad topic),
 * -ENOMEM, or another -errno.
 */
int sl_ckpt_load(const char *dir, const char *topic, int32_t partition, int64_t max_offset,
                 uint64_t expect_hash, struct sl_snap_meta *m, void **payload,
                 sl_ckpt_warn_fn warn, void *arg);

/*
 * 1 if a valid snapshot under dir was written by a pipeline of another hash
 * (what: which file and both hashes), 0 if none (or no directory), or
 * -errno.  Only files whose header carries another hash are read in full.
 */
int sl_ckpt_hash_mismatch(const char *dir, uint64_t expect_hash, char *what, size_t whatlen);

/*
 * Removes every file this module creates under dir (*.snap, their
 * temporaries, MANIFEST, MANIFEST.tmp), then the topic and partition
 * directories left empty; dir itself stays.  0 (also for a missing
 * directory) or the first -errno.
 */
int sl_ckpt_reset(const char *dir);

/*
 * Appends a listing of every snapshot under dir (topic, partition, offset,
 * stream time, entries, size, pipeline hash, and "ok" or why it is
 * invalid), one line each, after checking each one in full.  Returns the
 * number of invalid snapshots (>= 0), or -errno (-ENOENT: no directory,
 * -ENOMEM).
 */
int sl_ckpt_list(const char *dir, struct sl_buf *out);

#endif
