/*
 * aggop.c - windowed aggregation of one query on one worker.
 *
 * State.  A struct sl_wtable maps each group key to an entry:
 *
 *   struct entry  { next_close, final_done, live }    24 bytes
 *   struct pane   { id, first_seq, acc[nagg] }         max_panes times
 *
 * Pane p (event times [p*P, (p+1)*P)) lives in slot p mod max_panes;
 * window.c proves that live panes never share a slot.  A pane with
 * first_seq == 0 is empty (record sequence numbers start at 1), so the
 * zeroed block wtable hands out for a new key is a valid empty entry.
 *
 * Closing.  Every window closes at k*A + size + grace for an integer k.
 * Each entry is registered in the bucket of the close index k of its next
 * close (next_close); buckets are a ring indexed by k mod nbuckets, sized
 * so that the close indices pending at any stream time never share a slot.
 * When stream time passes close index k, the due buckets are detached
 * first and then processed in k order, so that re-registrations made while
 * processing never land in a bucket being walked.  A registration is stale
 * when the entry's next_close no longer matches the bucket (the entry was
 * re-registered earlier, or deleted and reused); processing an entry is
 * idempotent (final_done remembers what EMIT FINAL already wrote), so a
 * stale or duplicate registration costs a check, never a wrong row.
 *
 * Rows closed by one stream-time advance are sorted by (window end, first
 * record of the window) before they are queued, which makes the output
 * independent of how keys were spread over workers.
 *
 * Session windows (SESSION) use the same entry with a different body:
 *
 *   struct entry   { next_close, final_done (unused), live = sessions }
 *   struct session { start, end, first_seq, acc[acc_bytes] } max_panes times
 *
 * The first `live` slots hold the key's open sessions sorted by start; two
 * are always more than the gap apart (a record within the gap of both
 * merges them), so their ends are sorted too and the first closes first.
 * A session closes at any millisecond (end + gap + grace), so the close
 * schedule is a binary heap of (close, entry) instead of the bucket ring.
 * An entry's next_close is the close of its heap item; when a record
 * pushes the first session's close later, the item stays where it is and,
 * when it comes due, closes what is due and registers the entry again:
 * stale items are skipped as bucket registrations are.  EMIT CHANGES
 * retracts a session a record extends or merges with a tombstone row
 * (session_tombstone) before the new session's row.
 *
 * Worker thread only.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/aggop.h"
#include "engine/json_encode.h"
#include "engine/key.h"
#include "engine/probes.h"
#include "engine/wtable.h"

struct entry {
        int64_t next_close; /* registered close time; INT64_MAX: none */
        int64_t final_done; /* start of the last window EMIT FINAL wrote */
        uint32_t live;      /* live panes */
        uint32_t pad;
};

struct pane {
        int64_t id;
        uint64_t first_seq; /* 0: empty */
        struct sl_acc acc[];
};

struct session {
        int64_t start, end; /* event times of the first and last record */
        uint64_t first_seq; /* first record: orders rows */
        struct sl_acc acc[];
};

/* A session close: the entry's next_close when it was pushed. */
struct hitem {
        int64_t close;
        struct entry *e;
};

struct bucket {
        int64_t k;
        uint32_t n, cap;
        struct entry **v;
};

struct pending {
        int64_t wend;
        uint64_t first;
        uint32_t off, len, klen;
};

struct sl_aggop {
        const struct sl_query *q;
        const struct sl_window *w;
        struct sl_wtable *wt;
        uint32_t pane_size;
        uint32_t npanes;
        int64_t st;     /* stream time seen by this worker */
        int64_t k_done; /* every close index <= k_done has been processed */
        bool started;
        bool keyed;     /* rows start with their message key (Kafka mode) */
        uint32_t klen;  /* key bytes at the start of row */

        uint32_t nbuckets;
        struct bucket *buckets;
        struct bucket *due; /* scratch for detached buckets */

        /* Rows of one close round, sorted before they are queued. */
        struct pending *pend;
        uint32_t npend, cappend;
        struct sl_buf pend_text;

        /* SESSION: the close schedule, a min-heap on close. */
        struct hitem *heap;
        uint32_t nheap, capheap;

        struct sl_acc *tmp;   /* combined accumulators of one window */
        struct sl_value *env; /* output environment */
        struct sl_buf row;

        struct sl_aggop_stats stats;
};

static inline struct pane *pane_at(const struct sl_aggop *op, struct entry *e,
                                   uint32_t slot)
{
        return (struct pane *)((char *)(e + 1) + (size_t)slot * op->pane_size);
}

static inline struct session *sess_at(const struct sl_aggop *op, struct entry *e,
                                      uint32_t slot)
{
        return (struct session *)((char *)(e + 1) + (size_t)slot * op->pane_size);
}

static bool is_session(const struct sl_aggop *op)
{
        return op->w->kind == SL_WIN_SESSION;
}

struct sl_aggop *sl_aggop_new(const struct sl_query *q)
{
        struct sl_aggop *op = calloc(1, sizeof *op);
        if (!op)
                return NULL;
        op->q = q;
        op->w = &q->win;
        op->npanes = q->win.max_panes;
        op->pane_size = (uint32_t)((q->win.kind == SL_WIN_SESSION ? sizeof(struct session)
                                                                   : sizeof(struct pane)) +
                                   q->acc_bytes);
        uint32_t vsize = (uint32_t)sizeof(struct entry) + op->npanes * op->pane_size;
        /* Room for 1024 keys up front, unless the entries are large (a
         * COUNT_DISTINCT is 4 KiB a pane): then at most about 4 MiB, so
         * that the state counted against state.max.bytes follows keys. */
        uint32_t cap = vsize <= (4u << 20) / 1024 ? 1024 : (4u << 20) / vsize;
        op->wt = sl_wtable_new(vsize, cap < 16 ? 16 : cap);
        op->tmp = calloc(1, q->acc_bytes ? q->acc_bytes : 1);
        op->env = calloc(q->env_size ? q->env_size : 1, sizeof *op->env);
        if (q->win.kind != SL_WIN_NONE && q->win.kind != SL_WIN_SESSION) {
                op->nbuckets = (uint32_t)((q->win.size + q->win.grace) / q->win.advance) + 2;
                op->buckets = calloc(op->nbuckets, sizeof *op->buckets);
                op->due = calloc(op->nbuckets, sizeof *op->due);
        }
        op->st = INT64_MIN;
        op->k_done = INT64_MIN;
        if (!op->wt || !op->tmp || !op->env ||
            (op->nbuckets && (!op->buckets || !op->due))) {
                sl_aggop_destroy(op);
                return NULL;
        }
        return op;
}

void sl_aggop_destroy(struct sl_aggop *op)
{
        if (!op)
                return;
        sl_wtable_destroy(op->wt);
        for (uint32_t i = 0; i < op->nbuckets; i++) {
                free(op->buckets[i].v);
                free(op->due[i].v);
        }
        free(op->buckets);
        free(op->due);
        free(op->heap);
        free(op->pend);
        sl_buf_free(&op->pend_text);
        sl_buf_free(&op->row);
        free(op->tmp);
        free(op->env);
        free(op);
}

void sl_aggop_prefetch(struct sl_aggop *op, const struct sl_item *it, int stage)
{
        if (stage == 0)
                sl_wtable_prefetch(op->wt, it->hash);
        else
                sl_wtable_prefetch_entry(op->wt, it->hash);
}

/* ---- rows ----------------------------------------------------------- */

void sl_row_json(const struct sl_query *q, const struct sl_value *env,
                 struct sl_buf *b)
{
        /* Every row goes through here (aggregations, and projections in
         * worker.c and part.c): the query's VALUE_FORMAT decides. */
        if (q->format == SL_FMT_FLATBUFFERS) {
                sl_fb_row(q, env, b);
                return;
        }
        sl_buf_addc(b, '{');
        for (uint32_t i = 0; i < q->nout; i++) {
                const struct sl_output_col *o = &q->out[i];
                struct sl_value v;
                sl_prog_eval(o->prog, env, &v);
                if (i)
                        sl_buf_addc(b, ',');
                sl_buf_add(b, o->json_key, o->json_key_len);
                sl_json_put_value(b, &v);
        }
        sl_buf_add(b, "}\n", 2);
}

/*
 * Combines the panes of window [s, s + size) into op->tmp and fills the
 * output environment.  Returns false if the window holds no live pane.
 */
static bool window_env(struct sl_aggop *op, struct entry *e, int64_t s,
                       uint64_t *first)
{
        const struct sl_query *q = op->q;
        const struct sl_window *w = op->w;
        struct sl_acc *acc = NULL;
        *first = UINT64_MAX;
        if (w->pane_per_window == 1) {
                int64_t p = sl_window_pane_of(w, s);
                struct pane *pn = pane_at(op, e, (uint32_t)sl_floormod(p, op->npanes));
                if (pn->first_seq == 0 || pn->id != p)
                        return false;
                acc = pn->acc;
                *first = pn->first_seq;
        } else {
                memset(op->tmp, 0, q->acc_bytes);
                int64_t p0 = s / w->pane;
                for (int64_t p = p0; p < p0 + w->pane_per_window; p++) {
                        struct pane *pn = pane_at(op, e, (uint32_t)sl_floormod(p, op->npanes));
                        if (pn->first_seq == 0 || pn->id != p)
                                continue;
                        for (uint32_t a = 0; a < q->nagg; a++)
                                sl_agg_merge(&q->aggs[a].desc, sl_agg_at(op->tmp, &q->aggs[a].desc),
                                             sl_agg_at(pn->acc, &q->aggs[a].desc));
                        if (pn->first_seq < *first)
                                *first = pn->first_seq;
                }
                if (*first == UINT64_MAX)
                        return false;
                acc = op->tmp;
        }
        struct sl_value *env = op->env;
        env[q->ngroup].type = SL_T_BIGINT;
        env[q->ngroup].u.i = s;
        env[q->ngroup + 1].type = SL_T_BIGINT;
        env[q->ngroup + 1].u.i = s + w->size;
        for (uint32_t a = 0; a < q->nagg; a++)
                sl_agg_result(&q->aggs[a].desc, sl_agg_at(acc, &q->aggs[a].desc),
                              &env[q->ngroup + 2 + a]);
        return true;
}

static void key_env(struct sl_aggop *op, struct entry *e)
{
        uint32_t klen;
        const char *key = sl_wtable_key(e, &klen);
        sl_key_decode(op->q, key, klen, op->env);
}

/*
 * Kafka mode: a session's message key is its group key followed by the
 * window, as ksqlDB's session-windowed keys are (Kafka Streams'
 * SessionKeySchema): the key's bytes, then the end and the start as
 * 8-byte big-endian integers.  A tombstone needs the window in the key to
 * say which session it retracts.
 */
static void session_key_window(struct sl_buf *b, int64_t start, int64_t end)
{
        char be[16];
        for (int i = 0; i < 8; i++) {
                be[i] = (char)((uint64_t)end >> (56 - 8 * i));
                be[8 + i] = (char)((uint64_t)start >> (56 - 8 * i));
        }
        sl_buf_add(b, be, sizeof be);
}

/* HAVING, then the row's JSON into op->row.  False: filtered out. */
static bool build_row(struct sl_aggop *op)
{
        if (op->q->having && !sl_prog_test(op->q->having, op->env))
                return false;
        sl_buf_reset(&op->row);
        if (op->keyed) {
                sl_key_text(op->q, op->env, &op->row);
                if (is_session(op))
                        session_key_window(&op->row, op->env[op->q->ngroup].u.i,
                                           op->env[op->q->ngroup + 1].u.i);
        }
        op->klen = (uint32_t)op->row.len;
        sl_row_json(op->q, op->env, &op->row);
        return true;
}

static int pend_row(struct sl_aggop *op, int64_t wend, uint64_t first)
{
        if (op->npend == op->cappend) {
                uint32_t cap = op->cappend ? op->cappend * 2 : 256;
                struct pending *n = realloc(op->pend, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                op->pend = n;
                op->cappend = cap;
        }
        op->pend[op->npend++] = (struct pending){
                .wend = wend, .first = first,
                .off = (uint32_t)op->pend_text.len, .len = (uint32_t)op->row.len,
                .klen = op->klen};
        sl_buf_add(&op->pend_text, op->row.p, op->row.len);
        return sl_buf_ok(&op->pend_text) ? 0 : -ENOMEM;
}

static int cmp_pending(const void *a, const void *b)
{
        const struct pending *x = a, *y = b;
        if (x->wend != y->wend)
                return x->wend < y->wend ? -1 : 1;
        return (x->first > y->first) - (x->first < y->first);
}

static int drain_pending(struct sl_aggop *op, uint64_t seq, struct sl_outq *oq)
{
        int rc = 0;
        if (op->npend > 1)
                qsort(op->pend, op->npend, sizeof *op->pend, cmp_pending);
        for (uint32_t i = 0; i < op->npend && rc == 0; i++)
                rc = sl_outq_row(oq, seq, (uint16_t)op->q->index, op->pend[i].wend,
                                 op->pend[i].first, op->pend_text.p + op->pend[i].off,
                                 op->pend[i].len, op->pend[i].klen);
        if (op->npend)
                SL_PROBE3(window_close, op->q->index, op->pend[op->npend - 1].wend, op->npend);
        op->stats.rows += op->npend;
        op->npend = 0;
        sl_buf_reset(&op->pend_text);
        /* Keep the scratch from holding on to a huge end-of-input flush. */
        if (op->pend_text.cap > (64u << 20)) {
                sl_buf_free(&op->pend_text);
                free(op->pend);
                op->pend = NULL;
                op->cappend = 0;
        }
        return rc;
}

/* ---- closing -------------------------------------------------------- */

/* Registers e in b, the bucket of close index k. */
static int bucket_push(struct bucket *b, int64_t k, struct entry *e)
{
        assert(b->n == 0 || b->k == k);
        if (b->n == b->cap) {
                uint32_t cap = b->cap ? b->cap * 2 : 64;
                struct entry **v = realloc(b->v, cap * sizeof *v);
                if (!v)
                        return -ENOMEM;
                b->v = v;
                b->cap = cap;
        }
        b->k = k;
        b->v[b->n++] = e;
        return 0;
}

static int schedule(struct sl_aggop *op, struct entry *e, int64_t start)
{
        int64_t close = sl_window_close_of(op->w, start);
        if (close >= e->next_close)
                return 0;
        e->next_close = close;
        int64_t k = sl_floordiv(start, op->w->advance);
        return bucket_push(&op->buckets[sl_floormod(k, op->nbuckets)], k, e);
}

/* Lowest and highest live pane ids of e. */
static void pane_range(const struct sl_aggop *op, struct entry *e,
                       int64_t *lo, int64_t *hi)
{
        *lo = INT64_MAX;
        *hi = INT64_MIN;
        for (uint32_t i = 0; i < op->npanes; i++) {
                struct pane *pn = pane_at(op, e, i);
                if (pn->first_seq == 0)
                        continue;
                if (pn->id < *lo)
                        *lo = pn->id;
                if (pn->id > *hi)
                        *hi = pn->id;
        }
}

/*
 * Emits (EMIT FINAL) every window of e that closed by stream time st, or
 * every window at all if flush; frees panes no open window needs; deletes
 * the key when nothing is left, else schedules its next close.
 */
static int close_entry(struct sl_aggop *op, struct entry *e, int64_t st, bool flush)
{
        const struct sl_window *w = op->w;
        int64_t lo, hi;
        int rc = 0;
        pane_range(op, e, &lo, &hi);
        if (lo > hi)
                goto drop;
        if (op->q->emit == SL_EMIT_FINAL) {
                int64_t s = sl_window_first_start(w, lo * w->pane);
                if (e->final_done != INT64_MIN && s <= e->final_done)
                        s = e->final_done + w->advance;
                int64_t s_hi = sl_window_last_start(w, hi * w->pane);
                bool keyed = false;
                for (; s <= s_hi; s += w->advance) {
                        if (!flush && sl_window_close_of(w, s) > st)
                                break;
                        uint64_t first;
                        if (!window_env(op, e, s, &first))
                                continue;
                        e->final_done = s;
                        if (!keyed) {
                                key_env(op, e);
                                keyed = true;
                        }
                        if (build_row(op) && (rc = pend_row(op, s + w->size, first)) != 0)
                                return rc;
                }
        }
        if (flush)
                goto drop;
        for (uint32_t i = 0; i < op->npanes; i++) {
                struct pane *pn = pane_at(op, e, i);
                if (pn->first_seq != 0 && sl_window_pane_free_at(w, pn->id) <= st) {
                        pn->first_seq = 0;
                        e->live--;
                }
        }
        if (e->live == 0)
                goto drop;
        pane_range(op, e, &lo, &hi);
        int64_t s = sl_window_first_start(w, lo * w->pane);
        int64_t s_open = sl_window_next_close_index(w, st) * w->advance;
        e->next_close = INT64_MAX;
        return schedule(op, e, s > s_open ? s : s_open);
drop:
        sl_wtable_delete(op->wt, e);
        op->stats.keys--;
        return 0;
}

static int cmp_bucket(const void *a, const void *b)
{
        const struct bucket *x = a, *y = b;
        return (x->k > y->k) - (x->k < y->k);
}

static int session_advance(struct sl_aggop *op, int64_t st, uint64_t seq,
                           struct sl_outq *oq);

int sl_aggop_advance(struct sl_aggop *op, int64_t st, uint64_t seq,
                     struct sl_outq *oq)
{
        if (st <= op->st)
                return 0;
        op->st = st;
        if (op->w->kind == SL_WIN_NONE)
                return 0;
        if (is_session(op))
                return session_advance(op, st, seq, oq);
        int64_t k_max = sl_window_next_close_index(op->w, st) - 1;
        if (!op->started) {
                op->started = true;
                op->k_done = k_max;
                return 0;
        }
        if (k_max <= op->k_done)
                return 0;
        /* Detach every due bucket first: see the comment at the top. */
        uint32_t ndue = 0;
        for (uint32_t i = 0; i < op->nbuckets; i++) {
                struct bucket *b = &op->buckets[i];
                if (b->n == 0 || b->k > k_max)
                        continue;
                struct bucket t = op->due[ndue];
                op->due[ndue++] = *b;
                *b = (struct bucket){.v = t.v, .cap = t.cap};
        }
        if (ndue > 1)
                qsort(op->due, ndue, sizeof *op->due, cmp_bucket);
        int rc = 0;
        for (uint32_t d = 0; d < ndue && rc == 0; d++) {
                struct bucket *b = &op->due[d];
                int64_t close = sl_window_close_of(op->w, b->k * op->w->advance);
                for (uint32_t i = 0; i < b->n && rc == 0; i++) {
                        struct entry *e = b->v[i];
                        if (!sl_wtable_live(e) || e->next_close != close)
                                continue;
                        e->next_close = INT64_MAX;
                        rc = close_entry(op, e, st, false);
                }
                b->n = 0;
        }
        op->k_done = k_max;
        if (rc == 0)
                rc = drain_pending(op, seq, oq);
        return rc;
}

/* ---- records -------------------------------------------------------- */

static void accumulate(struct sl_aggop *op, void *acc, struct sl_item *it)
{
        const struct sl_query *q = op->q;
        const struct sl_value *vals = sl_item_vals(it);
        for (uint32_t a = 0; a < q->nagg; a++) {
                const struct sl_agg *ag = &q->aggs[a];
                struct sl_value x;
                if (ag->arg_slot >= 0)
                        x = vals[ag->arg_slot];
                else if (ag->arg)
                        sl_prog_eval(ag->arg, vals, &x);
                else
                        x.type = SL_T_NULL;
                sl_agg_update(&ag->desc, sl_agg_at(acc, &ag->desc), &x, it->seq);
        }
}

/* ---- sessions ------------------------------------------------------- */

static int64_t session_close(const struct sl_aggop *op, const struct session *ss)
{
        return ss->end + op->w->size + op->w->grace;
}

static int heap_push(struct sl_aggop *op, int64_t close, struct entry *e)
{
        if (op->nheap == op->capheap) {
                uint32_t cap = op->capheap ? op->capheap * 2 : 256;
                struct hitem *n = realloc(op->heap, (size_t)cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                op->heap = n;
                op->capheap = cap;
        }
        uint32_t i = op->nheap++;
        while (i > 0 && op->heap[(i - 1) / 2].close > close) {
                op->heap[i] = op->heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        op->heap[i] = (struct hitem){.close = close, .e = e};
        return 0;
}

static struct hitem heap_pop(struct sl_aggop *op)
{
        struct hitem top = op->heap[0];
        struct hitem last = op->heap[--op->nheap];
        uint32_t n = op->nheap, i = 0;
        if (n == 0)
                return top;
        for (;;) {
                uint32_t c = 2 * i + 1;
                if (c >= n)
                        break;
                if (c + 1 < n && op->heap[c + 1].close < op->heap[c].close)
                        c++;
                if (last.close <= op->heap[c].close)
                        break;
                op->heap[i] = op->heap[c];
                i = c;
        }
        op->heap[i] = last;
        return top;
}

/* Registers e's first (earliest closing) session unless an earlier close
 * of e is registered: that one re-registers e when it comes due. */
static int session_schedule(struct sl_aggop *op, struct entry *e)
{
        int64_t close = session_close(op, sess_at(op, e, 0));
        if (close >= e->next_close)
                return 0;
        e->next_close = close;
        return heap_push(op, close, e);
}

static void session_env(struct sl_aggop *op, const struct session *ss)
{
        const struct sl_query *q = op->q;
        struct sl_value *env = op->env;
        env[q->ngroup].type = SL_T_BIGINT;
        env[q->ngroup].u.i = ss->start;
        env[q->ngroup + 1].type = SL_T_BIGINT;
        env[q->ngroup + 1].u.i = ss->end;
        for (uint32_t a = 0; a < q->nagg; a++)
                sl_agg_result(&q->aggs[a].desc, sl_agg_at((void *)ss->acc, &q->aggs[a].desc),
                              &env[q->ngroup + 2 + a]);
}

/*
 * Closes e's sessions due by st (all of them if flush), writing their EMIT
 * FINAL rows; deletes the key when none is left, else registers its next
 * close.  Due sessions are a prefix: ends are sorted.
 */
static int session_close_entry(struct sl_aggop *op, struct entry *e, int64_t st, bool flush)
{
        uint32_t n = 0;
        int rc;
        for (; n < e->live; n++) {
                struct session *ss = sess_at(op, e, n);
                if (!flush && session_close(op, ss) > st)
                        break;
                if (op->q->emit != SL_EMIT_FINAL)
                        continue;
                if (n == 0)
                        key_env(op, e);
                session_env(op, ss);
                if (build_row(op) && (rc = pend_row(op, ss->end, ss->first_seq)) != 0)
                        return rc;
        }
        if (n == e->live) {
                sl_wtable_delete(op->wt, e);
                op->stats.keys--;
                return 0;
        }
        if (n) {
                memmove(sess_at(op, e, 0), sess_at(op, e, n), (size_t)(e->live - n) * op->pane_size);
                e->live -= n;
        }
        return session_schedule(op, e);
}

static int session_advance(struct sl_aggop *op, int64_t st, uint64_t seq,
                           struct sl_outq *oq)
{
        int rc = 0;
        op->started = true;
        while (rc == 0 && op->nheap && op->heap[0].close <= st) {
                struct hitem h = heap_pop(op);
                if (!sl_wtable_live(h.e) || h.e->next_close != h.close)
                        continue; /* stale: see the comment at the top */
                h.e->next_close = INT64_MAX;
                rc = session_close_entry(op, h.e, st, false);
        }
        if (rc == 0)
                rc = drain_pending(op, seq, oq);
        return rc;
}

/*
 * EMIT CHANGES: retracts session ss of e (the key is in op->env).  Kafka
 * mode: the session's windowed key and no value (a null message value).
 * File mode: {"key":K,"windowStart":S,"windowEnd":E,"value":null}, K the
 * message key as JSON (the value, or an array of the GROUP BY values).
 * It sorts before the row that replaces it: same record, an end no later,
 * and first record 0.
 */
static int session_tombstone(struct sl_aggop *op, const struct session *ss, uint64_t seq,
                             struct sl_outq *oq)
{
        const struct sl_query *q = op->q;
        struct sl_buf *b = &op->row;
        sl_buf_reset(b);
        if (op->keyed) {
                sl_key_text(q, op->env, b);
                session_key_window(b, ss->start, ss->end);
        } else {
                sl_buf_add(b, "{\"key\":", 7);
                if (q->ngroup > 1)
                        sl_buf_addc(b, '[');
                for (uint32_t g = 0; g < q->ngroup; g++) {
                        if (g)
                                sl_buf_addc(b, ',');
                        sl_json_put_value(b, &op->env[g]);
                }
                if (q->ngroup > 1)
                        sl_buf_addc(b, ']');
                sl_buf_add(b, ",\"windowStart\":", 15);
                sl_json_put_int(b, ss->start);
                sl_buf_add(b, ",\"windowEnd\":", 13);
                sl_json_put_int(b, ss->end);
                sl_buf_add(b, ",\"value\":null}\n", 15);
        }
        if (!sl_buf_ok(b))
                return -ENOMEM;
        op->stats.rows++;
        return sl_outq_row(oq, seq, (uint16_t)q->index, ss->end, 0, b->p, (uint32_t)b->len,
                           op->keyed ? (uint32_t)b->len : 0);
}

/*
 * One record of a session window: it joins every open session of its key
 * whose [start - gap, end + gap] holds its time (at most two, which it
 * merges), else starts one, unless that one would be closed already
 * (late).  Sessions i..j-1 are the ones it touches.
 */
static int session_record(struct sl_aggop *op, struct sl_item *it, struct sl_outq *oq)
{
        const struct sl_query *q = op->q;
        int64_t gap = op->w->size, t = it->ts;
        int rc = 0;
        struct entry *e = sl_wtable_find(op->wt, it->hash, sl_item_key(it), it->klen);
        uint32_t i = 0, j = 0;
        if (e) {
                while (i < e->live && sess_at(op, e, i)->end + gap < t)
                        i++;
                for (j = i; j < e->live && sess_at(op, e, j)->start - gap <= t; j++)
                        ;
        }
        if (i == j && t + gap + op->w->grace <= op->st) {
                op->stats.late++;
                return 0;
        }
        if (!e) {
                bool inserted;
                e = sl_wtable_upsert(op->wt, it->hash, sl_item_key(it), it->klen, &inserted);
                if (!e)
                        return -ENOMEM;
                e->next_close = INT64_MAX;
                e->final_done = INT64_MIN;
                if (++op->stats.keys > op->stats.keys_max)
                        op->stats.keys_max = op->stats.keys;
        }
        struct session *ss = sess_at(op, e, i);
        if (i == j) {
                /* window.c's bound: the open sessions and this one fit. */
                assert(e->live < op->npanes);
                memmove(sess_at(op, e, i + 1), ss, (size_t)(e->live - i) * op->pane_size);
                e->live++;
                ss->start = ss->end = t;
                ss->first_seq = it->seq;
                memset(ss->acc, 0, q->acc_bytes);
        } else {
                int64_t start = ss->start < t ? ss->start : t;
                int64_t end = sess_at(op, e, j - 1)->end > t ? sess_at(op, e, j - 1)->end : t;
                if (q->emit == SL_EMIT_CHANGES) {
                        key_env(op, e);
                        for (uint32_t k = i; k < j && rc == 0; k++) {
                                const struct session *o = sess_at(op, e, k);
                                if (o->start != start || o->end != end)
                                        rc = session_tombstone(op, o, it->seq, oq);
                        }
                        if (rc)
                                return rc;
                }
                /* In start order, as Kafka Streams' session merger adds
                 * them: the sums of DOUBLEs come out the same. */
                for (uint32_t k = i + 1; k < j; k++) {
                        const struct session *o = sess_at(op, e, k);
                        for (uint32_t a = 0; a < q->nagg; a++) {
                                const struct sl_agg_desc *d = &q->aggs[a].desc;
                                sl_agg_merge(d, sl_agg_at(ss->acc, d), sl_agg_at((void *)o->acc, d));
                        }
                        if (o->first_seq < ss->first_seq)
                                ss->first_seq = o->first_seq;
                }
                ss->start = start;
                ss->end = end;
                if (j - i > 1) {
                        memmove(sess_at(op, e, i + 1), sess_at(op, e, j),
                                (size_t)(e->live - j) * op->pane_size);
                        e->live -= j - i - 1;
                }
        }
        accumulate(op, ss->acc, it);
        op->stats.records++;
        if ((rc = session_schedule(op, e)) != 0 || q->emit != SL_EMIT_CHANGES)
                return rc;
        key_env(op, e);
        session_env(op, ss);
        if (!build_row(op))
                return 0;
        op->stats.rows++;
        return sl_outq_row(oq, it->seq, (uint16_t)q->index, ss->end, ss->first_seq,
                           op->row.p, (uint32_t)op->row.len, op->klen);
}

int sl_aggop_record(struct sl_aggop *op, struct sl_item *it, struct sl_outq *oq)
{
        const struct sl_query *q = op->q;
        const struct sl_window *w = op->w;
        int rc = sl_aggop_advance(op, it->st, it->seq, oq);
        if (rc)
                return rc;
        if (is_session(op))
                return session_record(op, it, oq);

        int64_t s_acc = 0, s_last = 0, s_open = 0;
        if (w->kind != SL_WIN_NONE) {
                s_last = sl_window_last_start(w, it->ts);
                s_acc = sl_window_first_start(w, it->ts);
                s_open = sl_window_next_close_index(w, op->st) * w->advance;
                if (s_open > s_acc)
                        s_acc = s_open;
                if (s_acc > s_last) {
                        op->stats.late++;
                        return 0;
                }
        }
        bool inserted;
        struct entry *e = sl_wtable_upsert(op->wt, it->hash, sl_item_key(it),
                                           it->klen, &inserted);
        if (!e)
                return -ENOMEM;
        if (inserted) {
                e->next_close = INT64_MAX;
                e->final_done = INT64_MIN;
                if (++op->stats.keys > op->stats.keys_max)
                        op->stats.keys_max = op->stats.keys;
        }
        int64_t p = sl_window_pane_of(w, it->ts);
        struct pane *pn = pane_at(op, e, (uint32_t)sl_floormod(p, op->npanes));
        if (pn->first_seq == 0) {
                pn->id = p;
                pn->first_seq = it->seq;
                memset(pn->acc, 0, q->acc_bytes);
                e->live++;
        }
        assert(pn->id == p);
        /* Windows before s_open are closed: their rows, if any, are written.
         * Remember it, so that this record's pane never reopens them. */
        if (w->kind != SL_WIN_NONE && e->final_done < s_open - w->advance)
                e->final_done = s_open - w->advance;
        accumulate(op, pn->acc, it);
        op->stats.records++;

        if (w->kind != SL_WIN_NONE && (rc = schedule(op, e, s_acc)) != 0)
                return rc;
        if (q->emit != SL_EMIT_CHANGES)
                return 0;

        key_env(op, e);
        if (w->kind == SL_WIN_NONE) {
                for (uint32_t a = 0; a < q->nagg; a++)
                        sl_agg_result(&q->aggs[a].desc, sl_agg_at(pn->acc, &q->aggs[a].desc),
                                      &op->env[q->ngroup + 2 + a]);
                op->env[q->ngroup].type = SL_T_NULL;
                op->env[q->ngroup + 1].type = SL_T_NULL;
                if (build_row(op)) {
                        op->stats.rows++;
                        return sl_outq_row(oq, it->seq, (uint16_t)q->index, 0, 0,
                                           op->row.p, (uint32_t)op->row.len, op->klen);
                }
                return 0;
        }
        for (int64_t s = s_acc; s <= s_last && rc == 0; s += w->advance) {
                uint64_t first;
                if (!window_env(op, e, s, &first) || !build_row(op))
                        continue;
                op->stats.rows++;
                rc = sl_outq_row(oq, it->seq, (uint16_t)q->index, s + w->size, first,
                                 op->row.p, (uint32_t)op->row.len, op->klen);
        }
        return rc;
}

int sl_aggop_flush(struct sl_aggop *op, struct sl_outq *oq)
{
        int rc = 0;
        if (op->q->emit == SL_EMIT_FINAL) {
                void *v = sl_wtable_next(op->wt, NULL);
                while (v && rc == 0) {
                        void *next = sl_wtable_next(op->wt, v);
                        rc = is_session(op) ? session_close_entry(op, v, op->st, true)
                                            : close_entry(op, v, op->st, true);
                        v = next;
                }
                if (rc == 0)
                        rc = drain_pending(op, SL_SEQ_EOF, oq);
        }
        return rc;
}

void sl_aggop_set_keyed(struct sl_aggop *op, bool keyed)
{
        op->keyed = keyed;
}

void sl_aggop_stats(const struct sl_aggop *op, struct sl_aggop_stats *st)
{
        *st = op->stats;
        st->bytes = sl_wtable_memory(op->wt);
}

/* ---- snapshots ------------------------------------------------------ */

/*
 * A snapshot is struct snap_head and the table's own image (wtable.h:
 * index, entry chunks, long keys), copied as it lies in memory: the worker
 * stalls for about a memcpy of its table, and a restore copies the chunks
 * back instead of inserting every key again.  The close schedule is not
 * in it: the restore rebuilds it from each entry's next_close, in the
 * table's own pass over the entries, after checking every field of the
 * entry that later records, closes and rows rely on.  AGG1 (one record per
 * key) is refused.
 */
#define SNAP_MAGIC 0x32474741u /* "AGG2" */

struct snap_head {
        uint32_t magic, vsize, npanes, nagg;
        int64_t st, k_done;
        uint64_t started; /* the number of keys is in the table's image */
};

int sl_aggop_save(const struct sl_aggop *op, struct sl_buf *out, uint64_t *entries)
{
        uint32_t vsize = (uint32_t)sizeof(struct entry) + op->npanes * op->pane_size;
        struct snap_head h = {.magic = SNAP_MAGIC, .vsize = vsize, .npanes = op->npanes,
                              .nagg = op->q->nagg, .st = op->st, .k_done = op->k_done,
                              .started = op->started};
        sl_buf_add(out, &h, sizeof h);
        int rc = sl_buf_ok(out) ? sl_wtable_save(op->wt, out) : -ENOMEM;
        if (rc == 0 && entries)
                *entries += sl_wtable_count(op->wt);
        return rc;
}

/* Could a state at op->st have close registered: the close of a window
 * that started by stream time and is not closed yet?  Only such closes
 * fit the bucket ring without two close indices sharing a slot. */
static bool close_pending(const struct sl_aggop *op, int64_t close)
{
        const struct sl_window *w = op->w;
        if (!op->started)
                return false;
        int64_t lo = sl_window_close_of(w, (op->k_done + 1) * w->advance);
        int64_t hi = sl_window_close_of(w, sl_window_last_start(w, op->st));
        return close >= lo && close <= hi && (close - lo) % w->advance == 0;
}

/* More than a pane of one key can count; leaves room to merge every pane
 * of a window and go on counting without overflow. */
#define SNAP_MAX_COUNT (INT64_MAX / (2 * SL_MAX_PANES))

/*
 * Could sl_aggop_record and close_entry have left e, registered for close,
 * at stream time op->st?  Later records and closes rely on it (pane_at's
 * slot, assert(pn->id == p), final_done + advance): every used pane sits
 * in its own slot, live counts them, and in a window each is one an open
 * window still needs, with a close registered no later than the time it
 * can be freed; final_done is none or a window start by stream time.
 */
static bool entry_valid(const struct sl_aggop *op, struct entry *e, int64_t close)
{
        const struct sl_window *w = op->w;
        uint32_t live = 0;
        if (w->kind != SL_WIN_NONE && e->final_done != INT64_MIN &&
            (!op->started || e->final_done > op->st || e->final_done < 2 * SL_TS_MIN))
                return false;
        for (uint32_t i = 0; i < op->npanes; i++) {
                const struct pane *pn = pane_at(op, e, i);
                if (pn->first_seq == 0)
                        continue;
                live++;
                if (w->kind == SL_WIN_NONE) {
                        if (pn->id != 0)
                                return false;
                        continue;
                }
                if (!op->started)
                        return false;
                int64_t newest = sl_window_pane_of(w, op->st);
                if (pn->id > newest || pn->id < newest - op->npanes ||
                    sl_floormod(pn->id, op->npanes) != i ||
                    sl_window_pane_free_at(w, pn->id) <= op->st ||
                    close > sl_window_pane_free_at(w, pn->id))
                        return false;
        }
        return live == e->live;
}

/* Are e's accumulators states records could reach (sl_agg_update counts
 * on them: counts, TOPK's order, the HyperLogLog's sorted hashes)? */
static bool counts_valid(const struct sl_aggop *op, struct entry *e)
{
        for (uint32_t i = 0; i < op->npanes; i++) {
                const struct pane *pn = pane_at(op, e, i);
                if (pn->first_seq == 0)
                        continue;
                for (uint32_t a = 0; a < op->q->nagg; a++) {
                        const struct sl_agg_desc *d = &op->q->aggs[a].desc;
                        if (!sl_agg_valid(d, sl_agg_at((void *)pn->acc, d), SNAP_MAX_COUNT))
                                return false;
                }
        }
        return true;
}

/*
 * Is key[0, klen) a whole group key of q (key.h)?  Rows decode it with
 * sl_key_decode, which trusts the lengths.
 */
static bool key_valid(const struct sl_query *q, const char *key, uint32_t klen)
{
        bool multi = q->ngroup > 1;
        uint32_t off = 0;
        for (uint32_t g = 0; g < q->ngroup; g++) {
                uint32_t need;
                switch (q->group_types[g]) {
                case SL_T_STRING:
                        if (!multi)
                                return true; /* the rest of the key */
                        if (klen - off < 4)
                                return false;
                        memcpy(&need, key + off, 4);
                        off += 4;
                        break;
                case SL_T_BOOL:
                        need = 1;
                        break;
                default:
                        need = 8;
                        break;
                }
                if (klen - off < need)
                        return false;
                off += need;
        }
        return off == klen;
}

/*
 * What load_entry keeps from one entry to the next.  The keys of a window
 * share the shape entry_valid and close_pending check (close, final_done,
 * the ids of the used panes) and a close bucket, and that check is all
 * window arithmetic (a dozen 64-bit divisions, most of a restore's time
 * at 10M keys): it runs once per shape.
 */
struct load_ctx {
        struct sl_aggop *op;
        bool have;            /* the last shape checked */
        int64_t close, final_done;
        uint32_t live;
        int64_t *ids;         /* npanes: the pane id in each slot */
        bool *used;           /* npanes */
        struct bucket *b;     /* close's bucket, close != INT64_MAX */
        int64_t k;            /* its close index */
};

static bool same_shape(const struct load_ctx *lc, struct entry *e, int64_t close)
{
        const struct sl_aggop *op = lc->op;
        if (!lc->have || close != lc->close || e->final_done != lc->final_done ||
            e->live != lc->live)
                return false;
        for (uint32_t i = 0; i < op->npanes; i++) {
                const struct pane *pn = pane_at(op, e, i);
                if ((pn->first_seq != 0) != lc->used[i] || (lc->used[i] && pn->id != lc->ids[i]))
                        return false;
        }
        return true;
}

/*
 * Could session_record and session_close_entry have left e at stream time
 * op->st, with close registered?  Sessions sorted and more than the gap
 * apart, each open (closes after st) and of records by st, counts that
 * records could reach, and a registered close after st and no later than
 * the first session's (the heap never holds a due close after an advance).
 */
static bool session_valid(const struct sl_aggop *op, struct entry *e, int64_t close)
{
        const struct sl_window *w = op->w;
        if (!op->started || e->final_done != INT64_MIN || e->live == 0 || e->live > op->npanes ||
            close <= op->st || close > session_close(op, sess_at(op, e, 0)))
                return false;
        for (uint32_t i = 0; i < e->live; i++) {
                const struct session *ss = sess_at(op, e, i);
                if (ss->first_seq == 0 || ss->start < SL_TS_MIN || ss->start > ss->end ||
                    ss->end > op->st || session_close(op, ss) <= op->st ||
                    (i > 0 && ss->start - sess_at(op, e, i - 1)->end <= w->size))
                        return false;
                for (uint32_t a = 0; a < op->q->nagg; a++) {
                        const struct sl_agg_desc *d = &op->q->aggs[a].desc;
                        if (!sl_agg_valid(d, sl_agg_at((void *)ss->acc, d), SNAP_MAX_COUNT))
                                return false;
                }
        }
        return true;
}

/*
 * Called by sl_wtable_load for every live entry, in the pass that copies
 * it: checks it and registers its close again (next_close is set back to
 * the saved value).
 */
static int load_entry(void *arg, void *value)
{
        struct load_ctx *lc = arg;
        struct sl_aggop *op = lc->op;
        struct entry *e = value;
        uint32_t klen;
        const char *key = sl_wtable_key(e, &klen);
        int64_t close = e->next_close;
        e->next_close = INT64_MAX;
        if (is_session(op)) {
                if (!key_valid(op->q, key, klen) || !session_valid(op, e, close))
                        return -EINVAL;
                e->next_close = close;
                return heap_push(op, close, e);
        }
        if (!counts_valid(op, e) || !key_valid(op->q, key, klen))
                return -EINVAL;
        if (op->w->kind == SL_WIN_NONE)
                close = INT64_MAX; /* never registered */
        if (!same_shape(lc, e, close)) {
                if (!entry_valid(op, e, close) ||
                    (close != INT64_MAX && !close_pending(op, close)))
                        return -EINVAL;
                lc->have = true;
                lc->close = close;
                lc->final_done = e->final_done;
                lc->live = e->live;
                for (uint32_t i = 0; i < op->npanes; i++) {
                        const struct pane *pn = pane_at(op, e, i);
                        lc->used[i] = pn->first_seq != 0;
                        lc->ids[i] = pn->id;
                }
                if (close != INT64_MAX) {
                        int64_t start = close - op->w->size - op->w->grace;
                        lc->k = sl_floordiv(start, op->w->advance);
                        lc->b = &op->buckets[sl_floormod(lc->k, op->nbuckets)];
                }
        }
        if (close == INT64_MAX)
                return 0;
        e->next_close = close;
        return bucket_push(lc->b, lc->k, e);
}

int sl_aggop_load(struct sl_aggop *op, const char **p, const char *end)
{
        struct snap_head h;
        uint32_t vsize = (uint32_t)sizeof(struct entry) + op->npanes * op->pane_size;
        if ((size_t)(end - *p) < sizeof h)
                return -EINVAL;
        memcpy(&h, *p, sizeof h);
        if (h.magic != SNAP_MAGIC || h.vsize != vsize || h.npanes != op->npanes ||
            h.nagg != op->q->nagg || sl_wtable_count(op->wt) != 0 || op->started)
                return -EINVAL;
        /* Stream time within the decoder's range and the close index it
         * implies, as sl_aggop_advance leaves them: close_pending() and
         * the window arithmetic rely on both. */
        if (h.st != INT64_MIN && (h.st < SL_TS_MIN || h.st > SL_TS_MAX))
                return -EINVAL;
        if (op->w->kind != SL_WIN_NONE && !is_session(op) && h.started != 0 &&
            (h.st == INT64_MIN || h.k_done != sl_window_next_close_index(op->w, h.st) - 1))
                return -EINVAL;
        if (is_session(op) && (h.k_done != INT64_MIN || (h.started != 0) != (h.st != INT64_MIN)))
                return -EINVAL;
        /* load_entry checks the entries against these. */
        op->st = h.st;
        op->k_done = h.k_done;
        op->started = h.started != 0;
        struct load_ctx lc = {.op = op, .ids = malloc(op->npanes * sizeof *lc.ids),
                              .used = malloc(op->npanes * sizeof *lc.used)};
        const char *q = *p + sizeof h;
        int rc = lc.ids && lc.used ? sl_wtable_load(op->wt, &q, end, load_entry, &lc) : -ENOMEM;
        free(lc.ids);
        free(lc.used);
        if (rc != 0) {
                /* Back to new: the table is empty again, the closes
                 * registered so far point into it. */
                for (uint32_t i = 0; i < op->nbuckets; i++)
                        op->buckets[i].n = 0;
                op->nheap = 0;
                op->st = INT64_MIN;
                op->k_done = INT64_MIN;
                op->started = false;
                return rc;
        }
        *p = q;
        op->stats.keys = sl_wtable_count(op->wt);
        if (op->stats.keys > op->stats.keys_max)
                op->stats.keys_max = op->stats.keys;
        return 0;
}
