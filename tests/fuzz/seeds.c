/*
 * seeds.c - writes the generated seed corpora: those of fuzz_snapshot.c
 * and fuzz_flatbuf.c, whose valid inputs are binary.
 *
 * Usage: fuzz_seeds snapshot|flatbuf DIR
 *
 * snapshot: runs partitions of the plan in snapshot_plan.h over the record series
 * of fuzz_part.c (several lengths and salts, so that the states hold open
 * windows, several panes per key, late records and times at the limits),
 * saves each with sl_part_save, and writes it in both input modes of
 * fuzz_snapshot.c: "payload-N" (byte 0 odd, then the payload) and
 * "file-N" (byte 0 even, then the whole snapshot file).  Also the empty
 * state.
 *
 * flatbuf: buffers from sl_fb_encode for each column layout of
 * fuzz_flatbuf.c, with edge values and NULLs, every column read (byte 1
 * 0xff) and some read.
 *
 * Rerun it when the plan, the state format or the FlatBuffers layout
 * changes; the files are deterministic for a given engine.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/flatbuf.h"
#include "engine/part.h"
#include "engine/snapshot.h"
#include "tests/fuzz/fuzz_part.h"
#include "tests/fuzz/snapshot_plan.h"

static int write_seed(const char *dir, const char *name, uint8_t mode, const void *p,
                      size_t len)
{
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "wb");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        int bad = fwrite(&mode, 1, 1, f) != 1 || fwrite(p, 1, len, f) != len;
        if (fclose(f) != 0 || bad) {
                fprintf(stderr, "%s: write failed\n", path);
                return -1;
        }
        return 0;
}

static int seeds_snapshot(const char *dir)
{
        static const struct { uint32_t n, salt; } runs[] = {
                {0, 0}, {3, 1}, {12, 3}, {40, 11},
        };
        char err[512];
        struct sl_plan *p = sl_plan_load_string(fuzz_snapshot_sql, sizeof fuzz_snapshot_sql - 1,
                                                "snapshot_plan.h", err, sizeof err);
        if (!p) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        int rc = 0;
        for (size_t i = 0; i < sizeof runs / sizeof runs[0] && rc == 0; i++) {
                struct fuzz_part fp;
                struct sl_buf pl = {0}, file = {0};
                int64_t st = INT64_MIN;
                uint64_t entries = 0;
                char name[64];
                if (fuzz_part_init(&fp, p, 0) != 0) {
                        rc = -1;
                        break;
                }
                if (fuzz_part_feed(&fp, 0, runs[i].n, runs[i].salt) != 0 ||
                    sl_part_save(fp.pt, &pl, &st, &entries) != 0) {
                        fprintf(stderr, "run %zu failed\n", i);
                        rc = -1;
                }
                struct sl_snap_meta m = {.hash = p->hash, .partition = FUZZ_SNAPSHOT_PARTITION,
                                         .topic = FUZZ_SNAPSHOT_TOPIC,
                                         .offset = (int64_t)runs[i].n, .stream_time = st,
                                         .entries = entries};
                if (rc == 0 && sl_snap_encode(&m, pl.p, pl.len, &file) != 0)
                        rc = -1;
                snprintf(name, sizeof name, "payload-%zu", i);
                if (rc == 0)
                        rc = write_seed(dir, name, 1, pl.p, pl.len);
                snprintf(name, sizeof name, "file-%zu", i);
                if (rc == 0)
                        rc = write_seed(dir, name, 0, file.p, file.len);
                sl_buf_free(&pl);
                sl_buf_free(&file);
                fuzz_part_fini(&fp);
        }
        sl_plan_free(p);
        return rc;
}

/* Mirrors the layouts of fuzz_flatbuf.c (byte 0 picks one). */
static const enum sl_type fb_layouts[][20] = {
        {SL_T_STRING, SL_T_BIGINT, SL_T_INT, SL_T_DOUBLE, SL_T_BOOL, SL_T_STRING},
        {SL_T_BIGINT},
        {SL_T_BOOL, SL_T_STRING, SL_T_BOOL, SL_T_INT},
        {SL_T_INT, SL_T_DOUBLE, SL_T_STRING, SL_T_BOOL, SL_T_BIGINT,
         SL_T_STRING, SL_T_INT, SL_T_BOOL, SL_T_DOUBLE, SL_T_BIGINT,
         SL_T_BOOL, SL_T_STRING, SL_T_DOUBLE, SL_T_INT, SL_T_BIGINT,
         SL_T_STRING, SL_T_BOOL, SL_T_BIGINT, SL_T_DOUBLE, SL_T_INT},
};
static const uint32_t fb_ncols[] = {6, 1, 4, 20};

static struct sl_value fb_value(enum sl_type t, uint32_t k)
{
        static const char *const strs[] = {"", "a", "caf\xc3\xa9", "\xf0\x9f\x98\x80 emoji",
                                           "a rather longer string of forty bytes..."};
        static const int64_t ints[] = {0, -1, INT64_MAX, INT64_MIN, 7};
        static const int32_t i32[] = {0, -1, INT32_MAX, INT32_MIN, 5};
        static const double dbls[] = {0.5, -0.0, 1e308, -2.5, 5e-324};
        struct sl_value v = {.type = (uint8_t)t};
        if (k % 7 == 6)
                return (struct sl_value){.type = SL_T_NULL};
        switch (t) {
        case SL_T_STRING:
                v.u.s.p = strs[k % 5];
                v.u.s.len = (uint32_t)strlen(strs[k % 5]);
                break;
        case SL_T_BIGINT:
                v.u.i = ints[k % 5];
                break;
        case SL_T_INT:
                v.u.i = i32[k % 5];
                break;
        case SL_T_DOUBLE:
                v.u.d = dbls[k % 5];
                break;
        case SL_T_BOOL:
                v.u.b = k % 2;
                break;
        default:
                v.type = SL_T_NULL;
                break;
        }
        return v;
}

static int seeds_flatbuf(const char *dir)
{
        int rc = 0;
        for (uint32_t l = 0; l < 4 && rc == 0; l++) {
                for (uint32_t k = 0; k < 4 && rc == 0; k++) {
                        struct sl_value vals[20];
                        struct sl_buf b = {0};
                        char name[64];
                        for (uint32_t c = 0; c < fb_ncols[l]; c++)
                                vals[c] = fb_value(fb_layouts[l][c], k * 3 + c);
                        sl_fb_encode(fb_layouts[l], vals, fb_ncols[l], &b);
                        if (!sl_buf_ok(&b) || b.len < SL_FB_FRAME_HEAD) {
                                rc = -1;
                                break;
                        }
                        /* byte 0: the layout; byte 1: the columns read. */
                        uint8_t head[2] = {(uint8_t)l, k == 3 ? 0x55 : 0xff};
                        snprintf(name, sizeof name, "enc-%u-%u", l, k);
                        char path[4096];
                        snprintf(path, sizeof path, "%s/%s", dir, name);
                        FILE *f = fopen(path, "wb");
                        if (!f || fwrite(head, 1, 2, f) != 2 ||
                            fwrite(b.p + SL_FB_FRAME_HEAD, 1, b.len - SL_FB_FRAME_HEAD, f) !=
                                    b.len - SL_FB_FRAME_HEAD) {
                                fprintf(stderr, "%s: write failed\n", path);
                                rc = -1;
                        }
                        if (f && fclose(f) != 0)
                                rc = -1;
                        sl_buf_free(&b);
                }
        }
        return rc;
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: %s snapshot|flatbuf DIR\n", argv[0]);
                return 1;
        }
        int rc;
        if (strcmp(argv[1], "snapshot") == 0) {
                rc = seeds_snapshot(argv[2]);
        } else if (strcmp(argv[1], "flatbuf") == 0) {
                rc = seeds_flatbuf(argv[2]);
        } else {
                fprintf(stderr, "usage: %s snapshot|flatbuf DIR\n", argv[0]);
                return 1;
        }
        return rc ? 1 : 0;
}
