#pragma once
// Input spikes of a batch in CSR form, already binned to steps of dt.
#include <cstdint>
#include <span>
#include <vector>

namespace delayprop {

struct SpikeBatch {
  uint32_t n_samples = 0;
  std::vector<uint64_t> offsets{0};  // n_samples + 1; sample b owns [offsets[b], offsets[b+1])
  std::vector<int32_t> steps;        // non-decreasing within a sample
  std::vector<uint32_t> channels;    // global input channel (input populations in order)

  void clear() { n_samples = 0; offsets.assign(1, 0); steps.clear(); channels.clear(); }
  // Appends one sample from (time ms, channel) events: sorted by time, binned with
  // step = floor(t / dt). Events are not validated here; the engine rejects bad ones.
  void add_sample(std::span<const double> times_ms, std::span<const uint32_t> chans, double dt);
  uint64_t n_spikes(uint32_t b) const { return offsets[b + 1] - offsets[b]; }
};

struct Network;
// Rejects a batch an engine cannot run: inconsistent CSR arrays, a spike outside the trial
// [0, T), a unit out of range or a sample not sorted by step; the error names the sample and
// the spike. Every backend calls it before forward.
void check_batch(const Network& net, const SpikeBatch& batch);

}  // namespace delayprop
