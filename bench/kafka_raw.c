/*
 * kafka_raw.c - the I/O ceiling of Kafka mode: a plain librdkafka consumer
 * that does nothing with the messages, so that sluice's Kafka-mode rate can
 * be quoted as a fraction of it in the same run.
 *
 *   kafka_raw --bootstrap HOST:PORT --topic T [--group G] [--count N]
 *             [--idle-ms MS] [--set name=value]... [--read-committed]
 *             [--latency WARMUP_MS [--latency-hist FILE]]
 *
 * Subscribes with the cooperative-sticky assignor from the earliest offset
 * (no commits) and consumes with rd_kafka_consume_batch_queue() on the
 * consumer queue in batches of 1024: rd_kafka_consumer_poll() stalls near
 * 330k msgs/s in librdkafka 2.0.2 (see /work/shared/KAFKA_MOCK.md), batch
 * consumption and a large queued.min.messages reach millions.  Each message
 * is touched minimally (its payload length is summed) and destroyed.
 *
 * Stops after N messages (--count; 0, the default, means no limit), after
 * --idle-ms (default 3000) without a message once one has arrived, or on
 * SIGINT/SIGTERM.  The clock runs from the first message to the last, so the
 * consumer-group join and the idle wait are not counted.  Prints one line:
 *
 *   kafka_raw messages=N bytes=B seconds=S rate=R
 *
 * (B = sum of payload lengths, R = messages/s).  Diagnostics go to stderr,
 * prefixed "kafka_raw: ".  Exit 1 if there were consumer errors (rkmessage->err
 * other than partition EOF; reported and counted), offset resets after fetch
 * errors (skipped data, see offset_resets), or fewer than --count messages
 * before the idle timeout; exit 2 on bad flags.  Transport errors (broker
 * down, disconnects) arrive as rdkafka log lines, not as messages, in batch
 * mode: they are printed but do not change the exit status.
 *
 * --latency measures CreateTime to consumed for the messages created after
 * the first one plus WARMUP_MS, in 1 ms buckets, and prints p50 and p99;
 * --latency-hist also writes the histogram to FILE, one line
 * "MS COUNT" per non-empty bucket (MS = the bucket's lower end; the last
 * bucket, 10000, holds 10 s or more), for bench/run's plot.
 *
 * --set applies a librdkafka property after the defaults above, so it can
 * override them; --read-committed sets isolation.level=read_committed (the
 * default here is read_uncommitted; the mock cluster has no transactional
 * visibility, so the two behave alike against it).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define BATCH 1024
#define POLL_MS 100         /* longest single wait: bounds the reaction to signals */
#define MAX_REPORTED 20     /* consumer errors printed one by one; the rest are counted */
#define MAX_SETS 256

static volatile sig_atomic_t stop_requested;

/* Offset resets forced by an error (e.g. OFFSET_OUT_OF_RANGE when the
 * consumer fell behind retention - the mock keeps only ~5 MiB per partition)
 * skip data silently: librdkafka only logs them, at LOG_WARNING with facility
 * "OFFSET" (resets without an error are debug-logged).  Counted as errors. */
static atomic_uint_fast64_t offset_resets;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

/* --latency: CreateTime to consumed, 1 ms buckets (the last: 10 s or more),
 * for messages created after the first one plus the warm-up. */
#define LAT_BUCKETS 10001
static uint64_t lat_hist[LAT_BUCKETS], lat_n;
static int64_t lat_from = -1;

static int64_t wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void lat_note(const rd_kafka_message_t *m, uint64_t skip_ms)
{
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(m, &tt), now = wall_ms();
        if (lat_from < 0)
                lat_from = now + (int64_t)skip_ms;
        if (ts < lat_from)
                return;
        int64_t d = now - ts < 0 ? 0 : now - ts;
        lat_hist[d < LAT_BUCKETS - 1 ? d : LAT_BUCKETS - 1]++;
        lat_n++;
}

static int lat_q(double q)
{
        uint64_t want = (uint64_t)((double)lat_n * q), seen = 0;
        for (int i = 0; i < LAT_BUCKETS; i++)
                if ((seen += lat_hist[i]) > want)
                        return i;
        return LAT_BUCKETS - 1;
}

static bool lat_write(const char *path)
{
        FILE *f = fopen(path, "w");
        if (!f) {
                fprintf(stderr, "kafka_raw: %s: %s\n", path, strerror(errno));
                return false;
        }
        for (int i = 0; i < LAT_BUCKETS; i++)
                if (lat_hist[i])
                        fprintf(f, "%d %" PRIu64 "\n", i, lat_hist[i]);
        if (fclose(f) != 0) {
                fprintf(stderr, "kafka_raw: writing %s: %s\n", path, strerror(errno));
                return false;
        }
        return true;
}

static void usage(FILE *f)
{
        fputs("usage: kafka_raw --bootstrap HOST:PORT --topic T [--group G] [--count N]\n"
              "                 [--idle-ms MS] [--set name=value]... [--read-committed]\n"
              "                 [--latency WARMUP_MS [--latency-hist FILE]]\n", f);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int bad_flag(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fputs("kafka_raw: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputs(" (try --help)\n", stderr);
        va_end(ap);
        return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
        char *end;
        errno = 0;
        if (!*s || *s == '-' || *s == '+')
                return false;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return false;
        *out = v;
        return true;
}

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        (void)rk;
        if (level <= 4 /* LOG_WARNING */ && strcmp(fac, "OFFSET") == 0)
                atomic_fetch_add(&offset_resets, 1);
        fprintf(stderr, "kafka_raw: rdkafka %d %s: %s\n", level, fac, buf);
}

static bool conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
        char err[512];
        if (rd_kafka_conf_set(conf, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "kafka_raw: %s=%s: %s\n", name, value, err);
                return false;
        }
        return true;
}

int main(int argc, char **argv)
{
        const char *bootstrap = NULL, *topic = NULL, *group = NULL;
        uint64_t count = 0, idle_ms = 3000;
        bool read_committed = false;
        uint64_t skip_ms = 0; /* --latency-after: warm-up not measured */
        bool latency = false;
        const char *hist_path = NULL;
        const char *sets[MAX_SETS];
        int nsets = 0;

        enum { O_BOOTSTRAP = 256, O_TOPIC, O_GROUP, O_COUNT, O_IDLE, O_SET, O_RC, O_HELP, O_LAT, O_HIST };
        static const struct option opts[] = {
                { "bootstrap", required_argument, NULL, O_BOOTSTRAP },
                { "topic", required_argument, NULL, O_TOPIC },
                { "group", required_argument, NULL, O_GROUP },
                { "count", required_argument, NULL, O_COUNT },
                { "idle-ms", required_argument, NULL, O_IDLE },
                { "set", required_argument, NULL, O_SET },
                { "read-committed", no_argument, NULL, O_RC },
                { "latency", required_argument, NULL, O_LAT },
                { "latency-hist", required_argument, NULL, O_HIST },
                { "help", no_argument, NULL, O_HELP },
                { NULL, 0, NULL, 0 },
        };
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
                switch (c) {
                case O_BOOTSTRAP: bootstrap = optarg; break;
                case O_TOPIC: topic = optarg; break;
                case O_GROUP: group = optarg; break;
                case O_COUNT:
                        if (!parse_u64(optarg, &count))
                                return bad_flag("--count '%s': expected a whole number", optarg);
                        break;
                case O_IDLE:
                        if (!parse_u64(optarg, &idle_ms) || idle_ms > 86400000)
                                return bad_flag("--idle-ms '%s': expected milliseconds (0..86400000)",
                                                optarg);
                        break;
                case O_SET:
                        if (!strchr(optarg, '=') || optarg[0] == '=')
                                return bad_flag("--set '%s': expected name=value", optarg);
                        if (nsets == MAX_SETS)
                                return bad_flag("too many --set flags (at most %d)", MAX_SETS);
                        sets[nsets++] = optarg;
                        break;
                case O_RC: read_committed = true; break;
                case O_LAT:
                        if (!parse_u64(optarg, &skip_ms))
                                return bad_flag("--latency '%s': expected warm-up milliseconds", optarg);
                        latency = true;
                        break;
                case O_HIST: hist_path = optarg; break;
                case O_HELP: usage(stdout); return 0;
                case ':':
                        return bad_flag("%s needs a value", argv[optind - 1]);
                default:
                        return bad_flag("unknown argument '%s'", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return bad_flag("unexpected argument '%s'", argv[optind]);
        if (!bootstrap || !*bootstrap)
                return bad_flag("--bootstrap HOST:PORT is required");
        if (!topic || !*topic)
                return bad_flag("--topic is required");
        if (hist_path && !latency)
                return bad_flag("--latency-hist needs --latency");
        char default_group[64];
        if (!group) {
                snprintf(default_group, sizeof default_group, "kafka-raw-%ld", (long)getpid());
                group = default_group;
        }

        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, log_cb);
        bool ok = conf_set(conf, "bootstrap.servers", bootstrap) &&
                  conf_set(conf, "group.id", group) &&
                  conf_set(conf, "client.id", "kafka_raw") &&
                  conf_set(conf, "partition.assignment.strategy", "cooperative-sticky") &&
                  conf_set(conf, "auto.offset.reset", "earliest") &&
                  conf_set(conf, "enable.auto.commit", "false") &&
                  conf_set(conf, "enable.partition.eof", "false") &&
                  conf_set(conf, "session.timeout.ms", "6000") &&
                  conf_set(conf, "queued.min.messages", "1000000") &&
                  conf_set(conf, "fetch.wait.max.ms", "10") &&
                  conf_set(conf, "isolation.level",
                           read_committed ? "read_committed" : "read_uncommitted");
        for (int i = 0; ok && i < nsets; i++) {
                size_t n = (size_t)(strchr(sets[i], '=') - sets[i]);
                char name[256];
                if (n >= sizeof name) {
                        rd_kafka_conf_destroy(conf);
                        return bad_flag("--set '%s': name too long", sets[i]);
                }
                memcpy(name, sets[i], n);
                name[n] = '\0';
                ok = conf_set(conf, name, sets[i] + n + 1);
        }
        if (!ok) {
                rd_kafka_conf_destroy(conf);
                return 2;
        }

        char errstr[512];
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        if (!rk) {
                fprintf(stderr, "kafka_raw: rd_kafka_new: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        /* Route the main queue (errors, logs, stats) into the consumer queue,
         * which the batch calls below serve. */
        rd_kafka_poll_set_consumer(rk);

        rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        if (err) {
                fprintf(stderr, "kafka_raw: subscribe %s: %s\n", topic, rd_kafka_err2str(err));
                rd_kafka_destroy(rk);
                return 1;
        }
        rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);

        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);

        static rd_kafka_message_t *msgs[BATCH];
        uint64_t n_msgs = 0, n_bytes = 0, n_errors = 0;
        double t_first = 0, t_last = 0;
        int exit_code = 0;

        while (!stop_requested && (count == 0 || n_msgs < count)) {
                /* A batch call waits for a full batch or the timeout: when
                 * measuring latency, keep the wait short. */
                int timeout = latency ? 1 : POLL_MS;
                if (n_msgs > 0) {
                        double left_ms = (t_last + (double)idle_ms / 1000.0 - now_s()) * 1000.0;
                        if (left_ms <= 0)
                                break;
                        if (left_ms < timeout)
                                timeout = (int)left_ms + 1;
                }
                size_t want = BATCH;
                if (count && count - n_msgs < want)
                        want = (size_t)(count - n_msgs);
                ssize_t got = rd_kafka_consume_batch_queue(q, timeout, msgs, want);
                if (got < 0) {
                        fprintf(stderr, "kafka_raw: consume: %s\n",
                                rd_kafka_err2str(rd_kafka_last_error()));
                        exit_code = 1;
                        break;
                }
                uint64_t good = 0, bytes = 0;
                for (ssize_t i = 0; i < got; i++) {
                        rd_kafka_message_t *m = msgs[i];
                        if (!m->err) {
                                good++;
                                bytes += m->len;
                                if (latency)
                                        lat_note(m, skip_ms);
                        } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                                if (++n_errors <= MAX_REPORTED) {
                                        if (m->rkt)
                                                fprintf(stderr, "kafka_raw: consumer error on %s [%" PRId32
                                                        "] at offset %" PRId64 ": %s\n",
                                                        rd_kafka_topic_name(m->rkt), m->partition,
                                                        m->offset, rd_kafka_message_errstr(m));
                                        else
                                                fprintf(stderr, "kafka_raw: consumer error: %s\n",
                                                        rd_kafka_message_errstr(m));
                                }
                        }
                        rd_kafka_message_destroy(m);
                }
                if (good) {
                        double t = now_s();
                        if (n_msgs == 0)
                                t_first = t;
                        t_last = t;
                        n_msgs += good;
                        n_bytes += bytes;
                }
                char fatal[512];
                if ((err = rd_kafka_fatal_error(rk, fatal, sizeof fatal))) {
                        fprintf(stderr, "kafka_raw: fatal: %s: %s\n", rd_kafka_err2name(err), fatal);
                        exit_code = 1;
                        break;
                }
        }
        if (n_errors > MAX_REPORTED)
                fprintf(stderr, "kafka_raw: %" PRIu64 " consumer errors in all (%d shown)\n",
                        n_errors, MAX_REPORTED);
        if (n_errors)
                exit_code = 1;
        uint64_t resets = atomic_load(&offset_resets);
        if (resets) {
                fprintf(stderr, "kafka_raw: %" PRIu64 " offset reset(s) after fetch errors: "
                        "messages were skipped (consumer behind retention?)\n", resets);
                exit_code = 1;
        }
        if (count && n_msgs < count && !stop_requested && exit_code == 0) {
                fprintf(stderr, "kafka_raw: only %" PRIu64 " of %" PRIu64 " messages "
                        "before %" PRIu64 " ms idle\n", n_msgs, count, idle_ms);
                exit_code = 1;
        }

        /* The first batch's timestamp stands for its first message, so the
         * messages of that batch are counted over the span from its arrival;
         * with 1024-message batches among millions the bias is negligible. */
        double seconds = t_last - t_first;
        double rate = seconds > 0 ? (double)n_msgs / seconds : 0.0;
        printf("kafka_raw messages=%" PRIu64 " bytes=%" PRIu64 " seconds=%.3f rate=%.0f",
               n_msgs, n_bytes, seconds, rate);
        if (latency && lat_n)
                printf(" latency_p50_ms=%d latency_p99_ms=%d", lat_q(0.5), lat_q(0.99));
        printf("\n");
        fflush(stdout);
        if (hist_path && !lat_write(hist_path))
                exit_code = 1;

        rd_kafka_queue_destroy(q);
        err = rd_kafka_consumer_close(rk);
        if (err) {
                fprintf(stderr, "kafka_raw: consumer close: %s\n", rd_kafka_err2str(err));
                exit_code = 1;
        }
        rd_kafka_destroy(rk);
        return exit_code;
}
