#pragma once
// Adam with separate weight and delay groups (MODEL.md §5); delays are clamped to [0, max]
// after every step. The state lives in flat buffers in the parameter layout, so that
// checkpoints and all-reduces handle it as one block.
#include <cstdint>
#include <span>
#include <vector>

#include "core/network.hpp"

namespace delayprop {

struct AdamSpec {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

class Adam {
 public:
  Adam(const Network& net, AdamSpec spec = {});
  // One step with learning rates for the weight and the delay group (delays in ms).
  void step(std::span<double> params, std::span<const double> grad, double lr_weights, double lr_delays);
  uint64_t steps() const { return t_; }
  // State for checkpoints.
  std::vector<double>& m() { return m_; }
  std::vector<double>& v() { return v_; }
  void set_steps(uint64_t t) { t_ = t; }

 private:
  const Network* net_;
  AdamSpec spec_;
  std::vector<double> m_, v_;
  uint64_t t_ = 0;
};

}  // namespace delayprop
