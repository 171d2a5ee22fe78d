#pragma once
// Waiting for an asynchronous collective without hanging forever (docs/DISTRIBUTED.md,
// "Failure behaviour"). No CUDA or MPI here: the NCCL communicator passes "is it done?"
// and "abort the communicator" as functions, and tests pass an operation that never ends.
#include <functional>
#include <string>

namespace delayprop::dist {

enum class Poll { pending, done };

// Calls poll() until it returns done (poll throws on an error it sees). When the operation
// is still pending after timeout_s seconds, calls abort() (e.g. ncclCommAbort, so that the
// device work is cancelled) and fails with
//   "rank R: WHAT did not complete within T s (a peer died or stopped answering?)".
// Polls back off from a busy loop to 1 ms sleeps.
void wait_or_abort(int rank, const std::string& what, double timeout_s, const std::function<Poll()>& poll,
                   const std::function<void()>& abort);

// The timeout of one collective: DELAYPROP_COMM_TIMEOUT_S (seconds, > 0) or the fallback.
double collective_timeout_s(double fallback = 60.0);

}  // namespace delayprop::dist
