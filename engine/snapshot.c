/*
 * snapshot.c - checkpoint storage; see snapshot.h.
 *
 * I/O: struct io is a ring (io_uring) or nothing (plain syscalls).  Writes
 * go as a linked chain write -> ... -> fsync, restarted from where a short
 * write stopped it (a short write cancels the rest of the chain).  Reads
 * of a snapshot go as up to RD_DEPTH chunk reads in flight, hashed in file
 * order as they complete, into the caller's buffer: the payload is read
 * straight into the buffer handed out, never copied.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <xxhash.h>

#include "engine/probes.h"
#include "engine/snapshot.h"

#define MAGIC_LEN 8
#define FIXED_LEN (SL_SNAP_HEADER_MAX - SL_SNAP_TOPIC_MAX)  /* header without the topic */
#define SUM_LEN 8
#define WR_CHUNK (1u << 30)             /* largest single write */
#define WR_LINKS 8                      /* writes in one chain */
#define RD_CHUNK ((size_t)4 << 20)
#define RD_DEPTH 2                      /* one chunk read while the last is hashed */
#define VERIFY_WINDOW ((size_t)32 << 20) /* checking without keeping the payload */
#define RING_ENTRIES 32

/* Manifest rewrites and pruning of this process, one at a time. */
static pthread_mutex_t manifest_mu = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((format(printf, 3, 4)))
void say(char *why, size_t n, const char *fmt, ...)
{
        if (!why || !n)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
}

static __attribute__((format(printf, 3, 4)))
void warnf(sl_ckpt_warn_fn warn, void *arg, const char *fmt, ...)
{
        if (!warn)
                return;
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        warn(arg, msg);
}

static uint64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- bytes -------------------------------------------------------------- */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
        return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
        return p + 8;
}

static uint64_t get(const uint8_t *p, int n)
{
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

/* ---- the format ----------------------------------------------------------- */

bool sl_snap_topic_ok(const char *topic)
{
        size_t n = 0;
        for (; topic[n]; n++) {
                char c = topic[n];
                if (n == SL_SNAP_TOPIC_MAX)
                        return false;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return n > 0 && strcmp(topic, ".") != 0 && strcmp(topic, "..") != 0;
}

static bool meta_topic_ok(const struct sl_snap_meta *m)
{
        return memchr(m->topic, '\0', sizeof m->topic) && sl_snap_topic_ok(m->topic);
}

/* Large buffers about to be filled: transparent huge pages where the
 * kernel gives them on request (a 4 KiB page fault per 4 KiB otherwise
 * costs more than the copy).  A hint only. */
static void hint_huge(void *p, size_t n)
{
        const uintptr_t huge = (uintptr_t)2 << 20;
        uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
        uintptr_t e = ((uintptr_t)p + n) & ~(huge - 1);
        if (n >= 4 * huge && e > a)
                (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
}

int sl_snap_begin(struct sl_buf *out, const char *topic, size_t *start)
{
        if (!sl_snap_topic_ok(topic))
                return -EINVAL;
        size_t tlen = strlen(topic);
        if (!sl_buf_reserve(out, FIXED_LEN + tlen))
                return -ENOMEM;
        uint8_t *p = (uint8_t *)out->p + out->len;
        memset(p, 0, FIXED_LEN + tlen);
        memcpy(p, SL_SNAP_MAGIC, MAGIC_LEN);
        put16(p + 24, (uint16_t)tlen);
        memcpy(p + 26, topic, tlen);
        *start = out->len;
        out->len += FIXED_LEN + tlen;
        return 0;
}

int sl_snap_finish(struct sl_buf *out, size_t start, const struct sl_snap_meta *m)
{
        if (!sl_buf_ok(out))
                return -ENOMEM;
        if (!meta_topic_ok(m) || m->partition < 0 || m->offset < 0)
                return -EINVAL;
        size_t tlen = strlen(m->topic), hlen = FIXED_LEN + tlen;
        if (start > out->len || out->len - start < hlen)
                return -EINVAL;
        uint8_t *s = (uint8_t *)out->p + start;
        if (memcmp(s, SL_SNAP_MAGIC, MAGIC_LEN) || get(s + 24, 2) != tlen ||
            memcmp(s + 26, m->topic, tlen))
                return -EINVAL; /* not what sl_snap_begin left for this topic */
        if (!sl_buf_reserve(out, SUM_LEN))
                return -ENOMEM;
        s = (uint8_t *)out->p + start;
        size_t plen = out->len - start - hlen;
        uint8_t *p = s + MAGIC_LEN;
        p = put32(p, SL_SNAP_VERSION);
        p = put64(p, m->hash);
        p = put32(p, (uint32_t)m->partition);
        p += 2 + tlen;
        p = put64(p, (uint64_t)m->offset);
        p = put64(p, (uint64_t)m->stream_time);
        p = put64(p, m->entries);
        put64(p, (uint64_t)plen);
        put64(s + hlen + plen, XXH3_64bits(s, hlen + plen));
        out->len += SUM_LEN;
        return 0;
}

int sl_snap_encode(const struct sl_snap_meta *m, const void *payload, size_t len,
                   struct sl_buf *out)
{
        if (!meta_topic_ok(m) || m->partition < 0 || m->offset < 0 || (len && !payload))
                return -EINVAL;
        size_t hlen = FIXED_LEN + strlen(m->topic), start;
        if (len > SIZE_MAX - hlen - SUM_LEN || out->len > SIZE_MAX - hlen - len - SUM_LEN)
                return -ENOMEM;
        if (!sl_buf_reserve(out, hlen + len + SUM_LEN))
                return -ENOMEM;
        hint_huge(out->p + out->len, hlen + len + SUM_LEN);
        int rc = sl_snap_begin(out, m->topic, &start);
        if (rc)
                return rc;
        if (len)
                memcpy(out->p + out->len, payload, len);
        out->len += len;
        return sl_snap_finish(out, start, m);
}

struct cursor {
        const uint8_t *b;
        size_t len, pos;
        char *why;
        size_t whylen;
};

static const uint8_t *take(struct cursor *c, const char *section, size_t n)
{
        if (c->len - c->pos < n) {
                say(c->why, c->whylen, "truncated in %s (%zu of %zu bytes)", section,
                    c->len - c->pos, n);
                return NULL;
        }
        c->pos += n;
        return c->b + c->pos - n;
}

/* Everything before the payload, from b[0..len) (at least the whole
 * header when there is one).  0 with *hlen set, or -EINVAL. */
static int parse_header(const uint8_t *b, size_t len, struct sl_snap_meta *m, size_t *hlen,
                        char *why, size_t whylen)
{
        struct cursor c = {.b = b, .len = len, .why = why, .whylen = whylen};
        const uint8_t *p;
        memset(m, 0, sizeof *m);
        if (memcmp(b, SL_SNAP_MAGIC, len < MAGIC_LEN ? len : MAGIC_LEN) != 0) {
                say(why, whylen, "bad magic");
                return -EINVAL;
        }
        if (!take(&c, "magic", MAGIC_LEN) || !(p = take(&c, "format version", 4)))
                return -EINVAL;
        uint32_t version = (uint32_t)get(p, 4);
        if (version != SL_SNAP_VERSION) {
                say(why, whylen, "format version %" PRIu32 ", expected %u", version,
                    SL_SNAP_VERSION);
                return -EINVAL;
        }
        if (!(p = take(&c, "pipeline hash", 8)))
                return -EINVAL;
        m->hash = get(p, 8);
        if (!(p = take(&c, "partition", 4)))
                return -EINVAL;
        m->partition = (int32_t)(uint32_t)get(p, 4);
        if (!(p = take(&c, "topic length", 2)))
                return -EINVAL;
        size_t tlen = (size_t)get(p, 2);
        if (tlen < 1 || tlen > SL_SNAP_TOPIC_MAX) {
                say(why, whylen, "topic length %zu, expected 1 to %d", tlen, SL_SNAP_TOPIC_MAX);
                return -EINVAL;
        }
        if (!(p = take(&c, "topic", tlen)))
                return -EINVAL;
        memcpy(m->topic, p, tlen);
        m->topic[tlen] = '\0';
        if (!(p = take(&c, "offset", 8)))
                return -EINVAL;
        m->offset = (int64_t)get(p, 8);
        if (!(p = take(&c, "stream time", 8)))
                return -EINVAL;
        m->stream_time = (int64_t)get(p, 8);
        if (!(p = take(&c, "entries", 8)))
                return -EINVAL;
        m->entries = get(p, 8);
        if (!(p = take(&c, "payload length", 8)))
                return -EINVAL;
        m->payload_len = get(p, 8);
        *hlen = c.pos;
        return 0;
}

/* Does a file of total bytes hold exactly header, payload and checksum? */
static int check_layout(size_t hlen, uint64_t plen, uint64_t total, char *why, size_t whylen)
{
        uint64_t rest = total - hlen;
        if (plen > rest) {
                say(why, whylen, "truncated in payload (%" PRIu64 " of %" PRIu64 " bytes)",
                    rest, plen);
                return -EINVAL;
        }
        rest -= plen;
        if (rest < SUM_LEN) {
                say(why, whylen, "truncated in checksum (%" PRIu64 " of %d bytes)", rest,
                    SUM_LEN);
                return -EINVAL;
        }
        if (rest > SUM_LEN) {
                say(why, whylen, "%" PRIu64 " trailing bytes after the checksum",
                    rest - SUM_LEN);
                return -EINVAL;
        }
        if (plen > SIZE_MAX - SUM_LEN) {
                say(why, whylen, "payload length %" PRIu64 " does not fit in memory", plen);
                return -EINVAL;
        }
        return 0;
}

/* The fields a checksum does not vouch for (a writer's bug), and the
 * pipeline hash. */
static int check_fields(const struct sl_snap_meta *m, uint64_t expect_hash, char *why,
                        size_t whylen)
{
        if (!sl_snap_topic_ok(m->topic)) {
                say(why, whylen, "topic name not valid");
                return -EINVAL;
        }
        if (m->partition < 0 || m->offset < 0) {
                say(why, whylen, "partition %" PRId32 ", offset %" PRId64 " out of range",
                    m->partition, m->offset);
                return -EINVAL;
        }
        if (expect_hash && m->hash != expect_hash) {
                say(why, whylen, "pipeline hash %016" PRIx64 ", expected %016" PRIx64,
                    m->hash, expect_hash);
                return -EINVAL;
        }
        return 0;
}

int sl_snap_decode(const void *buf, size_t len, uint64_t expect_hash,
                   struct sl_snap_meta *m, const void **payload, char *why, size_t whylen)
{
        const uint8_t *b = buf;
        struct sl_snap_meta mm;
        size_t hlen;
        int rc = parse_header(b, len, &mm, &hlen, why, whylen);
        if (rc == 0)
                rc = check_layout(hlen, mm.payload_len, len, why, whylen);
        if (rc)
                return rc;
        if (XXH3_64bits(b, len - SUM_LEN) != get(b + len - SUM_LEN, 8)) {
                say(why, whylen, "checksum mismatch");
                return -EINVAL;
        }
        if ((rc = check_fields(&mm, expect_hash, why, whylen)) != 0)
                return rc;
        *m = mm;
        if (payload)
                *payload = b + hlen;
        say(why, whylen, "%s", "");
        return 0;
}

/* ---- I/O ------------------------------------------------------------------ */

struct io {
        struct io_uring ring;
        bool inited;    /* the ring exists */
        bool uring;     /* and is used */
        bool renameat;  /* IORING_OP_RENAMEAT */
};

static bool uring_disabled(void)
{
        const char *e = getenv("SLUICE_NO_URING");
        return e && *e && strcmp(e, "0") != 0;
}

/* Sets up the ring; without one, why says why and the syscalls are used. */
static void io_init(struct io *io, char *why, size_t whylen)
{
        memset(io, 0, sizeof *io);
        if (uring_disabled()) {
                say(why, whylen, "disabled by SLUICE_NO_URING");
                return;
        }
        int rc = io_uring_queue_init(RING_ENTRIES, &io->ring, 0);
        if (rc < 0) {
                say(why, whylen, "io_uring_queue_init: %s", strerror(-rc));
                return;
        }
        io->inited = true;
        struct io_uring_probe *p = io_uring_get_probe_ring(&io->ring);
        if (p && io_uring_opcode_supported(p, IORING_OP_WRITE) &&
            io_uring_opcode_supported(p, IORING_OP_READ) &&
            io_uring_opcode_supported(p, IORING_OP_FSYNC)) {
                io->uring = true;
                io->renameat = io_uring_opcode_supported(p, IORING_OP_RENAMEAT);
        } else {
                say(why, whylen, "the kernel's io_uring has no read, write or fsync");
        }
        if (p)
                io_uring_free_probe(p);
}

static void io_fini(struct io *io)
{
        if (io->inited)
                io_uring_queue_exit(&io->ring);
        io->inited = io->uring = false;
}

/* The ring failed in a way that leaves it unknown: syscalls from now on. */
static int io_broken(struct io *io, int rc)
{
        io->uring = false;
        return rc;
}

static struct io_uring_sqe *sqe_get(struct io *io)
{
        struct io_uring_sqe *sqe = io_uring_get_sqe(&io->ring);
        if (!sqe) {
                io_uring_submit(&io->ring);
                sqe = io_uring_get_sqe(&io->ring);
        }
        return sqe;
}

/* Submits what is queued and reaps n completions: res[user_data]. */
static int ring_wait(struct io *io, unsigned n, int *res)
{
        int rc;
        do
                rc = io_uring_submit_and_wait(&io->ring, n);
        while (rc == -EINTR);
        if (rc < 0)
                return io_broken(io, rc);
        for (unsigned i = 0; i < n; i++) {
                struct io_uring_cqe *cqe;
                do
                        rc = io_uring_wait_cqe(&io->ring, &cqe);
                while (rc == -EINTR);
                if (rc < 0)
                        return io_broken(io, rc);
                if (cqe->user_data < n)
                        res[cqe->user_data] = cqe->res;
                io_uring_cqe_seen(&io->ring, cqe);
        }
        return 0;
}

/* Writes p[0..len) at offset 0 of fd, then fsyncs it.  On failure *step is
 * "write" or "fsync". */
static int io_write_fsync(struct io *io, int fd, const char *p, size_t len,
                          const char **step)
{
        size_t done = 0;
        *step = "write";
        while (io->uring) {
                size_t want[WR_LINKS], pos = done;
                unsigned n = 0;
                struct io_uring_sqe *sqe = NULL;
                while (pos < len && n < WR_LINKS) {
                        size_t k = len - pos < WR_CHUNK ? len - pos : WR_CHUNK;
                        if (!(sqe = sqe_get(io)))
                                return io_broken(io, -EBUSY);
                        io_uring_prep_write(sqe, fd, p + pos, (unsigned)k, (uint64_t)pos);
                        sqe->flags |= IOSQE_IO_LINK;
                        sqe->user_data = n;
                        want[n++] = k;
                        pos += k;
                }
                bool last = pos == len;
                if (last) {
                        if (!(sqe = sqe_get(io)))
                                return io_broken(io, -EBUSY);
                        io_uring_prep_fsync(sqe, fd, 0);
                        sqe->user_data = n;
                } else {
                        sqe->flags &= (uint8_t)~IOSQE_IO_LINK;
                }
                int res[WR_LINKS + 1];
                int rc = ring_wait(io, n + last, res);
                if (rc)
                        return rc;
                bool whole = true;
                for (unsigned i = 0; i < n && whole; i++) {
                        if (res[i] >= 0 && (size_t)res[i] == want[i]) {
                                done += want[i];
                                continue;
                        }
                        whole = false;
                        if (res[i] > 0)
                                done += (size_t)res[i];   /* short: go on from there */
                        else if (res[i] == 0)
                                return -EIO;
                        else if (res[i] != -EINTR && res[i] != -EAGAIN)
                                return res[i];
                }
                if (!whole || !last)
                        continue;
                if (res[n] == 0)
                        return 0;
                if (res[n] != -EINTR && res[n] != -EAGAIN) {
                        *step = "fsync";
                        return res[n];
                }
        }
        while (done < len) {
                size_t k = len - done < WR_CHUNK ? len - done : WR_CHUNK;
                ssize_t w = pwrite(fd, p + done, k, (off_t)done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return w < 0 ? -errno : -EIO;
                done += (size_t)w;
        }
        *step = "fsync";
        return fsync(fd) ? -errno : 0;
}

static int io_fsync(struct io *io, int fd)
{
        if (io->uring) {
                struct io_uring_sqe *sqe = sqe_get(io);
                if (!sqe)
                        return io_broken(io, -EBUSY);
                io_uring_prep_fsync(sqe, fd, 0);
                sqe->user_data = 0;
                int res[1];
                int rc = ring_wait(io, 1, res);
                return rc ? rc : res[0];
        }
        return fsync(fd) ? -errno : 0;
}

/* Renames old to new in directory dfd, then fsyncs dfd if asked.  On
 * failure *step is "rename" or "fsync". */
static int io_rename(struct io *io, int dfd, const char *old, const char *new, bool sync,
                     const char **step)
{
        *step = "rename";
        if (io->uring && io->renameat) {
                struct io_uring_sqe *sqe = sqe_get(io);
                if (!sqe)
                        return io_broken(io, -EBUSY);
                io_uring_prep_renameat(sqe, dfd, old, dfd, new, 0);
                sqe->user_data = 0;
                if (sync) {
                        sqe->flags |= IOSQE_IO_LINK;
                        if (!(sqe = sqe_get(io)))
                                return io_broken(io, -EBUSY);
                        io_uring_prep_fsync(sqe, dfd, 0);
                        sqe->user_data = 1;
                }
                int res[2];
                int rc = ring_wait(io, 1 + sync, res);
                if (rc || res[0] < 0)
                        return rc ? rc : res[0];
                *step = "fsync";
                return sync ? res[1] : 0;
        }
        if (renameat(dfd, old, dfd, new))
                return -errno;
        *step = "fsync";
        return sync ? io_fsync(io, dfd) : 0;
}

/* Reads len bytes at off into buf; with st, hashes them in order.
 * -ENODATA when the file ends first. */
static int io_read(struct io *io, int fd, char *buf, size_t len, uint64_t off,
                   XXH3_state_t *st)
{
        size_t nchunks = (len + RD_CHUNK - 1) / RD_CHUNK;
        if (io->uring && nchunks) {
                struct { size_t pos, end; bool busy; } slot[RD_DEPTH] = {{0}};
                uint8_t *fin = calloc(nchunks, 1);
                if (!fin)
                        return -ENOMEM;
                size_t next = 0, hashed = 0;
                unsigned inflight = 0;
                int rc = 0;
                for (;;) {
                        for (unsigned s = 0; s < RD_DEPTH && rc == 0 && next < nchunks; s++) {
                                if (slot[s].busy)
                                        continue;
                                slot[s].pos = next * RD_CHUNK;
                                slot[s].end = slot[s].pos + RD_CHUNK < len ? slot[s].pos + RD_CHUNK
                                                                          : len;
                                slot[s].busy = true;
                                next++;
                                inflight++;
                                struct io_uring_sqe *sqe = sqe_get(io);
                                io_uring_prep_read(sqe, fd, buf + slot[s].pos,
                                                   (unsigned)(slot[s].end - slot[s].pos),
                                                   off + slot[s].pos);
                                sqe->user_data = s;
                        }
                        if (!inflight)
                                break;
                        int r;
                        do
                                r = io_uring_submit_and_wait(&io->ring, 1);
                        while (r == -EINTR);
                        if (r < 0) {
                                free(fin);
                                return io_broken(io, r);
                        }
                        struct io_uring_cqe *cqe;
                        while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
                                unsigned s = (unsigned)cqe->user_data;
                                int res = cqe->res;
                                io_uring_cqe_seen(&io->ring, cqe);
                                if (s >= RD_DEPTH || !slot[s].busy)
                                        continue;
                                if (res > 0)
                                        slot[s].pos += (size_t)res;
                                else if (res == 0 && rc == 0)
                                        rc = -ENODATA;
                                else if (res != -EINTR && res != -EAGAIN && rc == 0)
                                        rc = res;
                                if (slot[s].pos == slot[s].end) {
                                        fin[(slot[s].end - 1) / RD_CHUNK] = 1;
                                } else if (rc == 0) {
                                        struct io_uring_sqe *sqe = sqe_get(io);
                                        io_uring_prep_read(sqe, fd, buf + slot[s].pos,
                                                           (unsigned)(slot[s].end - slot[s].pos),
                                                           off + slot[s].pos);
                                        sqe->user_data = s;
                                        continue;
                                }
                                slot[s].busy = false;
                                inflight--;
                        }
                        for (; st && rc == 0 && hashed < nchunks && fin[hashed]; hashed++) {
                                size_t a = hashed * RD_CHUNK;
                                XXH3_64bits_update(st, buf + a, (a + RD_CHUNK < len ? RD_CHUNK
                                                                                     : len - a));
                        }
                }
                free(fin);
                return rc;
        }
        size_t done = 0;
        while (done < len) {
                size_t k = len - done < RD_CHUNK ? len - done : RD_CHUNK;
                ssize_t n = pread(fd, buf + done, k, (off_t)(off + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -ENODATA;
                if (st)
                        XXH3_64bits_update(st, buf + done, (size_t)n);
                done += (size_t)n;
        }
        return 0;
}

/* ---- directories and names ------------------------------------------------ */

static int pdir_path(char *out, size_t n, const char *dir, const char *topic,
                     int32_t partition)
{
        int k = snprintf(out, n, "%s/%s/%" PRId32, dir, topic, partition);
        return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static int open_dir(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int fsync_path(const char *path)
{
        int fd = open_dir(path);
        if (fd < 0)
                return fd;
        int rc = fsync(fd) ? -errno : 0;
        close(fd);
        return rc;
}

/* mkdir -p; every directory it creates is made durable in its parent. */
static int mkdir_p(const char *path)
{
        char p[PATH_MAX];
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof p)
                return n ? -ENAMETOOLONG : -EINVAL;
        memcpy(p, path, n + 1);
        for (size_t i = 1; i <= n; i++) {
                if (p[i] != '/' && p[i] != '\0')
                        continue;
                if (p[i - 1] == '/')
                        continue;
                char c = p[i];
                p[i] = '\0';
                int rc = 0;
                if (mkdir(p, 0755) == 0) {
                        char *slash = strrchr(p, '/');
                        if (slash == p) {
                                rc = fsync_path("/");
                        } else if (slash) {
                                *slash = '\0';
                                rc = fsync_path(p);
                                *slash = '/';
                        } else {
                                rc = fsync_path(".");
                        }
                } else if (errno != EEXIST) {
                        rc = -errno;
                }
                p[i] = c;
                if (rc)
                        return rc;
        }
        return 0;
}

/* "<20 digits><suffix>": its offset. */
static bool parse_name(const char *s, const char *suffix, int64_t *off)
{
        int64_t v = 0;
        for (int i = 0; i < 20; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                int d = s[i] - '0';
                if (v > (INT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        if (strcmp(s + 20, suffix) != 0)
                return false;
        *off = v;
        return true;
}

static void snap_name(char *out, size_t n, int64_t off, bool tmp)
{
        snprintf(out, n, "%020" PRId64 ".snap%s", off, tmp ? ".tmp" : "");
}

/* A partition directory's name: canonical decimal. */
static bool parse_partition(const char *s, int32_t *part)
{
        int64_t v = 0;
        if (!*s || (s[0] == '0' && s[1]))
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (*s - '0');
                if (v > INT32_MAX)
                        return false;
        }
        *part = (int32_t)v;
        return true;
}

struct offs {
        int64_t *v;
        size_t n, cap;
};

static int offs_add(struct offs *o, int64_t v)
{
        for (size_t i = 0; i < o->n; i++)
                if (o->v[i] == v)
                        return 0;
        if (o->n == o->cap) {
                size_t cap = o->cap ? o->cap * 2 : 16;
                int64_t *p = realloc(o->v, cap * sizeof *p);
                if (!p)
                        return -ENOMEM;
                o->v = p;
                o->cap = cap;
        }
        o->v[o->n++] = v;
        return 0;
}

static bool offs_has(const struct offs *o, int64_t v)
{
        for (size_t i = 0; i < o->n; i++)
                if (o->v[i] == v)
                        return true;
        return false;
}

static int cmp_desc(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return (x < y) - (x > y);
}

static void offs_sort_desc(struct offs *o)
{
        if (o->n)
                qsort(o->v, o->n, sizeof *o->v, cmp_desc);
}

/* The snapshots (and, with tmps, the snapshot temporaries) in dfd, newest
 * first; *mtmp: whether MANIFEST.tmp is there. */
static int scan_dir(int dfd, struct offs *snaps, struct offs *tmps, bool *mtmp)
{
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        int rc = 0;
        struct dirent *e;
        errno = 0;
        while (rc == 0 && (e = readdir(d))) {
                int64_t off;
                if (parse_name(e->d_name, ".snap", &off))
                        rc = offs_add(snaps, off);
                else if (tmps && parse_name(e->d_name, ".snap.tmp", &off))
                        rc = offs_add(tmps, off);
                else if (mtmp && strcmp(e->d_name, "MANIFEST.tmp") == 0)
                        *mtmp = true;
                errno = 0;
        }
        if (rc == 0 && errno)
                rc = -errno;
        closedir(d);
        offs_sort_desc(snaps);
        if (tmps)
                offs_sort_desc(tmps);
        return rc;
}

/* Rewrites MANIFEST from the *.snap files in dfd and fsyncs the directory.
 * The caller holds manifest_mu. */
static int write_manifest(struct io *io, int dfd, const char *pdir, char *why, size_t whylen)
{
        struct offs s = {0};
        struct sl_buf b = {0};
        const char *step = "list", *file = "";
        int rc = scan_dir(dfd, &s, NULL, NULL);
        for (size_t i = 0; rc == 0 && i < s.n; i++)
                sl_buf_addf(&b, "%020" PRId64 ".snap\n", s.v[i]);
        if (rc == 0 && !sl_buf_ok(&b))
                rc = -ENOMEM;
        if (rc == 0) {
                file = "/MANIFEST.tmp";
                int fd = openat(dfd, "MANIFEST.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                                0644);
                if (fd < 0) {
                        step = "create";
                        rc = -errno;
                } else {
                        rc = io_write_fsync(io, fd, b.p, b.len, &step);
                        if (close(fd) && rc == 0) {
                                step = "close";
                                rc = -errno;
                        }
                }
                if (rc == 0)
                        rc = io_rename(io, dfd, "MANIFEST.tmp", "MANIFEST", true, &step);
                if (rc)
                        unlinkat(dfd, "MANIFEST.tmp", 0);
        }
        if (rc)
                say(why, whylen, "%s %s%s: %s", step, pdir, file, strerror(-rc));
        free(s.v);
        sl_buf_free(&b);
        return rc;
}

/* The names MANIFEST lists (added to o).  -ENOENT without one; *damaged
 * when a line is not a snapshot name. */
static int read_manifest(int dfd, struct offs *o, bool *damaged)
{
        int fd = openat(dfd, "MANIFEST", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct sl_buf b = {0};
        int rc = 0;
        for (;;) {
                if (!sl_buf_reserve(&b, 4096)) {
                        rc = -ENOMEM;
                        break;
                }
                ssize_t n = read(fd, b.p + b.len, b.cap - b.len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        rc = -errno;
                if (n <= 0)
                        break;
                b.len += (size_t)n;
        }
        close(fd);
        for (size_t i = 0; rc == 0 && i < b.len;) {
                char *nl = memchr(b.p + i, '\n', b.len - i);
                size_t end = nl ? (size_t)(nl - b.p) : b.len;
                char line[64];
                int64_t off;
                size_t k = end - i;
                if (k > 0 && k < sizeof line) {
                        memcpy(line, b.p + i, k);
                        line[k] = '\0';
                }
                if (k > 0 && k < sizeof line && parse_name(line, ".snap", &off))
                        rc = offs_add(o, off);
                else
                        *damaged = true;
                if (!nl)
                        *damaged = true; /* every line ends with a newline */
                i = end + 1;
        }
        sl_buf_free(&b);
        return rc;
}

/*
 * Opens and checks snapshot file name in dfd.  With payload: reads it
 * whole and checks its checksum (*payload: the malloc'd payload).
 * Without, with verify: checks the checksum reading through a window.
 * Otherwise only the header and the file's size.  0; -EINVAL with why for
 * an invalid snapshot; -ENOMEM; or another -errno with why.
 */
static int load_file(struct io *io, int dfd, const char *name, uint64_t expect_hash,
                     bool verify, struct sl_snap_meta *m, void **payload, uint64_t *size,
                     char *why, size_t whylen)
{
        uint8_t hdr[SL_SNAP_HEADER_MAX];
        XXH3_state_t *st = NULL;
        char *buf = NULL;
        size_t hlen = 0;
        const char *step = "open";
        int rc = 0;
        *size = 0;
        int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                rc = -errno;
                goto io_err;
        }
        struct stat sb;
        if (fstat(fd, &sb)) {
                step = "stat";
                rc = -errno;
                goto io_err;
        }
        *size = (uint64_t)sb.st_size;
        size_t n = *size < sizeof hdr ? (size_t)*size : sizeof hdr;
        step = "read";
        if ((rc = io_read(io, fd, (char *)hdr, n, 0, NULL)) != 0)
                goto io_err;
        if ((rc = parse_header(hdr, n, m, &hlen, why, whylen)) != 0) {
                m->topic[0] = '\0'; /* no header */
                goto out;
        }
        if ((rc = check_layout(hlen, m->payload_len, *size, why, whylen)) != 0)
                goto out;
        if (!payload && !verify) {
                rc = check_fields(m, expect_hash, why, whylen);
                goto out;
        }
        size_t plen = (size_t)m->payload_len;
        size_t cap = payload || plen < VERIFY_WINDOW ? plen : VERIFY_WINDOW;
        st = XXH3_createState();
        buf = malloc(cap ? cap : 1);
        if (!st || !buf) {
                rc = -ENOMEM;
                goto out;
        }
        hint_huge(buf, cap);
        /* Read once, in order: the kernel's readahead window doubles. */
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        XXH3_64bits_reset(st);
        XXH3_64bits_update(st, hdr, hlen);
        uint8_t sum[SUM_LEN];
        if (payload) {
                if ((rc = io_read(io, fd, buf, plen, hlen, st)) != 0)
                        goto io_err;
                if ((rc = io_read(io, fd, (char *)sum, SUM_LEN, hlen + plen, NULL)) != 0)
                        goto io_err;
        } else {
                for (size_t pos = 0; pos < plen;) {
                        size_t k = plen - pos < cap ? plen - pos : cap;
                        if ((rc = io_read(io, fd, buf, k, hlen + pos, st)) != 0)
                                goto io_err;
                        pos += k;
                }
                if ((rc = io_read(io, fd, (char *)sum, SUM_LEN, hlen + plen, NULL)) != 0)
                        goto io_err;
        }
        if (XXH3_64bits_digest(st) != get(sum, 8)) {
                say(why, whylen, "checksum mismatch");
                rc = -EINVAL;
                goto out;
        }
        if ((rc = check_fields(m, expect_hash, why, whylen)) != 0)
                goto out;
        if (payload) {
                *payload = buf;
                buf = NULL;
        }
        goto out;
io_err:
        if (rc == -ENODATA) {
                say(why, whylen, "the file shrank while it was read");
                rc = -EINVAL;
        } else if (rc != -ENOMEM) {
                say(why, whylen, "%s: %s", step, strerror(-rc));
        }
out:
        if (fd >= 0)
                close(fd);
        XXH3_freeState(st);
        free(buf);
        return rc;
}

/* A snapshot's header must name what its path names. */
static int check_place(const struct sl_snap_meta *m, const char *topic, int32_t partition,
                       int64_t offset, char *why, size_t whylen)
{
        if (strcmp(m->topic, topic) != 0 || m->partition != partition || m->offset != offset) {
                say(why, whylen, "holds %s[%" PRId32 "] at offset %" PRId64
                    ", not what its path names", m->topic, m->partition, m->offset);
                return -EINVAL;
        }
        return 0;
}

/*
 * Calls fn for every partition directory under dir (topics and partitions
 * in order).  A negative or positive return from fn stops the walk and is
 * returned.  -ENOENT when dir does not exist.
 */
typedef int (*walk_fn)(void *ctx, const char *topic, int32_t partition, const char *pdir,
                       int pfd);

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_i32(const void *a, const void *b)
{
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
        return (x > y) - (x < y);
}

/* The entries of path that pass keep: names (sorted). */
static int list_names(const char *path, bool (*keep)(const char *), char ***out, size_t *n)
{
        DIR *d = opendir(path);
        if (!d)
                return -errno;
        char **v = NULL;
        size_t cap = 0;
        int rc = 0;
        struct dirent *e;
        *n = 0;
        errno = 0;
        while (rc == 0 && (e = readdir(d))) {
                if (!keep(e->d_name)) {
                        errno = 0;
                        continue;
                }
                if (*n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **p = realloc(v, cap * sizeof *p);
                        if (!p) {
                                rc = -ENOMEM;
                                break;
                        }
                        v = p;
                }
                if (!(v[*n] = strdup(e->d_name)))
                        rc = -ENOMEM;
                else
                        ++*n;
                errno = 0;
        }
        if (rc == 0 && errno)
                rc = -errno;
        closedir(d);
        if (*n)
                qsort(v, *n, sizeof *v, cmp_str);
        *out = v;
        return rc;
}

static void free_names(char **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

static bool keep_partition(const char *s)
{
        int32_t p;
        return parse_partition(s, &p);
}

static int walk(const char *dir, walk_fn fn, void *ctx)
{
        char **topics = NULL;
        size_t nt = 0;
        int rc = list_names(dir, sl_snap_topic_ok, &topics, &nt);
        for (size_t t = 0; rc == 0 && t < nt; t++) {
                char tdir[PATH_MAX], pdir[PATH_MAX];
                if (snprintf(tdir, sizeof tdir, "%s/%s", dir, topics[t]) >= (int)sizeof tdir) {
                        rc = -ENAMETOOLONG;
                        break;
                }
                char **parts = NULL;
                size_t np = 0;
                rc = list_names(tdir, keep_partition, &parts, &np);
                if (rc == -ENOTDIR || rc == -ENOENT) {
                        rc = 0;
                        continue;
                }
                int32_t *pv = np ? malloc(np * sizeof *pv) : NULL;
                if (np && !pv)
                        rc = -ENOMEM;
                for (size_t i = 0; rc == 0 && i < np; i++)
                        parse_partition(parts[i], &pv[i]);
                if (np && pv)
                        qsort(pv, np, sizeof *pv, cmp_i32);
                for (size_t i = 0; rc == 0 && i < np; i++) {
                        if ((rc = pdir_path(pdir, sizeof pdir, dir, topics[t], pv[i])) != 0)
                                break;
                        int pfd = open_dir(pdir);
                        if (pfd == -ENOTDIR || pfd == -ENOENT)
                                continue;
                        if (pfd < 0) {
                                rc = pfd;
                                break;
                        }
                        rc = fn(ctx, topics[t], pv[i], pdir, pfd);
                        close(pfd);
                }
                free(pv);
                free_names(parts, np);
        }
        free_names(topics, nt);
        return rc;
}

/* ---- retention ------------------------------------------------------------ */

static int prune_dir(struct io *io, const char *dir, const char *topic, int32_t partition,
                     int64_t committed, char *why, size_t whylen)
{
        char pdir[PATH_MAX];
        int rc = sl_snap_topic_ok(topic) && partition >= 0 ? 0 : -EINVAL;
        if (rc == 0)
                rc = pdir_path(pdir, sizeof pdir, dir, topic, partition);
        if (rc) {
                say(why, whylen, "%s/%s/%" PRId32 ": %s", dir, topic, partition, strerror(-rc));
                return rc;
        }
        int dfd = open_dir(pdir);
        if (dfd == -ENOENT)
                return 0;
        if (dfd < 0) {
                say(why, whylen, "open %s: %s", pdir, strerror(-dfd));
                return dfd;
        }
        struct offs s = {0};
        pthread_mutex_lock(&manifest_mu);
        rc = scan_dir(dfd, &s, NULL, NULL);
        if (rc)
                say(why, whylen, "list %s: %s", pdir, strerror(-rc));
        /* The newest snapshot the committed offsets cover, if it looks whole
         * (the oldest one has nothing to remove behind it). */
        size_t keep = s.n;
        for (size_t i = 0; rc == 0 && i + 1 < s.n; i++) {
                if (s.v[i] > committed)
                        continue;
                char name[40], r[160];
                struct sl_snap_meta m;
                uint64_t size;
                snap_name(name, sizeof name, s.v[i], false);
                int k = load_file(io, dfd, name, 0, false, &m, NULL, &size, r, sizeof r);
                if (k == 0)
                        k = check_place(&m, topic, partition, s.v[i], r, sizeof r);
                if (k == -ENOMEM)
                        rc = k;
                if (k == 0) {
                        keep = i;
                        break;
                }
        }
        bool removed = false;
        for (size_t i = keep + 1; rc == 0 && i < s.n; i++) {
                char name[40];
                snap_name(name, sizeof name, s.v[i], false);
                if (unlinkat(dfd, name, 0) == 0)
                        removed = true;
                else if (errno != ENOENT) {
                        rc = -errno;
                        say(why, whylen, "remove %s/%s: %s", pdir, name, strerror(-rc));
                }
        }
        if (removed && rc == 0)
                rc = write_manifest(io, dfd, pdir, why, whylen);
        pthread_mutex_unlock(&manifest_mu);
        free(s.v);
        close(dfd);
        return rc;
}

int sl_ckpt_prune(const char *dir, const char *topic, int32_t partition, int64_t committed)
{
        struct io io = {0};
        return prune_dir(&io, dir, topic, partition, committed, NULL, 0);
}

/* ---- the writer ----------------------------------------------------------- */

enum { JOB_WRITE, JOB_PRUNE };

struct job {
        struct job *next;
        int kind;
        struct sl_buf enc;
        uint64_t t0;
        struct sl_ckpt_done d;  /* topic, partition, offset (PRUNE: committed) */
};

struct sl_ckpt_writer {
        char *dir;
        sl_ckpt_warn_fn warn;
        void *arg;
        struct io io;
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct job *head, **tail;       /* queued */
        struct job *dhead, **dtail;     /* done, for sl_ckpt_poll */
        bool closing, joined;
};

static void do_write(struct sl_ckpt_writer *w, struct job *j)
{
        struct sl_ckpt_done *d = &j->d;
        char pdir[PATH_MAX], name[40], tmp[40];
        const char *step = "create";
        int rc = pdir_path(pdir, sizeof pdir, w->dir, d->topic, d->partition);
        if (rc) {
                say(d->why, sizeof d->why, "%s/%s/%" PRId32 ": %s", w->dir, d->topic,
                    d->partition, strerror(-rc));
                goto out;
        }
        int dfd = open_dir(pdir);
        if (dfd == -ENOENT && (rc = mkdir_p(pdir)) == 0)
                dfd = open_dir(pdir);
        if (rc == 0 && dfd < 0)
                rc = dfd;
        if (rc) {
                say(d->why, sizeof d->why, "create %s: %s", pdir, strerror(-rc));
                goto out;
        }
        snap_name(name, sizeof name, d->offset, false);
        snap_name(tmp, sizeof tmp, d->offset, true);
        int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                rc = -errno;
        } else {
                rc = io_write_fsync(&w->io, fd, j->enc.p, j->enc.len, &step);
                if (close(fd) && rc == 0) {
                        step = "close";
                        rc = -errno;
                }
        }
        d->bytes = j->enc.len;
        sl_buf_free(&j->enc);
        if (rc == 0)
                rc = io_rename(&w->io, dfd, tmp, name, false, &step);
        if (rc) {
                say(d->why, sizeof d->why, "%s %s/%s: %s", step, pdir, tmp, strerror(-rc));
                unlinkat(dfd, tmp, 0);
        } else {
                pthread_mutex_lock(&manifest_mu);
                rc = write_manifest(&w->io, dfd, pdir, d->why, sizeof d->why);
                pthread_mutex_unlock(&manifest_mu);
        }
        close(dfd);
out:
        sl_buf_free(&j->enc);
        d->rc = rc;
        d->write_ns = mono_ns() - j->t0;
        SL_PROBE5(snapshot_write, d->partition, d->offset, d->bytes, d->write_ns, rc);
}

static void do_prune(struct sl_ckpt_writer *w, struct job *j)
{
        char why[400];
        if (prune_dir(&w->io, w->dir, j->d.topic, j->d.partition, j->d.offset, why,
                      sizeof why) != 0)
                warnf(w->warn, w->arg, "removing old snapshots of %s[%" PRId32 "]: %s",
                      j->d.topic, j->d.partition, why);
}

static void *writer_main(void *arg)
{
        struct sl_ckpt_writer *w = arg;
        pthread_mutex_lock(&w->mu);
        for (;;) {
                while (!w->head && !w->closing)
                        pthread_cond_wait(&w->cv, &w->mu);
                struct job *j = w->head;
                if (!j)
                        break;
                if (!(w->head = j->next))
                        w->tail = &w->head;
                pthread_mutex_unlock(&w->mu);
                if (j->kind == JOB_WRITE)
                        do_write(w, j);
                else
                        do_prune(w, j);
                pthread_mutex_lock(&w->mu);
                if (j->kind == JOB_WRITE) {
                        j->next = NULL;
                        *w->dtail = j;
                        w->dtail = &j->next;
                } else {
                        free(j);
                }
        }
        pthread_mutex_unlock(&w->mu);
        return NULL;
}

/* Temporaries of a run that died while writing. */
static int clean_tmp(void *ctx, const char *topic, int32_t partition, const char *pdir,
                     int pfd)
{
        (void)ctx, (void)topic, (void)partition, (void)pdir;
        struct offs s = {0}, t = {0};
        bool mtmp = false;
        if (scan_dir(pfd, &s, &t, &mtmp) == 0) {
                for (size_t i = 0; i < t.n; i++) {
                        char name[40];
                        snap_name(name, sizeof name, t.v[i], true);
                        unlinkat(pfd, name, 0);
                }
                if (mtmp)
                        unlinkat(pfd, "MANIFEST.tmp", 0);
        }
        free(s.v);
        free(t.v);
        return 0;
}

struct sl_ckpt_writer *sl_ckpt_writer_new(const char *dir, sl_ckpt_warn_fn warn, void *arg,
                                          int *err)
{
        struct sl_ckpt_writer *w = NULL;
        int rc = dir && *dir ? mkdir_p(dir) : -EINVAL;
        int fd = rc ? rc : open_dir(dir);
        if (fd < 0) {
                rc = fd;
                goto fail;
        }
        close(fd);
        if (!(w = calloc(1, sizeof *w)) || !(w->dir = strdup(dir))) {
                rc = -ENOMEM;
                goto fail;
        }
        w->warn = warn;
        w->arg = arg;
        w->tail = &w->head;
        w->dtail = &w->dhead;
        pthread_mutex_lock(&manifest_mu);
        walk(dir, clean_tmp, NULL);
        pthread_mutex_unlock(&manifest_mu);
        char why[200];
        io_init(&w->io, why, sizeof why);
        if (!w->io.uring)
                warnf(warn, arg, "io_uring unavailable (%s): checkpoints in %s are written "
                      "with pwrite and fsync", why, dir);
        if ((rc = pthread_mutex_init(&w->mu, NULL)) != 0) {
                rc = -rc;
                goto fail_io;
        }
        if ((rc = pthread_cond_init(&w->cv, NULL)) != 0) {
                rc = -rc;
                pthread_mutex_destroy(&w->mu);
                goto fail_io;
        }
        if ((rc = pthread_create(&w->thread, NULL, writer_main, w)) != 0) {
                rc = -rc;
                pthread_cond_destroy(&w->cv);
                pthread_mutex_destroy(&w->mu);
                goto fail_io;
        }
        return w;
fail_io:
        io_fini(&w->io);
fail:
        if (w)
                free(w->dir);
        free(w);
        if (err)
                *err = rc;
        return NULL;
}

bool sl_ckpt_writer_uring(const struct sl_ckpt_writer *w)
{
        return w->io.uring;
}

static int enqueue(struct sl_ckpt_writer *w, struct job *j)
{
        pthread_mutex_lock(&w->mu);
        if (w->closing) {
                pthread_mutex_unlock(&w->mu);
                return -ESHUTDOWN;
        }
        *w->tail = j;
        w->tail = &j->next;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        return 0;
}

int sl_ckpt_submit(struct sl_ckpt_writer *w, const struct sl_snap_meta *m,
                   struct sl_buf *encoded)
{
        struct sl_snap_meta h;
        size_t hlen;
        if (!meta_topic_ok(m) || m->partition < 0 || m->offset < 0 || !sl_buf_ok(encoded) ||
            parse_header((const uint8_t *)encoded->p, encoded->len, &h, &hlen, NULL, 0) ||
            check_layout(hlen, h.payload_len, encoded->len, NULL, 0) ||
            check_place(&h, m->topic, m->partition, m->offset, NULL, 0))
                return -EINVAL;
        struct job *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->kind = JOB_WRITE;
        j->t0 = mono_ns();
        memcpy(j->d.topic, m->topic, strlen(m->topic) + 1);
        j->d.partition = m->partition;
        j->d.offset = m->offset;
        j->enc = *encoded;
        int rc = enqueue(w, j);
        if (rc) {
                free(j);
                return rc;
        }
        *encoded = (struct sl_buf){0};
        return 0;
}

int sl_ckpt_writer_prune(struct sl_ckpt_writer *w, const char *topic, int32_t partition,
                         int64_t committed)
{
        if (!sl_snap_topic_ok(topic) || partition < 0)
                return -EINVAL;
        struct job *j = calloc(1, sizeof *j);
        if (!j)
                return -ENOMEM;
        j->kind = JOB_PRUNE;
        memcpy(j->d.topic, topic, strlen(topic) + 1);
        j->d.partition = partition;
        j->d.offset = committed;
        int rc = enqueue(w, j);
        if (rc)
                free(j);
        return rc;
}

unsigned sl_ckpt_poll(struct sl_ckpt_writer *w, struct sl_ckpt_done *out, unsigned max)
{
        unsigned n = 0;
        pthread_mutex_lock(&w->mu);
        while (n < max && w->dhead) {
                struct job *j = w->dhead;
                if (!(w->dhead = j->next))
                        w->dtail = &w->dhead;
                out[n++] = j->d;
                free(j);
        }
        pthread_mutex_unlock(&w->mu);
        return n;
}

void sl_ckpt_writer_destroy_finish(struct sl_ckpt_writer *w)
{
        if (w->joined)
                return;
        pthread_mutex_lock(&w->mu);
        w->closing = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->joined = true;
}

void sl_ckpt_writer_destroy(struct sl_ckpt_writer *w)
{
        if (!w)
                return;
        sl_ckpt_writer_destroy_finish(w);
        while (w->dhead) {
                struct job *j = w->dhead;
                w->dhead = j->next;
                free(j);
        }
        io_fini(&w->io);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w->dir);
        free(w);
}

/* ---- reading ----------------------------------------------------------------- */

/* A ring for one call of the reader; the fallback is said once a process. */
static void reader_io(struct io *io, sl_ckpt_warn_fn warn, void *arg)
{
        static atomic_bool said;
        char why[200];
        io_init(io, why, sizeof why);
        if (!io->uring && warn && !atomic_exchange(&said, true))
                warnf(warn, arg, "io_uring unavailable (%s): snapshots are read with pread",
                      why);
}

int sl_ckpt_load(const char *dir, const char *topic, int32_t partition, int64_t max_offset,
                 uint64_t expect_hash, struct sl_snap_meta *m, void **payload,
                 sl_ckpt_warn_fn warn, void *arg)
{
        char pdir[PATH_MAX];
        *payload = NULL;
        if (!sl_snap_topic_ok(topic) || partition < 0)
                return -EINVAL;
        int rc = pdir_path(pdir, sizeof pdir, dir, topic, partition);
        if (rc)
                return rc;
        int dfd = open_dir(pdir);
        if (dfd < 0)
                return dfd;
        struct offs c = {0};
        bool damaged = false;
        rc = read_manifest(dfd, &c, &damaged);
        bool scan = rc == -ENOENT || damaged;
        if (rc == -ENOENT)
                rc = 0;
        else if (rc == 0 && damaged)
                warnf(warn, arg, "%s/MANIFEST is damaged: using the snapshot files present",
                      pdir);
        for (size_t i = 0; rc == 0 && i < c.n && !scan; i++) {
                char name[40];
                struct stat sb;
                snap_name(name, sizeof name, c.v[i], false);
                if (fstatat(dfd, name, &sb, 0) && errno == ENOENT) {
                        warnf(warn, arg, "%s/MANIFEST names %s, which is missing: using the "
                              "snapshot files present", pdir, name);
                        scan = true;
                }
        }
        if (rc == 0 && scan) {
                c.n = 0; /* the files present include those it names that exist */
                rc = scan_dir(dfd, &c, NULL, NULL);
        }
        offs_sort_desc(&c);
        struct io io = {0};
        if (rc == 0)
                reader_io(&io, warn, arg);
        int found = -ENOENT;
        for (size_t i = 0; rc == 0 && i < c.n && found; i++) {
                if (c.v[i] > max_offset)
                        continue;
                char name[40], why[256];
                uint64_t size;
                void *p = NULL;
                snap_name(name, sizeof name, c.v[i], false);
                int k = load_file(&io, dfd, name, expect_hash, true, m, &p, &size, why,
                                  sizeof why);
                if (k == 0 && (k = check_place(m, topic, partition, c.v[i], why,
                                               sizeof why)) != 0)
                        free(p);
                if (k == -ENOMEM)
                        rc = k;
                else if (k)
                        warnf(warn, arg, "skipping snapshot %s/%s: %s", pdir, name, why);
                else {
                        *payload = p;
                        found = 0;
                }
        }
        io_fini(&io);
        free(c.v);
        close(dfd);
        return rc ? rc : found;
}

struct mismatch {
        struct io io;
        uint64_t expect;
        char *what;
        size_t whatlen;
};

static int find_mismatch(void *ctx, const char *topic, int32_t partition, const char *pdir,
                         int pfd)
{
        struct mismatch *x = ctx;
        struct offs s = {0};
        int rc = scan_dir(pfd, &s, NULL, NULL);
        for (size_t i = 0; rc == 0 && i < s.n; i++) {
                char name[40], why[256];
                struct sl_snap_meta m;
                uint64_t size;
                snap_name(name, sizeof name, s.v[i], false);
                int k = load_file(&x->io, pfd, name, 0, false, &m, NULL, &size, why, sizeof why);
                if (k == -ENOMEM)
                        rc = k;
                if (k || m.hash == x->expect)
                        continue;
                /* Another pipeline's, if it is whole. */
                k = load_file(&x->io, pfd, name, 0, true, &m, NULL, &size, why, sizeof why);
                if (k == 0)
                        k = check_place(&m, topic, partition, s.v[i], why, sizeof why);
                if (k == -ENOMEM)
                        rc = k;
                if (k == 0) {
                        say(x->what, x->whatlen, "%s/%s has pipeline hash %016" PRIx64
                            ", this pipeline's is %016" PRIx64, pdir, name, m.hash, x->expect);
                        rc = 1;
                }
        }
        free(s.v);
        return rc;
}

int sl_ckpt_hash_mismatch(const char *dir, uint64_t expect_hash, char *what, size_t whatlen)
{
        struct mismatch x = {.expect = expect_hash, .what = what, .whatlen = whatlen};
        reader_io(&x.io, NULL, NULL);
        say(what, whatlen, "%s", "");
        int rc = walk(dir, find_mismatch, &x);
        io_fini(&x.io);
        return rc == -ENOENT ? 0 : rc;
}

/* ---- reset and listing ---------------------------------------------------- */

static int reset_one(void *ctx, const char *topic, int32_t partition, const char *pdir,
                     int pfd)
{
        (void)topic, (void)partition;
        int *first = ctx;
        struct offs s = {0}, t = {0};
        bool mtmp = false;
        int rc = scan_dir(pfd, &s, &t, &mtmp);
        for (size_t k = 0; rc == 0 && k < 2; k++) {
                const struct offs *o = k ? &t : &s;
                for (size_t i = 0; i < o->n; i++) {
                        char name[40];
                        snap_name(name, sizeof name, o->v[i], k == 1);
                        if (unlinkat(pfd, name, 0) && errno != ENOENT && rc == 0)
                                rc = -errno;
                }
        }
        if (rc == 0 && unlinkat(pfd, "MANIFEST", 0) && errno != ENOENT)
                rc = -errno;
        if (rc == 0 && unlinkat(pfd, "MANIFEST.tmp", 0) && errno != ENOENT)
                rc = -errno;
        if (rc == 0 && fsync(pfd))
                rc = -errno;
        if (rc == 0 && rmdir(pdir) && errno != ENOTEMPTY && errno != EEXIST)
                rc = -errno;
        if (rc && *first == 0)
                *first = rc;
        free(s.v);
        free(t.v);
        return 0;
}

int sl_ckpt_reset(const char *dir)
{
        int first = 0;
        pthread_mutex_lock(&manifest_mu);
        int rc = walk(dir, reset_one, &first);
        pthread_mutex_unlock(&manifest_mu);
        if (rc == -ENOENT)
                return 0;
        if (rc == 0)
                rc = first;
        char **topics = NULL;
        size_t nt = 0;
        int k = list_names(dir, sl_snap_topic_ok, &topics, &nt);
        for (size_t t = 0; k == 0 && t < nt; t++) {
                char tdir[PATH_MAX];
                if (snprintf(tdir, sizeof tdir, "%s/%s", dir, topics[t]) < (int)sizeof tdir &&
                    rmdir(tdir) && errno != ENOTEMPTY && errno != EEXIST && errno != ENOTDIR &&
                    errno != ENOENT && rc == 0)
                        rc = -errno;
        }
        free_names(topics, nt);
        if (rc == 0 && k)
                rc = k;
        if (rc == 0)
                rc = fsync_path(dir);
        return rc;
}

struct listing {
        struct io io;
        struct sl_buf *out;
        size_t snaps;
        int invalid;
};

static void list_row(struct sl_buf *b, const char *topic, int32_t partition, int64_t offset,
                     const struct sl_snap_meta *m, uint64_t size, const char *status)
{
        char st[24] = "-", ent[24] = "-", hash[24] = "-";
        if (m) {
                if (m->stream_time != INT64_MIN)
                        snprintf(st, sizeof st, "%" PRId64, m->stream_time);
                snprintf(ent, sizeof ent, "%" PRIu64, m->entries);
                snprintf(hash, sizeof hash, "%016" PRIx64, m->hash);
        }
        sl_buf_addf(b, "%-20s %9" PRId32 " %12" PRId64 " %14s %10s %12" PRIu64 "  %-16s  %s\n",
                    topic, partition, offset, st, ent, size, hash, status);
}

static int list_one(void *ctx, const char *topic, int32_t partition, const char *pdir,
                    int pfd)
{
        struct listing *l = ctx;
        struct offs s = {0}, t = {0}, man = {0};
        bool mtmp = false, damaged = false;
        int rc = scan_dir(pfd, &s, &t, &mtmp);
        int mr = rc ? 0 : read_manifest(pfd, &man, &damaged);
        if (mr == -ENOMEM)
                rc = mr;
        if (rc == 0 && mr && mr != -ENOENT)
                sl_buf_addf(l->out, "%s/MANIFEST: %s\n", pdir, strerror(-mr));
        else if (rc == 0 && (mr == -ENOENT || damaged) && s.n)
                sl_buf_addf(l->out, "%s/MANIFEST: %s\n", pdir,
                            mr ? "missing" : "damaged");
        for (size_t i = s.n; rc == 0 && i-- > 0;) {
                char name[40], why[256], status[300];
                struct sl_snap_meta m;
                uint64_t size;
                snap_name(name, sizeof name, s.v[i], false);
                int k = load_file(&l->io, pfd, name, 0, true, &m, NULL, &size, why, sizeof why);
                if (k == 0)
                        k = check_place(&m, topic, partition, s.v[i], why, sizeof why);
                if (k == -ENOMEM) {
                        rc = k;
                        break;
                }
                l->snaps++;
                if (k) {
                        l->invalid++;
                        snprintf(status, sizeof status, "INVALID: %s", why);
                } else {
                        snprintf(status, sizeof status, "ok%s",
                                 mr == 0 && !offs_has(&man, s.v[i]) ? ", not in MANIFEST" : "");
                }
                /* Header fields are shown when the header parsed. */
                bool hdr = k == 0 || m.topic[0];
                list_row(l->out, topic, partition, s.v[i], hdr ? &m : NULL, size, status);
        }
        for (size_t i = t.n; rc == 0 && i-- > 0;)
                sl_buf_addf(l->out, "%-20s %9" PRId32 " %12" PRId64 "  (%020" PRId64
                            ".snap.tmp: a write that did not finish)\n",
                            topic, partition, t.v[i], t.v[i]);
        free(s.v);
        free(t.v);
        free(man.v);
        return rc;
}

int sl_ckpt_list(const char *dir, struct sl_buf *out)
{
        struct listing l = {.out = out};
        reader_io(&l.io, NULL, NULL);
        sl_buf_addf(out, "%-20s %9s %12s %14s %10s %12s  %-16s  %s\n", "topic", "partition",
                    "offset", "stream time", "entries", "bytes", "pipeline hash", "status");
        int rc = walk(dir, list_one, &l);
        io_fini(&l.io);
        if (rc == 0) {
                if (l.snaps == 0)
                        sl_buf_addf(out, "no snapshots in %s\n", dir);
                else
                        sl_buf_addf(out, "%zu snapshot%s in %s, %d invalid\n", l.snaps,
                                    l.snaps == 1 ? "" : "s", dir, l.invalid);
        }
        if (rc == 0 && !sl_buf_ok(out))
                rc = -ENOMEM;
        return rc < 0 ? rc : l.invalid;
}
