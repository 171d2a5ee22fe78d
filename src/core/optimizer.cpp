#include "core/optimizer.hpp"

#include <cmath>

#include "core/error.hpp"

namespace delayprop {

Adam::Adam(const Network& net, AdamSpec spec) : net_(&net), spec_(spec), m_(net.n_params, 0.0), v_(net.n_params, 0.0) {}

void Adam::step(std::span<double> params, std::span<const double> grad, double lr_w, double lr_d) {
  require(params.size() == m_.size() && grad.size() == m_.size(), "adam: parameter/gradient size mismatch");
  ++t_;
  const double c1 = 1.0 - std::pow(spec_.beta1, double(t_));
  const double c2 = 1.0 - std::pow(spec_.beta2, double(t_));
  auto update = [&](size_t off, size_t n, double lr) {
    for (size_t k = off; k < off + n; ++k) {
      m_[k] = spec_.beta1 * m_[k] + (1.0 - spec_.beta1) * grad[k];
      v_[k] = spec_.beta2 * v_[k] + (1.0 - spec_.beta2) * grad[k] * grad[k];
      params[k] -= lr * (m_[k] / c1) / (std::sqrt(v_[k] / c2) + spec_.eps);
    }
  };
  for (const auto& c : net_->conns) {
    if (c.learn_weights) update(c.weight_offset, c.n_synapses(), lr_w);
    if (c.learn_delays) update(c.delay_offset, c.n_synapses(), lr_d);
  }
  clamp_delays(*net_, params);
}

}  // namespace delayprop
