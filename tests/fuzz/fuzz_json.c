/*
 * fuzz_json.c - fuzz target of the record decoder (engine/json_decode.c).
 *
 * Input: byte 0 picks a schema, the rest is one record.  The record is
 * decoded with that schema and with the empty schema (validation only),
 * and the results are checked against what json_decode.h promises:
 *
 *   - the status returned is err.status; an error offset lies inside the
 *     record; err.field names a column exactly for ERR_TYPE;
 *   - on success every column is NULL or of its declared type, an INTEGER
 *     fits int32, a DOUBLE is finite, a STRING lies wholly inside the
 *     record or the scratch block and is valid UTF-8 (its bytes are read,
 *     so ASan checks the pointer), and a name declared twice leaves the
 *     later column NULL;
 *   - whether the bytes are JSON does not depend on the schema: syntax
 *     errors and non-objects agree with the empty schema's verdict, except
 *     that a lone surrogate escape is a syntax error only where a STRING
 *     column extracts it.
 *
 * The record and the scratch are heap blocks of exactly the record's size,
 * so any read past either is an ASan report.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "engine/json_decode.h"
#include "tests/fuzz/fuzz_target.h"

/* The schema of tests/corpus/json_{good,bad}: the seeds exercise it. */
static const struct sl_json_field fields_corpus[] = {
        {"id", SL_T_STRING}, {"s", SL_T_STRING}, {"n", SL_T_BIGINT},
        {"i", SL_T_INT},     {"x", SL_T_DOUBLE}, {"ok", SL_T_BOOL},
        {"caf\xc3\xa9", SL_T_STRING},
};

/*
 * Names that stress the key table and the in-order guess: the empty name,
 * prefixes of each other, the 8-byte word boundary (7, 8, 9 bytes), names
 * that need escapes or are non-ASCII in a record, a name declared twice,
 * and a long one.
 */
static const struct sl_json_field fields_keys[] = {
        {"", SL_T_STRING},
        {"a", SL_T_BIGINT},
        {"ab", SL_T_INT},
        {"abcdefg", SL_T_DOUBLE},
        {"abcdefgh", SL_T_STRING},
        {"abcdefghi", SL_T_BOOL},
        {"a\"b\\c/", SL_T_STRING},
        {"\xf0\x9f\x98\x80", SL_T_BOOL},
        {"k\x7f\x01", SL_T_INT},
        {"id", SL_T_BIGINT},
        {"dup", SL_T_STRING},
        {"dup", SL_T_BIGINT},
        {"a_rather_long_column_name_of_forty_bytes", SL_T_DOUBLE},
};

#define NSCHEMAS 2

static const struct {
        const struct sl_json_field *f;
        uint32_t n;
} schemas[NSCHEMAS] = {
        {fields_corpus, sizeof fields_corpus / sizeof fields_corpus[0]},
        {fields_keys, sizeof fields_keys / sizeof fields_keys[0]},
};

static bool utf8_ok(const unsigned char *s, size_t n)
{
        for (size_t i = 0; i < n;) {
                unsigned c = s[i];
                size_t k;
                uint32_t cp, min;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xE0) == 0xC0) {
                        k = 2, cp = c & 0x1F, min = 0x80;
                } else if ((c & 0xF0) == 0xE0) {
                        k = 3, cp = c & 0x0F, min = 0x800;
                } else if ((c & 0xF8) == 0xF0) {
                        k = 4, cp = c & 0x07, min = 0x10000;
                } else {
                        return false;
                }
                if (n - i < k)
                        return false;
                for (size_t j = 1; j < k; j++) {
                        if ((s[i + j] & 0xC0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + j] & 0x3F);
                }
                if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        return false;
                i += k;
        }
        return true;
}

static bool inside(const char *p, size_t n, const char *block, size_t len)
{
        uintptr_t a = (uintptr_t)p, b = (uintptr_t)block;
        return a >= b && a - b <= len && n <= len - (a - b);
}

/* Does any earlier column have the same name as column i? */
static bool shadowed(const struct sl_json_field *f, uint32_t i)
{
        for (uint32_t j = 0; j < i; j++)
                if (strcmp(f[j].name, f[i].name) == 0)
                        return true;
        return false;
}

static void check_error(enum sl_json_status st, const struct sl_json_error *err,
                        size_t len, uint32_t nfields)
{
        FUZZ_CHECK(err->status == st);
        if (st == SL_JSON_OK)
                return;
        FUZZ_CHECK(st == SL_JSON_ERR_SYNTAX || st == SL_JSON_ERR_NOT_OBJECT ||
                   st == SL_JSON_ERR_TYPE);
        FUZZ_CHECK(err->offset <= len);
        if (st == SL_JSON_ERR_TYPE)
                FUZZ_CHECK(err->field >= 0 && (uint32_t)err->field < nfields);
        else
                FUZZ_CHECK(err->field == -1);
        FUZZ_CHECK(sl_json_status_str(st) != NULL);
}

static void check_values(const struct sl_json_field *f, uint32_t n, const struct sl_value *out,
                         const char *buf, const char *scratch, size_t len)
{
        for (uint32_t i = 0; i < n; i++) {
                const struct sl_value *v = &out[i];
                if (v->type == SL_T_NULL)
                        continue;
                FUZZ_CHECK(v->type == f[i].type);
                FUZZ_CHECK(!shadowed(f, i));
                switch (f[i].type) {
                case SL_T_INT:
                        FUZZ_CHECK(v->u.i >= INT32_MIN && v->u.i <= INT32_MAX);
                        break;
                case SL_T_DOUBLE:
                        FUZZ_CHECK(isfinite(v->u.d));
                        break;
                case SL_T_BOOL:
                        FUZZ_CHECK(v->u.b == true || v->u.b == false);
                        break;
                case SL_T_STRING:
                        FUZZ_CHECK(inside(v->u.s.p, v->u.s.len, buf, len) ||
                                   inside(v->u.s.p, v->u.s.len, scratch, len));
                        FUZZ_CHECK(utf8_ok((const unsigned char *)v->u.s.p, v->u.s.len));
                        break;
                default:
                        break;
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct sl_json_schema *js[NSCHEMAS], *none;
        if (!none) {
                for (int i = 0; i < NSCHEMAS; i++) {
                        js[i] = sl_json_schema_new(schemas[i].f, schemas[i].n);
                        FUZZ_CHECK(js[i] != NULL);
                }
                none = sl_json_schema_new(NULL, 0);
                FUZZ_CHECK(none != NULL);
        }
        if (size == 0)
                return 0;
        unsigned which = data[0] % NSCHEMAS;
        size_t len = size - 1;
        char *buf = malloc(len ? len : 1);
        char *scratch = malloc(len ? len : 1);
        FUZZ_CHECK(buf && scratch);
        memcpy(buf, data + 1, len);

        struct sl_value out[sizeof fields_keys / sizeof fields_keys[0]];
        struct sl_json_error err, err0;
        memset(out, 0xA5, sizeof out); /* the decoder must set every column */
        memset(&err, 0xA5, sizeof err);
        enum sl_json_status st = sl_json_decode(js[which], buf, len, out, scratch, &err);
        check_error(st, &err, len, schemas[which].n);
        if (st == SL_JSON_OK)
                check_values(schemas[which].f, schemas[which].n, out, buf, scratch, len);

        memset(&err0, 0xA5, sizeof err0);
        enum sl_json_status st0 = sl_json_decode(none, buf, len, out, scratch, &err0);
        check_error(st0, &err0, len, 0);
        FUZZ_CHECK(st0 != SL_JSON_ERR_TYPE);
        if (st0 == SL_JSON_ERR_SYNTAX)
                FUZZ_CHECK(st == SL_JSON_ERR_SYNTAX);
        FUZZ_CHECK((st0 == SL_JSON_ERR_NOT_OBJECT) == (st == SL_JSON_ERR_NOT_OBJECT));
        if (st == SL_JSON_OK || st == SL_JSON_ERR_TYPE)
                FUZZ_CHECK(st0 == SL_JSON_OK);

        free(scratch);
        free(buf);
        return 0;
}
