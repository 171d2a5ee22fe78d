#pragma once
// Model files (DIR/model.h5, docs/FORMATS.md "Model files"): what a trained network needs to
// be used again: the best and the last parameters by connection name, the resolved config, a
// fingerprint of the data it was trained on, the version, git commit and build options.
// Readers take model files and checkpoints alike (open_model).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/network.hpp"

namespace delayprop {

// 1: this layout. A file with a newer version is refused with one line; an older one (none
// yet) would be converted on read.
constexpr int64_t kModelFormatVersion = 1;

struct ModelMeta {
  std::string config_toml;        // the resolved config (TOML)
  std::string data_fingerprint;   // data_fingerprint() of the training data ("" unknown)
  std::string data_description;   // DataSplits::description
  uint32_t best_epoch = 0, epochs = 0;
  double best_metric = -1.0;
  std::string summary_json;       // the run's summary.json ("" when made from a checkpoint)
};

// Writes path (via path.tmp and a rename): best and last parameters, meta and build info.
void write_model(const std::string& path, const Network& net, std::span<const double> best,
                 std::span<const double> last, const ModelMeta& meta);

struct StoredModel {
  std::string path;
  bool is_checkpoint = false;
  int64_t format_version = 0;
  ModelMeta meta;
  std::string version, git_commit, build_options;  // "" when the file does not say
};

// Opens a model file or a checkpoint: detects which, checks the format version, reads the
// config and the metadata. Errors name the file and the field.
StoredModel open_model(const std::string& path);

// The best (or last) parameters of an opened model for `net`, by connection name (model
// files) or flat (checkpoints); a file of another network is an error naming the file, the
// dataset and both shapes.
std::vector<double> read_model_params(const StoredModel& m, const Network& net, bool best);

}  // namespace delayprop
