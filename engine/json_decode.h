/*
 * json_decode.h - extracts the declared columns of one JSON object.
 *
 * A schema is the list of (name, type) a CREATE STREAM declared.  The
 * decoder scans one record (one NDJSON line or one Kafka message value),
 * validates all of it against RFC 8259 (including members it does not
 * extract, nested values it skips, string escapes, UTF-8, number syntax),
 * and fills one struct sl_value per declared column.
 *
 * Thread-safe: a schema is immutable after sl_json_schema_new(); any
 * number of threads may decode with it at once.
 */
#ifndef SL_JSON_DECODE_H
#define SL_JSON_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/value.h"

#define SL_JSON_MAX_DEPTH 64

struct sl_json_field {
        const char *name; /* matched exactly (case-sensitive), after unescaping */
        enum sl_type type;
};

struct sl_json_schema;

/* Copies what it needs from fields.  NULL on allocation failure. */
struct sl_json_schema *sl_json_schema_new(const struct sl_json_field *fields,
                                          uint32_t nfields);
void sl_json_schema_free(struct sl_json_schema *js);

enum sl_json_status {
        SL_JSON_OK = 0,
        SL_JSON_ERR_SYNTAX,     /* not valid JSON (incl. bad UTF-8, lone surrogate escape in an extracted string, depth > max) */
        SL_JSON_ERR_NOT_OBJECT, /* valid JSON whose top level is not an object */
        SL_JSON_ERR_TYPE,       /* a declared column holds a value of the wrong JSON type */
};

struct sl_json_error {
        enum sl_json_status status;
        uint32_t offset; /* byte offset in the record where the problem was seen */
        int32_t field;   /* ERR_TYPE: index of the column, else -1 */
};

/*
 * Decodes buf[0..len) (no NUL terminator needed; surrounding whitespace
 * allowed; nothing else may follow the object).
 *
 * out[i] receives column i: SL_T_NULL when the member is absent or JSON
 * null.  Types accepted per column:
 *   STRING  <- JSON string
 *   BIGINT  <- JSON number written as an integer (no fraction, no
 *              exponent) within int64
 *   INTEGER <- same, within int32
 *   DOUBLE  <- any JSON number (correctly rounded)
 *   BOOLEAN <- true / false
 * anything else is SL_JSON_ERR_TYPE.  A member that appears twice: the
 * last one wins.
 *
 * String values point into buf when they contain no escape, else into
 * scratch (decoded to UTF-8); scratch must hold at least len bytes.  The
 * caller owns buf and scratch; out[] borrows from them.
 *
 * Returns SL_JSON_OK or the status also stored in err->status.
 */
enum sl_json_status sl_json_decode(const struct sl_json_schema *js,
                                   const char *buf, size_t len,
                                   struct sl_value *out, char *scratch,
                                   struct sl_json_error *err);

const char *sl_json_status_str(enum sl_json_status st);

#endif
