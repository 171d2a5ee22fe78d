#pragma once
// Where delayprop-grad and delayprop-eval get their network and parameters from: a model
// file or a checkpoint (both carry the resolved config), or a config plus a plain parameter
// file. --set overrides apply to whichever config is used.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/config.hpp"
#include "io/h5.hpp"
#include "io/model_file.hpp"
#include "io/param_io.hpp"

namespace delayprop {

// Whether path is a model file or a checkpoint (rather than a plain parameter file).
inline bool is_model_or_checkpoint(const std::string& path) {
  auto f = h5::File::open_read(path);
  return f.has_attr("format") || f.exists("/params_flat");
}

struct LoadedModel {
  Config cfg;
  std::vector<double> params;
  std::optional<StoredModel> stored;  // absent for a plain parameter file
};

// model_path: a model file or checkpoint; config_path ("" = the model's own config);
// which: "best" or "last".
inline LoadedModel load_model(const std::string& model_path, const std::string& config_path,
                              const std::vector<std::string>& sets, const std::string& which) {
  if (which != "best" && which != "last") throw UsageError("--params must be best or last, got '" + which + "'");
  LoadedModel lm;
  lm.stored = open_model(model_path);
  lm.cfg = config_path.empty() ? parse_config(lm.stored->meta.config_toml, model_path + ":/config", sets)
                               : load_config(config_path, sets);
  lm.params = read_model_params(*lm.stored, lm.cfg.net, which == "best");
  return lm;
}

}  // namespace delayprop
