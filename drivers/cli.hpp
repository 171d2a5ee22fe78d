#pragma once
// Command-line parsing shared by the drivers, and the wrapper that turns an exception into
// one line on stderr and a non-zero exit code. A driver declares its options once, each with
// its description and default; parsing accepts only declared options and --help is generated
// from the same list, so no option exists without its help text.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace delayprop {

// What --help shows for an option without a default.
inline constexpr const char* kRequired = "(required)";

struct Option {
  std::string name;   // without the leading "--"
  std::string value;  // the value's placeholder ("FILE"); empty: a flag without a value
  std::string help;   // what it does
  // The default, shown as "(default: TEXT)"; kRequired is shown as it is. Flags: "off".
  std::string fallback;
};

// A driver's command line: its usage lines (synopsis and notes), its options.
class Cli {
 public:
  // --help and --version are added to `options`.
  Cli(std::string prog, std::string usage, std::vector<Option> options);
  // The usage lines, then one entry per option: "--name VALUE  help (default: X)".
  std::string help() const;
  const std::string& prog() const { return prog_; }
  const std::vector<Option>& options() const { return options_; }

 private:
  std::string prog_, usage_;
  std::vector<Option> options_;
};

class Args {
 public:
  // Options are --name VALUE or --name=VALUE for valued ones, --name for flags.
  Args(int argc, char** argv, const Cli& cli, bool allow_positional = false);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::string require_value(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  long long get_int(const std::string& name, long long fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// --version: prints "PROG VERSION (commit C; build options)"; --help: prints cli.help().
// Returns true if it printed either (the driver then exits 0).
bool print_help_or_version(const Args& args, const Cli& cli);
void print_version(const char* prog);

// Runs body; an exception becomes "PROG: error: MESSAGE" on stderr and exit code 1
// (2 for usage errors).
int run_main(const char* prog, const std::function<int()>& body);

}  // namespace delayprop
