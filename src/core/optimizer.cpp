#include "core/optimizer.hpp"

#include <cmath>

#include "core/error.hpp"

namespace delayprop {

Adam::Adam(const Network& net, AdamSpec spec) : net_(&net), spec_(spec), m_(net.n_params, 0.0), v_(net.n_params, 0.0) {}

std::pair<double, double> Adam::advance() {
  ++t_;
  return {1.0 - std::pow(spec_.beta1, double(t_)), 1.0 - std::pow(spec_.beta2, double(t_))};
}

void Adam::step(std::span<double> params, std::span<const double> grad, double lr_w, double lr_d) {
  require(params.size() == m_.size() && grad.size() == m_.size(), "adam: parameter/gradient size mismatch");
  const auto [c1, c2] = advance();
  auto update = [&](size_t off, size_t n, double lr) {
    for (size_t k = off; k < off + n; ++k)
      adam_update(params[k], m_[k], v_[k], grad[k], spec_.beta1, spec_.beta2, spec_.eps, lr, c1, c2);
  };
  for (const auto& c : net_->conns) {
    if (c.learn_weights) update(c.weight_offset, c.n_synapses(), lr_w);
    if (c.learn_delays) update(c.delay_offset, c.n_synapses(), lr_d);
  }
  clamp_delays(*net_, params);
}

}  // namespace delayprop
