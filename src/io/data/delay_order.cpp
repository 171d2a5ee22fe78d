#include "core/rng.hpp"
#include "io/data/generators.hpp"

namespace delayprop {

EventDataset make_delay_order_dataset(uint64_t seed, uint32_t n) {
  EventDataset d;
  d.n_channels = 2;
  d.n_classes = 2;
  d.merge_duplicates = false;
  d.samples.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t label = i % 2;  // 0: channel 0 first; 1: channel 1 first
    const double onset = 20.0 * uniform01(hash_key(seed, i, 0));
    const double gap = 30.0 + 3.0 * (uniform01(hash_key(seed, i, 1)) - 0.5);
    // One distractor spike per channel at a random time: two separate bumps (or a chance
    // pair) of the same heights in either order, so a readout cannot win on the tiny
    // overlap two spikes 30 ms apart leave behind.
    const double noise0 = 60.0 * uniform01(hash_key(seed, i, 2));
    const double noise1 = 60.0 * uniform01(hash_key(seed, i, 3));
    d.samples[i].label = int32_t(label);
    d.samples[i].times_ms = {onset, onset + gap, noise0, noise1};
    d.samples[i].units = {label, 1u - label, 0u, 1u};
  }
  return d;
}

}  // namespace delayprop
