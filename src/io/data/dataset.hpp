#pragma once
// Every dataset delayprop trains on, behind one factory, and the step from events to the
// CSR input spikes of a batch. Kinds, layouts and options: docs/DATA.md.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/config.hpp"
#include "io/data/events.hpp"
#include "core/network.hpp"
#include "core/spikes.hpp"

namespace delayprop {

struct DataSplits {
  EventDataset train, valid, test;
  bool has_valid = false;
  // Events at or after the trial end (n_steps * dt) in train + valid + test: make_batch drops
  // them (and counts them in BatchStats); reported here so a run can say so at the start.
  uint64_t dropped_events = 0;
  std::vector<int32_t> valid_speakers;    // validation = "speakers": the held-out speakers
  std::string description;                // one line for logs: kind, sizes, validation source
};

// Loads (or generates) the dataset of `spec` and checks it against the network: the
// number of input channels after sum_channels must equal net.n_input_channels and the
// number of classes the output population's size. Throws Error naming file and field.
DataSplits load_dataset(const DataSpec& spec, const Network& net);

// Whether a kind bins events of one (channel, step) into a single spike.
bool kind_merges_duplicates(const std::string& kind);

// Counters of make_batch; make_batch ADDS to them, so one object can cover an epoch.
struct BatchStats {
  uint64_t events = 0;        // events read
  uint64_t spikes = 0;        // spikes emitted
  uint64_t merged = 0;        // events folded into a spike of the same (channel, step)
  uint64_t dropped_late = 0;  // events at or after the trial end (t >= n_steps * dt)
  BatchStats& operator+=(const BatchStats& o) {
    events += o.events;
    spikes += o.spikes;
    merged += o.merged;
    dropped_late += o.dropped_late;
    return *this;
  }
};

// Builds the input spikes of the samples `idx` of `data` (in that order) into `out`
// (cleared first) and their labels into `labels`: step = floor(t / dt); channel c ->
// c / data.sum_channels; duplicates of (channel, step) merged if data.merge_duplicates;
// events at or after the trial end are dropped and counted in stats.dropped_late.
// Within a sample, spikes are ordered by (step, channel).
void make_batch(const EventDataset& data, std::span<const uint32_t> idx, const Network& net, SpikeBatch& out,
                std::vector<int32_t>& labels, BatchStats& stats);

// Splits `all` into (train, held-out), stratified by label: in every class, round(fraction *
// count) samples, chosen by a shuffle keyed by seed, go to the held-out part. Sample order
// within each part follows `all`.
void split_stratified(const EventDataset& all, double fraction, uint64_t seed, EventDataset& train,
                      EventDataset& held_out);

// Speaker-held-out split: walking the training speakers from the highest id down, moves whole
// speakers to the held-out part until it holds at least `fraction` of the samples (at least one
// speaker; at least one stays in training). Returns the held-out speakers, ascending.
std::vector<int32_t> split_speakers(const EventDataset& all, double fraction, EventDataset& train,
                                    EventDataset& held_out);

}  // namespace delayprop
