#pragma once
// Command-line parsing shared by the drivers, and the wrapper that turns an exception into
// one line on stderr and a non-zero exit code.
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace delayprop {

class Args {
 public:
  // valued: options that take a value (--name VALUE or --name=VALUE); flags: options without.
  Args(int argc, char** argv, std::set<std::string> valued, std::set<std::string> flags, bool allow_positional = false);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::string require_value(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  long long get_int(const std::string& name, long long fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// Prints "PROG VERSION (commit C; build options)" when --version was given (every driver
// accepts it); returns true if it did.
bool print_version(const Args& args, const char* prog);
void print_version(const char* prog);

// Runs body; an exception becomes "PROG: error: MESSAGE" on stderr and exit code 1
// (2 for usage errors).
int run_main(const char* prog, const std::function<int()>& body);

}  // namespace delayprop
