#pragma once
// Differences between two resolved configs (TOML text), key by key, for `delayprop-train
// --resume`: a run continues only with the config it was started with, except for the keys
// of resume_allowed_keys() (docs/CONFIG.md "Resuming").
#include <string>
#include <vector>

namespace delayprop {

struct ConfigChange {
  std::string key;       // dotted, arrays by index: "network.population.1.size"
  std::string old_value;  // "(absent)" when the key is new
  std::string new_value;  // "(absent)" when the key was removed
  bool allowed = false;   // in resume_allowed_keys()
};

// Keys a resumed run may change: how long it trains and how often it checkpoints, its
// threads, where the data are (the data themselves are compared by fingerprint).
const std::vector<std::string>& resume_allowed_keys();

// Throws Error when a text does not parse.
std::vector<ConfigChange> config_changes(const std::string& old_toml, const std::string& new_toml);

}  // namespace delayprop
