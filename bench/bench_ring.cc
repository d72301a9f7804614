// bench_ring.cc - SPSC ring throughput: sluice's ring (engine/ring.h) against
// Concurrency Kit's ck_ring, on one thread and across two threads, by batch
// size (items moved per push/pop call).  Items/s counts pointers moved from
// producer to consumer; the consumer checks every sequence number.
//
// "Same core" (SameThread): one thread pushes a batch, then pops it: the
// cost of the operations with the ring in the core's cache.  Two threads on
// one core would measure the scheduler (a spinning side waits out its
// timeslice), so that case is not run.  "Two cores" (TwoThreads): the
// consumer (the benchmark thread) is pinned to CPU 0 and the producer to
// CPU 1 when there are two CPUs, so every batch crosses between cores.
//
// On a shared 2-core VM compare the two rings within one run, not across runs.
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench/ring_shim.h"

struct RingOps {
        void *(*make)(uint32_t);
        void (*destroy)(void *);
        uint32_t (*push)(void *, void *const *, uint32_t);
        uint32_t (*pop)(void *, void **, uint32_t);
};
static const RingOps kSl = {shim_sl_new, shim_sl_free, shim_sl_push, shim_sl_pop};
static const RingOps kCk = {shim_ck_new, shim_ck_free, shim_ck_push, shim_ck_pop};
static constexpr uint32_t kCap = 4096;
static constexpr uint64_t kItems = 1 << 22;

static void SameThread(benchmark::State &state, const RingOps &ops)
{
        void *r = ops.make(kCap);
        const uint32_t batch = (uint32_t)state.range(0);
        std::vector<void *> in(batch), out(batch);
        for (uint32_t i = 0; i < batch; i++)
                in[i] = (void *)(uintptr_t)(i + 1);
        for (auto _ : state) {
                ops.push(r, in.data(), batch);
                benchmark::DoNotOptimize(ops.pop(r, out.data(), batch));
        }
        state.SetItemsProcessed((int64_t)state.iterations() * batch);
        ops.destroy(r);
}

static bool PinTo(pthread_t t, int cpu)
{
        if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
                return false;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        return pthread_setaffinity_np(t, sizeof set, &set) == 0;
}

static void TwoThreads(benchmark::State &state, const RingOps &ops)
{
        const uint32_t batch = (uint32_t)state.range(0);
        cpu_set_t saved;
        bool restore = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
        bool pinned = PinTo(pthread_self(), 0);
        for (auto _ : state) {
                void *r = ops.make(kCap);
                std::thread prod([&] {
                        if (pinned)
                                PinTo(pthread_self(), 1);
                        std::vector<void *> v(batch);
                        uint64_t next = 1;
                        while (next <= kItems) {
                                uint32_t n = 0;
                                for (; n < batch && next + n <= kItems; n++)
                                        v[n] = (void *)(uintptr_t)(next + n);
                                uint32_t done = 0;
                                while (done < n)
                                        done += ops.push(r, v.data() + done, n - done);
                                next += n;
                        }
                });
                std::vector<void *> v(batch);
                uint64_t expect = 1;
                bool ok = true;
                while (expect <= kItems) {
                        uint32_t n = ops.pop(r, v.data(), batch);
                        for (uint32_t i = 0; i < n; i++)
                                ok &= (uintptr_t)v[i] == expect++;
                }
                prod.join();
                ops.destroy(r);
                if (!ok)
                        state.SkipWithError("items out of order");
        }
        if (restore)
                pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
        state.counters["pinned"] = pinned;
        state.SetItemsProcessed((int64_t)(state.iterations() * kItems));
}

static void BM_SlRingSameThread(benchmark::State &s) { SameThread(s, kSl); }
static void BM_CkRingSameThread(benchmark::State &s) { SameThread(s, kCk); }
static void BM_SlRingTwoThreads(benchmark::State &s) { TwoThreads(s, kSl); }
static void BM_CkRingTwoThreads(benchmark::State &s) { TwoThreads(s, kCk); }
BENCHMARK(BM_SlRingSameThread)->Arg(1)->Arg(8)->Arg(32)->Arg(256);
BENCHMARK(BM_CkRingSameThread)->Arg(1)->Arg(8)->Arg(32)->Arg(256);
BENCHMARK(BM_SlRingTwoThreads)->Arg(1)->Arg(8)->Arg(32)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CkRingTwoThreads)->Arg(1)->Arg(8)->Arg(32)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
