/*
 * test_part.c - Kafka mode's per-partition processing: a snapshot taken
 * after any record, restored into a fresh partition, continues exactly as
 * the original does (same rows, same bytes); bad blobs are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/buf.h"
#include "engine/ktable.h"
#include "engine/part.h"
#include "engine/plan.h"
#include "engine/ring.h"

static const char sql[] =
        "CREATE STREAM s (userId STRING KEY, amount DOUBLE, ts BIGINT)\n"
        "  WITH (KAFKA_TOPIC='in', VALUE_FORMAT='JSON', TIMESTAMP='ts');\n"
        "CREATE TABLE t WITH (KAFKA_TOPIC='t') AS SELECT userId, COUNT(*) AS n, AVG(amount) AS a,\n"
        "  WINDOWSTART AS ws FROM s WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 2 SECONDS)\n"
        "  GROUP BY userId EMIT FINAL;\n"
        "CREATE TABLE h WITH (KAFKA_TOPIC='h') AS SELECT userId, SUM(amount) AS total,\n"
        "  WINDOWEND AS we FROM s WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS)\n"
        "  GROUP BY userId EMIT CHANGES;\n"
        "CREATE TABLE se WITH (KAFKA_TOPIC='se') AS SELECT userId, COUNT(*) AS n, SUM(amount) AS total,\n"
        "  WINDOWSTART AS ws, WINDOWEND AS we FROM s\n"
        "  WINDOW SESSION (5 SECONDS, GRACE PERIOD 2 SECONDS) GROUP BY userId EMIT CHANGES;\n"
        "CREATE TABLE sf WITH (KAFKA_TOPIC='sf') AS SELECT userId, COUNT(*) AS n, WINDOWEND AS we\n"
        "  FROM s WINDOW SESSION (3 SECONDS) GROUP BY userId EMIT FINAL;\n";

/* The aggregates with larger states (docs/sql.md): tumbling, hopping
 * (panes merged) and unwindowed, where the two keys see enough distinct
 * values (728 and 681) for COUNT_DISTINCT to turn from hashes into
 * registers. */
static const char sql_ext[] =
        "CREATE STREAM s (userId STRING KEY, amount DOUBLE, lvl BIGINT, vis STRING, g INTEGER,\n"
        "  ts BIGINT) WITH (KAFKA_TOPIC='in', VALUE_FORMAT='JSON', TIMESTAMP='ts');\n"
        "CREATE TABLE t WITH (KAFKA_TOPIC='t') AS SELECT userId, COUNT_DISTINCT(vis) AS c,\n"
        "  TOPK(lvl, 3) AS t3, TOPKDISTINCT(amount, 2) AS td, LATEST_BY_OFFSET(lvl) AS l,\n"
        "  EARLIEST_BY_OFFSET(amount) AS e, STDDEV_SAMP(lvl) AS sd, EMA(amount, 0.3) AS ema,\n"
        "  WINDOWSTART AS ws FROM s WINDOW TUMBLING (SIZE 10 SECONDS, GRACE PERIOD 2 SECONDS)\n"
        "  GROUP BY userId EMIT FINAL;\n"
        "CREATE TABLE h WITH (KAFKA_TOPIC='h') AS SELECT userId, COUNT_DISTINCT(vis) AS c,\n"
        "  TOPK(amount, 4) AS t4, TOPKDISTINCT(lvl, 3) AS td, LATEST_BY_OFFSET(amount) AS l,\n"
        "  EARLIEST_BY_OFFSET(lvl) AS e, STDDEV_SAMP(amount) AS sd, WINDOWEND AS we\n"
        "  FROM s WINDOW HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS)\n"
        "  GROUP BY userId EMIT CHANGES;\n"
        "CREATE TABLE u WITH (KAFKA_TOPIC='u') AS SELECT g, COUNT_DISTINCT(vis) AS c,\n"
        "  TOPK(lvl, 5) AS t, EMA(lvl, 0.1) AS e FROM s GROUP BY g EMIT CHANGES;\n";

/* The same aggregates but EMA (refused) in a session window: the states
 * are merged when a record joins two sessions. */
static const char sql_ext_session[] =
        "CREATE STREAM s (userId STRING KEY, amount DOUBLE, lvl BIGINT, vis STRING, g INTEGER,\n"
        "  ts BIGINT) WITH (KAFKA_TOPIC='in', VALUE_FORMAT='JSON', TIMESTAMP='ts');\n"
        "CREATE TABLE se WITH (KAFKA_TOPIC='se') AS SELECT userId, COUNT_DISTINCT(vis) AS c,\n"
        "  TOPK(lvl, 3) AS t3, LATEST_BY_OFFSET(amount) AS l, EARLIEST_BY_OFFSET(lvl) AS e,\n"
        "  STDDEV_SAMP(amount) AS sd, WINDOWSTART AS ws FROM s\n"
        "  WINDOW SESSION (5 SECONDS, GRACE PERIOD 2 SECONDS) GROUP BY userId EMIT CHANGES;\n";

struct side {
        struct sl_ring ring;
        struct sl_outq oq;
        struct sl_part *pt;
        _Atomic bool stop;
        char *text;
        size_t len, cap;
        uint64_t tombstones; /* rows with a key and no value */
};

static void side_init(struct side *s, const struct sl_plan *p)
{
        memset(s, 0, sizeof *s);
        assert_int_equal(sl_ring_init(&s->ring, 1024), 0);
        s->oq = (struct sl_outq){.ring = &s->ring, .stop = &s->stop};
        s->pt = sl_part_new(p, 0, 0, &s->oq);
        assert_non_null(s->pt);
}

/* Collects every row queued so far as "query|key|value" lines. */
static void drain(struct side *s)
{
        assert_int_equal(sl_outq_flush(&s->oq, 0), 0);
        void *b;
        while (sl_ring_pop1_spsc(&s->ring, &b)) {
                struct sl_outbatch *ob = b;
                for (uint32_t off = 0; off < ob->used;) {
                        const struct sl_row *r = (const struct sl_row *)(ob->data + off);
                        off += sl_row_size(r->len);
                        size_t need = r->len + 16;
                        if (s->len + need > s->cap) {
                                s->cap = (s->len + need) * 2;
                                s->text = realloc(s->text, s->cap);
                        }
                        /* Raw bytes: session keys carry their window in binary. */
                        s->len += (size_t)snprintf(s->text + s->len, s->cap - s->len, "%u|", r->query);
                        memcpy(s->text + s->len, sl_row_text(r), r->klen);
                        s->len += r->klen;
                        s->text[s->len++] = '|';
                        memcpy(s->text + s->len, sl_row_text(r) + r->klen, r->len - r->klen);
                        s->len += r->len - r->klen;
                        s->text[s->len] = '\0'; /* for the string comparisons */
                        s->tombstones += r->klen > 0 && r->len == r->klen;
                }
                free(b);
        }
}

static void side_fini(struct side *s)
{
        drain(s);
        sl_part_destroy(s->pt);
        sl_ring_destroy(&s->ring);
        free(s->text);
}

static void feed(struct side *s, int64_t off, uint64_t *x)
{
        char val[128], key[16];
        *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
        int k = (int)(*x % 7);
        int64_t ts = 1700000000000 + off * 700 - (int64_t)(*x >> 50) % 3000;
        snprintf(key, sizeof key, "u%d", k);
        /* lvl, vis and g are read by sql_ext only; lvl is sometimes null */
        char lvl[24] = "null";
        if (*x % 11 != 0)
                snprintf(lvl, sizeof lvl, "%d", (int)((*x >> 20) % 50) - 10);
        int n = snprintf(val, sizeof val,
                         "{\"amount\":%d.25,\"ts\":%lld,\"lvl\":%s,\"vis\":\"v%d\",\"g\":%d}",
                         (int)(*x % 1000), (long long)ts, lvl, (int)((*x >> 30) % 5000),
                         (int)((*x >> 40) % 2));
        assert_int_equal(sl_part_record(s->pt, off, key, strlen(key), val, (size_t)n, ts), 0);
}

/* Feeds n records; a snapshot after every step-th is restored into a
 * fresh partition, and both go on to the end with the same rows. */
static void snapshot_continues(const char *text, int64_t n, int64_t step, bool sessions)
{
        char err[256];
        struct sl_plan *p = sl_plan_load_string(text, strlen(text), "t.sql", err, sizeof err);
        if (!p)
                fail_msg("%s", err);
        for (int64_t cut = 0; cut < n - 100; cut += step) {
                struct side a, b;
                side_init(&a, p);
                side_init(&b, p);
                uint64_t xa = 88172645463325252ull;
                for (int64_t o = 0; o < cut; o++)
                        feed(&a, o, &xa);
                drain(&a);
                a.len = 0; /* compare what comes after the snapshot */
                a.tombstones = 0;
                struct sl_buf blob = {0};
                int64_t st;
                uint64_t entries = 0;
                assert_int_equal(sl_part_save(a.pt, &blob, &st, &entries), 0);
                assert_int_equal(sl_part_reset(b.pt, cut), 0);
                assert_int_equal(sl_part_load(b.pt, blob.p, blob.len), 0);
                assert_int_equal(sl_part_keys(b.pt), sl_part_keys(a.pt));
                assert_int_equal(sl_part_next_offset(b.pt), sl_part_next_offset(a.pt));
                uint64_t xb = xa;
                for (int64_t o = cut; o < n; o++) {
                        feed(&a, o, &xa);
                        feed(&b, o, &xb);
                }
                assert_int_equal(sl_part_flush(a.pt), 0);
                assert_int_equal(sl_part_flush(b.pt), 0);
                drain(&a);
                drain(&b);
                assert_int_equal(a.len, b.len);
                assert_memory_equal(a.text, b.text, a.len);
                assert_int_equal(a.tombstones, b.tombstones);
                if (sessions)
                        assert_true(a.tombstones > 0); /* sessions were merged after the cut */
                /* A damaged blob is refused, never half-loaded into use. */
                struct side c;
                side_init(&c, p);
                assert_int_equal(sl_part_reset(c.pt, 0), 0);
                assert_int_not_equal(sl_part_load(c.pt, blob.p, blob.len > 9 ? blob.len - 9 : 0), 0);
                side_fini(&c);
                sl_buf_free(&blob);
                side_fini(&a);
                side_fini(&b);
        }
        sl_plan_free(p);
}

static void test_snapshot_continues_exactly(void **state)
{
        (void)state;
        snapshot_continues(sql, 400, 7, true);
}

/* COUNT_DISTINCT sparse and dense, TOPK, LATEST/EARLIEST, STDDEV_SAMP,
 * EMA: their states too, in panes and in sessions. */
static void test_snapshot_continues_exactly_ext(void **state)
{
        (void)state;
        snapshot_continues(sql_ext, 1500, 23, false);
        snapshot_continues(sql_ext_session, 600, 17, true);
}

/* Dead letters: a dropped record is queued as it came, with its place and
 * reason; below the replay offset nothing is queued; the value is cut to
 * the limit and over max_record is oversize. */
static void test_dead_letters(void **state)
{
        (void)state;
        char err[256];
        struct sl_plan *p = sl_plan_load_string(sql, sizeof sql - 1, "t.sql", err, sizeof err);
        assert_non_null(p);
        struct side s;
        side_init(&s, p);
        sl_part_set_limits(s.pt, 100, 20);
        assert_int_equal(sl_part_reset(s.pt, 3), 0); /* offsets 0-2 are replayed */
        char big[150];
        memset(big, 'x', sizeof big);
        big[0] = '{';
        struct { int64_t off; const char *val; size_t len; int reason; } in[] = {
                {1, "nope", 4, -1}, /* replayed: counted, not queued */
                {4, "nope", 4, SL_DROP_NOT_JSON},
                {5, big, sizeof big, SL_DROP_OVERSIZE},
                {6, NULL, 0, SL_DROP_NULL_VALUE},
                {7, "{\"amount\":1.5}", 14, SL_DROP_NO_TS},
                {8, "{\"amount\":1.5,\"ts\":1700000000000}", 33, -1}, /* good */
        };
        for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
                assert_int_equal(sl_part_record(s.pt, in[i].off, "k1", 2, in[i].val, in[i].len,
                                                1700000000123), 0);
        assert_int_equal(sl_outq_flush(&s.oq, 0), 0);
        size_t want = 1, seen = 0;
        void *b;
        while (sl_ring_pop1_spsc(&s.ring, &b)) {
                struct sl_outbatch *ob = b;
                for (uint32_t off = 0; off < ob->used;) {
                        const struct sl_row *r = (const struct sl_row *)(ob->data + off);
                        off += sl_row_size(r->len);
                        if (r->kind != SL_ROW_DEAD)
                                continue;
                        while (want < sizeof in / sizeof in[0] && in[want].reason < 0)
                                want++;
                        assert_true(want < sizeof in / sizeof in[0]); /* no dead letter too many */
                        struct sl_dead d;
                        const char *t = sl_row_text(r);
                        memcpy(&d, t + r->len - sizeof d, sizeof d);
                        assert_int_equal(d.offset, in[want].off);
                        assert_int_equal(r->seq, (uint64_t)in[want].off + 1);
                        assert_int_equal(d.reason, in[want].reason);
                        assert_int_equal(d.vlen, in[want].len);
                        assert_int_equal(d.null_value, in[want].val == NULL);
                        assert_int_equal(d.partition, 0);
                        assert_int_equal(r->wend, 1700000000123);
                        assert_int_equal(r->klen, 2);
                        assert_memory_equal(t, "k1", 2);
                        size_t keep = in[want].len < 20 ? in[want].len : 20;
                        assert_int_equal(r->xlen, keep);
                        assert_int_equal(r->len, 2 + keep + sizeof d);
                        if (keep)
                                assert_memory_equal(t + 2, in[want].val, keep);
                        want++;
                        seen++;
                }
                free(b);
        }
        assert_int_equal(seen, 4);
        struct sl_source_stats sst = {0};
        struct sl_query_stats qst[4] = {{0}};
        sl_part_add_stats(s.pt, &sst, qst);
        assert_int_equal(sst.dropped[SL_DROP_NOT_JSON], 2); /* the replayed one too */
        assert_int_equal(sst.dropped[SL_DROP_OVERSIZE], 1);
        side_fini(&s);
        sl_plan_free(p);
}

/* Joins in a partition: the worker's table copies are read after decoding,
 * a LEFT JOIN keeps unmatched records with NULLs, an INNER one drops them
 * (and counts them), and a table update applies to the next record. */
static void test_join(void **state)
{
        (void)state;
        static const char jsql[] =
                "CREATE STREAM s (oid STRING, cid STRING KEY, amount DOUBLE)\n"
                "  WITH (KAFKA_TOPIC='o', VALUE_FORMAT='JSON');\n"
                "CREATE TABLE c (id STRING PRIMARY KEY, tier STRING) WITH (KAFKA_TOPIC='c');\n"
                "CREATE STREAM e WITH (KAFKA_TOPIC='e') AS SELECT oid, c.tier FROM s LEFT JOIN c ON cid = c.id;\n"
                "CREATE TABLE n WITH (KAFKA_TOPIC='n') AS SELECT c.tier, COUNT(*) AS k\n"
                "  FROM s JOIN c ON s.cid = c.id GROUP BY c.tier;\n";
        char err[256];
        struct sl_plan *p = sl_plan_load_string(jsql, strlen(jsql), "j.sql", err, sizeof err);
        if (!p)
                fail_msg("%s", err);
        struct sl_ktable *tables[2] = {NULL, sl_ktable_new(2)};
        assert_non_null(tables[1]);
        struct sl_source_stats sst = {0};
        struct sl_value row[3] = {{.type = SL_T_STRING}, {.type = SL_T_STRING}, {.type = SL_T_NULL}};
        row[0].u.s.p = "c1"; row[0].u.s.len = 2;
        row[1].u.s.p = "gold"; row[1].u.s.len = 4;
        assert_int_equal(sl_ktable_apply(tables[1], &p->sources[1], row, &sst), 0);

        struct side sd;
        side_init(&sd, p);
        sl_part_set_tables(sd.pt, tables);
        static const char *const recs[][2] = {
                {"c1", "{\"oid\":\"o1\",\"amount\":1}"},
                {"c9", "{\"oid\":\"o2\",\"amount\":2}"},
                {NULL, "{\"oid\":\"o3\",\"amount\":3}"},
        };
        for (int i = 0; i < 3; i++)
                assert_int_equal(sl_part_record(sd.pt, i, recs[i][0], recs[i][0] ? 2 : 0, recs[i][1],
                                                strlen(recs[i][1]), 1000), 0);
        /* c1 becomes silver: the next record sees it */
        row[1].u.s.p = "silver"; row[1].u.s.len = 6;
        assert_int_equal(sl_ktable_apply(tables[1], &p->sources[1], row, &sst), 0);
        assert_int_equal(sl_part_record(sd.pt, 3, "c1", 2, recs[0][1], strlen(recs[0][1]), 1000), 0);
        drain(&sd);
        assert_non_null(sd.text);
        assert_string_equal(sd.text,
                "0|c1|{\"oid\":\"o1\",\"tier\":\"gold\"}\n"
                "1|gold|{\"tier\":\"gold\",\"k\":1}\n"
                "0|c9|{\"oid\":\"o2\",\"tier\":null}\n"
                "0||{\"oid\":\"o3\",\"tier\":null}\n"
                "0|c1|{\"oid\":\"o1\",\"tier\":\"silver\"}\n"
                "1|silver|{\"tier\":\"silver\",\"k\":1}\n");
        struct sl_source_stats ss = {0};
        struct sl_query_stats qs[2] = {{0}};
        sl_part_add_stats(sd.pt, &ss, qs);
        assert_int_equal(qs[1].unmatched, 2);
        assert_int_equal(qs[0].unmatched, 0);
        assert_int_equal(sst.upserts, 2);
        side_fini(&sd);
        sl_ktable_destroy(tables[1]);
        sl_plan_free(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_snapshot_continues_exactly),
                cmocka_unit_test(test_snapshot_continues_exactly_ext),
                cmocka_unit_test(test_dead_letters),
                cmocka_unit_test(test_join),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
