/*
 * fuzz_snapshot.c - fuzz target of the snapshot reader: the file decoder
 * (sl_snap_decode, engine/snapshot.c) and the partition-state loader it
 * hands the payload to (sl_part_load, engine/part.c, and the table images
 * of engine/aggop.c and engine/wtable.c behind it).
 *
 * Only public entry points are used (sl_snap_*, sl_part_*), so the target
 * keeps working while the payload format inside changes.
 *
 * Input: byte 0 picks the mode, the rest is the data.
 *
 *   even: a whole snapshot file.  Decoded with any pipeline hash and with
 *         the fixed plan's; an accepted file must re-encode to exactly its
 *         own bytes (the format has one encoding), and its payload is
 *         loaded.  Random bytes rarely pass the checksum, so this mode
 *         tests the header and layout checks.
 *   odd:  a payload.  It is wrapped in a valid header and checksum by
 *         sl_snap_encode and by sl_snap_begin/finish (both must give the
 *         same bytes), decoded (must succeed and return the same payload)
 *         and loaded: this is how fuzzed bytes reach the state loader.
 *
 * Loading: into a fresh partition of the plan in snapshot_plan.h, from an
 * exact-size heap copy of the payload.  A refused payload must be refused
 * with -EINVAL (or -ENOMEM) and leave a partition that can be destroyed
 * cleanly.  An accepted one must save again, the saved state must load
 * into another partition and save to the same bytes with the same number
 * of keys, and the partition must go on running records (edge values,
 * times at the limits) and flush its windows without a sanitizer report.
 */
#include <errno.h>
#include <string.h>

#include "engine/buf.h"
#include "engine/part.h"
#include "engine/plan.h"
#include "engine/snapshot.h"
#include "tests/fuzz/fuzz_part.h"
#include "tests/fuzz/fuzz_target.h"
#include "tests/fuzz/snapshot_plan.h"

#define RECORDS 16

static const struct sl_plan *plan(void)
{
        static struct sl_plan *p;
        if (!p) {
                char err[512];
                p = sl_plan_load_string(fuzz_snapshot_sql, sizeof fuzz_snapshot_sql - 1,
                                        "snapshot_plan.h", err, sizeof err);
                if (!p) {
                        fprintf(stderr, "%s\n", err);
                        abort();
                }
        }
        return p;
}

/* The state saved by a partition that loaded it loads and saves the same. */
static void check_resave(const struct fuzz_part *fp)
{
        struct sl_buf a = {0}, b = {0};
        int64_t st;
        uint64_t ea = 0, eb = 0;
        FUZZ_CHECK(sl_part_save(fp->pt, &a, &st, &ea) == 0);
        struct fuzz_part other;
        FUZZ_CHECK(fuzz_part_init(&other, plan(), 0) == 0);
        FUZZ_CHECK(sl_part_reset(other.pt, 0) == 0);
        FUZZ_CHECK(sl_part_load(other.pt, a.p, a.len) == 0);
        FUZZ_CHECK(sl_part_keys(other.pt) == sl_part_keys(fp->pt));
        FUZZ_CHECK(sl_part_save(other.pt, &b, &st, &eb) == 0);
        FUZZ_CHECK(ea == eb);
        FUZZ_CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
        fuzz_part_fini(&other);
        sl_buf_free(&a);
        sl_buf_free(&b);
}

static void load(const void *payload, size_t len, int64_t offset, uint32_t salt)
{
        char *blob = malloc(len ? len : 1);
        FUZZ_CHECK(blob != NULL);
        memcpy(blob, payload, len);
        struct fuzz_part fp;
        FUZZ_CHECK(fuzz_part_init(&fp, plan(), 0) == 0);
        FUZZ_CHECK(sl_part_reset(fp.pt, offset) == 0);
        int rc = sl_part_load(fp.pt, blob, len);
        free(blob); /* the state must not point into the blob */
        if (rc != 0) {
                FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
                fuzz_part_fini(&fp);
                return;
        }
        check_resave(&fp);
        FUZZ_CHECK(fuzz_part_feed(&fp, offset, RECORDS, salt) == 0);
        FUZZ_CHECK(sl_part_flush(fp.pt) == 0);
        fuzz_part_fini(&fp);
}

static void run_file(const uint8_t *buf, size_t len, uint32_t salt)
{
        struct sl_snap_meta m, mh;
        const void *payload = NULL, *ph = NULL;
        char why[320];
        memset(why, 'x', sizeof why);
        int rc = sl_snap_decode(buf, len, 0, &m, &payload, why, sizeof why);
        FUZZ_CHECK(strnlen(why, sizeof why) < sizeof why);
        int rch = sl_snap_decode(buf, len, plan()->hash, &mh, &ph, NULL, 0);
        if (rc != 0) {
                FUZZ_CHECK(rc == -EINVAL && why[0] != '\0');
                FUZZ_CHECK(rch != 0);
                return;
        }
        FUZZ_CHECK(why[0] == '\0');
        FUZZ_CHECK(rch == 0 || m.hash != plan()->hash);
        const uint8_t *p = payload;
        FUZZ_CHECK(p >= buf && m.payload_len <= len && (size_t)(p - buf) <= len - m.payload_len);
        FUZZ_CHECK(sl_snap_topic_ok(m.topic) && m.partition >= 0 && m.offset >= 0);

        struct sl_buf again = {0};
        FUZZ_CHECK(sl_snap_encode(&m, payload, m.payload_len, &again) == 0);
        FUZZ_CHECK(again.len == len && memcmp(again.p, buf, len) == 0);
        sl_buf_free(&again);
        load(payload, m.payload_len, m.offset, salt);
}

static void run_payload(const uint8_t *pl, size_t len, uint32_t salt)
{
        struct sl_snap_meta m = {.hash = plan()->hash, .partition = FUZZ_SNAPSHOT_PARTITION,
                                 .topic = FUZZ_SNAPSHOT_TOPIC, .offset = FUZZ_SNAPSHOT_OFFSET,
                                 .stream_time = INT64_MIN, .entries = 7};
        struct sl_buf enc = {0}, inplace = {0};
        FUZZ_CHECK(sl_snap_encode(&m, pl, len, &enc) == 0);
        size_t start;
        FUZZ_CHECK(sl_snap_begin(&inplace, m.topic, &start) == 0);
        sl_buf_add(&inplace, pl, len);
        FUZZ_CHECK(sl_snap_finish(&inplace, start, &m) == 0);
        FUZZ_CHECK(enc.len == inplace.len && memcmp(enc.p, inplace.p, enc.len) == 0);
        sl_buf_free(&inplace);

        /* Decoded from an exact-size copy, so that a read past the file is seen. */
        uint8_t *file = malloc(enc.len);
        FUZZ_CHECK(file != NULL);
        memcpy(file, enc.p, enc.len);
        size_t flen = enc.len;
        sl_buf_free(&enc);
        struct sl_snap_meta d;
        const void *payload;
        char why[320];
        int rc = sl_snap_decode(file, flen, plan()->hash, &d, &payload, why, sizeof why);
        if (rc != 0) {
                fprintf(stderr, "a freshly encoded snapshot does not decode: %s\n", why);
                abort();
        }
        FUZZ_CHECK(d.payload_len == len && memcmp(payload, pl, len) == 0);
        FUZZ_CHECK(d.offset == m.offset && d.partition == m.partition && d.hash == m.hash &&
                   d.stream_time == m.stream_time && d.entries == m.entries &&
                   strcmp(d.topic, m.topic) == 0);
        load(payload, d.payload_len, d.offset, salt);
        free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0)
                return 0;
        uint32_t salt = data[0] >> 1;
        if (data[0] & 1)
                run_payload(data + 1, size - 1, salt);
        else
                run_file(data + 1, size - 1, salt);
        return 0;
}
