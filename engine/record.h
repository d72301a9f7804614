/*
 * record.h - one input record of a source to column values and an event
 * time, or a drop reason.  Shared by file mode (dispatcher) and Kafka mode
 * (workers).
 */
#ifndef SL_RECORD_H
#define SL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "engine/plan.h"
#include "engine/stats.h"

struct sl_scratch {
        char *p;
        size_t cap;
};

/*
 * Decodes rec[0, len) with src's schema into vals (strings may point into
 * rec or into scratch), by src->format: a JSON record (one line, one
 * message value) sets every column; a FlatBuffers record (one bare buffer:
 * file mode strips the size prefix) sets the columns its queries read and
 * leaves the others as they were.  With has_ts false the event time is the source's
 * TIMESTAMP column; with has_ts true and no TIMESTAMP column, msg_ts (the
 * Kafka message timestamp).  Returns SL_DROP_COUNT when the record is
 * usable, *ts set, else the drop reason; -ENOMEM as (enum sl_drop)-1.
 */
int sl_record_decode(const struct sl_source *src, const char *rec, size_t len,
                     struct sl_value *vals, struct sl_scratch *scratch,
                     int64_t msg_ts, int64_t *ts);

/* Sets the KEY columns of src from a Kafka message key: a STRING column
 * takes the bytes; numbers and booleans parse the text.  Returns false if
 * the key does not parse as the column's type. */
bool sl_record_key_columns(const struct sl_source *src, const char *key,
                           size_t klen, struct sl_value *vals);

#endif
