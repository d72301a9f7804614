/*
 * bench_window.cc - window update and window close through the real
 * aggregation operator (engine/aggop.c), with the plan built from SQL:
 * 5-minute tumbling SUM, COUNT and AVG of amount per userId, EMIT FINAL
 * (the query of bench/scenarios/tumbling_sum_count_avg.sql).
 *
 * Records are items as the dispatcher builds them and are applied as the
 * worker applies them (prefetch 16 and 8 records ahead); see
 * bench/window_shim.c.
 *
 *   update/keys:K/zipf:Z   records into the open window of existing keys
 *                          (the steady state), K keys, key choices uniform
 *                          (Z=0) or Zipf 0.99 (Z=1) from a prebuilt
 *                          sequence of 1M records read cyclically.
 *                          Items/s = records applied per second.
 *   close/keys:K           stream time passes the end of the window that
 *                          all K keys are in: K EMIT FINAL rows (AVG
 *                          computed, row encoded as JSON, queued for the
 *                          merger).  Items/s = windows closed per second.
 *   open/keys:K            one record for each of K keys into the next
 *                          window, after the previous one closed (the
 *                          first record of a window: a new entry).
 *
 *   update_fn/fn:F/keys:K  as update (uniform keys), for one aggregate of
 *                          a BIGINT v that varies per record: F = 0
 *                          SUM(v) (the baseline), 1 COUNT_DISTINCT(v),
 *                          2 TOPK(v, 10), 3 TOPKDISTINCT(v, 10),
 *                          4 STDDEV_SAMP(v).  With 1,000 keys each key sees
 *                          about 1,000 distinct values (COUNT_DISTINCT in
 *                          registers), with 100,000 about 10 (hashes).
 *   session_update, session_close, session_open: the same with
 *                          WINDOW SESSION (5 MINUTES) instead (one session
 *                          per key; update records fall inside it).
 *
 * close and open are timed by hand (UseManualTime) around that step only;
 * draining the output queue and refilling are not timed.
 */
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench/keyseq.h"
#include "bench/window_shim.h"

namespace {

const char kSql[] =
        "CREATE STREAM transactions (transactionId STRING, userId STRING, amount DOUBLE, "
        "`timestamp` BIGINT)\n"
        "  WITH (KAFKA_TOPIC='transactions', VALUE_FORMAT='JSON', TIMESTAMP='timestamp');\n"
        "CREATE TABLE stats AS SELECT userId, SUM(amount) AS total, COUNT(*) AS n, "
        "AVG(amount) AS avgAmount,\n"
        "  WINDOWSTART AS ws, WINDOWEND AS we\n"
        "  FROM transactions WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY userId EMIT FINAL;\n";

/* update_fn: the aggregate of v after "SELECT userId, " */
const char *const kFnAgg[] = {"SUM(v)", "COUNT_DISTINCT(v)", "TOPK(v, 10)",
                              "TOPKDISTINCT(v, 10)", "STDDEV_SAMP(v)"};

std::string fn_sql(int64_t fn)
{
        return std::string("CREATE STREAM transactions (transactionId STRING, userId STRING, "
                           "amount DOUBLE, v BIGINT, `timestamp` BIGINT)\n"
                           "  WITH (KAFKA_TOPIC='transactions', VALUE_FORMAT='JSON', "
                           "TIMESTAMP='timestamp');\n"
                           "CREATE TABLE stats AS SELECT userId, ") +
               kFnAgg[fn] +
               " AS a\n  FROM transactions WINDOW TUMBLING (SIZE 5 MINUTES) GROUP BY userId "
               "EMIT FINAL;\n";
}

const char kSessionSql[] =
        "CREATE STREAM transactions (transactionId STRING, userId STRING, amount DOUBLE, "
        "`timestamp` BIGINT)\n"
        "  WITH (KAFKA_TOPIC='transactions', VALUE_FORMAT='JSON', TIMESTAMP='timestamp');\n"
        "CREATE TABLE stats AS SELECT userId, SUM(amount) AS total, COUNT(*) AS n, "
        "AVG(amount) AS avgAmount,\n"
        "  WINDOWSTART AS ws, WINDOWEND AS we\n"
        "  FROM transactions WINDOW SESSION (5 MINUTES) GROUP BY userId EMIT FINAL;\n";

constexpr uint32_t kSeqLen = 1u << 20;
constexpr uint32_t kBlock = 1024; /* records per iteration of update */

struct fixture {
        int kind = -1; /* 0 update, 1 close/open; + 2: session window; 4 update_fn (dist: fn) */
        int64_t nkeys = 0, dist = 0;
        wshim *s = nullptr;
        int64_t w = 0; /* close/open: every key is in window w */
        ~fixture() { wshim_free(s); }
};

std::unique_ptr<fixture> g_fx;

fixture *get_fixture(int kind, int64_t nkeys, int64_t dist)
{
        if (g_fx && g_fx->kind == kind && g_fx->nkeys == nkeys && g_fx->dist == dist)
                return g_fx.get();
        g_fx.reset();
        auto fx = std::make_unique<fixture>();
        fx->kind = kind;
        fx->nkeys = nkeys;
        fx->dist = dist;
        std::vector<uint32_t> seq;
        if (kind % 2 == 0) {
                keyseq::rng r{(uint64_t)nkeys * 7 + (uint64_t)(kind != 4 ? dist : 0)};
                seq.resize(kSeqLen);
                if (dist == 0 || kind == 4) {
                        for (auto &k : seq)
                                k = (uint32_t)(r.next() % (uint64_t)nkeys);
                } else {
                        keyseq::zipf z((uint64_t)nkeys, 0.99);
                        /* scatter the hot ranks over the table */
                        for (auto &k : seq)
                                k = (uint32_t)(keyseq::mix64(z.draw(r)) % (uint64_t)nkeys);
                }
        }
        char err[512];
        std::string sql = kind == 4 ? fn_sql(dist) : std::string(kind >= 2 ? kSessionSql : kSql);
        fx->s = wshim_new(sql.c_str(), (uint32_t)nkeys, seq.data(), (uint32_t)seq.size(), err,
                          sizeof err);
        if (!fx->s) {
                std::fprintf(stderr, "bench_window: %s\n", err);
                std::abort();
        }
        g_fx = std::move(fx);
        return g_fx.get();
}

void counters(benchmark::State &state, const fixture *fx)
{
        uint64_t keys, bytes;
        wshim_stats(fx->s, &keys, &bytes);
        state.counters["keys"] = (double)keys;
        state.counters["MB"] = (double)bytes / 1e6;
}

void update(benchmark::State &state, fixture *fx)
{
        uint32_t pos = 0;
        for (auto _ : state) {
                if (wshim_update(fx->s, pos, kBlock) != 0) {
                        state.SkipWithError("sl_aggop_record failed");
                        break;
                }
                pos = (pos + kBlock) & (kSeqLen - 1);
        }
        state.SetItemsProcessed((int64_t)(state.iterations() * kBlock));
        counters(state, fx);
}

void bm_update(benchmark::State &state)
{
        update(state, get_fixture(0, state.range(0), state.range(1)));
}

void bm_session_update(benchmark::State &state)
{
        update(state, get_fixture(2, state.range(0), state.range(1)));
}

void bm_update_fn(benchmark::State &state)
{
        update(state, get_fixture(4, state.range(1), state.range(0)));
}

/* timed: 0 the close of window w, 1 the first records of window w + 1 */
void close_open(benchmark::State &state, int timed, int session = 0)
{
        fixture *fx = get_fixture(1 + session * 2, state.range(0), 0);
        using clock = std::chrono::steady_clock;
        for (auto _ : state) {
                auto t0 = clock::now();
                int rc = wshim_close(fx->s, fx->w);
                auto t1 = clock::now();
                uint64_t rows = wshim_drain(fx->s);
                auto t2 = clock::now();
                rc = rc ? rc : wshim_fill(fx->s, ++fx->w);
                auto t3 = clock::now();
                if (rc != 0 || rows != (uint64_t)fx->nkeys) {
                        state.SkipWithError("close did not emit one row per key");
                        break;
                }
                state.SetIterationTime(
                        std::chrono::duration<double>(timed ? t3 - t2 : t1 - t0).count());
        }
        state.SetItemsProcessed((int64_t)state.iterations() * state.range(0));
        counters(state, fx);
}

void bm_close(benchmark::State &state) { close_open(state, 0); }
void bm_open(benchmark::State &state) { close_open(state, 1); }
void bm_session_close(benchmark::State &state) { close_open(state, 0, 1); }
void bm_session_open(benchmark::State &state) { close_open(state, 1, 1); }

} // namespace

int main(int argc, char **argv)
{
        for (int64_t n : {10000, 100000, 1000000})
                for (int64_t d : {0, 1})
                        benchmark::RegisterBenchmark("update", bm_update)
                                ->Args({n, d})
                                ->ArgNames({"keys", "zipf"});
        for (int64_t fn = 0; fn < (int64_t)(sizeof kFnAgg / sizeof kFnAgg[0]); fn++)
                for (int64_t n : {1000, 100000})
                        benchmark::RegisterBenchmark("update_fn", bm_update_fn)
                                ->Args({fn, n})
                                ->ArgNames({"fn", "keys"});
        for (int64_t n : {10000, 100000, 1000000}) {
                benchmark::RegisterBenchmark("close", bm_close)
                        ->Arg(n)
                        ->ArgName("keys")
                        ->UseManualTime();
                benchmark::RegisterBenchmark("open", bm_open)
                        ->Arg(n)
                        ->ArgName("keys")
                        ->UseManualTime();
        }
        for (int64_t n : {10000, 100000, 1000000})
                benchmark::RegisterBenchmark("session_update", bm_session_update)
                        ->Args({n, 0})
                        ->ArgNames({"keys", "zipf"});
        for (int64_t n : {10000, 100000, 1000000}) {
                benchmark::RegisterBenchmark("session_close", bm_session_close)
                        ->Arg(n)
                        ->ArgName("keys")
                        ->UseManualTime();
                benchmark::RegisterBenchmark("session_open", bm_session_open)
                        ->Arg(n)
                        ->ArgName("keys")
                        ->UseManualTime();
        }
        benchmark::Initialize(&argc, argv);
        if (benchmark::ReportUnrecognizedArguments(argc, argv))
                return 1;
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
        g_fx.reset();
        return 0;
}
