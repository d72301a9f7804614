/*
 * ktable.c - latest row per primary key, for stream-table joins; see
 * ktable.h.
 *
 * Design: an open-addressing index of (hash, row pointer) slots with
 * linear probing, at most half full, and backward-shift deletion (no
 * tombstones, so a lookup stops at the first empty slot).  A row is one
 * malloc'd block: header, values, key bytes, string bytes; an upsert
 * builds the new block before it frees the old one, so a failed upsert
 * leaves the old row in place.  Table state is small next to window state
 * (one row per customer, product, ...) and is read far more often than
 * written, so the simple layout is enough.
 *
 * One owner thread; see ktable.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "engine/ktable.h"

struct krow {
        uint32_t klen;
        uint32_t size; /* bytes of the block */
        /* struct sl_value vals[ncols]; char key[klen]; string bytes */
};

struct kslot {
        uint64_t hash;
        struct krow *row; /* NULL: empty */
};

struct sl_ktable {
        uint32_t ncols;
        uint64_t count;
        uint64_t mask; /* slots - 1; slots is a power of two */
        size_t row_bytes;
        struct kslot *slots;
};

static struct sl_value *row_vals(struct krow *r)
{
        return (struct sl_value *)(r + 1);
}

static const char *row_key(const struct sl_ktable *kt, const struct krow *r)
{
        return (const char *)((const struct sl_value *)(r + 1) + kt->ncols);
}

struct sl_ktable *sl_ktable_new(uint32_t ncols)
{
        struct sl_ktable *kt = calloc(1, sizeof *kt);
        if (!kt)
                return NULL;
        kt->ncols = ncols;
        kt->mask = 15;
        kt->slots = calloc(kt->mask + 1, sizeof *kt->slots);
        if (!kt->slots) {
                free(kt);
                return NULL;
        }
        return kt;
}

void sl_ktable_destroy(struct sl_ktable *kt)
{
        if (!kt)
                return;
        for (uint64_t i = 0; i <= kt->mask; i++)
                free(kt->slots[i].row);
        free(kt->slots);
        free(kt);
}

void sl_ktable_key_of(const struct sl_value *v, char buf[8], const char **key,
                      uint32_t *klen)
{
        switch (v->type) {
        case SL_T_STRING:
                *key = v->u.s.p;
                *klen = v->u.s.len;
                return;
        case SL_T_BOOL:
                buf[0] = v->u.b ? 1 : 0;
                *klen = 1;
                break;
        case SL_T_DOUBLE: {
                double d = v->u.d == 0 ? 0.0 : v->u.d;
                memcpy(buf, &d, 8);
                *klen = 8;
                break;
        }
        default: { /* SL_T_INT, SL_T_BIGINT */
                uint64_t u = (uint64_t)v->u.i;
                for (int i = 0; i < 8; i++)
                        buf[i] = (char)(u >> (8 * i));
                *klen = 8;
                break;
        }
        }
        *key = buf;
}

/* The slot holding key, or the empty slot where it would go. */
static uint64_t find_slot(const struct sl_ktable *kt, uint64_t h, const char *key,
                          uint32_t klen)
{
        uint64_t i = h & kt->mask;
        for (;;) {
                const struct kslot *s = &kt->slots[i];
                if (!s->row)
                        return i;
                if (s->hash == h && s->row->klen == klen &&
                    (klen == 0 || memcmp(row_key(kt, s->row), key, klen) == 0))
                        return i;
                i = (i + 1) & kt->mask;
        }
}

static int grow(struct sl_ktable *kt)
{
        uint64_t nmask = kt->mask * 2 + 1;
        struct kslot *ns = calloc(nmask + 1, sizeof *ns);
        if (!ns)
                return -ENOMEM;
        for (uint64_t i = 0; i <= kt->mask; i++) {
                struct kslot s = kt->slots[i];
                if (!s.row)
                        continue;
                uint64_t j = s.hash & nmask;
                while (ns[j].row)
                        j = (j + 1) & nmask;
                ns[j] = s;
        }
        free(kt->slots);
        kt->slots = ns;
        kt->mask = nmask;
        return 0;
}

int sl_ktable_upsert(struct sl_ktable *kt, const char *key, uint32_t klen,
                     const struct sl_value *row)
{
        if ((kt->count + 1) * 2 > kt->mask + 1 && grow(kt) != 0)
                return -ENOMEM;
        size_t size = sizeof(struct krow) + kt->ncols * sizeof(struct sl_value) + klen;
        for (uint32_t c = 0; c < kt->ncols; c++)
                if (row[c].type == SL_T_STRING)
                        size += row[c].u.s.len;
        struct krow *r = malloc(size);
        if (!r)
                return -ENOMEM;
        r->klen = klen;
        r->size = (uint32_t)size;
        struct sl_value *v = row_vals(r);
        char *p = (char *)(v + kt->ncols);
        if (klen)
                memcpy(p, key, klen);
        p += klen;
        for (uint32_t c = 0; c < kt->ncols; c++) {
                v[c] = row[c];
                if (v[c].type == SL_T_STRING) {
                        if (v[c].u.s.len)
                                memcpy(p, v[c].u.s.p, v[c].u.s.len);
                        v[c].u.s.p = p;
                        p += v[c].u.s.len;
                }
        }
        uint64_t h = XXH3_64bits(key, klen);
        struct kslot *s = &kt->slots[find_slot(kt, h, key, klen)];
        if (s->row) {
                kt->row_bytes -= s->row->size;
                free(s->row);
        } else {
                kt->count++;
        }
        s->hash = h;
        s->row = r;
        kt->row_bytes += size;
        return 0;
}

bool sl_ktable_delete(struct sl_ktable *kt, const char *key, uint32_t klen)
{
        uint64_t h = XXH3_64bits(key, klen);
        uint64_t i = find_slot(kt, h, key, klen);
        if (!kt->slots[i].row)
                return false;
        kt->row_bytes -= kt->slots[i].row->size;
        free(kt->slots[i].row);
        kt->slots[i].row = NULL;
        kt->count--;
        /* Backward shift: move up every later entry of the run whose home
         * slot is not between the hole and its own slot. */
        uint64_t hole = i, j = i;
        for (;;) {
                j = (j + 1) & kt->mask;
                struct kslot *s = &kt->slots[j];
                if (!s->row)
                        break;
                uint64_t home = s->hash & kt->mask;
                bool stays = hole <= j ? (hole < home && home <= j)
                                       : (hole < home || home <= j);
                if (stays)
                        continue;
                kt->slots[hole] = *s;
                s->row = NULL;
                hole = j;
        }
        return true;
}

const struct sl_value *sl_ktable_get(const struct sl_ktable *kt, const char *key,
                                     uint32_t klen)
{
        uint64_t h = XXH3_64bits(key, klen);
        struct krow *r = kt->slots[find_slot(kt, h, key, klen)].row;
        return r ? row_vals(r) : NULL;
}

int sl_ktable_apply(struct sl_ktable *kt, const struct sl_source *src,
                    const struct sl_value *vals, struct sl_source_stats *sst)
{
        const struct sl_value *pk = &vals[src->pk_col];
        if (pk->type == SL_T_NULL) {
                sst->dropped[SL_DROP_NULL_PK]++;
                return 0;
        }
        char buf[8];
        const char *key;
        uint32_t klen;
        sl_ktable_key_of(pk, buf, &key, &klen);
        const struct sl_value *del = &vals[src->ncols]; /* SL_TABLE_DELETED */
        if (del->type == SL_T_BOOL && del->u.b) {
                sl_ktable_delete(kt, key, klen);
                sst->deletes++;
                return 0;
        }
        int rc = sl_ktable_upsert(kt, key, klen, vals);
        if (rc == 0)
                sst->upserts++;
        return rc;
}

void sl_ktable_join(const struct sl_plan *p, const struct sl_source *src,
                    struct sl_ktable *const *tables, struct sl_value *vals,
                    bool *matched)
{
        for (uint32_t j = 0; j < src->njoins; j++) {
                const struct sl_join *jn = &src->joins[j];
                const struct sl_source *tab = &p->sources[jn->table];
                const struct sl_value *kv = &vals[jn->key_slot];
                const struct sl_value *row = NULL;
                if (kv->type != SL_T_NULL) {
                        char buf[8];
                        const char *key;
                        uint32_t klen;
                        sl_ktable_key_of(kv, buf, &key, &klen);
                        row = sl_ktable_get(tables[jn->table], key, klen);
                }
                matched[j] = row != NULL;
                if (row)
                        memcpy(&vals[jn->base], row, tab->ncols * sizeof *row);
                else
                        for (uint32_t c = 0; c < tab->ncols; c++)
                                vals[jn->base + c].type = SL_T_NULL;
        }
}

uint64_t sl_ktable_count(const struct sl_ktable *kt)
{
        return kt->count;
}

size_t sl_ktable_bytes(const struct sl_ktable *kt)
{
        return sizeof *kt + (kt->mask + 1) * sizeof *kt->slots + kt->row_bytes;
}
