#include "io/data/generators.hpp"

namespace delayprop {

EventDataset make_sequence_dataset(uint32_t n) {
  EventDataset d;
  d.n_channels = 2;
  d.n_classes = 2;
  d.merge_duplicates = false;
  d.samples.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t label = i % 2;  // A (0): 0 then 1; B (1): 1 then 0
    d.samples[i].label = int32_t(label);
    d.samples[i].times_ms = {0.0, 10.0};
    d.samples[i].units = {label, 1u - label};
  }
  return d;
}

}  // namespace delayprop
