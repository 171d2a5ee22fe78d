#pragma once
// Every dataset delayprop trains on, behind one factory, and the step from events to the
// CSR input spikes of a batch. Kinds, layouts and options: docs/DATA.md.
#include <cstdint>
#include <span>
#include <utility>
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
// number of input channels after sum_channels and input_copies must equal net.n_input_channels and the
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

// THE one path from events to engine batches (training, evaluation, delayprop-grad,
// delayprop-eval; docs/DATA.md "Batching"). Builds the input spikes of the samples `idx` of
// `data` (in that order) into `out` (cleared first) and their labels into `labels`:
// step = floor(t / dt); channel c -> c / data.sum_channels and, with data.input_copies = K,
// also to its copies c / sum_channels + k * (inputs / K), k < K; duplicates of (channel, step)
// merged if data.merge_duplicates; events at or after the trial end are dropped and counted
// in stats.dropped_late, and a batch where more than half of the events are late is an
// error naming the source and time_unit (check_late_events). Within a sample, spikes are
// ordered by (step, channel).
// per_sample (optional): each sample's counters, in batch order (the device-resident data
// set keeps them, to count its batches as make_batch would: add_batch_stats).
void make_batch(const EventDataset& data, std::span<const uint32_t> idx, const Network& net, SpikeBatch& out,
                std::vector<int32_t>& labels, BatchStats& stats, std::vector<BatchStats>* per_sample = nullptr);

// The counters of one batch (`batch`, its samples' summed) added to `stats`, after the
// late-event policy for the batch (check_late_events): make_batch's last step.
void add_batch_stats(const EventDataset& data, const Network& net, const BatchStats& batch, BatchStats& stats);

// The late-event policy: `late` of `events` events of `what` (a split, a file, a batch) fall
// at or after the trial end. More than half late is an error that names data.source and
// the time unit the times were read in (ms times in a file without time_unit = "ms" are
// read as seconds and land 1000 times too late).
void check_late_events(const EventDataset& data, const Network& net, uint64_t events, uint64_t late,
                       const std::string& what);

// Sets how `data` is batched from the config: duplicates merged for the file kinds
// (kind_merges_duplicates), channels summed by data.sum_channels, copied data.input_copies
// times.
void set_batching(EventDataset& data, const DataSpec& spec);

// The data channels the network expects: n_input_channels / input_copies x sum_channels.
// Throws Error when data.input_copies does not divide the inputs.
uint32_t data_channels(const DataSpec& spec, const Network& net);

// A file in the event layout read for evaluation (delayprop-grad --input, delayprop-eval
// --input): the channels the network expects (data_channels), its classes,
// batched as the config's data set is, the late-event policy applied to the whole file.
// labels_optional: a file without /labels gives predictions only.
EventDataset read_input_events(const std::string& path, const DataSpec& spec, const Network& net,
                               bool labels_optional = false);

// Events at or after the trial end in `data`, and all its events.
std::pair<uint64_t, uint64_t> count_late_events(const EventDataset& data, const Network& net);

// A 64-bit FNV-1a hash of the data (every split's times, units and labels, and how they are
// batched), as 16 hex digits: model files record the data they were trained on.
std::string data_fingerprint(const DataSplits& d);

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
