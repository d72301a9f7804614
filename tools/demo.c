/*
 * demo.c - `sluice demo`.
 *
 * One process, four parts, all talking the Kafka protocol over loopback:
 *   - librdkafka's mock cluster (3 brokers);
 *   - a generator thread producing card transactions into
 *     transactions-topic (4 partitions, keyed by userId), with event time
 *     running --speed times faster than the clock so that 5-minute windows
 *     close every few seconds;
 *   - sluice itself, exactly-once, on the moving-average pipeline of use
 *     case 1 and a big-spender alert;
 *   - a tail thread that reads the output topics (read_committed) and
 *     prints a sample of the rows as they arrive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "include/sluice/sluice.h"
#include "tools/demo.h"

static const char demo_sql[] =
        "SET 'application.id' = 'sluice-demo';\n"
        "CREATE STREAM transactions (transactionId STRING, userId STRING KEY,\n"
        "                            amount DOUBLE, `timestamp` BIGINT)\n"
        "  WITH (KAFKA_TOPIC = 'transactions-topic', VALUE_FORMAT = 'JSON',\n"
        "        TIMESTAMP = 'timestamp');\n"
        "CREATE TABLE moving_averages WITH (KAFKA_TOPIC = 'aggregated-transactions-topic') AS\n"
        "  SELECT userId, AVG(amount) AS movingAverage, COUNT(*) AS transactions,\n"
        "         WINDOWSTART AS windowStart, WINDOWEND AS windowEnd\n"
        "  FROM transactions\n"
        "  WINDOW TUMBLING (SIZE 5 MINUTES, GRACE PERIOD 30 SECONDS)\n"
        "  GROUP BY userId\n"
        "  EMIT FINAL;\n"
        "CREATE TABLE big_spenders WITH (KAFKA_TOPIC = 'big-spender-alerts') AS\n"
        "  SELECT userId, SUM(amount) AS total, COUNT(*) AS transactions,\n"
        "         WINDOWSTART AS windowStart, WINDOWEND AS windowEnd\n"
        "  FROM transactions\n"
        "  WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 2 SECONDS)\n"
        "  GROUP BY userId\n"
        "  HAVING SUM(amount) > 9000\n"
        "  EMIT FINAL;\n";

struct demo {
        const char *bootstrap;
        unsigned rate;
        unsigned keys;
        unsigned speed;
        volatile int *stop;
        _Atomic bool done;
        _Atomic uint64_t generated;
        _Atomic uint64_t tailed;
        int64_t start_ms;
        bool tty;
};

static int64_t wall_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool over(struct demo *d)
{
        return *d->stop || atomic_load(&d->done);
}

static void *generator(void *arg)
{
        struct demo *d = arg;
        char e[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_conf_set(c, "bootstrap.servers", d->bootstrap, e, sizeof e);
        rd_kafka_conf_set(c, "linger.ms", "5", e, sizeof e);
        rd_kafka_conf_set(c, "partitioner", "murmur2_random", e, sizeof e);
        rd_kafka_conf_set(c, "enable.idempotence", "true", e, sizeof e);
        rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
        if (!p) {
                fprintf(stderr, "sluice demo: generator: %s\n", e);
                return NULL;
        }
        uint64_t x = 0x9e3779b97f4a7c15ull, n = 0;
        int64_t t0 = wall_ms();
        while (!over(d)) {
                int64_t now = wall_ms();
                uint64_t due = (uint64_t)(now - t0) * d->rate / 1000;
                for (; n < due && !over(d); n++) {
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        unsigned user = (unsigned)(x % d->keys);
                        double amount = (double)(x >> 40 & 0xffff) / 100.0;
                        int64_t ts = d->start_ms + (now - t0) * d->speed - (int64_t)(x >> 20 & 1023);
                        char key[32], val[256];
                        int kl = snprintf(key, sizeof key, "user%u", user);
                        int vl = snprintf(val, sizeof val,
                                "{\"transactionId\":\"t%" PRIu64 "\",\"userId\":\"user%u\","
                                "\"amount\":%.2f,\"timestamp\":%" PRId64 "}", n, user, amount, ts);
                        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("transactions-topic"),
                                        RD_KAFKA_V_KEY(key, (size_t)kl),
                                        RD_KAFKA_V_VALUE(val, (size_t)vl),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(p, 10);
                        atomic_fetch_add(&d->generated, 1);
                }
                rd_kafka_poll(p, 10);
        }
        rd_kafka_flush(p, 5000);
        rd_kafka_destroy(p);
        return NULL;
}

static void *tail(void *arg)
{
        struct demo *d = arg;
        char e[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        rd_kafka_conf_set(c, "bootstrap.servers", d->bootstrap, e, sizeof e);
        rd_kafka_conf_set(c, "group.id", "sluice-demo-tail", e, sizeof e);
        rd_kafka_conf_set(c, "isolation.level", "read_committed", e, sizeof e);
        rd_kafka_conf_set(c, "auto.offset.reset", "earliest", e, sizeof e);
        rd_kafka_conf_set(c, "session.timeout.ms", "6000", e, sizeof e);
        rd_kafka_conf_set(c, "fetch.wait.max.ms", "50", e, sizeof e);
        rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
        if (!k) {
                fprintf(stderr, "sluice demo: tail: %s\n", e);
                return NULL;
        }
        rd_kafka_poll_set_consumer(k);
        rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(t, "aggregated-transactions-topic", RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(t, "big-spender-alerts", RD_KAFKA_PARTITION_UA);
        rd_kafka_subscribe(k, t);
        rd_kafka_topic_partition_list_destroy(t);
        time_t shown_at = 0;
        unsigned shown = 0;
        while (!over(d)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(k, 100);
                if (!m)
                        continue;
                if (!m->err) {
                        atomic_fetch_add(&d->tailed, 1);
                        time_t now = time(NULL);
                        if (now != shown_at) {
                                shown_at = now;
                                shown = 0;
                        }
                        /* A sample: three rows a second keep the screen readable. */
                        if (shown++ < 3)
                                fprintf(stderr, "%s  %-30s %.*s  %.*s\n", d->tty ? "\r\033[K" : "",
                                        rd_kafka_topic_name(m->rkt), (int)m->key_len,
                                        (const char *)m->key, (int)m->len,
                                        (const char *)m->payload);
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(k);
        rd_kafka_destroy(k);
        return NULL;
}

struct watch {
        struct demo *d;
        volatile int *run_stop;
        unsigned seconds;
};

/* Turns Ctrl-C (the demo's stop flag) or the time limit into sluice's. */
static void *watch_main(void *arg)
{
        struct watch *w = arg;
        int64_t end = w->seconds ? wall_ms() + (int64_t)w->seconds * 1000 : INT64_MAX;
        while (!*w->d->stop && !atomic_load(&w->d->done) && wall_ms() < end) {
                struct timespec ts = {0, 50 * 1000000};
                nanosleep(&ts, NULL);
        }
        *w->run_stop = 1;
        return NULL;
}

static void started(void *arg, const char *bootstrap, const char *group)
{
        (void)arg;
        fprintf(stderr, "sluice demo: mock cluster at %s; sluice is in group %s, exactly-once.\n"
                        "  Output rows below are read back from Kafka (read_committed); "
                        "Ctrl-C stops.\n", bootstrap, group);
}

int sluice_demo(int argc, char **argv, volatile int *stop)
{
        static const struct option longopts[] = {
                {"seconds", required_argument, NULL, 's'},
                {"rate", required_argument, NULL, 'r'},
                {"keys", required_argument, NULL, 'k'},
                {"speed", required_argument, NULL, 'x'},
                {"workers", required_argument, NULL, 'w'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        struct demo d = {.rate = 20000, .keys = 1000, .speed = 60, .stop = stop,
                         .tty = isatty(2)};
        unsigned seconds = 0, workers = 0;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                char *end;
                unsigned long v = optarg ? strtoul(optarg, &end, 10) : 0;
                if (optarg && (*end || !*optarg || v > 100000000)) {
                        fprintf(stderr, "sluice demo: '%s': expected a whole number\n", optarg);
                        return 2;
                }
                switch (c) {
                case 's': seconds = (unsigned)v; break;
                case 'r': d.rate = (unsigned)v; break;
                case 'k': d.keys = v ? (unsigned)v : 1; break;
                case 'x': d.speed = v ? (unsigned)v : 1; break;
                case 'w': workers = (unsigned)v; break;
                case 'h':
                        fputs("usage: sluice demo [--seconds S] [--rate EVENTS_PER_S] [--keys K]\n"
                              "                   [--speed EVENT_MS_PER_MS] [--workers N]\n", stdout);
                        return 0;
                default:
                        return 2;
                }
        }
        char e[256];
        rd_kafka_conf_t *mc = rd_kafka_conf_new();
        rd_kafka_conf_set(mc, "log_level", "3", e, sizeof e);
        rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mc, e, sizeof e);
        rd_kafka_mock_cluster_t *mock = mrk ? rd_kafka_mock_cluster_new(mrk, 3) : NULL;
        if (!mock) {
                fprintf(stderr, "sluice demo: cannot start the mock cluster\n");
                return 1;
        }
        rd_kafka_mock_topic_create(mock, "transactions-topic", 4, 1);
        rd_kafka_mock_topic_create(mock, "aggregated-transactions-topic", 4, 1);
        rd_kafka_mock_topic_create(mock, "big-spender-alerts", 4, 1);
        d.bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
        d.start_ms = wall_ms() / 300000 * 300000;

        char err[1024];
        struct sluice_pipeline *p = sluice_pipeline_parse(demo_sql, sizeof demo_sql - 1,
                                                          "demo.sql", err, sizeof err);
        if (!p) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        pthread_t gen, tl;
        pthread_create(&gen, NULL, generator, &d);
        pthread_create(&tl, NULL, tail, &d);
        volatile int run_stop = 0;
        struct sluice_kafka_opts k = {.bootstrap = d.bootstrap, .workers = workers,
                                      .stop = &run_stop, .status = isatty(2),
                                      .started = started};
        /* sluice runs on this thread; a watcher turns Ctrl-C or the time
         * limit into its stop flag. */
        struct watch wa = {&d, &run_stop, seconds};
        pthread_t wt;
        pthread_create(&wt, NULL, watch_main, &wa);
        struct sluice_report *rep = NULL;
        int rc = sluice_run_kafka(p, &k, &rep, err, sizeof err);
        atomic_store(&d.done, true);
        pthread_join(wt, NULL);
        pthread_join(gen, NULL);
        pthread_join(tl, NULL);
        if (rep)
                fputs(sluice_report_text(rep), stderr);
        fprintf(stderr, "sluice demo: %" PRIu64 " transactions generated, %" PRIu64
                        " result rows read back from Kafka\n",
                atomic_load(&d.generated), atomic_load(&d.tailed));
        if (rc)
                fprintf(stderr, "sluice demo: %s\n", err);
        sluice_report_free(rep);
        sluice_pipeline_free(p);
        rd_kafka_mock_cluster_destroy(mock);
        rd_kafka_destroy(mrk);
        return rc ? 1 : 0;
}
