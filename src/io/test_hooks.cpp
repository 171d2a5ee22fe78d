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
  if (++count != std::atol(colon + 1)) return;
  // "WHERE:N:TERM" (or USR1): that signal instead, as a scheduler would send it.
  const char* sig = std::strchr(colon + 1, ':');
  if (sig && std::string(sig + 1) == "TERM") std::raise(SIGTERM);
  else if (sig && std::string(sig + 1) == "USR1") std::raise(SIGUSR1);
  else std::raise(SIGKILL);
}

std::string fault_path(const char* where, const std::string& path) {
  static const char* spec = std::getenv("DELAYPROP_TEST_FULL");
  static long count = 0;
  if (!spec) return path;
  const char* colon = std::strchr(spec, ':');
  if (!colon || std::string(spec, colon) != where) return path;
  return ++count == std::atol(colon + 1) ? "/dev/full" : path;
}

}  // namespace delayprop
