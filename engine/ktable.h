/*
 * ktable.h - the state of a source table (CREATE TABLE t (...) WITH
 * (KAFKA_TOPIC = ...)): the latest row per PRIMARY KEY value, for
 * stream-table joins.
 *
 * An upsert replaces the whole row of its key (latest wins), a delete
 * removes it (a tombstone).  A row is stored as one block holding its
 * values, the key bytes and every string, so a looked-up row stays valid
 * until the next upsert or delete of the same table.
 *
 * Not thread-safe: one owner thread applies updates and looks rows up (the
 * file-mode dispatcher; in Kafka mode each worker owns its own copy).
 */
#ifndef SL_KTABLE_H
#define SL_KTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/plan.h"
#include "engine/stats.h"
#include "engine/value.h"

struct sl_ktable;

/* A table of rows of ncols values; NULL when out of memory. */
struct sl_ktable *sl_ktable_new(uint32_t ncols);
void sl_ktable_destroy(struct sl_ktable *kt);

/*
 * The key bytes of a join or primary-key value v (not NULL): a STRING is
 * its bytes (*key points into v's string), an INTEGER or BIGINT 8 bytes
 * little-endian (so that the two types match each other), a DOUBLE its 8
 * IEEE bytes with -0.0 folded into 0.0, a BOOLEAN one byte.  buf holds the
 * bytes of non-strings.
 */
void sl_ktable_key_of(const struct sl_value *v, char buf[8], const char **key,
                      uint32_t *klen);

/* Replaces (or adds) the row of key with row[0, ncols), copying its
 * strings.  0 or -ENOMEM (the table is unchanged then). */
int sl_ktable_upsert(struct sl_ktable *kt, const char *key, uint32_t klen,
                     const struct sl_value *row);
/* Removes the row of key; false if there was none. */
bool sl_ktable_delete(struct sl_ktable *kt, const char *key, uint32_t klen);
/* The row of key (ncols values), or NULL. */
const struct sl_value *sl_ktable_get(const struct sl_ktable *kt, const char *key,
                                     uint32_t klen);

/*
 * A decoded record of table source src (vals: its columns, then the
 * SL_TABLE_DELETED field) applied to kt: a delete when that field is
 * true, else an upsert; a NULL primary key is a drop.  Counts in sst.
 * 0 or -ENOMEM.
 */
int sl_ktable_apply(struct sl_ktable *kt, const struct sl_source *src,
                    const struct sl_value *vals, struct sl_source_stats *sst);

/*
 * Fills the joined slots of a decoded record of stream src: for each of
 * its joins, the row of tables[join.table] for the record's key column, or
 * NULLs, and matched[j] (at least src->njoins entries).  The strings point
 * into the tables until their next update.
 */
void sl_ktable_join(const struct sl_plan *p, const struct sl_source *src,
                    struct sl_ktable *const *tables, struct sl_value *vals,
                    bool *matched);

uint64_t sl_ktable_count(const struct sl_ktable *kt);
/* Heap bytes held (index and rows). */
size_t sl_ktable_bytes(const struct sl_ktable *kt);

#endif
