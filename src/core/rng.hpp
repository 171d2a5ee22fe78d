#pragma once
// Counter-based random numbers: a value is a pure function of its key, so results do not
// depend on threads, ranks or backend (ARCHITECTURE pattern 3).
#include <cmath>
#include <cstdint>

namespace delayprop {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t hash_key(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  return splitmix64(splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b) ^ c);
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform01(uint64_t h) { return double(h >> 11) * (1.0 / 9007199254740992.0); }

// Standard normal by Box-Muller from two hashed uniforms of the same key.
inline double normal01(uint64_t h) {
  const double u1 = 1.0 - uniform01(h);              // (0, 1]
  const double u2 = uniform01(splitmix64(h ^ 0x5bd1e995ULL));
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// A small sequential generator for shuffles and augmentation, seeded from a key.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64(state_++); }
  double uniform() { return uniform01(next()); }
  double normal() { return normal01(next()); }
  // Uniform integer in [0, n), unbiased.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = next(); while (x >= limit);
    return x % n;
  }
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

}  // namespace delayprop
