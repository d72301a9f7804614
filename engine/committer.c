/*
 * committer.c - the transaction protocol; see committer.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/committer.h"

const char *sl_txn_status_name(enum sl_txn_status s)
{
        switch (s) {
        case SL_TXN_OK: return "ok";
        case SL_TXN_RETRY: return "retriable error";
        case SL_TXN_ABORT: return "abortable error";
        case SL_TXN_FATAL: return "fatal error";
        }
        return "?";
}

void sl_committer_init(struct sl_committer *c, const struct sl_txn_ops *ops, void *ctx)
{
        *c = (struct sl_committer){.ops = ops, .ctx = ctx, .max_retries = 50};
}

void sl_committer_fini(struct sl_committer *c)
{
        free(c->parts);
        free(c->scratch);
        c->parts = NULL;
        c->scratch = NULL;
        c->nparts = c->cap = 0;
}

int sl_committer_find(const struct sl_committer *c, uint32_t src, int32_t partition)
{
        for (uint32_t i = 0; i < c->nparts; i++)
                if (c->parts[i].src == src && c->parts[i].partition == partition)
                        return (int)i;
        return -1;
}

int sl_committer_assign(struct sl_committer *c, uint32_t src, int32_t partition,
                        int64_t committed)
{
        int i = sl_committer_find(c, src, partition);
        if (i < 0) {
                if (c->nparts == c->cap) {
                        uint32_t cap = c->cap ? c->cap * 2 : 16;
                        struct sl_cpart *p = realloc(c->parts, cap * sizeof *p);
                        struct sl_offset *o = realloc(c->scratch, cap * sizeof *o);
                        if (p)
                                c->parts = p;
                        if (o)
                                c->scratch = o;
                        if (!p || !o)
                                return -ENOMEM;
                        c->cap = cap;
                }
                i = (int)c->nparts++;
        }
        int64_t at = committed < 0 ? 0 : committed;
        c->parts[i] = (struct sl_cpart){.src = src, .partition = partition,
                                        .committed = committed, .cut = at, .pushed = at};
        return i;
}

void sl_committer_revoke(struct sl_committer *c, uint32_t src, int32_t partition)
{
        int i = sl_committer_find(c, src, partition);
        if (i >= 0)
                c->parts[i] = c->parts[--c->nparts];
}

static enum sl_txn_status fail(struct sl_committer *c, const char *what,
                               enum sl_txn_status s)
{
        const char *why = c->ops->error ? c->ops->error(c->ctx) : NULL;
        snprintf(c->err, sizeof c->err, "%s: %s%s%s", what, sl_txn_status_name(s),
                 why && *why ? ": " : "", why ? why : "");
        return s;
}

enum op { OP_BEGIN, OP_PRODUCE, OP_OFFSETS, OP_COMMIT, OP_ABORT };

static const char *const op_name[] = {
        [OP_BEGIN] = "begin transaction", [OP_PRODUCE] = "produce",
        [OP_OFFSETS] = "send offsets", [OP_COMMIT] = "commit transaction",
        [OP_ABORT] = "abort transaction",
};

static enum sl_txn_status call_once(struct sl_committer *c, enum op op,
                                    const void *arg, uint32_t n)
{
        switch (op) {
        case OP_BEGIN: return c->ops->begin(c->ctx);
        case OP_PRODUCE: return c->ops->produce(c->ctx, arg);
        case OP_OFFSETS: return c->ops->send_offsets(c->ctx, arg, n);
        case OP_COMMIT: return c->ops->commit(c->ctx);
        case OP_ABORT: return c->ops->abort(c->ctx);
        }
        return SL_TXN_FATAL;
}

/* Calls op until it stops asking for a retry; out of retries counts as
 * abortable.  Any failure leaves its text in c->err. */
static enum sl_txn_status call(struct sl_committer *c, enum op op,
                               const void *arg, uint32_t n)
{
        enum sl_txn_status s;
        uint32_t attempt = 0;
        while ((s = call_once(c, op, arg, n)) == SL_TXN_RETRY) {
                if (attempt == c->max_retries) {
                        fail(c, op_name[op], s);
                        return SL_TXN_ABORT;
                }
                c->stats.retries++;
                attempt++;
                if (c->ops->backoff)
                        c->ops->backoff(c->ctx, attempt);
        }
        if (s != SL_TXN_OK)
                fail(c, op_name[op], s);
        return s;
}

/* After an abortable failure: aborts the open transaction.  Returns ABORT
 * (rewind and go on) or FATAL (the abort itself failed). */
static enum sl_txn_status abort_txn(struct sl_committer *c)
{
        char why[sizeof c->err];
        memcpy(why, c->err, sizeof why);
        c->open = false;
        c->stats.aborts++;
        if (call(c, OP_ABORT, NULL, 0) != SL_TXN_OK)
                return SL_TXN_FATAL;
        memcpy(c->err, why, sizeof why);
        return SL_TXN_ABORT;
}

static enum sl_txn_status ensure_open(struct sl_committer *c)
{
        if (c->open)
                return SL_TXN_OK;
        enum sl_txn_status s = call(c, OP_BEGIN, NULL, 0);
        if (s == SL_TXN_OK)
                c->open = true;
        return s;
}

enum sl_txn_status sl_committer_row(struct sl_committer *c, const struct sl_out_msg *m)
{
        enum sl_txn_status s = ensure_open(c);
        if (s == SL_TXN_OK)
                s = call(c, OP_PRODUCE, m, 0);
        if (s == SL_TXN_OK) {
                c->stats.rows++;
                return s;
        }
        if (s == SL_TXN_ABORT && c->open)
                return abort_txn(c);
        return s;
}

void sl_committer_cut(struct sl_committer *c)
{
        for (uint32_t i = 0; i < c->nparts; i++)
                c->parts[i].cut = c->parts[i].pushed;
}

enum sl_txn_status sl_committer_commit(struct sl_committer *c)
{
        uint32_t n = 0;
        for (uint32_t i = 0; i < c->nparts; i++) {
                struct sl_cpart *p = &c->parts[i];
                if (p->cut > p->committed && p->cut > 0)
                        c->scratch[n++] = (struct sl_offset){.src = p->src,
                                .partition = p->partition, .offset = p->cut};
        }
        if (n == 0 && !c->open)
                return SL_TXN_OK; /* nothing read, nothing written */
        enum sl_txn_status s = ensure_open(c);
        if (s == SL_TXN_OK && n > 0)
                s = call(c, OP_OFFSETS, c->scratch, n);
        if (s == SL_TXN_OK)
                s = call(c, OP_COMMIT, NULL, 0);
        if (s == SL_TXN_OK) {
                c->open = false;
                c->stats.txns++;
                for (uint32_t i = 0; i < c->nparts; i++)
                        if (c->parts[i].cut > c->parts[i].committed)
                                c->parts[i].committed = c->parts[i].cut;
                return s;
        }
        if (s == SL_TXN_ABORT && c->open)
                return abort_txn(c);
        return s;
}

void sl_committer_rewind(struct sl_committer *c)
{
        for (uint32_t i = 0; i < c->nparts; i++) {
                struct sl_cpart *p = &c->parts[i];
                int64_t at = p->committed < 0 ? 0 : p->committed;
                p->cut = p->pushed = at;
        }
}
