/*
 * stats.c - names of the drop reasons, as the summary prints them.
 */
#include "engine/stats.h"

const char *sl_drop_name(enum sl_drop d)
{
        switch (d) {
        case SL_DROP_NOT_JSON: return "not JSON";
        case SL_DROP_NOT_OBJECT: return "not an object";
        case SL_DROP_BAD_TYPE: return "wrong column type";
        case SL_DROP_NO_TS: return "missing timestamp";
        case SL_DROP_BAD_TS: return "bad timestamp";
        case SL_DROP_OVERSIZE: return "oversize";
        case SL_DROP_NULL_VALUE: return "null value";
        case SL_DROP_BAD_KEY: return "bad message key";
        case SL_DROP_BAD_FLATBUFFER: return "not a valid FlatBuffer";
        case SL_DROP_NULL_PK: return "null primary key";
        case SL_DROP_COUNT: break;
        }
        return "?";
}
