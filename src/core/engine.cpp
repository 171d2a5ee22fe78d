#include "core/engine.hpp"

#include "core/error.hpp"

namespace delayprop {

void Engine::backward(std::span<const double> params, const BackwardInputs& in, std::span<double> grad) {
  // Local, not kept: a caller that runs many batches keeps its own and calls backward_exact.
  ExactVector exact;
  backward_exact(params, in, exact);
  require(grad.size() == exact.size(), "backward: gradient buffer has ", grad.size(), " values, expected ",
          exact.size());
  const size_t bad = round_exact(exact, grad);
  require(bad == exact.size(), "backward: the gradient of parameter ", bad, " left the exact-sum range (|sum| >= 2^",
          ExactSum::kTopExp, ")");
}

}  // namespace delayprop
