/*
 * json_encode.h - writes output rows as JSON text.
 *
 * Doubles are written as the shortest decimal text that parses back to the
 * same double (the round-trip guarantee of RFC 8259 section 6 readers);
 * NaN and infinities, which JSON cannot represent, are written as null.
 * Strings are escaped per RFC 8259 (", \, control characters), with
 * non-ASCII UTF-8 passed through as is.
 */
#ifndef SL_JSON_ENCODE_H
#define SL_JSON_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/buf.h"
#include "engine/value.h"

void sl_json_put_string(struct sl_buf *b, const char *s, size_t len);
void sl_json_put_int(struct sl_buf *b, int64_t v);
void sl_json_put_double(struct sl_buf *b, double v);
/* Any value: NULL -> null, BOOL -> true/false, and the above. */
void sl_json_put_value(struct sl_buf *b, const struct sl_value *v);

/* Shortest round-trip text of v into out (no NUL needed); returns length.
 * out must hold 32 bytes.  Not for NaN/inf. */
size_t sl_double_shortest(double v, char *out);

#endif
