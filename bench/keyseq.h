/*
 * keyseq.h - key choices for the table and window benchmarks (C++):
 * splitmix64, and Zipf by Gray et al.'s method ("Quickly generating
 * billion-record synthetic databases", as in YCSB), rank 0 the hottest.
 */
#ifndef SL_BENCH_KEYSEQ_H
#define SL_BENCH_KEYSEQ_H

#include <cmath>
#include <cstdint>

namespace keyseq {

inline uint64_t mix64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ull;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        return x ^ (x >> 31);
}

struct rng {
        uint64_t s;
        uint64_t next() { return mix64(s++); }
        double unit() { return (double)(next() >> 11) * 0x1.0p-53; }
};

struct zipf {
        uint64_t n;
        double theta, alpha, zetan, eta;

        zipf(uint64_t n_, double theta_) : n(n_), theta(theta_)
        {
                double zeta2 = 1.0 + std::pow(0.5, theta);
                zetan = 0;
                for (uint64_t i = 1; i <= n; i++)
                        zetan += 1.0 / std::pow((double)i, theta);
                alpha = 1.0 / (1.0 - theta);
                eta = (1.0 - std::pow(2.0 / (double)n, 1.0 - theta)) /
                      (1.0 - zeta2 / zetan);
        }
        uint64_t draw(rng &r) const
        {
                double u = r.unit();
                double uz = u * zetan;
                if (uz < 1.0)
                        return 0;
                if (uz < 1.0 + std::pow(0.5, theta))
                        return 1;
                uint64_t k = (uint64_t)((double)n *
                                        std::pow(eta * u - eta + 1.0, alpha));
                return k < n ? k : n - 1;
        }
};

} // namespace keyseq

#endif
