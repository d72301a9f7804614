/*
 * record.c - decode one input record; see record.h.
 *
 * The one place that knows a stream's VALUE_FORMAT on input: a JSON
 * record goes to sl_json_decode() (every declared column), a FlatBuffers
 * record to sl_fb_decode() (the columns the queries read).  The event time
 * rules that follow are the same for both.  Called by the file-mode
 * dispatcher and by Kafka-mode workers (part.c), each with its own vals
 * and scratch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/flatbuf.h"
#include "engine/json_decode.h"
#include "engine/record.h"
#include "engine/window.h"

int sl_record_decode(const struct sl_source *src, const char *rec, size_t len,
                     struct sl_value *vals, struct sl_scratch *scratch,
                     int64_t msg_ts, int64_t *ts)
{
        if (src->format == SL_FMT_FLATBUFFERS) {
                struct sl_fb_error fe;
                if (sl_fb_decode(src->fb, rec, len, vals, &fe) != SL_FB_OK)
                        return SL_DROP_BAD_FLATBUFFER;
                goto event_time;
        }
        if (scratch->cap < len) {
                size_t cap = len < 4096 ? 4096 : len * 2;
                char *s = realloc(scratch->p, cap);
                if (!s)
                        return -ENOMEM;
                scratch->p = s;
                scratch->cap = cap;
        }
        struct sl_json_error je;
        enum sl_json_status js = sl_json_decode(src->js, rec, len, vals, scratch->p, &je);
        if (js != SL_JSON_OK) {
                if (js == SL_JSON_ERR_TYPE && je.field == src->ts_col)
                        return SL_DROP_BAD_TS;
                return js == SL_JSON_ERR_NOT_OBJECT ? SL_DROP_NOT_OBJECT
                     : js == SL_JSON_ERR_TYPE       ? SL_DROP_BAD_TYPE
                                                    : SL_DROP_NOT_JSON;
        }
event_time:
        if (src->ts_col < 0) {
                *ts = msg_ts;
                return SL_DROP_COUNT;
        }
        const struct sl_value *t = &vals[src->ts_col];
        if (t->type == SL_T_NULL)
                return SL_DROP_NO_TS;
        if (t->u.i < SL_TS_MIN || t->u.i > SL_TS_MAX)
                return SL_DROP_BAD_TS;
        *ts = t->u.i;
        return SL_DROP_COUNT;
}

static bool parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out)
{
        char b[32];
        if (n == 0 || n >= sizeof b)
                return false;
        memcpy(b, s, n);
        b[n] = 0;
        char *end;
        errno = 0;
        long long v = strtoll(b, &end, 10);
        if (errno || *end || v < lo || v > hi)
                return false;
        *out = v;
        return true;
}

static bool parse_double(const char *s, size_t n, double *out)
{
        char b[64];
        if (n == 0 || n >= sizeof b)
                return false;
        memcpy(b, s, n);
        b[n] = 0;
        char *end;
        *out = strtod(b, &end);
        return *end == 0;
}

bool sl_record_key_columns(const struct sl_source *src, const char *key,
                           size_t klen, struct sl_value *vals)
{
        for (uint32_t c = 0; c < src->ncols; c++) {
                if (!src->cols[c].key)
                        continue;
                struct sl_value *v = &vals[c];
                switch (src->cols[c].type) {
                case SL_T_STRING:
                        if (klen > UINT32_MAX)
                                return false;
                        v->type = SL_T_STRING;
                        v->u.s.p = key;
                        v->u.s.len = (uint32_t)klen;
                        break;
                case SL_T_INT:
                        if (!parse_int(key, klen, INT32_MIN, INT32_MAX, &v->u.i))
                                return false;
                        v->type = SL_T_INT;
                        break;
                case SL_T_BIGINT:
                        if (!parse_int(key, klen, INT64_MIN, INT64_MAX, &v->u.i))
                                return false;
                        v->type = SL_T_BIGINT;
                        break;
                case SL_T_DOUBLE:
                        if (!parse_double(key, klen, &v->u.d))
                                return false;
                        v->type = SL_T_DOUBLE;
                        break;
                case SL_T_BOOL:
                        if (klen == 4 && memcmp(key, "true", 4) == 0)
                                v->u.b = true;
                        else if (klen == 5 && memcmp(key, "false", 5) == 0)
                                v->u.b = false;
                        else
                                return false;
                        v->type = SL_T_BOOL;
                        break;
                default:
                        return false;
                }
        }
        return true;
}
