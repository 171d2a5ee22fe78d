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

// The range a checkpoint's integer must lie in (a corrupt value is an error, never wrapped).
struct IntRange {
  int64_t lo, hi;
};
// Whether a checkpoint's array holds one value per parameter of the network.
enum class ArraySize { PerParam, Any };

struct TrainState {
  // Running sums of the epoch in progress (global over ranks); one array in a checkpoint.
  struct EpochSums {
    double loss = 0.0, correct = 0.0, samples = 0.0;
  };

  std::vector<double> params, best_params;
  std::vector<double> adam_m, adam_v;
  uint64_t adam_t = 0;
  uint32_t epoch = 0;        // epoch in progress (or the next one when batch == 0)
  uint32_t batch = 0;        // batches of that epoch already done
  double best_metric = -1.0;
  uint32_t best_epoch = 0;
  uint32_t epochs_since_best = 0;
  int32_t presentations_to_100 = -1;
  EpochSums epoch_sums;
  std::vector<double> epoch_spike_counts;  // hidden LIF neurons, populations concatenated
  double wall_time_s = 0.0;                // training time before this process started
  uint64_t samples_trained = 0;
  // Read from a checkpoint (write_checkpoint takes them as arguments).
  std::string config_toml;       // the resolved config the checkpoint was trained with
  std::string data_fingerprint;  // "" in checkpoints of older builds

  // The fields above that a checkpoint stores and a resume broadcasts, listed once, each
  // with its name in the checkpoint file: f(name, field) for doubles and EpochSums,
  // f(name, field, IntRange) for integers, f(name, field, ArraySize) for arrays.
  template <class F>
  void visit(F&& f) {
    visit_fields(*this, f);
  }
  template <class F>
  void visit(F&& f) const {
    visit_fields(*this, f);
  }

 private:
  template <class Self, class F>
  static void visit_fields(Self& s, F& f) {
    constexpr int64_t kU32 = 0xffffffffLL, kI32 = 0x7fffffffLL, kI53 = int64_t(1) << 53;
    f("/params_flat", s.params, ArraySize::PerParam);
    f("/best_params_flat", s.best_params, ArraySize::PerParam);
    f("/adam/m", s.adam_m, ArraySize::PerParam);
    f("/adam/v", s.adam_v, ArraySize::PerParam);
    f("/adam/t", s.adam_t, IntRange{0, kI53});
    f("/epoch", s.epoch, IntRange{0, kU32 - 1});
    f("/batch", s.batch, IntRange{0, kU32 - 1});
    f("/best_metric", s.best_metric);
    f("/best_epoch", s.best_epoch, IntRange{0, kU32});
    f("/epochs_since_best", s.epochs_since_best, IntRange{0, kU32});
    f("/presentations_to_100", s.presentations_to_100, IntRange{-1, kI32});
    f("/epoch_sums", s.epoch_sums);
    f("/epoch_spike_counts", s.epoch_spike_counts, ArraySize::Any);
    f("/wall_time_s", s.wall_time_s);
    f("/samples_trained", s.samples_trained, IntRange{0, kI53});
  }
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
