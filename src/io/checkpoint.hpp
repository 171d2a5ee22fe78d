#pragma once
// Checkpoints (HDF5): parameters, Adam state, position in training and the bookkeeping of
// the current epoch, the resolved config, a format version and the world size. Every array
// carries a checksum (/checksums, format 2) verified on read. Built in memory, written to a
// temporary file, fsynced, read back and verified, then renamed: a run killed while writing,
// or a write that fails (a full disk), keeps the previous one; the one before is kept as
// checkpoint.prev.h5 and used when the newest is unreadable, corrupt or holds NaN.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/network.hpp"

namespace delayprop {

struct TrainState {
  std::vector<double> params, best_params;
  std::vector<double> adam_m, adam_v;
  uint64_t adam_t = 0;
  uint32_t epoch = 0;        // epoch in progress (or the next one when batch == 0)
  uint32_t batch = 0;        // batches of that epoch already done
  double best_metric = -1.0;
  uint32_t best_epoch = 0;
  uint32_t epochs_since_best = 0;
  int32_t presentations_to_100 = -1;
  // Running sums of the epoch in progress (global over ranks).
  double epoch_loss = 0.0, epoch_correct = 0.0, epoch_samples = 0.0;
  std::vector<double> epoch_spike_counts;  // hidden LIF neurons, populations concatenated
  double wall_time_s = 0.0;                // training time before this process started
  uint64_t samples_trained = 0;
  // Read from a checkpoint (write_checkpoint takes them as arguments).
  std::string config_toml;       // the resolved config the checkpoint was trained with
  std::string data_fingerprint;  // "" in checkpoints of older builds
};

// 2: /checksums added (format 1, without it, is still read).
constexpr int64_t kCheckpointVersion = 2;

// data_fingerprint: data_fingerprint() of the training data, kept so that a model file made
// from the checkpoint says which data it was trained on.
void write_checkpoint(const std::string& dir, const Network& net, const TrainState& st, const std::string& config_toml,
                      int world_size, const std::string& data_fingerprint = "");
// Loads dir/checkpoint.h5 (or checkpoint.prev.h5 when that one is unreadable, corrupt or
// holds NaN, with a warning on stderr naming both); nullopt if neither exists. Throws Error
// (naming both files) when no checkpoint can be used, e.g. one of another network.
std::optional<TrainState> read_checkpoint(const std::string& dir, const Network& net, std::string* used_path = nullptr);

// Sealed files (checkpoints, model files): HDF5 files with a 512-byte user block holding a
// line with the FNV-1a 64 of every byte after it, checked before HDF5 parses the file.
constexpr uint64_t kSealUserblock = 512;
// `image`: from h5::File::create_in_memory(name, kSealUserblock).image(); gets its user block.
void seal_image(std::vector<unsigned char>& image);
// True when the file is sealed and intact, false when it has no seal; throws on a mismatch.
bool check_seal(const std::string& path);
// Writes and fsyncs `bytes`; an I/O error (ENOSPC) throws one line naming it and removes the
// partial file. `what` names the file kind in messages and the test hooks ("checkpoint").
void write_file_durably(const std::string& path, const std::vector<unsigned char>& bytes, const char* what);

// One float64 array of a checkpoint file, its checksum verified (format 2).
std::vector<double> read_checkpoint_array(const std::string& path, const std::string& name);

}  // namespace delayprop
