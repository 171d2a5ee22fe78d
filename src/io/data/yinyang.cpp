// The Yin-Yang generator, reproducing the published splits bit for bit. Every floating-point
// operation here mirrors the Python reference (numpy float64, no fused multiply-add): keep
// this file free of fast-math and FP contraction (CMake passes -ffp-contract=off).
#include <cmath>
#include <random>

#include "io/data/generators.hpp"
#include "core/error.hpp"

namespace delayprop {
namespace {

// numpy's legacy random_sample(): 53 bits from two 32-bit draws.
double legacy_double(std::mt19937& g) {
  const uint32_t a = g() >> 5;
  const uint32_t b = g() >> 6;
  return (double(a) * 67108864.0 + double(b)) / 9007199254740992.0;
}

// numpy's legacy randint(3): masked rejection on 32-bit draws.
int legacy_class(std::mt19937& g) {
  uint32_t v;
  do v = g() & 3u;
  while (v > 2);
  return int(v);
}

int which_class(double x, double y, double r_small, double r_big) {
  const double dxr = x - 1.5 * r_big, dxl = x - 0.5 * r_big, dy = y - r_big;
  const double d_right = std::sqrt(dxr * dxr + dy * dy);
  const double d_left = std::sqrt(dxl * dxl + dy * dy);
  const bool c1 = d_right <= r_small;
  const bool c2 = d_left > r_small && d_left <= 0.5 * r_big;
  const bool c3 = y > r_big && d_right > 0.5 * r_big;
  if (d_right < r_small || d_left < r_small) return 2;
  return (c1 || c2 || c3) ? 1 : 0;
}

}  // namespace

YinYangSplit generate_yinyang(uint32_t seed, uint32_t n, double r_small, double r_big) {
  require(r_small > 0 && r_big > r_small, "yinyang: need 0 < r_small < r_big, got ", r_small, ", ", r_big);
  std::mt19937 g(seed);
  YinYangSplit out;
  out.samples.reserve(size_t(n) * 4);
  out.labels.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const int goal = legacy_class(g);
    double x, y;
    while (true) {
      // The reference computes rng.rand(2) * 2. * r_big, left to right.
      x = legacy_double(g) * 2.0 * r_big;
      y = legacy_double(g) * 2.0 * r_big;
      const double dx = x - r_big, dy = y - r_big;
      if (std::sqrt(dx * dx + dy * dy) > r_big) continue;
      if (which_class(x, y, r_small, r_big) == goal) break;
    }
    out.samples.insert(out.samples.end(), {x, y, 1.0 - x, 1.0 - y});
    out.labels.push_back(goal);
  }
  return out;
}

EventDataset yinyang_events(const YinYangSplit& split) {
  EventDataset d;
  d.n_channels = 4;
  d.n_classes = 3;
  d.merge_duplicates = false;
  const size_t n = split.labels.size();
  require(split.samples.size() == n * 4, "yinyang: ", split.samples.size(), " features for ", n, " samples");
  d.samples.resize(n);
  for (size_t i = 0; i < n; ++i) {
    auto& s = d.samples[i];
    s.label = int32_t(split.labels[i]);
    for (uint32_t k = 0; k < 4; ++k) {
      s.times_ms.push_back(1.5 + 18.5 * split.samples[i * 4 + k]);
      s.units.push_back(k);
    }
  }
  return d;
}

}  // namespace delayprop
