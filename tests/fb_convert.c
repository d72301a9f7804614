/*
 * fb_convert.c - a test tool for fb_golden.sh: the NDJSON records of a
 * pipeline's stream as size-prefixed FlatBuffers of that stream's layout.
 *
 *   fb_convert PIPELINE.sql < IN.ndjson > OUT.fb
 *
 * Each non-blank line becomes one frame (sl_fb_encode).  A line that
 * decodes as the stream's JSON becomes a table holding the same values
 * (NULLs absent); one that does not becomes a frame holding no FlatBuffer,
 * so that the record is dropped in both formats.  The pipeline must
 * declare exactly one stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/buf.h"
#include "engine/flatbuf.h"
#include "engine/json_decode.h"
#include "engine/plan.h"

int main(int argc, char **argv)
{
        char err[1024];
        if (argc != 2) {
                fprintf(stderr, "usage: fb_convert PIPELINE.sql < IN.ndjson > OUT.fb\n");
                return 2;
        }
        struct sl_plan *p = sl_plan_load_file(argv[1], err, sizeof err);
        if (!p || p->nsources != 1) {
                fprintf(stderr, "fb_convert: %s\n", p ? "the pipeline must declare one stream" : err);
                return 2;
        }
        const struct sl_source *src = &p->sources[0];
        enum sl_type types[SL_MAX_COLS];
        for (uint32_t c = 0; c < src->ncols; c++)
                types[c] = src->cols[c].type;
        struct sl_value vals[SL_MAX_COLS];
        struct sl_buf out = {0};
        char *line = NULL, *scratch = NULL;
        size_t cap = 0;
        ssize_t n;
        unsigned long records = 0, bad = 0;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        n--;
                if (strspn(line, " \t") == (size_t)n)
                        continue;
                scratch = realloc(scratch, (size_t)n);
                struct sl_json_error je;
                sl_buf_reset(&out);
                if (scratch && sl_json_decode(src->js, line, (size_t)n, vals, scratch, &je) == SL_JSON_OK) {
                        sl_fb_encode(types, vals, src->ncols, &out);
                } else {
                        sl_buf_add(&out, "\x04\0\0\0bad!", 8);
                        bad++;
                }
                records++;
                if (!sl_buf_ok(&out) || fwrite(out.p, 1, out.len, stdout) != out.len) {
                        fprintf(stderr, "fb_convert: out of memory or write error\n");
                        return 1;
                }
        }
        fprintf(stderr, "fb_convert: %lu records, %lu not JSON of the stream\n", records, bad);
        free(line);
        free(scratch);
        sl_buf_free(&out);
        sl_plan_free(p);
        return fflush(stdout) == 0 ? 0 : 1;
}
