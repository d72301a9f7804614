/*
 * value.c - names of the scalar types, as SQL spells them.
 */
#include "engine/value.h"

const char *sl_type_name(enum sl_type t)
{
        switch (t) {
        case SL_T_NULL: return "NULL";
        case SL_T_BOOL: return "BOOLEAN";
        case SL_T_INT: return "INTEGER";
        case SL_T_BIGINT: return "BIGINT";
        case SL_T_DOUBLE: return "DOUBLE";
        case SL_T_STRING: return "STRING";
        case SL_T_ARRAY: return "ARRAY";
        }
        return "?";
}
