/*
 * sluice_gen.c - generates transaction events as NDJSON, deterministically,
 * to a file or to a Kafka topic.
 *
 *   sluice-gen --events N --keys K [--eps R] [--disorder MS] [--skew uniform|zipf]
 *              [--seed S] [--start MS] [--bad PERMILLE] [--output FILE|-]
 *
 *   sluice-gen [generator flags] --bootstrap HOST:PORT --topic NAME [--rate N]
 *              [--key-field NAME] [--timestamp event|now] [--set NAME=VALUE]...
 *   sluice-gen --from FILE|- --bootstrap HOST:PORT --topic NAME [--rate N]
 *              [--key-field NAME] [--timestamp event|now] [--set NAME=VALUE]...
 *              [--format json|flatbuffers]
 *
 * Each line: {"transactionId":"t<n>","userId":"user<k>","account":<k>,
 *             "amount":<x.yy>,"type":"deposit|withdrawal","timestamp":<ms>}
 * Event time advances by 1000/R ms per event (R events per second of event
 * time, default 10000), minus a random delay of up to --disorder ms (out of
 * order records).  --bad emits that many malformed lines per thousand.
 * The same flags always give the same bytes.
 *
 * --format flatbuffers writes the same events (the same seed gives the
 * same values) as FlatBuffers tables of the generator's stream, field i
 * being column i of
 *   CREATE STREAM transactions (transactionId STRING, userId STRING,
 *       account BIGINT, amount DOUBLE, type STRING, `timestamp` BIGINT)
 *       WITH (VALUE_FORMAT='FLATBUFFERS', TIMESTAMP='timestamp');
 * (bench/scenarios/tumbling_sum_count_avg_fb.sql; `sluice schema` prints the
 * .fbs), size-prefixed in a file (as flatc's FinishSizePrefixed writes
 * them), one bare buffer per Kafka message.  The writer below is
 * independent of sluice's own encoder and lays tables out differently
 * (the vtable after its table), so reading its output tests the decoder.
 * --bad records are damaged where their JSON twins are: a root offset out
 * of bounds (truncated JSON), bytes that are no FlatBuffer (not JSON, an
 * array), a misaligned amount (amount of the wrong type), no timestamp,
 * a timestamp out of range (a timestamp of the wrong type).  Each is still
 * framed correctly, so the records after it are read.  With --from, a file
 * of size-prefixed buffers is replayed, one buffer per message, without a
 * key, stamped with the time of sending.
 *
 * With --bootstrap each line (without its newline) is one Kafka message.
 * Its key is the top-level field --key-field of the line (default userId
 * when generating, none for --from): a string's characters as written
 * between the quotes, a number's text; no key if the field is missing, is
 * not a string or number, or the line is not a JSON object.  Its timestamp
 * is the event time (generated malformed lines: their slot's time; --from:
 * the integer "timestamp" field) or, with --timestamp now, the time of
 * sending.  --rate paces to N messages per second of wall-clock time.
 * --events 0 then means no end: run until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static uint64_t rng_state;

static uint64_t next_u64(void)
{
        /* splitmix64: fast, and a pure function of the seed. */
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static double next_unit(void)
{
        return (double)(next_u64() >> 11) * 0x1.0p-53;
}

/* Zipf(s = 0.99) over [0, n) by inverse transform on a precomputed CDF. */
static double *zipf_cdf;

static int zipf_init(uint64_t n)
{
        zipf_cdf = malloc(n * sizeof *zipf_cdf);
        if (!zipf_cdf)
                return -ENOMEM;
        double sum = 0;
        for (uint64_t i = 0; i < n; i++) {
                sum += 1.0 / pow((double)(i + 1), 0.99);
                zipf_cdf[i] = sum;
        }
        for (uint64_t i = 0; i < n; i++)
                zipf_cdf[i] /= sum;
        return 0;
}

static uint64_t zipf_next(uint64_t n)
{
        double u = next_unit();
        uint64_t lo = 0, hi = n - 1;
        while (lo < hi) {
                uint64_t mid = (lo + hi) / 2;
                if (zipf_cdf[mid] < u)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-') {
                fprintf(stderr, "sluice-gen: %s '%s': expected a whole number\n", opt, s);
                return -1;
        }
        *out = v;
        return 0;
}

static const char *const bad_lines[] = {
        "{\"transactionId\":\"bad\",\"userId\":\"user1\",\"amount\":1.0,\"timestamp\":",
        "not json at all",
        "[1,2,3]",
        "{\"transactionId\":\"bad\",\"userId\":\"user1\",\"amount\":\"12\",\"timestamp\":1}",
        "{\"transactionId\":\"bad\",\"userId\":\"user1\",\"amount\":1.0}",
        "{\"transactionId\":\"bad\",\"userId\":\"user1\",\"amount\":1.0,\"timestamp\":\"yesterday\"}",
};

struct gen {
        uint64_t keys, eps, disorder, start, bad;
        bool zipf;
        bool fb;                /* --format flatbuffers */
};

struct event {
        const char *bad_line;   /* a malformed line, or NULL */
        size_t bad_kind;        /* its index in bad_lines */
        uint64_t i, k;
        int64_t ts, cents;
};

/*
 * Draws event i from the RNG.  A malformed line's ts is the time its slot
 * would have had.
 */
static void gen_event(const struct gen *g, uint64_t i, struct event *ev)
{
        ev->i = i;
        ev->ts = (int64_t)(g->start + i * 1000 / g->eps);
        if (g->bad && next_u64() % 1000 < g->bad) {
                ev->bad_kind = next_u64() % (sizeof bad_lines / sizeof bad_lines[0]);
                ev->bad_line = bad_lines[ev->bad_kind];
                return;
        }
        ev->bad_line = NULL;
        ev->k = g->zipf ? zipf_next(g->keys) : next_u64() % g->keys;
        if (g->disorder)
                ev->ts -= (int64_t)(next_u64() % (g->disorder + 1));
        ev->cents = (int64_t)(next_u64() % 200000) - 50000;
}

/* One event as a line of NDJSON: the format and its arguments. */
#define EVENT_FMT "{\"transactionId\":\"t%llu\",\"userId\":\"user%llu\",\"account\":%llu," \
                  "\"amount\":%s%lld.%02lld,\"type\":\"%s\",\"timestamp\":%lld}\n"
#define EVENT_ARGS(ev) \
        (unsigned long long)(ev)->i, (unsigned long long)(ev)->k, (unsigned long long)(ev)->k, \
        (ev)->cents < 0 ? "-" : "", (long long)(llabs((ev)->cents) / 100), \
        (long long)(llabs((ev)->cents) % 100), (ev)->cents < 0 ? "withdrawal" : "deposit", \
        (long long)(ev)->ts

/* Longer than any line format_event() writes. */
#define LINE_MAX_LEN 256

/* Formats ev into buf with its newline; returns the line's length. */
static size_t format_event(const struct event *ev, char *buf)
{
        int n = ev->bad_line ? snprintf(buf, LINE_MAX_LEN, "%s\n", ev->bad_line)
                             : snprintf(buf, LINE_MAX_LEN, EVENT_FMT, EVENT_ARGS(ev));
        return (size_t)n;
}

/* FlatBuffers: the generator's table, written by hand (see the top). */
#define FB_MAX_LEN 256

static void put16(unsigned char *p, uint16_t v)
{
        p[0] = (unsigned char)v;
        p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (unsigned char)(v >> (8 * i));
}

struct fb_rec {
        const char *str[3];     /* transactionId, userId, type (fields 0, 1, 4); NULL: absent */
        bool has[3];            /* account, amount, timestamp (fields 2, 3, 5) present */
        int64_t account, ts;
        double amount;
};

/*
 * Writes r into out as [u32 size, if head is 4][root offset][table]
 * [vtable][strings], padded to a multiple of 8, aligned relative to out
 * (which is what a size-prefixed buffer is aligned to).  Returns its length.
 */
static size_t fb_write(const struct fb_rec *r, size_t head, unsigned char *out)
{
        static const uint16_t str_id[3] = {0, 1, 4}, num_id[3] = {2, 3, 5};
        size_t t = head + 4;                    /* the table */
        size_t f8 = (t + 4 + 7) & ~(size_t)7;   /* account, amount, timestamp */
        size_t f4 = f8 + 24;                    /* the three string offsets */
        size_t vt = f4 + 12;                    /* the vtable follows the table */
        size_t s = vt + 4 + 2 * 6;
        memset(out, 0, FB_MAX_LEN);
        put32(out + head, (uint32_t)(t - head));
        put32(out + t, (uint32_t)(int32_t)(t - vt)); /* negative: vtable after */
        put16(out + vt, 4 + 2 * 6);
        put16(out + vt + 2, (uint16_t)(vt - t));
        uint64_t nums[3] = {(uint64_t)r->account, 0, (uint64_t)r->ts};
        memcpy(&nums[1], &r->amount, sizeof r->amount);
        for (int i = 0; i < 3; i++) {
                if (!r->has[i])
                        continue;
                put64(out + f8 + 8 * i, nums[i]);
                put16(out + vt + 4 + 2 * num_id[i], (uint16_t)(f8 + 8 * i - t));
        }
        for (int i = 0; i < 3; i++) {
                if (!r->str[i])
                        continue;
                size_t n = strlen(r->str[i]);
                put32(out + f4 + 4 * i, (uint32_t)(s - (f4 + 4 * i)));
                put16(out + vt + 4 + 2 * str_id[i], (uint16_t)(f4 + 4 * i - t));
                put32(out + s, (uint32_t)n);
                memcpy(out + s + 4, r->str[i], n + 1);
                s = (s + 4 + n + 1 + 3) & ~(size_t)3;
        }
        size_t len = (s + 7) & ~(size_t)7;
        if (head)
                put32(out, (uint32_t)(len - 4));
        return len;
}

/* Event ev as a FlatBuffer (after a size prefix if head is 4); returns
 * the length.  Strings are at most 24 bytes, so FB_MAX_LEN is plenty. */
static size_t format_fb(const struct event *ev, size_t head, unsigned char *out)
{
        char tid[32], uid[32];
        struct fb_rec r = {.str = {tid, uid, NULL}};
        if (ev->bad_line) {
                static const char *const garbage[sizeof bad_lines / sizeof bad_lines[0]] = {
                        [1] = "not a flatbuffer", [2] = "[1,2,3]"};
                if (garbage[ev->bad_kind]) {
                        size_t n = strlen(garbage[ev->bad_kind]);
                        memcpy(out + head, garbage[ev->bad_kind], n);
                        if (head)
                                put32(out, (uint32_t)n);
                        return head + n;
                }
                snprintf(tid, sizeof tid, "bad");
                snprintf(uid, sizeof uid, "user1");
                r.has[1] = true;
                r.amount = 1.0;
                r.has[2] = ev->bad_kind != 4;
                r.ts = ev->bad_kind == 5 ? INT64_MAX : 1;
                size_t len = fb_write(&r, head, out);
                if (ev->bad_kind == 0) /* the root offset points past the end */
                        put32(out + head, 0x7FFFFFF0u);
                if (ev->bad_kind == 3) { /* amount 4 bytes into its 8-byte slot */
                        size_t t = head + 4, f8 = (t + 4 + 7) & ~(size_t)7, vt = f8 + 36;
                        put16(out + vt + 4 + 2 * 3, (uint16_t)(f8 + 8 + 4 - t));
                }
                return len;
        }
        snprintf(tid, sizeof tid, "t%llu", (unsigned long long)ev->i);
        snprintf(uid, sizeof uid, "user%llu", (unsigned long long)ev->k);
        r.str[2] = ev->cents < 0 ? "withdrawal" : "deposit";
        r.has[0] = r.has[1] = r.has[2] = true;
        r.account = (int64_t)ev->k;
        /* The double nearest to the decimal the JSON line prints: cents and
         * 100 are exact, so one correctly rounded division gives it. */
        r.amount = (double)ev->cents / 100.0;
        r.ts = ev->ts;
        return fb_write(&r, head, out);
}

static int write_file(const struct gen *g, uint64_t events, const char *out)
{
        struct event ev;
        FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");

        if (!f) {
                fprintf(stderr, "sluice-gen: cannot create %s: %s\n", out, strerror(errno));
                return 1;
        }
        setvbuf(f, NULL, _IOFBF, 1 << 20);
        for (uint64_t i = 0; i < events; i++) {
                gen_event(g, i, &ev);
                if (g->fb) {
                        unsigned char fb[FB_MAX_LEN];
                        fwrite(fb, 1, format_fb(&ev, 4, fb), f);
                } else if (ev.bad_line)
                        fprintf(f, "%s\n", ev.bad_line);
                else
                        fprintf(f, EVENT_FMT, EVENT_ARGS(&ev));
        }
        if (fflush(f) != 0 || ferror(f) || (f != stdout && fclose(f) != 0)) {
                fprintf(stderr, "sluice-gen: write %s: %s\n", out, strerror(errno));
                return 1;
        }
        return 0;
}

/*
 * A small JSON scanner: checks that a line is one JSON object and picks
 * the values of some of its top-level fields (the last one of a name wins).
 */
struct field {
        const char *name;
        size_t name_len;
        const char *val;        /* NULL: missing, null, or not a string or number */
        size_t len;             /* strings: without the quotes, escapes as written */
        bool is_number;
};

struct scan {
        const char *p, *end;
};

enum { V_BAD, V_STRING, V_NUMBER, V_OTHER };

#define JSON_MAX_DEPTH 64

static int scan_value(struct scan *s, int depth, const char **val, size_t *len);

static void skip_ws(struct scan *s)
{
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

static bool at(const struct scan *s, char c)
{
        return s->p < s->end && *s->p == c;
}

static bool is_hex(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* At the opening quote; *str and *len get what is between the quotes. */
static bool scan_string(struct scan *s, const char **str, size_t *len)
{
        const char *start = ++s->p;

        while (s->p < s->end) {
                unsigned char c = (unsigned char)*s->p++;
                if (c == '"') {
                        *str = start;
                        *len = (size_t)(s->p - 1 - start);
                        return true;
                }
                if (c < 0x20)
                        return false;
                if (c != '\\')
                        continue;
                if (s->p == s->end)
                        return false;
                c = (unsigned char)*s->p++;
                if (c == 'u') {
                        if (s->end - s->p < 4 || !is_hex(s->p[0]) || !is_hex(s->p[1]) ||
                            !is_hex(s->p[2]) || !is_hex(s->p[3]))
                                return false;
                        s->p += 4;
                } else if (!memchr("\"\\/bfnrt", c, 8)) {
                        return false;
                }
        }
        return false;
}

static bool scan_digits(struct scan *s)
{
        const char *from = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
                s->p++;
        return s->p > from;
}

static bool scan_number(struct scan *s)
{
        if (at(s, '-'))
                s->p++;
        if (at(s, '0'))
                s->p++;
        else if (!scan_digits(s))
                return false;
        if (at(s, '.')) {
                s->p++;
                if (!scan_digits(s))
                        return false;
        }
        if (at(s, 'e') || at(s, 'E')) {
                s->p++;
                if (at(s, '+') || at(s, '-'))
                        s->p++;
                if (!scan_digits(s))
                        return false;
        }
        return true;
}

static bool scan_literal(struct scan *s, const char *lit)
{
        size_t n = strlen(lit);
        if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
                return false;
        s->p += n;
        return true;
}

static bool scan_array(struct scan *s, int depth)
{
        const char *val;
        size_t len;

        if (depth > JSON_MAX_DEPTH)
                return false;
        s->p++;
        skip_ws(s);
        if (at(s, ']')) {
                s->p++;
                return true;
        }
        for (;;) {
                if (scan_value(s, depth, &val, &len) == V_BAD)
                        return false;
                skip_ws(s);
                if (at(s, ']')) {
                        s->p++;
                        return true;
                }
                if (!at(s, ','))
                        return false;
                s->p++;
        }
}

static void pick_field(struct field *f, int nf, const char *name, size_t name_len,
                       int kind, const char *val, size_t len)
{
        for (int i = 0; i < nf; i++) {
                if (f[i].name_len != name_len || memcmp(f[i].name, name, name_len) != 0)
                        continue;
                bool usable = kind == V_STRING || kind == V_NUMBER;
                f[i].val = usable ? val : NULL;
                f[i].len = usable ? len : 0;
                f[i].is_number = kind == V_NUMBER;
        }
}

/* At the opening brace; picks fields f[0..nf) (nf is 0 below the top). */
static bool scan_object(struct scan *s, int depth, struct field *f, int nf)
{
        const char *name, *val = NULL;
        size_t name_len, len = 0;

        if (depth > JSON_MAX_DEPTH)
                return false;
        s->p++;
        skip_ws(s);
        if (at(s, '}')) {
                s->p++;
                return true;
        }
        for (;;) {
                skip_ws(s);
                if (!at(s, '"') || !scan_string(s, &name, &name_len))
                        return false;
                skip_ws(s);
                if (!at(s, ':'))
                        return false;
                s->p++;
                int kind = scan_value(s, depth, &val, &len);
                if (kind == V_BAD)
                        return false;
                pick_field(f, nf, name, name_len, kind, val, len);
                skip_ws(s);
                if (at(s, '}')) {
                        s->p++;
                        return true;
                }
                if (!at(s, ','))
                        return false;
                s->p++;
        }
}

static int scan_value(struct scan *s, int depth, const char **val, size_t *len)
{
        skip_ws(s);
        if (s->p == s->end)
                return V_BAD;
        switch (*s->p) {
        case '"':
                return scan_string(s, val, len) ? V_STRING : V_BAD;
        case '{':
                return scan_object(s, depth + 1, NULL, 0) ? V_OTHER : V_BAD;
        case '[':
                return scan_array(s, depth + 1) ? V_OTHER : V_BAD;
        case 't':
                return scan_literal(s, "true") ? V_OTHER : V_BAD;
        case 'f':
                return scan_literal(s, "false") ? V_OTHER : V_BAD;
        case 'n':
                return scan_literal(s, "null") ? V_OTHER : V_BAD;
        default:
                *val = s->p;
                if (!scan_number(s))
                        return V_BAD;
                *len = (size_t)(s->p - *val);
                return V_NUMBER;
        }
}

/* Fills f[0..nf) from line; all of them stay NULL unless it is a JSON object. */
static void scan_fields(const char *line, size_t len, struct field *f, int nf)
{
        struct scan s = { line, line + len };

        if (nf == 0)
                return;
        for (int i = 0; i < nf; i++)
                f[i].val = NULL;
        skip_ws(&s);
        bool ok = at(&s, '{') && scan_object(&s, 1, f, nf);
        skip_ws(&s);
        if (!ok || s.p != s.end)
                for (int i = 0; i < nf; i++)
                        f[i].val = NULL;
}

/* An integer field as a timestamp; 0 (the time of sending) if not one. */
static int64_t field_timestamp(const struct field *f)
{
        char buf[24], *end;

        if (!f->val || !f->is_number || f->len >= sizeof buf)
                return 0;
        memcpy(buf, f->val, f->len);
        buf[f->len] = '\0';
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        return errno || *end || v < 0 ? 0 : (int64_t)v;
}

/* Kafka output. */
enum ts_mode { TS_DEFAULT, TS_EVENT, TS_NOW };

struct kafka_opts {
        const char *bootstrap, *topic, *from, *key_field;
        uint64_t rate;
        enum ts_mode ts;
        const char **sets;
        int nsets;
};

#define MAX_SEEN_ERRORS 16

struct producer {
        rd_kafka_t *rk;
        const char *topic;
        uint64_t produced, failed;
        rd_kafka_resp_err_t seen[MAX_SEEN_ERRORS];
        int nseen;
        bool fatal;
};

static volatile sig_atomic_t stop_requests;

static void on_signal(int sig)
{
        (void)sig;
        stop_requests++;
}

/* Counts a failed message; says why the first time each reason shows up. */
static void note_failure(struct producer *p, rd_kafka_resp_err_t err, const char *what)
{
        p->failed++;
        for (int i = 0; i < p->nseen; i++)
                if (p->seen[i] == err)
                        return;
        if (p->nseen == MAX_SEEN_ERRORS)
                return;
        p->seen[p->nseen++] = err;
        fprintf(stderr, "sluice-gen: %s to %s failed: %s (the summary counts all)\n",
                what, p->topic, rd_kafka_err2str(err));
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        if (m->err)
                note_failure(opaque, m->err, "delivery");
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        struct producer *p = opaque;
        char why[512];

        if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
                return;         /* on_log() has said it */
        if (err != RD_KAFKA_RESP_ERR__FATAL) {
                fprintf(stderr, "sluice-gen: kafka: %s\n", reason);
                return;
        }
        rd_kafka_fatal_error(rk, why, sizeof why);
        fprintf(stderr, "sluice-gen: fatal kafka error, stopping: %s\n", why);
        p->fatal = true;
}

/* librdkafka's warnings and errors (log_level 4). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        (void)rk;
        (void)level;
        fprintf(stderr, "sluice-gen: librdkafka %s: %s\n", fac, buf);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *flag)
{
        char errstr[512];

        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK)
                return 0;
        fprintf(stderr, "sluice-gen: %s %s=%s: %s\n", flag, name, value, errstr);
        return -1;
}

/* The producer's configuration; NULL (already reported) if a flag is bad. */
static rd_kafka_conf_t *producer_conf(const struct kafka_opts *ko, struct producer *p)
{
        static const char *const defaults[][2] = {
                {"partitioner", "murmur2_random"},      /* what the Java client does */
                {"linger.ms", "5"},
                {"batch.num.messages", "10000"},
                {"queue.buffering.max.messages", "1000000"},
                {"queue.buffering.max.kbytes", "1048576"},
                {"enable.idempotence", "true"},
                {"compression.codec", "none"},
                {"log_level", "4"},
        };
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        int rc = conf_set(conf, "bootstrap.servers", ko->bootstrap, "--bootstrap");

        for (size_t i = 0; !rc && i < sizeof defaults / sizeof defaults[0]; i++)
                rc = conf_set(conf, defaults[i][0], defaults[i][1], "default");
        for (int i = 0; !rc && i < ko->nsets; i++) {
                const char *eq = strchr(ko->sets[i], '=');
                char name[256];
                snprintf(name, sizeof name, "%.*s", (int)(eq - ko->sets[i]), ko->sets[i]);
                rc = conf_set(conf, name, eq + 1, "--set");
        }
        if (rc) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_conf_set_opaque(conf, p);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_error_cb(conf, on_error);
        rd_kafka_conf_set_log_cb(conf, on_log);
        return conf;
}

/*
 * Creates the producer with SIGINT and SIGTERM blocked, so that
 * librdkafka's threads inherit the mask and the handlers run on this
 * thread, where they cut sleeps short.
 */
static rd_kafka_t *producer_new(rd_kafka_conf_t *conf)
{
        struct sigaction sa = { .sa_handler = on_signal };
        sigset_t sigs, old;
        char errstr[512];

        sigemptyset(&sigs);
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &sigs, &old);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (!rk) {
                fprintf(stderr, "sluice-gen: cannot create a Kafka producer: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
        }
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rk;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/*
 * Asks for the topic's metadata once before producing: it tells us early
 * whether the topic exists, and spares the first batches a wait for it.
 */
static int check_topic(rd_kafka_t *rk, const struct kafka_opts *ko)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, ko->topic, NULL);
        rd_kafka_resp_err_t err;

        if (!rkt) {
                fprintf(stderr, "sluice-gen: --topic %s: %s\n", ko->topic,
                        rd_kafka_err2str(rd_kafka_last_error()));
                return -1;
        }
        /* A topic that was just auto-created has no leader for a moment. */
        for (int tries = 0; tries < 50; tries++) {
                const struct rd_kafka_metadata *md;
                err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
                if (!err) {
                        err = md->topic_cnt == 1 ? md->topics[0].err
                                                 : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
                        rd_kafka_metadata_destroy(md);
                }
                if (err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE || stop_requests)
                        break;
                sleep_ms(200);
        }
        rd_kafka_topic_destroy(rkt);
        if (err)
                fprintf(stderr, "sluice-gen: metadata for topic %s from %s: %s\n",
                        ko->topic, ko->bootstrap, rd_kafka_err2str(err));
        return err ? -1 : 0;
}

/* Returns 0 when queued, 1 when stopped while the queue was full. */
static int produce(struct producer *p, const char *val, size_t len,
                   const char *key, size_t klen, int64_t ts)
{
        for (;;) {
                rd_kafka_resp_err_t err = rd_kafka_producev(p->rk,
                        RD_KAFKA_V_TOPIC(p->topic),
                        RD_KAFKA_V_KEY(key, klen),
                        RD_KAFKA_V_VALUE((void *)val, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_TIMESTAMP(ts),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        p->produced++;
                        if (err)
                                note_failure(p, err, "produce");
                        return 0;
                }
                if (stop_requests || p->fatal)
                        return 1;
                rd_kafka_poll(p->rk, 10);
        }
}

static int64_t elapsed_ns(const struct timespec *t0)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (int64_t)(now.tv_sec - t0->tv_sec) * 1000000000 + (now.tv_nsec - t0->tv_nsec);
}

struct pacer {
        uint64_t rate;          /* messages per second, 0: no limit */
        uint64_t burst;         /* look at the clock every this many */
        struct timespec t0;
};

static void pacer_init(struct pacer *pc, uint64_t rate)
{
        pc->rate = rate;
        pc->burst = rate ? rate / 100 : 1000;           /* about every 10 ms */
        if (pc->burst < 1)
                pc->burst = 1;
        if (pc->burst > 1000)
                pc->burst = 1000;
        clock_gettime(CLOCK_MONOTONIC, &pc->t0);
}

/* After done messages: serves delivery reports, and sleeps until they are due. */
static void pace(struct pacer *pc, rd_kafka_t *rk, uint64_t done)
{
        if (done % pc->burst)
                return;
        rd_kafka_poll(rk, 0);
        if (!pc->rate)
                return;
        int64_t due = (int64_t)(done / pc->rate * 1000000000 +
                                done % pc->rate * 1000000000 / pc->rate);
        for (;;) {
                int64_t left = due - elapsed_ns(&pc->t0);
                if (left <= 0 || stop_requests)
                        return;
                if (left > 50000000)
                        left = 50000000;
                struct timespec ts = { 0, (long)left };
                nanosleep(&ts, NULL);
                rd_kafka_poll(rk, 0);
        }
}

/*
 * Waits up to 60 s for the outstanding deliveries (a signal cuts it
 * short); what is still undelivered then is purged and counted as failed.
 */
static void flush_all(struct producer *p)
{
        sig_atomic_t seen = stop_requests;
        struct timespec t0;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        while (rd_kafka_outq_len(p->rk) > 0) {
                if (elapsed_ns(&t0) >= 60 * 1000000000LL || stop_requests != seen) {
                        fprintf(stderr, "sluice-gen: gave up waiting for %d deliveries to %s\n",
                                rd_kafka_outq_len(p->rk), p->topic);
                        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                        rd_kafka_flush(p->rk, 1000);
                        p->failed += (uint64_t)rd_kafka_outq_len(p->rk);
                        return;
                }
                rd_kafka_flush(p->rk, 100);
        }
}

/* Where the lines come from: the generator, or a file to replay. */
struct source {
        const struct gen *g;
        uint64_t events, i;             /* events 0: no end */
        char line[LINE_MAX_LEN];
        unsigned char fb[FB_MAX_LEN];   /* --format flatbuffers: the event's buffer */
        size_t fblen;
        FILE *f;
        const char *path;
        char *buf;
        size_t cap;
};

static int source_open(struct source *src, const struct gen *g, uint64_t events, const char *from)
{
        *src = (struct source){ .g = g, .events = events, .path = from };
        if (!from)
                return 0;
        src->f = strcmp(from, "-") == 0 ? stdin : fopen(from, "r");
        if (!src->f) {
                fprintf(stderr, "sluice-gen: cannot open %s: %s\n", from, strerror(errno));
                return -1;
        }
        return 0;
}

static void source_close(struct source *src)
{
        if (src->f && src->f != stdin)
                fclose(src->f);
        free(src->buf);
}

/*
 * The next line, without its line end, and its event time (generated
 * lines only).  Returns 1, 0 at the end, -1 on a read error.  A replayed
 * file's empty lines are skipped.
 */
/* --from FILE --format flatbuffers: the next size-prefixed frame's buffer. */
static int source_next_frame(struct source *src, const char **val, size_t *len, int64_t *ts)
{
        unsigned char head[4];
        size_t got = fread(head, 1, 4, src->f);
        if (got == 0 && !ferror(src->f))
                return 0;
        uint32_t n = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 |
                     (uint32_t)head[3] << 24;
        if (got == 4 && n > (1u << 30)) {
                fprintf(stderr, "sluice-gen: %s: a frame of %u bytes: not size-prefixed FlatBuffers?\n",
                        src->path, n);
                return -1;
        }
        if (got == 4 && src->cap < n) {
                char *b = realloc(src->buf, n);
                if (!b) {
                        fprintf(stderr, "sluice-gen: out of memory\n");
                        return -1;
                }
                src->buf = b;
                src->cap = n;
        }
        if (got < 4 || fread(src->buf, 1, n, src->f) != n) {
                fprintf(stderr, "sluice-gen: read %s: %s\n", src->path,
                        ferror(src->f) ? strerror(errno) : "the file ends inside a frame");
                return -1;
        }
        *val = src->buf;
        *len = n;
        *ts = 0;
        return 1;
}

static int source_next(struct source *src, const char **line, size_t *len, int64_t *ts)
{
        if (!src->f) {
                if (src->events && src->i >= src->events)
                        return 0;
                struct event ev;
                gen_event(src->g, src->i++, &ev);
                *len = format_event(&ev, src->line) - 1;
                if (src->g->fb)
                        src->fblen = format_fb(&ev, 0, src->fb);
                *ts = ev.ts;
                *line = src->line;
                return 1;
        }
        if (src->g->fb)
                return source_next_frame(src, line, len, ts);
        for (;;) {
                ssize_t n = getline(&src->buf, &src->cap, src->f);
                if (n < 0) {
                        if (!ferror(src->f))
                                return 0;
                        fprintf(stderr, "sluice-gen: read %s: %s\n", src->path, strerror(errno));
                        return -1;
                }
                while (n > 0 && (src->buf[n - 1] == '\n' || src->buf[n - 1] == '\r'))
                        n--;
                if (n == 0)
                        continue;
                *line = src->buf;
                *len = (size_t)n;
                *ts = 0;
                return 1;
        }
}

/* Reads lines from src and produces them until the end, a signal, or a fatal error. */
static int produce_all(struct producer *p, struct source *src, const struct kafka_opts *ko)
{
        bool event_ts = ko->ts == TS_EVENT;
        struct field f[2];
        int nf = 0, key_i = -1, ts_i = -1;
        struct pacer pc;
        const char *line;
        size_t len;
        int64_t ts;
        int rc = 0;

        if (ko->key_field) {
                f[nf] = (struct field){ .name = ko->key_field, .name_len = strlen(ko->key_field) };
                key_i = nf++;
        }
        if (src->f && event_ts) {
                f[nf] = (struct field){ .name = "timestamp", .name_len = strlen("timestamp") };
                ts_i = nf++;
        }
        pacer_init(&pc, ko->rate);
        while (!stop_requests && !p->fatal && (rc = source_next(src, &line, &len, &ts)) > 0) {
                scan_fields(line, len, f, nf);
                const struct field *key = key_i >= 0 && f[key_i].val ? &f[key_i] : NULL;
                if (!event_ts)
                        ts = 0;
                else if (ts_i >= 0)
                        ts = field_timestamp(&f[ts_i]);
                else if (ts < 0)
                        ts = 0;         /* before 1970: let librdkafka say now */
                /* FlatBuffers: the key still comes from the event's JSON twin. */
                const char *val = src->fblen ? (const char *)src->fb : line;
                size_t vlen = src->fblen ? src->fblen : len;
                if (produce(p, val, vlen, key ? key->val : NULL, key ? key->len : 0, ts))
                        break;
                pace(&pc, p->rk, p->produced);
        }
        return rc < 0 ? -1 : 0;
}

static int run_kafka(const struct gen *g, uint64_t events, const struct kafka_opts *ko)
{
        struct producer p = { .topic = ko->topic };
        struct source src;
        struct timespec t0;
        int rc = 1;

        rd_kafka_conf_t *conf = producer_conf(ko, &p);
        if (!conf)
                return 2;
        if (source_open(&src, g, events, ko->from)) {
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        p.rk = producer_new(conf);
        if (!p.rk) {
                source_close(&src);
                return 1;
        }
        if (check_topic(p.rk, ko) == 0) {
                clock_gettime(CLOCK_MONOTONIC, &t0);
                int read_rc = produce_all(&p, &src, ko);
                flush_all(&p);
                double s = (double)elapsed_ns(&t0) / 1e9;
                fprintf(stderr, "sluice-gen: %llu events to %s in %.2f s (%.0f events/s), %llu failed\n",
                        (unsigned long long)p.produced, ko->topic, s,
                        s > 0 ? (double)p.produced / s : 0.0, (unsigned long long)p.failed);
                rc = read_rc || p.failed || p.fatal ? 1 : 0;
        }
        rd_kafka_destroy(p.rk);
        source_close(&src);
        return rc;
}

static void usage(void)
{
        printf("usage: sluice-gen --events N --keys K [--eps R] [--disorder MS]\n"
               "                  [--skew uniform|zipf] [--seed S] [--start MS]\n"
               "                  [--bad PERMILLE] [--output FILE|-]\n"
               "       sluice-gen [generator flags] --bootstrap HOST:PORT --topic NAME\n"
               "                  [--rate N] [--key-field NAME] [--timestamp event|now]\n"
               "                  [--set NAME=VALUE]...\n"
               "       sluice-gen --from FILE|- --bootstrap HOST:PORT --topic NAME\n"
               "                  [--rate N] [--key-field NAME] [--timestamp event|now]\n"
               "                  [--set NAME=VALUE]... [--format json|flatbuffers]\n"
               "\n"
               "Kafka output: one message per line, keyed by the top-level field\n"
               "--key-field (default userId when generating, no key for --from).\n"
               "  --rate N         messages per second of wall-clock time (default 0: no limit)\n"
               "  --timestamp      event: the event time (default when generating; for --from\n"
               "                   the line's integer \"timestamp\" field); now: time of sending\n"
               "                   (default for --from)\n"
               "  --set NAME=VALUE a librdkafka property (repeatable)\n"
               "  --format F       json (the default), or flatbuffers: the same events as\n"
               "                   FlatBuffers tables of the stream (transactionId STRING,\n"
               "                   userId STRING, account BIGINT, amount DOUBLE, type STRING,\n"
               "                   `timestamp` BIGINT), size-prefixed in a file, one buffer\n"
               "                   per Kafka message; with --from, replays a file of\n"
               "                   size-prefixed buffers, one per message, without keys\n"
               "  --events 0       no end: run until SIGINT or SIGTERM\n");
}

enum {
        OPT_BOOTSTRAP = 256,
        OPT_TOPIC,
        OPT_RATE,
        OPT_SET,
        OPT_FROM,
        OPT_KEY_FIELD,
        OPT_TIMESTAMP,
};

struct opts {
        struct gen g;
        uint64_t events;
        const char *out;
        bool out_given;
        const char *gen_flag;           /* a generator flag that was given */
        const char *kafka_flag;         /* a Kafka flag that was given */
        struct kafka_opts ko;
};

static int parse_ts_mode(const char *s, enum ts_mode *out)
{
        if (strcmp(s, "event") == 0)
                *out = TS_EVENT;
        else if (strcmp(s, "now") == 0)
                *out = TS_NOW;
        else {
                fprintf(stderr, "sluice-gen: --timestamp '%s': expected event or now\n", s);
                return -1;
        }
        return 0;
}

static int parse_set(const char *s)
{
        const char *eq = strchr(s, '=');
        if (!eq || eq == s || eq - s >= 256) {
                fprintf(stderr, "sluice-gen: --set '%s': expected NAME=VALUE\n", s);
                return -1;
        }
        return 0;
}

static int parse_nonempty(const char *opt, const char *s)
{
        if (*s)
                return 0;
        fprintf(stderr, "sluice-gen: %s: empty value\n", opt);
        return -1;
}

/* The flags that go with --bootstrap. */
static int parse_kafka_opt(int c, const char *arg, struct opts *o)
{
        struct kafka_opts *ko = &o->ko;

        switch (c) {
        case OPT_BOOTSTRAP:
                ko->bootstrap = arg;
                return parse_nonempty("--bootstrap", arg);
        case OPT_TOPIC:
                ko->topic = arg;
                return parse_nonempty("--topic", arg);
        case OPT_RATE:
                o->kafka_flag = "--rate";
                return parse_u64("--rate", arg, &ko->rate);
        case OPT_SET:
                o->kafka_flag = "--set";
                ko->sets[ko->nsets++] = arg;
                return parse_set(arg);
        case OPT_FROM:
                o->kafka_flag = "--from";
                ko->from = arg;
                return parse_nonempty("--from", arg);
        case OPT_KEY_FIELD:
                o->kafka_flag = "--key-field";
                ko->key_field = arg;
                return parse_nonempty("--key-field", arg);
        case OPT_TIMESTAMP:
                o->kafka_flag = "--timestamp";
                return parse_ts_mode(arg, &ko->ts);
        }
        return -1;
}

static int bad_option(char **argv, int c)
{
        const char *arg = argv[optind - 1];

        bool is_long = strncmp(arg, "--", 2) == 0;

        if (c == ':')
                fprintf(stderr, "sluice-gen: %s needs a value\n", arg);
        else if (optopt && is_long)
                fprintf(stderr, "sluice-gen: '%s': that option takes no value\n", arg);
        else if (optopt)
                fprintf(stderr, "sluice-gen: unknown option '-%c'\n", optopt);
        else
                fprintf(stderr, "sluice-gen: unknown option '%s'\n", arg);
        return -1;
}

/* The name of a generator flag, NULL for the others. */
static const char *gen_flag_name(int c)
{
        switch (c) {
        case 'n': return "--events";
        case 'k': return "--keys";
        case 'r': return "--eps";
        case 'd': return "--disorder";
        case 'z': return "--skew";
        case 's': return "--seed";
        case 't': return "--start";
        case 'b': return "--bad";
        }
        return NULL;
}

/* Returns 0 to run, 1 after --help, 2 for a bad flag (already reported). */
static int parse_args(int argc, char **argv, struct opts *o)
{
        static const struct option longopts[] = {
                {"events", required_argument, NULL, 'n'},
                {"keys", required_argument, NULL, 'k'},
                {"eps", required_argument, NULL, 'r'},
                {"disorder", required_argument, NULL, 'd'},
                {"skew", required_argument, NULL, 'z'},
                {"seed", required_argument, NULL, 's'},
                {"start", required_argument, NULL, 't'},
                {"bad", required_argument, NULL, 'b'},
                {"output", required_argument, NULL, 'o'},
                {"bootstrap", required_argument, NULL, OPT_BOOTSTRAP},
                {"topic", required_argument, NULL, OPT_TOPIC},
                {"rate", required_argument, NULL, OPT_RATE},
                {"set", required_argument, NULL, OPT_SET},
                {"from", required_argument, NULL, OPT_FROM},
                {"key-field", required_argument, NULL, OPT_KEY_FIELD},
                {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
                {"format", required_argument, NULL, 'F'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int c;

        o->g = (struct gen){ .keys = 1000, .eps = 10000, .start = 1700000000000ull };
        o->events = 1000000;
        o->out = "-";
        o->ko.sets = calloc((size_t)argc, sizeof *o->ko.sets);
        rng_state = 42;
        if (!o->ko.sets) {
                fprintf(stderr, "sluice-gen: out of memory\n");
                return 2;
        }
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":n:k:o:h", longopts, NULL)) != -1) {
                int rc = 0;
                if (gen_flag_name(c))
                        o->gen_flag = gen_flag_name(c);
                switch (c) {
                case 'n': rc = parse_u64("--events", optarg, &o->events); break;
                case 'k': rc = parse_u64("--keys", optarg, &o->g.keys); break;
                case 'r': rc = parse_u64("--eps", optarg, &o->g.eps); break;
                case 'd': rc = parse_u64("--disorder", optarg, &o->g.disorder); break;
                case 's': rc = parse_u64("--seed", optarg, &rng_state); break;
                case 't': rc = parse_u64("--start", optarg, &o->g.start); break;
                case 'b': rc = parse_u64("--bad", optarg, &o->g.bad); break;
                case 'o': o->out = optarg; o->out_given = true; break;
                case 'F':
                        if (strcmp(optarg, "flatbuffers") == 0) {
                                o->g.fb = true;
                        } else if (strcmp(optarg, "json") != 0) {
                                fprintf(stderr, "sluice-gen: --format '%s': expected json or flatbuffers\n",
                                        optarg);
                                rc = -1;
                        }
                        break;
                case 'z':
                        if (strcmp(optarg, "zipf") == 0) {
                                o->g.zipf = true;
                        } else if (strcmp(optarg, "uniform") != 0) {
                                fprintf(stderr, "sluice-gen: --skew '%s': expected uniform or zipf\n", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        usage();
                        return 1;
                case '?':
                case ':':
                        rc = bad_option(argv, c);
                        break;
                default:
                        rc = parse_kafka_opt(c, optarg, o);
                        break;
                }
                if (rc)
                        return 2;
        }
        if (optind != argc) {
                fprintf(stderr, "sluice-gen: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        return 0;
}

/* The combinations of flags that make no sense. */
static int check_args(const struct opts *o)
{
        const struct kafka_opts *ko = &o->ko;

        if (!ko->bootstrap != !ko->topic) {
                fprintf(stderr, "sluice-gen: --bootstrap and --topic go together\n");
                return 2;
        }
        if (ko->bootstrap && o->out_given) {
                fprintf(stderr, "sluice-gen: --output and --bootstrap exclude each other\n");
                return 2;
        }
        if (!ko->bootstrap && o->kafka_flag) {
                fprintf(stderr, "sluice-gen: %s needs --bootstrap and --topic\n", o->kafka_flag);
                return 2;
        }
        if (ko->from && o->g.fb && (ko->key_field || ko->ts == TS_EVENT)) {
                fprintf(stderr, "sluice-gen: --from with --format flatbuffers replays buffers without "
                                "keys or event times (no --key-field, no --timestamp event)\n");
                return 2;
        }
        if (ko->from && o->gen_flag) {
                fprintf(stderr, "sluice-gen: %s does not apply to --from (which replays a file)\n",
                        o->gen_flag);
                return 2;
        }
        if (o->g.keys == 0 || o->g.eps == 0 || o->g.bad > 1000) {
                fprintf(stderr, "sluice-gen: --keys and --eps must be > 0, --bad at most 1000\n");
                return 2;
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct opts o = { 0 };
        int rc = parse_args(argc, argv, &o);

        if (!rc)
                rc = check_args(&o);
        if (rc) {
                free(o.ko.sets);
                return rc == 1 ? 0 : 2;
        }
        if (o.ko.ts == TS_DEFAULT)
                o.ko.ts = o.ko.from ? TS_NOW : TS_EVENT;
        if (o.ko.bootstrap && !o.ko.from && !o.ko.key_field)
                o.ko.key_field = "userId";
        if (o.g.zipf && !o.ko.from && zipf_init(o.g.keys) != 0) {
                fprintf(stderr, "sluice-gen: out of memory\n");
                free(o.ko.sets);
                return 1;
        }
        if (o.ko.bootstrap)
                rc = run_kafka(&o.g, o.events, &o.ko);
        else
                rc = write_file(&o.g, o.events, o.out);
        free(zipf_cdf);
        free(o.ko.sets);
        return rc;
}
