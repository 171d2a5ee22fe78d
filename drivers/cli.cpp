#include "cli.hpp"

#include <iostream>

#include "core/error.hpp"
#include "io/version.hpp"

namespace delayprop {

Args::Args(int argc, char** argv, std::set<std::string> valued, std::set<std::string> flags, bool allow_positional) {
  flags.insert("version");
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
    if (flags.count(name)) {
      if (has_value) throw UsageError("option --" + name + " takes no value");
      values_[name].push_back("1");
    } else if (valued.count(name)) {
      if (!has_value) {
        if (i + 1 >= argc) throw UsageError("option --" + name + " needs a value");
        value = argv[++i];
      }
      values_[name].push_back(value);
    } else {
      throw UsageError("unknown option --" + name);
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

void print_version(const char* prog) {
  const BuildInfo& b = build_info();
  std::cout << prog << " " << b.version << " (commit " << b.git_commit << "; " << b.options << ")\n";
}

bool print_version(const Args& args, const char* prog) {
  if (!args.has("version")) return false;
  print_version(prog);
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
