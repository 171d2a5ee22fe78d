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

}  // namespace delayprop
