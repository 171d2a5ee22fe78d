#pragma once
// Run configuration: one TOML file (configs/*.toml) plus `--set key=value` overrides.
// Every key is checked: an unknown or missing key is an error naming it. The schema is
// documented in docs/CONFIG.md.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/engine.hpp"
#include "core/loss.hpp"
#include "core/network.hpp"
#include "core/optimizer.hpp"

namespace delayprop {

struct ScheduleSpec {
  double lr_weights = 1e-3;
  double lr_delays = 0.1;            // ms
  std::string weight_schedule = "constant";  // constant | ease_in
  double ease_in_start = 1e-5;       // ease_in: start here, x factor per batch up to lr_weights
  double ease_in_factor = 1.05;
  double epoch_decay = 1.0;          // both lrs multiplied by this after every epoch
  uint32_t delays_from_epoch = 0;    // delays held (lr 0) during the first this many epochs
  // The delay learning rate of an epoch (0-based): held at 0 before delays_from_epoch.
  double delay_lr(uint32_t epoch) const {
    return epoch < delays_from_epoch ? 0.0 : lr_delays * std::pow(epoch_decay, double(epoch));
  }
};

struct TrainSpec {
  uint32_t epochs = 10;
  uint32_t batch_size = 32;
  uint64_t seed = 1;
  uint32_t patience = 15;            // epochs without improvement before stopping (0 = never)
  std::string early_stop = "validation";  // validation | train | none
  uint32_t min_epochs = 0;           // warm-up: neither kept as best nor counted by patience (< epochs)
  double silent_bump = 0.0;          // added to incoming feedforward weights of silent hidden neurons, per epoch
  double silent_below = 0.0;         // "silent": at most this many spikes per training sample in the epoch
  double output_bump = 0.0;          // first-spike outputs: added to incoming weights of an output silent on a batch
  uint32_t checkpoint_every = 1;     // epochs
  uint32_t max_batches = 0;          // stop an epoch after this many batches (0 = all); for smoke runs
  uint32_t checkpoint_batches = 0;   // also checkpoint every this many batches within an epoch (0 = off)
  bool shuffle = true;               // shuffle the training set every epoch (one seed on every rank)
  bool eval_train = false;           // evaluate the whole training set after every epoch
  bool eval_test_every_epoch = true; // evaluate the test set after every epoch (else only at the end)
};

struct DataSpec {
  std::string kind;                  // sequence | yinyang | shd | ssc | braille | events
  std::string path;                  // directory or file, by kind
  uint64_t seed = 0;                 // generators and splits
  uint32_t n_train = 0, n_valid = 0, n_test = 0;  // generated datasets (0 = the kind's default)
  int32_t shift = 0;                 // augmentation: random channel shift in [-shift, shift)
  uint32_t blend = 0;                // augmentation: blended examples added per epoch
  std::string validation = "default";  // default | none | speakers | split
  double valid_fraction = 0.1;
  double threshold = 5.0;            // Braille sigma-delta threshold used by the converter
  uint32_t sum_channels = 1;         // sum groups of this many consecutive channels (DCLS-style 700 -> 140)
  uint32_t input_copies = 1;         // each data channel drives this many input neurons (each with its own synapses)
};

struct Config {
  Network net;
  LossSpec loss;
  RegulariserSpec reg;
  AdamSpec adam;
  ScheduleSpec sched;
  TrainSpec train;
  DataSpec data;
  EngineOptions engine;
  std::string resolved_toml;  // the config after overrides, as TOML (written with every run)
  std::string source;         // file it came from
};

// The resolved config as (key, value) pairs, keys as in messages ("network.population.1.size"),
// values in TOML syntax; for comparing the configs of ranks.
std::vector<std::pair<std::string, std::string>> config_entries(const Config& c);

// Reads `path`, applies overrides ("section.key=value"; value in TOML syntax, bare words
// are strings) and checks everything. Throws Error naming the file and key on any problem.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});
Config parse_config(const std::string& toml_text, const std::string& source,
                    const std::vector<std::string>& overrides = {});

}  // namespace delayprop
