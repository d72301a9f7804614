/*
 * key.c - group key encoding; see key.h.  Runs on the dispatcher (encode)
 * and on workers (decode, when a row is emitted).
 */
#include <string.h>

#include "engine/json_encode.h"
#include "engine/key.h"

static void put8(struct sl_buf *out, uint64_t v)
{
        char b[8];
        for (int i = 0; i < 8; i++)
                b[i] = (char)(v >> (8 * i));
        sl_buf_add(out, b, 8);
}

static uint64_t get8(const char *p)
{
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
                v |= (uint64_t)(unsigned char)p[i] << (8 * i);
        return v;
}

void sl_key_encode(const struct sl_query *q, const struct sl_value *vals,
                   struct sl_buf *out)
{
        bool multi = q->ngroup > 1;
        for (uint32_t g = 0; g < q->ngroup; g++) {
                const struct sl_value *v = &vals[q->group_cols[g]];
                switch (q->group_types[g]) {
                case SL_T_STRING:
                        if (multi) {
                                char l[4];
                                memcpy(l, &v->u.s.len, 4);
                                sl_buf_add(out, l, 4);
                        }
                        sl_buf_add(out, v->u.s.p, v->u.s.len);
                        break;
                case SL_T_DOUBLE: {
                        double d = v->u.d == 0 ? 0.0 : v->u.d;
                        uint64_t bits;
                        memcpy(&bits, &d, 8);
                        put8(out, bits);
                        break;
                }
                case SL_T_BOOL:
                        sl_buf_addc(out, v->u.b ? 1 : 0);
                        break;
                default:
                        put8(out, (uint64_t)v->u.i);
                        break;
                }
        }
}

void sl_key_decode(const struct sl_query *q, const char *key, uint32_t klen,
                   struct sl_value *out)
{
        bool multi = q->ngroup > 1;
        const char *p = key, *end = key + klen;
        for (uint32_t g = 0; g < q->ngroup; g++) {
                struct sl_value *v = &out[g];
                v->type = (uint8_t)q->group_types[g];
                switch (q->group_types[g]) {
                case SL_T_STRING: {
                        uint32_t len = (uint32_t)(end - p);
                        if (multi) {
                                memcpy(&len, p, 4);
                                p += 4;
                        }
                        v->u.s.p = p;
                        v->u.s.len = len;
                        p += len;
                        break;
                }
                case SL_T_DOUBLE: {
                        uint64_t bits = get8(p);
                        memcpy(&v->u.d, &bits, 8);
                        p += 8;
                        break;
                }
                case SL_T_BOOL:
                        v->u.b = *p++ != 0;
                        break;
                default:
                        v->u.i = (int64_t)get8(p);
                        p += 8;
                        break;
                }
        }
}

void sl_key_text(const struct sl_query *q, const struct sl_value *env,
                 struct sl_buf *out)
{
        if (q->ngroup == 1 && env[0].type == SL_T_STRING) {
                sl_buf_add(out, env[0].u.s.p, env[0].u.s.len);
                return;
        }
        if (q->ngroup == 1) {
                sl_json_put_value(out, &env[0]); /* a number's text */
                return;
        }
        sl_buf_addc(out, '[');
        for (uint32_t g = 0; g < q->ngroup; g++) {
                if (g)
                        sl_buf_addc(out, ',');
                sl_json_put_value(out, &env[g]);
        }
        sl_buf_addc(out, ']');
}
