#include "core/spikes.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "core/network.hpp"

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

void check_batch(const Network& net, const SpikeBatch& batch) {
  require(batch.offsets.size() == size_t(batch.n_samples) + 1 && batch.offsets.back() == batch.steps.size() &&
              batch.channels.size() == batch.steps.size(),
          "spike batch: inconsistent CSR arrays");
  for (uint32_t b = 0; b < batch.n_samples; ++b) {
    int32_t prev = 0;
    for (uint64_t e = batch.offsets[b]; e < batch.offsets[b + 1]; ++e) {
      const int32_t s = batch.steps[e];
      if (s < 0 || uint32_t(s) >= net.n_steps)
        fail("input spike ", e - batch.offsets[b], " of sample ", b, " is outside the trial [0, ", net.trial_ms(),
             ") ms (step ", s, " of ", net.n_steps, ")");
      if (batch.channels[e] >= net.n_input_channels)
        fail("input spike ", e - batch.offsets[b], " of sample ", b, ": unit ", batch.channels[e],
             " is out of range (", net.n_input_channels, " input channels)");
      require(s >= prev, "spike batch: sample ", b, " is not sorted by time");
      prev = s;
    }
  }
}

}  // namespace delayprop
