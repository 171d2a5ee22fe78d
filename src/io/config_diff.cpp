#include "io/config_diff.hpp"

#include <algorithm>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "core/error.hpp"

namespace delayprop {
namespace {

void flatten(const toml::node& n, const std::string& key, std::map<std::string, std::string>& out) {
  if (const auto* t = n.as_table()) {
    for (const auto& [k, v] : *t) flatten(v, key.empty() ? std::string(k.str()) : key + "." + std::string(k.str()), out);
  } else if (const auto* a = n.as_array()) {
    for (size_t i = 0; i < a->size(); ++i) flatten((*a)[i], key + "." + std::to_string(i), out);
    if (a->empty()) out[key] = "[]";
  } else {
    std::ostringstream os;
    n.visit([&](const auto& v) { os << v; });
    out[key] = os.str();
  }
}

std::map<std::string, std::string> parse_flat(const std::string& text, const char* which) {
  std::map<std::string, std::string> out;
  try {
    flatten(toml::parse(text), "", out);
  } catch (const toml::parse_error& e) {
    fail("the ", which, " config does not parse: ", e.description());
  }
  return out;
}

}  // namespace

const std::vector<std::string>& resume_allowed_keys() {
  static const std::vector<std::string> keys = {"train.epochs",          "train.patience",
                                                "train.checkpoint_every", "train.checkpoint_batches",
                                                "train.eval_test_every_epoch", "engine.threads",
                                                "data.path"};
  return keys;
}

std::vector<ConfigChange> config_changes(const std::string& old_toml, const std::string& new_toml) {
  const auto a = parse_flat(old_toml, "run's"), b = parse_flat(new_toml, "new");
  std::vector<ConfigChange> out;
  const auto& allow = resume_allowed_keys();
  auto add = [&](const std::string& key, const std::string& o, const std::string& n) {
    out.push_back({key, o, n, std::find(allow.begin(), allow.end(), key) != allow.end()});
  };
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) add(k, v, "(absent)");
    else if (it->second != v) add(k, v, it->second);
  }
  for (const auto& [k, v] : b)
    if (!a.count(k)) add(k, "(absent)", v);
  return out;
}

}  // namespace delayprop
