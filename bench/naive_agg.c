/*
 * naive_agg.c - the baseline of bench/run: the aggregator a competent
 * engineer writes in an afternoon, so that sluice's file-mode rate can be
 * quoted as a ratio to it measured in the same run.
 *
 *   naive_agg INPUT OUTPUT [--size-ms MS]
 *
 * Does the work of bench/scenarios/tumbling_sum_count_avg.sql on the
 * sluice-gen NDJSON that sluice file mode reads: per userId, 5-minute (or
 * --size-ms) tumbling windows aligned to the epoch, SUM(amount), COUNT(*)
 * and AVG(amount), EMIT FINAL with no grace.  One thread, no tricks:
 *
 *   - getline() per line, then strstr() for "userId", "amount" and
 *     "timestamp", strtod()/strtoll() for the numbers.  No validation of
 *     the rest of the line (sluice validates all of it): a line without the
 *     three members is counted as bad and skipped.
 *   - a chained hash table (FNV-1a of the key bytes and the window start),
 *     one node per (key, window), doubled when it holds more nodes than
 *     buckets.
 *   - stream time = the largest event time read.  A record whose window end
 *     is <= stream time before it arrived is late and dropped.  When stream
 *     time reaches the earliest open window's end, the whole table is
 *     scanned and every window with end <= stream time is written and freed
 *     (once per window length of event time).  At end of input every open
 *     window is written.
 *   - rows are written with fprintf and %.17g (exact, not shortest: the
 *     rows compare equal to sluice's after parsing, not as text).
 *
 * Row: {"userId":"u","total":S,"n":C,"avgAmount":S/C,"ws":start,"we":end}
 * Prints "naive_agg: R records, B bad, L late, W rows in S s" to stderr.
 * Exit 0, 1 on I/O or allocation failure, 2 on bad arguments.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct node {
        struct node *next;
        uint64_t hash;
        int64_t ws;
        double sum;
        uint64_t count;
        uint32_t klen;
        char key[];
};

struct table {
        struct node **b;
        size_t nb, n;
};

static uint64_t fnv1a(const char *p, size_t n, int64_t ws)
{
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
        for (int i = 0; i < 8; i++)
                h = (h ^ (uint64_t)((ws >> (8 * i)) & 0xff)) * 0x100000001b3ull;
        return h;
}

static int grow(struct table *t)
{
        size_t nb = t->nb ? t->nb * 2 : 1024;
        struct node **b = calloc(nb, sizeof *b);
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < t->nb; i++) {
                struct node *x = t->b[i];
                while (x) {
                        struct node *next = x->next;
                        x->next = b[x->hash & (nb - 1)];
                        b[x->hash & (nb - 1)] = x;
                        x = next;
                }
        }
        free(t->b);
        t->b = b;
        t->nb = nb;
        return 0;
}

static struct node *upsert(struct table *t, const char *key, uint32_t klen, int64_t ws)
{
        uint64_t h = fnv1a(key, klen, ws);
        for (struct node *x = t->b[h & (t->nb - 1)]; x; x = x->next)
                if (x->hash == h && x->ws == ws && x->klen == klen && memcmp(x->key, key, klen) == 0)
                        return x;
        if (t->n >= t->nb && grow(t) != 0)
                return NULL;
        struct node *x = malloc(sizeof *x + klen);
        if (!x)
                return NULL;
        *x = (struct node){.hash = h, .ws = ws, .klen = klen};
        memcpy(x->key, key, klen);
        x->next = t->b[h & (t->nb - 1)];
        t->b[h & (t->nb - 1)] = x;
        t->n++;
        return x;
}

static void write_row(FILE *out, const struct node *x, int64_t size)
{
        fprintf(out, "{\"userId\":\"%.*s\",\"total\":%.17g,\"n\":%llu,\"avgAmount\":%.17g,"
                     "\"ws\":%lld,\"we\":%lld}\n",
                (int)x->klen, x->key, x->sum, (unsigned long long)x->count,
                x->sum / (double)x->count, (long long)x->ws, (long long)(x->ws + size));
}

/* Writes and frees every window ending at or before st (all with st =
 * INT64_MAX); returns the earliest end still open, INT64_MAX if none. */
static int64_t close_due(struct table *t, int64_t st, int64_t size, FILE *out, uint64_t *rows)
{
        int64_t next = INT64_MAX;
        for (size_t i = 0; i < t->nb; i++) {
                struct node **pp = &t->b[i];
                while (*pp) {
                        struct node *x = *pp;
                        if (st == INT64_MAX || x->ws + size <= st) {
                                write_row(out, x, size);
                                (*rows)++;
                                *pp = x->next;
                                free(x);
                                t->n--;
                        } else {
                                if (x->ws + size < next)
                                        next = x->ws + size;
                                pp = &x->next;
                        }
                }
        }
        return next;
}

static int64_t floordiv(int64_t a, int64_t b)
{
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The three members this query reads; false if one is missing. */
static bool parse_line(const char *line, const char **user, uint32_t *ulen, double *amount,
                       int64_t *ts)
{
        const char *u = strstr(line, "\"userId\":\"");
        const char *a = strstr(line, "\"amount\":");
        const char *t = strstr(line, "\"timestamp\":");
        if (!u || !a || !t)
                return false;
        u += 10;
        const char *q = strchr(u, '"');
        if (!q)
                return false;
        char *end;
        *amount = strtod(a + 9, &end);
        if (end == a + 9)
                return false;
        errno = 0;
        *ts = strtoll(t + 12, &end, 10);
        if (end == t + 12 || errno)
                return false;
        *user = u;
        *ulen = (uint32_t)(q - u);
        return true;
}

int main(int argc, char **argv)
{
        int64_t size = 300000;
        if (argc == 5 && strcmp(argv[3], "--size-ms") == 0) {
                size = strtoll(argv[4], NULL, 10);
        } else if (argc != 3) {
                fprintf(stderr, "usage: naive_agg INPUT OUTPUT [--size-ms MS]\n");
                return 2;
        }
        if (size <= 0) {
                fprintf(stderr, "naive_agg: --size-ms must be > 0\n");
                return 2;
        }
        FILE *in = strcmp(argv[1], "-") == 0 ? stdin : fopen(argv[1], "r");
        FILE *out = strcmp(argv[2], "-") == 0 ? stdout : fopen(argv[2], "w");
        if (!in || !out) {
                fprintf(stderr, "naive_agg: %s: %s\n", !in ? argv[1] : argv[2], strerror(errno));
                return 1;
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);

        struct table t = {0};
        char *line = NULL;
        size_t cap = 0;
        uint64_t records = 0, bad = 0, late = 0, rows = 0;
        int64_t st = INT64_MIN, next_close = INT64_MAX;
        int rc = grow(&t) == 0 ? 0 : 1;
        while (rc == 0 && getline(&line, &cap, in) > 0) {
                const char *user;
                uint32_t ulen;
                double amount;
                int64_t ts;
                records++;
                if (!parse_line(line, &user, &ulen, &amount, &ts)) {
                        bad++;
                        continue;
                }
                int64_t ws = floordiv(ts, size) * size;
                if (ws + size <= st) {
                        late++;
                        continue;
                }
                if (ts > st) {
                        st = ts;
                        if (st >= next_close)
                                next_close = close_due(&t, st, size, out, &rows);
                }
                struct node *x = upsert(&t, user, ulen, ws);
                if (!x) {
                        fprintf(stderr, "naive_agg: out of memory\n");
                        rc = 1;
                        break;
                }
                x->sum += amount;
                x->count++;
                if (ws + size < next_close)
                        next_close = ws + size;
        }
        if (ferror(in)) {
                fprintf(stderr, "naive_agg: reading %s: %s\n", argv[1], strerror(errno));
                rc = 1;
        }
        close_due(&t, INT64_MAX, size, out, &rows);
        if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
                fprintf(stderr, "naive_agg: writing %s: %s\n", argv[2], strerror(errno));
                rc = 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        fprintf(stderr, "naive_agg: %llu records, %llu bad, %llu late, %llu rows in %.3f s\n",
                (unsigned long long)records, (unsigned long long)bad, (unsigned long long)late,
                (unsigned long long)rows,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        free(line);
        free(t.b);
        if (in != stdin)
                fclose(in);
        return rc;
}
