#pragma once
// Adam with separate weight and delay groups (MODEL.md §5); delays are clamped to [0, max]
// after every step. The state lives in flat buffers in the parameter layout, so that
// checkpoints and all-reduces handle it as one block.
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/model_math.hpp"
#include "core/network.hpp"

namespace delayprop {

// One Adam update of one parameter, on the host (Adam::step) and on the device (the CUDA
// backend's resident training): one copy, so that both give the same bits (double math,
// no contraction, sqrt and division correctly rounded on both). c1 = 1 - beta1^t and
// c2 = 1 - beta2^t come from the host (Adam::advance), since pow may differ between the
// host's and the device's math libraries.
DP_HOST_DEVICE inline void adam_update(double& p, double& m, double& v, double g, double beta1, double beta2, double eps,
                                       double lr, double c1, double c2) {
  m = beta1 * m + (1.0 - beta1) * g;
  v = beta2 * v + (1.0 - beta2) * g * g;
  p -= lr * (m / c1) / (::sqrt(v / c2) + eps);
}

struct AdamSpec {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class Adam {
 public:
  Adam(const Network& net, AdamSpec spec = {});
  // One step with learning rates for the weight and the delay group (delays in ms).
  void step(std::span<double> params, std::span<const double> grad, double lr_weights, double lr_delays);
  uint64_t steps() const { return t_; }
  // Counts one step and returns its bias corrections {1 - beta1^t, 1 - beta2^t}: step()
  // uses it, and so does a device-resident step, which keeps m and v on the device.
  std::pair<double, double> advance();
  const AdamSpec& spec() const { return spec_; }
  // State for checkpoints.
  std::vector<double>& m() { return m_; }
  std::vector<double>& v() { return v_; }
  const std::vector<double>& m() const { return m_; }
  const std::vector<double>& v() const { return v_; }
  void set_steps(uint64_t t) { t_ = t; }

 private:
  const Network* net_;
  AdamSpec spec_;
  std::vector<double> m_, v_;
  uint64_t t_ = 0;
};

}  // namespace delayprop
