/*
 * window_shim.c - the C side of bench_window.cc: one query's aggregation
 * operator (engine/aggop.c) driven as a worker drives it, for the window
 * update and window close micro-benchmarks.  engine/aggop.h does not
 * compile as C++ (engine/ring.h uses C11 atomics), hence this shim.
 *
 * The plan is built from SQL (sl_plan_load_string); the operator is the
 * one for its first query.  Records are items built as the dispatcher
 * builds them (sl_key_encode, XXH3 of the key, sl_item_need/sl_item_fill
 * with the query's used columns), for a source with the columns
 * userId STRING, amount DOUBLE and the TIMESTAMP column; user<rank> is the
 * key of rank.  A BIGINT column v, if declared, varies per record (a hash
 * of the record's time and key, below 1e6: the argument of COUNT_DISTINCT
 * or TOPK).  Items lie one after another in one block, as in a batch.
 *
 * Window w is [W0 + w * size, W0 + (w + 1) * size), W0 the window holding
 * 1700000000000 (sluice-gen's first event time).  wshim_new puts every key
 * into window 0.  Then either:
 *   - update: the prebuilt sequence of records, all in window 0, with
 *     stream time held inside it, so every record updates an open pane of
 *     an existing key (the steady state of a GROUP BY); or
 *   - close: wshim_close(w) advances stream time to the end of window w,
 *     which emits one EMIT FINAL row per key into the output queue;
 *     wshim_drain takes them out; wshim_fill(w + 1) puts every key into
 *     the next window.
 * Use one shim for one kind: after a close, update records are late.
 * A SESSION query works the same way with its gap as the size: window w's
 * records make one session per key, update records (at window 0's first
 * ms) fall inside it, and wshim_close(w) advances stream time a gap past
 * window w so that every session closes.
 *
 * Single-threaded: the output ring is only drained by the same thread,
 * and is sized so that one close of every key never fills it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bench/window_shim.h"
#include "engine/aggop.h"
#include "engine/key.h"

#define PREFETCH_AHEAD 8 /* as engine/worker.c: stage 1 at 8, stage 0 at 16 */
#define OUT_RING (1u << 17)

struct items {
        char *mem;
        struct sl_item **v;
        uint32_t n;
};

struct wshim {
        struct sl_plan *plan;
        const struct sl_query *q;
        const struct sl_source *src;
        struct sl_aggop *op;
        struct sl_ring ring;
        bool ring_ok;
        struct sl_outq oq;
        _Atomic bool stop;
        int user_col, amount_col, v_col;
        uint32_t nkeys;
        int64_t w0, size;
        uint64_t seq;
        struct items fill; /* one record per key, shuffled; ts/st/seq set per fill */
        struct items upd;  /* the update sequence, window 0 */
};

static void set_vals(const struct wshim *s, struct sl_value *vals, char *user,
                     uint32_t rank, int64_t ts)
{
        int n = snprintf(user, 24, "user%u", rank);
        for (uint32_t c = 0; c < s->src->ncols; c++)
                vals[c] = (struct sl_value){.type = SL_T_NULL};
        vals[s->user_col] = (struct sl_value){.u.s = {user, (uint32_t)n}, .type = SL_T_STRING};
        vals[s->amount_col] = (struct sl_value){.u.d = (double)(rank % 1000) + 0.25,
                                                .type = SL_T_DOUBLE};
        vals[s->src->ts_col] = (struct sl_value){.u.i = ts, .type = SL_T_BIGINT};
        if (s->v_col >= 0) {
                uint64_t x = ((uint64_t)ts * 0x9E3779B97F4A7C15ull) ^ rank;
                x ^= x >> 31;
                x *= 0xBF58476D1CE4E5B9ull;
                x ^= x >> 29;
                vals[s->v_col] = (struct sl_value){.u.i = (int64_t)(x % 1000000), .type = SL_T_BIGINT};
        }
}

/* Builds n items, item i for key ranks[i] (or i) at time ts0 + i * step. */
static int build(struct wshim *s, struct items *it, const uint32_t *ranks, uint32_t n,
                 int64_t ts0, int64_t step, int64_t st)
{
        struct sl_value vals[SL_MAX_COLS];
        char user[24];
        struct sl_buf key = {0};
        size_t total = 0;
        for (int pass = 0; pass < 2; pass++) {
                size_t off = 0;
                for (uint32_t i = 0; i < n; i++) {
                        uint32_t rank = ranks ? ranks[i] : i;
                        int64_t ts = ts0 + (int64_t)i * step;
                        set_vals(s, vals, user, rank, ts);
                        sl_buf_reset(&key);
                        sl_key_encode(s->q, vals, &key);
                        if (!sl_buf_ok(&key))
                                goto oom;
                        uint32_t need = sl_item_need(s->q, vals, s->src->ncols, (uint32_t)key.len);
                        if (pass == 1) {
                                struct sl_item *x = (struct sl_item *)(it->mem + off);
                                *x = (struct sl_item){.seq = ++s->seq,
                                                      .hash = XXH3_64bits(key.p, key.len),
                                                      .ts = ts, .st = st ? st : ts};
                                sl_item_fill(x, need, s->q, vals, s->src->ncols, key.p,
                                             (uint32_t)key.len);
                                it->v[i] = x;
                        }
                        off += need;
                }
                if (pass == 0) {
                        total = off;
                        it->mem = malloc(total);
                        it->v = malloc((n + 1) * sizeof *it->v);
                        if (!it->mem || !it->v)
                                goto oom;
                        it->n = n;
                }
        }
        sl_buf_free(&key);
        return 0;
oom:
        sl_buf_free(&key);
        return -ENOMEM;
}

/* Applies items as engine/worker.c run_batch() does: prefetch 16 and 8 ahead. */
static int apply(struct wshim *s, struct sl_item *const *v, uint32_t n)
{
        int rc = 0;
        for (uint32_t i = 0; i < n && rc == 0; i++) {
                if (i + 2 * PREFETCH_AHEAD < n)
                        sl_aggop_prefetch(s->op, v[i + 2 * PREFETCH_AHEAD], 0);
                if (i + PREFETCH_AHEAD < n)
                        sl_aggop_prefetch(s->op, v[i + PREFETCH_AHEAD], 1);
                rc = sl_aggop_record(s->op, v[i], &s->oq);
        }
        return rc;
}

static int col(const struct sl_source *src, const char *name)
{
        for (uint32_t c = 0; c < src->ncols; c++)
                if (strcmp(src->cols[c].name, name) == 0)
                        return (int)c;
        return -1;
}

struct wshim *wshim_new(const char *sql, uint32_t nkeys, const uint32_t *seq, uint32_t nseq,
                        char *err, size_t errlen)
{
        struct wshim *s = calloc(1, sizeof *s);
        if (!s) {
                snprintf(err, errlen, "out of memory");
                return NULL;
        }
        s->plan = sl_plan_load_string(sql, strlen(sql), "bench.sql", err, errlen);
        if (!s->plan)
                goto fail;
        s->q = &s->plan->queries[0];
        s->src = &s->plan->sources[s->q->source];
        s->user_col = col(s->src, "userId");
        s->amount_col = col(s->src, "amount");
        s->v_col = col(s->src, "v");
        if (s->q->kind != SL_Q_AGGREGATE || s->user_col < 0 || s->amount_col < 0 ||
            s->src->ts_col < 0 ||
            (s->q->win.kind != SL_WIN_TUMBLING && s->q->win.kind != SL_WIN_SESSION)) {
                snprintf(err, errlen,
                         "need a tumbling or session aggregate over userId, amount and a TIMESTAMP");
                goto fail;
        }
        s->op = sl_aggop_new(s->q);
        s->ring_ok = s->op && sl_ring_init(&s->ring, OUT_RING) == 0;
        if (!s->ring_ok) {
                snprintf(err, errlen, "out of memory");
                goto fail;
        }
        atomic_init(&s->stop, false);
        s->oq = (struct sl_outq){.ring = &s->ring, .stop = &s->stop};
        s->nkeys = nkeys;
        s->size = s->q->win.size;
        s->w0 = sl_floordiv(1700000000000, s->size) * s->size;

        /* fill order: a shuffle, so that table order is not rank order */
        uint32_t *order = malloc((size_t)nkeys * sizeof *order);
        if (!order) {
                snprintf(err, errlen, "out of memory");
                goto fail;
        }
        uint64_t r = 12345;
        for (uint32_t i = 0; i < nkeys; i++)
                order[i] = i;
        for (uint32_t i = nkeys - 1; i > 0; i--) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                uint32_t j = (uint32_t)((r >> 33) % (i + 1));
                uint32_t t = order[i];
                order[i] = order[j];
                order[j] = t;
        }
        int rc = build(s, &s->fill, order, nkeys, s->w0, 0, 0);
        free(order);
        if (rc == 0)
                rc = wshim_fill(s, 0);
        /* the update records: every one in window 0, stream time its last ms */
        if (rc == 0 && nseq)
                rc = build(s, &s->upd, seq, nseq, s->w0, 0, s->w0 + s->size - 1);
        if (rc != 0) {
                snprintf(err, errlen, "building records: %s", strerror(-rc));
                goto fail;
        }
        return s;
fail:
        wshim_free(s);
        return NULL;
}

void wshim_free(struct wshim *s)
{
        if (!s)
                return;
        if (s->ring_ok) {
                wshim_drain(s);
                free(s->oq.cur);
                sl_ring_destroy(&s->ring);
        }
        sl_aggop_destroy(s->op);
        sl_plan_free(s->plan);
        free(s->fill.mem);
        free(s->fill.v);
        free(s->upd.mem);
        free(s->upd.v);
        free(s);
}

int wshim_update(struct wshim *s, uint32_t pos, uint32_t n)
{
        return apply(s, s->upd.v + pos, n);
}

uint32_t wshim_update_len(const struct wshim *s)
{
        return s->upd.n;
}

int wshim_fill(struct wshim *s, int64_t w)
{
        int64_t ws = s->w0 + w * s->size;
        for (uint32_t i = 0; i < s->fill.n; i++) {
                struct sl_item *x = s->fill.v[i];
                x->ts = ws + (int64_t)((uint64_t)i * (uint64_t)(s->size - 1) / s->fill.n);
                x->st = x->ts;
                x->seq = ++s->seq;
                sl_item_vals(x)[s->src->ts_col].u.i = x->ts;
        }
        return apply(s, s->fill.v, s->fill.n);
}

int wshim_close(struct wshim *s, int64_t w)
{
        /* A session (gap = size) of window w's records ends by the window's
         * last ms and closes a gap later; the next window's first record
         * (at its first ms) must not be late. */
        int64_t st = s->w0 + (w + 1) * s->size;
        if (s->q->win.kind == SL_WIN_SESSION)
                st += s->size - 1;
        int rc = sl_aggop_advance(s->op, st, ++s->seq, &s->oq);
        return rc ? rc : sl_outq_flush(&s->oq, s->seq);
}

uint64_t wshim_drain(struct wshim *s)
{
        uint64_t rows = 0;
        void *p;
        while (sl_ring_pop1_spsc(&s->ring, &p)) {
                struct sl_outbatch *b = p;
                for (uint32_t off = 0; off < b->used; rows++)
                        off += sl_row_size(((const struct sl_row *)(b->data + off))->len);
                free(b);
        }
        return rows;
}

void wshim_stats(const struct wshim *s, uint64_t *keys, uint64_t *bytes)
{
        struct sl_aggop_stats st;
        sl_aggop_stats(s->op, &st);
        *keys = st.keys;
        *bytes = st.bytes;
}
