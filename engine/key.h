/*
 * key.h - the byte encoding of a group key (the values of the GROUP BY
 * columns), hashed for routing and used as the table key.
 *
 * One column: a STRING is its bytes; a BIGINT/INTEGER is 8 bytes
 * little-endian; a DOUBLE its 8 IEEE bytes with -0.0 folded into 0.0; a
 * BOOLEAN one byte.  Several columns: the same, strings prefixed with a
 * 4-byte length, so that the encoding is unambiguous.  Decoding gives
 * values that borrow from the key bytes.
 */
#ifndef SL_KEY_H
#define SL_KEY_H

#include <stdint.h>

#include "engine/buf.h"
#include "engine/plan.h"

/* Appends the key of q from a record's values (none may be NULL). */
void sl_key_encode(const struct sl_query *q, const struct sl_value *vals,
                   struct sl_buf *out);
/* Fills out[0..q->ngroup) from key bytes. */
void sl_key_decode(const struct sl_query *q, const char *key, uint32_t klen,
                   struct sl_value *out);

/*
 * The Kafka message key of an output row, from the group values in
 * env[0, ngroup): one STRING column: its bytes; one other column: its JSON
 * text (1234, 2.5, true); several: a JSON array of them.
 */
void sl_key_text(const struct sl_query *q, const struct sl_value *env,
                 struct sl_buf *out);

#endif
