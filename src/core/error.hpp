#pragma once
// Errors are exceptions that carry their context (file, field, value); drivers catch them
// and turn them into one line on stderr and a non-zero exit code.
#include <sstream>
#include <stdexcept>
#include <string>

namespace delayprop {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Builds a message from any streamable parts: fail("connection '", name, "': delay ", d).
template <typename... Parts>
[[noreturn]] inline void fail(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw Error(os.str());
}

template <typename... Parts>
inline void require(bool ok, const Parts&... parts) {
  if (!ok) fail(parts...);
}

// A malformed command line (unknown option, missing value): exit code 2 instead of 1.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The exit code and the one line a driver prints for an exception that ended it.
inline int exit_code_for(const std::exception& e) { return dynamic_cast<const UsageError*>(&e) ? 2 : 1; }
// A message as one printable line: a value quoted from a hostile file may hold line breaks
// or control bytes; they are escaped (\n, \xHH).
inline std::string one_line(const std::string& msg) {
  std::string out;
  out.reserve(msg.size());
  static const char* hex = "0123456789abcdef";
  for (const char c : msg) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (u < 0x20 || u == 0x7f) out += std::string("\\x") + hex[u >> 4] + hex[u & 15];
    else out += c;
  }
  return out;
}
inline std::string error_line(const char* prog, const std::exception& e) {
  return std::string(prog) + (exit_code_for(e) == 2 ? ": usage error: " : ": error: ") + one_line(e.what());
}

}  // namespace delayprop
