/*
 * bench_wtable.cc - throughput of engine/wtable.c on the aggregation path.
 *
 * One op = XXH3_64bits of an 8-byte integer key, sl_wtable_upsert (or
 * sl_wtable_find), then count += 1 and sum += a double in the 32-byte value
 * block.  Every key is in the table before timing starts (the steady state
 * of a GROUP BY: updates of existing keys), so these measure the hit path.
 *
 * Keys: rank r is the key mix64(r) (a bijection, so all distinct); the
 * table is filled in a shuffled rank order, so hot Zipf ranks are spread
 * over the entry chunks rather than packed at the front.  The sequence of
 * 4M key choices (uniform, or Zipf with theta 0.99 by Gray et al.'s method
 * as in YCSB) is generated before timing and read cyclically.
 *
 * Variants:
 *   upsert        one key at a time
 *   upsert_batch  16 keys at a time: hash all, sl_wtable_prefetch all,
 *                 sl_wtable_prefetch_entry all, then
 *                 upsert all, so the index misses of 16 keys overlap
 *   find          lookup only, one key at a time
 *
 * Args: keys/zipf (0 uniform, 1 Zipf 0.99).  Items/s = ops per second.
 * A fixture (table + sequence) is built once per (keys, zipf) and shared
 * by the three variants; building the 10M one takes a few seconds.
 */
#include <benchmark/benchmark.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "engine/wtable.h"
}

#include "bench/keyseq.h"

namespace {

struct val {
        uint64_t count;
        double sum;
        uint64_t pad[2];
};
static_assert(sizeof(val) == 32, "value_size 32");

constexpr size_t kSeqLen = size_t{1} << 22;
constexpr size_t kBlock = 1024; /* ops per benchmark iteration */
constexpr size_t kBatch = 16;

using keyseq::mix64;
using keyseq::rng;
using keyseq::zipf;

struct fixture {
        int64_t nkeys = 0;
        int64_t dist = -1;
        sl_wtable *wt = nullptr;
        std::vector<uint64_t> seq;

        ~fixture() { sl_wtable_destroy(wt); }
};

std::unique_ptr<fixture> g_fx;

fixture *get_fixture(int64_t nkeys, int64_t dist)
{
        if (g_fx && g_fx->nkeys == nkeys && g_fx->dist == dist)
                return g_fx.get();
        g_fx.reset(); /* free the previous table first */
        auto fx = std::make_unique<fixture>();
        fx->nkeys = nkeys;
        fx->dist = dist;
        fx->wt = sl_wtable_new(sizeof(val), 0);
        if (!fx->wt) {
                std::fprintf(stderr, "sl_wtable_new failed\n");
                std::abort();
        }
        rng r{(uint64_t)nkeys * 31 + (uint64_t)dist};
        std::vector<uint32_t> order((size_t)nkeys);
        for (size_t i = 0; i < order.size(); i++)
                order[i] = (uint32_t)i;
        for (size_t i = order.size() - 1; i > 0; i--)
                std::swap(order[i], order[r.next() % (i + 1)]);
        for (uint32_t rank : order) {
                uint64_t key = mix64(rank);
                bool inserted = false;
                val *v = (val *)sl_wtable_upsert(fx->wt, XXH3_64bits(&key, 8),
                                                 &key, 8, &inserted);
                if (!v || !inserted) {
                        std::fprintf(stderr, "fill failed\n");
                        std::abort();
                }
        }
        fx->seq.resize(kSeqLen);
        if (dist == 0) {
                for (auto &k : fx->seq)
                        k = mix64(r.next() % (uint64_t)nkeys);
        } else {
                zipf z((uint64_t)nkeys, 0.99);
                for (auto &k : fx->seq)
                        k = mix64(z.draw(r));
        }
        g_fx = std::move(fx);
        return g_fx.get();
}

void report(benchmark::State &state, const fixture *fx, uint64_t misses)
{
        state.SetItemsProcessed((int64_t)(state.iterations() * kBlock));
        state.counters["MB"] = (double)sl_wtable_memory(fx->wt) / 1e6;
        if (misses) /* every key was inserted before timing */
                state.SkipWithError("a key of the sequence was not found");
}

void bm_upsert(benchmark::State &state)
{
        fixture *fx = get_fixture(state.range(0), state.range(1));
        sl_wtable *wt = fx->wt;
        const uint64_t *seq = fx->seq.data();
        size_t pos = 0;
        uint64_t inserts = 0;

        for (auto _ : state) {
                for (size_t k = 0; k < kBlock; k++) {
                        uint64_t key = seq[pos + k];
                        bool inserted;
                        val *v = (val *)sl_wtable_upsert(
                                wt, XXH3_64bits(&key, 8), &key, 8, &inserted);
                        v->count += 1;
                        v->sum += (double)(key & 0xff);
                        inserts += inserted;
                }
                pos = (pos + kBlock) & (kSeqLen - 1);
        }
        report(state, fx, inserts);
}

void bm_upsert_batch(benchmark::State &state)
{
        fixture *fx = get_fixture(state.range(0), state.range(1));
        sl_wtable *wt = fx->wt;
        const uint64_t *seq = fx->seq.data();
        size_t pos = 0;
        uint64_t inserts = 0;

        for (auto _ : state) {
                for (size_t k = 0; k < kBlock; k += kBatch) {
                        const uint64_t *keys = seq + pos + k;
                        uint64_t h[kBatch];
                        for (size_t j = 0; j < kBatch; j++) {
                                h[j] = XXH3_64bits(&keys[j], 8);
                                sl_wtable_prefetch(wt, h[j]);
                        }
                        for (size_t j = 0; j < kBatch; j++)
                                sl_wtable_prefetch_entry(wt, h[j]);
                        for (size_t j = 0; j < kBatch; j++) {
                                bool inserted;
                                val *v = (val *)sl_wtable_upsert(
                                        wt, h[j], &keys[j], 8, &inserted);
                                v->count += 1;
                                v->sum += (double)(keys[j] & 0xff);
                                inserts += inserted;
                        }
                }
                pos = (pos + kBlock) & (kSeqLen - 1);
        }
        report(state, fx, inserts);
}

void bm_find(benchmark::State &state)
{
        fixture *fx = get_fixture(state.range(0), state.range(1));
        sl_wtable *wt = fx->wt;
        const uint64_t *seq = fx->seq.data();
        size_t pos = 0;
        uint64_t misses = 0, sum = 0;

        for (auto _ : state) {
                for (size_t k = 0; k < kBlock; k++) {
                        uint64_t key = seq[pos + k];
                        const val *v = (const val *)sl_wtable_find(
                                wt, XXH3_64bits(&key, 8), &key, 8);
                        if (v)
                                sum += v->count;
                        else
                                misses++;
                }
                pos = (pos + kBlock) & (kSeqLen - 1);
        }
        benchmark::DoNotOptimize(sum);
        report(state, fx, misses);
}

} // namespace

int main(int argc, char **argv)
{
        /* grouped by fixture, so each table is built once */
        for (int64_t n : {10000, 100000, 1000000, 10000000}) {
                for (int64_t d : {0, 1}) {
                        benchmark::RegisterBenchmark("upsert", bm_upsert)
                                ->Args({n, d})
                                ->ArgNames({"keys", "zipf"});
                        benchmark::RegisterBenchmark("upsert_batch16", bm_upsert_batch)
                                ->Args({n, d})
                                ->ArgNames({"keys", "zipf"});
                        benchmark::RegisterBenchmark("find", bm_find)
                                ->Args({n, d})
                                ->ArgNames({"keys", "zipf"});
                }
        }
        benchmark::Initialize(&argc, argv);
        if (benchmark::ReportUnrecognizedArguments(argc, argv))
                return 1;
        benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
        g_fx.reset();
        return 0;
}
