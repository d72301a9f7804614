/*
 * test_snapshot.c - cmocka tests of engine/snapshot.{h,c}: the snapshot
 * format and the checkpoint directory.
 *
 * Format: round trips (empty and large payloads, longest topic); every
 * corruption of a small snapshot is rejected with the reason its place
 * calls for: a flipped byte at every position (three masks), truncation
 * at every length (the exact message at every section boundary), wrong
 * version, wrong pipeline hash, trailing bytes, fields out of range under
 * a valid checksum.
 *
 * Directory (in a mkdtemp directory): the writer thread publishes several
 * snapshots of two partitions (files, MANIFEST, poll results); load picks
 * the newest at or below max_offset and, when that file is corrupt on disk
 * (flipped byte, truncated) or of another pipeline, falls back to the
 * older one with a warning naming the file and the reason; a missing or
 * damaged MANIFEST; prune (direct and on the writer thread); hash
 * mismatch detection; reset; the listing; the pwrite fallback
 * (SLUICE_NO_URING); temporaries of a crashed run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "engine/buf.h"
#include "engine/snapshot.h"

#define HASH 0x1234567890abcdefull

/* ---- helpers ------------------------------------------------------------ */

static struct sl_snap_meta meta(const char *topic, int32_t partition, int64_t offset)
{
        struct sl_snap_meta m = {.hash = HASH, .partition = partition, .offset = offset,
                                 .stream_time = offset < 1000000000000 ? 1700000000000 + offset
                                                                       : 0,
                                 .entries = 42};
        snprintf(m.topic, sizeof m.topic, "%s", topic);
        return m;
}

/* An encoded snapshot whose payload is len bytes derived from seed. */
static void encode(struct sl_buf *b, const struct sl_snap_meta *m, size_t len, uint32_t seed)
{
        char *p = malloc(len ? len : 1);
        assert_non_null(p);
        uint32_t x = seed * 2654435761u + 1;
        for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                p[i] = (char)x;
        }
        sl_buf_reset(b);
        assert_int_equal(sl_snap_encode(m, p, len, b), 0);
        free(p);
}

static void payload_check(const void *p, size_t len, uint32_t seed)
{
        const char *q = p;
        uint32_t x = seed * 2654435761u + 1;
        for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                if (q[i] != (char)x)
                        fail_msg("payload differs at byte %zu of %zu", i, len);
        }
}

static void put64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

/* After editing a header field: a valid checksum again. */
static void reseal(struct sl_buf *b)
{
        put64((uint8_t *)b->p + b->len - 8, XXH3_64bits(b->p, b->len - 8));
}

static int decode(const struct sl_buf *b, size_t len, uint64_t expect, char *why, size_t n)
{
        struct sl_snap_meta m;
        const void *p;
        return sl_snap_decode(b->p, len, expect, &m, &p, why, n);
}

static bool starts(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Warnings, one per line. */
struct warns {
        struct sl_buf text;
        int n;
};

static void on_warn(void *arg, const char *msg)
{
        struct warns *w = arg;
        sl_buf_adds(&w->text, msg);
        sl_buf_addc(&w->text, '\n');
        sl_buf_addc(&w->text, '\0');
        w->text.len--;
        w->n++;
}

static void warns_clear(struct warns *w)
{
        sl_buf_reset(&w->text);
        sl_buf_addc(&w->text, '\0');
        w->text.len = 0;
        w->n = 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb, (void)flag, (void)ftw;
        return remove(path);
}

static int setup_dir(void **state)
{
        char *d = strdup("/tmp/sl_snap_test.XXXXXX");
        if (!d || !mkdtemp(d))
                return -1;
        *state = d;
        return 0;
}

static int teardown_dir(void **state)
{
        char *d = *state;
        nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(d);
        return 0;
}

static char *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        struct sl_buf b = {0};
        char tmp[4096];
        size_t n;
        while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
                sl_buf_add(&b, tmp, n);
        fclose(f);
        sl_buf_addc(&b, '\0');
        if (len)
                *len = b.len - 1;
        return b.p;
}

static bool exists(const char *path)
{
        struct stat sb;
        return stat(path, &sb) == 0;
}

static void snap_path(char *out, size_t n, const char *dir, const char *topic, int32_t part,
                      int64_t off)
{
        snprintf(out, n, "%s/%s/%d/%020" PRId64 ".snap", dir, topic, part, off);
}

static void flip_file(const char *path, long at)
{
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        assert_int_equal(fseek(f, at, SEEK_SET), 0);
        int c = fgetc(f);
        assert_int_not_equal(c, EOF);
        assert_int_equal(fseek(f, at, SEEK_SET), 0);
        fputc(c ^ 0x20, f);
        fclose(f);
}

/* Submits snapshots and waits for all of them. */
static void write_snaps(struct sl_ckpt_writer *w, const struct sl_snap_meta *ms,
                        const size_t *lens, unsigned n)
{
        struct sl_buf b = {0};
        for (unsigned i = 0; i < n; i++) {
                encode(&b, &ms[i], lens[i], (uint32_t)ms[i].offset);
                assert_int_equal(sl_ckpt_submit(w, &ms[i], &b), 0);
                assert_null(b.p);
                assert_int_equal(b.len, 0);
        }
        unsigned got = 0;
        struct sl_ckpt_done d[8];
        for (int spin = 0; got < n && spin < 20000; spin++) {
                unsigned k = sl_ckpt_poll(w, d, 8);
                for (unsigned i = 0; i < k; i++) {
                        if (d[i].rc)
                                fail_msg("write failed: %s", d[i].why);
                        const struct sl_snap_meta *m = &ms[got + i];
                        assert_string_equal(d[i].topic, m->topic);
                        assert_int_equal(d[i].partition, m->partition);
                        assert_int_equal(d[i].offset, m->offset);
                        assert_int_equal(d[i].bytes,
                                         SL_SNAP_HEADER_MAX - SL_SNAP_TOPIC_MAX +
                                         strlen(m->topic) + lens[got + i] + 8);
                        assert_true(d[i].write_ns > 0);
                }
                got += k;
                if (got < n)
                        nanosleep(&(struct timespec){0, 250000}, NULL);
        }
        assert_int_equal(got, n);
        sl_buf_free(&b);
}

/* ---- the format ------------------------------------------------------------ */

static void test_roundtrip(void **state)
{
        (void)state;
        struct sl_buf b = {0};
        struct sl_snap_meta m = meta("orders", 3, 1000), got;
        const void *p;
        char why[200];

        /* Empty payload. */
        m.stream_time = INT64_MIN;
        assert_int_equal(sl_snap_encode(&m, NULL, 0, &b), 0);
        assert_int_equal(b.len, 58 + 6 + 0 + 8);
        assert_memory_equal(b.p, "SLSNAP\0\1", 8);
        assert_int_equal(sl_snap_decode(b.p, b.len, HASH, &got, &p, why, sizeof why), 0);
        assert_string_equal(why, "");
        assert_string_equal(got.topic, "orders");
        assert_int_equal(got.partition, 3);
        assert_int_equal(got.offset, 1000);
        assert_true(got.stream_time == INT64_MIN);
        assert_int_equal(got.entries, 42);
        assert_int_equal(got.hash, HASH);
        assert_int_equal(got.payload_len, 0);
        assert_ptr_equal(p, b.p + 64);

        /* Large payload, longest topic, extreme values. */
        char topic[SL_SNAP_TOPIC_MAX + 1];
        memset(topic, 'x', SL_SNAP_TOPIC_MAX);
        topic[SL_SNAP_TOPIC_MAX] = '\0';
        topic[0] = 'A', topic[1] = '.', topic[2] = '_', topic[3] = '-', topic[4] = '9';
        m = meta(topic, INT32_MAX, INT64_MAX);
        m.entries = UINT64_MAX;
        m.stream_time = -5;
        size_t big = (9u << 20) + 123;
        encode(&b, &m, big, 7);
        assert_int_equal(sl_snap_decode(b.p, b.len, 0, &got, &p, why, sizeof why), 0);
        assert_string_equal(got.topic, topic);
        assert_int_equal(got.partition, INT32_MAX);
        assert_true(got.offset == INT64_MAX);
        assert_true(got.entries == UINT64_MAX);
        assert_true(got.stream_time == -5);
        assert_int_equal(got.payload_len, big);
        payload_check(p, big, 7);

        /* Appends after what the buffer holds. */
        sl_buf_reset(&b);
        sl_buf_adds(&b, "xyz");
        m = meta("t", 0, 0);
        assert_int_equal(sl_snap_encode(&m, "ab", 2, &b), 0);
        assert_int_equal(sl_snap_decode(b.p + 3, b.len - 3, HASH, &got, &p, why, sizeof why), 0);
        assert_memory_equal(p, "ab", 2);
        sl_buf_free(&b);
}

/* begin/finish around a payload built in place: the same bytes. */
static void test_begin_finish(void **state)
{
        (void)state;
        struct sl_buf a = {0}, b = {0};
        struct sl_snap_meta m = meta("orders", 2, 77);
        encode(&a, &m, 1000, 9);
        size_t start;
        sl_buf_adds(&b, "prefix");
        assert_int_equal(sl_snap_begin(&b, "orders", &start), 0);
        assert_int_equal(start, 6);
        sl_buf_add(&b, a.p + 64, 1000);
        m.payload_len = 12345; /* ignored */
        assert_int_equal(sl_snap_finish(&b, start, &m), 0);
        assert_int_equal(b.len - start, a.len);
        assert_memory_equal(b.p + start, a.p, a.len);

        /* Another topic than begin's, or no begin at all: refused. */
        sl_buf_reset(&b);
        assert_int_equal(sl_snap_begin(&b, "orders", &start), 0);
        sl_buf_add(&b, "xy", 2);
        struct sl_snap_meta o = meta("orderz", 2, 77);
        assert_int_equal(sl_snap_finish(&b, start, &o), -EINVAL);
        o = meta("order", 2, 77);
        assert_int_equal(sl_snap_finish(&b, start, &o), -EINVAL);
        assert_int_equal(sl_snap_finish(&b, start + 1, &m), -EINVAL);
        assert_int_equal(sl_snap_finish(&b, b.len + 1, &m), -EINVAL);
        assert_int_equal(sl_snap_begin(&b, "a/b", &start), -EINVAL);
        b.oom = true;
        assert_int_equal(sl_snap_finish(&b, 0, &m), -ENOMEM);
        sl_buf_free(&a);
        sl_buf_free(&b);
}

static void test_encode_rejects(void **state)
{
        (void)state;
        struct sl_buf b = {0};
        char longest[SL_SNAP_TOPIC_MAX + 2];
        memset(longest, 'a', sizeof longest - 1);
        longest[sizeof longest - 1] = '\0';
        const char *bad[] = {"", ".", "..", "a/b", "a b", "caf\xc3\xa9", "x\n", longest};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                struct sl_snap_meta m = meta(bad[i], 0, 1);
                assert_int_equal(sl_snap_encode(&m, "x", 1, &b), -EINVAL);
                assert_false(sl_snap_topic_ok(bad[i]));
        }
        struct sl_snap_meta m = meta("t", -1, 1);
        assert_int_equal(sl_snap_encode(&m, "x", 1, &b), -EINVAL);
        m = meta("t", 0, -1);
        assert_int_equal(sl_snap_encode(&m, "x", 1, &b), -EINVAL);
        m = meta("t", 0, 0);
        assert_int_equal(sl_snap_encode(&m, NULL, 1, &b), -EINVAL);
        memset(m.topic, 'a', sizeof m.topic); /* no NUL */
        assert_int_equal(sl_snap_encode(&m, "x", 1, &b), -EINVAL);
        assert_int_equal(b.len, 0);
        sl_buf_free(&b);
}

/* The small snapshot the corruption tests use, and its sections. */
#define SMALL_TOPIC "orders"
#define SMALL_PAYLOAD 16
static const struct section {
        const char *name;
        size_t at, len;
} sections[] = {
        {"magic", 0, 8},
        {"format version", 8, 4},
        {"pipeline hash", 12, 8},
        {"partition", 20, 4},
        {"topic length", 24, 2},
        {"topic", 26, 6},
        {"offset", 32, 8},
        {"stream time", 40, 8},
        {"entries", 48, 8},
        {"payload length", 56, 8},
        {"payload", 64, SMALL_PAYLOAD},
        {"checksum", 80, 8},
};
#define SMALL_LEN 88

static void small(struct sl_buf *b)
{
        struct sl_snap_meta m = meta(SMALL_TOPIC, 5, 123456);
        encode(b, &m, SMALL_PAYLOAD, 3);
        assert_int_equal(b->len, SMALL_LEN);
}

static const struct section *section_at(size_t pos)
{
        for (size_t i = 0; i < sizeof sections / sizeof *sections; i++)
                if (pos >= sections[i].at && pos < sections[i].at + sections[i].len)
                        return &sections[i];
        return NULL;
}

static void test_flipped_byte_everywhere(void **state)
{
        (void)state;
        struct sl_buf b = {0};
        small(&b);
        const uint8_t masks[] = {0x01, 0x80, 0xff};
        char why[200];
        for (size_t pos = 0; pos < b.len; pos++) {
                const struct section *s = section_at(pos);
                assert_non_null(s);
                for (size_t k = 0; k < sizeof masks; k++) {
                        b.p[pos] ^= (char)masks[k];
                        why[0] = '\0';
                        int rc = decode(&b, b.len, HASH, why, sizeof why);
                        b.p[pos] ^= (char)masks[k];
                        if (rc != -EINVAL)
                                fail_msg("byte %zu (%s) ^ 0x%02x accepted", pos, s->name,
                                         masks[k]);
                        bool ok;
                        if (!strcmp(s->name, "magic"))
                                ok = !strcmp(why, "bad magic");
                        else if (!strcmp(s->name, "format version"))
                                ok = starts(why, "format version ") &&
                                     strstr(why, ", expected 1");
                        else if (!strcmp(s->name, "topic length") ||
                                 !strcmp(s->name, "payload length"))
                                ok = starts(why, "truncated in ") || starts(why, "topic length ") ||
                                     strstr(why, " trailing bytes after the checksum");
                        else
                                ok = !strcmp(why, "checksum mismatch");
                        if (!ok)
                                fail_msg("byte %zu (%s) ^ 0x%02x: unexpected reason \"%s\"",
                                         pos, s->name, masks[k], why);
                }
        }
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), 0);
        sl_buf_free(&b);
}

static void test_truncated_everywhere(void **state)
{
        (void)state;
        struct sl_buf b = {0};
        small(&b);
        char why[200], want[200];
        for (size_t n = 0; n < b.len; n++) {
                /* A copy exactly n long, so that ASan sees any read past it. */
                char *c = malloc(n ? n : 1);
                memcpy(c, b.p, n);
                struct sl_snap_meta m;
                const void *p;
                int rc = sl_snap_decode(c, n, HASH, &m, &p, why, sizeof why);
                free(c);
                if (rc != -EINVAL)
                        fail_msg("truncated to %zu of %zu bytes: accepted", n, b.len);
                const struct section *s = section_at(n);
                snprintf(want, sizeof want, "truncated in %s (%zu of %zu bytes)", s->name,
                         n - s->at, s->len);
                if (strcmp(why, want))
                        fail_msg("truncated to %zu: \"%s\", expected \"%s\"", n, why, want);
        }
        /* At each section boundary, by name. */
        const char *at_boundary[] = {
                "truncated in magic (0 of 8 bytes)",
                "truncated in format version (0 of 4 bytes)",
                "truncated in pipeline hash (0 of 8 bytes)",
                "truncated in partition (0 of 4 bytes)",
                "truncated in topic length (0 of 2 bytes)",
                "truncated in topic (0 of 6 bytes)",
                "truncated in offset (0 of 8 bytes)",
                "truncated in stream time (0 of 8 bytes)",
                "truncated in entries (0 of 8 bytes)",
                "truncated in payload length (0 of 8 bytes)",
                "truncated in payload (0 of 16 bytes)",
                "truncated in checksum (0 of 8 bytes)",
        };
        for (size_t i = 0; i < sizeof sections / sizeof *sections; i++) {
                assert_int_equal(decode(&b, sections[i].at, HASH, why, sizeof why), -EINVAL);
                assert_string_equal(why, at_boundary[i]);
        }
        /* A short prefix that is not the magic's. */
        assert_int_equal(sl_snap_decode("SLX", 3, 0, &(struct sl_snap_meta){0},
                                        &(const void *){0}, why, sizeof why), -EINVAL);
        assert_string_equal(why, "bad magic");
        sl_buf_free(&b);
}

static void test_version_hash_trailing(void **state)
{
        (void)state;
        struct sl_buf b = {0};
        char why[200];
        small(&b);

        /* Another format version, with a valid checksum. */
        b.p[8] = 7;
        reseal(&b);
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), -EINVAL);
        assert_string_equal(why, "format version 7, expected 1");
        b.p[8] = 0;
        b.p[11] = 1;
        reseal(&b);
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), -EINVAL);
        assert_string_equal(why, "format version 16777216, expected 1");

        /* Another pipeline. */
        small(&b);
        assert_int_equal(decode(&b, b.len, 0x42, why, sizeof why), -EINVAL);
        assert_string_equal(why, "pipeline hash 1234567890abcdef, expected 0000000000000042");
        assert_int_equal(decode(&b, b.len, 0, why, sizeof why), 0);

        /* Trailing bytes. */
        sl_buf_add(&b, "abc", 3);
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), -EINVAL);
        assert_string_equal(why, "3 trailing bytes after the checksum");

        /* Lengths that do not fit. */
        small(&b);
        put64((uint8_t *)b.p + 56, UINT64_MAX);
        reseal(&b);
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), -EINVAL);
        assert_string_equal(why, "truncated in payload (24 of 18446744073709551615 bytes)");
        small(&b);
        b.p[24] = 0;
        reseal(&b);
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), -EINVAL);
        assert_string_equal(why, "topic length 0, expected 1 to 249");
        b.p[24] = (char)250;
        reseal(&b);
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), -EINVAL);
        assert_string_equal(why, "topic length 250, expected 1 to 249");

        /* Fields out of range under a valid checksum (a writer's bug). */
        small(&b);
        b.p[26] = '/';
        reseal(&b);
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), -EINVAL);
        assert_string_equal(why, "topic name not valid");
        small(&b);
        memset(b.p + 20, 0xff, 4);
        reseal(&b);
        assert_int_equal(decode(&b, b.len, HASH, why, sizeof why), -EINVAL);
        assert_string_equal(why, "partition -1, offset 123456 out of range");
        sl_buf_free(&b);
}

/* ---- the directory ----------------------------------------------------------- */

static void test_writer_load_fallback(void **state)
{
        const char *dir = *state;
        struct warns wn = {0};
        warns_clear(&wn);
        int err = 0;
        struct sl_ckpt_writer *w = sl_ckpt_writer_new(dir, on_warn, &wn, &err);
        assert_non_null(w);
        /* Here io_uring works; where it does not the warning says so. */
        if (!sl_ckpt_writer_uring(w))
                assert_non_null(strstr(wn.text.p, "io_uring unavailable"));
        else
                assert_int_equal(wn.n, 0);

        struct sl_snap_meta ms[] = {
                meta("orders", 0, 100), meta("orders", 1, 50), meta("orders", 0, 200),
                meta("orders", 1, 150), meta("orders", 0, 300), meta("orders", 0, 400),
        };
        size_t lens[] = {1000, 0, 2000, 10, 3000, (9u << 20) + 5};
        write_snaps(w, ms, lens, 6);

        /* A submit that does not match its bytes is refused and not taken. */
        struct sl_buf b = {0};
        encode(&b, &ms[0], 10, 1);
        struct sl_snap_meta other = ms[0];
        other.offset = 101;
        assert_int_equal(sl_ckpt_submit(w, &other, &b), -EINVAL);
        assert_non_null(b.p);
        sl_buf_free(&b);

        char path[512];
        for (unsigned i = 0; i < 6; i++) {
                snap_path(path, sizeof path, dir, ms[i].topic, ms[i].partition, ms[i].offset);
                assert_true(exists(path));
                strcat(path, ".tmp");
                assert_false(exists(path));
        }
        snprintf(path, sizeof path, "%s/orders/0/MANIFEST", dir);
        char *man = slurp(path, NULL);
        assert_non_null(man);
        assert_string_equal(man, "00000000000000000400.snap\n00000000000000000300.snap\n"
                                 "00000000000000000200.snap\n00000000000000000100.snap\n");
        free(man);
        snprintf(path, sizeof path, "%s/orders/1/MANIFEST", dir);
        man = slurp(path, NULL);
        assert_string_equal(man, "00000000000000000150.snap\n00000000000000000050.snap\n");
        free(man);

        /* Newest at or below max_offset. */
        struct sl_snap_meta m;
        void *p;
        const struct { int32_t part; int64_t max, want; size_t len; } cases[] = {
                {0, 1000, 400, (9u << 20) + 5}, {0, 399, 300, 3000}, {0, 300, 300, 3000},
                {0, 250, 200, 2000}, {0, 100, 100, 1000}, {1, 149, 50, 0}, {1, 150, 150, 10},
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                assert_int_equal(sl_ckpt_load(dir, "orders", cases[i].part, cases[i].max, HASH,
                                              &m, &p, on_warn, &wn), 0);
                assert_int_equal(m.offset, cases[i].want);
                assert_int_equal(m.partition, cases[i].part);
                assert_int_equal(m.payload_len, cases[i].len);
                assert_true(m.stream_time == 1700000000000 + cases[i].want);
                payload_check(p, m.payload_len, (uint32_t)cases[i].want);
                free(p);
        }
        assert_int_equal(wn.n, 0);
        assert_int_equal(sl_ckpt_load(dir, "orders", 0, 99, HASH, &m, &p, on_warn, &wn),
                         -ENOENT);
        assert_null(p);
        assert_int_equal(sl_ckpt_load(dir, "orders", 2, 1000, HASH, &m, &p, on_warn, &wn),
                         -ENOENT);
        assert_int_equal(sl_ckpt_load(dir, "nope", 0, 1000, HASH, &m, &p, on_warn, &wn),
                         -ENOENT);
        assert_int_equal(sl_ckpt_load(dir, "a/b", 0, 1000, HASH, &m, &p, on_warn, &wn),
                         -EINVAL);
        assert_int_equal(wn.n, 0);

        /* The newest is corrupt: a flipped byte in its payload. */
        char p400[512], p300[512], want[700];
        snap_path(p400, sizeof p400, dir, "orders", 0, 400);
        snap_path(p300, sizeof p300, dir, "orders", 0, 300);
        flip_file(p400, 5000);
        assert_int_equal(sl_ckpt_load(dir, "orders", 0, 1000, HASH, &m, &p, on_warn, &wn), 0);
        assert_int_equal(m.offset, 300);
        free(p);
        snprintf(want, sizeof want, "skipping snapshot %s: checksum mismatch\n", p400);
        assert_string_equal(wn.text.p, want);

        /* Truncated (as a write cut short would leave it, were it renamed). */
        warns_clear(&wn);
        assert_int_equal(truncate(p400, 4000), 0);
        assert_int_equal(sl_ckpt_load(dir, "orders", 0, 1000, HASH, &m, &p, on_warn, &wn), 0);
        assert_int_equal(m.offset, 300);
        free(p);
        snprintf(want, sizeof want, "skipping snapshot %s: truncated in payload "
                 "(3936 of %u bytes)\n", p400, (9u << 20) + 5);
        assert_string_equal(wn.text.p, want);

        /* Both newest broken: the one before. */
        warns_clear(&wn);
        assert_int_equal(truncate(p300, 30), 0);
        assert_int_equal(sl_ckpt_load(dir, "orders", 0, 1000, HASH, &m, &p, on_warn, &wn), 0);
        assert_int_equal(m.offset, 200);
        free(p);
        assert_int_equal(wn.n, 2);
        snprintf(want, sizeof want, "skipping snapshot %s: truncated in topic (4 of 6 bytes)",
                 p300);
        assert_non_null(strstr(wn.text.p, want));

        /* Another pipeline: everything skipped, each said. */
        warns_clear(&wn);
        assert_int_equal(sl_ckpt_load(dir, "orders", 1, 1000, 0x99, &m, &p, on_warn, &wn),
                         -ENOENT);
        assert_int_equal(wn.n, 2);
        assert_non_null(strstr(wn.text.p, "00000000000000000150.snap: pipeline hash "
                                          "1234567890abcdef, expected 0000000000000099"));

        /* MANIFEST missing, then naming a missing file: the files present. */
        warns_clear(&wn);
        snprintf(path, sizeof path, "%s/orders/1/MANIFEST", dir);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(sl_ckpt_load(dir, "orders", 1, 1000, HASH, &m, &p, on_warn, &wn), 0);
        assert_int_equal(m.offset, 150);
        free(p);
        assert_int_equal(wn.n, 0);
        FILE *f = fopen(path, "w");
        fputs("00000000000000000170.snap\n00000000000000000050.snap\n", f);
        fclose(f);
        assert_int_equal(sl_ckpt_load(dir, "orders", 1, 1000, HASH, &m, &p, on_warn, &wn), 0);
        assert_int_equal(m.offset, 150);
        free(p);
        if (wn.n != 1)
                fail_msg("%s", wn.text.p);
        assert_non_null(strstr(wn.text.p, "MANIFEST names 00000000000000000170.snap, which "
                                          "is missing"));
        warns_clear(&wn);
        f = fopen(path, "w");
        fputs("garbage\n", f);
        fclose(f);
        assert_int_equal(sl_ckpt_load(dir, "orders", 1, 1000, HASH, &m, &p, on_warn, &wn), 0);
        assert_int_equal(m.offset, 150);
        free(p);
        assert_non_null(strstr(wn.text.p, "MANIFEST is damaged"));

        /* After destroy_finish: results stay, submits are refused. */
        encode(&b, &ms[0], 10, 1);
        sl_ckpt_writer_destroy_finish(w);
        sl_ckpt_writer_destroy_finish(w);
        assert_int_equal(sl_ckpt_submit(w, &ms[0], &b), -ESHUTDOWN);
        assert_int_equal(sl_ckpt_writer_prune(w, "orders", 0, 1), -ESHUTDOWN);
        struct sl_ckpt_done d[2];
        assert_int_equal(sl_ckpt_poll(w, d, 2), 0);
        sl_ckpt_writer_destroy(w);
        sl_ckpt_writer_destroy(NULL);
        sl_buf_free(&b);
        sl_buf_free(&wn.text);
}

static int count_snaps(const char *pdir)
{
        DIR *d = opendir(pdir);
        if (!d)
                return -1;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                n += strstr(e->d_name, ".snap") != NULL;
        closedir(d);
        return n;
}

static void test_prune(void **state)
{
        const char *dir = *state;
        struct warns wn = {0};
        warns_clear(&wn);
        struct sl_ckpt_writer *w = sl_ckpt_writer_new(dir, on_warn, &wn, NULL);
        assert_non_null(w);
        struct sl_snap_meta ms[] = {
                meta("t", 0, 10), meta("t", 0, 20), meta("t", 0, 30), meta("t", 0, 40),
                meta("u", 7, 5), meta("u", 7, 6),
        };
        size_t lens[] = {10, 20, 30, 40, 1, 2};
        write_snaps(w, ms, lens, 6);
        char pdir[512], path[600];
        snprintf(pdir, sizeof pdir, "%s/t/0", dir);

        /* Nothing at or below committed: everything stays. */
        assert_int_equal(sl_ckpt_prune(dir, "t", 0, 9), 0);
        assert_int_equal(count_snaps(pdir), 4);
        /* The newest <= 10 is the oldest: nothing older to remove. */
        assert_int_equal(sl_ckpt_prune(dir, "t", 0, 15), 0);
        assert_int_equal(count_snaps(pdir), 4);
        /* Covered up to 25: 10 goes, 20 stays (the one to restore), 30, 40 stay. */
        assert_int_equal(sl_ckpt_prune(dir, "t", 0, 25), 0);
        assert_int_equal(count_snaps(pdir), 3);
        snap_path(path, sizeof path, dir, "t", 0, 10);
        assert_false(exists(path));
        snprintf(path, sizeof path, "%s/MANIFEST", pdir);
        char *man = slurp(path, NULL);
        assert_string_equal(man, "00000000000000000040.snap\n00000000000000000030.snap\n"
                                 "00000000000000000020.snap\n");
        free(man);
        /* A keeper that is truncated does not count: the one before it is kept. */
        snap_path(path, sizeof path, dir, "t", 0, 30);
        assert_int_equal(truncate(path, 50), 0);
        assert_int_equal(sl_ckpt_prune(dir, "t", 0, 35), 0);
        assert_int_equal(count_snaps(pdir), 3);
        /* Covered beyond the newest: only it stays. */
        assert_int_equal(sl_ckpt_prune(dir, "t", 0, 1000), 0);
        assert_int_equal(count_snaps(pdir), 1);
        snprintf(path, sizeof path, "%s/MANIFEST", pdir);
        man = slurp(path, NULL);
        assert_string_equal(man, "00000000000000000040.snap\n");
        free(man);
        /* Missing directory, bad topic. */
        assert_int_equal(sl_ckpt_prune(dir, "t", 3, 1000), 0);
        assert_int_equal(sl_ckpt_prune(dir, "../t", 0, 1000), -EINVAL);

        /* On the writer thread, after the writes before it. */
        struct sl_snap_meta more = meta("u", 7, 8);
        struct sl_buf b = {0};
        encode(&b, &more, 3, 8);
        assert_int_equal(sl_ckpt_submit(w, &more, &b), 0);
        assert_int_equal(sl_ckpt_writer_prune(w, "u", 7, 8), 0);
        sl_ckpt_writer_destroy_finish(w);
        struct sl_ckpt_done d[4];
        assert_int_equal(sl_ckpt_poll(w, d, 4), 1);
        assert_int_equal(d[0].rc, 0);
        snprintf(pdir, sizeof pdir, "%s/u/7", dir);
        assert_int_equal(count_snaps(pdir), 1);
        assert_int_equal(wn.n, 0);
        sl_ckpt_writer_destroy(w);
        sl_buf_free(&b);
        sl_buf_free(&wn.text);
}

static void test_mismatch_reset_list(void **state)
{
        const char *dir = *state;
        struct sl_ckpt_writer *w = sl_ckpt_writer_new(dir, NULL, NULL, NULL);
        assert_non_null(w);
        struct sl_snap_meta ms[] = {meta("a", 0, 10), meta("a", 1, 20), meta("b.x", 0, 30)};
        size_t lens[] = {100, 200, 300};
        write_snaps(w, ms, lens, 3);
        char what[600];
        assert_int_equal(sl_ckpt_hash_mismatch(dir, HASH, what, sizeof what), 0);
        assert_string_equal(what, "");

        /* A snapshot of another pipeline, corrupt: not counted. */
        struct sl_snap_meta o = meta("c", 2, 40);
        o.hash = 0xfeed;
        struct sl_buf b = {0};
        encode(&b, &o, 50, 1);
        assert_int_equal(sl_ckpt_submit(w, &o, &b), 0);
        sl_ckpt_writer_destroy_finish(w);
        sl_ckpt_writer_destroy(w);
        char path[600];
        snap_path(path, sizeof path, dir, "c", 2, 40);
        flip_file(path, 100);
        assert_int_equal(sl_ckpt_hash_mismatch(dir, HASH, what, sizeof what), 0);
        flip_file(path, 100);
        assert_int_equal(sl_ckpt_hash_mismatch(dir, HASH, what, sizeof what), 1);
        char want[900];
        snprintf(want, sizeof want, "%s/c/2/00000000000000000040.snap has pipeline hash "
                 "000000000000feed, this pipeline's is 1234567890abcdef", dir);
        assert_string_equal(what, want);
        assert_int_equal(sl_ckpt_hash_mismatch("/nonexistent/sl", HASH, what, sizeof what), 0);

        /* The listing: one invalid, one temporary, a foreign file ignored. */
        snap_path(path, sizeof path, dir, "a", 1, 20);
        flip_file(path, 70);
        snprintf(path, sizeof path, "%s/a/0/00000000000000000099.snap.tmp", dir);
        FILE *f = fopen(path, "w");
        fclose(f);
        snprintf(path, sizeof path, "%s/a/0/notes.txt", dir);
        f = fopen(path, "w");
        fputs("mine\n", f);
        fclose(f);
        snprintf(path, sizeof path, "%s/README", dir);
        f = fopen(path, "w");
        fclose(f);
        sl_buf_reset(&b);
        assert_int_equal(sl_ckpt_list(dir, &b), 1);
        sl_buf_addc(&b, '\0');
        const char *want_lines[] = {
                "topic                partition       offset    stream time    entries        "
                "bytes  pipeline hash     status\n",
                "a                            0           10  1700000000010         42          "
                "167  1234567890abcdef  ok\n",
                "a                            0           99  (00000000000000000099.snap.tmp: a "
                "write that did not finish)\n",
                "a                            1           20  1700000000020         42          "
                "267  1234567890abcdef  INVALID: checksum mismatch\n",
                "b.x                          0           30  1700000000030         42          "
                "369  1234567890abcdef  ok\n",
                "c                            2           40  1700000000040         42          "
                "117  000000000000feed  ok\n",
        };
        const char *at = b.p;
        for (size_t i = 0; i < sizeof want_lines / sizeof *want_lines; i++) {
                const char *hit = strstr(at, want_lines[i]);
                if (!hit)
                        fail_msg("line %zu missing from the listing:\n%s", i, b.p);
                at = hit + strlen(want_lines[i]);
        }
        snprintf(want, sizeof want, "4 snapshots in %s, 1 invalid\n", dir);
        assert_string_equal(at, want);
        sl_buf_reset(&b);
        assert_int_equal(sl_ckpt_list("/nonexistent/sl", &b), -ENOENT);

        /* A new writer removes the temporary a crashed run left. */
        w = sl_ckpt_writer_new(dir, NULL, NULL, NULL);
        assert_non_null(w);
        sl_ckpt_writer_destroy(w);
        snprintf(path, sizeof path, "%s/a/0/00000000000000000099.snap.tmp", dir);
        assert_false(exists(path));

        /* Reset: only this module's files and the directories left empty. */
        assert_int_equal(sl_ckpt_reset(dir), 0);
        snprintf(path, sizeof path, "%s/a/0/notes.txt", dir);
        assert_true(exists(path));
        snprintf(path, sizeof path, "%s/a/0/MANIFEST", dir);
        assert_false(exists(path));
        snprintf(path, sizeof path, "%s/a/0", dir);
        assert_int_equal(count_snaps(path), 0);
        snprintf(path, sizeof path, "%s/a/1", dir);
        assert_false(exists(path));
        snprintf(path, sizeof path, "%s/b.x", dir);
        assert_false(exists(path));
        snprintf(path, sizeof path, "%s/c", dir);
        assert_false(exists(path));
        snprintf(path, sizeof path, "%s/README", dir);
        assert_true(exists(path));
        assert_true(exists(dir));
        assert_int_equal(sl_ckpt_hash_mismatch(dir, 1, what, sizeof what), 0);
        sl_buf_reset(&b);
        assert_int_equal(sl_ckpt_list(dir, &b), 0);
        sl_buf_addc(&b, '\0');
        assert_non_null(strstr(b.p, "no snapshots in "));
        assert_int_equal(sl_ckpt_reset("/nonexistent/sl"), 0);
        sl_buf_free(&b);
}

/* The pwrite/pread fallback, as where io_uring is forbidden. */
static void test_no_uring(void **state)
{
        const char *dir = *state;
        char sub[600];
        snprintf(sub, sizeof sub, "%s/deeper/state", dir);    /* mkdir -p */
        struct warns wn = {0};
        warns_clear(&wn);
        setenv("SLUICE_NO_URING", "1", 1);
        struct sl_ckpt_writer *w = sl_ckpt_writer_new(sub, on_warn, &wn, NULL);
        assert_non_null(w);
        assert_false(sl_ckpt_writer_uring(w));
        assert_int_equal(wn.n, 1);
        assert_non_null(strstr(wn.text.p, "io_uring unavailable (disabled by SLUICE_NO_URING)"));
        struct sl_snap_meta ms[] = {meta("t", 0, 1), meta("t", 0, 2)};
        size_t lens[] = {(5u << 20) + 1, 7};
        write_snaps(w, ms, lens, 2);
        sl_ckpt_writer_destroy(w);
        struct sl_snap_meta m;
        void *p;
        warns_clear(&wn);
        assert_int_equal(sl_ckpt_load(sub, "t", 0, 1, HASH, &m, &p, on_warn, &wn), 0);
        payload_check(p, m.payload_len, 1);
        assert_int_equal(m.payload_len, (5u << 20) + 1);
        free(p);
        unsetenv("SLUICE_NO_URING");
        /* And the ring reads what the fallback wrote. */
        assert_int_equal(sl_ckpt_load(sub, "t", 0, 5, HASH, &m, &p, on_warn, &wn), 0);
        assert_int_equal(m.offset, 2);
        free(p);
        sl_buf_free(&wn.text);
}

static void test_writer_errors(void **state)
{
        const char *dir = *state;
        int err = 0;
        char path[600];
        snprintf(path, sizeof path, "%s/file", dir);
        FILE *f = fopen(path, "w");
        fclose(f);
        assert_null(sl_ckpt_writer_new(path, NULL, NULL, &err));
        assert_int_equal(err, -ENOTDIR);
        err = 0;
        assert_null(sl_ckpt_writer_new("", NULL, NULL, &err));
        assert_int_equal(err, -EINVAL);

        /* A write that fails is reported in its result: the topic's directory
         * is a file. */
        struct sl_ckpt_writer *w = sl_ckpt_writer_new(dir, NULL, NULL, NULL);
        assert_non_null(w);
        snprintf(path, sizeof path, "%s/blocked", dir);
        f = fopen(path, "w");
        fclose(f);
        struct sl_snap_meta m = meta("blocked", 0, 1);
        struct sl_buf b = {0};
        encode(&b, &m, 10, 1);
        assert_int_equal(sl_ckpt_submit(w, &m, &b), 0);
        sl_ckpt_writer_destroy_finish(w);
        struct sl_ckpt_done d;
        assert_int_equal(sl_ckpt_poll(w, &d, 1), 1);
        assert_int_equal(d.rc, -ENOTDIR);
        snprintf(path, sizeof path, "create %s/blocked/0: Not a directory", dir);
        assert_string_equal(d.why, path);
        sl_ckpt_writer_destroy(w);
        sl_buf_free(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_begin_finish),
                cmocka_unit_test(test_encode_rejects),
                cmocka_unit_test(test_flipped_byte_everywhere),
                cmocka_unit_test(test_truncated_everywhere),
                cmocka_unit_test(test_version_hash_trailing),
                cmocka_unit_test_setup_teardown(test_writer_load_fallback, setup_dir,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_prune, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_mismatch_reset_list, setup_dir,
                                                teardown_dir),
                cmocka_unit_test_setup_teardown(test_no_uring, setup_dir, teardown_dir),
                cmocka_unit_test_setup_teardown(test_writer_errors, setup_dir, teardown_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
