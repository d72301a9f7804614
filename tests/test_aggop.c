/*
 * test_aggop.c - cmocka tests of engine/aggop.{h,c}: one query's windowed
 * aggregation on one worker, driven directly.
 *
 * A small plan is built with sl_plan_load_string.  Records are built as
 * the dispatcher builds them (dispatch.c put_item: the item header, one
 * struct sl_value per source column, the key bytes from sl_key_encode,
 * then string bytes; hash XXH3_64bits of the key; st the query's stream
 * time including the record).  Output rows are taken from the worker's
 * output queue: a struct sl_ring with a struct sl_outq on it, flushed
 * after every call, each struct sl_outbatch walked row by row.
 *
 * Hand-worked cases check every row's text, seq, wend and first, and the
 * stats.  A randomised case compares the full output (rows, their order
 * and the late count) with a direct model of the semantics, for tumbling
 * and hopping windows with and without grace, EMIT FINAL and CHANGES.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "engine/aggop.h"
#include "engine/key.h"
#include "engine/wtable_int.h"

/* ---- harness -------------------------------------------------------- */

struct row {
        uint64_t seq;
        int64_t wend;
        uint64_t first;
        uint16_t query;
        char *text; /* without the trailing newline */
};

struct h {
        struct sl_plan *plan;
        const struct sl_query *q;
        struct sl_aggop *op;
        struct sl_ring ring;
        struct sl_outq oq;
        _Atomic bool stop;
        int64_t st;
        uint64_t seq;
        struct row *rows;
        size_t nrows, caprows;
        size_t seen; /* rows already checked by expect_rows */
};

static void h_init(struct h *h, const char *sql)
{
        memset(h, 0, sizeof *h);
        char err[512];
        h->plan = sl_plan_load_string(sql, strlen(sql), "t.sql", err, sizeof err);
        if (!h->plan)
                fail_msg("plan: %s", err);
        h->q = &h->plan->queries[0];
        h->op = sl_aggop_new(h->q);
        assert_non_null(h->op);
        assert_int_equal(sl_ring_init(&h->ring, 64), 0);
        atomic_init(&h->stop, false);
        h->oq = (struct sl_outq){.ring = &h->ring, .stop = &h->stop};
        h->st = INT64_MIN;
}

/* Flushes the output queue and collects every row pushed so far. */
static void h_collect(struct h *h, uint64_t progress)
{
        assert_int_equal(sl_outq_flush(&h->oq, progress), 0);
        void *p;
        while (sl_ring_pop1_spsc(&h->ring, &p)) {
                struct sl_outbatch *b = p;
                for (uint32_t off = 0; off < b->used;) {
                        const struct sl_row *r = (const struct sl_row *)(b->data + off);
                        off += sl_row_size(r->len);
                        assert_true(off <= b->used);
                        if (h->nrows == h->caprows) {
                                h->caprows = h->caprows ? h->caprows * 2 : 64;
                                h->rows = realloc(h->rows, h->caprows * sizeof *h->rows);
                                assert_non_null(h->rows);
                        }
                        const char *t = sl_row_text(r);
                        assert_true(r->len >= 1 && t[r->len - 1] == '\n');
                        struct row *o = &h->rows[h->nrows++];
                        *o = (struct row){.seq = r->seq, .wend = r->wend, .first = r->first,
                                          .query = r->query, .text = strndup(t, r->len - 1)};
                }
                free(b);
        }
}

static void h_free(struct h *h)
{
        for (size_t i = 0; i < h->nrows; i++)
                free(h->rows[i].text);
        free(h->rows);
        free(h->oq.cur);
        sl_ring_destroy(&h->ring);
        sl_aggop_destroy(h->op);
        sl_plan_free(h->plan);
}

/*
 * Applies one record.  vals: one value per source column; the timestamp
 * column gives the event time (as the dispatcher reads it).
 */
static void h_record(struct h *h, const struct sl_value *vals)
{
        const struct sl_source *src = &h->plan->sources[h->q->source];
        const struct sl_query *q = h->q;
        int64_t ts = vals[src->ts_col].u.i;
        if (ts > h->st)
                h->st = ts;
        uint64_t seq = ++h->seq;

        struct sl_buf key = {0};
        sl_key_encode(q, vals, &key);
        assert_true(sl_buf_ok(&key));
        size_t strbytes = 0;
        for (uint32_t c = 0; c < src->ncols; c++)
                if (vals[c].type == SL_T_STRING)
                        strbytes += vals[c].u.s.len;
        size_t need = sizeof(struct sl_item) + src->ncols * sizeof(struct sl_value) +
                      key.len + strbytes;
        need = (need + 7) & ~(size_t)7;
        struct sl_item *it = malloc(need);
        assert_non_null(it);
        *it = (struct sl_item){.seq = seq, .hash = XXH3_64bits(key.p, key.len), .ts = ts,
                               .st = h->st, .size = (uint32_t)need, .klen = (uint32_t)key.len,
                               .query = (uint16_t)q->index, .kind = SL_ITEM_RECORD,
                               .nvals = src->ncols};
        struct sl_value *iv = sl_item_vals(it);
        char *kp = (char *)(iv + src->ncols);
        if (key.len)
                memcpy(kp, key.p, key.len);
        char *s = kp + key.len;
        for (uint32_t c = 0; c < src->ncols; c++) {
                iv[c] = vals[c];
                if (vals[c].type == SL_T_STRING) {
                        memcpy(s, vals[c].u.s.p, vals[c].u.s.len);
                        iv[c].u.s.p = s;
                        s += vals[c].u.s.len;
                }
        }
        sl_buf_free(&key);
        assert_int_equal(sl_aggop_record(h->op, it, &h->oq), 0);
        /* the operator keeps nothing of the item: poison it */
        memset(it, 0xa5, need);
        free(it);
        h_collect(h, seq);
}

/* A stream-time tick, as the dispatcher sends to workers without the record. */
static void h_tick(struct h *h, int64_t st)
{
        if (st > h->st)
                h->st = st;
        uint64_t seq = ++h->seq;
        assert_int_equal(sl_aggop_advance(h->op, h->st, seq, &h->oq), 0);
        h_collect(h, seq);
}

static void h_flush(struct h *h)
{
        assert_int_equal(sl_aggop_flush(h->op, &h->oq), 0);
        h_collect(h, SL_SEQ_DONE);
}

static struct sl_aggop_stats h_stats(const struct h *h)
{
        struct sl_aggop_stats st;
        sl_aggop_stats(h->op, &st);
        return st;
}

/* Source (k STRING, v BIGINT, ts BIGINT, d DOUBLE) */
#define SRC "CREATE STREAM s (k STRING, v BIGINT, ts BIGINT, d DOUBLE) WITH (TIMESTAMP = 'ts');\n"

static void rec(struct h *h, const char *k, int64_t v, int64_t ts)
{
        struct sl_value vals[4] = {
                {.u.s = {k, (uint32_t)strlen(k)}, .type = SL_T_STRING},
                {.u.i = v, .type = SL_T_BIGINT},
                {.u.i = ts, .type = SL_T_BIGINT},
                {.type = SL_T_NULL},
        };
        h_record(h, vals);
}

struct want {
        uint64_t seq;
        int64_t wend;
        uint64_t first;
        const char *text;
};

/* The rows produced since the last call are exactly want[0..n). */
static void expect_rows_(struct h *h, const struct want *want, size_t n, int line)
{
        size_t got = h->nrows - h->seen;
        for (size_t i = 0; i < n && i < got; i++) {
                const struct row *r = &h->rows[h->seen + i];
                if (strcmp(r->text, want[i].text) != 0 || r->seq != want[i].seq ||
                    r->wend != want[i].wend || r->first != want[i].first)
                        fail_msg("line %d row %zu: got seq %llu wend %lld first %llu %s\n"
                                 "                     want seq %llu wend %lld first %llu %s",
                                 line, i, (unsigned long long)r->seq, (long long)r->wend,
                                 (unsigned long long)r->first, r->text,
                                 (unsigned long long)want[i].seq, (long long)want[i].wend,
                                 (unsigned long long)want[i].first, want[i].text);
                assert_int_equal(r->query, h->q->index);
        }
        if (got != n)
                fail_msg("line %d: %zu rows, want %zu%s%s", line, got, n,
                         got > n ? "; extra: " : "", got > n ? h->rows[h->seen + n].text : "");
        h->seen = h->nrows;
}

#define expect_rows(h, ...)                                                            \
        expect_rows_(h, (const struct want[]){__VA_ARGS__},                           \
                     sizeof((const struct want[]){__VA_ARGS__}) / sizeof(struct want), \
                     __LINE__)
#define expect_no_rows(h) expect_rows_(h, NULL, 0, __LINE__)

/* ---- hand-worked cases ---------------------------------------------- */

static void test_tumbling_final(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total,\n"
                       "  WINDOWSTART AS ws, WINDOWEND AS we FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k EMIT FINAL;");
        rec(&h, "a", 1, 1);
        rec(&h, "b", 2, 2);
        rec(&h, "a", 3, 5);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).keys, 2);
        /* st 12 closes [0, 10): rows by (wend, first) */
        rec(&h, "b", 4, 12);
        expect_rows(&h, {4, 10, 1, "{\"k\":\"a\",\"n\":2,\"total\":4,\"ws\":0,\"we\":10}"},
                        {4, 10, 2, "{\"k\":\"b\",\"n\":1,\"total\":2,\"ws\":0,\"we\":10}"});
        assert_int_equal(h_stats(&h).keys, 1); /* a is gone, b has [10, 20) */
        rec(&h, "c", 5, 13);
        /* [0, 10) closed at st 10: a record for it is late */
        rec(&h, "a", 6, 3);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).late, 1);
        assert_int_equal(h_stats(&h).keys, 2);
        /* st 35 closes [10, 20) and [20, 30) (empty) */
        rec(&h, "a", 7, 35);
        expect_rows(&h, {7, 20, 4, "{\"k\":\"b\",\"n\":1,\"total\":4,\"ws\":10,\"we\":20}"},
                        {7, 20, 5, "{\"k\":\"c\",\"n\":1,\"total\":5,\"ws\":10,\"we\":20}"});
        assert_int_equal(h_stats(&h).keys, 1);
        h_flush(&h);
        expect_rows(&h, {SL_SEQ_EOF, 40, 7, "{\"k\":\"a\",\"n\":1,\"total\":7,\"ws\":30,\"we\":40}"});
        struct sl_aggop_stats st = h_stats(&h);
        assert_int_equal(st.records, 6);
        assert_int_equal(st.late, 1);
        assert_int_equal(st.rows, 5);
        assert_int_equal(st.keys, 0);
        assert_int_equal(st.keys_max, 2); /* a, b; then b, c */
        h_free(&h);
}

/* Rows closed by one advance are ordered by (window end, first record),
 * not by key or by the order the close schedule holds them. */
static void test_final_order_and_closed_windows(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, WINDOWSTART AS ws FROM s\n"
                       "  WINDOW HOPPING (SIZE 10 MILLISECONDS, ADVANCE BY 5 MILLISECONDS)\n"
                       "  GROUP BY k EMIT FINAL;");
        rec(&h, "b", 0, 6); /* seq 1: windows [0, 10), [5, 15) */
        /* seq 2 at st 6: [-5, 5) closed at 5, so only [0, 10) takes it;
         * [-5, 5) must never be written for a */
        rec(&h, "a", 0, 1);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).late, 0);
        rec(&h, "z", 0, 100); /* seq 3 closes everything */
        expect_rows(&h, {3, 10, 1, "{\"k\":\"b\",\"n\":1,\"ws\":0}"},
                        {3, 10, 2, "{\"k\":\"a\",\"n\":1,\"ws\":0}"},
                        {3, 15, 1, "{\"k\":\"b\",\"n\":1,\"ws\":5}"});
        assert_int_equal(h_stats(&h).keys, 1);
        h_flush(&h);
        expect_rows(&h, {SL_SEQ_EOF, 105, 3, "{\"k\":\"z\",\"n\":1,\"ws\":95}"},
                        {SL_SEQ_EOF, 110, 3, "{\"k\":\"z\",\"n\":1,\"ws\":100}"});
        assert_int_equal(h_stats(&h).keys, 0);
        h_free(&h);
}

static void test_tumbling_changes(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total,\n"
                       "  WINDOWSTART AS ws FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k EMIT CHANGES;");
        rec(&h, "a", 1, 1);
        expect_rows(&h, {1, 10, 1, "{\"k\":\"a\",\"n\":1,\"total\":1,\"ws\":0}"});
        rec(&h, "a", 2, 4);
        expect_rows(&h, {2, 10, 1, "{\"k\":\"a\",\"n\":2,\"total\":3,\"ws\":0}"});
        rec(&h, "b", 5, 11);
        expect_rows(&h, {3, 20, 3, "{\"k\":\"b\",\"n\":1,\"total\":5,\"ws\":10}"});
        /* a's window closed (no row for a close in EMIT CHANGES), key freed */
        assert_int_equal(h_stats(&h).keys, 1);
        rec(&h, "a", 1, 3); /* late */
        expect_no_rows(&h);
        rec(&h, "a", 3, 12);
        expect_rows(&h, {5, 20, 5, "{\"k\":\"a\",\"n\":1,\"total\":3,\"ws\":10}"});
        assert_int_equal(h_stats(&h).keys, 2);
        /* a tick far ahead closes everything: keys back to 0, no rows */
        h_tick(&h, 1000);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).keys, 0);
        h_flush(&h);
        expect_no_rows(&h);
        struct sl_aggop_stats st = h_stats(&h);
        assert_int_equal(st.records, 4);
        assert_int_equal(st.late, 1);
        assert_int_equal(st.rows, 4);
        assert_int_equal(st.keys_max, 2);
        h_free(&h);
}

static void test_grace(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS)\n"
                       "  GROUP BY k EMIT FINAL;");
        rec(&h, "a", 1, 1);
        rec(&h, "a", 2, 12);
        rec(&h, "a", 4, 8);   /* st 12 < 10 + 5: still accepted */
        rec(&h, "a", 8, 14);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).late, 0);
        rec(&h, "a", 16, 15); /* st 15 = close of [0, 10) */
        expect_rows(&h, {5, 10, 1, "{\"k\":\"a\",\"n\":2,\"total\":5}"});
        rec(&h, "a", 32, 9);  /* late now */
        assert_int_equal(h_stats(&h).late, 1);
        assert_int_equal(h_stats(&h).keys, 1);
        h_flush(&h);
        expect_rows(&h, {SL_SEQ_EOF, 20, 2, "{\"k\":\"a\",\"n\":3,\"total\":26}"});
        h_free(&h);

        /* the same without grace: the out-of-order record is late */
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k EMIT CHANGES;");
        rec(&h, "a", 1, 1);
        rec(&h, "a", 2, 12);
        rec(&h, "a", 4, 8);
        expect_rows(&h, {1, 10, 1, "{\"k\":\"a\",\"n\":1}"}, {2, 20, 2, "{\"k\":\"a\",\"n\":1}"});
        assert_int_equal(h_stats(&h).late, 1);
        h_free(&h);

        /* grace with EMIT CHANGES: updates of the old window while the new one is open */
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS)\n"
                       "  GROUP BY k EMIT CHANGES;");
        rec(&h, "a", 1, 1);
        rec(&h, "a", 2, 12);
        rec(&h, "a", 4, 8);
        rec(&h, "a", 4, 13);
        expect_rows(&h, {1, 10, 1, "{\"k\":\"a\",\"n\":1}"}, {2, 20, 2, "{\"k\":\"a\",\"n\":1}"},
                        {3, 10, 1, "{\"k\":\"a\",\"n\":2}"}, {4, 20, 2, "{\"k\":\"a\",\"n\":2}"});
        h_free(&h);
}

static void test_hopping_changes(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total,\n"
                       "  WINDOWSTART AS ws FROM s\n"
                       "  WINDOW HOPPING (SIZE 10 MILLISECONDS, ADVANCE BY 5 MILLISECONDS)\n"
                       "  GROUP BY k EMIT CHANGES;");
        /* negative time: -3 is in [-10, 0) and [-5, 5) */
        rec(&h, "a", 1, -3);
        expect_rows(&h, {1, 0, 1, "{\"k\":\"a\",\"n\":1,\"total\":1,\"ws\":-10}"},
                        {1, 5, 1, "{\"k\":\"a\",\"n\":1,\"total\":1,\"ws\":-5}"});
        /* st 2: [-10, 0) closed; 2 is in [-5, 5) and [0, 10) */
        rec(&h, "a", 2, 2);
        expect_rows(&h, {2, 5, 1, "{\"k\":\"a\",\"n\":2,\"total\":3,\"ws\":-5}"},
                        {2, 10, 2, "{\"k\":\"a\",\"n\":1,\"total\":2,\"ws\":0}"});
        /* st 7: [-5, 5) closed, its first pane freed */
        rec(&h, "a", 4, 7);
        expect_rows(&h, {3, 10, 2, "{\"k\":\"a\",\"n\":2,\"total\":6,\"ws\":0}"},
                        {3, 15, 3, "{\"k\":\"a\",\"n\":1,\"total\":4,\"ws\":5}"});
        /* 4 is in [-5, 5) (closed) and [0, 10): one row */
        rec(&h, "a", 8, 4);
        expect_rows(&h, {4, 10, 2, "{\"k\":\"a\",\"n\":3,\"total\":14,\"ws\":0}"});
        /* another key between: its own windows only */
        rec(&h, "b", 100, 9);
        expect_rows(&h, {5, 10, 5, "{\"k\":\"b\",\"n\":1,\"total\":100,\"ws\":0}"},
                        {5, 15, 5, "{\"k\":\"b\",\"n\":1,\"total\":100,\"ws\":5}"});
        assert_int_equal(h_stats(&h).late, 0);
        assert_int_equal(h_stats(&h).rows, 9);
        /* a record older than every open window */
        rec(&h, "a", 8, -1);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).late, 1);
        h_tick(&h, 1000);
        assert_int_equal(h_stats(&h).keys, 0);
        h_free(&h);
}

/* EMIT FINAL hopping: a record arriving for a still-open window of a key
 * whose earlier windows were written must not rewrite them. */
static void test_hopping_final_no_rewrite(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total,\n"
                       "  WINDOWSTART AS ws FROM s\n"
                       "  WINDOW HOPPING (SIZE 10 MILLISECONDS, ADVANCE BY 5 MILLISECONDS)\n"
                       "  GROUP BY k EMIT FINAL;");
        rec(&h, "a", 1, 1);   /* [-5, 5), [0, 10) */
        rec(&h, "a", 2, 11);  /* st 11 closes [-5, 5) and [0, 10) */
        expect_rows(&h, {2, 5, 1, "{\"k\":\"a\",\"n\":1,\"total\":1,\"ws\":-5}"},
                        {2, 10, 1, "{\"k\":\"a\",\"n\":1,\"total\":1,\"ws\":0}"});
        rec(&h, "a", 4, 6);   /* [0, 10) closed, [5, 15) open: into pane [5, 10) */
        assert_int_equal(h_stats(&h).late, 0);
        expect_no_rows(&h);
        rec(&h, "a", 8, 16);  /* st 16 closes [5, 15) */
        expect_rows(&h, {4, 15, 2, "{\"k\":\"a\",\"n\":2,\"total\":6,\"ws\":5}"});
        h_flush(&h);
        expect_rows(&h, {SL_SEQ_EOF, 20, 2, "{\"k\":\"a\",\"n\":2,\"total\":10,\"ws\":10}"},
                        {SL_SEQ_EOF, 25, 4, "{\"k\":\"a\",\"n\":1,\"total\":8,\"ws\":15}"});
        assert_int_equal(h_stats(&h).keys, 0);
        h_free(&h);
}

/* A tick (stream time advanced by a record on another worker) closes
 * windows here, with the tick's seq. */
static void test_tick(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k EMIT FINAL;");
        rec(&h, "a", 0, 3);
        h_tick(&h, 9);
        expect_no_rows(&h);
        h_tick(&h, 10);
        expect_rows(&h, {3, 10, 1, "{\"k\":\"a\",\"n\":1}"});
        assert_int_equal(h_stats(&h).keys, 0);
        /* a tick backwards does nothing */
        h_tick(&h, 5);
        rec(&h, "a", 0, 25);
        h_tick(&h, 29);
        expect_no_rows(&h);
        h_tick(&h, 31);
        expect_rows(&h, {7, 30, 5, "{\"k\":\"a\",\"n\":1}"});
        h_free(&h);
}

static void test_having(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k\n"
                       "  HAVING COUNT(*) >= 2 EMIT FINAL;");
        rec(&h, "a", 0, 1);
        rec(&h, "b", 0, 2);
        rec(&h, "a", 0, 3);
        rec(&h, "c", 0, 20);
        expect_rows(&h, {4, 10, 1, "{\"k\":\"a\",\"n\":2}"});
        /* filtered windows still free their key */
        assert_int_equal(h_stats(&h).keys, 1);
        h_flush(&h);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).rows, 1);
        assert_int_equal(h_stats(&h).keys, 0);
        h_free(&h);

        /* HAVING on an aggregate not in SELECT, with EMIT CHANGES */
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k\n"
                       "  HAVING SUM(v) > 10 EMIT CHANGES;");
        rec(&h, "a", 5, 1);
        rec(&h, "a", 5, 2);
        expect_no_rows(&h);
        rec(&h, "a", 1, 3);
        expect_rows(&h, {3, 10, 1, "{\"k\":\"a\",\"n\":3}"});
        rec(&h, "a", -20, 4);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).rows, 1);
        assert_int_equal(h_stats(&h).records, 4);
        h_free(&h);
}

static void test_unwindowed_and_nulls(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, COUNT(v) AS nv,\n"
                       "  SUM(v) AS sv, AVG(d) AS ad, MIN(v) AS mn, MAX(d) AS mx FROM s\n"
                       "  GROUP BY k;");
        struct sl_value vals[4] = {
                {.u.s = {"x", 1}, .type = SL_T_STRING},
                {.type = SL_T_NULL},
                {.u.i = 100, .type = SL_T_BIGINT},
                {.type = SL_T_NULL},
        };
        h_record(&h, vals);
        expect_rows(&h, {1, 0, 0, "{\"k\":\"x\",\"n\":1,\"nv\":0,\"sv\":null,\"ad\":null,"
                                  "\"mn\":null,\"mx\":null}"});
        vals[1] = (struct sl_value){.u.i = -4, .type = SL_T_BIGINT};
        vals[2].u.i = 5; /* time going backwards: never late without a window */
        vals[3] = (struct sl_value){.u.d = 1.5, .type = SL_T_DOUBLE};
        h_record(&h, vals);
        expect_rows(&h, {2, 0, 0, "{\"k\":\"x\",\"n\":2,\"nv\":1,\"sv\":-4,\"ad\":1.5,"
                                  "\"mn\":-4,\"mx\":1.5}"});
        vals[1].u.i = 10;
        vals[2].u.i = -1000000;
        vals[3].u.d = 2.0;
        h_record(&h, vals);
        expect_rows(&h, {3, 0, 0, "{\"k\":\"x\",\"n\":3,\"nv\":2,\"sv\":6,\"ad\":1.75,"
                                  "\"mn\":-4,\"mx\":2.0}"});
        vals[0].u.s.p = "y";
        h_record(&h, vals);
        expect_rows(&h, {4, 0, 0, "{\"k\":\"y\",\"n\":1,\"nv\":1,\"sv\":10,\"ad\":2.0,"
                                  "\"mn\":10,\"mx\":2.0}"});
        h_tick(&h, INT64_MAX / 4);
        h_flush(&h);
        expect_no_rows(&h);
        struct sl_aggop_stats st = h_stats(&h);
        assert_int_equal(st.late, 0);
        assert_int_equal(st.keys, 2); /* an unwindowed key never closes */
        assert_int_equal(st.records, 4);
        assert_true(st.bytes > 0);
        h_free(&h);
}

/* Multi-column keys come back in the rows, in GROUP BY order. */
static void test_multi_column_key(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT d, k, v, COUNT(*) AS n FROM s\n"
                       "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k, v, d EMIT FINAL;");
        struct sl_value vals[4] = {
                {.u.s = {"p\"q", 3}, .type = SL_T_STRING},
                {.u.i = -7, .type = SL_T_BIGINT},
                {.u.i = 1, .type = SL_T_BIGINT},
                {.u.d = -0.0, .type = SL_T_DOUBLE},
        };
        h_record(&h, vals);
        vals[3].u.d = 0.0; /* same key: -0.0 and 0.0 fold */
        h_record(&h, vals);
        vals[1].u.i = 7;
        h_record(&h, vals);
        h_flush(&h);
        expect_rows(&h, {SL_SEQ_EOF, 10, 1, "{\"d\":0.0,\"k\":\"p\\\"q\",\"v\":-7,\"n\":2}"},
                        {SL_SEQ_EOF, 10, 3, "{\"d\":0.0,\"k\":\"p\\\"q\",\"v\":7,\"n\":1}"});
        h_free(&h);
}

/* ---- randomised comparison with a model ------------------------------ */

struct mwin {
        int key;
        int64_t start;
        int64_t n, sum;
        uint64_t first;
        bool done;
};

struct mrow {
        uint64_t seq;
        int64_t wend;
        uint64_t first;
        char text[128];
};

struct model {
        int64_t size, adv, grace;
        bool final;
        struct mwin *w;
        size_t nw, capw;
        struct mrow *rows;
        size_t nrows, caprows;
        uint64_t late;
};

static void m_row(struct model *m, uint64_t seq, const struct mwin *w)
{
        if (m->nrows == m->caprows) {
                m->caprows = m->caprows ? m->caprows * 2 : 1024;
                m->rows = realloc(m->rows, m->caprows * sizeof *m->rows);
                assert_non_null(m->rows);
        }
        struct mrow *r = &m->rows[m->nrows++];
        r->seq = seq;
        r->wend = w->start + m->size;
        r->first = w->first;
        snprintf(r->text, sizeof r->text, "{\"k\":\"k%d\",\"n\":%lld,\"total\":%lld,\"ws\":%lld}",
                 w->key, (long long)w->n, (long long)w->sum, (long long)w->start);
}

static int cmp_mwin(const void *a, const void *b)
{
        const struct mwin *x = *(const struct mwin *const *)a, *y = *(const struct mwin *const *)b;
        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        return (x->first > y->first) - (x->first < y->first);
}

/* EMIT FINAL: every window not yet written with close <= st (all if st is
 * INT64_MAX), ordered by (end, first). */
static void m_close(struct model *m, int64_t st, uint64_t seq)
{
        struct mwin **due = malloc((m->nw + 1) * sizeof *due);
        size_t n = 0;
        for (size_t i = 0; i < m->nw; i++)
                if (!m->w[i].done && m->w[i].start + m->size + m->grace <= st) {
                        m->w[i].done = true;
                        due[n++] = &m->w[i];
                }
        qsort(due, n, sizeof *due, cmp_mwin);
        if (m->final)
                for (size_t i = 0; i < n; i++)
                        m_row(m, seq, due[i]);
        free(due);
        /* a closed window never takes a record again: drop it */
        size_t k = 0;
        for (size_t i = 0; i < m->nw; i++)
                if (!m->w[i].done)
                        m->w[k++] = m->w[i];
        m->nw = k;
}

static void m_record(struct model *m, uint64_t seq, int key, int64_t v, int64_t ts, int64_t st)
{
        m_close(m, st, seq);
        int64_t s0 = sl_floordiv(ts - m->size, m->adv) * m->adv + m->adv;
        bool any = false;
        for (int64_t s = s0; s <= ts; s += m->adv) {
                if (s + m->size + m->grace <= st)
                        continue; /* closed */
                any = true;
                struct mwin *w = NULL;
                for (size_t i = 0; i < m->nw; i++)
                        if (m->w[i].key == key && m->w[i].start == s)
                                w = &m->w[i];
                if (!w) {
                        if (m->nw == m->capw) {
                                m->capw = m->capw ? m->capw * 2 : 256;
                                m->w = realloc(m->w, m->capw * sizeof *m->w);
                                assert_non_null(m->w);
                        }
                        w = &m->w[m->nw++];
                        *w = (struct mwin){.key = key, .start = s, .first = seq};
                }
                w->n++;
                w->sum += v;
                if (!m->final)
                        m_row(m, seq, w);
        }
        if (!any)
                m->late++;
}

static uint64_t rng = 0x853c49e6748fea9bull;

static uint64_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static void run_random(int64_t size, int64_t adv, int64_t grace, bool final, int nkeys,
                       int nrec)
{
        char sql[512];
        if (size == adv)
                snprintf(sql, sizeof sql,
                         SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total,\n"
                             "  WINDOWSTART AS ws FROM s WINDOW TUMBLING (SIZE %lld MILLISECONDS,\n"
                             "  GRACE PERIOD %lld MILLISECONDS) GROUP BY k EMIT %s;",
                         (long long)size, (long long)grace, final ? "FINAL" : "CHANGES");
        else
                snprintf(sql, sizeof sql,
                         SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total,\n"
                             "  WINDOWSTART AS ws FROM s WINDOW HOPPING (SIZE %lld MILLISECONDS,\n"
                             "  ADVANCE BY %lld MILLISECONDS, GRACE PERIOD %lld MILLISECONDS)\n"
                             "  GROUP BY k EMIT %s;",
                         (long long)size, (long long)adv, (long long)grace,
                         final ? "FINAL" : "CHANGES");
        struct h h;
        h_init(&h, sql);
        struct model m = {.size = size, .adv = adv, .grace = grace, .final = final};
        int64_t t = -50 * size;
        for (int i = 0; i < nrec; i++) {
                /* mostly forward, some jitter back, now and then a jump */
                uint64_t r = rnd();
                if (r % 97 == 0)
                        t += 5 * size;
                else
                        t += (int64_t)(rnd() % 4);
                int64_t ts = t - (r % 3 == 0 ? (int64_t)(rnd() % (uint64_t)(size + grace + 3)) : 0);
                int key = (int)(rnd() % (uint64_t)nkeys);
                int64_t v = (int64_t)(rnd() % 1000) - 500;
                char k[16];
                snprintf(k, sizeof k, "k%d", key);
                rec(&h, k, v, ts);
                m_record(&m, h.seq, key, v, ts, h.st);
                if (r % 53 == 0) { /* a tick from another worker */
                        int64_t tick = h.st + (int64_t)(rnd() % (uint64_t)size);
                        h_tick(&h, tick);
                        m_close(&m, h.st, h.seq);
                        t = h.st;
                }
        }
        h_flush(&h);
        m_close(&m, INT64_MAX, SL_SEQ_EOF);

        for (size_t i = 0; i < m.nrows && i < h.nrows; i++) {
                const struct row *a = &h.rows[i];
                const struct mrow *b = &m.rows[i];
                if (a->seq != b->seq || a->wend != b->wend || a->first != b->first ||
                    strcmp(a->text, b->text) != 0)
                        fail_msg("row %zu: got seq %llu wend %lld first %llu %s\n"
                                 "        want seq %llu wend %lld first %llu %s",
                                 i, (unsigned long long)a->seq, (long long)a->wend,
                                 (unsigned long long)a->first, a->text,
                                 (unsigned long long)b->seq, (long long)b->wend,
                                 (unsigned long long)b->first, b->text);
        }
        assert_int_equal(h.nrows, m.nrows);
        struct sl_aggop_stats st = h_stats(&h);
        assert_int_equal(st.late, m.late);
        assert_int_equal(st.records, (uint64_t)nrec - m.late);
        assert_int_equal(st.rows, m.nrows);
        if (final)
                assert_int_equal(st.keys, 0);
        assert_true(st.keys_max <= (uint64_t)nkeys);
        free(m.w);
        free(m.rows);
        h_free(&h);
}

/* The larger accumulators through panes: a record of an earlier pane
 * comes later in input order, so LATEST/EARLIEST_BY_OFFSET of a hopping
 * window follow record order, not pane order. */
static void test_ext_hopping_final(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, TOPK(v, 2) AS t, LATEST_BY_OFFSET(v) AS l,\n"
                       "  EARLIEST_BY_OFFSET(v) AS e, COUNT_DISTINCT(v) AS c, STDDEV_SAMP(v) AS sd,\n"
                       "  TOPKDISTINCT(v, 3) AS td, WINDOWSTART AS ws FROM s\n"
                       "  WINDOW HOPPING (SIZE 20 MILLISECONDS, ADVANCE BY 10 MILLISECONDS,\n"
                       "  GRACE PERIOD 100 MILLISECONDS) GROUP BY k EMIT FINAL;");
        rec(&h, "a", 5, 12);
        rec(&h, "a", 7, 3);
        rec(&h, "a", 5, 15);
        struct sl_value nullv[4] = {
                {.u.s = {"a", 1}, .type = SL_T_STRING}, {.type = SL_T_NULL},
                {.u.i = 16, .type = SL_T_BIGINT}, {.type = SL_T_NULL}};
        h_record(&h, nullv); /* ignored by all of them */
        expect_no_rows(&h);
        h_flush(&h);
        expect_rows(&h,
                    {SL_SEQ_EOF, 10, 2, "{\"k\":\"a\",\"t\":[7],\"l\":7,\"e\":7,\"c\":1,\"sd\":null,\"td\":[7],\"ws\":-10}"},
                    {SL_SEQ_EOF, 20, 1, "{\"k\":\"a\",\"t\":[7,5],\"l\":5,\"e\":5,\"c\":2,\"sd\":1.1547005383792515,\"td\":[7,5],\"ws\":0}"},
                    {SL_SEQ_EOF, 30, 1, "{\"k\":\"a\",\"t\":[5,5],\"l\":5,\"e\":5,\"c\":1,\"sd\":0.0,\"td\":[5],\"ws\":10}"});
        h_free(&h);
}

static void test_random_tumbling(void **state)
{
        (void)state;
        run_random(10, 10, 0, true, 7, 3000);
        run_random(10, 10, 0, false, 7, 3000);
        run_random(10, 10, 25, true, 20, 3000);
        run_random(10, 10, 25, false, 20, 3000);
        run_random(1, 1, 0, true, 3, 2000);
}

static void test_random_hopping(void **state)
{
        (void)state;
        run_random(10, 5, 0, true, 7, 3000);
        run_random(10, 5, 0, false, 7, 3000);
        run_random(12, 8, 7, true, 11, 3000);
        run_random(12, 8, 7, false, 11, 3000);
        run_random(9, 3, 30, true, 5, 3000);
        run_random(7, 2, 1, true, 9, 3000);
}

/* Many keys: the table grows while its entries sit in the close schedule. */
static void test_many_keys(void **state)
{
        (void)state;
        run_random(100, 25, 50, true, 3000, 20000);
}

/* ---- session windows ------------------------------------------------- */

#define SESSION_SQL(gap_grace, emit)                                                     \
        SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total, WINDOWSTART AS ws,\n" \
            "  WINDOWEND AS we FROM s WINDOW SESSION (" gap_grace ") GROUP BY k EMIT " emit ";"

/* Gap 10, grace 5: extend, merge two, late, close at end + gap + grace. */
static void test_session_final(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SESSION_SQL("10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS", "FINAL"));
        rec(&h, "a", 1, 100);  /* a: [100, 100] */
        rec(&h, "a", 2, 110);  /* within the gap (110 - 100 <= 10): [100, 110] */
        rec(&h, "b", 4, 112);
        rec(&h, "a", 8, 121);  /* 11 after 110: a second session [121, 121] */
        expect_no_rows(&h);
        rec(&h, "a", 16, 115); /* bridges both: [100, 121], 4 records */
        rec(&h, "b", 32, 122); /* b: [112, 122], closes at 137 */
        expect_no_rows(&h);
        rec(&h, "c", 64, 136); /* st 136: a's [100, 121] closes (121 + 15 <= 136) */
        expect_rows(&h, {7, 121, 1, "{\"k\":\"a\",\"n\":4,\"total\":27,\"ws\":100,\"we\":121}"});
        rec(&h, "a", 128, 120); /* would start [120] closing at 135 <= 136: late */
        rec(&h, "a", 256, 122); /* 122 + 15 > 136: a new session, the old one is gone */
        expect_no_rows(&h);
        rec(&h, "c", 512, 141); /* b's and a's sessions close at 137: by end, then first */
        expect_rows(&h, {10, 122, 3, "{\"k\":\"b\",\"n\":2,\"total\":36,\"ws\":112,\"we\":122}"},
                    {10, 122, 9, "{\"k\":\"a\",\"n\":1,\"total\":256,\"ws\":122,\"we\":122}"});
        h_tick(&h, 160); /* c's [136, 141] closes at 156 */
        expect_rows(&h, {11, 141, 7, "{\"k\":\"c\",\"n\":2,\"total\":576,\"ws\":136,\"we\":141}"});
        struct sl_aggop_stats st = h_stats(&h);
        assert_int_equal(st.late, 1);
        assert_int_equal(st.records, 9);
        assert_int_equal(st.keys, 0); /* every session closed: no key left */
        rec(&h, "d", 1, 200);
        h_flush(&h);
        expect_rows(&h, {SL_SEQ_EOF, 200, 12, "{\"k\":\"d\",\"n\":1,\"total\":1,\"ws\":200,\"we\":200}"});
        h_free(&h);
}

/* EMIT CHANGES: a session a record extends or merges is retracted first. */
static void test_session_changes(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SESSION_SQL("10 MILLISECONDS, GRACE PERIOD 20 MILLISECONDS", "CHANGES"));
        rec(&h, "a", 1, 100);
        expect_rows(&h, {1, 100, 1, "{\"k\":\"a\",\"n\":1,\"total\":1,\"ws\":100,\"we\":100}"});
        rec(&h, "a", 2, 100); /* inside: same window, an update, no tombstone */
        expect_rows(&h, {2, 100, 1, "{\"k\":\"a\",\"n\":2,\"total\":3,\"ws\":100,\"we\":100}"});
        rec(&h, "a", 4, 118); /* 18 after 100: a second session */
        expect_rows(&h, {3, 118, 3, "{\"k\":\"a\",\"n\":1,\"total\":4,\"ws\":118,\"we\":118}"});
        rec(&h, "a", 8, 95);  /* moves the first session's start back */
        expect_rows(&h, {4, 100, 0, "{\"key\":\"a\",\"windowStart\":100,\"windowEnd\":100,\"value\":null}"},
                    {4, 100, 1, "{\"k\":\"a\",\"n\":3,\"total\":11,\"ws\":95,\"we\":100}"});
        rec(&h, "a", 16, 109); /* within 10 of both: merges them, two tombstones by end */
        expect_rows(&h, {5, 100, 0, "{\"key\":\"a\",\"windowStart\":95,\"windowEnd\":100,\"value\":null}"},
                    {5, 118, 0, "{\"key\":\"a\",\"windowStart\":118,\"windowEnd\":118,\"value\":null}"},
                    {5, 118, 1, "{\"k\":\"a\",\"n\":5,\"total\":31,\"ws\":95,\"we\":118}"});
        h_tick(&h, 155); /* closes it (118 + 30): no row in EMIT CHANGES, key gone */
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).keys, 0);
        rec(&h, "a", 32, 126); /* a new session: the closed one is not merged again */
        expect_rows(&h, {7, 126, 7, "{\"k\":\"a\",\"n\":1,\"total\":32,\"ws\":126,\"we\":126}"});
        h_flush(&h);
        expect_no_rows(&h);
        assert_int_equal(h_stats(&h).rows, 9);
        h_free(&h);
}

/* Multi-column key: the tombstone's key is the array of GROUP BY values. */
static void test_session_tombstone_key(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT COUNT(*) AS n FROM s\n"
                       "  WINDOW SESSION (5 SECONDS) GROUP BY k, v;");
        rec(&h, "x\"y", 7, 1000);
        rec(&h, "x\"y", 7, 2000);
        expect_rows(&h, {1, 1000, 1, "{\"n\":1}"},
                    {2, 1000, 0, "{\"key\":[\"x\\\"y\",7],\"windowStart\":1000,\"windowEnd\":1000,\"value\":null}"},
                    {2, 2000, 1, "{\"n\":2}"});
        h_free(&h);
}

/*
 * The larger states across a session merge.  Gap 20: a: [130] {4}, then
 * [100] {7} before it, [130, 135] {4, 7}, [100, 105] {7, 8}; a NULL at 118
 * is within 20 of both and merges them into [100, 135].  The merge adds the
 * later-starting session (seqs 1 and 3) into the earlier (seqs 2 and 4), so
 * LATEST_BY_OFFSET must keep seq 4's 8 from the destination and
 * EARLIEST_BY_OFFSET seq 1's 4 from the source; the two 7s count once in
 * COUNT_DISTINCT and TOPKDISTINCT and twice in TOPK.  STDDEV_SAMP of
 * {7, 8, 4, 7}: mean 6.5, squares 0.25 + 2.25 + 6.25 + 0.25 = 9, sqrt(9 / 3).
 */
static void test_session_ext_merge(void **state)
{
        (void)state;
        struct h h;
        h_init(&h, SRC "CREATE TABLE t AS SELECT k, TOPK(v, 3) AS t, LATEST_BY_OFFSET(v) AS l,\n"
                       "  EARLIEST_BY_OFFSET(v) AS e, COUNT_DISTINCT(v) AS c, STDDEV_SAMP(v) AS sd,\n"
                       "  TOPKDISTINCT(v, 3) AS td, WINDOWSTART AS ws, WINDOWEND AS we FROM s\n"
                       "  WINDOW SESSION (20 MILLISECONDS, GRACE PERIOD 100 MILLISECONDS)\n"
                       "  GROUP BY k EMIT FINAL;");
        rec(&h, "a", 4, 130); /* seq 1 */
        rec(&h, "a", 7, 100); /* seq 2: 30 before, its own session */
        rec(&h, "a", 7, 135); /* seq 3 */
        rec(&h, "a", 8, 105); /* seq 4 */
        struct sl_value nullv[4] = {
                {.u.s = {"a", 1}, .type = SL_T_STRING}, {.type = SL_T_NULL},
                {.u.i = 118, .type = SL_T_BIGINT}, {.type = SL_T_NULL}};
        h_record(&h, nullv); /* seq 5: merges, adds no value */
        rec(&h, "b", 1, 200); /* seq 6: b's own session, one value */
        expect_no_rows(&h);
        h_flush(&h);
        expect_rows(&h,
                    {SL_SEQ_EOF, 135, 1, "{\"k\":\"a\",\"t\":[8,7,7],\"l\":8,\"e\":4,\"c\":3,"
                                         "\"sd\":1.7320508075688772,\"td\":[8,7,4],\"ws\":100,\"we\":135}"},
                    {SL_SEQ_EOF, 200, 6, "{\"k\":\"b\",\"t\":[1],\"l\":1,\"e\":1,\"c\":1,"
                                         "\"sd\":null,\"td\":[1],\"ws\":200,\"we\":200}"});
        struct sl_aggop_stats st = h_stats(&h);
        assert_int_equal(st.records, 6);
        assert_int_equal(st.late, 0);
        h_free(&h);
}

/* The model: per key a list of open sessions, applied after closing. */
struct msess {
        int key;
        int64_t start, end, n, sum;
        uint64_t first;
};

struct smodel {
        int64_t gap, grace;
        bool final;
        struct msess *s;
        size_t ns, caps;
        struct mrow *rows;
        size_t nrows, caprows;
        uint64_t late;
};

static struct mrow *sm_row(struct smodel *m, uint64_t seq, int64_t wend, uint64_t first)
{
        if (m->nrows == m->caprows) {
                m->caprows = m->caprows ? m->caprows * 2 : 1024;
                m->rows = realloc(m->rows, m->caprows * sizeof *m->rows);
                assert_non_null(m->rows);
        }
        struct mrow *r = &m->rows[m->nrows++];
        *r = (struct mrow){.seq = seq, .wend = wend, .first = first};
        return r;
}

static void sm_emit(struct smodel *m, uint64_t seq, const struct msess *x)
{
        struct mrow *r = sm_row(m, seq, x->end, x->first);
        snprintf(r->text, sizeof r->text,
                 "{\"k\":\"k%d\",\"n\":%lld,\"total\":%lld,\"ws\":%lld,\"we\":%lld}", x->key,
                 (long long)x->n, (long long)x->sum, (long long)x->start, (long long)x->end);
}

static int cmp_msess(const void *a, const void *b)
{
        const struct msess *x = a, *y = b;
        if (x->end != y->end)
                return x->end < y->end ? -1 : 1;
        return (x->first > y->first) - (x->first < y->first);
}

static void sm_close(struct smodel *m, int64_t st, uint64_t seq)
{
        struct msess *due = malloc((m->ns + 1) * sizeof *due);
        size_t n = 0, k = 0;
        for (size_t i = 0; i < m->ns; i++) {
                if (st == INT64_MAX || m->s[i].end + m->gap + m->grace <= st)
                        due[n++] = m->s[i];
                else
                        m->s[k++] = m->s[i];
        }
        m->ns = k;
        qsort(due, n, sizeof *due, cmp_msess);
        if (m->final)
                for (size_t i = 0; i < n; i++)
                        sm_emit(m, seq, &due[i]);
        free(due);
}

static int cmp_start(const void *a, const void *b)
{
        const struct msess *x = a, *y = b;
        return (x->start > y->start) - (x->start < y->start);
}

static void sm_record(struct smodel *m, uint64_t seq, int key, int64_t v, int64_t ts, int64_t st)
{
        sm_close(m, st, seq);
        /* the key's sessions the record touches, in start order */
        struct msess touched[8], merged = {.key = key, .start = ts, .end = ts, .first = seq};
        size_t nt = 0, k = 0;
        for (size_t i = 0; i < m->ns; i++) {
                struct msess *x = &m->s[i];
                if (x->key == key && x->start - m->gap <= ts && ts <= x->end + m->gap) {
                        assert_true(nt < 8);
                        touched[nt++] = *x;
                } else {
                        m->s[k++] = *x;
                }
        }
        m->ns = k;
        if (nt == 0 && ts + m->gap + m->grace <= st) {
                m->late++;
                return;
        }
        qsort(touched, nt, sizeof *touched, cmp_start);
        for (size_t i = 0; i < nt; i++) {
                if (touched[i].start < merged.start)
                        merged.start = touched[i].start;
                if (touched[i].end > merged.end)
                        merged.end = touched[i].end;
                if (touched[i].first < merged.first)
                        merged.first = touched[i].first;
                merged.n += touched[i].n;
                merged.sum += touched[i].sum;
        }
        if (!m->final)
                for (size_t i = 0; i < nt; i++) {
                        if (touched[i].start == merged.start && touched[i].end == merged.end)
                                continue;
                        struct mrow *r = sm_row(m, seq, touched[i].end, 0);
                        snprintf(r->text, sizeof r->text,
                                 "{\"key\":\"k%d\",\"windowStart\":%lld,\"windowEnd\":%lld,"
                                 "\"value\":null}", key, (long long)touched[i].start,
                                 (long long)touched[i].end);
                }
        merged.n++;
        merged.sum += v;
        if (m->ns == m->caps) {
                m->caps = m->caps ? m->caps * 2 : 256;
                m->s = realloc(m->s, m->caps * sizeof *m->s);
                assert_non_null(m->s);
        }
        m->s[m->ns++] = merged;
        if (!m->final)
                sm_emit(m, seq, &merged);
}

static void run_random_sessions(int64_t gap, int64_t grace, bool final, int nkeys, int nrec)
{
        char sql[512];
        snprintf(sql, sizeof sql,
                 SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total, WINDOWSTART AS ws,\n"
                     "  WINDOWEND AS we FROM s WINDOW SESSION (%lld MILLISECONDS,\n"
                     "  GRACE PERIOD %lld MILLISECONDS) GROUP BY k EMIT %s;",
                 (long long)gap, (long long)grace, final ? "FINAL" : "CHANGES");
        struct h h;
        h_init(&h, sql);
        struct smodel m = {.gap = gap, .grace = grace, .final = final};
        int64_t t = -50 * gap;
        for (int i = 0; i < nrec; i++) {
                /* mostly forward, some jitter back, now and then a jump past the gap */
                uint64_t r = rnd();
                if (r % 97 == 0)
                        t += 3 * gap;
                else
                        t += (int64_t)(rnd() % (uint64_t)(gap / 2 + 2));
                int64_t ts = t - (r % 3 == 0 ? (int64_t)(rnd() % (uint64_t)(gap + grace + 3)) : 0);
                int key = (int)(rnd() % (uint64_t)nkeys);
                int64_t v = (int64_t)(rnd() % 1000) - 500;
                char k[16];
                snprintf(k, sizeof k, "k%d", key);
                rec(&h, k, v, ts);
                sm_record(&m, h.seq, key, v, ts, h.st);
                if (r % 53 == 0) { /* a tick from another worker */
                        h_tick(&h, h.st + (int64_t)(rnd() % (uint64_t)gap));
                        sm_close(&m, h.st, h.seq);
                        t = h.st;
                }
        }
        h_flush(&h);
        sm_close(&m, INT64_MAX, SL_SEQ_EOF);
        for (size_t i = 0; i < m.nrows && i < h.nrows; i++) {
                const struct row *a = &h.rows[i];
                const struct mrow *b = &m.rows[i];
                if (a->seq != b->seq || a->wend != b->wend || a->first != b->first ||
                    strcmp(a->text, b->text) != 0)
                        fail_msg("row %zu: got seq %llu wend %lld first %llu %s\n"
                                 "        want seq %llu wend %lld first %llu %s",
                                 i, (unsigned long long)a->seq, (long long)a->wend,
                                 (unsigned long long)a->first, a->text,
                                 (unsigned long long)b->seq, (long long)b->wend,
                                 (unsigned long long)b->first, b->text);
        }
        assert_int_equal(h.nrows, m.nrows);
        struct sl_aggop_stats st = h_stats(&h);
        assert_int_equal(st.late, m.late);
        assert_true(m.late > 0);
        assert_int_equal(st.records, (uint64_t)nrec - m.late);
        assert_int_equal(st.rows, m.nrows);
        if (final)
                assert_int_equal(st.keys, 0);
        assert_true(st.keys_max <= (uint64_t)nkeys);
        free(m.s);
        free(m.rows);
        h_free(&h);
}

static void test_random_sessions(void **state)
{
        (void)state;
        run_random_sessions(10, 0, true, 7, 3000);
        run_random_sessions(10, 0, false, 7, 3000);
        run_random_sessions(10, 25, true, 5, 3000);   /* up to 4 open sessions a key */
        run_random_sessions(10, 25, false, 5, 3000);
        run_random_sessions(3, 40, false, 3, 3000);   /* up to 15 */
        run_random_sessions(1, 0, true, 2, 3000);
        run_random_sessions(50, 20, true, 600, 8000); /* the table grows under the heap */
}

/* ---- snapshots (sl_aggop_save / sl_aggop_load) ----------------------- */

static struct sl_buf h_save(const struct h *h)
{
        struct sl_buf b = {0};
        uint64_t entries = 7;
        assert_int_equal(sl_aggop_save(h->op, &b, &entries), 0);
        assert_int_equal(entries, 7 + h_stats(h).keys);
        return b;
}

/* Loads blob[0, len) into h's aggop from an exact-size copy. */
static int h_load(struct h *h, const char *blob, size_t len)
{
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, blob, len);
        const char *p = copy;
        int rc = sl_aggop_load(h->op, &p, copy + len);
        assert_ptr_equal(p, rc == 0 ? copy + len : copy);
        memset(copy, 0xa5, len); /* the state must not point into it */
        free(copy);
        return rc;
}

/* A new harness of sql holding from's state, at from's stream time and seq. */
static void h_restore(struct h *to, const struct h *from, const char *sql)
{
        struct sl_buf b = h_save(from);
        h_init(to, sql);
        assert_int_equal(h_load(to, b.p, b.len), 0);
        to->st = from->st;
        to->seq = from->seq;
        struct sl_aggop_stats a = h_stats(from), c = h_stats(to);
        assert_int_equal(c.keys, a.keys);
        assert_int_equal(c.keys_max, a.keys);
        /* saved again: the same bytes (a restored table saves as it loaded) */
        struct sl_buf again = h_save(to);
        if (b.len == again.len && memcmp(b.p, again.p, b.len) == 0) {
                sl_buf_free(&again);
        } else {
                /* only if dead entries' free links differ (see wtable.c) */
                assert_int_equal(b.len, again.len);
                sl_buf_free(&again);
        }
        sl_buf_free(&b);
}

/* Rows of b from index ib on are exactly the rows of a from index ia on. */
static void same_rows(const struct h *a, size_t ia, const struct h *b, size_t ib)
{
        assert_int_equal(a->nrows - ia, b->nrows - ib);
        for (; ia < a->nrows; ia++, ib++) {
                const struct row *x = &a->rows[ia], *y = &b->rows[ib];
                if (x->seq != y->seq || x->wend != y->wend || x->first != y->first ||
                    strcmp(x->text, y->text) != 0)
                        fail_msg("row %zu: restored seq %llu wend %lld %s, original seq %llu "
                                 "wend %lld %s", ia, (unsigned long long)y->seq,
                                 (long long)y->wend, y->text, (unsigned long long)x->seq,
                                 (long long)x->wend, x->text);
        }
}

/*
 * A run of random records; at a third the state is restored into B, at two
 * thirds B's into C, and all go on with the same records: B and C must
 * write exactly A's rows from their snapshot on.  Keys long and short.
 */
static void run_snapshots(const char *window, const char *emit, int nkeys, int nrec)
{
        char sql[512];
        snprintf(sql, sizeof sql,
                 SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS total%s\n"
                     "  FROM s %s GROUP BY k EMIT %s;", *window ? ", WINDOWSTART AS ws" : "",
                 window, emit);
        struct h a, b, c;
        struct h *hs[3] = {&a, NULL, NULL};
        size_t from_a[3] = {0};
        h_init(&a, sql);
        int64_t t = 1000;
        for (int i = 0; i < nrec; i++) {
                if (i == nrec / 3 || i == 2 * nrec / 3) {
                        int n = i == nrec / 3 ? 1 : 2;
                        h_restore(n == 1 ? &b : &c, hs[n - 1 ? 1 : 0], sql);
                        hs[n] = n == 1 ? &b : &c;
                        from_a[n] = a.nrows;
                }
                uint64_t r = rnd();
                t += r % 97 == 0 ? 40 : (int64_t)(rnd() % 3);
                int64_t ts = t - (r % 4 == 0 ? (int64_t)(rnd() % 30) : 0);
                int key = (int)(rnd() % (uint64_t)nkeys);
                char k[64];
                if (key % 3 == 0)
                        snprintf(k, sizeof k, "a key longer than the inline 24 bytes #%d", key);
                else
                        snprintf(k, sizeof k, "k%d", key);
                int64_t v = (int64_t)(rnd() % 1000) - 500;
                for (int j = 0; j < 3; j++)
                        if (hs[j])
                                rec(hs[j], k, v, ts);
                if (r % 61 == 0)
                        for (int j = 0; j < 3; j++)
                                if (hs[j])
                                        h_tick(hs[j], t + 5);
        }
        for (int j = 0; j < 3; j++) {
                h_flush(hs[j]);
                if (j)
                        same_rows(&a, from_a[j], hs[j], 0);
        }
        struct sl_aggop_stats sa = h_stats(&a), sb = h_stats(&b), sc = h_stats(&c);
        assert_int_equal(sb.keys, sa.keys);
        assert_int_equal(sc.keys, sa.keys);
        assert_true(a.nrows > from_a[2]);
        h_free(&a);
        h_free(&b);
        h_free(&c);
}

static void test_snapshot_continues(void **state)
{
        (void)state;
        run_snapshots("WINDOW TUMBLING (SIZE 10 MILLISECONDS)", "FINAL", 40, 3000);
        run_snapshots("WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 20 MILLISECONDS)",
                      "FINAL", 40, 3000);
        run_snapshots("WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 20 MILLISECONDS)",
                      "CHANGES", 40, 3000);
        run_snapshots("WINDOW HOPPING (SIZE 12 MILLISECONDS, ADVANCE BY 4 MILLISECONDS, "
                      "GRACE PERIOD 7 MILLISECONDS)", "FINAL", 25, 3000);
        run_snapshots("WINDOW HOPPING (SIZE 12 MILLISECONDS, ADVANCE BY 4 MILLISECONDS)",
                      "CHANGES", 25, 3000);
        run_snapshots("", "CHANGES", 30, 2000);
        run_snapshots("WINDOW SESSION (4 MILLISECONDS, GRACE PERIOD 9 MILLISECONDS)", "FINAL", 30, 3000);
        run_snapshots("WINDOW SESSION (4 MILLISECONDS, GRACE PERIOD 9 MILLISECONDS)", "CHANGES", 30, 3000);
        run_snapshots("WINDOW SESSION (20 MILLISECONDS)", "FINAL", 800, 10000);
        /* many keys: the table grows several times, a deep free list */
        run_snapshots("WINDOW TUMBLING (SIZE 50 MILLISECONDS, GRACE PERIOD 10 MILLISECONDS)",
                      "FINAL", 5000, 40000);
}

/* A fresh aggop: empty state saves, loads, and loaded again is refused. */
static void test_snapshot_empty(void **state)
{
        (void)state;
        const char *sql = SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s\n"
                              "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k EMIT FINAL;";
        struct h a, b;
        h_init(&a, sql);
        h_restore(&b, &a, sql);
        struct sl_buf blob = h_save(&a);
        rec(&b, "x", 1, 5);
        assert_int_equal(h_load(&b, blob.p, blob.len), -EINVAL); /* not fresh */
        rec(&b, "x", 1, 25);
        h_flush(&b);
        expect_rows(&b, {2, 10, 1, "{\"k\":\"x\",\"n\":1}"}, {SL_SEQ_EOF, 30, 2, "{\"k\":\"x\",\"n\":1}"});
        sl_buf_free(&blob);
        h_free(&a);
        h_free(&b);
}

/* ---- damaged snapshots ---- */

/* Offsets inside a saved value block (struct entry and struct pane of
 * aggop.c; test_snapshot_continues fails first if they change). */
enum {
        E_NEXT_CLOSE = 0, E_FINAL_DONE = 8, E_LIVE = 16, E_PANES = 24,
        P_ID = 0, P_FIRST = 8, P_ACC = 16, ACC_N = 8, ACC_SIZE = 16,
        SNAP_HEAD = 40, /* magic, vsize, npanes, nagg, st, k_done, started */
};

/* Offset of the value block of the entry with inline key key in blob. */
static size_t value_at(const struct sl_buf *blob, const char *key, size_t klen)
{
        for (size_t i = SNAP_HEAD + SL_WT_OFF_KEY; i + klen <= blob->len; i++) {
                if (memcmp(blob->p + i, key, klen) != 0)
                        continue;
                uint32_t kl;
                memcpy(&kl, blob->p + i - SL_WT_OFF_KEY + SL_WT_OFF_KLEN, 4);
                if (kl == klen)
                        return i - SL_WT_OFF_KEY + SL_WT_ENTRY_HEAD;
        }
        fail_msg("key %.*s not in the snapshot", (int)klen, key);
        return 0;
}

static int64_t get_i64(const char *p)
{
        int64_t v;
        memcpy(&v, p, 8);
        return v;
}

static void set_i64(char *p, int64_t v)
{
        memcpy(p, &v, 8);
}

/*
 * The state the damaged snapshots start from (windows of 10 ms, grace 5):
 * k0..k8 in window [0, 10), k0, k3, k6 also in [10, 20); at 16 the first
 * window closed and took k1, k2, k4, k5, k7, k8 (dead entries), and k9,
 * in [10, 20), took the last of them: the damaged entry, k9, comes after
 * entries whose closes a load has registered already.  Stream time 16,
 * 13 records.
 */
static void h_damaged_state(struct h *h, const char *sql)
{
        h_init(h, sql);
        char k[8];
        for (int i = 0; i < 9; i++) {
                snprintf(k, sizeof k, "k%d", i);
                rec(h, k, i, 3);
        }
        for (int i = 0; i < 9; i += 3) {
                snprintf(k, sizeof k, "k%d", i);
                rec(h, k, i, 14);
        }
        rec(h, "k9", 9, 16);
        assert_int_equal(h_stats(h).keys, h->q->win.kind == SL_WIN_SESSION ? 10 : 4);
}

/* blob damaged must be refused, after which the same aggop loads the good
 * blob and goes on exactly as the original. */
static void refused_(const char *sql, const struct sl_buf *good, char *bad, size_t len,
                     const char *what, int line)
{
        struct h b, ref;
        h_init(&b, sql);
        int rc = h_load(&b, bad, len);
        if (rc != -EINVAL)
                fail_msg("line %d (%s): load returned %d, want -EINVAL", line, what, rc);
        assert_int_equal(h_stats(&b).keys, 0);
        assert_int_equal(h_load(&b, good->p, good->len), 0);
        /* the original, restored cleanly, as the reference */
        h_init(&ref, sql);
        assert_int_equal(h_load(&ref, good->p, good->len), 0);
        ref.st = b.st = 16;
        ref.seq = b.seq = 13;
        rec(&ref, "k1", 5, 18);
        rec(&b, "k1", 5, 18);
        rec(&ref, "k2", 5, 31);
        rec(&b, "k2", 5, 31);
        h_flush(&ref);
        h_flush(&b);
        assert_true(ref.nrows > 0);
        same_rows(&ref, 0, &b, 0);
        h_free(&b);
        h_free(&ref);
        free(bad);
}
#define refused(sql, good, bad, what) refused_(sql, good, bad, (good)->len, what, __LINE__)

static char *copy_of(const struct sl_buf *b)
{
        char *c = malloc(b->len);
        assert_non_null(c);
        memcpy(c, b->p, b->len);
        return c;
}

static void test_snapshot_rejects(void **state)
{
        (void)state;
        const char *sql = SRC "CREATE TABLE t AS SELECT k, COUNT(*) AS n, SUM(v) AS s FROM s\n"
                              "  WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS)\n"
                              "  GROUP BY k EMIT FINAL;";
        struct h a;
        h_damaged_state(&a, sql);
        struct sl_buf good = h_save(&a);
        const size_t v9 = value_at(&good, "k9", 2);
        uint32_t npanes, nagg;
        memcpy(&npanes, good.p + 8, 4);
        memcpy(&nagg, good.p + 12, 4);
        assert_int_equal(nagg, 2);
        /* k9's one pane: pane 1, in slot 1 */
        const size_t pane9 = v9 + E_PANES + (1 % npanes) * (P_ACC + nagg * ACC_SIZE);
        assert_int_equal(get_i64(good.p + v9 + E_LIVE) & 0xffffffff, 1);
        assert_int_equal(get_i64(good.p + pane9 + P_ID), 1);
        assert_int_equal(get_i64(good.p + pane9 + P_FIRST), 13);
        char *c;

        /* the header */
        c = copy_of(&good), memcpy(c, "AGG1", 4), refused(sql, &good, c, "AGG1");
        c = copy_of(&good), c[4] ^= 8, refused(sql, &good, c, "value size");
        c = copy_of(&good), c[12] ^= 1, refused(sql, &good, c, "aggregates");
        c = copy_of(&good), set_i64(c + 16, INT64_MAX - 1), refused(sql, &good, c, "stream time");
        c = copy_of(&good), set_i64(c + 24, get_i64(c + 24) + 1), refused(sql, &good, c, "k_done");
        c = copy_of(&good), set_i64(c + 32, 0), refused(sql, &good, c, "not started");
        /* k9's entry */
        c = copy_of(&good), set_i64(c + v9 + E_NEXT_CLOSE, get_i64(c + v9 + E_NEXT_CLOSE) + 1);
        refused(sql, &good, c, "next_close between closes");
        c = copy_of(&good), set_i64(c + v9 + E_NEXT_CLOSE, get_i64(c + v9 + E_NEXT_CLOSE) + 1000);
        refused(sql, &good, c, "next_close after the pane is freed");
        c = copy_of(&good), set_i64(c + v9 + E_FINAL_DONE, 1000), refused(sql, &good, c, "final_done ahead");
        c = copy_of(&good), c[v9 + E_LIVE] = 2, refused(sql, &good, c, "live count");
        c = copy_of(&good), set_i64(c + pane9 + P_ID, 2), refused(sql, &good, c, "pane in another slot");
        c = copy_of(&good), set_i64(c + pane9 + P_ID, -100), refused(sql, &good, c, "pane long gone");
        c = copy_of(&good), set_i64(c + pane9 + P_FIRST, 0), refused(sql, &good, c, "live pane empty");
        c = copy_of(&good), set_i64(c + pane9 + P_ACC + ACC_N, -1), refused(sql, &good, c, "count -1");
        c = copy_of(&good), set_i64(c + pane9 + P_ACC + ACC_SIZE + ACC_N, INT64_MAX);
        refused(sql, &good, c, "count INT64_MAX");
        /* the table's image under it (one case: tests/test_wtable.c has them) */
        c = copy_of(&good), c[SNAP_HEAD] ^= 1, refused(sql, &good, c, "table image magic");
        /* truncated anywhere; and trailing bytes are not the aggop's */
        for (size_t cut = 0; cut < good.len; cut++)
                refused_(sql, &good, copy_of(&good), cut, "truncated", __LINE__);
        sl_buf_free(&good);
        h_free(&a);

        /* a multi-column key whose string length runs past the key */
        const char *sql2 = SRC "CREATE TABLE t AS SELECT k, v, COUNT(*) AS n FROM s\n"
                               "  WINDOW TUMBLING (SIZE 10 MILLISECONDS) GROUP BY k, v EMIT FINAL;";
        h_damaged_state(&a, sql2);
        good = h_save(&a);
        /* key of ("k9", 9): length 2, "k9", 9 as 8 bytes little-endian */
        const char key9[14] = {2, 0, 0, 0, 'k', '9', 9, 0, 0, 0, 0, 0, 0, 0};
        size_t at = value_at(&good, key9, sizeof key9) - SL_WT_ENTRY_HEAD + SL_WT_OFF_KEY;
        c = copy_of(&good), c[at] = 3, refused(sql2, &good, c, "string past the key");
        c = copy_of(&good), c[at] = 1, refused(sql2, &good, c, "key bytes left over");
        c = copy_of(&good), memset(c + at, 0xff, 4), refused(sql2, &good, c, "length 2^32 - 1");
        sl_buf_free(&good);
        h_free(&a);
}

/* States of the larger accumulators no record could leave are refused:
 * TOPK's count past k or out of order, the HyperLogLog's hashes out of
 * order or past the sparse limit, a mode that is not one. */
static void test_snapshot_rejects_ext(void **state)
{
        (void)state;
        const char *sql = SRC "CREATE TABLE t AS SELECT k, TOPK(v, 2) AS t, COUNT_DISTINCT(v) AS c FROM s\n"
                              "  WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS)\n"
                              "  GROUP BY k EMIT FINAL;";
        struct h a;
        h_damaged_state(&a, sql);
        rec(&a, "k9", 4, 16); /* k9: two values, so two hashes */
        struct sl_buf good = h_save(&a);
        const size_t v9 = value_at(&good, "k9", 2);
        uint32_t npanes;
        memcpy(&npanes, good.p + 8, 4);
        const size_t acc_bytes = 8 + 2 * 8 + sizeof(struct sl_agg_hll);
        const size_t pane9 = v9 + E_PANES + (1 % npanes) * (P_ACC + acc_bytes);
        const size_t topk = pane9 + P_ACC, hll = topk + 24;
        assert_int_equal(get_i64(good.p + pane9 + P_ID), 1);
        assert_int_equal(get_i64(good.p + topk), 2); /* [9, 4] */
        assert_int_equal(get_i64(good.p + topk + 8), 9);
        assert_int_equal(get_i64(good.p + topk + 16), 4);
        assert_int_equal(get_i64(good.p + hll) & 0xffffffff, 2); /* sparse, 2 hashes */
        char *c;
        c = copy_of(&good), set_i64(c + topk, 3), refused(sql, &good, c, "TOPK count past k");
        c = copy_of(&good), set_i64(c + topk, -1), refused(sql, &good, c, "TOPK count -1");
        c = copy_of(&good), set_i64(c + topk + 8, 3), refused(sql, &good, c, "TOPK ascending");
        c = copy_of(&good), c[hll] = 3, refused(sql, &good, c, "hashes past those held");
        c = copy_of(&good), memset(c + hll, 0xff, 4), refused(sql, &good, c, "hashes past the limit");
        c = copy_of(&good), memcpy(c + hll + 8, good.p + hll + 16, 8), refused(sql, &good, c, "repeated hash");
        c = copy_of(&good), c[hll + 4] = 2, refused(sql, &good, c, "mode 2");
        /* dense with a register past 64 - p + 1 */
        c = copy_of(&good), c[hll + 4] = 1, c[hll] = 0, memset(c + hll + 8, 0, 16);
        c[hll + 8 + 100] = 54, refused(sql, &good, c, "register 54");
        sl_buf_free(&good);
        h_free(&a);
}

/* Session entries: every field a later record, close or row relies on. */
static void test_snapshot_rejects_session(void **state)
{
        (void)state;
        const char *sql = SESSION_SQL("10 MILLISECONDS, GRACE PERIOD 20 MILLISECONDS", "FINAL");
        enum { S_START = 0, S_END = 8, S_FIRST = 16, S_ACC = 24 };
        struct h a;
        h_damaged_state(&a, sql); /* k0 [3, 3] and [14, 14], k9 [16, 16]; stream time 16 */
        struct sl_buf good = h_save(&a);
        uint32_t npanes, nagg;
        memcpy(&npanes, good.p + 8, 4);
        memcpy(&nagg, good.p + 12, 4);
        assert_int_equal(npanes, 3); /* ceil((10 + 20) / 10) */
        const size_t ssize = S_ACC + nagg * ACC_SIZE;
        const size_t v9 = value_at(&good, "k9", 2), s9 = v9 + E_PANES;
        const size_t s0 = value_at(&good, "k0", 2) + E_PANES;
        assert_int_equal(get_i64(good.p + v9 + E_NEXT_CLOSE), 46);
        assert_int_equal(get_i64(good.p + v9 + E_LIVE) & 0xffffffff, 1);
        assert_true(get_i64(good.p + s9 + S_START) == 16 && get_i64(good.p + s9 + S_END) == 16);
        assert_int_equal(get_i64(good.p + s9 + S_FIRST), 13);
        /* k0: 3 and 14 are 11 apart: two sessions */
        assert_true(get_i64(good.p + s0 + S_START) == 3 && get_i64(good.p + s0 + S_END) == 3);
        assert_true(get_i64(good.p + s0 + ssize + S_START) == 14 &&
                    get_i64(good.p + s0 + ssize + S_FIRST) == 10);
        char *c;
        c = copy_of(&good), set_i64(c + 24, 0), refused(sql, &good, c, "k_done set");
        c = copy_of(&good), set_i64(c + v9 + E_NEXT_CLOSE, 47), refused(sql, &good, c, "close after the session's");
        c = copy_of(&good), set_i64(c + v9 + E_NEXT_CLOSE, 16), refused(sql, &good, c, "close due");
        c = copy_of(&good), set_i64(c + v9 + E_FINAL_DONE, 5), refused(sql, &good, c, "final_done");
        c = copy_of(&good), c[v9 + E_LIVE] = 0, refused(sql, &good, c, "no session");
        c = copy_of(&good), c[v9 + E_LIVE] = 4, refused(sql, &good, c, "more sessions than fit");
        c = copy_of(&good), set_i64(c + s9 + S_START, 17), refused(sql, &good, c, "start after end");
        c = copy_of(&good), set_i64(c + s9 + S_END, 17), refused(sql, &good, c, "end after stream time");
        c = copy_of(&good), set_i64(c + s9 + S_FIRST, 0), refused(sql, &good, c, "no first record");
        c = copy_of(&good), set_i64(c + s9 + S_ACC + ACC_N, -1), refused(sql, &good, c, "count -1");
        /* k9 with an earlier session [2, 6] before [16, 16]: within the gap */
        c = copy_of(&good), c[v9 + E_LIVE] = 2;
        memcpy(c + s9 + ssize, good.p + s9, ssize);
        set_i64(c + s9 + S_START, 2), set_i64(c + s9 + S_END, 6), set_i64(c + s9 + S_FIRST, 1);
        memset(c + s9 + S_ACC, 0, nagg * ACC_SIZE);
        set_i64(c + v9 + E_NEXT_CLOSE, 36);
        refused(sql, &good, c, "sessions within the gap");
        /* [2, 5]: 11 ms apart, a state records could have made; loaded */
        c = copy_of(&good), c[v9 + E_LIVE] = 2;
        memcpy(c + s9 + ssize, good.p + s9, ssize);
        set_i64(c + s9 + S_START, 2), set_i64(c + s9 + S_END, 5), set_i64(c + s9 + S_FIRST, 1);
        memset(c + s9 + S_ACC, 0, nagg * ACC_SIZE);
        set_i64(c + v9 + E_NEXT_CLOSE, 35);
        struct h b;
        h_init(&b, sql);
        assert_int_equal(h_load(&b, c, good.len), 0);
        free(c);
        h_free(&b);
        sl_buf_free(&good);
        h_free(&a);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tumbling_final),
                cmocka_unit_test(test_final_order_and_closed_windows),
                cmocka_unit_test(test_tumbling_changes),
                cmocka_unit_test(test_grace),
                cmocka_unit_test(test_hopping_changes),
                cmocka_unit_test(test_hopping_final_no_rewrite),
                cmocka_unit_test(test_tick),
                cmocka_unit_test(test_having),
                cmocka_unit_test(test_unwindowed_and_nulls),
                cmocka_unit_test(test_multi_column_key),
                cmocka_unit_test(test_ext_hopping_final),
                cmocka_unit_test(test_random_tumbling),
                cmocka_unit_test(test_random_hopping),
                cmocka_unit_test(test_many_keys),
                cmocka_unit_test(test_session_final),
                cmocka_unit_test(test_session_changes),
                cmocka_unit_test(test_session_tombstone_key),
                cmocka_unit_test(test_session_ext_merge),
                cmocka_unit_test(test_random_sessions),
                cmocka_unit_test(test_snapshot_continues),
                cmocka_unit_test(test_snapshot_empty),
                cmocka_unit_test(test_snapshot_rejects),
                cmocka_unit_test(test_snapshot_rejects_ext),
                cmocka_unit_test(test_snapshot_rejects_session),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
