#include "core/engine.hpp"

#include "core/error.hpp"

namespace delayprop {

void Engine::backward(std::span<const double> params, const BackwardInputs& in, std::span<double> grad) {
  backward_exact(params, in, exact_);
  require(grad.size() == exact_.size(), "backward: gradient buffer has ", grad.size(), " values, expected ",
          exact_.size());
  const size_t bad = exact_.round_to(grad);
  require(bad == exact_.size(), "backward: the gradient of parameter ", bad, " left the exact-sum range (|sum| >= 2^",
          ExactSum::kTopExp, ")");
}

}  // namespace delayprop
