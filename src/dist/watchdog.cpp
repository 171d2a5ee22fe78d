#include "dist/watchdog.hpp"

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/error.hpp"

namespace delayprop::dist {

void wait_or_abort(int rank, const std::string& what, double timeout_s, const std::function<Poll()>& poll,
                   const std::function<void()>& abort) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (long k = 0;; ++k) {
    if (poll() == Poll::done) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed > timeout_s) {
      if (abort) abort();
      fail("rank ", rank, ": ", what, " did not complete within ", timeout_s,
           " s (a peer died or stopped answering?); communicator aborted");
    }
    if (k < 1000) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(k < 2000 ? 50 : 1000));
  }
}

double collective_timeout_s(double fallback) {
  if (const char* v = std::getenv("DELAYPROP_COMM_TIMEOUT_S"); v && *v) {
    char* end = nullptr;
    const double x = std::strtod(v, &end);
    require(end && *end == '\0' && x > 0, "DELAYPROP_COMM_TIMEOUT_S = '", v, "': expected seconds > 0");
    return x;
  }
  return fallback;
}

}  // namespace delayprop::dist
