// Seeded randomness. Every random choice in dasnet derives from a user seed through these, so a
// seed fixes a run bit for bit on the same machine and thread count.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace dasnet {

// Mixes a seed with stream identifiers (epoch, rank, layer...) into an independent seed.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) { return splitmix64(seed ^ splitmix64(stream)); }

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : engine_(seed) {}
  uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1) from the top 24 bits: identical on every platform.
  float uniform() { return float(engine_() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal by Box-Muller (platform-independent, unlike std::normal_distribution).
  float normal() {
    double u1 = (double(engine_() >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = double(engine_() >> 11) * (1.0 / 9007199254740992.0);
    return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return n ? engine_() % n : 0; }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

// Fisher-Yates permutation of 0..n-1 from a seed.
inline std::vector<size_t> permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  Rng rng(seed);
  for (size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng.below(i)]);
  return p;
}

}  // namespace dasnet
