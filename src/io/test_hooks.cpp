#include "io/test_hooks.hpp"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace delayprop {

void kill_point(const char* where) {
  static const char* spec = std::getenv("DELAYPROP_TEST_KILL");
  static long count = 0;
  if (!spec) return;
  const char* colon = std::strchr(spec, ':');
  if (!colon || std::string(spec, colon) != where) return;
  if (++count == std::atol(colon + 1)) std::raise(SIGKILL);
}

}  // namespace delayprop
