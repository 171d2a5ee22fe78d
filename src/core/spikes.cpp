#include "core/spikes.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"

namespace delayprop {

void SpikeBatch::add_sample(std::span<const double> times_ms, std::span<const uint32_t> chans, double dt) {
  require(times_ms.size() == chans.size(), "spike batch: ", times_ms.size(), " times but ", chans.size(), " channels");
  std::vector<uint32_t> order(times_ms.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return times_ms[a] < times_ms[b]; });
  for (uint32_t k : order) {
    const double s = std::floor(times_ms[k] / dt);
    // Out-of-range values are kept as sentinels so the engine can name them.
    steps.push_back(std::isfinite(s) && std::fabs(s) < 2e9 ? int32_t(s) : INT32_MIN);
    channels.push_back(chans[k]);
  }
  offsets.push_back(steps.size());
  ++n_samples;
}

}  // namespace delayprop
