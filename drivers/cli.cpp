#include "cli.hpp"

#include <algorithm>
#include <iostream>

#include "core/error.hpp"
#include "io/version.hpp"

namespace delayprop {

Cli::Cli(std::string prog, std::string usage, std::vector<Option> options)
    : prog_(std::move(prog)), usage_(std::move(usage)), options_(std::move(options)) {
  options_.push_back({"help", "", "print this help and exit", "off"});
  options_.push_back({"version", "", "print the version, the git commit and the build options and exit", "off"});
}

std::string Cli::help() const {
  std::vector<std::string> heads;
  size_t width = 0;
  for (const auto& o : options_) {
    heads.push_back("--" + o.name + (o.value.empty() ? "" : " " + o.value));
    width = std::max(width, heads.back().size());
  }
  std::string out = usage_ + "options:\n";
  for (size_t i = 0; i < options_.size(); ++i) {
    const Option& o = options_[i];
    const std::string fallback = o.fallback == kRequired ? o.fallback : "(default: " + o.fallback + ")";
    out += "  " + heads[i] + std::string(width - heads[i].size() + 2, ' ') + o.help + " " + fallback + "\n";
  }
  return out;
}

Args::Args(int argc, char** argv, const Cli& cli, bool allow_positional) {
  std::map<std::string, bool> takes_value;
  for (const auto& o : cli.options()) takes_value[o.name] = !o.value.empty();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      if (!allow_positional) throw UsageError("unexpected argument '" + a + "'");
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = takes_value.find(name);
    if (it == takes_value.end()) throw UsageError("unknown option --" + name + " (see --help)");
    if (!it->second) {
      if (has_value) throw UsageError("option --" + name + " takes no value");
      values_[name].push_back("1");
    } else {
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError("option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name].push_back(value);
    }
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

std::string Args::require_value(const std::string& name) const {
  if (!has(name)) throw UsageError("missing required option --" + name);
  return get(name);
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long Args::get_int(const std::string& name, long long fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    throw UsageError("option --" + name + " expects an integer, got '" + v + "'");
  }
}

double Args::get_double(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  const std::string v = get(name);
  try {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    throw UsageError("option --" + name + " expects a number, got '" + v + "'");
  }
}

void print_version(const char* prog) {
  const BuildInfo& b = build_info();
  std::cout << prog << " " << b.version << " (commit " << b.git_commit << "; " << b.options << ")\n";
}

bool print_help_or_version(const Args& args, const Cli& cli) {
  if (args.has("version")) print_version(cli.prog().c_str());
  else if (args.has("help")) std::cout << cli.help();
  else return false;
  return true;
}

int run_main(const char* prog, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << error_line(prog, e) << "\n";
    return exit_code_for(e);
  }
}

}  // namespace delayprop
