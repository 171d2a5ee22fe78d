#pragma once
// Event datasets: samples of (time, channel) events with a label. On disk this is the
// layout of the published SHD/SSC files (docs/DATA.md):
//   /spikes/times   variable-length float (16, 32 or 64 bit), one array per sample
//   /spikes/units   variable-length integer or float, channel per event
//   /labels         integer per sample
//   /extra/speaker  optional integer per sample
//   attribute time_unit = "s" (default, as SHD) or "ms"; optional n_channels, n_classes
#include <cstdint>
#include <string>
#include <vector>

namespace delayprop {

struct EventSample {
  std::vector<double> times_ms;
  std::vector<uint32_t> units;
  int32_t label = 0;
  int32_t speaker = -1;
};

struct EventDataset {
  std::vector<EventSample> samples;
  uint32_t n_channels = 0;  // channels of the data (before sum_channels)
  uint32_t n_classes = 0;
  // How make_batch (dataset.hpp) turns events into input spikes; set by load_dataset per kind.
  bool merge_duplicates = true;  // events of one (channel, step) become one spike, as the reference bins SHD/SSC
  uint32_t sum_channels = 1;     // data channel c drives input channel c / sum_channels
  uint32_t input_copies = 1;     // ... and its copies c / sum_channels + k * (inputs / input_copies)
  // Where the events came from, for error messages: the file (or "generated ..."), and the
  // file's time unit as read ("s", "ms"; "s (default)" when the attribute is absent).
  std::string source = "generated";
  std::string time_unit = "ms";
  bool has_labels = true;  // false: a file without /labels (labels are then -1; predictions only)
};

// Reads and validates the layout above. n_channels/n_classes: the values the model expects
// (0 = take them from the file's attributes or from the data). Errors name file and field.
// labels_optional: a file without /labels is read with every label -1 and has_labels false.
EventDataset read_events(const std::string& path, uint32_t n_channels = 0, uint32_t n_classes = 0,
                         bool labels_optional = false);
void write_events(const std::string& path, const EventDataset& data, const std::string& time_unit = "ms");

}  // namespace delayprop
