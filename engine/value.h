/*
 * value.h - the typed scalar that flows between the decoder, expressions,
 * aggregates and the encoder.
 *
 * A value is 16 bytes: a payload and a type tag.  Strings are borrowed
 * (pointer + length, not NUL-terminated); who owns the bytes is said by
 * whoever hands the value out.  INTEGER and BIGINT are both held as int64:
 * the declared type only matters when decoding (INTEGER range check) and
 * is otherwise erased.
 */
#ifndef SL_VALUE_H
#define SL_VALUE_H

#include <stdbool.h>
#include <stdint.h>

enum sl_type {
        SL_T_NULL = 0,
        SL_T_BOOL,
        SL_T_INT,    /* INTEGER: int32 range, held as int64 */
        SL_T_BIGINT, /* BIGINT */
        SL_T_DOUBLE,
        SL_T_STRING,
        SL_T_ARRAY,  /* TOPK results only: selected as is, see docs/sql.md */
};

struct sl_value {
        union {
                int64_t i;
                double d;
                bool b;
                struct {
                        const char *p;
                        uint32_t len;
                } s;
                struct {
                        const void *p; /* n int64 or double elements */
                        uint32_t n;
                        uint8_t elem; /* SL_T_BIGINT or SL_T_DOUBLE */
                } a;
        } u;
        uint8_t type; /* enum sl_type */
};

static inline bool sl_type_is_int(enum sl_type t)
{
        return t == SL_T_INT || t == SL_T_BIGINT;
}

static inline bool sl_type_is_numeric(enum sl_type t)
{
        return t == SL_T_INT || t == SL_T_BIGINT || t == SL_T_DOUBLE;
}

const char *sl_type_name(enum sl_type t);

#endif
